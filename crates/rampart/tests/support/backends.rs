//! Running one test body on both store backends: the embedded SQLite and a
//! real PostgreSQL started from Debian's package for this test binary.

use std::sync::OnceLock;

use rampart_testkit::Postgres;

use super::Rampart;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

fn postgres() -> &'static Postgres {
    static SERVER: OnceLock<Postgres> = OnceLock::new();
    SERVER.get_or_init(Postgres::start)
}

/// The `[store]` table for a fresh, empty store on `backend` ("" for the
/// embedded default).
pub async fn store_table(backend: Backend) -> String {
    match backend {
        Backend::Sqlite => String::new(),
        Backend::Postgres => {
            let url = postgres().create_database().await;
            format!("[store]\nurl = \"{url}\"\n")
        }
    }
}

/// A rampart on a fresh, empty store on `backend`.
pub async fn start(backend: Backend) -> Rampart {
    Rampart::builder()
        .tables(&store_table(backend).await)
        .start()
}

/// Instantiates `async fn $name(backend: Backend)` once per backend, as
/// `$name::sqlite` and `$name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name($crate::support::backends::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::$name($crate::support::backends::Backend::Postgres).await
            }
        }
    )*};
}
