//! `vpcflow lab up|down`: a topology built as Linux network namespaces, so live capture meets
//! real traffic and the kernel enforces the same policy vpcflow reports.
//!
//! Owns the process wiring: it runs `ip`, `sysctl` and `nft` (root needed). The layout:
//! * one namespace per ENI (`PREFIX-eN`), its `eth0` holding the ENI's private IPv4 addresses,
//!   default route via the subnet's router address (base + 1), the ENI's security groups loaded
//!   as nftables (`vpcflow_net::nft::sg_ruleset`);
//! * one VPC router namespace (`PREFIX-vpc`), forwarding, with a bridge per subnet carrying the
//!   router address, the subnets' network ACLs on its forward path (`nft::acl_ruleset`);
//! * each ENI's veth: the ENI end in its namespace, the host end (named by the ENI's
//!   `host_interface`, where `vpcflow capture --interface` listens) on the subnet's bridge.
//!
//! IPv6 and multicast are turned off in the lab so that only the traffic users make is on the wire.

use std::net::IpAddr;
use std::process::Command;

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};
use ipnet::IpNet;
use vpcflow_net::{Network, builtin, nft};

#[derive(Subcommand, Debug)]
pub(crate) enum LabCommand {
    /// Build the topology as network namespaces with nftables enforcing its policy.
    Up(LabArgs),
    /// Remove every namespace of the lab (and with them its links and rules).
    Down(LabPrefix),
}

