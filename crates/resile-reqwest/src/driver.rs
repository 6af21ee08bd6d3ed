//! The one driver behind every middleware: a request's attempts through the
//! layers that are present, in the documented order.
//!
//! Each layer is split into what happens before an attempt (attach a token, ask
//! the breaker, pass the device gate and the pacing) and what happens after it
//! (feed the outcome back), both plain synchronous methods. Waiting (a token
//! refresh, a device hold, a pacing slot, a backoff) is the rare case and runs in
//! a boxed future of its own. So a request that waits for nothing costs one small
//! future, one classification and two clock reads per attempt, whichever layers
//! are present: the layers used alone and [`Stack`](crate::Stack) are the same
//! code.

use std::time::Instant;

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::Next;
use resile_policy::auth::Generation;
use resile_policy::{Classification, Classify, Clock};
use tracing::Instrument;

use crate::device_gate::Gate;
use crate::pace::Pass;
use crate::parts::{authority, observe};
use crate::retry::finish;
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
}

/// One attempt's result, its classification, the token generation it carried and
/// when it came back.
struct Outcome {
    result: reqwest_middleware::Result<Response>,
    seen: Option<Classification>,
    token: Option<Generation>,
    at: Instant,
}

impl Outcome {
    /// An attempt a layer refused before sending.
    fn refused(error: Error, at: Instant) -> Self {
        Self {
            result: Err(error.into()),
            seen: None,
            token: None,
            at,
        }
    }
}

