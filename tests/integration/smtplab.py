"""smtplab - helpers for the smtp/lmtp delivery agent's integration tests.

Sits next to ternlab (which it uses) and gives the tests what they need to
drive the agent directly, independent of qmgr:

  - write_qfile(): a queue file in the spool, in the documented format
    (docs/queue.md), returning each recipient's status offset;
  - Agent: a ternd running only the smtp/lmtp services of a test
    master.cf, and deliver(), a client of the delivery-agent protocol
    (docs/delivery-protocol.md) that sends one request to
    private/<service> and returns the agent's replies;
  - Authenticator: an aiosmtpd AUTH checker recording what it was given;
  - Peer: a scripted aiosmtpd SMTP or LMTP server (TCP or UNIX socket)
    that answers RCPTs per address, records every session (peer address,
    HELO name, MAIL/RCPT arguments, content) and counts connections and
    the most it had open at once;
  - smtp_sink(): Postfix's smtp-sink from the unpacked postfix package
    (scripts/deps), started and stopped by PID;
  - dns_stub(): dnsstub.py serving a zone (a dict) on a loopback port.

Everything listens on loopback or in the lab's directory; every loop is
bounded by a timeout.
"""
import asyncio
import json
import os
import select
import socket
import struct
import subprocess
import sys
import threading
import time

import ternlab

from aiosmtpd.controller import Controller, UnixSocketController
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, AuthResult

MASTER_CF = """\
smtp      unix  -       -       n       -       1       smtp
relay     unix  -       -       n       -       1       smtp
lmtp      unix  -       -       n       -       1       lmtp
"""


def postfix_dir():
    """Where scripts/deps unpacked the postfix package (or None)."""
    d = os.environ.get("TERN_POSTFIX_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
        "tern", "postfix")
    return d if os.path.exists(os.path.join(d, "usr/sbin/smtp-sink")) else None


# ---- queue files ----

def _rec(rtype, data):
    return rtype.encode() + struct.pack(">I", len(data)) + data


def write_qfile(spool, qid, sender, rcpts, content, queue="active",
                body=None, smtputf8=False, envid=None, ret=None,
                arrival=None):
    """Write spool/queue/qid; rcpts are addresses or (addr, orig, orcpt,
    notify) tuples. Returns the status offset of each recipient."""
    arrival = time.time() if arrival is None else arrival
    out = bytearray()
    out += _rec("V", b"1")
    out += _rec("T", b"%d.%06d" % (int(arrival), int((arrival % 1) * 1e6)))
    out += _rec("S", sender.encode())
    if envid:
        out += _rec("e", envid.encode())
    if body:
        out += _rec("b", body.encode())
    if smtputf8:
        out += _rec("U", b"1")
    if ret:
        out += _rec("r", ret.encode())
    out += _rec("X", b"0")
    offsets = []
    for r in rcpts:
        addr, orig, orcpt, notify = (r, "", "", 0) if isinstance(r, str) else r
        offsets.append(len(out) + 5)
        out += _rec("R", b"P" + bytes([notify]) + addr.encode() + b"\0"
                    + orig.encode() + b"\0" + orcpt.encode())
    out += _rec("M", content)
    out += _rec("E", b"%d %d" % (len(rcpts), len(content)))
    d = os.path.join(spool, queue)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, qid), "wb") as f:
        f.write(out)
    return offsets


def xtext(s):
    """RFC 3461 xtext of a string."""
    return "".join(c if "!" <= c <= "~" and c not in "+=" else
                   "".join("+%02X" % b for b in c.encode()) for c in s)


# ---- the agent under ternd ----

