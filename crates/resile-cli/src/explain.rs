//! `resile explain`: the action table for humans (or as JSON).

use std::process::ExitCode;

use resile_policy::classify::ACTION_TABLE;
use serde_json::json;

use crate::output;

/// Arguments of `resile explain`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Print the table as a JSON array instead.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: &Args) -> anyhow::Result<ExitCode> {
    if args.json {
        let rows: Vec<_> = ACTION_TABLE
            .iter()
            .map(|r| {
                json!({
                    "status": r.status, "body": r.body, "class": r.class.as_str(),
                    "scope": r.scope.as_str(), "reason": r.reason.map(|x| x.as_str()),
                    "action": r.action, "source": r.source,
                })
            })
            .collect();
        output::line(&serde_json::Value::Array(rows).to_string());
        return Ok(ExitCode::SUCCESS);
    }
    output::line(
        "How resile classifies Device Management API outcomes (status first; the body refines).",
    );
    output::line("");
    let head = format!(
        "{:<15} {:<26} {:<22} {:<22} {}",
        "STATUS", "CLASS / SCOPE", "REASON", "SOURCE", "BODY -> ACTION"
    );
    output::line(&head);
    for r in ACTION_TABLE {
        let verdict = format!("{} / {}", r.class, r.scope);
        let reason = r.reason.map_or("-", |x| x.as_str());
        output::line(&format!(
            "{:<15} {:<26} {:<22} {:<22} {}",
            r.status, verdict, reason, r.source, r.body
        ));
        output::line(&format!("{:<88} -> {}", "", r.action));
    }
    Ok(ExitCode::SUCCESS)
}
