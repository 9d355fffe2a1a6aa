#!/usr/bin/env python3
"""The network through the EC2 API, end to end (issue: the EC2 network API and Terraform).

Starts `vpcflow up` on a free loopback port (simulated traffic at 60x) and drives it with the AWS
CLI and boto3, unchanged:

* an AWS CLI script builds a two-tier VPC: the VPC, a public and a private subnet, an internet
  gateway, an Elastic IP and a NAT gateway, a route table each, two security groups (web open on
  443 and 22 to the internet, app open on 8080 to web), a network ACL on the public subnet that
  denies SSH in, and an instance in each subnet; then the delivery role (IAM) and a flow log on
  the VPC to a log group, with flow-direction in its format;
* the records of that VPC, traffic nobody described (derived from its rules and routes), hold
  ACCEPT and REJECT, and each conversation's verdict at each ENI is the policy engine's
  (`vpcflow diagnose` on the live model exported by `vpcflow topology export`);
* the kernel agrees: `vpcflow lab up` on the exported topology (root, nftables) lets the
  allowed connections through and drops the denied one (skipped, and said, without root);
* the delivery role as AWS treats it: a flow log naming a missing role, and one whose role does
  not trust vpc-flow-logs.amazonaws.com, deliver nothing and are FAILED with "Access error";
  fixing the trust policy makes delivery resume;
* the requests terraform-provider-aws makes for `apply` then `destroy` of the seeds' resources
  (log group, IAM role and policy, VPC, subnets, security groups, flow log), replayed with boto3
  in the provider's order with its parameters (`terraform_replay`): every call succeeds, each
  Read returns what the provider compares, and destroy leaves nothing behind;
* restart: the network made through the API survives a stop and start, and keeps carrying
  traffic.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import tomllib

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "api"))

import e2e  # noqa: E402
from e2e import ACCOUNT, Up, aws, check, client, error_of, free_port, wait_for  # noqa: E402

from terraform_replay import terraform_replay  # noqa: E402

FORMAT = ("${version} ${account-id} ${interface-id} ${srcaddr} ${dstaddr} ${srcport} "
          "${dstport} ${protocol} ${packets} ${bytes} ${start} ${end} ${action} ${log-status} "
          "${flow-direction}")
GROUP = "/two-tier/flows"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/two-tier-flow-logs"


def cli(url, *args):
    """`aws ec2 …` (or another service): its JSON, which must come back."""
    rc, out, err = aws(url, *args)
    if rc != 0:
        raise SystemExit(f"aws {' '.join(args)}: {err}")
    return out


def build_two_tier(url):
    """The AWS CLI script: the two-tier VPC, step by step. Returns its ids."""
    ids = {}
    tag = lambda kind, name: ["--tag-specifications",
                              f"ResourceType={kind},Tags=[{{Key=Name,Value={name}}}]"]
    ids["vpc"] = cli(url, "ec2", "create-vpc", "--cidr-block", "10.20.0.0/16",
                     *tag("vpc", "two-tier"))["Vpc"]["VpcId"]
    cli(url, "ec2", "modify-vpc-attribute", "--vpc-id", ids["vpc"], "--enable-dns-hostnames")
    for name, cidr in [("public", "10.20.1.0/24"), ("private", "10.20.2.0/24")]:
        ids[name] = cli(url, "ec2", "create-subnet", "--vpc-id", ids["vpc"], "--cidr-block", cidr,
                        "--availability-zone", "us-east-1a",
                        *tag("subnet", name))["Subnet"]["SubnetId"]
    cli(url, "ec2", "modify-subnet-attribute", "--subnet-id", ids["public"],
        "--map-public-ip-on-launch")
    ids["igw"] = cli(url, "ec2", "create-internet-gateway")["InternetGateway"]["InternetGatewayId"]
    cli(url, "ec2", "attach-internet-gateway", "--internet-gateway-id", ids["igw"], "--vpc-id",
        ids["vpc"])
    ids["eip"] = cli(url, "ec2", "allocate-address", "--domain", "vpc")["AllocationId"]
    ids["nat"] = cli(url, "ec2", "create-nat-gateway", "--subnet-id", ids["public"],
                     "--allocation-id", ids["eip"])["NatGateway"]["NatGatewayId"]
    for subnet, flag, target in [("public", "--gateway-id", ids["igw"]),
                                 ("private", "--nat-gateway-id", ids["nat"])]:
        rtb = cli(url, "ec2", "create-route-table", "--vpc-id",
                  ids["vpc"])["RouteTable"]["RouteTableId"]
        cli(url, "ec2", "create-route", "--route-table-id", rtb, "--destination-cidr-block",
            "0.0.0.0/0", flag, target)
        cli(url, "ec2", "associate-route-table", "--route-table-id", rtb, "--subnet-id",
            ids[subnet])
    ids["web"] = cli(url, "ec2", "create-security-group", "--group-name", "web", "--description",
                     "web tier", "--vpc-id", ids["vpc"])["GroupId"]
    ids["app"] = cli(url, "ec2", "create-security-group", "--group-name", "app", "--description",
                     "app tier", "--vpc-id", ids["vpc"])["GroupId"]
    for port in (443, 22):
        cli(url, "ec2", "authorize-security-group-ingress", "--group-id", ids["web"], "--protocol",
            "tcp", "--port", str(port), "--cidr", "0.0.0.0/0")
    cli(url, "ec2", "authorize-security-group-ingress", "--group-id", ids["app"], "--protocol",
        "tcp", "--port", "8080", "--source-group", ids["web"])
    ids["acl"] = cli(url, "ec2", "create-network-acl", "--vpc-id",
                     ids["vpc"])["NetworkAcl"]["NetworkAclId"]
    for rule, action, egress, extra in [("50", "deny", "--ingress", ["--protocol", "tcp",
                                                                    "--port-range", "From=22,To=22"]),
                                        ("100", "allow", "--ingress", ["--protocol", "-1"]),
                                        ("100", "allow", "--egress", ["--protocol", "-1"])]:
        cli(url, "ec2", "create-network-acl-entry", "--network-acl-id", ids["acl"],
            "--rule-number", rule, "--rule-action", action, egress, "--cidr-block", "0.0.0.0/0",
            *extra)
    acls = cli(url, "ec2", "describe-network-acls", "--filters",
               f"Name=association.subnet-id,Values={ids['public']}")["NetworkAcls"]
    assoc = next(a["NetworkAclAssociationId"] for n in acls for a in n["Associations"]
                 if a["SubnetId"] == ids["public"])
    cli(url, "ec2", "replace-network-acl-association", "--association-id", assoc,
        "--network-acl-id", ids["acl"])
    for name, subnet, group in [("web-1", "public", "web"), ("app-1", "private", "app")]:
        out = cli(url, "ec2", "run-instances", "--image-id", "ami-0abcdef1234567890",
                  "--instance-type", "t3.micro", "--count", "1", "--subnet-id", ids[subnet],
                  "--security-group-ids", ids[group], *tag("instance", name))
        ids[name] = out["Instances"][0]["InstanceId"]
        ids[name + "-eni"] = out["Instances"][0]["NetworkInterfaces"][0]["NetworkInterfaceId"]
        ids[name + "-ip"] = out["Instances"][0]["PrivateIpAddress"]
    return ids


def delivery_role(url, name, trusted="vpc-flow-logs.amazonaws.com"):
    """The delivery role through `aws iam`, trusting `trusted`."""
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": trusted}, "Action": "sts:AssumeRole"}]})
    cli(url, "iam", "create-role", "--role-name", name, "--assume-role-policy-document", trust)
    cli(url, "iam", "put-role-policy", "--role-name", name, "--policy-name", "flow-logs",
        "--policy-document", e2e.FLOW_LOGS_POLICY)
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def flow_log(url, vpc, group, role):
    out = cli(url, "ec2", "create-flow-logs", "--resource-type", "VPC", "--resource-ids", vpc,
              "--traffic-type", "ALL", "--log-group-name", group, "--deliver-logs-permission-arn",
              role, "--max-aggregation-interval", "60", "--log-format", FORMAT)
    return out["FlowLogIds"][0]


def records(url, group):
    """Every record of `group` as a dict of the format's fields."""
    logs = client(url, "logs")
    names = [f.strip("${}") for f in FORMAT.split()]
    out, token = [], None
    while True:
        kw = {"logGroupName": group}
        if token:
            kw["nextToken"] = token
        try:
            page = logs.filter_log_events(**kw)
        except logs.exceptions.ResourceNotFoundException:
            return []
        out.extend(dict(zip(names, e["message"].split())) for e in page["events"])
        token = page.get("nextToken")
        if not token:
            return out


