//! Aligning two to four sessions' steps into rows.
//!
//! Each other session is aligned against the first on their steps' keys
//! (Myers' diff, `similar`), so the steps they share line up; a run of
//! steps that differ is paired again by kind (a model answer next to a
//! model answer, a call next to a call) and, in a short run, by how alike
//! their words are (`weighed`), so a changed answer faces the answer it
//! replaces rather than the first step of its kind. The pairwise alignments are then
//! merged on the first session's steps: what another session did that the
//! first did not gets rows of its own, before the first's next step.
//!
//! Myers' diff takes time in the product of the lengths and the number of
//! differences, so two long sessions that differ throughout would take
//! long: past a deadline it pairs what is left in order, and the
//! alignment says it is approximate.

use std::time::{Duration, Instant};

use similar::{Algorithm, DiffOp, capture_diff_slices_deadline};

/// How long one pairwise alignment may look for the best match.
const DEADLINE: Duration = Duration::from_secs(2);

/// Largest run of differing steps (steps of one side times the other's)
/// whose every pairing is weighed; a longer one is paired by kind in
/// order.
const MAX_WEIGHED: usize = 10_000;

/// How alike two steps are, from 0 to 1: the other session (from 1), the
/// base's step, the other's step.
pub(crate) type Alike<'a> = &'a dyn Fn(usize, usize, usize) -> f64;

/// The rows: for each, the index of each session's step in it (`None`
/// where a session has none).
#[derive(Debug, PartialEq)]
pub(crate) struct Alignment {
    /// The rows, each with one entry per session.
    pub(crate) rows: Vec<Vec<Option<usize>>>,
    /// A deadline passed: some rows pair steps in order, not by match.
    pub(crate) approximate: bool,
}

/// Two sessions' steps paired: the base's index, the other's, either
/// `None` where one has no step to pair.
type Pairs = Vec<(Option<usize>, Option<usize>)>;

/// One session's steps as the alignment sees them: each step's key and
/// kind.
pub(crate) struct Sequence {
    /// Same key, same step.
    pub(crate) keys: Vec<u64>,
    /// What steps may pair when their keys differ.
    pub(crate) kinds: Vec<u8>,
}

/// Aligns `sessions` (the first is the base) into rows.
pub(crate) fn align(sessions: &[Sequence], alike: Alike<'_>) -> Alignment {
    let Some((base, others)) = sessions.split_first() else {
        return Alignment {
            rows: Vec::new(),
            approximate: false,
        };
    };
    let mut approximate = false;
    let pairs: Vec<Pairs> = others
        .iter()
        .enumerate()
        .map(|(index, other)| {
            let alike = |b: usize, o: usize| alike(index + 1, b, o);
            let (pairs, late) = pair(base, other, &alike);
            approximate |= late;
            pairs
        })
        .collect();
    Alignment {
        rows: merge(base.keys.len(), &pairs),
        approximate,
    }
}

/// The pairwise alignment of `other` against `base`, in order; and whether
/// a deadline passed.
fn pair(base: &Sequence, other: &Sequence, alike: &dyn Fn(usize, usize) -> f64) -> (Pairs, bool) {
    let deadline = Instant::now() + DEADLINE;
    let mut pairs = Vec::new();
    let ops =
        capture_diff_slices_deadline(Algorithm::Myers, &base.keys, &other.keys, Some(deadline));
    for op in ops {
        match op {
            DiffOp::Equal {
                old_index,
                new_index,
                len,
            } => pairs.extend((0..len).map(|i| (Some(old_index + i), Some(new_index + i)))),
            DiffOp::Delete {
                old_index, old_len, ..
            } => pairs.extend((old_index..old_index + old_len).map(|i| (Some(i), None))),
            DiffOp::Insert {
                new_index, new_len, ..
            } => pairs.extend((new_index..new_index + new_len).map(|i| (None, Some(i)))),
            DiffOp::Replace {
                old_index,
                old_len,
                new_index,
                new_len,
            } => {
                let old = old_index..old_index + old_len;
                let new = new_index..new_index + new_len;
                if old.len() * new.len() <= MAX_WEIGHED {
                    pairs.extend(weighed(base, other, old, new, alike));
                } else {
                    pairs.extend(pair_by_kind(base, other, old, new, deadline));
                }
            }
        }
    }
    (pairs, Instant::now() > deadline)
}

