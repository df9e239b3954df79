"""Integration tests for qmgr's reuse of delivery-agent connections.

A burst of messages to one smart host goes through far fewer agent
connections than messages (each agent logs, at debug level, how many
requests one connection carried); a request sent on a pooled connection
whose agent then closes without answering is deferred and delivered on a
later attempt over a new connection (a scripted agent on a private/
socket plays the agent). Everything is loopback and the lab directory;
every wait is bounded.
"""
import os
import re
import socket
import threading

import ternlab
import e2elab
from e2elab import message

N = 30


class BurstTest(e2elab.Case):

    def test_burst_uses_few_agent_connections(self):
        peer = self.peer()
        self.table("transport",
                   f"example.net burst:[127.0.0.1]:{peer.port}\n")
        mail = [("alice@example.org", ["bob@example.net"], message(i))
                for i in range(N)]
        self.start(main="burst_destination_concurrency_limit = 2\n"
                        "burst_initial_destination_concurrency = 2\n",
                   services="burst unix - - n - - smtp -v\n", maildrop=mail)
        self.wait_empty(timeout=60)
        self.assertEqual(len(peer.handler.deliveries()), N)

        def served():
            counts = [int(n) for n in re.findall(
                r"smtp\[\d+\]: delivery agent connection: (\d+) requests?",
                self.lab.maillog())]
            return counts if sum(counts) == N else None
        # qmgr closes idle pooled connections after a few seconds
        ternlab.wait_until(served, timeout=30, what="agent connections end")
        counts = served()
        self.assertLessEqual(len(counts), 4, counts)


class ScriptedAgent:
    """A delivery agent on private/<name>: answers requests with
    'delivered'; on its first connection it closes instead of answering
    the request number `drop_at` (after saying reuse=1 before it)."""

    def __init__(self, path, drop_at):
        self.drop_at = drop_at
        self.requests = []              # (connection number, queue_id)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)           # qmgr runs as mail_owner
        self.sock.listen(5)
        self.sock.settimeout(0.5)
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping = True
        self.thread.join(10)
        self.sock.close()

    def run(self):
        conn_no = 0
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            conn_no += 1
            with c:
                c.settimeout(10)
                self.serve(c, conn_no)

    @staticmethod
    def read_request(f):
        """One request: header and rcpt_count recipients; None at EOF."""
        msgs = []
        count = None
        for _ in range(1000):
            lines = []
            for _ in range(100):
                line = f.readline()
                if line in (b"", b"\n"):
                    break
                lines.append(line.decode().rstrip("\n"))
            if not lines:
                return None
            msgs.append(dict(x.split("=", 1) for x in lines))
            if count is None:
                count = int(msgs[0]["rcpt_count"])
            if len(msgs) == count + 1:
                return msgs
        return None

    def serve(self, c, conn_no):
        f = c.makefile("rb")
        for n in range(1, 100):
            try:
                req = self.read_request(f)
            except OSError:
                return
            if req is None:
                return
            self.requests.append((conn_no, req[0]["queue_id"]))
            if conn_no == 1 and n == self.drop_at:
                return                  # gone without an answer
            reuse = 1 if conn_no == 1 else 0
            out = "".join(f"offset={r['offset']}\ndsn=2.0.0\n"
                          f"action=delivered\nreason=ok\nreuse={reuse}\n\n"
                          for r in req[1:])
            c.sendall(out.encode())
            if not reuse:
                return


class LostReusedTest(e2elab.Case):

    def test_eof_on_reused_connection_defers(self):
        self.table("transport", "example.net scripted:\n")
        self.start()
        agent = ScriptedAgent(os.path.join(self.lab.spool, "private",
                                           "scripted"), drop_at=2)
        self.addCleanup(agent.stop)
        self.sendmail("alice@example.org", ["bob@example.net"], message(1))
        ternlab.wait_until(lambda: len(agent.requests) == 1,
                           what="first request")
        self.lab.wait_log("removed")
        self.sendmail("alice@example.org", ["carol@example.net"], message(2))
        deferred = (r"to=<carol@example.net>, relay=none, .*dsn=4\.3\.0, "
                    r"status=deferred \(lost connection with delivery agent\)")
        ternlab.wait_until(lambda: re.search(deferred, self.lab.maillog()),
                           what="the deferral")
        self.wait_empty(timeout=30, flush=True)
        first, second = agent.requests[0][1], agent.requests[1][1]
        # the first two went on one (reused) connection; the deferred one
        # came again later on a new connection, once
        self.assertEqual([c for c, _ in agent.requests[:2]], [1, 1])
        self.assertNotEqual(first, second)
        self.assertEqual([q for _, q in agent.requests[2:]], [second])
        self.assertGreater(agent.requests[2][0], 1)


if __name__ == "__main__":
    ternlab.main()
