//! AWS Signature Version 4, verified: the `Authorization` header parsed, the canonical request
//! rebuilt from what arrived, the signature recomputed from the access key's secret and compared,
//! and the request time checked against the caller's clock. Who signed decides the account a
//! request acts for. AWS's refusals differ by protocol; [`AUTH_ERRORS`] is their one table.
//!
//! Pure: no I/O and no clock (the caller passes now). The canonicalisation follows AWS's
//! "Create a canonical request for Signature Version 4" (IAM user guide): S3 signs its path as
//! sent, every other service the path URI-encoded once more.

use ring::{digest, hmac};

/// The scheme name in `Authorization`.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far a request's `X-Amz-Date` may be from now: AWS's 15 minutes.
pub const MAX_SKEW_SECS: u64 = 15 * 60;

/// One access key: its secret and the account it acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// 12 digits.
    pub account_id: String,
}

/// The parts of `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// The access key id.
    pub access_key_id: String,
    /// `yyyymmdd` of the scope.
    pub date: String,
    /// The scope's region.
    pub region: String,
    /// The scope's service: `ec2`, `logs`, `monitoring`, `firehose`, `s3`, …
    pub service: String,
    /// Lower-case header names, as signed.
    pub signed_headers: Vec<String>,
    /// 64 hex digits.
    pub signature: String,
}

/// Why a request is not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No `Authorization` header (and no presigned query).
    Missing,
    /// An `Authorization` header that lacks a part or is not SigV4.
    Incomplete,
    /// An access key no credential has.
    UnknownKey,
    /// The signature is not the one the secret makes.
    BadSignature,
    /// `X-Amz-Date` is more than [`MAX_SKEW_SECS`] from now (or absent or unreadable).
    Expired,
}

/// Which family of AWS's errors a protocol answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// EC2's query protocol.
    Ec2,
    /// The other query protocols (CloudWatch's, STS's).
    Query,
    /// awsJson 1.0/1.1 and RPC v2 CBOR (Logs, Firehose, CloudWatch).
    Json,
    /// S3's REST XML.
    S3,
}

/// A row of [`AUTH_ERRORS`].
#[derive(Debug)]
pub struct AuthErrorDef {
    /// Which failure.
    pub failure: AuthFailure,
    /// In which family.
    pub family: Family,
    /// The code on the wire.
    pub code: &'static str,
    /// HTTP status.
    pub status: u16,
    /// AWS's message.
    pub message: &'static str,
}

const SIG_MESSAGE: &str = "The request signature we calculated does not match the signature you \
                           provided. Check your AWS Secret Access Key and signing method. Consult \
                           the service documentation for details.";
const TOKEN_MESSAGE: &str = "The security token included in the request is invalid.";
const INCOMPLETE_MESSAGE: &str = "Authorization header requires 'Credential', 'Signature' and \
                                  'SignedHeaders' parameters, and the X-Amz-Date header. \
                                  Authorization=";
const EXPIRED_MESSAGE: &str = "Signature expired: the request's X-Amz-Date is more than 15 minutes \
                               from the server's time (or absent).";

macro_rules! row {
    ($failure:ident, $family:ident, $code:literal, $status:literal, $message:expr) => {
        AuthErrorDef {
            failure: AuthFailure::$failure,
            family: Family::$family,
            code: $code,
            status: $status,
            message: $message,
        }
    };
}

