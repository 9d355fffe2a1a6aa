//! Codec benchmarks: decoding v2 default lines (records/s on one core), encoding them, and
//! text.gz → Parquet on 1 M records. No expected values here: figures go into the issue notes.
//!
//! The input is made in memory by a small seeded generator shaped like `bench/gen_flows.py`
//! (300 ENIs, 2 000 internal and 20 000 external addresses, 0.1 % NODATA), so the bench needs
//! no files.

use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use vpcflow_record::arrow::BatchBuilder;
use vpcflow_record::{FlowRecord, LogFormat, parquet, text};

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn lines(n: usize) -> Vec<String> {
    let mut r = Rng(0x9e37_79b9_7f4a_7c15);
    let enis: Vec<String> = (0..300)
        .map(|_| format!("eni-{:017x}", r.next() >> 4))
        .collect();
    let internal: Vec<String> = (0..2000)
        .map(|_| format!("10.0.{}.{}", r.below(256), 1 + r.below(254)))
        .collect();
    let external: Vec<String> = (0..20000)
        .map(|_| {
            format!(
                "{}.{}.{}.{}",
                3 + r.below(200),
                r.below(256),
                r.below(256),
                1 + r.below(254)
            )
        })
        .collect();
    let ports = [443, 443, 443, 80, 80, 22, 3389, 53, 8080, 5432];
    (0..n)
        .map(|i| {
            let eni = &enis[r.below(300) as usize];
            let start = 1_700_000_000 + (i as u64 * 86_400) / n as u64;
            let end = start + r.below(60);
            if r.below(1000) == 0 {
                return format!("2 123456789012 {eni} - - - - - - - {start} {end} - NODATA");
            }
            let src = &internal[(r.below(2000) * r.below(2000) / 2000) as usize];
            let dst = &external[r.below(20000) as usize];
            let (proto, sport, dport) = match r.below(100) {
                0..85 => (6, 1024 + r.below(64000), ports[r.below(10) as usize]),
                85..98 => (17, 1024 + r.below(64000), 53),
                _ => (1, 0, 0),
            };
            let packets = 1 + r.below(40);
            let bytes = packets * (40 + r.below(1460));
            let action = if r.below(10) == 0 { "REJECT" } else { "ACCEPT" };
            format!(
                "2 123456789012 {eni} {src} {dst} {sport} {dport} {proto} {packets} {bytes} {start} {end} {action} OK"
            )
        })
        .collect()
}

fn decode(c: &mut Criterion) {
    let format = LogFormat::default_v2();
    let input = lines(100_000);
    let mut g = c.benchmark_group("v2_lines");
    g.throughput(Throughput::Elements(input.len() as u64));
    g.bench_function("decode", |b| {
        let mut rec = FlowRecord::default();
        b.iter(|| {
            for l in &input {
                text::decode_into(&format, l, &mut rec).unwrap();
                black_box(&rec);
            }
        })
    });
    let records: Vec<FlowRecord> = input
        .iter()
        .map(|l| text::decode(&format, l).unwrap())
        .collect();
    g.bench_function("encode", |b| {
        let mut out = String::with_capacity(256);
        b.iter(|| {
            for r in &records {
                out.clear();
                text::encode_into(&format, r, &mut out);
                black_box(&out);
            }
        })
    });
    g.bench_function("decode_to_arrow", |b| {
        let mut rec = FlowRecord::default();
        b.iter(|| {
            let mut builder = BatchBuilder::new(&format, 8192);
            for l in &input {
                text::decode_into(&format, l, &mut rec).unwrap();
                builder.append(&rec);
                if builder.len() == 8192 {
                    black_box(builder.finish());
                }
            }
            black_box(builder.finish());
        })
    });
    g.finish();
}

fn gz_to_parquet(c: &mut Criterion) {
    let format = LogFormat::default_v2();
    let mut gz = GzEncoder::new(Vec::new(), Compression::new(6));
    writeln!(gz, "{}", format.header()).unwrap();
    for l in lines(1_000_000) {
        writeln!(gz, "{l}").unwrap();
    }
    let gz = gz.finish().unwrap();
    let mut g = c.benchmark_group("text_gz_to_parquet");
    g.sample_size(10);
    g.throughput(Throughput::Elements(1_000_000));
    g.bench_function("1M_records", |b| {
        b.iter(|| {
            let mut reader = BufReader::with_capacity(256 * 1024, MultiGzDecoder::new(&gz[..]));
            let mut line = String::new();
            reader.read_line(&mut line).unwrap(); // header
            let mut rec = FlowRecord::default();
            let mut builder = BatchBuilder::new(&format, parquet::BATCH_ROWS);
            let mut w = parquet::writer(Vec::with_capacity(32 << 20), &format).unwrap();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap() == 0 {
                    break;
                }
                text::decode_into(&format, line.trim_end_matches('\n'), &mut rec).unwrap();
                builder.append(&rec);
                if builder.len() == parquet::BATCH_ROWS {
                    w.write(&builder.finish()).unwrap();
                }
            }
            w.write(&builder.finish()).unwrap();
            black_box(w.into_inner().unwrap().len())
        })
    });
    g.finish();
}

criterion_group!(benches, decode, gz_to_parquet);
criterion_main!(benches);
