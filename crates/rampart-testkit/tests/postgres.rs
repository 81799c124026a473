use std::net::TcpStream;

use rampart_testkit::{Postgres, free_port};

#[test]
fn free_ports_are_below_the_ephemeral_range_and_bindable() {
    let a = free_port();
    let b = free_port();
    assert_ne!(a, b);
    for port in [a, b] {
        assert!((10_000..32_000).contains(&port));
        std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    }
}

#[test]
fn starts_creates_databases_and_cleans_up_on_drop() {
    let pg = Postgres::start();
    let dir = pg.dir().to_owned();
    let port = pg.port();
    assert!(dir.join("data/PG_VERSION").exists());

    let one = pg.create_database_blocking();
    let two = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(pg.create_database());
    assert_eq!(one, format!("postgres://rampart@127.0.0.1:{port}/db0"));
    assert_eq!(two, pg.url_for("db1"));
    TcpStream::connect(("127.0.0.1", port)).unwrap();

    drop(pg);
    assert!(!dir.exists(), "{} left behind", dir.display());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[test]
fn stops_and_starts_again_on_the_same_port_with_the_same_data() {
    let mut pg = Postgres::start();
    let dir = pg.dir().to_owned();
    let port = pg.port();
    let url = pg.create_database_blocking();
    pg.stop();
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
    assert!(
        dir.join("data/PG_VERSION").exists(),
        "the data went with it"
    );
    pg.start_again();
    TcpStream::connect(("127.0.0.1", port)).unwrap();
    // The database made before the stop is still there (template0,
    // template1, postgres and db0 each have a directory under base/).
    assert_eq!(url, pg.url_for("db0"));
    let databases = std::fs::read_dir(dir.join("data/base")).unwrap().count();
    assert_eq!(databases, 4);
    assert_eq!(pg.create_database_blocking(), pg.url_for("db1"));
    drop(pg);
    assert!(!dir.exists(), "{} left behind", dir.display());
}
