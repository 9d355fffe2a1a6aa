//! The server on a loopback port, driven over HTTP with requests signed as the SDKs sign them
//! (the SigV4 code is checked against AWS's published vectors in its unit tests): one port for
//! every protocol, each refusal in its protocol's words, body limits, the insecure mode, and
//! `/healthz` and `/metrics`. The clock is fixed, so request times are the test's.

use std::sync::Arc;

use vpcflow_api::server::{Api, Auth, MAX_BODY_BYTES, Opening, Services, serve};
use vpcflow_api::sigv4::{self, Credential, Signed};
use vpcflow_store::{Clock, DataDir};

const KEY: &str = "AKIAIOSFODNN7EXAMPLE";
/// The key of a second account.
const OTHER_KEY: &str = "AKIAOTHERACCOUNT0001";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// 2026-11-22T20:35:43Z.
const NOW_MS: u64 = 1_795_379_743_000;
const AMZ_DATE: &str = "20261122T203543Z";

struct Fixed(u64);

impl Clock for Fixed {
    fn now_ms(&self) -> u64 {
        self.0
    }
    fn sleep_ms(&self, _: u64) {}
}

struct Server {
    runtime: tokio::runtime::Runtime,
    url: String,
    host: String,
    _dir: tempfile::TempDir,
}

fn start(any_credentials: bool, now_ms: u64) -> Server {
    start_with(any_credentials, now_ms, false)
}

/// A server, with the console on when `console`.
fn start_with(any_credentials: bool, now_ms: u64, console: bool) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let clock: Arc<dyn Clock> = Arc::new(Fixed(now_ms));
    let net = Arc::new(vpcflow_net::builtin::load("builtin:three-tier").unwrap());
    let mut api = Api::new(
        Auth {
            credentials: vec![
                Credential {
                    access_key_id: KEY.into(),
                    secret_access_key: SECRET.into(),
                    account_id: "123456789012".into(),
                },
                Credential {
                    access_key_id: OTHER_KEY.into(),
                    secret_access_key: SECRET.into(),
                    account_id: "210987654321".into(),
                },
            ],
            any_credentials,
            default_account: "123456789012".into(),
        },
        Services::open(Opening {
            data: &data,
            network: Arc::new(
                vpcflow_deliver::resources::live::LiveNetwork::open(
                    net,
                    &vpcflow_deliver::State::open(&data.state_db()).unwrap(),
                )
                .unwrap(),
            ),
            buckets: vec!["flow-logs".into()],
            local_buckets: vec!["flow-logs".into()],
            delivery_streams: vec![],
            owner: "123456789012",
            runtime: runtime.handle().clone(),
            clock: Arc::clone(&clock),
        })
        .unwrap(),
        clock,
        None,
    );
    if console {
        api = api.with_console(vpcflow_api::console::Console::new(
            data.clone(),
            runtime.handle().clone(),
        ));
    }
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let host = listener.local_addr().unwrap().to_string();
    runtime.spawn(serve(listener, Arc::new(api), std::future::pending()));
    Server {
        runtime,
        url: format!("http://{host}"),
        host,
        _dir: dir,
    }
}

/// A request: its headers, signed for `service` with `secret` unless `secret` is `None`.
struct Call<'a> {
    service: &'a str,
    headers: Vec<(&'a str, String)>,
    body: Vec<u8>,
    secret: Option<&'a str>,
    key: &'a str,
}