def diagnose(binary, topology, src, dst, port, protocol):
    proto = {"6": "tcp", "17": "udp", "1": "icmp"}.get(protocol, protocol)
    args = [binary, "diagnose", "--topology", str(topology), "--src", src, "--dst", dst,
            "--protocol", proto, "--output", "json"]
    if proto in ("tcp", "udp"):
        args += ["--port", port]
    r = subprocess.run(args, capture_output=True, text=True, timeout=60)
    return json.loads(r.stdout) if r.stdout.strip() else None


def verdicts_agree(binary, topology, recs, ids):
    """Each request's record at each ENI has the policy engine's verdict for that ENI and
    direction. Requests: to a port the tiers serve, or a scanner's probe (ICMP is left out: a
    record does not say echo request from echo reply, and the instances ping both ways)."""
    ours = {ids["web-1-eni"], ids["app-1-eni"]}
    served = {"443", "22", "8080"}
    seen, compared, disagree = set(), {"ACCEPT": 0, "REJECT": 0}, []
    for r in recs:
        if r.get("log-status") != "OK" or r["interface-id"] not in ours:
            continue
        request = r["protocol"] != "1" and (r["dstport"] in served or (
            r["flow-direction"] == "ingress" and int(r["dstport"]) <= 1024))
        if not request:
            continue
        key = (r["srcaddr"], r["dstaddr"], r["dstport"], r["protocol"], r["interface-id"],
               r["flow-direction"])
        # Internet clients differ only by address: one of each kind is enough.
        kind = key if r["srcaddr"].startswith("10.") else ("internet",) + key[1:]
        if kind in seen:
            continue
        seen.add(kind)
        d = diagnose(binary, topology, r["srcaddr"], r["dstaddr"], r["dstport"], r["protocol"])
        if d is None:
            disagree.append((key, "no diagnosis"))
            continue
        step = next((s for s in d["steps"] if s["leg"] == "request"
                     and s["interfaceId"] == r["interface-id"]
                     and s["flowDirection"] == r["flow-direction"]), None)
        if step is None:
            continue
        if step["action"] == r["action"]:
            compared[r["action"]] += 1
        else:
            disagree.append((key, r["action"], step["action"]))
    return compared, disagree


