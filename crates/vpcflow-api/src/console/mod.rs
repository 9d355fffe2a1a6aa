//! The console: a web UI under `/ui` on the API's port (`vpcflow up`; off with `--no-console`).
//! Owns its pages ([`PAGES`]), its embedded assets ([`assets`]), its sign-in sessions and the
//! two ways its pages read:
//!
//! * `POST /ui/aws`: an AWS request exactly as the SDKs send it (EC2's form, CloudWatch Logs'
//!   and CloudWatch's JSON with `X-Amz-Target`), answered by the same handlers as the API, for
//!   the session's account instead of a signature. The console's flow logs, Insights queries,
//!   log groups, alarms and metric data are AWS's own answers (AWS's API reference documents
//!   them).
//! * `/ui/api/…`: the views AWS has no action for (the map, an ENI's verdicts, the policy
//!   flowchart, findings, delivery health, the month's cost, SQL, the sample queries), each a
//!   call of the library service that owns it ([`views`]; `docs/console.md` documents the JSON).
//!
//! A session is made by `POST /ui/login` with an access key and its secret, checked against
//! the API's credentials; its cookie is `HttpOnly` and `SameSite=Strict`, and every request that
//! acts (`POST`) must also carry `X-Vpcflow-Console: 1`, which no other site's form can send.

pub mod assets;
pub mod views;

use std::collections::HashMap;
use std::sync::Mutex;

use crate::reply::Reply;
use crate::server::{Api, Incoming};
use crate::sigv4::{Caller, header, same_bytes};

/// The console's pages: path under `/ui/`, and the title the navigation bar shows.
pub const PAGES: &[(&str, &str)] = &[
    ("overview", "Overview"),
    ("map", "Network map"),
    ("flow-logs", "Flow logs"),
    ("insights", "Logs Insights"),
    ("alarms", "Alarms and findings"),
    ("diagnose", "Diagnose"),
];

/// The overview's Insights queries over the flow logs' log groups, by the panel they fill. The
/// page runs them through StartQuery, so its numbers are the API's for the same range.
pub const OVERVIEW: &[(&str, &str)] = &[
    (
        "perMinute",
        "stats count(*) as records by bin(1m) as minute, action | sort minute asc",
    ),
    (
        "topTalkers",
        "stats sum(bytes) as bytes by srcAddr, dstAddr | sort bytes desc | limit 10",
    ),
    (
        "rejectedPorts",
        "filter action = \"REJECT\" | stats count(*) as rejects by dstPort | sort rejects desc | limit 10",
    ),
    (
        "rejectedSources",
        "filter action = \"REJECT\" | stats count(*) as rejects by srcAddr | sort rejects desc | limit 10",
    ),
];

/// The session cookie's name.
const COOKIE: &str = "vpcflow_session";
/// How long a session lasts without use.
const SESSION_MS: u64 = 12 * 3600 * 1000;
/// The header every acting request carries.
const ACTING_HEADER: &str = "x-vpcflow-console";

/// The console's state: what it reads beyond the API's services, and its sessions.
pub struct Console {
    /// The data directory (records, findings, buckets, the SQL catalog).
    pub data: vpcflow_store::DataDir,
    /// Where queries run.
    pub runtime: tokio::runtime::Handle,
    sessions: Mutex<HashMap<String, Session>>,
}

struct Session {
    caller: Caller,
    used_ms: u64,
}

