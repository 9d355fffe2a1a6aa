#!/usr/bin/env python3
"""The AWS CLI and boto3, unchanged, against `vpcflow up` (issue: the AWS-compatible API).

Starts `vpcflow up` on a free loopback port in a temporary data directory, with simulated traffic
at 600x, and drives it only through the AWS CLI (subprocess, `--endpoint-url`) and boto3:

* the four `aws ec2 create-flow-logs` commands (VPC to S3 text, a subnet to S3 Parquet with its
  destination options, an ENI's REJECTs to CloudWatch Logs, a custom format at 60 s); the third
  first without `--deliver-logs-permission-arn`, refused as AWS refuses it, then with the role;
* the log group's records through `aws logs filter-log-events` and an Insights
  `start-query`/`get-query-results` round trip; the S3 objects' content (text with the custom
  header, Parquet with its columns) as delivered under the data directory, and the same objects
  through `aws s3 ls` and `aws s3 cp` (and ranges, and keys that try to leave the bucket);
* DescribeFlowLogs' filters and paging, DeleteFlowLogs, and that a deleted flow log stops
  delivering; tags at creation, CreateTags, DeleteTags, DescribeTags;
* AWS's validation errors through boto3's ClientError (codes and messages);
* security: a wrong secret (403 SignatureDoesNotMatch), an unknown key, a request signed 20
  minutes ago, and oversized, truncated and malformed bodies for each protocol (all 4xx);
  account B neither sees nor changes account A's flow logs, log groups or queries;
* the metric filter and alarm commands (`aws logs put-metric-filter`, `aws cloudwatch
  put-metric-alarm`) read back, in JSON 1.0 and the query protocol;
* the topology through EC2's Describe* actions (VPCs, subnets, ENIs, security groups, network
  ACLs, route tables): filters, names, paging, errors, and account B seeing none of it;
* CloudWatch metric data: put-metric-data, get-metric-statistics, GetMetricData, ListMetrics;
* other producers: CreateLogGroup with tags, CreateLogStream, PutLogEvents (the CLI and boto3),
  read back through GetLogEvents, FilterLogEvents and Insights; DescribeQueries; log-group tags;
* S3 writes: `aws s3 mb`, uploads (`aws s3 cp`, boto3) read back, DeleteObject, bucket policies,
  lifecycle configurations, notification configurations whose webhook gets S3's events;
* Firehose: streams created (to a bucket, GZIP; to an HTTP endpoint), described and listed,
  records put (the CLI and boto3) and delivered to the bucket and the endpoint; a subscription
  filter forwarding a log group's new events as CloudWatch Logs' DATA_MESSAGE; TestMetricFilter;
* alarms end to end: the seeds' metric filter (rejected packets) and alarm (> 1000 in a
  300 s period) on a fresh `vpcflow up`, whose default scenario's port scan starts at 14:15: the
  `[[topics]]` webhook receives the ALARM notification and later the OK, each once, SNS-shaped;
  DescribeAlarmHistory, FilterLogEvents with a space-delimited pattern, TestMetricFilter's
  extracted values; a Contributor Insights rule whose report ranks the scanner first; the
  detections run by the service (`[detections]`) notifying the scan's finding once;
* restart: flow logs, log groups, retention, metric filters, alarms, put events, tags, delivery
  streams, subscription filters, made buckets and their configurations survive a stop and
  start; `/healthz` and `/metrics` answer.

usage: e2e.py PATH/TO/vpcflow      (exit status 1 if any check fails)
"""

import datetime
import gzip
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pyarrow.parquet as pq
from botocore.exceptions import ClientError

VPC = "vpc-0a1b2c3d4e5f60718"
SUBNET = "subnet-0a1a000000000001a"
ENI = "eni-0a0000000000000a3"  # the bastion: refused traffic all day
ACCOUNT = "123456789012"
KEY, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
ROLE = "arn:aws:iam::123456789012:role/publishFlowLogs"
CUSTOM = ("${version} ${vpc-id} ${subnet-id} ${instance-id} ${srcaddr} ${dstaddr} ${srcport} "
          "${dstport} ${protocol} ${tcp-flags} ${type} ${pkt-srcaddr} ${pkt-dstaddr}")

CONFIG = """
topology = "builtin:three-tier"
[[buckets]]
name = "my-flow-log-bucket"
[[buckets]]
name = "flow-logs-parquet"
[[server.credentials]]
access_key_id = "AKIAIOSFODNN7EXAMPLE"
secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
account_id = "123456789012"
[[server.credentials]]
access_key_id = "AKIAOTHERACCOUNT0001"
secret_access_key = "other-secret"
account_id = "210987654321"
"""
OTHER_KEY, OTHER_SECRET = "AKIAOTHERACCOUNT0001", "other-secret"

failures = []
passed = 0


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failures.append(name)
        print(f"FAIL {name} {detail}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Up:
    """A `vpcflow up` process on a port (with `config`, else the built-in defaults)."""

    def __init__(self, binary, data, config, port, speed=600):
        self.url = f"http://127.0.0.1:{port}"
        self.log = open(data.parent / f"up-{port}.log", "ab")
        configured = ["--config", str(config)] if config else []
        self.proc = subprocess.Popen(
            [binary, "up", *configured, "--data", str(data), "--listen",
             f"127.0.0.1:{port}", "--speed", str(speed), "--start", "2026-01-15T14:00:00Z",
             "--seed", "7"],
            stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise SystemExit(f"vpcflow up did not answer /healthz on {self.url}")

    def stop(self):
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=60)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.log.close()


def env(key=KEY, secret=SECRET):
    e = dict(os.environ)
    e.update(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret, AWS_DEFAULT_REGION="us-east-1",
             AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null")
    e.pop("AWS_PROFILE", None)
    return e


def aws(url, *args, **kw):
    """The AWS CLI: (exit status, parsed JSON or stdout, stderr)."""
    cli = pathlib.Path(sys.executable).parent / "aws"
    r = subprocess.run([str(cli), "--endpoint-url", url, *args], capture_output=True, text=True,
                       env=env(**kw), timeout=120)
    out = r.stdout
    try:
        out = json.loads(out) if out.strip() else {}
    except json.JSONDecodeError:
        pass
    return r.returncode, out, r.stderr


def client(url, service, key=KEY, secret=SECRET):
    return boto3.client(service, endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret)


def error_of(call):
    try:
        call()
    except ClientError as e:
        return (e.response["Error"]["Code"], e.response["Error"].get("Message", ""),
                e.response["ResponseMetadata"]["HTTPStatusCode"])
    return None


def wait_for(what, fn, seconds=90):
    deadline = time.time() + seconds
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.5)
    raise SystemExit(f"timed out waiting for {what}")


FLOW_LOGS_TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
    "Action": "sts:AssumeRole"}]})
FLOW_LOGS_POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Resource": "*", "Action": [
        "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents",
        "logs:DescribeLogGroups", "logs:DescribeLogStreams"]}]})


def delivery_role(url, arn, key=KEY, secret=SECRET):
    """Makes the role `arn` names as AWS's flow-logs guide does: trusting
    vpc-flow-logs.amazonaws.com, allowed to write log groups (IAM, through boto3)."""
    iam = client(url, "iam", key, secret)
    name = arn.rsplit("/", 1)[1]
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=FLOW_LOGS_TRUST)
    iam.put_role_policy(RoleName=name, PolicyName="flow-logs", PolicyDocument=FLOW_LOGS_POLICY)


def create_four(url):
    """The four create-flow-logs commands; returns their ids by name."""
    ids = {}
    delivery_role(url, ROLE)
    rc, out, err = aws(url, "ec2", "create-flow-logs", "--resource-type", "VPC", "--resource-ids",
                       VPC, "--traffic-type", "ALL", "--log-destination-type", "s3",
                       "--log-destination", "arn:aws:s3:::my-flow-log-bucket/my-custom-flow-logs/")
    check("create 1: VPC to S3 text", rc == 0 and len(out.get("FlowLogIds", [])) == 1, err)
    ids["vpc-s3"] = out["FlowLogIds"][0]
    rc, out, err = aws(url, "ec2", "create-flow-logs", "--resource-type", "Subnet",
                       "--resource-ids", SUBNET, "--traffic-type", "ALL",
                       "--log-destination-type", "s3", "--log-destination",
                       "arn:aws:s3:::flow-logs-parquet", "--destination-options",
                       "FileFormat=parquet,HiveCompatiblePartitions=true,PerHourPartition=true")
    check("create 2: subnet to S3 Parquet, Hive, per hour",
          rc == 0 and len(out.get("FlowLogIds", [])) == 1, err)
    ids["subnet-parquet"] = out["FlowLogIds"][0]
    rc, out, err = aws(url, "ec2", "create-flow-logs", "--resource-type", "NetworkInterface",
                       "--resource-ids", ENI, "--traffic-type", "REJECT", "--log-group-name",
                       "my-flow-logs")
    check("create 3 without a role is refused as AWS refuses it",
          rc == 255 and "(InvalidParameter)" in err and
          "DeliverLogsPermissionArn can't be empty if LogDestinationType is cloud-watch-logs." in err,
          f"rc={rc} {err}")
    rc, out, err = aws(url, "ec2", "create-flow-logs", "--resource-type", "NetworkInterface",
                       "--resource-ids", ENI, "--traffic-type", "REJECT", "--log-group-name",
                       "my-flow-logs", "--deliver-logs-permission-arn", ROLE)
    check("create 3 with the role", rc == 0 and len(out.get("FlowLogIds", [])) == 1, err)
    ids["eni-logs"] = out["FlowLogIds"][0]
    rc, out, err = aws(url, "ec2", "create-flow-logs", "--resource-type", "VPC", "--resource-ids",
                       VPC, "--traffic-type", "ALL", "--log-destination-type", "s3",
                       "--log-destination", "arn:aws:s3:::my-flow-log-bucket/custom/",
                       "--log-format", CUSTOM, "--max-aggregation-interval", "60")
    check("create 4: custom format, 60 s", rc == 0 and len(out.get("FlowLogIds", [])) == 1, err)
    ids["custom"] = out["FlowLogIds"][0]
    return ids


