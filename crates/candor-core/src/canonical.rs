//! RFC 8785 JSON canonicalisation (JCS), for log entries: the same fact always gives the same
//! bytes. Entries hold only strings, integers, booleans, null, arrays and objects; numbers must be
//! integers within ±2^53 (the range JCS represents exactly), anything else is refused.

use serde_json::Value;

/// Why a value cannot be canonicalised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// A number that is not an integer in ±(2^53 − 1).
    #[error(
        "number {0} is not an integer within ±(2^53 - 1); log entries carry only exact integers"
    )]
    Number(String),
}

const MAX_SAFE: i64 = (1 << 53) - 1;

/// Serialises `value` as canonical JSON bytes.
pub fn to_canonical_json(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = String::new();
    write_value(value, &mut out)?;
    Ok(out.into_bytes())
}

fn write_value(value: &Value, out: &mut String) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match n.as_i64() {
            Some(i) if (-MAX_SAFE..=MAX_SAFE).contains(&i) => out.push_str(&i.to_string()),
            _ => return Err(CanonicalError::Number(n.to_string())),
        },
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            // JCS orders members by their names' UTF-16 code units.
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (name, member)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(name, out);
                out.push(':');
                write_value(member, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn members_are_sorted_and_whitespace_removed() {
        let v = json!({"b": 1, "a": [true, null, "x"], "A": {"z": 0, "y": -5}});
        assert_eq!(
            to_canonical_json(&v).unwrap(),
            br#"{"A":{"y":-5,"z":0},"a":[true,null,"x"],"b":1}"#
        );
    }

    #[test]
    fn strings_escape_as_jcs_requires() {
        let v = json!("a\"b\\c\n\u{1}é€😀/");
        assert_eq!(
            String::from_utf8(to_canonical_json(&v).unwrap()).unwrap(),
            "\"a\\\"b\\\\c\\n\\u0001é€😀/\""
        );
    }

    #[test]
    fn utf16_ordering_differs_from_utf8() {
        // In UTF-8 U+FB01 sorts before U+1F600; in UTF-16 after it (U+1F600 is 0xD83D 0xDE00).
        let v = json!({"\u{1F600}": 1, "\u{FB01}": 2});
        assert_eq!(
            String::from_utf8(to_canonical_json(&v).unwrap()).unwrap(),
            "{\"😀\":1,\"ﬁ\":2}"
        );
    }

    #[test]
    fn inexact_numbers_are_refused() {
        assert!(to_canonical_json(&json!(1.5)).is_err());
        assert!(to_canonical_json(&json!(9_007_199_254_740_993_i64)).is_err());
        assert_eq!(
            to_canonical_json(&json!(9_007_199_254_740_991_i64)).unwrap(),
            b"9007199254740991"
        );
    }
}
