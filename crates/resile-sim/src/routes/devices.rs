//! `GET /v3/devices`, `GET /v3/devices/{id}`, `POST /v3/devices`.

use http::StatusCode;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::body::{Payload, Reply};
use crate::builder::Config;
use crate::fleet::NotCreated;
use crate::query::param;
use crate::state::Inner;

/// `limit` when the query has none.
const DEFAULT_LIMIT: usize = 50;

/// A page of the device directory.
pub(crate) fn list_devices(inner: &Inner, query: Option<&str>) -> Reply {
    let limit = match param(query, "limit") {
        None => DEFAULT_LIMIT,
        Some(raw) => match raw.trim().parse::<usize>() {
            Ok(n) if (2..=1000).contains(&n) => n,
            _ => return Reply::validation("limit", "must be an integer between 2 and 1000"),
        },
    };
    let after = param(query, "after").filter(|a| !a.is_empty());
    let (data, has_more) = inner.fleet.page(after.as_deref(), limit);
    Reply::json(
        StatusCode::OK,
        json!({
            "object": "list",
            "limit": limit,
            "after": after,
            "order": "ASC",
            "has_more": has_more,
            "total_count": inner.fleet.len(),
            "data": data,
        }),
    )
}

/// One device, or 404 `not_found`.
pub(crate) fn get_device(inner: &Inner, id: &str) -> Reply {
    match inner.fleet.get(id) {
        Some(device) => Reply::json(StatusCode::OK, device),
        None => Reply::error(StatusCode::NOT_FOUND, "not_found", "Device not found."),
    }
}

/// Creates a device from `{"id"?: string, "name": string}`.
pub(crate) fn create_device(inner: &mut Inner, cfg: &Config, body: &[u8], now: Instant) -> Reply {
    let (id, name) = match parse(body) {
        Ok(fields) => fields,
        Err(reply) => return reply,
    };
    let text = String::from_utf8_lossy(body);
    match inner.fleet.create(id, name, &text, cfg.device_cap, now) {
        Ok((device, duplicate)) => {
            inner.stats.devices_created += 1;
            inner.stats.duplicate_creates += u64::from(duplicate);
            Reply::json(StatusCode::CREATED, device)
        }
        Err(NotCreated::Duplicate) => Reply::new(
            StatusCode::CONFLICT,
            Payload::Error {
                kind: "duplicate",
                message: "Conflict. Device already exists.".to_owned(),
                fields: vec![("id".to_owned(), "Device already exists.".to_owned())],
            },
        ),
        Err(NotCreated::Cap) => Reply::error(
            StatusCode::FORBIDDEN,
            "account_limit_exceeded",
            "Forbidden. Limit for the number of devices exceeded.",
        ),
    }
}

fn parse(body: &[u8]) -> Result<(Option<String>, String), Reply> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| Reply::validation("body", "must be a JSON object"))?;
    let object = value
        .as_object()
        .ok_or_else(|| Reply::validation("body", "must be a JSON object"))?;
    let name = match object.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= 128 => s.clone(),
        _ => {
            return Err(Reply::validation(
                "name",
                "must be a string of 1 to 128 characters",
            ));
        }
    };
    let id = match object.get("id") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if is_valid_id(s) => Some(s.clone()),
        Some(_) => {
            return Err(Reply::validation(
                "id",
                "must be 1 to 64 ASCII letters, digits, '-' or '_'",
            ));
        }
    };
    Ok((id, name))
}

fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_good_bodies_and_names_bad_fields() {
        assert_eq!(parse(br#"{"name":"a"}"#).unwrap(), (None, "a".to_owned()));
        assert_eq!(
            parse(br#"{"id":"x-1","name":"a"}"#).unwrap(),
            (Some("x-1".to_owned()), "a".to_owned())
        );
        let field = |body: &[u8]| match parse(body).unwrap_err().payload {
            Payload::Error { fields, .. } => fields[0].0.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(field(b"not json"), "body");
        assert_eq!(field(b"[1]"), "body");
        assert_eq!(field(b"{}"), "name");
        assert_eq!(field(br#"{"name":" "}"#), "name");
        assert_eq!(field(br#"{"name":"a","id":"a/b"}"#), "id");
        assert_eq!(field(br#"{"name":"a","id":7}"#), "id");
    }
}
