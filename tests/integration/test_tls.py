"""STARTTLS and port 465 on tern's smtpd, against real TLS clients.

A throwaway CA is made per test run with the openssl CLI: an RSA and an ECDSA
server leaf for localhost/127.0.0.1 signed by it. Clients are `openssl
s_client` and Python's smtplib/ssl. Services: port 25 style (may), a
submission-style service with `-o smtpd_tls_security_level=encrypt`, and a
wrapper-mode service (port 465 style) - all on free loopback ports.
"""
import os
import shutil
import smtplib
import socket
import ssl
import subprocess
import time
import unittest

import ternlab
import seclab

OPENSSL = shutil.which("openssl")
CERTS = None            # directory of the per-run CA, made in setUpModule
CA_ = None


def setUpModule():
    """Make the CA and the leaves once for this run (seclab)."""
    global CERTS, CA_
    CA_ = seclab.CA(prefix="tern-tls-ca-")
    CERTS = CA_.dir
    san = "DNS:localhost,IP:127.0.0.1"
    CA_.leaf("rsa", san, key=seclab.RSA, cn="localhost")
    CA_.leaf("ec", san, cn="localhost")


def tearDownModule():
    CA_.close()


def cert(name):
    return os.path.join(CERTS, name)


class TLSCase(ternlab.TestCase):
    """A lab with three smtpd services: may, encrypt, wrapper mode."""

    extra_main = ""
    submission_opts = ""

    def setUp(self):
        self.p25 = ternlab.free_port()
        self.p587 = ternlab.free_port()
        self.p465 = ternlab.free_port()
        self.master_cf = (
            f"127.0.0.1:{self.p25} inet n - n - - smtpd\n"
            f"127.0.0.1:{self.p587} inet n - n - - smtpd\n"
            f"  -o smtpd_tls_security_level=encrypt{self.submission_opts}\n"
            f"127.0.0.1:{self.p465} inet n - n - - smtpd\n"
            f"  -o smtpd_tls_wrappermode=yes\n")
        self.main_cf = (
            "myhostname = mx.example.test\n"
            "smtpd_tls_security_level = may\n"
            f"smtpd_tls_cert_file = {cert('rsa.crt')}\n"
            f"smtpd_tls_key_file = {cert('rsa.key')}\n"
            f"smtpd_tls_eccert_file = {cert('ec.crt')}\n"
            f"smtpd_tls_eckey_file = {cert('ec.key')}\n"
            "smtpd_tls_loglevel = 1\n" + self.extra_main)
        super().setUp()
        if self.lab.start_tern() is None:
            self.fail(f"tern start failed: {self.lab.last_start.stderr}"
                      f"{self.lab.maillog()}")
        for port in (self.p25, self.p587, self.p465):
            ternlab.wait_for_port(port)

    def s_client(self, port, *args, starttls=True, stdin="QUIT\n"):
        """openssl s_client against a port; returns stdout+stderr text."""
        cmd = [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}",
               "-CAfile", cert("ca.crt"), "-crlf", "-ign_eof",
               "-servername", "localhost"]
        if starttls:
            cmd += ["-starttls", "smtp"]
        res = subprocess.run(cmd + list(args), input=stdin, text=True,
                             capture_output=True, timeout=60)
        return res.returncode, res.stdout + res.stderr

    def plain(self, port):
        """A plaintext client socket after the 220 greeting."""
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.addCleanup(s.close)
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"220 "))
        return s, f

    @staticmethod
    def reply(f):
        """One whole (multi-line) reply as text."""
        lines = []
        for _ in range(100):
            line = f.readline().decode()
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                break
        return "".join(lines)

    def client_ctx(self):
        ctx = ssl.create_default_context(cafile=cert("ca.crt"))
        return ctx

    def queued(self):
        """Text of every queue file in the spool's queue directories."""
        out = []
        for sub in ("incoming", "active", "deferred", "hold"):
            d = os.path.join(self.lab.spool, sub)
            for root, _, files in os.walk(d):
                for name in files:
                    with open(os.path.join(root, name), "rb") as f:
                        out.append(f.read().decode(errors="replace"))
        return "\n".join(out)


