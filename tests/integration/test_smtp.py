"""Integration tests for the smtp delivery agent (smtp/).

The agent runs under a real ternd (services smtp, relay and out-of-band
transports of a test master.cf) and is driven directly through the
delivery-agent protocol by smtplab's client, so these tests do not depend
on qmgr. Its peers are real: aiosmtpd scripted per recipient, Postfix's
smtp-sink (unpacked by scripts/deps), dnsstub for MX records, and raw
sockets for servers that stall or hang up. Everything is on loopback.
"""
import os
import re
import socket
import threading
import time
import unittest

import ternlab
import smtplab


BODY = (b"From: a@example.org\r\nTo: b@example.net\r\nSubject: test\r\n\r\n"
        b".starts with a dot\r\n..two dots\r\nplain line\r\n.\r\n")

LOG_RE = (r"tern/smtp\[\d+\]: {qid}: to=<{to}>, {orig}relay={relay}, "
          r"{conn}delay=[0-9.]+, delays=[0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+, "
          r"dsn={dsn}, status={status} \({reason}\)")


class SmtpBase(ternlab.TestCase):
    """A lab with the agent running; peers stopped after each test."""
    master_extra = ""
    main_extra = ("myhostname = tern.test\n"
                  "inet_interfaces = 127.0.0.1\n"
                  "smtp_helo_timeout = 3s\n"
                  "smtp_connect_timeout = 3s\n")

    def setUp(self):
        super().setUp()
        self.peers = []
        self.agent = smtplab.Agent(self.lab, self.main_extra + self.extra_main(),
                                   self.master_extra)

    def extra_main(self):
        return ""

    def tearDown(self):
        for p in self.peers:
            p.stop()

    def peer(self, **kw):
        p = smtplab.Peer(**kw)
        self.peers.append(p)
        return p

    def assertLog(self, qid, to, relay, dsn, status, reason, orig="",
                  conn=""):
        pattern = LOG_RE.format(
            qid=qid, to=re.escape(to),
            orig=f"orig_to=<{re.escape(orig)}>, " if orig else "",
            relay=re.escape(relay), conn=conn, dsn=re.escape(dsn),
            status=status, reason=reason)
        ternlab.wait_until(lambda: re.search(pattern, self.lab.maillog()),
                           timeout=10, what=f"log line {pattern}")


