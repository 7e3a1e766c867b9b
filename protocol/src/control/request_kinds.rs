//! What kind of request each [`ControlRequest`] is: whether it only
//! reads (what a process inside a session may still ask), and which of the
//! daemon's lists it changes (what `WatchLists` announces after it).

use super::{ControlRequest, ListKind};

impl ControlRequest {
    /// Whether the request only reads: a process inside a session (an
    /// agent's command) may ask it. Everything else changes what agents
    /// may do or what runs (rules, approvals, keys, MCP servers, agents,
    /// limits, sessions), or sends a key somewhere (`ModelList`), and is
    /// refused from inside a session.
    pub fn only_reads(&self) -> bool {
        matches!(
            self,
            ControlRequest::Ping
                | ControlRequest::Status
                | ControlRequest::AgentList
                | ControlRequest::AgentGet { .. }
                | ControlRequest::SessionList { .. }
                | ControlRequest::SessionGet { .. }
                | ControlRequest::SessionSetup { .. }
                | ControlRequest::Events { .. }
                | ControlRequest::Compare { .. }
                | ControlRequest::GroupList { .. }
                | ControlRequest::GroupGet { .. }
                | ControlRequest::Spend { .. }
                | ControlRequest::CapsToday { .. }
                | ControlRequest::Follow { .. }
                | ControlRequest::WatchSessions
                | ControlRequest::WatchLists
                | ControlRequest::Unsubscribe { .. }
                | ControlRequest::KeyList
                | ControlRequest::SecretList
                | ControlRequest::RuleList
                | ControlRequest::ApprovalList
                | ControlRequest::McpList
                | ControlRequest::PricingList
                | ControlRequest::StoreCheck
                | ControlRequest::OtlpStatus
        )
    }

    /// The lists the request changes when it succeeds: what
    /// [`ControlRequest::WatchLists`] announces after it.
    pub fn changes(&self) -> &'static [ListKind] {
        match self {
            ControlRequest::AgentCreate { .. } => &[ListKind::Agents],
            // An agent's rules go with it.
            ControlRequest::AgentRemove { .. } => &[ListKind::Agents, ListKind::Rules],
            ControlRequest::KeySet { .. } | ControlRequest::KeyRemove { .. } => &[ListKind::Keys],
            ControlRequest::McpAdd { .. } | ControlRequest::McpRemove { .. } => {
                &[ListKind::McpServers]
            }
            ControlRequest::RuleAdd { .. } | ControlRequest::RuleRemove { .. } => {
                &[ListKind::Rules]
            }
            // "Always" may store a rule.
            ControlRequest::ApprovalAnswer { remember: true, .. } => &[ListKind::Rules],
            ControlRequest::PricingSet { .. } | ControlRequest::PricingRemove { .. } => {
                &[ListKind::Prices]
            }
            ControlRequest::LimitsSet { .. } => &[ListKind::Limits],
            // A sign-in is a stored secret of a server.
            ControlRequest::McpOAuthSet { .. } => &[ListKind::Keys, ListKind::McpServers],
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SessionId;

    #[test]
    fn a_views_call_is_a_persons_act_not_a_read() {
        // A process inside a session may only read: were a view's call a
        // read, an agent could press another session's buttons.
        let call = ControlRequest::AppToolCall {
            session: SessionId::from_u128(1),
            uri: "ui://tracker/issues".into(),
            server: "tracker".into(),
            tool: "create_issue".into(),
            arguments: "{}".into(),
        };
        assert!(!call.only_reads());
        assert!(ControlRequest::ApprovalList.only_reads());
    }
}