def the_cli_script(binary, url, data, tmp):
    ids = build_two_tier(url)
    check("the CLI script built the two-tier VPC",
          all(k in ids for k in ("vpc", "public", "private", "nat", "web-1", "app-1")), str(ids))
    vpcs = client(url, "ec2").describe_vpcs(Filters=[{"Name": "tag:Name",
                                                      "Values": ["two-tier"]}])["Vpcs"]
    check("describe-vpcs finds it by its Name tag", [v["VpcId"] for v in vpcs] == [ids["vpc"]])
    described = client(url, "ec2").describe_tags(Filters=[
        {"Name": "resource-type", "Values": ["instance"]}, {"Name": "key", "Values": ["Name"]}])
    check("describe-tags lists the instances' Name tags",
          sorted((t["ResourceId"], t["Value"]) for t in described["Tags"])
          == sorted([(ids["web-1"], "web-1"), (ids["app-1"], "app-1")]), str(described["Tags"]))
    code = error_of(lambda: client(url, "ec2").delete_vpc(VpcId=ids["vpc"]))
    check("delete-vpc with subnets: DependencyViolation",
          code and code[0] == "DependencyViolation", str(code))
    role = delivery_role(url, ROLE.rsplit("/", 1)[1])
    fl = flow_log(url, ids["vpc"], GROUP, role)
    wait_for("the two-tier VPC's records, ACCEPT and REJECT",
             lambda: {r["action"] for r in records(url, GROUP)} >= {"ACCEPT", "REJECT"}, 120)
    recs = records(url, GROUP)
    enis = {r["interface-id"] for r in recs}
    check("records from both instances and the NAT gateway",
          {ids["web-1-eni"], ids["app-1-eni"]} <= enis, str(enis))
    ssh = [r for r in recs if r["dstport"] == "22" and r["interface-id"] == ids["web-1-eni"]
           and r["flow-direction"] == "ingress"]
    check("SSH from the internet: REJECT (the ACL denies what the group allows)",
          ssh and all(r["action"] == "REJECT" for r in ssh), str(ssh[:3]))
    https = [r for r in recs if r["dstport"] == "443" and r["interface-id"] == ids["web-1-eni"]
             and r["flow-direction"] == "ingress"]
    check("HTTPS from the internet: ACCEPT", https and any(r["action"] == "ACCEPT" for r in https))
    topology = tmp / "live.toml"
    out = subprocess.run([binary, "topology", "export", "--data", str(data)],
                         capture_output=True, text=True, timeout=60)
    check("vpcflow topology export", out.returncode == 0, out.stderr)
    topology.write_text(out.stdout)
    compared, disagree = verdicts_agree(binary, topology, recs, ids)
    check("every request's verdict is the policy engine's",
          not disagree and compared["ACCEPT"] > 0 and compared["REJECT"] > 0,
          f"compared {compared}, disagree {disagree[:5]}")
    return ids, fl, topology


