//! One behaviour suite for both backends: every test is an `async fn` taking
//! a fresh, unopened `Fixture`, instantiated once for SQLite (a file in a
//! temporary directory) and once for PostgreSQL (a fresh database on one
//! server shared by the whole binary).

mod analytics;
mod appeals;
mod audit;
mod challenge_keys;
mod crud;
mod fixture;
mod lists;
mod nodes;
mod notifications;
mod safety;
mod schema;
mod security_events;
mod sessions;
mod sites;
mod transparency;

/// Declares `sqlite::NAME` and `postgres::NAME` tests for each suite
/// function `path::NAME`.
macro_rules! both_backends {
    ($($module:ident :: $name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::$module::$name(crate::fixture::Fixture::sqlite()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    crate::$module::$name(crate::fixture::Fixture::postgres().await).await;
                }
            )*
        }
    };
}

both_backends!(
    notifications::notifications_queue_retry_and_settle,
    schema::migrations_create_schema,
    schema::reopening_is_idempotent,
    schema::concurrent_opens_migrate_once,
    schema::newer_schema_is_refused,
    schema::revision_bumps_on_writes_only,
    crud::accounts_crud,
    crud::users_crud,
    crud::tokens_lookup_expiry_and_no_hashes,
    crud::cascade_deletes,
    crud::name_and_email_conflicts,
    crud::missing_rows_are_not_found,
    sites::sites_crud,
    sites::host_conflict_across_accounts,
    sites::sync_file_sites_create_update_noop_delete,
    sites::sync_refuses_api_managed_sites,
    sites::concurrent_writers,
    audit::audit_records_before_and_after,
    audit::audit_holds_no_secrets,
    audit::audit_pages_and_filters,
    audit::audit_chain_detects_tampering,
    analytics::analytics_series_and_top_sum_nodes,
    analytics::analytics_same_minute_merges,
    analytics::analytics_purge_and_cascade,
    sessions::sessions_lookup_signout_and_no_revision,
    sessions::sessions_expire_idle_and_absolute,
    sessions::sessions_purge_and_per_user_removal,
    lists::lists_crud,
    lists::operator_rules_roundtrip,
    lists::a_million_entries,
    challenge_keys::challenge_keys_rotate_when_old,
    challenge_keys::challenge_keys_are_not_audited_in_plain,
    challenge_keys::challenge_keys_one_rotation_per_race,
    challenge_keys::update_site_with_reads_inside_the_transaction,
    challenge_keys::captcha_secret_hashes_are_not_audited,
    safety::reports_merge_into_cases,
    safety::queues_and_assignment,
    safety::decisions_enforce_and_lift,
    safety::racing_reports_share_one_case,
    transparency::transparency_counts_the_period,
    appeals::appeals_are_answered_by_another_agent,
    security_events::security_events_list_find_and_bound,
    nodes::heartbeats_upsert_one_row_per_node,
    nodes::spooled_batches_count_once,
    nodes::a_report_filed_twice_by_id_is_stored_once,
);
