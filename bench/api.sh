#!/usr/bin/env bash
# The API under load from a loopback client (crates/vpcflow-api/benches/load.rs): signed
# DescribeFlowLogs at RATE requests/s for SECONDS against `vpcflow up` (the built-in flow logs,
# real-time traffic beside), then PutLogEvents at EVENTS events/s (batches of 100 to one stream),
# then the same calls against moto's server (the peer in the test venv; its VPC, two flow logs,
# group and stream made first), side by side: answers, errors, the rate reached, p50/p99
# latency, and each server's CPU (share of one core, from /proc).
#
# usage: bench/api.sh [RATE] [SECONDS] [EVENTS]     (defaults 1000, 60 and 10000)
#        LOAD_BIN=PATH bench/api.sh …                 (a load client built already)
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${1:-1000}
SECS=${2:-60}
EVENTS=${3:-10000}
BATCH=100
OUT=bench/out/api
rm -rf "$OUT" && mkdir -p "$OUT"
scripts/setup-test-env >/dev/null
cargo build --release -p vpcflow --quiet
# LOAD_BIN: an already built load client (e.g. `cargo bench --workspace --profile dev --bench
# load --no-run` prints its path), instead of building it in the bench profile.
if [ -z "${LOAD_BIN:-}" ]; then
  cargo bench -p vpcflow-api --bench load --no-run --quiet 2>/dev/null
fi
client() {
  if [ -n "${LOAD_BIN:-}" ]; then "$LOAD_BIN" --bench; else cargo bench -p vpcflow-api --bench load --quiet; fi
}
PY=.venv-test/bin/python
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

load() { # load URL PID KEY SECRET [RATE] → the client's line, then the server's CPU share
  local url=$1 pid=$2 key=$3 secret=$4 rate=${5:-$RATE} t0 c0 t1 c1
  c0=$(ticks "$pid"); t0=$(date +%s.%N)
  LOAD_URL=$url LOAD_RATE=$rate LOAD_SECONDS=$SECS LOAD_KEY=$key LOAD_SECRET=$secret \
    client 2>/dev/null | grep answered
  c1=$(ticks "$pid"); t1=$(date +%s.%N)
  echo "server CPU: $(echo "scale=1; 100 * ($c1 - $c0) / $HZ / ($t1 - $t0)" | bc) % of one core"
}

PORT=$(free_port)
"${CARGO_TARGET_DIR:-target}"/release/vpcflow up --data "$OUT/data" --listen "127.0.0.1:$PORT" > "$OUT/up.log" 2>&1 &
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

# PutLogEvents: a group and stream on each server, then batches of $BATCH events (one body, its
# events at the start time: AWS takes events up to 14 days old).
stream() { # stream PORT KEY SECRET
  $PY - "$1" "$2" "$3" <<'PYEOF'
import sys, boto3
logs = boto3.client("logs", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1",
                    aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
logs.create_log_group(logGroupName="/bench/put")
logs.create_log_stream(logGroupName="/bench/put", logStreamName="load")
PYEOF
}
BODY=$($PY -c "import json,time; t=int(time.time()*1000); print(json.dumps({'logGroupName':'/bench/put','logStreamName':'load','logEvents':[{'timestamp':t+i,'message':f'2 123456789012 eni-0a0000000000000a3 10.0.1.{i%250} 10.0.2.7 443 {40000+i} 6 10 8400 {t//1000} {t//1000+60} ACCEPT OK'} for i in range($BATCH)]}))")
stream "$PORT" AKIAIOSFODNN7EXAMPLE 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
stream "$MPORT" test test
export LOAD_BODY=$BODY LOAD_TARGET=Logs_20140328.PutLogEvents
echo "== vpcflow up: PutLogEvents, $EVENTS events/s in batches of $BATCH for $SECS s"
load "http://127.0.0.1:$PORT" "$UP" AKIAIOSFODNN7EXAMPLE 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' $((EVENTS / BATCH))
echo "== moto_server: the same calls"
load "http://127.0.0.1:$MPORT" "$MOTO" test test $((EVENTS / BATCH))
