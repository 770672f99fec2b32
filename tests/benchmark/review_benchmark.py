#!/usr/bin/env python3
"""The setup's Review on a large audience: measures and prints, asserts nothing.

    python3 tests/benchmark/review_benchmark.py --db DB [--size 20000] [--latency 0.1]

``DB`` is a database with ``mailchimp_connector`` installed (``odoo`` on PATH,
PostgreSQL reachable as for ``tests/run.py``; ``--addons-path`` if ``odoo`` does
not find this working tree's addon itself). The project's sandbox is started here
as a separate process with ``--size`` subscribed members (``MAILCHIMP_SANDBOX_SEED``)
and ``--latency`` seconds per API call; one ``odoo shell`` makes a sync (rolled
back at the end) and runs its review (``engine.review.SyncReview``) three times
with one connection, then with the review's own number of connections. For each
it prints the wall time, the requests the review counted, the GETs in the
sandbox's request log and the other methods there (none expected).
"""

# a command-line program: what it prints is its report, not a log line
# pylint: disable=print-used

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent

SHELL = """
import json, time, urllib.request
from odoo.addons.mailchimp_connector.engine import review as review_module
from odoo.addons.mailchimp_connector.engine.review import SyncReview
base = {base!r}

def control(method, path, payload=None):
    data = json.dumps(payload).encode() if payload is not None else None
    request = urllib.request.Request(base + "/_sandbox/" + path, data=data,
        method=method, headers={{"Content-Type": "application/json"}})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read() or "null")

account = env["mailchimp.account"].create({{
    "name": "Review benchmark", "api_key": "0123456789abcdef0123456789abcdef-us1",
    "api_base_url": base + "/{{dc}}/3.0"}})
account.action_connect()
audience = account.audience_ids.filtered(lambda a: a.name == "Newsletter")
pairing = env["mailchimp.pairing"].create({{
    "name": "Review benchmark", "account_id": account.id, "audience_id": audience.id,
    "create_missing": True, "default_owner_id": env.ref("base.user_admin").id}})
pairing.action_apply_default_mapping()
control("POST", "latency", {{"seconds": {latency}}})
for connections in (1, review_module.REVIEW_CONNECTIONS):
    review_module.REVIEW_CONNECTIONS = connections
    for attempt in range(3):
        control("DELETE", "requests")
        result = SyncReview(pairing).run()
        log = control("GET", "requests")["requests"]
        methods = sorted({{entry["method"] for entry in log}})
        print("RESULT connections=%d members=%d created=%d seconds=%.2f "
              "requests=%d logged=%d methods=%s" % (
                  connections, result.review.counts["members"], result.review.created,
                  result.seconds, result.requests, len(log), ",".join(methods)))
env.cr.rollback()
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True)
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--addons-path", default=None)
    args = parser.parse_args()
    port = free_port()
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "mailchimp_sandbox", "--port", str(port)],
        cwd=ROOT / "sandbox",
        env=dict(os.environ, MAILCHIMP_SANDBOX_SEED=str(args.size)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _attempt in range(100):
            try:
                urllib.request.urlopen(base + "/_sandbox/requests", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        command = ["odoo"]
        if args.addons_path:
            command.append(f"--addons-path={args.addons_path}")
        command += ["shell", "-d", args.db, "--no-http", "--log-level=warn"]
        script = SHELL.format(base=base, latency=args.latency)
        output = subprocess.run(
            command, input=script, text=True, capture_output=True, check=False
        )
        lines = [line for line in output.stdout.splitlines() if "RESULT" in line]
        print(f"review of {args.size} members, {args.latency * 1000:.0f} ms per call")
        print("\n".join(lines) or output.stderr[-3000:])
    finally:
        sandbox.terminate()
        sandbox.wait()


if __name__ == "__main__":
    main()
