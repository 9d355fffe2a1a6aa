//! Traffic scenarios as data (TOML): who talks to whom, how, how often.
//!
//! Owns the scenario file format and its validation against a network (every problem listed,
//! like topologies). A scenario is a list of `[[traffic]]` entries; each starts sessions (a TCP
//! connection, a UDP exchange or a series of pings) at a mean rate, optionally shaped by time of
//! day and limited to a window of the simulation. Endpoints are written as:
//!
//! | spec | meaning |
//! |---|---|
//! | `internet` | a random client from a pool of public addresses (`clients` of them) |
//! | `ip:198.51.100.20` | one address (outside the VPC: an internet host) |
//! | `eni:NAME` | an ENI by name or id (its private address; its public one when the peer is on the internet) |
//! | `public:*` | every ENI with a public address (for sweeps) |
//! | `vpc-dns` | the Amazon-provided resolver (VPC base + 2): never logged |
//! | `metadata` | the instance metadata service (169.254.169.254): never logged |

use std::net::IpAddr;

use serde::Deserialize;
use vpcflow_net::Network;

/// Scenarios shipped inside the binary: `(name, TOML)`.
pub const SCENARIOS: &[(&str, &str)] = &[("default", include_str!("../scenarios/default.toml"))];

/// A scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Its name.
    pub name: String,
    /// What it shows.
    #[serde(default)]
    pub description: String,
    /// The traffic generators.
    pub traffic: Vec<Traffic>,
}

/// Transport of a traffic entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    /// TCP connections: handshake, data both ways, FIN close.
    Tcp,
    /// UDP request and response.
    Udp,
    /// ICMP echo request and reply.
    Icmp,
}

/// One traffic generator.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Traffic {
    /// Its name (for errors and docs).
    pub name: String,
    /// Transport.
    pub protocol: Proto,
    /// Client endpoint(s).
    pub from: Endpoints,
    /// Server endpoint(s).
    pub to: Endpoints,
    /// Destination port(s): `443`, or a range `"1-1024"` walked in order (scans).
    #[serde(default)]
    pub port: Option<PortSpec>,
    /// Mean sessions per minute.
    pub rate: f64,
    /// Shape the rate by hour of day (low at night, peak mid-afternoon).
    #[serde(default)]
    pub diurnal: bool,
    /// Distinct internet clients when `from = "internet"`.
    #[serde(default = "default_clients")]
    pub clients: u32,
    /// Client packets per session (inclusive range).
    #[serde(default = "default_request")]
    pub request_packets: [u32; 2],
    /// Server packets per session (inclusive range).
    #[serde(default = "default_response")]
    pub response_packets: [u32; 2],
    /// IP packet size in bytes (inclusive range).
    #[serde(default = "default_bytes")]
    pub packet_bytes: [u32; 2],
    /// Milliseconds between one side's consecutive data packets (long-lived sessions span
    /// aggregation intervals, so their SYN and FIN land in different records).
    #[serde(default = "default_gap")]
    pub gap_ms: u64,
    /// Scanner behaviour: one SYN, no retransmission, no data.
    #[serde(default)]
    pub scan: bool,
    /// Walk the `to` endpoints in order (horizontal sweep) instead of picking at random.
    #[serde(default)]
    pub sweep: bool,
    /// Active only between these offsets from the start, e.g. `["40m", "43m"]`.
    #[serde(default)]
    pub window: Option<[String; 2]>,
}

fn default_gap() -> u64 {
    1
}
fn default_clients() -> u32 {
    100
}
fn default_request() -> [u32; 2] {
    [2, 6]
}
fn default_response() -> [u32; 2] {
    [2, 10]
}
fn default_bytes() -> [u32; 2] {
    [60, 1400]
}

/// One endpoint spec or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Endpoints {
    /// One spec.
    One(String),
    /// Several; one is picked per session (or walked with `sweep`).
    Many(Vec<String>),
}

impl Endpoints {
    /// The specs as a list.
    pub fn specs(&self) -> Vec<&str> {
        match self {
            Endpoints::One(s) => vec![s.as_str()],
            Endpoints::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// A port or a range.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PortSpec {
    /// One port.
    One(u16),
    /// `"N-M"`.
    Range(String),
}

/// A resolved endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// Random internet clients.
    Internet,
    /// A fixed external address.
    Ip(IpAddr),
    /// An ENI (index).
    Eni(usize),
    /// The VPC resolver address.
    VpcDns(IpAddr),
    /// The metadata service.
    Metadata,
}

/// Parses a duration like `90s`, `30m`, `1h`, `1h30m` into seconds.
pub fn parse_duration(s: &str) -> Option<u64> {
    let mut total = 0u64;
    let mut num = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().ok()?;
        num.clear();
        total += n * match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            _ => return None,
        };
    }
    if !num.is_empty() {
        return None;
    }
    (!s.is_empty()).then_some(total)
}

