"""Queue check: a sync done by queue_job jobs on two Odoo worker processes, one
worker SIGKILLed mid-job, loses and duplicates nothing.

Run by ``tests/run.py`` on the queue phase's database (queue_job and
``mailchimp_connector_queue`` installed). Odoo is started as in production with
the glue: ``--workers=2 --load=web,queue_job`` (queue_job's job runner in a
process of its own, channels ``root:2,root.mailchimp:2``), on free ports, no cron
worker. Sync Now queues the sync's first job; each job is a stretch of a few
seconds of the resumable run (``mailchimp_connector_queue.stretch_seconds``),
the next queued by the job. Once some thousands of members are committed, the
worker running the job is SIGKILLed: queue_job's runner finds the job dead (its
lock gone) and requeues it, and the run goes on from its last committed chunk.
The runner looks for dead jobs whenever it wakes up (a queue notification, or
every 60 s); the check wakes it every two seconds with an empty notification so
that the wait is short, the requeue itself is queue_job's.
"""

# a command-line program: what it prints is its report, not a log line
# pylint: disable=print-used

import json
import os
import signal
import subprocess
import time

import requests

from odoo_crash_check import (
    DEFAULT_KEY,
    ROOT,
    _free_port,
    _shell,
    pairing_setup,
    sandbox_process,
)

CONTACTS = 20000
STRETCH_SECONDS = 5
KILL_AFTER = 4000  # members committed before the worker is killed

SETUP_DONE = """
env['ir.config_parameter'].set_param(
    'mailchimp_connector_queue.stretch_seconds', '%(stretch)d')
env.cr.commit()
print('QUEUE-SETUP ' + json.dumps(
    {'pairing': pairing.id, 'list_id': audience.mailchimp_list_id}))
"""

SYNC_NOW = """
pairing = env['mailchimp.pairing'].browse(%(pairing)d)
pairing.action_sync_now()
env.cr.commit()
print('QUEUE-QUEUED ' + str(env['queue.job'].search_count(
    [('identity_key', '=', 'mailchimp_sync_%(pairing)d')])))
"""

CHECK = """
import json
pairing = env['mailchimp.pairing'].browse(%(pairing)d)
members = pairing.member_ids
partners = env['res.partner'].with_context(active_test=False).search(
    [('email', '=like', '%%@queue-corp.com')])
jobs = env['queue.job'].search([('identity_key', '=', 'mailchimp_sync_%(pairing)d')])
print('QUEUE-CHECK ' + json.dumps({
    'members': len(members),
    'distinct_partners': len(set(members.partner_id.ids)),
    'distinct_hashes': len(set(members.mapped('subscriber_hash'))),
    'partners': len(partners),
    'runs': pairing.run_ids.mapped('state'),
    'run_jobs_done': pairing.run_ids[:1].queue_job_done_count,
    'jobs': sorted(jobs.mapped('state')),
    'retried': sum(jobs.mapped('retry')) - len(jobs),
    'workers': sorted(set(jobs.mapped('worker_pid')) - {0, False}),
}))
"""


def _sql(db, query):
    out = subprocess.run(
        ["psql", "-d", db, "-tAc", query], capture_output=True, text=True
    )
    return out.stdout.strip()


def _started_job(db, pairing_id):
    """(uuid, worker pid) of the sync's job running now, or None."""
    row = _sql(
        db,
        "SELECT uuid, worker_pid FROM queue_job WHERE state = 'started' "
        f"AND identity_key = 'mailchimp_sync_{pairing_id}' LIMIT 1",
    )
    if not row or "|" not in row:
        return None
    uuid, pid = row.split("|")
    return uuid, int(pid or 0)


