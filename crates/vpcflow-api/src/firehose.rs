//! Firehose on the wire (awsJson 1.1, `X-Amz-Target: Firehose_20150804.<Operation>`): each
//! served operation's body decoded into the delivery-stream service's request
//! (`vpcflow_store::firehose`), its answer or error written back. Blobs (`Record.Data`) arrive
//! as base64 strings. [`OPERATIONS`] is the one list of what is served.

use std::sync::Mutex;

use base64::Engine as _;
use serde::Deserialize;
use vpcflow_store::firehose::{
    CreateDeliveryStream, Destination, Firehose, FirehoseError, ListDeliveryStreams, StreamSpec,
};

use crate::json::{self, JSON_11, Refusal};
use crate::reply::Reply;

/// The `X-Amz-Target` prefix.
pub const TARGET_PREFIX: &str = "Firehose_20150804.";

/// The operations served.
pub const OPERATIONS: &[&str] = &[
    "CreateDeliveryStream",
    "DescribeDeliveryStream",
    "ListDeliveryStreams",
    "DeleteDeliveryStream",
    "PutRecord",
    "PutRecordBatch",
];

/// The largest body taken: a PutRecordBatch's 4 MiB of records, base64, and its JSON.
pub const MAX_BODY_BYTES: usize = 6 << 20;

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StreamName {
    delivery_stream_name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Record {
    data: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecord {
    delivery_stream_name: String,
    record: Record,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PutRecordBatch {
    delivery_stream_name: String,
    records: Vec<Record>,
}

fn answer(e: &FirehoseError) -> Reply {
    match e {
        FirehoseError::Refused { code, message } => {
            let def = code.def();
            json::error(JSON_11, def.status, def.name, message)
        }
        other => json::unavailable(JSON_11, other),
    }
}

fn data(records: &[Record]) -> Result<Vec<Vec<u8>>, Refusal> {
    let b64 = base64::engine::general_purpose::STANDARD;
    records
        .iter()
        .map(|r| {
            b64.decode(&r.data).map_err(|_| Refusal {
                status: 400,
                code: "SerializationException",
                message: "Record.Data is not base64: blobs are sent as base64 strings".into(),
            })
        })
        .collect()
}

/// Answers `operation` for `account` at `now_ms`; `bucket_exists` says whether the account
/// has a local bucket of a name.
pub fn handle(
    firehose: &Mutex<Firehose>,
    account: &str,
    operation: &str,
    body: &[u8],
    now_ms: u64,
    bucket_exists: &dyn Fn(&str) -> bool,
) -> Reply {
    match dispatch(firehose, account, operation, body, now_ms, bucket_exists) {
        Ok(reply) => reply,
        Err(refusal) => json::refused(JSON_11, &refusal),
    }
}

fn dispatch(
    firehose: &Mutex<Firehose>,
    account: &str,
    operation: &str,
    body: &[u8],
    now_ms: u64,
    bucket_exists: &dyn Fn(&str) -> bool,
) -> Result<Reply, Refusal> {
    if !OPERATIONS.contains(&operation) {
        return Err(json::unknown_operation(operation));
    }
    let f = firehose
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let reply = |r: Result<serde_json::Value, FirehoseError>| match r {
        Ok(v) => json::ok(JSON_11, &v),
        Err(e) => answer(&e),
    };
    Ok(match operation {
        "CreateDeliveryStream" => {
            let req: CreateDeliveryStream = json::decode_up_to(body, MAX_BODY_BYTES)?;
            reply(
                f.create(&req, account, now_ms, bucket_exists)
                    .map(|arn| serde_json::json!({ "DeliveryStreamARN": arn })),
            )
        }
        "DescribeDeliveryStream" => {
            let req: StreamName = json::decode(body)?;
            reply(
                f.get(account, &req.delivery_stream_name)
                    .map(|s| serde_json::json!({ "DeliveryStreamDescription": description(&s) })),
            )
        }
        "ListDeliveryStreams" => {
            let req: ListDeliveryStreams = json::decode(body)?;
            reply(
                f.list(&req, account)
                    .map(|l| serde_json::to_value(l).expect("answers serialize")),
            )
        }
        "DeleteDeliveryStream" => {
            let req: StreamName = json::decode(body)?;
            reply(
                f.delete(account, &req.delivery_stream_name)
                    .map(|()| serde_json::json!({})),
            )
        }
        "PutRecord" => {
            let req: PutRecord = json::decode_up_to(body, MAX_BODY_BYTES)?;
            let records = data(std::slice::from_ref(&req.record))?;
            reply(
                f.put(account, &req.delivery_stream_name, &records, now_ms)
                    .map(|ids| serde_json::json!({ "RecordId": ids[0], "Encrypted": false })),
            )
        }
        _ => {
            let req: PutRecordBatch = json::decode_up_to(body, MAX_BODY_BYTES)?;
            let records = data(&req.records)?;
            reply(
                f.put(account, &req.delivery_stream_name, &records, now_ms)
                    .map(|ids| {
                        let answers: Vec<serde_json::Value> = ids
                            .iter()
                            .map(|id| serde_json::json!({ "RecordId": id }))
                            .collect();
                        serde_json::json!({
                            "FailedPutCount": 0,
                            "Encrypted": false,
                            "RequestResponses": answers,
                        })
                    }),
            )
        }
    })
}

/// DescribeDeliveryStream's `DeliveryStreamDescription`.
pub fn description(s: &StreamSpec) -> serde_json::Value {
    let hints = serde_json::json!({
        "SizeInMBs": s.size_mb,
        "IntervalInSeconds": s.interval_secs,
    });
    let s3 = |role: &str, bucket: &str, prefix: &str, gzip: bool| {
        serde_json::json!({
            "RoleARN": role,
            "BucketARN": format!("arn:aws:s3:::{bucket}"),
            "Prefix": prefix,
            "BufferingHints": hints,
            "CompressionFormat": if gzip { "GZIP" } else { "UNCOMPRESSED" },
            "EncryptionConfiguration": { "NoEncryptionConfig": "NoEncryption" },
        })
    };
    let destination = match &s.destination {
        Destination::S3 {
            extended,
            role_arn,
            bucket,
            prefix,
            error_output_prefix,
            gzip,
        } => {
            let mut d = s3(role_arn, bucket, prefix, *gzip);
            if let Some(p) = error_output_prefix {
                d["ErrorOutputPrefix"] = p.as_str().into();
            }
            let mut out = serde_json::json!({
                "DestinationId": "destinationId-000000000001",
                "S3DestinationDescription": d,
            });
            if *extended {
                out["ExtendedS3DestinationDescription"] = out["S3DestinationDescription"].clone();
            }
            out
        }
        Destination::Http {
            url,
            name,
            backup_bucket,
            backup_role_arn,
            ..
        } => serde_json::json!({
            "DestinationId": "destinationId-000000000001",
            "HttpEndpointDestinationDescription": {
                "EndpointConfiguration": { "Url": url, "Name": name },
                "BufferingHints": hints,
                "S3BackupMode": "FailedDataOnly",
                "S3DestinationDescription": s3(backup_role_arn, backup_bucket, "", false),
            },
        }),
    };
    serde_json::json!({
        "DeliveryStreamName": s.name,
        "DeliveryStreamARN": s.arn,
        "DeliveryStreamStatus": "ACTIVE",
        "DeliveryStreamType": "DirectPut",
        "VersionId": "1",
        "CreateTimestamp": s.created_ms as f64 / 1000.0,
        "Destinations": [destination],
        "HasMoreDestinations": false,
    })
}
