#!/usr/bin/env python3
"""Email-activity benchmark (F27, F29): measures and prints, asserts nothing.

    # 100,000 contacts, ~1,000,000 events
    python3 tests/benchmark/activity_benchmark.py
    # a quick check
    python3 tests/benchmark/activity_benchmark.py --contacts 10000

Beside a local Odoo 18 (``odoo`` on PATH, PostgreSQL reachable as for
``tests/run.py``) and the project's Mailchimp sandbox, started here as a
separate process.  In a fresh database with the addon installed (``--keep`` to
keep it), an ``odoo shell`` script:

1. seeds N members in the sandbox's default audience and links N Odoo contacts
   to them (contacts and ``mailchimp.member`` rows written with plain SQL: the
   set-up is not what is measured);
2. creates one sent campaign to the N members with generated activity
   (``--opens`` and ``--clicks`` per member, 2 % bounces, 1 % unsubscribes:
   about 10 events per member with the defaults);
3. runs ``engine.activity.ActivityPull(account).run()`` once, as the cron
   would (commits per page), and prints: events stored, chatter lines written,
   wall time and events/s (everything: HTTP, matching, inserts, chatter), SQL
   queries per 1,000 events (``odoo.sql_db.sql_counter``: every cursor of the
   process, the COPY of each page not included), the process's peak memory
   growth (``VmHWM`` after resetting it through ``/proc/self/clear_refs``,
   minus ``VmRSS`` before);
4. runs it a second time (nothing new: how long a rerun that finds everything
   stored takes).
"""

# a command-line program: what it prints is its report, not a log line
# pylint: disable=print-used

import argparse
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from run import odoo_addons_path  # noqa: E402 (found once tests/ is on the path)

ADDON = "mailchimp_connector"
DEFAULT_API_KEY = "0123456789abcdef0123456789abcdef-us1"
DEFAULT_LIST_ID = "f0a1b2c3d4"
MARK = "BENCH-JSON "

