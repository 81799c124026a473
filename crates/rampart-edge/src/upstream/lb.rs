//! Choosing an origin: weighted round robin, least outstanding requests, or a
//! client-IP hash (rendezvous hashing, so an origin leaving the rotation only
//! moves the clients that were on it).

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use rampart_config::LbPolicy;

use super::{Origin, now_millis};

/// Cap on the weighted schedule so huge weights cannot blow up memory.
const MAX_SCHEDULE: usize = 4096;

pub struct Balancer {
    policy: LbPolicy,
    /// Origin indices in smooth weighted round-robin order.
    schedule: Vec<usize>,
    cursor: AtomicUsize,
}

impl Balancer {
    pub fn new(policy: LbPolicy, origins: &[Arc<Origin>]) -> Self {
        Self {
            policy,
            schedule: smooth_weighted_schedule(origins),
            cursor: AtomicUsize::new(0),
        }
    }

    pub fn pick(
        &self,
        origins: &[Arc<Origin>],
        client_ip: IpAddr,
        tried: &[usize],
    ) -> Option<usize> {
        let now = now_millis();
        // First choice: origins in rotation. If none, an origin that passes
        // active checks but was passively ejected is still better than nothing.
        let tiers: [&dyn Fn(&Origin) -> bool; 2] =
            [&|o: &Origin| o.in_rotation(now), &|o: &Origin| {
                o.is_health_up()
            }];
        for eligible in tiers {
            let usable =
                |i: usize| !tried.contains(&i) && origins.get(i).is_some_and(|o| eligible(o));
            let choice = match self.policy {
                LbPolicy::RoundRobin => self.round_robin(usable),
                LbPolicy::LeastOutstanding => self.least_outstanding(origins, usable),
                LbPolicy::IpHash => ip_hash(origins, client_ip, usable),
            };
            if choice.is_some() {
                return choice;
            }
        }
        None
    }

    fn round_robin(&self, usable: impl Fn(usize) -> bool) -> Option<usize> {
        let len = self.schedule.len();
        if len == 0 {
            return None;
        }
        let start = self.cursor.fetch_add(1, Ordering::Relaxed);
        (0..len)
            .filter_map(|step| self.schedule.get((start + step) % len).copied())
            .find(|&i| usable(i))
    }

    fn least_outstanding(
        &self,
        origins: &[Arc<Origin>],
        usable: impl Fn(usize) -> bool,
    ) -> Option<usize> {
        let len = origins.len();
        if len == 0 {
            return None;
        }
        // Rotate the starting point so ties spread across origins.
        let start = self.cursor.fetch_add(1, Ordering::Relaxed);
        let mut best: Option<(usize, u128)> = None;
        for step in 0..len {
            let i = (start + step) % len;
            if !usable(i) {
                continue;
            }
            let Some(origin) = origins.get(i) else {
                continue;
            };
            let load = origin.metrics.outstanding.load(Ordering::Relaxed).max(0) as u128 + 1;
            // Compare load/weight without division: a/wa < b/wb  <=>  a*wb < b*wa.
            let better = match best {
                None => true,
                Some((j, best_load)) => {
                    let wj = origins.get(j).map_or(1, |o| o.weight) as u128;
                    load * wj < best_load * origin.weight as u128
                }
            };
            if better {
                best = Some((i, load));
            }
        }
        best.map(|(i, _)| i)
    }
}

fn ip_hash(
    origins: &[Arc<Origin>],
    client_ip: IpAddr,
    usable: impl Fn(usize) -> bool,
) -> Option<usize> {
    let ip_key = match client_ip {
        IpAddr::V4(v4) => u64::from(u32::from(v4)),
        IpAddr::V6(v6) => {
            let n = u128::from(v6);
            (n >> 64) as u64 ^ n as u64
        }
    };
    let mut best: Option<(usize, f64)> = None;
    for (i, origin) in origins.iter().enumerate() {
        if !usable(i) {
            continue;
        }
        // Weighted rendezvous hashing: score = -w / ln(u), u uniform in (0,1).
        let h = mix(ip_key ^ mix(label_hash(&origin.label)));
        let u = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let score = -f64::from(origin.weight) / u.ln();
        if best.is_none_or(|(_, s)| score > s) {
            best = Some((i, score));
        }
    }
    best.map(|(i, _)| i)
}

