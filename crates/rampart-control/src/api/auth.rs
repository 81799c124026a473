//! Who is calling, and what they may touch. Every handler takes a
//! [`Principal`]; the checks below are the only place roles are interpreted,
//! so an endpoint cannot forget a tenant boundary by accident.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use http::header::AUTHORIZATION;
use http::request::Parts;
use rampart_store::{Actor, ApiToken, Role, SiteRecord, User};

use super::error::{ApiError, ApiResult};
use crate::Control;

/// The caller: a user acting through an API token or a dashboard session.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: User,
    /// The token's role, never more than the user's (checked at creation);
    /// the user's own role for a session.
    pub role: Role,
    /// Sites a scoped token is limited to.
    pub site_ids: Option<Vec<String>>,
    /// The API token used, if any (recorded in the audit log).
    pub token: Option<ApiToken>,
}

impl Principal {
    pub fn from_token(user: User, token: ApiToken) -> Self {
        Self {
            role: token.role.clone(),
            site_ids: token.site_ids.clone(),
            user,
            token: Some(token),
        }
    }

    /// A signed-in dashboard user: the user's full role, no site limit.
    pub fn from_session(user: User) -> Self {
        Self {
            role: user.role.clone(),
            site_ids: None,
            user,
            token: None,
        }
    }

    pub fn role(&self) -> Role {
        self.role.clone()
    }

    pub fn is_operator(&self) -> bool {
        self.role().is_operator()
    }

    pub fn is_operator_admin(&self) -> bool {
        self.role() == Role::OperatorAdmin
    }

    pub fn account_id(&self) -> Option<&str> {
        self.user.account_id.as_deref()
    }

    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.user.id.clone()),
            token_id: self.token.as_ref().map(|t| t.id.clone()),
            label: self.user.email.clone(),
            role: self.role(),
        }
    }

    /// May see this account and what it owns.
    pub fn can_read_account(&self, account_id: &str) -> bool {
        self.is_operator() || self.account_id() == Some(account_id)
    }

    /// May change this account's sites (account owners; operator admins).
    pub fn can_write_account(&self, account_id: &str) -> bool {
        self.is_operator_admin()
            || (self.role() == Role::AccountOwner && self.account_id() == Some(account_id))
    }

    /// Tokens scoped to sites see only those sites, and nothing account-wide.
    pub fn is_site_scoped(&self) -> bool {
        self.site_ids.is_some()
    }

    fn site_in_scope(&self, site: &SiteRecord) -> bool {
        self.site_ids
            .as_ref()
            .is_none_or(|ids| ids.iter().any(|id| id == &site.id))
    }

    pub fn can_read_site(&self, site: &SiteRecord) -> bool {
        self.can_read_account(&site.account_id) && self.site_in_scope(site)
    }

    pub fn can_write_site(&self, site: &SiteRecord) -> bool {
        self.can_write_account(&site.account_id) && self.site_in_scope(site)
    }

    /// Account-wide actions (creating sites, managing users) are not for
    /// tokens limited to particular sites.
    pub fn require_unscoped(&self) -> ApiResult<()> {
        if self.is_site_scoped() {
            return Err(ApiError::forbidden(
                "this token is limited to particular sites; use an unscoped token",
            ));
        }
        Ok(())
    }

    pub fn require_operator_admin(&self) -> ApiResult<()> {
        if !self.is_operator_admin() {
            return Err(ApiError::forbidden("only operator admins may do this"));
        }
        Ok(())
    }
}

/// The bearer token from `Authorization`, if any.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<Arc<Control>> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, control: &Arc<Control>) -> ApiResult<Self> {
        let secret = bearer(parts).ok_or_else(ApiError::unauthorized)?;
        match super::store(control)?.token_by_secret(secret).await? {
            Some((token, user)) => Ok(Principal::from_token(user, token)),
            None => Err(ApiError::unauthorized()),
        }
    }
}

/// Roles a caller may hand out: never above their own, and account roles
/// only inside their own account.
pub fn may_grant(granter: &Principal, role: &Role, account_id: Option<&str>) -> bool {
    match granter.role() {
        Role::OperatorAdmin => true,
        Role::AccountOwner => {
            !role.is_operator() && account_id.is_some() && account_id == granter.account_id()
        }
        Role::TrustSafety | Role::AccountMember => false,
    }
}

/// A token's role must not exceed its user's: the same role, or the
/// read-only role of the same side.
pub fn role_within(user_role: &Role, token_role: &Role) -> bool {
    user_role == token_role
        || matches!(
            (user_role, token_role),
            (Role::OperatorAdmin, Role::TrustSafety) | (Role::AccountOwner, Role::AccountMember)
        )
}
