#!/usr/bin/python3
"""dnsstub - a tiny DNS responder for tests (Python 3 standard library only).

It answers like a recursive resolver for one small zone, on UDP and TCP of
one loopback port, and nothing else:

    dnsstub.py --zone ZONE.json [--port N] [--address 127.0.0.1] [--log FILE]

--port 0 (the default) picks a free port. When both sockets are ready it
prints "PORT <n>" on stdout (flushed); it stops on SIGTERM or SIGINT.

The zone is a JSON object mapping names (any case, final dot optional) to an
object of record lists and per-name behaviour:

    {"example.com":  {"MX": [[10, "mx1.example.com"], [10, "mx2.example.com"]]},
     "null.example": {"MX": [[0, "."]]},
     "mx1.example.com": {"A": ["127.0.0.1"], "AAAA": ["::1"], "ad": true},
     "alias.example": {"CNAME": "mx1.example.com"},
     "1.0.0.127.in-addr.arpa": {"PTR": ["mx1.example.com"]},
     "_25._tcp.mx1.example.com": {"TLSA": [[3, 1, 1, "a0b1..."]], "ad": true},
     "fail.example": {"rcode": "SERVFAIL"},
     "refused.example": {"rcode": "REFUSED"},
     "gone.example": {"rcode": "NXDOMAIN"},
     "slow.example": {"drop": true},
     "bad.example":  {"garbage": true},
     "big.example":  {"tc": true, "A": ["127.0.0.9"]}}

A name that is not listed is NXDOMAIN; a listed name without the type asked
for is NODATA. CNAMEs are followed (at most 16 steps) and the chain is put in
the answer, as a resolver does. "ad" sets the AD bit of answers for that name,
"drop" never answers, "garbage" answers with a malformed message, "tc" sets
the TC bit on UDP (with no records) so the client retries over TCP.
"garbage" may name the defect: true (an answer count with no record),
"loop" (a name compressed onto itself), "rdlen" (record data past the end),
"short" (a record of the type asked for with one byte of data), "mxname"
(an MX record with a bad exchange name),
"label" (a 0x50 label length), "hugecount" (65535 answers promised). With
--log, each query is appended to FILE as "PROTO NAME TYPE FLAGS" (FLAGS
in hex from the query header), so tests can count and inspect queries.
"""
import argparse
import ipaddress
import json
import selectors
import signal
import socket
import struct
import sys

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "PTR": 12, "MX": 15, "TXT": 16,
         "AAAA": 28, "TLSA": 52}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
RCODES = {"NOERROR": 0, "FORMERR": 1, "SERVFAIL": 2, "NXDOMAIN": 3,
          "NOTIMP": 4, "REFUSED": 5}
MAX_CNAME = 16
MAX_TCP_CLIENTS = 32


def norm(name):
    """Canonical key of a name: lower case, no final dot."""
    return name.lower().rstrip(".")


def encode_name(name):
    """Wire form of a name (no compression); "." or "" is the root."""
    out = b""
    for label in norm(name).split("."):
        if label:
            raw = label.encode("ascii")
            if len(raw) > 63:
                raise ValueError(f"label too long in {name!r}")
            out += bytes([len(raw)]) + raw
    return out + b"\0"


def rdata(rtype, value):
    """Wire rdata of one record given as it appears in the zone."""
    if rtype == "A":
        return ipaddress.IPv4Address(value).packed
    if rtype == "AAAA":
        return ipaddress.IPv6Address(value).packed
    if rtype in ("CNAME", "PTR", "NS"):
        return encode_name(value)
    if rtype == "MX":
        return struct.pack("!H", value[0]) + encode_name(value[1])
    if rtype == "TLSA":
        return bytes(value[:3]) + bytes.fromhex(value[3])
    if rtype == "TXT":
        raw = value.encode()
        return bytes([len(raw)]) + raw
    raise ValueError(f"unsupported type {rtype}")


def record(owner, rtype, value):
    data = rdata(rtype, value)
    return (encode_name(owner) + struct.pack("!HHIH", TYPES[rtype], 1, 60, len(data))
            + data)


class Zone:
    def __init__(self, data):
        self.names = {norm(k): v for k, v in data.items()}

    def resolve(self, qname, qtype):
        """(action, rcode, ad, answers): action is answer/drop/garbage/tc."""
        answers = []
        name = norm(qname)
        ad = True
        for _ in range(MAX_CNAME):
            entry = self.names.get(name)
            if entry is None:
                return "answer", RCODES["NXDOMAIN"], False, answers
            ad = ad and bool(entry.get("ad"))
            for flag in ("drop", "garbage", "tc"):
                if entry.get(flag):
                    return flag, 0, False, answers
            if "rcode" in entry:
                return "answer", RCODES[entry["rcode"]], False, answers
            want = TYPE_NAMES.get(qtype)
            if "CNAME" in entry and want != "CNAME":
                answers.append(record(name, "CNAME", entry["CNAME"]))
                name = norm(entry["CNAME"])
                continue
            values = entry.get(want, []) if want else []
            if want == "CNAME" and isinstance(values, str):
                values = [values]
            for v in values:
                answers.append(record(name, want, v))
            return "answer", 0, ad, answers
        return "answer", RCODES["SERVFAIL"], False, []