class Agent:
    """The lab's ternd with only the agent services, and a protocol client."""

    def __init__(self, lab, main_cf="", master_cf=""):
        self.lab = lab
        self.count = 0
        if main_cf:
            with open(os.path.join(lab.config, "main.cf"), "a") as f:
                f.write(main_cf)
        lab.write("master.cf", MASTER_CF + master_cf)
        if lab.start_tern() is None:
            raise AssertionError("tern start failed: %s %s" % (
                lab.last_start.stdout, lab.last_start.stderr))

    def socket_path(self, service):
        return os.path.join(self.lab.spool, "private", service)

    def new_qid(self):
        self.count += 1
        return "ABCDE%05X" % (os.getpid() % 0x10000 * 16 + self.count)

    def deliver(self, nexthop, rcpts, content, sender="sender@example.org",
                service="smtp", timeout=60, **qopts):
        """Queue a message and send one request; returns (qid, replies)."""
        qid = self.new_qid()
        offsets = write_qfile(self.lab.spool, qid, sender, rcpts, content,
                              **qopts)
        now = time.time()
        head = [("request", "deliver"), ("queue_id", qid),
                ("queue_name", "active"), ("transport", service),
                ("nexthop", nexthop), ("sender", sender),
                ("arrival_time", "%d" % int(now - 1)),
                ("active_time", "%.6f" % (now - 0.5)),
                ("size", str(len(content))),
                ("body_type", qopts.get("body") or ""),
                ("smtputf8", "1" if qopts.get("smtputf8") else "0"),
                ("envid", xtext(qopts.get("envid") or "")),
                ("ret", qopts.get("ret") or ""),
                ("rcpt_count", str(len(rcpts)))]
        msg = "".join("%s=%s\n" % kv for kv in head) + "\n"
        for r, off in zip(rcpts, offsets):
            addr, orig, orcpt, notify = (r, "", "", 0) if isinstance(r, str) else r
            msg += ("address=%s\norig_address=%s\norcpt=%s\nnotify=%d\n"
                    "offset=%d\n\n" % (addr, orig, xtext(orcpt), notify, off))
        return qid, self.request(service, msg.encode(), timeout)

    def request(self, service, data, timeout=60):
        """Send raw request bytes; return the replies as dicts."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        ternlab.wait_until(lambda: os.path.exists(self.socket_path(service)),
                           what="agent socket")
        s.connect(self.socket_path(service))
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)      # one request: the agent then closes
        buf = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        s.close()
        replies = []
        for block in buf.decode().split("\n\n"):
            if block.strip():
                replies.append(dict(line.split("=", 1)
                                    for line in block.strip().split("\n")))
        return replies


# ---- scripted SMTP/LMTP peers ----

class Recorder:
    """aiosmtpd handler: scripted RCPT/DATA replies, recorded sessions."""

    def __init__(self, rcpt_replies=None, data_reply="250 2.0.0 Ok: queued",
                 lmtp_replies=None):
        self.rcpt_replies = rcpt_replies or {}
        self.data_reply = data_reply
        self.lmtp_replies = lmtp_replies or {}
        self.messages = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, options):
        reply = self.rcpt_replies.get(address)
        if reply and not reply.startswith("2"):
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.append(options)
        return reply or "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append({
                "peer": session.peer, "helo": session.host_name,
                "mail_from": envelope.mail_from,
                "mail_options": list(envelope.mail_options),
                "rcpts": list(envelope.rcpt_tos),
                "rcpt_options": list(envelope.rcpt_options),
                "content": envelope.original_content})
        if isinstance(server, LMTP):
            return "\r\n".join(self.lmtp_replies.get(
                r, "250 2.1.5 <%s> delivered" % r) for r in envelope.rcpt_tos)
        return self.data_reply


class Authenticator:
    """aiosmtpd authenticator: checks users {login: password} and records
    every (mechanism, login, password) it is given. (A handler attribute
    must not start with auth_: aiosmtpd takes those for mechanisms.)"""

    def __init__(self, users):
        self.users = users
        self.seen = []
        self.lock = threading.Lock()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        with self.lock:
            self.seen.append((mechanism, login, password))
        ok = self.users.get(login) == password
        return AuthResult(success=ok, handled=False, auth_data=login)


class Peer:
    """A scripted aiosmtpd server on 127.0.0.1 (or a UNIX socket)."""

    def __init__(self, handler=None, lmtp=False, unix_path=None,
                 host="127.0.0.1", **smtp_kwargs):
        self.handler = handler or Recorder()
        self.connections = 0
        self.active = 0             # sessions open now
        self.max_active = 0         # most sessions open at once
        self.lock = threading.Lock()
        self.unix_path = unix_path
        self.host = host
        self.port = None if unix_path else ternlab.free_port(host)
        peer = self
        base = LMTP if lmtp else SMTP

        class Counting(base):
            # connection_made runs again after STARTTLS and connection_lost
            # may run twice: count each session once.
            def connection_made(self, transport):
                if not getattr(self, "_tern_counted", False):
                    self._tern_counted = True
                    with peer.lock:
                        peer.connections += 1
                        peer.active += 1
                        peer.max_active = max(peer.max_active, peer.active)
                super().connection_made(transport)

            def _tern_uncount(self):
                if getattr(self, "_tern_counted", False):
                    self._tern_counted = False
                    with peer.lock:
                        peer.active -= 1

            # a session ends at QUIT: the client may close its side before
            # the server has seen the end of the connection
            async def smtp_QUIT(self, arg):
                self._tern_uncount()
                return await super().smtp_QUIT(arg)

            def connection_lost(self, error):
                self._tern_uncount()
                super().connection_lost(error)

        kwargs = dict(smtp_kwargs)
        kwargs.setdefault("enable_SMTPUTF8", False)

        if unix_path:
            class Ctl(UnixSocketController):
                def factory(self):
                    return Counting(self.handler, **kwargs)
            self.ctl = Ctl(self.handler, unix_socket=unix_path)
        else:
            class Ctl(Controller):
                def factory(self):
                    return Counting(self.handler, hostname="peer.test",
                                    **kwargs)
            self.ctl = Ctl(self.handler, hostname=host, port=self.port)
        self.ctl.start()
        # start() itself connects once: wait until that session is gone
        ternlab.wait_until(lambda: self.active == 0, timeout=5,
                           what="the controller's own test session to end")
        with self.lock:
            self.connections = 0
            self.max_active = 0

    @property
    def messages(self):
        return self.handler.messages

    def stop(self):
        self.ctl.stop()


def smtp_sink(lab, port, dump_dir, extra=()):
    """Start smtp-sink on 127.0.0.1:port dumping each message into
    dump_dir; returns the Popen (stopped by the lab at close)."""
    d = postfix_dir()
    env = {"LD_LIBRARY_PATH": os.path.join(d, "usr/lib/postfix")}
    args = list(extra)
    if os.geteuid() == 0:
        args += ["-u", "nobody"]
        os.chmod(dump_dir, 0o777)
    cmd = [os.path.join(d, "usr/sbin/smtp-sink")] + args + [
        "-d", os.path.join(dump_dir, "%H%M%S."), "127.0.0.1:%d" % port, "10"]
    p = subprocess.Popen(cmd, env=lab.env(env), start_new_session=True,
                         stderr=subprocess.DEVNULL)
    lab.procs.append(p)
    ternlab.wait_for_port(port)
    return p


STUB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dnsstub.py")


def dns_stub(lab, zone):
    """Start dnsstub.py serving zone ({name: {"A": [...], "MX": [[pref,
    host]], ...}}) on a free 127.0.0.1 port, stopped by PID when the lab
    closes; returns the port (for resolver_servers = 127.0.0.1:PORT)."""
    path = os.path.join(lab.root, "zone-%d.json" % len(lab.procs))
    with open(path, "w") as f:
        json.dump(zone, f)
    p = subprocess.Popen([sys.executable, STUB, "--zone", path],
                         stdout=subprocess.PIPE, text=True,
                         start_new_session=True)
    lab.procs.append(p)
    ready, _, _ = select.select([p.stdout], [], [], 10)
    if not ready:
        raise AssertionError("dnsstub did not start")
    port = int(p.stdout.readline().split()[1])
    p.stdout.close()            # it prints nothing more
    return port
