"""The cleanup library end to end, as smtpd and pickup run it.

Mail from sendmail (maildrop -> pickup) gets virtual alias expansion,
canonical rewriting of envelope and header addresses, the missing
Message-Id/Date/From headers, and header_checks, exactly like mail from
SMTP; `tern queue show` shows the result and the log carries Postfix's
cleanup lines as tern/cleanup. Over SMTP (when smtpd is built), a
header_checks REJECT is a 5xx at the end of DATA and nothing is queued.
Only loopback and the lab's temporary directory are used; every process is
started and stopped by PID.
"""
import os
import re
import smtplib
import struct

import ternlab
import sendmail_lab as sl

CANONICAL = r"""/root@box.localnet/     root.box@example.com
/root@box.example.com/     root.box@example.com
/^(.*)@box.localnet/        ${1}@example.com
/^(.*)@.*\.example.com/        ${1}@example.com
"""
VIRTUAL = """team@example.com    alice@example.net, bob@example.net, team@example.com
alias@example.com   team@example.com, carol@example.net, alice@example.net
"""
HEADER_CHECKS = """/^Subject: .*forbidden/    REJECT no forbidden things here
/^Subject: .*quarantine/   HOLD
/^Subject: .*warn/         WARN looks odd
/^X-Drop-Me:/              IGNORE
"""


def rewrite_content(path, content):
    """Replace the content (M record) of a maildrop queue file in place."""
    with open(path, "rb") as f:
        data = f.read()
    out, pos, nrcpt = b"", 0, 0
    while pos < len(data):
        rtype = data[pos:pos + 1]
        (length,) = struct.unpack(">I", data[pos + 1:pos + 5])
        body = data[pos + 5:pos + 5 + length]
        pos += 5 + length
        if rtype == b"M":
            body = content
        elif rtype == b"R":
            nrcpt += 1
        elif rtype == b"E":
            body = b"%d %d" % (nrcpt, len(content))
        out += rtype + struct.pack(">I", len(body)) + body
    with open(path, "wb") as f:
        f.write(out)


class CleanupBase(ternlab.TestCase):
    master_cf = sl.MASTER_CF

    def setUp(self):
        super().setUp()
        self.tables = os.path.join(self.lab.root, "tables")
        os.makedirs(self.tables)
        for name, text in (("canonical", CANONICAL), ("virtual", VIRTUAL),
                           ("header_checks", HEADER_CHECKS)):
            with open(os.path.join(self.tables, name), "w") as f:
                f.write(text)
        os.chmod(self.lab.root, 0o755)
        os.chmod(self.tables, 0o755)
        self.lab.write("main.cf", self.lab.default_main_cf() + (
            "myhostname = mx.example.net\n"
            "myorigin = example.net\n"
            f"canonical_maps = pcre:{self.tables}/canonical\n"
            f"virtual_alias_maps = texthash:{self.tables}/virtual\n"
            f"header_checks = regexp:{self.tables}/header_checks\n"))
        sl.make_spool(self.lab)
        self.addCleanup(sl.stop_ternd, self.lab)

    def drop(self, content, *args):
        """sendmail into maildrop/, then the content replaced verbatim."""
        self.lab.run("sendmail", "-i", *args, input="Subject: x\n\nx\n",
                     check=0, env=sl.UTC)
        ids = sl.ids_in(self.lab, "maildrop")
        self.assertEqual(len(ids), 1, ids)
        rewrite_content(os.path.join(self.lab.spool, "maildrop", ids[0]),
                        content)
        return ids[0]

    def pickup(self, qid, queue="incoming"):
        sl.start_ternd(self.lab)
        ternlab.wait_until(lambda: qid in sl.ids_in(self.lab, queue) or
                           None, timeout=20, what=f"{qid} in {queue}")
        return sl.show(self.lab, qid)

    def content(self, show):
        return show.split("***\n", 2)[2].rsplit("*** MESSAGE FILE END", 1)[0]


