"""`tern explain ADDRESS [-f SENDER] [-c DIR]` on the reference recipes:
the transport table (relaylim, oneshot, error:Bad domain!), a relayhost
[mail.relay.com]:587, sender_dependent_relayhost_maps and the
mydomain.com-out sender_dependent_default_transport_maps recipe; exit codes
0, 2 (lookup failure, unusable nexthop), 64 (usage, bad address), 78
(configuration error). Tables are built with `tern map` as an admin would
run postmap."""
import os

import ternlab

# The reference's /etc/postfix/transport, as written.
TRANSPORT = """\
# Send mail to Yahoo in serial
yahoo.com   relaylim:
# Attempt to send mail once to .ru ccTLDs
.ru   oneshot:
# error is a builtin, but used as an example for its utility
# Any mail to @example.com will be rejected as well as its subdomains
example.com  error:Bad domain!
.example.com error:Bad domain!
"""

# The reference's master.cf additions (relaylim, oneshot, mydomain.com-out).
MASTER_EXTRA = """\
relaylim  unix  -       -       n       -       -       smtp
    -o relaylim_destination_concurrency_limit=1
oneshot   unix  -       -       n       -       -       smtp
mydomain.com-out unix  -       -       n       -       -       smtp
        -o smtp_helo_name=mydomain.com
        -o smtp_bind_address=64.22.68.2
"""


