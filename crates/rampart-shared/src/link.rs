//! The connection to Redis, for every kind of deployment, with its own
//! reconnection.
//!
//! Only the background task ([`crate::SharedTier`]'s syncer) connects; the
//! request path (token redemption) uses the connection there is, or none.
//! So a Redis that is down costs a request nothing but the local decision,
//! and reconnection happens with backoff whether or not traffic flows.
//!
//! Why not redis-rs's `ConnectionManager`: it reconnects one fixed server,
//! while Sentinel must ask the sentinels again for the current master after
//! a failover. One reconnect policy for the three kinds keeps the health
//! state in one place.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rampart_config::{RedisKind, RedisTarget, SharedConfig};
use redis::aio::MultiplexedConnection;
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use redis::{
    AsyncConnectionConfig, Client, ConnectionAddr, ConnectionInfo, ErrorKind, FromRedisValue,
    IntoConnectionInfo, Pipeline, RedisConnectionInfo, ServerErrorKind, TlsMode,
};
use tokio::time::Instant;

use crate::SharedError;
use crate::status::SharedStatus;

/// How long a connection attempt may take (background task only).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub(crate) enum Conn {
    Single(MultiplexedConnection),
    Cluster(ClusterConnection),
}

impl Conn {
    async fn query<T: FromRedisValue>(&mut self, pipe: &Pipeline) -> redis::RedisResult<T> {
        match self {
            Self::Single(c) => pipe.query_async(c).await,
            Self::Cluster(c) => pipe.query_async(c).await,
        }
    }
}

// One per node, built once: the size of the variants does not matter.
#[allow(clippy::large_enum_variant)]
enum Target {
    Single(Client),
    Cluster(Box<redis::cluster::ClusterClient>),
    Sentinel(Box<tokio::sync::Mutex<SentinelClient>>),
}

struct Backoff {
    next_attempt: Option<Instant>,
    delay: Duration,
}

pub(crate) struct Link {
    target: Target,
    redacted: String,
    pub(crate) timeout: Duration,
    conn: Mutex<Option<Conn>>,
    backoff: Mutex<Backoff>,
    /// Bumped on every new connection: the syncer starts afresh then.
    generation: AtomicU64,
    pub(crate) status: Arc<SharedStatus>,
}

impl Link {
    pub(crate) fn new(config: &SharedConfig) -> Result<Self, SharedError> {
        let target = build_target(&config.redis)?;
        Ok(Self {
            target,
            redacted: config.redis.redacted(),
            timeout: config.timeout,
            conn: Mutex::new(None),
            backoff: Mutex::new(Backoff {
                next_attempt: None,
                delay: BACKOFF_MIN,
            }),
            generation: AtomicU64::new(0),
            status: Arc::new(SharedStatus::configured()),
        })
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Relaxed)
    }

    /// The connection there is, if any. Never connects.
    pub(crate) fn current(&self) -> Option<Conn> {
        self.conn
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The connection, connecting first when there is none and the backoff
    /// allows a new attempt. For the background task only.
    pub(crate) async fn ensure(&self) -> Option<Conn> {
        if let Some(c) = self.current() {
            return Some(c);
        }
        {
            let backoff = self.backoff.lock().unwrap_or_else(PoisonError::into_inner);
            if backoff.next_attempt.is_some_and(|t| Instant::now() < t) {
                return None;
            }
        }
        let attempt = tokio::time::timeout(CONNECT_TIMEOUT, self.connect()).await;
        let mut backoff = self.backoff.lock().unwrap_or_else(PoisonError::into_inner);
        match attempt {
            Ok(Ok(conn)) => {
                backoff.delay = BACKOFF_MIN;
                backoff.next_attempt = None;
                drop(backoff);
                self.generation.fetch_add(1, Ordering::Relaxed);
                *self.conn.lock().unwrap_or_else(PoisonError::into_inner) = Some(conn.clone());
                tracing::info!(redis = %self.redacted, "shared tier connected");
                Some(conn)
            }
            failed => {
                let why = match failed {
                    Ok(Err(e)) => e.to_string(),
                    _ => "connection timed out".to_owned(),
                };
                if self.status.errors() == 0 || backoff.delay == BACKOFF_MIN {
                    tracing::warn!(redis = %self.redacted, error = %why, "shared tier unreachable; nodes count and redeem tokens locally meanwhile");
                }
                self.status.failed(&why);
                backoff.next_attempt = Some(Instant::now() + backoff.delay);
                backoff.delay = (backoff.delay * 2).min(BACKOFF_MAX);
                None
            }
        }
    }

    async fn connect(&self) -> Result<Conn, redis::RedisError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(self.timeout.max(Duration::from_millis(200))));
        match &self.target {
            Target::Single(client) => Ok(Conn::Single(
                client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await?,
            )),
            Target::Cluster(client) => Ok(Conn::Cluster(client.get_async_connection().await?)),
            Target::Sentinel(sentinel) => {
                // Asked anew on every connection: after a failover the
                // sentinels name the new master.
                let client = sentinel.lock().await.async_get_client().await?;
                Ok(Conn::Single(
                    client
                        .get_multiplexed_async_connection_with_config(&config)
                        .await?,
                ))
            }
        }
    }

    /// Sends `pipe` (`commands` commands) on `conn` within `timeout`.
    /// `None` when it failed: the status turns degraded and the connection
    /// is dropped, for the background task to replace.
    pub(crate) async fn query<T: FromRedisValue>(
        &self,
        conn: &mut Conn,
        pipe: &Pipeline,
        commands: u64,
        timeout: Duration,
    ) -> Option<T> {
        self.status.sent(commands);
        let (why, broken) = match tokio::time::timeout(timeout, conn.query::<T>(pipe)).await {
            Ok(Ok(value)) => {
                self.status.succeeded();
                return Some(value);
            }
            // A plain error reply (ERR, a wrong type) leaves the connection
            // usable. Anything else gets a new one: I/O, a drop, a timeout,
            // and READONLY/MASTERDOWN, which after a Sentinel failover
            // mean the master is elsewhere now.
            Ok(Err(e)) => {
                let usable = matches!(
                    e.kind(),
                    ErrorKind::Server(ServerErrorKind::ResponseError | ServerErrorKind::NoScript)
                        | ErrorKind::UnexpectedReturnType
                        | ErrorKind::Parse
                );
                (e.to_string(), !usable)
            }
            Err(_) => (format!("no answer within {timeout:?}"), true),
        };
        let was_ok = self.status.state() == crate::SharedState::Ok;
        self.status.failed(&why);
        if broken {
            *self.conn.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
        if was_ok {
            tracing::warn!(redis = %self.redacted, error = %why, "shared tier degraded; nodes count and redeem tokens locally meanwhile");
        }
        None
    }
}

