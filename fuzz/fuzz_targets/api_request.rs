//! The API server's request readers, on any bytes: the SigV4 `Authorization` header, the routing
//! of a request to its protocol, the awsJson bodies of every Logs operation (PutLogEvents' batch
//! rules run on what decodes), CloudWatch's forms unflattened and its metric requests checked,
//! S3's addressing, ranges, listing pages, lifecycle and notification documents and aws-chunked
//! bodies, Firehose's requests (CreateDeliveryStream checked, batches' records), subscription
//! filters and TestMetricFilter, and STS's form. Each gives a value or a 4xx answer, never a
//! panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vpcflow_api::{json, query_form, route, s3, s3_docs, sigv4, sts};
use vpcflow_store::{firehose, logs, metrics};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = sigv4::parse_authorization(&text);
    let _ = sigv4::parse_amz_date(&text);
    let (head, body) = data.split_at(data.len().min(data.first().map_or(0, |b| *b as usize)));
    let head = String::from_utf8_lossy(head);
    let headers: Vec<(&str, &str)> = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .collect();
    let p = route::route("POST", "/", &headers, body);
    let _ = (p.family(), p.service());
    let signed = sigv4::Signed {
        method: "POST",
        path: &head,
        query: &head,
        headers: &headers,
        payload_hash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    };
    let cred = sigv4::Credential {
        access_key_id: "AK".into(),
        secret_access_key: "s".into(),
        account_id: "123456789012".into(),
    };
    let _ = sigv4::verify(&signed, &[cred], 0);
    macro_rules! decodes {
        ($($t:ty),*) => {$(
            if let Err(r) = json::decode::<$t>(body) {
                assert!((400..500).contains(&r.status));
            }
        )*};
    }
    decodes!(
        logs::DescribeLogGroups,
        logs::DescribeLogStreams,
        logs::GetLogEvents,
        logs::FilterLogEvents,
        logs::CreateLogGroup,
        logs::PutRetentionPolicy,
        logs::LogGroupRequest,
        logs::CreateLogStream,
        logs::PutLogEvents,
        logs::TagRequest,
        logs::UntagRequest,
        logs::ListTagsRequest,
        logs::PutSubscriptionFilter,
        logs::DescribeSubscriptionFilters,
        logs::DeleteSubscriptionFilter,
        firehose::ListDeliveryStreams,
        vpcflow_query::jobs::DescribeQueries
    );
    if let Ok(req) = json::decode::<logs::TestMetricFilter>(body) {
        let _ = req.run();
    }
    if let Ok(req) = json::decode::<logs::PutSubscriptionFilter>(body) {
        let _ = req.check();
    }
    match json::decode::<firehose::CreateDeliveryStream>(body) {
        Ok(req) => {
            let _ = req.check("123456789012", "us-east-1", 0);
        }
        Err(r) => assert!((400..500).contains(&r.status)),
    }
    let records: Vec<Vec<u8>> = body.chunks(7).map(<[u8]>::to_vec).collect();
    let _ = firehose::check_records(&records);
    if let Ok(req) = json::decode::<logs::CreateLogGroup>(body) {
        let _ = req.check();
    }
    if let Ok(req) = json::decode::<logs::PutLogEvents>(body)
        && req.check().is_ok()
    {
        let (kept, _) = req.sort_out(1_768_485_600_000, Some(1));
        assert!(kept.end <= req.log_events.len());
    }
    // CloudWatch: a form unflattened as the query protocol's is, and the metric requests read.
    let pairs: Vec<(String, String)> = text
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let form = query_form::unflatten(&pairs).to_string();
    for input in [form.as_bytes(), body] {
        if let Ok(req) = json::decode::<metrics::PutMetricData>(input) {
            let _ = req.rows(1_768_485_600_000);
        }
        let _ = json::decode::<metrics::GetMetricStatistics>(input);
        let _ = json::decode::<metrics::GetMetricData>(input);
        let _ = json::decode::<metrics::ListMetrics>(input);
    }
    // S3's readers: addressing, ranges, and a listing page over keys the bytes make.
    let req = s3::Request {
        method: "GET",
        path: &head,
        query: &head,
        headers: &headers,
    };
    let _ = (s3::address(&req), s3::action(&req));
    if let Some((a, b)) = s3::range(&text, 1000) {
        assert!(a <= b && b < 1000);
    }
    let mut keys: Vec<&str> = head.split('\n').collect();
    keys.sort_unstable();
    let p = s3::page(&keys, "", Some("/"), None, 3);
    assert!(p.contents.len() + p.prefixes.len() <= 3);
    for r in [s3_docs::parse_lifecycle(body).err(), s3_docs::parse_notification(body).err()]
        .into_iter()
        .flatten()
    {
        assert!((400..500).contains(&r.status));
    }
    if let Some(data) = s3_docs::decode_aws_chunked(body) {
        assert!(data.len() <= body.len());
    }
    let (status, xml) = sts::handle(body, "AK", "123456789012", "r");
    assert!(status == 200 || (400..500).contains(&status));
    assert!(xml.ends_with("Response>"));
});