class SmtpTest(SmtpBase):
    """Relayhost deliveries, server features, the cache, failures."""

    # ---- relayhost and per-recipient replies ----

    def test_relayhost_per_recipient_replies(self):
        handler = smtplab.Recorder(rcpt_replies={
            "defer@example.net": "451 4.2.0 try again later",
            "reject@example.net": "550 5.1.1 no such user",
            "plain@example.net": "553 sorry"})
        peer = self.peer(handler=handler)
        hop = f"[127.0.0.1]:{peer.port}"
        rcpts = [("ok@example.net", "alias@example.net", "", 0),
                 "defer@example.net", "reject@example.net",
                 "plain@example.net"]
        qid, replies = self.agent.deliver(hop, rcpts, BODY)
        self.assertEqual([r["action"] for r in replies],
                         ["delivered", "deferred", "failed", "failed"])
        self.assertEqual([r["dsn"] for r in replies],
                         ["2.0.0", "4.2.0", "5.1.1", "5.0.0"])
        name = "127.0.0.1[127.0.0.1]"
        self.assertEqual(replies[0]["reason"], "250 2.0.0 Ok: queued")
        self.assertEqual(replies[1]["reason"],
                         f"host {name} said: 451 4.2.0 try again later"
                         " (in reply to RCPT TO command)")
        relay = f"{name}:{peer.port}"
        self.assertLog(qid, "ok@example.net", relay, "2.0.0", "sent",
                       re.escape("250 2.0.0 Ok: queued"),
                       orig="alias@example.net")
        self.assertLog(qid, "defer@example.net", relay, "4.2.0", "deferred",
                       re.escape(replies[1]["reason"]))
        self.assertLog(qid, "reject@example.net", relay, "5.1.1", "bounced",
                       ".*550 5.1.1 no such user.*")
        self.assertEqual(len(peer.messages), 1)
        m = peer.messages[0]
        self.assertEqual(m["rcpts"], ["ok@example.net"])
        self.assertEqual(m["mail_from"], "sender@example.org")
        self.assertEqual(m["content"], BODY)        # CRLF kept, dots unstuffed
        self.assertEqual(m["helo"], "tern.test")

    def test_data_rejected_and_null_sender(self):
        peer = self.peer(handler=smtplab.Recorder(
            data_reply="554 5.7.1 content refused"))
        qid, replies = self.agent.deliver(f"[127.0.0.1]:{peer.port}",
                                          ["a@example.net", "b@example.net"],
                                          BODY, sender="")
        self.assertEqual([r["action"] for r in replies], ["failed", "failed"])
        self.assertIn("(in reply to end of DATA command)", replies[0]["reason"])
        self.assertEqual(peer.messages[0]["mail_from"], "<>")

    def test_connection_refused(self):
        port = ternlab.free_port()
        qid, replies = self.agent.deliver(f"[127.0.0.1]:{port}",
                                          ["a@example.net"], BODY)
        want = f"connect to 127.0.0.1[127.0.0.1]:{port}: Connection refused"
        self.assertEqual(replies[0]["action"], "deferred")
        self.assertEqual(replies[0]["dsn"], "4.4.1")
        self.assertEqual(replies[0]["reason"], want)
        self.assertLog(qid, "a@example.net", "none", "4.4.1", "deferred",
                       re.escape(want))

    # ---- exact bytes through Postfix's smtp-sink ----

    @unittest.skipUnless(smtplab.postfix_dir(), "smtp-sink not unpacked (scripts/deps)")
    def test_sink_receives_exact_bytes(self):
        dump = self.lab.path("sink")
        os.makedirs(dump)
        port = ternlab.free_port()
        smtplab.smtp_sink(self.lab, port, dump)
        long_line = bytes(ord("a") + i % 26 for i in range(2500))
        content = (b"Subject: bytes\r\n\r\n.dot\r\nlf only\nbare cr\rend\r\n"
                   + long_line + b"\r\n\xc3\xa9t\xc3\xa9\r\nno final newline")
        qid, replies = self.agent.deliver(
            f"[127.0.0.1]:{port}",
            [("a@example.net", "", "rfc822;A+1@example.net", 0x06)], content,
            body="8BITMIME", envid="env id 1", ret="HDRS")
        self.assertEqual(replies[0]["action"], "delivered", replies)
        files = ternlab.wait_until(lambda: os.listdir(dump), what="sink dump")
        with open(os.path.join(dump, files[0]), "rb") as f:
            data = f.read()
        head, _, body = data.partition(b"\n\tby smtp-sink")
        body = body.split(b"\n", 2)[2]          # rest of the Received header
        # The wire had CRLF everywhere; the sink stores LF and unstuffs dots.
        folded = (long_line[:998] + b"\n " + long_line[998:1995] + b"\n "
                  + long_line[1995:])
        want = (b"Subject: bytes\n\n.dot\nlf only\nbare cr\nend\n" + folded
                + b"\n\xc3\xa9t\xc3\xa9\nno final newline\n")
        self.assertEqual(body.rstrip(b"\n"), want.rstrip(b"\n"))
        self.assertIn(b"X-Helo-Args: tern.test", head)
        # smtp-sink offers DSN: NOTIFY, ORCPT, RET and ENVID are passed on.
        # (smtp-sink offers no SIZE, so there is no SIZE= parameter)
        self.assertIn(b"X-Mail-Args: <sender@example.org> BODY=8BITMIME"
                      b" RET=HDRS ENVID=env+20id+201", head)
        self.assertIn(b"X-Rcpt-Args: <a@example.net> NOTIFY=SUCCESS,FAILURE"
                      b" ORCPT=rfc822;A+2B1@example.net", head)

    # ---- server features ----

    def test_size_limit(self):
        peer = self.peer(data_size_limit=100)
        qid, replies = self.agent.deliver(f"[127.0.0.1]:{peer.port}",
                                          ["a@example.net"], BODY * 5)
        self.assertEqual(replies[0]["action"], "failed")
        self.assertEqual(replies[0]["dsn"], "5.3.4")
        self.assertIn("exceeds size limit 100 of server", replies[0]["reason"])
        self.assertEqual(peer.messages, [])

    def test_smtputf8(self):
        plain = self.peer()
        utf8 = self.peer(enable_SMTPUTF8=True)
        rcpt = "j\u00f6rg@example.net"
        _, replies = self.agent.deliver(f"[127.0.0.1]:{plain.port}", [rcpt],
                                        BODY, smtputf8=True)
        self.assertEqual(replies[0]["action"], "failed")
        self.assertEqual(replies[0]["dsn"], "5.6.7")
        self.assertIn("SMTPUTF8 is required", replies[0]["reason"])
        self.assertEqual(plain.messages, [])
        _, replies = self.agent.deliver(f"[127.0.0.1]:{utf8.port}", [rcpt],
                                        BODY, smtputf8=True, body="8BITMIME")
        self.assertEqual(replies[0]["action"], "delivered", replies)
        self.assertIn("SMTPUTF8", utf8.messages[0]["mail_options"])
        self.assertIn("BODY=8BITMIME", utf8.messages[0]["mail_options"])
        self.assertEqual(utf8.messages[0]["rcpts"], [rcpt])

    # ---- connection cache ----

    def test_connection_reuse(self):
        peer = self.peer()
        hop = f"[127.0.0.1]:{peer.port}"
        relay = f"127.0.0.1[127.0.0.1]:{peer.port}"
        q1, r1 = self.agent.deliver(hop, ["a@example.net"], BODY)
        q2, r2 = self.agent.deliver(hop, ["b@example.net"], BODY)
        self.assertEqual([r1[0]["action"], r2[0]["action"]],
                         ["delivered", "delivered"])
        self.assertLog(q1, "a@example.net", relay, "2.0.0", "sent", ".*")
        self.assertLog(q2, "b@example.net", relay, "2.0.0", "sent", ".*",
                       conn="conn_use=2, ")
        self.assertEqual(peer.connections, 1)
        time.sleep(3.5)                 # past smtp_connection_cache_time_limit
        q3, r3 = self.agent.deliver(hop, ["c@example.net"], BODY)
        self.assertEqual(r3[0]["action"], "delivered")
        self.assertNotIn(f"{q3}: to=<c@example.net>, relay={relay}, conn_use",
                         self.lab.maillog())
        self.assertEqual(peer.connections, 2)
        self.assertEqual(len(peer.messages), 3)

    # ---- servers that misbehave ----

    def raw_server(self, script):
        """A one-connection TCP server running script(conn) in a thread."""
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(5)
        srv.settimeout(20)

        def run():
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(20)
                try:
                    script(conn)
                except OSError:
                    pass
            srv.close()
        th = threading.Thread(target=run, daemon=True)
        th.start()
        self.addCleanup(th.join, 30)
        return srv.getsockname()[1]

    def test_greeting_timeout(self):
        port = self.raw_server(lambda c: time.sleep(5))
        qid, replies = self.agent.deliver(f"[127.0.0.1]:{port}",
                                          ["a@example.net"], BODY)
        self.assertEqual(replies[0]["action"], "deferred")
        self.assertEqual(replies[0]["dsn"], "4.4.2")
        self.assertEqual(replies[0]["reason"],
                         "conversation with 127.0.0.1[127.0.0.1] timed out"
                         " while receiving the initial server greeting")

    def test_lost_connection_and_garbage(self):
        def hangup(c):
            c.sendall(b"220 hi\r\n")
            c.recv(1000)
            c.sendall(b"250-hi\r\n250 PIPELINING\r\n")
            c.recv(1000)                # MAIL and RCPTs, then gone

        def garbage(c):
            c.sendall(b"220 hi\r\n")
            c.recv(1000)
            c.sendall(b"250 hi\r\n")
            c.recv(1000)
            c.sendall(b"\x00\xffnot smtp at all\r\n")
            c.recv(1000)

        port = self.raw_server(hangup)
        _, replies = self.agent.deliver(f"[127.0.0.1]:{port}",
                                        ["a@example.net", "b@example.net"],
                                        BODY)
        self.assertEqual([r["action"] for r in replies], ["deferred"] * 2)
        self.assertEqual(replies[1]["reason"],
                         "lost connection with 127.0.0.1[127.0.0.1] while"
                         " sending MAIL FROM")
        port = self.raw_server(garbage)
        _, replies = self.agent.deliver(f"[127.0.0.1]:{port}",
                                        ["a@example.net"], BODY)
        self.assertEqual(replies[0]["action"], "deferred")
        self.assertIn("malformed reply from 127.0.0.1[127.0.0.1]",
                      replies[0]["reason"])

    def test_helo_fallback(self):
        def old_server(c):
            c.sendall(b"220 old server\r\n")
            lines = []
            f = c.makefile("rb")
            for reply in (b"502 5.5.2 what\r\n", b"250 old\r\n",
                          b"250 ok\r\n", b"250 ok\r\n", b"354 go\r\n"):
                lines.append(f.readline())
                c.sendall(reply)
            for _ in range(10000):
                line = f.readline()
                lines.append(line)
                if line in (b".\r\n", b""):
                    break
            c.sendall(b"250 queued\r\n")
            self.old_lines = lines

        port = self.raw_server(old_server)
        _, replies = self.agent.deliver(f"[127.0.0.1]:{port}",
                                        ["a@example.net"], BODY)
        self.assertEqual(replies[0]["action"], "delivered")
        self.assertEqual(replies[0]["dsn"], "2.0.0")
        ternlab.wait_until(lambda: hasattr(self, "old_lines"))
        self.assertEqual(self.old_lines[:4],
                         [b"EHLO tern.test\r\n", b"HELO tern.test\r\n",
                          b"MAIL FROM:<sender@example.org>\r\n",
                          b"RCPT TO:<a@example.net>\r\n"])

    # ---- bad requests ----

    def test_bad_nexthop_missing_file_bad_request(self):
        _, replies = self.agent.deliver("[127.0.0.1", ["a@example.net"], BODY)
        self.assertEqual((replies[0]["action"], replies[0]["dsn"]),
                         ("deferred", "4.3.5"))
        # A request for a queue file that is not there: deferred 4.3.0.
        qid = "ABCDEF999"
        raw = ("request=deliver\nqueue_id=%s\nqueue_name=active\n"
               "transport=smtp\nnexthop=[127.0.0.1]:1\nsender=s@x\n"
               "arrival_time=1\nactive_time=2.0\nsize=1\nbody_type=\n"
               "smtputf8=0\nenvid=\nret=\nrcpt_count=1\n\naddress=a@x\n"
               "orig_address=\norcpt=\nnotify=0\noffset=50\n\n" % qid)
        replies = self.agent.request("smtp", raw.encode())
        self.assertEqual((replies[0]["action"], replies[0]["dsn"]),
                         ("deferred", "4.3.0"))
        # Garbage: the agent logs it and closes, and keeps serving.
        self.assertEqual(self.agent.request("smtp", b"request=deliver\n"
                                            b"bogus=\x01\n\n"), [])
        self.lab.wait_log("warning: delivery request:")
        peer = self.peer()
        _, replies = self.agent.deliver(f"[127.0.0.1]:{peer.port}",
                                        ["a@example.net"], BODY)
        self.assertEqual(replies[0]["action"], "delivered")


