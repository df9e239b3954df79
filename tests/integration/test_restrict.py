"""The restriction engine in smtpd, end to end: real SMTP sessions against
a real ternd, access tables built with `tern map`, and what the client and
the administrator see (replies, the reject lines of COMPAT.md 4e, the
queue: incoming/, hold/, `mailq`, `tern queue show`).

The client is 127.0.0.1; tests that want it outside mynetworks say so. The
resolver points at a dead loopback port, so the client is "unknown".
"""
import os
import re
import shutil
import smtplib
import ssl
import subprocess
import tempfile
import unittest

import ternlab
import test_sasl
import test_smtpd as base

HOST = base.HOST
OUTSIDE = "mynetworks = 192.0.2.0/24\n"


class RestrictTest(base.SmtpdTest):
    """An smtpd service with tables written and built before the start."""

    tables = {}         # name: text, built as hash:CONFIG/name

    def start(self, extra=""):
        for name, text in self.tables.items():
            path = self.lab.write(name, text.replace("HOST", HOST))
            self.lab.tern("map", f"hash:{path}", check=0)
        super().start(extra.replace("CONFIG", self.lab.config))

    def table(self, name):
        return f"hash:{self.lab.config}/{name}"

    def held(self):
        path = os.path.join(self.lab.spool, "hold")
        return sorted(n for n in os.listdir(path)
                      if not n.startswith(("tmp.", ".")))

    def send(self, c, rcpts, body=b"Subject: t\r\n\r\nbody\r\n"):
        """A whole transaction whose recipients are all accepted: the QID."""
        self.transaction(c, rcpts)
        c.send(body + b".\r\n")
        code, lines = c.reply()
        self.assertEqual(code, 250, lines)
        return lines[0].split("queued as ")[1]


class DefaultRelayTest(RestrictTest):
    """Postfix's default smtpd_relay_restrictions: permit_mynetworks,
    permit_sasl_authenticated, defer_unauth_destination."""

    extra_cf = OUTSIDE

    def test_outside_client_relay_deferred(self):
        c = self.client()
        self.assertEqual(c.cmd("EHLO c.example")[0], 250)
        self.assertEqual(c.text("MAIL FROM:<s@example.org>"), "250 2.1.0 Ok")
        self.assertEqual(c.text("RCPT TO:<x@other.example>"),
                         "450 4.7.1 <x@other.example>: Relay access denied")
        self.assertEqual(c.text(f"RCPT TO:<u@{HOST}>"), "250 2.1.5 Ok")
        self.lab.wait_log(
            "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 450 4.7.1 "
            "<x@other.example>: Relay access denied; from=<s@example.org> "
            "to=<x@other.example> proto=ESMTP helo=<c.example>")


class MynetworksRelayTest(RestrictTest):

    def test_mynetworks_client_relays(self):
        c = self.client()
        qid = self.send(c, ["x@other.example", "y@other.example"])
        self.assertEqual(re.findall(r"recipient: (\S+)", self.show(qid)),
                         ["x@other.example", "y@other.example"])
        self.assertNotIn("reject:", self.lab.maillog())


class RejectRelayTest(RestrictTest):
    """reject_unauth_destination: the COMPAT.md line, byte for byte."""

    extra_cf = (OUTSIDE + "smtpd_relay_restrictions = permit_mynetworks, "
                "permit_sasl_authenticated, reject_unauth_destination\n")

    def test_relay_denied_554_and_log_line(self):
        c = self.client()
        self.assertEqual(c.cmd("EHLO bad")[0], 250)
        self.assertEqual(c.text("MAIL FROM:<spam@example.biz>"), "250 2.1.0 Ok")
        self.assertEqual(c.text("RCPT TO:<x@example.com>"),
                         "554 5.7.1 <x@example.com>: Relay access denied")
        self.lab.wait_log("reject: RCPT")
        self.assertRegex(self.lab.maillog(), re.escape(
            "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 5.7.1 "
            "<x@example.com>: Relay access denied; from=<spam@example.biz> "
            "to=<x@example.com> proto=ESMTP helo=<bad>") + "\n")


