//! Identifiers.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Identifies one session (an interactive chat or a headless run).
///
/// A UUIDv7: ids sort by creation time, which keeps the event table's keys
/// in insertion order.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SessionId(Uuid);

impl SessionId {
    /// A fresh id for a session created now.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// The id as a 128-bit integer, the form used as a database key.
    pub fn as_u128(self) -> u128 {
        self.0.as_u128()
    }

    /// The last 8 hex digits: the id as people read and type it. The
    /// leading digits of a UUIDv7 are its time, shared by every session
    /// created in the same minute; the last ones are random. The daemon
    /// finds a session by them as by a prefix.
    pub fn short(self) -> String {
        format!("{:08x}", self.0.as_u128() as u32)
    }

    /// Rebuilds an id from its database key form.
    pub fn from_u128(raw: u128) -> Self {
        Self(Uuid::from_u128(raw))
    }
}

impl Default for SessionId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.hyphenated(), f)
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({})", self.0.hyphenated())
    }
}

impl FromStr for SessionId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_short_id_is_the_random_tail() {
        let id: super::SessionId = "01900000-0000-7000-8000-00000000abcd".parse().unwrap();
        assert_eq!(id.short(), "0000abcd");
        assert!(id.to_string().ends_with(&id.short()));
    }

    use super::*;

    #[test]
    fn ids_round_trip_through_text_and_integer() {
        let id = SessionId::new();
        assert_eq!(id.to_string().parse::<SessionId>().unwrap(), id);
        assert_eq!(SessionId::from_u128(id.as_u128()), id);
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let first = SessionId::new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = SessionId::new();
        assert!(first < second);
        assert!(first.as_u128() < second.as_u128());
    }
}
