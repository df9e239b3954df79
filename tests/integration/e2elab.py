"""e2elab - the whole tern, end to end, for test_e2e_*.py.

A Case starts one real tern (`tern start`) whose master.cf holds pickup,
qmgr, every delivery transport of the reference recipes (smtp, relay,
relaylim, oneshot, lmtp, error, retry, discard, and the per-sender
`mydomain.com-out` service with its own bind address and HELO name) and
whatever smtpd inet services a test adds on free 127.0.0.1 ports. Mail
enters through the real `sendmail` or through SMTP to tern's smtpd, and
leaves to real peers: smtplab's aiosmtpd Peer with a Receiver handler
(scripted DATA replies, an optional slow DATA, every accepted message and
every attempt recorded, the most sessions open at once) or Postfix's
smtp-sink. Retry timers are seconds. Everything is loopback and the lab's
temporary directory; every wait is bounded; processes are stopped by PID.
"""
import asyncio
import email
import os
import re
import subprocess

import ternlab
import smtplab

from aiosmtpd.lmtp import LMTP

SERVICES = """\
pickup    unix  n       -       n       1       1       pickup
qmgr      unix  n       -       n       300     1       qmgr
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
relaylim  unix  -       -       n       -       -       smtp
oneshot   unix  -       -       n       -       -       smtp
lmtp      unix  -       -       n       -       -       lmtp
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
mydomain.com-out unix - -       n       -       -       smtp
  -o smtp_bind_address=127.0.0.2
  -o smtp_helo_name=out.mydomain.com
"""

MAIN_CF = """\
myhostname = tern.example
mydomain = example
mydestination = $myhostname, localhost
inet_protocols = ipv4
alias_maps =
resolver_servers = 127.0.0.1:9
minimal_backoff_time = 1s
maximal_backoff_time = 2s
queue_run_delay = 1s
smtp_connect_timeout = 3s
smtp_helo_timeout = 10s
relaylim_destination_concurrency_limit = 1
oneshot_maximal_queue_lifetime = 0
transport_maps = texthash:$config_directory/transport
smtpd_error_sleep_time = 0s
"""

QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")


def message(n, sender="alice@example.org", to="bob@example.net",
            subject=None, body=None):
    """A complete message (LF line ends) with Message-ID, Date and From,
    so nothing is added for missing headers."""
    return (f"Message-ID: <e2e-{n}@example.org>\n"
            "Date: Mon, 1 Jan 2024 12:00:00 +0000\n"
            f"From: {sender}\nTo: {to}\n"
            f"Subject: {subject or f'e2e message {n}'}\n\n"
            + (body or f"body of message {n}\n.dot line\n")).encode()


