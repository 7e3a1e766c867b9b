//! Continuous OpenTelemetry export from the daemon: what a client sets
//! ([`super::ControlRequest::SetOtlp`]) and reads back
//! ([`super::ControlRequest::OtlpStatus`]).

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// Where the daemon sends ended turns as traces, and how that went since
/// it started. Header values are never in it, only their names.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OtlpSettings {
    /// The OTLP/HTTP traces URL; `None` when export is off.
    pub url: Option<String>,
    /// The names of the headers sent with each request.
    pub header_names: Vec<String>,
    /// Turns sent since the daemon started.
    pub exported_turns: u64,
    /// Spans sent since the daemon started.
    pub exported_spans: u64,
    /// Sessions with an ended turn not yet sent.
    pub pending_sessions: u32,
    /// Why the last attempt failed, until one succeeds.
    pub last_error: Option<String>,
    /// When spans were last sent.
    pub last_export_at: Option<Timestamp>,
}
