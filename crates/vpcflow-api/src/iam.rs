//! IAM's query protocol for the roles flow logs deliver with, and what Terraform's provider
//! calls to manage them: CreateRole, GetRole, DeleteRole, UpdateAssumeRolePolicy, the inline
//! policies (PutRolePolicy, GetRolePolicy, DeleteRolePolicy, ListRolePolicies), tags (TagRole,
//! UntagRole, ListRoleTags), ListRoles, and the empty lists of what vpcflow does not keep
//! (ListAttachedRolePolicies, ListInstanceProfilesForRole). Policy documents are answered
//! URL-encoded, as IAM answers them. The rules (what a name, a document, a path may be; what may
//! be deleted) are `vpcflow_deliver::iam`'s; this reads and writes the wire.

use std::collections::BTreeMap;

use vpcflow_deliver::State;
use vpcflow_deliver::iam::{
    CreateRole, IamError, Role, check_delete, check_document, check_name, create_role,
};

use crate::form::{self, Form};
use crate::xml::element;

/// The namespace of IAM's answers.
pub const XMLNS: &str = "https://iam.amazonaws.com/doc/2010-05-08/";

/// The actions served.
pub const ACTIONS: &[&str] = &[
    "CreateRole",
    "GetRole",
    "DeleteRole",
    "ListRoles",
    "UpdateAssumeRolePolicy",
    "PutRolePolicy",
    "GetRolePolicy",
    "DeleteRolePolicy",
    "ListRolePolicies",
    "ListAttachedRolePolicies",
    "ListInstanceProfilesForRole",
    "TagRole",
    "UntagRole",
    "ListRoleTags",
];

/// Percent-encodes a document as IAM does (every byte but the unreserved ones), so that
/// clients' unquoting gives it back byte for byte.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn required(f: &Form, name: &str) -> Result<String, IamError> {
    f.get(name).map(str::to_owned).ok_or_else(|| {
        let lower = name[..1].to_ascii_lowercase() + &name[1..];
        IamError::validation(format!(
            "1 validation error detected: Value null at '{lower}' failed to satisfy constraint: Member must not be null"
        ))
    })
}

/// `Tags.member.N.Key`/`Value`.
fn tags(f: &Form) -> BTreeMap<String, String> {
    (1..=f.count("Tags.member"))
        .filter_map(|i| {
            let key = f.get(&format!("Tags.member.{i}.Key"))?;
            let value = f.get(&format!("Tags.member.{i}.Value")).unwrap_or_default();
            Some((key.to_owned(), value.to_owned()))
        })
        .collect()
}

fn role_xml(out: &mut String, r: &Role) {
    out.push_str("<Role>");
    element(out, "Path", &r.path);
    element(out, "RoleName", &r.name);
    element(out, "RoleId", &r.id);
    element(out, "Arn", &r.arn());
    element(
        out,
        "CreateDate",
        &vpcflow_store::time::aws_xml_time(r.created_ms),
    );
    element(out, "AssumeRolePolicyDocument", &encode(&r.trust));
    if let Some(d) = &r.description {
        element(out, "Description", d);
    }
    element(out, "MaxSessionDuration", &r.max_session.to_string());
    tags_xml(out, &r.tags);
    out.push_str("<RoleLastUsed/></Role>");
}

fn tags_xml(out: &mut String, tags: &BTreeMap<String, String>) {
    if tags.is_empty() {
        return;
    }
    out.push_str("<Tags>");
    for (k, v) in tags {
        out.push_str("<member>");
        element(out, "Key", k);
        element(out, "Value", v);
        out.push_str("</member>");
    }
    out.push_str("</Tags>");
}

/// Who asks, and when.
pub struct Caller<'a> {
    /// The account.
    pub account: &'a str,
    /// Now (ms).
    pub now_ms: u64,
}

/// Answers one request body: its HTTP status and IAM's XML.
pub fn handle(state: &State, caller: &Caller<'_>, body: &[u8], request_id: &str) -> (u16, String) {
    let form = match form::parse(body) {
        Ok(f) => f,
        Err(e) => {
            return (
                400,
                crate::sts::error_xml(XMLNS, "MalformedInput", &e.to_string(), request_id),
            );
        }
    };
    let action = form.get("Action").unwrap_or_default().to_owned();
    if !ACTIONS.contains(&action.as_str()) {
        return (
            400,
            crate::sts::error_xml(
                XMLNS,
                "InvalidAction",
                &format!("Could not find operation {action} for version 2010-05-08"),
                request_id,
            ),
        );
    }
    match answer(state, caller, &action, &form) {
        Ok(result) => {
            let mut out = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"{XMLNS}\">"
            );
            if result.is_empty() {
                out.push_str("<ResponseMetadata>");
            } else {
                out.push_str(&format!(
                    "<{action}Result>{result}</{action}Result><ResponseMetadata>"
                ));
            }
            element(&mut out, "RequestId", request_id);
            out.push_str(&format!("</ResponseMetadata></{action}Response>"));
            (200, out)
        }
        Err(e) => (
            e.status,
            crate::sts::error_xml(XMLNS, e.code, &e.message, request_id),
        ),
    }
}

fn internal(e: &vpcflow_deliver::state::StateError) -> IamError {
    IamError {
        code: "ServiceFailure",
        status: 500,
        message: e.to_string(),
    }
}

fn find(state: &State, account: &str, name: &str) -> Result<Role, IamError> {
    state
        .roles(Some(account))
        .map_err(|e| internal(&e))?
        .into_iter()
        .find(|r| r.name == name)
        .ok_or_else(|| IamError::no_role(name))
}

