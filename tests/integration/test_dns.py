"""Integration tests for common/dns: the dnsq test tool against dnsstub.py.

Each test owns a dnsstub on a free 127.0.0.1 port (UDP and TCP) serving the
zone below, and runs the build's tests/tools/dnsq with resolver servers
pointing at it. Covered: MX order and the shuffle of equal preferences,
implicit and null MX, NXDOMAIN/NODATA, SERVFAIL/REFUSED/timeout/malformed
replies as temporary failures, A/AAAA per inet_protocols and preference,
CNAME chains, PTR and forward-confirmed names, TLSA and the AD bit, TCP
fallback on truncation, server failover, literal addresses without DNS.
dnsq reads no hosts file unless a test gives one (hosts=...); the hosts
file tests check that its answers need no query at all.
"""
import json
import os
import select
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ternlab  # noqa: E402

STUB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dnsstub.py")
DNSQ = os.path.join(ternlab.BUILD, "tests", "tools", "dnsq")

ZONE = {
    "ordered.example": {"MX": [[30, "mx3.ordered.example"], [10, "mx1.ordered.example"],
                               [20, "mx2.ordered.example"]]},
    "equal.example": {"MX": [[10, "a.equal.example"], [10, "b.equal.example"],
                             [5, "first.equal.example"]]},
    "implicit.example": {"A": ["127.0.0.5"]},
    "null.example": {"MX": [[0, "."]]},
    "cnamemx.example": {"CNAME": "ordered.example"},
    "mixed.example": {"MX": [[10, "bad host.mixed.example"], [20, "good.mixed.example"]]},
    "allbad.example": {"MX": [[10, "bad host.example"]]},
    "dual.example": {"A": ["127.0.0.1", "127.0.0.2"], "AAAA": ["::1", "::2"]},
    "v4only.example": {"A": ["127.0.0.3"]},
    "txtonly.example": {"TXT": ["hello"]},
    "alias.example": {"CNAME": "alias2.example"},
    "alias2.example": {"CNAME": "dual.example"},
    "dangling.example": {"CNAME": "nowhere.example"},
    "loop1.example": {"CNAME": "loop2.example"},
    "loop2.example": {"CNAME": "loop1.example"},
    "1.0.0.127.in-addr.arpa": {"PTR": ["dual.example"]},
    "2.0.0.127.in-addr.arpa": {"PTR": ["dual.example"]},
    "9.0.0.127.in-addr.arpa": {"PTR": ["v4only.example"]},
    "10.0.0.127.in-addr.arpa": {"PTR": ["not a host.example", "v4only.example"]},
    "11.0.0.127.in-addr.arpa": {"PTR": ["not a host.example"]},
    "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa":
        {"PTR": ["dual.example"]},
    "_25._tcp.secure.example": {"TLSA": [[3, 1, 1, "00112233aabbccdd"],
                                         [2, 0, 1, "ff"]], "ad": True},
    "_25._tcp.insecure.example": {"TLSA": [[3, 1, 1, "00112233"]]},
    "_25._tcp.shorttlsa.example": {"TXT": ["x"]},
    "fail.example": {"rcode": "SERVFAIL"},
    "refused.example": {"rcode": "REFUSED"},
    "gone.example": {"rcode": "NXDOMAIN"},
    "slow.example": {"drop": True},
    "bad.example": {"garbage": True},
    "big.example": {"tc": True, "A": ["127.0.0.9"]},
}
ALLQ = ("mx", "addrs", "tlsa")
GARBAGE = {"loop": ALLQ, "rdlen": ALLQ, "short": ALLQ, "mxname": ("mx",),
           "label": ALLQ, "hugecount": ALLQ}
for _kind in GARBAGE:
    ZONE[f"{_kind}.garbage.example"] = {"garbage": _kind}
    ZONE[f"_25._tcp.{_kind}.garbage.example"] = {"garbage": _kind}