def parse_query(msg):
    """(id, flags, qname, qtype, question bytes) of a query; ValueError if bad."""
    if len(msg) < 12:
        raise ValueError("short")
    qid, flags, qd = struct.unpack("!HHH", msg[:6])
    if qd != 1:
        raise ValueError("qdcount")
    off, labels = 12, []
    while True:
        n = msg[off]
        if n == 0:
            off += 1
            break
        if n > 63:
            raise ValueError("label")
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n
    qtype, qclass = struct.unpack("!HH", msg[off:off + 4])
    return qid, flags, ".".join(labels), qtype, msg[12:off + 4]


def garbage(kind, qid, qtype, question):
    """A malformed reply of the given kind (true: a missing answer)."""
    head = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question
    mx = struct.pack("!HHIH", TYPES["MX"], 1, 60, 0)
    short = struct.pack("!HHIH", qtype, 1, 60, 1)
    bodies = {
        "loop": b"\xc0\x00\x00\x00",  # filled in below: pointer to itself
        "rdlen": b"\xc0\x0c" + struct.pack("!HHIH", TYPES["A"], 1, 60, 400) + b"\x7f",
        "short": b"\xc0\x0c" + short + b"\x00",
        "mxname": b"\xc0\x0c" + mx[:-2] + struct.pack("!H", 6) + b"\x00\x0a\x50abc",
        "label": b"\x50abc",
        "hugecount": b"",
    }
    if kind == "loop":
        here = len(head)
        return head + struct.pack("!H", 0xc000 | here) + b"\x00\x01\x00\x01"
    if kind == "hugecount":
        return struct.pack("!HHHHHH", qid, 0x8180, 1, 65535, 0, 0) + question
    return head + bodies.get(kind, b"\xc0")


def respond(zone, msg, proto, log):
    """Reply bytes for one query, or None to stay silent."""
    try:
        qid, qflags, qname, qtype, question = parse_query(msg)
    except (ValueError, IndexError, struct.error):
        return None
    if log:
        with open(log, "a") as f:
            f.write(f"{proto} {qname} {TYPE_NAMES.get(qtype, qtype)} {qflags:04x}\n")
    action, rcode, ad, answers = zone.resolve(qname, qtype)
    if action == "drop":
        return None
    if action == "garbage":
        return garbage(zone.names[norm(qname)]["garbage"], qid, qtype, question)
    flags = 0x8000 | (qflags & 0x0100) | 0x0080 | rcode
    if ad:
        flags |= 0x0020
    if action == "tc":
        if proto == "udp":
            return struct.pack("!HHHHHH", qid, flags | 0x0200, 1, 0, 0, 0) + question
        action, rcode, ad, answers = "answer", 0, False, []
        entry = zone.names.get(norm(qname), {})
        for v in entry.get(TYPE_NAMES.get(qtype, ""), []):
            answers.append(record(qname, TYPE_NAMES[qtype], v))
    return (struct.pack("!HHHHHH", qid, flags, 1, len(answers), 0, 0) + question
            + b"".join(answers))


def bind_pair(address, port):
    """UDP and TCP sockets on the same port (port 0: a free one)."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    for _ in range(50):
        udp = socket.socket(family, socket.SOCK_DGRAM)
        udp.bind((address, port))
        real = udp.getsockname()[1]
        tcp = socket.socket(family, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            tcp.bind((address, real))
        except OSError:
            udp.close()
            tcp.close()
            if port:
                raise
            continue
        tcp.listen(16)
        return udp, tcp, real
    raise OSError("no free port for UDP and TCP")


class Server:
    def __init__(self, zone, udp, tcp, log):
        self.zone, self.udp, self.tcp, self.log = zone, udp, tcp, log
        self.sel = selectors.DefaultSelector()
        self.sel.register(udp, selectors.EVENT_READ, self.on_udp)
        self.sel.register(tcp, selectors.EVENT_READ, self.on_accept)
        self.buffers = {}
        self.running = True

    def on_udp(self, sock):
        msg, peer = sock.recvfrom(4096)
        reply = respond(self.zone, msg, "udp", self.log)
        if reply is not None:
            sock.sendto(reply, peer)

    def on_accept(self, sock):
        conn, _ = sock.accept()
        if len(self.buffers) >= MAX_TCP_CLIENTS:
            conn.close()
            return
        conn.setblocking(False)
        self.buffers[conn] = b""
        self.sel.register(conn, selectors.EVENT_READ, self.on_tcp)

    def close_conn(self, conn):
        self.sel.unregister(conn)
        self.buffers.pop(conn, None)
        conn.close()

    def on_tcp(self, conn):
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        if not data:
            self.close_conn(conn)
            return
        buf = self.buffers[conn] + data
        while len(buf) >= 2:
            n = struct.unpack("!H", buf[:2])[0]
            if len(buf) < 2 + n:
                break
            reply = respond(self.zone, buf[2:2 + n], "tcp", self.log)
            buf = buf[2 + n:]
            if reply is not None:
                try:
                    conn.setblocking(True)
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
                    conn.setblocking(False)
                except OSError:
                    self.close_conn(conn)
                    return
        self.buffers[conn] = buf

    def serve(self):
        while self.running:
            for key, _ in self.sel.select(timeout=0.5):
                key.data(key.fileobj)


def main():
    ap = argparse.ArgumentParser(description="tiny DNS responder for tests")
    ap.add_argument("--zone", required=True, help="JSON zone file")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--address", default="127.0.0.1")
    ap.add_argument("--log", help="append one line per query to this file")
    args = ap.parse_args()
    with open(args.zone) as f:
        zone = Zone(json.load(f))
    udp, tcp, port = bind_pair(args.address, args.port)
    server = Server(zone, udp, tcp, args.log)

    def stop(signum, frame):
        server.running = False
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"PORT {port}", flush=True)
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