/// A scenario checked against a network: endpoints resolved, ranges sane.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The scenario's name.
    pub name: String,
    /// Resolved traffic entries, in file order.
    pub traffic: Vec<ResolvedTraffic>,
}

/// One traffic entry, resolved.
#[derive(Debug, Clone)]
pub struct ResolvedTraffic {
    /// The entry as written.
    pub spec: Traffic,
    /// Clients.
    pub from: Vec<Endpoint>,
    /// Servers.
    pub to: Vec<Endpoint>,
    /// Destination ports (inclusive).
    pub ports: (u16, u16),
    /// Active window in seconds from the start.
    pub window: (u64, u64),
}

fn resolve_endpoint(net: &Network, spec: &str) -> Result<Vec<Endpoint>, String> {
    if spec == "internet" {
        return Ok(vec![Endpoint::Internet]);
    }
    if spec == "metadata" {
        return Ok(vec![Endpoint::Metadata]);
    }
    if spec == "vpc-dns" {
        let base = net
            .vpcs
            .iter()
            .flat_map(|v| &v.cidrs)
            .find_map(|c| match c {
                ipnet::IpNet::V4(n) => Some(IpAddr::V4(std::net::Ipv4Addr::from(
                    u32::from(n.network()) + 2,
                ))),
                ipnet::IpNet::V6(_) => None,
            });
        return base
            .map(|ip| vec![Endpoint::VpcDns(ip)])
            .ok_or_else(|| "the VPC has no IPv4 block".to_owned());
    }
    if spec == "public:*" {
        let v: Vec<_> = (0..net.enis.len())
            .filter(|&e| net.enis[e].public_ip.is_some())
            .map(Endpoint::Eni)
            .collect();
        return if v.is_empty() {
            Err("no ENI has a public address".into())
        } else {
            Ok(v)
        };
    }
    if let Some(ip) = spec.strip_prefix("ip:") {
        let ip: IpAddr = ip
            .parse()
            .map_err(|_| format!("'{spec}': not an address"))?;
        if net.eni_by_private_ip(ip).is_some() || net.vpc_of_ip(ip).is_some() {
            return Err(format!(
                "'{spec}' is inside the VPC: name the ENI with eni:NAME"
            ));
        }
        return Ok(vec![Endpoint::Ip(ip)]);
    }
    if let Some(name) = spec.strip_prefix("eni:") {
        return net
            .eni_by_name(name)
            .map(|e| vec![Endpoint::Eni(e)])
            .ok_or_else(|| format!("no ENI named '{name}'"));
    }
    if let Some(name) = spec.strip_prefix("public:") {
        return match net.eni_by_name(name) {
            Some(e) if net.enis[e].public_ip.is_some() => Ok(vec![Endpoint::Eni(e)]),
            Some(_) => Err(format!("ENI '{name}' has no public address")),
            None => Err(format!("no ENI named '{name}'")),
        };
    }
    Err(format!(
        "'{spec}' is not internet, ip:ADDR, eni:NAME, public:NAME, public:*, vpc-dns or metadata"
    ))
}

impl Scenario {
    /// Parses TOML text; `source_name` names it in errors.
    pub fn from_toml(text: &str, source_name: &str) -> Result<Scenario, String> {
        toml::from_str(text).map_err(|e| format!("{source_name}: {}", e.to_string().trim_end()))
    }

