"""tern check on good and bad configurations modelled on shared/reference.

A good configuration exits 0 (warnings for unsupported parameters allowed);
a bad one exits 1 and lists every problem with its file and line: bad
values, unknown table types, missing table files, bad master.cf lines,
duplicate services, bad -o values, and spool problems.
"""
import os

import conffixture as fx
import ternlab


class TernCheck(ternlab.TestCase):

    def setUp(self):
        super().setUp()
        fx.setup(self.lab)
        self.main_path = os.path.join(self.lab.config, "main.cf")
        self.master_path = os.path.join(self.lab.config, "master.cf")

    def check(self, code):
        return self.lab.tern("check", check=code)

    def test_good_configuration(self):
        res = self.check(0)
        self.assertNotIn("error", res.stderr)
        self.assertIn(f"{self.main_path}, line {fx.line_of(self.lab.read('main.cf'), 'biff')}"
                      ": ignoring unsupported parameter 'biff'", res.stderr)
        self.assertEqual(res.stdout, "")

    def test_every_problem_listed(self):
        main_cf = self.lab.read("main.cf") + (
            "max_use = many\n"
            "smtpd_timeout = 5y\n"
            "enable_long_queue_ids = perhaps\n"
            "alias_maps = nosuch:/etc/aliases\n"
            "virtual_alias_maps = texthash:" + self.lab.path("etc", "missing") + "\n"
            "loop_a = $loop_b\nloop_b = $loop_a\nmail_name = $loop_a\n")
        self.lab.write("main.cf", main_cf)
        master_cf = fx.MASTER_CF + (
            "smtp      inet  n       -       y       -       -       smtpd\n"
            "short     unix  -       -\n"
            "badproc   unix  -       -       n       -       lots    smtp\n"
            "badtype   tcp   -       -       n       -       -       smtp\n"
            "badover   unix  -       -       n       -       -       smtp\n"
            "  -o max_idle=forever\n")
        self.lab.write("master.cf", master_cf)
        res = self.check(1)
        err = res.stderr

        def line(text, needle):
            return fx.line_of(text, needle)

        expect = [
            f"{self.main_path}, line {line(main_cf, 'max_use')}: parameter 'max_use': invalid value 'many'",
            f"{self.main_path}, line {line(main_cf, 'smtpd_timeout')}: parameter 'smtpd_timeout': invalid value '5y'",
            f"{self.main_path}, line {line(main_cf, 'enable_long_queue_ids')}: parameter 'enable_long_queue_ids': invalid value 'perhaps'",
            f"{self.main_path}, line {line(main_cf, 'alias_maps')}: parameter 'alias_maps': invalid value 'nosuch:/etc/aliases': unsupported table type 'nosuch'",
            f"{self.main_path}, line {line(main_cf, 'virtual_alias_maps')}: parameter 'virtual_alias_maps': table texthash:",
            f"{self.main_path}, line {line(main_cf, 'loop_a')}: parameter 'loop_a': macro expansion loop",
            f"{self.main_path}, line {line(main_cf, 'mail_name')}: parameter 'mail_name': in $loop_a: macro expansion loop",
            # smtpd_banner is set and uses $mail_name: it cannot be computed
            f"{self.main_path}, line {line(main_cf, 'smtpd_banner')}: parameter 'smtpd_banner': in $mail_name: in $loop_a",
            f"{self.master_path}, line {len(fx.MASTER_CF.splitlines()) + 1}: duplicate service 'smtp/inet'",
            f"{self.master_path}, line {line(master_cf, 'short')}: too few fields",
            f"{self.master_path}, line {line(master_cf, 'badproc')}: bad maxproc field 'lots'",
            f"{self.master_path}, line {line(master_cf, 'badtype')}: unknown service type 'tcp'",
            f"{self.master_path}, line {line(master_cf, 'badover')}: parameter 'max_idle': invalid value 'forever'",
        ]
        for text in expect:
            self.assertIn(text, err)
        # the list above plus loop_b: every problem once, nothing else
        errors = [l for l in err.splitlines() if l.startswith("tern check: error:")]
        self.assertEqual(len(errors), len(expect) + 1, err)
        self.assertRegex(err, rf"tern check: {len(expect) + 1} errors, \d+ warnings")

    def test_missing_indexed_table(self):
        self.lab.write("main.cf", self.lab.read("main.cf")
                       + f"transport_maps = hash:{self.lab.config}/transport\n")
        res = self.check(1)
        self.assertIn("parameter 'transport_maps': table hash:", res.stderr)
        # once built, the table passes
        self.lab.tern("map", f"hash:{self.lab.config}/transport", check=0)
        self.check(0)

    def test_service_override_tables_checked(self):
        self.lab.write("master.cf", fx.MASTER_CF
                       + "special   unix  -       -       n       -       -       smtp\n"
                       + f"  -o transport_maps=texthash:{self.lab.config}/absent\n")
        res = self.check(1)
        line = len(fx.MASTER_CF.splitlines()) + 1
        self.assertIn(f"{self.master_path}, line {line}: parameter 'transport_maps': table texthash:",
                      res.stderr)

    def test_missing_files(self):
        os.unlink(self.main_path)
        res = self.check(1)
        self.assertIn(f"open {self.main_path}: No such file or directory", res.stderr)
        os.unlink(self.master_path)
        res = self.check(1)
        self.assertIn(f"open {self.master_path}: No such file or directory", res.stderr)

    def test_spool(self):
        os.makedirs(self.lab.spool, mode=0o755)
        self.check(0)
        os.chmod(self.lab.spool, 0o777)
        res = self.check(1)
        self.assertIn(f"queue_directory {self.lab.spool} is writable by everyone", res.stderr)
        os.chmod(self.lab.spool, 0o755)
        os.rmdir(self.lab.spool)
        with open(self.lab.spool, "w") as f:
            f.write("not a directory\n")
        res = self.check(1)
        self.assertIn(f"queue_directory {self.lab.spool} is not a directory", res.stderr)
        os.unlink(self.lab.spool)

    def test_spool_modes_and_owners_after_start(self):
        self.lab.write("master.cf", "pickup unix n - n 60 1 pickup\n")
        self.lab.start_tern()
        self.lab.stop_tern()
        res = self.check(0)
        self.assertNotIn(self.lab.spool, res.stderr)
        incoming = os.path.join(self.lab.spool, "incoming")
        os.chmod(incoming, 0o755)
        res = self.check(1)
        self.assertIn(f"{incoming} has mode 0755, expected 0700", res.stderr)
        os.chmod(incoming, 0o700)
        if os.geteuid() == 0:           # only root may give it away
            maildrop = os.path.join(self.lab.spool, "maildrop")
            st = os.stat(maildrop)
            os.chown(maildrop, st.st_uid, st.st_gid + 1)
            res = self.check(1)
            self.assertIn(f"{maildrop} is owned by {st.st_uid}:"
                          f"{st.st_gid + 1}, expected {st.st_uid}:{st.st_gid}",
                          res.stderr)
            os.chown(maildrop, st.st_uid, st.st_gid)
        os.rmdir(os.path.join(self.lab.spool, "hold"))
        res = self.check(0)
        self.assertIn("hold is missing (tern start creates it)", res.stderr)

    def test_nul_and_overlong_lines(self):
        with open(self.main_path, "ab") as f:
            f.write(b"mail_name = a\0b\n")
            f.write(b"mydestination = " + b"x" * 70000 + b"\n")
        res = self.check(1)
        with open(self.main_path, "rb") as f:
            count = f.read().count(b"\n")
        self.assertIn(f"{self.main_path}, line {count - 1}: NUL byte in file", res.stderr)
        self.assertIn(f"{self.main_path}, line {count}: line too long", res.stderr)


if __name__ == "__main__":
    ternlab.main()
