//! S3's REST protocol for the local buckets (`DATA/s3/<bucket>/`): ListBuckets,
//! ListObjectsV2 (prefix, delimiter, start-after, continuation, `encoding-type=url`),
//! GetObject (with `Range`) and HeadObject, CreateBucket, PutObject (plain or `aws-chunked`)
//! and DeleteObject, and Get/Put(/Delete)BucketPolicy, Get/PutBucketLifecycleConfiguration and
//! Get/PutBucketNotificationConfiguration, path-style and virtual-host (`BUCKET.localhost`)
//! addressing. The objects served are the delivered files themselves. Ownership, writes,
//! expiration and notifications are the buckets service's (`vpcflow_store::buckets`); the
//! configurations' XML is [`crate::s3_docs`]'s.
//!
//! Written by hand rather than on `s3s` (ARCHITECTURE.md §9): an s3s service owns a request
//! whole, with its own routing and SigV4, where this server routes and verifies every protocol
//! on one port itself (`reference/aws-api.md` §3).
//!
//! A key names a file under its bucket only through plain path segments: a `..` or `.` segment,
//! an empty segment or a NUL is no key at all (`NoSuchKey`), so no request reaches outside the
//! bucket.

#[cfg(feature = "service")]
use std::path::Path;

#[cfg(feature = "service")]
use vpcflow_store::bucket_config::{etag, mtime_ms, object_path};
#[cfg(feature = "service")]
use vpcflow_store::buckets::Config;

use crate::reply::Reply;
use crate::sigv4::header;
use crate::xml::element;
#[cfg(feature = "service")]
use crate::xml::escape;

/// S3's namespace.
pub const XMLNS: &str = "http://s3.amazonaws.com/doc/2006-03-01/";
/// ListObjectsV2's page size, and its default.
pub const MAX_KEYS: usize = 1000;

/// The local buckets (`DATA/s3`), one connection to their service taken in turn.
#[cfg(feature = "service")]
pub struct Buckets {
    /// The buckets service.
    pub store: std::sync::Mutex<vpcflow_store::buckets::Buckets>,
}

/// A request as S3 reads it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// `GET`, `HEAD`, …
    pub method: &'a str,
    /// The path as sent (percent-encoded).
    pub path: &'a str,
    /// The query string as sent.
    pub query: &'a str,
    /// Every header.
    pub headers: &'a [(&'a str, &'a str)],
}

fn decode(s: &str) -> String {
    String::from_utf8_lossy(&crate::sigv4::percent_decode(s)).into_owned()
}

#[cfg(feature = "service")]
/// Query parameters, decoded (`+` is a space in S3's query strings as in forms).
fn params(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The bucket and key a request names: virtual-host (`BUCKET.localhost[:port]`) or path style.
pub fn address(req: &Request<'_>) -> (Option<String>, String) {
    let host = header(req.headers, "host").unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let path = req.path.strip_prefix('/').unwrap_or(req.path);
    if let Some(bucket) = host.strip_suffix(".localhost")
        && !bucket.is_empty()
    {
        return (Some(bucket.to_owned()), decode(path));
    }
    match path.split_once('/') {
        None if path.is_empty() => (None, String::new()),
        None => (Some(decode(path)), String::new()),
        Some((b, k)) => (Some(decode(b)), decode(k)),
    }
}

/// An error in S3's shape.
pub fn error(status: u16, code: &str, message: &str, resource: &str, id: &str) -> Reply {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
    element(&mut out, "Code", code);
    element(&mut out, "Message", message);
    element(&mut out, "Resource", resource);
    element(&mut out, "RequestId", id);
    out.push_str("</Error>");
    Reply::new(status, "application/xml", out)
}

#[cfg(feature = "service")]
/// `Sun, 06 Dec 2026 21:29:42 GMT`.
fn http_date(ms: u64) -> String {
    let c = vpcflow_store::time::Civil::of_secs(ms / 1000);
    let days = ms / 1000 / 86_400;
    let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(days % 7) as usize];
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(c.month - 1) as usize];
    format!(
        "{weekday}, {:02} {month} {:04} {:02}:{:02}:{:02} GMT",
        c.day, c.year, c.hour, c.minute, c.second
    )
}