class SmtpServiceTest(SmtpBase):
    """Per-service bind address and HELO name (the mydomain.com-out recipe)."""
    master_extra = ("mydomain.com-out unix - - n - 1 smtp\n"
                    "  -o smtp_bind_address=127.0.0.2\n"
                    "  -o smtp_helo_name=out.mydomain.com\n")

    def test_bind_address_and_helo(self):
        peer = self.peer(host="0.0.0.0")
        hop = f"[127.0.0.1]:{peer.port}"
        _, r1 = self.agent.deliver(hop, ["a@example.net"], BODY,
                                   service="mydomain.com-out")
        _, r2 = self.agent.deliver(hop, ["b@example.net"], BODY)
        self.assertEqual([r1[0]["action"], r2[0]["action"]],
                         ["delivered", "delivered"], (r1, r2))
        by_rcpt = {m["rcpts"][0]: m for m in peer.messages}
        self.assertEqual(by_rcpt["a@example.net"]["peer"][0], "127.0.0.2")
        self.assertEqual(by_rcpt["a@example.net"]["helo"], "out.mydomain.com")
        self.assertEqual(by_rcpt["b@example.net"]["peer"][0], "127.0.0.1")
        self.assertEqual(by_rcpt["b@example.net"]["helo"], "tern.test")


