//! Which protocol a request speaks, from what arrived (`reference/aws-api.md` §2.6): the JSON
//! protocols' `X-Amz-Target`, CloudWatch's RPC v2 CBOR path, the SigV4 scope's service, the
//! query protocols' `Action`/`Version`, and S3 for everything else. Pure, so that it is fuzzed
//! with the parsers.

use crate::sigv4::{Family, header, parse_authorization};

/// A protocol (and service) a request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protocol {
    /// EC2's query protocol.
    Ec2,
    /// CloudWatch Logs (awsJson 1.1): the operation.
    Logs(String),
    /// STS's query protocol.
    Sts,
    /// IAM's query protocol.
    Iam,
    /// Firehose (awsJson 1.1): the operation.
    Firehose(String),
    /// CloudWatch in awsJson 1.0: the operation.
    CloudWatchJson(String),
    /// CloudWatch in RPC v2 CBOR: the operation.
    CloudWatchCbor(String),
    /// CloudWatch's query protocol.
    CloudWatchQuery,
    /// S3's REST XML.
    S3,
}

/// The form content type the query protocols send.
const FORM: &str = "application/x-www-form-urlencoded";
/// CloudWatch's RPC v2 CBOR path prefix.
pub const CBOR_PREFIX: &str = "/service/GraniteServiceVersion20100801/operation/";

impl Protocol {
    /// The family whose errors it answers with.
    pub fn family(&self) -> Family {
        match self {
            Protocol::Ec2 => Family::Ec2,
            Protocol::Sts | Protocol::Iam | Protocol::CloudWatchQuery => Family::Query,
            Protocol::Logs(_)
            | Protocol::Firehose(_)
            | Protocol::CloudWatchJson(_)
            | Protocol::CloudWatchCbor(_) => Family::Json,
            Protocol::S3 => Family::S3,
        }
    }

    /// Its service's name in `/metrics` and the request log.
    pub fn service(&self) -> &'static str {
        match self {
            Protocol::Ec2 => "ec2",
            Protocol::Logs(_) => "logs",
            Protocol::Sts => "sts",
            Protocol::Iam => "iam",
            Protocol::Firehose(_) => "firehose",
            Protocol::CloudWatchJson(_)
            | Protocol::CloudWatchCbor(_)
            | Protocol::CloudWatchQuery => "monitoring",
            Protocol::S3 => "s3",
        }
    }
}

/// The value of `name` in a form body, if the body is a form that has it.
fn form_value(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The protocol of a request.
pub fn route(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Protocol {
    if let Some(target) = header(headers, "x-amz-target") {
        let (prefix, op) = target.split_once('.').unwrap_or((target, ""));
        let op = op.to_owned();
        match prefix {
            "Logs_20140328" => return Protocol::Logs(op),
            "Firehose_20150804" => return Protocol::Firehose(op),
            "GraniteServiceVersion20100801" => return Protocol::CloudWatchJson(op),
            _ => {}
        }
    }
    if let Some(op) = path.strip_prefix(CBOR_PREFIX) {
        return Protocol::CloudWatchCbor(op.to_owned());
    }
    let scope = header(headers, "authorization")
        .and_then(parse_authorization)
        .map(|a| a.service);
    let is_form =
        method == "POST" && header(headers, "content-type").is_some_and(|c| c.starts_with(FORM));
    let version = || is_form.then(|| form_value(body, "Version")).flatten();
    match (scope.as_deref(), version().as_deref()) {
        (Some("ec2"), _) | (None, Some("2016-11-15")) => Protocol::Ec2,
        (Some("sts"), _) | (None, Some("2011-06-15")) => Protocol::Sts,
        (Some("iam"), _) | (None, Some("2010-05-08")) => Protocol::Iam,
        (Some("monitoring"), _) | (None, Some("2010-08-01")) => Protocol::CloudWatchQuery,
        (Some("logs"), _) => Protocol::Logs(String::new()),
        (Some("firehose"), _) => Protocol::Firehose(String::new()),
        // A form of no known version is a query request still (S3 takes no url-encoded
        // forms): EC2's errors answer it.
        (None, _) if is_form => Protocol::Ec2,
        _ => Protocol::S3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIG: &str = "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    fn auth(service: &str) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential=AK/20261122/us-east-1/{service}/aws4_request, SignedHeaders=host, {SIG}"
        )
    }

    #[test]
    fn each_protocol_as_the_sdks_send_it() {
        let form = [(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )];
        type Row<'a> = (&'a str, &'a str, Vec<(&'a str, String)>, &'a [u8], Protocol);
        let rows: Vec<Row<'_>> = vec![
            (
                "POST",
                "/",
                vec![("X-Amz-Target", "Logs_20140328.StartQuery".into())],
                b"{}",
                Protocol::Logs("StartQuery".into()),
            ),
            (
                "POST",
                "/",
                vec![("x-amz-target", "Firehose_20150804.PutRecord".into())],
                b"{}",
                Protocol::Firehose("PutRecord".into()),
            ),
            (
                "POST",
                "/",
                vec![(
                    "X-Amz-Target",
                    "GraniteServiceVersion20100801.DescribeAlarms".into(),
                )],
                b"{}",
                Protocol::CloudWatchJson("DescribeAlarms".into()),
            ),
            (
                "POST",
                "/service/GraniteServiceVersion20100801/operation/DescribeAlarms",
                vec![],
                b"\xa0",
                Protocol::CloudWatchCbor("DescribeAlarms".into()),
            ),
            (
                "POST",
                "/",
                vec![
                    (form[0].0, form[0].1.into()),
                    ("authorization", auth("ec2")),
                ],
                b"Action=DescribeFlowLogs&Version=2016-11-15",
                Protocol::Ec2,
            ),
            (
                "POST",
                "/",
                vec![(form[0].0, form[0].1.into())],
                b"Action=DescribeFlowLogs&Version=2016-11-15",
                Protocol::Ec2,
            ),
            (
                "POST",
                "/",
                vec![(form[0].0, form[0].1.into())],
                b"Action=GetCallerIdentity&Version=2011-06-15",
                Protocol::Sts,
            ),
            (
                "POST",
                "/",
                vec![(form[0].0, form[0].1.into())],
                b"Action=DescribeAlarms&Version=2010-08-01",
                Protocol::CloudWatchQuery,
            ),
            (
                "GET",
                "/flow-logs",
                vec![("authorization", auth("s3"))],
                b"",
                Protocol::S3,
            ),
            (
                "PUT",
                "/b/k",
                vec![],
                b"Action=x&Version=2016-11-15",
                Protocol::S3,
            ),
            (
                "POST",
                "/",
                vec![(form[0].0, form[0].1.into())],
                b"",
                Protocol::Ec2,
            ),
        ];
        for (method, path, headers, body, want) in rows {
            let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            assert_eq!(
                route(method, path, &h, body),
                want,
                "{method} {path} {headers:?}"
            );
        }
    }
}