class TestPickup(CleanupBase):

    def test_aliases_canonical_and_missing_headers(self):
        qid = self.drop(b"To: team@example.com\r\nCc: kim@box.localnet\r\n"
                        b"Subject: hello\r\nX-Drop-Me: 1\r\n\r\nbody\r\n",
                        "-f", "root@box.localnet", "alias@example.com",
                        "bob@example.net")
        show = self.pickup(qid)
        # envelope: sender canonicalised, aliases expanded recursively,
        # team@ maps to itself too and is kept, duplicates removed
        self.assertIn("sender: root.box@example.com\n", show)
        rcpts = re.findall(r"recipient: (\S+)", show)
        self.assertEqual(sorted(rcpts), sorted([
            "team@example.com", "alice@example.net", "bob@example.net",
            "carol@example.net"]), show)
        body = self.content(show)
        # header addresses rewritten (local mail), missing headers added once
        self.assertIn("To: team@example.com\r\nCc: kim@example.com\r\n", body)
        self.assertNotIn("X-Drop-Me", body)
        self.assertEqual(body.count("Message-Id: "), 1, body)
        self.assertRegex(body, r"Message-Id: <\d{14}\.%s@mx\.example\.net>\r\n"
                         % qid)
        self.assertRegex(body, r"\r\nDate: \w{3}, [ \d]\d \w{3} \d{4} "
                         r"\d\d:\d\d:\d\d [-+]\d{4} \(\w+\)\r\n")
        self.assertIn("From: root.box@example.com\r\n\r\nbody\r\n", body)
        log = self.lab.maillog()
        self.assertRegex(log, r"tern/cleanup\[\d+\]: %s: message-id=<\d{14}\."
                         r"%s@mx\.example\.net>" % (qid, qid))
        self.assertRegex(log, r"tern/pickup\[\d+\]: %s: uid=\d+ "
                         r"from=<root@box\.localnet>" % qid)

    def test_existing_headers_not_duplicated(self):
        self.lab.run("sendmail", "-f", "a@example.org", "team@example.com",
                     input="Subject: hi\n\nx\n", check=0, env=sl.UTC)
        qid = sl.ids_in(self.lab, "maildrop")[0]
        body = self.content(self.pickup(qid))
        for name in ("Message-ID: ", "Date: ", "From: "):
            self.assertEqual(body.lower().count("\n" + name.lower()) +
                             body.lower().startswith(name.lower()), 1, body)
        self.lab.wait_log(f"{qid}: message-id=<")

    def test_header_checks_reject_hold_warn(self):
        qid = self.drop(b"Subject: something forbidden\r\n\r\nx\r\n",
                        "-f", "s@example.org", "u@example.net")
        sl.start_ternd(self.lab)
        self.lab.wait_log(f"{qid}: reject: header Subject: something "
                          f"forbidden from local; from=<s@example.org> "
                          f"to=<u@example.net>: 5.7.1 no forbidden things here",
                          timeout=20)
        ternlab.wait_until(lambda: sl.ids_in(self.lab, "maildrop") == [],
                           timeout=20, what="maildrop emptied")
        self.assertEqual(sl.ids_in(self.lab, "incoming"), [])
        sl.stop_ternd(self.lab)

        qid = self.drop(b"Subject: please quarantine\r\n\r\nx\r\n",
                        "-f", "s@example.org", "u@example.net")
        self.pickup(qid, queue="hold")
        self.lab.wait_log(f"{qid}: hold: header Subject: please quarantine "
                          f"from local; from=<s@example.org> to=<u@example.net>")
        self.assertIn(f"{qid}!", self.lab.run("mailq", env=sl.UTC).stdout)
        sl.stop_ternd(self.lab)

        qid = self.drop(b"Subject: a warn test\r\n\r\nx\r\n",
                        "-f", "s@example.org", "u@example.net")
        self.pickup(qid)
        self.lab.wait_log(f"tern/cleanup[")
        self.lab.wait_log(f"{qid}: warning: header Subject: a warn test from "
                          f"local; from=<s@example.org> to=<u@example.net>: "
                          f"looks odd")

    def test_lookup_error_keeps_the_maildrop_file(self):
        self.lab.write("main.cf", self.lab.read("main.cf") +
                       "virtual_alias_maps = fail:broken\n")
        qid = self.drop(b"Subject: x\r\n\r\nx\r\n", "-f", "s@example.org",
                        "u@example.net")
        sl.start_ternd(self.lab)
        self.lab.wait_log(f"{qid}: deferred: 451 4.3.0", timeout=20)
        self.assertEqual(sl.ids_in(self.lab, "maildrop"), [qid])
        self.assertEqual(sl.ids_in(self.lab, "incoming"), [])


@__import__("unittest").skipUnless(
    os.path.exists(os.path.join(ternlab.BUILD, "libexec", "tern", "smtpd")),
    "smtpd is not built")
class TestSmtp(CleanupBase):

    def setUp(self):
        super().setUp()
        self.port = ternlab.free_port()
        self.lab.write("master.cf", sl.MASTER_CF +
                       f"127.0.0.1:{self.port} inet n - n - - smtpd\n")
        self.lab.write("main.cf", self.lab.read("main.cf") +
                       "mynetworks = 127.0.0.0/8\n")

    def smtp(self):
        sl.start_ternd(self.lab)
        ternlab.wait_for_port(self.port)
        return smtplib.SMTP("127.0.0.1", self.port, timeout=30)

    def test_same_treatment_as_pickup(self):
        with self.smtp() as c:
            c.ehlo("client.example")
            res = c.sendmail("root@box.localnet", ["alias@example.com"],
                             b"To: kim@box.localnet\r\nSubject: hi\r\n\r\nbody\r\n")
            self.assertEqual(res, {})
        qid = ternlab.wait_until(lambda: (sl.ids_in(self.lab, "incoming") +
                                          sl.ids_in(self.lab, "active") +
                                          sl.ids_in(self.lab, "deferred"))[:1],
                                 timeout=20, what="queued")[0]
        show = sl.show(self.lab, qid)
        self.assertIn("sender: root.box@example.com\n", show)
        self.assertEqual(sorted(re.findall(r"recipient: (\S+)", show)), sorted(
            ["team@example.com", "alice@example.net", "bob@example.net",
             "carol@example.net"]))
        body = self.content(show)
        self.assertIn("To: kim@example.com\r\n", body)
        self.assertEqual(body.count("Message-Id: "), 1, body)
        self.assertIn("From: root.box@example.com\r\n", body)
        self.lab.wait_log(f"{qid}: message-id=<")

    def test_header_checks_reject_at_end_of_data(self):
        with self.smtp() as c:
            c.ehlo("client.example")
            c.mail("s@example.org")
            c.rcpt("u@example.net")
            code, text = c.data(b"Subject: something forbidden\r\n\r\nx\r\n")
            self.assertEqual(code, 550, text)
            self.assertIn(b"5.7.1 no forbidden things here", text)
        self.lab.wait_log(": reject: header Subject: something forbidden")
        self.assertRegex(self.lab.maillog(), re.escape(
            ": reject: header Subject: something forbidden from ") +
            r"\S+\[127\.0\.0\.1\]; " + re.escape(
                "from=<s@example.org> to=<u@example.net> proto=ESMTP "
                "helo=<client.example>: 5.7.1 no forbidden things here"))
        for q in ("incoming", "active", "deferred", "hold"):
            self.assertEqual(sl.ids_in(self.lab, q), [], q)


if __name__ == "__main__":
    ternlab.main()
