//! The one driver behind every middleware: a request's attempts through the
//! layers that are present, in the documented order.
//!
//! Each layer is split into what happens before an attempt (attach a token, ask
//! the breaker, pass the device gate and the pacing) and what happens after it
//! (feed the outcome back), both plain synchronous methods. Waiting (a token
//! refresh, a device hold, a pacing slot, a backoff) is the rare case and runs in
//! a boxed future of its own. So a request that waits for nothing costs one boxed
//! future (under 1 KiB), one classification per attempt and one clock read per
//! attempt (two when it fails), whichever layers are present: the layers used
//! alone and [`Stack`](crate::Stack) are the same code.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Extensions, Method};
use reqwest::{Request, Response};
use reqwest_middleware::Next;
use resile_policy::auth::Generation;
use resile_policy::{Classification, Classify, Clock};
use tracing::Instrument;

use crate::breaker::Admitted;
use crate::device_gate::{DeviceState, Entered as DeviceEntry, Gate};
use crate::hosts::{Host, HostRef, Hosts};
use crate::pace::{Paced, Pass};
use crate::parts::{authority, classify_now, classify_result, copy_request};
use crate::retry::{Retrying, finish};
use crate::{
    AuthMiddleware, BreakerMiddleware, Deadline, DeviceGateMiddleware, Error, PacingMiddleware,
    RetryMiddleware, TokioClock,
};

/// The layers of one service, any of them absent, in the documented order:
/// retry → auth → breaker → device gate → pacing.
#[derive(Clone, Copy, Default)]
pub(crate) struct Layers<'a> {
    pub(crate) retry: Option<&'a RetryMiddleware>,
    pub(crate) auth: Option<&'a AuthMiddleware>,
    pub(crate) breaker: Option<&'a BreakerMiddleware>,
    pub(crate) gate: Option<&'a DeviceGateMiddleware>,
    pub(crate) pacing: Option<&'a PacingMiddleware>,
    /// The timeout the `reqwest::Client` beneath applies by itself, when known.
    pub(crate) client_timeout: Option<Duration>,
}

/// How far the layers have let one attempt through, and what each handed out.
#[derive(Default)]
struct Entered<'h> {
    /// The next layer to pass: 0 auth, 1 breaker, 2 device gate, 3 pacing, 4 sent.
    stage: u8,
    token: Option<Generation>,
    admitted: Option<Admitted<'h>>,
    device: Option<DeviceEntry>,
    paced: Option<Paced<'h>>,
}

/// A layer that makes an attempt wait.
enum Stall {
    Token,
    Device(Arc<DeviceState>, (String, String)),
    Pace,
}

/// A boxed future of a response: a logical request's (boxed once, whichever
/// layers are present) or an attempt's (`next`'s own, or a wait for a layer, then
/// `next`'s).
pub(crate) type Handled<'f> =
    Pin<Box<dyn Future<Output = reqwest_middleware::Result<Response>> + Send + 'f>>;

/// What the driver settles once per logical request, before its first attempt.
struct Logical<'a> {
    now: Instant,
    deadline: Option<Instant>,
    /// The time from `now` to `deadline` when it is the retry layer's own (until
    /// the first attempt leaves: `now` moves on after it).
    first_left: Option<Duration>,
    /// The auth layer, when it attaches a token to this request's host.
    auth: Option<&'a AuthMiddleware>,
    /// The host's budget, breaker and pace, looked up once for every layer.
    host: Option<HostRef<'a>>,
    retrying: Option<Retrying<'a>>,
    method: Method,
}

