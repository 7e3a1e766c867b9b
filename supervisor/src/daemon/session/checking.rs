//! A run's checks in its session: what its last turn asks of the worker
//! (command checks to run, judges to ask), and each check's outcome
//! recorded before the terminal event.

use protocol::event::EventKind;
use protocol::worker::{JudgeCall, StartTurn};

use super::SessionState;
use crate::daemon::{checks, providers};

impl SessionState {
    /// Looks up the judges of its checks (as they are now, with their
    /// providers' keys); one that is gone is never asked, and its check
    /// fails saying so.
    pub(super) async fn resolve_judges(&mut self) {
        let names: Vec<String> = self
            .setup
            .checks
            .iter()
            .filter_map(|c| c.judge())
            .map(str::to_owned)
            .collect();
        for name in names {
            match self.shared.store.agent(name.clone()).await {
                Ok(agent) => {
                    let key = self.shared.secrets.key(agent.provider).await;
                    let endpoint = providers::endpoint(&agent, key);
                    self.setup.judges.push(JudgeCall { agent, endpoint });
                }
                Err(err) => tracing::warn!(session = %self.id, judge = name, %err, "no judge"),
            }
        }
    }

    /// Gives `turn` the command checks and judges a run's last turn asks
    /// for once it completes.
    pub(super) fn ask_checks(&self, turn: &mut StartTurn) {
        if !self.setup.later.is_empty() {
            return;
        }
        let commands = self.setup.checks.iter().filter_map(|c| c.command());
        turn.check_commands = commands.map(str::to_owned).collect();
        turn.judges.clone_from(&self.setup.judges);
    }

    /// Records how each of its checks came out on its last answer.
    pub(super) fn record_checks(&self) {
        if self.setup.checks.is_empty() {
            return;
        }
        let answer = self.live.last_answer();
        let ran = self.live.checks_ran();
        for outcome in checks::evaluate(&self.setup.checks, &answer, &ran) {
            self.append(EventKind::CheckResult { outcome });
        }
    }
}
