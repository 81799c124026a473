//! First start on an empty store: an operator admin and a one-time token, so
//! the operator can reach the API and dashboard without any other step.

use rampart_store::{Actor, NewToken, NewUser, Role, Store, StoreError};

/// The account that owns the sites declared in the configuration file.
pub const FILE_ACCOUNT: &str = "config-file";

/// The operator admin created on a fresh store.
pub const BOOTSTRAP_EMAIL: &str = "admin@rampart.local";

pub struct Bootstrap {
    /// Shown once; only its hash is stored.
    pub admin_token: String,
}

/// Creates the first operator admin and a token for it when the store has no
/// users at all; `None` on every later start.
pub async fn bootstrap(store: &Store) -> Result<Option<Bootstrap>, StoreError> {
    if store.count_users().await? > 0 {
        return Ok(None);
    }
    let actor = Actor::system("first start");
    let created = store
        .create_user(
            &actor,
            NewUser {
                account_id: None,
                email: BOOTSTRAP_EMAIL.to_owned(),
                name: "Operator admin".to_owned(),
                role: Role::OperatorAdmin,
                password_hash: None,
            },
        )
        .await;
    let user = match created {
        Ok(user) => user,
        // Another process bootstrapped the same store a moment ago.
        Err(StoreError::Conflict { .. }) => return Ok(None),
        Err(error) => return Err(error),
    };
    let (_, secret) = store
        .create_token(
            &actor,
            NewToken {
                user_id: user.id,
                name: "first start".to_owned(),
                role: Role::OperatorAdmin,
                site_ids: None,
                expires_at: None,
            },
        )
        .await?;
    Ok(Some(Bootstrap {
        admin_token: secret,
    }))
}
