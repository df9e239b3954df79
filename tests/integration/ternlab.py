"""ternlab - the one helper every integration test uses.

A Lab is a throwaway tern installation: a temporary directory holding a
configuration directory (main.cf, master.cf) and a spool, free loopback ports,
and the tern programs of the build under test (TERN_BUILD). Processes it
starts are remembered by PID and always stopped, by PID, when the lab closes;
its directory is then removed. Nothing here talks to anything but loopback.

Use it through TestCase, a unittest.TestCase whose self.lab is fresh for every
test, and run a test file with ternlab.main().
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BUILD = os.environ.get("TERN_BUILD") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build")
SOURCE = os.environ.get("TERN_SOURCE") or os.path.join(
    os.path.dirname(__file__), "..", "..")


def program(name):
    """Path of a built program: sbin/, bin/ or libexec/tern/."""
    for sub in ("sbin", "bin", os.path.join("libexec", "tern")):
        path = os.path.join(BUILD, sub, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{name} is not built under {BUILD}")


def free_port(host="127.0.0.1"):
    """A TCP port that was free on host a moment ago."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def dead_udp_port(host="127.0.0.1"):
    """A UDP port on host where nothing listened a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for_port(port, host="127.0.0.1", timeout=10.0):
    """Wait until something accepts on host:port; raise after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def wait_until(predicate, timeout=10.0, interval=0.05, what="condition"):
    """Poll predicate() until it is true; bounded by timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not met after {timeout}s")


class Lab:
    """A temporary config directory + spool, and the processes started in it."""

    def __init__(self, main_cf="", master_cf=None):
        self.root = tempfile.mkdtemp(prefix="ternlab-")
        self.config = os.path.join(self.root, "etc")
        self.spool = os.path.join(self.root, "spool")
        os.makedirs(self.config)
        self.procs = []
        self.write("main.cf", self.default_main_cf() + main_cf)
        if master_cf is None:
            with open(os.path.join(SOURCE, "etc", "master.cf")) as f:
                master_cf = f.read()
        self.write("master.cf", master_cf)

    def default_main_cf(self):
        # DNS never leaves loopback: tern's resolver is pointed at a UDP
        # port where nothing listens (queries fail at once, so client names
        # are "unknown"); a test that needs answers starts dnsstub.py and
        # sets resolver_servers again (the last definition wins). The
        # machine's /etc/hosts is not read either (its name for 127.0.0.1
        # differs between machines): a test that wants it sets
        # resolver_hosts_file.
        text = (f"queue_directory = {self.spool}\n"
                f"daemon_directory = {os.path.join(BUILD, 'libexec', 'tern')}\n"
                f"maillog_file = {os.path.join(self.root, 'maillog')}\n"
                f"resolver_servers = 127.0.0.1:{dead_udp_port()}\n"
                "resolver_hosts_file =\n")
        if os.geteuid() == 0:
            # A root start drops every service to mail_owner: use accounts
            # every Debian system has, so tests need not create any.
            text += ("mail_owner = nobody\n"
                     "setgid_group = nogroup\n")
        return text

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def write(self, name, text, mode=0o644):
        """Write a file relative to the config directory (or absolute)."""
        path = name if os.path.isabs(name) else os.path.join(self.config, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w" if isinstance(text, str) else "wb") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def read(self, name):
        path = name if os.path.isabs(name) else os.path.join(self.config, name)
        with open(path) as f:
            return f.read()

    def env(self, extra=None):
        env = dict(os.environ)
        env["MAIL_CONFIG"] = self.config
        env.pop("TZ", None)
        if extra:
            env.update(extra)
        return env

    def run(self, prog, *args, input=None, env=None, timeout=60, check=None):
        """Run a built program to completion; returns CompletedProcess (text)."""
        cmd = [program(prog)] + [str(a) for a in args]
        res = subprocess.run(cmd, input=input, capture_output=True, text=True,
                             env=self.env(env), timeout=timeout)
        if check is not None and res.returncode != check:
            raise AssertionError(
                f"{' '.join(cmd)} exited {res.returncode}, expected {check}\n"
                f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}")
        return res

    def tern(self, *args, **kw):
        return self.run("tern", *args, **kw)

    def start(self, prog, *args, env=None, **popen):
        """Start a long-running program; it is stopped by PID at close()."""
        cmd = [program(prog)] + [str(a) for a in args]
        p = subprocess.Popen(cmd, env=self.env(env), start_new_session=True,
                             **popen)
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=10):
        """Stop one started process (and its process group) by PID."""
        if p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                p.wait(timeout=timeout)

    def maillog(self):
        try:
            with open(self.path("maillog")) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_log(self, text, timeout=10.0, count=1):
        """Wait until maillog holds text (a substring) count times."""
        return wait_until(lambda: self.maillog().count(text) >= count,
                          timeout=timeout, what=f"{count}x {text!r} in maillog")

    # ---- ternd ----

    def start_tern(self, *args, check=0, timeout=60):
        """`tern start` in this lab; returns ternd's PID (None if it failed).

        Started as root, services run as mail_owner, so the lab directory is
        made traversable for them first."""
        if os.geteuid() == 0:
            os.chmod(self.root, 0o755)
        res = self.tern("start", *args, check=check, timeout=timeout)
        self.last_start = res
        if res.returncode != 0:
            return None
        self.ternd_pid = self.tern_pid()
        return self.ternd_pid

    def stop_tern(self, check=0, timeout=120):
        """`tern stop` (waits until ternd has exited); returns the result."""
        return self.tern("stop", check=check, timeout=timeout)

    def tern_pid(self):
        """PID of the running ternd per `tern status`, or None."""
        res = self.tern("status")
        if res.returncode != 0:
            return None
        return int(res.stdout.split("(pid ")[1].split(")")[0])

    def children(self, pid=None):
        """{pid: argv list} of the processes whose parent is ternd."""
        pid = pid or getattr(self, "ternd_pid", None)
        found = {}
        if not pid:
            return found
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                if ppid != pid:
                    continue
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    argv = f.read().decode(errors="replace").split("\0")[:-1]
            except (OSError, IndexError, ValueError):
                continue
            found[int(entry)] = argv
        return found

    def _kill_ternd(self):
        """At close: a ternd this lab started is stopped, by PID."""
        pid = getattr(self, "ternd_pid", None)
        if not pid or self.tern_pid() != pid:
            return
        for sig in (signal.SIGQUIT, signal.SIGKILL):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            try:
                wait_until(lambda: self.tern_pid() is None, timeout=10)
                return
            except TimeoutError:
                pass

    def close(self):
        self._kill_ternd()
        for p in reversed(self.procs):
            self.stop(p)
        self.procs.clear()
        shutil.rmtree(self.root, ignore_errors=True)


class TestCase(unittest.TestCase):
    """unittest.TestCase with a fresh Lab in self.lab for every test."""

    main_cf = ""
    master_cf = None

    def setUp(self):
        self.lab = Lab(self.main_cf, self.master_cf)
        self.addCleanup(self.lab.close)


def main():
    """Run the calling module's tests; exit non-zero on any failure."""
    unittest.main(module="__main__", verbosity=2)