ACCESS_RCPT = """\
reject@HOST     REJECT no such luck
defer@HOST      DEFER come back later
code@HOST       521 5.7.9 go away now
hold@HOST       HOLD quarantined by policy
discard@HOST    DISCARD
prepend@HOST    PREPEND X-Tern-Test: prepended by policy
dip@HOST        DEFER_IF_PERMIT greylisted
okay@HOST       OK
filter@HOST     FILTER smtp:[127.0.0.1]:10025
"""

ACCESS_SENDER = """\
bad@example.org     REJECT sender refused
"""


class AccessTest(RestrictTest):
    """check_sender_access / check_recipient_access with access(5) values."""

    tables = {"rcpt_access": ACCESS_RCPT, "sender_access": ACCESS_SENDER}
    extra_cf = ("smtpd_recipient_restrictions = "
                "check_sender_access hash:CONFIG/sender_access, "
                "check_recipient_access hash:CONFIG/rcpt_access\n")

    def setUp(self):
        ternlab.TestCase.setUp(self)
        self.port = ternlab.free_port()
        self.start(self.extra_cf)

    def rcpt(self, c, rcpt, sender="s@example.org"):
        self.assertEqual(c.cmd("RSET")[0], 250)
        self.assertEqual(c.text(f"MAIL FROM:<{sender}>"), "250 2.1.0 Ok")
        return c.text(f"RCPT TO:<{rcpt}>")

    def test_replies(self):
        c = self.client()
        self.assertEqual(c.cmd("EHLO client.example")[0], 250)
        cases = [
            (f"reject@{HOST}", f"554 5.7.1 <reject@{HOST}>: Recipient "
             "address rejected: no such luck"),
            (f"defer@{HOST}", f"450 4.7.1 <defer@{HOST}>: Recipient "
             "address rejected: come back later"),
            (f"dip@{HOST}", f"450 4.7.1 <dip@{HOST}>: Recipient "
             "address rejected: greylisted"),
            (f"okay@{HOST}", "250 2.1.5 Ok"),
            (f"other@{HOST}", "250 2.1.5 Ok"),
        ]
        for rcpt, want in cases:
            self.assertEqual(self.rcpt(c, rcpt), want, rcpt)
        # the sender list's table, run at RCPT (smtpd_delay_reject)
        self.assertEqual(self.rcpt(c, f"okay@{HOST}", "bad@example.org"),
                         "554 5.7.1 <bad@example.org>: Sender address "
                         "rejected: sender refused")
        self.lab.wait_log("Sender address rejected")
        log = self.lab.maillog()
        self.assertIn(
            "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 5.7.1 "
            f"<reject@{HOST}>: Recipient address rejected: no such luck; "
            f"from=<s@example.org> to=<reject@{HOST}> proto=ESMTP "
            "helo=<client.example>", log)
        self.assertIn(
            "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 5.7.1 "
            "<bad@example.org>: Sender address rejected: sender refused; "
            f"from=<bad@example.org> to=<okay@{HOST}> proto=ESMTP "
            "helo=<client.example>", log)
        self.assertEqual(self.queued(), [])

    def test_521_disconnects(self):
        c = self.client()
        self.assertEqual(c.cmd("EHLO client.example")[0], 250)
        self.assertEqual(self.rcpt(c, f"code@{HOST}"),
                         f"521 5.7.9 <code@{HOST}>: Recipient address "
                         "rejected: go away now")
        self.assertTrue(c.closed())

    def test_hold(self):
        c = self.client()
        qid = self.send(c, [f"hold@{HOST}", f"okay@{HOST}"])
        self.assertEqual(self.held(), [qid])
        self.assertEqual(self.queued(), [])
        self.assertIn(f"{qid}!", self.lab.run("mailq", check=0).stdout)
        # before the first accepted recipient there is no queue ID yet
        self.lab.wait_log("NOQUEUE: hold: RCPT from unknown[127.0.0.1]: "
                          f"<hold@{HOST}>: Recipient address quarantined by "
                          f"policy; from=<a@example.org> to=<hold@{HOST}> "
                          "proto=ESMTP helo=<client.example>")

    def test_discard(self):
        c = self.client()
        qid = self.send(c, [f"okay@{HOST}", f"discard@{HOST}"])
        self.assertEqual(self.queued(), [])
        self.assertEqual(self.held(), [])
        self.assertFalse(os.path.exists(
            os.path.join(self.lab.spool, "incoming", qid)))
        self.lab.wait_log(f"{qid}: discard: RCPT from unknown[127.0.0.1]: "
                          f"<discard@{HOST}>: Recipient address triggers "
                          "DISCARD action")
        # the next transaction of the session is not discarded
        qid2 = self.send(c, [f"okay@{HOST}"])
        self.assertEqual(self.queued(), [qid2])

    def test_prepend_above_received(self):
        c = self.client()
        qid = self.send(c, [f"prepend@{HOST}"])
        shown = self.show(qid)
        self.assertIn("X-Tern-Test: prepended by policy\n", shown)
        self.assertLess(shown.index("X-Tern-Test:"), shown.index("Received:"))
        self.assertEqual(shown.count("X-Tern-Test:"), 1)


    def test_filter_not_supported_warned_once(self):
        c = self.client()
        first = self.send(c, [f"filter@{HOST}"])
        second = self.send(c, [f"filter@{HOST}"], b"Subject: 2\r\n\r\nx\r\n")
        self.assertEqual(self.queued(), sorted([first, second]))
        self.lab.wait_log(f"filter: RCPT from unknown[127.0.0.1]: <filter@{HOST}>")
        self.assertEqual(self.lab.maillog().count(
            "warning: access table action FILTER is not supported yet; "
            "ignored"), 1)


