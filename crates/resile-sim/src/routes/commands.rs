//! `POST /v2/device-requests/{device-id}?async-id=..`: queue a command for a device.
//!
//! Errors use Connect's plain-text tokens: `MALFORMED_ASYNC_ID`, `MALFORMED_JSON_CONTENT`,
//! `DEVICE_NOT_FOUND` (404), `DEVICE_NOT_CONNECTED` (or a 502 page, per [`Offline`]) and
//! `QUEUE_IS_FULL`. Success is 202 with an empty body.

use http::StatusCode;
use serde_json::Value;
use tokio::time::Instant;

use crate::Offline;
use crate::body::{Payload, Reply};
use crate::builder::Config;
use crate::fleet::Refused;
use crate::query::param;
use crate::state::Inner;

/// Queues a command, or says why not.
pub(crate) fn enqueue(
    inner: &mut Inner,
    cfg: &Config,
    device: &str,
    query: Option<&str>,
    body: &[u8],
    now: Instant,
) -> Reply {
    let bad = |token| Reply::token(StatusCode::BAD_REQUEST, token);
    let Some(async_id) = param(query, "async-id").filter(|a| is_valid_async_id(a)) else {
        return bad("MALFORMED_ASYNC_ID");
    };
    if !matches!(serde_json::from_slice::<Value>(body), Ok(Value::Object(_))) {
        return bad("MALFORMED_JSON_CONTENT");
    }
    match inner.fleet.enqueue(device, &async_id, now) {
        Ok(queued) => {
            let stats = &mut inner.stats;
            stats.commands_accepted += 1;
            stats.duplicate_commands += u64::from(queued.duplicate);
            stats.max_queue_depth = stats.max_queue_depth.max(queued.depth);
            Reply::new(StatusCode::ACCEPTED, Payload::Empty)
        }
        Err(Refused::NotFound) => Reply::token(StatusCode::NOT_FOUND, "DEVICE_NOT_FOUND"),
        Err(Refused::Offline) => match cfg.offline_mode {
            Offline::Gateway => Reply::html(StatusCode::BAD_GATEWAY),
            Offline::NotConnected => bad("DEVICE_NOT_CONNECTED"),
        },
        Err(Refused::Full) => {
            inner.stats.queue_full += 1;
            bad("QUEUE_IS_FULL")
        }
    }
}

/// 1 to 256 printable ASCII characters.
fn is_valid_async_id(id: &str) -> bool {
    (1..=256).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn async_ids_must_be_short_printable_ascii() {
        assert!(is_valid_async_id("7f1e-aa"));
        assert!(!is_valid_async_id(""));
        assert!(!is_valid_async_id("a b"));
        assert!(!is_valid_async_id("é"));
        assert!(!is_valid_async_id(&"a".repeat(257)));
    }
}
