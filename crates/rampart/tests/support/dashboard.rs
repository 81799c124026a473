//! Signing in to the dashboard as a new user, for the dashboard tests.
//!
//! Included with `#[path]` next to `support/browser.rs`, whose `Web`
//! client it hands back (so, like that file, other test binaries do not
//! link it).

#![allow(dead_code)]

use serde_json::json;

use crate::browser::Web;
use crate::support::Rampart;
use crate::support::api::Api;

/// A dashboard client signed in as a new user of `role`, in `account` for
/// the account roles. Each test signs in each role once, so the role makes
/// the email unique.
pub fn signed_in(rampart: &Rampart, admin: &Api, role: &str, account: Option<&str>) -> Web {
    Web::signed_in_as(
        rampart.admin,
        admin,
        json!({ "email": format!("{role}@dashboard.test"), "name": role, "role": role, "account_id": account }),
    )
}
