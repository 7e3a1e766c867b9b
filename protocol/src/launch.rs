//! Where a session's worker runs ([`Launcher`]): on this machine, as
//! always, or as a job of a Slurm cluster that dials the daemon back.
//! Chosen per run (`RunSpec::on`, `studio run --on slurm[:PARTITION]`),
//! else by the agent (`AgentConfig::on`, `studio agent create --on`),
//! else by the daemon's default (`studio daemon run --launcher`).

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where a worker runs; written as [`fmt::Display`] says (`slurm:gpu`),
/// in JSON as on the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Launcher {
    /// A child process of the daemon, on this machine.
    #[default]
    Local,
    /// One Slurm job, in `partition` (else the cluster's default).
    Slurm {
        /// The partition to submit to.
        partition: Option<String>,
    },
}

impl fmt::Display for Launcher {
    /// `local`, `slurm` or `slurm:PARTITION`, as [`str::parse`] reads it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Launcher::Local => f.write_str("local"),
            Launcher::Slurm { partition: None } => f.write_str("slurm"),
            Launcher::Slurm {
                partition: Some(partition),
            } => write!(f, "slurm:{partition}"),
        }
    }
}

impl From<Launcher> for String {
    fn from(launcher: Launcher) -> String {
        launcher.to_string()
    }
}

impl TryFrom<String> for Launcher {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl std::str::FromStr for Launcher {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (kind, partition) = match text.split_once(':') {
            Some((kind, partition)) => (kind, Some(partition)),
            None => (text, None),
        };
        match (kind, partition) {
            ("local", None) => Ok(Launcher::Local),
            ("slurm", None) => Ok(Launcher::Slurm { partition: None }),
            ("slurm", Some(partition))
                if !partition.is_empty()
                    && partition
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) =>
            {
                Ok(Launcher::Slurm {
                    partition: Some(partition.to_owned()),
                })
            }
            ("slurm", Some(partition)) => Err(format!(
                "{partition:?} is not a Slurm partition name (letters, digits, - _ .)"
            )),
            _ => Err(format!(
                "unknown launcher {text:?}: expected local, slurm or slurm:PARTITION"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launchers_read_as_they_are_written() {
        for text in ["local", "slurm", "slurm:gpu-a100"] {
            let launcher: Launcher = text.parse().unwrap();
            assert_eq!(launcher.to_string(), text);
        }
        for bad in ["", "k8s", "slurm:", "slurm:a b", "slurm:$(id)", "local:x"] {
            assert!(bad.parse::<Launcher>().is_err(), "{bad:?}");
        }
    }
}
