"""The quick-start demo, run for real: scripts/demo writes its configuration
into a temporary directory (--no-build --no-start, free ports through the
TERN_DEMO_* overrides, the build under test), then the test starts tern on
it in the foreground as the demo would and sends with swaks:

- to someone@demo.example on the demo's smtp port: the message lands in
  demo/mail/someone/new/;
- on the submission port with STARTTLS and AUTH PLAIN as the demo's SASL
  user (password from demo/etc/demo-password): it lands too; without
  STARTTLS the same submission is refused.

Run as root, the demo's accounts are nobody/nogroup (TERN_DEMO_USER and
TERN_DEMO_GROUP) so the test creates no system account. Only loopback and
the lab directory are used; tern is stopped by PID.
"""
import glob
import os
import shutil
import subprocess

import ternlab


def have(prog):
    return shutil.which(prog) is not None


class TestDemo(ternlab.TestCase):

    def setUp(self):
        for prog in ("swaks", "saslpasswd2", "openssl"):
            if not have(prog):
                self.skipTest(f"{prog} is not installed")
        if not os.path.exists(os.path.join(ternlab.BUILD, "libexec", "tern",
                                           "virtual")):
            self.skipTest("virtual is not built")
        super().setUp()
        os.chmod(self.lab.root, 0o755)
        self.demo = self.lab.path("demo")
        self.etc = os.path.join(self.demo, "etc")
        self.smtp_port = ternlab.free_port()
        self.submission_port = ternlab.free_port()
        while self.submission_port == self.smtp_port:
            self.submission_port = ternlab.free_port()
        env = dict(os.environ, TERN_DEMO_DIR=self.demo,
                   TERN_DEMO_BUILD=os.path.abspath(ternlab.BUILD),
                   TERN_DEMO_SMTP_PORT=str(self.smtp_port),
                   TERN_DEMO_SUBMISSION_PORT=str(self.submission_port),
                   TERN_DEMO_USER="nobody", TERN_DEMO_GROUP="nogroup")
        env.pop("MAIL_CONFIG", None)
        self.setup = subprocess.run(
            ["sh", os.path.join(ternlab.SOURCE, "scripts", "demo"),
             "--no-build", "--no-start"], env=env, capture_output=True,
            text=True, timeout=120)
        self.assertEqual(self.setup.returncode, 0,
                         self.setup.stdout + self.setup.stderr)
        with open(os.path.join(self.etc, "demo-password")) as f:
            self.password = f.read().strip()
        self.out = open(self.lab.path("tern.out"), "w")
        self.addCleanup(self.out.close)
        self.ternd = self.lab.start("tern", "start-fg", "-c", self.etc,
                                    env={"MAIL_CONFIG": self.etc},
                                    stdout=self.out, stderr=subprocess.STDOUT)
        self.addCleanup(self.stop_tern)
        ternlab.wait_for_port(self.smtp_port)
        ternlab.wait_for_port(self.submission_port)

    def stop_tern(self):
        self.lab.run("tern", "stop", "-c", self.etc,
                     env={"MAIL_CONFIG": self.etc}, timeout=120)
        self.lab.stop(self.ternd)

    def log(self):
        with open(self.lab.path("tern.out")) as f:
            return f.read()

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def maildir(self):
        return sorted(glob.glob(os.path.join(self.demo, "mail", "someone",
                                             "new", "*")))

    def swaks(self, *args):
        return subprocess.run(["swaks", "--to", "someone@demo.example",
                               "--timeout", "20", *args],
                              capture_output=True, text=True, timeout=60)

    def wait_mail(self, count):
        return ternlab.wait_until(
            lambda: len(self.maildir()) >= count and self.maildir(),
            timeout=20, what=f"{count} message(s) in demo/mail/someone/new"
            f" (log:\n{self.log()})")

    def test_setup_output(self):
        text = self.setup.stdout
        self.assertIn("configuration: OK", text)
        self.assertIn(f"swaks --server 127.0.0.1:{self.smtp_port} ", text)
        self.assertIn(f"swaks --server 127.0.0.1:{self.submission_port} "
                      "--tls --auth PLAIN", text)
        self.assertIn(f"--auth-password {self.password}", text)
        self.assertIn(os.path.join(self.demo, "mail", "someone", "new"), text)

    def test_smtp_lands_in_maildir(self):
        res = self.swaks("--server", f"127.0.0.1:{self.smtp_port}",
                         "--from", "you@example.org",
                         "--header", "Subject: demo smtp")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        data = self.read(self.wait_mail(1)[0])
        self.assertTrue(data.startswith(b"Return-Path: <you@example.org>\n"
                                        b"X-Original-To: someone@demo.example"
                                        b"\nDelivered-To: someone@demo.example"
                                        b"\n"), data)
        self.assertIn(b"Subject: demo smtp\n", data)
        self.assertRegex(self.log(), r"to=<someone@demo.example>, "
                         r"relay=virtual, .*status=sent \(delivered to "
                         r"maildir\)")

    def test_submission_with_starttls_and_auth(self):
        common = ("--server", f"127.0.0.1:{self.submission_port}",
                  "--from", "demo@demo.example", "--auth", "PLAIN",
                  "--auth-user", "demo@demo.example",
                  "--auth-password", self.password)
        refused = self.swaks(*common)               # no STARTTLS
        self.assertNotEqual(refused.returncode, 0)
        res = self.swaks(*common, "--tls", "--header", "Subject: demo sub")
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertIn("235 2.7.0", res.stdout)
        data = self.read(self.wait_mail(1)[0])
        self.assertIn(b"Subject: demo sub\n", data)
        self.assertIn("sasl_username=demo@demo.example", self.log())
        self.assertEqual(len(self.maildir()), 1)


if __name__ == "__main__":
    ternlab.main()