fn build_target(t: &RedisTarget) -> Result<Target, SharedError> {
    let mut redis_info = RedisConnectionInfo::default().set_db(t.db);
    if let Some(u) = &t.username {
        redis_info = redis_info.set_username(u);
    }
    if let Some(p) = &t.password {
        redis_info = redis_info.set_password(p);
    }
    let node = |host: &str, port: u16| -> Result<ConnectionInfo, SharedError> {
        let addr = if t.tls {
            ConnectionAddr::TcpTls {
                host: host.to_owned(),
                port,
                insecure: false,
                tls_params: None,
            }
        } else {
            ConnectionAddr::Tcp(host.to_owned(), port)
        };
        Ok((host, port)
            .into_connection_info()
            .map_err(SharedError::redis)?
            .set_addr(addr)
            .set_redis_settings(redis_info.clone()))
    };
    match &t.kind {
        RedisKind::Server => {
            let (host, port) = t.hosts.first().ok_or(SharedError::NoHosts)?;
            Ok(Target::Single(
                Client::open(node(host, *port)?).map_err(SharedError::redis)?,
            ))
        }
        RedisKind::Cluster => {
            let nodes = t
                .hosts
                .iter()
                .map(|(h, p)| node(h, *p))
                .collect::<Result<Vec<_>, _>>()?;
            let mut builder = ClusterClientBuilder::new(nodes)
                .connection_timeout(CONNECT_TIMEOUT)
                .response_timeout(Duration::from_secs(1));
            if t.tls {
                builder = builder.tls(TlsMode::Secure);
            }
            Ok(Target::Cluster(Box::new(
                builder.build().map_err(SharedError::redis)?,
            )))
        }
        RedisKind::Sentinel { master } => {
            // Sentinels themselves without auth; the data nodes' user,
            // password, db and TLS from the URL.
            let sentinels = t
                .hosts
                .iter()
                .map(|(h, p)| {
                    let addr = if t.tls {
                        ConnectionAddr::TcpTls {
                            host: h.clone(),
                            port: *p,
                            insecure: false,
                            tls_params: None,
                        }
                    } else {
                        ConnectionAddr::Tcp(h.clone(), *p)
                    };
                    (h.as_str(), *p)
                        .into_connection_info()
                        .map(|i| i.set_addr(addr))
                        .map_err(SharedError::redis)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut node_info =
                SentinelNodeConnectionInfo::default().set_redis_connection_info(redis_info);
            if t.tls {
                node_info = node_info.set_tls_mode(TlsMode::Secure);
            }
            let client = SentinelClient::build(
                sentinels,
                master.clone(),
                Some(node_info),
                SentinelServerType::Master,
            )
            .map_err(SharedError::redis)?;
            Ok(Target::Sentinel(Box::new(tokio::sync::Mutex::new(client))))
        }
    }
}
