//! Topology validation, one problem at a time, and a broken file that reports all of them.

use vpcflow_net::{LoadError, Network, builtin};

const GOOD: &str = builtin::TOPOLOGIES[0].1;

fn problems(text: &str) -> Vec<String> {
    match Network::from_toml(text, "t.toml") {
        Err(LoadError::Invalid { problems, .. }) => {
            problems.0.iter().map(|p| p.to_string()).collect()
        }
        Err(e) => panic!("expected validation problems, got {e}"),
        Ok(_) => vec![],
    }
}

#[test]
fn the_builtin_topology_is_valid() {
    let n = builtin::load("builtin:three-tier").unwrap();
    assert_eq!(n.enis.len(), 8);
    assert_eq!(n.subnets.len(), 6);
    assert!(
        builtin::load("builtin:nope")
            .unwrap_err()
            .to_string()
            .contains("no built-in topology 'nope'")
    );
}

#[test]
fn each_problem_is_reported_where_it_is() {
    // (edit of the good file, expected problem)
    let rows = [
        (
            (
                "private_ips = [\"10.0.21.10\"]",
                "private_ips = [\"10.0.99.10\"]",
            ),
            "enis[6] (eni-0a0000000000000a4): address 10.0.99.10 is outside subnet subnet-0a3a000000000003a (10.0.21.0/24)",
        ),
        (
            ("cidrs = [\"10.0.12.0/24\"]", "cidrs = [\"10.0.11.128/25\"]"),
            "subnets[3] (subnet-0b2b000000000002b): CIDR 10.0.11.128/25 overlaps subnets[2] (subnet-0a2a000000000002a)",
        ),
        (
            ("cidrs = [\"10.0.22.0/24\"]", "cidrs = [\"10.1.22.0/24\"]"),
            "subnets[5] (subnet-0b3b000000000003b): CIDR 10.1.22.0/24 is outside the VPC's blocks",
        ),
        (
            ("cidrs = [\"10.0.22.0/24\"]", "cidrs = [\"10.0.22.7/24\"]"),
            "subnets[5] (subnet-0b3b000000000003b): CIDR 10.0.22.7/24 has host bits set: the block is 10.0.22.0/24",
        ),
        (
            ("cidrs = [\"10.0.0.0/16\"]", "cidrs = [\"10.0.0.1/16\"]"),
            "vpcs[0] (vpc-0a1b2c3d4e5f60718): CIDR 10.0.0.1/16 has host bits set: the block is 10.0.0.0/16",
        ),
        (
            (
                "private_ips = [\"10.0.21.10\"]",
                "private_ips = [\"10.0.21.0\"]",
            ),
            "enis[6] (eni-0a0000000000000a4): address 10.0.21.0 is one AWS reserves in 10.0.21.0/24 (the first four and the last of each subnet block)",
        ),
        (
            (
                "private_ips = [\"10.0.21.10\"]",
                "private_ips = [\"10.0.21.255\"]",
            ),
            "enis[6] (eni-0a0000000000000a4): address 10.0.21.255 is one AWS reserves in 10.0.21.0/24 (the first four and the last of each subnet block)",
        ),
        (
            (
                "route_table = \"rtb-0a1a000000000001a\"\nnetwork_acl",
                "route_table = \"rtb-0000000000000dead\"\nnetwork_acl",
            ),
            "subnets[0] (subnet-0a1a000000000001a): route table 'rtb-0000000000000dead' does not exist",
        ),
        (
            (
                "{ rule = 110, protocol = \"tcp\", ports = 80,",
                "{ rule = 100, protocol = \"tcp\", ports = 80,",
            ),
            "network_acls[0] (acl-0a1a000000000001a).inbound[1]: rule number 100 appears twice in inbound",
        ),
        (
            (
                "group = \"sg-0a0000000000000a3\", description = \"SSH",
                "group = \"sg-0000000000000beef\", description = \"SSH",
            ),
            "security_groups[1] (sg-0a0000000000000a2).inbound[1]: security group 'sg-0000000000000beef' does not exist",
        ),
        (
            (
                "target = \"nat-0c0ffee0000000002\"",
                "target = \"nat-0000000000000f00d\"",
            ),
            "route_tables[1] (rtb-0b2b000000000002b).routes[1]: target 'nat-0000000000000f00d' is neither local nor an existing gateway",
        ),
        (
            (
                "id = \"eni-0b0000000000000b4\"",
                "id = \"eni-0a0000000000000a4\"",
            ),
            "enis[7] (eni-0a0000000000000a4): id 'eni-0a0000000000000a4' is already used by enis[6] (eni-0a0000000000000a4)",
        ),
        (
            ("id = \"vpc-0a1b2c3d4e5f60718\"", "id = \"vpc-XYZ\""),
            "vpcs[0] (vpc-XYZ): id 'vpc-XYZ' is not vpc- followed by 8 or 17 lowercase hex digits",
        ),
        (
            (
                "private_ips = [\"10.0.22.10\"]",
                "private_ips = [\"10.0.21.10\"]",
            ),
            "enis[7] (eni-0b0000000000000b4): address 10.0.21.10 is outside subnet subnet-0b3b000000000003b (10.0.22.0/24)",
        ),
        (
            (
                "{ rule = 150, protocol = \"icmp\"",
                "{ rule = 150, protocol = \"icmq\"",
            ),
            "network_acls[0] (acl-0a1a000000000001a).inbound[5]: protocol 'icmq' is not tcp, udp, icmp, icmpv6, all, -1 or a number",
        ),
        (
            (
                "ports = \"1024-65535\", cidr = \"0.0.0.0/0\", action = \"allow\" },\n  { rule = 140",
                "ports = \"65535-1024\", cidr = \"0.0.0.0/0\", action = \"allow\" },\n  { rule = 140",
            ),
            "network_acls[0] (acl-0a1a000000000001a).inbound[3]: ports '65535-1024': 65535 is above 1024",
        ),
    ];
    for ((from, to), want) in rows {
        assert!(GOOD.contains(from), "test edit not applicable: {from}");
        let text = GOOD.replacen(from, to, 1);
        let got = problems(&text);
        assert!(
            got.iter().any(|p| p == want),
            "want {want:?}\n got {got:#?}"
        );
    }
}