/// AWS's answer to each failure in each family (EC2's, the query services', the JSON services'
/// and S3's common errors pages).
pub const AUTH_ERRORS: &[AuthErrorDef] = &[
    row!(
        Missing,
        Ec2,
        "MissingAuthenticationToken",
        401,
        "The request must contain either a valid (registered) AWS access key ID or X.509 certificate."
    ),
    row!(
        Incomplete,
        Ec2,
        "IncompleteSignature",
        400,
        INCOMPLETE_MESSAGE
    ),
    row!(
        UnknownKey,
        Ec2,
        "AuthFailure",
        401,
        "AWS was not able to validate the provided access credentials"
    ),
    row!(BadSignature, Ec2, "SignatureDoesNotMatch", 403, SIG_MESSAGE),
    row!(Expired, Ec2, "RequestExpired", 400, "Request has expired."),
    row!(
        Missing,
        Query,
        "MissingAuthenticationToken",
        403,
        "Request is missing Authentication Token"
    ),
    row!(
        Incomplete,
        Query,
        "IncompleteSignature",
        400,
        INCOMPLETE_MESSAGE
    ),
    row!(
        UnknownKey,
        Query,
        "InvalidClientTokenId",
        403,
        TOKEN_MESSAGE
    ),
    row!(
        BadSignature,
        Query,
        "SignatureDoesNotMatch",
        403,
        SIG_MESSAGE
    ),
    row!(
        Expired,
        Query,
        "SignatureDoesNotMatch",
        403,
        EXPIRED_MESSAGE
    ),
    row!(
        Missing,
        Json,
        "MissingAuthenticationTokenException",
        400,
        "Missing Authentication Token"
    ),
    row!(
        Incomplete,
        Json,
        "IncompleteSignatureException",
        400,
        INCOMPLETE_MESSAGE
    ),
    row!(
        UnknownKey,
        Json,
        "UnrecognizedClientException",
        400,
        TOKEN_MESSAGE
    ),
    row!(
        BadSignature,
        Json,
        "InvalidSignatureException",
        400,
        SIG_MESSAGE
    ),
    row!(
        Expired,
        Json,
        "InvalidSignatureException",
        400,
        EXPIRED_MESSAGE
    ),
    row!(Missing, S3, "AccessDenied", 403, "Access Denied"),
    row!(
        Incomplete,
        S3,
        "AuthorizationHeaderMalformed",
        400,
        "The authorization header is malformed; it requires Credential, SignedHeaders and Signature."
    ),
    row!(
        UnknownKey,
        S3,
        "InvalidAccessKeyId",
        403,
        "The AWS Access Key Id you provided does not exist in our records."
    ),
    row!(BadSignature, S3, "SignatureDoesNotMatch", 403, SIG_MESSAGE),
    row!(
        Expired,
        S3,
        "RequestTimeTooSkewed",
        403,
        "The difference between the request time and the current time is too large."
    ),
];

impl AuthFailure {
    /// This failure's row in `family`.
    pub fn def(self, family: Family) -> &'static AuthErrorDef {
        AUTH_ERRORS
            .iter()
            .find(|d| d.failure == self && d.family == family)
            .expect("every failure has a row in every family")
    }
}

/// Reads an `Authorization` header's value; `None` when it is not a whole SigV4 header.
pub fn parse_authorization(value: &str) -> Option<Authorization> {
    let rest = value.trim().strip_prefix(ALGORITHM)?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (name, v) = part.trim().split_once('=')?;
        match name {
            "Credential" => credential = Some(v),
            "SignedHeaders" => signed = Some(v),
            "Signature" => signature = Some(v),
            _ => {}
        }
    }
    let mut scope = credential?.split('/');
    let (key, date, region, service, terminal) = (
        scope.next()?,
        scope.next()?,
        scope.next()?,
        scope.next()?,
        scope.next()?,
    );
    let signature = signature?;
    let signed = signed?;
    let well_formed = terminal == "aws4_request"
        && scope.next().is_none()
        && !key.is_empty()
        && date.len() == 8
        && date.bytes().all(|b| b.is_ascii_digit())
        && signature.len() == 64
        && signature.bytes().all(|b| b.is_ascii_hexdigit());
    well_formed.then(|| Authorization {
        access_key_id: key.to_owned(),
        date: date.to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        signed_headers: signed.split(';').map(str::to_ascii_lowercase).collect(),
        signature: signature.to_ascii_lowercase(),
    })
}

/// A header's value by name, in any case (the first, when it is repeated).
pub fn header<'h>(headers: &'h [(&'h str, &'h str)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

/// What a signature covers: the request as it arrived.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// `GET`, `POST`, …
    pub method: &'a str,
    /// The path as sent (percent-encoded).
    pub path: &'a str,
    /// The query string as sent, without `?`.
    pub query: &'a str,
    /// Every header, names in any case, in arrival order.
    pub headers: &'a [(&'a str, &'a str)],
    /// `X-Amz-Content-SHA256` if sent, else the hex SHA-256 of the body.
    pub payload_hash: &'a str,
}

