//! Output kept to a cap: the head and the tail, and how much was dropped.

use super::OUTPUT_CAP;

/// Bytes collected up to [`OUTPUT_CAP`]: the first half and the last half.
#[derive(Debug, Default)]
pub struct Capped {
    head: Vec<u8>,
    tail: std::collections::VecDeque<u8>,
    total: usize,
}

impl Capped {
    /// Adds bytes.
    pub fn push(&mut self, bytes: &[u8]) {
        self.total += bytes.len();
        let half = OUTPUT_CAP / 2;
        let room = half.saturating_sub(self.head.len());
        let (to_head, rest) = bytes.split_at(room.min(bytes.len()));
        self.head.extend_from_slice(to_head);
        self.tail.extend(rest);
        while self.tail.len() > half {
            self.tail.pop_front();
        }
    }

    /// Whether bytes were dropped.
    pub fn truncated(&self) -> bool {
        self.total > self.head.len() + self.tail.len()
    }

    /// The kept text, with a note of what was dropped in the middle.
    pub fn text(&self) -> String {
        let head = String::from_utf8_lossy(&self.head);
        let tail: Vec<u8> = self.tail.iter().copied().collect();
        let tail = String::from_utf8_lossy(&tail);
        if self.truncated() {
            let dropped = self.total - self.head.len() - self.tail.len();
            format!(
                "{head}\n[... {dropped} of {} bytes left out ...]\n{tail}",
                self.total
            )
        } else {
            format!("{head}{tail}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_output_is_kept_whole() {
        let mut c = Capped::default();
        c.push(b"hello ");
        c.push(b"world");
        assert_eq!(c.text(), "hello world");
        assert!(!c.truncated());
    }

    #[test]
    fn large_output_keeps_head_and_tail_and_says_how_much_went() {
        let mut c = Capped::default();
        c.push(b"BEGIN");
        c.push(&vec![b'x'; OUTPUT_CAP * 3]);
        c.push(b"END");
        assert!(c.truncated());
        let text = c.text();
        assert!(text.starts_with("BEGIN"));
        assert!(text.ends_with("END"));
        assert!(
            text.contains(&format!("of {} bytes left out", OUTPUT_CAP * 3 + 8)),
            "{}",
            &text[..0]
        );
        assert!(text.len() < OUTPUT_CAP + 100);
    }
}
