//! STS's query protocol, for the one call tools make at start-up to learn their account:
//! `GetCallerIdentity` (Terraform's provider does, unless told to skip it). Other actions are
//! `InvalidAction`.

use crate::form;
use crate::xml::element;

/// The namespace of STS's answers.
pub const XMLNS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// An error in the query protocols' shape (`<ErrorResponse><Error>`), with `Type` Sender.
pub fn error_xml(xmlns: &str, code: &str, message: &str, request_id: &str) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ErrorResponse xmlns=\"{xmlns}\"><Error>\
         <Type>Sender</Type>"
    );
    element(&mut out, "Code", code);
    element(&mut out, "Message", message);
    out.push_str("</Error>");
    element(&mut out, "RequestId", request_id);
    out.push_str("</ErrorResponse>");
    out
}

/// Answers a body for the caller `access_key_id` of `account`: status and XML.
pub fn handle(body: &[u8], access_key_id: &str, account: &str, request_id: &str) -> (u16, String) {
    let action = match form::parse(body) {
        Ok(f) => f.get("Action").unwrap_or_default().to_owned(),
        Err(e) => {
            return (
                400,
                error_xml(XMLNS, "MalformedInput", &e.to_string(), request_id),
            );
        }
    };
    if action != "GetCallerIdentity" {
        return (
            400,
            error_xml(
                XMLNS,
                "InvalidAction",
                &format!("Could not find operation {action} for version 2011-06-15"),
                request_id,
            ),
        );
    }
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<GetCallerIdentityResponse xmlns=\"{XMLNS}\">\
         <GetCallerIdentityResult>"
    );
    element(&mut out, "Arn", &format!("arn:aws:iam::{account}:root"));
    element(&mut out, "UserId", access_key_id);
    element(&mut out, "Account", account);
    out.push_str("</GetCallerIdentityResult><ResponseMetadata>");
    element(&mut out, "RequestId", request_id);
    out.push_str("</ResponseMetadata></GetCallerIdentityResponse>");
    (200, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_caller_and_other_actions() {
        let (status, xml) = handle(
            b"Action=GetCallerIdentity&Version=2011-06-15",
            "AKID",
            "111122223333",
            "r1",
        );
        assert_eq!(status, 200);
        assert!(xml.contains("<Account>111122223333</Account>"), "{xml}");
        assert!(xml.contains("<Arn>arn:aws:iam::111122223333:root</Arn>"));
        let (status, xml) = handle(b"Action=AssumeRole&Version=2011-06-15", "AKID", "1", "r2");
        assert_eq!(status, 400);
        assert!(xml.contains("<Code>InvalidAction</Code>"), "{xml}");
    }
}