def crlf(data):
    """LF line ends to CRLF, as the wire has them."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class Receiver(smtplab.Recorder):
    """Recorder whose DATA replies are scripted in order (then data_reply;
    LMTP: lmtp_replies per recipient), optionally slow; messages holds the
    accepted ones, attempts every DATA, mails every MAIL FROM."""

    def __init__(self, data_replies=(), delay=0.0, **kw):
        super().__init__(**kw)
        self.data_replies = list(data_replies)
        self.delay = delay
        self.attempts = []
        self.mails = []             # every MAIL FROM address
        self.in_data = 0            # DATA handlers running now
        self.max_in_data = 0        # most of them at once

    async def handle_MAIL(self, server, session, envelope, address, options):
        with self.lock:
            self.mails.append(address)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    async def handle_DATA(self, server, session, envelope):
        rec = {"peer": session.peer, "helo": session.host_name,
               "mail_from": envelope.mail_from,
               "rcpts": list(envelope.rcpt_tos),
               "content": envelope.original_content,
               "tls": session.ssl is not None,
               "login": session.auth_data if session.authenticated else None}
        with self.lock:
            self.attempts.append(rec)
            self.in_data += 1
            self.max_in_data = max(self.max_in_data, self.in_data)
            reply = (self.data_replies.pop(0) if self.data_replies
                     else self.data_reply)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
        finally:
            with self.lock:
                self.in_data -= 1
        if isinstance(server, LMTP):      # one reply per recipient
            reply = "\r\n".join(self.lmtp_replies.get(
                r, f"250 2.1.5 <{r}> delivered") for r in rec["rcpts"])
        if reply.startswith("2") or "\n2" in reply:
            with self.lock:
                self.messages.append(rec)
        return reply

    def deliveries(self):
        """[(Message-ID, rcpt)] of every accepted message, in order."""
        with self.lock:
            msgs = list(self.messages)
        out = []
        for m in msgs:
            mid = email.message_from_bytes(m["content"])["Message-ID"]
            out += [(mid, r) for r in m["rcpts"]]
        return out


class Case(ternlab.TestCase):
    """A lab for one whole tern; tests make peers first, then start()."""

    def setUp(self):
        super().setUp()
        self.peers = []
        self.table("transport", "")

    def tearDown(self):
        for p in self.peers:
            p.stop()

    # ---- configuration and start ----

    def table(self, name, text):
        """Replace a table file in the config directory (new inode)."""
        path = os.path.join(self.lab.config, name)
        self.lab.write(path + ".new", text, mode=0o644)
        os.replace(path + ".new", path)

    def smtpd_service(self, opts=""):
        """An smtpd inet service on a free port; returns (port, entry)."""
        port = ternlab.free_port()
        return port, f"127.0.0.1:{port} inet n - n - - smtpd\n{opts}"

    def start(self, main="", services="", maildrop=(), lab=None):
        """Write main.cf/master.cf and `tern start` (in self.lab or in
        another lab, e.g. a second tern). maildrop: messages (sender,
        rcpts, content) given to sendmail before ternd runs, so they all
        reach qmgr at once."""
        lab = lab or self.lab
        if not os.path.exists(os.path.join(lab.config, "transport")):
            lab.write("transport", "")
        lab.write("main.cf", lab.default_main_cf() + MAIN_CF + main)
        lab.write("master.cf", SERVICES + services)
        if maildrop:
            # the first start makes the spool; the mail waits in maildrop/
            if lab.start_tern() is not None:
                lab.stop_tern()
            for sender, rcpts, content in maildrop:
                self.sendmail(sender, rcpts, content, lab=lab)
        if lab.start_tern() is None:
            self.fail(f"tern start failed: {lab.last_start.stdout}"
                      f"{lab.last_start.stderr}{lab.maillog()}")
        self.addCleanup(lab.stop_tern, check=None)
        for port in re.findall(r"^127\.0\.0\.1:(\d+) inet", services, re.M):
            ternlab.wait_for_port(int(port))

    def second_lab(self):
        """Another lab (config, spool) for a second tern; closed after."""
        lab = ternlab.Lab()
        self.addCleanup(lab.close)
        return lab

    def peer(self, handler=None, **kw):
        """An aiosmtpd peer (smtplab.Peer), stopped after the test."""
        p = smtplab.Peer(handler=handler or Receiver(), **kw)
        self.peers.append(p)
        return p

    # ---- mail in ----

    def sendmail(self, sender, rcpts, content, lab=None):
        """Submit content (bytes) with the real sendmail -oi (a lone dot
        is content); checks exit 0."""
        res = subprocess.run([ternlab.program("sendmail"), "-oi", "-f", sender]
                             + list(rcpts), input=content,
                             capture_output=True, env=(lab or self.lab).env(),
                             timeout=60)
        self.assertEqual(res.returncode, 0, res.stderr)

    # ---- what happened ----

    def queue_files(self):
        found = []
        for q in QUEUES:
            d = os.path.join(self.lab.spool, q)
            if os.path.isdir(d):
                found += [f"{q}/{f}" for f in os.listdir(d)
                          if not f.startswith(("tmp.", "."))]
        return found

    def wait_empty(self, timeout=60, flush=False):
        """Wait until no message is left in any queue; flush asks qmgr to
        retry now on every poll (and lets ternd restart a killed qmgr)."""
        def empty():
            if flush:
                self.lab.tern("queue", "flush")
            return self.queue_files() == []
        try:
            ternlab.wait_until(empty, timeout=timeout,
                               interval=1 if flush else 0.1)
        except TimeoutError:
            self.fail(f"queue not empty after {timeout}s: "
                      f"{self.queue_files()}\n{self.lab.maillog()[-3000:]}")

    def qids(self, pattern):
        """Queue IDs of the log lines matching pattern, in log order."""
        return re.findall(r": ([0-9A-Za-z]+): " + pattern, self.lab.maillog())

    def children(self, name):
        """PIDs of ternd's children running program name."""
        return [pid for pid, argv in self.lab.children().items()
                if argv and os.path.basename(argv[0]) == name]

