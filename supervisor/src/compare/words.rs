//! Word diffs of two steps' texts (`similar`'s word tokenizer: words and
//! the whitespace between them), as the spans a comparison shows.

use std::time::Duration;

use protocol::control::{Change, Span};
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
}