/// The bucket subresource a request names (`?policy`, `?lifecycle`, `?notification`), or
/// `Some("")` for one not served, `None` for none.
fn subresource(query: &str) -> Option<&'static str> {
    const SERVED: &[&str] = &["policy", "lifecycle", "notification"];
    const LISTING: &[&str] = &[
        "list-type",
        "prefix",
        "delimiter",
        "continuation-token",
        "start-after",
        "max-keys",
        "encoding-type",
        "fetch-owner",
        "x-id",
        "marker",
    ];
    let mut other = false;
    for (k, _) in form_urlencoded::parse(query.as_bytes()) {
        if let Some(s) = SERVED.iter().find(|s| **s == k) {
            return Some(s);
        }
        other |= !LISTING.contains(&k.as_ref()) && !k.starts_with("response-");
    }
    other.then_some("")
}

/// The operation a request is, by S3's names (for `/metrics`, the log and dispatch).
pub fn action(req: &Request<'_>) -> &'static str {
    let (bucket, key) = address(req);
    let sub = subresource(req.query);
    match (req.method, bucket.is_some(), key.is_empty(), sub) {
        ("GET", false, _, _) => "ListBuckets",
        (_, true, true, Some("policy")) => match req.method {
            "GET" => "GetBucketPolicy",
            "PUT" => "PutBucketPolicy",
            "DELETE" => "DeleteBucketPolicy",
            _ => "unknown",
        },
        (_, true, true, Some("lifecycle")) => match req.method {
            "GET" => "GetBucketLifecycleConfiguration",
            "PUT" => "PutBucketLifecycleConfiguration",
            "DELETE" => "DeleteBucketLifecycle",
            _ => "unknown",
        },
        ("GET", true, true, Some("notification")) => "GetBucketNotificationConfiguration",
        ("PUT", true, true, Some("notification")) => "PutBucketNotificationConfiguration",
        (_, _, _, Some(_)) => "unknown",
        ("GET", true, true, None) => "ListObjectsV2",
        ("HEAD", true, true, None) => "HeadBucket",
        ("PUT", true, true, None) => "CreateBucket",
        ("GET", true, false, None) => "GetObject",
        ("HEAD", true, false, None) => "HeadObject",
        ("PUT", true, false, None) => "PutObject",
        ("DELETE", true, false, None) => "DeleteObject",
        _ => "unknown",
    }
}

#[cfg(feature = "service")]
fn refused(e: &vpcflow_store::buckets::BucketError, resource: &str, id: &str) -> Reply {
    use vpcflow_store::buckets::BucketError;
    match e {
        BucketError::Refused {
            status,
            code,
            message,
        } => error(*status, code, message, resource, id),
        other => error(500, "InternalError", &other.to_string(), resource, id),
    }
}

/// PutObject's body: as sent, or the data of an `aws-chunked` one.
pub fn object_body(headers: &[(&str, &str)], body: &[u8]) -> Option<Vec<u8>> {
    let chunked = header(headers, "content-encoding").is_some_and(|v| v.contains("aws-chunked"))
        || header(headers, "x-amz-content-sha256").is_some_and(|v| v.starts_with("STREAMING-"));
    if chunked {
        crate::s3_docs::decode_aws_chunked(body)
    } else {
        Some(body.to_vec())
    }
}

/// Answers a request for `account` at `now_ms`.
#[cfg(feature = "service")]
pub fn handle(
    b: &Buckets,
    account: &str,
    req: &Request<'_>,
    body: &[u8],
    now_ms: u64,
    id: &str,
) -> Reply {
    let store = b
        .store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (bucket, key) = address(req);
    let op = action(req);
    let Some(bucket) = bucket else {
        return match op {
            "ListBuckets" => list_buckets(&store, account),
            _ => not_implemented(req, id),
        };
    };
    let resource = format!("/{bucket}");
    if op == "CreateBucket" {
        return match store.create(&bucket, account, now_ms) {
            Ok(()) => {
                let mut r = Reply::new(200, "application/xml", Vec::new());
                r.headers.push(("location", format!("/{bucket}")));
                r
            }
            Err(e) => refused(&e, &resource, id),
        };
    }
    let dir = match store.owned(&bucket, account) {
        Ok(d) => d,
        Err(e) => return refused(&e, &resource, id),
    };
    let object = format!("/{bucket}/{key}");
    let done = |r: Result<(), vpcflow_store::buckets::BucketError>, status: u16| match r {
        Ok(()) => Reply::new(status, "application/xml", Vec::new()),
        Err(e) => refused(&e, &resource, id),
    };
    match op {
        "ListObjectsV2" => list_objects(&bucket, &dir, req.query, id),
        "HeadBucket" => Reply::new(200, "application/xml", Vec::new()),
        "GetObject" | "HeadObject" => get_object(&bucket, &dir, &key, req, id),
        "PutObject" => put_object(&store, (&bucket, &key), account, req, body, now_ms, id),
        "DeleteObject" => match store.delete_object(&bucket, &key, account, now_ms) {
            Ok(()) => Reply::new(204, "application/xml", Vec::new()),
            Err(e) => refused(&e, &object, id),
        },
        "GetBucketPolicy"
        | "GetBucketLifecycleConfiguration"
        | "GetBucketNotificationConfiguration" => get_config(&store, &bucket, account, op, id),
        "PutBucketPolicy" => {
            let text = String::from_utf8_lossy(body);
            done(
                store.set_config(&bucket, account, Config::Policy, Some(&text)),
                204,
            )
        }
        "DeleteBucketPolicy" => done(
            store.set_config(&bucket, account, Config::Policy, None),
            204,
        ),
        "DeleteBucketLifecycle" => done(store.set_lifecycle(&bucket, account, None), 204),
        "PutBucketLifecycleConfiguration" => match crate::s3_docs::parse_lifecycle(body) {
            Ok(rules) => done(store.set_lifecycle(&bucket, account, Some(&rules)), 200),
            Err(r) => error(r.status, r.code, &r.message, &resource, id),
        },
        "PutBucketNotificationConfiguration" => match crate::s3_docs::parse_notification(body) {
            Ok(targets) => done(store.set_notification(&bucket, account, &targets), 200),
            Err(r) => error(r.status, r.code, &r.message, &resource, id),
        },
        _ => not_implemented(req, id),
    }
}

#[cfg(feature = "service")]
fn put_object(
    store: &vpcflow_store::buckets::Buckets,
    (bucket, key): (&str, &str),
    account: &str,
    req: &Request<'_>,
    body: &[u8],
    now_ms: u64,
    id: &str,
) -> Reply {
    let resource = format!("/{bucket}/{key}");
    if header(req.headers, "x-amz-copy-source").is_some() {
        return not_implemented(req, id);
    }
    let Some(data) = object_body(req.headers, body) else {
        return error(
            400,
            "IncompleteBody",
            "The request body is not a whole aws-chunked body.",
            &resource,
            id,
        );
    };
    match store.put_object(bucket, key, &data, account, now_ms) {
        Ok(etag) => {
            let mut r = Reply::new(200, "application/xml", Vec::new());
            r.headers.push(("etag", etag));
            r
        }
        Err(e) => refused(&e, &resource, id),
    }
}

#[cfg(feature = "service")]
fn get_config(
    store: &vpcflow_store::buckets::Buckets,
    bucket: &str,
    account: &str,
    op: &str,
    id: &str,
) -> Reply {
    let got = match op {
        "GetBucketPolicy" => store
            .policy(bucket, account)
            .map(|p| Reply::new(200, "application/json", p)),
        "GetBucketLifecycleConfiguration" => store.lifecycle(bucket, account).map(|rules| {
            Reply::new(
                200,
                "application/xml",
                crate::s3_docs::lifecycle_xml(&rules),
            )
        }),
        _ => store.notification(bucket, account).map(|targets| {
            Reply::new(
                200,
                "application/xml",
                crate::s3_docs::notification_xml(&targets),
            )
        }),
    };
    got.unwrap_or_else(|e| refused(&e, &format!("/{bucket}"), id))
}

#[cfg(feature = "service")]
fn not_implemented(req: &Request<'_>, id: &str) -> Reply {
    error(
        501,
        "NotImplemented",
        "vpcflow's S3 serves ListBuckets, ListObjectsV2, GetObject, HeadObject, CreateBucket, \
         PutObject, DeleteObject and the bucket policy, lifecycle and notification \
         configurations; this request is not one of them.",
        req.path,
        id,
    )
}

#[cfg(feature = "service")]
fn list_buckets(store: &vpcflow_store::buckets::Buckets, account: &str) -> Reply {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListAllMyBucketsResult xmlns=\"{XMLNS}\"><Owner>"
    );
    element(&mut out, "ID", account);
    out.push_str("</Owner><Buckets>");
    for (name, created) in store.list(account).unwrap_or_default() {
        let created = if created == 0 {
            std::fs::metadata(store.root(&name)).map_or(0, |m| mtime_ms(&m))
        } else {
            created
        };
        out.push_str("<Bucket>");
        element(&mut out, "Name", &name);
        element(
            &mut out,
            "CreationDate",
            &vpcflow_store::time::aws_xml_time(created),
        );
        out.push_str("</Bucket>");
    }
    out.push_str("</Buckets></ListAllMyBucketsResult>");
    Reply::new(200, "application/xml", out)
}

