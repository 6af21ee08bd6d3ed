//! `resile classify`: one outcome in, one JSON object out.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, Method, Uri};
use resile_policy::classify::{BODY_PREFIX_LIMIT, Input, Outcome, Transport};
use resile_policy::{Clock, SystemClock};
use serde_json::{Map, Value, json};

use crate::output;

/// Arguments of `resile classify`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["status", "transport"])))]
pub(crate) struct Args {
    /// The response status (any number; 0 and 600+ are classified too).
    #[arg(long)]
    status: Option<u16>,
    /// A transport failure instead of a response.
    #[arg(long, value_parser = ["connect", "timeout", "reset"])]
    transport: Option<String>,
    /// The request method.
    #[arg(long, default_value = "GET")]
    method: String,
    /// The request URL (or just its path).
    #[arg(long)]
    url: String,
    /// A response header, `Name: value`; repeatable.
    #[arg(long = "header", short = 'H')]
    headers: Vec<String>,
    /// The response body.
    #[arg(long, conflicts_with = "body_file")]
    body: Option<String>,
    /// Read the response body from a file, or `-` for stdin (first 64 KiB).
    #[arg(long)]
    body_file: Option<PathBuf>,
    /// The body broke off after the headers.
    #[arg(long)]
    incomplete: bool,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let method: Method = args
        .method
        .to_ascii_uppercase()
        .parse()
        .with_context(|| format!("--method {:?} is not an HTTP method", args.method))?;
    let uri: Uri = args
        .url
        .parse()
        .with_context(|| format!("--url {:?} is not a URL", args.url))?;
    let path = uri.path();
    let headers = parse_headers(&args.headers)?;
    let body = read_body(args)?;
    let wall = SystemClock.wall();

    let input = match (&args.transport, args.status) {
        (Some(t), _) => Input::transport(&method, path, t.parse::<Transport>()?),
        (None, Some(status)) => {
            let input = Input::response(&method, path, status, &headers, &body).at(wall);
            if args.incomplete {
                input.body_incomplete()
            } else {
                input
            }
        }
        (None, None) => bail!("give --status or --transport"),
    };
    let outcome = resile_policy::classify::classify(&input);
    output::line(&to_json(&outcome, &method, &headers).to_string());
    Ok(ExitCode::SUCCESS)
}

fn parse_headers(raw: &[String]) -> anyhow::Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    for h in raw {
        let Some((name, value)) = h.split_once(':') else {
            bail!("--header {h:?} must look like `Name: value`");
        };
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .with_context(|| format!("--header {h:?}: bad header name"))?;
        let value = HeaderValue::from_str(value.trim())
            .with_context(|| format!("--header {h:?}: bad header value"))?;
        headers.append(name, value);
    }
    Ok(headers)
}

fn read_body(args: &Args) -> anyhow::Result<Vec<u8>> {
    let limit = BODY_PREFIX_LIMIT as u64;
    let mut body = Vec::new();
    match (&args.body, &args.body_file) {
        (Some(b), _) => body.extend_from_slice(b.as_bytes()),
        (None, Some(p)) if p.as_os_str() == "-" => {
            std::io::stdin()
                .take(limit)
                .read_to_end(&mut body)
                .context("reading the body from stdin")?;
        }
        (None, Some(p)) => {
            std::fs::File::open(p)
                .and_then(|f| f.take(limit).read_to_end(&mut body))
                .with_context(|| format!("reading --body-file {}", p.display()))?;
        }
        (None, None) => {}
    }
    body.truncate(BODY_PREFIX_LIMIT);
    Ok(body)
}

/// The contract: `class`, `scope`, `reason`, `retry_after_ms`, `error_type`,
/// `request_id`, `action`, then extra detail. Absent values are `null`.
fn to_json(o: &Outcome<'_>, method: &Method, headers: &HeaderMap) -> Value {
    let c = o.classification();
    let has_key = headers.contains_key("idempotency-key");
    let mut m = Map::new();
    m.insert("class".into(), json!(c.class().as_str()));
    m.insert("scope".into(), json!(c.scope().as_str()));
    m.insert("reason".into(), json!(c.reason().map(|r| r.as_str())));
    m.insert(
        "retry_after_ms".into(),
        json!(
            c.retry_after()
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        ),
    );
    m.insert("error_type".into(), json!(o.error_type()));
    m.insert("request_id".into(), json!(o.request_id()));
    m.insert("action".into(), json!(c.advice()));
    m.insert("status".into(), json!(c.status()));
    m.insert("dialect".into(), json!(c.dialect().map(|d| d.as_str())));
    m.insert("token".into(), json!(o.token()));
    m.insert("device_id".into(), json!(o.device_id()));
    m.insert("message".into(), json!(o.message()));
    let fields: Vec<Value> = o
        .fields()
        .iter()
        .map(|f| json!({"name": f.name.as_deref(), "message": f.message.as_deref()}))
        .collect();
    m.insert("fields".into(), Value::Array(fields));
    m.insert("may_replay".into(), json!(c.may_replay(method, has_key)));
    Value::Object(m)
}
