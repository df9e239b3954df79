"""Integration tests for qmgr and the error/retry/discard agents.

sendmail -> postdrop -> pickup -> qmgr -> agent, with ternd running the
services of a small master.cf in a lab; routing by transport_maps. Checks the
Postfix log lines, what mailq shows for deferred mail, retries with short
back-off, oneshot (one attempt; a temporary failure is final), and that
kill -9 of qmgr loses nothing. Only loopback and the lab directory are used.
"""
import os
import re
import signal
import socket
import threading

import ternlab

MASTER_CF = """\
pickup    unix  n       -       n       1       1       pickup
qmgr      unix  n       -       n       300     1       qmgr
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
oneshot   unix  -       -       n       -       -       smtp
smtp      unix  -       -       n       -       -       smtp
"""

SENDER = "alice@example.org"


class QmgrLab(ternlab.TestCase):
    master_cf = MASTER_CF
    backoff = ("1s", "2s")          # minimal and maximal backoff time

    def setUp(self):
        self.dead_port = ternlab.free_port()    # nothing listens there
        self.main_cf = (
            f"minimal_backoff_time = {self.backoff[0]}\n"
            f"maximal_backoff_time = {self.backoff[1]}\n"
            "queue_run_delay = 1s\n"
            "enable_long_queue_ids = yes\n"
            "myhostname = tern.example\n"
            "mydestination =\n"
            "smtp_connect_timeout = 2s\n"
            "oneshot_maximal_queue_lifetime = 0\n"
            "transport_maps = texthash:$config_directory/transport\n")
        super().setUp()
        self.lab.write("transport", (
            "discard.example  discard:\n"
            "error.example    error:Bad domain!\n"
            "coded.example    error:5.1.1 No such user here\n"
            "later.example    retry:4.7.1 Come back later\n"
            "nosuch.example   nosuch:\n"
            f"oneshot.example  oneshot:[127.0.0.1]:{self.dead_port}\n"
            f"smtp.example     smtp:[127.0.0.1]:{self.dead_port}\n"))
        if not os.path.exists(os.path.join(ternlab.BUILD, "sbin", "ternd")):
            self.skipTest("ternd is not built")
        self.assertIsNotNone(self.lab.start_tern(), self.lab.last_start.stderr)

    def send(self, *rcpts, body="Subject: test\n\nhello\n"):
        self.lab.run("sendmail", "-f", SENDER, *rcpts, input=body, check=0)

    def qids(self, pattern):
        """Queue IDs of the log lines matching pattern (in log order)."""
        return re.findall(r": ([0-9A-Za-z]+): " + pattern, self.lab.maillog())

    def queue_files(self, *queues):
        found = []
        for q in queues or ("incoming", "active", "deferred", "hold"):
            d = os.path.join(self.lab.spool, q)
            found += [f for f in os.listdir(d) if not f.startswith(("tmp.", "."))]
        return found

    def mailq(self):
        return self.lab.run("sendmail", "-bp").stdout