class ClientAccessTest(RestrictTest):
    """check_client_access: at RCPT with smtpd_delay_reject, else at
    connect (the refusal replaces the greeting, then 503 until QUIT)."""

    tables = {"client_access": "127.0.0.1  REJECT go away\n"}
    extra_cf = "smtpd_client_restrictions = check_client_access hash:CONFIG/client_access\n"

    def setUp(self):
        ternlab.TestCase.setUp(self)
        self.port = ternlab.free_port()

    def test_delayed_to_rcpt(self):
        self.start(self.extra_cf)
        c = self.client()
        self.assertEqual(c.greeting[0], 220)
        self.assertEqual(c.cmd("EHLO c.example")[0], 250)
        self.assertEqual(c.text("MAIL FROM:<s@example.org>"), "250 2.1.0 Ok")
        self.assertEqual(c.text(f"RCPT TO:<u@{HOST}>"),
                         "554 5.7.1 <unknown[127.0.0.1]>: Client host "
                         "rejected: go away")
        self.lab.wait_log(
            "NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 5.7.1 "
            "<unknown[127.0.0.1]>: Client host rejected: go away; "
            f"from=<s@example.org> to=<u@{HOST}> proto=ESMTP "
            "helo=<c.example>")

    def test_at_connect_without_delay(self):
        self.start(self.extra_cf + "smtpd_delay_reject = no\n")
        c = self.client()
        self.assertEqual(c.greeting, (554, [
            "5.7.1 <unknown[127.0.0.1]>: Client host rejected: go away"]))
        self.assertEqual(c.text("EHLO c.example"), "503 5.7.0 Error: access "
                         "denied for unknown[127.0.0.1]")
        self.assertEqual(c.text("MAIL FROM:<s@example.org>"),
                         "503 5.7.0 Error: access denied for "
                         "unknown[127.0.0.1]")
        self.assertEqual(c.text("QUIT"), "221 2.0.0 Bye")
        self.lab.wait_log("NOQUEUE: reject: CONNECT from unknown[127.0.0.1]: "
                          "554 5.7.1 <unknown[127.0.0.1]>: Client host "
                          "rejected: go away;")


