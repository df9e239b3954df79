"""conffixture - main.cf / master.cf modelled on the three reference setups.

shared/reference: a smart host relay with SASL password maps and TLS
(apiscp-smtp.md), the self-hosted server with the submission service and its
-o overrides (selfhosted-postfix-setup.md), and the relaylim / oneshot /
per-sender transports (apiscp-smtp.md). Used by test_conf.py and
test_check.py. TABLES names the table files the configuration refers to, so
a test can create them.
"""
import re
import subprocess

MAIN_CF = """\
# Smart host relay (apiscp): all outbound mail through one authenticated hop.
myhostname = mail.example.com
mydomain = example.com
myorigin = $mydomain
relayhost = [mail.relay.com]:587
smtp_sasl_auth_enable = yes
smtp_sasl_password_maps = texthash:{cfg}/sasl_passwd
smtp_sasl_security_options = noanonymous
smtp_tls_security_level = encrypt
smtp_tls_CAfile = /etc/ssl/certs/ca-certificates.crt

# Self-hosted server (Debian defaults kept by many sites).
smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)
biff = no
append_dot_mydomain = no
compatibility_level = 3.6
mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104
    [::1]/128
inet_interfaces = all
inet_protocols = ipv4
recipient_delimiter = +
message_size_limit = 52428800
mydestination = $myhostname, localhost.$mydomain, localhost
smtpd_helo_required = yes
disable_vrfy_command = yes
virtual_mailbox_domains = example.com, example.net
virtual_mailbox_base = /home/vmail
virtual_mailbox_maps = texthash:{cfg}/vmail_mailbox
virtual_alias_maps = texthash:{cfg}/vmail_aliases
mua_client_restrictions = permit_sasl_authenticated, reject

# Transports (apiscp): relaylim delivers in series, oneshot tries once.
transport_maps = texthash:{cfg}/transport
sender_dependent_default_transport_maps = texthash:{cfg}/sender_transport
relaylim_destination_concurrency_limit = 1
default_destination_concurrency_limit = 20
"""

MASTER_CF = """\
# service type  private unpriv  chroot  wakeup  maxproc command + args
smtp      inet  n       -       y       -       -       smtpd
submission inet n       -       y       -       -       smtpd
  -o syslog_name=tern/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=$mua_client_restrictions
  -o { smtpd_banner = $myhostname ESMTP submission }
pickup    unix  n       -       y       60      1       pickup
qmgr      unix  n       -       n       300     1       qmgr
smtp      unix  -       -       y       -       -       smtp
relay     unix  -       -       y       -       -       smtp
relaylim  unix  -       -       n       -       -       smtp
oneshot   unix  -       -       n       -       -       smtp
  -o maximal_queue_lifetime=0
mydomain.com-out unix - -       n       -       -       smtp
        -o smtp_helo_name=mydomain.com
        -o smtp_bind_address=64.22.68.2
error     unix  -       -       y       -       -       error
discard   unix  -       -       y       -       -       discard
virtual   unix  -       n       n       -       -       virtual
"""

TABLES = {
    "sasl_passwd": "[mail.relay.com]:587 someuser:somepassword\n",
    "vmail_mailbox": "alice@example.com example.com/alice/\n",
    "vmail_aliases": "postmaster@example.com alice@example.com\n",
    "transport": ("yahoo.com relaylim:\n.ru oneshot:\n"
                  "example.org error:Bad domain!\n"),
    "sender_transport": "@mydomain.com mydomain.com-out:\n",
}

# User macros and per-transport names are valid although not in the registry.
USER_MACROS = {"mua_client_restrictions"}


def setup(lab, tables=True):
    """Write the fixture (and its tables) into the lab's config directory."""
    lab.write("main.cf", lab.default_main_cf() + MAIN_CF.format(cfg=lab.config))
    lab.write("master.cf", MASTER_CF)
    if tables:
        for name, text in TABLES.items():
            lab.write(name, text)


def line_of(text, needle):
    """1-based number of the last line of text that starts with needle
    (the definition that wins)."""
    found = [n for n, line in enumerate(text.splitlines(), 1)
             if line.startswith(needle)]
    if not found:
        raise AssertionError(f"{needle!r} not found")
    return found[-1]


def definitions(main_cf):
    """(name, line) of every definition in a main.cf text."""
    out = []
    for number, line in enumerate(main_cf.splitlines(), 1):
        m = re.match(r"([A-Za-z0-9_]+)\s*=", line)
        if m:
            out.append((m.group(1), number))
    return out


def overrides(master_cf):
    """(name, entry line) of every -o in a master.cf text."""
    out, entry = [], 0
    for number, line in enumerate(master_cf.splitlines(), 1):
        if line and not line[0].isspace() and not line.startswith("#"):
            entry = number
        for m in re.finditer(r"-o\s+(?:\{\s*)?([A-Za-z0-9_.-]+)\s*=", line):
            out.append((m.group(1), entry))
    return out


def known(lab, name):
    """Whether tern's registry knows name (tern conf -d NAME prints it)."""
    res = lab.tern("conf", "-d", name)
    return res.returncode == 0 and res.stdout.startswith(name + " =")


def transport_name(name, master_cf):
    """Whether name is <master.cf service>_<per-transport suffix>."""
    services = {line.split()[0] for line in master_cf.splitlines()
                if line and not line[0].isspace() and not line.startswith("#")}
    suffixes = ("destination_concurrency_limit", "destination_recipient_limit",
                "destination_rate_delay", "initial_destination_concurrency")
    return any(name == f"{s}_{x}" for s in services for x in suffixes)