fn label_hash(label: &str) -> u64 {
    // FNV-1a: stable across processes, so every node maps a client the same way.
    label.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// nginx's smooth weighted round robin, unrolled into a fixed order.
fn smooth_weighted_schedule(origins: &[Arc<Origin>]) -> Vec<usize> {
    let weights: Vec<i64> = origins.iter().map(|o| i64::from(o.weight.max(1))).collect();
    let total: i64 = weights.iter().sum();
    let len = (total.max(0) as usize).min(MAX_SCHEDULE).max(origins.len());
    let mut current = vec![0i64; weights.len()];
    let mut schedule = Vec::with_capacity(len);
    for _ in 0..len {
        let mut best = 0;
        for (i, w) in weights.iter().enumerate() {
            if let Some(c) = current.get_mut(i) {
                *c += w;
            }
            if current.get(i) > current.get(best) {
                best = i;
            }
        }
        if let Some(c) = current.get_mut(best) {
            *c -= total;
        }
        schedule.push(best);
    }
    schedule
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::OriginMetrics;
    use crate::upstream::{ClientKey, origin_client};
    use rampart_config::OriginProtocol;
    use std::time::Duration;

    fn origins(weights: &[u32]) -> Vec<Arc<Origin>> {
        weights
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let authority: http::uri::Authority = format!("127.0.0.1:{}", 9000 + i)
                    .parse()
                    .unwrap_or_else(|_| http::uri::Authority::from_static("localhost"));
                Arc::new(Origin::new(
                    format!("http://{authority}").into(),
                    http::uri::Scheme::HTTP,
                    authority.clone(),
                    *w,
                    OriginProtocol::Http1,
                    origin_client(
                        &ClientKey {
                            protocol: OriginProtocol::Http1,
                            verify_tls: true,
                            connect_timeout: Duration::from_secs(1),
                        },
                        &http::uri::Scheme::HTTP,
                        &authority,
                    ),
                    Arc::new(OriginMetrics::default()),
                ))
            })
            .collect()
    }

    #[tokio::test]
    async fn weighted_round_robin_follows_weights_and_skips_failed() {
        let os = origins(&[1, 3]);
        let b = Balancer::new(LbPolicy::RoundRobin, &os);
        let ip = IpAddr::from([1, 2, 3, 4]);
        let picks: Vec<usize> = (0..8).filter_map(|_| b.pick(&os, ip, &[])).collect();
        assert_eq!(picks.iter().filter(|&&i| i == 1).count(), 6);
        if let Some(o) = os.get(1) {
            o.record_connect_failure();
        }
        assert!((0..8).all(|_| b.pick(&os, ip, &[]) == Some(0)));
        assert_eq!(
            b.pick(&os, ip, &[0]),
            Some(1),
            "ejected origin is the last resort"
        );
    }

    #[tokio::test]
    async fn ip_hash_is_sticky_and_moves_only_the_failed_share() {
        let os = origins(&[1, 1, 1]);
        let b = Balancer::new(LbPolicy::IpHash, &os);
        let clients: Vec<IpAddr> = (0..200u8).map(|i| IpAddr::from([10, 0, i, 1])).collect();
        let before: Vec<Option<usize>> = clients.iter().map(|ip| b.pick(&os, *ip, &[])).collect();
        let again: Vec<Option<usize>> = clients.iter().map(|ip| b.pick(&os, *ip, &[])).collect();
        assert_eq!(before, again);
        assert!((0..3).all(|i| before.contains(&Some(i))));
        if let Some(o) = os.get(2) {
            for _ in 0..3 {
                o.record_health_check(false, 1, 3);
            }
        }
        for (ip, was) in clients.iter().zip(&before) {
            let now = b.pick(&os, *ip, &[]);
            if *was != Some(2) {
                assert_eq!(now, *was);
            } else {
                assert_ne!(now, Some(2));
            }
        }
    }

    #[tokio::test]
    async fn least_outstanding_prefers_idle_origin() {
        let os = origins(&[1, 1]);
        let b = Balancer::new(LbPolicy::LeastOutstanding, &os);
        if let Some(o) = os.first() {
            o.metrics.outstanding.store(5, Ordering::Relaxed);
        }
        assert!((0..4).all(|_| b.pick(&os, IpAddr::from([1, 1, 1, 1]), &[]) == Some(1)));
    }

    #[tokio::test]
    async fn nothing_when_all_down() {
        let os = origins(&[1]);
        let b = Balancer::new(LbPolicy::RoundRobin, &os);
        if let Some(o) = os.first() {
            o.record_health_check(false, 1, 1);
        }
        assert_eq!(b.pick(&os, IpAddr::from([1, 1, 1, 1]), &[]), None);
    }
}
