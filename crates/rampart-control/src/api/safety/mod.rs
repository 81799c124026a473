//! The trust & safety desk's API: public report intake and status, and the
//! desk's cases and decisions. Enforcement reaches the edge through the
//! store's revision (see `crate::enforcement`), never through a site's spec.

pub mod cases;
pub mod intake;
pub mod reports;
pub mod statement;
pub mod triage;
