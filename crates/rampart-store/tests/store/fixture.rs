//! Fresh stores for the suite, and small helpers the tests share.

use std::sync::OnceLock;

use rampart_store::{Actor, Role, SiteWrite, Store};
use rampart_testkit::Postgres;

/// A fresh database nobody has opened yet.
pub struct Fixture {
    pub url: String,
    /// Keeps the SQLite file's directory alive for the test.
    _dir: Option<tempfile::TempDir>,
}

impl Fixture {
    pub fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("rampart.db").display());
        Fixture {
            url,
            _dir: Some(dir),
        }
    }

    pub async fn postgres() -> Fixture {
        static SERVER: OnceLock<Postgres> = OnceLock::new();
        let server = SERVER.get_or_init(Postgres::start);
        Fixture {
            url: server.create_database().await,
            _dir: None,
        }
    }

    pub async fn open(&self) -> Store {
        Store::open(&self.url).await.unwrap()
    }

    /// A raw connection beside the store, for what its API will not do.
    pub async fn raw(&self) -> sqlx::AnyConnection {
        use sqlx::Connection as _;
        sqlx::any::install_default_drivers();
        let url = match self.url.strip_prefix("sqlite://") {
            Some(path) => format!("sqlite:{path}"),
            None => self.url.clone(),
        };
        sqlx::AnyConnection::connect(&url).await.unwrap()
    }
}

pub fn admin() -> Actor {
    Actor {
        user_id: Some("user_admin".into()),
        token_id: Some("tok_admin".into()),
        label: "admin@example.test".into(),
        role: Role::OperatorAdmin,
    }
}

pub fn site(name: &str, hosts: &[&str]) -> SiteWrite {
    SiteWrite {
        name: name.into(),
        hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        spec: serde_json::json!({ "origins": [format!("http://{name}.origin:8080")] }),
    }
}
