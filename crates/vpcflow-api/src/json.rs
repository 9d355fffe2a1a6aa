//! The awsJson protocols' common wire (`reference/aws-api.md` §2.2): a JSON body in, a JSON body
//! out, errors as `{"__type": CODE, "message": …}`. Request bodies are decoded into the services'
//! own request types; what serde refuses is answered as AWS answers it: a required member that is
//! absent is a validation error naming it, anything else that does not fit the shapes is
//! `SerializationException`.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::reply::Reply;

/// awsJson 1.1's content type (Logs, Firehose).
pub const JSON_11: &str = "application/x-amz-json-1.1";
/// awsJson 1.0's (CloudWatch).
pub const JSON_10: &str = "application/x-amz-json-1.0";
/// The largest body taken: PutLogEvents' own limit is 1 MiB of events, and JSON adds a little.
pub const MAX_BODY_BYTES: usize = 2 << 20;

/// A request the JSON layer refuses before any service sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status.
    pub status: u16,
    /// `__type`.
    pub code: &'static str,
    /// Message.
    pub message: String,
}

/// An error answer.
pub fn error(content_type: &'static str, status: u16, code: &str, message: &str) -> Reply {
    let body = serde_json::json!({ "__type": code, "message": message });
    Reply::new(status, content_type, body.to_string())
}

/// The answer when a service failed, not the request: 500 `ServiceUnavailableException`.
pub fn unavailable(content_type: &'static str, e: &dyn std::fmt::Display) -> Reply {
    error(
        content_type,
        500,
        "ServiceUnavailableException",
        &e.to_string(),
    )
}

/// A refusal's answer.
pub fn refused(content_type: &'static str, r: &Refusal) -> Reply {
    error(content_type, r.status, r.code, &r.message)
}

/// A 200 answer with `value` as its body.
pub fn ok(content_type: &'static str, value: &impl Serialize) -> Reply {
    let body = serde_json::to_vec(value).expect("answers serialize");
    Reply::new(200, content_type, body)
}

/// The 200 answer of an operation with no output: `{}`.
pub fn empty(content_type: &'static str) -> Reply {
    Reply::new(200, content_type, &b"{}"[..])
}

/// An operation the service does not have.
pub fn unknown_operation(operation: &str) -> Refusal {
    Refusal {
        status: 400,
        code: "UnknownOperationException",
        message: format!("The operation {operation} is not one this service answers."),
    }
}

/// Decodes a request body into `T` (an empty body is `{}`).
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    decode_up_to(body, MAX_BODY_BYTES)
}

/// [`decode`], taking bodies up to `max` bytes (Firehose's batches are larger than the rest).
pub fn decode_up_to<T: DeserializeOwned>(body: &[u8], max: usize) -> Result<T, Refusal> {
    if body.len() > max {
        return Err(Refusal {
            status: 413,
            code: "SerializationException",
            message: format!(
                "The request body is {} bytes; at most {max} are taken.",
                body.len()
            ),
        });
    }
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        &b"{}"[..]
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| {
        let text = e.to_string();
        match text
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split_once('`'))
        {
            Some((member, _)) => Refusal {
                status: 400,
                code: "InvalidParameterException",
                message: format!(
                    "1 validation error detected: Value null at '{member}' failed to satisfy \
                     constraint: Member must not be null"
                ),
            },
            None => Refusal {
                status: 400,
                code: "SerializationException",
                message: format!("The request body does not fit the operation's shapes: {text}"),
            },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Req {
        log_group_name: String,
        limit: Option<i64>,
    }

    #[test]
    fn what_does_not_fit_is_answered_as_aws_answers_it() {
        let missing = decode::<Req>(b"{}").unwrap_err();
        assert_eq!(missing.code, "InvalidParameterException");
        assert!(
            missing.message.contains("at 'logGroupName'"),
            "{}",
            missing.message
        );
        for bad in [
            &b"{"[..],
            b"[]",
            b"{\"logGroupName\": 5}",
            b"\xff",
            b"{\"logGroupName\":\"a\",\"limit\":\"x\"}",
        ] {
            let r = decode::<Req>(bad).unwrap_err();
            assert_eq!(
                (r.status, r.code),
                (400, "SerializationException"),
                "{bad:?}"
            );
        }
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(decode::<Req>(&big).unwrap_err().status, 413);
        assert_eq!(
            decode::<Req>(b"  ").unwrap_err().code,
            "InvalidParameterException"
        );
    }
}