/// The hex SHA-256 of `body`.
pub fn sha256_hex(body: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, body))
}

/// RFC 3986 unreserved characters pass; every other byte is `%XX` (upper case).
fn uri_encode(bytes: &[u8], keep_slash: bool, out: &mut String) {
    for &b in bytes {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
}

/// `%XX` escapes decoded (no `+` rule: SigV4's and S3's paths and queries keep `+`).
pub(crate) fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

/// The canonical URI: S3 signs the path as sent; other services encode it once more.
fn canonical_uri(path: &str, s3: bool) -> String {
    let path = if path.is_empty() { "/" } else { path };
    if s3 {
        return path.to_owned();
    }
    let mut out = String::with_capacity(path.len());
    uri_encode(path.as_bytes(), true, &mut out);
    out
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let (mut ek, mut ev) = (String::new(), String::new());
            uri_encode(&percent_decode(k), false, &mut ek);
            uri_encode(&percent_decode(v), false, &mut ev);
            (ek, ev)
        })
        .filter(|(k, _)| k != "X-Amz-Signature")
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The value of a signed header: each value trimmed, runs of spaces one space, repeated headers
/// joined by commas.
fn canonical_header(headers: &[(&str, &str)], name: &str) -> String {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(",")
}

/// The canonical request of AWS's SigV4 documentation.
pub fn canonical_request(req: &Signed<'_>, auth: &Authorization) -> String {
    let s3 = auth.service == "s3";
    let mut out = format!(
        "{}\n{}\n{}\n",
        req.method,
        canonical_uri(req.path, s3),
        canonical_query(req.query)
    );
    for name in &auth.signed_headers {
        out.push_str(name);
        out.push(':');
        out.push_str(&canonical_header(req.headers, name));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&auth.signed_headers.join(";"));
    out.push('\n');
    out.push_str(req.payload_hash);
    out
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> hmac::Tag {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
}

/// The signature `secret` makes over `canonical` at `amz_date` in `auth`'s scope.
pub fn signature(secret: &str, amz_date: &str, auth: &Authorization, canonical: &str) -> String {
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        sha256_hex(canonical.as_bytes())
    );
    let mut key = hmac_sha256(format!("AWS4{secret}").as_bytes(), auth.date.as_bytes());
    for part in [&auth.region, &auth.service, &"aws4_request".to_owned()] {
        key = hmac_sha256(key.as_ref(), part.as_bytes());
    }
    hex::encode(hmac_sha256(key.as_ref(), string_to_sign.as_bytes()))
}

/// Seconds since the epoch of `yyyymmddThhmmssZ`.
pub fn parse_amz_date(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    vpcflow_store::time::Civil {
        year: num(0..4)? as i64,
        month: num(4..6)? as u32,
        day: num(6..8)? as u32,
        hour: num(9..11)? as u32,
        minute: num(11..13)? as u32,
        second: num(13..15)? as u32,
    }
    .to_secs()
}

/// The `Authorization` value an SDK would send for `req` (every header of it signed; they must
/// include `host` and `x-amz-date`): for clients of this server, the load bench and tests.
pub fn authorization(
    req: &Signed<'_>,
    key: &str,
    secret: &str,
    region: &str,
    service: &str,
) -> String {
    let amz_date = header(req.headers, "x-amz-date").unwrap_or_default();
    let mut names: Vec<String> = req
        .headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    names.sort();
    names.dedup();
    let auth = Authorization {
        access_key_id: key.to_owned(),
        date: amz_date.get(..8).unwrap_or_default().to_owned(),
        region: region.to_owned(),
        service: service.to_owned(),
        signed_headers: names,
        signature: String::new(),
    };
    let sig = signature(secret, amz_date, &auth, &canonical_request(req, &auth));
    format!(
        "{ALGORITHM} Credential={key}/{}/{region}/{service}/aws4_request, SignedHeaders={}, \
         Signature={sig}",
        auth.date,
        auth.signed_headers.join(";")
    )
}

