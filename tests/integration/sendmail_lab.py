"""sendmail_lab - helpers shared by test_sendmail.py and test_crash.py.

A spool prepared for sendmail/pickup tests, ternd started and killed by PID,
and the queue read back through `tern queue list -j` / `tern queue show`.
Only loopback and the lab's temporary directory are touched.
"""
import json
import os
import pwd
import grp
import signal
import subprocess
import time

import ternlab

# pickup alone, woken every second, so tests need not wait a minute.
MASTER_CF = "pickup    unix  n       -       n       1       1       pickup\n"
QUEUES = ("maildrop", "incoming", "active", "deferred", "hold", "corrupt",
          "defer", "private", "public", "pid")
UTC = {"TZ": "UTC"}


def sanitized():
    """True when the build under test uses the sanitizers (TERN_SANITIZE)."""
    try:
        with open(os.path.join(ternlab.BUILD, "CMakeCache.txt")) as f:
            return "TERN_SANITIZE:BOOL=ON" in f.read()
    except OSError:
        return False


def make_spool(lab):
    """Create the spool directories with docs/queue.md modes (no ternd)."""
    modes = {"maildrop": 0o1770, "public": 0o2710, "pid": 0o755}
    os.makedirs(lab.spool, exist_ok=True)
    os.chmod(lab.spool, 0o755)
    for q in QUEUES:
        path = os.path.join(lab.spool, q)
        os.makedirs(path, exist_ok=True)
        os.chmod(path, modes.get(q, 0o700))


def own_spool(lab):
    """As root, give the spool to mail_owner (nobody) as a root start needs.

    ternd is to apply this ownership itself (docs/queue.md); doing it here
    as well keeps these tests about sendmail/pickup, not about ternd."""
    if os.geteuid() != 0:
        return
    os.chmod(lab.root, 0o755)
    uid = pwd.getpwnam("nobody").pw_uid
    gid = grp.getgrnam("nogroup").gr_gid
    for q in QUEUES:
        path = os.path.join(lab.spool, q)
        os.chown(path, uid, gid if q in ("maildrop", "public") else -1)
        os.chmod(path, {"maildrop": 0o1770, "public": 0o2710,
                        "pid": 0o755}.get(q, 0o700))


def ternd_pid(lab):
    """PID of the running ternd (from its PID file), or None."""
    try:
        with open(os.path.join(lab.spool, "pid", "master.pid")) as f:
            pid = int(f.read().split()[0])
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError, IndexError):
        pass
    res = lab.tern("status")
    if res.returncode != 0 or "(pid " not in res.stdout + res.stderr:
        return None
    text = res.stdout + res.stderr
    return int(text.split("(pid ")[1].split(")")[0])


def children(pid):
    """PIDs whose parent is pid (walking /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            found.append(int(entry))
    return found


def start_ternd(lab):
    """`tern start`, then wait for its PID; returns it."""
    make_spool(lab)
    own_spool(lab)
    res = lab.tern("start")
    if res.returncode != 0:
        raise AssertionError(f"tern start: {res.stdout}{res.stderr}")
    return ternlab.wait_until(lambda: ternd_pid(lab), what="ternd pid")


def kill9_ternd(lab):
    """kill -9 ternd and every child of it, by PID; returns how many."""
    pid = ternd_pid(lab)
    if pid is None:
        return 0
    victims = [pid] + children(pid)
    for p in victims:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not any(os.path.exists(f"/proc/{p}") and
                   _state(p) not in ("Z", None) for p in victims):
            break
        time.sleep(0.02)
    return len(victims)


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def stop_ternd(lab):
    """Stop a ternd this lab started (abort, then SIGKILL by PID)."""
    pid = ternd_pid(lab)
    if pid is None:
        return
    lab.tern("abort", timeout=30)
    try:
        ternlab.wait_until(lambda: not os.path.exists(f"/proc/{pid}")
                           or _state(pid) == "Z", timeout=10)
    except TimeoutError:
        kill9_ternd(lab)


def queue_json(lab):
    """`tern queue list -j` parsed: a list of dicts."""
    res = lab.tern("queue", "list", "-j", check=0, env=UTC)
    return [json.loads(line) for line in res.stdout.splitlines()]


def ids_in(lab, queue):
    """Queue IDs (not temporary files) in one spool directory."""
    path = os.path.join(lab.spool, queue)
    return sorted(n for n in os.listdir(path)
                  if not n.startswith(".") and not n.startswith("tmp."))


def show(lab, qid):
    """`tern queue show ID` output, bytes as latin-1 (CR LF kept)."""
    return raw(lab, "tern", "queue", "show", qid).decode("latin-1")


def raw(lab, prog, *args, input=b"", env=None):
    """Run a built program with byte I/O (no newline translation); stdout."""
    res = subprocess.run([ternlab.program(prog)] + list(args), input=input,
                         capture_output=True, env=lab.env(env or UTC),
                         timeout=60)
    if res.returncode != 0:
        raise AssertionError(f"{prog} {args}: exit {res.returncode}: "
                             f"{res.stderr.decode(errors='replace')}")
    return res.stdout


def expected_mailq(entries, long_ids=False):
    """postqueue -p text built independently from -j objects (TZ=UTC)."""
    if not entries:
        return "Mail queue is empty\n"
    if long_ids:
        head = "%-17s %8s %-19s %s\n" % ("----Queue ID-----", "--Size--",
                                         "---Arrival Time----",
                                         "--Sender/Recipient------")
        sfmt, rfmt = "%-17s %8d %19.19s %s\n", "%-17s %8s %-19s %s\n"
    else:
        head = "%-11s %7s %-20s %s\n" % ("-Queue ID-", "--Size--",
                                         "----Arrival Time----",
                                         "-Sender/Recipient-------")
        sfmt, rfmt = "%-11s %7d %20.20s %s\n", "%-11s %7s %-20s %s\n"
    status = {"active": "*", "hold": "!"}
    blocks = []
    for e in entries:
        when = time.asctime(time.gmtime(e["arrival_time"]))
        text = sfmt % (e["queue_id"] + status.get(e["queue_name"], " "),
                       e["message_size"], when, e["sender"])
        for r in e["recipients"]:
            text += rfmt % ("", "", "", r["address"])
        blocks.append(text)
    kbytes = sum(e["message_size"] for e in entries) // 1024
    n = len(entries)
    return (head + "\n".join(blocks) +
            "\n-- %d Kbytes in %d Request%s.\n" % (kbytes, n,
                                                    "" if n == 1 else "s"))


def wait_log(lab, text, timeout=10.0):
    """Wait until the lab's maillog holds text."""
    return ternlab.wait_until(lambda: text in lab.maillog(), timeout=timeout,
                              what=f"{text!r} in maillog")
