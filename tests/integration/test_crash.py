"""Crash test (issue 3): kill -9 ternd and its children while mail arrives.

500 messages, each with a unique token, are submitted through sendmail by 20
concurrent submitters while ternd (running pickup, woken every second) is
killed with SIGKILL - it and every child, by PID - at random moments, five
times, and restarted each time. Afterwards ternd runs until maildrop/ is
drained, and every message whose sendmail exited 0 must be queued exactly
once, none may be in corrupt/, and no temporary file may be left over.
"""
import concurrent.futures
import os
import random
import re
import threading
import time

import ternlab
import sendmail_lab as sl

MESSAGES = 500
SUBMITTERS = 20
KILLS = 5


class TestCrash(ternlab.TestCase):
    main_cf = "myhostname = host.example\n"
    master_cf = sl.MASTER_CF

    def setUp(self):
        super().setUp()
        self.addCleanup(sl.stop_ternd, self.lab)

    def submit(self, n):
        token = f"tok-{n:04d}-{random.getrandbits(32):08x}"
        msg = (f"Subject: crash {token}\nMessage-ID: <{token}@test.example>"
               f"\n\n{token}\n" + "body line\n" * (n % 50))
        res = self.lab.run("sendmail", "-i", "-f", "s@example.org",
                           f"r{n}@example.net", input=msg, timeout=120)
        return token, res.returncode

    def killer(self, done, kills):
        rng = random.Random()
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.05, 0.6))
            kills.append(sl.kill9_ternd(self.lab))
            time.sleep(rng.uniform(0.0, 0.2))
            sl.start_ternd(self.lab)
            if done.is_set():
                time.sleep(0.3)

    def queued_tokens(self):
        """token -> count over every queue past maildrop."""
        seen = {}
        for e in sl.queue_json(self.lab):
            self.assertNotEqual(e["queue_name"], "maildrop")
            m = re.search(r"Subject: crash (tok-\S+)\r\n",
                          sl.show(self.lab, e["queue_id"]))
            self.assertIsNotNone(m, e["queue_id"])
            seen[m.group(1)] = seen.get(m.group(1), 0) + 1
        return seen

    def test_kill9_during_submission(self):
        started = time.monotonic()
        sl.start_ternd(self.lab)
        done, kills = threading.Event(), []
        killer = threading.Thread(target=self.killer, args=(done, kills))
        killer.start()
        with concurrent.futures.ThreadPoolExecutor(SUBMITTERS) as pool:
            results = list(pool.map(self.submit, range(MESSAGES)))
        done.set()
        killer.join(timeout=120)
        self.assertFalse(killer.is_alive())
        self.assertEqual(len(kills), KILLS)
        self.assertTrue(all(k >= 1 for k in kills), kills)

        # final restart; pickup drains maildrop/
        if sl.ternd_pid(self.lab) is None:
            sl.start_ternd(self.lab)
        ternlab.wait_until(lambda: sl.ids_in(self.lab, "maildrop") == [],
                           timeout=60, what="maildrop drained")
        ok = [t for t, rc in results if rc == 0]
        failed = [t for t, rc in results if rc != 0]
        self.assertGreater(len(ok), MESSAGES * 0.9, "sendmail mostly works")
        seen = self.queued_tokens()
        for t in ok:
            self.assertEqual(seen.get(t), 1, f"{t} queued {seen.get(t)} times")
        for t in failed:
            self.assertLessEqual(seen.get(t, 0), 1, t)
        self.assertEqual(set(seen) - set(ok) - set(failed), set())
        self.assertEqual(os.listdir(os.path.join(self.lab.spool, "corrupt")),
                         [])
        # temporary files: none in maildrop/ (postdrop was never killed),
        # none in pickup's staging directory once pickup has started again
        self.assertEqual([n for n in os.listdir(os.path.join(
            self.lab.spool, "maildrop")) if n.startswith("tmp.")], [])
        self.assertEqual(os.listdir(os.path.join(
            self.lab.spool, "incoming", ".pickup")), [])
        stray = [n for n in os.listdir(os.path.join(self.lab.spool,
                                                    "incoming"))
                 if n.startswith("tmp.")]
        self.assertEqual(stray, [])
        self.assertLess(time.monotonic() - started, 120)


if __name__ == "__main__":
    ternlab.main()
