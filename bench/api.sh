#!/usr/bin/env bash
# The API under load from a loopback client (crates/vpcflow-api/benches/load.rs): signed
# DescribeFlowLogs at RATE requests/s for SECONDS against `vpcflow up` (the built-in flow logs,
# real-time traffic beside), then the same calls against moto's server (the peer in the test
# venv; its VPC and two flow logs made first), side by side: answers, errors, the rate reached,
# p50/p99 latency, and each server's CPU (share of one core, from /proc).
#
# usage: bench/api.sh [RATE] [SECONDS]      (defaults 1000 and 60)
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-1000}
SECS=${2:-60}
OUT=bench/out/api
rm -rf "$OUT" && mkdir -p "$OUT"
scripts/setup-test-env >/dev/null
cargo build --release -p vpcflow --quiet
cargo bench -p vpcflow-api --bench load --no-run --quiet 2>/dev/null
PY=.venv-test/bin/python
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

load() { # load URL KEY SECRET → the client's line, then the server's CPU share
  local url=$1 pid=$2 key=$3 secret=$4 t0 c0 t1 c1
  c0=$(ticks "$pid"); t0=$(date +%s.%N)
  LOAD_URL=$url LOAD_RATE=$RATE LOAD_SECONDS=$SECS LOAD_KEY=$key LOAD_SECRET=$secret \
    cargo bench -p vpcflow-api --bench load --quiet 2>/dev/null | grep answered
  c1=$(ticks "$pid"); t1=$(date +%s.%N)
  echo "server CPU: $(echo "scale=1; 100 * ($c1 - $c0) / $HZ / ($t1 - $t0)" | bc) % of one core"
}

PORT=$(free_port)
./target/release/vpcflow up --data "$OUT/data" --listen "127.0.0.1:$PORT" > "$OUT/up.log" 2>&1 &
UP=$!
trap 'kill $UP $MOTO 2>/dev/null || true' EXIT
MOTO=
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
echo "== vpcflow up: DescribeFlowLogs at $RATE/s for $SECS s"
load "http://127.0.0.1:$PORT" "$UP" AKIAIOSFODNN7EXAMPLE 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'

MPORT=$(free_port)
.venv-test/bin/moto_server -p "$MPORT" > "$OUT/moto.log" 2>&1 &
MOTO=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$MPORT/moto-api/" >/dev/null && break; sleep 0.1; done
$PY - "$MPORT" <<'PYEOF'
import sys, boto3
ec2 = boto3.client("ec2", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1",
                   aws_access_key_id="test", aws_secret_access_key="test")
vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
for g in ["/a", "/b"]:
    ec2.create_flow_logs(ResourceType="VPC", ResourceIds=[vpc], TrafficType="ALL", LogGroupName=g,
                         DeliverLogsPermissionArn="arn:aws:iam::123456789012:role/fl")
PYEOF
echo "== moto_server: the same calls"
load "http://127.0.0.1:$MPORT" "$MOTO" test test
