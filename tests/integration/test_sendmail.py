"""sendmail, postdrop, pickup, mailq and `tern queue` end to end.

What a user of cron, PHP's mail(), mutt or git send-email sees: exit codes
(sysexits.h), what lands in the queue, the mailq text byte for byte, the
-j JSON, and the queue control commands. ternd runs only where a test says
so; it is started and killed by PID.
"""
import grp
import os
import pwd
import shutil
import subprocess
import unittest

import ternlab
import sendmail_lab as sl

EX_USAGE, EX_DATAERR = 64, 65


class SendmailBase(ternlab.TestCase):
    main_cf = "myhostname = host.example\nmessage_size_limit = 4000\n"
    master_cf = sl.MASTER_CF

    def setUp(self):
        super().setUp()
        sl.make_spool(self.lab)
        self.addCleanup(sl.stop_ternd, self.lab)

    def sendmail(self, *args, input="Subject: test\n\nbody\n", check=None,
                 env=None, prog="sendmail"):
        return self.lab.run(prog, *args, input=input, check=check,
                            env=env or sl.UTC)

    def only_message(self, queue="maildrop"):
        ids = sl.ids_in(self.lab, queue)
        self.assertEqual(len(ids), 1, ids)
        return ids[0]

    def content(self, qid):
        text = sl.show(self.lab, qid)
        return text.split("***\n", 2)[2].rsplit("*** MESSAGE FILE END", 1)[0]