class UnlistedTest(RestrictTest):
    """Unknown users of our domains: 550 5.1.1 at RCPT, never accepted;
    the open-relay forms of a local address are local parts, refused."""

    tables = {"vmailbox": "known@vmail.example  vmail.example/known/\n",
              "local_users": "user  x\n"}
    extra_cf = (OUTSIDE + "virtual_mailbox_domains = vmail.example\n"
                "virtual_mailbox_maps = hash:CONFIG/vmailbox\n"
                "local_recipient_maps = hash:CONFIG/local_users\n")

    def setUp(self):
        ternlab.TestCase.setUp(self)
        self.port = ternlab.free_port()
        self.start(self.extra_cf)

    def test_unknown_users_refused(self):
        c = self.client()
        self.assertEqual(c.cmd("EHLO c.example")[0], 250)
        self.assertEqual(c.text("MAIL FROM:<s@example.org>"), "250 2.1.0 Ok")
        unknown_local = ("Recipient address rejected: User unknown in local "
                         "recipient table")
        cases = [
            ("known@vmail.example", "250 2.1.5 Ok"),
            ("nobody@vmail.example", "550 5.1.1 <nobody@vmail.example>: "
             "Recipient address rejected: User unknown in virtual mailbox "
             "table"),
            (f"user@{HOST}", "250 2.1.5 Ok"),
            (f"user%other.example@{HOST}",
             f"550 5.1.1 <user%other.example@{HOST}>: {unknown_local}"),
            (f'"user@other.example"@{HOST}',
             f'550 5.1.1 <"user@other.example"@{HOST}>: {unknown_local}'),
            (f"@{HOST}:user@other.example",
             "450 4.7.1 <user@other.example>: Relay access denied"),
            (f"user@other.example@{HOST}",
             "501 5.1.3 Bad recipient address syntax"),
        ]
        for rcpt, want in cases:
            self.assertEqual(c.text(f"RCPT TO:<{rcpt}>"), want, rcpt)
        # a recipient was accepted: the lines carry the queue ID
        # a bare postmaster is always accepted (RFC 5321 4.5.1)
        self.assertEqual(c.text("RCPT TO:<postmaster>"), "250 2.1.5 Ok")
        # VRFY runs the RCPT lists
        self.assertEqual(c.text("VRFY <known@vmail.example>"),
                         "252 2.0.0 <known@vmail.example>")
        self.assertEqual(c.text("VRFY nobody@vmail.example"),
                         "550 5.1.1 <nobody@vmail.example>: Recipient "
                         "address rejected: User unknown in virtual mailbox "
                         "table")
        self.assertEqual(c.text("VRFY <a@@b>"),
                         "501 5.1.3 Bad recipient address syntax")
        self.lab.wait_log("reject: VRFY from unknown[127.0.0.1]: 550 5.1.1 ")
        self.lab.wait_log("reject: RCPT from unknown[127.0.0.1]: 550 5.1.1 "
                          "<nobody@vmail.example>: Recipient address "
                          "rejected: User unknown in virtual mailbox table; "
                          "from=<s@example.org> to=<nobody@vmail.example>")
        self.assertNotIn("NOQUEUE: reject: RCPT from unknown[127.0.0.1]: "
                         "550 5.1.1 <nobody", self.lab.maillog())


class HeloRequiredTest(RestrictTest):

    extra_cf = "smtpd_helo_required = yes\n"

    def test_mail_before_helo(self):
        c = self.client()
        self.assertEqual(c.text("MAIL FROM:<s@example.org>"),
                         "503 5.5.1 Error: send HELO/EHLO first")
        self.assertEqual(c.cmd("HELO c.example")[0], 250)
        self.assertEqual(c.text("MAIL FROM:<s@example.org>"), "250 2.1.0 Ok")