/// Who signed a request, once verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The access key.
    pub access_key_id: String,
    /// The account it acts for.
    pub account_id: String,
    /// The region it signed for.
    pub region: String,
    /// The service it signed for.
    pub service: String,
}

/// Verifies `req`'s `Authorization` against `credentials` at `now_secs`: the caller, or why not.
pub fn verify(
    req: &Signed<'_>,
    credentials: &[Credential],
    now_secs: u64,
) -> Result<Caller, AuthFailure> {
    let value = header(req.headers, "authorization").ok_or(AuthFailure::Missing)?;
    let auth = parse_authorization(value).ok_or(AuthFailure::Incomplete)?;
    if !auth.signed_headers.iter().any(|h| h == "host") {
        return Err(AuthFailure::Incomplete);
    }
    let amz_date = header(req.headers, "x-amz-date").ok_or(AuthFailure::Incomplete)?;
    let at = parse_amz_date(amz_date).ok_or(AuthFailure::Incomplete)?;
    let cred = credentials
        .iter()
        .find(|c| c.access_key_id == auth.access_key_id)
        .ok_or(AuthFailure::UnknownKey)?;
    let expected = signature(
        &cred.secret_access_key,
        amz_date,
        &auth,
        &canonical_request(req, &auth),
    );
    if !same_bytes(expected.as_bytes(), auth.signature.as_bytes()) {
        return Err(AuthFailure::BadSignature);
    }
    if now_secs.abs_diff(at) > MAX_SKEW_SECS {
        return Err(AuthFailure::Expired);
    }
    Ok(Caller {
        access_key_id: auth.access_key_id,
        account_id: cred.account_id.clone(),
        region: auth.region,
        service: auth.service,
    })
}

/// Equal bytes (a signature, a secret), compared in time that does not depend on where they
/// differ.
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let differ = a
        .iter()
        .zip(b)
        .fold(u8::from(a.len() != b.len()), |acc, (x, y)| acc | (x ^ y));
    differ == 0
}

/// The account an unverified access key acts for: a 12-digit key is its own account
/// (LocalStack's convention), any other key `default_account`.
pub fn unverified_account(key: &str, default_account: &str) -> String {
    if key.len() == 12 && key.bytes().all(|b| b.is_ascii_digit()) {
        key.to_owned()
    } else {
        default_account.to_owned()
    }
}