#[derive(Args, Debug)]
#[command(after_help = "\
The lab names the host end of each ENI's veth after its host_interface (at most 15 characters),
or PREFIXhN for an ENI without one (a topology the EC2 API made, `vpcflow topology export`), so
that `vpcflow capture --interface NAME --topology FILE` can listen there, run inside the router
namespace: `ip netns exec PREFIX-vpc vpcflow capture --interface …`.
Run a command as an ENI with `ip netns exec PREFIX-eN …` (N = the ENI's position in the file).")]
pub(crate) struct LabArgs {
    /// Topology: a TOML file, or builtin:NAME.
    #[arg(long, value_name = "FILE|builtin:NAME")]
    topology: String,
    #[command(flatten)]
    prefix: LabPrefix,
}

#[derive(Args, Debug)]
pub(crate) struct LabPrefix {
    /// Prefix of the lab's namespace and bridge names.
    #[arg(long, default_value = "vfl")]
    prefix: String,
}

fn run(cmd: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(cmd[0])
        .args(&cmd[1..])
        .output()
        .with_context(|| format!("cannot run {}", cmd[0]))?;
    if !out.status.success() {
        bail!(
            "`{}` failed: {}",
            cmd.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn nft_load(ns: &str, ruleset: &str) -> anyhow::Result<()> {
    let file = tempfile_path(ns);
    std::fs::write(&file, ruleset).with_context(|| format!("cannot write {}", file.display()))?;
    let r = run(&[
        "ip",
        "netns",
        "exec",
        ns,
        "nft",
        "-f",
        file.to_str().unwrap_or_default(),
    ]);
    let _ = std::fs::remove_file(&file);
    r
}

fn tempfile_path(ns: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("vpcflow-lab-{ns}-{}.nft", std::process::id()))
}

/// The router address of a subnet (base + 1) with the subnet's prefix length.
fn gateway(net: &IpNet) -> Option<(IpAddr, u8)> {
    match net {
        IpNet::V4(n) => Some((
            IpAddr::V4(std::net::Ipv4Addr::from(u32::from(n.network()) + 1)),
            n.prefix_len(),
        )),
        IpNet::V6(_) => None,
    }
}

/// The name of the host end of ENI `i`'s veth: its host_interface, else `PREFIXhN`.
fn host_end(prefix: &str, i: usize, e: &vpcflow_net::network::Eni) -> String {
    e.host_interface
        .clone()
        .unwrap_or_else(|| format!("{prefix}h{i}"))
}

/// Checks the topology fits the lab (no I/O beyond loading it).
fn check(net: &Network) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for e in &net.enis {
        if let Some(n) = e.host_interface.as_deref()
            && n.len() > 15
        {
            problems.push(format!(
                "{}: host_interface '{n}' is longer than 15 characters",
                e.id
            ));
        }
        if !e.primary_ip().is_ipv4() {
            problems.push(format!("{}: the lab is IPv4-only", e.id));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        bail!(
            "the topology does not fit the lab:\n  {}",
            problems.join("\n  ")
        )
    }
}

fn up(args: &LabArgs) -> anyhow::Result<()> {
    let net = builtin::load(&args.topology)?;
    check(&net)?;
    let p = &args.prefix.prefix;
    let router = format!("{p}-vpc");
    let bridge = |s: usize| format!("{p}b{s}");
    let result = (|| -> anyhow::Result<()> {
        run(&["ip", "netns", "add", &router])?;
        for setting in [
            "net.ipv4.ip_forward=1",
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        ] {
            run(&["ip", "netns", "exec", &router, "sysctl", "-qw", setting])?;
        }
        for (s, subnet) in net.subnets.iter().enumerate() {
            if !net.enis.iter().any(|e| e.subnet == s) {
                continue;
            }
            let (gw, len) = subnet
                .cidrs
                .iter()
                .find_map(gateway)
                .context("a subnet without an IPv4 block")?;
            let b = bridge(s);
            run(&[
                "ip", "-n", &router, "link", "add", "name", &b, "type", "bridge",
            ])?;
            // No multicast: IGMP reports would be traffic nobody made.
            run(&["ip", "-n", &router, "link", "set", &b, "multicast", "off"])?;
            run(&[
                "ip",
                "-n",
                &router,
                "addr",
                "add",
                &format!("{gw}/{len}"),
                "dev",
                &b,
            ])?;
            run(&["ip", "-n", &router, "link", "set", &b, "up"])?;
        }
        for (i, e) in net.enis.iter().enumerate() {
            let ns = format!("{p}-e{i}");
            let host = host_end(p, i, e);
            let host = host.as_str();
            let inner = format!("{p}p{i}");
            run(&["ip", "netns", "add", &ns])?;
            for setting in [
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
            ] {
                run(&["ip", "netns", "exec", &ns, "sysctl", "-qw", setting])?;
            }
            run(&[
                "ip", "link", "add", host, "type", "veth", "peer", "name", &inner,
            ])?;
            run(&["ip", "link", "set", host, "netns", &router])?;
            run(&["ip", "link", "set", &inner, "netns", &ns])?;
            run(&["ip", "-n", &ns, "link", "set", &inner, "name", "eth0"])?;
            let (gw, len) = net.subnets[e.subnet]
                .cidrs
                .iter()
                .find_map(gateway)
                .context("a subnet without an IPv4 block")?;
            for ip in &e.private_ips {
                run(&[
                    "ip",
                    "-n",
                    &ns,
                    "addr",
                    "add",
                    &format!("{ip}/{len}"),
                    "dev",
                    "eth0",
                ])?;
            }
            run(&["ip", "-n", &ns, "link", "set", "eth0", "multicast", "off"])?;
            run(&["ip", "-n", &ns, "link", "set", "lo", "up"])?;
            run(&["ip", "-n", &ns, "link", "set", "eth0", "up"])?;
            run(&[
                "ip",
                "-n",
                &ns,
                "route",
                "add",
                "default",
                "via",
                &gw.to_string(),
            ])?;
            run(&[
                "ip",
                "-n",
                &router,
                "link",
                "set",
                host,
                "master",
                &bridge(e.subnet),
            ])?;
            run(&["ip", "-n", &router, "link", "set", host, "up"])?;
            nft_load(&ns, &nft::sg_ruleset(&net, i))?;
        }
        nft_load(&router, &nft::acl_ruleset(&net, &bridge))?;
        Ok(())
    })();
    if let Err(e) = result {
        down(p);
        return Err(e.context("the lab was not built (what was built is removed again)"));
    }
    println!("lab '{p}' is up: router namespace {router}");
    for (i, e) in net.enis.iter().enumerate() {
        println!(
            "  {p}-e{i}  {} ({})  {}  host interface {}",
            e.id,
            e.name.as_deref().unwrap_or("-"),
            e.private_ips
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
            host_end(p, i, e)
        );
    }
    println!(
        "capture: ip netns exec {router} vpcflow capture --topology {} --interface <host interfaces…>",
        args.topology
    );
    Ok(())
}

/// Removes every namespace named `PREFIX-…`; returns how many.
fn down(prefix: &str) -> usize {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return 0;
    };
    let mine = format!("{prefix}-");
    let names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with(&mine))
        .map(str::to_owned)
        .collect();
    for n in &names {
        let _ = Command::new("ip").args(["netns", "del", n]).status();
    }
    names.len()
}

pub(crate) fn run_lab(cmd: &LabCommand) -> anyhow::Result<()> {
    match cmd {
        LabCommand::Up(args) => up(args),
        LabCommand::Down(p) => {
            let n = down(&p.prefix);
            println!("lab '{}' is down: {n} namespace(s) removed", p.prefix);
            Ok(())
        }
    }
}
