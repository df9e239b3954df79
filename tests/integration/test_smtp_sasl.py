"""Integration tests for the smtp client's SASL authentication (smtp/smtp_sasl.c).

The agent runs under a real ternd and is driven through the delivery-agent
protocol by smtplab's client (as test_smtp.py does); its peers are aiosmtpd
servers offering AUTH PLAIN and LOGIN whose authenticator records every
credential it receives, so a test can say which server got which user name
and password, and that a server not in the password table got none. One
end-to-end case goes sendmail -> pickup -> qmgr -> smtp -> aiosmtpd with the
self-hosted reference's per-sender relays (sender_dependent_relayhost_maps
+ smtp_sender_dependent_authentication). Everything runs on loopback.
"""
import base64
import os
import re

import ternlab
import smtplab
import test_smtp_tls as tlslab      # its per-run CA and server contexts

BODY = b"From: a@example.org\r\nTo: b@example.net\r\nSubject: t\r\n\r\nhi\r\n"
NAME = "127.0.0.1[127.0.0.1]"


Authenticator = smtplab.Authenticator     # records (mechanism, login, pw)


def setUpModule():
    """The throwaway CA of test_smtp_tls (made once per run)."""
    tlslab.setUpModule()


def tearDownModule():
    tlslab.tearDownModule()


