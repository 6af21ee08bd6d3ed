//! The simulator's own routes: `POST /__sim/token`, `GET /__sim/stats`.

use http::StatusCode;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::auth::Denied;
use crate::body::Reply;
use crate::builder::Config;
use crate::state::Inner;

/// Issues an access token (checking the client secret, when one is configured).
pub(crate) fn issue_token(inner: &mut Inner, cfg: &Config, body: &[u8], now: Instant) -> Reply {
    if let Some(secret) = &cfg.client_secret {
        let given = serde_json::from_slice::<Value>(body).ok();
        let given = given
            .as_ref()
            .and_then(|v| v.get("client_secret"))
            .and_then(Value::as_str);
        if given != Some(secret.as_str()) {
            return Denied::Auth.reply();
        }
    }
    let token = inner.tokens.issue(cfg.seed, now);
    inner.stats.tokens_issued += 1;
    Reply::json(
        StatusCode::OK,
        json!({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": cfg.token_ttl.map(|t| t.as_secs() + u64::from(t.subsec_nanos() > 0)),
        }),
    )
}

/// The stats as JSON.
pub(crate) fn stats_reply(inner: &Inner, now: Instant) -> Reply {
    let stats = serde_json::to_value(inner.snapshot(now)).unwrap_or(Value::Null);
    Reply::json(StatusCode::OK, stats)
}
