//! The few pieces of JavaScript value semantics that GrowthBook's evaluator relies on:
//! `String(v)`, `Number(v)`, truthiness, strict equality, the abstract relational comparison
//! and UTF-16 string ordering. Everything writes into a [`fmt::Write`] so that comparisons can
//! stream into a [`CmpWriter`] instead of building strings.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt::{self, Write};

use serde_json::{Number, Value};

/// Arrays nested deeper than this stringify as the empty string (JS would eventually throw a
/// `RangeError`); it keeps evaluation free of unbounded recursion on hostile attributes.
const MAX_STRINGIFY_DEPTH: usize = 64;

/// A JSON number as the JS number (an IEEE double) it parses to.
pub(crate) fn num(n: &Number) -> f64 {
    n.as_f64().unwrap_or(f64::NAN)
}

/// String equality that compares short strings inline instead of calling `memcmp`
/// (attribute names and values are mostly a few bytes long).
#[inline]
pub(crate) fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    if a.len() <= 16 {
        a.iter().zip(b).all(|(x, y)| x == y)
    } else {
        a == b
    }
}

/// `!!v`.
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => {
            let x = num(n);
            x != 0.0 && !x.is_nan()
        }
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// `Number.prototype.toString()` (radix 10), written to `out`.
pub(crate) fn write_number(out: &mut impl Write, x: f64) -> fmt::Result {
    if x.is_nan() {
        return out.write_str("NaN");
    }
    if x == 0.0 {
        return out.write_str("0");
    }
    if x.is_infinite() {
        return out.write_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
    }
    if x < 0.0 {
        out.write_char('-')?;
    }
    // Rust's `{:e}` prints the shortest digits that round-trip, as JS does; only the layout
    // differs.
    let mut sci = StackBuf::new();
    write!(sci, "{:e}", x.abs())?;
    let (mantissa, exp) = sci.as_str().split_once('e').ok_or(fmt::Error)?;
    let exp: i32 = exp.parse().map_err(|_| fmt::Error)?;
    let mut digits = StackBuf::new();
    for c in mantissa.chars().filter(char::is_ascii_digit) {
        digits.write_char(c)?;
    }
    let d = digits.as_str();
    let k = d.len() as i32;
    let n = exp + 1;
    if k <= n && n <= 21 {
        out.write_str(d)?;
        write_repeated(out, '0', (n - k) as usize)
    } else if 0 < n && n <= 21 {
        let (int, frac) = d.split_at(n as usize);
        out.write_str(int)?;
        out.write_char('.')?;
        out.write_str(frac)
    } else if -6 < n && n <= 0 {
        out.write_str("0.")?;
        write_repeated(out, '0', (-n) as usize)?;
        out.write_str(d)
    } else {
        let (first, rest) = d.split_at(1);
        out.write_str(first)?;
        if !rest.is_empty() {
            out.write_char('.')?;
            out.write_str(rest)?;
        }
        let e = n - 1;
        write!(
            out,
            "e{}{}",
            if e >= 0 { '+' } else { '-' },
            e.unsigned_abs()
        )
    }
}

fn write_repeated(out: &mut impl Write, c: char, count: usize) -> fmt::Result {
    for _ in 0..count {
        out.write_char(c)?;
    }
    Ok(())
}

/// `String(v)` written to `out`: arrays join their elements with `,` (null elements are
/// empty), objects are `[object Object]`.
pub(crate) fn write_js_string(out: &mut impl Write, v: &Value) -> fmt::Result {
    match v {
        Value::Null => out.write_str("null"),
        Value::Bool(b) => out.write_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, num(n)),
        Value::String(s) => out.write_str(s),
        Value::Object(_) => out.write_str("[object Object]"),
        Value::Array(items) => write_joined(out, items, 0),
    }
}

fn write_joined(out: &mut impl Write, items: &[Value], depth: usize) -> fmt::Result {
    if depth >= MAX_STRINGIFY_DEPTH {
        return Ok(());
    }
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.write_char(',')?;
        }
        match item {
            Value::Null => {}
            Value::Array(inner) => write_joined(out, inner, depth + 1)?,
            other => write_js_string(out, other)?,
        }
    }
    Ok(())
}

/// `String(v)`, borrowing when `v` already is a string.
pub(crate) fn js_string(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s),
        other => {
            let mut s = String::new();
            // Writing to a String cannot fail.
            let _ = write_js_string(&mut s, other);
            Cow::Owned(s)
        }
    }
}