class TestSubmit(SendmailBase):

    def test_arguments_headers_added_crlf(self):
        self.sendmail("-f", "alice@example.org", "-F", "Alice Q. Cron",
                      "bob@example.net", "root", check=0)
        qid = self.only_message()
        show = sl.show(self.lab, qid)
        self.assertIn("sender: alice@example.org\n", show)
        self.assertIn("recipient: bob@example.net ", show)
        self.assertIn("recipient: root@host.example ", show)   # myorigin
        body = self.content(qid)
        self.assertIn('From: "Alice Q. Cron" <alice@example.org>\r\n', body)
        self.assertRegex(body, r"Date: \w{3}, [ \d]\d \w{3} \d{4} ")
        self.assertRegex(body, r"Message-ID: <[^>]+@host\.example>\r\n")
        self.assertTrue(body.endswith("\r\n\r\nbody\r\n"), repr(body))
        self.assertNotIn("\n\n", body.replace("\r\n", ""))

    def test_default_sender_is_login_at_myorigin(self):
        self.sendmail("bob@example.net", check=0)
        login = pwd.getpwuid(os.getuid()).pw_name
        self.assertIn(f"sender: {login}@host.example\n",
                      sl.show(self.lab, self.only_message()))

    def test_existing_headers_kept(self):
        msg = ("From: me@example.org\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
               "Message-ID: <fixed@example.org>\n\nx\n")
        self.sendmail("-i", "bob@example.net", input=msg, check=0)
        body = self.content(self.only_message())
        self.assertEqual(body, msg.replace("\n", "\r\n"))

    def test_t_recipients_and_bcc_removed(self):
        msg = ("To: Bob <bob@example.net>, carol@example.net\n"
               "Cc: undisclosed:;\n"
               "Bcc: secret@example.net,\n  hidden@example.net\n"
               "Subject: t\n\nbody\n")
        self.sendmail("-t", "-i", "-f", "a@example.org", input=msg, check=0)
        qid = self.only_message()
        show = sl.show(self.lab, qid)
        for rcpt in ("bob", "carol", "secret", "hidden"):
            self.assertIn(f"recipient: {rcpt}@example.net ", show)
        self.assertNotIn("Bcc", self.content(qid))
        self.assertNotIn("secret@", self.content(qid))

    def test_t_without_recipients(self):
        res = self.sendmail("-t", input="Subject: none\n\nx\n")
        self.assertEqual(res.returncode, EX_USAGE)
        self.assertIn("No recipient addresses found in message header",
                      res.stderr)
        self.assertEqual(sl.ids_in(self.lab, "maildrop"), [])

    def test_no_recipients_at_all(self):
        res = self.sendmail()
        self.assertEqual(res.returncode, EX_USAGE)

    def test_lone_dot_ends_input_unless_i(self):
        msg = "Subject: d\n\nbefore\n.\nafter\n"
        self.sendmail("a@example.net", input=msg, check=0)
        body = self.content(self.only_message())
        self.assertIn("before\r\n", body)
        self.assertNotIn("after", body)
        self.lab.tern("queue", "delete", "ALL", check=0)
        self.sendmail("-oi", "a@example.net", input=msg, check=0)
        self.assertIn("before\r\n.\r\nafter\r\n",
                      self.content(self.only_message()))

    def test_oversize_is_dataerr_and_nothing_queued(self):
        res = self.sendmail("a@example.net", input="S: x\n\n" + "y" * 5000)
        self.assertEqual(res.returncode, EX_DATAERR)
        self.assertIn("too big", res.stderr)
        self.assertEqual(os.listdir(os.path.join(self.lab.spool, "maildrop")),
                         [])

    def test_bad_addresses(self):
        for args in (["a@@example.net"], ["-f", "bad<@x", "a@example.net"],
                     ["ok@example.net", "x y@example.net"],
                     ["a@exa\x01mple.net"]):
            res = self.sendmail(*args)
            self.assertEqual(res.returncode, EX_DATAERR, args)
        self.assertEqual(os.listdir(os.path.join(self.lab.spool, "maildrop")),
                         [])

    def test_bad_usage(self):
        for args in (["-N", "sometimes", "a@x.example"], ["-bd"],
                     ["-R", "body", "a@x.example"], ["-Z"]):
            self.assertEqual(self.sendmail(*args).returncode, EX_USAGE, args)

    def test_historic_flags_and_dsn_options(self):
        self.sendmail("-oem", "-odi", "-odb", "-om", "-oee", "-v", "-N",
                      "success,failure", "-R", "hdrs", "-V", "env42",
                      "-B", "8BITMIME", "-r", "a@example.org",
                      "b@example.net", check=0)
        show = sl.show(self.lab, self.only_message())
        self.assertIn("envelope_id: env42\n", show)
        self.assertIn("dsn_ret: HDRS\n", show)
        self.assertIn("body_type: 8BITMIME\n", show)
        self.assertIn("notify 0x6", show)

    def test_nul_and_8bit_content_kept(self):
        msg = "Subject: caf\xe9\n\nline with \x00 nul\n"
        res = subprocess.run([ternlab.program("sendmail"), "a@example.net"],
                             input=msg.encode("latin-1"), capture_output=True,
                             env=self.lab.env(sl.UTC), timeout=30)
        self.assertEqual(res.returncode, 0, res.stderr)
        raw = subprocess.run([ternlab.program("tern"), "queue", "show",
                              self.only_message()], capture_output=True,
                             env=self.lab.env(), timeout=30).stdout
        self.assertIn(b"caf\xe9\r\n", raw)
        self.assertIn(b"line with \x00 nul\r\n", raw)

    def test_bs_session(self):
        session = ("EHLO client.example\r\nMAIL FROM:<s@example.org>\r\n"
                   "RCPT TO:<r1@example.net>\r\nRCPT TO:<r2>\r\nDATA\r\n"
                   "Subject: bs\r\n\r\n..dot stuffed\r\n.\r\n"
                   "RCPT TO:<x@example.net>\r\nNOOP\r\nBOGUS\r\nQUIT\r\n")
        lines = sl.raw(self.lab, "sendmail", "-bs",
                       input=session.encode()).decode().split("\r\n")
        self.assertTrue(lines[0].startswith("220 host.example"), lines)
        self.assertIn("250-host.example", lines)
        self.assertIn("250 ENHANCEDSTATUSCODES", lines)
        self.assertIn("354 End data with <CR><LF>.<CR><LF>", lines)
        qid = self.only_message()
        self.assertIn(f"250 2.0.0 Ok: queued as {qid}", lines)
        self.assertIn("503 5.5.1 Error: need MAIL command", lines)
        self.assertIn("502 5.5.2 Error: command not recognized", lines)
        self.assertEqual(lines[-2], "221 2.0.0 Bye")
        show = sl.show(self.lab, qid)
        self.assertIn("recipient: r2@host.example ", show)
        self.assertIn("\r\n.dot stuffed\r\n", self.content(qid))

    def test_bs_oversize_and_bad_address(self):
        session = ("MAIL FROM:<bad<@x>\r\nMAIL FROM:<s@example.org>\r\n"
                   "RCPT TO:<r@example.net>\r\nDATA\r\n" + "z" * 5000 +
                   "\r\n.\r\nQUIT\r\n")
        lines = self.sendmail("-bs", input=session, check=0).stdout
        self.assertIn("501 5.1.7 Bad sender address syntax", lines)
        self.assertIn("552 5.3.4 Error: message file too big", lines)
        self.assertEqual(sl.ids_in(self.lab, "maildrop"), [])

    def test_bs_size_parameter(self):
        """SIZE= as smtpd parses it: digits only, overflow is bad syntax,
        over message_size_limit (4000 here) is 552."""
        cases = [
            ("SIZE=100", "250 2.1.0 Ok"),
            ("SIZE=4000", "250 2.1.0 Ok"),
            ("SIZE=abc", "501 5.5.4 Bad message size syntax"),
            ("SIZE=", "501 5.5.4 Bad message size syntax"),
            ("SIZE=-1", "501 5.5.4 Bad message size syntax"),
            ("SIZE=+5", "501 5.5.4 Bad message size syntax"),
            ("SIZE=12x", "501 5.5.4 Bad message size syntax"),
            ("SIZE=18446744073709551616", "501 5.5.4 Bad message size syntax"),
            ("SIZE=" + "9" * 300, "501 5.5.4 Bad message size syntax"),
            ("SIZE=4001", "552 5.3.4 Message size exceeds fixed limit"),
            ("SIZE=18446744073709551615",
             "552 5.3.4 Message size exceeds fixed limit"),
        ]
        session = "".join(f"MAIL FROM:<s@example.org> {arg}\r\nRSET\r\n"
                          for arg, _ in cases) + "QUIT\r\n"
        lines = sl.raw(self.lab, "sendmail", "-bs",
                       input=session.encode()).decode()
        replies = [l for l in lines.split("\r\n")
                   if l and not l.startswith(("220", "221"))
                   and l != "250 2.0.0 Ok"]
        self.assertEqual(replies, [want for _, want in cases])
        self.assertEqual(sl.ids_in(self.lab, "maildrop"), [])


