//! `t:` transformations. CONTRACT (the engine relies on these signatures):
//!
//! * [`Transformation::parse`] maps a SecLang name (`lowercase`,
//!   `urlDecodeUni`, …, case-insensitive) to a value, `Err` for unknown names.
//! * [`Transformation::apply`] never panics and returns `Cow::Borrowed` when
//!   the input is unchanged, so the engine can cache cheaply.

use std::borrow::Cow;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transformation {
    None,
    Lowercase,
}

#[derive(Debug, thiserror::Error)]
#[error("unknown transformation `{0}`")]
pub struct UnknownTransformation(pub String);

impl Transformation {
    pub fn parse(name: &str) -> Result<Self, UnknownTransformation> {
        match name.to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "lowercase" => Ok(Self::Lowercase),
            _ => Err(UnknownTransformation(name.to_owned())),
        }
    }

    pub fn apply<'a>(&self, input: &'a [u8]) -> Cow<'a, [u8]> {
        match self {
            Self::None => Cow::Borrowed(input),
            Self::Lowercase => {
                if input.iter().any(u8::is_ascii_uppercase) {
                    Cow::Owned(input.to_ascii_lowercase())
                } else {
                    Cow::Borrowed(input)
                }
            }
        }
    }
}
