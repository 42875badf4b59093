//! Version comparison as GrowthBook's `paddedVersionString` defines it: strip a leading `v`
//! and `+build` metadata, split on `-` and `.`, append `~` when there are exactly three parts
//! (so a release sorts after its pre-releases), left-pad numeric parts to five characters with
//! spaces, join with `-`, then compare the strings.

use std::cmp::Ordering;
use std::fmt::{self, Write};

use serde_json::Value;

use super::js::{self, CmpWriter, StackBuf};

/// The padded form of `input` (done once per operand at compile time).
pub(crate) fn padded(input: &str) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_padded(&mut out, input);
    out
}

/// Compares the padded form of an attribute value with an already padded operand.
///
/// Numbers are versions through `String(n)`; every other non-string value and the empty string
/// count as `"0"`, as in GrowthBook.
pub(crate) fn cmp_value(v: &Value, padded_operand: &str) -> Ordering {
    let mut w = CmpWriter::new(padded_operand);
    // An error only means the order was decided early.
    let _ = match v {
        Value::String(s) => write_padded(&mut w, s),
        Value::Number(n) => {
            let mut buf = StackBuf::new();
            match js::write_number(&mut buf, js::num(n)) {
                Ok(()) => write_padded(&mut w, buf.as_str()),
                Err(e) => Err(e),
            }
        }
        _ => write_padded(&mut w, "0"),
    };
    w.finish()
}

/// Writes `paddedVersionString(input)` for a string input.
pub(crate) fn write_padded(out: &mut impl Write, input: &str) -> fmt::Result {
    let input = if input.is_empty() { "0" } else { input };
    // `replace(/(^v|\+.*$)/g, "")`: `.` stops at line terminators, so the build suffix starts
    // at the first `+` after the last line terminator.
    let body = input.strip_prefix('v').unwrap_or(input);
    let tail_start = body
        .char_indices()
        .rev()
        .find(|(_, c)| matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}'))
        .map_or(0, |(i, c)| i + c.len_utf8());
    let body = match body[tail_start..].find('+') {
        Some(p) => &body[..tail_start + p],
        None => body,
    };
    let is_separator = |c: char| c == '-' || c == '.';
    let parts = body.matches(is_separator).count() + 1;
    for (i, part) in body.split(is_separator).enumerate() {
        if i > 0 {
            out.write_char('-')?;
        }
        if !part.is_empty() && part.len() < 5 && part.bytes().all(|b| b.is_ascii_digit()) {
            for _ in part.len()..5 {
                out.write_char(' ')?;
            }
        }
        out.write_str(part)?;
    }
    if parts == 3 {
        out.write_str("-~")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_padded_as_growthbook_pads_them() {
        assert_eq!(padded("1.2.3"), "    1-    2-    3-~");
        assert_eq!(padded("v1.2.3+build.7"), "    1-    2-    3-~");
        assert_eq!(padded("1.2.3-beta.1"), "    1-    2-    3-beta-    1");
        assert_eq!(padded("123456.1"), "123456-    1");
        assert_eq!(padded(""), "    0");
        assert_eq!(padded("v"), "");
    }

    #[test]
    fn numbers_compare_through_their_string() {
        let p = padded("1.5");
        assert_eq!(cmp_value(&serde_json::json!(1.5), &p), Ordering::Equal);
        assert_eq!(cmp_value(&Value::Null, &padded("0")), Ordering::Equal);
    }
}
