#!/usr/bin/env python3
"""Makes the two small captures the README's tour reads (deterministic; run from anywhere):

  web.pcap      classic pcap, Ethernet: the builtin:three-tier app server app-1 (10.0.11.10,
                port 8080) as its interface saw it: two HTTP connections from the load
                balancers (allowed by its security group), and a client on the internet whose
                SYNs the group refuses (retried, never answered), as
                `vpcflow capture --pcap examples/web.pcap --eni app-1` maps them.
  trace.pcapng  pcapng with one interface per ENI of examples/my-vpc.toml (veth-web, veth-db):
                the web server's PostgreSQL connection to the database (allowed), a MySQL
                attempt the database's security group refuses (SYNs arrive, nothing answers),
                and a ping.
"""
import pathlib
import struct

HERE = pathlib.Path(__file__).resolve().parent
T0 = 1_768_485_600  # 2026-01-15T14:00:00Z


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ip(src, dst, proto, payload):
    s = bytes(int(x) for x in src.split("."))
    d = bytes(int(x) for x in dst.split("."))
    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0, s, d)
    head = head[:10] + struct.pack("!H", checksum(head)) + head[12:]
    return head + payload


def tcp(src, dst, sport, dport, flags, seq, ack, data=b""):
    head = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    return ip(src, dst, 6, head + data)


def icmp(src, dst, kind, seq):
    body = struct.pack("!BBHHH", kind, 0, 0, 1, seq) + b"ping" * 8
    body = body[:2] + struct.pack("!H", checksum(body)) + body[4:]
    return ip(src, dst, 1, body)


def ether(packet):
    return bytes.fromhex("020000000002" "020000000001" "0800") + packet


SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


def connection(client, server, cport, sport, t, request=b"GET / HTTP/1.1\r\n\r\n", answer=b"x" * 600):
    """A whole TCP connection as (time, packet) pairs."""
    return [
        (t + 0.000, tcp(client, server, cport, sport, SYN, 1000, 0)),
        (t + 0.001, tcp(server, client, sport, cport, SYN | ACK, 5000, 1001)),
        (t + 0.002, tcp(client, server, cport, sport, ACK, 1001, 5001)),
        (t + 0.003, tcp(client, server, cport, sport, PSH | ACK, 1001, 5001, request)),
        (t + 0.010, tcp(server, client, sport, cport, PSH | ACK, 5001, 1001 + len(request), answer)),
        (t + 0.011, tcp(client, server, cport, sport, FIN | ACK, 1001 + len(request), 5001 + len(answer))),
        (t + 0.012, tcp(server, client, sport, cport, FIN | ACK, 5001 + len(answer), 1002 + len(request))),
        (t + 0.013, tcp(client, server, cport, sport, ACK, 1002 + len(request), 5002 + len(answer))),
    ]


def web_pcap():
    packets = []
    for i, client in enumerate(["10.0.1.10", "10.0.2.10"]):
        packets += connection(client, "10.0.11.10", 40000 + i, 8080, T0 + 20 * i)
    packets += [(T0 + 45 + 2 ** k, tcp("203.0.113.50", "10.0.11.10", 40100, 8080, SYN, 9000, 0)) for k in range(3)]
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for t, p in sorted(packets, key=lambda x: x[0]):
        frame = ether(p)
        sec, usec = int(t), int(round((t - int(t)) * 1e6))
        out += struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame
    (HERE / "web.pcap").write_bytes(bytes(out))


def block(kind, body):
    pad = (4 - len(body) % 4) % 4
    length = 12 + len(body) + pad
    return struct.pack("<II", kind, length) + body + b"\0" * pad + struct.pack("<I", length)


def option(code, value):
    pad = (4 - len(value) % 4) % 4
    return struct.pack("<HH", code, len(value)) + value + b"\0" * pad


def trace_pcapng():
    web, db = "10.0.1.10", "10.0.2.10"
    on_both = []
    on_both += connection(web, db, 41000, 5432, T0 + 5, b"Q\0\0\0\x0dSELECT 1;\0", b"T" * 200)
    # MySQL to the database: its security group refuses it, so nothing answers.
    on_both += [(T0 + 30 + k, tcp(web, db, 41001, 3306, SYN, 7000, 0)) for k in range(3)]
    on_both += [(T0 + 40, icmp(web, db, 8, 1)), (T0 + 40.001, icmp(db, web, 0, 1))]
    shb = block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    idbs = b"".join(
        block(1, struct.pack("<HHI", 1, 0, 65535) + option(2, name) + option(9, b"\x06") + option(0, b""))
        for name in (b"veth-web", b"veth-db")
    )
    epbs = b""
    for t, p in sorted(on_both, key=lambda x: x[0]):
        frame = ether(p)
        # Every packet crosses both interfaces; the database's security group drops the MySQL
        # SYNs inside, after its interface saw them.
        for iface in (0, 1):
            ts = int(round(t * 1e6))
            body = struct.pack("<IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame)) + frame
            epbs += block(6, body + b"\0" * ((4 - len(frame) % 4) % 4))
    (HERE / "trace.pcapng").write_bytes(shb + idbs + epbs)


if __name__ == "__main__":
    web_pcap()
    trace_pcapng()