def delivery_roles(url, ids):
    """A missing role, then an untrusting one: FAILED, Access error, nothing delivered; fixed:
    delivered."""
    ec2 = client(url, "ec2")
    missing = flow_log(url, ids["vpc"], "/two-tier/no-role",
                       f"arn:aws:iam::{ACCOUNT}:role/nobody")
    untrusting = delivery_role(url, "ec2-trusted", trusted="ec2.amazonaws.com")
    wrong = flow_log(url, ids["vpc"], "/two-tier/wrong-trust", untrusting)

    def status(fl):
        f = ec2.describe_flow_logs(FlowLogIds=[fl])["FlowLogs"][0]
        return f.get("DeliverLogsStatus"), f.get("DeliverLogsErrorMessage")

    for name, fl in [("a missing role", missing), ("a role trusting ec2", wrong)]:
        wait_for(f"{name}: FAILED", lambda: status(fl)[0] == "FAILED", 90)
        check(f"{name}: DeliverLogsStatus FAILED, Access error",
              status(fl) == ("FAILED", "Access error"), str(status(fl)))
    check("nothing delivered with either",
          not records(url, "/two-tier/no-role") and not records(url, "/two-tier/wrong-trust"))
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
        "Action": "sts:AssumeRole"}]})
    cli(url, "iam", "update-assume-role-policy", "--role-name", "ec2-trusted",
        "--policy-document", trust)
    wait_for("delivery resumes once the trust policy is fixed",
             lambda: len(records(url, "/two-tier/wrong-trust")) > 0, 90)
    check("fixed: SUCCESS and delivered", status(wrong)[0] == "SUCCESS", str(status(wrong)))


LISTENER = r"""
import socket, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(8)
    while True:
        c, _ = s.accept(); c.recv(100); c.sendall(b"ok"); c.close()
for p in PORTS:
    threading.Thread(target=serve, args=(p,), daemon=True).start()
print("ready", flush=True)
threading.Event().wait(60)
"""