impl Server {
    fn send(&self, call: Call<'_>) -> (u16, String) {
        let mut headers: Vec<(String, String)> = call
            .headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        headers.push(("host".into(), self.host.clone()));
        headers.push(("x-amz-date".into(), AMZ_DATE.into()));
        if let Some(secret) = call.secret {
            let pairs: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let hash = sigv4::sha256_hex(&call.body);
            let value = sigv4::authorization(
                &Signed {
                    method: "POST",
                    path: "/",
                    query: "",
                    headers: &pairs,
                    payload_hash: &hash,
                },
                call.key,
                secret,
                "us-east-1",
                call.service,
            );
            headers.push(("authorization".into(), value));
        }
        let url = self.url.clone();
        self.runtime.block_on(async move {
            let client = reqwest::Client::new();
            let mut req = client.post(&url).body(call.body);
            for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
                req = req.header(k.as_str(), v.as_str());
            }
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            (status, resp.text().await.unwrap())
        })
    }

    /// A console request: its status, headers and body (redirects are not followed).
    fn console(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, Vec<(String, String)>, String) {
        let url = format!("{}{path}", self.url);
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let body = body.to_owned();
        self.runtime.block_on(async move {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap();
            let mut req = client.request(method, &url).body(body);
            for (k, v) in &headers {
                req = req.header(k.as_str(), v.as_str());
            }
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let hs = resp
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                .collect();
            (status, hs, resp.text().await.unwrap())
        })
    }

    fn get(&self, path: &str) -> (u16, String) {
        let url = format!("{}{path}", self.url);
        self.runtime.block_on(async move {
            let resp = reqwest::get(&url).await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        })
    }
}

