"""Outbound TLS of the smtp delivery agent (smtp/smtp_starttls.c, tls/).

A throwaway CA is made per run with the openssl CLI, with server leaves
for mail.relay.test (the right name, also 127.0.0.1), for a wrong name,
a self-signed one and an expired one (signed with -days -1). Peers, all
on loopback: aiosmtpd with STARTTLS (one per certificate, recording
MAIL FROM, the TLS state of each delivery and the SNI), aiosmtpd without
STARTTLS, and a raw server whose STARTTLS answers 454 or breaks the
handshake. dnsstub gives mail.relay.test its address. The agent is
driven through the delivery-agent protocol (smtplab), each level set per
nexthop through smtp_tls_policy_maps (rewritten per case). Checked: the
outcome and reason per level and server, that required levels send
nothing (no MAIL FROM reaches the server), that may falls back to
plaintext, the TLS log lines, session reuse, and smtp_header_checks.
"""
import os
import re
import shutil
import socket
import ssl
import tempfile
import threading
import time

import ternlab
import seclab
import smtplab

CERTS = None
CA_ = None
HOST = "mail.relay.test"
NAME = f"{HOST}[127.0.0.1]"

BODY = (b"Received: from laptop (lan [192.168.1.5])\r\n"
        b"\tby mail.example.org with ESMTPSA\r\n"
        b"From: a@example.org\r\nTo: b@example.net\r\n"
        b"User-Agent: Thunderbird 115\r\n"
        b"X-Secret: internal-id-42\r\n"
        b"Subject: hello warnme\r\n\r\n"
        b"Received: this body line is not a header\r\n.dot line\r\n")


def setUpModule():
    """The CA, the leaves and the fingerprints, once per run (seclab)."""
    global CERTS, CA_
    CA_ = seclab.CA(subject="/CN=tern smtp test CA", prefix="tern-smtp-tls-")
    CERTS = CA_.dir
    leaves = {"good": (f"DNS:{HOST},IP:127.0.0.1", "2"),
              "wrong": ("DNS:wrong.example", "2"),
              "expired": (f"DNS:{HOST},IP:127.0.0.1", "-1"),
              "client": ("DNS:client.test", "2")}
    for name, (san, days) in leaves.items():
        CA_.leaf(name, san, days=days)
    CA_.self_signed("self", HOST, san=f"DNS:{HOST}")


def tearDownModule():
    CA_.close()


def cert(name):
    return os.path.join(CERTS, name)


def fingerprint(name):
    """Postfix's colon hex SHA-256 of a certificate."""
    return CA_.fingerprint(name)


def pubkey_fingerprint(name):
    """Colon hex SHA-256 of the DER SubjectPublicKeyInfo."""
    return CA_.pubkey_fingerprint(name)


class TlsRecorder(smtplab.Recorder):
    """Records every MAIL FROM and whether each delivery came over TLS."""

    def __init__(self):
        super().__init__()
        self.mails = []

    async def handle_MAIL(self, server, session, envelope, address, options):
        with self.lock:
            self.mails.append(address)
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 Ok"

    async def handle_DATA(self, server, session, envelope):
        reply = await super().handle_DATA(server, session, envelope)
        with self.lock:
            self.messages[-1]["tls"] = session.ssl is not None
        return reply


def server_ctx(name, sni_seen=None, ask_client=False):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert(f"{name}.crt"), cert(f"{name}.key"))
    if sni_seen is not None:
        ctx.sni_callback = lambda sock, sni, c: sni_seen.append(sni)
    if ask_client:
        ctx.load_verify_locations(cert("ca.crt"))
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


