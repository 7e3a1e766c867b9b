//! `Compare`: two to four sessions side by side. The daemon reads their
//! events (and what each inherited) and aligns them on the blocking pool
//! (`crate::compare`), so only the window of rows asked for crosses the
//! socket.

use std::collections::HashSet;

use protocol::control::{
    ControlError, ControlResponse, ErrorKind, MAX_COMPARED, MIN_COMPARED, RowWindow,
};

use super::find_session;
use super::sessions::{live_infos, with_live};
use crate::compare::{Input, compare};
use crate::daemon::history;
use crate::daemon::root::Handles;

pub(super) async fn answer(
    handles: &Handles,
    sessions: &[String],
    window: RowWindow,
    max_rows: u32,
) -> Result<ControlResponse, ControlError> {
    if !(MIN_COMPARED..=MAX_COMPARED).contains(&sessions.len()) {
        return Err(ControlError::new(
            ErrorKind::Invalid,
            format!(
                "compare takes {MIN_COMPARED} to {MAX_COMPARED} sessions, not {}",
                sessions.len()
            ),
        ));
    }
    let store = &handles.shared.store;
    let live = live_infos(handles).await;
    let mut seen = HashSet::new();
    let mut inputs = Vec::with_capacity(sessions.len());
    for name in sessions {
        let record = find_session(store, name).await?;
        if !seen.insert(record.id) {
            return Err(ControlError::new(
                ErrorKind::Invalid,
                format!("session {} is named twice", record.id),
            ));
        }
        let inherited = history::inherited(store, record.id, record.parent).await?;
        let own = history::events_through(store, record.id, record.last_seq).await?;
        inputs.push(Input {
            summary: with_live(store.summary(&record), &live),
            inherited,
            own,
        });
    }
    let compared = tokio::task::spawn_blocking(move || compare(inputs, window, max_rows))
        .await
        .map_err(|err| ControlError::new(ErrorKind::Internal, format!("compare failed: {err}")))?;
    Ok(ControlResponse::Compared(Box::new(compared)))
}