#[test]
fn a_broken_file_reports_every_problem_at_once() {
    let text = GOOD
        .replacen(
            "private_ips = [\"10.0.21.10\"]",
            "private_ips = [\"10.0.99.10\"]",
            1,
        )
        .replacen(
            "cidrs = [\"10.0.12.0/24\"]",
            "cidrs = [\"10.0.11.128/25\"]",
            1,
        )
        .replacen(
            "{ rule = 110, protocol = \"tcp\", ports = 80,",
            "{ rule = 100, protocol = \"tcp\", ports = 80,",
            1,
        )
        .replacen(
            "target = \"nat-0c0ffee0000000002\"",
            "target = \"nat-0000000000000f00d\"",
            1,
        );
    let got = problems(&text);
    assert_eq!(got.len(), 5, "{got:#?}"); // the overlap edit also strands app-2's address
    let msg = Network::from_toml(&text, "t.toml").unwrap_err().to_string();
    assert!(
        msg.starts_with("t.toml: the topology has 5 problem(s):\n  "),
        "{msg}"
    );
}

#[test]
fn syntax_errors_name_the_file_and_position() {
    let err = Network::from_toml("[region\nname = 1", "bad.toml")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("bad.toml: "), "{err}");
    assert!(err.contains("line 1"), "{err}");
    let err = Network::from_toml("[region]\nname = \"x\"\nbogus = 1\n", "bad.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown field `bogus`"), "{err}");
    // A block that is no CIDR says what is wrong with it, once, at its line.
    let text = builtin::TOPOLOGIES[0].1.replacen(
        "cidrs = [\"10.0.0.0/16\"]",
        "cidrs = [\"10.0.0.0/33\"]",
        1,
    );
    let err = Network::from_toml(&text, "t.toml").unwrap_err().to_string();
    let said = "'10.0.0.0/33' is not a CIDR block: the prefix length 33 is over 32";
    assert_eq!(err.matches(said).count(), 1, "{err}");
    assert!(!err.contains("invalid IP address syntax"), "{err}");
}
