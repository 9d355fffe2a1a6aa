#!/usr/bin/env bash
# Console benchmark (issue: the console): the overview page over one simulated day of the default
# scenario (builtin:three-tier), rendered in Debian's Chromium; the time from navigation start to
# its charts drawn (records per minute, bytes by direction), measured in the browser
# (performance.now() when the page marks them drawn), median of RUNS loads, each in a fresh
# browser tab with nothing cached beyond the HTTP cache of its assets.
#
# The day is made by `vpcflow up --speed max` itself; once it is delivered the service is
# restarted at --speed 1 (as a person would look at it: running, with little traffic).
#
# usage: bench/console.sh [RUNS]      (default 9; CARGO_TARGET_DIR is honoured)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-9}
TARGET=${CARGO_TARGET_DIR:-target}
cargo build --release -p vpcflow --quiet
BIN=$TARGET/release/vpcflow
PY=.venv-test/bin/python
D=$(mktemp -d)
PORT=$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
ARGS=(up --data "$D/data" --listen "127.0.0.1:$PORT" --start 2026-01-15T00:00:00Z --seed 7)
cleanup() { kill -INT "${UP:-0}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$D"; }
trap cleanup EXIT

t0=$(date +%s.%N)
"$BIN" "${ARGS[@]}" --speed max > "$D/up1.log" 2>&1 & UP=$!
$PY bench/console/overview.py "$URL" wait-day
kill -INT $UP; wait $UP || true
t1=$(date +%s.%N)
echo "a simulated day delivered by vpcflow up --speed max in $(echo "$t1 - $t0" | bc) s"
"$BIN" "${ARGS[@]}" --speed 1 > "$D/up2.log" 2>&1 & UP=$!
$PY bench/console/overview.py "$URL" measure "$RUNS"
