//! Traffic derived for a network no scenario describes: its entries follow the rules and routes,
//! its first 60 s interval already holds ACCEPT and REJECT records, and each record's verdict is
//! the policy's. A simulation that goes on over a changed network keeps counting its flows
//! under the ENIs' new numbers.

use std::collections::BTreeSet;
use std::sync::Arc;

use vpcflow_capture::scenario::Resolved;
use vpcflow_capture::{EngineConfig, FlowEngine, Scenario, SimConfig, Simulator};
use vpcflow_net::Network;
use vpcflow_record::{Action, FlowRecord, LogStatus};

const START: u64 = 1_768_485_600; // 2026-01-15T14:00:00Z

fn two_tier() -> Network {
    Network::from_toml(include_str!("data/two-tier.toml"), "two-tier.toml").unwrap()
}

fn nothing() -> Scenario {
    Scenario {
        name: "none".into(),
        description: String::new(),
        traffic: Vec::new(),
    }
}

fn run(net: &Arc<Network>, resolved: &Resolved, seconds: u64) -> Vec<FlowRecord> {
    let engine = FlowEngine::new(
        Arc::clone(net),
        EngineConfig {
            interval_secs: 60,
            ..EngineConfig::default()
        },
    )
    .unwrap();
    let mut sim = Simulator::new(
        engine,
        resolved,
        &SimConfig {
            start: START,
            duration: seconds,
            seed: 7,
        },
    );
    let mut out = Vec::new();
    sim.run(&mut |r| out.push(r));
    out
}

#[test]
fn the_entries_follow_the_rules_and_routes() {
    let net = two_tier();
    let names: BTreeSet<String> = nothing()
        .resolve_with_derived(&net)
        .unwrap()
        .traffic
        .iter()
        .map(|t| t.spec.name.clone())
        .collect();
    for expected in [
        "derived:in:eni-020000000000000a1:Tcp:443:internet",
        "derived:in:eni-020000000000000a1:Tcp:22:internet",
        "derived:in:eni-020000000000000b1:Tcp:8080:eni:eni-020000000000000a1",
        "derived:egress:eni-020000000000000a1:https",
        "derived:egress:eni-020000000000000b1:https",
        "derived:ping:eni-020000000000000a1",
        "derived:scan:eni-020000000000000a1",
        "derived:denied:eni-020000000000000a1:Tcp:22",
    ] {
        assert!(names.contains(expected), "{expected} in {names:#?}");
    }
    // The private instance has no public address: no internet client reaches it.
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("derived:in:eni-020000000000000b1") && n.ends_with("internet"))
    );
    // A scenario that names the VPC's ENIs gets nothing derived.
    let named: Scenario = toml::from_str(
        "name = \"x\"\n[[traffic]]\nname = \"web\"\nprotocol = \"tcp\"\nfrom = \"internet\"\nto = \"eni:eni-020000000000000a1\"\nport = 443\nrate = 1\n",
    )
    .unwrap();
    assert_eq!(named.resolve_with_derived(&net).unwrap().traffic.len(), 1);
}

#[test]
fn the_first_interval_accepts_and_rejects_as_the_policy_decides() {
    let net = Arc::new(two_tier());
    let resolved = nothing().resolve_with_derived(&net).unwrap();
    let records = run(&net, &resolved, 60);
    let actions: BTreeSet<(String, Action)> = records
        .iter()
        .filter(|r| r.log_status == Some(LogStatus::Ok))
        .map(|r| {
            (
                r.interface_id.as_deref().unwrap_or_default().to_owned(),
                r.action.unwrap(),
            )
        })
        .collect();
    let web = "eni-020000000000000a1".to_owned();
    assert!(
        actions.contains(&(web.clone(), Action::Accept)),
        "{actions:?}"
    );
    assert!(
        actions.contains(&(web.clone(), Action::Reject)),
        "{actions:?}"
    );
    // SSH from the internet: the security group allows it, the network ACL denies it.
    for r in records
        .iter()
        .filter(|r| r.dstport == Some(22) && r.interface_id.as_deref() == Some(&web))
    {
        assert_eq!(r.action, Some(Action::Reject), "{r:?}");
    }
    // HTTPS from the internet is accepted.
    assert!(records.iter().any(|r| r.dstport == Some(443)
        && r.interface_id.as_deref() == Some(&web)
        && r.action == Some(Action::Accept)));
}

#[test]
fn a_changed_network_keeps_the_open_intervals_flows_under_new_numbers() {
    // The network without its first instance, then with it: the second ENI's index moves.
    let full = Arc::new(two_tier());
    let text = include_str!("data/two-tier.toml");
    let cut = text
        .find("[[enis]]\nid = \"eni-020000000000000a0\"")
        .unwrap();
    let nat_end = cut + text[cut..].find("\n\n").unwrap() + 2;
    let without_nat_text = format!("{}{}", &text[..cut], &text[nat_end..]).replace(
        "  { destination = \"0.0.0.0/0\", target = \"nat-0200000000000000a\" },\n",
        "",
    );
    let without_nat_text = {
        let g = without_nat_text.find("[[gateways]]\nid = \"nat-").unwrap();
        let e = g + without_nat_text[g..].find("\n\n").unwrap() + 2;
        format!("{}{}", &without_nat_text[..g], &without_nat_text[e..])
    };
    let smaller = Arc::new(Network::from_toml(&without_nat_text, "smaller").unwrap());
    assert_eq!(
        full.renumbering(&smaller)[2],
        Some(1),
        "the app ENI moves from 2 to 1"
    );
    let resolved = nothing().resolve_with_derived(&full).unwrap();
    let engine = FlowEngine::new(
        Arc::clone(&full),
        EngineConfig {
            interval_secs: 600,
            ..EngineConfig::default()
        },
    )
    .unwrap();
    let mut sim = Simulator::new(
        engine,
        &resolved,
        &SimConfig {
            start: START,
            duration: 900,
            seed: 7,
        },
    );
    let mut records = Vec::new();
    let take =
        |e: vpcflow_capture::Emit, records: &mut Vec<(usize, Arc<Network>)>, net: &Arc<Network>| {
            if let vpcflow_capture::Emit::Records { records: raw, .. } = e {
                records.extend(raw.iter().map(|r| (r.eni(), Arc::clone(net))));
            }
        };
    // Halfway into the first 600 s interval the network loses its NAT gateway.
    sim.run_tagged_until((START + 300) * 1_000_000, &mut |e| {
        take(e, &mut records, &full)
    });
    let next = nothing().resolve_with_derived(&smaller).unwrap();
    let revised = resolved.revise(next);
    assert!(revised.traffic.len() >= resolved.traffic.len());
    sim.renumber(Arc::clone(&smaller), &revised, (START + 300) * 1_000_000)
        .unwrap();
    sim.run_tagged(&mut |e| take(e, &mut records, &smaller));
    // The first interval closed after the change: its records are numbered in the smaller
    // network, and the app instance's flows of before the change are among them.
    let app = smaller.eni_by_name("eni-020000000000000b1").unwrap();
    assert!(
        records
            .iter()
            .any(|(e, n)| *e == app && Arc::ptr_eq(n, &smaller))
    );
    assert!(records.iter().all(|(e, n)| *e < n.enis.len()));
}