def log_group_records(url):
    def events():
        rc, out, _ = aws(url, "logs", "filter-log-events", "--log-group-name", "my-flow-logs")
        return out.get("events") if rc == 0 else None
    evs = wait_for("the ENI's records in my-flow-logs", events)
    fields = [e["message"].split(" ") for e in evs]
    check("filter-log-events finds the ENI's REJECT records",
          len(evs) > 0 and all(f[2] == ENI and f[12] == "REJECT" for f in fields),
          str(evs[:2]))
    check("every event is on the ENI's stream",
          {e["logStreamName"] for e in evs} == {f"{ENI}-all"}, str({e["logStreamName"] for e in evs}))
    rc, out, err = aws(url, "logs", "start-query", "--log-group-name", "my-flow-logs",
                       "--start-time", "0", "--end-time", "4102444800", "--query-string",
                       "stats count(*) as n by action, interfaceId")
    check("start-query gives a query id", rc == 0 and "queryId" in out, err)
    qid = out["queryId"]

    def results():
        rc, out, _ = aws(url, "logs", "get-query-results", "--query-id", qid)
        return out if rc == 0 and out.get("status") == "Complete" else None
    res = wait_for("the Insights query", results)
    rows = [{f["field"]: f["value"] for f in row} for row in res["results"]]
    check("get-query-results: the ENI's records, all REJECT",
          len(rows) == 1 and rows[0]["action"] == "REJECT" and rows[0]["interfaceId"] == ENI
          and int(rows[0]["n"]) >= len(evs), str(rows))
    check("get-query-results: statistics", res["statistics"]["recordsMatched"] >= len(evs),
          str(res["statistics"]))


def s3_objects(data):
    text = wait_for("text objects", lambda: sorted(
        (data / "s3/my-flow-log-bucket/my-custom-flow-logs").rglob("*.log.gz")))
    lines = gzip.decompress(text[0].read_bytes()).decode().splitlines()
    check("S3 text: default header and records",
          lines[0] == "version account-id interface-id srcaddr dstaddr srcport dstport protocol "
          "packets bytes start end action log-status" and len(lines) > 1, lines[0])
    custom = wait_for("custom-format objects", lambda: sorted(
        (data / "s3/my-flow-log-bucket/custom").rglob("*.log.gz")))
    lines = gzip.decompress(custom[0].read_bytes()).decode().splitlines()
    header = CUSTOM.replace("${", "").replace("}", "")
    check("S3 text: the custom format's header and 13 fields per record",
          lines[0] == header and all(len(l.split(" ")) == 13 for l in lines[1:]) and
          all(l.split(" ")[1] == VPC for l in lines[1:]), lines[:2])
    parquet = wait_for("Parquet objects", lambda: sorted(
        (data / "s3/flow-logs-parquet").rglob("*.parquet")))
    rel = str(parquet[0].relative_to(data / "s3/flow-logs-parquet"))
    check("S3 Parquet: Hive-compatible, per-hour partitions",
          "aws-service=vpcflowlogs/aws-region=us-east-1/year=" in rel and "/hour=" in rel, rel)
    t = pq.read_table(parquet[0])
    check("S3 Parquet: AWS's columns, rows of the subnet's ENIs",
          t.column_names[:4] == ["version", "account_id", "interface_id", "srcaddr"]
          and t.num_rows > 0, str(t.column_names))


def s3_api(url, data):
    """The same objects through the S3 API: `aws s3 ls`, `aws s3 cp`, ranges, other accounts."""
    rc, out, err = aws(url, "s3", "ls")
    check("aws s3 ls lists the buckets",
          rc == 0 and "my-flow-log-bucket" in out and "flow-logs-parquet" in out, err)
    rc, out, err = aws(url, "s3", "ls", "s3://my-flow-log-bucket/my-custom-flow-logs/",
                       "--recursive")
    keys = [l.split()[-1] for l in out.splitlines()] if rc == 0 else []
    # Listed after the listing: objects are only ever added, so every listed key is here.
    on_disk = sorted(str(p.relative_to(data / "s3/my-flow-log-bucket"))
                     for p in (data / "s3/my-flow-log-bucket/my-custom-flow-logs").rglob("*.log.gz"))
    check("aws s3 ls --recursive: the delivered objects",
          len(keys) > 0 and set(keys) <= set(on_disk),
          f"{keys[:2]} {err}")
    with tempfile.TemporaryDirectory() as tmp:
        dst = pathlib.Path(tmp) / "o.log.gz"
        rc, _, err = aws(url, "s3", "cp", f"s3://my-flow-log-bucket/{keys[0]}", str(dst))
        got = dst.read_bytes() if rc == 0 else b""
        check("aws s3 cp: the object's bytes, a text.gz that parses",
              got == (data / "s3/my-flow-log-bucket" / keys[0]).read_bytes() and
              gzip.decompress(got).decode().startswith("version account-id interface-id"), err)
        rc, out, err = aws(url, "s3", "ls", "s3://flow-logs-parquet/", "--recursive")
        pkey = [l.split()[-1] for l in out.splitlines() if l.endswith(".parquet")][0]
        pdst = pathlib.Path(tmp) / "o.parquet"
        rc, _, err = aws(url, "s3", "cp", f"s3://flow-logs-parquet/{pkey}", str(pdst))
        t = pq.read_table(pdst) if rc == 0 else None
        check("aws s3 cp: a Parquet object that pyarrow reads",
              t is not None and t.num_rows > 0 and "interface_id" in t.column_names, err)
    s3 = client(url, "s3")
    r = s3.get_object(Bucket="my-flow-log-bucket", Key=keys[0], Range="bytes=0-9")
    check("GetObject with a range: 206 and 10 bytes",
          r["ResponseMetadata"]["HTTPStatusCode"] == 206 and len(r["Body"].read()) == 10,
          str(r.get("ContentRange")))
    got = error_of(lambda: s3.get_object(Bucket="my-flow-log-bucket", Key="../../state.db"))
    check("a key that climbs out of the bucket: NoSuchKey", got and got[0] == "NoSuchKey", str(got))
    got = error_of(lambda: client(url, "s3", key=OTHER_KEY, secret=OTHER_SECRET).list_objects_v2(
        Bucket="my-flow-log-bucket"))
    check("account B cannot list A's bucket", got and got[0] == "AccessDenied", str(got))


def describe_and_delete(url, ids):
    ec2 = client(url, "ec2")
    all_ids = sorted(ids.values())
    got = sorted(f["FlowLogId"] for f in ec2.describe_flow_logs()["FlowLogs"])
    check("describe-flow-logs lists the four", got == all_ids, str(got))
    # Three more, so that pages of AWS's smallest size (5) are two.
    extra = [ec2.create_flow_logs(ResourceType="VPC", ResourceIds=[VPC], TrafficType=t,
                                  LogDestinationType="s3",
                                  LogDestination=f"arn:aws:s3:::my-flow-log-bucket/{t.lower()}/"
                                  )["FlowLogIds"][0] for t in ["ACCEPT", "REJECT", "ALL"][:2]]
    extra += ec2.create_flow_logs(ResourceType="Subnet", ResourceIds=[SUBNET], TrafficType="ALL",
                                  LogDestinationType="s3",
                                  LogDestination="arn:aws:s3:::my-flow-log-bucket/subnet/"
                                  )["FlowLogIds"]
    pages = list(ec2.get_paginator("describe_flow_logs").paginate(PaginationConfig={"PageSize": 5}))
    paged = sorted(f["FlowLogId"] for p in pages for f in p["FlowLogs"])
    check("paging by 5 gives each of the seven once, in two pages",
          paged == sorted(all_ids + extra) and [len(p["FlowLogs"]) for p in pages] == [5, 2],
          f"{[len(p['FlowLogs']) for p in pages]} {paged}")
    got = error_of(lambda: ec2.describe_flow_logs(MaxResults=1))
    check("MaxResults below 5: AWS's InvalidParameterValue",
          got and got[0] == "InvalidParameterValue", str(got))
    ec2.delete_flow_logs(FlowLogIds=extra)
    by = lambda name, values: sorted(f["FlowLogId"] for f in ec2.describe_flow_logs(
        Filters=[{"Name": name, "Values": values}])["FlowLogs"])
    check("filter resource-id", by("resource-id", [ENI]) == [ids["eni-logs"]])
    check("filter log-destination-type",
          by("log-destination-type", ["s3"]) == sorted([ids["vpc-s3"], ids["subnet-parquet"],
                                                         ids["custom"]]))
    check("filter traffic-type", by("traffic-type", ["REJECT"]) == [ids["eni-logs"]])
    check("filter log-group-name", by("log-group-name", ["my-flow-logs"]) == [ids["eni-logs"]])
    one = ec2.describe_flow_logs(FlowLogIds=[ids["custom"]])["FlowLogs"][0]
    check("the custom flow log echoes its format and interval",
          one["LogFormat"] == CUSTOM and one["MaxAggregationInterval"] == 60, str(one))
    pq_fl = ec2.describe_flow_logs(FlowLogIds=[ids["subnet-parquet"]])["FlowLogs"][0]
    check("the Parquet flow log echoes its destination options",
          pq_fl["DestinationOptions"] == {"FileFormat": "parquet", "HiveCompatiblePartitions": True,
                                          "PerHourPartition": True}, str(pq_fl))

    def count():
        rc, out, _ = aws(url, "logs", "describe-log-streams", "--log-group-name", "my-flow-logs")
        return sum(1 for _ in out.get("logStreams", [])), out
    logs = client(url, "logs")
    before = logs.filter_log_events(logGroupName="my-flow-logs")["events"]
    ec2.delete_flow_logs(FlowLogIds=[ids["eni-logs"]])
    check("delete-flow-logs removes it",
          ids["eni-logs"] not in [f["FlowLogId"] for f in ec2.describe_flow_logs()["FlowLogs"]])
    time.sleep(3)  # what closed before the delete is delivered (30 simulated minutes)
    settled = len(logs.filter_log_events(logGroupName="my-flow-logs")["events"])
    time.sleep(10)  # 100 simulated minutes: the bastion's REJECTs went on
    after = len(logs.filter_log_events(logGroupName="my-flow-logs")["events"])
    check("a deleted flow log stops delivering", settled == after and settled >= len(before),
          f"{len(before)} → {settled} → {after}")
    code = error_of(lambda: ec2.delete_flow_logs(FlowLogIds=["fl-1a2b3c4d"]))
    check("deleting an unknown id: InvalidFlowLogId.NotFound",
          code and code[0] == "InvalidFlowLogId.NotFound" and
          code[1] == "These flow log ids in the input list are not found: [TotalCount: 1] fl-1a2b3c4d",
          str(code))
    del ids["eni-logs"]


