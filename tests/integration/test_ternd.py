"""ternd and `tern start|start-fg|stop|reload|status|abort`, end to end.

Every test runs a real ternd on loopback in a temporary lab, with the
test-only service program test-echo (greets "220 SERVICE PID BANNER", echoes
lines, logs "trigger N" as a trigger service). As root the services must
drop to mail_owner (ternlab uses nobody/nogroup); as another user they run
as that user.
"""
import grp
import os
import pwd
import signal
import socket
import stat
import subprocess
import time

import ternlab


class Client:
    """A line client for test-echo."""

    def __init__(self, port, host="127.0.0.1"):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.file = self.sock.makefile("rwb")
        self.greeting = self.line()
        parts = self.greeting.split(" ", 3)
        self.pid = int(parts[2])
        self.banner = parts[3] if len(parts) > 3 else ""

    def line(self):
        return self.file.readline().decode().rstrip("\r\n")

    def ask(self, text):
        self.file.write(text if isinstance(text, bytes) else text.encode())
        self.file.write(b"\r\n")
        self.file.flush()
        return self.line()

    def close(self):
        if self.file.closed:
            return
        try:
            self.ask("QUIT")
        except OSError:
            pass
        self.file.close()
        self.sock.close()


def proc_ids(pid):
    """(uids, gids, groups) of a process from /proc/PID/status."""
    ids = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                ids[key] = [int(v) for v in value.split()]
    return ids["Uid"], ids["Gid"], ids["Groups"]