class RawServer:
    """Offers STARTTLS and then fails it: "454" refuses it, "break" says
    220 and sends garbage instead of a handshake. Accepts mail otherwise
    (plaintext), recording every command."""

    def __init__(self, mode):
        self.mode = mode
        self.commands = []
        self.messages = []
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
                return
            with conn:
                conn.settimeout(10)
                try:
                    self.session(conn, conn.makefile("rb"))
                except OSError:
                    pass

    def session(self, conn, f):
        conn.sendall(b"220 raw.test ESMTP\r\n")
        for _ in range(200):
            line = f.readline()
            if not line:
                return
            cmd = line.strip().decode(errors="replace")
            self.commands.append(cmd)
            verb = cmd.split(" ")[0].upper()
            if verb == "EHLO":
                conn.sendall(b"250-raw.test\r\n250-STARTTLS\r\n250 8BITMIME\r\n")
            elif verb == "STARTTLS" and self.mode == "454":
                conn.sendall(b"454 4.7.0 TLS not available due to local"
                             b" problem\r\n")
            elif verb == "STARTTLS":
                conn.sendall(b"220 2.0.0 Ready to start TLS\r\n")
                conn.sendall(b"this is not a TLS server hello\r\n" * 4)
                return
            elif verb == "DATA":
                conn.sendall(b"354 go ahead\r\n")
                data = b""
                while not data.endswith(b"\r\n.\r\n"):
                    chunk = f.readline()
                    if not chunk:
                        return
                    data += chunk
                self.messages.append(data)
                conn.sendall(b"250 2.0.0 Ok: queued\r\n")
            elif verb == "QUIT":
                conn.sendall(b"221 2.0.0 Bye\r\n")
                return
            else:
                conn.sendall(b"250 2.0.0 Ok\r\n")

    @property
    def mails(self):
        return [c for c in self.commands if c.upper().startswith("MAIL")]

    def stop(self):
        self.sock.close()


class TlsBase(ternlab.TestCase):
    """One agent; peers and dnsstub started per test; policy per case."""

    main_extra = ""

    def setUp(self):
        super().setUp()
        self.peers = []
        self.policy_path = self.lab.path("tls_policy")
        self.set_policy({})
        self.dns()
        main = ("myhostname = tern.test\n"
                "inet_interfaces = 127.0.0.1\n"
                "smtp_helo_timeout = 5s\nsmtp_connect_timeout = 3s\n"
                "smtp_starttls_timeout = 5s\n"
                "smtp_connection_cache_time_limit = 0\n"
                f"resolver_servers = 127.0.0.1:{self.dns_port}\n"
                "inet_protocols = ipv4\n"
                f"smtp_tls_CAfile = {cert('ca.crt')}\n"
                "smtp_tls_loglevel = 1\n"
                f"smtp_tls_policy_maps = texthash:{self.policy_path}\n"
                + self.main_extra)
        self.agent = smtplab.Agent(self.lab, main)

    def tearDown(self):
        for p in self.peers:
            p.stop()

    def dns(self):
        self.dns_port = smtplab.dns_stub(self.lab, {HOST: {"A": ["127.0.0.1"]}})

    def set_policy(self, entries):
        """Replace the policy table (new inode, so the agent re-reads it)."""
        tmp = self.policy_path + ".tmp"
        with open(tmp, "w") as f:
            for key, value in entries.items():
                f.write(f"{key} {value}\n")
        os.chmod(tmp, 0o644)
        os.rename(tmp, self.policy_path)

    def tls_peer(self, name, **kw):
        p = smtplab.Peer(handler=TlsRecorder(),
                         tls_context=server_ctx(name, **kw))
        p.mails = p.handler.mails
        self.peers.append(p)
        return p

    def plain_peer(self):
        p = smtplab.Peer(handler=TlsRecorder())
        p.mails = p.handler.mails
        self.peers.append(p)
        return p

    def raw_peer(self, mode):
        p = RawServer(mode)
        self.peers.append(p)
        return p

    def deliver(self, peer, policy=None):
        hop = f"[{HOST}]:{peer.port}"
        if policy is not None:
            self.set_policy({hop: policy})
        qid, replies = self.agent.deliver(hop, ["b@example.net"], BODY)
        self.assertEqual(len(replies), 1, replies)
        return qid, replies[0]


