"""SMTP AUTH on tern's smtpd through libsasl2, against real clients.

Each test gets a sasldb made with saslpasswd2 (sasl2-bin) in its lab and an
smtpd.conf (auxprop/sasldb, mech_list PLAIN LOGIN) in the directory
cyrus_sasl_config_path names. Services on free loopback ports:
  plain   AUTH off (the main.cf default)
  auth    -o smtpd_sasl_auth_enable=yes (+ the Received: header clause and
          the old AUTH= form)
  guess   AUTH on with small error limits and a 1s error sleep
  sub     the reference submission recipe: AUTH on and
          smtpd_client_restrictions=permit_sasl_authenticated,reject
127.0.0.1 is kept out of mynetworks, so only AUTH can make relaying legal.
Clients are Python's smtplib and raw sockets; every loop is bounded.
"""
import base64
import os
import re
import smtplib
import socket
import ssl
import time
import unittest

import ternlab
import seclab

SASLPASSWD2 = seclab.SASLPASSWD2
OPENSSL = seclab.OPENSSL
REALM = "EXAMPLE.TEST"
USER = "alice"
SECRET = "secret"
PLAIN_OK = base64.b64encode(f"\0{USER}\0{SECRET}".encode()).decode()
PLAIN_BAD = base64.b64encode(f"\0{USER}\0wrong".encode()).decode()
HOST = r"\S+\[127\.0\.0\.1\]"
# fail2ban's postfix filter, mode "auth" (COMPAT.md 4e), after "warning: "
FAIL2BAN_AUTH = re.compile(
    r"warning: [^[]*\[127\.0\.0\.1\](:\d+)?: SASL (LOGIN|PLAIN|"
    r"(?:CRAM|DIGEST)-MD5) authentication failed:")


class SaslLab(ternlab.TestCase):
    """The lab: sasldb, smtpd.conf and the services; no tests of its own."""

    def extra_services(self):
        """More master.cf entries (subclasses); may add to self.ports."""
        return ""

    def setUp(self):
        self.ports = {n: ternlab.free_port()
                      for n in ("plain", "auth", "guess", "sub")}
        extra = self.extra_services()
        p = self.ports
        self.master_cf = (
            f"127.0.0.1:{p['plain']} inet n - n - - smtpd\n"
            f"127.0.0.1:{p['auth']} inet n - n - - smtpd\n"
            "  -o smtpd_sasl_auth_enable=yes\n"
            "  -o smtpd_sasl_authenticated_header=yes\n"
            "  -o broken_sasl_auth_clients=yes\n"
            f"127.0.0.1:{p['guess']} inet n - n - - smtpd\n"
            "  -o smtpd_sasl_auth_enable=yes\n"
            "  -o smtpd_soft_error_limit=2 -o smtpd_hard_error_limit=5\n"
            "  -o smtpd_error_sleep_time=1s\n"
            f"127.0.0.1:{p['sub']} inet n - n - - smtpd\n"
            "  -o smtpd_sasl_auth_enable=yes\n"
            "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject\n"
            + extra)
        super().setUp()
        sasl_dir = self.lab.path("sasl")
        seclab.make_sasldb(sasl_dir, REALM, {USER: SECRET})
        self.lab.write("main.cf", self.lab.read("main.cf") + (
            "myhostname = mx.example.test\n"
            "mydestination = $myhostname, localhost\n"
            "mynetworks = 192.0.2.0/24\n"
            # local users are the system's accounts (root): no aliases db
            "alias_maps =\n"
            f"cyrus_sasl_config_path = {sasl_dir}\n"
            f"smtpd_sasl_local_domain = {REALM}\n"))
        if self.lab.start_tern() is None:
            self.fail(f"tern start failed: {self.lab.last_start.stderr}"
                      f"{self.lab.maillog()}")
        for port in p.values():
            ternlab.wait_for_port(port)

    # ---- helpers ----

    def client(self, name):
        s = smtplib.SMTP("127.0.0.1", self.ports[name], timeout=30)
        self.addCleanup(self.close_quietly, s)
        s.ehlo("client.example.net")
        return s

    @staticmethod
    def close_quietly(s):
        try:
            s.close()
        except OSError:
            pass

    def raw(self, name):
        """A plaintext socket after the greeting and EHLO."""
        sock = socket.create_connection(("127.0.0.1", self.ports[name]),
                                        timeout=30)
        self.addCleanup(sock.close)
        f = sock.makefile("rb")
        self.assertTrue(f.readline().startswith(b"220 "))
        sock.sendall(b"EHLO client.example.net\r\n")
        self.reply(f)
        return sock, f

    @staticmethod
    def reply(f):
        """One whole (multi-line) reply as text ("" at end of file)."""
        lines = []
        for _ in range(100):
            line = f.readline().decode()
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                break
        return "".join(lines)

    def send_mail(self, s, rcpt="bob@example.net"):
        """MAIL/RCPT/DATA; returns the queue ID from the 250 reply."""
        s.mail("alice@example.test")
        code, text = s.rcpt(rcpt)
        self.assertEqual(code, 250, text)
        code, text = s.data(b"Subject: t\r\n\r\nhello\r\n")
        self.assertEqual(code, 250, text)
        return text.decode().split()[-1]


