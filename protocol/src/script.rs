//! What the built-in `scripted` provider does: a deterministic answer
//! streamed in chunks, tool calls, and misbehaviours on purpose (for
//! tests, chaos and the demo). Re-exported from [`crate::agent`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What the `scripted` provider does: stream an answer in chunks, and
/// optionally misbehave after some chunks (for tests, chaos and the demo).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// Fixed answer text; `None` derives a deterministic answer from the prompt.
    #[serde(default)]
    pub answer: Option<String>,
    /// Number of chunks of a derived answer.
    #[serde(default = "Script::default_chunks")]
    pub chunks: u32,
    /// Characters per streamed chunk.
    #[serde(default = "Script::default_chunk_chars")]
    pub chunk_chars: u32,
    /// Pause before each chunk, in milliseconds.
    #[serde(default = "Script::default_chunk_delay_ms")]
    pub chunk_delay_ms: u32,
    /// Misbehaviour to show, if any.
    #[serde(default)]
    pub fault: Option<Fault>,
    /// Chunks streamed before the fault strikes.
    #[serde(default)]
    pub fault_after_chunks: u32,
    /// Tool calls the model makes before it answers (each asked of the
    /// daemon like a real model's; the answer follows their results).
    #[serde(default)]
    pub tool_calls: Vec<ScriptedToolCall>,
}

/// A tool call the scripted provider makes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedToolCall {
    /// Tool name.
    pub name: String,
    /// Arguments as JSON text.
    #[serde(default = "ScriptedToolCall::no_arguments")]
    pub arguments: String,
}

impl ScriptedToolCall {
    fn no_arguments() -> String {
        "{}".to_owned()
    }
}

impl Script {
    fn default_chunks() -> u32 {
        20
    }
    fn default_chunk_chars() -> u32 {
        16
    }
    fn default_chunk_delay_ms() -> u32 {
        20
    }

    /// Rejects values that would make the worker do nothing or too much.
    pub fn validate(&self) -> Result<(), String> {
        if self.chunk_chars == 0 {
            return Err("script.chunk_chars must be at least 1".to_owned());
        }
        if self.chunks > 1_000_000 {
            return Err("script.chunks must be at most 1000000".to_owned());
        }
        if self.chunk_delay_ms > 600_000 {
            return Err("script.chunk_delay_ms must be at most 600000".to_owned());
        }
        Ok(())
    }

    /// This script with every field `patch` sets replaced.
    pub fn patched(&self, patch: &ScriptPatch) -> Script {
        Script {
            answer: patch.answer.clone().or_else(|| self.answer.clone()),
            chunks: patch.chunks.unwrap_or(self.chunks),
            chunk_chars: patch.chunk_chars.unwrap_or(self.chunk_chars),
            chunk_delay_ms: patch.chunk_delay_ms.unwrap_or(self.chunk_delay_ms),
            fault: patch.fault.or(self.fault),
            fault_after_chunks: patch.fault_after_chunks.unwrap_or(self.fault_after_chunks),
            tool_calls: patch
                .tool_calls
                .clone()
                .unwrap_or_else(|| self.tool_calls.clone()),
        }
    }
}

impl Default for Script {
    fn default() -> Self {
        Self {
            answer: None,
            chunks: Self::default_chunks(),
            chunk_chars: Self::default_chunk_chars(),
            chunk_delay_ms: Self::default_chunk_delay_ms(),
            fault: None,
            fault_after_chunks: 0,
            tool_calls: Vec::new(),
        }
    }
}

/// Per-run changes to an agent's [`Script`], so one batch can mix
/// well-behaved and misbehaving runs of the same agent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptPatch {
    /// Replaces [`Script::answer`].
    #[serde(default)]
    pub answer: Option<String>,
    /// Replaces [`Script::chunks`].
    #[serde(default)]
    pub chunks: Option<u32>,
    /// Replaces [`Script::chunk_chars`].
    #[serde(default)]
    pub chunk_chars: Option<u32>,
    /// Replaces [`Script::chunk_delay_ms`].
    #[serde(default)]
    pub chunk_delay_ms: Option<u32>,
    /// Replaces [`Script::fault`].
    #[serde(default)]
    pub fault: Option<Fault>,
    /// Replaces [`Script::fault_after_chunks`].
    #[serde(default)]
    pub fault_after_chunks: Option<u32>,
    /// Replaces [`Script::tool_calls`].
    #[serde(default)]
    pub tool_calls: Option<Vec<ScriptedToolCall>>,
}