CLIENT = r"""
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
try:
    s = socket.create_connection((host, port), timeout=2)
    s.sendall(b"hi"); ok = s.recv(10) == b"ok"; s.close()
    print("ok" if ok else "bad")
except OSError as e:
    print("failed", type(e).__name__)
"""


def lab(binary, topology, ids):
    """The kernel, on the exported topology: what the lab lets through is what the policy
    engine accepts (root and nftables; said and skipped otherwise)."""
    if os.geteuid() != 0 or not shutil.which("nft"):
        print("skip the lab: it needs root and nftables")
        return
    prefix = "vfnw"
    subprocess.run([binary, "lab", "down", "--prefix", prefix], capture_output=True)
    up = subprocess.run([binary, "lab", "up", "--topology", str(topology), "--prefix", prefix],
                        capture_output=True, text=True, timeout=120)
    try:
        check("vpcflow lab up on the exported topology", up.returncode == 0, up.stderr[-2000:])
        if up.returncode != 0:
            return
        enis = [e["id"] for e in tomllib.loads(topology.read_text())["enis"]]
        ns = lambda eni: f"{prefix}-e{enis.index(eni)}"
        listeners = []
        for eni, ports in [(ids["web-1-eni"], (443, 22)), (ids["app-1-eni"], (8080,))]:
            p = subprocess.Popen(["ip", "netns", "exec", ns(eni), "python3", "-c",
                                  LISTENER.replace("PORTS", repr(ports))],
                                 stdout=subprocess.PIPE, text=True)
            p.stdout.readline()
            listeners.append(p)
        cases = [(ids["app-1-eni"], ids["web-1-ip"], 443), (ids["app-1-eni"], ids["web-1-ip"], 22),
                 (ids["web-1-eni"], ids["app-1-ip"], 8080)]
        for src_eni, dst, port in cases:
            src_ip = ids["app-1-ip"] if src_eni == ids["app-1-eni"] else ids["web-1-ip"]
            r = subprocess.run(["ip", "netns", "exec", ns(src_eni), "python3", "-c", CLIENT, dst,
                                str(port)], capture_output=True, text=True, timeout=30)
            kernel = "ACCEPT" if r.stdout.strip() == "ok" else "REJECT"
            d = diagnose(binary, topology, src_ip, dst, str(port), "6")
            check(f"lab: {src_ip} -> {dst}:{port}: the kernel and the policy engine agree "
                  f"({kernel})", d and d["verdict"] == kernel, f"{r.stdout} {d and d['verdict']}")
        for p in listeners:
            p.kill()
    finally:
        subprocess.run([binary, "lab", "down", "--prefix", prefix], capture_output=True)


def main():
    binary = os.path.abspath(sys.argv[1])
    with tempfile.TemporaryDirectory() as t:
        tmp = pathlib.Path(t)
        data = tmp / "data"
        port = free_port()
        up = Up(binary, data, None, port, speed=60)
        try:
            ids, _, topology = the_cli_script(binary, up.url, data, tmp)
            delivery_roles(up.url, ids)
            terraform_replay(up.url)
            before = len(records(up.url, GROUP))
            up.stop()
            up = Up(binary, data, None, port, speed=60)
            vpcs = client(up.url, "ec2").describe_vpcs(VpcIds=[ids["vpc"]])["Vpcs"]
            check("restart: the VPC made through the API is still there", len(vpcs) == 1)
            insts = client(up.url, "ec2").describe_instances(InstanceIds=[ids["web-1"]])
            check("restart: and its instances",
                  len(insts["Reservations"]) == 1, str(insts))
            wait_for("restart: its records keep coming",
                     lambda: len(records(up.url, GROUP)) > before, 90)
        finally:
            up.stop()
        lab(binary, topology, ids)
    print(f"\n{e2e.passed} passed, {len(e2e.failures)} failed")
    if e2e.failures:
        print("failed:\n  " + "\n  ".join(e2e.failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