@unittest.skipUnless(os.access(SASLPASSWD2, os.X_OK),
                     "saslpasswd2 (sasl2-bin) is not installed")
class SaslCase(SaslLab):
    """AUTH on plaintext sessions."""

    def test_not_advertised_when_disabled(self):
        s = self.client("plain")
        self.assertFalse(s.has_extn("auth"))
        code, text = s.docmd("AUTH", "PLAIN " + PLAIN_OK)
        self.assertEqual((code, text.decode()),
                         (503, "5.5.1 Error: authentication not enabled"))

    def test_ehlo_keywords(self):
        sock, f = self.raw("auth")
        sock.sendall(b"EHLO client.example.net\r\n")
        text = self.reply(f)
        self.assertIn("250-AUTH PLAIN LOGIN\r\n", text)
        self.assertIn("250-AUTH=PLAIN LOGIN\r\n", text)   # broken clients
        sock, f = self.raw("guess")
        sock.sendall(b"EHLO client.example.net\r\n")
        text = self.reply(f)
        self.assertIn("250-AUTH PLAIN LOGIN\r\n", text)
        self.assertNotIn("AUTH=", text)

    def test_plain_login_relays_and_is_recorded(self):
        s = self.client("auth")
        # unauthenticated: no relaying from outside mynetworks
        s.mail("alice@example.test")
        code, text = s.rcpt("bob@example.net")
        # Postfix's default smtpd_relay_restrictions end in
        # defer_unauth_destination: 450 4.7.1
        self.assertEqual(code, 450, text)
        self.assertIn(b"Relay access denied", text)
        s.rset()
        code, text = s.login(f"{USER}", SECRET)     # smtplib picks PLAIN
        self.assertEqual((code, text), (235, b"2.7.0 Authentication successful"))
        qid = self.send_mail(s)
        self.lab.wait_log(f"{qid}: client=")
        self.assertRegex(self.lab.maillog(),
                         rf"{qid}: client={HOST}, sasl_method=PLAIN, "
                         rf"sasl_username={USER}@{re.escape(REALM)}\n")
        show = self.lab.tern("queue", "show", qid, check=0).stdout
        self.assertIn(f"sasl_method: PLAIN\n", show)
        self.assertIn(f"sasl_username: {USER}@{REALM}\n", show)
        self.assertIn(f"(Authenticated sender: {USER}@{REALM})", show)
        self.assertRegex(show, r"with ESMTPA id ")

    def test_login_mechanism(self):
        for initial in (True, False):
            s = self.client("guess")
            s.user, s.password = USER, SECRET
            code, text = s.auth("LOGIN", s.auth_login,
                                initial_response_ok=initial)
            self.assertEqual(code, 235, text)
            qid = self.send_mail(s)
            self.lab.wait_log(f"{qid}: client=")
            self.assertRegex(self.lab.maillog(),
                             rf"{qid}: client={HOST}, sasl_method=LOGIN, "
                             rf"sasl_username={USER}@{re.escape(REALM)}\n")
            s.quit()

    def test_failure_reply_and_fail2ban_line(self):
        s = self.client("auth")
        s.user, s.password = USER, "wrong"
        with self.assertRaises(smtplib.SMTPAuthenticationError) as cm:
            s.auth("PLAIN", s.auth_plain)
        self.assertEqual(cm.exception.smtp_code, 535)
        self.assertEqual(cm.exception.smtp_error,
                         b"5.7.8 Error: authentication failed: "
                         b"authentication failure")
        with self.assertRaises(smtplib.SMTPAuthenticationError):
            s.auth("LOGIN", s.auth_login, initial_response_ok=False)
        self.lab.wait_log("SASL LOGIN authentication failed")
        log = self.lab.maillog()
        self.assertRegex(log, rf"warning: {HOST}: SASL PLAIN authentication "
                         rf"failed: authentication failure, sasl_username="
                         rf"{USER}@{re.escape(REALM)}\n")
        hits = [m.group(2) for line in log.splitlines()
                if (m := FAIL2BAN_AUTH.search(line))]
        self.assertEqual(hits, ["PLAIN", "LOGIN"])
        # a failed login grants nothing
        s.mail("alice@example.test")
        code, _ = s.rcpt("bob@example.net")
        self.assertEqual(code, 450)         # defer_unauth_destination

    def test_cancel_and_bad_base64(self):
        sock, f = self.raw("auth")
        cases = [
            (b"AUTH LOGIN\r\n", "334 VXNlcm5hbWU6"),
            (b"*\r\n", "501 5.7.0 Authentication aborted"),
            (b"AUTH PLAIN !!!!\r\n", "501 5.5.2 Cannot decode response"),
            (b"AUTH LOGIN\r\n", "334 VXNlcm5hbWU6"),
            (b"YWxpY2U\r\n", "501 5.5.2 Cannot decode response"),
            (b"AUTH\r\n", "501 5.5.4 Syntax: AUTH mechanism"),
            (b"AUTH CRAM-MD5\r\n", "535 5.7.8 Error: authentication failed:"),
            (b"AUTH PLAIN " + PLAIN_OK.encode() + b"\r\n",
             "235 2.7.0 Authentication successful"),
            (b"AUTH PLAIN " + PLAIN_OK.encode() + b"\r\n",
             "503 5.5.1 Error: already authenticated"),
        ]
        for send, want in cases:
            sock.sendall(send)
            self.assertTrue(self.reply(f).startswith(want), (send, want))
        self.lab.wait_log("SASL CRAM-MD5 authentication failed")
        self.assertRegex(self.lab.maillog(),
                         rf"warning: {HOST}: SASL LOGIN authentication "
                         rf"aborted\n")

    def test_auth_in_mail_transaction(self):
        sock, f = self.raw("auth")
        sock.sendall(b"MAIL FROM:<alice@example.test>\r\n")
        self.assertTrue(self.reply(f).startswith("250"))
        sock.sendall(b"AUTH PLAIN " + PLAIN_OK.encode() + b"\r\n")
        self.assertEqual(self.reply(f),
                         "503 5.5.1 Error: MAIL transaction in progress\r\n")

    def test_guessing_hits_error_limit(self):
        """Soft limit 2, hard limit 5, sleep 1s: slowed, then cut off.

        The 421 follows the fifth failure unasked: the server checks the
        error count before it reads the next command."""
        sock, f = self.raw("guess")
        replies, times = [], []
        for _ in range(5):
            start = time.monotonic()
            sock.sendall(b"AUTH PLAIN " + PLAIN_BAD.encode() + b"\r\n")
            replies.append(self.reply(f))
            times.append(time.monotonic() - start)
        for text in replies:
            self.assertTrue(text.startswith("535 5.7.8 Error: authentication "
                                            "failed: authentication failure"),
                            text)
        self.assertRegex(self.reply(f), r"^421 4\.7\.0 mx\.example\.test "
                                        r"Error: too many errors\r\n$")
        self.assertEqual(f.readline(), b"")  # disconnected
        self.assertTrue(all(t < 0.9 for t in times[:2]), times)
        self.assertTrue(all(t >= 0.9 for t in times[2:]), times)
        self.lab.wait_log("too many errors after AUTH from")
        self.assertRegex(self.lab.maillog(),
                         rf"disconnect from {HOST} ehlo=1 auth=0/5 "
                         rf"commands=1/6\n")

    # smtpd_client_restrictions through the restriction engine
    # (smtpd_restrict.c); with smtpd_delay_reject they run at RCPT.
    def test_submission_recipe(self):
        # without AUTH the client restrictions refuse the client at RCPT
        s = self.client("sub")
        s.mail("alice@example.test")
        code, text = s.rcpt("root@mx.example.test")
        self.assertEqual(code, 554, text)
        self.assertIn(b"Client host rejected: Access denied", text)
        s.quit()
        # with AUTH it may send, to us and onwards
        s = self.client("sub")
        s.login(USER, SECRET)
        self.send_mail(s, "root@mx.example.test")
        self.send_mail(s, "bob@example.net")