class TerndTest(ternlab.TestCase):

    def setUp(self):
        super().setUp()
        self.port = ternlab.free_port()

    def master(self, extra="", echo_opts="", maxproc="-"):
        """A master.cf with the echo service on self.port plus extra lines."""
        self.lab.write("master.cf",
                       f"127.0.0.1:{self.port} inet n - n - {maxproc} test-echo"
                       f" {echo_opts}\n{extra}")

    def connect(self, port=None):
        # No wait_for_port: `tern start` returns once ternd listens, and a
        # probe connection would count as a session (max_use).
        c = Client(port or self.port)
        self.addCleanup(c.close)
        return c

    def served(self, port, wait=2):
        """Whether a new connection to port gets a greeting within wait s."""
        try:
            with socket.create_connection(("127.0.0.1", port),
                                          timeout=wait) as s:
                return s.recv(100).startswith(b"220")
        except OSError:                 # refused, reset or timed out
            return False

    def test_greeting_echo_and_privileges(self):
        self.master(echo_opts="-o smtpd_banner=hello")
        pid = self.lab.start_tern()
        self.assertIsNotNone(pid)
        c = self.connect()
        self.assertEqual(c.banner, "hello")
        self.assertEqual(c.ask("hi there"), "250 hi there")
        self.assertEqual(c.ask(b"x" * 5000), "500 line too long")
        self.assertEqual(c.ask(b"a\0b"), "500 NUL byte in line")
        self.assertIn(c.pid, self.lab.children(pid))
        uids, gids, groups = proc_ids(c.pid)
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            self.assertEqual(uids, [nobody.pw_uid] * 4)
            self.assertEqual(gids, [nobody.pw_gid] * 4)
            self.assertEqual(groups, [nobody.pw_gid])
            self.assertEqual(proc_ids(pid)[0][0], 0)    # ternd stays root
        else:
            self.assertEqual(uids, [os.getuid()] * 4)
        self.check_spool_owners()
        log = self.lab.maillog()
        self.assertIn("daemon started -- version", log)
        self.assertIn(f"configuration {self.lab.config}", log)

    def check_spool_owners(self):
        """A root start gives the spool to mail_owner, maildrop/ and public/
        to the setgid group; any other start owns everything itself."""
        if os.geteuid() == 0:
            owner = pwd.getpwnam("nobody")
            uid, gid = owner.pw_uid, owner.pw_gid
            setgid = grp.getgrnam("nogroup").gr_gid
        else:
            uid, gid, setgid = os.getuid(), os.getgid(), os.getgid()
        for name, want_gid, mode in (("incoming", gid, 0o700),
                                     ("deferred", gid, 0o700),
                                     ("private", gid, 0o700),
                                     ("maildrop", setgid, 0o1770),
                                     ("public", setgid, 0o2710)):
            st = os.stat(os.path.join(self.lab.spool, name))
            self.assertEqual((st.st_uid, st.st_gid), (uid, want_gid), name)
            self.assertEqual(stat.S_IMODE(st.st_mode), mode, name)

    def test_status_exit_codes(self):
        self.master()
        res = self.lab.tern("status")
        self.assertEqual(res.returncode, 1)
        self.assertEqual(res.stdout, "tern is not running\n")
        pid = self.lab.start_tern()
        res = self.lab.tern("status")
        self.assertEqual(res.returncode, 0)
        self.assertEqual(res.stdout, f"tern is running (pid {pid})\n")
        self.lab.stop_tern()
        self.assertEqual(self.lab.tern("status").returncode, 1)
        self.assertFalse(os.path.exists(
            os.path.join(self.lab.spool, "pid", "master.pid")))

    def test_second_start_refused(self):
        self.master()
        pid = self.lab.start_tern()
        res = self.lab.tern("start")
        self.assertEqual(res.returncode, 1)
        self.assertIn(f"already running (pid {pid})", res.stderr)
        # ternd itself, bypassing tern's check, is refused by the lock.
        res = self.lab.run("ternd", "-c", self.lab.config, timeout=30)
        self.assertEqual(res.returncode, 1)
        self.assertIn(f"already running (pid {pid})", res.stderr)
        self.assertEqual(self.lab.tern_pid(), pid)
        self.connect()                  # the first one is unharmed

    def test_killed_child_is_restarted_and_logged(self):
        self.master()
        self.lab.start_tern()
        c = self.connect()
        victim = c.pid
        c.close()
        os.kill(victim, signal.SIGKILL)
        self.lab.wait_log(f"pid {victim} killed by signal 9")
        c2 = self.connect()
        self.assertNotEqual(c2.pid, victim)
        self.assertEqual(c2.ask("again"), "250 again")

    def test_crash_loop_is_throttled_with_backoff(self):
        self.master()
        self.lab.start_tern()
        for _ in range(2):              # idle children that never served
            pids = [p for p, argv in self.lab.children().items()
                    if "test-echo" in argv[0]]
            self.assertTrue(pids)
            for p in pids:
                os.kill(p, signal.SIGKILL)
            self.lab.wait_log("bad command startup -- throttling",
                              count=_ + 1, timeout=15)
            ternlab.wait_until(lambda: self.lab.children(), timeout=15)
        self.assertEqual(self.connect().ask("up"), "250 up")

    def test_missing_program_throttled_others_work(self):
        port2 = ternlab.free_port()
        self.master(extra=f"127.0.0.1:{port2} inet n - n - - no-such-program\n"
                          "gone unix - - n - - no-such-program\n")
        pid = self.lab.start_tern()
        self.lab.wait_log("no-such-program: bad command startup -- throttling")
        self.assertIn("no-such-program: cannot execute", self.lab.maillog())
        self.assertEqual(self.connect().ask("still"), "250 still")
        # The unix service's socket exists; a client connecting waits.
        self.assertTrue(os.path.exists(
            os.path.join(self.lab.spool, "private", "gone")))
        self.assertEqual(self.lab.tern_pid(), pid)

    def test_max_use_recycles_processes(self):
        self.master(echo_opts="-o max_use=2", maxproc=1)
        self.lab.start_tern()
        pids = []
        for _ in range(5):
            c = self.connect()
            pids.append(c.pid)
            c.close()
        self.assertEqual(pids[0], pids[1])
        self.assertNotEqual(pids[1], pids[2])
        self.assertEqual(pids[2], pids[3])
        self.assertNotEqual(pids[3], pids[4])
        self.assertNotIn("killed by signal", self.lab.maillog())

    def test_maxproc_starts_more_when_busy(self):
        self.master(maxproc=3)
        self.lab.start_tern()
        clients = [self.connect() for _ in range(3)]
        self.assertEqual(len({c.pid for c in clients}), 3)
        for c in clients:
            self.assertEqual(c.ask("x"), "250 x")

    def test_reload_keeps_sessions_and_uses_new_config(self):
        self.master(echo_opts="-o smtpd_banner=one")
        pid = self.lab.start_tern()
        old = self.connect()
        self.assertEqual(old.banner, "one")
        self.master(echo_opts="-o smtpd_banner=two",
                    extra="trig unix - n n 1 1 test-echo trigger\n")
        self.lab.tern("reload", check=0)
        self.lab.wait_log("reload -- version")
        new = self.connect()
        self.assertEqual(new.banner, "two")
        self.assertEqual(old.ask("still here"), "250 still here")
        self.assertEqual(self.lab.tern_pid(), pid)
        self.lab.wait_log("trigger 1 service trig")     # added service runs
        # Removing it stops its process and its socket.
        self.master(echo_opts="-o smtpd_banner=three")
        self.lab.tern("reload", check=0)
        self.lab.wait_log("reload -- version", count=2)
        self.lab.wait_log("service trig/unix removed")
        self.assertFalse(os.path.exists(
            os.path.join(self.lab.spool, "private", "trig")))
        self.assertEqual(self.connect().banner, "three")

    def test_reload_with_bad_config_keeps_running(self):
        self.master(echo_opts="-o smtpd_banner=one")
        self.lab.start_tern()
        first = self.connect()              # its process stays busy
        self.lab.write("master.cf", "bogus line without enough fields\n")
        res = self.lab.tern("reload")      # tern refuses to ask for it...
        self.assertEqual(res.returncode, 1)
        self.assertIn("master.cf, line 1:", res.stderr)
        os.kill(self.lab.ternd_pid, signal.SIGHUP)      # ...ternd copes too
        self.lab.wait_log("reload failed")
        self.assertIn("keeping the old configuration", self.lab.maillog())
        # The first process is busy, so ternd starts another one now, after
        # the bad edit: like Postfix's daemons it takes its -o from the
        # command line ternd gave it, not from the broken master.cf.
        c = self.connect()
        self.assertEqual(c.banner, "one")
        self.assertNotEqual(c.pid, first.pid)
        self.assertEqual(first.ask("still"), "250 still")
        first.close()
        c.close()
        self.assertEqual(self.connect().banner, "one")
        self.assertNotIn("fatal", self.lab.maillog())

    def test_edited_master_cf_waits_for_reload(self):
        self.master(echo_opts="-o smtpd_banner=one")
        self.lab.start_tern()
        first = self.connect()              # its process stays busy
        self.master(echo_opts="-o smtpd_banner=two")    # saved, no reload
        c = self.connect()                  # a process started after the edit
        self.assertNotEqual(c.pid, first.pid)
        self.assertEqual(c.banner, "one")
        self.lab.tern("reload", check=0)
        self.lab.wait_log("reload -- version")
        self.assertEqual(self.connect().banner, "two")

    def test_stop_waits_for_open_session(self):
        self.master()
        pid = self.lab.start_tern()
        c = self.connect()
        stopper = subprocess.Popen(
            [ternlab.program("tern"), "stop"], env=self.lab.env(),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lab.wait_log("terminating on signal 15")
        time.sleep(1)
        self.assertIsNone(stopper.poll())               # still waiting
        self.assertEqual(self.lab.tern_pid(), pid)
        self.assertEqual(c.ask("mid-stop"), "250 mid-stop")
        self.assertFalse(self.served(self.port))        # no new sessions
        c.close()
        out, err = stopper.communicate(timeout=30)
        self.assertEqual(stopper.returncode, 0, err)
        self.assertIsNone(self.lab.tern_pid())
        self.assertFalse(os.path.exists(
            os.path.join(self.lab.spool, "pid", "master.pid")))
        self.assertNotIn(c.pid, self.lab.children(pid))

    def test_abort_kills_everything(self):
        self.master()
        pid = self.lab.start_tern()
        c = self.connect()
        res = self.lab.tern("abort")
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIsNone(self.lab.tern_pid())
        ternlab.wait_until(lambda: not os.path.exists(f"/proc/{c.pid}"),
                           what="child gone")
        self.assertFalse(os.path.exists(f"/proc/{pid}"))

    def test_wakeup_reaches_trigger_service(self):
        self.master(extra="trig unix - n n 1 1 test-echo trigger\n")
        self.lab.start_tern()
        self.lab.wait_log("trigger 2 service trig", timeout=15)
        sock = os.path.join(self.lab.spool, "private", "trig")
        self.assertTrue(os.path.exists(sock))

    def test_ipv6_loopback(self):
        try:
            port = ternlab.free_port("::1")
        except OSError:
            self.skipTest("no IPv6 loopback")
        self.lab.write("master.cf",
                       f"[::1]:{port} inet n - n - - test-echo\n")
        self.lab.start_tern()
        ternlab.wait_for_port(port, host="::1")
        c = Client(port, host="::1")
        self.addCleanup(c.close)
        self.assertEqual(c.ask("v6"), "250 v6")

    def test_bind_conflict_fails_start(self):
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = busy.getsockname()[1]
            self.lab.write("master.cf",
                           f"127.0.0.1:{port} inet n - n - - test-echo\n")
            self.assertIsNone(self.lab.start_tern(check=None))
            self.assertEqual(self.lab.last_start.returncode, 1)
            self.assertIn("Address already in use", self.lab.last_start.stderr)
            self.assertIsNone(self.lab.tern_pid())

    def test_start_fg_runs_in_foreground(self):
        self.master()
        p = self.lab.start("tern", "start-fg")
        ternlab.wait_until(lambda: self.lab.tern_pid() == p.pid,
                           what="ternd in the foreground")
        c = self.connect()
        self.assertEqual(c.ask("fg"), "250 fg")
        c.close()
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=60), 0)
        self.assertIsNone(self.lab.tern_pid())

    def test_root_start_needs_accounts(self):
        if os.geteuid() != 0:
            self.skipTest("only a root start checks the accounts")
        self.master()
        self.lab.write("main.cf", self.lab.read("main.cf")
                       + "mail_owner = ternlab-no-such-user\n")
        res = self.lab.tern("start")
        self.assertEqual(res.returncode, 1)
        self.assertIn('mail_owner user "ternlab-no-such-user" does not exist',
                      res.stderr)
        self.assertIn("useradd --system", res.stderr)
        self.lab.write("main.cf", self.lab.read("main.cf")
                       + "mail_owner = nobody\n"
                       + "setgid_group = ternlab-no-such-group\n")
        res = self.lab.tern("start")
        self.assertEqual(res.returncode, 1)
        self.assertIn('setgid_group group "ternlab-no-such-group" does not'
                      ' exist', res.stderr)
        self.assertIn("groupadd --system ternlab-no-such-group", res.stderr)
        self.assertIsNone(self.lab.tern_pid())


if __name__ == "__main__":
    ternlab.main()
