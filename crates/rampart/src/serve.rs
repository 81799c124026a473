//! `rampart serve`: load the configuration, bind listeners, run until SIGTERM.

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use rampart_config::Config;
use rampart_control::{Bootstrap, Control, StartError, run_analytics_flush};
use rampart_edge::access_log::AccessLog;
use rampart_edge::metrics::Metrics;
use rampart_edge::server::{EdgeListener, Transport};
use rampart_edge::state::EdgeState;
use rampart_store::StoreError;
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
    let mut prepared = match rampart_control::prepare(&config).await {
        Ok(prepared) => prepared,
        Err(error) => {
            eprintln!("rampart: not started: {error}");
            let code = match error {
                StartError::FileSites(_) | StartError::Open(StoreError::SchemaTooNew { .. }) => {
                    EX_CONFIG
                }
                _ => EX_UNAVAILABLE,
            };
            return ExitCode::from(code);
        }
    };
    let state = match EdgeState::new(
        prepared.config.clone(),
        default_cert,
        metrics,
        access_log.clone(),
    ) {
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

    let public_url = dashboard_url(&config);
    let degraded = prepared.store.is_none();
    let fresh = prepared.bootstrap.take();
    let control = Control::new(state.clone(), config.clone(), prepared, public_url);
    if degraded {
        control.connect_later(print_bootstrap);
    }

    announce(&config, &state);
    if let Some(fresh) = &fresh {
        print_bootstrap(fresh, &control.public_url);
    }
    let pid_path = config.node.data_dir.join("rampart.pid");
    let _ = std::fs::write(&pid_path, format!("{}\n", std::process::id()));

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    if let Err(error) = spawn_signal_handlers(control.clone(), shutdown_tx, config.node.drain_delay)
    {
        eprintln!("rampart: cannot install signal handlers: {error}");
        return ExitCode::from(EX_SOFTWARE);
    }
    tokio::spawn(control.clone().run_sync_loop(shutdown_rx.clone()));
    tokio::spawn(control.clone().run_write_listener(shutdown_rx.clone()));
    tokio::spawn(run_analytics_flush(control.clone(), shutdown_rx.clone()));
    tokio::spawn(rampart_control::run_node_loop(
        control.clone(),
        shutdown_rx.clone(),
    ));
    tokio::spawn(rampart_control::run_notify_loop(
        control.clone(),
        shutdown_rx.clone(),
    ));
    if let Some(admin) = admin {
        tokio::spawn(rampart_control::api::serve(
            control.clone(),
            admin,
            shutdown_rx.clone(),
        ));
    }
    rampart_edge::server::serve(state, listeners, shutdown_rx, config.node.shutdown_grace).await;
    let _ = control.flush_analytics_now().await; // requests of the grace period; logs failures
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

/// Where operators find the dashboard: `[admin] public_url`, else the admin listener.
fn dashboard_url(config: &Config) -> String {
    if let Some(url) = &config.admin.public_url {
        return url.clone();
    }
    match config.listen.admin {
        Some(addr) => format!("http://{addr}/"),
        None => "(no admin listener)".to_owned(),
    }
}

/// The one-time token of a fresh store. Also on stdout when stdout is not a
/// terminal, so a script capturing either stream finds the lines.
fn print_bootstrap(fresh: &Bootstrap, url: &str) {
    use std::io::IsTerminal;
    let lines = format!("admin token: {}\ndashboard: {url}\n", fresh.admin_token);
    eprint!(
        "rampart: first start: an operator admin was created; keep this token, it is not shown again\n{lines}"
    );
    if !std::io::stdout().is_terminal() {
        print!("{lines}");
        let _ = std::io::Write::flush(&mut std::io::stdout());
    }
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
        eprintln!("rampart: admin      on http://{admin} (/api/v1, /healthz, /metrics)");
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

/// SIGHUP reloads the file. SIGTERM/SIGINT drain then stop: health checks
/// fail at once, requests are served for `drain_delay` more (so a load
/// balancer moves new connections elsewhere first), then the listeners
/// close and in-flight requests get `shutdown_grace`. A second signal
/// during the delay stops at once.
fn spawn_signal_handlers(
    control: Arc<Control>,
    shutdown: watch::Sender<bool>,
    drain_delay: std::time::Duration,
) -> std::io::Result<()> {
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = hangup.recv() => {
                    // The outcome is logged by reload itself.
                    let _ = control.reload_file().await;
                }
                _ = terminate.recv() => break,
                _ = interrupt.recv() => break,
            }
        }
        control.start_draining();
        if !drain_delay.is_zero() {
            tracing::info!(?drain_delay, "draining: health checks fail, still serving");
            tokio::select! {
                () = tokio::time::sleep(drain_delay) => {}
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
        }
        tracing::info!("shutting down");
        let _ = shutdown.send(true);
    });
    Ok(())
}
