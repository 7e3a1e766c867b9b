//! Word diffs of two steps' texts (`similar`'s word tokenizer: words and
//! the whitespace between them), as the spans a comparison shows.

use std::time::Duration;

use std::collections::HashSet;

use protocol::control::{Change, Span, Step};
use similar::{ChangeTag, TextDiff};

/// How long one word diff may look for the best match.
const DEADLINE: Duration = Duration::from_millis(200);

/// `text` against `base`, word by word: runs of words in both, only in
/// `base`, or only in `text`. Empty when they are the same.
pub(crate) fn diff(base: &str, text: &str) -> Vec<Span> {
    if base == text {
        return Vec::new();
    }
    let diff = TextDiff::configure()
        .timeout(DEADLINE)
        .diff_words(base, text);
    let mut spans: Vec<Span> = Vec::new();
    for change in diff.iter_all_changes() {
        let kind = match change.tag() {
            ChangeTag::Equal => Change::Same,
            ChangeTag::Delete => Change::Removed,
            ChangeTag::Insert => Change::Added,
        };
        match spans.last_mut() {
            Some(last) if last.change == kind => last.text.push_str(change.value()),
            _ => spans.push(Span {
                change: kind,
                text: change.value().to_owned(),
            }),
        }
    }
    spans
}

/// Words looked at when weighing how alike two steps are.
const WEIGHED_WORDS: usize = 200;

/// How alike two steps are, from 0 to 1: the share of distinct words
/// (of their first [`WEIGHED_WORDS`]) in both texts and outcomes.
pub(crate) fn alike(a: &Step, b: &Step) -> f64 {
    let words = |step: &Step| -> HashSet<String> {
        step.text
            .split_whitespace()
            .chain(step.outcome.split_whitespace())
            .take(WEIGHED_WORDS)
            .map(str::to_lowercase)
            .collect()
    };
    let (a, b) = (words(a), words(b));
    let all = a.union(&b).count();
    if all == 0 {
        return 1.0;
    }
    a.intersection(&b).count() as f64 / all as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(spans: &[Span]) -> String {
        spans
            .iter()
            .map(|s| match s.change {
                Change::Same => s.text.clone(),
                Change::Removed => format!("[-{}-]", s.text),
                Change::Added => format!("{{+{}+}}", s.text),
            })
            .collect()
    }

    #[test]
    fn words_that_changed_are_marked_and_the_rest_kept() {
        let spans = diff("the quick brown fox", "the slow brown fox jumps");
        assert_eq!(shown(&spans), "the [-quick-]{+slow+} brown fox{+ jumps+}");
        assert!(diff("same", "same").is_empty());
        assert_eq!(shown(&diff("", "new")), "{+new+}");
    }

    #[test]
    fn steps_are_as_alike_as_the_words_they_share() {
        let step = |text: &str| Step {
            session: protocol::SessionId::from_u128(1),
            seq: 1,
            kind: protocol::control::StepKind::Model,
            name: String::new(),
            text: text.into(),
            outcome: "stop".into(),
            text_diff: Vec::new(),
            outcome_diff: Vec::new(),
        };
        let paris = step("Paris is the capital");
        assert!((alike(&paris, &paris) - 1.0).abs() < f64::EPSILON);
        // 4 shared (is, the, capital, stop) of 6 distinct words.
        let lyon = step("Lyon is the capital");
        assert!((alike(&paris, &lyon) - 4.0 / 6.0).abs() < 1e-9);
        assert!(
            (alike(&paris, &step("")) - 0.2).abs() < 1e-9,
            "only stop is shared"
        );
    }
}