class HeloRestrictionsTest(RestrictTest):
    """smtpd_helo_restrictions at HELO/EHLO when rejects are not delayed."""

    extra_cf = ("smtpd_delay_reject = no\n"
                "smtpd_helo_restrictions = reject_invalid_helo_hostname, "
                "reject_non_fqdn_helo_hostname\n")

    def test_helo_refused(self):
        c = self.client()
        self.assertEqual(c.text("EHLO bad..name"), "501 5.5.2 <bad..name>: "
                         "Helo command rejected: Invalid name")
        self.assertEqual(c.text("HELO single"), "504 5.5.2 <single>: Helo "
                         "command rejected: need fully-qualified hostname")
        self.assertEqual(c.cmd("EHLO good.example")[0], 250)
        self.assertEqual(c.text("MAIL FROM:<s@example.org>"), "250 2.1.0 Ok")
        self.lab.wait_log("NOQUEUE: reject: EHLO from unknown[127.0.0.1]: "
                          "501 5.5.2 <bad..name>: Helo command rejected: "
                          "Invalid name; proto=ESMTP helo=<bad..name>")


class NonFqdnSenderTest(RestrictTest):

    extra_cf = "smtpd_sender_restrictions = reject_non_fqdn_sender\n"

    def test_non_fqdn_sender(self):
        c = self.client()
        self.assertEqual(c.cmd("EHLO c.example")[0], 250)
        # delayed: MAIL is accepted, the sender refused at RCPT
        self.assertEqual(c.text("MAIL FROM:<joe@nodots>"), "250 2.1.0 Ok")
        self.assertEqual(c.text(f"RCPT TO:<u@{HOST}>"),
                         "504 5.5.2 <joe@nodots>: Sender address rejected: "
                         "need fully-qualified address")
        self.assertEqual(c.text("RSET"), "250 2.0.0 Ok")
        self.assertEqual(c.text("MAIL FROM:<joe@example.org>"), "250 2.1.0 Ok")
        self.assertEqual(c.text(f"RCPT TO:<u@{HOST}>"), "250 2.1.5 Ok")

    def test_non_fqdn_sender_at_mail_without_delay(self):
        self.lab.stop_tern(check=None)
        self.start("smtpd_delay_reject = no\n")
        c = self.client()
        self.assertEqual(c.cmd("EHLO c.example")[0], 250)
        self.assertEqual(c.text("MAIL FROM:<joe@nodots>"),
                         "504 5.5.2 <joe@nodots>: Sender address rejected: "
                         "need fully-qualified address")
        self.assertEqual(c.text(f"RCPT TO:<u@{HOST}>"),
                         "503 5.5.1 Error: need MAIL command")


