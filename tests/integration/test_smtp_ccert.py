"""The smtp client's own certificate (smtp_tls_cert_file/key_file and
smtp_tls_eccert_file/eckey_file, tls/tls_client.c).

A throwaway CA (seclab) issues client certificates for tern (RSA and
ECDSA), a server certificate for the peer, and a second CA issues a
client certificate the peer must not trust. The peer is a small threaded
Python ssl server on 127.0.0.1 speaking enough SMTP (EHLO, STARTTLS,
MAIL, RCPT, DATA, QUIT) whose context has verify_mode = CERT_REQUIRED and
the test CA: it records, per connection, whether STARTTLS was asked for,
the subject of the client certificate (getpeercert()) or the handshake
error, every command and every message. The agent is driven through the
delivery-agent protocol (smtplab.Agent) with the level per nexthop from
smtp_tls_policy_maps. Checked: with a client certificate the peer gets
the message and sees tern's subject; without one (or with one from
another CA) the handshake fails at the peer and `encrypt` defers with
nothing sent; a key that does not match its certificate or a missing key
file makes the engine unusable: `encrypt` defers ("our TLS engine is
unavailable", the log names the parameter and the file) without STARTTLS
or MAIL, `may` goes on in plaintext as Postfix documents.
"""
import os
import re
import socket
import ssl
import threading

import ternlab
import seclab
import smtplab

CA_ = None
OTHER_CA = None
BODY = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: ccert\r\n\r\nhi\r\n"


def setUpModule():
    """The CAs and leaves, once per run."""
    global CA_, OTHER_CA
    CA_ = seclab.CA(subject="/CN=tern ccert test CA", prefix="tern-ccert-")
    CA_.leaf("server", "DNS:peer.test,IP:127.0.0.1")
    CA_.leaf("rsa", "DNS:tern.test", key=seclab.RSA, cn="tern rsa client")
    CA_.leaf("ec", "DNS:tern.test", cn="tern ecdsa client")
    CA_.leaf("ec2", "DNS:tern.test", cn="tern second ecdsa client")
    with open(CA_.path("combined.pem"), "w") as out:
        for part in ("ec.crt", "ec.key"):
            with open(CA_.path(part)) as f:
                out.write(f.read())
    os.chmod(CA_.path("combined.pem"), 0o644)
    OTHER_CA = seclab.CA(subject="/CN=untrusted CA", prefix="tern-ccert-x-")
    OTHER_CA.leaf("stranger", "DNS:tern.test", cn="tern stranger")


def tearDownModule():
    CA_.close()
    OTHER_CA.close()