def validation_errors(url):
    ec2 = client(url, "ec2")
    base = dict(ResourceType="VPC", ResourceIds=[VPC], TrafficType="ALL")
    rows = [
        (dict(base, LogDestinationType="s3", LogDestination="arn:aws:s3:::my-flow-log-bucket",
              MaxAggregationInterval=30),
         "InvalidParameter", "Invalid Flow Log Max Aggregation Interval"),
        (dict(base, LogDestinationType="s3"),
         "InvalidParameter", "LogDestination can't be empty if LogGroupName is not provided."),
        (dict(base, LogDestinationType="s3", LogGroupName="g"),
         "InvalidParameter", "LogDestination type must be cloud-watch-logs if LogGroupName is provided."),
        (dict(base, LogGroupName="g"),
         "InvalidParameter", "DeliverLogsPermissionArn can't be empty if LogDestinationType is cloud-watch-logs."),
        (dict(base, LogDestinationType="s3", LogDestination="arn:aws:s3:::my-flow-log-bucket/my-custom-flow-logs/"),
         "FlowLogAlreadyExists", "Error. There is an existing Flow Log with the same configuration and log destination."),
    ]
    for req, code, message in rows:
        got = error_of(lambda: ec2.create_flow_logs(**req))
        check(f"validation: {message[:50]}", got and got[0] == code and got[1] == message, str(got))
    out = ec2.create_flow_logs(**dict(base, LogDestinationType="s3",
                                      LogDestination="arn:aws:s3:::no-such-bucket"))
    un = out.get("Unsuccessful", [])
    check("a bucket that does not exist: an Unsuccessful item",
          len(un) == 1 and un[0]["Error"]["Code"] == "400" and
          un[0]["Error"]["Message"] == "LogDestination: no-such-bucket does not exist.", str(out))
    dry = error_of(lambda: ec2.describe_flow_logs(DryRun=True))
    check("DryRun: DryRunOperation (412)", dry and dry[0] == "DryRunOperation" and dry[2] == 412,
          str(dry))
    logs = client(url, "logs")
    got = error_of(lambda: logs.put_retention_policy(logGroupName="my-flow-logs", retentionInDays=4))
    check("logs validation: retention not in the set",
          got and got[0] == "InvalidParameterException" and "enum value set" in got[1], str(got))
    got = error_of(lambda: logs.create_log_group(logGroupName="my-flow-logs"))
    check("logs: ResourceAlreadyExistsException",
          got and got[0] == "ResourceAlreadyExistsException", str(got))
    got = error_of(lambda: logs.start_query(logGroupName="my-flow-logs", startTime=0,
                                            endTime=10, queryString="stats count(* by action"))
    check("logs: MalformedQueryException", got and got[0] == "MalformedQueryException", str(got))