class ExplainTest(ternlab.TestCase):

    def setUp(self):
        super().setUp()
        with open(os.path.join(ternlab.SOURCE, "etc", "master.cf")) as f:
            self.lab.write("master.cf", f.read() + MASTER_EXTRA)

    def configure(self, text):
        """Append main.cf lines to the lab's defaults."""
        self.lab.write("main.cf", self.lab.default_main_cf()
                       + "myhostname = mx.example.net\n" + text)

    def table(self, name, text):
        """Write a table source and build it with `tern map` (postmap)."""
        path = self.lab.write(name, text)
        self.lab.tern("map", f"hash:{path}", check=0)
        return f"hash:{path}"

    def explain(self, *args, code=0):
        res = self.lab.tern("explain", *args)
        self.assertEqual(res.returncode, code,
                         f"stdout:\n{res.stdout}\nstderr:\n{res.stderr}")
        return res

    def lines(self, res):
        """{name: value} of the "name: value" lines."""
        out = {}
        for line in res.stdout.splitlines():
            name, _, value = line.partition(": ")
            out[name] = value
        return out

    def test_transport_recipe(self):
        spec = self.table("transport", TRANSPORT)
        self.configure(f"transport_maps = {spec}\n")
        cases = [
            ("user@yahoo.com", "relaylim", "yahoo.com", "key yahoo.com"),
            ("user@mail.ru", "oneshot", "mail.ru", "key .ru"),
            ("user@example.com", "error", "Bad domain!", "key example.com"),
            ("user@a.b.example.com", "error", "Bad domain!",
             "key .example.com"),
        ]
        for addr, transport, nexthop, key in cases:
            got = self.lines(self.explain(addr))
            self.assertEqual(got["address"], addr)
            self.assertTrue(got["class"].startswith("default (no local"), got)
            self.assertEqual(got["transport"],
                             f"{transport} (transport_maps {spec}, {key})")
            self.assertTrue(got["nexthop"].startswith(nexthop + " ("), got)
            self.assertNotIn("warning", got)     # services exist in master.cf
        got = self.lines(self.explain("user@yahoo.com"))
        self.assertEqual(got["connect"], "MX lookup for yahoo.com, port 25")
        got = self.lines(self.explain("user@example.com"))
        self.assertEqual(got["connect"],
                         "none (the message is returned: Bad domain!)")
        got = self.lines(self.explain("user@gmail.com"))
        self.assertEqual(got["transport"], "smtp (default_transport)")
        self.assertEqual(got["nexthop"],
                         "gmail.com (default: recipient domain)")

    def test_relayhost(self):
        spec = self.table("transport", TRANSPORT)
        self.configure(f"transport_maps = {spec}\n"
                       "relayhost = [mail.relay.com]:587\n")
        got = self.lines(self.explain("someone@gmail.com"))
        self.assertEqual(got["transport"], "smtp (default_transport)")
        self.assertEqual(got["nexthop"], "[mail.relay.com]:587 (relayhost)")
        self.assertEqual(got["connect"],
                         "host mail.relay.com, port 587, no MX lookup")
        # "relaylim:" names a transport without a nexthop: transport(5)
        # resets the nexthop to the recipient domain, relayhost or not.
        got = self.lines(self.explain("someone@yahoo.com"))
        self.assertEqual(got["transport"].split()[0], "relaylim")
        self.assertTrue(got["nexthop"].startswith("yahoo.com ("), got)
        # Local mail never goes to the relayhost.
        got = self.lines(self.explain("root@mx.example.net"))
        self.assertEqual(got["class"],
                         "local (mydestination, matches mx.example.net)")
        self.assertEqual(got["nexthop"], "mx.example.net (local_transport)")

    def test_sender_dependent_relayhost(self):
        spec = self.table("sender_relay",
                          "@example.org    [smtp.example.org]:587\n"
                          "boss@example.net [vip.relay]\n")
        self.configure("relayhost = [mail.relay.com]:587\n"
                       f"sender_dependent_relayhost_maps = {spec}\n")
        got = self.lines(self.explain("rcpt@gmail.com", "-f",
                                      "me@example.org"))
        self.assertEqual(got["sender"], "me@example.org")
        self.assertEqual(got["nexthop"], "[smtp.example.org]:587 "
                         f"(sender_dependent_relayhost_maps {spec}, "
                         "key @example.org)")
        self.assertEqual(got["connect"],
                         "host smtp.example.org, port 587, no MX lookup")
        got = self.lines(self.explain("-f", "boss@example.net",
                                      "rcpt@gmail.com"))
        self.assertTrue(got["nexthop"].startswith("[vip.relay] ("), got)
        got = self.lines(self.explain("rcpt@gmail.com", "-f",
                                      "other@elsewhere.example"))
        self.assertEqual(got["nexthop"], "[mail.relay.com]:587 (relayhost)")
        got = self.lines(self.explain("rcpt@gmail.com"))     # null sender
        self.assertEqual(got["sender"], "<>")
        self.assertEqual(got["nexthop"], "[mail.relay.com]:587 (relayhost)")

    def test_mydomain_out_recipe(self):
        # The reference writes "@mydomain"; both spellings work as keys.
        spec = self.table("sender_transport",
                          "@mydomain.com mydomain.com-out:\n"
                          "@mydomain mydomain.com-out:\n")
        self.configure(f"sender_dependent_default_transport_maps = {spec}\n")
        for sender, key in (("info@mydomain.com", "@mydomain.com"),
                            ("info@mydomain", "@mydomain")):
            got = self.lines(self.explain("friend@gmail.com", "-f", sender))
            self.assertEqual(got["transport"], "mydomain.com-out "
                             f"(sender_dependent_default_transport_maps "
                             f"{spec}, key {key})")
            self.assertEqual(got["nexthop"],
                             "gmail.com (default: recipient domain)")
            self.assertEqual(got["connect"],
                             "MX lookup for gmail.com, port 25")
        got = self.lines(self.explain("friend@gmail.com", "-f",
                                      "info@other.example"))
        self.assertEqual(got["transport"], "smtp (default_transport)")

    def test_config_dir_option_and_classes(self):
        other = self.lab.path("other")
        os.makedirs(other)
        self.lab.write(os.path.join(other, "master.cf"),
                       self.lab.read("master.cf"))
        self.lab.write(os.path.join(other, "main.cf"),
                       "myhostname = host.example.org\n"
                       "relay_domains = backup.example\n"
                       "virtual_mailbox_domains = mail.example\n"
                       "virtual_alias_domains = alias.example\n")
        want = {"u@host.example.org": "local", "u@backup.example": "relay",
                "u@sub.backup.example": "relay", "u@mail.example": "virtual",
                "u@alias.example": "virtual alias", "u@gmail.com": "default"}
        for addr, cls in want.items():
            got = self.lines(self.explain("-c", other, addr))
            self.assertEqual(got["class"].split(" (")[0], cls, addr)
        got = self.lines(self.explain("-c", other, "u@mail.example"))
        self.assertEqual(got["transport"], "virtual (virtual_transport)")
        self.assertEqual(got["connect"],
                         "none (delivered on this host by virtual)")

    def test_temporary_failures_exit_2(self):
        self.configure("transport_maps = hash:/nonexistent/transport\n")
        res = self.explain("user@gmail.com", code=2)
        self.assertIn("error: temporary failure, mail is deferred: "
                      "transport_maps lookup", res.stdout)
        self.assertNotIn("transport", self.lines(res))
        for bad in ("[unterminated", "host:99999", "[IPv6:garbage]"):
            self.configure(f"relayhost = {bad}\n")
            res = self.explain("user@gmail.com", code=2)
            self.assertIn("error: configuration problem, mail is deferred",
                          res.stdout)
            self.assertIn(bad, res.stdout)

    def test_usage_and_bad_input(self):
        self.configure("")
        for args in ((), ("a@b.example", "c@d.example"), ("-x", "a@b.c"),
                     ("-f",)):
            res = self.lab.tern("explain", *args)
            self.assertEqual(res.returncode, 64, args)
            self.assertEqual(res.stdout, "")
        for addr in ("a@b@", "a\x01@b.example", "<a@b.example", "a@b..c",
                     "x" * 300 + "@example.com", "user@192.0.2.1"):
            res = self.lab.tern("explain", addr)
            self.assertEqual(res.returncode, 64, addr)
        res = self.lab.tern("explain", "a@b.example", "-f", "bad sender@x")
        self.assertEqual(res.returncode, 64)
        self.assertIn("bad sender", res.stderr)
        # A UTF-8 domain is routed (the caller decides about SMTPUTF8).
        got = self.lines(self.explain("u@b\u00fccher.example"))
        self.assertEqual(got["transport"], "smtp (default_transport)")

    def test_configuration_errors_exit_78(self):
        self.configure("smtpd_recipient_limit = lots\n")
        res = self.lab.tern("explain", "a@b.example")
        self.assertEqual(res.returncode, 78)
        self.assertIn("smtpd_recipient_limit", res.stderr)
        self.configure("transport_maps = nosuchtype:/etc/x\n")
        res = self.lab.tern("explain", "a@b.example")
        self.assertEqual(res.returncode, 78)
        self.assertIn("nosuchtype", res.stderr)


if __name__ == "__main__":
    ternlab.main()