def _parent(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def _run_done(db, pairing_id):
    states = _sql(
        db,
        "SELECT string_agg(state, ',') FROM queue_job "
        f"WHERE identity_key = 'mailchimp_sync_{pairing_id}' "
        "AND state NOT IN ('done', 'cancelled', 'failed')",
    )
    run = _sql(
        db,
        f"SELECT state FROM mailchimp_sync_run WHERE pairing_id = {pairing_id} "
        "ORDER BY id DESC LIMIT 1",
    )
    return run in ("done", "failed") and not states, run


def run_queue_check(command, db):
    """``command(*args, subcommand=())`` builds an ``odoo`` command line on
    ``db`` with queue_job on the addons path. Returns (check name, ok) pairs."""
    shell = command("--no-http", subcommand=["shell"])
    http_port, gevent_port = _free_port(), _free_port()
    logfile = ROOT / ".test-logs" / db / "odoo-queue-workers.log"
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with sandbox_process() as base:
        setup = json.loads(
            _shell(
                shell,
                pairing_setup(
                    "Queue check",
                    ("queue", "queue-corp.com"),
                    "odoo2mailchimp",
                    f"{base}/{{dc}}/3.0",
                    CONTACTS,
                )
                + SETUP_DONE % {"stretch": STRETCH_SECONDS},
                "QUEUE-SETUP",
            )
        )
        pairing_id = setup["pairing"]
        env = dict(
            os.environ,
            ODOO_QUEUE_JOB_CHANNELS="root:2,root.mailchimp:2",
            ODOO_QUEUE_JOB_PORT=str(http_port),
        )
        with open(logfile, "w", encoding="utf-8") as log:
            server = subprocess.Popen(
                command(
                    "--workers=2",
                    "--load=web,queue_job",
                    "--max-cron-threads=0",
                    f"--http-port={http_port}",
                    f"--gevent-port={gevent_port}",
                    "--limit-time-real=600",
                    "--log-level=info",
                ),
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
                env=env,
                start_new_session=True,
            )
        started = time.monotonic()
        killed = None
        committed = 0
        done, run_state = False, None
        try:
            for _ in range(100):
                try:
                    requests.get(f"http://127.0.0.1:{http_port}/web/login", timeout=2)
                    break
                except requests.RequestException:
                    time.sleep(0.3)
            # slow Mailchimp down a little, so that the kill lands mid-job
            requests.post(f"{base}/_sandbox/latency", json={"seconds": 0.2}, timeout=5)
            queued = _shell(shell, SYNC_NOW % setup, "QUEUE-QUEUED")
            print(f"queue check: Sync Now queued {queued} job(s)")
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline:
                committed = int(
                    _sql(
                        db,
                        "SELECT count(*) FROM mailchimp_member "
                        f"WHERE pairing_id = {pairing_id}",
                    )
                    or 0
                )
                job = _started_job(db, pairing_id)
                if not killed and committed >= KILL_AFTER and job:
                    uuid, pid = job
                    # only a worker of the server this check started
                    if pid and _parent(pid) == server.pid:
                        os.kill(pid, signal.SIGKILL)
                        killed = (uuid, pid, committed)
                        print(
                            f"queue check: SIGKILLed worker {pid} running job {uuid} "
                            f"after {committed} of {CONTACTS} members were committed"
                        )
                        requests.post(
                            f"{base}/_sandbox/latency", json={"seconds": 0}, timeout=5
                        )
                if killed:
                    # wake the runner (it looks for dead jobs when it wakes up)
                    _sql(db, "NOTIFY queue_job, 'mailchimp-queue-check'")
                done, run_state = _run_done(db, pairing_id)
                if done:
                    break
                time.sleep(2 if killed else 0.3)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
            requests.post(f"{base}/_sandbox/latency", json={"seconds": 0}, timeout=5)
        elapsed = time.monotonic() - started
        check = json.loads(_shell(shell, CHECK % setup, "QUEUE-CHECK"))
        in_mailchimp = requests.get(
            f"{base}/us1/3.0/lists/{setup['list_id']}/members",
            params={"count": 1, "fields": "total_items"},
            auth=("x", DEFAULT_KEY),
            timeout=30,
        ).json()["total_items"]
        print(
            f"queue check: run {run_state} in {elapsed:.0f} s; Odoo {check}; "
            f"Mailchimp members {in_mailchimp} (workers' log: {logfile})"
        )
        return [
            (
                "a worker was SIGKILLed mid-job",
                bool(killed) and 0 < killed[2] < CONTACTS,
            ),
            ("the jobs finished the run", done and run_state == "done"),
            (
                "the run was done by several jobs, the killed one retried",
                check["run_jobs_done"] >= 2 and check["retried"] >= 1,
            ),
            ("every contact is in Mailchimp exactly once", in_mailchimp == CONTACTS),
            (
                "one member record per contact, every contact linked once",
                check["members"]
                == check["distinct_partners"]
                == check["distinct_hashes"]
                == check["partners"]
                == CONTACTS,
            ),
            ("one run, done", check["runs"] == ["done"]),
        ]
