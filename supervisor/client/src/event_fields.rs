//! An event's fields as people and scripts read them, the same in the CLI
//! (`studio events`, `--json`, exports) and the app's Inspector: the
//! variant's fields as JSON without the wrapper serde puts around them,
//! or on one line as `key=value` pairs. Never Rust's `Debug` text.

use protocol::event::EventKind;
use serde_json::{Map, Value};

/// The fields of `kind` as a JSON object (empty for a kind without any).
pub fn fields(kind: &EventKind) -> Value {
    match serde_json::to_value(kind) {
        Ok(Value::Object(map)) if map.len() == 1 => map
            .into_iter()
            .next()
            .map(|(_, v)| v)
            .unwrap_or(Value::Null),
        Ok(Value::String(_)) | Err(_) => Value::Object(Map::new()),
        Ok(other) => other,
    }
}

/// The fields indented, for reading in full.
pub fn pretty(kind: &EventKind) -> String {
    serde_json::to_string_pretty(&fields(kind)).unwrap_or_default()
}

/// `key=value` pairs on one line, each value cut to `max` characters
/// (strings quoted, nested values as compact JSON).
pub fn inline(kind: &EventKind, max: usize) -> String {
    let Value::Object(fields) = fields(kind) else {
        return String::new();
    };
    let pairs: Vec<String> = fields
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                Value::String(s) => format!("{:?}", clip(&s, max)),
                other => clip(&other.to_string(), max),
            };
            format!("{key}={text}")
        })
        .collect();
    pairs.join(" ")
}

/// `s` cut to `max` characters, an ellipsis marking the cut.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(max).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    use protocol::event::ExitInfo;

    use super::*;

    #[test]
    fn fields_read_as_json_and_key_value_pairs_never_as_debug() {
        let started = EventKind::SessionStarted {
            pid: 42,
            agent: "writer".into(),
            provider: "scripted".into(),
            model: "scripted-1".into(),
        };
        assert_eq!(
            inline(&started, 60),
            r#"agent="writer" model="scripted-1" pid=42 provider="scripted""#
        );
        assert!(pretty(&started).contains("\n  \"pid\": 42"));
        let crashed = EventKind::SessionCrashed {
            exit: ExitInfo {
                code: None,
                signal: Some(6),
            },
            detail: "x".repeat(100),
        };
        let line = inline(&crashed, 10);
        assert!(line.contains(r#"detail="xxxxxxxxxx…""#), "{line}");
        assert!(line.contains("exit={"), "{line}");
        assert_eq!(inline(&EventKind::SessionCompleted, 60), "");
        assert_eq!(
            fields(&EventKind::SessionCompleted),
            Value::Object(Map::new())
        );
    }
}