class TestMailq(SendmailBase):

    def test_mailq_matches_json_and_is_exact(self):
        self.assertEqual(self.lab.run("mailq", env=sl.UTC, check=0).stdout,
                         "Mail queue is empty\n")
        for i in range(3):
            self.sendmail("-f", "" if i == 1 else f"s{i}@example.org",
                          f"r{i}@example.net", "second@example.net",
                          input="Subject: m\n\n" + "x" * (600 * i), check=0)
        entries = sl.queue_json(self.lab)
        self.assertEqual(len(entries), 3)
        self.assertEqual({e["queue_name"] for e in entries}, {"maildrop"})
        self.assertEqual(sorted(e["sender"] for e in entries),
                         ["MAILER-DAEMON", "s0@example.org", "s2@example.org"])
        for e in entries:
            self.assertIs(e["forced_expire"], False)
            self.assertEqual(e["recipients"][0]["orig_address"],
                             e["recipients"][0]["address"])
        want = sl.expected_mailq(entries)
        for cmd in (["mailq"], ["sendmail", "-bp"]):
            got = self.lab.run(*cmd, env=sl.UTC, check=0).stdout
            self.assertEqual(got, want, cmd)
        self.assertEqual(self.lab.tern("queue", "list", env=sl.UTC,
                                       check=0).stdout, want)


class TestWithTernd(SendmailBase):

    def test_ternd_stopped_then_started_and_queue_control(self):
        self.sendmail("-f", "a@example.org", "b@example.net", check=0)
        qid = self.only_message("maildrop")
        self.assertIn(qid, self.lab.run("mailq", env=sl.UTC).stdout)
        sl.start_ternd(self.lab)
        # pickup publishes incoming/ID, then unlinks maildrop/ID: wait for
        # both, since the test may look between the two steps.
        ternlab.wait_until(lambda: sl.ids_in(self.lab, "incoming") == [qid]
                           and sl.ids_in(self.lab, "maildrop") == [],
                           timeout=20, what="pickup moves the message")
        sl.wait_log(self.lab, f"{qid}: uid={os.getuid()} from=<a@example.org>")
        # a message submitted while ternd runs is woken through public/pickup
        self.sendmail("c@example.net", check=0)
        ternlab.wait_until(lambda: len(sl.ids_in(self.lab, "incoming")) == 2,
                           timeout=20, what="second message picked up")

        tq = lambda *a, **kw: self.lab.tern("queue", *a, env=sl.UTC, **kw)
        self.assertEqual(tq("hold", qid).returncode, 0)
        self.assertIn(f"\n{qid}!", tq("list").stdout)
        self.assertEqual(sl.ids_in(self.lab, "hold"), [qid])
        self.assertEqual(tq("release", qid).returncode, 0)
        self.assertEqual(sl.ids_in(self.lab, "deferred"), [qid])
        self.assertEqual(tq("requeue", "-", input=f"{qid}\n").returncode, 0)
        self.assertIn(qid, sl.ids_in(self.lab, "incoming"))
        entries = sl.queue_json(self.lab)
        self.assertEqual(tq("list").stdout, sl.expected_mailq(entries))
        res = tq("delete", qid, "0123456789")
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("0123456789: no such message", res.stderr)
        self.assertNotIn(qid, tq("list").stdout)
        self.assertEqual(tq("delete", "ALL").returncode, 0)
        self.assertEqual(tq("list").stdout, "Mail queue is empty\n")
        self.assertNotEqual(tq("show", "../../etc").returncode, 0)

    def test_malformed_maildrop_file_goes_to_corrupt(self):
        bad = os.path.join(self.lab.spool, "maildrop", "ABCDEF1")
        with open(bad, "wb") as f:
            f.write(b"V\x00\x00\x00\x011T\x00\x00\xff\xff garbage")
        sl.start_ternd(self.lab)
        ternlab.wait_until(lambda: sl.ids_in(self.lab, "corrupt") ==
                           ["ABCDEF1"], timeout=20, what="quarantine")
        self.assertEqual(sl.ids_in(self.lab, "incoming"), [])
        sl.wait_log(self.lab, "ABCDEF1: corrupt queue file")