fn ec2(body: &str, secret: Option<&'static str>) -> Call<'static> {
    Call {
        service: "ec2",
        headers: vec![(
            "content-type",
            "application/x-www-form-urlencoded; charset=utf-8".into(),
        )],
        body: body.as_bytes().to_vec(),
        secret,
        key: KEY,
    }
}

fn logs(op: &str, body: &str, secret: Option<&'static str>) -> Call<'static> {
    let body = body.to_owned();
    Call {
        service: "logs",
        headers: vec![
            ("content-type", "application/x-amz-json-1.1".into()),
            ("x-amz-target", format!("Logs_20140328.{op}")),
        ],
        body: body.as_bytes().to_vec(),
        secret,
        key: KEY,
    }
}

const DESCRIBE: &str = "Action=DescribeFlowLogs&Version=2016-11-15";

#[test]
fn every_protocol_on_one_port_with_signatures_checked() {
    let s = start(false, NOW_MS);
    let (status, xml) = s.send(ec2(DESCRIBE, Some(SECRET)));
    assert_eq!(status, 200, "{xml}");
    assert!(xml.contains("<DescribeFlowLogsResponse"), "{xml}");
    let (status, body) = s.send(logs(
        "CreateLogGroup",
        r#"{"logGroupName": "/a"}"#,
        Some(SECRET),
    ));
    assert_eq!((status, body.as_str()), (200, "{}"));
    let (status, body) = s.send(logs("DescribeLogGroups", "{}", Some(SECRET)));
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["logGroups"][0]["logGroupName"], "/a");
    assert_eq!(
        v["logGroups"][0]["arn"],
        "arn:aws:logs:us-east-1:123456789012:log-group:/a:*"
    );
    let sts = Call {
        service: "sts",
        ..ec2("Action=GetCallerIdentity&Version=2011-06-15", Some(SECRET))
    };
    let (status, xml) = s.send(sts);
    assert_eq!(status, 200);
    assert!(xml.contains("<Account>123456789012</Account>"), "{xml}");
}

#[test]
fn each_refusal_in_its_protocols_words() {
    let s = start(false, NOW_MS);
    let rows: Vec<(Call<'static>, u16, &str)> = vec![
        (
            ec2(DESCRIBE, Some("wrong")),
            403,
            "<Code>SignatureDoesNotMatch</Code>",
        ),
        (
            ec2(DESCRIBE, None),
            401,
            "<Code>MissingAuthenticationToken</Code>",
        ),
        (
            Call {
                key: "AKIAUNKNOWN",
                ..ec2(DESCRIBE, Some(SECRET))
            },
            401,
            "<Code>AuthFailure</Code>",
        ),
        (
            logs("DescribeLogGroups", "{}", Some("wrong")),
            400,
            r#""__type":"InvalidSignatureException""#,
        ),
        (
            Call {
                key: "AKIAUNKNOWN",
                ..logs("DescribeLogGroups", "{}", Some(SECRET))
            },
            400,
            r#""__type":"UnrecognizedClientException""#,
        ),
        (
            Call {
                service: "sts",
                ..ec2("Action=GetCallerIdentity&Version=2011-06-15", Some("wrong"))
            },
            403,
            "<ErrorResponse",
        ),
        (
            logs("Frobnicate", "{}", Some(SECRET)),
            400,
            r#""__type":"UnknownOperationException""#,
        ),
        (
            logs("DescribeLogGroups", r#"{"limit": "x"}"#, Some(SECRET)),
            400,
            r#""__type":"SerializationException""#,
        ),
        (
            logs("GetLogEvents", r#"{"logGroupName": "/a"}"#, Some(SECRET)),
            400,
            "at 'logStreamName' failed to satisfy constraint: Member must not be null",
        ),
        (
            ec2("Action=DescribeImages&Version=2016-11-15", Some(SECRET)),
            400,
            "<Code>InvalidAction</Code>",
        ),
    ];
    for (call, status, needle) in rows {
        let what = format!("{} {:?}", call.service, call.headers);
        let (got, body) = s.send(call);
        assert_eq!(got, status, "{what}: {body}");
        assert!(body.contains(needle), "{what}: {body}");
    }
}

#[test]
fn a_request_signed_more_than_15_minutes_away_has_expired() {
    let late = start(false, NOW_MS + 16 * 60 * 1000);
    let (status, xml) = late.send(ec2(DESCRIBE, Some(SECRET)));
    assert_eq!(status, 400, "{xml}");
    assert!(xml.contains("<Code>RequestExpired</Code>"), "{xml}");
    let (status, body) = late.send(logs("DescribeLogGroups", "{}", Some(SECRET)));
    assert_eq!(status, 400);
    assert!(body.contains("Signature expired"), "{body}");
    // 14 minutes is within AWS's skew.
    let near = start(false, NOW_MS + 14 * 60 * 1000);
    assert_eq!(near.send(ec2(DESCRIBE, Some(SECRET))).0, 200);
}

#[test]
fn a_body_over_the_limit_is_refused_before_it_is_read_whole() {
    let s = start(false, NOW_MS);
    let mut call = ec2(DESCRIBE, None);
    call.body.resize(MAX_BODY_BYTES + 1, b'a');
    let (status, xml) = s.send(call);
    assert_eq!(status, 413, "{xml}");
    assert!(xml.contains("<Code>RequestEntityTooLarge</Code>"), "{xml}");
    let mut call = logs("DescribeLogGroups", "", None);
    call.body.resize(MAX_BODY_BYTES + 1, b' ');
    let (status, body) = s.send(call);
    assert_eq!(status, 413);
    assert!(body.contains("SerializationException"), "{body}");
}

#[test]
fn any_credentials_let_anyone_in_as_their_keys_account() {
    let s = start(true, NOW_MS);
    let sts = Call {
        service: "sts",
        key: "111122223333",
        ..ec2(
            "Action=GetCallerIdentity&Version=2011-06-15",
            Some("anything"),
        )
    };
    let (status, xml) = s.send(sts);
    assert_eq!(status, 200, "{xml}");
    assert!(xml.contains("<Account>111122223333</Account>"), "{xml}");
    let (status, _) = s.send(ec2(DESCRIBE, None));
    assert_eq!(status, 200);
}

#[test]
fn healthz_and_metrics_answer_unsigned_gets() {
    let s = start(false, NOW_MS);
    assert_eq!(s.get("/healthz"), (200, "ok\n".to_owned()));
    s.send(ec2(DESCRIBE, Some(SECRET)));
    s.send(ec2(DESCRIBE, Some("wrong")));
    let (status, text) = s.get("/metrics");
    assert_eq!(status, 200);
    for line in [
        r#"vpcflow_api_requests_total{service="ec2",action="DescribeFlowLogs",status="200"} 1"#,
        r#"vpcflow_api_requests_total{service="ec2",action="DescribeFlowLogs",status="403"} 1"#,
        r#"vpcflow_api_request_duration_seconds_count{service="ec2",action="DescribeFlowLogs"} 2"#,
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
}

#[test]
fn an_account_sees_only_its_own_log_groups_and_queries() {
    let s = start(false, NOW_MS);
    let other = |mut c: Call<'static>| {
        c.key = OTHER_KEY;
        c
    };
    let mine = r#"{"logGroupName": "/mine"}"#;
    assert_eq!(s.send(logs("CreateLogGroup", mine, Some(SECRET))).0, 200);
    let (_, body) = s.send(other(logs("DescribeLogGroups", "{}", Some(SECRET))));
    assert_eq!(body, r#"{"logGroups":[]}"#);
    for (op, body) in [
        ("DeleteLogGroup", mine),
        ("DescribeLogStreams", mine),
        ("FilterLogEvents", mine),
        (
            "PutRetentionPolicy",
            r#"{"logGroupName": "/mine", "retentionInDays": 7}"#,
        ),
        (
            "StartQuery",
            r#"{"logGroupName": "/mine", "startTime": 0, "endTime": 10, "queryString": "stats count(*)"}"#,
        ),
    ] {
        let (status, answer) = s.send(other(logs(op, body, Some(SECRET))));
        assert_eq!(status, 400, "{op}: {answer}");
        assert!(
            answer.contains("ResourceNotFoundException"),
            "{op}: {answer}"
        );
    }
    // The owner's query is not the other's to read or stop.
    let (status, answer) = s.send(logs(
        "StartQuery",
        r#"{"logGroupName": "/mine", "startTime": 0, "endTime": 10, "queryString": "stats count(*)"}"#,
        Some(SECRET),
    ));
    assert_eq!(status, 200, "{answer}");
    let v: serde_json::Value = serde_json::from_str(&answer).unwrap();
    let get = format!(r#"{{"queryId": "{}"}}"#, v["queryId"].as_str().unwrap());
    for op in ["GetQueryResults", "StopQuery"] {
        let (status, answer) = s.send(other(logs(op, &get, Some(SECRET))));
        assert_eq!(status, 400, "{op}: {answer}");
        assert!(answer.contains("ResourceNotFoundException"), "{answer}");
    }
    assert_eq!(s.send(logs("GetQueryResults", &get, Some(SECRET))).0, 200);
    // The group is still there for its owner.
    let (_, body) = s.send(logs("DescribeLogGroups", "{}", Some(SECRET)));
    assert!(body.contains("/mine"), "{body}");
}

#[test]
fn s3_serves_the_buckets_files_and_nothing_outside_them() {
    let s = start(true, NOW_MS);
    let dir = s._dir.path();
    std::fs::create_dir_all(dir.join("s3/flow-logs/AWSLogs")).unwrap();
    std::fs::write(dir.join("s3/flow-logs/AWSLogs/a.log.gz"), b"0123456789").unwrap();
    std::fs::write(dir.join("secret"), b"not an object").unwrap();
    let get = |path: &str, range: Option<&str>| {
        let url = format!("{}{path}", s.url);
        let range = range.map(str::to_owned);
        s.runtime.block_on(async move {
            let mut req = reqwest::Client::new().get(&url);
            if let Some(r) = range {
                req = req.header("range", r);
            }
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        })
    };
    assert_eq!(
        get("/flow-logs/AWSLogs/a.log.gz", None),
        (200, "0123456789".into())
    );
    assert_eq!(
        get("/flow-logs/AWSLogs/a.log.gz", Some("bytes=2-4")),
        (206, "234".into())
    );
    let (status, xml) = get("/flow-logs?list-type=2&prefix=AWS", None);
    assert_eq!(status, 200);
    assert!(xml.contains("<Key>AWSLogs/a.log.gz</Key><"), "{xml}");
    assert!(xml.contains("<Size>10</Size>"), "{xml}");
    for escape in [
        "/flow-logs/..%2F..%2Fsecret",
        "/flow-logs/AWSLogs/..%2F..%2F..%2Fsecret",
        "/flow-logs/%2E%2E/%2E%2E/secret",
    ] {
        let (status, xml) = get(escape, None);
        assert_eq!(status, 404, "{escape}: {xml}");
        // (The client may resolve `%2E%2E` itself; the server then sees no such bucket.)
        assert!(
            xml.contains("NoSuchKey") || xml.contains("NoSuchBucket"),
            "{escape}: {xml}"
        );
        assert!(!xml.contains("not an object"));
    }
    let (status, xml) = get("/nope/x", None);
    assert_eq!(status, 404);
    assert!(xml.contains("NoSuchBucket"), "{xml}");
    let (status, _) = get("/flow-logs/AWSLogs/a.log.gz", Some("bytes=20-30"));
    assert_eq!(status, 416);
}

#[test]
fn s3_writes_make_buckets_and_objects_and_keep_their_configurations() {
    let s = start(true, NOW_MS);
    let dir = s._dir.path().to_path_buf();
    let call = |method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]| {
        let url = format!("{}{path}", s.url);
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let body = body.to_vec();
        s.runtime.block_on(async move {
            let mut req = reqwest::Client::new().request(method, &url).body(body);
            for (k, v) in headers {
                req = req.header(k, v);
            }
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.text().await.unwrap())
        })
    };
    assert_eq!(call("PUT", "/made", &[], b"").0, 200);
    let (status, xml) = call("PUT", "/made", &[], b"");
    assert_eq!(status, 409, "{xml}");
    assert!(xml.contains("BucketAlreadyOwnedByYou"), "{xml}");
    assert_eq!(call("PUT", "/made/a/b.txt", &[], b"hello").0, 200);
    assert_eq!(
        std::fs::read(dir.join("s3/made/a/b.txt")).unwrap(),
        b"hello"
    );
    // An aws-chunked upload is stored as its data.
    let chunked = b"5;chunk-signature=x\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n";
    let headers = [
        ("content-encoding", "aws-chunked"),
        ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
    ];
    assert_eq!(call("PUT", "/made/c.txt", &headers, chunked).0, 200);
    assert_eq!(std::fs::read(dir.join("s3/made/c.txt")).unwrap(), b"hello");
    assert_eq!(call("GET", "/made/c.txt", &[], b""), (200, "hello".into()));
    assert_eq!(call("DELETE", "/made/c.txt", &[], b"").0, 204);
    assert_eq!(call("GET", "/made/c.txt", &[], b"").0, 404);
    // A key that would leave the bucket writes nothing.
    let (status, xml) = call("PUT", "/made/a/..%2F..%2F..%2Fescaped", &[], b"x");
    assert!((400..500).contains(&status), "{status} {xml}");
    assert!(!dir.join("escaped").exists());
    // The configurations, kept and read back in S3's words.
    let (status, xml) = call("GET", "/made?policy", &[], b"");
    assert_eq!(status, 404);
    assert!(xml.contains("NoSuchBucketPolicy"), "{xml}");
    assert_eq!(
        call("PUT", "/made?policy", &[], b"{\"Version\":\"2012-10-17\"}").0,
        204
    );
    assert_eq!(
        call("GET", "/made?policy", &[], b""),
        (200, "{\"Version\":\"2012-10-17\"}".into())
    );
    let lifecycle = b"<LifecycleConfiguration><Rule><ID>x</ID><Filter><Prefix>p/</Prefix></Filter>\
        <Status>Enabled</Status><Expiration><Days>3</Days></Expiration></Rule></LifecycleConfiguration>";
    assert_eq!(call("PUT", "/made?lifecycle", &[], lifecycle).0, 200);
    let (status, xml) = call("GET", "/made?lifecycle", &[], b"");
    assert_eq!(status, 200);
    assert!(
        xml.contains("<Days>3</Days>") && xml.contains("<Prefix>p/</Prefix>"),
        "{xml}"
    );
    let (status, xml) = call("PUT", "/made?lifecycle", &[], b"<LifecycleConfiguration>");
    assert_eq!(status, 400);
    assert!(xml.contains("MalformedXML"), "{xml}");
    let (status, xml) = call("GET", "/made?notification", &[], b"");
    assert_eq!(status, 200);
    assert!(xml.contains("<NotificationConfiguration"), "{xml}");
    let (status, xml) = call("GET", "/made?acl", &[], b"");
    assert_eq!(status, 501, "{xml}");
    // The bucket is listed for its owner.
    let (_, xml) = call("GET", "/", &[], b"");
    assert!(
        xml.contains("<Name>made</Name>") && xml.contains("<Name>flow-logs</Name>"),
        "{xml}"
    );
}

fn firehose(op: &str, body: &str) -> Call<'static> {
    Call {
        service: "firehose",
        headers: vec![
            ("content-type", "application/x-amz-json-1.1".into()),
            ("x-amz-target", format!("Firehose_20150804.{op}")),
        ],
        body: body.as_bytes().to_vec(),
        secret: Some(SECRET),
        key: KEY,
    }
}

#[test]
fn firehose_streams_take_records_that_the_pump_delivers_to_their_bucket() {
    let s = start(false, NOW_MS);
    let create = r#"{"DeliveryStreamName": "flows", "ExtendedS3DestinationConfiguration": {
        "RoleARN": "arn:aws:iam::123456789012:role/r", "BucketARN": "arn:aws:s3:::flow-logs",
        "Prefix": "fh/", "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 60}}}"#;
    let (status, body) = s.send(firehose("CreateDeliveryStream", create));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("deliverystream/flows"), "{body}");
    let (status, body) = s.send(firehose("CreateDeliveryStream", create));
    assert_eq!(status, 400);
    assert!(body.contains("ResourceInUseException"), "{body}");
    // "aGVsbG8K" is "hello\n"; "d29ybGQK" "world\n".
    let (status, body) = s.send(firehose(
        "PutRecord",
        r#"{"DeliveryStreamName": "flows", "Record": {"Data": "aGVsbG8K"}}"#,
    ));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"RecordId\""), "{body}");
    let (status, body) = s.send(firehose(
        "PutRecordBatch",
        r#"{"DeliveryStreamName": "flows", "Records": [{"Data": "d29ybGQK"}]}"#,
    ));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"FailedPutCount\":0"), "{body}");
    let (status, body) = s.send(firehose(
        "PutRecord",
        r#"{"DeliveryStreamName": "flows", "Record": {"Data": "not base64!"}}"#,
    ));
    assert_eq!(status, 400);
    assert!(body.contains("SerializationException"), "{body}");
    let (status, body) = s.send(firehose(
        "DescribeDeliveryStream",
        r#"{"DeliveryStreamName": "flows"}"#,
    ));
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        v["DeliveryStreamDescription"]["DeliveryStreamStatus"],
        "ACTIVE"
    );
    let (status, body) = s.send(Call {
        key: OTHER_KEY,
        ..firehose("ListDeliveryStreams", "{}")
    });
    assert_eq!(
        (status, body.as_str()),
        (
            200,
            r#"{"DeliveryStreamNames":[],"HasMoreDeliveryStreams":false}"#
        )
    );
    // The pump: nothing before the interval, the object after it (with the records in order).
    let data = DataDir::new(s._dir.path());
    let pump = vpcflow_deliver::pump::Pump::open(
        &data,
        "us-east-1",
        "123456789012",
        vec!["flow-logs".into()],
        Vec::new(),
        None,
    )
    .unwrap();
    let problems = s.runtime.block_on(pump.step(NOW_MS + 59_000, false));
    assert!(problems.is_empty(), "{problems:?}");
    let objects = |root: &std::path::Path| -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.path().is_dir() {
                    stack.push(e.path());
                } else {
                    out.push(e.path());
                }
            }
        }
        out
    };
    let root = s._dir.path().join("s3/flow-logs/fh");
    assert!(objects(&root).is_empty());
    let problems = s.runtime.block_on(pump.step(NOW_MS + 60_000, false));
    assert!(problems.is_empty(), "{problems:?}");
    let got = objects(&root);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(std::fs::read(&got[0]).unwrap(), b"hello\nworld\n");
    let key = got[0]
        .strip_prefix(s._dir.path().join("s3/flow-logs"))
        .unwrap();
    assert!(
        key.to_string_lossy()
            .starts_with("fh/2026/11/22/20/flows-1-2026-11-22-20-35-43-"),
        "{key:?}"
    );
    // Delivered once: the next round adds nothing.
    s.runtime.block_on(pump.step(NOW_MS + 120_000, true));
    assert_eq!(objects(&root).len(), 1);
    let (status, _) = s.send(firehose(
        "DeleteDeliveryStream",
        r#"{"DeliveryStreamName": "flows"}"#,
    ));
    assert_eq!(status, 200);
    let (status, body) = s.send(firehose(
        "DescribeDeliveryStream",
        r#"{"DeliveryStreamName": "flows"}"#,
    ));
    assert_eq!(status, 400);
    assert!(body.contains("ResourceNotFoundException"), "{body}");
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The console: its pages and assets unsigned, its data only for a signed-in session, and its
/// AWS requests answered by the same handlers as the API's, for the session's account.
#[test]
fn the_console_serves_pages_and_signs_in_with_the_apis_credentials() {
    let s = start_with(false, NOW_MS, true);
    let (status, hs, _) = s.console("GET", "/ui", &[], "");
    assert_eq!(
        (status, header(&hs, "location")),
        (302, Some("/ui/overview"))
    );
    for page in [
        "/ui/overview",
        "/ui/map",
        "/ui/flow-logs",
        "/ui/insights",
        "/ui/login",
    ] {
        let (status, hs, body) = s.console("GET", page, &[], "");
        assert_eq!(status, 200, "{page}");
        assert!(body.contains("/ui/assets/app.js"), "{page}");
        assert!(
            header(&hs, "content-security-policy")
                .is_some_and(|p| p.contains("default-src 'self'"))
        );
    }
    let (status, hs, js) = s.console("GET", "/ui/assets/uPlot.iife.min.js", &[], "");
    assert_eq!(status, 200);
    assert!(header(&hs, "content-type").is_some_and(|t| t.starts_with("text/javascript")));
    assert!(js.contains("uPlot"));

    // Nothing is read without a session, and a wrong secret makes none.
    let (status, _, body) = s.console("GET", "/ui/api/session", &[], "");
    assert_eq!((status, body.as_str()), (200, r#"{"signedIn":false}"#));
    let (status, _, body) = s.console("GET", "/ui/api/samples", &[], "");
    assert_eq!(status, 401, "{body}");
    let login = |secret: &str| {
        let body = format!(r#"{{"accessKeyId":"{KEY}","secretAccessKey":"{secret}"}}"#);
        s.console(
            "POST",
            "/ui/login",
            &[("content-type", "application/json")],
            &body,
        )
    };
    let (status, hs, body) = login("not-the-secret");
    assert_eq!(status, 401, "{body}");
    assert!(header(&hs, "set-cookie").is_none());
    assert!(body.contains("InvalidClientTokenId"));
    let (status, hs, _) = login(SECRET);
    assert_eq!(status, 200);
    let cookie = header(&hs, "set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(header(&hs, "set-cookie").unwrap().contains("HttpOnly"));

    let with = |extra: &[(&'static str, &'static str)]| {
        let mut h: Vec<(&str, &str)> = vec![("cookie", cookie.as_str())];
        h.extend_from_slice(extra);
        h
    };
    let (status, _, body) = s.console("GET", "/ui/api/session", &with(&[]), "");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["accountId"], "123456789012");
    assert_eq!(
        v["pages"].as_array().unwrap().len(),
        vpcflow_api::console::PAGES.len()
    );

    // An AWS request through the session: refused without the console's header (what another
    // site's form cannot send), answered as the API answers it with it.
    let form = "Action=DescribeFlowLogs&Version=2016-11-15";
    let form_type = ("content-type", "application/x-www-form-urlencoded");
    let (status, _, _) = s.console("POST", "/ui/aws", &with(&[form_type]), form);
    assert_eq!(status, 403);
    let acting = ("x-vpcflow-console", "1");
    let (status, _, xml) = s.console("POST", "/ui/aws", &with(&[form_type, acting]), form);
    assert_eq!(status, 200, "{xml}");
    assert!(xml.contains("<DescribeFlowLogsResponse"), "{xml}");
    let bad = "Action=CreateFlowLogs&Version=2016-11-15&ResourceType=VPC&ResourceId.1=vpc-0a1b2c3d4e5f60718\
               &TrafficType=ALL&LogGroupName=g&DeliverLogsPermissionArn=arn:aws:iam::123456789012:role/r&MaxAggregationInterval=30";
    let (status, _, xml) = s.console("POST", "/ui/aws", &with(&[form_type, acting]), bad);
    assert_eq!(status, 400);
    assert!(
        xml.contains("Invalid Flow Log Max Aggregation Interval"),
        "{xml}"
    );
    let target = ("x-amz-target", "Logs_20140328.DescribeLogGroups");
    let json_type = ("content-type", "application/x-amz-json-1.1");
    let (status, _, body) = s.console("POST", "/ui/aws", &with(&[target, json_type, acting]), "{}");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("logGroups"));

    // Views: the sample queries, and the policy's flowchart for a ping to the bastion.
    let (_, _, body) = s.console("GET", "/ui/api/samples", &with(&[]), "");
    let samples: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        samples.as_array().unwrap().len(),
        vpcflow_query::samples::SAMPLES.len()
    );
    let ping = r#"{"source":"198.51.100.20","destination":"54.210.0.30","protocol":"icmp"}"#;
    let (status, _, body) = s.console("POST", "/ui/api/diagnose", &with(&[acting]), ping);
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["policy"]["verdict"], "REJECT");
    let wrong = r#"{"source":"nowhere","destination":"54.210.0.30","protocol":"icmp"}"#;
    let (status, _, body) = s.console("POST", "/ui/api/diagnose", &with(&[acting]), wrong);
    assert_eq!(status, 400);
    assert!(body.contains("source 'nowhere'"), "{body}");
    let (status, _, body) = s.console("GET", "/ui/api/map?start=10", &with(&[]), "");
    assert_eq!(status, 400);
    assert!(body.contains("end is required"), "{body}");

    // Each account sees its own network: the topology's VPC is the first account's.
    let vpcs = |cookie: &str| {
        let (status, _, body) = s.console(
            "GET",
            "/ui/api/map?start=0&end=60",
            &[("cookie", cookie)],
            "",
        );
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["vpcs"].as_array().unwrap().len()
    };
    let body = format!(r#"{{"accessKeyId":"{OTHER_KEY}","secretAccessKey":"{SECRET}"}}"#);
    let (_, hs, _) = s.console(
        "POST",
        "/ui/login",
        &[("content-type", "application/json")],
        &body,
    );
    let other = header(&hs, "set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!((vpcs(&cookie), vpcs(&other)), (1, 0));

    // Signed out, the cookie reads nothing.
    let (status, _, _) = s.console("POST", "/ui/logout", &with(&[acting]), "");
    assert_eq!(status, 200);
    let (_, _, body) = s.console("GET", "/ui/api/session", &with(&[]), "");
    assert!(body.contains(r#""signedIn":false"#), "{body}");
}

/// With the console off (`--no-console`), `/ui` is no page: the path is S3's, as any other.
#[test]
fn without_the_console_ui_is_no_page() {
    let s = start(false, NOW_MS);
    let (status, hs, _) = s.console("GET", "/ui/overview", &[], "");
    assert_ne!(status, 200);
    assert!(!header(&hs, "content-type").is_some_and(|t| t.starts_with("text/html")));
}
