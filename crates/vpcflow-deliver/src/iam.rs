//! IAM roles as far as flow logs need them: a role's trust policy and inline policies, the
//! checks IAM makes of the requests that write them (names, JSON documents), and whether a role
//! lets flow logs deliver to a log group: `vpc-flow-logs.amazonaws.com` may assume it, and its
//! policies allow `logs:CreateLogStream` and `logs:PutLogEvents` there. AWS answers a role that
//! does not do both with `DeliverLogsStatus` FAILED, "Access error", and delivers nothing.
//!
//! Pure: the store keeps roles (`State::roles`), the API speaks IAM's query protocol.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The service principal flow logs assume a delivery role as.
pub const FLOW_LOGS_PRINCIPAL: &str = "vpc-flow-logs.amazonaws.com";
/// What flow logs do in a log group with the role.
pub const DELIVERY_ACTIONS: &[&str] = &["logs:CreateLogStream", "logs:PutLogEvents"];
/// AWS's `DeliverLogsErrorMessage` for a role flow logs cannot use.
pub const ACCESS_ERROR: &str = "Access error";

/// A role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    /// Its account.
    pub account: String,
    /// `RoleName`.
    pub name: String,
    /// `Path` (`/` by default).
    pub path: String,
    /// `RoleId` (`AROA…`).
    pub id: String,
    /// `AssumeRolePolicyDocument`, as given.
    pub trust: String,
    /// `Description`.
    pub description: Option<String>,
    /// `MaxSessionDuration` (s).
    pub max_session: u32,
    /// When it was made (ms).
    pub created_ms: u64,
    /// Inline policies by name, each document as given.
    pub policies: BTreeMap<String, String>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

impl Role {
    /// `arn:aws:iam::ACCOUNT:role/PATHNAME`.
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:iam::{}:role{}{}",
            self.account, self.path, self.name
        )
    }
}

/// The delivery role AWS's flow-logs guide describes, named by `arn` (`arn:aws:iam::ACCOUNT:role
/// /PATH/NAME`): trusting `vpc-flow-logs.amazonaws.com`, allowed `logs:*` on every log group.
/// `None` when `arn` names no role.
pub fn delivery_role(arn: &str, now_ms: u64) -> Option<Role> {
    let (account, path_name) = arn
        .strip_prefix("arn:aws:iam::")
        .and_then(|r| r.split_once(":role"))?;
    let i = path_name.rfind('/')?;
    let (path, name) = (&path_name[..=i], &path_name[i + 1..]);
    if name.is_empty() || !path.starts_with('/') {
        return None;
    }
    let trust = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": FLOW_LOGS_PRINCIPAL},
        "Action": "sts:AssumeRole"}]});
    let logs = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "logs:*", "Resource": "*"}]});
    Some(Role {
        account: account.to_owned(),
        name: name.to_owned(),
        path: path.to_owned(),
        id: format!("AROA{:016X}", crate::api::stable_hash(&[arn.as_bytes()])),
        trust: trust.to_string(),
        description: Some("made by vpcflow for a flow log of the config".to_owned()),
        max_session: 3600,
        created_ms: now_ms,
        policies: [("flow-logs".to_owned(), logs.to_string())].into(),
        tags: BTreeMap::new(),
    })
}

/// An IAM request refused: its code, HTTP status and message, as IAM gives them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct IamError {
    /// `NoSuchEntity`, `EntityAlreadyExists`, …
    pub code: &'static str,
    /// The HTTP status.
    pub status: u16,
    /// IAM's message.
    pub message: String,
}

impl IamError {
    fn new(code: &'static str, status: u16, message: impl Into<String>) -> IamError {
        IamError {
            code,
            status,
            message: message.into(),
        }
    }

    /// `NoSuchEntity` for a role.
    pub fn no_role(name: &str) -> IamError {
        IamError::new(
            "NoSuchEntity",
            404,
            format!("The role with name {name} cannot be found."),
        )
    }

    /// `NoSuchEntity` for a role's inline policy.
    pub fn no_policy(role: &str, policy: &str) -> IamError {
        IamError::new(
            "NoSuchEntity",
            404,
            format!("The role policy with name {policy} cannot be found."),
        )
        .about(role)
    }

    /// The message with the role it concerns, where IAM's names only the policy.
    fn about(mut self, role: &str) -> IamError {
        self.message = format!("{} (role {role})", self.message);
        self
    }

    /// `EntityAlreadyExists`.
    pub fn exists(name: &str) -> IamError {
        IamError::new(
            "EntityAlreadyExists",
            409,
            format!("Role with name {name} already exists."),
        )
    }

    /// `DeleteConflict`: a role with inline policies left.
    pub fn conflict() -> IamError {
        IamError::new(
            "DeleteConflict",
            409,
            "Cannot delete entity, must delete policies first.",
        )
    }

