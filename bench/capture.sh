#!/usr/bin/env bash
# Side-by-side: pcap → flow records on the same 1 M-packet / 50 k-flow pcap, in one run:
# vpcflow capture (full semantics: decode, policy, aggregation, AWS records) vs nfpcapd and
# softflowd (-a, exporting to nfcapd). Prints each tool's median wall time and packets/s, the
# ratios, checks that packet and byte totals agree, and measures vpcflow's peak memory with
# 1 M concurrent flows.
#
# usage: bench/capture.sh [PACKETS] [FLOWS] [RUNS]      (defaults: 1000000 50000 5)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
F=${2:-50000}
RUNS=${3:-5}
OUT=bench/out
mkdir -p "$OUT"
PCAP="$OUT/synth-$N-$F.pcap"
[ -f "$PCAP" ] || python3 bench/genpcap.py "$N" "$F" 300 "$PCAP"
command -v nfpcapd >/dev/null && command -v softflowd >/dev/null || { apt-get update -qq && apt-get install -y -qq nfdump softflowd >/dev/null; }
cargo build --release -p vpcflow --quiet
BIN=target/release/vpcflow
TOPO=bench/capture-topology.toml

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
now() { date +%s.%N; }
elapsed() { echo "$2 - $1" | bc -l; }

ours=(); nfp=(); sfd=()
for _ in $(seq "$RUNS"); do
  t0=$(now); "$BIN" capture --stdout --pcap "$PCAP" --topology "$TOPO" --eni probe --format 'packets bytes' > "$OUT/vpcflow-records.txt" 2>/dev/null; t1=$(now)
  ours+=("$(elapsed "$t0" "$t1")")

  rm -rf "$OUT/nfp" && mkdir -p "$OUT/nfp"
  t0=$(now); nfpcapd -r "$PCAP" -w "$PWD/$OUT/nfp" -e 300,60 >/dev/null 2>&1; t1=$(now)
  nfp+=("$(elapsed "$t0" "$t1")")

  rm -rf "$OUT/sf" && mkdir -p "$OUT/sf"
  nfcapd -w "$PWD/$OUT/sf" -p 9995 -b 127.0.0.1 -B 8388608 >/dev/null 2>&1 &
  collector=$!
  sleep 0.5
  t0=$(now); softflowd -r "$PCAP" -n 127.0.0.1:9995 -v 10 -a -A milli -m 1000000 -T full -d >/dev/null 2>&1; t1=$(now)
  sfd+=("$(elapsed "$t0" "$t1")")
  sleep 0.5; kill "$collector"; wait "$collector" 2>/dev/null || true
done

totals() { nfdump -R "$1" -I 2>/dev/null | awk -F': ' '/^Packets:/ {p=$2} /^Bytes:/ {b=$2} END {print p, b}'; }
read -r ours_p ours_b < <(awk 'NR>1 {p+=$1; b+=$2} END {print p, b}' "$OUT/vpcflow-records.txt")
read -r nfp_p nfp_b < <(totals "$OUT/nfp")
read -r sfd_p sfd_b < <(totals "$OUT/sf")

m_ours=$(printf '%s\n' "${ours[@]}" | median)
m_nfp=$(printf '%s\n' "${nfp[@]}" | median)
m_sfd=$(printf '%s\n' "${sfd[@]}" | median)
pps() { echo "$N / $1 / 1000000" | bc -l; }
faster=$(echo "if ($m_nfp < $m_sfd) $m_nfp else $m_sfd" | bc -l)

# 1 M concurrent flows: one packet per flow, all in one interval, so the table holds all of them.
BIG="$OUT/synth-1000000-1000000.pcap"
[ -f "$BIG" ] || python3 bench/genpcap.py 1000000 1000000 60 "$BIG"
/usr/bin/time -o "$OUT/rss.txt" -f '%M' "$BIN" capture --stdout --pcap "$BIG" --topology "$TOPO" --eni probe --format 'packets' > /dev/null 2>&1
rss=$(tail -1 "$OUT/rss.txt")

printf 'pcap -> flow records, %s packets / %s flows, median of %s runs (machine: %s cores)\n' "$N" "$F" "$RUNS" "$(nproc)"
printf '  vpcflow capture : %.3f s  %.2f M packets/s  packets %s bytes %s\n' "$m_ours" "$(pps "$m_ours")" "$ours_p" "$ours_b"
printf '  nfpcapd         : %.3f s  %.2f M packets/s  packets %s bytes %s\n' "$m_nfp" "$(pps "$m_nfp")" "$nfp_p" "$nfp_b"
printf '  softflowd -a    : %.3f s  %.2f M packets/s  packets %s bytes %s\n' "$m_sfd" "$(pps "$m_sfd")" "$sfd_p" "$sfd_b"
printf '  ratio vs the faster peer: %.2fx\n' "$(echo "$faster / $m_ours" | bc -l)"
printf '  peak RSS with 1 M concurrent flows: %s MB\n' "$((rss / 1024))"
if [ "$ours_p" = "$N" ] && [ "$ours_p" = "$nfp_p" ] && [ "$ours_p" = "$sfd_p" ] && [ "$ours_b" = "$nfp_b" ] && [ "$ours_b" = "$sfd_b" ]; then
  echo "  totals: AGREE"
else
  echo "  totals: DIFFER" >&2
  exit 1
fi
