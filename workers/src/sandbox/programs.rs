//! The programs a command that may run no other program may still
//! execute: the program itself (found on `PATH` as `execvp` would) and
//! the interpreters it names, a script's `#!` line or an ELF file's
//! `PT_INTERP` (the dynamic loader), followed a few levels deep. The
//! launcher grants Landlock's execute right on these files alone, so a
//! plugin without `shell` cannot start a shell, another tool, or a file it
//! wrote.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Most interpreters followed (`#!/usr/bin/env node` is two, the loader
/// of each ELF file one more).
const MAX_DEPTH: usize = 4;

/// Bytes read of a file to find its interpreter.
const HEAD_BYTES: usize = 64 * 1024;

/// The files `program` needs to execute, canonical; `Err` when it cannot
/// be found.
pub fn needed(program: &OsStr, path_var: Option<&OsStr>) -> Result<Vec<PathBuf>, String> {
    let first = locate(program, path_var).ok_or_else(|| {
        format!(
            "{} is not an executable file on PATH",
            program.to_string_lossy()
        )
    })?;
    let mut found: Vec<PathBuf> = Vec::new();
    let mut next = vec![first];
    for _ in 0..MAX_DEPTH {
        let mut later = Vec::new();
        for file in next {
            let Ok(canonical) = std::fs::canonicalize(&file) else {
                continue;
            };
            if found.contains(&canonical) {
                continue;
            }
            later.extend(interpreter(&canonical, path_var));
            found.push(canonical);
        }
        if later.is_empty() {
            break;
        }
        next = later;
    }
    Ok(found)
}

/// `program` as `execvp` finds it: a path when it has a `/`, else the
/// first executable file of that name in `PATH`.
fn locate(program: &OsStr, path_var: Option<&OsStr>) -> Option<PathBuf> {
    if program.as_bytes().contains(&b'/') {
        return Some(PathBuf::from(program)).filter(|p| is_executable(p));
    }
    let dirs = path_var.unwrap_or(OsStr::new("/usr/local/bin:/usr/bin:/bin"));
    std::env::split_paths(dirs)
        .map(|dir| dir.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The interpreter `file` names, if any: its `#!` line's program (and,
/// for `/usr/bin/env NAME`, NAME on `PATH`), or its ELF loader.
fn interpreter(file: &Path, path_var: Option<&OsStr>) -> Vec<PathBuf> {
    let Ok(head) = read_head(file) else {
        return Vec::new();
    };
    if let Some(line) = head.strip_prefix(b"#!") {
        let line = line.split(|&b| b == b'\n').next().unwrap_or_default();
        let mut words = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|w| !w.is_empty());
        let Some(program) = words.next() else {
            return Vec::new();
        };
        let program = PathBuf::from(OsStr::from_bytes(program));
        let mut named = vec![program.clone()];
        if program.file_name() == Some(OsStr::new("env"))
            && let Some(target) = words.find(|w| !w.starts_with(b"-"))
            && let Some(found) = locate(OsStr::from_bytes(target), path_var)
        {
            named.push(found);
        }
        return named;
    }
    elf_interpreter(&head).into_iter().collect()
}

fn read_head(file: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::with_capacity(HEAD_BYTES);
    std::fs::File::open(file)?
        .take(HEAD_BYTES as u64)
        .read_to_end(&mut head)?;
    Ok(head)
}

/// The `PT_INTERP` of a little-endian ELF file whose program headers lie
/// in `head`.
fn elf_interpreter(head: &[u8]) -> Option<PathBuf> {
    const PT_INTERP: u32 = 3;
    if head.get(..4)? != b"\x7fELF" || *head.get(5)? != 1 {
        return None;
    }
    let wide = match head.get(4)? {
        1 => false,
        2 => true,
        _ => return None,
    };
    let u16_at = |at: usize| Some(u16::from_le_bytes(head.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(head.get(at..at + 4)?.try_into().ok()?));
    let u64_at = |at: usize| Some(u64::from_le_bytes(head.get(at..at + 8)?.try_into().ok()?));
    let word = |at: usize| -> Option<usize> {
        if wide {
            usize::try_from(u64_at(at)?).ok()
        } else {
            usize::try_from(u32_at(at)?).ok()
        }
    };
    let (phoff, phentsize, phnum) = if wide {
        (word(0x20)?, u16_at(0x36)?, u16_at(0x38)?)
    } else {
        (word(0x1c)?, u16_at(0x2a)?, u16_at(0x2c)?)
    };
    for index in 0..usize::from(phnum) {
        let at = phoff.checked_add(index.checked_mul(usize::from(phentsize))?)?;
        if u32_at(at)? != PT_INTERP {
            continue;
        }
        let (offset, size) = if wide {
            (word(at + 8)?, word(at + 32)?)
        } else {
            (word(at + 4)?, word(at + 16)?)
        };
        let bytes = head.get(offset..offset.checked_add(size)?)?;
        let name = bytes.split(|&b| b == 0).next()?;
        return Some(PathBuf::from(OsStr::from_bytes(name)));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dynamic_program_needs_itself_and_its_loader() {
        let needed = needed(OsStr::new("sh"), Some(OsStr::new("/usr/bin:/bin"))).unwrap();
        assert_eq!(needed[0], std::fs::canonicalize("/bin/sh").unwrap());
        assert!(
            needed
                .iter()
                .any(|p| p.to_string_lossy().contains("ld-linux")),
            "{needed:?}"
        );
    }

    #[test]
    fn a_script_needs_its_interpreter_through_env() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("tool");
        std::fs::write(&script, "#!/usr/bin/env sh\necho hi\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let needed = needed(script.as_os_str(), Some(OsStr::new("/usr/bin:/bin"))).unwrap();
        let env = std::fs::canonicalize("/usr/bin/env").unwrap();
        let sh = std::fs::canonicalize("/bin/sh").unwrap();
        assert!(needed.contains(&env) && needed.contains(&sh), "{needed:?}");
    }

    #[test]
    fn a_missing_program_is_an_error() {
        assert!(
            needed(
                OsStr::new("no-such-program-here"),
                Some(OsStr::new("/usr/bin"))
            )
            .is_err()
        );
    }
}