    /// `ValidationError`.
    pub fn validation(message: impl Into<String>) -> IamError {
        IamError::new("ValidationError", 400, message)
    }

    /// `MalformedPolicyDocument`.
    pub fn malformed(message: impl Into<String>) -> IamError {
        IamError::new("MalformedPolicyDocument", 400, message)
    }
}

/// CreateRole's request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateRole {
    /// `RoleName`.
    pub name: String,
    /// `AssumeRolePolicyDocument`.
    pub trust: String,
    /// `Path` (absent: `/`).
    pub path: Option<String>,
    /// `Description`.
    pub description: Option<String>,
    /// `MaxSessionDuration` as given (absent: 3600).
    pub max_session: Option<String>,
    /// `Tags`.
    pub tags: BTreeMap<String, String>,
}

/// The role `req` makes for `account` at `now_ms`, checked as IAM checks it (no I/O): the name,
/// the trust document, the path, the session length, and no role of that name in `existing`
/// (the account's roles).
pub fn create_role(
    req: &CreateRole,
    account: &str,
    existing: &[Role],
    now_ms: u64,
) -> Result<Role, IamError> {
    check_name(&req.name, "roleName", 64)?;
    check_document(&req.trust)?;
    let path = req.path.clone().unwrap_or_else(|| "/".to_owned());
    if !path.starts_with('/') || !path.ends_with('/') {
        return Err(IamError::validation(format!(
            "The specified value for path is invalid. It must begin and end with / and contain only alphanumeric characters and/or / characters. ({path})"
        )));
    }
    let max_session = match &req.max_session {
        None => 3600,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (3600..=43200).contains(n))
            .ok_or_else(|| {
                IamError::validation(format!(
                    "1 validation error detected: Value '{v}' at 'maxSessionDuration' failed to satisfy constraint: Member must have value less than or equal to 43200"
                ))
            })?,
    };
    if existing.iter().any(|r| r.name == req.name) {
        return Err(IamError::exists(&req.name));
    }
    let id = crate::api::stable_hash(&[
        account.as_bytes(),
        req.name.as_bytes(),
        &now_ms.to_le_bytes(),
    ]);
    Ok(Role {
        account: account.to_owned(),
        name: req.name.clone(),
        path,
        id: format!("AROA{id:016X}"),
        trust: req.trust.clone(),
        description: req.description.clone(),
        max_session,
        created_ms: now_ms,
        policies: BTreeMap::new(),
        tags: req.tags.clone(),
    })
}

/// Whether IAM lets `role` be deleted: not while it has inline policies (`DeleteConflict`).
pub fn check_delete(role: &Role) -> Result<(), IamError> {
    if role.policies.is_empty() {
        Ok(())
    } else {
        Err(IamError::conflict())
    }
}

/// Checks a role or policy name (IAM: 1–64 of `\w+=,.@-`; policies 1–128).
pub fn check_name(name: &str, what: &str, most: usize) -> Result<(), IamError> {
    let ok = !name.is_empty()
        && name.len() <= most
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(IamError::validation(format!(
            "1 validation error detected: Value '{name}' at '{what}' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        )))
    }
}

/// Checks a policy document: JSON with a `Statement`.
pub fn check_document(text: &str) -> Result<(), IamError> {
    let doc: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| IamError::malformed("This policy contains invalid Json"))?;
    if doc.get("Statement").is_none() {
        return Err(IamError::malformed("Syntax errors in policy."));
    }
    Ok(())
}

/// A document's statements.
fn statements(text: &str) -> Vec<serde_json::Value> {
    match serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|d| d.get("Statement").cloned())
    {
        Some(serde_json::Value::Array(v)) => v,
        Some(one) => vec![one],
        None => Vec::new(),
    }
}

