//! The running simulator.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::builder::Config;
use crate::fleet::seeded_id;
use crate::server;
use crate::state::Shared;
use crate::{SimError, Stats};

/// A running simulator. Dropping it stops the server (requests in flight get the
/// shutdown grace); [`shutdown`](Self::shutdown) also waits for that to finish.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl SimHandle {
    pub(crate) async fn start(cfg: Config) -> Result<Self, SimError> {
        let listener = TcpListener::bind(cfg.bind)
            .await
            .map_err(|e| SimError::bind(cfg.bind, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| SimError::bind(cfg.bind, e))?;
        let shared = Arc::new(Shared::new(cfg, Instant::now()));
        let (shutdown, receiver) = watch::channel(false);
        let task = tokio::spawn(server::run(listener, Arc::clone(&shared), receiver));
        Ok(Self {
            addr,
            shared,
            shutdown,
            task: Some(task),
        })
    }

    /// The address the server listens on (the real port when bound to port 0).
    pub const fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`, without a trailing slash, e.g. `http://127.0.0.1:40123`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A snapshot of the counters (the same as `GET /__sim/stats`).
    pub fn stats(&self) -> Stats {
        self.shared.lock().snapshot(Instant::now())
    }

    /// Zeroes the counters; time, devices, queues and tokens are kept.
    pub fn reset_stats(&self) {
        self.shared.lock().stats = Default::default();
    }

    /// Starts over (as `POST /__sim/reset` does): the timeline restarts at zero, request
    /// sequence numbers restart (so fault draws repeat), the fleet and queues return to
    /// their initial state and the counters are zeroed. Issued tokens stay valid.
    pub fn reset(&self) {
        let now = Instant::now();
        self.shared.lock().reset(&self.shared.cfg, now);
    }

    /// Issues an access token as `POST /__sim/token` does (counted in the stats).
    pub fn issue_token(&self) -> String {
        let mut inner = self.shared.lock();
        inner.stats.tokens_issued += 1;
        inner.tokens.issue(self.shared.cfg.seed, Instant::now())
    }

    /// The static API key, always accepted.
    pub fn api_key(&self) -> &str {
        &self.shared.cfg.api_key
    }

    /// The ids of the seeded devices, in order.
    pub fn device_ids(&self) -> Vec<String> {
        (0..self.shared.cfg.devices).map(seeded_id).collect()
    }

    /// The seeded devices that started offline, sorted.
    pub fn offline_ids(&self) -> Vec<String> {
        sorted(self.shared.cfg.offline.iter())
    }

    /// The seeded devices that started with a full queue, sorted.
    pub fn full_queue_ids(&self) -> Vec<String> {
        sorted(self.shared.cfg.full.iter())
    }

    /// Connects (`true`) or disconnects a device; false if there is no such device.
    pub fn set_online(&self, id: &str, online: bool) -> bool {
        self.shared.lock().fleet.set_online(id, online)
    }

    /// Time since start (or the last [`reset`](Self::reset)): the timeline's clock.
    pub fn elapsed(&self) -> Duration {
        Instant::now().saturating_duration_since(self.shared.lock().epoch)
    }

    /// Stops accepting connections, lets requests in flight finish (up to the shutdown
    /// grace) and waits until the server is gone.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

fn sorted<'a>(ids: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut ids: Vec<String> = ids.cloned().collect();
    ids.sort();
    ids
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