/// What a ListObjectsV2 page holds: keys with their metadata and the common prefixes, by
/// S3's rules (pure, over a bucket's sorted keys).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// Keys shown (index into the input).
    pub contents: Vec<usize>,
    /// Prefixes rolled up at the delimiter.
    pub prefixes: Vec<String>,
    /// Where the next page starts (the last key or prefix shown), if there is one.
    pub next: Option<String>,
}

/// One page of `keys` (sorted) after `after`, under `prefix`, rolled up at `delimiter`.
pub fn page(
    keys: &[&str],
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    max: usize,
) -> Page {
    let mut out = Page::default();
    let mut last: Option<String> = None;
    for (i, k) in keys.iter().enumerate() {
        if !k.starts_with(prefix) || after.is_some_and(|a| *k <= a) {
            continue;
        }
        let rolled = delimiter.filter(|d| !d.is_empty()).and_then(|d| {
            k[prefix.len()..]
                .find(d)
                .map(|at| k[..prefix.len() + at + d.len()].to_owned())
        });
        if let Some(p) = &rolled
            && (out.prefixes.last() == Some(p) || after.is_some_and(|a| p.as_str() <= a))
        {
            continue;
        }
        if out.contents.len() + out.prefixes.len() == max {
            out.next = last;
            return out;
        }
        match rolled {
            Some(p) => {
                last = Some(p.clone());
                out.prefixes.push(p);
            }
            None => {
                last = Some((*k).to_owned());
                out.contents.push(i);
            }
        }
    }
    out
}

