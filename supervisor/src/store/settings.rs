//! What the daemon keeps besides sessions: approval rules, MCP servers
//! (without their secrets), custom prices, limits and id counters, each
//! written through the writer and read on the blocking pool.

use protocol::approval::ApprovalRule;
use protocol::mcp::McpServerConfig;
use tokio::sync::oneshot;

use super::records::{DaemonLimits, IdCounters, OtlpExportSetting, Record};
use super::writer::WriteOp;
use super::{Store, StoreError, query, schema};
use crate::pricing::CustomPrices;

impl Store {
    /// Every approval rule.
    pub(crate) async fn rules(&self) -> Result<Vec<ApprovalRule>, StoreError> {
        self.read(query::rules).await
    }

    /// Stores a rule (replacing one of the same id).
    pub(crate) async fn put_rule(&self, rule: ApprovalRule) -> Result<(), StoreError> {
        self.send_acked(|ack| WriteOp::PutRule {
            rule: Box::new(rule),
            ack,
        })
        .await
    }

    /// Deletes a rule.
    pub(crate) async fn remove_rule(&self, id: String) -> Result<(), StoreError> {
        self.send_acked(|ack| WriteOp::RemoveRule { id, ack }).await
    }

    /// Every configured MCP server, by name.
    pub(crate) async fn mcp_servers(&self) -> Result<Vec<McpServerConfig>, StoreError> {
        self.read(query::mcp_servers).await
    }

    /// Stores an MCP server; one of the same name only with `replace`.
    pub(crate) async fn put_mcp_server(
        &self,
        server: McpServerConfig,
        replace: bool,
    ) -> Result<(), StoreError> {
        self.send_acked(|ack| WriteOp::PutMcpServer {
            server: Box::new(server),
            replace,
            ack,
        })
        .await
    }

    /// Forgets an MCP server.
    pub(crate) async fn remove_mcp_server(&self, name: String) -> Result<(), StoreError> {
        self.send_acked(|ack| WriteOp::RemoveMcpServer { name, ack })
            .await
    }

    /// The user's prices (none stored: none set).
    pub(crate) async fn pricing(&self) -> Result<CustomPrices, StoreError> {
        self.read(|txn| query::setting(txn, schema::PRICING)).await
    }

    /// Replaces the user's prices.
    pub(crate) async fn put_pricing(&self, prices: &CustomPrices) -> Result<(), StoreError> {
        self.put_setting(schema::PRICING, prices).await
    }

    /// The limits set with `studio daemon limits` (none stored: the defaults).
    pub(crate) async fn limits(&self) -> Result<DaemonLimits, StoreError> {
        self.read(|txn| query::setting(txn, schema::LIMITS)).await
    }

    /// Replaces the stored limits.
    pub(crate) async fn put_limits(&self, limits: &DaemonLimits) -> Result<(), StoreError> {
        self.put_setting(schema::LIMITS, limits).await
    }

    /// The last rule and approval numbers given out (none stored: none yet).
    pub(crate) async fn id_counters(&self) -> Result<IdCounters, StoreError> {
        self.read(|txn| query::setting(txn, schema::ID_COUNTERS))
            .await
    }

    /// Records the last rule and approval numbers given out.
    pub(crate) async fn put_id_counters(&self, counters: IdCounters) -> Result<(), StoreError> {
        self.put_setting(schema::ID_COUNTERS, &counters).await
    }

    /// Where ended turns are sent as traces (none stored: nowhere).
    pub(crate) async fn otlp_export(&self) -> Result<OtlpExportSetting, StoreError> {
        self.read(|txn| query::setting(txn, schema::OTLP_EXPORT))
            .await
    }

    /// Replaces where ended turns are sent, and how far they were.
    pub(crate) async fn put_otlp_export(
        &self,
        setting: &OtlpExportSetting,
    ) -> Result<(), StoreError> {
        self.put_setting(schema::OTLP_EXPORT, setting).await
    }

    /// Queues the counters without waiting for their commit: the writer
    /// keeps the order it is sent things in, so a later count never lands
    /// before an earlier one.
    pub(crate) fn queue_id_counters(&self, counters: IdCounters) -> Result<(), StoreError> {
        let (ack, _) = oneshot::channel();
        self.send(WriteOp::PutSetting {
            name: schema::ID_COUNTERS,
            value: counters.encode()?,
            ack,
        })
    }

    async fn put_setting(&self, name: &'static str, value: &impl Record) -> Result<(), StoreError> {
        let value = value.encode()?;
        self.send_acked(|ack| WriteOp::PutSetting { name, value, ack })
            .await
    }
}
