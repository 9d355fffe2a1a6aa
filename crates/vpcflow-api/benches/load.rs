//! A loopback load client for the API (bench/api.sh runs it): signed requests at a fixed rate
//! (open loop: a request is sent every 1/RATE s whether or not earlier ones have answered, up to
//! 512 in flight), for SECONDS, then the count of answers, errors, the rate reached and the
//! p50/p99 latency. The same requests go to vpcflow and to a peer (moto's server).
//!
//! env: LOAD_URL (http://127.0.0.1:PORT), LOAD_RATE (requests/s, default 1000), LOAD_SECONDS
//! (default 60), LOAD_BODY (the body, default DescribeFlowLogs' form), LOAD_TARGET (an
//! `X-Amz-Target` such as `Logs_20140328.PutLogEvents`: the body is then JSON 1.1, signed for
//! CloudWatch Logs), LOAD_KEY, LOAD_SECRET.

use std::sync::Arc;
use std::time::{Duration, Instant};

use vpcflow_api::sigv4::{self, Signed};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// `yyyymmddThhmmssZ` of now.
#[allow(clippy::disallowed_methods)] // a load client signs with the wall clock, as SDKs do
fn amz_date() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let c = vpcflow_store::time::Civil::of_secs(secs);
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second
    )
}

/// The headers of one signed request: EC2's form, or with a target CloudWatch Logs' JSON.
fn signed_headers(
    host: &str,
    body: &str,
    target: Option<&str>,
    key: &str,
    secret: &str,
) -> Vec<(String, String)> {
    let date = amz_date();
    let (content_type, service) = match target {
        Some(_) => ("application/x-amz-json-1.1", "logs"),
        None => ("application/x-www-form-urlencoded; charset=utf-8", "ec2"),
    };
    let mut headers = vec![
        ("content-type".to_owned(), content_type.to_owned()),
        ("host".to_owned(), host.to_owned()),
        ("x-amz-date".to_owned(), date.clone()),
    ];
    if let Some(t) = target {
        headers.push(("x-amz-target".to_owned(), t.to_owned()));
    }
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let hash = sigv4::sha256_hex(body.as_bytes());
    let value = sigv4::authorization(
        &Signed {
            method: "POST",
            path: "/",
            query: "",
            headers: &pairs,
            payload_hash: &hash,
        },
        key,
        secret,
        "us-east-1",
        service,
    );
    headers.push(("authorization".to_owned(), value));
    headers
}

#[allow(clippy::disallowed_methods)] // latency is measured
fn main() {
    let url = env("LOAD_URL", "http://127.0.0.1:4599");
    let rate: f64 = env("LOAD_RATE", "1000").parse().expect("LOAD_RATE");
    let seconds: f64 = env("LOAD_SECONDS", "60").parse().expect("LOAD_SECONDS");
    let body = env("LOAD_BODY", "Action=DescribeFlowLogs&Version=2016-11-15");
    let target = std::env::var("LOAD_TARGET").ok();
    let key = env("LOAD_KEY", "AKIAIOSFODNN7EXAMPLE");
    let secret = env("LOAD_SECRET", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
    let host = url.trim_start_matches("http://").to_owned();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()
        .expect("client");
    let latencies = Arc::new(std::sync::Mutex::new(Vec::<f64>::new()));
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let in_flight = Arc::new(tokio::sync::Semaphore::new(512));
    let start = Instant::now();
    let total = (rate * seconds) as u64;
    runtime.block_on(async {
        let mut tasks = Vec::with_capacity(total as usize);
        for i in 0..total {
            let due = start + Duration::from_secs_f64(i as f64 / rate);
            tokio::time::sleep_until(due.into()).await;
            let permit = Arc::clone(&in_flight).acquire_owned().await.expect("open");
            let headers = signed_headers(&host, &body, target.as_deref(), &key, &secret);
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            let (latencies, errors) = (Arc::clone(&latencies), Arc::clone(&errors));
            tasks.push(tokio::spawn(async move {
                let t0 = Instant::now();
                let mut req = client.post(&url).body(body);
                for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
                    req = req.header(k.as_str(), v.as_str());
                }
                let ok = match req.send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if ok {
                    latencies
                        .lock()
                        .expect("lock")
                        .push(t0.elapsed().as_secs_f64() * 1000.0);
                } else {
                    errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                drop(permit);
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
    let elapsed = start.elapsed().as_secs_f64();
    let mut l = latencies.lock().expect("lock").clone();
    l.sort_by(f64::total_cmp);
    let pct = |p: f64| {
        l.get(((l.len() as f64 * p) as usize).min(l.len().saturating_sub(1)))
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "answered {} errors {} in {elapsed:.1} s: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms",
        l.len(),
        errors.load(std::sync::atomic::Ordering::Relaxed),
        l.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99)
    );
}