#[cfg(feature = "service")]
fn url_encode(s: &str, yes: bool) -> String {
    if !yes {
        return s.to_owned();
    }
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(feature = "service")]
fn list_objects(bucket: &str, dir: &Path, query: &str, id: &str) -> Reply {
    let p = params(query);
    let get = |n: &str| p.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let max = match get("max-keys").map(str::parse::<usize>) {
        None => MAX_KEYS,
        Some(Ok(n)) => n.min(MAX_KEYS),
        Some(Err(_)) => {
            return error(
                400,
                "InvalidArgument",
                "Provided max-keys not an integer or within integer range",
                &format!("/{bucket}"),
                id,
            );
        }
    };
    let prefix = get("prefix").unwrap_or_default();
    let delimiter = get("delimiter");
    let token = get("continuation-token");
    let start_after = get("start-after");
    let url = get("encoding-type") == Some("url");
    let all = match vpcflow_store::bucket_config::objects(dir) {
        Ok(k) => k,
        Err(e) => return error(500, "InternalError", &e.to_string(), bucket, id),
    };
    let names: Vec<&str> = all.iter().map(|(k, _)| k.as_str()).collect();
    let after = token.or(start_after);
    let pg = page(&names, prefix, delimiter, after, max);
    let mut out =
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"{XMLNS}\">");
    element(&mut out, "Name", bucket);
    element(&mut out, "Prefix", &url_encode(prefix, url));
    if let Some(d) = delimiter {
        element(&mut out, "Delimiter", &url_encode(d, url));
    }
    if let Some(s) = start_after {
        element(&mut out, "StartAfter", &url_encode(s, url));
    }
    if let Some(t) = token {
        element(&mut out, "ContinuationToken", t);
    }
    element(
        &mut out,
        "KeyCount",
        &(pg.contents.len() + pg.prefixes.len()).to_string(),
    );
    element(&mut out, "MaxKeys", &max.to_string());
    if url {
        element(&mut out, "EncodingType", "url");
    }
    element(&mut out, "IsTruncated", &pg.next.is_some().to_string());
    if let Some(n) = &pg.next {
        element(&mut out, "NextContinuationToken", n);
    }
    for &i in &pg.contents {
        let (k, meta) = &all[i];
        out.push_str("<Contents>");
        element(&mut out, "Key", &url_encode(k, url));
        element(
            &mut out,
            "LastModified",
            &vpcflow_store::time::aws_xml_time(mtime_ms(meta)),
        );
        out.push_str(&format!("<ETag>{}</ETag>", escape(&etag(meta))));
        element(&mut out, "Size", &meta.len().to_string());
        element(&mut out, "StorageClass", "STANDARD");
        out.push_str("</Contents>");
    }
    for p in &pg.prefixes {
        out.push_str("<CommonPrefixes>");
        element(&mut out, "Prefix", &url_encode(p, url));
        out.push_str("</CommonPrefixes>");
    }
    out.push_str("</ListBucketResult>");
    Reply::new(200, "application/xml", out)
}

