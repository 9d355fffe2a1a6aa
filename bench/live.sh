#!/usr/bin/env bash
# Live capture rate: tcpreplay --topspeed pushes PACKETS packets of bench/genpcap.py's pcap into
# one end of a veth pair (in a namespace this script creates and removes); `vpcflow capture
# --interface` captures the other end. Prints the replay rate, the packets in vpcflow's records,
# the kernel drops vpcflow reported (SKIPDATA), and whether every packet is accounted for.
#
# usage: sudo bench/live.sh [PACKETS]      (default 300000; needs root, tcpreplay, iproute2)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-300000}
OUT=bench/out
mkdir -p "$OUT"
PCAP="$OUT/synth1m.pcap"
[ -f "$PCAP" ] || python3 bench/genpcap.py 1000000 50000 300 "$PCAP"
command -v tcpreplay >/dev/null || { apt-get update -qq && apt-get install -y -qq tcpreplay >/dev/null; }
cargo build --release -p vpcflow --quiet
BIN=$PWD/target/release/vpcflow
NS=vflive$$
cleanup() { ip netns del "${NS}a" 2>/dev/null || true; ip netns del "${NS}b" 2>/dev/null || true; }
trap cleanup EXIT
ip netns add "${NS}a"; ip netns add "${NS}b"
ip link add "${NS}a" type veth peer name "${NS}b"
ip link set "${NS}a" netns "${NS}a"; ip link set "${NS}b" netns "${NS}b"
# No IPv6 on the lab link: its neighbour discovery would add packets tcpreplay did not send.
ip netns exec "${NS}a" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip netns exec "${NS}b" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip -n "${NS}a" link set "${NS}a" up; ip -n "${NS}b" link set "${NS}b" up
# The capture side carries the bench topology's one ENI; everything it sees is that ENI's traffic.
sed "s/host_interface = \"probe0\"/host_interface = \"${NS}a\"/" bench/capture-topology.toml > "$OUT/live-topology.toml"

ip netns exec "${NS}a" "$BIN" capture --stdout --interface "${NS}a" --topology "$OUT/live-topology.toml" \
  --format 'packets bytes log-status' > "$OUT/live-records.txt" 2> "$OUT/live-stderr.txt" &
cap=$!
until grep -q "capturing on" "$OUT/live-stderr.txt" 2>/dev/null; do sleep 0.1; done
ip netns exec "${NS}b" tcpreplay -i "${NS}b" --topspeed -L "$N" "$PCAP" > "$OUT/tcpreplay.txt" 2>&1
sleep 1
kill -INT "$cap"; wait "$cap"

rate=$(grep -oE 'Rated: [0-9.]+ Bps, [0-9.]+ Mbps, [0-9.]+ pps' "$OUT/tcpreplay.txt" | grep -oE '[0-9.]+ pps' || true)
sent=$(grep -oE 'Actual: [0-9]+ packets' "$OUT/tcpreplay.txt" | grep -oE '[0-9]+' || echo "?")
got=$(awk 'NR>1 && $3=="OK" {p+=$1} END {print p+0}' "$OUT/live-records.txt")
drops=$(grep -oE '[0-9]+ dropped by the kernel' "$OUT/live-stderr.txt" | grep -oE '^[0-9]+')
skip=$(awk 'NR>1 && $3=="SKIPDATA"' "$OUT/live-records.txt" | wc -l)
echo "live capture: tcpreplay sent $sent packets at $rate"
echo "  packets in vpcflow's records: $got; kernel drops: $drops (SKIPDATA records: $skip)"
if [ "$got" -eq "$sent" ] && [ "$drops" -eq 0 ]; then
  echo "  every packet recorded, 0 drops"
elif [ $((got + drops)) -eq "$sent" ] && [ "$skip" -gt 0 ]; then
  echo "  every lost packet reported as SKIPDATA"
else
  echo "  UNACCOUNTED: $((sent - got - drops)) packets" >&2
  exit 1
fi
