//! What a protocol handler answers: status, content type, body and extra headers, and the
//! action it was (for `/metrics` and the request log). The server turns it into HTTP.

/// One answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
    /// Headers beyond the content type and request id (`x-amzn-query-error`, …).
    pub headers: Vec<(&'static str, String)>,
}

/// EC2's and the query protocols' content type.
pub const XML: &str = "text/xml;charset=UTF-8";

impl Reply {
    /// An answer with no extra headers.
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            content_type,
            body: body.into(),
            headers: Vec::new(),
        }
    }

    /// An XML answer.
    pub fn xml(status: u16, body: impl Into<Vec<u8>>) -> Reply {
        Reply::new(status, XML, body)
    }
}