impl Console {
    /// A console over `data`, its queries run on `runtime`.
    pub fn new(data: vpcflow_store::DataDir, runtime: tokio::runtime::Handle) -> Console {
        Console {
            data,
            runtime,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The caller of a request's session cookie, if it is live (its use renews it).
    fn caller(&self, headers: &[(&str, &str)], now_ms: u64) -> Option<Caller> {
        let token = session_token(headers)?;
        let mut sessions = self.sessions();
        sessions.retain(|_, s| s.used_ms + SESSION_MS > now_ms);
        let s = sessions.get_mut(token)?;
        s.used_ms = now_ms;
        Some(s.caller.clone())
    }
}

/// Whether a path is the console's.
pub fn is_console_path(path: &str) -> bool {
    path == "/ui" || path.starts_with("/ui/")
}

/// The session token a request's `Cookie` header carries.
fn session_token<'h>(headers: &[(&'h str, &'h str)]) -> Option<&'h str> {
    headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// A JSON answer.
pub(crate) fn json(status: u16, value: &serde_json::Value) -> Reply {
    Reply::new(status, "application/json", value.to_string())
}

/// A JSON error: `{"code": …, "message": …}`.
pub(crate) fn error(status: u16, code: &str, message: impl Into<String>) -> Reply {
    json(
        status,
        &serde_json::json!({"code": code, "message": message.into()}),
    )
}

fn redirect(to: &str) -> Reply {
    let mut r = Reply::new(302, "text/plain; charset=utf-8", format!("see {to}\n"));
    r.headers.push(("location", to.to_owned()));
    r
}

/// Answers a console request (blocking: the stores are SQLite).
pub(crate) fn handle(api: &Api, console: &Console, req: &Incoming, id: &str) -> Reply {
    let headers: Vec<(&str, &str)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let now_ms = api.clock.now_ms();
    let path = req.path.trim_end_matches('/');
    let method = req.method.as_str();
    if let Some(name) = path.strip_prefix("/ui/assets/") {
        return assets::serve(name);
    }
    match (method, path) {
        ("GET", "/ui") => return redirect("/ui/overview"),
        ("GET", "/ui/login") => return assets::page(),
        ("POST", "/ui/login") => return login(api, console, &req.body, now_ms),
        _ => {}
    }
    if method == "GET" && PAGES.iter().any(|(p, _)| path == format!("/ui/{p}")) {
        return assets::page();
    }
    let caller = console.caller(&headers, now_ms);
    let acting = method != "GET";
    let Some(caller) = caller else {
        // Whether one is signed in is an answer, not a failure (the pages ask it first).
        if (method, path) == ("GET", "/ui/api/session") {
            return json(200, &serde_json::json!({"signedIn": false}));
        }
        return error(
            401,
            "NotSignedIn",
            "Sign in with an access key and its secret.",
        );
    };
    if acting && header(&headers, ACTING_HEADER) != Some("1") {
        return error(
            403,
            "MissingConsoleHeader",
            "Requests that act carry X-Vpcflow-Console: 1 (the console's pages send it).",
        );
    }
    match (method, path) {
        ("POST", "/ui/logout") => {
            if let Some(t) = session_token(&headers) {
                console.sessions().remove(t);
            }
            let mut r = json(200, &serde_json::json!({}));
            r.headers.push(("set-cookie", cookie("", 0)));
            r
        }
        ("POST", "/ui/aws") => aws(api, &caller, req, &headers, id),
        _ => match path.strip_prefix("/ui/api/") {
            Some(view) => views::answer(api, console, &caller, method, view, req, now_ms),
            None => error(404, "NotFound", format!("{method} {path}: no such page")),
        },
    }
}

fn cookie(token: &str, max_age_s: u64) -> String {
    format!("{COOKIE}={token}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={max_age_s}")
}

/// `POST /ui/login` with `{"accessKeyId", "secretAccessKey"}`: a session for the key's account
/// when the secret is its own (with `--insecure-any-credentials`, any key, as the API lets in).
fn login(api: &Api, console: &Console, body: &[u8], now_ms: u64) -> Reply {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Login {
        access_key_id: String,
        secret_access_key: String,
    }
    let Ok(l) = serde_json::from_slice::<Login>(body) else {
        return error(
            400,
            "BadRequest",
            "Expected JSON with accessKeyId and secretAccessKey.",
        );
    };
    let account = if api.auth.any_credentials {
        // As the API lets unverified keys in.
        Some(crate::sigv4::unverified_account(
            &l.access_key_id,
            &api.auth.default_account,
        ))
    } else {
        api.auth
            .credentials
            .iter()
            .find(|c| {
                c.access_key_id == l.access_key_id
                    && same_bytes(
                        c.secret_access_key.as_bytes(),
                        l.secret_access_key.as_bytes(),
                    )
            })
            .map(|c| c.account_id.clone())
    };
    let Some(account_id) = account else {
        return error(
            401,
            "InvalidClientTokenId",
            "The access key and secret do not match any credentials of this vpcflow.",
        );
    };
    let Some(token) = new_token() else {
        return error(500, "InternalError", "No random numbers for a session.");
    };
    console.sessions().insert(
        token.clone(),
        Session {
            caller: Caller {
                access_key_id: l.access_key_id,
                account_id: account_id.clone(),
                region: String::new(),
                service: String::new(),
            },
            used_ms: now_ms,
        },
    );
    let mut r = json(200, &serde_json::json!({"accountId": account_id}));
    r.headers
        .push(("set-cookie", cookie(&token, SESSION_MS / 1000)));
    r
}

fn new_token() -> Option<String> {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 32];
    ring::rand::SystemRandom::new().fill(&mut b).ok()?;
    Some(hex::encode(b))
}

/// `POST /ui/aws`: an AWS request, answered as the API answers it, for the session's account.
/// S3 and Firehose are not among them (the console does not call them).
fn aws(api: &Api, caller: &Caller, req: &Incoming, headers: &[(&str, &str)], id: &str) -> Reply {
    use crate::route::{Protocol, route};
    let protocol = route("POST", "/", headers, &req.body);
    match protocol {
        Protocol::Ec2 | Protocol::Logs(_) | Protocol::CloudWatchJson(_) | Protocol::Sts => {
            crate::server::answer(api, &protocol, caller, req, id)
        }
        other => error(
            400,
            "UnsupportedService",
            format!("The console does not call {}.", other.service()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = [("Cookie", "a=1; vpcflow_session=abc; b=2")];
        assert_eq!(session_token(&h), Some("abc"));
        assert_eq!(session_token(&[("cookie", "vpcflow_sessionx=1")]), None);
        assert_eq!(session_token(&[("accept", "*/*")]), None);
    }

    proptest::proptest! {
        /// Any Cookie header reads without a panic, and the session's token is found among any
        /// other cookies, wherever it stands.
        #[test]
        fn the_token_is_found_among_any_cookies(
            before in proptest::collection::vec("[a-z]{1,8}=[^;]{0,12}", 0..4),
            after in proptest::collection::vec("[a-z]{1,8}=[^;]{0,12}", 0..4),
            token in "[0-9a-f]{64}",
            noise in ".{0,80}",
        ) {
            let _ = session_token(&[("cookie", noise.as_str())]);
            let mut all = before.clone();
            all.push(format!("{COOKIE}={token}"));
            all.extend(after);
            let header = all.join("; ");
            proptest::prop_assert_eq!(session_token(&[("Cookie", header.as_str())]), Some(token.as_str()));
        }
    }

    #[test]
    fn console_paths() {
        for (p, yes) in [
            ("/ui", true),
            ("/ui/overview", true),
            ("/uix", false),
            ("/", false),
        ] {
            assert_eq!(is_console_path(p), yes, "{p}");
        }
    }
}
