//! What a store error means to a client: the one place a [`StoreError`]
//! becomes a [`ControlError`], so every request that touches the store
//! answers the same way (`?` converts).

use protocol::control::{ControlError, ErrorKind};

use super::StoreError;

impl From<StoreError> for ControlError {
    fn from(err: StoreError) -> Self {
        // No wildcard: a new kind of store error must be placed here.
        let kind = match &err {
            StoreError::NotFound(_) => ErrorKind::NotFound,
            StoreError::Conflict(_) => ErrorKind::Conflict,
            StoreError::Closed | StoreError::NotSaved(_) => ErrorKind::Unavailable,
            StoreError::AlreadyOpen(_)
            | StoreError::NewerSchema { .. }
            | StoreError::Open { .. }
            | StoreError::Corrupt { .. }
            | StoreError::Damaged(_)
            | StoreError::Encode { .. }
            | StoreError::Io { .. }
            | StoreError::Storage(_)
            | StoreError::Rewrite(_) => ErrorKind::Internal,
        };
        ControlError::new(kind, err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_store_error_maps_to_what_a_client_can_act_on() {
        let kind = |err: StoreError| ControlError::from(err).kind;
        assert_eq!(
            kind(StoreError::NotFound("agent x".into())),
            ErrorKind::NotFound
        );
        assert_eq!(
            kind(StoreError::Conflict("exists".into())),
            ErrorKind::Conflict
        );
        assert_eq!(kind(StoreError::Closed), ErrorKind::Unavailable);
        assert_eq!(
            kind(StoreError::NotSaved("disk full".into())),
            ErrorKind::Unavailable
        );
        assert_eq!(kind(StoreError::Rewrite("no".into())), ErrorKind::Internal);
        let message = ControlError::from(StoreError::NotFound("agent x".into())).message;
        assert!(message.contains("agent x"), "{message}");
    }
}
