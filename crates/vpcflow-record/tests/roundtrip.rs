//! Property tests: for any valid format of any field subset, text → record → text is identical,
//! and JSON lines → Parquet → JSON lines is identical.

use std::net::IpAddr;

use proptest::prelude::*;
use proptest::sample::subsequence;
use vpcflow_record::arrow::{BatchBuilder, BatchReader};
use vpcflow_record::{
    Action, FIELDS, FieldId, FlowDirection, FlowRecord, IpType, Kind, LogFormat, LogStatus, Scope,
    TgwResourceType, json, parquet, text,
};

/// A canonical token for one field: what AWS (and our encoder) would write.
fn token(field: FieldId) -> BoxedStrategy<String> {
    let present: BoxedStrategy<String> = match field {
        FieldId::Srcaddr | FieldId::Dstaddr | FieldId::PktSrcaddr | FieldId::PktDstaddr => {
            any::<IpAddr>().prop_map(|a| a.to_string()).boxed()
        }
        FieldId::Action => proptest::sample::select(Action::ALL)
            .prop_map(|a| a.to_string())
            .boxed(),
        FieldId::LogStatus => proptest::sample::select(LogStatus::ALL)
            .prop_map(|a| a.to_string())
            .boxed(),
        FieldId::FlowDirection => proptest::sample::select(FlowDirection::ALL)
            .prop_map(|a| a.to_string())
            .boxed(),
        FieldId::Type => proptest::sample::select(IpType::ALL)
            .prop_map(|a| a.to_string())
            .boxed(),
        FieldId::ResourceType => proptest::sample::select(TgwResourceType::ALL)
            .prop_map(|a| a.to_string())
            .boxed(),
        FieldId::Srcport | FieldId::Dstport => any::<u16>().prop_map(|v| v.to_string()).boxed(),
        FieldId::TrafficPath => (1u8..=8).prop_map(|v| v.to_string()).boxed(),
        f if f.kind() == Kind::Int32 => any::<u8>().prop_map(|v| v.to_string()).boxed(),
        f if f.kind() == Kind::Int64 => (0..=i64::MAX).prop_map(|v| v.to_string()).boxed(),
        // Text: anything without ASCII whitespace, including non-ASCII (tags are UTF-8).
        _ => "[!-~é€漢]{1,24}"
            .prop_filter("'-' means absent", |s| s != "-")
            .boxed(),
    };
    prop_oneof![1 => Just("-".to_owned()), 4 => present].boxed()
}

/// A random format (any non-empty subset of the fields of VPC flow logs, or of Transit Gateway
/// flow logs, in any order) and a valid line for it.
fn format_and_line() -> impl Strategy<Value = (LogFormat, String)> {
    let of = |not: Scope| -> Vec<FieldId> {
        FIELDS
            .iter()
            .filter(|f| f.scope != not)
            .map(|f| f.id)
            .collect()
    };
    prop_oneof![Just(of(Scope::Tgw)), Just(of(Scope::Vpc))]
        .prop_flat_map(|ids| {
            let n = ids.len();
            subsequence(ids, 1..=n)
        })
        .prop_shuffle()
        .prop_flat_map(|fields| {
            let tokens: Vec<_> = fields.iter().map(|f| token(*f)).collect();
            (Just(LogFormat::from_fields(fields).unwrap()), tokens)
        })
        .prop_map(|(format, tokens)| (format, tokens.join(" ")))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn text_record_text_is_identical((format, line) in format_and_line()) {
        let rec = text::decode(&format, &line).map_err(|e| TestCaseError::fail(format!("{e}: {line}")))?;
        prop_assert_eq!(text::encode(&format, &rec), line);
        // The format string itself round-trips through both of its spellings.
        prop_assert_eq!(LogFormat::parse(&format.to_string()).unwrap(), format.clone());
        prop_assert_eq!(LogFormat::from_header(&format.header()).unwrap(), format);
    }

    #[test]
    fn jsonl_parquet_jsonl_is_identical(
        (format, lines) in format_and_line().prop_flat_map(|(format, _)| {
            let f = format.clone();
            let line = proptest::collection::vec(
                f.fields().iter().map(|id| token(*id)).collect::<Vec<_>>().prop_map(|t| t.join(" ")),
                1..20,
            );
            (Just(format), line)
        })
    ) {
        // JSON lines in ...
        let jsonl: Vec<String> = lines
            .iter()
            .map(|l| json::encode(&format, &text::decode(&format, l).unwrap()))
            .collect();
        // ... to Parquet ...
        let mut builder = BatchBuilder::new(&format, jsonl.len());
        for j in &jsonl {
            let (f, rec) = json::decode(j).unwrap();
            prop_assert_eq!(&f, &format);
            builder.append(&rec);
        }
        let mut file = Vec::new();
        let mut w = parquet::writer(&mut file, &format).unwrap();
        w.write(&builder.finish()).unwrap();
        w.close().unwrap();
        // ... and back to JSON lines.
        let (read_format, reader) = parquet::reader(bytes_of(file)).unwrap();
        prop_assert_eq!(&read_format, &format);
        let mut out = Vec::new();
        let mut rec = FlowRecord::default();
        for batch in reader {
            let batch = batch.unwrap();
            let r = BatchReader::new(&batch).unwrap();
            for row in 0..r.len() {
                r.read_into(row, &mut rec).unwrap();
                out.push(json::encode(r.format(), &rec));
            }
        }
        prop_assert_eq!(out, jsonl);
    }
}

fn bytes_of(v: Vec<u8>) -> bytes::Bytes {
    bytes::Bytes::from(v)
}