class Lines:
    """A line reader over a (possibly TLS) socket; bounded by its timeout."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def readline(self):
        while b"\n" not in self.buf and len(self.buf) < 65536:
            chunk = self.sock.recv(4096)
            if not chunk:
                break
            self.buf += chunk
        line, sep, self.buf = self.buf.partition(b"\n")
        return line + sep


class CertPeer:
    """SMTP with STARTTLS; the TLS context requires a client certificate
    from the test CA. One connection at a time, each recorded."""

    def __init__(self, protocol=None):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(CA_.path("server.crt"), CA_.path("server.key"))
        ctx.load_verify_locations(CA_.path("ca.crt"))
        ctx.verify_mode = ssl.CERT_REQUIRED
        if protocol is not None:
            ctx.minimum_version = ctx.maximum_version = protocol
        self.ctx = ctx
        self.sessions = []
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return              # stop() closed the listener
            rec = {"starttls": False, "tls": None, "subject": None,
                   "error": None, "commands": [], "messages": []}
            with self.lock:
                self.sessions.append(rec)
            conn.settimeout(10)
            try:
                self.session(conn, rec)
            except (OSError, ValueError) as e:
                rec["error"] = rec["error"] or repr(e)
            finally:
                conn.close()

    def session(self, conn, rec):
        conn.sendall(b"220 peer.test ESMTP\r\n")
        lines = Lines(conn)
        for _ in range(100):
            line = lines.readline()
            if not line:
                return
            cmd = line.strip().decode(errors="replace")
            rec["commands"].append(cmd)
            verb = cmd.split(" ")[0].upper()
            if verb == "EHLO":
                tls = b"" if rec["tls"] else b"250-STARTTLS\r\n"
                conn.sendall(b"250-peer.test\r\n" + tls + b"250 8BITMIME\r\n")
            elif verb == "STARTTLS" and not rec["tls"]:
                rec["starttls"] = True
                conn.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                try:
                    conn = self.ctx.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    rec["error"] = str(e)
                    return
                rec["tls"] = conn.version()
                cert = conn.getpeercert()
                rec["subject"] = dict(x[0] for x in cert["subject"])
                lines = Lines(conn)
            elif verb == "DATA":
                conn.sendall(b"354 go ahead\r\n")
                data = b""
                while not data.endswith(b"\r\n.\r\n") and len(data) < 1 << 20:
                    chunk = lines.readline()
                    if not chunk:
                        return
                    data += chunk
                rec["messages"].append(data)
                conn.sendall(b"250 2.0.0 Ok: queued\r\n")
            elif verb == "QUIT":
                conn.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                conn.sendall(b"250 2.0.0 Ok\r\n")

    def mails(self):
        with self.lock:
            return [c for s in self.sessions for c in s["commands"]
                    if c.upper().startswith("MAIL")]

    def stop(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)    # wakes accept() (Linux)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(10)
        if self.thread.is_alive():
            raise AssertionError("the peer thread did not stop")


class CcertBase(ternlab.TestCase):
    """The agent with the client certificate parameters of each test."""

    def start(self, ccert="", protocol=None):
        self.peer = CertPeer(protocol)
        self.addCleanup(self.peer.stop)
        self.policy = self.lab.path("tls_policy")
        self.hop = f"[127.0.0.1]:{self.peer.port}"
        self.set_level("encrypt")
        main = ("myhostname = tern.test\n"
                "inet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n"
                "smtp_helo_timeout = 5s\nsmtp_connect_timeout = 3s\n"
                "smtp_starttls_timeout = 5s\n"
                "smtp_connection_cache_time_limit = 0\n"
                f"smtp_tls_CAfile = {CA_.path('ca.crt')}\n"
                "smtp_tls_loglevel = 1\n"
                f"smtp_tls_policy_maps = texthash:{self.policy}\n" + ccert)
        self.agent = smtplab.Agent(self.lab, main)

    def set_level(self, level):
        """Replace the policy table (new inode, so the agent re-reads it)."""
        tmp = self.policy + ".tmp"
        with open(tmp, "w") as f:
            f.write(f"{self.hop} {level}\n")
        os.chmod(tmp, 0o644)
        os.rename(tmp, self.policy)

    def deliver(self, level="encrypt"):
        """One message to the peer; the reply and the peer's last session."""
        self.set_level(level)
        before = len(self.peer.sessions)
        qid, replies = self.agent.deliver(self.hop, ["b@example.net"], BODY)
        self.assertEqual(len(replies), 1, replies)
        # the agent replies after QUIT; the peer may still be closing
        ternlab.wait_until(lambda: len(self.peer.sessions) > before,
                           what="the peer's session")
        return replies[0], self.peer.sessions[-1]


class TestClientCertificate(CcertBase):
    """The peer requires a certificate and sees tern's."""

    def check_sent(self, cn, level="encrypt"):
        r, sess = self.deliver(level)
        self.assertEqual(r["action"], "delivered", r)
        self.assertIsNone(sess["error"], sess)
        self.assertTrue(sess["tls"], sess)
        self.assertEqual(sess["subject"], {"commonName": cn})
        self.assertEqual(len(sess["messages"]), 1)
        self.assertTrue(sess["messages"][0].endswith(b"\r\n\r\nhi\r\n.\r\n"))

    def test_rsa_cert_and_key_file(self):
        self.start(f"smtp_tls_cert_file = {CA_.path('rsa.crt')}\n"
                   f"smtp_tls_key_file = {CA_.path('rsa.key')}\n")
        self.check_sent("tern rsa client")
        self.check_sent("tern rsa client", level="may")
        self.assertIn(f"TLS connection established to 127.0.0.1[127.0.0.1]:"
                      f"{self.peer.port}", self.lab.maillog())

    def test_rsa_cert_over_tls12(self):
        self.start(f"smtp_tls_cert_file = {CA_.path('rsa.crt')}\n"
                   f"smtp_tls_key_file = {CA_.path('rsa.key')}\n",
                   protocol=ssl.TLSVersion.TLSv1_2)
        self.check_sent("tern rsa client")
        self.assertEqual(self.peer.sessions[-1]["tls"], "TLSv1.2")

    def test_ecdsa_eccert_and_eckey_file(self):
        self.start(f"smtp_tls_eccert_file = {CA_.path('ec.crt')}\n"
                   f"smtp_tls_eckey_file = {CA_.path('ec.key')}\n")
        self.check_sent("tern ecdsa client")

    def test_key_in_the_certificate_file(self):
        # smtp_tls_key_file defaults to $smtp_tls_cert_file
        self.start(f"smtp_tls_cert_file = {CA_.path('combined.pem')}\n")
        self.check_sent("tern ecdsa client")


