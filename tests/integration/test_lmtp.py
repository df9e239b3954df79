"""Integration tests for the lmtp delivery agent (the smtp program started
as "lmtp"): LHLO, one reply per recipient after DATA, nexthops
inet:host:port and unix:/path, against aiosmtpd's LMTP server scripted
per recipient. The agent runs under ternd and is driven through the
delivery-agent protocol (smtplab), independent of qmgr.
"""
import os
import re

import ternlab
import smtplab

BODY = b"Subject: lmtp\r\n\r\n.dot line\r\nbody\r\n"

REPLIES = {"defer@example.net": "452 4.2.2 mailbox full",
           "reject@example.net": "550 5.1.1 no such mailbox"}


class LmtpTest(ternlab.TestCase):

    def setUp(self):
        super().setUp()
        self.agent = smtplab.Agent(self.lab, "myhostname = tern.test\n")
        self.peers = []

    def tearDown(self):
        for p in self.peers:
            p.stop()

    def lmtp_peer(self, **kw):
        p = smtplab.Peer(handler=smtplab.Recorder(lmtp_replies=REPLIES),
                         lmtp=True, **kw)
        self.peers.append(p)
        return p

    def check_delivery(self, peer, nexthop, relay):
        rcpts = ["ok@example.net", "defer@example.net", "reject@example.net",
                 "ok2@example.net"]
        qid, replies = self.agent.deliver(nexthop, rcpts, BODY,
                                          service="lmtp")
        self.assertEqual([r["action"] for r in replies],
                         ["delivered", "deferred", "failed", "delivered"],
                         replies)
        self.assertEqual([r["dsn"] for r in replies],
                         ["2.1.5", "4.2.2", "5.1.1", "2.1.5"])
        self.assertEqual(replies[0]["reason"],
                         "250 2.1.5 <ok@example.net> delivered")
        self.assertIn("said: 452 4.2.2 mailbox full (in reply to end of"
                      " DATA command)", replies[1]["reason"])
        m = peer.messages[0]
        self.assertEqual(m["helo"], "tern.test")     # from LHLO
        self.assertEqual(m["rcpts"], rcpts)
        self.assertEqual(m["content"], BODY)
        for rcpt, dsn, status in (("ok@example.net", "2.1.5", "sent"),
                                  ("defer@example.net", "4.2.2", "deferred"),
                                  ("reject@example.net", "5.1.1", "bounced")):
            pattern = (rf"tern/lmtp\[\d+\]: {qid}: to=<{re.escape(rcpt)}>, "
                       rf"relay={re.escape(relay)}, delay=[0-9.]+, "
                       rf"delays=[0-9./]+, dsn={dsn}, status={status} ")
            ternlab.wait_until(lambda: re.search(pattern, self.lab.maillog()),
                               what=pattern)

    def test_lmtp_inet(self):
        peer = self.lmtp_peer()
        self.check_delivery(peer, f"inet:127.0.0.1:{peer.port}",
                            f"127.0.0.1[127.0.0.1]:{peer.port}")

    def test_lmtp_unix(self):
        path = self.lab.path("lmtp.sock")
        peer = self.lmtp_peer(unix_path=path)
        os.chmod(path, 0o777)       # a root-started agent runs as mail_owner
        self.check_delivery(peer, f"unix:{path}", f"tern.test[{path}]")

    def test_lmtp_unix_refused(self):
        path = self.lab.path("nothing.sock")
        qid, replies = self.agent.deliver(f"unix:{path}", ["a@example.net"],
                                          BODY, service="lmtp")
        self.assertEqual(replies[0]["action"], "deferred")
        self.assertEqual(replies[0]["reason"],
                         f"connect to tern.test[{path}]: No such file or"
                         " directory")


if __name__ == "__main__":
    ternlab.main()
