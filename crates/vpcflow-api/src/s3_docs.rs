//! The documents S3's write requests carry, read and written: a bucket's lifecycle and
//! notification configurations (XML, read with `quick-xml` into the buckets service's types),
//! and PutObject bodies sent `aws-chunked` (the SDKs' streaming uploads). Pure, so that the
//! request parsers are fuzzed with the others.

use quick_xml::Reader;
use quick_xml::events::Event;
use vpcflow_store::bucket_config::{LifecycleRule, NotificationTarget};

use crate::xml::{element, escape};

/// A document S3 refuses: status, code, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status.
    pub status: u16,
    /// S3's code.
    pub code: &'static str,
    /// The message.
    pub message: String,
}

fn malformed() -> Refusal {
    Refusal {
        status: 400,
        code: "MalformedXML",
        message: "The XML you provided was not well-formed or did not validate against our \
                  published schema"
            .into(),
    }
}

fn invalid(message: impl Into<String>) -> Refusal {
    Refusal {
        status: 400,
        code: "InvalidArgument",
        message: message.into(),
    }
}

/// Every element's text with the path of element names it sits at under the root
/// (`Rule/Filter/Prefix`), and each end of an element, as `(path, None)`.
fn walk(xml: &[u8]) -> Result<Vec<(String, Option<String>)>, Refusal> {
    let mut reader = Reader::from_reader(xml);
    let mut path: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut text = String::new();
    let mut buf = Vec::new();
    let under = |path: &[String]| path.get(1..).map(|p| p.join("/")).unwrap_or_default();
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|_| malformed())?;
        if matches!(
            event,
            Event::Start(_) | Event::End(_) | Event::Empty(_) | Event::Eof
        ) {
            if !text.trim().is_empty() && !path.is_empty() {
                out.push((under(&path), Some(text.trim().to_owned())));
            }
            text.clear();
        }
        match event {
            Event::Start(e) => {
                path.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                if path.len() > 16 {
                    return Err(malformed());
                }
            }
            Event::Empty(e) => {
                path.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned());
                out.push((under(&path), Some(String::new())));
                out.push((under(&path), None));
                path.pop();
            }
            Event::Text(t) => text.push_str(&t.xml10_content().map_err(|_| malformed())?),
            Event::CData(t) => text.push_str(&t.decode().map_err(|_| malformed())?),
            Event::GeneralRef(r) => {
                if let Some(c) = r.resolve_char_ref().map_err(|_| malformed())? {
                    text.push(c);
                } else {
                    text.push(match &*r {
                        b"amp" => '&',
                        b"lt" => '<',
                        b"gt" => '>',
                        b"quot" => '"',
                        b"apos" => '\'',
                        _ => return Err(malformed()),
                    });
                }
            }
            Event::End(_) => {
                out.push((under(&path), None));
                path.pop().ok_or_else(malformed)?;
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !path.is_empty() || out.is_empty() {
        return Err(malformed());
    }
    Ok(out)
}

/// A `PutBucketLifecycleConfiguration` body: its rules (up to 1000), each with a `Status`.
pub fn parse_lifecycle(xml: &[u8]) -> Result<Vec<LifecycleRule>, Refusal> {
    let mut rules = Vec::new();
    let mut rule: Option<(LifecycleRule, Option<String>)> = None;
    for (at, text) in walk(xml)? {
        let r = rule.get_or_insert_with(|| {
            (
                LifecycleRule {
                    id: None,
                    prefix: String::new(),
                    enabled: false,
                    expiration_days: None,
                },
                None,
            )
        });
        match (at.as_str(), text) {
            ("Rule", None) => {
                let (mut done, status) = rule.take().expect("a rule is open");
                done.enabled = match status.as_deref() {
                    Some("Enabled") => true,
                    Some("Disabled") => false,
                    _ => return Err(malformed()),
                };
                rules.push(done);
            }
            ("Rule/ID", Some(t)) => r.0.id = Some(t),
            ("Rule/Status", Some(t)) => r.1 = Some(t),
            ("Rule/Prefix" | "Rule/Filter/Prefix" | "Rule/Filter/And/Prefix", Some(t)) => {
                r.0.prefix = t;
            }
            ("Rule/Expiration/Days", Some(t)) => {
                let days: u32 = t.parse().ok().filter(|d| *d > 0).ok_or_else(|| {
                    invalid("'Days' for Expiration action must be a positive integer")
                })?;
                r.0.expiration_days = Some(days);
            }
            _ => {}
        }
    }
    if rules.is_empty() || rules.len() > 1000 {
        return Err(malformed());
    }
    Ok(rules)
}

