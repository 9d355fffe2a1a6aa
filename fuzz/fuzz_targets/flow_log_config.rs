//! `[[flow_logs]]` and the rest of the delivery config: any text either fails to parse, or
//! parses and is validated (config checks, then CreateFlowLogs for every entry) without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vpcflow_deliver::api::{Context, create_flow_logs};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The loader's own parse (places every error at FILE:LINE:COLUMN), as `vpcflow` reads it.
    let config = match vpcflow_deliver::config::parse(text, "vpcflow.toml") {
        Ok(config) => config,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let _ = config.problems();
    let net = vpcflow_net::builtin::load("builtin:three-tier").expect("the built-in topology loads");
    let (buckets, streams) = (config.bucket_names(), config.stream_names());
    let mut existing = Vec::new();
    for req in &config.flow_logs {
        let mut n = 0u64;
        let mut next = || {
            n += 1;
            format!("{n:017x}")
        };
        let result = create_flow_logs(
            req,
            &mut Context {
                network: &net,
                existing: &existing,
                buckets: &buckets,
                delivery_streams: &streams,
                now_ms: 0,
                next_id: &mut next,
                caller: None,
            },
        );
        if let Ok(created) = result {
            for f in &created.flow_logs {
                // What was accepted must describe itself without panicking.
                let _ = f.destination.arn(&f.region, &f.account_id);
                let _ = f.format();
            }
            existing.extend(created.flow_logs);
        }
    }
});
