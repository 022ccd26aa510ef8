//! How JSON documents, document ids and field names are written in Firestore's terms, and read
//! back exactly.
//!
//! Firestore refuses some things JSON allows, so they are encoded reversibly:
//! - names (document ids, map keys, field-path segments) containing `/` or `%`, equal to `.` or
//!   `..`, empty, or matching the reserved `__.*__`: `%` escapes (`%25`, `%2F`, `%5F`, `%2E`), the
//!   empty name as a lone `%`. A name that needs none of this is stored as it is.
//! - an array directly inside an array (Firestore forbids it): a one-entry map `{"%a": [...]}`.
//! - an integer above `i64::MAX`: a one-entry map `{"%u": "<decimal>"}`.
//!
//! Neither wrapper key can be the escape of a real key, since every real `%` is written `%25`.

use aetherveil_store::{Result, StoreError};
use firestore::gcloud_sdk::google::firestore::v1::{ArrayValue, MapValue, Value, value::ValueType};
use serde_json::{Map, Number, Value as Json};
use std::collections::HashMap;

/// Wrapper key of an array nested directly in an array.
const NESTED_ARRAY: &str = "%a";
/// Wrapper key of an unsigned integer that does not fit Firestore's `i64`.
const BIG_UNSIGNED: &str = "%u";

/// The Firestore name (document id, map key or field-path segment) that stands for `name`.
pub fn escape_name(name: &str) -> String {
    if name.is_empty() {
        return "%".to_owned();
    }
    match name {
        "." => return "%2E".to_owned(),
        ".." => return "%2E%2E".to_owned(),
        _ => {}
    }
    let mut out = String::with_capacity(name.len());
    for ch in name.chars() {
        match ch {
            '%' => out.push_str("%25"),
            '/' => out.push_str("%2F"),
            _ => out.push(ch),
        }
    }
    if out.len() >= 4 && out.starts_with("__") && out.ends_with("__") {
        out.replace_range(0..1, "%5F");
    }
    out
}

/// The name [`escape_name`] turned into `stored`.
pub fn unescape_name(stored: &str) -> Result<String> {
    if stored == "%" {
        return Ok(String::new());
    }
    if !stored.contains('%') {
        return Ok(stored.to_owned());
    }
    let bad = || StoreError::Decode { id: stored.to_owned(), reason: "malformed escaped name".to_owned() };
    let bytes = stored.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = stored.get(i + 1..i + 3).ok_or_else(bad)?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| bad())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad())
}

/// A field path into the stored data map `root`, from a dotted path already checked to be made
/// of `[A-Za-z0-9_]` segments. Segments that are not plain identifiers are back-quoted.
pub fn field_path(root: &str, dotted: &str) -> String {
    let mut path = root.to_owned();
    for segment in dotted.split('.') {
        let stored = escape_name(segment);
        path.push('.');
        let plain = stored.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && stored.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if plain {
            path.push_str(&stored);
        } else {
            path.push('`');
            path.push_str(&stored);
            path.push('`');
        }
    }
    path
}

fn wrap(key: &str, inner: Value) -> Value {
    Value { value_type: Some(ValueType::MapValue(MapValue { fields: HashMap::from([(key.to_owned(), inner)]) })) }
}

/// The Firestore value of a JSON value.
pub fn to_firestore(json: &Json) -> Value {
    encode(json, false)
}

fn encode(json: &Json, in_array: bool) -> Value {
    let value_type = match json {
        Json::Null => ValueType::NullValue(0),
        Json::Bool(b) => ValueType::BooleanValue(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                ValueType::IntegerValue(i)
            } else if let Some(u) = n.as_u64() {
                return wrap(BIG_UNSIGNED, Value { value_type: Some(ValueType::StringValue(u.to_string())) });
            } else {
                ValueType::DoubleValue(n.as_f64().unwrap_or(f64::NAN))
            }
        }
        Json::String(s) => ValueType::StringValue(s.clone()),
        Json::Array(items) => {
            let array = Value {
                value_type: Some(ValueType::ArrayValue(ArrayValue {
                    values: items.iter().map(|item| encode(item, true)).collect(),
                })),
            };
            return if in_array { wrap(NESTED_ARRAY, array) } else { array };
        }
        Json::Object(map) => ValueType::MapValue(MapValue {
            fields: map.iter().map(|(k, v)| (escape_name(k), encode(v, false))).collect(),
        }),
    };
    Value { value_type: Some(value_type) }
}

