"""The virtual delivery agent end to end: sendmail and SMTP -> qmgr ->
virtual -> a Maildir under virtual_mailbox_base.

Checks the delivered file byte for byte (Return-Path, X-Original-To and
Delivered-To on top of the message, LF line ends), virtual(5)'s key order
(user+ext@domain, user@domain, @domain), Postfix's delivery log line, the
5.1.1 bounce for an unknown user, deferral for a mailbox-file result and for
uid 0, and, when run as root, that master.cf's unpriv "n" keeps the agent
root so it writes each mailbox as its owner's uid (an unused numeric uid,
no account needed), while unpriv "-" drops it to mail_owner like any other
service. Only loopback and the lab's temporary directory are used.
"""
import os
import re
import smtplib
import stat

import ternlab

THROWAWAY_UID = 54321           # no account needed: seteuid takes any number


def master_cf(port, virtual_unpriv="n"):
    return (f"127.0.0.1:{port} inet n - n - - smtpd\n"
            "pickup    unix  n       -       n       1       1       pickup\n"
            "qmgr      unix  n       -       n       300     1       qmgr\n"
            f"virtual   unix  -       {virtual_unpriv}       n       -       -"
            "       virtual\n"
            "error     unix  -       -       n       -       -       error\n")


class VirtualLab(ternlab.TestCase):
    uid = None                  # mailbox owner; None = the invoking user
    virtual_unpriv = "n"

    def setUp(self):
        if not os.path.exists(os.path.join(ternlab.BUILD, "libexec", "tern",
                                           "virtual")):
            self.skipTest("virtual is not built")
        self.port = ternlab.free_port()
        self.master_cf = master_cf(self.port, self.virtual_unpriv)
        super().setUp()
        uid, gid = self.uid, self.uid
        if uid is None:             # the invoking user; root uses a throwaway
            uid, gid = ((THROWAWAY_UID, THROWAWAY_UID) if os.geteuid() == 0
                        else (os.getuid(), os.getgid()))
        self.base = self.lab.path("mail")
        os.makedirs(self.base)
        os.chmod(self.lab.root, 0o755)
        os.chown(self.base, uid, gid)
        os.chmod(self.base, 0o700)
        self.lab.write("vmailbox", (
            "bob@v.example        bob/\n"
            "carol@v.example      v.example/carol/\n"
            "mbox@v.example       mboxfile\n"
            "escape@v.example     ../outside/\n"
            "@catchall.example    catchall/\n"))
        self.lab.write("main.cf", self.lab.default_main_cf() + (
            "myhostname = mx.v.example\n"
            "mydestination =\n"
            "mynetworks = 127.0.0.0/8\n"
            "recipient_delimiter = +\n"
            "queue_run_delay = 1s\n"
            "minimal_backoff_time = 1s\n"
            "maximal_backoff_time = 2s\n"
            "local_header_rewrite_clients =\n"
            "virtual_mailbox_domains = v.example, catchall.example\n"
            f"virtual_mailbox_base = {self.base}\n"
            "virtual_mailbox_maps = texthash:$config_directory/vmailbox\n"
            f"virtual_uid_maps = static:{uid}\n"
            f"virtual_gid_maps = static:{gid}\n"
            "virtual_minimum_uid = 1\n"
            "default_transport = error:no mail leaves the test\n"))
        self.assertIsNotNone(self.lab.start_tern(), self.lab.last_start.stderr)
        ternlab.wait_for_port(self.port)

    def maildir_files(self, box):
        d = os.path.join(self.base, box, "new")
        try:
            return sorted(os.path.join(d, f) for f in os.listdir(d))
        except FileNotFoundError:
            return []

    def wait_file(self, box, count=1):
        return ternlab.wait_until(
            lambda: len(self.maildir_files(box)) >= count
            and self.maildir_files(box), timeout=20,
            what=f"{count} file(s) in {box}/new (log:\n{self.lab.maillog()})")

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()