/// The `LifecycleConfiguration` document of `rules`.
pub fn lifecycle_xml(rules: &[LifecycleRule]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LifecycleConfiguration xmlns=\"{}\">",
        crate::s3::XMLNS
    );
    for r in rules {
        out.push_str("<Rule>");
        if let Some(id) = &r.id {
            element(&mut out, "ID", id);
        }
        out.push_str("<Filter>");
        element(&mut out, "Prefix", &r.prefix);
        out.push_str("</Filter>");
        element(
            &mut out,
            "Status",
            if r.enabled { "Enabled" } else { "Disabled" },
        );
        if let Some(d) = r.expiration_days {
            out.push_str(&format!("<Expiration><Days>{d}</Days></Expiration>"));
        }
        out.push_str("</Rule>");
    }
    out.push_str("</LifecycleConfiguration>");
    out
}

/// The configurations a notification document may hold, and the element naming each's target.
const TARGETS: &[(&str, &str)] = &[
    ("TopicConfiguration", "Topic"),
    ("QueueConfiguration", "Queue"),
    ("CloudFunctionConfiguration", "CloudFunction"),
];

/// The events S3 notifies of.
const EVENTS: &[&str] = &[
    "s3:ObjectCreated:*",
    "s3:ObjectCreated:Put",
    "s3:ObjectCreated:Post",
    "s3:ObjectCreated:Copy",
    "s3:ObjectCreated:CompleteMultipartUpload",
    "s3:ObjectRemoved:*",
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:LifecycleExpiration:*",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
];

/// A `PutBucketNotificationConfiguration` body: its targets, each an `http://` or `https://`
/// URL given where AWS takes a topic, queue or function ARN (the webhooks vpcflow posts S3's
/// event messages to). An empty document removes every target.
pub fn parse_notification(xml: &[u8]) -> Result<Vec<NotificationTarget>, Refusal> {
    let mut targets = Vec::new();
    let mut open: Option<NotificationTarget> = None;
    let mut rule: (Option<String>, Option<String>) = (None, None);
    for (at, text) in walk(xml)? {
        let (kind, rest) = at.split_once('/').unwrap_or((at.as_str(), ""));
        let Some((_, target_name)) = TARGETS.iter().find(|(k, _)| *k == kind) else {
            continue;
        };
        let t = open.get_or_insert_with(|| NotificationTarget {
            kind: (*target_name).to_owned(),
            id: String::new(),
            url: String::new(),
            events: Vec::new(),
            prefix: String::new(),
            suffix: String::new(),
        });
        match (rest, text) {
            ("", None) => {
                let mut done = open.take().expect("a configuration is open");
                if !(done.url.starts_with("http://") || done.url.starts_with("https://")) {
                    return Err(invalid(format!(
                        "Unable to validate the following destination configurations: '{}' is \
                         not an http:// or https:// URL (vpcflow posts bucket events to \
                         webhooks given as the {target_name})",
                        done.url
                    )));
                }
                if done.events.is_empty() {
                    return Err(malformed());
                }
                if done.id.is_empty() {
                    done.id = format!("notification-{}", targets.len() + 1);
                }
                targets.push(done);
            }
            ("Id", Some(v)) => t.id = v,
            ("Event", Some(v)) => {
                if !EVENTS.contains(&v.as_str()) {
                    return Err(invalid("The event is not supported for notifications"));
                }
                t.events.push(v);
            }
            ("Filter/S3Key/FilterRule/Name", Some(v)) => rule.0 = Some(v.to_ascii_lowercase()),
            ("Filter/S3Key/FilterRule/Value", Some(v)) => rule.1 = Some(v),
            ("Filter/S3Key/FilterRule", None) => match (rule.0.take(), rule.1.take()) {
                (Some(n), v) if n == "prefix" => t.prefix = v.unwrap_or_default(),
                (Some(n), v) if n == "suffix" => t.suffix = v.unwrap_or_default(),
                _ => return Err(invalid("filter rule name must be either prefix or suffix")),
            },
            (r, Some(v)) if r == *target_name => t.url = v,
            _ => {}
        }
    }
    Ok(targets)
}

/// The `NotificationConfiguration` document of `targets`, each in the configuration it was
/// given in.
pub fn notification_xml(targets: &[NotificationTarget]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<NotificationConfiguration xmlns=\"{}\">",
        crate::s3::XMLNS
    );
    for t in targets {
        let kind = TARGETS
            .iter()
            .map(|(_, name)| *name)
            .find(|name| *name == t.kind)
            .unwrap_or("Topic");
        out.push_str(&format!("<{kind}Configuration>"));
        element(&mut out, "Id", &t.id);
        element(&mut out, kind, &t.url);
        for e in &t.events {
            element(&mut out, "Event", e);
        }
        if !t.prefix.is_empty() || !t.suffix.is_empty() {
            out.push_str("<Filter><S3Key>");
            for (name, value) in [("prefix", &t.prefix), ("suffix", &t.suffix)] {
                if !value.is_empty() {
                    out.push_str(&format!(
                        "<FilterRule><Name>{name}</Name><Value>{}</Value></FilterRule>",
                        escape(value)
                    ));
                }
            }
            out.push_str("</S3Key></Filter>");
        }
        out.push_str(&format!("</{kind}Configuration>"));
    }
    out.push_str("</NotificationConfiguration>");
    out
}