/// Steps that differ, paired by kind where they can be.
fn pair_by_kind(
    base: &Sequence,
    other: &Sequence,
    old: std::ops::Range<usize>,
    new: std::ops::Range<usize>,
    deadline: Instant,
) -> Pairs {
    let ops = capture_diff_slices_deadline(
        Algorithm::Myers,
        &base.kinds[old.clone()],
        &other.kinds[new.clone()],
        Some(deadline),
    );
    let (o, n) = (old.start, new.start);
    let mut pairs = Vec::new();
    for op in ops {
        let (olds, news) = (op.old_range(), op.new_range());
        if let DiffOp::Equal { .. } = op {
            pairs.extend(olds.zip(news).map(|(l, r)| (Some(o + l), Some(n + r))));
        } else {
            // Steps of other kinds each get a row of their own.
            pairs.extend(olds.map(|l| (Some(o + l), None)));
            pairs.extend(news.map(|r| (None, Some(n + r))));
        }
    }
    pairs
}

/// Steps that differ, paired where their kinds agree so that the pairs'
/// likeness adds up to the most (each pair counts 1 and its likeness):
/// every pairing is weighed (Needleman-Wunsch, gaps free).
fn weighed(
    base: &Sequence,
    other: &Sequence,
    old: std::ops::Range<usize>,
    new: std::ops::Range<usize>,
    alike: &dyn Fn(usize, usize) -> f64,
) -> Pairs {
    let (n, m) = (old.len(), new.len());
    let weight = |i: usize, j: usize| {
        let (b, o) = (old.start + i, new.start + j);
        (base.kinds[b] == other.kinds[o]).then(|| 1.0 + alike(b, o))
    };
    // best[i][j]: the most the first i and j steps can add up to.
    let mut best = vec![vec![0.0_f64; m + 1]; n + 1];
    for i in 1..=n {
        for j in 1..=m {
            let paired = weight(i - 1, j - 1).map_or(f64::MIN, |w| best[i - 1][j - 1] + w);
            best[i][j] = paired.max(best[i - 1][j]).max(best[i][j - 1]);
        }
    }
    let mut pairs = Vec::with_capacity(n + m);
    let (mut i, mut j) = (n, m);
    while i > 0 || j > 0 {
        let paired = i > 0
            && j > 0
            && weight(i - 1, j - 1).is_some_and(|w| best[i][j] == best[i - 1][j - 1] + w);
        if paired {
            pairs.push((Some(old.start + i - 1), Some(new.start + j - 1)));
            i -= 1;
            j -= 1;
        } else if j > 0 && (i == 0 || best[i][j] == best[i][j - 1]) {
            pairs.push((None, Some(new.start + j - 1)));
            j -= 1;
        } else {
            pairs.push((Some(old.start + i - 1), None));
            i -= 1;
        }
    }
    pairs.reverse();
    pairs
}