SHELL = r'''
import cProfile, io, json, os, pstats, time, threading, urllib.request
from odoo import sql_db
from odoo.addons.mailchimp_connector.utils.mailchimp_keys import subscriber_hash

MARK = "BENCH-JSON "


def emit(**values):
    print(MARK + json.dumps(values, default=str), flush=True)


def control(path, payload):
    request = urllib.request.Request(
        SANDBOX + "/_sandbox/" + path, data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read() or b"null")


def cpu_seconds(pid):
    """user + system CPU seconds of a process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def db_backends():
    cr.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
    return {pid: cpu_seconds(pid) for (pid,) in cr.fetchall()}


def status_kb(name):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(name + ":"):
                return int(line.split()[1])
    return 0


control("reset", {})
started = time.monotonic()
control(f"lists/{LIST_ID}/seed", {"count": N})
emails = [f"member{i:06d}@seed-mail.com" for i in range(N)]
account = env["mailchimp.account"].create({
    "name": "Benchmark", "api_key": API_KEY, "api_base_url": SANDBOX + "/{dc}/3.0",
    "request_timeout": 120})
account.action_connect()
audience = account.audience_ids.filtered(lambda a: a.mailchimp_list_id == LIST_ID)
pairing = env["mailchimp.pairing"].create({
    "name": "Benchmark", "account_id": account.id, "audience_id": audience.id,
    "partner_domain": "[('email', 'ilike', '@seed-mail.com')]"})
cr = env.cr
cr.execute("""
    INSERT INTO res_partner (name, complete_name, email, email_normalized, active, type,
                             is_company, create_uid, write_uid, create_date, write_date)
    SELECT e, e, e, e, true, 'contact', false, 1, 1, now(), now()
      FROM unnest(%s::text[]) e
    RETURNING id, email
""", (emails,))
partner_ids = dict((email, pid) for pid, email in cr.fetchall())
rows = [
    (pairing.id, audience.id, partner_ids[e], e, subscriber_hash(e)) for e in emails
]
cr.execute("""
    INSERT INTO mailchimp_member (pairing_id, audience_id, partner_id, email,
                                  subscriber_hash, status, create_uid, write_uid,
                                  create_date, write_date)
    SELECT p, a, r, e, h, 'subscribed', 1, 1, now(), now()
      FROM unnest(%s::int[], %s::int[], %s::int[], %s::text[], %s::text[])
           AS t(p, a, r, e, h)
""", ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
      [r[3] for r in rows], [r[4] for r in rows]))
env.invalidate_all()
cr.commit()
camp = control("campaigns", {
    "list_id": LIST_ID, "subject": "Benchmark campaign", "apply_to_members": False,
    "send_time": time.strftime(
        "%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() - 86400)
    ),
    "generate": {"opens_per_member": OPENS, "clicks_per_member": CLICKS,
                 "bounce_rate": 0.02, "unsub_rate": 0.01, "seed": 1}})
emit(step="setup", seconds=round(time.monotonic() - started, 1), campaign=camp["id"],
     opens=camp["report_summary"]["opens"], clicks=camp["report_summary"]["clicks"])

from odoo.addons.mailchimp_connector.engine import activity as activity_module
if CONNECTIONS:
    activity_module.ACTIVITY_CONNECTIONS = CONNECTIONS
if WRITERS:
    activity_module.ACTIVITY_WRITERS = WRITERS
emit(step="settings", connections=activity_module.ACTIVITY_CONNECTIONS,
     writers=activity_module.ACTIVITY_WRITERS)
Campaign = env["mailchimp.campaign"]
for label in ("first pull", "rerun"):
    cr.execute("SELECT count(*) FROM mailchimp_activity")
    events_before = cr.fetchone()[0]
    cr.execute("SELECT count(*) FROM mail_message WHERE model = 'res.partner'")
    messages_before = cr.fetchone()[0]
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")
    rss_before = status_kb("VmRSS")
    # every cursor's queries (pages are written by several)
    queries_before = sql_db.sql_counter
    backends_before = db_backends()
    sandbox_cpu_before = cpu_seconds(SANDBOX_PID)
    cpu_before = time.process_time()
    profiler = cProfile.Profile() if PROFILE and label == "first pull" else None
    started = time.monotonic()
    if profiler:
        profiler.enable()
    activity_module.ActivityPull(account).run()
    if profiler:
        profiler.disable()
    seconds = time.monotonic() - started
    odoo_cpu = time.process_time() - cpu_before
    sandbox_cpu = cpu_seconds(SANDBOX_PID) - sandbox_cpu_before
    backends_after = db_backends()
    db_cpu = sum(
        cpu - backends_before.get(pid, 0.0) for pid, cpu in backends_after.items()
    )
    if profiler:
        profiler.dump_stats(PROFILE)
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        print(out.getvalue()[-6000:], flush=True)
    queries = sql_db.sql_counter - queries_before
    peak_mb = (status_kb("VmHWM") - rss_before) / 1024
    cr.execute("SELECT count(*) FROM mailchimp_activity")
    events = cr.fetchone()[0] - events_before
    cr.execute("SELECT count(*) FROM mail_message WHERE model = 'res.partner'")
    messages = cr.fetchone()[0] - messages_before
    campaign = Campaign.search([("account_id", "=", account.id)])
    emit(step=label, events=events, chatter_lines=messages, seconds=round(seconds, 1),
         events_per_s=round(events / seconds) if events else 0,
         queries=queries,
         queries_per_1000_events=round(1000 * queries / events, 1) if events else None,
         peak_memory_growth_mb=round(peak_mb, 1), unknown=campaign.unknown_event_count,
         cpu_s={"odoo": round(odoo_cpu, 1), "postgres": round(db_cpu, 1),
                "sandbox": round(sandbox_cpu, 1)},
         error=account.activity_error or "")
'''


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--opens", type=float, default=7.0, help="opens per member")
    parser.add_argument("--clicks", type=float, default=2.0, help="clicks per member")
    parser.add_argument("--db", default="mailchimp_activity_benchmark")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--connections",
        type=int,
        default=0,
        help="report pages read at once (default: the addon's ACTIVITY_CONNECTIONS)",
    )
    parser.add_argument(
        "--writers",
        type=int,
        default=0,
        help="pages written at once (default: the addon's ACTIVITY_WRITERS)",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="cProfile the first pull and write its stats to FILE",
    )
    parser.add_argument("--odoo-args", default=os.environ.get("ODOO_TEST_ARGS", ""))
    args = parser.parse_args()
    odoo = shutil.which("odoo")
    if not odoo:
        sys.exit("no `odoo` on PATH")
    extra = shlex.split(args.odoo_args)
    common = [f"--addons-path={odoo_addons_path()}", "-d", args.db, *extra]
    base = [odoo, *common]
    db_args = [a for a in extra if a.startswith("--db")]
    subprocess.call(
        [odoo, "db", *db_args, "drop", args.db],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port = free_port()
    sandbox = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mailchimp_sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT / "sandbox")),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(url + "/_sandbox/health")
        print(f"installing {ADDON} in {args.db} ...", flush=True)
        subprocess.run(
            [
                *base,
                "-i",
                ADDON,
                "--stop-after-init",
                "--no-http",
                "--without-demo=all",
                "--log-level=warn",
            ],
            check=True,
        )
        params = (
            f"SANDBOX = {url!r}\nLIST_ID = {DEFAULT_LIST_ID!r}\nAPI_KEY = "
            f"{DEFAULT_API_KEY!r}\nN = {args.contacts}\nOPENS = {args.opens}\nCLICKS = "
            f"{args.clicks}\nSANDBOX_PID = {sandbox.pid}\nCONNECTIONS = "
            f"{args.connections}\nWRITERS = {args.writers}\nPROFILE = "
            f"{str(Path(args.profile).resolve()) if args.profile else None!r}\n"
        )
        print(f"benchmark: {args.contacts:,} contacts ...", flush=True)
        result = subprocess.run(
            # the addons path before the subcommand: after it, the shell would load
            # the addon of the configuration file's addons path, not this checkout's
            [odoo, common[0], "shell", *common[1:], "--no-http", "--log-level=warn"],
            input=params + SHELL,
            capture_output=True,
            text=True,
        )
        figures = [
            json.loads(line[len(MARK) :])
            for line in result.stdout.splitlines()
            if line.startswith(MARK)
        ]
        if len(figures) < 4:
            print(result.stdout[-4000:], result.stderr[-4000:])
        if args.profile:
            print(
                "\n".join(
                    line
                    for line in result.stdout.splitlines()
                    if not line.startswith(MARK)
                )[-6000:]
            )
        for figure in figures:
            print(json.dumps(figure))
    finally:
        sandbox.terminate()
        sandbox.wait(10)
        if not args.keep:
            subprocess.call(
                [odoo, "db", *db_args, "drop", args.db],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )


if __name__ == "__main__":
    main()
