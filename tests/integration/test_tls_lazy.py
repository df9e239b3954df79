"""OpenSSL is mapped only by the processes that use TLS (docs/tls.md).

tls/ is split: programs link an OpenSSL-free front, and the OpenSSL engine
is the module tern-tls.so in daemon_directory, loaded the first time a
process needs TLS. Checked by reading /proc/PID/maps of ternd's children:
an smtpd at smtpd_tls_security_level = none and an smtp agent relaying
without TLS map neither the module nor libssl/libcrypto; an smtpd at may
with a certificate (a seclab throwaway CA) maps them and STARTTLS works.
"""
import smtplib
import ssl
import time

import e2elab
import seclab
import ternlab

CA = None
OPENSSL_FILES = ("tern-tls.so", "libssl.so", "libcrypto.so")


def setUpModule():
    global CA
    CA = seclab.CA(prefix="tern-lazytls-ca-")
    CA.leaf("rsa", "DNS:localhost,IP:127.0.0.1", key=seclab.RSA,
            cn="localhost")


def tearDownModule():
    CA.close()


def maps(pid):
    """The file names pid has mapped (a set; empty if it is gone)."""
    try:
        with open(f"/proc/{pid}/maps") as f:
            return {line.split()[-1] for line in f if len(line.split()) >= 6}
    except OSError:
        return set()


def openssl_mapped(pid):
    """Which of the module, libssl and libcrypto pid maps."""
    return sorted(name for name in OPENSSL_FILES
                  if any(name in path for path in maps(pid)))


class LazyTLSTest(e2elab.Case):

    def setUp(self):
        super().setUp()
        self.p_none = ternlab.free_port()
        self.p_may = ternlab.free_port()
        self.sink = self.peer()         # plaintext only: no STARTTLS offered
        self.start(
            main=(f"relayhost = [127.0.0.1]:{self.sink.port}\n"
                  "mynetworks = 127.0.0.0/8\n"
                  "smtpd_tls_security_level = none\n"
                  f"smtpd_tls_cert_file = {CA.path('rsa.crt')}\n"
                  f"smtpd_tls_key_file = {CA.path('rsa.key')}\n"
                  "smtpd_tls_loglevel = 1\n"
                  "smtp_tls_security_level = may\n"),
            services=(f"127.0.0.1:{self.p_none} inet n - n - - smtpd\n"
                      f"127.0.0.1:{self.p_may} inet n - n - - smtpd\n"
                      "  -o smtpd_tls_security_level=may\n"))
        self.ternd = self.lab.tern_pid()
        self.assertIsNotNone(self.ternd)

    def procs(self, name, service=None):
        """PIDs of ternd's children running program name (for service)."""
        return [pid for pid, argv in self.lab.children(self.ternd).items()
                if argv and argv[0].rsplit("/", 1)[-1] == name
                and (service is None or service in argv)]

    def test_smtpd_none_and_plain_relay_map_no_openssl(self):
        with smtplib.SMTP("127.0.0.1", self.p_none, timeout=30) as s:
            code, text = s.ehlo("client.example")
            self.assertEqual(code, 250)
            self.assertNotIn(b"STARTTLS", text)
            s.sendmail("alice@example.org", ["bob@example.net"],
                       b"Subject: lazy\r\n\r\nno TLS anywhere\r\n")
            smtpds = self.procs("smtpd", f"127.0.0.1:{self.p_none}")
            self.assertTrue(smtpds, self.lab.children(self.ternd))
            for pid in smtpds:
                self.assertEqual(openssl_mapped(pid), [], f"smtpd[{pid}]")
        self.wait_empty(timeout=30)
        self.assertEqual(len(self.sink.messages), 1)
        agents = self.procs("smtp")     # the agent waits for its next job
        self.assertTrue(agents, self.lab.children(self.ternd))
        for pid in agents:
            self.assertEqual(openssl_mapped(pid), [], f"smtp[{pid}]")
        self.assertNotIn("TLS", self.lab.maillog())

    def test_smtpd_may_maps_openssl_and_starttls_works(self):
        ctx = ssl.create_default_context(cafile=CA.path("ca.crt"))
        with smtplib.SMTP("127.0.0.1", self.p_may, timeout=30) as s:
            code, text = s.ehlo("client.example")
            self.assertIn(b"STARTTLS", text)
            smtpds = self.procs("smtpd", f"127.0.0.1:{self.p_may}")
            self.assertTrue(smtpds, self.lab.children(self.ternd))
            for pid in smtpds:      # loaded at start: TLS is on
                # ternd may have just started a spare smtpd that is still
                # initialising (slow under ASan): give each one time to
                # load the module; one that exits meanwhile is skipped
                deadline = time.monotonic() + 20
                while (openssl_mapped(pid) != sorted(OPENSSL_FILES)
                       and maps(pid) and time.monotonic() < deadline):
                    time.sleep(0.05)
                if maps(pid):
                    self.assertEqual(openssl_mapped(pid),
                                     sorted(OPENSSL_FILES), f"smtpd[{pid}]")
            s.starttls(context=ctx)
            s.ehlo("client.example")
            self.assertIsNotNone(s.sock.version())
        self.lab.wait_log("TLS connection established from")


if __name__ == "__main__":
    ternlab.main()