/// Reads who a request says it is without checking the signature (`--insecure-any-credentials`):
/// a 12-digit access key is its own account (LocalStack's convention), any other key `default`.
pub fn unverified(headers: &[(&str, &str)], default_account: &str) -> Caller {
    let auth = header(headers, "authorization").and_then(parse_authorization);
    let key = auth.as_ref().map_or("", |a| a.access_key_id.as_str());
    Caller {
        access_key_id: key.to_owned(),
        account_id: unverified_account(key, default_account),
        region: auth
            .as_ref()
            .map_or("us-east-1".to_owned(), |a| a.region.clone()),
        service: auth.map_or(String::new(), |a| a.service),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_bytes(b"secret", b"secret"));
        assert!(!same_bytes(b"secret", b"secreT"));
        assert!(!same_bytes(b"secret", b"secret!"));
    }

    fn example() -> Credential {
        Credential {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            account_id: "123456789012".into(),
        }
    }

    /// AWS's SigV4 test suite, `get-vanilla`: its published signature.
    #[test]
    fn aws_test_suite_get_vanilla() {
        let headers = [
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
            (
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                 SignedHeaders=host;x-amz-date, \
                 Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
        ];
        let req = Signed {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            payload_hash: &sha256_hex(b""),
        };
        let now = parse_amz_date("20150830T123600Z").unwrap();
        let caller = verify(&req, &[example()], now).unwrap();
        assert_eq!(caller.account_id, "123456789012");
        assert_eq!(caller.service, "service");
        // One character of the secret off: refused.
        let mut wrong = example();
        wrong.secret_access_key.push('x');
        assert_eq!(verify(&req, &[wrong], now), Err(AuthFailure::BadSignature));
        // Right signature, 16 minutes late.
        assert_eq!(
            verify(&req, &[example()], now + 16 * 60),
            Err(AuthFailure::Expired)
        );
        assert_eq!(verify(&req, &[], now), Err(AuthFailure::UnknownKey));
    }

    /// A client's signature is the published one, and verifies.
    #[test]
    fn authorization_signs_as_an_sdk_does() {
        let headers = [
            ("Host", "example.amazonaws.com"),
            ("X-Amz-Date", "20150830T123600Z"),
        ];
        let req = Signed {
            method: "GET",
            path: "/",
            query: "",
            headers: &headers,
            payload_hash: &sha256_hex(b""),
        };
        let c = example();
        let value = authorization(
            &req,
            "AKIDEXAMPLE",
            &c.secret_access_key,
            "us-east-1",
            "service",
        );
        assert!(
            value.ends_with(
                "SignedHeaders=host;x-amz-date, \
                 Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
            ),
            "{value}"
        );
        let signed = [headers[0], headers[1], ("Authorization", value.as_str())];
        let now = parse_amz_date("20150830T123600Z").unwrap();
        assert!(
            verify(
                &Signed {
                    headers: &signed,
                    ..req
                },
                &[c],
                now
            )
            .is_ok()
        );
    }

    /// The IAM user guide's worked example (GET ListUsers): its published signature.
    #[test]
    fn the_iam_guides_list_users_example() {
        let headers = [
            ("Host", "iam.amazonaws.com"),
            (
                "Content-Type",
                "application/x-www-form-urlencoded; charset=utf-8",
            ),
            ("X-Amz-Date", "20150830T123600Z"),
        ];
        let auth = Authorization {
            access_key_id: "AKIDEXAMPLE".into(),
            date: "20150830".into(),
            region: "us-east-1".into(),
            service: "iam".into(),
            signed_headers: vec!["content-type".into(), "host".into(), "x-amz-date".into()],
            signature: String::new(),
        };
        let req = Signed {
            method: "GET",
            path: "/",
            query: "Action=ListUsers&Version=2010-05-08",
            headers: &headers,
            payload_hash: &sha256_hex(b""),
        };
        let canonical = canonical_request(&req, &auth);
        assert_eq!(
            sha256_hex(canonical.as_bytes()),
            "f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59"
        );
        assert_eq!(
            signature(
                &example().secret_access_key,
                "20150830T123600Z",
                &auth,
                &canonical
            ),
            "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
        );
    }

    #[test]
    fn headers_that_are_not_whole_are_incomplete() {
        for bad in [
            "",
            "AWS4-HMAC-SHA256",
            "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/ec2/aws4_request",
            "AWS4-HMAC-SHA256 Credential=AK/2015/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=00",
            "AWS AKIDEXAMPLE:abc",
            "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1/ec2/other, SignedHeaders=host, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        ] {
            assert_eq!(parse_authorization(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_failure_has_a_row_in_every_family() {
        for failure in [
            AuthFailure::Missing,
            AuthFailure::Incomplete,
            AuthFailure::UnknownKey,
            AuthFailure::BadSignature,
            AuthFailure::Expired,
        ] {
            for family in [Family::Ec2, Family::Query, Family::Json, Family::S3] {
                let d = failure.def(family);
                assert!((400..500).contains(&d.status));
            }
        }
    }

    #[test]
    fn amz_dates() {
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
        for bad in [
            "20150830T123600",
            "2015083OT123600Z",
            "20151330T123600Z",
            "+0150830T123600Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_twelve_digit_key_is_its_own_account_when_any_credentials_go() {
        let h = [(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=111122223333/20150830/eu-west-1/logs/aws4_request, SignedHeaders=host, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
        )];
        let c = unverified(&h, "123456789012");
        assert_eq!(
            (c.account_id.as_str(), c.region.as_str()),
            ("111122223333", "eu-west-1")
        );
        assert_eq!(unverified(&[], "123456789012").account_id, "123456789012");
    }
}