class SmtpMxTest(SmtpBase):
    """MX lookups through dnsstub (resolver_servers)."""

    def extra_main(self):
        zone = {
            "example.com": {"MX": [[10, "dead.example.com"],
                                   [20, "live.example.com"]]},
            "dead.example.com": {"A": ["127.0.0.3"]},
            "live.example.com": {"A": ["127.0.0.4"]},
            "nullmx.example": {"MX": [[0, "."]]},
            "loop.example": {"MX": [[10, "self.example"],
                                    [20, "live.example.com"]]},
            "loop2.example": {"MX": [[10, "live.example.com"],
                                     [20, "self.example"]]},
            "self.example": {"A": ["127.0.0.1"]},
            "implicit.example": {"A": ["127.0.0.4"]},
            "servfail.example": {"rcode": "SERVFAIL"},
        }
        port = smtplab.dns_stub(self.lab, zone)
        return f"resolver_servers = 127.0.0.1:{port}\ninet_protocols = ipv4\n"

    def test_dead_first_mx(self):
        live = self.peer(host="127.0.0.4")
        port = live.port
        qid, replies = self.agent.deliver(f"example.com:{port}",
                                          ["a@example.com"], BODY)
        self.assertEqual(replies[0]["action"], "delivered", replies)
        self.assertIn(f"connect to dead.example.com[127.0.0.3]:{port}:"
                      " Connection refused", self.lab.maillog())
        self.assertLog(qid, "a@example.com",
                       f"live.example.com[127.0.0.4]:{port}", "2.0.0", "sent",
                       ".*")
        # The implicit MX: no MX record, the domain's own address.
        _, replies = self.agent.deliver(f"implicit.example:{port}",
                                        ["a@implicit.example"], BODY)
        self.assertEqual(replies[0]["action"], "delivered", replies)

    def test_null_mx_loop_and_dns_failure(self):
        cases = [("nullmx.example", "failed", "5.1.10", "no mail exchanger"),
                 ("loop.example", "failed", "5.4.6",
                  "mail for loop.example loops back to myself"),
                 ("servfail.example", "deferred", "4.4.3",
                  "Host or domain name not found"),
                 ("nowhere.example", "failed", "5.4.4",
                  "Host or domain name not found")]
        for domain, action, dsn, text in cases:
            qid, replies = self.agent.deliver(domain, [f"a@{domain}"], BODY)
            self.assertEqual((replies[0]["action"], replies[0]["dsn"]),
                             (action, dsn), domain)
            self.assertIn(text, replies[0]["reason"])
            self.assertLog(qid, f"a@{domain}", "none", dsn,
                           "bounced" if action == "failed" else "deferred",
                           ".*" + re.escape(text) + ".*")
        # This host as a worse MX: only the better ones are tried.
        live = self.peer(host="127.0.0.4")
        _, replies = self.agent.deliver(f"loop2.example:{live.port}",
                                        ["a@loop2.example"], BODY)
        self.assertEqual(replies[0]["action"], "delivered", replies)



if __name__ == "__main__":
    ternlab.main()
