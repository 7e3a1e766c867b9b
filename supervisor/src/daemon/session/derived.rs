//! How Approvals tells a session its call was parked, and the listener
//! hands it its worker, without knowing the session's messages: each
//! holds a `DerivedActorRef` of its one message, converted here.

use super::SessionMsg;
use crate::daemon::approvals::Parked;
use crate::daemon::listener::WorkerConnected;

impl From<Parked> for SessionMsg {
    fn from(parked: Parked) -> Self {
        SessionMsg::Parked(parked)
    }
}

impl From<WorkerConnected> for SessionMsg {
    fn from(connected: WorkerConnected) -> Self {
        SessionMsg::WorkerConnected(connected)
    }
}

impl TryFrom<SessionMsg> for WorkerConnected {
    type Error = ();

    fn try_from(msg: SessionMsg) -> Result<Self, ()> {
        match msg {
            SessionMsg::WorkerConnected(connected) => Ok(connected),
            _ => Err(()),
        }
    }
}

impl TryFrom<SessionMsg> for Parked {
    type Error = ();

    fn try_from(msg: SessionMsg) -> Result<Self, ()> {
        match msg {
            SessionMsg::Parked(parked) => Ok(parked),
            _ => Err(()),
        }
    }
}