@unittest.skipUnless(os.geteuid() == 0, "needs root to create a user")
class TestUnprivileged(SendmailBase):

    def setUp(self):
        super().setUp()
        tag = f"tt{os.getpid() % 100000}"
        self.user, self.group = tag + "u", tag + "g"
        subprocess.run(["groupadd", self.group], check=True)
        self.addCleanup(subprocess.run, ["groupdel", self.group])
        subprocess.run(["useradd", "-M", "-N", "-g", "nogroup", "-s",
                        "/usr/sbin/nologin", self.user], check=True)
        self.addCleanup(subprocess.run, ["userdel", self.user])
        self.pw = pwd.getpwnam(self.user)
        gid = grp.getgrnam(self.group).gr_gid
        # a setgid copy of postdrop, as a root install makes it
        cmd = self.lab.path("cmd")
        os.makedirs(cmd)
        shutil.copy(ternlab.program("postdrop"), cmd)
        os.chown(os.path.join(cmd, "postdrop"), 0, gid)
        os.chmod(os.path.join(cmd, "postdrop"), 0o2755)
        os.chown(os.path.join(self.lab.spool, "maildrop"), 0, gid)
        os.chmod(os.path.join(self.lab.spool, "maildrop"), 0o1770)
        for path in (self.lab.root, cmd, self.lab.config):
            os.chmod(path, 0o755)
        with open(os.path.join(self.lab.config, "main.cf"), "a") as f:
            f.write(f"command_directory = {cmd}\n")

    def as_user(self, prog, *args, env=None, input="Subject: u\n\nx\n"):
        pw = self.pw

        def drop():
            os.setgroups([])
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
        path = prog if os.path.isabs(prog) else ternlab.program(prog)
        return subprocess.run([path] + list(args), input=input, text=True,
                              capture_output=True, preexec_fn=drop,
                              env=self.lab.env(env or sl.UTC), timeout=60)

    @unittest.skipIf(sl.sanitized(), "LeakSanitizer cannot run set-id")
    def test_user_submits_through_setgid_postdrop(self):
        res = self.as_user("sendmail", "root@example.net")
        self.assertEqual(res.returncode, 0, res.stderr)
        qid = self.only_message()
        st = os.stat(os.path.join(self.lab.spool, "maildrop", qid))
        self.assertEqual(st.st_uid, self.pw.pw_uid)       # the submitter
        self.assertIn(f"sender: {self.user}@host.example\n",
                      sl.show(self.lab, qid))
        # the user cannot list maildrop nor read the queue
        res = self.as_user("/bin/ls", os.path.join(self.lab.spool, "maildrop"))
        self.assertNotEqual(res.returncode, 0)
        sl.start_ternd(self.lab)
        sl.wait_log(self.lab, f"{qid}: uid={self.pw.pw_uid} from=<", timeout=20)

    def test_setgid_postdrop_ignores_untrusted_config(self):
        evil = self.lab.path("evil")
        os.makedirs(evil)
        with open(os.path.join(evil, "main.cf"), "w") as f:
            f.write(f"queue_directory = {evil}\n")
        os.chown(evil, self.pw.pw_uid, -1)
        res = self.as_user(os.path.join(self.lab.path("cmd"), "postdrop"),
                           "-c", evil, input="TERNDROP 1\n")
        self.assertNotEqual(res.returncode, 0)
        self.assertIn("ignoring untrusted configuration directory", res.stderr)


if __name__ == "__main__":
    ternlab.main()