class TestQmgr(QmgrLab):

    def test_discard(self):
        self.send("bob@discard.example", "carol@discard.example")
        self.lab.wait_log(": removed")
        log = self.lab.maillog()
        qid = self.qids(r"removed")[0]
        self.assertRegex(log, qid + r": from=<alice@example.org>, size=\d+, "
                         r"nrcpt=2 \(queue active\)")
        for rcpt in ("bob", "carol"):
            self.assertRegex(
                log, qid + rf": to=<{rcpt}@discard.example>, relay=none, "
                r"delay=[0-9.]+, delays=[0-9.]+/[0-9.]+/0/[0-9.]+, dsn=2\.0\.0, "
                r"status=sent \(\S+\)")
        self.assertEqual(self.queue_files(), [])
        self.assertIn("Mail queue is empty", self.mailq())

    def test_error_bounces(self):
        self.send("x@error.example", "y@coded.example")
        self.lab.wait_log(": removed")
        log = self.lab.maillog()
        self.assertRegex(log, r"to=<x@error.example>, relay=none, .*"
                         r"dsn=5\.0\.0, status=bounced \(Bad domain!\)")
        self.assertRegex(log, r"to=<y@coded.example>, relay=none, .*"
                         r"dsn=5\.1\.1, status=bounced \(No such user here\)")
        self.assertEqual(self.queue_files(), [])

    def test_missing_agent_defers_and_retries(self):
        self.send("z@nosuch.example")
        self.lab.wait_log("status=deferred")
        qid = self.qids(r"from=<")[0]
        self.assertRegex(self.lab.maillog(),
                         r"to=<z@nosuch.example>, relay=none, .*dsn=4\.3\.0, "
                         r"status=deferred \(mail transport unavailable: "
                         r"connect to private/nosuch: ")
        ternlab.wait_until(lambda: self.queue_files("deferred") == [qid],
                           what="message in deferred/")
        text = self.mailq()
        self.assertIn(qid, text)
        self.assertIn("(mail transport unavailable", text)
        self.assertIn("z@nosuch.example", text)
        # Retried after the short back-off (1-2 s), and still kept.
        self.lab.wait_log(qid + ": from=<", count=3, timeout=15)
        self.assertIn(qid, self.queue_files())

    def test_retry_service_defers(self):
        self.send("w@later.example")
        self.lab.wait_log("status=deferred")
        self.assertRegex(self.lab.maillog(),
                         r"to=<w@later.example>, relay=none, .*dsn=4\.7\.1, "
                         r"status=deferred \(Come back later\)")
        ternlab.wait_until(lambda: len(self.queue_files("deferred")) == 1,
                           what="message in deferred/")

    def test_mixed_message_keeps_only_deferred(self):
        """Delivered recipients are marked done; only the deferred remain."""
        self.send("a@discard.example", "b@later.example")
        self.lab.wait_log("status=deferred")
        ternlab.wait_until(lambda: len(self.queue_files("deferred")) == 1,
                           what="message in deferred/")
        text = self.mailq()
        self.assertIn("b@later.example", text)
        self.assertNotIn("a@discard.example", text)
        # The retry never delivers a@ again.
        qid = self.queue_files("deferred")[0]
        self.lab.wait_log(qid + ": from=<", count=2, timeout=15)
        self.lab.wait_log("to=<b@later.example>", count=2, timeout=15)
        self.assertEqual(self.lab.maillog().count("to=<a@discard.example>"), 1)

    def test_deferred_file_keeps_done_marks(self):
        """One recipient delivered, one deferred by smtp (dead port): the
        file in deferred/ has the delivered one marked done (D) and the
        deferred one pending, and the retry delivers only the pending one.
        A message delivered in full leaves no file behind."""
        if not os.path.exists(os.path.join(ternlab.BUILD, "libexec", "tern",
                                           "smtp")):
            self.skipTest("the smtp client is not built")
        self.send("d@discard.example", "s@smtp.example")
        self.lab.wait_log("to=<s@smtp.example>", timeout=30)
        ternlab.wait_until(lambda: len(self.queue_files("deferred")) == 1,
                           what="message in deferred/")
        qid = self.queue_files("deferred")[0]
        show = self.lab.tern("queue", "show", qid).stdout
        self.assertIn("recipient: d@discard.example (status D", show)
        self.assertIn("recipient: s@smtp.example (status P", show)
        self.lab.wait_log(qid + ": from=<", count=2, timeout=15)
        self.lab.wait_log("to=<s@smtp.example>", count=2, timeout=30)
        self.assertEqual(self.lab.maillog().count("to=<d@discard.example>"), 1)
        # Delivered in full: removed, nothing left in any queue or defer/.
        self.send("e@discard.example", "f@discard.example")
        self.lab.wait_log("to=<f@discard.example>")
        done = self.qids(r"to=<f@discard\.example>")[0]
        self.lab.wait_log(done + ": removed")
        self.assertNotIn(done, self.queue_files())
        self.assertFalse(os.path.exists(
            os.path.join(self.lab.spool, "defer", done)))

    def test_stale_reason_file_swept_at_start(self):
        """A defer/ reason file whose message is in no queue (left by a
        requeued message) is removed when qmgr starts; one whose message
        is deferred is kept."""
        self.send("k@later.example")
        self.lab.wait_log("status=deferred")
        ternlab.wait_until(lambda: len(self.queue_files("deferred")) == 1,
                           what="message in deferred/")
        kept = self.queue_files("deferred")[0]
        self.send("g@discard.example")
        self.lab.wait_log(": removed")
        gone = self.qids(r"removed")[0]
        self.lab.stop_tern()
        stale = os.path.join(self.lab.spool, "defer", gone)
        with open(stale, "w") as f:
            f.write("g@discard.example\told reason\n")
        self.assertIsNotNone(self.lab.start_tern())
        self.assertEqual(self.lab.tern("queue", "flush").returncode, 0)
        ternlab.wait_until(lambda: not os.path.exists(stale),
                           what="stale defer/ file removed")
        self.assertTrue(os.path.exists(
            os.path.join(self.lab.spool, "defer", kept)))

    def test_kill_qmgr_loses_nothing(self):
        """kill -9 of qmgr while it works: after a restart every message is
        delivered (at least once per recipient) and removed; none is lost."""
        nmsg = 40
        rcpts = [f"u{i}@discard.example" for i in range(3)]
        self.lab.stop_tern()
        for _ in range(nmsg):                   # queued in maildrop/
            self.send(*rcpts)
        self.assertIsNotNone(self.lab.start_tern())
        self.lab.wait_log("(queue active)")
        qmgrs = [pid for pid, argv in self.lab.children().items()
                 if argv and argv[0].endswith("qmgr")]
        self.assertEqual(len(qmgrs), 1)
        os.kill(qmgrs[0], signal.SIGKILL)
        self.lab.wait_log("killed by signal 9")
        # ternd starts qmgr again on its next wake-up (pickup, the master.cf
        # wake-up timer, or a flush); do not wait 300 s for the timer.
        ternlab.wait_until(lambda: self.lab.tern("queue", "flush").returncode
                           == 0 and self.queue_files() == []
                           and self.lab.maillog().count(": removed")
                           >= nmsg - 1, timeout=60, interval=1,
                           what="an empty queue")
        log = self.lab.maillog()
        submitted = set(self.qids(r"uid=\d+ from="))   # pickup's lines
        self.assertEqual(len(submitted), nmsg)
        # "removed" may be lost for the one message whose unlink the kill
        # interrupted; its recipients must all have been delivered though.
        self.assertLessEqual(set(self.qids(r"removed")), submitted)
        for qid in submitted:
            for rcpt in rcpts:
                self.assertIn(f"{qid}: to=<{rcpt}>, relay=none", log)

    def test_oneshot_one_attempt(self):
        if not os.path.exists(os.path.join(ternlab.BUILD, "libexec", "tern",
                                           "smtp")):
            self.skipTest("the smtp client is not built")
        self.send("o@oneshot.example")
        self.lab.wait_log(": removed", timeout=30)
        log = self.lab.maillog()
        self.assertRegex(log, r"to=<o@oneshot.example>, .*status=deferred")
        self.assertRegex(log, r"to=<o@oneshot.example>, relay=none, .*"
                         r"status=expired")
        self.assertEqual(log.count("to=<o@oneshot.example>"), 2)
        # smtp to the same dead port defers and keeps retrying.
        self.send("s@smtp.example")
        self.lab.wait_log("to=<s@smtp.example>", count=2, timeout=30)
        self.assertNotIn("to=<s@smtp.example>, relay=none", log)
        self.assertEqual(len(self.queue_files()), 1)



class TestFlush(QmgrLab):
    backoff = ("1h", "2h")          # no retry happens by itself

    def test_flush_retries_deferred_mail_now(self):
        self.send("z@nosuch.example")
        self.lab.wait_log("status=deferred")
        qid = self.qids(r"from=<")[0]
        ternlab.wait_until(lambda: self.queue_files("deferred") == [qid],
                           what="message in deferred/")
        self.assertEqual(self.lab.tern("queue", "flush").returncode, 0)
        self.lab.wait_log(qid + ": from=<", count=2, timeout=15)
        self.lab.wait_log("status=deferred", count=2, timeout=15)

if __name__ == "__main__":
    ternlab.main()
