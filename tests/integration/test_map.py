"""`tern map` (postmap): build and query transport and access tables,
warnings and errors naming file:line, exit codes, atomic replacement."""
import os
import stat
import threading

import ternlab

TRANSPORT = """\
# transport(5)
example.com        smtp:[mail.example.com]:587
.example.com       smtp:[relay.example.com]
Lists.Example.org  lmtp:unix:/run/lists
user@example.net   error:5.1.1 gone
"""

ACCESS = """\
spammer@example.com   REJECT no thanks
192.0.2               OK
example.org           DUNNO
spammer@example.com   OK duplicate
"""


class MapTest(ternlab.TestCase):

    def table(self, name, text, mode=0o644):
        return self.lab.write(name, text, mode)

    def test_build_and_query_transport(self):
        path = self.table("transport", TRANSPORT)
        res = self.lab.tern("map", f"hash:{path}", check=0)
        self.assertEqual(res.stderr, "")
        self.assertTrue(os.path.exists(path + ".cdb"))
        cases = [("example.com", 0, "smtp:[mail.example.com]:587\n"),
                 (".example.com", 0, "smtp:[relay.example.com]\n"),
                 ("LISTS.example.ORG", 0, "lmtp:unix:/run/lists\n"),
                 ("user@example.net", 0, "error:5.1.1 gone\n"),
                 ("sub.example.com", 1, "")]
        for key, code, out in cases:
            res = self.lab.tern("map", "-q", key, f"hash:{path}")
            self.assertEqual((res.returncode, res.stdout), (code, out), key)

    def test_access_duplicate_warning_names_line(self):
        path = self.table("access", ACCESS)
        res = self.lab.tern("map", f"cdb:{path}", check=0)
        self.assertIn(f"{path}:4: duplicate entry", res.stderr)
        res = self.lab.tern("map", "-q", "spammer@example.com", f"cdb:{path}", check=0)
        self.assertEqual(res.stdout, "REJECT no thanks\n")   # first wins
        res = self.lab.tern("map", "-q", "192.0.2", path, check=0)
        self.assertEqual(res.stdout, "OK\n")

    def test_query_many_keys_from_stdin(self):
        path = self.table("access", ACCESS)
        self.lab.tern("map", path, check=0)
        res = self.lab.tern("map", "-q", "-", f"hash:{path}",
                            input="example.org\nnobody\n192.0.2\n", check=0)
        self.assertEqual(res.stdout, "example.org\tDUNNO\n192.0.2\tOK\n")

    def test_syntax_errors_name_file_and_line(self):
        cases = [("nul", b"a b\nc\x00d e\n", ":2: NUL byte"),
                 ("indent", b"  starts indented\n", ":1: continuation line"),
                 ("long", b"k " + b"v" * 70000 + b"\n", ":1: line too long")]
        for name, data, message in cases:
            path = self.table(name, data)
            res = self.lab.tern("map", f"hash:{path}")
            self.assertEqual(res.returncode, 1, name)
            self.assertIn(path + message, res.stderr)
            self.assertFalse(os.path.exists(path + ".cdb"), name)
        bad = self.table("checks", "/ok/ fine\n/a(b/ broken\n")
        res = self.lab.tern("map", f"regexp:{bad}")
        self.assertEqual(res.returncode, 1)
        self.assertIn(f"{bad}:2: bad regular expression", res.stderr)
        res = self.lab.tern("map", "-q", "ok", f"regexp:{bad}")
        self.assertEqual(res.returncode, 2)          # broken table: error

    def test_exit_codes(self):
        path = self.table("t", "k v\n")
        self.assertEqual(self.lab.tern("map", "-q", "k", f"cdb:{path}").returncode, 2)
        self.lab.tern("map", path, check=0)
        self.assertEqual(self.lab.tern("map", "-q", "k", path).returncode, 0)
        self.assertEqual(self.lab.tern("map", "-q", "x", path).returncode, 1)
        self.assertEqual(self.lab.tern("map", "-q", "x", "mysql:/x").returncode, 2)
        self.assertEqual(self.lab.tern("map").returncode, 64)
        res = self.lab.tern("map", "-q", "k", "static:fixed")
        self.assertEqual((res.returncode, res.stdout), (0, "fixed\n"))

    def test_incremental_and_aliases(self):
        path = self.table("t", "old value\n")
        self.lab.tern("map", path, check=0)
        self.lab.tern("map", "-i", path, input="new entry\nold other\n", check=0)
        self.assertEqual(self.lab.tern("map", "-q", "new", path).stdout, "entry\n")
        self.assertEqual(self.lab.tern("map", "-q", "old", path).stdout, "value\n")
        aliases = self.table("aliases", "postmaster: root\nroot: alice,\n  bob\n")
        self.lab.tern("map", "-a", f"hash:{aliases}", check=0)
        res = self.lab.tern("map", "-q", "Root", f"hash:{aliases}", check=0)
        self.assertEqual(res.stdout, "alice,  bob\n")

    def test_newaliases_builds_alias_database_from_main_cf(self):
        first = self.table("aliases", "postmaster: root\n")
        second = self.table("more-aliases", "abuse: root\n")
        with open(os.path.join(self.lab.config, "main.cf"), "a") as f:
            f.write(f"alias_database = hash:{first}, cdb:{second}\n")
        self.lab.tern("map", "-a", check=0)
        for key, table in (("postmaster", first), ("abuse", second)):
            res = self.lab.tern("map", "-q", key, f"hash:{table}", check=0)
            self.assertEqual(res.stdout, "root\n")
        os.unlink(first + ".cdb")
        self.lab.run("sendmail", "-bi", check=0)
        self.assertTrue(os.path.exists(first + ".cdb"))

    def test_rebuild_is_atomic_and_keeps_mode(self):
        n = 20000
        path = self.table("big", "".join(f"key{i} one\n" for i in range(n)),
                          mode=0o600)
        self.lab.tern("map", path, check=0)
        old = os.open(path + ".cdb", os.O_RDONLY)   # pins the old inode
        self.addCleanup(os.close, old)
        st = os.fstat(old)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
        seen = []
        stop = threading.Event()

        def reader():
            for _ in range(200):                      # bounded
                if stop.is_set():
                    break
                res = self.lab.tern("map", "-q", f"key{n - 1}", path)
                seen.append((res.returncode, res.stdout))

        t = threading.Thread(target=reader)
        t.start()
        try:
            for round_ in range(4):
                value = "two" if round_ % 2 == 0 else "one"
                self.table("big", "".join(f"key{i} {value}\n" for i in range(n)),
                           mode=0o600)
                self.lab.tern("map", path, check=0)
        finally:
            stop.set()
            t.join(timeout=120)
        self.assertTrue(seen)
        for code, out in seen:
            self.assertEqual(code, 0)
            self.assertIn(out, ("one\n", "two\n"))
        self.assertNotEqual(os.stat(path + ".cdb").st_ino, st.st_ino)
        leftovers = [f for f in os.listdir(os.path.dirname(path))
                     if f.startswith("big.cdb.")]
        self.assertEqual(leftovers, [])


if __name__ == "__main__":
    ternlab.main()