def signed(url, service, body, headers, when=None, secret=SECRET):
    """Sends `body` signed by botocore's SigV4 (at `when`, else now): (status, body)."""
    req = botocore.awsrequest.AWSRequest(method="POST", url=url + "/", data=body, headers=headers)
    creds = botocore.credentials.Credentials(KEY, secret)
    auth = botocore.auth.SigV4Auth(creds, service, "us-east-1")
    if when is not None:
        class Fixed(botocore.auth.SigV4Auth):
            def _set_necessary_date_headers(self, request):
                stamp = when.strftime("%Y%m%dT%H%M%SZ")
                request.context["timestamp"] = stamp
                request.headers["X-Amz-Date"] = stamp
        auth = Fixed(creds, service, "us-east-1")
    auth.add_auth(req)
    prepared = req.prepare()
    payload = prepared.body.encode() if isinstance(prepared.body, str) else prepared.body
    r = urllib.request.Request(prepared.url, data=payload, method="POST",
                               headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def security(url):
    ec2 = client(url, "ec2", secret="wrong")
    got = error_of(lambda: ec2.describe_flow_logs())
    check("a wrong secret: 403 SignatureDoesNotMatch",
          got and got[0] == "SignatureDoesNotMatch" and got[2] == 403, str(got))
    got = error_of(lambda: client(url, "logs", key="AKIAUNKNOWN000000000").describe_log_groups())
    check("an unknown key (logs): UnrecognizedClientException",
          got and got[0] == "UnrecognizedClientException", str(got))
    form = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    ok_body = "Action=DescribeFlowLogs&Version=2016-11-15"
    status, _ = signed(url, "ec2", ok_body, form)
    check("a request signed by botocore now: 200", status == 200, str(status))
    late = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
    status, text = signed(url, "ec2", ok_body, form, when=late)
    check("signed 20 minutes ago: RequestExpired", status == 400 and "RequestExpired" in text, text)
    logs_h = {"Content-Type": "application/x-amz-json-1.1",
              "X-Amz-Target": "Logs_20140328.DescribeLogGroups"}
    fh_h = {"Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "Firehose_20150804.PutRecord"}
    cases = [
        ("ec2 oversized", "ec2", "Action=DescribeFlowLogs&Version=2016-11-15&x=" + "a" * (5 << 20), form),
        ("ec2 truncated", "ec2", "Action=DescribeFlowLogs&Version=2016-11-15&FlowLogId.%", form),
        ("ec2 malformed", "ec2", "Action=DescribeFlowLogs&Version=2016-11-15&MaxResults=lots", form),
        ("ec2 unknown action", "ec2", "Action=DescribeImages&Version=2016-11-15", form),
        ("logs oversized", "logs", '{"logGroupNamePrefix": "' + "a" * (5 << 20) + '"}', logs_h),
        ("logs truncated", "logs", '{"logGroupNamePrefix": "/vp', logs_h),
        ("logs malformed", "logs", '{"limit": "fifty"}', logs_h),
        ("logs unknown operation", "logs", "{}",
         dict(logs_h, **{"X-Amz-Target": "Logs_20140328.Frobnicate"})),
        ("sts malformed", "sts", "Action=GetCallerIdentity&Version=2011-06-15&%ff%fe=1", form),
        ("firehose oversized", "firehose",
         '{"DeliveryStreamName": "siem", "Record": {"Data": "' + "A" * (7 << 20) + '"}}', fh_h),
        ("firehose truncated", "firehose", '{"DeliveryStreamName": "si', fh_h),
        ("firehose malformed", "firehose", '{"DeliveryStreamName": 5}', fh_h),
        ("firehose unknown operation", "firehose", "{}",
         dict(fh_h, **{"X-Amz-Target": "Firehose_20150804.UpdateDestination"})),
        ("s3 oversized", "s3", "x" * (9 << 20), {"Content-Type": "application/octet-stream"}),
    ]
    for name, service, body, headers in cases:
        status, text = signed(url, service, body, headers)
        check(f"{name}: 4xx, AWS-shaped", 400 <= status < 500 and
              ("<Code>" in text or "__type" in text), f"{status} {text[:200]}")


PATTERN = ('[version, account, eni, source, destination, srcport, destport, protocol, packets, '
           'bytes, windowstart, windowend, action="REJECT", flowlogstatus]')


def monitoring(url):
    """The metric filter and alarm commands, verbatim, and reading them back."""
    rc, _, err = aws(url, "logs", "put-metric-filter", "--log-group-name", "my-flow-logs",
                     "--filter-name", "RejectedTraffic", "--filter-pattern", PATTERN,
                     "--metric-transformations",
                     "metricName=RejectedPackets,metricNamespace=VPCFlowLogs,metricValue=1")
    check("aws logs put-metric-filter", rc == 0, err)
    rc, out, err = aws(url, "logs", "describe-metric-filters", "--log-group-name", "my-flow-logs")
    f = out.get("metricFilters", [{}])[0] if rc == 0 else {}
    check("describe-metric-filters reads it back",
          f.get("filterName") == "RejectedTraffic" and f.get("filterPattern") == PATTERN and
          f.get("metricTransformations") == [{"metricName": "RejectedPackets",
                                              "metricNamespace": "VPCFlowLogs",
                                              "metricValue": "1"}], str(out) + err)
    groups = client(url, "logs").describe_log_groups(logGroupNamePrefix="my-flow-logs")["logGroups"]
    check("the log group counts its metric filter", groups[0]["metricFilterCount"] == 1, str(groups))
    rc, _, err = aws(url, "cloudwatch", "put-metric-alarm", "--alarm-name", "rejected-traffic",
                     "--metric-name", "RejectedPackets", "--namespace", "VPCFlowLogs",
                     "--statistic", "Sum", "--period", "300", "--threshold", "100",
                     "--comparison-operator", "GreaterThanThreshold", "--evaluation-periods", "1",
                     "--alarm-actions", "arn:aws:sns:us-east-1:123456789012:alerts")
    check("aws cloudwatch put-metric-alarm", rc == 0, err)
    rc, out, err = aws(url, "cloudwatch", "describe-alarms", "--alarm-names", "rejected-traffic")
    a = out.get("MetricAlarms", [{}])[0] if rc == 0 else {}
    check("describe-alarms reads it back (JSON 1.0)",
          a.get("AlarmName") == "rejected-traffic" and a.get("Threshold") == 100.0 and
          a.get("Period") == 300 and a.get("StateValue") == "INSUFFICIENT_DATA" and
          a.get("AlarmActions") == ["arn:aws:sns:us-east-1:123456789012:alerts"] and
          a.get("AlarmArn") == "arn:aws:cloudwatch:us-east-1:123456789012:alarm:rejected-traffic",
          str(out) + err)
    status, xml = signed(url, "monitoring",
                         "Action=DescribeAlarms&Version=2010-08-01&AlarmNames.member.1=rejected-traffic",
                         {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    check("describe-alarms in the query protocol (older SDKs)",
          status == 200 and "<AlarmName>rejected-traffic</AlarmName>" in xml and
          "<DescribeAlarmsResult>" in xml, xml[:300])
    cw = client(url, "cloudwatch")
    got = error_of(lambda: cw.put_metric_alarm(
        AlarmName="bad", MetricName="m", Namespace="n", Statistic="Sum", Period=300, Threshold=1,
        ComparisonOperator="Bigger", EvaluationPeriods=1))
    check("a bad comparison operator: ValidationError", got and got[0] == "ValidationError", str(got))
    got = error_of(lambda: cw.delete_alarms(AlarmNames=["no-such-alarm"]))
    check("deleting an unknown alarm: ResourceNotFound", got and got[0] == "ResourceNotFound",
          str(got))
    other = client(url, "cloudwatch", key=OTHER_KEY, secret=OTHER_SECRET)
    check("account B sees none of A's alarms", other.describe_alarms()["MetricAlarms"] == [])
    got = error_of(lambda: other.delete_alarms(AlarmNames=["rejected-traffic"]))
    check("account B cannot delete A's alarm", got and got[0] == "ResourceNotFound", str(got))


def tags(url, ids):
    """Tags on flow logs: at creation, CreateTags, DescribeTags, DeleteTags."""
    rc, out, err = aws(url, "ec2", "create-flow-logs", "--resource-type", "VPC", "--resource-ids",
                       VPC, "--traffic-type", "REJECT", "--log-destination-type", "s3",
                       "--log-destination", "arn:aws:s3:::my-flow-log-bucket/tagged/",
                       "--tag-specifications",
                       "ResourceType=vpc-flow-log,Tags=[{Key=Name,Value=demo},{Key=team,Value=net}]")
    check("create-flow-logs with --tag-specifications", rc == 0, err)
    tagged = out["FlowLogIds"][0]
    ids["tagged"] = tagged
    ec2 = client(url, "ec2")
    ec2.create_tags(Resources=[tagged, ids["custom"]], Tags=[{"Key": "env", "Value": "test"}])
    ec2.delete_tags(Resources=[tagged], Tags=[{"Key": "team"}])
    got = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [tagged]}])["Tags"]
    check("describe-tags: what was given, added and not deleted",
          sorted((t["Key"], t["Value"], t["ResourceType"]) for t in got) ==
          [("Name", "demo", "vpc-flow-log"), ("env", "test", "vpc-flow-log")], str(got))
    got = ec2.describe_tags(Filters=[{"Name": "key", "Values": ["env"]}])["Tags"]
    check("describe-tags by key", sorted(t["ResourceId"] for t in got) ==
          sorted([tagged, ids["custom"]]), str(got))
    fl = ec2.describe_flow_logs(Filters=[{"Name": "tag:Name", "Values": ["demo"]}])["FlowLogs"]
    check("describe-flow-logs by tag", [f["FlowLogId"] for f in fl] == [tagged] and
          {"Key": "env", "Value": "test"} in fl[0]["Tags"], str(fl))
    got = error_of(lambda: ec2.create_tags(Resources=["fl-0123456789abcdef0"],
                                           Tags=[{"Key": "a", "Value": "b"}]))
    check("tagging an unknown flow log: InvalidFlowLogId.NotFound",
          got and got[0] == "InvalidFlowLogId.NotFound", str(got))
    got = error_of(lambda: client(url, "ec2", key=OTHER_KEY, secret=OTHER_SECRET).create_tags(
        Resources=[tagged], Tags=[{"Key": "a", "Value": "b"}]))
    check("account B cannot tag A's flow log", got and got[0] == "InvalidFlowLogId.NotFound",
          str(got))


def accounts(url, ids):
    """Account B (another key) sees and changes nothing of account A's."""
    ec2 = client(url, "ec2", key=OTHER_KEY, secret=OTHER_SECRET)
    check("account B sees none of A's flow logs", ec2.describe_flow_logs()["FlowLogs"] == [])
    got = error_of(lambda: ec2.delete_flow_logs(FlowLogIds=[ids["vpc-s3"]]))
    check("account B cannot delete A's flow log",
          got and got[0] == "InvalidFlowLogId.NotFound", str(got))
    got = error_of(lambda: ec2.create_flow_logs(
        ResourceType="VPC", ResourceIds=[VPC], TrafficType="ALL", LogDestinationType="s3",
        LogDestination="arn:aws:s3:::my-flow-log-bucket"))
    check("account B cannot watch A's VPC", got and got[0] == "InvalidVpcID.NotFound", str(got))
    logs = client(url, "logs", key=OTHER_KEY, secret=OTHER_SECRET)
    check("account B sees none of A's log groups", logs.describe_log_groups()["logGroups"] == [])
    for name, call in [
        ("read", lambda: logs.filter_log_events(logGroupName="my-flow-logs")),
        ("delete", lambda: logs.delete_log_group(logGroupName="my-flow-logs")),
        ("query", lambda: logs.start_query(logGroupName="my-flow-logs", startTime=0, endTime=10,
                                           queryString="stats count(*)")),
    ]:
        got = error_of(call)
        check(f"account B cannot {name} A's log group",
              got and got[0] == "ResourceNotFoundException", str(got))
    a = client(url, "ec2")
    check("account A still has its flow logs",
          ids["vpc-s3"] in [f["FlowLogId"] for f in a.describe_flow_logs()["FlowLogs"]])


def topology(url):
    """The built-in topology through EC2's Describe* actions, as the CLI and boto3 read them."""
    rc, out, err = aws(url, "ec2", "describe-vpcs")
    vpcs = out.get("Vpcs", []) if rc == 0 else []
    check("aws ec2 describe-vpcs: the topology's VPC",
          [(v["VpcId"], v["CidrBlock"], v["OwnerId"]) for v in vpcs] ==
          [(VPC, "10.0.0.0/16", ACCOUNT)], err or str(vpcs))
    check("the VPC's Name tag", {"Key": "Name", "Value": "three-tier"} in (vpcs[0].get("Tags", [])
                                                                          if vpcs else []))
    ec2 = client(url, "ec2")
    pages = ec2.get_paginator("describe_subnets").paginate(
        Filters=[{"Name": "vpc-id", "Values": [VPC]}], PaginationConfig={"PageSize": 5})
    subnets = [s for p in pages for s in p["Subnets"]]
    check("describe-subnets pages by 5: all six subnets once",
          len(subnets) == 6 and len({s["SubnetId"] for s in subnets}) == 6, str(len(subnets)))
    app = ec2.describe_subnets(Filters=[{"Name": "tag:Name", "Values": ["app-*"]}])["Subnets"]
    check("describe-subnets by tag:Name with a wildcard",
          sorted(s["AvailabilityZone"] for s in app) == ["us-east-1a", "us-east-1b"], str(app))
    groups = ec2.describe_security_groups(GroupNames=["db"])["SecurityGroups"]
    perms = groups[0]["IpPermissions"] if groups else []
    check("describe-security-groups: the db group's rules",
          [(p["IpProtocol"], p["FromPort"], p["UserIdGroupPairs"][0]["GroupId"]) for p in perms] ==
          [("tcp", 5432, "sg-0a0000000000000a2"), ("tcp", 5432, "sg-0a0000000000000a4")],
          str(perms))
    enis = ec2.describe_network_interfaces(
        Filters=[{"Name": "attachment.instance-id", "Values": ["i-0a0000000000000a4"]}]
    )["NetworkInterfaces"]
    check("describe-network-interfaces by instance",
          [(e["NetworkInterfaceId"], e["PrivateIpAddress"]) for e in enis] ==
          [("eni-0a0000000000000a4", "10.0.21.10")], str(enis))
    acls = ec2.describe_network_acls(
        Filters=[{"Name": "association.subnet-id", "Values": [SUBNET]}])["NetworkAcls"]
    entries = acls[0]["Entries"] if acls else []
    check("describe-network-acls: the public subnet's ACL with its deny and * rules",
          {"RuleNumber": 90, "Protocol": "1", "RuleAction": "deny", "Egress": True,
           "CidrBlock": "198.51.100.0/24"} in entries
          and any(e["RuleNumber"] == 32767 for e in entries), str(entries))
    tables = ec2.describe_route_tables(
        Filters=[{"Name": "route.nat-gateway-id", "Values": ["nat-0c0ffee0000000002"]}]
    )["RouteTables"]
    check("describe-route-tables by NAT gateway route",
          [t["RouteTableId"] for t in tables] == ["rtb-0b2b000000000002b"]
          and len(tables[0]["Associations"]) == 4, str(tables))
    got = error_of(lambda: ec2.describe_vpcs(VpcIds=["vpc-0000000000000dead"]))
    check("an unknown VPC: InvalidVpcID.NotFound",
          got and got[0] == "InvalidVpcID.NotFound"
          and got[1] == "The vpc ID 'vpc-0000000000000dead' does not exist", str(got))
    got = error_of(lambda: ec2.describe_subnets(Filters=[{"Name": "bogus", "Values": ["x"]}]))
    check("an unknown filter: InvalidParameterValue",
          got and got[0] == "InvalidParameterValue" and got[1] == "The filter 'bogus' is invalid",
          str(got))
    other = client(url, "ec2", key=OTHER_KEY, secret=OTHER_SECRET)
    check("account B sees none of A's VPCs or subnets",
          other.describe_vpcs()["Vpcs"] == [] and other.describe_subnets()["Subnets"] == [])


def metric_data(url):
    """PutMetricData through the CLI, read back by GetMetricStatistics, GetMetricData, ListMetrics."""
    now = int(time.time())
    start = now - now % 60
    for value in (3, 5):
        rc, _, err = aws(url, "cloudwatch", "put-metric-data", "--namespace", "VPCFlowLogs",
                         "--metric-name", "RejectedPackets", "--value", str(value),
                         "--dimensions", f"VpcId={VPC}", "--timestamp", str(start + 1))
        check(f"aws cloudwatch put-metric-data {value}", rc == 0, err)
    rc, out, err = aws(url, "cloudwatch", "get-metric-statistics", "--namespace", "VPCFlowLogs",
                       "--metric-name", "RejectedPackets", "--dimensions", f"Name=VpcId,Value={VPC}",
                       "--start-time", str(start - 60), "--end-time", str(start + 60),
                       "--period", "60", "--statistics", "Sum", "Maximum", "SampleCount")
    points = out.get("Datapoints", []) if rc == 0 else []
    check("get-metric-statistics: the two values in their minute",
          [(p["Sum"], p["Maximum"], p["SampleCount"]) for p in points] == [(8.0, 5.0, 2.0)],
          err or str(points))
    cw = client(url, "cloudwatch")
    got = cw.get_metric_data(
        MetricDataQueries=[{"Id": "rejects", "MetricStat": {
            "Metric": {"Namespace": "VPCFlowLogs", "MetricName": "RejectedPackets",
                       "Dimensions": [{"Name": "VpcId", "Value": VPC}]},
            "Period": 60, "Stat": "Average"}}],
        StartTime=datetime.datetime.fromtimestamp(start - 60, datetime.timezone.utc),
        EndTime=datetime.datetime.fromtimestamp(start + 60, datetime.timezone.utc))
    res = got["MetricDataResults"]
    check("boto3 get_metric_data: the minute's average",
          len(res) == 1 and res[0]["Values"] == [4.0] and res[0]["StatusCode"] == "Complete",
          str(res))
    listed = cw.list_metrics(Namespace="VPCFlowLogs")["Metrics"]
    check("list-metrics names it", [m["MetricName"] for m in listed] == ["RejectedPackets"],
          str(listed))
    other = client(url, "cloudwatch", key=OTHER_KEY, secret=OTHER_SECRET)
    check("account B lists none of A's metrics", other.list_metrics()["Metrics"] == [])
    got = error_of(lambda: cw.put_metric_data(Namespace="AWS/EC2", MetricData=[
        {"MetricName": "x", "Value": 1}]))
    check("an AWS/ namespace: InvalidParameterValue",
          got and got[0] == "InvalidParameterValue", str(got))


def producers(url):
    """Another producer writes to a log group: CreateLogStream and PutLogEvents, read back."""
    rc, _, err = aws(url, "logs", "create-log-group", "--log-group-name", "/app/producer",
                     "--tags", "team=net")
    check("aws logs create-log-group with tags", rc == 0, err)
    rc, _, err = aws(url, "logs", "create-log-stream", "--log-group-name", "/app/producer",
                     "--log-stream-name", "host-1")
    check("aws logs create-log-stream", rc == 0, err)
    now = int(time.time() * 1000)
    rc, out, err = aws(url, "logs", "put-log-events", "--log-group-name", "/app/producer",
                       "--log-stream-name", "host-1", "--log-events",
                       f"timestamp={now - 3000},message=started", f"timestamp={now - 2000},message=error: disk full")
    check("aws logs put-log-events", rc == 0 and "nextSequenceToken" in out, err or str(out))
    logs = client(url, "logs")
    batch = [{"timestamp": now - 1000 + i, "message": f"request {i} ok"} for i in range(10)]
    answer = logs.put_log_events(logGroupName="/app/producer", logStreamName="host-1",
                                 logEvents=batch)
    check("boto3 put_log_events: every event taken", "rejectedLogEventsInfo" not in answer,
          str(answer))
    answer = logs.put_log_events(logGroupName="/app/producer", logStreamName="host-1",
                                 logEvents=[{"timestamp": now - 15 * 86_400_000, "message": "old"},
                                            {"timestamp": now - 15 * 86_400_000 + 1, "message": "old"}])
    check("events older than 14 days are set aside",
          answer.get("rejectedLogEventsInfo") == {"tooOldLogEventEndIndex": 1}, str(answer))
    logs.put_log_events(logGroupName="/app/producer", logStreamName="host-1",
                        logEvents=[{"timestamp": now, "message": "fresh"}])
    got = logs.get_log_events(logGroupName="/app/producer", logStreamName="host-1",
                              startFromHead=True)["events"]
    check("get-log-events reads the 13 events back in order",
          [e["message"] for e in got] ==
          ["started", "error: disk full"] + [f"request {i} ok" for i in range(10)] + ["fresh"],
          str([e["message"] for e in got]))
    found = logs.filter_log_events(logGroupName="/app/producer", filterPattern="error")["events"]
    check("filter-log-events finds the error", [e["message"] for e in found] == ["error: disk full"],
          str(found))
    q = logs.start_query(logGroupName="/app/producer", startTime=now // 1000 - 60,
                         endTime=now // 1000 + 60,
                         queryString="fields @message | filter @message like /request/ | stats count(*) as n")
    res = wait_for("the producer query", lambda: (
        lambda r: r if r["status"] == "Complete" else None)(
        logs.get_query_results(queryId=q["queryId"])))
    rows = res["results"] if res else []
    check("Insights counts the put events", rows == [[{"field": "n", "value": "10"}]], str(rows))
    listed = logs.describe_queries(logGroupName="/app/producer")["queries"]
    check("describe-queries lists it", [x["queryId"] for x in listed] == [q["queryId"]]
          and listed[0]["status"] == "Complete", str(listed))
    arn = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/app/producer"
    logs.tag_resource(resourceArn=arn, tags={"env": "test"})
    tags = logs.list_tags_for_resource(resourceArn=arn)["tags"]
    check("log-group tags: create, TagResource, ListTagsForResource",
          tags == {"team": "net", "env": "test"}, str(tags))
    other = client(url, "logs", key=OTHER_KEY, secret=OTHER_SECRET)
    got = error_of(lambda: other.put_log_events(logGroupName="/app/producer",
                                                logStreamName="host-1",
                                                logEvents=[{"timestamp": now, "message": "x"}]))
    check("account B cannot write to A's log group",
          got and got[0] == "ResourceNotFoundException", str(got))
    got = error_of(lambda: logs.put_log_events(logGroupName="/app/producer",
                                               logStreamName="host-1",
                                               logEvents=[{"timestamp": now, "message": "b"},
                                                          {"timestamp": now - 1, "message": "a"}]))
    check("events out of order: InvalidParameterException",
          got and got[0] == "InvalidParameterException", str(got))


class Receiver:
    """An HTTP receiver on a free loopback port: a webhook for bucket events and a Firehose HTTP
    endpoint (it answers the protocol's request id). Keeps every POST as (path, headers, body)."""

    def __init__(self):
        import http.server
        import threading
        got = self.got = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                got.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                rid = self.headers.get("X-Amz-Firehose-Request-Id")
                answer = json.dumps({"requestId": rid, "timestamp": 0} if rid else {}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def posts(self, path):
        return [g for g in self.got if g[0] == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def json_documents(text):
    """Concatenated JSON documents, as Firehose concatenates records."""
    dec, out, i = json.JSONDecoder(), [], 0
    while i < len(text):
        doc, i = dec.raw_decode(text, i)
        out.append(doc)
    return out


def s3_writes(url, hook):
    """Buckets made, objects written and deleted, policies, lifecycle and notifications."""
    rc, _, err = aws(url, "s3", "mb", "s3://siem-archive")
    check("aws s3 mb makes a bucket", rc == 0, err)
    other = client(url, "s3", key=OTHER_KEY, secret=OTHER_SECRET)
    got = error_of(lambda: other.create_bucket(Bucket="siem-archive"))
    check("account B cannot take A's bucket name: BucketAlreadyExists",
          got and got[0] == "BucketAlreadyExists" and got[2] == 409, str(got))
    got = error_of(lambda: client(url, "s3").create_bucket(Bucket="Not_Valid"))
    check("a bad bucket name: InvalidBucketName", got and got[0] == "InvalidBucketName", str(got))
    s3 = client(url, "s3")
    s3.put_bucket_notification_configuration(Bucket="siem-archive", NotificationConfiguration={
        "QueueConfigurations": [{"Id": "ingest", "QueueArn": hook.url + "/s3-events",
                                 "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                                 "Filter": {"Key": {"FilterRules": [
                                     {"Name": "prefix", "Value": "incoming/"}]}}}]})
    conf = s3.get_bucket_notification_configuration(Bucket="siem-archive")
    check("get-bucket-notification-configuration reads the webhook back",
          [(c["Id"], c["QueueArn"]) for c in conf.get("QueueConfigurations", [])]
          == [("ingest", hook.url + "/s3-events")], str(conf))
    got = error_of(lambda: s3.put_bucket_notification_configuration(
        Bucket="siem-archive", NotificationConfiguration={"TopicConfigurations": [
            {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Events": ["s3:ObjectCreated:*"]}]}))
    check("an SNS topic is refused: vpcflow posts to webhooks",
          got and got[0] == "InvalidArgument", str(got))
    with tempfile.TemporaryDirectory() as tmp:
        src = pathlib.Path(tmp) / "notes.txt"
        src.write_bytes(os.urandom(3000) + b"\n")
        rc, _, err = aws(url, "s3", "cp", str(src), "s3://siem-archive/incoming/notes.txt")
        check("aws s3 cp uploads", rc == 0, err)
        back = pathlib.Path(tmp) / "back.txt"
        rc, _, err = aws(url, "s3", "cp", "s3://siem-archive/incoming/notes.txt", str(back))
        check("aws s3 cp brings the upload back byte for byte",
              rc == 0 and back.read_bytes() == src.read_bytes(), err)
    big = os.urandom(3 << 20)
    s3.put_object(Bucket="siem-archive", Key="other/big.bin", Body=big)
    check("boto3 put_object of 3 MiB reads back",
          s3.get_object(Bucket="siem-archive", Key="other/big.bin")["Body"].read() == big)
    s3.delete_object(Bucket="siem-archive", Key="incoming/notes.txt")
    got = error_of(lambda: s3.head_object(Bucket="siem-archive", Key="incoming/notes.txt"))
    check("delete-object: the object is gone", got and got[2] == 404, str(got))
    got = error_of(lambda: other.delete_object(Bucket="siem-archive", Key="other/big.bin"))
    check("account B cannot delete A's object", got and got[0] == "AccessDenied", str(got))
    events = wait_for("the bucket events", lambda: (
        lambda p: p if len(p) >= 2 else None)(hook.posts("/s3-events")), 30)
    recs = [json.loads(b)["Records"][0] for _, _, b in events]
    check("the webhook gets S3's events: created then removed, under its prefix only",
          [(r["eventName"], r["s3"]["object"]["key"]) for r in recs] ==
          [("ObjectCreated:Put", "incoming/notes.txt"), ("ObjectRemoved:Delete", "incoming/notes.txt")]
          and recs[0]["s3"]["bucket"]["name"] == "siem-archive", str(recs))
    got = error_of(lambda: s3.get_bucket_policy(Bucket="siem-archive"))
    check("no policy yet: NoSuchBucketPolicy", got and got[0] == "NoSuchBucketPolicy", str(got))
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "AWSLogDeliveryWrite", "Effect": "Allow",
        "Principal": {"Service": "delivery.logs.amazonaws.com"}, "Action": "s3:PutObject",
        "Resource": "arn:aws:s3:::siem-archive/AWSLogs/*"}]})
    s3.put_bucket_policy(Bucket="siem-archive", Policy=policy)
    check("get-bucket-policy reads the policy back",
          json.loads(s3.get_bucket_policy(Bucket="siem-archive")["Policy"]) == json.loads(policy))
    got = error_of(lambda: s3.put_bucket_policy(Bucket="siem-archive", Policy="not json"))
    check("a policy that is not JSON: MalformedPolicy", got and got[0] == "MalformedPolicy", str(got))
    got = error_of(lambda: s3.get_bucket_lifecycle_configuration(Bucket="siem-archive"))
    check("no lifecycle yet: NoSuchLifecycleConfiguration",
          got and got[0] == "NoSuchLifecycleConfiguration", str(got))
    rc, _, err = aws(url, "s3api", "put-bucket-lifecycle-configuration", "--bucket", "siem-archive",
                     "--lifecycle-configuration",
                     '{"Rules":[{"ID":"expire","Filter":{"Prefix":"flows/"},"Status":"Enabled",'
                     '"Expiration":{"Days":30}}]}')
    check("aws s3api put-bucket-lifecycle-configuration", rc == 0, err)
    rules = s3.get_bucket_lifecycle_configuration(Bucket="siem-archive")["Rules"]
    check("the lifecycle rule reads back",
          [(r["ID"], r["Filter"]["Prefix"], r["Status"], r["Expiration"]["Days"]) for r in rules]
          == [("expire", "flows/", "Enabled", 30)], str(rules))


def firehose(url, hook):
    """Firehose streams: created, described, listed; records put, delivered to a bucket and to
    an HTTP endpoint; a subscription filter forwarding a log group's new events."""
    fh = client(url, "firehose")
    role = "arn:aws:iam::123456789012:role/firehose"
    rc, out, err = aws(url, "firehose", "create-delivery-stream", "--delivery-stream-name", "siem",
                       "--extended-s3-destination-configuration",
                       f"RoleARN={role},BucketARN=arn:aws:s3:::siem-archive,Prefix=flows/,"
                       "BufferingHints={SizeInMBs=1,IntervalInSeconds=1},CompressionFormat=GZIP")
    check("aws firehose create-delivery-stream", rc == 0 and out.get("DeliveryStreamARN") ==
          "arn:aws:firehose:us-east-1:123456789012:deliverystream/siem", err or str(out))
    fh.create_delivery_stream(DeliveryStreamName="subs", S3DestinationConfiguration={
        "RoleARN": role, "BucketARN": "arn:aws:s3:::siem-archive", "Prefix": "subs/",
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1}})
    fh.create_delivery_stream(DeliveryStreamName="hook", HttpEndpointDestinationConfiguration={
        "EndpointConfiguration": {"Url": hook.url + "/firehose", "Name": "receiver",
                                  "AccessKey": "k"},
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1},
        "S3Configuration": {"RoleARN": role, "BucketARN": "arn:aws:s3:::siem-archive"}})
    got = error_of(lambda: fh.create_delivery_stream(DeliveryStreamName="siem",
                                                     S3DestinationConfiguration={
        "RoleARN": role, "BucketARN": "arn:aws:s3:::siem-archive"}))
    check("the same name again: ResourceInUseException",
          got and got[0] == "ResourceInUseException", str(got))
    got = error_of(lambda: fh.create_delivery_stream(DeliveryStreamName="x",
                                                     S3DestinationConfiguration={
        "RoleARN": role, "BucketARN": "arn:aws:s3:::no-such-bucket"}))
    check("a bucket that does not exist: InvalidArgumentException",
          got and got[0] == "InvalidArgumentException", str(got))
    d = fh.describe_delivery_stream(DeliveryStreamName="siem")["DeliveryStreamDescription"]
    dest = d["Destinations"][0]["ExtendedS3DestinationDescription"]
    check("describe-delivery-stream: ACTIVE, its bucket, hints and compression",
          d["DeliveryStreamStatus"] == "ACTIVE" and dest["BucketARN"] == "arn:aws:s3:::siem-archive"
          and dest["BufferingHints"] == {"SizeInMBs": 1, "IntervalInSeconds": 1}
          and dest["CompressionFormat"] == "GZIP", str(d))
    check("list-delivery-streams", fh.list_delivery_streams()["DeliveryStreamNames"] ==
          ["hook", "siem", "subs"])
    other = client(url, "firehose", key=OTHER_KEY, secret=OTHER_SECRET)
    check("account B lists none of A's streams",
          other.list_delivery_streams()["DeliveryStreamNames"] == [])
    got = error_of(lambda: other.put_record(DeliveryStreamName="siem", Record={"Data": b"x"}))
    check("account B cannot put to A's stream: ResourceNotFoundException",
          got and got[0] == "ResourceNotFoundException", str(got))
    rc, out, err = aws(url, "firehose", "put-record", "--delivery-stream-name", "siem",
                       "--record", "Data=hello from the cli")
    check("aws firehose put-record", rc == 0 and "RecordId" in out, err or str(out))
    r = fh.put_record_batch(DeliveryStreamName="siem",
                            Records=[{"Data": f"record {i}\n".encode()} for i in range(3)])
    check("put_record_batch: every record taken",
          r["FailedPutCount"] == 0 and len(r["RequestResponses"]) == 3, str(r))
    s3 = client(url, "s3")

    def delivered(prefix):
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="siem-archive", Prefix=prefix)
                .get("Contents", [])]
        return keys or None
    def objects(prefix, last):
        keys = delivered(prefix) or []
        body = b"".join(gzip.decompress(s3.get_object(Bucket="siem-archive", Key=k)["Body"].read())
                        for k in keys)
        return (keys, body) if body.endswith(last) else None
    # Firehose concatenates records as they are: the CLI's has no newline of its own.
    keys, body = wait_for("the stream's objects", lambda: objects("flows/", b"record 2\n"), 30)
    check("the records arrive in the bucket under Firehose's keys, gzipped, in order",
          all(k.startswith("flows/20") and k.endswith(".gz") and "/siem-1-" in k for k in keys)
          and body == b"hello from the clirecord 0\nrecord 1\nrecord 2\n", f"{keys} {body[:80]}")
    fh.put_record(DeliveryStreamName="hook", Record={"Data": b"to the endpoint"})
    posts = wait_for("the HTTP endpoint", lambda: hook.posts("/firehose") or None, 30)
    path, headers, body = posts[0]
    req = json.loads(body)
    import base64
    check("the HTTP endpoint gets Firehose's request: headers, base64 records",
          headers.get("x-amz-firehose-access-key") == "k"
          and headers.get("x-amz-firehose-request-id") == req["requestId"]
          and [base64.b64decode(x["data"]) for x in req["records"]] == [b"to the endpoint"],
          str(req)[:200])
    # A subscription filter: the log group's new events, forwarded to `subs`.
    logs = client(url, "logs")
    arn = "arn:aws:firehose:us-east-1:123456789012:deliverystream/subs"
    rc, _, err = aws(url, "logs", "put-subscription-filter", "--log-group-name", "/app/producer",
                     "--filter-name", "to-siem", "--filter-pattern", "", "--destination-arn", arn)
    check("aws logs put-subscription-filter", rc == 0, err)
    got = error_of(lambda: logs.put_subscription_filter(
        logGroupName="/app/producer", filterName="lambda", filterPattern="",
        destinationArn="arn:aws:lambda:us-east-1:123456789012:function:f"))
    check("a Lambda destination is refused: InvalidParameterException",
          got and got[0] == "InvalidParameterException", str(got))
    subs = logs.describe_subscription_filters(logGroupName="/app/producer")["subscriptionFilters"]
    check("describe-subscription-filters", [(s["filterName"], s["destinationArn"]) for s in subs]
          == [("to-siem", arn)], str(subs))
    now = int(time.time() * 1000)
    logs.put_log_events(logGroupName="/app/producer", logStreamName="host-1",
                        logEvents=[{"timestamp": now, "message": "forward me"},
                                   {"timestamp": now + 1, "message": "and me"}])
    keys = wait_for("the forwarded events", lambda: delivered("subs/"), 30)
    raw = s3.get_object(Bucket="siem-archive", Key=keys[0])["Body"].read()
    docs = json_documents(gzip.decompress(raw).decode())
    check("the subscription forwards CloudWatch Logs' DATA_MESSAGE to the stream",
          len(docs) == 1 and docs[0]["messageType"] == "DATA_MESSAGE"
          and docs[0]["logGroup"] == "/app/producer" and docs[0]["logStream"] == "host-1"
          and docs[0]["subscriptionFilters"] == ["to-siem"] and docs[0]["owner"] == ACCOUNT
          and [e["message"] for e in docs[0]["logEvents"]] == ["forward me", "and me"],
          str(docs)[:300])
    # A flow log that delivers to a stream made here: its records go through the stream's
    # buffer to the stream's bucket.
    fh.create_delivery_stream(DeliveryStreamName="flow-stream", ExtendedS3DestinationConfiguration={
        "RoleARN": role, "BucketARN": "arn:aws:s3:::siem-archive", "Prefix": "fl/",
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 1}, "CompressionFormat": "GZIP"})
    rc, out, err = aws(url, "ec2", "create-flow-logs", "--resource-type", "NetworkInterface",
                       "--resource-ids", ENI, "--traffic-type", "ALL", "--log-destination-type",
                       "kinesis-data-firehose", "--log-destination",
                       "arn:aws:firehose:us-east-1:123456789012:deliverystream/flow-stream")
    check("create-flow-logs to a stream made by create-delivery-stream",
          rc == 0 and len(out.get("FlowLogIds", [])) == 1, err or str(out))
    keys, body = wait_for("the flow log's records through the stream",
                          lambda: objects("fl/", b"\n"), 90)
    lines = body.decode().splitlines()
    check("its records arrive in the stream's bucket, one line per record, the ENI's",
          len(lines) > 0 and all(l.split()[2] == ENI for l in lines), str(lines[:2]))
    rc, out, err = aws(url, "logs", "test-metric-filter", "--filter-pattern", "REJECT",
                       "--log-event-messages", "1 ACCEPT OK", "2 REJECT OK")
    check("aws logs test-metric-filter", rc == 0 and [m["eventNumber"] for m in
                                                      out.get("matches", [])] == [2], err or str(out))