/// `Number(v)` (what `v * 1` computes).
pub(crate) fn to_number(v: &Value) -> f64 {
    let mut v = v;
    loop {
        match v {
            Value::Null => return 0.0,
            Value::Bool(b) => return f64::from(u8::from(*b)),
            Value::Number(n) => return num(n),
            Value::String(s) => return string_to_number(s),
            Value::Object(_) => return f64::NAN,
            // Arrays convert through their string: `[]` is "", `[x]` is String(x) (null is "")
            // and two or more elements always contain a comma, so NaN.
            Value::Array(items) => match items.as_slice() {
                [] | [Value::Null] => return 0.0,
                [Value::Bool(_)] => return f64::NAN,
                [single] => v = single,
                _ => return f64::NAN,
            },
        }
    }
}

/// JS `StringToNumber`: surrounding white space is ignored, the empty string is 0, `0x`/`0o`/`0b`
/// prefixes and `Infinity` are understood, anything else that is not a decimal literal is NaN.
pub(crate) fn string_to_number(s: &str) -> f64 {
    let t = s.trim_matches(is_js_space);
    if t.is_empty() {
        return 0.0;
    }
    let b = t.as_bytes();
    if b.len() > 2 && b[0] == b'0' {
        let radix = match b[1] {
            b'x' | b'X' => 16,
            b'o' | b'O' => 8,
            b'b' | b'B' => 2,
            _ => 0,
        };
        if radix != 0 {
            return parse_radix(&t[2..], radix);
        }
    }
    let (negative, body) = match b[0] {
        b'+' => (false, &t[1..]),
        b'-' => (true, &t[1..]),
        _ => (false, t),
    };
    if body == "Infinity" {
        return if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    if !is_decimal_literal(body) {
        return f64::NAN;
    }
    t.parse::<f64>().unwrap_or(f64::NAN)
}

fn parse_radix(digits: &str, radix: u32) -> f64 {
    let mut exact: Option<u128> = Some(0);
    let mut approx = 0.0f64;
    for c in digits.chars() {
        let Some(d) = c.to_digit(radix) else {
            return f64::NAN;
        };
        exact = exact
            .and_then(|e| e.checked_mul(u128::from(radix)))
            .and_then(|e| e.checked_add(u128::from(d)));
        approx = approx * f64::from(radix) + f64::from(d);
    }
    match exact {
        Some(e) => e as f64,
        None => approx,
    }
}

/// `digits [. digits] [e [+-] digits]` with at least one mantissa digit (no sign, no `_`).
fn is_decimal_literal(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    let int_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut mantissa_digits = i - int_start;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        mantissa_digits += i - frac_start;
    }
    if mantissa_digits == 0 {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp_start {
            return false;
        }
    }
    i == b.len()
}

/// JS `WhiteSpace` and `LineTerminator` (what `String.prototype.trim` removes).
fn is_js_space(c: char) -> bool {
    matches!(
        c,
        '\u{9}'..='\u{d}'
            | ' '
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200a}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202f}'
            | '\u{205f}'
            | '\u{3000}'
            | '\u{feff}'
    )
}

/// JS `<`-style ordering of two strings: by UTF-16 code units.
pub(crate) fn cmp_utf16(a: &str, b: &str) -> Ordering {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let Some(i) = ab.iter().zip(bb).position(|(x, y)| x != y) else {
        return ab.len().cmp(&bb.len());
    };
    // The common prefix is identical, so a char boundary of `a` is one of `b` as well.
    let mut start = i;
    while !a.is_char_boundary(start) {
        start -= 1;
    }
    match (a[start..].chars().next(), b[start..].chars().next()) {
        (Some(x), Some(y)) => {
            let (mut ux, mut uy) = ([0u16; 2], [0u16; 2]);
            x.encode_utf16(&mut ux).cmp(&y.encode_utf16(&mut uy))
        }
        _ => ab.len().cmp(&bb.len()),
    }
}

/// A [`fmt::Write`] that compares what is written with a target string (UTF-16 order) without
/// storing it. Writing stops with `fmt::Error` once the order is decided.
#[derive(Debug)]
pub(crate) struct CmpWriter<'a> {
    rest: &'a str,
    decided: Option<Ordering>,
}

impl<'a> CmpWriter<'a> {
    pub(crate) fn new(target: &'a str) -> Self {
        Self {
            rest: target,
            decided: None,
        }
    }

    /// The order of everything written relative to the target.
    pub(crate) fn finish(self) -> Ordering {
        self.decided.unwrap_or(if self.rest.is_empty() {
            Ordering::Equal
        } else {
            Ordering::Less
        })
    }
}

impl Write for CmpWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.decided.is_some() {
            return Err(fmt::Error);
        }
        if let Some(rest) = self.rest.strip_prefix(s) {
            self.rest = rest;
            return Ok(());
        }
        // `s` is not a prefix of the rest: either they differ at some char, or the rest is a
        // proper prefix of `s` (the written text is longer). `cmp_utf16` covers both.
        self.decided = Some(cmp_utf16(s, self.rest));
        Err(fmt::Error)
    }
}

