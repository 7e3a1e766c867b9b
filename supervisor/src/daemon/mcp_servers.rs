//! MCP servers on the daemon's side: they are stored, handed to workers
//! in their start message, and tested from a one-shot worker. The daemon
//! itself never speaks MCP.

/// Starts (or reaches) `server` from a one-shot worker, as a session
/// would, and returns its tools as `SERVER.TOOL`. The configuration, with
/// its secrets, goes over the job's stdin.
pub(crate) async fn test_mcp_server(
    worker_bin: &std::path::Path,
    server: &protocol::mcp::McpServerConfig,
) -> Result<Vec<String>, String> {
    let input = serde_json::to_vec(server).map_err(|err| err.to_string())?;
    // The worker applies the server's own startup timeout; this one only
    // catches a stuck job.
    let limit = std::time::Duration::from_secs(u64::from(server.startup_timeout_secs) + 10);
    let stdout = super::worker_process::run_job(worker_bin, &["mcp-test"], &input, limit).await?;
    serde_json::from_str(&stdout).map_err(|err| format!("unreadable tool list: {err}"))
}