/// A `Range: bytes=…` header over `len` bytes: the first and last byte, or `None` when it
/// cannot be satisfied. Only one range is taken (as S3 does).
pub fn range(value: &str, len: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    let (a, b) = spec.split_once('-')?;
    let (first, last) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok().filter(|n| *n > 0)?;
            (len.saturating_sub(n), len.checked_sub(1)?)
        }
        (a, "") => (a.parse().ok()?, len.checked_sub(1)?),
        (a, b) => {
            let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
            (a, b.min(len.saturating_sub(1)))
        }
    };
    (first < len && first <= last).then_some((first, last))
}

#[cfg(feature = "service")]
fn get_object(bucket: &str, dir: &Path, key: &str, req: &Request<'_>, id: &str) -> Reply {
    let resource = format!("/{bucket}/{key}");
    let no_key = || {
        if req.method == "HEAD" {
            Reply::new(404, "application/xml", Vec::new())
        } else {
            error(
                404,
                "NoSuchKey",
                "The specified key does not exist.",
                &resource,
                id,
            )
        }
    };
    let Some(path) = object_path(dir, key) else {
        return no_key();
    };
    let meta = match std::fs::metadata(&path) {
        Ok(m) if m.is_file() => m,
        _ => return no_key(),
    };
    let len = meta.len();
    let (status, first, last) = match header(req.headers, "range") {
        None => (200, 0, len.saturating_sub(1)),
        Some(r) => match range(r, len) {
            Some((a, b)) => (206, a, b),
            None => {
                return error(
                    416,
                    "InvalidRange",
                    "The requested range is not satisfiable",
                    &resource,
                    id,
                );
            }
        },
    };
    let body = if req.method == "HEAD" || len == 0 {
        Vec::new()
    } else {
        match read_range(&path, first, last) {
            Ok(b) => b,
            Err(e) => return error(500, "InternalError", &e.to_string(), &resource, id),
        }
    };
    let content_type = if key.ends_with(".parquet") {
        "application/vnd.apache.parquet"
    } else if key.ends_with(".gz") {
        "application/gzip"
    } else {
        "application/octet-stream"
    };
    let mut reply = Reply::new(status, content_type, body);
    reply.headers.push(("etag", etag(&meta)));
    reply
        .headers
        .push(("last-modified", http_date(mtime_ms(&meta))));
    reply.headers.push(("accept-ranges", "bytes".to_owned()));
    if status == 206 {
        reply
            .headers
            .push(("content-range", format!("bytes {first}-{last}/{len}")));
    }
    if req.method == "HEAD" {
        reply.headers.push(("content-length", len.to_string()));
    }
    reply
}