class TestVirtual(VirtualLab):

    def test_sendmail_delivers_to_maildir(self):
        msg = ("From: alice@example.org\nTo: bob@v.example\n"
               "Date: Mon, 1 Jul 2024 10:00:00 +0000\n"
               "Message-ID: <m1@example.org>\nSubject: hello\n\n"
               "line one\n\u00e9 8-bit line\n.\n..dots\n")
        self.lab.run("sendmail", "-i", "-f", "alice@example.org",
                     "bob@v.example", input=msg, check=0)
        path = self.wait_file("bob")[0]
        data = self.read(path)
        self.assertTrue(data.startswith(
            b"Return-Path: <alice@example.org>\n"
            b"X-Original-To: bob@v.example\n"
            b"Delivered-To: bob@v.example\n"), data)
        self.assertTrue(data.endswith(msg.encode()), data)
        self.assertNotIn(b"\r", data)
        self.assertRegex(os.path.basename(path),
                         r"^\d+\.V[0-9a-f]+I[0-9a-f]+M\d{6}\.mx\.v\.example$")
        self.assertEqual(os.listdir(os.path.join(self.base, "bob", "tmp")), [])
        self.assertTrue(os.path.isdir(os.path.join(self.base, "bob", "cur")))
        self.lab.wait_log(": removed")
        self.assertRegex(
            self.lab.maillog(),
            r"tern/virtual\[\d+\]: [0-9A-Za-z]+: to=<bob@v.example>, "
            r"relay=virtual, delay=[0-9.]+, delays=[0-9.]+/[0-9.]+/0/[0-9.]+,"
            r" dsn=2\.0\.0, status=sent \(delivered to maildir\)")

    def test_smtp_delivers_with_key_order(self):
        body = ("From: alice@example.org\r\nSubject: smtp\r\n"
                "Message-ID: <m2@example.org>\r\n"
                "Date: Mon, 1 Jul 2024 10:00:00 +0000\r\n\r\nhi\r\n")
        with smtplib.SMTP("127.0.0.1", self.port, timeout=20) as s:
            s.sendmail("alice@example.org",
                       ["Bob+Tag@v.example", "carol@v.example",
                        "anyone@catchall.example"], body)
        bob = self.read(self.wait_file("bob")[0])
        self.assertIn(b"X-Original-To: Bob+Tag@v.example\n"
                      b"Delivered-To: Bob+Tag@v.example\n", bob)
        self.assertTrue(bob.endswith(body.replace("\r\n", "\n").encode()))
        carol = self.read(self.wait_file("v.example/carol")[0])
        self.assertIn(b"Delivered-To: carol@v.example\n", carol)
        self.wait_file("catchall")
        self.lab.wait_log("status=sent (delivered to maildir)", count=3)

    def test_unknown_user_bounces(self):
        self.lab.run("sendmail", "-f", "alice@example.org", "nobody@v.example",
                     input="Subject: x\n\nx\n", check=0)
        self.lab.wait_log("status=bounced")
        self.assertRegex(self.lab.maillog(),
                         r"to=<nobody@v.example>, relay=virtual, .*"
                         r"dsn=5\.1\.1, status=bounced \(unknown user: "
                         r"\"nobody@v.example\"\)")

    def test_config_problems_defer(self):
        self.lab.run("sendmail", "-f", "alice@example.org", "mbox@v.example",
                     "escape@v.example", input="Subject: x\n\nx\n", check=0)
        self.lab.wait_log("status=deferred", count=2)
        log = self.lab.maillog()
        self.assertRegex(log, r"to=<mbox@v.example>, relay=virtual, .*"
                         r"dsn=4\.3\.5, status=deferred \(mailbox \"mboxfile\""
                         r" is a mailbox file")
        self.assertRegex(log, r"to=<escape@v.example>, relay=virtual, .*"
                         r"dsn=4\.3\.5, status=deferred \(mailbox path "
                         r"\"\.\./outside/\" has a")
        self.assertFalse(os.path.exists(self.lab.path("outside")))
        self.assertIn("mbox@v.example", self.lab.run("sendmail", "-bp").stdout)


class TestUidZeroRefused(VirtualLab):
    uid = 0

    def test_uid_zero_refused(self):
        self.lab.run("sendmail", "-f", "alice@example.org", "bob@v.example",
                     input="Subject: x\n\nx\n", check=0)
        self.lab.wait_log("status=deferred")
        self.assertRegex(self.lab.maillog(),
                         r"to=<bob@v.example>, relay=virtual, .*dsn=4\.3\.5, "
                         r"status=deferred \(recipient bob@v.example: bad uid"
                         r" 0 in virtual_uid_maps")
        self.assertEqual(self.maildir_files("bob"), [])


def uid_of(pid):
    """Real and effective uid of a process, from /proc."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:3]]
    return None


def child_uids(lab, name):
    return [uid_of(pid) for pid, argv in lab.children().items()
            if argv and os.path.basename(argv[0]) == name]


@__import__("unittest").skipUnless(os.geteuid() == 0, "needs root")
class TestRootUidSwitch(VirtualLab):
    uid = THROWAWAY_UID

    def test_mailbox_written_as_its_owner(self):
        self.lab.run("sendmail", "-f", "alice@example.org", "bob@v.example",
                     input="Subject: x\n\nx\n", check=0)
        path = self.wait_file("bob")[0]
        for p in (path, os.path.join(self.base, "bob"),
                  os.path.join(self.base, "bob", "new")):
            st = os.stat(p)
            self.assertEqual((st.st_uid, st.st_gid),
                             (THROWAWAY_UID, THROWAWAY_UID), p)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(
            os.path.join(self.base, "bob", "new")).st_mode), 0o700)
        # unpriv "n": the agent stays root between deliveries; the other
        # services run as mail_owner (nobody)
        self.assertEqual(child_uids(self.lab, "virtual"), [[0, 0]])
        nobody = __import__("pwd").getpwnam("nobody").pw_uid
        self.assertIn([nobody, nobody], child_uids(self.lab, "qmgr"))


@__import__("unittest").skipUnless(os.geteuid() == 0, "needs root")
class TestRootUnprivDefault(VirtualLab):
    uid = THROWAWAY_UID
    virtual_unpriv = "-"

    def test_unpriv_default_drops_to_mail_owner(self):
        self.lab.run("sendmail", "-f", "alice@example.org", "bob@v.example",
                     input="Subject: x\n\nx\n", check=0)
        self.lab.wait_log("status=deferred")
        nobody = __import__("pwd").getpwnam("nobody").pw_uid
        self.assertEqual(child_uids(self.lab, "virtual"), [[nobody, nobody]])
        self.assertRegex(self.lab.maillog(),
                         r"to=<bob@v.example>, relay=virtual, .*dsn=4\.3\.5, "
                         r"status=deferred \(virtual_mailbox_base .*: "
                         r"Permission denied\)")
        self.assertEqual(self.maildir_files("bob"), [])


if __name__ == "__main__":
    ternlab.main()