/// Merges pairwise alignments on the base's steps (`base_len` of them).
fn merge(
    base_len: usize,
    pairs: &[Vec<(Option<usize>, Option<usize>)>],
) -> Vec<Vec<Option<usize>>> {
    let sessions = pairs.len() + 1;
    // For each base step (and the end): what each other session inserted
    // before it, and what it paired with it.
    let mut before: Vec<Vec<Vec<usize>>> = vec![vec![Vec::new(); pairs.len()]; base_len + 1];
    let mut with: Vec<Vec<Option<usize>>> = vec![vec![None; pairs.len()]; base_len];
    for (other, pairs) in pairs.iter().enumerate() {
        let mut next_base = 0;
        for &(left, right) in pairs {
            match (left, right) {
                (Some(b), right) => {
                    with[b][other] = right;
                    next_base = b + 1;
                }
                (None, Some(o)) => before[next_base][other].push(o),
                (None, None) => {}
            }
        }
    }
    let mut rows = Vec::with_capacity(base_len + 1);
    for (at, inserted) in before.into_iter().enumerate() {
        let longest = inserted.iter().map(Vec::len).max().unwrap_or(0);
        for k in 0..longest {
            let mut row = vec![None; sessions];
            for (other, steps) in inserted.iter().enumerate() {
                row[other + 1] = steps.get(k).copied();
            }
            rows.push(row);
        }
        if let Some(paired) = with.get(at) {
            let mut row = Vec::with_capacity(sessions);
            row.push(Some(at));
            row.extend(paired.iter().copied());
            rows.push(row);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session whose steps are letters: the letter is the key, its case
    /// the kind (`a` and `b` pair when they differ, `a` and `B` do not).
    fn steps(letters: &str) -> Sequence {
        Sequence {
            keys: letters.bytes().map(u64::from).collect(),
            kinds: letters
                .bytes()
                .map(|b| u8::from(b.is_ascii_uppercase()))
                .collect(),
        }
    }

    fn rows(sessions: &[&str]) -> Vec<String> {
        let sequences: Vec<Sequence> = sessions.iter().map(|s| steps(s)).collect();
        let alignment = align(&sequences, &|_, _, _| 0.0);
        assert!(!alignment.approximate);
        alignment
            .rows
            .iter()
            .map(|row| {
                row.iter()
                    .zip(sessions)
                    .map(|(cell, letters)| match cell {
                        Some(i) => char::from(letters.as_bytes()[*i]),
                        None => '-',
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn equal_sessions_pair_every_step() {
        assert_eq!(rows(&["abc", "abc"]), ["aa", "bb", "cc"]);
    }

    #[test]
    fn a_changed_step_pairs_with_its_kind_and_the_rest_lines_up_again() {
        // The third step changed (c to x), then both go on alike.
        assert_eq!(rows(&["abcd", "abxd"]), ["aa", "bb", "cx", "dd"]);
        // A step of another kind does not pair with it.
        assert_eq!(rows(&["abcd", "abXd"]), ["aa", "bb", "c-", "-X", "dd"]);
    }

    #[test]
    fn sessions_of_different_lengths_leave_cells_empty() {
        assert_eq!(rows(&["ab", "abcde"]), ["aa", "bb", "-c", "-d", "-e"]);
        assert_eq!(rows(&["abcde", "a"]), ["aa", "b-", "c-", "d-", "e-"]);
        assert_eq!(rows(&["", "ab"]), ["-a", "-b"]);
    }

    #[test]
    fn a_changed_step_faces_the_one_most_like_it() {
        // The base asked for a tool (a), ran it (B), then answered (c);
        // the other answered at once (x), much like c.
        let sequences = [steps("aBc"), steps("x")];
        let alike = |_: usize, b: usize, o: usize| if (b, o) == (2, 0) { 0.9 } else { 0.1 };
        let alignment = align(&sequences, &alike);
        assert_eq!(
            alignment.rows,
            [
                vec![Some(0), None],
                vec![Some(1), None],
                vec![Some(2), Some(0)]
            ]
        );
        // With nothing to tell them apart, the last of its kind: where a
        // session answered at once, its answer faces the other's answer.
        let alignment = align(&sequences, &|_, _, _| 0.0);
        assert_eq!(alignment.rows[2], [Some(2), Some(0)]);
    }

    #[test]
    fn three_sessions_merge_on_the_first() {
        // The second inserted x before c; the third dropped b.
        assert_eq!(rows(&["abc", "abxc", "ac"]), ["aaa", "bb-", "-x-", "ccc"]);
        // Both inserted something at the same place: side by side.
        assert_eq!(rows(&["aB", "axB", "ayzB"]), ["aaa", "-xy", "--z", "BBB"]);
    }
}