class DnsTest(ternlab.TestCase):

    def setUp(self):
        super().setUp()
        zone = self.lab.write(self.lab.path("zone.json"), json.dumps(ZONE))
        self.qlog = self.lab.path("queries.log")
        self.port = self.start_stub(zone)
        self.servers = f"127.0.0.1:{self.port}"

    def start_stub(self, zone):
        """Start dnsstub (stopped by PID when the lab closes); its port."""
        p = subprocess.Popen([sys.executable, STUB, "--zone", zone, "--log", self.qlog],
                             stdout=subprocess.PIPE, text=True, start_new_session=True)
        self.lab.procs.append(p)
        self.addCleanup(p.stdout.close)
        ready, _, _ = select.select([p.stdout], [], [], 10)
        self.assertTrue(ready, "dnsstub did not report its port")
        line = p.stdout.readline().split()
        self.assertEqual(line[0], "PORT")
        return int(line[1])

    def dnsq(self, kind, name, *opts, servers=None, rc=None, hosts=""):
        """Run dnsq; (exit code, status line fields, record lines, reason)."""
        cmd = [DNSQ, "-s", servers or self.servers, "-t", "500", "-r", "1",
               "-H", hosts, *opts, kind, name]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        lines = res.stdout.splitlines()
        self.assertTrue(lines, f"no output from {cmd}: {res.stderr}")
        status = {}
        if lines[0].startswith("status="):          # not with -n: "run ..." lines
            status = dict(f.split("=", 1) for f in lines.pop(0).split())
        records = [ln for ln in lines if not ln.startswith("reason=")]
        reason = "".join(ln[7:] for ln in lines if ln.startswith("reason="))
        if rc is not None:
            self.assertEqual(res.returncode, rc, res.stdout + res.stderr)
        return res.returncode, status, records, reason

    def queries(self):
        try:
            with open(self.qlog) as f:
                return [ln.split() for ln in f]
        except FileNotFoundError:
            return []

    # ---- MX ----

    def test_mx_preference_order(self):
        _, st, recs, _ = self.dnsq("mx", "ordered.example", rc=0)
        self.assertEqual(st["status"], "ok")
        self.assertEqual(st["implicit"], "0")
        self.assertEqual(recs, ["mx 10 mx1.ordered.example", "mx 20 mx2.ordered.example",
                                "mx 30 mx3.ordered.example"])

    def test_mx_equal_preference_shuffled(self):
        _, _, recs, _ = self.dnsq("mx", "equal.example", "-n", "200", rc=0)
        self.assertEqual(len(recs), 200)
        orders = set(recs)
        for order in orders:
            self.assertTrue(order.startswith("run first.equal.example "), order)
        self.assertEqual(orders, {"run first.equal.example a.equal.example b.equal.example",
                                  "run first.equal.example b.equal.example a.equal.example"})
        # One resolver served all 200 lookups: each one asked the server.
        self.assertEqual(len([q for q in self.queries() if q[1] == "equal.example"]), 200)

    def test_implicit_mx(self):
        _, st, recs, _ = self.dnsq("mx", "implicit.example", rc=0)
        self.assertEqual(st["implicit"], "1")
        self.assertEqual(recs, ["mx 0 implicit.example"])
        # A name with other data but no MX and no address still gets the
        # implicit MX; its address lookup then says NODATA.
        _, st, recs, _ = self.dnsq("mx", "txtonly.example.", rc=0)
        self.assertEqual(recs, ["mx 0 txtonly.example"])
        _, st, _, reason = self.dnsq("addrs", "txtonly.example", rc=2)
        self.assertEqual((st["status"], st["nxdomain"]), ("notfound", "0"))
        self.assertIn("no data record of requested type", reason)

    def test_null_mx(self):
        _, st, recs, reason = self.dnsq("mx", "null.example", rc=2)
        self.assertEqual(st["status"], "nullmx")
        self.assertEqual(recs, [])
        self.assertIn("null MX", reason)

    def test_nxdomain(self):
        for name in ("gone.example", "unlisted.example"):
            _, st, recs, reason = self.dnsq("mx", name, rc=2)
            self.assertEqual((st["status"], st["nxdomain"]), ("notfound", "1"))
            self.assertEqual(reason, f"Name service error for name={name} type=MX: "
                                     "Host not found")
            _, st, _, _ = self.dnsq("addrs", name, rc=2)
            self.assertEqual((st["status"], st["nxdomain"]), ("notfound", "1"))

    def test_mx_through_cname(self):
        _, _, recs, _ = self.dnsq("mx", "cnamemx.example", rc=0)
        self.assertEqual(recs[0], "mx 10 mx1.ordered.example")

    def test_malformed_exchange_names(self):
        _, _, recs, _ = self.dnsq("mx", "mixed.example", rc=0)
        self.assertEqual(recs, ["mx 20 good.mixed.example"])
        _, st, _, reason = self.dnsq("mx", "allbad.example", rc=2)
        self.assertEqual(st["status"], "tempfail")
        self.assertIn("malformed MX record", reason)

    # ---- failures ----

    def test_server_failures_are_temporary(self):
        for name in ("fail.example", "refused.example", "bad.example"):
            _, st, recs, reason = self.dnsq("mx", name, rc=2)
            self.assertEqual(st["status"], "tempfail", name)
            self.assertEqual(recs, [])
            self.assertIn("try again", reason)
        _, _, _, reason = self.dnsq("mx", "bad.example", rc=2)
        self.assertIn("malformed reply", reason)

    def test_malformed_replies_are_temporary(self):
        for kind, kinds_queries in GARBAGE.items():
            for q in kinds_queries:
                name = f"{kind}.garbage.example"
                if q == "tlsa":
                    name = "_25._tcp." + name
                res = subprocess.run([DNSQ, "-s", self.servers, "-t", "500", "-r", "1",
                                      q, name], capture_output=True, text=True, timeout=60)
                self.assertEqual(res.returncode, 2, (kind, q, res.stdout, res.stderr))
                self.assertIn("status=tempfail", res.stdout, (kind, q))
                self.assertEqual(res.stderr, "", (kind, q))

    def test_timeout_is_temporary_and_bounded(self):
        start = time.monotonic()
        _, st, _, reason = self.dnsq("mx", "slow.example", rc=2)
        elapsed = time.monotonic() - start
        self.assertEqual(st["status"], "tempfail")
        self.assertIn("timeout", reason)
        self.assertLess(elapsed, 5.0)
        start = time.monotonic()
        _, st, _, _ = self.dnsq("addrs", "slow.example", "-t", "300", "-r", "2", rc=2)
        self.assertEqual(st["status"], "tempfail")
        self.assertLess(time.monotonic() - start, 5.0)

    def test_failover_to_second_server(self):
        dead = ternlab.free_port()
        _, st, recs, _ = self.dnsq("mx", "ordered.example",
                                   servers=f"127.0.0.1:{dead}, [127.0.0.1]:{self.port}",
                                   rc=0)
        self.assertEqual(len(recs), 3)

    def test_bad_servers_option(self):
        res = subprocess.run([DNSQ, "-s", "127.0.0.1:99999", "mx", "x.example"],
                             capture_output=True, text=True, timeout=30)
        self.assertEqual(res.returncode, 64)
        self.assertIn("resolver_servers: bad server", res.stderr)

    # ---- addresses ----

    def test_address_preference_and_families(self):
        cases = [
            ("all", "ipv6", ["::1", "::2"], ["127.0.0.1", "127.0.0.2"]),
            ("all", "ipv4", ["127.0.0.1", "127.0.0.2"], ["::1", "::2"]),
            ("ipv4", "ipv6", ["127.0.0.1", "127.0.0.2"], []),
            ("ipv6", "ipv4", ["::1", "::2"], []),
        ]
        for fam, pref, first, then in cases:
            _, st, recs, _ = self.dnsq("addrs", "dual.example", "-f", fam, "-p", pref, rc=0)
            addrs = [r.split()[1] for r in recs]
            n = len(first)
            self.assertEqual(sorted(addrs[:n]), first, (fam, pref, addrs))
            self.assertEqual(sorted(addrs[n:]), then, (fam, pref, addrs))
        _, _, recs, _ = self.dnsq("addrs", "dual.example", "-p", "any", rc=0)
        self.assertEqual(sorted(r.split()[1] for r in recs),
                         ["127.0.0.1", "127.0.0.2", "::1", "::2"])
        # Only A exists: with ipv6 preferred the A records are still used.
        _, _, recs, _ = self.dnsq("addrs", "v4only.example", "-p", "ipv6", rc=0)
        self.assertEqual(recs, ["addr 127.0.0.3"])
        _, st, _, _ = self.dnsq("addrs", "v4only.example", "-f", "ipv6", rc=2)
        self.assertEqual((st["status"], st["nxdomain"]), ("notfound", "0"))

    def test_cname_chains(self):
        _, _, recs, _ = self.dnsq("addrs", "alias.example", "-f", "ipv4", rc=0)
        self.assertEqual(sorted(recs), ["addr 127.0.0.1", "addr 127.0.0.2"])
        _, st, _, _ = self.dnsq("addrs", "dangling.example", rc=2)
        self.assertEqual((st["status"], st["nxdomain"]), ("notfound", "1"))
        _, st, _, _ = self.dnsq("addrs", "loop1.example", rc=2)
        self.assertIn(st["status"], ("tempfail", "notfound"))

    def test_literal_needs_no_dns(self):
        _, _, recs, _ = self.dnsq("addrs", "192.0.2.33", rc=0)
        self.assertEqual(recs, ["addr 192.0.2.33"])
        _, _, recs, _ = self.dnsq("addrs", "2001:DB8::33", rc=0)
        self.assertEqual(recs, ["addr 2001:db8::33"])
        self.assertEqual(self.queries(), [])

    def test_tcp_fallback_on_truncation(self):
        _, _, recs, _ = self.dnsq("addrs", "big.example", "-f", "ipv4", rc=0)
        self.assertEqual(recs, ["addr 127.0.0.9"])
        protos = [q[0] for q in self.queries() if q[1] == "big.example"]
        self.assertEqual(protos, ["udp", "tcp"])

    # ---- PTR, FCrDNS ----

    def test_ptr_and_fcrdns(self):
        _, _, recs, _ = self.dnsq("ptr", "127.0.0.1", rc=0)
        self.assertEqual(recs, ["name dual.example"])
        _, _, recs, _ = self.dnsq("ptr", "::1", rc=0)
        self.assertEqual(recs, ["name dual.example"])
        _, _, recs, _ = self.dnsq("fcrdns", "127.0.0.1", rc=0)
        self.assertIn("fcrdns dual.example", recs)
        # 127.0.0.9 claims v4only.example, which resolves to 127.0.0.3.
        _, st, recs, reason = self.dnsq("fcrdns", "127.0.0.9", rc=2)
        self.assertEqual(st["status"], "notfound")
        self.assertIn("does not resolve to address 127.0.0.9", reason)
        # PTR names that are not host names are skipped.
        _, _, recs, _ = self.dnsq("ptr", "127.0.0.10", rc=0)
        self.assertEqual(recs, ["name v4only.example"])
        _, st, _, reason = self.dnsq("ptr", "127.0.0.11", rc=2)
        self.assertEqual((st["status"], st["nxdomain"]), ("notfound", "0"))
        self.assertIn("not a host name", reason)
        _, st, _, _ = self.dnsq("ptr", "127.0.0.77", rc=2)
        self.assertEqual((st["status"], st["nxdomain"]), ("notfound", "1"))

    # ---- the hosts file before DNS (dns_fcrdns) ----

    def test_fcrdns_system_hosts_file_needs_no_dns(self):
        # what the machine's /etc/hosts calls 127.0.0.1 (first line wins)
        name = None
        with open("/etc/hosts", "rb") as f:
            for line in f:
                fields = line.split(b"#")[0].split()
                if len(fields) > 1 and fields[0] == b"127.0.0.1":
                    name = fields[1].decode()
                    break
        if name is None:
            self.skipTest("/etc/hosts does not name 127.0.0.1")
        _, st, recs, _ = self.dnsq("fcrdns", "127.0.0.1", hosts="/etc/hosts",
                                   rc=0)
        self.assertIn(f"fcrdns {name}", recs)
        self.assertEqual(self.queries(), [])        # the stub saw nothing
        # the default of dnsq (and of tern's resolver_hosts_file) is the same
        cmd = [DNSQ, "-s", self.servers, "-t", "500", "-r", "1", "fcrdns",
               "127.0.0.1"]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        self.assertIn(f"fcrdns {name}", res.stdout.splitlines())
        self.assertEqual(self.queries(), [])

    def test_fcrdns_lab_hosts_file(self):
        hosts = self.lab.write(self.lab.path("hosts"), (
            "# tern test hosts file\n"
            "127.0.0.1   first.example  alias.example   # comment\n"
            "127.0.0.50  dual.example\n"
            "127.0.0.51  bad\xe9name.example\n"
            "garbage     garbage.example\n"))
        # the address is in the file: its name, confirmed by the file
        _, _, recs, _ = self.dnsq("fcrdns", "127.0.0.1", hosts=hosts, rc=0)
        self.assertIn("fcrdns first.example", recs)
        self.assertEqual(self.queries(), [])
        # 127.0.0.2 is not in the file: DNS's PTR says dual.example (whose
        # DNS addresses include 127.0.0.2), but the file lists dual.example
        # as 127.0.0.50 only, and the file wins as with getaddrinfo: not
        # confirmed, and no A query was sent
        _, st, _, reason = self.dnsq("fcrdns", "127.0.0.2", hosts=hosts, rc=2)
        self.assertEqual(st["status"], "notfound")
        self.assertIn("hostname dual.example does not resolve to address "
                      "127.0.0.2", reason)
        self.assertEqual([q[1:3] for q in self.queries()],
                         [["2.0.0.127.in-addr.arpa", "PTR"]])
        # ::1 is not in the file and the file has no IPv6 address for
        # dual.example: both steps go to DNS
        open(self.qlog, "w").close()
        _, _, recs, _ = self.dnsq("fcrdns", "::1", hosts=hosts, rc=0)
        self.assertIn("fcrdns dual.example", recs)
        self.assertEqual([q[2] for q in self.queries()], ["PTR", "AAAA"])
        # an 8-bit name is not a host name and a bad address not an address
        _, st, _, _ = self.dnsq("fcrdns", "127.0.0.51", hosts=hosts, rc=2)
        self.assertEqual(st["status"], "notfound")

    def test_fcrdns_missing_or_unreadable_hosts_file(self):
        # a missing file is an empty one: DNS answers
        _, _, recs, _ = self.dnsq("fcrdns", "127.0.0.1",
                                  hosts=self.lab.path("nonexistent"), rc=0)
        self.assertIn("fcrdns dual.example", recs)
        # a directory cannot be read: a warning, then DNS
        os.mkdir(self.lab.path("hostsdir"))
        cmd = [DNSQ, "-s", self.servers, "-t", "500", "-r", "1", "-H",
               self.lab.path("hostsdir"), "fcrdns", "127.0.0.1"]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn("fcrdns dual.example", res.stdout.splitlines())
        self.assertIn("hostsdir: Is a directory", res.stderr)

    # ---- TLSA and the AD bit ----

    def test_tlsa_and_ad_bit(self):
        _, st, recs, _ = self.dnsq("tlsa", "_25._tcp.secure.example", rc=0)
        self.assertEqual(st["ad"], "1")
        self.assertEqual(recs, ["tlsa 3 1 1 00112233aabbccdd", "tlsa 2 0 1 ff"])
        _, st, recs, _ = self.dnsq("tlsa", "_25._tcp.insecure.example", rc=0)
        self.assertEqual(st["ad"], "0")
        self.assertEqual(recs, ["tlsa 3 1 1 00112233"])
        _, st, _, _ = self.dnsq("tlsa", "_25._tcp.shorttlsa.example", rc=2)
        self.assertEqual((st["status"], st["nxdomain"]), ("notfound", "0"))
        # Every query asks for DNSSEC status: AD (0x0020) and RD (0x0100).
        for q in self.queries():
            self.assertEqual(int(q[3], 16) & 0x0120, 0x0120, q)


if __name__ == "__main__":
    ternlab.main()