class TestLevels(TlsBase):
    """Each level against each kind of server."""

    def check(self, peer, policy, action, reason=None, tls=None):
        before = len(peer.mails)
        qid, r = self.deliver(peer, policy)
        self.assertEqual(r["action"], action, (policy, r))
        if reason is not None:
            self.assertRegex(r["reason"], reason, policy)
        if action == "deferred":
            self.assertEqual(len(peer.mails), before,
                             f"{policy}: MAIL FROM reached the server")
        if tls is not None:
            self.assertEqual(peer.messages[-1]["tls"], tls, policy)
        return qid, r

    def test_good_certificate(self):
        peer = self.tls_peer("good")
        fp = fingerprint("good")
        for policy in ("may", "encrypt", f"fingerprint match={fp}",
                       "verify", "secure", "verify match=nexthop",
                       f"secure match={HOST}"):
            with self.subTest(policy=policy):
                self.check(peer, policy, "delivered", "^250 ", tls=True)
        qid, r = self.check(peer, "none", "delivered", tls=False)
        log = self.lab.maillog()
        self.assertRegex(log, r"tern/smtp\[\d+\]: Verified TLS connection "
                         rf"established to {re.escape(NAME)}:{peer.port}: "
                         r"TLSv1\.3 with cipher \S+ \(\d+/\d+ bits\)")
        self.assertIn(f"Trusted TLS connection established to {NAME}:"
                      f"{peer.port}: TLSv1.3", log)

    def test_wrong_name(self):
        peer = self.tls_peer("wrong")
        for policy in ("may", "encrypt"):
            with self.subTest(policy=policy):
                self.check(peer, policy, "delivered", tls=True)
        for policy in ("verify", "secure", "verify match=hostname:nexthop"):
            with self.subTest(policy=policy):
                self.check(peer, policy, "deferred",
                           "^Server certificate not verified$")
        self.assertIn(f"certificate verification failed for {NAME}:"
                      f"{peer.port}: none of the names", self.lab.maillog())

    def test_self_signed_and_fingerprints(self):
        peer = self.tls_peer("self")
        self.check(peer, "may", "delivered", tls=True)
        self.assertIn(f"Untrusted TLS connection established to {NAME}:"
                      f"{peer.port}", self.lab.maillog())
        self.check(peer, "encrypt", "delivered", tls=True)
        for policy in ("verify", "secure"):
            with self.subTest(policy=policy):
                self.check(peer, policy, "deferred",
                           "^Server certificate not trusted$")
        fp, pk = fingerprint("self"), pubkey_fingerprint("self")
        other = fingerprint("good")
        for policy in (f"fingerprint match={fp}",
                       f"fingerprint match={other}|{pk.lower()}",
                       f"fingerprint match={fp.replace(':', '')}"):
            with self.subTest(policy=policy):
                self.check(peer, policy, "delivered", tls=True)
        self.check(peer, f"fingerprint match={other}", "deferred",
                   "^Server certificate not verified$")
        self.assertIn("fingerprint mismatch", self.lab.maillog())

    def test_expired(self):
        peer = self.tls_peer("expired")
        self.check(peer, "may", "delivered", tls=True)
        self.check(peer, "verify", "deferred",
                   "^Server certificate not trusted$")
        self.assertIn(f"certificate verification failed for {NAME}:"
                      f"{peer.port}: certificate has expired",
                      self.lab.maillog())

    def test_no_starttls_offered(self):
        peer = self.plain_peer()
        self.check(peer, "may", "delivered", tls=False)
        for policy in ("encrypt", "verify", "secure",
                       f"fingerprint match={fingerprint('good')}"):
            with self.subTest(policy=policy):
                qid, r = self.check(
                    peer, policy, "deferred",
                    re.escape(f"TLS is required, but was not offered by host "
                              f"{NAME}") + "$")
                self.assertEqual(r["dsn"], "4.7.4")

    def test_starttls_refused_454(self):
        peer = self.raw_peer("454")
        self.check(peer, "may", "delivered")
        self.assertEqual(len(peer.messages), 1)
        n = len(peer.commands)
        qid, r = self.check(peer, "encrypt", "deferred", re.escape(
            f"TLS is required, but host {NAME} refused to start TLS: "
            "454 4.7.0 TLS not available due to local problem"))
        self.assertEqual(r["dsn"], "4.7.0")
        self.assertEqual([c.split()[0].upper() for c in peer.commands[n:]],
                         ["EHLO", "STARTTLS", "QUIT"])

    def test_handshake_broken(self):
        peer = self.raw_peer("break")
        qid, r = self.check(peer, "may", "delivered")
        self.assertEqual(len(peer.messages), 1)
        log = self.lab.maillog()
        self.assertIn(f"SSL_connect error to {NAME}:{peer.port}: ", log)
        self.assertIn(f"{NAME}:{peer.port}: Cannot start TLS: handshake "
                      "failure; retrying without TLS", log)
        for policy in ("encrypt", "verify"):
            with self.subTest(policy=policy):
                qid, r = self.check(peer, policy, "deferred",
                                    "^Cannot start TLS: handshake failure$")
                self.assertEqual(r["dsn"], "4.7.5")

    def test_bad_policies_defer_without_connecting(self):
        peer = self.tls_peer("good")
        for policy, reason in (
                ("dane", "TLS security level \"dane\" is not supported yet"),
                ("dane-only", "\"dane-only\" is not supported yet"),
                ("bogus", "invalid TLS security level \"bogus\""),
                ("verify frobnicate=1", "invalid attribute \"frobnicate=1\""),
                ("encrypt protocols=TLSv9", "unknown TLS protocol \"TLSv9\""),
                ("encrypt ciphers=superb", "unknown TLS cipher grade"),
                ("fingerprint", "fingerprint needs a match list")):
            with self.subTest(policy=policy):
                before = peer.connections
                self.check(peer, policy, "deferred", re.escape(reason))
                self.assertEqual(peer.connections, before)

    def test_protocols_attribute(self):
        peer = self.tls_peer("good")
        self.check(peer, "encrypt protocols=TLSv1.2", "delivered", tls=True)
        self.assertIn(f"TLS connection established to {NAME}:{peer.port}: "
                      "TLSv1.2 with cipher", self.lab.maillog())


