"""End to end, issue 5: mail received by tern's own smtpd travels through
the queue, qmgr and the smtp agent of the same tern to a real receiver
(aiosmtpd). Services on free 127.0.0.1 ports: "mx" (port 25's role) and
"submission" with the reference's -o lines (STARTTLS required, AUTH via a
saslpasswd2-made sasldb, clients must authenticate). 127.0.0.1 is kept out
of mynetworks, so it is an outside client. Clients: Python's smtplib,
swaks and raw sockets. Checked at the receiver: a relay-domain message is
unchanged except for the added Received header, an authenticated
submission arrives, open-relay attempts never arrive, and kill -9 of
smtpd during DATA and right after the 250 delivers only acknowledged
messages, each once.
"""
import os
import re
import shutil
import signal
import smtplib
import socket
import ssl
import subprocess
import unittest

import ternlab
import seclab
import e2elab
from e2elab import message, crlf

REALM = "EXAMPLE.TEST"
USER, SECRET = "alice", "secret"
CA = None


def setUpModule():
    global CA
    CA = seclab.CA(prefix="tern-e2e-in-")
    CA.leaf("mx", "DNS:tern.example,IP:127.0.0.1")


def tearDownModule():
    CA.close()


@unittest.skipUnless(seclab.have_sasldb_tools(), "saslpasswd2 missing")
class InboundTest(e2elab.Case):

    def setUp(self):
        super().setUp()
        self.rx = e2elab.Receiver()
        self.sink = self.peer(handler=self.rx)
        sasl_dir = self.lab.path("sasl")
        seclab.make_sasldb(sasl_dir, REALM, {USER: SECRET})
        self.mx, mx = self.smtpd_service()
        self.sub, sub = self.smtpd_service(
            "  -o syslog_name=tern/submission\n"
            "  -o smtpd_tls_security_level=encrypt\n"
            "  -o smtpd_sasl_auth_enable=yes\n"
            "  -o smtpd_tls_auth_only=yes\n"
            "  -o smtpd_reject_unlisted_recipient=no\n"
            "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject\n"
            "  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject\n")
        self.table("transport",
                   f"relay.example relay:[127.0.0.1]:{self.sink.port}\n")
        self.start(main=(
            "mynetworks = 192.0.2.0/24\n"
            "relay_domains = relay.example\n"
            f"relayhost = [127.0.0.1]:{self.sink.port}\n"
            # local mail is discarded: it must never reach the receiver
            "local_transport = discard:local\n"
            "local_recipient_maps =\n"
            "smtpd_tls_security_level = may\n"
            f"smtpd_tls_cert_file = {CA.path('mx.crt')}\n"
            f"smtpd_tls_key_file = {CA.path('mx.key')}\n"
            f"cyrus_sasl_config_path = {sasl_dir}\n"
            f"smtpd_sasl_local_domain = {REALM}\n"), services=mx + sub)

    def smtp(self, port):
        s = smtplib.SMTP("127.0.0.1", port, timeout=30)
        self.addCleanup(self.close_quietly, s)
        s.ehlo("client.example.net")
        return s

    @staticmethod
    def close_quietly(s):
        try:
            s.close()
        except OSError:
            pass

    def split_received(self, content):
        """(our Received header, the rest) of a message at the receiver."""
        self.assertTrue(content.startswith(b"Received: "), content[:200])
        m = re.match(rb"Received: [^\r\n]*\r\n(?:[ \t][^\r\n]*\r\n)*", content)
        return m.group(0), content[m.end():]

    def test_relay_domain_unchanged_but_received(self):
        """Port 25 role: a message for a relay domain reaches the receiver
        byte for byte, with one Received header on top."""
        content = message(1, to="user@relay.example",
                          body="..dot\n\xe9 8-bit\nlast\n").replace(
                              b"\xc3\xa9", b"\xe9")
        s = self.smtp(self.mx)
        s.sendmail("someone@example.org", ["user@relay.example"],
                   crlf(content))
        s.quit()
        self.wait_empty(timeout=30)
        self.assertEqual(len(self.rx.messages), 1)
        m = self.rx.messages[0]
        self.assertEqual(m["rcpts"], ["user@relay.example"])
        received, rest = self.split_received(m["content"])
        self.assertEqual(rest, crlf(content))
        self.assertRegex(received.decode(),
                         r"^Received: from client\.example\.net \(\S+ "
                         r"\[127\.0\.0\.1\]\)\r\n\tby tern\.example \(tern\) "
                         r"with ESMTP id \w+\r\n\tfor <user@relay\.example>;")

    @unittest.skipUnless(shutil.which("swaks"), "swaks is not installed")
    def test_swaks_to_relay_domain(self):
        """swaks as the client: the body arrives as sent."""
        res = subprocess.run(
            ["swaks", "--server", "127.0.0.1", "--port", str(self.mx),
             "--from", "someone@example.org", "--to", "s@relay.example",
             "--helo", "swaks.example", "--header", "Subject: via swaks",
             "--body", "swaks body line"],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.wait_empty(timeout=30)
        self.assertEqual([m["rcpts"] for m in self.rx.messages],
                         [["s@relay.example"]])
        content = self.rx.messages[0]["content"]
        self.assertIn(b"Subject: via swaks\r\n", content)
        self.assertIn(b"\r\n\r\nswaks body line\r\n", content)
        self.assertIn(b"from swaks.example", content)

    def test_submission_auth_after_starttls_reaches_outside(self):
        """The reference submission service: MAIL before STARTTLS is
        refused, AUTH is offered only after it; the authenticated
        message reaches the outside receiver."""
        s = self.smtp(self.sub)
        self.assertFalse(s.has_extn("auth"))
        code, text = s.docmd("MAIL", "FROM:<alice@example.test>")
        self.assertEqual(code, 530, text)
        ctx = ssl.create_default_context(cafile=CA.path("ca.crt"))
        s.starttls(context=ctx)
        s.ehlo("client.example.net")
        self.assertTrue(s.has_extn("auth"))
        s.login(USER, SECRET)
        content = message(2, sender="alice@example.test",
                          to="friend@elsewhere.example")
        s.sendmail("alice@example.test", ["friend@elsewhere.example"],
                   crlf(content))
        s.quit()
        self.wait_empty(timeout=30)
        self.assertEqual([m["rcpts"] for m in self.rx.messages],
                         [["friend@elsewhere.example"]])
        received, rest = self.split_received(self.rx.messages[0]["content"])
        self.assertEqual(rest, crlf(content))
        self.assertIn(b"with ESMTPSA id", received)
        self.assertRegex(self.lab.maillog(),
                         rf"tern/submission/smtpd\[\d+\]: \w+: client=\S+"
                         rf"\[127\.0\.0\.1\], sasl_method=(PLAIN|LOGIN), "
                         rf"sasl_username={USER}@{REALM}")

    def test_open_relay_attempts_never_arrive(self):
        """From outside mynetworks: every relay trick is refused or stays
        local (discarded); only the control message for the relay domain
        reaches the receiver. Unauthenticated submission relays nothing."""
        tricks = ["user@other.example", "user%other.example@tern.example",
                  "@tern.example:user@other.example",
                  "user@other.example@tern.example",
                  '"user@other.example"@tern.example',
                  "user@[192.0.2.1]"]
        s = self.smtp(self.mx)
        accepted = []
        for rcpt in tricks:
            s.rset()
            s.mail("spammer@example.org")
            code, _ = s.rcpt(f"<{rcpt}>")
            if code == 250:
                accepted.append(rcpt)
                code, _ = s.data(crlf(message(f"t{len(accepted)}")))
                self.assertEqual(code, 250)
        self.assertNotIn("user@other.example", accepted)
        self.assertNotIn("user@[192.0.2.1]", accepted)
        s.rset()
        s.sendmail("someone@example.org", ["ctl@relay.example"],
                   crlf(message("control")))
        s.quit()
        sub = self.smtp(self.sub)
        sub.starttls(context=ssl.create_default_context(
            cafile=CA.path("ca.crt")))
        sub.ehlo("client.example.net")
        code, _ = sub.docmd("MAIL", "FROM:<spammer@example.org>")
        if code == 250:
            code, _ = sub.rcpt("user@other.example")
        self.assertGreaterEqual(code, 500)
        self.wait_empty(timeout=30)
        self.assertEqual([m["rcpts"] for m in self.rx.messages],
                         [["ctl@relay.example"]])
        self.assertIn("Relay access denied", self.lab.maillog())

    def smtpd_pid(self):
        found = re.findall(r"tern/smtpd\[(\d+)\]: connect from",
                           self.lab.maillog())
        return int(found[-1])

    def raw_transaction(self, rcpt):
        sock = socket.create_connection(("127.0.0.1", self.mx), timeout=30)
        self.addCleanup(sock.close)
        f = sock.makefile("rb")
        for cmd in (None, b"EHLO client.example.net", b"MAIL FROM:<a@example.org>",
                    f"RCPT TO:<{rcpt}>".encode(), b"DATA"):
            if cmd:
                sock.sendall(cmd + b"\r\n")
            for _ in range(50):
                line = f.readline()
                if line[3:4] != b"-":
                    break
            self.assertIn(line[:1], (b"2", b"3"), (cmd, line))
        return sock, f

    def test_kill_smtpd_during_data_and_after_250(self):
        """kill -9 of smtpd in the middle of DATA: nothing arrives; right
        after its 250: that message arrives, once."""
        sock, _ = self.raw_transaction("half@relay.example")
        sock.sendall(crlf(message("half"))[:60])
        ternlab.wait_until(lambda: "connect from" in self.lab.maillog())
        os.kill(self.smtpd_pid(), signal.SIGKILL)
        self.lab.wait_log("killed by signal 9")
        sock, f = self.raw_transaction("whole@relay.example")
        sock.sendall(crlf(message("whole")) + b".\r\n")
        reply = f.readline()
        self.assertTrue(reply.startswith(b"250 "), reply)
        os.kill(self.smtpd_pid(), signal.SIGKILL)
        self.lab.wait_log("killed by signal 9", count=2)
        s = self.smtp(self.mx)
        s.sendmail("a@example.org", ["after@relay.example"],
                   crlf(message("after")))
        s.quit()
        self.wait_empty(timeout=30)
        self.assertEqual(sorted(self.rx.deliveries()),
                         [("<e2e-after@example.org>", "after@relay.example"),
                          ("<e2e-whole@example.org>", "whole@relay.example")])


if __name__ == "__main__":
    ternlab.main()
