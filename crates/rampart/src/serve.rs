//! `rampart serve`: load the configuration, bind listeners, run until SIGTERM.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use rampart_config::Config;
use rampart_edge::access_log::AccessLog;
use rampart_edge::metrics::Metrics;
use rampart_edge::server::{EdgeListener, Transport};
use rampart_edge::state::EdgeState;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use crate::{EX_CONFIG, EX_SOFTWARE, EX_UNAVAILABLE};

const EX_CANTCREAT: u8 = 73;

pub fn run(config_path: Option<&Path>) -> ExitCode {
    init_tracing();
    let config = match config_path {
        Some(path) => match rampart_config::load_file(path) {
            Ok(config) => config,
            Err(errors) => {
                eprintln!("{errors}");
                eprintln!("rampart: not started: fix the configuration above");
                return ExitCode::from(EX_CONFIG);
            }
        },
        None => {
            let cwd = std::env::current_dir().unwrap_or_else(|_| ".".into());
            rampart_config::defaults(&cwd)
        }
    };
    if let Err(error) = std::fs::create_dir_all(&config.node.data_dir) {
        eprintln!(
            "rampart: cannot create data dir {}: {error}",
            config.node.data_dir.display()
        );
        return ExitCode::from(EX_CANTCREAT);
    }
    crate::memory::spawn_trimmer();
    let workers = config
        .node
        .workers
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("rampart-worker")
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(serve(config)),
        Err(error) => {
            eprintln!("rampart: cannot start the runtime: {error}");
            ExitCode::from(EX_SOFTWARE)
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RAMPART_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Diagnostics go to stderr; stdout belongs to the access log.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

async fn serve(config: Config) -> ExitCode {
    let default_cert = match rampart_edge::tls::default_certificate(&config.node.data_dir) {
        Ok(cert) => cert,
        Err(error) => {
            eprintln!("rampart: {error}");
            return ExitCode::from(EX_CANTCREAT);
        }
    };
    let metrics = Arc::new(Metrics::default());
    let access_log = match AccessLog::start(&config.log.access, metrics.clone()) {
        Ok(log) => log,
        Err(error) => {
            eprintln!("rampart: {error} (log.access)");
            return ExitCode::from(EX_CANTCREAT);
        }
    };
    let state = match EdgeState::new(config.clone(), default_cert, metrics, access_log.clone()) {
        Ok(state) => state,
        Err(error) => {
            eprintln!("rampart: not started: {error}");
            return ExitCode::from(EX_CONFIG);
        }
    };
    let tls_config = match rampart_edge::tls::server_config(state.clone()) {
        Ok(tls) => tls,
        Err(error) => {
            eprintln!("rampart: TLS setup failed: {error}");
            return ExitCode::from(EX_SOFTWARE);
        }
    };

    let mut listeners = Vec::new();
    if let Some(http) = &config.listen.http {
        match bind(http.addr, "listen.http").await {
            Ok(listener) => listeners.push(EdgeListener {
                name: "http",
                listener,
                transport: Transport::Plain,
                proxy_protocol: http.proxy_protocol,
            }),
            Err(code) => return code,
        }
    }
    if let Some(https) = &config.listen.https {
        match bind(https.addr, "listen.https").await {
            Ok(listener) => listeners.push(EdgeListener {
                name: "https",
                listener,
                transport: Transport::Tls(tokio_rustls::TlsAcceptor::from(tls_config.clone())),
                proxy_protocol: https.proxy_protocol,
            }),
            Err(code) => return code,
        }
    }
    let admin = match config.listen.admin {
        Some(addr) => match bind(addr, "listen.admin").await {
            Ok(listener) => Some(listener),
            Err(code) => return code,
        },
        None => None,
    };

    announce(&config, &state);
    let pid_path = config.node.data_dir.join("rampart.pid");
    let _ = std::fs::write(&pid_path, format!("{}\n", std::process::id()));

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    if let Err(error) = spawn_signal_handlers(state.clone(), shutdown_tx) {
        eprintln!("rampart: cannot install signal handlers: {error}");
        return ExitCode::from(EX_SOFTWARE);
    }
    if let Some(admin) = admin {
        tokio::spawn(rampart_edge::admin::serve(
            state.clone(),
            admin,
            shutdown_rx.clone(),
        ));
    }
    rampart_edge::server::serve(state, listeners, shutdown_rx, config.node.shutdown_grace).await;
    access_log.close();
    let _ = std::fs::remove_file(&pid_path);
    tracing::info!("rampart stopped");
    ExitCode::SUCCESS
}

async fn bind(addr: SocketAddr, key: &str) -> Result<tokio::net::TcpListener, ExitCode> {
    rampart_edge::server::bind(addr).await.map_err(|error| {
        eprintln!("rampart: cannot listen on {addr} ({key}): {error}");
        ExitCode::from(EX_UNAVAILABLE)
    })
}

fn announce(config: &Config, state: &EdgeState) {
    let snapshot = state.snapshot();
    if let Some(http) = &config.listen.http {
        eprintln!("rampart: edge http  on http://{}", http.addr);
    }
    if let Some(https) = &config.listen.https {
        eprintln!("rampart: edge https on https://{}", https.addr);
    }
    if let Some(admin) = config.listen.admin {
        eprintln!("rampart: admin      on http://{admin} (/healthz, /metrics)");
    }
    match &config.source {
        Some(path) => eprintln!(
            "rampart: {} site(s) from {}",
            snapshot.sites.len(),
            path.display()
        ),
        None => eprintln!("rampart: no configuration file: running on built-in defaults"),
    }
    if snapshot.welcome
        && let Some(http) = &config.listen.http
    {
        eprintln!(
            "rampart: no sites yet: open http://{}/ for how to add one",
            http.addr
        );
    }
}

fn spawn_signal_handlers(
    state: Arc<EdgeState>,
    shutdown: watch::Sender<bool>,
) -> std::io::Result<()> {
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = hangup.recv() => {
                    // The outcome is logged by reload itself.
                    let _ = state.reload().await;
                }
                _ = terminate.recv() => break,
                _ = interrupt.recv() => break,
            }
        }
        tracing::info!("shutting down");
        let _ = shutdown.send(true);
    });
    Ok(())
}
