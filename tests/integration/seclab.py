"""seclab - the security fixtures integration tests share.

  - CA: a throwaway certificate authority made with the openssl CLI in a
    temporary directory (EC P-256 unless told otherwise), issuing leaves
    with a subjectAltName and a lifetime in days (a negative lifetime makes
    an expired certificate), self-signed certificates, and Postfix-style
    SHA-256 fingerprints of a certificate or of its public key. Files are
    world-readable so services that dropped to mail_owner can load them.
  - make_sasldb(): a Cyrus sasldb made with saslpasswd2 (sasl2-bin) and the
    smtpd.conf that cyrus_sasl_config_path points at.

Nothing here listens anywhere; every subprocess has a timeout and a failure
raises (CalledProcessError) instead of leaving a half-made fixture.
"""
import hashlib
import os
import shutil
import subprocess
import tempfile

OPENSSL = shutil.which("openssl")
SASLPASSWD2 = shutil.which("saslpasswd2") or "/usr/sbin/saslpasswd2"
EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
RSA = ["-newkey", "rsa:2048", "-nodes"]


def have_sasldb_tools():
    """True when saslpasswd2 can be run."""
    return os.access(SASLPASSWD2, os.X_OK)


class CA:
    """A throwaway CA in its own temporary directory; close() removes it."""

    def __init__(self, subject="/CN=tern test CA", prefix="tern-ca-",
                 directory=None):
        self.dir = directory or tempfile.mkdtemp(prefix=prefix)
        os.makedirs(self.dir, exist_ok=True)
        self.ossl("req", "-x509", *EC, "-keyout", "ca.key", "-out", "ca.crt",
                  "-days", "2", "-subj", subject)
        self._publish()

    def ossl(self, *args, input=None):
        """Run openssl in the CA directory; its stdout (bytes)."""
        return subprocess.run([OPENSSL] + list(args), check=True, cwd=self.dir,
                              input=input, capture_output=True,
                              timeout=60).stdout

    def path(self, name):
        return os.path.join(self.dir, name)

    def leaf(self, name, san, days="2", key=None, cn=None):
        """name.crt/name.key signed by the CA; san like "DNS:a,IP:127.0.0.1"."""
        with open(self.path(f"{name}.ext"), "w") as f:
            f.write(f"subjectAltName={san}\n")
        self.ossl("req", *(key or EC), "-keyout", f"{name}.key",
                  "-out", f"{name}.csr", "-subj", f"/CN={cn or name}")
        self.ossl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt",
                  "-CAkey", "ca.key", "-CAcreateserial", "-days", str(days),
                  "-extfile", f"{name}.ext", "-out", f"{name}.crt")
        self._publish()
        return self.path(f"{name}.crt"), self.path(f"{name}.key")

    def self_signed(self, name, cn, san=None):
        """name.crt/name.key, self-signed (no CA)."""
        extra = ["-addext", f"subjectAltName={san}"] if san else []
        self.ossl("req", "-x509", *EC, "-keyout", f"{name}.key",
                  "-out", f"{name}.crt", "-days", "2", "-subj", f"/CN={cn}",
                  *extra)
        self._publish()
        return self.path(f"{name}.crt"), self.path(f"{name}.key")

    def fingerprint(self, name):
        """Postfix's colon hex SHA-256 of name.crt."""
        out = self.ossl("x509", "-in", f"{name}.crt", "-noout",
                        "-fingerprint", "-sha256").decode()
        return out.strip().split("=", 1)[1]

    def pubkey_fingerprint(self, name):
        """Colon hex SHA-256 of name.crt's DER SubjectPublicKeyInfo."""
        pem = self.ossl("x509", "-in", f"{name}.crt", "-noout", "-pubkey")
        der = self.ossl("pkey", "-pubin", "-outform", "DER", input=pem)
        d = hashlib.sha256(der).hexdigest().upper()
        return ":".join(d[i:i + 2] for i in range(0, len(d), 2))

    def _publish(self):
        for name in os.listdir(self.dir):
            os.chmod(os.path.join(self.dir, name), 0o644)
        os.chmod(self.dir, 0o755)

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def make_sasldb(directory, realm, users, mechs="PLAIN LOGIN"):
    """sasldb2 with users {name: password} in realm, and smtpd.conf, in
    directory (made if missing); returns the sasldb path."""
    os.makedirs(directory, exist_ok=True)
    db = os.path.join(directory, "sasldb2")
    for user, password in users.items():
        subprocess.run([SASLPASSWD2, "-p", "-c", "-f", db, "-u", realm, user],
                       input=password, text=True, check=True, timeout=60,
                       capture_output=True)
    with open(os.path.join(directory, "smtpd.conf"), "w") as f:
        f.write("pwcheck_method: auxprop\n"
                "auxprop_plugin: sasldb\n"
                f"sasldb_path: {db}\n"
                f"mech_list: {mechs}\n")
    # services may run as mail_owner: the sasldb must be readable to them
    for name in ("sasldb2", "smtpd.conf"):
        os.chmod(os.path.join(directory, name), 0o644)
    os.chmod(directory, 0o755)
    return db
