//! Policy evaluations per second on one core, with warm connection tracking: 10 000 tracked
//! connections on `builtin:three-tier`, packets alternating direction as a real exchange does.
//! Also the cold path (rules only). No expected values here: figures go into the issue notes.

use std::hint::black_box;
use std::net::IpAddr;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vpcflow_net::policy::evaluate_rules;
use vpcflow_net::{FiveTuple, Packet, Policy, builtin};
use vpcflow_record::FlowDirection;

fn flows(n: usize) -> Vec<(usize, Packet)> {
    let net = builtin::load("builtin:three-tier").unwrap();
    let app = net.eni_by_name("app-1").unwrap();
    let db = net.eni_by_name("db-primary").unwrap();
    (0..n)
        .map(|i| {
            // App-to-internet (through the NAT) and app-to-db connections.
            let (eni, dst, port): (usize, IpAddr, u16) = if i % 2 == 0 {
                (app, IpAddr::from([93, 184, (i >> 8) as u8, i as u8]), 443)
            } else {
                (app, net.enis[db].primary_ip(), 5432)
            };
            let t = FiveTuple {
                src: net.enis[eni].primary_ip(),
                dst,
                protocol: 6,
                src_port: 1024 + (i % 60000) as u16,
                dst_port: port,
            };
            (
                eni,
                Packet {
                    tuple: t,
                    tcp_flags: 0x10,
                },
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let net = Arc::new(builtin::load("builtin:three-tier").unwrap());
    let fl = flows(10_000);
    let replies: Vec<Packet> = fl
        .iter()
        .map(|(_, p)| Packet {
            tuple: p.tuple.reversed(),
            tcp_flags: 0x10,
        })
        .collect();
    let mut policy = Policy::new(Arc::clone(&net));
    for (i, (eni, p)) in fl.iter().enumerate() {
        policy.evaluate(
            *eni,
            FlowDirection::Egress,
            &Packet {
                tcp_flags: 0x02,
                ..*p
            },
            i as u64,
        );
    }
    let mut g = c.benchmark_group("policy");
    g.throughput(Throughput::Elements(2 * fl.len() as u64));
    let mut now = 1_000_000u64;
    g.bench_function("warm_conntrack", |b| {
        b.iter(|| {
            now += 1000;
            for ((eni, p), r) in fl.iter().zip(&replies) {
                black_box(policy.evaluate(*eni, FlowDirection::Egress, p, now));
                black_box(policy.evaluate(*eni, FlowDirection::Ingress, r, now));
            }
        })
    });
    g.throughput(Throughput::Elements(fl.len() as u64));
    g.bench_function("rules_only", |b| {
        b.iter(|| {
            for (eni, p) in &fl {
                black_box(evaluate_rules(&net, *eni, FlowDirection::Egress, &p.tuple));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
