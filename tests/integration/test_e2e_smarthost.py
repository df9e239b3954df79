"""End to end, issue 6: the smart-host recipes through one real tern.

Mail given to `sendmail` goes through pickup and qmgr to the smtp agent,
which relays via `relayhost = [127.0.0.1]:PORT` (the reference's
`[mail.relay.com]:587` shape) with `smtp_tls_security_level = encrypt`,
`smtp_sasl_auth_enable = yes` and `smtp_sasl_password_maps`. Smart hosts:
aiosmtpd with STARTTLS and AUTH PLAIN/LOGIN (its authenticator records
every credential), and tern's own smtpd in a second tern instance
(STARTTLS + AUTH from a sasldb). Also the per-sender relay of the
self-hosted reference (sender_dependent_relayhost_maps +
smtp_sender_dependent_authentication) with two providers, and the
downgrades at `encrypt`: a receiver without STARTTLS, one answering 454.
Certificates come from a throwaway CA (seclab).
"""
import ssl
import unittest

import ternlab
import seclab
import smtplab
import e2elab
from e2elab import message, crlf

CA = None
NAME = "127.0.0.1[127.0.0.1]"
SENDER = "alice@example.org"
SASL_MAIN = ("smtp_tls_security_level = encrypt\n"
             "smtp_sasl_auth_enable = yes\n"
             "smtp_sasl_password_maps = texthash:$config_directory/"
             "sasl_passwd\n"
             "smtp_sasl_security_options = noanonymous\n"
             "smtp_tls_loglevel = 1\n")


def setUpModule():
    global CA
    CA = seclab.CA(prefix="tern-e2e-sh-")
    CA.leaf("relay", "DNS:mail.relay.test,IP:127.0.0.1")


def tearDownModule():
    CA.close()


def server_ctx():
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(CA.path("relay.crt"), CA.path("relay.key"))
    return ctx


