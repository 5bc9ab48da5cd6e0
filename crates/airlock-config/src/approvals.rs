//! The `[approvals]` table: how a reviewed statement waits (hold or retry), how long requests
//! and grants live, and where the web inbox is.

use std::path::Path;
use std::time::Duration;

use toml::Table;

use crate::Problem;
use crate::fields::Fields;
use crate::model::{ApprovalMode, ApprovalsConfig};
use crate::notify;

const DEFAULT_REQUEST_TTL_S: i64 = 3_600;
const DEFAULT_GRANT_TTL_S: i64 = 900;
const DEFAULT_HOLD_TIMEOUT_S: i64 = 600;
const DEFAULT_NOTICE_INTERVAL_S: i64 = 30;
/// A week: longer-lived requests and grants stop meaning "this change, now".
const MAX_TTL_S: i64 = 7 * 24 * 3_600;

pub(crate) fn approvals_config(
    table: Table,
    base: &Path,
    problems: &mut Vec<Problem>,
) -> ApprovalsConfig {
    let mut f = Fields::new("approvals", table, problems);
    let mode = mode(&mut f, "mode").unwrap_or(ApprovalMode::Hold);
    let request_ttl = seconds(&mut f, "request_ttl_seconds", DEFAULT_REQUEST_TTL_S);
    let grant_ttl = seconds(&mut f, "grant_ttl_seconds", DEFAULT_GRANT_TTL_S);
    let hold_timeout = seconds(&mut f, "hold_timeout_seconds", DEFAULT_HOLD_TIMEOUT_S);
    let notice_interval = seconds(&mut f, "notice_interval_seconds", DEFAULT_NOTICE_INTERVAL_S);
    let inbox_url = f
        .string("inbox_url")
        .map(|url| url.trim_end_matches('/').to_owned());
    if let Some(url) = &inbox_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        f.problem(
            "inbox_url",
            format!("`{url}` is not an http(s) URL such as `https://airlock.example.com`"),
        );
    }
    let slack = f.table("slack");
    let teams = f.table("teams");
    let webhooks = f.tables("webhooks");
    f.finish();
    let slack = slack.and_then(|t| notify::slack(t, base, problems));
    let teams = teams.and_then(|t| notify::teams(t, base, problems));
    let webhooks = webhooks
        .into_iter()
        .enumerate()
        .filter_map(|(i, t)| notify::webhook(format!("approvals.webhooks[{i}]"), t, base, problems))
        .collect();
    ApprovalsConfig {
        mode,
        request_ttl,
        grant_ttl,
        hold_timeout,
        notice_interval,
        inbox_url,
        slack,
        teams,
        webhooks,
    }
}

/// `hold` or `retry` under `key`, `None` when absent (or wrong, with a problem recorded).
pub(crate) fn mode(f: &mut Fields<'_>, key: &str) -> Option<ApprovalMode> {
    match f.string(key).as_deref() {
        None => None,
        Some("hold") => Some(ApprovalMode::Hold),
        Some("retry") => Some(ApprovalMode::Retry),
        Some(other) => {
            f.problem(
                key,
                format!(
                    "unknown approval mode `{other}`; use `hold` (the statement waits in the \
                     session) or `retry` (it fails with the request id and runs when sent again \
                     after approval)"
                ),
            );
            None
        }
    }
}

fn seconds(f: &mut Fields<'_>, key: &str, default: i64) -> Duration {
    let value = f.integer(key).unwrap_or(default);
    if !(1..=MAX_TTL_S).contains(&value) {
        f.problem(
            key,
            format!("must be between 1 and {MAX_TTL_S} (a week), got {value}"),
        );
    }
    Duration::from_secs(u64::try_from(value.clamp(1, MAX_TTL_S)).unwrap_or(1))
}