class DataRestrictionsTest(RestrictTest):
    """smtpd_data_restrictions at DATA and at the first BDAT chunk, and
    smtpd_end_of_data_restrictions once the content is in."""

    tables = {"sender_access": "late@example.org  REJECT too late\n"}
    extra_cf = ("smtpd_data_restrictions = check_sender_access "
                "hash:CONFIG/sender_access\n")

    def setUp(self):
        ternlab.TestCase.setUp(self)
        self.port = ternlab.free_port()
        self.start(self.extra_cf)

    def test_data_and_bdat_refused(self):
        c = self.client()
        self.transaction_until_data(c, "late@example.org")
        self.assertEqual(c.text("DATA"), "554 5.7.1 <late@example.org>: "
                         "Sender address rejected: too late")
        self.assertEqual(c.text("RSET"), "250 2.0.0 Ok")
        self.transaction_until_data(c, "late@example.org", ehlo=False)
        c.send("BDAT 5\r\nabc\r\n")
        self.assertEqual(c.reply(), (554, ["5.7.1 <late@example.org>: Sender "
                                           "address rejected: too late"]))
        c.send("BDAT 3 LAST\r\nx\r\n")
        self.assertEqual(c.reply()[0], 554)
        self.assertEqual(self.queued(), [])
        line = ("reject: DATA from unknown[127.0.0.1]: 554 5.7.1 "
                "<late@example.org>: Sender address rejected: too late; "
                f"from=<late@example.org> to=<u@{HOST}> proto=ESMTP "
                "helo=<c.example>")
        self.lab.wait_log(line, count=2)    # DATA, then the first BDAT
        self.assertRegex(self.lab.maillog(), r"\]: [0-9A-F]+: " + re.escape(line))
        # another sender passes
        self.assertEqual(c.text("RSET"), "250 2.0.0 Ok")
        self.transaction_until_data(c, "fine@example.org", ehlo=False)
        self.assertEqual(c.cmd("DATA")[0], 354)

    def transaction_until_data(self, c, sender, ehlo=True):
        if ehlo:
            self.assertEqual(c.cmd("EHLO c.example")[0], 250)
        self.assertEqual(c.text(f"MAIL FROM:<{sender}>"), "250 2.1.0 Ok")
        self.assertEqual(c.text(f"RCPT TO:<u@{HOST}>"), "250 2.1.5 Ok")

    def test_end_of_data(self):
        self.lab.stop_tern(check=None)
        self.start("smtpd_data_restrictions =\n"
                   "smtpd_end_of_data_restrictions = check_sender_access "
                   f"hash:{self.lab.config}/sender_access\n")
        c = self.client()
        self.transaction_until_data(c, "late@example.org")
        self.assertEqual(c.cmd("DATA")[0], 354)
        c.send(b"Subject: x\r\n\r\nbody\r\n.\r\n")
        self.assertEqual(c.reply(), (554, ["5.7.1 <late@example.org>: Sender "
                                           "address rejected: too late"]))
        self.assertEqual(self.queued(), [])
        self.lab.wait_log("reject: END-OF-MESSAGE from unknown[127.0.0.1]: "
                          "554 5.7.1 <late@example.org>:")


class HoldWithQmgrTest(RestrictTest):
    """An access table's HOLD while qmgr runs and delivers everything else
    (discard transport): the held file is named in hold/ only, so qmgr
    never takes it; a hold/ that cannot be written makes it a 451, never a
    message left in incoming/."""

    tables = {"rcpt_access": "hold@HOST HOLD quarantined\n"}
    extra_cf = ("smtpd_recipient_restrictions = "
                "check_recipient_access hash:CONFIG/rcpt_access\n"
                "local_transport = discard\ndefault_transport = discard\n"
                "queue_run_delay = 1s\n")

    def setUp(self):
        ternlab.TestCase.setUp(self)
        self.port = ternlab.free_port()
        for name, text in self.tables.items():
            path = self.lab.write(name, text.replace("HOST", HOST))
            self.lab.tern("map", f"hash:{path}", check=0)
        self.lab.write("main.cf", self.lab.default_main_cf() + base.BASE_CF
                       + self.extra_cf.replace("CONFIG", self.lab.config))
        self.lab.write("master.cf",
                       f"127.0.0.1:{self.port} inet n - n - - smtpd\n"
                       "qmgr unix n - n 300 1 qmgr\n"
                       "discard unix - - n - - discard\n")
        self.assertIsNotNone(self.lab.start_tern(), self.lab.last_start.stderr)
        self.addCleanup(self.lab.stop_tern, check=None)

    def test_held_never_reaches_qmgr(self):
        c = self.client()
        held, passed = [], []
        for _ in range(10):        # qmgr busy with the others meanwhile
            held.append(self.send(c, [f"hold@{HOST}"]))
            self.assertEqual(c.cmd("RSET")[0], 250)
            passed.append(self.send(c, [f"okay@{HOST}"]))
            self.assertEqual(c.cmd("RSET")[0], 250)
        for qid in passed:
            self.lab.wait_log(f"{qid}: removed")
        self.assertEqual(self.held(), sorted(held))
        log = self.lab.maillog()
        for qid in held:
            self.assertNotIn(f"{qid}: from=", log)
            self.assertNotIn(f"{qid}: to=", log)

    def test_unusable_hold_is_451(self):
        hold = os.path.join(self.lab.spool, "hold")
        os.rename(hold, hold + ".saved")
        with open(hold, "w") as f:
            f.write("not a directory\n")
        c = self.client()
        self.transaction(c, [f"hold@{HOST}"])
        c.send(b"Subject: t\r\n\r\nbody\r\n.\r\n")
        self.assertEqual(c.reply(),
                         (451, ["4.3.0 Error: queue file write error"]))
        self.assertEqual(self.queued(), [])
        self.assertNotIn("(queue active)", self.lab.maillog())
        os.remove(hold)
        os.rename(hold + ".saved", hold)


