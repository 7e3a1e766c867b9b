//! The arguments of each built-in tool, parsed from the model's JSON into
//! a typed call before anything runs: a missing or mistyped field is an
//! error for the model that names the field, and no tool reads raw JSON.

use serde::Deserialize;
use serde::de::DeserializeOwned;

/// One call of a built-in tool, with its arguments.
#[derive(Debug, PartialEq)]
pub(super) enum Call {
    Shell(ShellArgs),
    Fetch(FetchArgs),
    Read(ReadArgs),
    List(ListArgs),
    Search(SearchArgs),
    Write(WriteArgs),
    Edit(EditArgs),
}

/// `shell`: a command, and how long it may run.
#[derive(Debug, PartialEq, Deserialize)]
pub(super) struct ShellArgs {
    pub command: String,
    pub timeout_secs: Option<u64>,
}

/// `fetch`: one URL.
#[derive(Debug, PartialEq, Deserialize)]
pub(super) struct FetchArgs {
    pub url: String,
}

/// `fs.read`: a file, from line `offset` (from 1), at most `limit` lines.
#[derive(Debug, PartialEq, Deserialize)]
pub(super) struct ReadArgs {
    pub path: String,
    pub offset: Option<u64>,
    pub limit: Option<u64>,
}

/// `fs.list`: a directory (the workspace by default).
#[derive(Debug, PartialEq, Deserialize)]
pub(super) struct ListArgs {
    #[serde(default = "workspace")]
    pub path: String,
}

/// `fs.search`: files matching a glob (every file by default), or their
/// lines containing a text.
#[derive(Debug, PartialEq, Deserialize)]
pub(super) struct SearchArgs {
    #[serde(default = "every_file")]
    pub glob: String,
    pub contains: Option<String>,
}

/// `fs.write`: a whole file.
#[derive(Debug, PartialEq, Deserialize)]
pub(super) struct WriteArgs {
    pub path: String,
    pub content: String,
}

/// `fs.edit`: one unique span of a file replaced.
#[derive(Debug, PartialEq, Deserialize)]
pub(super) struct EditArgs {
    pub path: String,
    pub old: String,
    pub new: String,
}

fn workspace() -> String {
    ".".to_owned()
}

fn every_file() -> String {
    "**/*".to_owned()
}

impl Call {
    /// The call of tool `name` with `arguments` (JSON); `Err` says, for
    /// the model, what is wrong.
    pub(super) fn parse(name: &str, arguments: &str) -> Result<Call, String> {
        let call = match name {
            "shell" => Call::Shell(parse(name, arguments)?),
            "fetch" => Call::Fetch(parse(name, arguments)?),
            "fs.read" => Call::Read(parse(name, arguments)?),
            "fs.list" => Call::List(parse(name, arguments)?),
            "fs.search" => Call::Search(parse(name, arguments)?),
            "fs.write" => Call::Write(parse(name, arguments)?),
            "fs.edit" => Call::Edit(parse(name, arguments)?),
            _ => return Err(format!("there is no tool named {name:?}")),
        };
        Ok(call)
    }

    /// Whether the call changes files or runs commands (refused to a
    /// read-only agent).
    pub(super) fn writes(&self) -> bool {
        matches!(self, Call::Shell(_) | Call::Write(_) | Call::Edit(_))
    }
}

fn parse<T: DeserializeOwned>(name: &str, arguments: &str) -> Result<T, String> {
    // A model may send no arguments at all for a tool whose fields are
    // all optional.
    let arguments = if arguments.trim().is_empty() {
        "{}"
    } else {
        arguments
    };
    serde_json::from_str(arguments).map_err(|err| {
        if err.is_syntax() || err.is_eof() {
            format!("the arguments are not JSON: {err}")
        } else {
            format!("bad arguments for {name}: {err}")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_tool_s_arguments_parse_with_their_defaults() {
        assert_eq!(
            Call::parse("fs.search", "{}").unwrap(),
            Call::Search(SearchArgs {
                glob: "**/*".into(),
                contains: None
            })
        );
        assert_eq!(
            Call::parse("fs.list", "").unwrap(),
            Call::List(ListArgs { path: ".".into() })
        );
        assert_eq!(
            Call::parse("fs.read", r#"{"path":"a","limit":3}"#).unwrap(),
            Call::Read(ReadArgs {
                path: "a".into(),
                offset: None,
                limit: Some(3)
            })
        );
        assert_eq!(
            Call::parse("shell", r#"{"command":"ls","timeout_secs":5}"#).unwrap(),
            Call::Shell(ShellArgs {
                command: "ls".into(),
                timeout_secs: Some(5)
            })
        );
    }

    #[test]
    fn a_bad_call_says_what_is_wrong() {
        let missing = Call::parse("fs.write", r#"{"path":"a"}"#).unwrap_err();
        assert!(
            missing.contains("bad arguments for fs.write") && missing.contains("content"),
            "{missing}"
        );
        let mistyped = Call::parse("fs.read", r#"{"path":"a","offset":"two"}"#).unwrap_err();
        assert!(
            mistyped.contains("offset") || mistyped.contains("invalid type"),
            "{mistyped}"
        );
        let broken = Call::parse("fetch", r#"{"url":"#).unwrap_err();
        assert!(broken.starts_with("the arguments are not JSON"), "{broken}");
        let unknown = Call::parse("fs.delete", "{}").unwrap_err();
        assert_eq!(unknown, "there is no tool named \"fs.delete\"");
    }
}
