//! The inbox's HTML, rendered on the server (no script: every action is a plain form, so the
//! page works with CSP `default-src 'none'`). Every value from a request is escaped.

use std::fmt::Write;

use airlock_approval::{Delivery, Request, State};
use time::OffsetDateTime;

use super::session::Session;
use airlock_approval::view;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: header (who is logged in, log out), then `body`.
pub fn layout(title: &str, session: Option<&Session>, body: &str) -> String {
    let user = session.map_or_else(String::new, |s| {
        format!(
            r#"<form class="logout" method="post" action="/logout"><input type="hidden" name="csrf" value="{csrf}"><span id="who">{who}</span> <button type="submit">Log out</button></form>"#,
            csrf = escape(&s.csrf),
            who = escape(s.identity.as_str()),
        )
    });
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · airlock</title><link rel="stylesheet" href="/static/inbox.css"></head>
<body><header><a class="brand" href="/approvals">airlock approvals</a>{user}</header>
<main>{body}</main></body></html>
"#,
        title = escape(title),
    )
}

pub fn login(next: &str, error: Option<&str>) -> String {
    let error = error.map_or_else(String::new, |e| {
        format!(r#"<p class="error" role="alert">{}</p>"#, escape(e))
    });
    let body = format!(
        r#"<h1>Log in</h1>{error}
<form class="login" method="post" action="/login">
<input type="hidden" name="next" value="{next}">
<label>Identity <input id="identity" name="identity" autocomplete="username" required></label>
<label>API key <input id="key" name="key" type="password" autocomplete="current-password" required></label>
<button id="login" type="submit">Log in</button>
</form>
<p class="hint">Use your airlock identity and one of its API keys (<code>airlock keys create</code>).</p>"#,
        next = escape(next),
    );
    layout("Log in", None, &body)
}

/// The list: pending requests with their full context, then the latest decided ones.
pub fn inbox(session: &Session, requests: &[&Request], now: OffsetDateTime) -> String {
    let pending: Vec<&&Request> = requests
        .iter()
        .filter(|r| matches!(r.state(), State::Pending))
        .collect();
    let mut body = format!(
        "<h1>Pending <span class=\"count\">{}</span></h1>",
        pending.len()
    );
    if pending.is_empty() {
        body.push_str(r#"<p class="empty">Nothing waits for a decision.</p>"#);
    }
    for request in pending {
        body.push_str(&card(session, request, now, true));
    }
    body.push_str("<h2>History</h2>");
    let decided: Vec<&&Request> = requests
        .iter()
        .filter(|r| !matches!(r.state(), State::Pending))
        .take(100)
        .collect();
    if decided.is_empty() {
        body.push_str(r#"<p class="empty">No decided requests yet.</p>"#);
    } else {
        body.push_str(
            "<table class=\"history\"><thead><tr><th>Request</th><th>Requester</th>\
             <th>Connection</th><th>Statement</th><th>Outcome</th><th>Asked</th></tr></thead><tbody>",
        );
        for r in decided {
            let _ = write!(
                body,
                r#"<tr><td><a href="/approvals/{id}">{id}</a></td><td>{who}</td><td>{conn}</td><td>{kinds}</td><td class="state-{state}">{status}</td><td>{age} ago</td></tr>"#,
                id = r.id(),
                who = escape(&view::requester(r)),
                conn = escape(r.connection().as_str()),
                kinds = escape(&view::kinds(r)),
                state = state_class(r),
                status = escape(&view::status(r)),
                age = view::age(r.created_at(), now),
            );
        }
        body.push_str("</tbody></table>");
    }
    layout("Approvals", Some(session), &body)
}

/// One request on its own page, with its votes and notices.
pub fn detail(
    session: &Session,
    request: &Request,
    now: OffsetDateTime,
    error: Option<&str>,
) -> String {
    let mut body = String::new();
    if let Some(error) = error {
        let _ = write!(
            body,
            r#"<p class="error" role="alert">{}</p>"#,
            escape(error)
        );
    }
    body.push_str(&card(session, request, now, false));
    if !request.notices().is_empty() {
        body.push_str("<h2>Notices</h2><ul class=\"notices\">");
        for notice in request.notices() {
            let outcome = match &notice.delivery {
                Delivery::Delivered { .. } => "delivered".to_owned(),
                Delivery::Failed { error } => format!("failed: {error}"),
            };
            let _ = write!(
                body,
                "<li>{} · {} · {}</li>",
                notice.channel.as_str(),
                view::when(notice.at),
                escape(&outcome)
            );
        }
        body.push_str("</ul>");
    }
    body.push_str(r#"<p><a href="/approvals">← all requests</a></p>"#);
    layout(&format!("Request {}", request.id()), Some(session), &body)
}

/// A request's context: who, where, what (highlighted), why, how big, since when; and, while
/// it is pending and the viewer is not the requester, the decision form.
fn card(session: &Session, request: &Request, now: OffsetDateTime, link: bool) -> String {
    let id = request.id();
    let context = request.context();
    let title = if link {
        format!(r#"<a href="/approvals/{id}">{id}</a>"#)
    } else {
        id.to_string()
    };
    let mut html = format!(
        r#"<article class="request" id="{id}" data-state="{state}">
<h3>{title} <span class="state state-{state}">{status}</span></h3>
<dl>
<dt>Requester</dt><dd class="requester">{who}</dd>
<dt>Connection</dt><dd class="connection">{conn}</dd>
<dt>Rule</dt><dd class="rule"><code>{rule}</code> {message}</dd>
<dt>Statement</dt><dd class="kinds">{kinds}</dd>
<dt>Objects</dt><dd class="objects">{objects}</dd>
<dt>Estimated rows</dt><dd class="rows">{rows}</dd>
<dt>Approvers</dt><dd class="approvers">{approvers}</dd>
<dt>Asked</dt><dd class="age">{age} ago ({created})</dd>
<dt>Expires</dt><dd>{expires}</dd>
</dl>
<pre class="sql"><code>{sql}</code></pre>
"#,
        state = state_class(request),
        status = escape(&view::status(request)),
        who = escape(&view::requester(request)),
        conn = escape(request.connection().as_str()),
        rule = escape(context.rule.as_str()),
        message = escape(&context.message),
        kinds = escape(&view::kinds(request)),
        objects = escape(&view::objects(request)),
        rows = escape(&view::rows(request)),
        approvers = escape(&view::approvers(request)),
        age = view::age(request.created_at(), now),
        created = view::when(request.created_at()),
        expires = view::when(request.expires_at()),
        sql = highlight(request.text()),
    );
    if !request.approvals().is_empty() {
        html.push_str("<ul class=\"votes\">");
        for vote in request.approvals() {
            let _ = write!(
                html,
                "<li>approved by <b>{}</b> via {} at {}{}</li>",
                escape(vote.voter.id.as_str()),
                vote.channel.as_str(),
                view::when(vote.at),
                vote.reason
                    .as_deref()
                    .map_or_else(String::new, |r| format!(": {}", escape(r)))
            );
        }
        html.push_str("</ul>");
    }
    let own = request.requester().id == session.identity;
    if matches!(request.state(), State::Pending) {
        if own {
            html.push_str(
                r#"<p class="hint">This is your own request: someone else decides it.</p>"#,
            );
        } else {
            let required = if request.approval().require_reason {
                " required"
            } else {
                ""
            };
            let _ = write!(
                html,
                r#"<form class="vote" method="post" action="/approvals/{id}/vote">
<input type="hidden" name="csrf" value="{csrf}">
<label>Reason{note} <input class="reason" name="reason" maxlength="2000"{required}></label>
<button class="approve" name="choice" value="approve" type="submit">Approve</button>
<button class="deny" name="choice" value="deny" type="submit">Deny</button>
</form>"#,
                csrf = escape(&session.csrf),
                note = if required.is_empty() {
                    " (optional)"
                } else {
                    " (required by the rule)"
                },
            );
        }
    }
    html.push_str("</article>");
    html
}

fn state_class(request: &Request) -> &'static str {
    match request.state() {
        State::Pending => "pending",
        State::Approved { .. } => "approved",
        State::Denied { .. } => "denied",
        State::Expired { .. } => "expired",
        State::Withdrawn { .. } => "withdrawn",
        State::Executed { .. } => "executed",
    }
}

/// SQL as escaped HTML with keywords, strings, numbers and comments in spans. A display aid
/// only: it never decides anything (the real parser does).
pub fn highlight(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() * 2);
    let chars: Vec<char> = sql.chars().collect();
    let mut i = 0;
    let take_while = |start: usize, pred: &dyn Fn(char) -> bool| -> usize {
        let mut end = start;
        while chars.get(end).is_some_and(|c| pred(*c)) {
            end += 1;
        }
        end
    };
    let text = |from: usize, to: usize| -> String {
        chars.get(from..to).unwrap_or_default().iter().collect()
    };
    while let Some(&c) = chars.get(i) {
        let next = chars.get(i + 1).copied();
        let (end, class) = if c == '-' && next == Some('-') {
            (take_while(i, &|c| c != '\n'), Some("cm"))
        } else if c == '/' && next == Some('*') {
            let mut end = i + 2;
            while end < chars.len()
                && !(chars.get(end) == Some(&'*') && chars.get(end + 1) == Some(&'/'))
            {
                end += 1;
            }
            ((end + 2).min(chars.len()), Some("cm"))
        } else if c == '\'' {
            let mut end = i + 1;
            while let Some(&d) = chars.get(end) {
                end += 1;
                if d == '\'' {
                    if chars.get(end) == Some(&'\'') {
                        end += 1;
                    } else {
                        break;
                    }
                }
            }
            (end, Some("str"))
        } else if c.is_ascii_digit() {
            (
                take_while(i, &|c| c.is_ascii_alphanumeric() || c == '.'),
                Some("num"),
            )
        } else if c.is_alphabetic() || c == '_' {
            let end = take_while(i, &|c| c.is_alphanumeric() || c == '_' || c == '$');
            let word = text(i, end).to_ascii_uppercase();
            (
                end,
                KEYWORDS
                    .binary_search(&word.as_str())
                    .is_ok()
                    .then_some("kw"),
            )
        } else {
            (i + 1, None)
        };
        let piece = escape(&text(i, end.max(i + 1)));
        match class {
            Some(class) => {
                let _ = write!(out, r#"<span class="{class}">{piece}</span>"#);
            }
            None => out.push_str(&piece),
        }
        i = end.max(i + 1);
    }
    out
}

/// Sorted, for binary search.
const KEYWORDS: &[&str] = &[
    "ADD", "ALL", "ALTER", "AND", "AS", "ASC", "BEGIN", "BETWEEN", "BY", "CASCADE", "CASE",
    "COLUMN", "COMMIT", "COPY", "CREATE", "DATABASE", "DELETE", "DESC", "DISTINCT", "DO", "DROP",
    "ELSE", "END", "EXISTS", "FROM", "FUNCTION", "GRANT", "GROUP", "HAVING", "IF", "IN", "INDEX",
    "INSERT", "INTO", "IS", "JOIN", "LEFT", "LIKE", "LIMIT", "NOT", "NULL", "ON", "OR", "ORDER",
    "OWNER", "PRIMARY", "REVOKE", "ROLE", "ROLLBACK", "SCHEMA", "SELECT", "SET", "TABLE", "THEN",
    "TO", "TRUNCATE", "UNION", "UPDATE", "USER", "USING", "VALUES", "VIEW", "WHEN", "WHERE",
    "WITH",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_are_sorted_for_binary_search() {
        assert!(KEYWORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn highlighting_escapes_and_marks() {
        let html = highlight("DELETE FROM t WHERE name = '<b>''x' -- why\n/* a */ AND id > 10");
        assert!(
            html.starts_with(r#"<span class="kw">DELETE</span> <span class="kw">FROM</span> t"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<span class="str">&#39;&lt;b&gt;&#39;&#39;x&#39;</span>"#),
            "{html}"
        );
        assert!(html.contains(r#"<span class="cm">-- why</span>"#), "{html}");
        assert!(
            html.contains(r#"<span class="cm">/* a */</span>"#),
            "{html}"
        );
        assert!(
            html.contains("&gt; <span class=\"num\">10</span>"),
            "{html}"
        );
        assert!(!html.contains("<b>"));
        // Unterminated strings and comments end with the text.
        assert!(highlight("select 'abc").ends_with(r#"<span class="str">&#39;abc</span>"#));
        assert!(highlight("/* open").ends_with(r#"<span class="cm">/* open</span>"#));
        assert_eq!(highlight("é"), "é");
    }

    #[test]
    fn escape_covers_attribute_quotes() {
        assert_eq!(
            escape(r#"<a href="x">'&'"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;"
        );
    }
}