class MynetworksTrustTest(RestrictTest):
    """The session's "trusted" flag (exempt from
    smtpd_client_connection_count_limit) is permit_mynetworks' own test:
    !exclusions and tables count, not only bare network patterns."""

    tables = {"nets": "127.0.0.1 OK\n"}
    extra_cf = "smtpd_client_connection_count_limit = 1\n"

    def setUp(self):
        ternlab.TestCase.setUp(self)
        self.port = ternlab.free_port()

    def test_exemption_follows_permit_mynetworks(self):
        cases = [       # mynetworks, exempt (both sessions greeted)
            ("127.0.0.0/8", True),
            ("!127.0.0.1, 127.0.0.0/8", False),
            ("!127.0.0.2, 127.0.0.0/8", True),
            ("hash:CONFIG/nets", True),
            ("192.0.2.0/24", False),
        ]
        for nets, exempt in cases:
            with self.subTest(mynetworks=nets):
                self.start(f"mynetworks = {nets}\n")
                try:
                    self.check_exempt(exempt)
                finally:
                    self.lab.stop_tern(check=None)

    def check_exempt(self, exempt):
        a = self.client()
        self.assertEqual(a.cmd("EHLO c.example")[0], 250)
        b = self.client(greet=False)
        if exempt:
            self.assertEqual(b.reply()[0], 220)
            want = "250 2.1.5 Ok"
        else:
            self.assertEqual(b.reply(), (421, [
                f"4.7.0 {HOST} Error: too many connections from 127.0.0.1"]))
            want = "450 4.7.1 <x@other.example>: Relay access denied"
        # permit_mynetworks gives the same answer
        self.assertEqual(a.text("MAIL FROM:<s@example.org>"), "250 2.1.0 Ok")
        self.assertEqual(a.text("RCPT TO:<x@other.example>"), want)
        a.close()
        b.close()


class UnknownRestrictionTest(base.SmtpdTest):
    """A restriction name tern does not know: smtpd refuses to start, and
    `tern check` names it."""

    extra_cf = ("smtpd_recipient_restrictions = permit_mynetworks, "
                "reject_unknwon_recipient\n")

    def test_refuses_to_start_and_check_names_it(self):
        self.lab.wait_log('unknown restriction "reject_unknwon_recipient"')
        self.lab.wait_log("fatal: smtpd: initialization failed")
        log = self.lab.maillog()
        self.assertIn("smtpd_recipient_restrictions: unknown restriction "
                      '"reject_unknwon_recipient"', log)
        self.assertNotIn("connect from", log)
        res = self.lab.tern("check")
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertRegex(res.stderr, re.escape(
            f"tern check: error: {self.lab.config}/master.cf, line 1: service "
            f"127.0.0.1:{self.port}/inet: smtpd_recipient_restrictions: "
            'unknown restriction "reject_unknwon_recipient"'))


