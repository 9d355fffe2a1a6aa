//! EC2's query protocol: any body is read to a request or refused with an EC2 error (a 4xx in
//! EC2's XML), never a panic; a CreateFlowLogs read from it is validated as the service would,
//! and a Describe* of the topology answered over the built-in one.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vpcflow_api::{ec2, form};
use vpcflow_deliver::api::{Context, create_flow_logs};

fuzz_target!(|data: &[u8]| {
    let parsed = form::parse(data)
        .map_err(|e| ec2::form_error(&e))
        .and_then(|f| ec2::request(&f));
    match parsed {
        Err(e) => {
            let (status, xml) = ec2::error_response(&e, "r");
            assert!((400..500).contains(&status));
            assert!(xml.ends_with("</Response>"));
        }
        Ok(p) => {
            if let ec2::Request::DescribeTopology(kind, req) = &p.request {
                let net = vpcflow_net::builtin::load("builtin:three-tier").expect("built in");
                match vpcflow_deliver::topology::describe(*kind, req, &net, None) {
                    Ok(page) => assert!(ec2::topology_response(*kind, &page, "r").ends_with("Response>")),
                    Err(e) => assert!((400..500).contains(&e.kind.def().http_status)),
                }
            }
            if let ec2::Request::CreateFlowLogs(req) = p.request {
                let net = vpcflow_net::builtin::load("builtin:three-tier").expect("built in");
                let mut n = 0u64;
                let mut next = || {
                    n += 1;
                    format!("{n:017x}")
                };
                if let Ok(c) = create_flow_logs(
                    &req,
                    &mut Context {
                        network: &net,
                        existing: &[],
                        buckets: &[],
                        delivery_streams: &[],
                        now_ms: 0,
                        next_id: &mut next,
                        caller: None,
                    },
                ) {
                    let _ = ec2::create_response(&c, req.client_token.as_deref(), "r");
                }
            }
        }
    }
});
