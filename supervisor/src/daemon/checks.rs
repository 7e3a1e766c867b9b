//! Checks of a run's answer (`protocol::checks::Check`): checked when a
//! group starts, and evaluated on each run's last answer before its
//! terminal event (`SessionState::record_checks`).

use protocol::checks::{Check, CheckOutcome, MAX_CHECKS};

/// Most characters of a regular expression.
const MAX_PATTERN_CHARS: usize = 1000;

/// Why `checks` cannot be used, if they cannot: too many, an empty text,
/// or a regular expression that does not compile.
pub(crate) fn validate(checks: &[Check]) -> Result<(), String> {
    if checks.len() > MAX_CHECKS {
        return Err(format!(
            "{} checks are too many (at most {MAX_CHECKS})",
            checks.len()
        ));
    }
    for check in checks {
        match check {
            Check::Contains(text) if text.is_empty() => {
                return Err("a contains check needs some text".to_owned());
            }
            Check::Regex(pattern) => {
                if pattern.chars().count() > MAX_PATTERN_CHARS {
                    return Err(format!(
                        "a regular expression is at most {MAX_PATTERN_CHARS} characters"
                    ));
                }
                regex::Regex::new(pattern)
                    .map_err(|err| format!("check regex {pattern}: {err}"))?;
            }
            Check::Contains(_) | Check::Json => {}
        }
    }
    Ok(())
}

/// How each of `checks` comes out on `answer`.
pub(crate) fn evaluate(checks: &[Check], answer: &str) -> Vec<CheckOutcome> {
    checks
        .iter()
        .map(|check| {
            let (passed, detail) = match check {
                Check::Contains(text) => match answer.contains(text.as_str()) {
                    true => (true, String::new()),
                    false => (false, "not in the answer".to_owned()),
                },
                Check::Regex(pattern) => match regex::Regex::new(pattern) {
                    Ok(re) => match re.find(answer) {
                        Some(found) => (true, format!("matched {:?}", first_chars(found.as_str()))),
                        None => (false, "no match in the answer".to_owned()),
                    },
                    Err(err) => (false, format!("does not compile: {err}")),
                },
                Check::Json => match serde_json::from_str::<serde_json::Value>(json_body(answer)) {
                    Ok(_) => (true, String::new()),
                    Err(err) => (false, format!("not JSON: {err}")),
                },
            };
            CheckOutcome {
                check: check.name(),
                passed,
                detail,
            }
        })
        .collect()
}

/// The answer without spaces around it, or inside its Markdown code
/// fence (```json ... ```) if it is one.
fn json_body(answer: &str) -> &str {
    let trimmed = answer.trim();
    let Some(rest) = trimmed.strip_prefix("```") else {
        return trimmed;
    };
    let rest = rest.trim_start_matches(|c: char| c.is_ascii_alphanumeric());
    rest.strip_suffix("```").unwrap_or(rest).trim()
}

/// At most 80 characters of `text`, for a detail line.
fn first_chars(text: &str) -> String {
    text.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_check_passes_or_says_why_not() {
        let checks = [
            Check::Contains("Paris".into()),
            Check::Regex(r"\d{4}".into()),
            Check::Json,
        ];
        let passed = |answer: &str| -> Vec<bool> {
            evaluate(&checks, answer).iter().map(|o| o.passed).collect()
        };
        assert_eq!(passed("Paris, since 1871"), [true, true, false]);
        assert_eq!(
            passed("```json\n{\"city\": \"Paris\", \"year\": 2024}\n```"),
            [true, true, true]
        );
        assert_eq!(passed("London"), [false, false, false]);
        let why = evaluate(&checks, "London");
        assert_eq!(why[0].detail, "not in the answer");
        assert!(why[2].detail.starts_with("not JSON: "), "{}", why[2].detail);
        assert_eq!(evaluate(&checks, "year 1999")[1].detail, "matched \"1999\"");
    }

    #[test]
    fn bad_checks_are_refused_before_anything_runs() {
        assert!(validate(&[Check::Regex("(unclosed".into())]).is_err());
        assert!(validate(&[Check::Contains(String::new())]).is_err());
        assert!(validate(&vec![Check::Json; MAX_CHECKS + 1]).is_err());
        assert!(validate(&[Check::Json, Check::Regex("^ok$".into())]).is_ok());
    }
}