class OpenRelayConfigTest(base.SmtpdTest):
    """Lists that would relay for anyone (a migration that emptied
    smtpd_relay_restrictions and kept permit-only recipient restrictions):
    smtpd refuses to start, and `tern check` says why."""

    extra_cf = ("smtpd_relay_restrictions =\n"
                "smtpd_recipient_restrictions = permit_mynetworks, "
                "permit_sasl_authenticated\n")

    def test_refuses_to_run_as_an_open_relay(self):
        why = ("smtpd_relay_restrictions and smtpd_recipient_restrictions: "
               "neither has reject_unauth_destination, "
               "defer_unauth_destination, reject, defer or defer_if_permit; "
               "refusing to run as an open relay")
        self.lab.wait_log(why)
        self.lab.wait_log("fatal: smtpd: initialization failed")
        self.assertNotIn("connect from", self.lab.maillog())
        res = self.lab.tern("check")
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertIn(why, res.stderr)


@unittest.skipUnless(os.access(test_sasl.SASLPASSWD2, os.X_OK)
                     and test_sasl.OPENSSL,
                     "saslpasswd2 (sasl2-bin) or openssl is not installed")
class SubmissionRecipeTest(test_sasl.SaslLab):
    """The reference setup's submission service, as written (with the
    lab's port and certificate): encrypt, AUTH, permit_sasl_authenticated,
    reject."""

    def extra_services(self):
        certs = tempfile.mkdtemp(prefix="tern-restrict-tls-")
        self.addCleanup(shutil.rmtree, certs, True)
        subprocess.run([test_sasl.OPENSSL, "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", "key.pem", "-out", "cert.pem", "-days",
                        "2", "-subj", "/CN=mx.example.test"], cwd=certs,
                       check=True, capture_output=True, timeout=60)
        for name in ("key.pem", "cert.pem"):
            os.chmod(os.path.join(certs, name), 0o644)
        os.chmod(certs, 0o755)
        self.ports["submission"] = ternlab.free_port()
        return (f"127.0.0.1:{self.ports['submission']} inet n - y - - smtpd"
                " -o syslog_name=tern/submission"
                " -o smtpd_tls_security_level=encrypt"
                " -o smtpd_sasl_auth_enable=yes"
                " -o smtpd_client_restrictions=permit_sasl_authenticated,"
                "reject\n"
                f"  -o smtpd_tls_cert_file={certs}/cert.pem"
                f" -o smtpd_tls_key_file={certs}/key.pem\n")

    def tls_client(self):
        s = self.client("submission")
        s.ehlo("client.example.net")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s.starttls(context=ctx)
        s.ehlo("client.example.net")
        return s

    def test_unauthenticated_refused(self):
        s = self.client("submission")
        s.ehlo("client.example.net")
        self.assertEqual(s.mail("alice@example.test"),
                         (530, b"5.7.0 Must issue a STARTTLS command first"))
        s = self.tls_client()
        self.assertEqual(s.mail("alice@example.test")[0], 250)
        self.assertEqual(s.rcpt("root@mx.example.test"), (
            554, b"5.7.1 <unknown[127.0.0.1]>: Client host rejected: "
            b"Access denied"))
        self.lab.wait_log("tern/submission/smtpd[")
        self.assertRegex(self.lab.maillog(), re.escape(
            ": NOQUEUE: reject: RCPT from unknown[127.0.0.1]: 554 5.7.1 "
            "<unknown[127.0.0.1]>: Client host rejected: Access denied; "
            "from=<alice@example.test> to=<root@mx.example.test> "
            "proto=ESMTP helo=<client.example.net>"))

    def test_authenticated_sends(self):
        s = self.tls_client()
        s.login(test_sasl.USER, test_sasl.SECRET)
        self.send_mail(s, "root@mx.example.test")
        self.send_mail(s, "bob@example.net")


if __name__ == "__main__":
    ternlab.main()