class TestStartTLS(TLSCase):
    extra_main = "smtpd_tls_received_header = yes\n"

    def test_s_client_sees_certificate_and_modern_protocol(self):
        rc, out = self.s_client(self.p25)
        self.assertEqual(rc, 0, out)
        self.assertIn("Verify return code: 0 (ok)", out)
        self.assertIn("CN = localhost", out)
        self.assertRegex(out, r"New, TLSv1\.[23], Cipher is")
        self.lab.wait_log("[127.0.0.1]: TLSv1.3 with cipher TLS_AES_256_GCM_"
                          "SHA384 (256/256 bits)")
        self.assertIn("Anonymous TLS connection established from ",
                      self.lab.maillog())

    def test_tls11_is_refused(self):
        rc, out = self.s_client(self.p25, "-tls1_1", "-cipher",
                                "DEFAULT@SECLEVEL=0")
        self.assertNotEqual(rc, 0, out)
        self.assertIn("New, (NONE), Cipher is (NONE)", out)
        self.assertIn("alert protocol version", out)
        self.lab.wait_log("SSL_accept error from ")
        self.assertIn("unsupported protocol", self.lab.maillog())

    def test_tls12_works(self):
        rc, out = self.s_client(self.p25, "-tls1_2")
        self.assertEqual(rc, 0, out)
        self.assertIn("Protocol  : TLSv1.2", out)

    def test_ecdsa_for_ecdsa_only_client(self):
        rc, out = self.s_client(self.p25, "-sigalgs", "ECDSA+SHA256")
        self.assertEqual(rc, 0, out)
        self.assertIn("Server public key is 256 bit", out)
        rc, out = self.s_client(self.p25, "-sigalgs",
                                "RSA-PSS+SHA256:RSA+SHA256")
        self.assertEqual(rc, 0, out)
        self.assertIn("Server public key is 2048 bit", out)

    def test_smtplib_verifies_and_received_has_tls_clause(self):
        with smtplib.SMTP("127.0.0.1", self.p25, timeout=30) as c:
            code, text = c.ehlo("client.example")
            self.assertIn(b"STARTTLS", text)
            c.starttls(context=self.client_ctx())
            code, text = c.ehlo("client.example")
            self.assertEqual(code, 250)
            self.assertNotIn(b"STARTTLS", text)     # not offered twice
            self.assertEqual(c.docmd("STARTTLS")[0], 554)
            c.sendmail("a@example.org", ["postmaster@localhost"],
                       b"Subject: tls\r\n\r\nbody\r\n")
        q = ternlab.wait_until(lambda: "using TLSv1.3" in self.queued()
                               and self.queued(), what="queued message")
        self.assertIn("(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 "
                      "(256/256 bits))", q)
        self.assertIn("with ESMTPS", q)

    def test_session_resumption(self):
        sess = self.lab.path("session.pem")
        rc, out = self.s_client(self.p25, "-sess_out", sess)
        self.assertEqual(rc, 0, out)
        self.assertIn("New, TLSv1.3", out)
        rc, out = self.s_client(self.p25, "-sess_in", sess)
        self.assertEqual(rc, 0, out)
        self.assertIn("Reused, TLSv1.3", out)

    def test_pipelined_command_after_starttls_never_runs(self):
        for injected in (b"RSET\r\n", b"MAIL FROM:<evil@x>\r\n",
                         b"RSET\r\nMAIL FROM:<evil@x>\r\n"):
            s, f = self.plain(self.p25)
            s.sendall(b"EHLO client.example\r\n")
            self.assertIn("STARTTLS", self.reply(f))
            s.sendall(b"STARTTLS\r\n" + injected)           # one write
            self.assertTrue(self.reply(f).startswith("220 2.0.0"))
            # Nothing more in plaintext: wrap the raw socket.
            t = self.client_ctx().wrap_socket(s, server_hostname="localhost")
            t.settimeout(1.5)
            with self.assertRaises((socket.timeout, TimeoutError)):
                extra = t.recv(1000)        # a reply to the injected command
                self.fail(f"unexpected reply {extra!r}")
            t.settimeout(10)
            tf = t.makefile("rb")
            t.sendall(b"RCPT TO:<postmaster@localhost>\r\n")
            # MAIL FROM:<evil@x> was never executed; the session is fresh.
            self.assertTrue(self.reply(tf).startswith("503 5.5.1"))
            t.sendall(b"EHLO again.example\r\n")
            self.assertTrue(self.reply(tf).startswith("250-mx.example.test"))
            t.sendall(b"QUIT\r\n")
            self.assertTrue(self.reply(tf).startswith("221"))
            t.close()
        log = self.lab.maillog()
        self.assertNotIn("from=<evil@x>", log)
        self.assertEqual(log.count("discarding a command pipelined before "
                                   "the TLS handshake"), 3)
        self.assertIn("discarding 20 bytes of plaintext sent before the TLS "
                      "handshake", log)


