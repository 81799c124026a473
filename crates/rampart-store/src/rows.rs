//! Loading one row by id, shared by every kind of object.

use sqlx::any::AnyRow;
use sqlx::{Any, Executor};

use crate::StoreError;

/// Runs `sql` (selecting by `$1 = id`) and decodes the row, or answers
/// "`kind` 'id' not found". Works inside a transaction or on the pool.
pub(crate) async fn fetch_by_id<'e, E, T>(
    db: E,
    sql: &str,
    kind: &'static str,
    id: &str,
    decode: impl FnOnce(&AnyRow) -> Result<T, StoreError>,
) -> Result<T, StoreError>
where
    E: Executor<'e, Database = Any>,
{
    let row = sqlx::query(sql).bind(id).fetch_optional(db).await?;
    match row {
        Some(row) => decode(&row),
        None => Err(StoreError::not_found(kind, id)),
    }
}