/// The JSON value a Firestore value written by [`to_firestore`] stands for. `id` names the
/// document in errors.
pub fn from_firestore(value: &Value, id: &str) -> Result<Json> {
    let bad = |reason: String| StoreError::Decode { id: id.to_owned(), reason };
    Ok(match &value.value_type {
        None | Some(ValueType::NullValue(_)) => Json::Null,
        Some(ValueType::BooleanValue(b)) => Json::Bool(*b),
        Some(ValueType::IntegerValue(i)) => Json::Number((*i).into()),
        Some(ValueType::DoubleValue(f)) => {
            Json::Number(Number::from_f64(*f).ok_or_else(|| bad(format!("{f} is not a JSON number")))?)
        }
        Some(ValueType::StringValue(s)) => Json::String(s.clone()),
        Some(ValueType::ArrayValue(array)) => {
            Json::Array(array.values.iter().map(|v| from_firestore(v, id)).collect::<Result<_>>()?)
        }
        Some(ValueType::MapValue(map)) => {
            if map.fields.len() == 1 {
                if let Some(inner) = map.fields.get(NESTED_ARRAY) {
                    return from_firestore(inner, id);
                }
                if let Some(inner) = map.fields.get(BIG_UNSIGNED) {
                    let Some(ValueType::StringValue(s)) = &inner.value_type else {
                        return Err(bad("a big unsigned integer is not a string".to_owned()));
                    };
                    let n: u64 = s.parse().map_err(|_| bad(format!("{s:?} is not an unsigned integer")))?;
                    return Ok(Json::Number(n.into()));
                }
            }
            let mut out = Map::new();
            for (k, v) in &map.fields {
                out.insert(unescape_name(k)?, from_firestore(v, id)?);
            }
            Json::Object(out)
        }
        Some(other) => return Err(bad(format!("unsupported firestore value {other:?}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn awkward_names_are_escaped_reversibly() {
        for name in ["plain", "a/b", "__x__", "____", "___", "%", "%25", "", ".", "..", "...", "é/ü", "_a_", "a%2Fb"]
        {
            let stored = escape_name(name);
            assert!(!stored.contains('/'), "{name:?} stored as {stored:?}");
            assert!(!(stored.len() >= 4 && stored.starts_with("__") && stored.ends_with("__")), "{stored:?}");
            assert!(!stored.is_empty() && stored != "." && stored != "..", "{stored:?}");
            assert_eq!(unescape_name(&stored).expect("decode"), name);
        }
        assert_eq!(escape_name("run-42"), "run-42", "ordinary ids are stored as they are");
        assert!(unescape_name("%zz").is_err());
        assert!(unescape_name("%2").is_err());
    }

    #[test]
    fn json_round_trips_through_firestore_values() {
        let doc = json!({
            "int": -7, "big": u64::MAX, "max_i64": i64::MAX, "float": 1.5, "whole_float": 2.0,
            "s": "text", "t": true, "f": false, "null": null,
            "nested": {"a": {"b": [1, "x", null, {"c": []}]}},
            "arrays": [[1, 2], [], [[3]], {"%a": 1}],
            "": "empty key", "__reserved__": 1, "a/b": 2, "%u": "not a wrapper", "%a": [1]
        });
        let stored = to_firestore(&doc);
        assert_eq!(from_firestore(&stored, "id").expect("decode"), doc);
        for scalar in [json!(null), json!(3), json!([[1]]), json!("s"), json!(0.1)] {
            assert_eq!(from_firestore(&to_firestore(&scalar), "id").expect("decode"), scalar);
        }
    }

    #[test]
    fn arrays_are_never_stored_directly_inside_arrays() {
        fn check(v: &Value, in_array: bool) {
            match &v.value_type {
                Some(ValueType::ArrayValue(a)) => {
                    assert!(!in_array, "array directly inside an array");
                    a.values.iter().for_each(|x| check(x, true));
                }
                Some(ValueType::MapValue(m)) => m.fields.values().for_each(|x| check(x, false)),
                _ => {}
            }
        }
        check(&to_firestore(&json!([[[1]], [2, [3]]])), false);
    }

    #[test]
    fn field_paths_quote_what_is_not_an_identifier() {
        assert_eq!(field_path("d", "repo"), "d.repo");
        assert_eq!(field_path("d", "meta.tier"), "d.meta.tier");
        assert_eq!(field_path("d", "2nd.__x__"), "d.`2nd`.`%5F_x__`");
    }
}