/// A statement member that is a string or a list of them.
fn strings(v: Option<&serde_json::Value>) -> Vec<String> {
    match v {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// IAM's wildcards: `*` any run, `?` one character; actions compare without case.
fn glob(pattern: &str, text: &str, fold: bool) -> bool {
    let (p, t) = if fold {
        (pattern.to_ascii_lowercase(), text.to_ascii_lowercase())
    } else {
        (pattern.to_owned(), text.to_owned())
    };
    crate::describe::glob(&p, &t)
}

/// Whether the trust policy lets `principal` (a service) assume the role.
pub fn trusts(trust: &str, principal: &str) -> bool {
    statements(trust).iter().any(|s| {
        let allow = s.get("Effect").and_then(|e| e.as_str()) == Some("Allow");
        let assume = strings(s.get("Action"))
            .iter()
            .any(|a| glob(a, "sts:AssumeRole", true));
        let who = match s.get("Principal") {
            Some(serde_json::Value::String(star)) => star == "*",
            Some(p) => strings(p.get("Service")).iter().any(|x| x == principal),
            None => false,
        };
        allow && assume && who
    })
}

/// Whether `policies` allow `action` on `resource`: an Allow matches and no Deny does.
pub fn allows(policies: &[&String], action: &str, resource: &str) -> bool {
    let matching = |effect: &str| {
        policies.iter().any(|p| {
            statements(p).iter().any(|s| {
                s.get("Effect").and_then(|e| e.as_str()) == Some(effect)
                    && strings(s.get("Action"))
                        .iter()
                        .any(|a| glob(a, action, true))
                    && strings(s.get("Resource"))
                        .iter()
                        .any(|r| glob(r, resource, false))
            })
        })
    };
    matching("Allow") && !matching("Deny")
}

/// Why flow logs cannot deliver to log group `group` (in `region`, of `account`) with the
/// role `arn` names, given the `roles` that exist; `None` when they can.
pub fn delivery_refusal(
    arn: &str,
    roles: &[Role],
    group: &str,
    region: &str,
    account: &str,
) -> Option<String> {
    let Some(role) = roles.iter().find(|r| r.arn() == arn) else {
        return Some(format!("the delivery role {arn} does not exist"));
    };
    if !trusts(&role.trust, FLOW_LOGS_PRINCIPAL) {
        return Some(format!(
            "the trust policy of {arn} does not let {FLOW_LOGS_PRINCIPAL} assume it (sts:AssumeRole)"
        ));
    }
    let resource = format!("arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:*");
    for action in DELIVERY_ACTIONS {
        let policies: Vec<&String> = role.policies.values().collect();
        if !allows(&policies, action, &resource) {
            return Some(format!(
                "the policies of {arn} do not allow {action} on log group {group}"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRUST: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"vpc-flow-logs.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    const LOGS: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents","logs:DescribeLogGroups","logs:DescribeLogStreams"],"Resource":"*"}]}"#;

    fn role(trust: &str, policies: &[&str]) -> Role {
        Role {
            account: "123456789012".into(),
            name: "flow-logs".into(),
            path: "/".into(),
            id: "AROAEXAMPLE".into(),
            trust: trust.into(),
            description: None,
            max_session: 3600,
            created_ms: 0,
            policies: policies
                .iter()
                .enumerate()
                .map(|(i, p)| (format!("p{i}"), (*p).to_owned()))
                .collect(),
            tags: BTreeMap::new(),
        }
    }

    #[test]
    fn a_role_lets_flow_logs_deliver_only_when_trusted_and_allowed() {
        let arn = "arn:aws:iam::123456789012:role/flow-logs";
        let ec2_trust = TRUST.replace("vpc-flow-logs", "ec2");
        let only_s3 = LOGS.replace("\"Resource\":\"*\"", "\"Resource\":\"arn:aws:s3:::x\"");
        let deny = r#"{"Statement":{"Effect":"Deny","Action":"logs:PutLogEvents","Resource":"*"}}"#;
        let star = r#"{"Statement":{"Effect":"Allow","Action":"logs:*","Resource":"arn:aws:logs:us-east-1:123456789012:log-group:/vpc/*"}}"#;
        let rows: Vec<(&str, Vec<Role>, Option<&str>)> = vec![
            ("no such role", vec![], Some("does not exist")),
            ("trusted and allowed", vec![role(TRUST, &[LOGS])], None),
            (
                "a wrong principal",
                vec![role(&ec2_trust, &[LOGS])],
                Some("trust policy"),
            ),
            (
                "no policy",
                vec![role(TRUST, &[])],
                Some("logs:CreateLogStream"),
            ),
            (
                "another resource",
                vec![role(TRUST, &[&only_s3])],
                Some("logs:CreateLogStream"),
            ),
            (
                "a deny",
                vec![role(TRUST, &[LOGS, deny])],
                Some("logs:PutLogEvents"),
            ),
            ("wildcards", vec![role(TRUST, &[star])], None),
        ];
        for (what, roles, refused) in rows {
            let got = delivery_refusal(arn, &roles, "/vpc/flows", "us-east-1", "123456789012");
            match (refused, got) {
                (None, None) => {}
                (Some(part), Some(why)) => assert!(why.contains(part), "{what}: {why}"),
                (want, got) => panic!("{what}: wanted {want:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn names_and_documents_are_checked_as_iam_checks_them() {
        assert!(check_name("flow-logs_1.x@y", "roleName", 64).is_ok());
        assert_eq!(
            check_name("a b", "roleName", 64).unwrap_err().code,
            "ValidationError"
        );
        assert!(check_name(&"a".repeat(65), "roleName", 64).is_err());
        assert!(check_document(TRUST).is_ok());
        assert_eq!(
            check_document("{").unwrap_err().code,
            "MalformedPolicyDocument"
        );
        assert_eq!(
            check_document("{}").unwrap_err().code,
            "MalformedPolicyDocument"
        );
    }
}
