//! EC2's query protocol: any body is read to a request or refused with an EC2 error (a 4xx in
//! EC2's XML), never a panic; a CreateFlowLogs read from it is validated as the service would,
//! a Describe* of the topology answered over the built-in one, and a network action applied to a
//! two-tier VPC made over it: answered, or refused with a 4xx (never a network that does not
//! build, which would be a 500).
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
            if let ec2::Request::Network(name, action) = &p.request {
                network_action(name, action);
            }
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

/// The action on a network that has one VPC made through the API, whose ids the fuzzer can
/// reach (they are the same for the same history).
fn network_action(name: &str, action: &vpcflow_deliver::resources::actions::Action) {
    use vpcflow_deliver::resources::Made;
    use vpcflow_deliver::resources::actions::{Action, Ctx, apply};
    let net = vpcflow_net::builtin::load("builtin:three-tier").expect("built in");
    let ctx = Ctx {
        base: &net.topology,
        account: "123456789012",
        now_ms: 0,
    };
    let vpc = Action::CreateVpc {
        cidr: "10.20.0.0/16".into(),
        tags: Default::default(),
    };
    let made = apply(&Made::default(), ctx, &vpc).expect("a VPC is made").made;
    match apply(&made, ctx, action) {
        Ok(applied) => {
            let xml = vpcflow_api::ec2_network::response(
                name,
                &applied.answer,
                &applied.network.topology,
                "r",
            );
            assert!(xml.ends_with("Response>"));
        }
        Err(e) => assert!((400..500).contains(&e.kind.def().http_status), "{e}"),
    }
}
