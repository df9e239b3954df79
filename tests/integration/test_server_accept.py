"""The server skeleton's accept path under several processes of one service.

ternd runs the test-only session service test-echo (greets "220 SERVICE PID
BANNER", echoes lines, "221 bye" on QUIT) with a few processes. Checked:
every connection is served exactly once, by the service's processes only,
when many arrive together; and a new connection wakes one idle process,
not all of them (the thundering herd: each idle process used to wake, try
accept and get EAGAIN), seen in each process's voluntary context switches.
"""
import socket
import threading
import time

import ternlab


def session(port, text):
    """One session: greeting PID, the echo of text, the QUIT reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        f = s.makefile("rwb")
        greeting = f.readline().decode().rstrip("\r\n")
        f.write(text.encode() + b"\r\nQUIT\r\n")
        f.flush()
        echo = f.readline().decode().rstrip("\r\n")
        bye = f.readline().decode().rstrip("\r\n")
        f.close()
    return int(greeting.split(" ")[2]), echo, bye


def switches(pid):
    """Voluntary context switches of a process: how often it slept."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    raise AssertionError(f"no voluntary_ctxt_switches for {pid}")


class ServerAcceptTest(ternlab.TestCase):

    def start(self, maxproc):
        self.port = ternlab.free_port()
        self.lab.write("master.cf", f"127.0.0.1:{self.port} inet n - n - "
                       f"{maxproc} test-echo -o max_use=1000\n")
        self.lab.start_tern()

    def echo_pids(self):
        return sorted(p for p, argv in self.lab.children().items()
                      if argv and "test-echo" in argv[0])

    def test_every_connection_served_once(self):
        self.start(maxproc=4)
        results, errors = {}, []

        def worker(w):
            for i in range(10):
                key = f"w{w} n{i}"
                try:
                    results[key] = session(self.port, key)
                except OSError as e:
                    errors.append(f"{key}: {e}")

        threads = [threading.Thread(target=worker, args=(w,))
                   for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        self.assertEqual(len(results), 80)
        for key, (pid, echo, bye) in results.items():
            self.assertEqual((echo, bye), (f"250 {key}", "221 bye"))
        pids = {pid for pid, _, _ in results.values()}
        self.assertLessEqual(len(pids), 4)
        self.assertTrue(pids <= set(self.echo_pids()))
        self.assertNotIn("accept:", self.lab.maillog())

    def test_one_idle_process_woken_per_connection(self):
        self.start(maxproc=4)
        # four sessions at once: ternd starts four processes
        held = [socket.create_connection(("127.0.0.1", self.port), timeout=20)
                for _ in range(4)]
        for s in held:
            self.assertTrue(s.makefile("rb").readline().startswith(b"220"))
        for s in held:
            s.close()
        ternlab.wait_until(lambda: len(self.echo_pids()) == 4,
                           what="four test-echo processes")
        time.sleep(0.5)                 # all back waiting for work
        pids = self.echo_pids()
        before = {p: switches(p) for p in pids}
        served = {p: 0 for p in pids}
        n = 40
        for i in range(n):
            pid, echo, _ = session(self.port, f"x{i}")
            self.assertEqual(echo, f"250 x{i}")
            served[pid] += 1
        time.sleep(0.2)
        woken = {p: switches(p) - before[p] for p in pids}
        # A process that served k sessions slept a few times in each; one
        # woken by every connection would have slept at least n times more.
        for p in pids:
            self.assertLess(woken[p], 4 * served[p] + n // 2,
                            f"pid {p} served {served[p]} of {n} sessions"
                            f" but was woken {woken[p]} times: {woken}")


if __name__ == "__main__":
    ternlab.main()