# TLS 1.3: the peer refuses after the client's side of the handshake is
# done; tern sees it when it reads the reply to its EHLO over TLS
LOST = (r"^lost connection with 127\.0\.0\.1\[127\.0\.0\.1\] while "
        r"performing the EHLO handshake$")


class TestNoClientCertificate(CcertBase):
    """The peer's handshake fails: encrypt defers and sends nothing."""

    def check_refused(self, reason=None):
        r, sess = self.deliver("encrypt")
        self.assertEqual(r["action"], "deferred", r)
        if reason is not None:
            self.assertRegex(r["reason"], reason)
        self.assertTrue(sess["starttls"], sess)
        self.assertIsNone(sess["tls"], sess)
        self.assertIsNone(sess["subject"], sess)
        self.assertTrue(sess["error"], sess)
        self.assertEqual(self.peer.mails(), [])
        self.assertEqual(sess["messages"], [])
        return sess

    def test_none_configured_tls13(self):
        # TLS 1.3: the client finishes its side before the server refuses
        self.start()
        sess = self.check_refused(LOST)
        self.assertRegex(sess["error"], r"(?i)certificate")

    def test_none_configured_tls12(self):
        # TLS 1.2: the handshake itself fails at both ends
        self.start(protocol=ssl.TLSVersion.TLSv1_2)
        self.check_refused("^Cannot start TLS: handshake failure$")

    def test_certificate_from_another_ca(self):
        self.start(f"smtp_tls_cert_file = {OTHER_CA.path('stranger.crt')}\n"
                   f"smtp_tls_key_file = {OTHER_CA.path('stranger.key')}\n")
        sess = self.check_refused(LOST)
        self.assertRegex(sess["error"], r"(?i)certificate verify failed")


class TestBadKey(CcertBase):
    """An unusable certificate/key pair is a configuration error."""

    UNAVAILABLE = "^TLS is required, but our TLS engine is unavailable$"

    def check_unusable(self, log_text):
        r, sess = self.deliver("encrypt")
        self.assertEqual(r["action"], "deferred", r)
        self.assertEqual(r["dsn"], "4.7.5")
        self.assertRegex(r["reason"], self.UNAVAILABLE)
        self.assertFalse(sess["starttls"], sess)
        self.assertEqual(self.peer.mails(), [])
        self.assertEqual(sess["messages"], [])
        log = self.lab.maillog()
        self.assertRegex(log, r"tern/smtp\[\d+\]: warning: "
                         + re.escape(log_text) + r".*disabling TLS support")
        # may: Postfix's documented fallback, plaintext and no certificate
        r, sess = self.deliver("may")
        self.assertEqual(r["action"], "delivered", r)
        self.assertFalse(sess["starttls"], sess)
        self.assertEqual(len(sess["messages"]), 1)

    def test_key_of_another_certificate(self):
        cert, key = CA_.path("ec.crt"), CA_.path("ec2.key")
        self.start(f"smtp_tls_cert_file = {cert}\n"
                   f"smtp_tls_key_file = {key}\n")
        self.check_unusable(f'smtp_tls_key_file: cannot load a private key '
                            f'from "{key}"')

    def test_key_of_another_type(self):
        cert, key = CA_.path("rsa.crt"), CA_.path("ec.key")
        self.start(f"smtp_tls_cert_file = {cert}\n"
                   f"smtp_tls_key_file = {key}\n")
        self.check_unusable(f'smtp_tls_key_file: the key in "{key}" does '
                            f'not match the certificate in "{cert}" '
                            f'(smtp_tls_cert_file)')

    def test_ec_key_of_another_certificate(self):
        cert, key = CA_.path("ec2.crt"), CA_.path("ec.key")
        self.start(f"smtp_tls_eccert_file = {cert}\n"
                   f"smtp_tls_eckey_file = {key}\n")
        self.check_unusable(f'smtp_tls_eckey_file: cannot load a private key '
                            f'from "{key}"')

    def test_missing_key_file(self):
        key = CA_.path("no-such.key")
        self.start(f"smtp_tls_cert_file = {CA_.path('rsa.crt')}\n"
                   f"smtp_tls_key_file = {key}\n")
        self.check_unusable(f'smtp_tls_key_file: cannot open "{key}": '
                            'No such file or directory')


if __name__ == "__main__":
    ternlab.main()