def restart(binary, data, config, ids):
    logs_before = None
    port = free_port()
    up = Up(binary, data, config, port)
    try:
        ec2 = client(up.url, "ec2")
        got = {f["FlowLogId"]: f for f in ec2.describe_flow_logs()["FlowLogs"]}
        check("restart: the flow logs survive", set(ids.values()) <= set(got), str(sorted(got)))
        check("restart: their tags survive",
              {"Key": "env", "Value": "test"} in got.get(ids["tagged"], {}).get("Tags", []),
              str(got.get(ids["tagged"])))
        logs = client(up.url, "logs")
        groups = {g["logGroupName"]: g for g in logs.describe_log_groups()["logGroups"]}
        filters = logs.describe_metric_filters(logGroupName="my-flow-logs")["metricFilters"]
        check("restart: the metric filter survives",
              [f["filterName"] for f in filters] == ["RejectedTraffic"], str(filters))
        alarms = client(up.url, "cloudwatch").describe_alarms()["MetricAlarms"]
        metrics = client(up.url, "cloudwatch").list_metrics(Namespace="VPCFlowLogs")["Metrics"]
        check("restart: the metric data survive", len(metrics) == 1, str(metrics))
        check("restart: the alarm survives", [a["AlarmName"] for a in alarms] == ["rejected-traffic"],
              str(alarms))
        events = logs.get_log_events(logGroupName="/app/producer", logStreamName="host-1",
                                     startFromHead=True)["events"]
        # The producer's 13, and the 2 put for the subscription filter.
        check("restart: the put events survive", len(events) == 15, str(len(events)))
        tags = logs.list_tags_log_group(logGroupName="/app/producer")["tags"]
        check("restart: log-group tags survive", tags == {"team": "net", "env": "test"}, str(tags))
        fh = client(up.url, "firehose")
        check("restart: the delivery streams survive",
              fh.list_delivery_streams()["DeliveryStreamNames"] ==
              ["flow-stream", "hook", "siem", "subs"])
        subs = logs.describe_subscription_filters(logGroupName="/app/producer")["subscriptionFilters"]
        check("restart: the subscription filter survives",
              [s["filterName"] for s in subs] == ["to-siem"], str(subs))
        s3 = client(up.url, "s3")
        check("restart: the made bucket, its policy and lifecycle survive",
              "siem-archive" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
              and "AWSLogDeliveryWrite" in s3.get_bucket_policy(Bucket="siem-archive")["Policy"]
              and s3.get_bucket_lifecycle_configuration(Bucket="siem-archive")["Rules"][0]["ID"]
              == "expire")
        check("restart: the log groups survive, retention too",
              groups.get("my-flow-logs", {}).get("retentionInDays") == 30
              and "/made/by-api" in groups, str(groups))
        with urllib.request.urlopen(up.url + "/metrics", timeout=5) as r:
            text = r.read().decode()
        check("/metrics: requests by action and latency",
              'vpcflow_api_requests_total{service="ec2",action="DescribeFlowLogs",status="200"} 1'
              in text and "vpcflow_api_request_duration_seconds_bucket" in text, text[:300])
    finally:
        up.stop()
    return logs_before