class AuthRecorder(smtplab.Recorder):
    """Recorder that also keeps the authenticated user of each message
    (no attribute may start with auth_: aiosmtpd takes those for
    mechanisms)."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.logins = []
        self.tls = []

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.logins.append(session.auth_data
                               if session.authenticated else None)
            self.tls.append(session.ssl is not None)
        return await super().handle_DATA(server, session, envelope)


class SaslBase(ternlab.TestCase):
    """A lab with the agent; AUTH peers stopped after each test. Peers are
    made first, then the password table names their ports (file tables
    are re-read when they change)."""
    main_extra = ("myhostname = tern.test\n"
                  "inet_interfaces = 127.0.0.1\n"
                  "smtp_helo_timeout = 5s\n"
                  "smtp_connect_timeout = 3s\n"
                  "smtp_sasl_auth_enable = yes\n"
                  "smtp_sasl_password_maps = texthash:$config_directory/"
                  "sasl_passwd\n")
    master_extra = ""

    def setUp(self):
        super().setUp()
        self.peers = []
        self.table("")
        self.agent = smtplab.Agent(self.lab, self.main_extra + self.extra_main(),
                                   self.master_extra)

    def extra_main(self):
        return ""

    def tearDown(self):
        for p in self.peers:
            p.stop()

    def table(self, text, name="sasl_passwd"):
        """Replace a table file (new inode, so the agent sees the change).
        Readable by mail_owner: the agent opens tables after dropping
        privileges."""
        path = os.path.join(self.lab.config, name)
        self.lab.write(path + ".new", text, mode=0o644)
        os.replace(path + ".new", path)

    def auth_peer(self, users, mechanisms=None, offer_auth=True, **kw):
        """An aiosmtpd peer with AUTH (PLAIN and LOGIN unless excluded)."""
        auth = Authenticator(users)
        # aiosmtpd offers AUTH without TLS only with auth_require_tls off
        kw.setdefault("auth_require_tls", not offer_auth)
        if mechanisms is not None:
            kw["auth_exclude_mechanism"] = [m for m in ("PLAIN", "LOGIN")
                                            if m not in mechanisms]
        if offer_auth:
            kw["authenticator"] = auth
        peer = smtplab.Peer(handler=AuthRecorder(), **kw)
        peer.auth = auth
        self.peers.append(peer)
        return peer

    def deliver(self, port, sender="sender@example.org", rcpt="r@example.net"):
        """One request to [127.0.0.1]:port; returns (qid, first reply)."""
        qid, replies = self.agent.deliver(f"[127.0.0.1]:{port}", [rcpt], BODY,
                                          sender=sender)
        self.assertEqual(len(replies), 1, replies)
        return qid, replies[0]

    def assertNoSecret(self, *secrets):
        log = self.lab.maillog()
        for s in secrets:
            self.assertNotIn(s, log)
            self.assertNotIn(base64.b64encode(s.encode()).decode(), log)


class TestPlaintextAllowed(SaslBase):
    """The site allows PLAIN/LOGIN without TLS (Postfix's own default)."""

    def extra_main(self):
        return "smtp_sasl_security_options = noanonymous\n"

    def test_right_credentials_accepted(self):
        for mech in ("PLAIN", "LOGIN"):
            with self.subTest(mech=mech):
                peer = self.auth_peer({"relayuser": "s3cret-pw"},
                                      mechanisms=[mech])
                self.table(f"[127.0.0.1]:{peer.port}  relayuser:s3cret-pw\n")
                qid, reply = self.deliver(peer.port)
                self.assertEqual(reply["action"], "delivered", reply)
                self.assertEqual(peer.auth.seen,
                                 [(mech, "relayuser", "s3cret-pw")])
                self.assertEqual(peer.handler.logins, ["relayuser"])
        self.assertNoSecret("s3cret-pw")

    def test_wrong_credentials_defer_with_reply(self):
        peer = self.auth_peer({"other": "right-pw"})
        self.table(f"[127.0.0.1]:{peer.port}  other:wrong-pw\n")
        qid, reply = self.deliver(peer.port)
        reason = (f"SASL authentication failed; server {NAME} said: "
                  "535 5.7.8 Authentication credentials invalid")
        self.assertEqual((reply["action"], reply["dsn"], reply["reason"]),
                         ("deferred", "4.7.8", reason))
        self.assertEqual(peer.messages, [])
        self.assertEqual([s[1:] for s in peer.auth.seen],
                         [("other", "wrong-pw")])
        self.lab.wait_log(f"{qid}: to=<r@example.net>, relay={NAME}:"
                          f"{peer.port}, ")
        line = [ln for ln in self.lab.maillog().splitlines()
                if f"{qid}: to=" in ln][0]
        self.assertRegex(line, r"dsn=4\.7\.8, status=deferred \(" +
                         re.escape(reason) + r"\)$")
        self.assertNoSecret("wrong-pw")

    def test_credentials_only_to_the_named_host(self):
        named = self.auth_peer({"relayuser": "s3cret-pw"})
        stranger = self.auth_peer({"relayuser": "s3cret-pw"})
        # the host key "127.0.0.1" is not in the table: only [host]:port is
        self.table(f"[127.0.0.1]:{named.port}  relayuser:s3cret-pw\n")
        qid, reply = self.deliver(stranger.port)
        self.assertEqual(reply["action"], "delivered", reply)
        self.assertEqual(stranger.auth.seen, [])
        self.assertEqual(stranger.handler.logins, [None])
        qid, reply = self.deliver(named.port)
        self.assertEqual(reply["action"], "delivered", reply)
        self.assertEqual(named.auth.seen, [("PLAIN", "relayuser", "s3cret-pw")])

    def test_host_name_key(self):
        peer = self.auth_peer({"hostuser": "host-pw"})
        self.table("127.0.0.1  hostuser:host-pw\n")
        qid, reply = self.deliver(peer.port)
        self.assertEqual(reply["action"], "delivered", reply)
        self.assertEqual([s[1:] for s in peer.auth.seen],
                         [("hostuser", "host-pw")])

    def test_server_without_auth_gets_the_mail_unauthenticated(self):
        peer = self.auth_peer({}, offer_auth=False)
        self.table(f"[127.0.0.1]:{peer.port}  relayuser:s3cret-pw\n")
        qid, reply = self.deliver(peer.port)
        self.assertEqual(reply["action"], "delivered", reply)
        self.assertEqual(peer.handler.logins, [None])

    def test_table_lookup_error_defers(self):
        peer = self.auth_peer({"relayuser": "s3cret-pw"})
        os.unlink(os.path.join(self.lab.config, "sasl_passwd"))
        qid, reply = self.deliver(peer.port)
        self.assertEqual((reply["action"], reply["dsn"]), ("deferred", "4.3.0"))
        self.assertIn("password table lookup error", reply["reason"])
        self.assertEqual(peer.messages, [])
        self.lab.wait_log("warning: smtp_sasl_password_maps lookup of ")


class TestDefaultOptions(SaslBase):
    """tern's defaults: no PLAIN or LOGIN on a plaintext session."""

    def test_plaintext_server_gets_no_credentials(self):
        peer = self.auth_peer({"relayuser": "s3cret-pw"})
        self.table(f"[127.0.0.1]:{peer.port}  relayuser:s3cret-pw\n")
        qid, reply = self.deliver(peer.port)
        self.assertEqual((reply["action"], reply["dsn"]), ("deferred", "4.7.0"))
        self.assertEqual(reply["reason"],
                         "SASL authentication failed; cannot authenticate to "
                         f"server {NAME}: no mechanism available")
        self.assertEqual(peer.auth.seen, [])
        self.assertEqual(peer.messages, [])
        self.assertNoSecret("s3cret-pw")


class TestOverTls(SaslBase):
    """STARTTLS first (level encrypt), then AUTH with tern's defaults."""
    level = "encrypt"

    def extra_main(self):
        return f"smtp_tls_security_level = {self.level}\n"

    def tls_peer(self, users, **kw):
        """A peer offering AUTH only after STARTTLS (aiosmtpd's default)."""
        return self.auth_peer(users, auth_require_tls=True,
                              tls_context=tlslab.server_ctx("good"), **kw)

    def test_plain_after_starttls(self):
        for mech in ("PLAIN", "LOGIN"):
            with self.subTest(mech=mech):
                peer = self.tls_peer({"relayuser": "s3cret-pw"},
                                     mechanisms=[mech])
                self.table(f"[127.0.0.1]:{peer.port}  relayuser:s3cret-pw\n")
                qid, reply = self.deliver(peer.port)
                self.assertEqual(reply["action"], "delivered", reply)
                self.assertEqual(peer.auth.seen,
                                 [(mech, "relayuser", "s3cret-pw")])
                self.assertEqual(peer.handler.logins, ["relayuser"])
                self.assertEqual(peer.handler.tls, [True])
        self.assertNoSecret("s3cret-pw")

    def test_wrong_credentials_over_tls(self):
        peer = self.tls_peer({"relayuser": "right"})
        self.table(f"[127.0.0.1]:{peer.port}  relayuser:wrong\n")
        qid, reply = self.deliver(peer.port)
        self.assertEqual((reply["action"], reply["dsn"]), ("deferred", "4.7.8"))
        self.assertEqual(peer.messages, [])

    def test_no_starttls_no_credentials(self):
        # AUTH offered in plaintext, STARTTLS not offered at all
        peer = self.auth_peer({"relayuser": "s3cret-pw"})
        self.table(f"[127.0.0.1]:{peer.port}  relayuser:s3cret-pw\n")
        qid, reply = self.deliver(peer.port)
        self.assertEqual(reply["action"], "deferred", reply)
        self.assertEqual(peer.auth.seen, [])
        self.assertEqual(peer.messages, [])
        self.assertNoSecret("s3cret-pw")


class TestOverOpportunisticTls(TestOverTls):
    """Level may: TLS when offered, and no PLAIN/LOGIN when it is not."""
    level = "may"

    def test_no_starttls_no_credentials(self):
        peer = self.auth_peer({"relayuser": "s3cret-pw"})
        self.table(f"[127.0.0.1]:{peer.port}  relayuser:s3cret-pw\n")
        qid, reply = self.deliver(peer.port)
        self.assertEqual((reply["action"], reply["reason"]),
                         ("deferred", "SASL authentication failed; cannot "
                          f"authenticate to server {NAME}: no mechanism "
                          "available"))
        self.assertEqual(peer.auth.seen, [])
        self.assertEqual(peer.messages, [])


class TestMechanismFilter(SaslBase):
    """smtp_sasl_mechanism_filter picks among what the server offers."""

    def extra_main(self):
        return ("smtp_sasl_security_options = noanonymous\n"
                "smtp_sasl_mechanism_filter = !plain, login\n")

    def test_filter_chooses_login(self):
        peer = self.auth_peer({"relayuser": "s3cret-pw"})
        self.table(f"[127.0.0.1]:{peer.port}  relayuser:s3cret-pw\n")
        qid, reply = self.deliver(peer.port)
        self.assertEqual(reply["action"], "delivered", reply)
        self.assertEqual(peer.auth.seen, [("LOGIN", "relayuser", "s3cret-pw")])

    def test_filter_leaves_nothing(self):
        peer = self.auth_peer({"relayuser": "s3cret-pw"}, mechanisms=["PLAIN"])
        self.table(f"[127.0.0.1]:{peer.port}  relayuser:s3cret-pw\n")
        qid, reply = self.deliver(peer.port)
        self.assertEqual(reply["action"], "deferred", reply)
        self.assertEqual(reply["reason"],
                         f"SASL authentication failed: server {NAME} offered "
                         "no compatible authentication mechanisms for this "
                         "type of connection security")
        self.lab.wait_log(f"warning: {NAME}:{peer.port} offered no supported "
                          "AUTH mechanisms: 'PLAIN'")
        self.assertEqual(peer.auth.seen, [])


class TestPerSender(SaslBase):
    """smtp_sender_dependent_authentication: the sender's keys first."""

    def extra_main(self):
        return ("smtp_sasl_security_options = noanonymous\n"
                "smtp_sender_dependent_authentication = yes\n"
                "recipient_delimiter = +\n"
                "smtp_connection_cache_time_limit = 30s\n")

    def test_each_sender_its_own_credentials(self):
        users = {"alice": "alice-pw", "other": "other-pw",
                 "default": "default-pw"}
        a = self.auth_peer(users)
        b = self.auth_peer(users)
        self.table("alice@example.org        alice:alice-pw\n"
                   "@other.example           other:other-pw\n"
                   f"[127.0.0.1]:{a.port}    default:default-pw\n"
                   f"[127.0.0.1]:{b.port}    default:default-pw\n")
        for port, sender in ((a.port, "alice+x@example.org"),
                             (b.port, "bob@other.example"),
                             (a.port, "carol@example.org"),
                             (a.port, "")):
            qid, reply = self.deliver(port, sender=sender)
            self.assertEqual(reply["action"], "delivered", (sender, reply))
        # a new session for each sender: the cache never mixes credentials
        self.assertEqual([s[1:] for s in a.auth.seen],
                         [("alice", "alice-pw"), ("default", "default-pw"),
                          ("default", "default-pw")])
        self.assertEqual(a.handler.logins, ["alice", "default", "default"])
        self.assertEqual([s[1:] for s in b.auth.seen], [("other", "other-pw")])


class TestEndToEnd(SaslBase):
    """sendmail -> pickup -> qmgr -> smtp -> two providers, per sender."""

    master_extra = ("pickup    unix  n       -       n       1       1       pickup\n"
                    "qmgr      unix  n       -       n       300     1       qmgr\n")

    def extra_main(self):
        return ("smtp_sasl_security_options = noanonymous\n"
                "smtp_sender_dependent_authentication = yes\n"
                "sender_dependent_relayhost_maps = texthash:$config_directory/"
                "sender_relay\n"
                "mydestination =\n"
                "queue_run_delay = 1s\n"
                "minimal_backoff_time = 1s\n"
                "maximal_backoff_time = 2s\n")

    def test_sendmail_through_two_providers(self):
        users = {"alice": "alice-pw", "relay": "relay-pw"}
        provider = self.auth_peer(users)
        default = self.auth_peer(users)
        self.table("alice@example.org       alice:alice-pw\n"
                   f"[127.0.0.1]:{default.port}  relay:relay-pw\n")
        self.table(f"alice@example.org  [127.0.0.1]:{provider.port}\n"
                   f"@example.org       [127.0.0.1]:{default.port}\n",
                   name="sender_relay")
        body = "Subject: test\n\nhello\n"
        self.lab.run("sendmail", "-f", "alice@example.org", "x@example.net",
                     input=body, check=0)
        self.lab.run("sendmail", "-f", "bob@example.org", "y@example.net",
                     input=body, check=0)
        ternlab.wait_until(lambda: len(provider.messages) == 1
                           and len(default.messages) == 1, timeout=30,
                           what="both messages relayed")
        self.assertEqual(provider.handler.logins, ["alice"])
        self.assertEqual(provider.messages[0]["rcpts"], ["x@example.net"])
        self.assertEqual(default.handler.logins, ["relay"])
        self.assertEqual(default.messages[0]["rcpts"], ["y@example.net"])
        self.assertEqual([s[1:] for s in provider.auth.seen],
                         [("alice", "alice-pw")])
        self.assertEqual([s[1:] for s in default.auth.seen],
                         [("relay", "relay-pw")])
        self.assertNoSecret("alice-pw", "relay-pw")

    def test_wrong_password_deferred_in_mailq(self):
        peer = self.auth_peer({"alice": "the-right-pw"})
        self.table("alice@example.org  alice:a-wrong-pw\n")
        self.table(f"alice@example.org  [127.0.0.1]:{peer.port}\n",
                   name="sender_relay")
        self.lab.run("sendmail", "-f", "alice@example.org", "x@example.net",
                     input="Subject: test\n\nhello\n", check=0)
        reason = (f"SASL authentication failed; server {NAME} said: "
                  "535 5.7.8 Authentication credentials invalid")
        self.lab.wait_log(f"dsn=4.7.8, status=deferred ({reason})",
                          timeout=30)
        ternlab.wait_until(lambda: reason in self.lab.run(
            "sendmail", "-bp").stdout, timeout=30, what="reason in mailq")
        self.assertEqual(peer.messages, [])
        self.assertNoSecret("a-wrong-pw")


if __name__ == "__main__":
    ternlab.main()
