//! The configuration reference in `docs/deploy.md` is generated from the clap definitions of
//! the `vane` command line: every option of every subcommand, with its environment variable and
//! default. A test compares the marked block of the document with what the definitions say and
//! fails with a diff; `UPDATE_DOCS=1 cargo test -p vane --bin vane config_reference` rewrites
//! the block.

use std::fmt::Write as _;

use clap::CommandFactory as _;

const BEGIN: &str = "<!-- BEGIN GENERATED configuration reference: UPDATE_DOCS=1 cargo test -p vane --bin vane config_reference -->";
const END: &str = "<!-- END GENERATED configuration reference -->";
const REGENERATE: &str = "UPDATE_DOCS=1 cargo test -p vane --bin vane config_reference";

/// The reference of every (visible) subcommand, depth first, as Markdown tables.
pub fn render() -> String {
    let mut out = String::new();
    let root = crate::Cli::command();
    for sub in root.get_subcommands() {
        render_command(&mut out, "vane", sub);
    }
    out
}

fn render_command(out: &mut String, parent: &str, command: &clap::Command) {
    if command.is_hide_set() || command.get_name() == "help" {
        return;
    }
    let path = format!("{parent} {}", command.get_name());
    let args: Vec<&clap::Arg> = command
        .get_arguments()
        .filter(|a| !a.is_hide_set() && !matches!(a.get_id().as_str(), "help" | "version"))
        .collect();
    let _ = writeln!(out, "### `{path}`\n");
    if let Some(about) = command.get_about() {
        let _ = writeln!(out, "{}\n", one_line(&about.to_string()));
    }
    if args.is_empty() {
        let _ = writeln!(out, "No options.\n");
    } else {
        let _ = writeln!(out, "| option | environment variable | default | meaning |");
        let _ = writeln!(out, "|---|---|---|---|");
        for arg in args {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                flag(arg),
                arg.get_env().map_or("flag only".to_owned(), |e| format!(
                    "`{}`",
                    e.to_string_lossy()
                )),
                default(arg),
                cell(&arg.get_help().map(ToString::to_string).unwrap_or_default()),
            );
        }
        out.push('\n');
    }
    for sub in command.get_subcommands() {
        render_command(out, &path, sub);
    }
}

fn flag(arg: &clap::Arg) -> String {
    let takes_value = arg.get_action().takes_values();
    let value = arg
        .get_value_names()
        .and_then(|names| names.first())
        .map_or_else(|| arg.get_id().as_str().to_uppercase(), ToString::to_string);
    match arg.get_long() {
        Some(long) if takes_value => format!("`--{long} <{value}>`"),
        Some(long) => format!("`--{long}`"),
        None => format!("`<{value}>`"),
    }
}

fn default(arg: &clap::Arg) -> String {
    let values: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|v| v.to_string_lossy().into_owned())
        .collect();
    if !arg.get_action().takes_values() {
        return "off".to_owned();
    }
    match values.as_slice() {
        [] if arg.is_required_set() => "required".to_owned(),
        [] => "none".to_owned(),
        [v] if v.is_empty() => "empty".to_owned(),
        values => format!("`{}`", values.join(",")),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn cell(text: &str) -> String {
    one_line(text).replace('|', "\\|")
}

/// The generated block of `document`, or `None` when the markers are missing.
fn generated_block(document: &str) -> Option<(usize, usize)> {
    let start = document.find(BEGIN)? + BEGIN.len();
    let end = start + document[start..].find(END)?;
    Some((start, end))
}

/// A line diff (`-` expected only, `+` actual only), from the longest common subsequence.
fn diff(expected: &str, actual: &str) -> String {
    let a: Vec<&str> = expected.lines().collect();
    let b: Vec<&str> = actual.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            let _ = writeln!(out, "+ {}", b[j]);
            j += 1;
        } else {
            let _ = writeln!(out, "- {}", a[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy_md() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/deploy.md")
    }

    #[test]
    fn config_reference_in_deploy_md_matches_the_command_line_definitions() {
        let path = deploy_md();
        let document = std::fs::read_to_string(&path).unwrap();
        let (start, end) = generated_block(&document)
            .unwrap_or_else(|| panic!("{} lacks the markers {BEGIN} and {END}", path.display()));
        let expected = format!("\n{}", render());
        let committed = &document[start..end];
        if committed == expected {
            return;
        }
        if std::env::var_os("UPDATE_DOCS").is_some() {
            let updated = format!("{}{expected}{}", &document[..start], &document[end..]);
            std::fs::write(&path, updated).unwrap();
            return;
        }
        panic!(
            "docs/deploy.md's configuration reference differs from the clap definitions \
             (- in the document, + from the definitions):\n{}\nregenerate it with: {REGENERATE}",
            diff(committed, &expected)
        );
    }

    #[test]
    fn the_reference_names_each_option_with_its_variable_and_default() {
        let reference = render();
        assert!(reference.contains("### `vane up`"));
        assert!(reference.contains(
            "| `--core-listen <CORE_LISTEN>` | `VANE_UP_CORE_LISTEN` | `127.0.0.1:8080` |"
        ));
        assert!(
            reference.contains("| `--listen <LISTEN>` | `VANE_CORE_LISTEN` | `127.0.0.1:8080` |")
        );
        assert!(reference.contains("### `vane analytics recompute`"));
        assert!(reference.contains("### `vane demo traffic`"));
        assert!(reference.contains("| `--no-demo` | `VANE_UP_NO_DEMO` | off |"));
    }

    #[test]
    fn the_diff_shows_removed_and_added_lines() {
        let d = diff("a\nb\nc\n", "a\nx\nc\nd\n");
        assert_eq!(d, "+ x\n- b\n+ d\n");
    }
}