    /// Loads a built-in scenario by name, or a file.
    pub fn load(spec: &str) -> Result<Scenario, String> {
        if let Some((_, text)) = SCENARIOS.iter().find(|(n, _)| *n == spec) {
            return Scenario::from_toml(text, &format!("scenario '{spec}'"));
        }
        match std::fs::read_to_string(spec) {
            Ok(text) => Scenario::from_toml(&text, spec),
            Err(e) => Err(format!(
                "no built-in scenario '{spec}' (there is: {}) and no such file ({e})",
                SCENARIOS
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// Checks the scenario against `net` (no I/O), listing every problem.
    pub fn resolve(&self, net: &Network) -> Result<Resolved, Vec<String>> {
        let mut problems = Vec::new();
        let mut traffic = Vec::new();
        for (i, t) in self.traffic.iter().enumerate() {
            let at = format!("traffic[{i}] ({})", t.name);
            let mut side = |specs: Vec<&str>| -> Vec<Endpoint> {
                let mut out = Vec::new();
                for s in specs {
                    match resolve_endpoint(net, s) {
                        Ok(v) => out.extend(v),
                        Err(m) => problems.push(format!("{at}: {m}")),
                    }
                }
                out
            };
            let from = side(t.from.specs());
            let to = side(t.to.specs());
            let ports = match &t.port {
                None if t.protocol == Proto::Icmp => (0, 0),
                None => {
                    problems.push(format!("{at}: tcp and udp traffic needs a port"));
                    (0, 0)
                }
                Some(PortSpec::One(p)) => (*p, *p),
                Some(PortSpec::Range(r)) => {
                    match r
                        .split_once('-')
                        .and_then(|(a, b)| Some((a.parse::<u16>().ok()?, b.parse::<u16>().ok()?)))
                    {
                        Some((a, b)) if a <= b => (a, b),
                        _ => {
                            problems.push(format!("{at}: port '{r}' is not N-M"));
                            (0, 0)
                        }
                    }
                }
            };
            if !(t.rate > 0.0 && t.rate.is_finite()) {
                problems.push(format!("{at}: rate must be above 0 sessions per minute"));
            }
            for (what, r) in [
                ("request_packets", t.request_packets),
                ("response_packets", t.response_packets),
            ] {
                if r[0] > r[1] {
                    problems.push(format!("{at}: {what} [{}, {}] is not a range", r[0], r[1]));
                }
            }
            if t.gap_ms == 0 || t.gap_ms > 3_600_000 {
                problems.push(format!("{at}: gap_ms must be 1-3600000"));
            }
            if t.packet_bytes[0] < 20
                || t.packet_bytes[0] > t.packet_bytes[1]
                || t.packet_bytes[1] > 65535
            {
                problems.push(format!(
                    "{at}: packet_bytes must be a range within 20-65535"
                ));
            }
            let window = match &t.window {
                None => (0, u64::MAX),
                Some([a, b]) => {
                    match (parse_duration(a), parse_duration(b)) {
                        (Some(a), Some(b)) if a < b => (a, b),
                        _ => {
                            problems.push(format!("{at}: window [{a}, {b}] is not two increasing durations like \"40m\""));
                            (0, 0)
                        }
                    }
                }
            };
            if from
                .iter()
                .any(|e| matches!(e, Endpoint::VpcDns(_) | Endpoint::Metadata))
            {
                problems.push(format!(
                    "{at}: vpc-dns and metadata can only be destinations"
                ));
            }
            traffic.push(ResolvedTraffic {
                spec: t.clone(),
                from,
                to,
                ports,
                window,
            });
        }
        if problems.is_empty() {
            Ok(Resolved {
                name: self.name.clone(),
                traffic,
            })
        } else {
            Err(problems)
        }
    }
}

impl Scenario {
    /// Resolves the scenario against `net` with traffic derived for the VPCs it names no ENI
    /// of ([`crate::derive`]), after its own entries.
    pub fn resolve_with_derived(&self, net: &Network) -> Result<Resolved, Vec<String>> {
        let mut resolved = self.resolve(net)?;
        let vpcs = crate::derive::uncovered(net, self);
        if !vpcs.is_empty() {
            let derived = Scenario {
                name: self.name.clone(),
                description: String::new(),
                traffic: crate::derive::traffic(net, &vpcs),
            };
            resolved.traffic.extend(derived.resolve(net)?.traffic);
        }
        Ok(resolved)
    }
}

impl Resolved {
    /// `next` in this one's order, for a simulation that goes on over a changed network: each
    /// entry of `next` where this one had the entry of its name (so it keeps its random stream
    /// and counter), entries `next` has not left empty (no session starts), new ones after.
    pub fn revise(&self, next: Resolved) -> Resolved {
        let mut next: Vec<Option<ResolvedTraffic>> = next.traffic.into_iter().map(Some).collect();
        let mut traffic: Vec<ResolvedTraffic> = self
            .traffic
            .iter()
            .map(|old| {
                let same = next
                    .iter_mut()
                    .find(|n| n.as_ref().is_some_and(|n| n.spec.name == old.spec.name))
                    .and_then(Option::take);
                same.unwrap_or_else(|| ResolvedTraffic {
                    from: Vec::new(),
                    to: Vec::new(),
                    ..old.clone()
                })
            })
            .collect();
        traffic.extend(next.into_iter().flatten());
        Resolved {
            name: self.name.clone(),
            traffic,
        }
    }
}
