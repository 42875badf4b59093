//! A local directory as a KV store (native edges): each key is a file path under the root.
//! Writes go to a temporary file that is fsynced and renamed over the key, and the directory is
//! fsynced, so a reader sees the old value or the new one, never a partial one.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{Target, TargetError};

#[derive(Debug, Clone)]
pub struct DirTarget {
    root: PathBuf,
}

impl DirTarget {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> TargetError + '_ {
    move |source| TargetError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Atomically replaces `path` with `value`.
pub(crate) fn write_atomically(path: &Path, value: &[u8]) -> Result<(), TargetError> {
    use std::io::Write as _;
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut file = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(value).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io(path))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))?;
    Ok(())
}

#[async_trait]
impl Target for DirTarget {
    fn name(&self) -> String {
        format!("dir:{}", self.root.display())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, TargetError> {
        let path = self.path(key);
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io(&path)(e)),
        }
    }

    async fn put_many(&self, entries: &[(String, Vec<u8>)]) -> Result<(), TargetError> {
        let entries: Vec<(PathBuf, Vec<u8>)> = entries
            .iter()
            .map(|(k, v)| (self.path(k), v.clone()))
            .collect();
        tokio::task::spawn_blocking(move || {
            entries
                .iter()
                .try_for_each(|(path, value)| write_atomically(path, value))
        })
        .await
        .map_err(|e| TargetError::Io {
            path: self.root.display().to_string(),
            source: std::io::Error::other(e),
        })?
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, TargetError> {
        // Keys are paths: list the directory holding the prefix.
        let (dir_key, _) = prefix.rsplit_once('/').unwrap_or(("", prefix));
        let dir = self.path(dir_key);
        let mut out = Vec::new();
        let mut entries = match tokio::fs::read_dir(&dir).await {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io(&dir)(e)),
        };
        while let Some(entry) = entries.next_entry().await.map_err(io(&dir))? {
            let name = entry.file_name().to_string_lossy().into_owned();
            let key = if dir_key.is_empty() {
                name
            } else {
                format!("{dir_key}/{name}")
            };
            if key.starts_with(prefix) && !entry.file_name().to_string_lossy().starts_with('.') {
                out.push(key);
            }
        }
        Ok(out)
    }

    async fn delete_many(&self, keys: &[String]) -> Result<(), TargetError> {
        for key in keys {
            let path = self.path(key);
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io(&path)(e)),
            }
        }
        Ok(())
    }
}