@unittest.skipUnless(os.access(SASLPASSWD2, os.X_OK) and OPENSSL,
                     "saslpasswd2 (sasl2-bin) or openssl is not installed")
class SaslTLSCase(SaslLab):
    """AUTH and STARTTLS: security options by TLS state, tls_auth_only."""

    def extra_services(self):
        ca = seclab.CA(prefix="tern-sasl-tls-")
        self.addCleanup(ca.close)
        crt, key = ca.self_signed("cert", "mx.example.test")
        for name in ("tls", "only", "both"):
            self.ports[name] = ternlab.free_port()
        tls = (f"  -o smtpd_tls_security_level=may"
               f" -o smtpd_tls_cert_file={crt}"
               f" -o smtpd_tls_key_file={key}\n"
               "  -o smtpd_sasl_auth_enable=yes\n")
        return (
            f"127.0.0.1:{self.ports['tls']} inet n - n - - smtpd\n" + tls +
            "  -o smtpd_sasl_security_options=noanonymous,noplaintext\n"
            "  -o smtpd_sasl_tls_security_options=noanonymous\n"
            f"127.0.0.1:{self.ports['only']} inet n - n - - smtpd\n" + tls +
            "  -o smtpd_tls_auth_only=yes\n"
            f"127.0.0.1:{self.ports['both']} inet n - n - - smtpd\n" + tls)

    def starttls(self, s):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s.starttls(context=ctx)
        s.ehlo("client.example.net")

    def test_tls_security_options(self):
        s = self.client("tls")
        self.assertFalse(s.has_extn("auth"))        # noplaintext: none left
        code, text = s.docmd("AUTH", "PLAIN " + PLAIN_OK)
        self.assertEqual(code, 503, text)
        self.starttls(s)
        self.assertEqual(s.esmtp_features.get("auth", "").split(),
                         ["PLAIN", "LOGIN"])
        s.login(USER, SECRET)
        qid = self.send_mail(s)
        show = self.lab.tern("queue", "show", qid, check=0).stdout
        self.assertIn("protocol: ESMTPSA\n", show)
        self.assertIn(f"sasl_username: {USER}@{REALM}\n", show)

    def test_tls_auth_only(self):
        s = self.client("only")
        self.assertFalse(s.has_extn("auth"))
        code, text = s.docmd("AUTH", "PLAIN " + PLAIN_OK)
        self.assertEqual((code, text.decode()),
                         (504, "5.5.4 Encryption required for requested "
                               "authentication mechanism"))
        self.starttls(s)
        self.assertTrue(s.has_extn("auth"))
        code, _ = s.login(USER, SECRET)
        self.assertEqual(code, 235)

    def test_plaintext_login_does_not_survive_starttls(self):
        s = self.client("both")
        s.login(USER, SECRET)
        self.starttls(s)
        s.mail("alice@example.test")
        code, text = s.rcpt("bob@example.net")
        self.assertEqual(code, 450, text)       # the login is gone
        s.rset()
        s.login(USER, SECRET)                   # and may be made again
        code, text = s.docmd("AUTH", "PLAIN " + PLAIN_OK)
        self.assertEqual((code, text.decode()),
                         (503, "5.5.1 Error: already authenticated"))
        self.send_mail(s)


if __name__ == "__main__":
    ternlab.main()
