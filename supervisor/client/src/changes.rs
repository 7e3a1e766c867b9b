//! Runs' changes side by side, as `studio compare` and the app's Compare
//! view show them: every file any of the runs changed, a row each, with
//! what each run did to it.

use protocol::checks::CheckOutcome;
use protocol::workspace::{Changes, FileChange};

/// One file in the side-by-side changes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRow {
    /// Its path.
    pub path: String,
    /// What each run did to it (`+3 -1`, `binary`), `None` where it left
    /// it alone or had no workspace of its own.
    pub cells: Vec<Option<String>>,
}

impl FileRow {
    /// Whether the runs did not all change it the same way.
    pub fn differs(&self) -> bool {
        self.cells.windows(2).any(|pair| pair[0] != pair[1])
    }
}

/// `+3 -1`, or `binary`.
pub fn file_cell(file: &FileChange) -> String {
    if file.binary {
        "binary".to_owned()
    } else {
        format!("+{} -{}", file.added, file.removed)
    }
}

/// Every file the runs changed, in path order, with a cell per run (in
/// the order of `runs`); empty when no run had a workspace of its own.
pub fn side_by_side(runs: &[Option<&Changes>]) -> Vec<FileRow> {
    let mut paths: Vec<&str> = runs
        .iter()
        .flatten()
        .flat_map(|changes| changes.files.iter().map(|f| f.path.as_str()))
        .collect();
    paths.sort_unstable();
    paths.dedup();
    paths
        .into_iter()
        .map(|path| FileRow {
            path: path.to_owned(),
            cells: runs
                .iter()
                .map(|changes| {
                    let file = (*changes)?.files.iter().find(|f| f.path == path)?;
                    Some(file_cell(file))
                })
                .collect(),
        })
        .collect()
}

/// `2/3 passed`, or empty for a session without checks.
pub fn checks_passed(checks: &[CheckOutcome]) -> String {
    if checks.is_empty() {
        return String::new();
    }
    let passed = checks.iter().filter(|c| c.passed).count();
    format!("{passed}/{} passed", checks.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, added: u32) -> FileChange {
        FileChange {
            path: path.into(),
            added,
            removed: 0,
            binary: false,
        }
    }

    #[test]
    fn files_of_every_run_line_up_with_a_cell_per_run() {
        let a = Changes::of(vec![file("src/lib.rs", 3), file("README.md", 1)]);
        let b = Changes::of(vec![file("src/lib.rs", 3)]);
        let rows = side_by_side(&[Some(&a), None, Some(&b)]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].path, "README.md");
        assert_eq!(rows[0].cells, [Some("+1 -0".to_owned()), None, None]);
        assert!(rows[0].differs());
        let same = side_by_side(&[Some(&a), Some(&a)]);
        assert!(same.iter().all(|row| !row.differs()));
        assert!(side_by_side(&[None, None]).is_empty());
    }

    #[test]
    fn checks_say_how_many_passed() {
        let outcome = |passed| CheckOutcome {
            check: "json".into(),
            passed,
            detail: String::new(),
        };
        assert_eq!(
            checks_passed(&[outcome(true), outcome(false)]),
            "1/2 passed"
        );
        assert_eq!(checks_passed(&[]), "");
    }
}
