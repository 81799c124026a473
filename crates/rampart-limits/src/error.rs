//! Configuration errors. The mechanisms themselves cannot fail at run time:
//! a full table evicts or refuses, it never errors.

/// A configuration value this crate cannot work with. The configuration
/// crate validates user input first; these are the mechanisms' own limits.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LimitsError {
    /// The value must be greater than zero.
    #[error("{field} must be greater than zero")]
    Zero {
        /// The configuration field.
        field: &'static str,
    },
    /// The value is outside what the mechanism supports.
    #[error("{field} must be between {min} and {max}")]
    OutOfRange {
        /// The configuration field.
        field: &'static str,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// Two values contradict each other.
    #[error("{field}: {reason}")]
    Inconsistent {
        /// The configuration field.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
}