impl<'a> Layers<'a> {
    /// Sends `req` through the layers and `next`.
    pub(crate) async fn handle(
        self,
        req: Request,
        ext: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        match self.retry {
            Some(retry) => {
                let span = retry.span(&req);
                self.run(req, ext, next).instrument(span).await
            }
            None => self.run(req, ext, next).await,
        }
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

    async fn run(
        self,
        mut req: Request,
        ext: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let clock = TokioClock;
        let mut now = clock.now();
        let deadline = ext
            .get::<Deadline>()
            .map(|d| d.0)
            .or_else(|| self.retry.and_then(|r| r.deadline_from(now)));
        let auth = match self.auth.map(|a| a.applies(req.url())) {
            Some(Ok(true)) => self.auth,
            None | Some(Ok(false)) => None,
            Some(Err(refused)) => return self.done(Err(refused.into()), ext, 1, None),
        };
        // A copy is kept for a resend (retry, or the replay after a 401).
        let keep = self.retry.is_some() || auth.is_some();
        let mut retrying = self.retry.map(|r| r.begin(&req));
        let method = req.method().clone();
        let mut number = 0;
        let mut is_replay = false;
        loop {
            number += 1;
            // A stream cannot be copied: it is sent once and its result returned.
            let (mut this, kept) = match keep.then(|| req.try_clone()).flatten() {
                Some(copy) => (copy, Some(req)),
                None => (req, None),
            };
            if let Some(r) = self.retry {
                r.limit_attempt(&mut this, deadline, now);
            }
            let out = self
                .attempt(this, ext, &next, auth, deadline, now, &method)
                .await;
            let mut result = out.result;
            now = out.at;
            if let (Some(a), Some(used), Some(c)) = (auth, out.token, out.seen)
                && c.is_reauth()
                && let Ok(refused) = &mut result
            {
                let fresh = a.refused(used, refused, kept.is_some(), is_replay, deadline);
                if Box::pin(fresh).await
                    && let Some(original) = kept
                {
                    // Resent at once, outside the retry rules: a 401 was not
                    // processed (spec §6), and only once.
                    is_replay = true;
                    req = original;
                    now = clock.now();
                    continue;
                }
            }
            let Some(retrying) = retrying.as_mut() else {
                return result;
            };
            let (Some(c), Some(original)) = (out.seen, kept) else {
                return finish(result, ext, number, out.seen);
            };
            let Some(after) = retrying.decide(&c, &method, number, deadline, now, &result) else {
                return finish(result, ext, number, Some(c));
            };
            drop(result);
            // Boxed: a timer in every request's future would weigh on all.
            Box::pin(clock.sleep(after)).await;
            req = original;
            now = clock.now();
        }
    }

    /// One attempt: through auth, breaker, device gate and pacing (waiting in a
    /// boxed future only when one of them makes it wait), `next`, the
    /// classification, and back.
    #[expect(clippy::too_many_arguments, reason = "one attempt's whole context")]
    async fn attempt(
        self,
        mut req: Request,
        ext: &mut Extensions,
        next: &Next<'_>,
        auth: Option<&AuthMiddleware>,
        deadline: Option<Instant>,
        mut now: Instant,
        method: &http::Method,
    ) -> Outcome {
        let clock = TokioClock;
        let token = match auth {
            None => None,
            Some(a) => match a.attach_fresh(&mut req, now) {
                Some(generation) => Some(generation),
                None => match Box::pin(a.attach(&mut req, deadline)).await {
                    Ok(generation) => {
                        now = clock.now();
                        Some(generation)
                    }
                    Err(e) => return Outcome::refused(e, clock.now()),
                },
            },
        };
        let host = authority(req.url());
        let admitted = match self.breaker.map(|b| b.admit(host, now)) {
            None => None,
            Some(Ok(admitted)) => Some(admitted),
            Some(Err(e)) => return Outcome::refused(e, now),
        };
        let entered = match self.gate.and_then(|g| Some((g, g.device_of(req.url())?))) {
            None => None,
            Some((gate, key)) => match gate.try_enter(key, now) {
                Gate::Entered(entered) => Some(entered),
                Gate::Wait(state, key) => {
                    match Box::pin(gate.enter_waiting(state, key, deadline)).await {
                        Ok(entered) => {
                            now = clock.now();
                            Some(entered)
                        }
                        Err(e) => return Outcome::refused(e, clock.now()),
                    }
                }
            },
        };
        let paced = match self.pacing.map(|p| (p, p.try_pass(host, now))) {
            None => None,
            Some((_, Pass::Paced(paced))) => Some(paced),
            Some((pacing, Pass::Wait(pace))) => {
                match Box::pin(pacing.pass_waiting(host, pace, deadline)).await {
                    Ok(paced) => Some(paced),
                    Err(e) => return Outcome::refused(e, clock.now()),
                }
            }
        };
        let result = next.clone().run(req, ext).await;
        let (result, seen) = match self.classifier() {
            Some((classifier, body_limit)) => observe(classifier, method, result, body_limit).await,
            None => (result, None),
        };
        let at = clock.now();
        if let (Some(pacing), Some(paced)) = (self.pacing, paced) {
            pacing.settle(paced, seen.as_ref(), &result, at);
        }
        if let (Some(gate), Some(entered)) = (self.gate, entered) {
            gate.settle(entered, seen.as_ref());
        }
        if let (Some(breaker), Some(admitted)) = (self.breaker, admitted) {
            breaker.settle(admitted, seen.as_ref(), &result, at);
        }
        Outcome {
            result,
            seen,
            token,
            at,
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
        match self.retry {
            Some(_) => finish(result, ext, attempts, seen),
            None => result,
        }
    }
}

/// Implements `reqwest_middleware::Middleware` for a layer used alone: the
/// driver with just that layer.
macro_rules! middleware {
    ($ty:ty, $field:ident) => {
        #[async_trait::async_trait]
        impl reqwest_middleware::Middleware for $ty {
            async fn handle(
                &self,
                req: reqwest::Request,
                ext: &mut http::Extensions,
                next: reqwest_middleware::Next<'_>,
            ) -> reqwest_middleware::Result<reqwest::Response> {
                let layers = crate::driver::Layers {
                    $field: Some(self),
                    ..crate::driver::Layers::default()
                };
                layers.handle(req, ext, next).await
            }
        }
    };
}

pub(crate) use middleware;
