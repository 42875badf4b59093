//! The admin UI: the static build of `admin/` (Vite), read from a configured directory
//! (`--admin-dir`) and served under `/admin/` on the API's own origin.
//!
//! - `/admin/assets/*` are content-hashed by Vite: cached for a year, `immutable`;
//! - every other file (and `index.html`) is revalidated (`no-cache`);
//! - a path without a file extension that names no file is a client-side route: it gets
//!   `index.html` (SPA fallback); a missing file with an extension is a 404;
//! - every answer carries a strict Content-Security-Policy (same-origin scripts, styles,
//!   images and requests only; no inline scripts, no framing), `nosniff` and `no-referrer`.
//!
//! `/` redirects to `/admin/`.

use std::path::{Component, Path, PathBuf};

use axum::body::Body;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};

/// Where the UI is mounted.
pub const MOUNT: &str = "/admin/";

/// The policy every UI response carries.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
     manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const LONG_CACHE: &str = "public, max-age=31536000, immutable";

/// The answer for `request` when it is the UI's (`/`, `/admin`, `/admin/...`), else `None`.
/// core-api calls it from its fallback, so that every API route stays documented.
pub async fn serve(dir: &Path, method: &Method, uri: &Uri) -> Option<Response> {
    let path = uri.path();
    if path == "/" || path == "/admin" {
        return Some(Redirect::permanent(MOUNT).into_response());
    }
    let relative = path.strip_prefix(MOUNT)?;
    if method != Method::GET && method != Method::HEAD {
        return Some(with_policy(StatusCode::METHOD_NOT_ALLOWED.into_response()));
    }
    let response = match resolve(dir, relative).await {
        Some((file, cache)) => match tokio::fs::read(&file).await {
            Ok(bytes) => file_response(&file, bytes, cache),
            Err(e) => {
                tracing::error!(file = %file.display(), error = %e, "reading an admin UI file");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        },
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    Some(with_policy(response))
}

fn with_policy(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// The file to serve for `path` (relative to the mount) and its cache policy; `None`: 404.
async fn resolve(dir: &Path, path: &str) -> Option<(PathBuf, &'static str)> {
    let relative = safe_relative(path)?;
    let index = dir.join("index.html");
    if relative.as_os_str().is_empty() {
        return Some((index, "no-cache"));
    }
    let file = dir.join(&relative);
    if tokio::fs::metadata(&file).await.is_ok_and(|m| m.is_file()) {
        let cache = if relative.starts_with("assets") {
            LONG_CACHE
        } else {
            "no-cache"
        };
        return Some((file, cache));
    }
    // A client-side route (no extension in its last segment) gets the app.
    if relative.extension().is_none() {
        return Some((index, "no-cache"));
    }
    None
}

/// `path` as a relative path of normal components only (no `..`, no root, no prefix).
fn safe_relative(path: &str) -> Option<PathBuf> {
    let candidate = Path::new(path);
    let mut out = PathBuf::new();
    for component in candidate.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

fn file_response(file: &Path, bytes: Vec<u8>, cache: &'static str) -> Response {
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(file)),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_climb_out_of_the_directory_are_refused() {
        assert!(safe_relative("../etc/passwd").is_none());
        assert!(safe_relative("assets/../../x").is_none());
        assert!(safe_relative("/etc/passwd").is_none());
        assert_eq!(
            safe_relative("assets/app-1a2b.js"),
            Some(PathBuf::from("assets/app-1a2b.js"))
        );
    }

    #[tokio::test]
    async fn routes_fall_back_to_the_app_and_missing_files_do_not() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<!doctype html>").unwrap();
        std::fs::create_dir(dir.path().join("assets")).unwrap();
        std::fs::write(dir.path().join("assets/app-1a2b.js"), "x").unwrap();
        let index = dir.path().join("index.html");
        assert_eq!(
            resolve(dir.path(), "experiments/checkout-cta").await,
            Some((index.clone(), "no-cache"))
        );
        assert_eq!(
            resolve(dir.path(), "assets/app-1a2b.js").await,
            Some((dir.path().join("assets/app-1a2b.js"), LONG_CACHE))
        );
        assert_eq!(resolve(dir.path(), "assets/missing-9f.js").await, None);
        assert_eq!(resolve(dir.path(), "").await, Some((index, "no-cache")));
    }
}
