//! The values the store hands out and takes in. None of them carries a
//! password hash or token secret: those go in and out only through the
//! dedicated arguments and return values that need them.

use serde::{Deserialize, Serialize};

/// What a user or token may do. Operators run the whole installation; account
/// roles are confined to one account.
// Not `Copy`, deliberately: callers were written against a `Clone`-only
// `Role`, and adding `Copy` would turn their `.clone()` calls into lint errors.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    OperatorAdmin,
    TrustSafety,
    AccountOwner,
    AccountMember,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::OperatorAdmin,
        Role::TrustSafety,
        Role::AccountOwner,
        Role::AccountMember,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::OperatorAdmin => "operator_admin",
            Role::TrustSafety => "trust_safety",
            Role::AccountOwner => "account_owner",
            Role::AccountMember => "account_member",
        }
    }

    /// Accepts the stored snake_case form and the hyphenated form people type
    /// on command lines ("operator-admin").
    pub fn parse(s: &str) -> Option<Role> {
        let normalized = s.replace('-', "_");
        Role::ALL
            .into_iter()
            .find(|role| role.as_str() == normalized)
    }

    /// Operator roles act across all accounts.
    pub fn is_operator(&self) -> bool {
        matches!(self, Role::OperatorAdmin | Role::TrustSafety)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who performs a write; recorded in the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    pub user_id: Option<String>,
    pub token_id: Option<String>,
    pub label: String,
    pub role: Role,
}

impl Actor {
    /// Rampart itself acting on an operator's behalf without a user behind
    /// it: the config file, the command line.
    pub fn system(label: &str) -> Actor {
        Actor {
            user_id: None,
            token_id: None,
            label: label.to_owned(),
            role: Role::OperatorAdmin,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A user as everyone but the login check sees it: never the password hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub account_id: Option<String>,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewUser {
    pub account_id: Option<String>,
    pub email: String,
    pub name: String,
    pub role: Role,
    /// Already hashed by the caller (argon2); `None` for users who log in by
    /// token only.
    pub password_hash: Option<String>,
}

/// An API token as listed: never the secret nor its hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiToken {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub role: Role,
    pub account_id: Option<String>,
    /// `None`: every site the role reaches; otherwise only these.
    pub site_ids: Option<Vec<String>>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewToken {
    pub user_id: String,
    pub name: String,
    pub role: Role,
    pub site_ids: Option<Vec<String>>,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteRecord {
    pub id: String,
    pub account_id: String,
    pub name: String,
    /// Normalized host patterns, in the order they were written.
    pub hosts: Vec<String>,
    pub spec: serde_json::Value,
    /// Declared in the config file: the file owns it, the API does not.
    pub file_managed: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteWrite {
    pub name: String,
    pub hosts: Vec<String>,
    pub spec: serde_json::Value,
}

/// What `sync_file_sites` changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncReport {
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub id: String,
    pub at: i64,
    pub actor_user_id: Option<String>,
    pub actor_token_id: Option<String>,
    pub actor_label: String,
    pub actor_role: Role,
    pub account_id: Option<String>,
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditFilter {
    /// Only entries about this account.
    pub account_id: Option<String>,
    /// Only entries older than this id: the cursor for the next page.
    pub before_id: Option<String>,
    /// Page size; 0 and anything above 500 mean 500.
    pub limit: u32,
}