#[cfg(feature = "service")]
fn read_range(path: &Path, first: u64, last: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Read as _, Seek as _, SeekFrom};
    let mut f = std::fs::File::open(path)?;
    f.seek(SeekFrom::Start(first))?;
    let mut out = Vec::with_capacity((last - first + 1) as usize);
    f.take(last - first + 1).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn ranges_as_s3_reads_them() {
        assert_eq!(range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(range("bytes=-1000", 100), Some((0, 99)));
        assert_eq!(range("bytes=50-5000", 100), Some((50, 99)));
        for bad in [
            "bytes=100-",
            "bytes=5-1",
            "bytes=-0",
            "items=0-1",
            "bytes=a-b",
            "bytes=0-1",
        ] {
            let len = if bad == "bytes=0-1" { 0 } else { 100 };
            assert_eq!(range(bad, len), None, "{bad}");
        }
    }

    #[test]
    fn pages_roll_up_at_the_delimiter_and_go_on_after_the_token() {
        let keys = ["a/1", "a/2", "b", "c/x/1", "c/y/1", "d"];
        let p = page(&keys, "", Some("/"), None, 1000);
        assert_eq!(p.contents, [2, 5]);
        assert_eq!(p.prefixes, ["a/", "c/"]);
        assert_eq!(p.next, None);
        let p = page(&keys, "c/", Some("/"), None, 1000);
        assert_eq!(p.prefixes, ["c/x/", "c/y/"]);
        // Two per page: every key once, in order.
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let p = page(&keys, "", None, after.as_deref(), 2);
            seen.extend(p.contents.iter().map(|&i| keys[i]));
            match p.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, keys);
        // With the delimiter, pages of one: a, b, c, d.
        let mut shown = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let p = page(&keys, "", Some("/"), after.as_deref(), 1);
            shown.extend(p.prefixes.clone());
            shown.extend(p.contents.iter().map(|&i| keys[i].to_owned()));
            match p.next {
                Some(n) => after = Some(n),
                None => break,
            }
        }
        assert_eq!(shown, ["a/", "b", "c/", "d"]);
    }

    #[test]
    fn operations_by_method_address_and_subresource() {
        let op = |method, path, query| {
            action(&Request {
                method,
                path,
                query,
                headers: &[("host", "127.0.0.1:4599")],
            })
        };
        for (method, path, query, want) in [
            ("GET", "/", "", "ListBuckets"),
            ("GET", "/b", "list-type=2&prefix=a", "ListObjectsV2"),
            ("PUT", "/b", "", "CreateBucket"),
            ("PUT", "/b/k", "", "PutObject"),
            ("DELETE", "/b/k", "", "DeleteObject"),
            ("GET", "/b/k", "", "GetObject"),
            ("GET", "/b", "policy", "GetBucketPolicy"),
            ("PUT", "/b", "policy=", "PutBucketPolicy"),
            ("DELETE", "/b", "policy", "DeleteBucketPolicy"),
            ("PUT", "/b", "lifecycle", "PutBucketLifecycleConfiguration"),
            ("GET", "/b", "lifecycle", "GetBucketLifecycleConfiguration"),
            (
                "PUT",
                "/b",
                "notification",
                "PutBucketNotificationConfiguration",
            ),
            (
                "GET",
                "/b",
                "notification",
                "GetBucketNotificationConfiguration",
            ),
            ("GET", "/b", "acl", "unknown"),
            ("PUT", "/b/k", "tagging", "unknown"),
            ("POST", "/b/k", "uploads", "unknown"),
        ] {
            assert_eq!(op(method, path, query), want, "{method} {path}?{query}");
        }
    }

    #[test]
    fn keys_that_leave_the_bucket_are_no_keys() {
        let dir = Path::new("/data/s3/b");
        for bad in ["../x", "a/../../x", "a//b", "./a", "a/.", "", "a\0b"] {
            assert_eq!(object_path(dir, bad), None, "{bad:?}");
        }
        assert_eq!(
            object_path(dir, "AWSLogs/1/x.log.gz"),
            Some(PathBuf::from("/data/s3/b/AWSLogs/1/x.log.gz"))
        );
    }

    #[test]
    fn addressing_by_path_and_by_virtual_host() {
        let req = |path, host| {
            Request {
                method: "GET",
                path,
                query: "",
                headers: &[],
            }
            .with_host(host)
        };
        assert_eq!(
            req("/b/k%20x/y", "127.0.0.1:4599"),
            (Some("b".into()), "k x/y".into())
        );
        assert_eq!(
            req("/b", "localhost:4599"),
            (Some("b".into()), String::new())
        );
        assert_eq!(req("/", "localhost"), (None, String::new()));
        assert_eq!(
            req("/k/1", "flow-logs.localhost:4599"),
            (Some("flow-logs".into()), "k/1".into())
        );
    }

    impl Request<'_> {
        fn with_host(self, host: &str) -> (Option<String>, String) {
            let h = [("host", host)];
            address(&Request {
                headers: &h,
                ..self
            })
        }
    }
}