/// The data of an `aws-chunked` body: `SIZE[;chunk-signature=…]\r\nDATA\r\n` … up to the zero
/// chunk, whose trailers are dropped. `None` when it is not that.
pub fn decode_aws_chunked(body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body;
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let line = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size_hex = line.split(';').next()?.trim();
        let size = usize::from_str_radix(size_hex, 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        let (data, after) = rest.split_at_checked(size)?;
        out.extend_from_slice(data);
        rest = after.strip_prefix(b"\r\n")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifecycle_rules_are_read_and_written_back() {
        let xml = br#"<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
            <Rule><ID>expire-flow-logs</ID><Filter><Prefix>AWSLogs/</Prefix></Filter>
            <Status>Enabled</Status><Expiration><Days>30</Days></Expiration></Rule>
            <Rule><Filter/><Status>Disabled</Status><Expiration><Days>1</Days></Expiration></Rule>
            </LifecycleConfiguration>"#;
        let rules = parse_lifecycle(xml).unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].id.as_deref(), Some("expire-flow-logs"));
        assert_eq!(
            (
                rules[0].prefix.as_str(),
                rules[0].enabled,
                rules[0].expiration_days
            ),
            ("AWSLogs/", true, Some(30))
        );
        assert_eq!((rules[1].enabled, rules[1].prefix.as_str()), (false, ""));
        assert_eq!(
            parse_lifecycle(lifecycle_xml(&rules).as_bytes()).unwrap(),
            rules
        );
        for bad in [
            &b"<LifecycleConfiguration>"[..],
            b"<LifecycleConfiguration></LifecycleConfiguration>",
            b"<LifecycleConfiguration><Rule><Status>On</Status></Rule></LifecycleConfiguration>",
            b"<LifecycleConfiguration><Rule><Status>Enabled</Status><Expiration><Days>0</Days>\
              </Expiration></Rule></LifecycleConfiguration>",
            b"not xml <",
        ] {
            assert!(
                parse_lifecycle(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn notification_targets_are_webhooks() {
        let xml = br#"<NotificationConfiguration>
            <QueueConfiguration><Id>ingest</Id><Queue>http://127.0.0.1:9/hook</Queue>
            <Event>s3:ObjectCreated:*</Event>
            <Filter><S3Key><FilterRule><Name>Suffix</Name><Value>.log.gz</Value></FilterRule>
            <FilterRule><Name>prefix</Name><Value>AWSLogs/</Value></FilterRule></S3Key></Filter>
            </QueueConfiguration></NotificationConfiguration>"#;
        let t = parse_notification(xml).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(
            (
                t[0].id.as_str(),
                t[0].url.as_str(),
                t[0].prefix.as_str(),
                t[0].suffix.as_str()
            ),
            ("ingest", "http://127.0.0.1:9/hook", "AWSLogs/", ".log.gz")
        );
        assert_eq!(t[0].events, ["s3:ObjectCreated:*"]);
        assert_eq!(
            parse_notification(notification_xml(&t).as_bytes()).unwrap(),
            t
        );
        assert_eq!(
            parse_notification(b"<NotificationConfiguration/>").unwrap(),
            []
        );
        let arn = br#"<NotificationConfiguration><TopicConfiguration>
            <Topic>arn:aws:sns:us-east-1:123456789012:t</Topic><Event>s3:ObjectCreated:*</Event>
            </TopicConfiguration></NotificationConfiguration>"#;
        let e = parse_notification(arn).unwrap_err();
        assert!(e.message.starts_with("Unable to validate"), "{e:?}");
        let bad_event = br#"<NotificationConfiguration><TopicConfiguration>
            <Topic>http://h/</Topic><Event>s3:Nope</Event>
            </TopicConfiguration></NotificationConfiguration>"#;
        assert!(parse_notification(bad_event).is_err());
    }

    #[test]
    fn aws_chunked_bodies_are_their_data() {
        let body = b"5;chunk-signature=abc\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:AAAA\r\n\r\n";
        assert_eq!(decode_aws_chunked(body).unwrap(), b"hello world");
        assert_eq!(decode_aws_chunked(b"0\r\n\r\n").unwrap(), b"");
        for bad in [&b"5\r\nhel"[..], b"zz\r\n", b"5\r\nhelloXX", b""] {
            assert_eq!(decode_aws_chunked(bad), None, "{bad:?}");
        }
    }
}
