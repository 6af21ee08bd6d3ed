//! Configures an [`AuthMiddleware`].

use std::fmt;
use std::sync::Arc;

use resile_policy::classify::BODY_PREFIX_LIMIT;
use resile_policy::{
    Classify, ConfigError, DefaultClassifier, DefaultRng, HostAllowList, TokenPolicy, TokenState,
};

use super::flight::{Flight, Hook};
use super::{AuthMiddleware, RefreshEvent, TokenSource};

/// Configures an [`AuthMiddleware`]; starts from the defaults listed there.
///
/// [`hosts`](Self::hosts) is required: a token goes nowhere unless named.
///
/// ```
/// use resile_reqwest::{AuthMiddleware, StaticToken};
///
/// let err = AuthMiddleware::builder(StaticToken::new("ak_x")).build().unwrap_err();
/// assert_eq!(err.field(), "auth.hosts");
/// let err = AuthMiddleware::builder(StaticToken::new("ak_x"))
///     .hosts(["https://api.example.com"])
///     .build()
///     .unwrap_err();
/// assert_eq!(err.field(), "auth.hosts");
/// ```
#[must_use]
pub struct AuthBuilder {
    source: Arc<dyn TokenSource>,
    hosts: Option<Result<HostAllowList, ConfigError>>,
    allow_loopback_http: bool,
    policy: TokenPolicy,
    hook: Option<Arc<Hook>>,
    classifier: Arc<dyn Classify>,
    body_limit: usize,
    seed: Option<u64>,
}

impl AuthBuilder {
    pub(super) fn new(source: Arc<dyn TokenSource>) -> Self {
        Self {
            source,
            hosts: None,
            allow_loopback_http: false,
            policy: TokenPolicy::default(),
            hook: None,
            classifier: Arc::new(DefaultClassifier::new()),
            body_limit: BODY_PREFIX_LIMIT,
            seed: None,
        }
    }

    /// The hosts that get the token: `host` or `host:port`, matched exactly
    /// (see [`HostAllowList`]). Required; replaces any earlier list.
    pub fn hosts<I>(mut self, hosts: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.hosts = Some(HostAllowList::new(hosts));
        self
    }

    /// Also send the token over plain `http://` to configured loopback hosts
    /// (`localhost`, `127.0.0.0/8`, `::1`), for a local simulator (default: no).
    pub const fn allow_loopback_http(mut self, allow: bool) -> Self {
        self.allow_loopback_http = allow;
        self
    }

    /// When to refresh and how to back off a failing source (default
    /// [`TokenPolicy::default`]).
    pub fn policy(mut self, policy: TokenPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Called after every call to the source, successful or not, outside any lock.
    /// Keep it quick: it runs on the request that refreshed.
    pub fn on_refresh(mut self, hook: impl Fn(&RefreshEvent) + Send + Sync + 'static) -> Self {
        self.hook = Some(Arc::new(hook));
        self
    }

    /// The classifier that spots `reauth` outcomes (default: the spec's table,
    /// [`DefaultClassifier`]).
    pub fn classifier(mut self, classifier: Arc<dyn Classify>) -> Self {
        self.classifier = classifier;
        self
    }

    /// The most bytes of an error body read for classification (default 64 KiB).
    pub const fn body_limit(mut self, limit: usize) -> Self {
        self.body_limit = limit;
        self
    }

    /// Fixes the refresh jitter sequence, for reproducible tests (default: varies per
    /// process).
    pub const fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The middleware, or the first invalid setting (`auth.hosts`, `auth.body_limit`).
    pub fn build(self) -> Result<AuthMiddleware, ConfigError> {
        let hosts = match self.hosts {
            Some(hosts) => hosts?,
            None => {
                return Err(ConfigError::new(
                    "auth.hosts",
                    "must name at least one host",
                ));
            }
        };
        if self.body_limit == 0 {
            return Err(ConfigError::new(
                "auth.body_limit",
                "must be greater than zero",
            ));
        }
        let tokens = match self.seed {
            Some(seed) => TokenState::with_rng(self.policy, DefaultRng::new(seed)),
            None => TokenState::new(self.policy),
        };
        Ok(AuthMiddleware::from_parts(
            hosts.allow_loopback_http(self.allow_loopback_http),
            Flight::new(self.source, tokens, self.hook),
            self.classifier,
            self.body_limit,
        ))
    }
}

impl fmt::Debug for AuthBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthBuilder")
            .field("source", &self.source)
            .field("hosts", &self.hosts)
            .field("allow_loopback_http", &self.allow_loopback_http)
            .field("policy", &self.policy)
            .field("on_refresh", &self.hook.is_some())
            .field("classifier", &self.classifier)
            .field("body_limit", &self.body_limit)
            .field("seed", &self.seed)
            .finish()
    }
}