class SmartHostTest(e2elab.Case):

    def provider(self, users, tls=True):
        """An aiosmtpd smart host: STARTTLS required before anything and
        AUTH only after it (tls), or plaintext with AUTH offered."""
        auth = smtplab.Authenticator(users)
        kw = dict(authenticator=auth, auth_require_tls=tls)
        if tls:
            kw.update(tls_context=server_ctx(), require_starttls=True)
        p = self.peer(**kw)
        p.auth = auth
        return p

    def test_smart_host_encrypt_and_auth(self):
        """The apiscp recipe: TLS first, then the table's credentials for
        [127.0.0.1]:PORT; the message arrives unchanged."""
        host = self.provider({"someuser": "somepassword"})
        self.table("sasl_passwd",
                   f"[127.0.0.1]:{host.port} someuser:somepassword\n")
        self.start(main=f"relayhost = [127.0.0.1]:{host.port}\n" + SASL_MAIN)
        content = message(1)
        self.sendmail(SENDER, ["bob@example.net"], content)
        self.wait_empty(timeout=30)
        self.assertEqual(len(host.messages), 1)
        m = host.messages[0]
        self.assertTrue(m["tls"])
        self.assertEqual(m["login"], "someuser")
        self.assertEqual(m["content"], crlf(content))
        self.assertEqual([s[1:] for s in host.auth.seen],
                         [("someuser", "somepassword")])
        log = self.lab.maillog()
        self.assertIn(f"TLS connection established to {NAME}:{host.port}: ",
                      log)
        self.assertNotIn("somepassword", log)

    @unittest.skipUnless(seclab.have_sasldb_tools(), "saslpasswd2 missing")
    def test_tern_smtpd_as_smart_host(self):
        """A second tern is the smart host: its smtpd (STARTTLS, AUTH from
        a sasldb, relaying for authenticated clients only) takes the mail
        from the first tern and relays it to the final receiver."""
        final = self.peer()
        hub = self.second_lab()
        sasl_dir = hub.path("sasl")
        seclab.make_sasldb(sasl_dir, "EXAMPLE.TEST", {"edge": "edge-pw"})
        port, svc = self.smtpd_service(
            "  -o smtpd_tls_security_level=encrypt\n"
            "  -o smtpd_sasl_auth_enable=yes\n"
            "  -o smtpd_tls_auth_only=yes\n"
            "  -o smtpd_client_restrictions=permit_sasl_authenticated,reject\n"
            "  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject\n")
        self.start(lab=hub, services=svc, main=(
            "myhostname = hub.example\n"
            "mynetworks = 192.0.2.0/24\n"
            f"relayhost = [127.0.0.1]:{final.port}\n"
            f"smtpd_tls_cert_file = {CA.path('relay.crt')}\n"
            f"smtpd_tls_key_file = {CA.path('relay.key')}\n"
            f"cyrus_sasl_config_path = {sasl_dir}\n"
            "smtpd_sasl_local_domain = EXAMPLE.TEST\n"))
        self.table("sasl_passwd", f"[127.0.0.1]:{port} edge:edge-pw\n")
        self.start(main=f"relayhost = [127.0.0.1]:{port}\n" + SASL_MAIN)
        content = message(2)
        self.sendmail(SENDER, ["bob@example.net"], content)
        try:
            ternlab.wait_until(lambda: final.messages, timeout=30,
                               interval=0.1)
        except TimeoutError:
            self.fail("nothing at the final receiver; edge log:\n"
                      f"{self.lab.maillog()}\nhub log:\n{hub.maillog()}")
        self.wait_empty(timeout=30)
        m = final.messages[0]
        self.assertEqual(m["rcpts"], ["bob@example.net"])
        self.assertTrue(m["content"].endswith(crlf(content)))
        received = m["content"][:-len(crlf(content))].decode()
        self.assertRegex(received, r"^Received: from tern\.example \(\S+ "
                         r"\[127\.0\.0\.1\]\)\r\n\tby hub\.example \(tern\) "
                         r"with ESMTPSA id \w+")
        self.assertIn("sasl_username=edge@EXAMPLE.TEST", hub.maillog())

    def test_per_sender_providers(self):
        """sender_dependent_relayhost_maps with
        smtp_sender_dependent_authentication: each registered sender's
        mail goes through its own provider with its own credentials; the
        rest through relayhost with the host's credentials."""
        one = self.provider({"alice": "alice-pw"})
        two = self.provider({"bob": "bob-pw"})
        default = self.provider({"relay": "relay-pw"})
        self.table("sender_relay",
                   f"alice@one.example [127.0.0.1]:{one.port}\n"
                   f"bob@two.example [127.0.0.1]:{two.port}\n")
        self.table("sasl_passwd",
                   "alice@one.example alice:alice-pw\n"
                   "bob@two.example bob:bob-pw\n"
                   f"[127.0.0.1]:{default.port} relay:relay-pw\n")
        self.start(main=(f"relayhost = [127.0.0.1]:{default.port}\n"
                         "sender_dependent_relayhost_maps = texthash:"
                         "$config_directory/sender_relay\n"
                         "smtp_sender_dependent_authentication = yes\n"
                         + SASL_MAIN))
        for sender, rcpt in (("alice@one.example", "x@example.net"),
                             ("bob@two.example", "y@example.net"),
                             ("carol@three.example", "z@example.net")):
            self.sendmail(sender, [rcpt], message(rcpt, sender=sender))
        self.wait_empty(timeout=30)
        for peer, login, pw, rcpt in ((one, "alice", "alice-pw", "x"),
                                      (two, "bob", "bob-pw", "y"),
                                      (default, "relay", "relay-pw", "z")):
            self.assertEqual([m["rcpts"] for m in peer.messages],
                             [[f"{rcpt}@example.net"]])
            self.assertEqual([s[1:] for s in peer.auth.seen], [(login, pw)])
            self.assertEqual([(m["tls"], m["login"]) for m in peer.messages],
                             [(True, login)])

    def test_encrypt_downgrades_defer_and_send_nothing(self):
        """At encrypt: a smart host that does not offer STARTTLS, and one
        that answers 454 to it, get no MAIL FROM and no credentials; the
        mail is deferred with Postfix's reason and stays queued."""
        from test_smtp_tls import RawServer
        plain = self.provider({"someuser": "pw"}, tls=False)
        refusing = RawServer("454")
        self.peers.append(refusing)
        self.table("transport",
                   f"refuse.example smtp:[127.0.0.1]:{refusing.port}\n")
        self.table("sasl_passwd",
                   f"[127.0.0.1]:{plain.port} someuser:pw\n"
                   f"[127.0.0.1]:{refusing.port} someuser:pw\n")
        self.start(main=f"relayhost = [127.0.0.1]:{plain.port}\n"
                   + SASL_MAIN)
        self.sendmail(SENDER, ["bob@example.net"], message(3))
        self.sendmail(SENDER, ["r@refuse.example"], message(4))
        self.lab.wait_log(
            "status=deferred (TLS is required, but was not offered by host "
            f"{NAME})", timeout=30)
        self.lab.wait_log("to=<r@refuse.example>", timeout=30)
        self.assertRegex(self.lab.maillog(),
                         r"to=<r@refuse\.example>, .*status=deferred \("
                         r".*454 4\.7\.0 TLS not available")
        ternlab.wait_until(lambda: len(self.queue_files()) == 2, timeout=30,
                           what="both messages deferred")
        self.assertEqual(plain.handler.mails, [])
        self.assertEqual(plain.auth.seen, [])
        self.assertFalse([c for c in refusing.commands
                          if c.upper().startswith(("MAIL", "AUTH"))])
        self.assertIn("TLS is required, but was not offered",
                      self.lab.run("sendmail", "-bp").stdout)


if __name__ == "__main__":
    ternlab.main()
