"""End to end, issue 4: mail given to the real `sendmail` leaves through
pickup, qmgr and the smtp/lmtp/error/discard agents of one real tern to
real peers (aiosmtpd, Postfix's smtp-sink), with the reference transport
recipes: relayhost [127.0.0.1]:port, MX preference with a dead first MX and
a null MX (dnsstub), relaylim (one connection at a time) against plain smtp
(several), oneshot (one attempt), retries with short back-off, the
per-sender bind address and HELO name, and LMTP through qmgr.
"""
import os
import re
import unittest

import ternlab
import smtplab
import e2elab
from e2elab import message, crlf

SENDER = "alice@example.org"


class OutboundTest(e2elab.Case):

    def test_sendmail_message_arrives_byte_for_byte(self):
        """relayhost [127.0.0.1]:port: the peer gets exactly what sendmail
        was given (CRLF on the wire, dots unstuffed, 8-bit kept); tern adds
        no header to a message that has Message-ID, Date and From."""
        peer = self.peer()
        self.start(main=f"relayhost = [127.0.0.1]:{peer.port}\n")
        body = ("..leading dots\n.\n \ttrailing white space \t\n\n"
                "\xe9t\xe9 8-bit\n" + "x" * 900 + "\nlast line\n")
        content = message(1, body=body).replace(b"\xc3\xa9", b"\xe9")
        self.sendmail(SENDER, ["bob@example.net", "carol@example.net"],
                      content)
        self.wait_empty(timeout=30)
        self.assertEqual(len(peer.messages), 1)
        m = peer.messages[0]
        self.assertEqual(m["content"], crlf(content))
        self.assertEqual(m["mail_from"], SENDER)
        self.assertEqual(sorted(m["rcpts"]),
                         ["bob@example.net", "carol@example.net"])
        self.assertEqual(m["helo"], "tern.example")
        qid = self.qids(r"removed")[0]
        self.assertRegex(self.lab.maillog(),
                         rf"{qid}: to=<bob@example.net>, relay=127\.0\.0\.1"
                         rf"\[127\.0\.0\.1\]:{peer.port}, .*dsn=2\.0\.0, "
                         r"status=sent \(250 ")

    @unittest.skipUnless(smtplab.postfix_dir(),
                         "smtp-sink not unpacked (scripts/deps)")
    def test_sendmail_to_smtp_sink_byte_for_byte(self):
        """Postfix's smtp-sink as the peer: its dump (LF line ends, dots
        unstuffed, its own Received first) holds the submitted message."""
        dump = self.lab.path("sink")
        os.makedirs(dump)
        port = ternlab.free_port()
        smtplab.smtp_sink(self.lab, port, dump)
        self.start(main=f"relayhost = [127.0.0.1]:{port}\n")
        content = message(2, body="..two dots\n.one dot\nend\n")
        self.sendmail(SENDER, ["bob@example.net"], content)
        self.wait_empty(timeout=30)
        files = ternlab.wait_until(lambda: os.listdir(dump), what="sink dump")
        with open(os.path.join(dump, files[0]), "rb") as f:
            data = f.read()
        head, _, rest = data.partition(b"\n\tby smtp-sink")
        received_tail, _, got = rest.split(b"\n", 1)[1].partition(b"\n")
        self.assertIn(b"X-Mail-Args: <alice@example.org>", head)
        self.assertIn(b"X-Rcpt-Args: <bob@example.net>", head)
        # the dump ends with a newline of smtp-sink's own
        self.assertEqual(got.rstrip(b"\n"), content.rstrip(b"\n"))

    def test_routing_error_discard_and_relayhost(self):
        """One message, three routes: relayhost, error: (bounced with the
        text) and discard: (sent, nothing delivered)."""
        peer = self.peer()
        self.table("transport", "error.example error:5.1.1 Bad domain!\n"
                                "discard.example discard:\n")
        self.start(main=f"relayhost = [127.0.0.1]:{peer.port}\n")
        self.sendmail(SENDER, ["a@example.net", "x@error.example",
                               "d@discard.example"], message(3))
        self.wait_empty(timeout=30)
        self.assertEqual([m["rcpts"] for m in peer.messages],
                         [["a@example.net"]])
        log = self.lab.maillog()
        self.assertRegex(log, r"to=<x@error\.example>, relay=none, .*"
                         r"dsn=5\.1\.1, status=bounced \(Bad domain!\)")
        self.assertRegex(log, r"to=<d@discard\.example>, relay=none, .*"
                         r"dsn=2\.0\.0, status=sent")

    def test_mx_preference_dead_first_and_null_mx(self):
        """example.com has MX 10 dead (nothing listens), MX 20 live: the
        mail goes to the live one after a refused connection; a null MX
        domain bounces with 5.1.10."""
        live = self.peer(host="127.0.0.4")
        dns = smtplab.dns_stub(self.lab, {
            "example.com": {"MX": [[10, "dead.example.com"],
                                   [20, "live.example.com"]]},
            "dead.example.com": {"A": ["127.0.0.3"]},
            "live.example.com": {"A": ["127.0.0.4"]},
            "nullmx.example": {"MX": [[0, "."]]}})
        self.table("transport", f"example.com smtp:example.com:{live.port}\n")
        self.start(main=f"resolver_servers = 127.0.0.1:{dns}\n")
        self.sendmail(SENDER, ["a@example.com", "n@nullmx.example"],
                      message(4))
        self.wait_empty(timeout=30)
        self.assertEqual([m["rcpts"] for m in live.messages],
                         [["a@example.com"]])
        log = self.lab.maillog()
        self.assertIn(f"connect to dead.example.com[127.0.0.3]:{live.port}: "
                      "Connection refused", log)
        self.assertRegex(log, r"to=<a@example\.com>, relay=live\.example\.com"
                         rf"\[127\.0\.0\.4\]:{live.port}, .*status=sent")
        self.assertRegex(log, r"to=<n@nullmx\.example>, relay=none, .*"
                         r"dsn=5\.1\.10, status=bounced \(.*"
                         r"no mail exchanger.*\)")

    def relaylim_load(self, n=20):
        """n messages each to a relaylim and to an smtp destination, with
        slow receivers; returns the two peers once all is delivered."""
        lim = self.peer(handler=e2elab.Receiver(delay=0.2))
        many = self.peer(handler=e2elab.Receiver(delay=0.2))
        self.table("transport",
                   f"lim.example relaylim:[127.0.0.1]:{lim.port}\n"
                   f"many.example smtp:[127.0.0.1]:{many.port}\n")
        drop = [(SENDER, [f"u{i}@lim.example"], message(f"l{i}"))
                for i in range(n)]
        drop += [(SENDER, [f"u{i}@many.example"], message(f"m{i}"))
                 for i in range(n)]
        self.start(maildrop=drop)
        self.wait_empty(timeout=60)
        self.assertEqual(len(lim.messages), n)
        self.assertEqual(len(many.messages), n)
        return lim, many

    def test_relaylim_delivers_in_series_smtp_in_parallel(self):
        """relaylim's receiver never has two connections (nor two
        transactions) at once, smtp's has more than one at some moment;
        everything is delivered once."""
        lim, many = self.relaylim_load()
        self.assertEqual(lim.handler.max_in_data, 1)
        self.assertEqual(lim.max_active, 1)     # not even an idle second one
        self.assertGreater(many.handler.max_in_data, 1)
        self.assertGreater(many.max_active, 1)

    def test_oneshot_one_attempt_smtp_retries(self):
        """Both receivers answer 451 to the first DATA: oneshot gives up
        after that one attempt (status=expired), smtp retries after the
        short back-off and delivers once."""
        once = self.peer(handler=e2elab.Receiver(
            data_reply="451 4.3.0 try again later"))
        retry = self.peer(handler=e2elab.Receiver(
            data_replies=["451 4.3.0 try again later"]))
        self.table("transport",
                   f"once.example oneshot:[127.0.0.1]:{once.port}\n"
                   f"retry.example smtp:[127.0.0.1]:{retry.port}\n")
        self.start()
        self.sendmail(SENDER, ["o@once.example"], message(5))
        self.sendmail(SENDER, ["r@retry.example"], message(6))
        self.wait_empty(timeout=30)
        log = self.lab.maillog()
        self.assertEqual(len(once.handler.attempts), 1)
        self.assertEqual(once.messages, [])
        self.assertRegex(log, r"to=<o@once\.example>, relay=none, .*"
                         r"status=expired \(.*451 4\.3\.0 try again later")
        self.assertEqual(len(retry.handler.attempts), 2)
        self.assertEqual([m["rcpts"] for m in retry.messages],
                         [["r@retry.example"]])
        self.assertRegex(log, r"to=<r@retry\.example>, .*dsn=4\.3\.0, "
                         r"status=deferred")
        self.assertRegex(log, r"to=<r@retry\.example>, .*status=sent")

    def test_per_sender_bind_address_and_helo(self):
        """sender_dependent_default_transport_maps sends @mydomain.com's
        mail through mydomain.com-out (-o smtp_bind_address=127.0.0.2,
        -o smtp_helo_name=out.mydomain.com) to the relayhost; others
        leave from the default address with the default name."""
        peer = self.peer()
        self.table("sender_transport", "@mydomain.com mydomain.com-out:\n")
        self.start(main=f"relayhost = [127.0.0.1]:{peer.port}\n"
                   "sender_dependent_default_transport_maps = "
                   "texthash:$config_directory/sender_transport\n")
        self.sendmail("me@mydomain.com", ["a@example.net"],
                      message(7, sender="me@mydomain.com"))
        self.sendmail(SENDER, ["b@example.net"], message(8))
        self.wait_empty(timeout=30)
        by_sender = {m["mail_from"]: m for m in peer.messages}
        self.assertEqual(by_sender["me@mydomain.com"]["peer"][0], "127.0.0.2")
        self.assertEqual(by_sender["me@mydomain.com"]["helo"],
                         "out.mydomain.com")
        self.assertEqual(by_sender[SENDER]["peer"][0], "127.0.0.1")
        self.assertEqual(by_sender[SENDER]["helo"], "tern.example")

    def test_lmtp_through_qmgr(self):
        """transport_maps lmtp:inet:127.0.0.1:PORT to aiosmtpd's LMTP
        server: one reply per recipient after DATA, each logged."""
        peer = self.peer(handler=e2elab.Receiver(lmtp_replies={
            "no@lmtp.example": "550 5.1.1 no such mailbox"}), lmtp=True)
        self.table("transport",
                   f"lmtp.example lmtp:inet:127.0.0.1:{peer.port}\n")
        self.start()
        content = message(9)
        self.sendmail(SENDER, ["a@lmtp.example", "no@lmtp.example",
                               "b@lmtp.example"], content)
        self.wait_empty(timeout=30)
        self.assertEqual(len(peer.messages), 1)
        self.assertEqual(peer.messages[0]["content"], crlf(content))
        self.assertEqual(peer.messages[0]["helo"], "tern.example")  # LHLO
        log = self.lab.maillog()
        for rcpt, dsn, status in (("a", "2.1.5", "sent"),
                                  ("b", "2.1.5", "sent"),
                                  ("no", "5.1.1", "bounced")):
            self.assertRegex(log, rf"tern/lmtp\[\d+\]: \w+: to=<{rcpt}@lmtp"
                             rf"\.example>, relay=127\.0\.0\.1\[127\.0\.0\.1\]"
                             rf":{peer.port}, .*dsn={re.escape(dsn)}, "
                             rf"status={status}")


if __name__ == "__main__":
    ternlab.main()