ALARM_TOPIC = "arn:aws:sns:us-east-1:123456789012:flow-alarms"
SEEDS_PATTERN = ("[version, account, eni, source, destination, srcport, destport, protocol, packets, "
                 "bytes, windowstart, windowend, action=\"REJECT\", flowlogstatus]")


def alarm_on_scan(binary, tmp):
    """The seeds' alarm on the simulator's port scan, through a webhook subscribed to a topic."""
    hook = Receiver()
    data, config = tmp / "alarm-data", tmp / "alarm.toml"
    config.write_text(CONFIG + f'\n[[topics]]\narn = "{ALARM_TOPIC}"\n'
                      f'subscribers = ["{hook.url}/sns"]\n'
                      f'\n[detections]\nactions = ["{ALARM_TOPIC}"]\n')
    # 60x: the scan (14:15-14:19 simulated) comes 15 s after the start; the filter and the alarm
    # are made before it, since a metric filter counts only what arrives after it.
    up = Up(binary, data, config, free_port(), speed=60)
    try:
        logs, ec2 = client(up.url, "logs"), client(up.url, "ec2")
        logs.create_log_group(logGroupName="/vpcflow/alarm-flows")
        delivery_role(up.url, ROLE)
        made = ec2.create_flow_logs(ResourceIds=[VPC], ResourceType="VPC", TrafficType="ALL",
                                    LogGroupName="/vpcflow/alarm-flows",
                                    DeliverLogsPermissionArn=ROLE)
        check("a flow log to the alarm's log group", not made.get("Unsuccessful"), str(made))
        logs.put_metric_filter(
            logGroupName="/vpcflow/alarm-flows", filterName="RejectedPackets",
            filterPattern=SEEDS_PATTERN,
            metricTransformations=[{"metricName": "RejectedPacketCount",
                                    "metricNamespace": "VPCFlowLogs", "metricValue": "$packets",
                                    "defaultValue": 0}])
        rc, _, err = aws(up.url, "cloudwatch", "put-metric-alarm", "--alarm-name", "port-scan",
                         "--metric-name", "RejectedPacketCount", "--namespace", "VPCFlowLogs",
                         "--statistic", "Sum", "--period", "300", "--evaluation-periods", "2",
                         "--datapoints-to-alarm", "1", "--threshold", "1000",
                         "--comparison-operator", "GreaterThanThreshold",
                         "--alarm-actions", ALARM_TOPIC, "--ok-actions", ALARM_TOPIC)
        check("aws cloudwatch put-metric-alarm (the seeds' alarm)", rc == 0, err)

        def notes(findings):
            out = []
            for _, headers, body in hook.posts("/sns"):
                note = json.loads(body)
                if note["Subject"].startswith("vpcflow finding:") == findings:
                    out.append((headers, note, json.loads(note["Message"])))
            return out

        def messages():
            return notes(False)

        def recovered():
            states = [(m["OldStateValue"], m["NewStateValue"]) for _, _, m in messages()]
            return ("ALARM", "OK") in states

        wait_for("the alarm's ALARM then OK notifications", recovered, seconds=180)
        time.sleep(3)  # a duplicate would come within the pump's next rounds
        got = messages()
        states = [(m["OldStateValue"], m["NewStateValue"]) for _, _, m in got]
        check("the webhook got the ALARM notification once",
              states.count(("OK", "ALARM")) == 1, str(states))
        check("and later the OK, once",
              states.count(("ALARM", "OK")) == 1 and
              states.index(("ALARM", "OK")) > states.index(("OK", "ALARM")), str(states))
        headers, note, alarm = next(g for g in got if g[2]["NewStateValue"] == "ALARM")
        check("SNS-shaped: headers, topic, subject, message id",
              headers.get("x-amz-sns-message-type") == "Notification" and
              headers.get("x-amz-sns-topic-arn") == ALARM_TOPIC and
              headers.get("x-amz-sns-message-id") == note["MessageId"] and
              note["Type"] == "Notification" and note["TopicArn"] == ALARM_TOPIC and
              note["Subject"] == 'ALARM: "port-scan" in us-east-1', str((headers, note)))
        check("the message is CloudWatch's alarm JSON",
              alarm["AlarmName"] == "port-scan" and alarm["AWSAccountId"] == ACCOUNT and
              alarm["Trigger"]["MetricName"] == "RejectedPacketCount" and
              alarm["Trigger"]["Threshold"] == 1000.0 and
              alarm["NewStateReason"].startswith("Threshold Crossed: 1 out of the last 2 datapoints"),
              json.dumps(alarm)[:400])
        # The scan is 14:15-14:19: the breaching period is the one starting at 14:15.
        check("it fired on the scan's period", alarm["StateChangeTime"] >= "2026-01-15T14:20:00",
              alarm["StateChangeTime"])
        cw = client(up.url, "cloudwatch")
        history = cw.describe_alarm_history(AlarmName="port-scan", HistoryItemType="StateUpdate",
                                            ScanBy="TimestampAscending")["AlarmHistoryItems"]
        summaries = [h["HistorySummary"] for h in history]
        check("describe-alarm-history: the state changes in order",
              "Alarm updated from OK to ALARM" in summaries and
              summaries.index("Alarm updated from OK to ALARM") <
              summaries.index("Alarm updated from ALARM to OK"), str(summaries))
        stats = cw.get_metric_statistics(
            Namespace="VPCFlowLogs", MetricName="RejectedPacketCount", Period=300,
            StartTime=datetime.datetime(2026, 1, 15, 14, 15, tzinfo=datetime.timezone.utc),
            EndTime=datetime.datetime(2026, 1, 15, 14, 20, tzinfo=datetime.timezone.utc),
            Statistics=["Sum"])["Datapoints"]
        check("the scan's period sums over 1000 rejected packets",
              len(stats) == 1 and stats[0]["Sum"] > 1000, str(stats))
        rc, out, err = aws(up.url, "logs", "filter-log-events", "--log-group-name",
                           "/vpcflow/alarm-flows", "--filter-pattern",
                           "[version, account, eni, source=185.220.101.7, ...]", "--max-items", "3")
        events = out.get("events", []) if rc == 0 else []
        check("filter-log-events with a space-delimited pattern finds the scanner",
              events and all(e["message"].split()[3] == "185.220.101.7" for e in events),
              str(out)[:300] + err)
        tested = logs.test_metric_filter(filterPattern=SEEDS_PATTERN, logEventMessages=[
            "2 123456789012 eni-1 185.220.101.7 10.0.0.5 40000 22 6 3 180 1 2 REJECT OK",
            "2 123456789012 eni-1 10.0.0.5 10.0.0.6 40000 443 6 9 900 1 2 ACCEPT OK"])["matches"]
        check("test-metric-filter: the reject matches, with its fields extracted",
              len(tested) == 1 and tested[0]["eventNumber"] == 1 and
              tested[0]["extractedValues"].get("$packets") == "3" and
              tested[0]["extractedValues"].get("$action") == "REJECT", str(tested))
        # [detections]: the service runs the detections as records arrive; the scan's finding
        # reaches the topic's subscriber once.
        def scan_findings():
            return [m for _, _, m in notes(True) if m["type"] == "Recon:EC2/Portscan"]

        wait_for("the port scan's finding notification", scan_findings, seconds=120)
        time.sleep(3)
        found = scan_findings()
        check("[detections]: the port scan's finding is notified once, with its evidence",
              len(found) == 1 and found[0]["subject"] == "185.220.101.7" and
              found[0]["counts"]["distinctPorts"] >= 1000 and len(found[0]["evidence"]) == 20,
              json.dumps(found)[:400])
        contributor_insights(up.url)
    finally:
        up.stop()
        hook.close()