/// The `…Result` body of a served action.
fn answer(state: &State, caller: &Caller<'_>, action: &str, f: &Form) -> Result<String, IamError> {
    let put = |r: &Role| state.put_role(r).map_err(|e| internal(&e));
    let mut out = String::new();
    match action {
        "CreateRole" => {
            let role = new_role(state, caller, f)?;
            put(&role)?;
            role_xml(&mut out, &role);
        }
        "GetRole" => role_xml(
            &mut out,
            &find(state, caller.account, &required(f, "RoleName")?)?,
        ),
        "DeleteRole" => {
            let r = find(state, caller.account, &required(f, "RoleName")?)?;
            check_delete(&r)?;
            state
                .delete_role(caller.account, &r.name)
                .map_err(|e| internal(&e))?;
        }
        "ListRoles" => {
            out.push_str("<IsTruncated>false</IsTruncated><Roles>");
            for r in state
                .roles(Some(caller.account))
                .map_err(|e| internal(&e))?
            {
                let mut one = String::new();
                role_xml(&mut one, &r);
                out.push_str(
                    &one.replacen("<Role>", "<member>", 1)
                        .replace("</Role>", "</member>"),
                );
            }
            out.push_str("</Roles>");
        }
        "UpdateAssumeRolePolicy" => {
            let mut r = find(state, caller.account, &required(f, "RoleName")?)?;
            let doc = required(f, "PolicyDocument")?;
            check_document(&doc)?;
            r.trust = doc;
            put(&r)?;
        }
        "PutRolePolicy" => {
            let mut r = find(state, caller.account, &required(f, "RoleName")?)?;
            let name = required(f, "PolicyName")?;
            check_name(&name, "policyName", 128)?;
            let doc = required(f, "PolicyDocument")?;
            check_document(&doc)?;
            r.policies.insert(name, doc);
            put(&r)?;
        }
        "GetRolePolicy" => {
            let r = find(state, caller.account, &required(f, "RoleName")?)?;
            let name = required(f, "PolicyName")?;
            let doc = r
                .policies
                .get(&name)
                .ok_or_else(|| IamError::no_policy(&r.name, &name))?;
            element(&mut out, "RoleName", &r.name);
            element(&mut out, "PolicyName", &name);
            element(&mut out, "PolicyDocument", &encode(doc));
        }
        "DeleteRolePolicy" => {
            let mut r = find(state, caller.account, &required(f, "RoleName")?)?;
            let name = required(f, "PolicyName")?;
            if r.policies.remove(&name).is_none() {
                return Err(IamError::no_policy(&r.name, &name));
            }
            put(&r)?;
        }
        "ListRolePolicies" => {
            let r = find(state, caller.account, &required(f, "RoleName")?)?;
            out.push_str("<IsTruncated>false</IsTruncated><PolicyNames>");
            for name in r.policies.keys() {
                element(&mut out, "member", name);
            }
            out.push_str("</PolicyNames>");
        }
        "ListAttachedRolePolicies" => {
            find(state, caller.account, &required(f, "RoleName")?)?;
            out.push_str("<IsTruncated>false</IsTruncated><AttachedPolicies/>");
        }
        "ListInstanceProfilesForRole" => {
            find(state, caller.account, &required(f, "RoleName")?)?;
            out.push_str("<IsTruncated>false</IsTruncated><InstanceProfiles/>");
        }
        "TagRole" => {
            let mut r = find(state, caller.account, &required(f, "RoleName")?)?;
            r.tags.extend(tags(f));
            put(&r)?;
        }
        "UntagRole" => {
            let mut r = find(state, caller.account, &required(f, "RoleName")?)?;
            for i in 1.. {
                let Some(k) = f.get(&format!("TagKeys.member.{i}")) else {
                    break;
                };
                r.tags.remove(k);
            }
            put(&r)?;
        }
        "ListRoleTags" => {
            let r = find(state, caller.account, &required(f, "RoleName")?)?;
            out.push_str("<IsTruncated>false</IsTruncated>");
            if r.tags.is_empty() {
                out.push_str("<Tags/>");
            } else {
                tags_xml(&mut out, &r.tags);
            }
        }
        _ => unreachable!("ACTIONS lists what is answered"),
    }
    Ok(out)
}

/// CreateRole's request as the form gives it; `iam::create_role` checks it.
fn new_role(state: &State, caller: &Caller<'_>, f: &Form) -> Result<Role, IamError> {
    let req = CreateRole {
        name: required(f, "RoleName")?,
        trust: required(f, "AssumeRolePolicyDocument")?,
        path: f.get("Path").map(str::to_owned),
        description: f.get("Description").map(str::to_owned),
        max_session: f.get("MaxSessionDuration").map(str::to_owned),
        tags: tags(f),
    };
    let existing = state
        .roles(Some(caller.account))
        .map_err(|e| internal(&e))?;
    create_role(&req, caller.account, &existing, caller.now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_encoded_so_that_unquoting_gives_them_back() {
        let doc = r#"{"Statement": [{"Effect": "Allow", "Action": "a+b/c"}]}"#;
        let encoded = encode(doc);
        assert!(
            !encoded.contains(' ') && !encoded.contains('+'),
            "{encoded}"
        );
        let back: String = form_urlencoded::parse(format!("x={encoded}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap();
        assert_eq!(back, doc);
    }
}