/// A way for the scripted worker to misbehave on purpose.
///
/// Written as text everywhere (CLI, TOML, JSON, wire):
/// `hang`, `spin`, `grow-memory[:MIB_PER_SEC]`, `panic`, `abort`,
/// `exit[:CODE]`, `flood[:EVENTS]`, `garbage`, `oversized`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Fault {
    /// Block the worker's only thread forever; ignores cancellation.
    Hang,
    /// Burn CPU forever; ignores cancellation.
    Spin,
    /// Allocate and touch memory steadily until stopped.
    GrowMemory {
        /// Growth rate.
        mib_per_sec: u32,
    },
    /// Panic (exit code 101).
    Panic,
    /// Abort (SIGABRT).
    Abort,
    /// Exit at once with this code, without saying goodbye.
    Exit {
        /// Process exit code.
        code: i32,
    },
    /// Send this many chunk events as fast as possible, then finish normally.
    /// The extra chunks are `"x"`, so the streamed text no longer matches
    /// `message.assistant`.
    Flood {
        /// Number of events.
        events: u64,
    },
    /// Send a malformed frame, then wait: the daemon must end the session.
    Garbage,
    /// Announce a frame over the size limit, then wait.
    Oversized,
    /// Report `tool.approved` for a call of its own, which only the daemon
    /// may record, then wait: the daemon must ignore it and end the session.
    ForgeApproval,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Hang => f.write_str("hang"),
            Fault::Spin => f.write_str("spin"),
            Fault::GrowMemory { mib_per_sec } => write!(f, "grow-memory:{mib_per_sec}"),
            Fault::Panic => f.write_str("panic"),
            Fault::Abort => f.write_str("abort"),
            Fault::Exit { code } => write!(f, "exit:{code}"),
            Fault::Flood { events } => write!(f, "flood:{events}"),
            Fault::Garbage => f.write_str("garbage"),
            Fault::Oversized => f.write_str("oversized"),
            Fault::ForgeApproval => f.write_str("forge-approval"),
        }
    }
}

impl FromStr for Fault {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, arg) = match s.split_once(':') {
            Some((name, arg)) => (name, Some(arg)),
            None => (s, None),
        };
        fn number<T: FromStr>(s: &str, arg: Option<&str>, default: T) -> Result<T, String> {
            arg.map_or(Ok(default), |a| {
                a.parse()
                    .map_err(|_| format!("invalid number {a:?} in fault {s:?}"))
            })
        }
        let fault = match name {
            "hang" => Fault::Hang,
            "spin" => Fault::Spin,
            "grow-memory" => Fault::GrowMemory {
                mib_per_sec: number(s, arg, 64)?,
            },
            "panic" => Fault::Panic,
            "abort" => Fault::Abort,
            "exit" => Fault::Exit {
                code: number(s, arg, 1)?,
            },
            "flood" => Fault::Flood {
                events: number(s, arg, 10_000)?,
            },
            "garbage" => Fault::Garbage,
            "oversized" => Fault::Oversized,
            "forge-approval" => Fault::ForgeApproval,
            _ => {
                return Err(format!(
                    "unknown fault {s:?}: expected hang, spin, grow-memory[:MIB_PER_SEC], panic, abort, exit[:CODE], flood[:EVENTS], garbage, oversized or forge-approval"
                ));
            }
        };
        let takes_arg = matches!(
            fault,
            Fault::GrowMemory { .. } | Fault::Exit { .. } | Fault::Flood { .. }
        );
        if arg.is_some() && !takes_arg {
            return Err(format!("fault {name:?} takes no argument"));
        }
        Ok(fault)
    }
}

impl TryFrom<String> for Fault {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Fault> for String {
    fn from(value: Fault) -> Self {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_round_trip_through_text() {
        let all = [
            Fault::Hang,
            Fault::Spin,
            Fault::GrowMemory { mib_per_sec: 32 },
            Fault::Panic,
            Fault::Abort,
            Fault::Exit { code: -3 },
            Fault::Flood { events: 7 },
            Fault::Garbage,
            Fault::Oversized,
            Fault::ForgeApproval,
        ];
        for fault in all {
            assert_eq!(fault.to_string().parse::<Fault>(), Ok(fault));
        }
        assert_eq!("exit".parse::<Fault>(), Ok(Fault::Exit { code: 1 }));
    }

    #[test]
    fn bad_faults_are_refused_with_a_reason() {
        assert!(
            "melt"
                .parse::<Fault>()
                .unwrap_err()
                .contains("unknown fault")
        );
        assert!(
            "hang:3"
                .parse::<Fault>()
                .unwrap_err()
                .contains("no argument")
        );
        assert!(
            "exit:x"
                .parse::<Fault>()
                .unwrap_err()
                .contains("invalid number")
        );
    }

    #[test]
    fn script_patch_replaces_only_what_it_sets() {
        let base = Script::default();
        let patched = base.patched(&ScriptPatch {
            fault: Some(Fault::Panic),
            fault_after_chunks: Some(3),
            ..ScriptPatch::default()
        });
        assert_eq!(
            patched,
            Script {
                fault: Some(Fault::Panic),
                fault_after_chunks: 3,
                ..Script::default()
            }
        );
    }
}