class TestEncryptLevel(TLSCase):
    def test_mail_refused_before_starttls(self):
        s, f = self.plain(self.p587)
        s.sendall(b"EHLO client.example\r\n")
        self.assertIn("250-STARTTLS", self.reply(f))
        for cmd in (b"MAIL FROM:<a@example.org>", b"RCPT TO:<b@localhost>",
                    b"DATA", b"VRFY postmaster"):
            s.sendall(cmd + b"\r\n")
            self.assertEqual(self.reply(f),
                             "530 5.7.0 Must issue a STARTTLS command first\r\n")
        s.sendall(b"NOOP\r\n")
        self.assertTrue(self.reply(f).startswith("250"))
        s.sendall(b"QUIT\r\n")
        self.assertTrue(self.reply(f).startswith("221"))
        self.assertEqual(self.queued(), "")

    def test_mail_accepted_after_starttls(self):
        with smtplib.SMTP("127.0.0.1", self.p587, timeout=30) as c:
            c.starttls(context=self.client_ctx())
            c.sendmail("a@example.org", ["postmaster@localhost"],
                       b"Subject: sub\r\n\r\nbody\r\n")
        ternlab.wait_until(lambda: "Subject: sub" in self.queued(),
                           what="queued message")


class TestFailClosed(TLSCase):
    """encrypt with an unusable certificate: 454 to STARTTLS, no mail."""
    submission_opts = " -o smtpd_tls_cert_file=/nonexistent/cert.pem" \
        " -o smtpd_tls_eccert_file="

    def test_no_certificate(self):
        s, f = self.plain(self.p587)
        s.sendall(b"EHLO client.example\r\n")
        self.reply(f)
        s.sendall(b"STARTTLS\r\n")
        self.assertEqual(self.reply(f), "454 4.7.0 TLS not available due to "
                         "local problem\r\n")
        s.sendall(b"MAIL FROM:<a@example.org>\r\n")
        self.assertTrue(self.reply(f).startswith("530 5.7.0"))
        self.lab.wait_log('smtpd_tls_cert_file: cannot open '
                          '"/nonexistent/cert.pem"')
        self.lab.wait_log("disabling TLS support")


class TestWrapperMode(TLSCase):
    def test_tls_from_the_first_byte(self):
        raw = socket.create_connection(("127.0.0.1", self.p465), timeout=10)
        t = self.client_ctx().wrap_socket(raw, server_hostname="localhost")
        self.addCleanup(t.close)
        f = t.makefile("rb")
        self.assertTrue(self.reply(f).startswith("220 mx.example.test"))
        t.sendall(b"EHLO client.example\r\n")
        self.assertNotIn("STARTTLS", self.reply(f))
        t.sendall(b"QUIT\r\n")
        self.assertTrue(self.reply(f).startswith("221"))

    def test_plaintext_client_gets_no_greeting(self):
        s = socket.create_connection(("127.0.0.1", self.p465), timeout=10)
        self.addCleanup(s.close)
        s.sendall(b"EHLO client.example\r\n")
        data = b""
        for _ in range(10):
            try:
                chunk = s.recv(1000)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
        self.assertNotIn(b"220", data)
        self.assertNotIn(b"250", data)

    def test_s_client_wrapper(self):
        rc, out = self.s_client(self.p465, starttls=False)
        self.assertEqual(rc, 0, out)
        self.assertIn("Verify return code: 0 (ok)", out)
        self.assertIn("220 mx.example.test", out)


if __name__ == "__main__":
    ternlab.main()
