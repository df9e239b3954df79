"""End to end, issue 4: kill -9 of qmgr and of a delivery agent (smtp)
while mail is being delivered through one real tern to a slow aiosmtpd
receiver. Nothing may be lost: every recipient of every message arrives,
and only what was in flight at the kill may arrive twice.
"""
import email
import os
import re
import signal

import ternlab
import e2elab
from e2elab import message

SENDER = "alice@example.org"
NMSG = 8
RCPTS = ("a@example.net", "b@example.net")


class CrashTest(e2elab.Case):

    def setUp(self):
        super().setUp()
        self.rx = e2elab.Receiver(delay=0.5)
        self.sink = self.peer(handler=self.rx)
        drop = [(SENDER, RCPTS, message(f"k{i}")) for i in range(NMSG)]
        self.start(main=f"relayhost = [127.0.0.1]:{self.sink.port}\n",
                   maildrop=drop)
        self.wanted = {(f"<e2e-k{i}@example.org>", r)
                       for i in range(NMSG) for r in RCPTS}

    def removed_mids(self):
        """Message-IDs of the messages qmgr has removed so far."""
        log = self.lab.maillog()
        mids = dict(re.findall(r": (\w+): message-id=(<[^>]+>)", log))
        return {mids[q] for q in self.qids("removed") if q in mids}

    def attempted_mids(self):
        with self.rx.lock:
            return {email.message_from_bytes(a["content"])["Message-ID"]
                    for a in self.rx.attempts}

    def wait_in_flight(self):
        ternlab.wait_until(lambda: self.rx.in_data > 0, timeout=30,
                           interval=0.01, what="a delivery in DATA")

    def wait_quiet(self, polls=4):
        """Until no DATA runs and none started during polls half seconds."""
        seen = []

        def quiet():
            seen.append((len(self.rx.attempts), self.rx.in_data))
            last = seen[-polls:]
            return len(last) == polls and last.count(last[0]) == polls \
                and last[0][1] == 0
        ternlab.wait_until(quiet, timeout=30, interval=0.5,
                           what="the receiver to be quiet")

    def check_nothing_lost(self, in_flight, done_before):
        """Every recipient delivered; twice only if it was in flight."""
        got = self.rx.deliveries()
        self.assertEqual(set(got), self.wanted)
        for key in self.wanted:
            n = got.count(key)
            if n > 1:
                self.assertIn(key[0], in_flight, f"{key} delivered {n} times")
                self.assertNotIn(key[0], done_before)

    def test_kill_qmgr_during_delivery(self):
        self.wait_in_flight()
        done_before = self.removed_mids()
        qmgr = self.children("qmgr")
        self.assertEqual(len(qmgr), 1)
        os.kill(qmgr[0], signal.SIGKILL)
        self.lab.wait_log("killed by signal 9")
        # what the agents had been given finishes: all of that was in
        # flight (idle cached sessions may stay open, so wait until no
        # DATA runs and no new one started for a while)
        self.wait_quiet()
        in_flight = self.attempted_mids() - done_before
        # ternd starts qmgr again on a wake-up; a flush is one
        self.wait_empty(timeout=90, flush=True)
        self.check_nothing_lost(in_flight, done_before)

    def test_kill_smtp_during_delivery(self):
        self.wait_in_flight()
        done_before = self.removed_mids()
        agents = self.children("smtp")
        self.assertTrue(agents)
        for pid in agents:
            os.kill(pid, signal.SIGKILL)
        in_flight = self.attempted_mids() - done_before
        self.lab.wait_log("killed by signal 9")
        self.wait_empty(timeout=90, flush=True)
        self.check_nothing_lost(in_flight, done_before)
        # the killed deliveries were retried: more attempts than messages
        self.assertGreater(len(self.rx.attempts), NMSG)


if __name__ == "__main__":
    ternlab.main()