/// `String(v) === target` without building `String(v)`.
pub(crate) fn js_string_equals(v: &Value, target: &str) -> bool {
    js_string_cmp(v, target) == Ordering::Equal
}

/// `String(v)` compared with `target` in UTF-16 order.
pub(crate) fn js_string_cmp(v: &Value, target: &str) -> Ordering {
    if let Value::String(s) = v {
        return cmp_utf16(s, target);
    }
    let mut w = CmpWriter::new(target);
    // An error only means the order was decided early.
    let _ = write_js_string(&mut w, v);
    w.finish()
}

/// `s.toLowerCase()`, borrowing when nothing changes.
pub(crate) fn lowercase(s: &str) -> Cow<'_, str> {
    let unchanged = s.chars().all(|c| {
        let mut lower = c.to_lowercase();
        lower.next() == Some(c) && lower.next().is_none()
    });
    if unchanged {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.to_lowercase())
    }
}

/// Deep equality of JSON values with numbers compared by value (`1 == 1.0`) and object keys
/// compared as sets (JS's `JSON.stringify` comparison would also depend on key order).
pub(crate) fn deep_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => num(x) == num(y),
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| deep_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| deep_eq(v, w)))
        }
        _ => false,
    }
}

/// GrowthBook's type names (`getType`). A missing attribute reads as null, so `undefined`
/// never occurs for JSON input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JsType {
    String,
    Number,
    Boolean,
    Array,
    Object,
    Null,
    Undefined,
}

impl JsType {
    pub(crate) fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "string" => Self::String,
            "number" => Self::Number,
            "boolean" => Self::Boolean,
            "array" => Self::Array,
            "object" => Self::Object,
            "null" => Self::Null,
            "undefined" => Self::Undefined,
            _ => return None,
        })
    }

    pub(crate) fn of(v: &Value) -> Self {
        match v {
            Value::Null => Self::Null,
            Value::Bool(_) => Self::Boolean,
            Value::Number(_) => Self::Number,
            Value::String(_) => Self::String,
            Value::Array(_) => Self::Array,
            Value::Object(_) => Self::Object,
        }
    }
}

/// A small fixed-capacity string buffer for formatting numbers without allocating.
#[derive(Debug)]
pub(crate) struct StackBuf {
    buf: [u8; 64],
    len: usize,
}

impl StackBuf {
    pub(crate) fn new() -> Self {
        Self {
            buf: [0; 64],
            len: 0,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        // Only whole `&str`s are ever appended, so the contents are valid UTF-8.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl Write for StackBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn js(x: f64) -> String {
        let mut s = String::new();
        assert!(write_number(&mut s, x).is_ok());
        s
    }

    #[test]
    fn numbers_print_as_javascript_prints_them() {
        assert_eq!(js(1.0), "1");
        assert_eq!(js(-1.5), "-1.5");
        assert_eq!(js(0.1), "0.1");
        assert_eq!(js(1e21), "1e+21");
        assert_eq!(js(1e20), "100000000000000000000");
        assert_eq!(js(123456789012345680000.0), "123456789012345680000");
        assert_eq!(js(1.5e-7), "1.5e-7");
        assert_eq!(js(0.000001), "0.000001");
        assert_eq!(js(5e-324), "5e-324");
        assert_eq!(js(1.7976931348623157e308), "1.7976931348623157e+308");
        assert_eq!(js(-0.0), "0");
    }

    #[test]
    fn strings_convert_to_numbers_as_javascript_converts_them() {
        assert_eq!(string_to_number(" 12 "), 12.0);
        assert_eq!(string_to_number(""), 0.0);
        assert_eq!(string_to_number("0x1F"), 31.0);
        assert_eq!(string_to_number("0b101"), 5.0);
        assert_eq!(string_to_number("-Infinity"), f64::NEG_INFINITY);
        assert_eq!(string_to_number(".5e1"), 5.0);
        assert!(string_to_number("inf").is_nan());
        assert!(string_to_number("1_000").is_nan());
        assert!(string_to_number("-0x10").is_nan());
        assert!(string_to_number("12px").is_nan());
    }

    #[test]
    fn strings_order_by_utf16_code_units() {
        assert_eq!(cmp_utf16("a", "b"), Ordering::Less);
        assert_eq!(cmp_utf16("ab", "a"), Ordering::Greater);
        // U+FF61 sorts after U+1F600 by code point but before it in UTF-16.
        assert_eq!(cmp_utf16("\u{ff61}", "\u{1f600}"), Ordering::Greater);
        assert_eq!(cmp_utf16("\u{e000}x", "\u{1f600}"), Ordering::Greater);
    }
}
