#!/usr/bin/env python3
"""Synthetic Ethernet/IPv4 pcap for the capture benchmark (shape of shared/reference/capture.md App. A).

usage: genpcap.py PACKETS FLOWS SECONDS OUT.pcap
PACKETS frames over FLOWS flows (3/4 TCP, 1/4 UDP), timestamps spread evenly over SECONDS from
1700000000, payloads of 0/0/40/200/1200 bytes. Sources 10.0.x.y, destinations 10.1.x.y; seeded.
"""
import random
import struct
import sys


def checksum(header):
    total = sum(struct.unpack("!%dH" % (len(header) // 2), header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def main():
    packets, nflows, seconds, out = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    rnd = random.Random(42)
    flows = []
    for i in range(nflows):
        src = bytes([10, 0, (i >> 8) & 0xFF, i & 0xFF])
        dst = bytes([10, 1, rnd.randrange(256), rnd.randrange(1, 255)])
        proto = 17 if i % 4 == 0 else 6
        flows.append((src, dst, proto, 1024 + i % 60000, rnd.choice([22, 53, 80, 443, 3306, 8080])))
    ether = bytes.fromhex("020000000002" "020000000001" "0800")
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for k in range(packets):
            src, dst, proto, sport, dport = flows[k] if k < nflows else flows[rnd.randrange(nflows)]
            payload = rnd.choice([0, 0, 40, 200, 1200])
            if proto == 6:
                l4 = struct.pack("!HHIIBBHHH", sport, dport, k & 0xFFFFFFFF, 0, 5 << 4, 0x18 if payload else 0x10, 65535, 0, 0)
            else:
                l4 = struct.pack("!HHHH", sport, dport, 8 + payload, 0)
            ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4) + payload, k & 0xFFFF, 0, 64, proto, 0, src, dst))
            ip[10:12] = struct.pack("!H", checksum(bytes(ip)))
            frame = ether + bytes(ip) + l4 + bytes(payload)
            ts = 1_700_000_000 + seconds * k / packets
            sec = int(ts)
            f.write(struct.pack("<IIII", sec, int((ts - sec) * 1e6), len(frame), len(frame)) + frame)


if __name__ == "__main__":
    main()