def contributor_insights(url):
    """A Contributor Insights rule on the scanned log group: the scanner is the top contributor."""
    cw = client(url, "cloudwatch")
    rule = {"Schema": {"Name": "CloudWatchLogRule", "Version": 1},
            "LogGroupNames": ["/vpcflow/alarm-flows"], "LogFormat": "CLF",
            "Fields": {"4": "srcaddr", "9": "packets", "13": "action"},
            "Contribution": {"Keys": ["srcaddr"], "ValueOf": "packets",
                             "Filters": [{"Match": "action", "In": ["REJECT"]}]},
            "AggregateOn": "Sum"}
    cw.put_insight_rule(RuleName="rejected-sources", RuleState="ENABLED",
                        RuleDefinition=json.dumps(rule))
    rules = cw.describe_insight_rules()["InsightRules"]
    check("describe-insight-rules reads the rule back",
          [(r["Name"], r["State"], json.loads(r["Definition"])) for r in rules] ==
          [("rejected-sources", "ENABLED", rule)], str(rules))
    report = cw.get_insight_rule_report(
        RuleName="rejected-sources", Period=300, MaxContributorCount=3,
        StartTime=datetime.datetime(2026, 1, 15, 14, 0, tzinfo=datetime.timezone.utc),
        EndTime=datetime.datetime(2026, 1, 15, 14, 30, tzinfo=datetime.timezone.utc),
        Metrics=["UniqueContributors", "Sum"])
    top = report["Contributors"]
    check("get-insight-rule-report: the scanner is the top rejected source",
          report["KeyLabels"] == ["srcaddr"] and report["AggregationStatistic"] == "Sum" and
          top and top[0]["Keys"] == ["185.220.101.7"] and
          top[0]["ApproximateAggregateValue"] > 1000 and len(top) <= 3 and
          report["MetricDatapoints"] and "Sum" in report["MetricDatapoints"][0],
          json.dumps(report, default=str)[:400])
    got = error_of(lambda: cw.put_insight_rule(RuleName="bad", RuleDefinition="{}"))
    check("a rule that is not AWS's syntax: InvalidParameterValue",
          got and got[0] == "InvalidParameterValue", str(got))
    other = client(url, "cloudwatch", key=OTHER_KEY, secret=OTHER_SECRET)
    got = error_of(lambda: other.get_insight_rule_report(
        RuleName="rejected-sources", Period=300,
        StartTime=datetime.datetime(2026, 1, 15, 14, 0, tzinfo=datetime.timezone.utc),
        EndTime=datetime.datetime(2026, 1, 15, 14, 30, tzinfo=datetime.timezone.utc)))
    check("account B has no such rule", got and got[0] == "ResourceNotFound", str(got))
    gone = cw.delete_insight_rules(RuleNames=["rejected-sources", "no-such-rule"])["Failures"]
    check("delete-insight-rules: the unknown name is a failure",
          [f["FailureResource"] for f in gone] == ["no-such-rule"], str(gone))


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        data, config = tmp / "data", tmp / "vpcflow.toml"
        config.write_text(CONFIG)
        up = Up(binary, data, config, free_port())
        try:
            rc, out, err = aws(up.url, "sts", "get-caller-identity")
            check("sts get-caller-identity names the key's account",
                  rc == 0 and out.get("Account") == ACCOUNT, err)
            ids = create_four(up.url)
            log_group_records(up.url)
            s3_objects(data)
            s3_api(up.url, data)
            validation_errors(up.url)
            describe_and_delete(up.url, ids)
            tags(up.url, ids)
            security(up.url)
            accounts(up.url, ids)
            monitoring(up.url)
            topology(up.url)
            producers(up.url)
            metric_data(up.url)
            hook = Receiver()
            try:
                s3_writes(up.url, hook)
                firehose(up.url, hook)
            finally:
                hook.close()
            logs = client(up.url, "logs")
            logs.put_retention_policy(logGroupName="my-flow-logs", retentionInDays=30)
            logs.create_log_group(logGroupName="/made/by-api")
        finally:
            up.stop()
        restart(binary, data, config, ids)
        alarm_on_scan(binary, tmp)
    print(f"\n{passed} passed, {len(failures)} failed")
    if failures:
        print("failed:\n  " + "\n  ".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
