#!/usr/bin/env python3
"""Writes tshark's totals for real captures: frames, IP packets, IP bytes (outer IP layer).

usage: tshark_totals.py PCAP... > crates/vpcflow-capture/testdata/real-pcaps.tsv
IP bytes = the outer IPv4 total length, or 40 + the outer IPv6 payload length, per frame; frames
with no IP layer add nothing. This is the oracle for capture/tests/real_pcaps.rs (it was run with
tshark 4.0 when the file was written; the test itself needs no tshark).
"""
import os
import subprocess
import sys

print("file\tframes\tip_packets\tip_bytes")
for path in sys.argv[1:]:
    out = subprocess.run(
        ["tshark", "-r", path, "-n", "-T", "fields", "-E", "occurrence=f", "-E", "separator=/t",
         "-e", "frame.protocols", "-e", "ip.len", "-e", "ipv6.plen"],
        check=True, capture_output=True, text=True).stdout
    frames = packets = nbytes = 0
    for line in out.splitlines():
        protos, v4, v6 = (line.split("\t") + ["", ""])[:3]
        frames += 1
        layers = protos.split(":")
        first = next((l for l in layers if l in ("ip", "ipv6")), None)
        if first == "ip" and v4:
            packets += 1
            nbytes += int(v4)
        elif first == "ipv6" and v6:
            packets += 1
            nbytes += 40 + int(v6)
    print(f"{os.path.basename(path)}\t{frames}\t{packets}\t{nbytes}")
