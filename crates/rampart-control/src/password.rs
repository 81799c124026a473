//! Password hashing: argon2id with the crate's recommended parameters.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, SaltString};

use crate::api::error::ApiError;

const MIN_LEN: usize = 12;
const MAX_LEN: usize = 1024;

pub fn hash(password: &str) -> Result<String, ApiError> {
    let length = password.chars().count();
    if !(MIN_LEN..=MAX_LEN).contains(&length) {
        return Err(ApiError::invalid(
            "password",
            "invalid",
            format!("a password is {MIN_LEN} to {MAX_LEN} characters"),
        ));
    }
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal("cannot hash the password", &e))
}