impl<'a> Layers<'a> {
    /// Sends `req` through the layers and `next`, in the retry layer's span.
    pub(crate) fn handle<'f>(
        self,
        req: Request,
        ext: &'f mut Extensions,
        next: Next<'f>,
    ) -> Handled<'f>
    where
        'a: 'f,
    {
        let span = self
            .retry
            .map_or_else(tracing::Span::none, |r| r.span(&req));
        let now = TokioClock.now();
        let name = authority(req.url());
        let auth = match self.auth.map(|a| a.applies(req.url(), name)) {
            Some(Ok(true)) => self.auth,
            None | Some(Ok(false)) => None,
            Some(Err(refused)) => {
                let _entered = span.enter();
                let done = self.done(Err(refused.into()), ext, 1, None);
                return Box::pin(std::future::ready(done));
            }
        };
        let host = self.hosts().map(|h| h.entry(name));
        let (deadline, first_left) = match ext.get::<Deadline>() {
            Some(d) => (Some(d.0), None),
            None => match self.retry.and_then(RetryMiddleware::deadline) {
                Some(d) => match now.checked_add(d) {
                    Some(at) => (Some(at), Some(d)),
                    None => (None, None),
                },
                None => (None, None),
            },
        };
        let logical = Logical {
            host,
            now,
            deadline,
            first_left,
            auth,
            retrying: self.retry.map(|r| r.begin(&req)),
            method: req.method().clone(),
        };
        Box::pin(self.run(logical, Some(req), ext, next).instrument(span))
    }

    /// The per-host table of the layers that keep state per host (the same table
    /// for all of them: a layer alone has its own, a service's share one).
    fn hosts(self) -> Option<&'a Hosts> {
        let retry = self.retry.and_then(RetryMiddleware::hosts);
        let breaker = || self.breaker.map(BreakerMiddleware::hosts);
        let pacing = || self.pacing.map(PacingMiddleware::hosts);
        retry.or_else(breaker).or_else(pacing)
    }

    /// The classifier of the innermost layer present: each attempt is classified
    /// once, for all of them.
    fn classifier(self) -> Option<(&'a dyn Classify, usize)> {
        let pacing = self.pacing.map(PacingMiddleware::classifier);
        let gate = || self.gate.map(DeviceGateMiddleware::classifier);
        let breaker = || self.breaker.map(BreakerMiddleware::classifier);
        let auth = || self.auth.map(AuthMiddleware::classifier);
        let retry = || self.retry.map(RetryMiddleware::classifier);
        pacing
            .or_else(gate)
            .or_else(breaker)
            .or_else(auth)
            .or_else(retry)
    }

    /// The attempts of one logical request.
    ///
    /// Not an `async fn`, whose arguments would be stored twice in its future
    /// (rust-lang/rust#62958): the request is kept once, in `kept`, and each
    /// attempt's copy lives only until it is handed to `next`, so the future stays
    /// small enough for the allocator's fast path.
    #[allow(clippy::manual_async_fn)] // on purpose: see above
    fn run<'f>(
        self,
        mut logical: Logical<'a>,
        mut kept: Option<Request>,
        ext: &'f mut Extensions,
        next: Next<'f>,
    ) -> impl Future<Output = reqwest_middleware::Result<Response>> + Send + 'f
    where
        'a: 'f,
    {
        async move {
            let clock = TokioClock;
            // A copy is kept for a resend (retry, or the replay after a 401).
            let keep = self.retry.is_some() || logical.auth.is_some();
            let mut number = 0;
            let mut is_replay = false;
            loop {
                number += 1;
                let mut result;
                let seen;
                let token;
                // What the layers handed out lives only until it is settled.
                {
                    let mut entered = Entered::default();
                    // The attempt's copy lives only until it is handed to `next`.
                    let sending: Handled<'_> = {
                        // The oldest request is sent and a fresh copy kept, so the
                        // first attempt sends the caller's own. A stream cannot be
                        // copied: it is sent once, and its result returned.
                        let copy = match &kept {
                            Some(original) if keep => copy_request(original),
                            _ => None,
                        };
                        let oldest = match (copy, kept.as_mut()) {
                            (Some(copy), Some(kept)) => Some(std::mem::replace(kept, copy)),
                            _ => kept.take(),
                        };
                        let Some(mut this) = oldest else {
                            // Only a resend comes back here, and only with a copy kept.
                            return Err(reqwest_middleware::Error::middleware(
                                std::io::Error::other("resile: no request left to send"),
                            ));
                        };
                        if let Some(r) = self.retry {
                            let client = self.client_timeout;
                            let left = match logical.first_left.take() {
                                Some(left) => Some(left),
                                None => logical
                                    .deadline
                                    .map(|d| d.saturating_duration_since(logical.now)),
                            };
                            r.limit_attempt(&mut this, left, client);
                        }
                        // Through the layers: synchronously unless one makes it wait.
                        let (auth, host) = (logical.auth, logical.host.as_deref());
                        match self.advance(&mut this, auth, host, &mut entered, logical.now) {
                            Ok(None) => next.clone().run(this, ext),
                            Ok(Some(stall)) => Box::pin(self.wait_and_send(
                                this,
                                (auth, host),
                                &mut entered,
                                stall,
                                logical.deadline,
                                next.clone(),
                                ext,
                            )),
                            Err(refused) => Box::pin(std::future::ready(Err(refused.into()))),
                        }
                    };
                    result = sending.await;
                    seen = match self.classifier() {
                        None => None,
                        Some((classifier, limit)) => {
                            match classify_now(classifier, &logical.method, &result) {
                                Some(seen) => seen,
                                None => {
                                    let read =
                                        classify_result(classifier, &logical.method, result, limit);
                                    let (read, seen) = Box::pin(read).await;
                                    result = read;
                                    seen
                                }
                            }
                        }
                    };
                    // A success decides nothing by the time it ended (the budget
                    // and the breaker's window count it in the bucket it was sent
                    // in, pacing uses the send time), so the clock is read again
                    // only when something does: a slow-call threshold, or any
                    // other outcome (a hold, a backoff, the next attempt).
                    let success = seen.is_some_and(|c| c.is_success());
                    if !success || self.breaker.is_some_and(BreakerMiddleware::times_successes) {
                        logical.now = clock.now();
                    }
                    token = entered.token;
                    self.settle(entered, seen.as_ref(), &result, logical.now);
                }
                if let (Some(a), Some(used), Some(c)) = (logical.auth, token, seen)
                    && c.is_reauth()
                    && let Ok(refused) = &mut result
                {
                    let fresh =
                        a.refused(used, refused, kept.is_some(), is_replay, logical.deadline);
                    if Box::pin(fresh).await && kept.is_some() {
                        // Resent at once, outside the retry rules: a 401 was not
                        // processed (spec §6), and only once.
                        is_replay = true;
                        logical.now = clock.now();
                        continue;
                    }
                }
                let Some(retrying) = logical.retrying.as_mut() else {
                    return result;
                };
                let (Some(c), true) = (seen, kept.is_some()) else {
                    finish(&mut result, ext, number, seen);
                    return result;
                };
                let decided = retrying.decide(
                    logical.host.as_deref(),
                    &c,
                    &logical.method,
                    number,
                    logical.deadline,
                    logical.now,
                    &result,
                );
                let Some(after) = decided else {
                    finish(&mut result, ext, number, Some(c));
                    return result;
                };
                drop(result);
                // Boxed: a timer in every request's future would weigh on all.
                Box::pin(clock.sleep(after)).await;
                logical.now = clock.now();
            }
        }
    }

    /// Lets the attempt through the layers from `entered.stage` on, at `now`,
    /// until one makes it wait (`Some`) or refuses it (`Err`).
    fn advance<'h>(
        self,
        req: &mut Request,
        auth: Option<&AuthMiddleware>,
        entry: Option<&'h Host>,
        entered: &mut Entered<'h>,
        now: Instant,
    ) -> Result<Option<Stall>, Error> {
        if entered.stage == 0 {
            entered.stage = 1;
            if let Some(a) = auth {
                match a.attach_fresh(req, now) {
                    Some(generation) => entered.token = Some(generation),
                    None => return Ok(Some(Stall::Token)),
                }
            }
        }
        if entered.stage == 1 {
            entered.stage = 2;
            if let (Some(b), Some(entry)) = (self.breaker, entry) {
                entered.admitted = Some(b.admit(req.url(), entry, now)?);
            }
        }
        if entered.stage == 2 {
            entered.stage = 3;
            if let Some((gate, key)) = self.gate.and_then(|g| Some((g, g.device_of(req.url())?))) {
                match gate.try_enter(key, now) {
                    Gate::Entered(device) => entered.device = Some(device),
                    Gate::Wait(state, key) => return Ok(Some(Stall::Device(state, key))),
                }
            }
        }
        if entered.stage == 3 {
            entered.stage = 4;
            if let (Some(pacing), Some(entry)) = (self.pacing, entry) {
                match pacing.try_pass(req.url(), entry, now) {
                    Pass::Paced(paced) => entered.paced = Some(paced),
                    Pass::Wait => return Ok(Some(Stall::Pace)),
                }
            }
        }
        Ok(None)
    }

    /// [`wait`](Self::wait), then sends the request through `next`.
    #[allow(clippy::too_many_arguments)] // the state of one attempt, passed on
    async fn wait_and_send<'h>(
        self,
        req: Request,
        (auth, entry): (Option<&AuthMiddleware>, Option<&'h Host>),
        entered: &mut Entered<'h>,
        stall: Stall,
        deadline: Option<Instant>,
        next: Next<'_>,
        ext: &mut Extensions,
    ) -> reqwest_middleware::Result<Response> {
        match self
            .wait(req, (auth, entry), entered, stall, deadline)
            .await
        {
            Ok(mut req) => {
                // The wait took some of the time left: the attempt may not run
                // past the deadline.
                if let (Some(r), Some(d)) = (self.retry, deadline) {
                    let left = d.saturating_duration_since(TokioClock.now());
                    r.limit_attempt(&mut req, Some(left), self.client_timeout);
                }
                next.run(req, ext).await
            }
            Err(refused) => Err(refused.into()),
        }
    }

    /// The rare path: waits for the layer that stalled, then goes on through the
    /// others (which may make it wait again); never past `deadline`.
    async fn wait<'h>(
        self,
        mut req: Request,
        (auth, entry): (Option<&AuthMiddleware>, Option<&'h Host>),
        entered: &mut Entered<'h>,
        mut stall: Stall,
        deadline: Option<Instant>,
    ) -> Result<Request, Error> {
        loop {
            match stall {
                Stall::Token => {
                    if let Some(a) = auth {
                        entered.token = Some(a.attach(&mut req, deadline).await?);
                    }
                }
                Stall::Device(state, key) => {
                    if let Some(gate) = self.gate {
                        entered.device = Some(gate.enter_waiting(state, key, deadline).await?);
                    }
                }
                Stall::Pace => {
                    if let (Some(pacing), Some(entry)) = (self.pacing, entry) {
                        let host = authority(req.url());
                        entered.paced = Some(pacing.pass_waiting(host, entry, deadline).await?);
                    }
                }
            }
            match self.advance(&mut req, auth, entry, entered, TokioClock.now())? {
                None => return Ok(req),
                Some(next) => stall = next,
            }
        }
    }

    /// Feeds an attempt's outcome back to the layers it passed, innermost first.
    fn settle(
        self,
        entered: Entered<'_>,
        seen: Option<&Classification>,
        result: &reqwest_middleware::Result<Response>,
        now: Instant,
    ) {
        if let (Some(pacing), Some(paced)) = (self.pacing, entered.paced) {
            pacing.settle(paced, seen, result, now);
        }
        if let (Some(gate), Some(device)) = (self.gate, entered.device) {
            gate.settle(device, seen);
        }
        if let (Some(breaker), Some(admitted)) = (self.breaker, entered.admitted) {
            breaker.settle(admitted, seen, result, now);
        }
    }

    /// The end of a request refused before its first attempt.
    fn done(
        self,
        result: reqwest_middleware::Result<Response>,
        ext: &mut Extensions,
        attempts: u32,
        seen: Option<Classification>,
    ) -> reqwest_middleware::Result<Response> {
        let mut result = result;
        if self.retry.is_some() {
            finish(&mut result, ext, attempts, seen);
        }
        result
    }
}

/// Implements `reqwest_middleware::Middleware` for a layer used alone: the
/// driver with just that layer.
macro_rules! middleware {
    ($ty:ty, $field:ident) => {
        impl reqwest_middleware::Middleware for $ty {
            // What `#[async_trait]` would write, minus its second copy of the
            // arguments: the driver's future is boxed as it is.
            fn handle<'life0, 'life1, 'life2, 'async_trait>(
                &'life0 self,
                req: reqwest::Request,
                ext: &'life1 mut http::Extensions,
                next: reqwest_middleware::Next<'life2>,
            ) -> ::core::pin::Pin<
                Box<
                    dyn ::core::future::Future<
                            Output = reqwest_middleware::Result<reqwest::Response>,
                        > + Send
                        + 'async_trait,
                >,
            >
            where
                'life0: 'async_trait,
                'life1: 'async_trait,
                'life2: 'async_trait,
                Self: 'async_trait,
            {
                let layers = crate::driver::Layers {
                    $field: Some(self),
                    ..crate::driver::Layers::default()
                };
                layers.handle(req, ext, next)
            }
        }
    };
}

pub(crate) use middleware;