class TestPolicyDefaults(TlsBase):
    """main.cf's level where the table has no entry; the table overrides."""

    main_extra = "smtp_tls_security_level = encrypt\n"

    def test_main_cf_level_and_override(self):
        peer = self.plain_peer()
        qid, r = self.deliver(peer)
        self.assertEqual(r["action"], "deferred")
        self.assertIn("TLS is required, but was not offered", r["reason"])
        self.assertEqual(peer.mails, [])
        qid, r = self.deliver(peer, "may")
        self.assertEqual(r["action"], "delivered", r)
        self.assertFalse(peer.messages[-1]["tls"])


class TestSessionCacheAndSni(TlsBase):
    main_extra = ("smtp_tls_loglevel = 2\n"
                  "smtp_tls_servername = hostname\n")

    def test_resumption_and_sni(self):
        sni = []
        peer = self.tls_peer("good", sni_seen=sni)
        for i in range(2):
            qid, r = self.deliver(peer, "verify")
            self.assertEqual(r["action"], "delivered", r)
        self.assertEqual(sni, [HOST, HOST])
        self.lab.wait_log(f"{NAME}:{peer.port}: Reusing old session")
        cache = os.path.join(self.lab.spool, "private", "smtp_scache")
        self.assertTrue(os.listdir(cache))


class TestHeaderChecks(TlsBase):
    def setUp(self):
        self.tables = tempfile.mkdtemp(prefix="tern-hc-")
        os.chmod(self.tables, 0o755)
        path = os.path.join(self.tables, "smtp_header_checks")
        with open(path, "w") as f:
            f.write("/^Received: .*/     IGNORE\n"
                    "/^User-Agent: .*/   IGNORE\n"
                    "/^X-Secret:/        REPLACE X-Secret: hidden\n"
                    "/^Subject: .*warnme/ WARN subject looks odd\n"
                    "/^To:/              REJECT not on output\n")
        os.chmod(path, 0o644)
        self.main_extra = f"smtp_header_checks = regexp:{path}\n"
        super().setUp()
        self.addCleanup(shutil.rmtree, self.tables, True)

    def test_received_and_user_agent_removed(self):
        peer = self.tls_peer("good")
        qid, r = self.deliver(peer, "may")
        self.assertEqual(r["action"], "delivered", r)
        got = peer.messages[-1]["content"]
        head, _, body = got.partition(b"\r\n\r\n")
        self.assertNotIn(b"Received:", head)
        self.assertNotIn(b"by mail.example.org", head)   # its folded line
        self.assertNotIn(b"User-Agent", head)
        self.assertIn(b"X-Secret: hidden\r\n", head)
        self.assertNotIn(b"internal-id-42", got)
        self.assertIn(b"To: b@example.net\r\n", head)
        self.assertTrue(head.endswith(b"\r\nSubject: hello warnme"), head)
        self.assertEqual(body, b"Received: this body line is not a header"
                         b"\r\n.dot line\r\n")
        log = self.lab.maillog()
        self.assertIn(f"{qid}: warning: header Subject: hello warnme: "
                      "subject looks odd", log)
        self.assertIn(f"{qid}: replace: header X-Secret: internal-id-42: "
                      "X-Secret: hidden", log)
        self.assertIn("unsupported action in smtp_header_checks map: REJECT",
                      log)


if __name__ == "__main__":
    ternlab.main()
