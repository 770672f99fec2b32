#!/usr/bin/env python3
"""Contact-sync benchmark (F30): measures and prints, asserts nothing.

    python3 tests/benchmark/sync_benchmark.py                 # N = 10,000 and 100,000
    python3 tests/benchmark/sync_benchmark.py --sizes 1000    # a quick check

Beside a local Odoo 18 (``odoo`` on PATH, PostgreSQL reachable as for
``tests/run.py``) and the project's Mailchimp sandbox, started here as a separate
process with 100 ms of simulated latency per API call.  For each N it runs, each
in a database copied from one fresh install of the addon:

  (a) initial push   N partners created in Odoo by a bare ORM bulk ``create``
                     (timed: the baseline), then an Odoo -> Mailchimp pairing's
                     first ``run_sync()``, then two more runs with no change
                     (the first of them re-reads once what the push created);
  (b) initial pull   N members seeded in the sandbox, none in Odoo; a
                     Mailchimp -> Odoo pairing with "create missing" and a
                     default owner, first run, then two runs with no change;
  (d) both ways      N/2 partners only in Odoo, N/2 members only in Mailchimp,
                     a bidirectional pairing's first run, then runs with no change.

Between the set-up and the first run, ``VACUUM ANALYZE`` (``--no-analyze`` to
skip it) stands for the autovacuum a database whose contacts are not brand new
has had.  Every ``run_sync()`` runs in its own ``odoo shell`` process (fed a
script on stdin), so its memory figure is not blurred by the previous step.  The
figures: HTTP requests (the run's ``http_requests`` and the sandbox's request log), SQL
queries (``env.cr.sql_log_count`` before/after), wall time of ``run_sync()`` with
the part spent waiting for the sandbox (its request log's durations) and in
``cursor.execute`` (a query hook),
and peak memory growth of the Odoo process during the run (RSS high-water mark
``VmHWM`` after resetting it through ``/proc/self/clear_refs``, minus ``VmRSS``
before; or the tracemalloc peak with ``--memory tracemalloc``, which slows the run).

The addon and the sandbox are copied first (the working tree, or ``--rev REV``)
so that edits made while it runs do not change what is measured.

``--path queue`` measures instead the two ways a production server runs syncs,
with the same Odoo started as in production (``--workers=2
--max-cron-threads=1``): ir.cron (the addon alone) against OCA queue_job
(``mailchimp_connector_queue`` installed, ``--load=web,queue_job``, channels
``root:2,root.mailchimp:2``), each on a copy of one set-up: ``--syncs K`` syncs
both ways of N contacts each (N/2 only in Odoo, N/2 only in their own audience),
Sync Now pressed on all of them at once, the wall time until every run is done;
the ratio cron / queue is printed (queue_job is downloaded as ``tests/run.py``
does).

Options: ``--sizes``, ``--scenarios``, ``--latency``, ``--memory``, ``--rev``,
``--path``, ``--syncs``,
``--profile DIR`` (cProfile + SQL queries and their time grouped by the addon's
calling line, per run; slows the runs, so its timings are not the benchmark's),
``--explain MS`` (auto_explain plans of slower statements in PostgreSQL's log),
``--json FILE`` (raw figures), ``--keep`` (keep the databases and logs),
``--odoo-args`` (default ``$ODOO_TEST_ARGS``, e.g. ``--db_host=... --db_user=...``).
See README.md here.
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
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from run import (  # noqa: E402 (how tests/run.py finds Odoo and queue_job)
    odoo_addons_path,
    queue_job_addons,
)

ADDON = "mailchimp_connector"
QUEUE_ADDON = "mailchimp_connector_queue"
DEFAULT_API_KEY = "0123456789abcdef0123456789abcdef-us1"
DEFAULT_LIST_ID = "f0a1b2c3d4"
MARK = "BENCH-JSON "

# The targets the figures are compared with (the "target" columns of the table)
TARGET_PUSH_REQ = 2.1  # requests per 1,000 contacts, initial push
TARGET_PULL_REQ = 1.1  # requests per 1,000 contacts, initial pull
TARGET_UNCHANGED_REQ = 1  # requests per pairing for a run where nothing changed
TARGET_INITIAL_SQL = 0.1  # queries per partner, initial runs
TARGET_UNCHANGED_SQL = 0  # queries per unchanged partner
TARGET_BOTH_SECONDS = 120  # 100k both ways, initial run
TARGET_MEMORY_MB = 25  # peak memory growth from 10k to 100k

# ---------------------------------------------------------------------------
# The code run inside `odoo shell` (stdin).  PARAMS is prepended as JSON.
# ---------------------------------------------------------------------------

SHELL_PRELUDE = r"""
import gc, json, sys, threading, time
MARK = "BENCH-JSON "
QUIET = {
    "tracking_disable": True,
    "mail_create_nolog": True,
    "mail_create_nosubscribe": True,
}


def emit(**values):
    print(MARK + json.dumps(values, default=str), flush=True)


def proc_status_kb(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def partner_vals(i, domain):
    # a first and a last name (FNAME/LNAME), an email, a phone (PHONE)
    return {
        "name": f"Contact{i} Bench{i}",
        "email": f"contact{i:06d}@{domain}",
        "phone": f"+32 470 {i:06d}",
    }
"""

SHELL_SETUP = r"""
result = {"kind": "setup"}
# contacts with an email that a fresh database already has (the default segment's)
result["base_partners"] = env["res.partner"].search_count(
    [("email_normalized", "!=", False)]
)
n = PARAMS["partners"]
if n:
    # the baseline: the same partners bulk-created by the bare ORM, in batches,
    # with the context the sync itself uses for partners (no chatter, no followers)
    Partner = env["res.partner"].with_context(**QUIET)
    batch = PARAMS["batch"]
    gc.collect()
    queries0, started = env.cr.sql_log_count, time.perf_counter()
    for start in range(0, n, batch):
        Partner.create(
            [
                partner_vals(i, PARAMS["domain"])
                for i in range(start, min(n, start + batch))
            ]
        )
        env.flush_all()
        env.invalidate_all()
    env.cr.commit()
    result["baseline"] = {
        "contacts": n,
        "seconds": time.perf_counter() - started,
        "queries": env.cr.sql_log_count - queries0,
    }
account = env["mailchimp.account"].create(
    {
        "name": "Benchmark sandbox",
        "api_key": PARAMS["api_key"],
        "api_base_url": PARAMS["api_url"],
        "request_timeout": 120,
    }
)
account.action_connect()
if account.state != "connected":
    raise SystemExit(f"account not connected: {account.last_error}")
audience = account.audience_ids.filtered(lambda a: a.name == "Newsletter")
vals = {
    "name": f"Benchmark {PARAMS['direction']}",
    "account_id": account.id,
    "audience_id": audience.id,
    "direction": PARAMS["direction"],
}
if PARAMS["create_missing"]:
    vals.update(create_missing=True, default_owner_id=env.ref("base.user_admin").id)
pairing = env["mailchimp.pairing"].create(vals)
pairing.action_apply_default_mapping()
pairing.state = "active"
env.cr.commit()
if PARAMS["analyze"]:
    # as autovacuum would have done long ago in a database whose contacts are not new:
    # fresh planner statistics, no dead rows from the bulk create
    maintenance = env.registry.cursor()
    try:
        maintenance._cnx.autocommit = True
        maintenance.execute("VACUUM ANALYZE")
    finally:
        maintenance._cnx.autocommit = False
        maintenance.close()
result.update(
    pairing_id=pairing.id,
    mapping=pairing.field_map_ids.mapped("merge_tag"),
    segment=pairing.partner_domain,
)
emit(**result)
"""

SHELL_RUN = r"""
pairing = env["mailchimp.pairing"].browse(PARAMS["pairing_id"])
partners_before = env["res.partner"].with_context(active_test=False).search_count([])
env.invalidate_all()
gc.collect()
memory_mode = PARAMS["memory"]
if memory_mode == "tracemalloc":
    import tracemalloc
    tracemalloc.start()
    memory0 = tracemalloc.get_traced_memory()[0]
else:
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")  # resets VmHWM to the current RSS
    memory0 = proc_status_kb("VmRSS") * 1024
profile_dir = PARAMS.get("profile_dir")
sql_time = [0.0]
if profile_dir:
    import cProfile, collections, os
    by_caller = collections.defaultdict(lambda: [0, 0.0])
    addon_marker = os.sep + "mailchimp_connector" + os.sep

    def query_hook(cr, query, params, start, delay):
        sql_time[0] += delay
        frame = sys._getframe(1)
        where = "(outside the addon)"
        while frame is not None:
            code = frame.f_code
            if addon_marker in code.co_filename and "/tests/" not in code.co_filename:
                addon_file = code.co_filename.split(addon_marker, 1)[1]
                where = f"{addon_file}:{frame.f_lineno} {code.co_name}"
                break
            frame = frame.f_back
        text = query if isinstance(query, str) else str(query)
        entry = by_caller[(where, " ".join(text.split()[:6]))]
        entry[0] += 1
        entry[1] += delay
else:
    def query_hook(cr, query, params, start, delay):
        sql_time[0] += delay

threading.current_thread().query_hooks = [query_hook]
if PARAMS.get("explain_ms"):
    # plans of the slow statements, with actual row counts, in PostgreSQL's server log
    env.cr.execute("LOAD 'auto_explain'")
    env.cr.execute(
        "SET auto_explain.log_min_duration = %s", [int(PARAMS["explain_ms"])]
    )
    env.cr.execute("SET auto_explain.log_analyze = on")
    env.cr.execute("SET auto_explain.log_timing = off")
if profile_dir:
    profiler = cProfile.Profile()
    profiler.enable()
queries0, started = env.cr.sql_log_count, time.perf_counter()
run = pairing.run_sync()
seconds = time.perf_counter() - started
queries = env.cr.sql_log_count - queries0
threading.current_thread().query_hooks = []
if profile_dir:
    profiler.disable()
    base = os.path.join(profile_dir, PARAMS["label"])
    profiler.dump_stats(base + ".prof")
    with open(base + ".queries.txt", "w") as out:
        out.write("  queries  seconds  caller in the addon  |  query\n")
        slowest = sorted(by_caller.items(), key=lambda i: -i[1][1])
        for (where, query), (count, spent) in slowest:
            out.write(f"{count:>9} {spent:>8.2f}  {where}  |  {query}\n")
if memory_mode == "tracemalloc":
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
else:
    peak = proc_status_kb("VmHWM") * 1024
env.cr.commit()
env.invalidate_all()
run = run.browse(run.id)
emit(
    kind="run",
    label=PARAMS["label"],
    seconds=seconds,
    queries=queries,
    sql_seconds=sql_time[0],
    memory_growth=peak - memory0,
    state=run.state,
    message=run.message,
    http_requests=run.http_requests,
    created=run.created_count,
    updated=run.updated_count,
    unchanged=run.unchanged_count,
    skipped=run.skipped_count,
    failed=run.failed_count,
    partners_before=partners_before,
    partners_after=env["res.partner"].with_context(active_test=False).search_count([]),
    members=env["mailchimp.member"].search_count([("pairing_id", "=", pairing.id)]),
)
"""


SHELL_SETUP_SYNCS = r"""
import datetime
# K syncs both ways: N/2 partners only in Odoo (an email domain per sync), N/2
# members only in the sync's own audience (seeded by the driver)
Partner = env["res.partner"].with_context(**QUIET)
half = PARAMS["partners"]
for k in range(PARAMS["syncs"]):
    for start in range(0, half, PARAMS["batch"]):
        Partner.create(
            [
                partner_vals(i, f"bench{k}.bench-mail.com")
                for i in range(start, min(half, start + PARAMS["batch"]))
            ]
        )
        env.flush_all()
        env.invalidate_all()
account = env["mailchimp.account"].create(
    {
        "name": "Benchmark sandbox",
        "api_key": PARAMS["api_key"],
        "api_base_url": PARAMS["api_url"],
        "request_timeout": 120,
    }
)
account.action_connect()
pairings = env["mailchimp.pairing"]
for k, list_id in enumerate(PARAMS["list_ids"]):
    audience = account.audience_ids.filtered(lambda a: a.mailchimp_list_id == list_id)
    pairing = env["mailchimp.pairing"].create(
        {
            "name": f"Benchmark {k}",
            "account_id": account.id,
            "audience_id": audience.id,
            "direction": "both",
            "create_missing": True,
            "default_owner_id": env.ref("base.user_admin").id,
            "partner_domain": f"[('email', '=like', '%@bench{k}.bench-mail.com')]",
        }
    )
    pairing.action_apply_default_mapping()
    pairing.state = "active"
    # not due before Sync Now (the scheduler would start it while the fresh
    # database's crons run)
    tomorrow = datetime.datetime.now() + datetime.timedelta(days=1)
    pairing._sync_cursor().next_sync_date = tomorrow
    pairings |= pairing
env.cr.commit()
if PARAMS["analyze"]:
    maintenance = env.registry.cursor()
    try:
        maintenance._cnx.autocommit = True
        maintenance.execute("VACUUM ANALYZE")
    finally:
        maintenance._cnx.autocommit = False
        maintenance.close()
emit(kind="setup", pairing_ids=pairings.ids)
"""

SHELL_SYNC_NOW = r"""
env["mailchimp.pairing"].browse(PARAMS["pairing_ids"]).action_sync_now()
env.cr.commit()
emit(kind="queued", at=time.time())
"""

SHELL_SYNCS_RESULT = r"""
runs = []
for pairing in env["mailchimp.pairing"].browse(PARAMS["pairing_ids"]):
    run = pairing.run_ids[:1]
    runs.append(
        {
            "state": run.state,
            "message": run.message,
            "http_requests": run.http_requests,
            "created": run.created_count,
            "updated": run.updated_count,
            "failed": run.failed_count,
            "members": len(pairing.member_ids),
            "jobs": run["queue_job_done_count"] if "queue_job_done_count" in run else 0,
            "start": run.start_date.timestamp(),
            "end": run.end_date.timestamp() if run.end_date else None,
        }
    )
emit(kind="result", runs=runs)
"""

# ---------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------


def log(text):
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def snapshot_sources(rev, target):
    """Copy the addon and the sandbox to ``target`` so that edits made in the
    repository while the benchmark runs do not change what it measures.

    ``rev`` None = the working tree as it is now; else a git revision.
    Returns a description of what was copied.
    """
    target = Path(target)
    target.mkdir(parents=True)
    git = ["git", "-C", str(ROOT)]
    if rev:
        archive = subprocess.run(
            [*git, "archive", "--format=tar", rev, ADDON, QUEUE_ADDON, "sandbox"],
            check=True,
            stdout=subprocess.PIPE,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
        commit = subprocess.run(
            [*git, "rev-parse", "--short", rev],
            text=True,
            stdout=subprocess.PIPE,
            check=True,
        ).stdout.strip()
        return f"commit {commit} ({rev})"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for name in (ADDON, QUEUE_ADDON, "sandbox"):
        shutil.copytree(ROOT / name, target / name, ignore=ignore)
    commit = subprocess.run(
        [*git, "rev-parse", "--short", "HEAD"], text=True, stdout=subprocess.PIPE
    ).stdout.strip()
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", ADDON, "sandbox"],
        text=True,
        stdout=subprocess.PIPE,
    ).stdout.strip()
    return f"working tree at {commit}" + (" with uncommitted changes" if dirty else "")


class SandboxProcess:
    """The Mailchimp sandbox in its own process, driven by its control API."""

    def __init__(self, workdir, sandbox_dir):
        self.sandbox_dir = sandbox_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(workdir) / "sandbox.log"
        self.process = None

    def start(self):
        self._log = open(self.log_path, "w")  # closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mailchimp_sandbox",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            cwd=self.sandbox_dir,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.control("GET", "health")
                return self
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"the sandbox did not start; see {self.log_path}"
                    ) from None
                time.sleep(0.2)

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process:
            self._log.close()

    def control(self, method, path, payload=None):
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            f"{self.url}/_sandbox/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=600) as response:
            body = response.read()
        return json.loads(body) if body else None

    def api_url(self):
        return f"{self.url}/{{dc}}/3.0"

    def api_requests(self):
        entries = self.control("GET", "requests")["requests"]
        return [entry for entry in entries if "/_sandbox/" not in entry.get("path", "")]


class Odoo:
    def __init__(self, workdir, extra_args, addon_root):
        self.odoo = shutil.which("odoo")
        if not self.odoo:
            raise SystemExit(
                "No `odoo` executable on PATH: the benchmark needs a local Odoo 18."
            )
        # the project's way to find Odoo's own addons, with the snapshot instead of ROOT
        others = odoo_addons_path().split(",")[1:]
        self.addons_path = ",".join([str(addon_root), *others])
        self.extra = shlex.split(extra_args or "")
        self.workdir = Path(workdir)
        self.databases = []
        self._logs = 0

    def _run(self, args, title, stdin=None):
        self._logs += 1
        log_path = self.workdir / f"{self._logs:02d}-{title}.log"
        command = [self.odoo, *args]
        with open(log_path, "w") as err:
            done = subprocess.run(
                command,
                cwd=ROOT,
                input=stdin,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                errors="replace",
            )
        if done.returncode:
            tail = "".join(log_path.read_text(errors="replace").splitlines(True)[-40:])
            raise RuntimeError(
                f"{title}: exit {done.returncode}\n$ "
                f"{shlex.join(command)}\n{done.stdout}\n{tail}"
            )
        return done.stdout

    def db_args(self):
        return [arg for arg in self.extra if arg.startswith(("--db", "-r", "-w"))]

    def add_addons(self, folder):
        self.addons_path += f",{folder}"

    def install(self, db, modules=ADDON):
        self.databases.append(db)
        self._run(
            [
                f"--addons-path={self.addons_path}",
                "-d",
                db,
                *self.extra,
                "-i",
                modules,
                "--stop-after-init",
                "--without-demo=all",
                "--no-http",
                "--log-level=warn",
            ],
            f"install-{db}",
        )

    def server(self, db, queue):
        """Odoo as in production: two HTTP workers and a cron worker; with
        queue_job's runner (server-wide) when ``queue``. Returns the process."""
        port = free_port()
        self._logs += 1
        log_path = self.workdir / f"{self._logs:02d}-server-{db}.log"
        env = dict(
            os.environ,
            ODOO_QUEUE_JOB_CHANNELS="root:2,root.mailchimp:2",
            ODOO_QUEUE_JOB_PORT=str(port),
        )
        with open(log_path, "w") as out:
            process = subprocess.Popen(
                [
                    self.odoo,
                    f"--addons-path={self.addons_path}",
                    "-d",
                    db,
                    *self.extra,
                    "--workers=2",
                    "--max-cron-threads=1",
                    f"--load={'web,queue_job' if queue else 'web'}",
                    f"--http-port={port}",
                    f"--gevent-port={free_port()}",
                    f"--db-filter=^{db}$",
                    "--limit-time-real=900",
                    "--log-level=warn",
                ],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/web/login", timeout=2
                ).close()
                break
            except OSError:
                time.sleep(0.3)
        return process

    @staticmethod
    def stop_server(process):
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()

    def duplicate(self, source, target):
        self.databases.append(target)
        self._run(
            ["db", *self.db_args(), "duplicate", "-f", source, target], f"copy-{target}"
        )

    def drop(self, db):
        subprocess.call(
            [self.odoo, "db", *self.db_args(), "drop", db],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if db in self.databases:
            self.databases.remove(db)

    def shell(self, db, body, params, title):
        script = f"PARAMS = {json.dumps(params)!r}\nPARAMS = json.loads(PARAMS)\n"
        script = "import json\n" + script + SHELL_PRELUDE + body
        out = self._run(
            [
                f"--addons-path={self.addons_path}",
                "shell",
                "-d",
                db,
                *self.extra,
                "--no-http",
                "--log-level=warn",
            ],
            title,
            stdin=script,
        )
        results = [
            json.loads(line[len(MARK) :])
            for line in out.splitlines()
            if line.startswith(MARK)
        ]
        if not results:
            raise RuntimeError(f"{title}: no result printed\n{out[-3000:]}")
        return results[-1]


class Benchmark:
    def __init__(self, args):
        self.args = args
        self.workdir = Path(tempfile.mkdtemp(prefix="mc-sync-bench-"))
        source = self.workdir / "src"
        self.measured = args.measured = snapshot_sources(args.rev, source)
        self.odoo = Odoo(self.workdir, args.odoo_args, source)
        self.sandbox = SandboxProcess(self.workdir, source / "sandbox")
        self.prefix = f"mc_sync_bench_{os.getpid()}"
        self.template = f"{self.prefix}_tmpl"
        self.results = {}  # N -> {"baseline": {...}, label: {...}}
        self.workdir_kept = False
        self.last_run_end = None
        self.seeded_at = None  # when the sandbox's audience got its members

    # -- steps ---------------------------------------------------------------

    def reset_sandbox(self, seed=0):
        self.sandbox.control("POST", "reset")  # also clears latency
        self.seeded_at = time.monotonic() if seed else None
        if seed:
            seeded = self.sandbox.control(
                "POST",
                f"lists/{DEFAULT_LIST_ID}/seed",
                {
                    "count": seed,
                    "merge_fields": {
                        "FNAME": "Seed{n}",
                        "LNAME": "Member{n}",
                        "PHONE": "+32 471 {n}",
                    },
                },
            )
            log(
                f"  sandbox seeded with {seeded['created']} members in "
                f"{seeded['seconds']} s"
            )
        self.sandbox.control("POST", "latency", {"seconds": self.args.latency})

    def setup(self, db, direction, partners, create_missing):
        log(f"  {db}: setup ({partners:,} partners in Odoo, {direction} pairing)")
        result = self.odoo.shell(
            db,
            SHELL_SETUP,
            {
                "partners": partners,
                "batch": self.args.batch,
                "domain": "bench-mail.com",
                "api_key": DEFAULT_API_KEY,
                "api_url": self.sandbox.api_url(),
                "direction": direction,
                "create_missing": create_missing,
                "analyze": self.args.analyze,
            },
            f"setup-{db}",
        )
        if "baseline" in result:
            b = result["baseline"]
            log(
                f"  bare ORM bulk create of {b['contacts']:,} partners: "
                f"{b['seconds']:.1f} s, {b['queries']:,} queries"
            )
        return result

    def run(self, db, pairing_id, label, n, contacts):
        # the runs of one sync are minutes apart (the scheduler's interval), and an
        # audience's members were imported before its first sync, not in the seconds
        # before: a run starting within watermark_margin_seconds (5 s) of the newest
        # change it reads reads that second again
        # once, which is not what a later run does
        since = self.last_run_end if "rerun" in label else self.seeded_at
        if since is not None:
            time.sleep(max(0.0, self.args.interval - (time.monotonic() - since)))
        self.sandbox.control("DELETE", "requests")
        params = {
            "pairing_id": pairing_id,
            "label": f"{label}-{n}",
            "memory": self.args.memory,
        }
        if self.args.explain:
            params["explain_ms"] = self.args.explain
        if self.args.profile:
            params["profile_dir"] = str(Path(self.args.profile).resolve())
        result = self.odoo.shell(db, SHELL_RUN, params, f"run-{label}-{n}")
        api = self.sandbox.api_requests()
        result["sandbox_requests"] = len(api)
        # time spent answering, as the sandbox measured it (its latency included)
        result["api_seconds"] = sum(entry.get("duration") or 0 for entry in api)
        by_route = {}
        for entry in api:
            key = f"{entry['method']} {_route(entry.get('api_path') or entry['path'])}"
            by_route[key] = by_route.get(key, 0) + 1
        result["sandbox_routes"] = by_route
        result["contacts"] = contacts
        self.last_run_end = time.monotonic()
        log(
            f"  {label}: {result['state']} in {result['seconds']:.1f} s "
            f"(API {result['api_seconds']:.1f} s, SQL {result['sql_seconds']:.1f} s), "
            f"{result['http_requests']} requests ({_routes(by_route)}), "
            f"{result['queries']:,} queries, created {result['created']:,} "
            f"updated {result['updated']:,} unchanged {result['unchanged']:,} "
            f"skipped {result['skipped']:,} failed {result['failed']:,}"
            + (f" -- {result['message']}" if result.get("message") else "")
        )
        return result

    def scenario_push(self, n, figures):
        db = f"{self.prefix}_{n}_push"
        self.odoo.duplicate(self.template, db)
        self.reset_sandbox()
        setup = self.setup(db, "odoo2mailchimp", n, False)
        figures["baseline"] = setup["baseline"]
        figures["base_partners"] = setup["base_partners"]
        pid, contacts = setup["pairing_id"], n + setup["base_partners"]
        figures["push"] = self.run(db, pid, "push", n, contacts)
        figures["push_reread"] = self.run(db, pid, "push-rerun1", n, contacts)
        figures["push_unchanged"] = self.run(db, pid, "push-rerun2", n, contacts)
        self.finish(db)

    def scenario_pull(self, n, figures):
        db = f"{self.prefix}_{n}_pull"
        self.odoo.duplicate(self.template, db)
        self.reset_sandbox(seed=n)
        setup = self.setup(db, "mailchimp2odoo", 0, True)
        pid = setup["pairing_id"]
        figures["pull"] = self.run(db, pid, "pull", n, n)
        figures["pull_unchanged"] = self.run(db, pid, "pull-rerun1", n, n)
        figures["pull_unchanged2"] = self.run(db, pid, "pull-rerun2", n, n)
        self.finish(db)

    def scenario_both(self, n, figures):
        db = f"{self.prefix}_{n}_both"
        self.odoo.duplicate(self.template, db)
        self.reset_sandbox(seed=n - n // 2)
        setup = self.setup(db, "both", n // 2, True)
        if "baseline" not in figures:
            figures["baseline_half"] = setup["baseline"]
        pid, contacts = setup["pairing_id"], n + setup["base_partners"]
        figures["both"] = self.run(db, pid, "both", n, contacts)
        figures["both_reread"] = self.run(db, pid, "both-rerun1", n, contacts)
        figures["both_unchanged"] = self.run(db, pid, "both-rerun2", n, contacts)
        self.finish(db)

    def finish(self, db):
        if not self.args.keep:
            self.odoo.drop(db)

    # -- the server path: ir.cron against queue_job --------------------------

    def scenario_server(self, n, figures):
        """``--syncs`` syncs both ways of ``n`` contacts each, all asked for at
        once, run by a production-like server: by ir.cron, then by queue jobs."""
        syncs = self.args.syncs
        for path in ("cron", "queue"):
            db = f"{self.prefix}_{n}_{syncs}_{path}"
            self.odoo.duplicate(self.templates[path], db)
            self.sandbox.control("POST", "reset")
            list_ids = [DEFAULT_LIST_ID] + [
                self.sandbox.control("POST", "lists", {"name": f"Bench {k}"})["id"]
                for k in range(1, syncs)
            ]
            for k, list_id in enumerate(list_ids):
                self.sandbox.control(
                    "POST",
                    f"lists/{list_id}/seed",
                    {
                        "count": n - n // 2,
                        "start": k * 1_000_000,
                        "merge_fields": {"FNAME": "Seed{n}", "LNAME": "Member{n}"},
                    },
                )
            seeded_at = time.monotonic()
            log(f"  {db}: setup ({syncs} sync(s) both ways of {n:,} contacts each)")
            setup = self.odoo.shell(
                db,
                SHELL_SETUP_SYNCS,
                {
                    "syncs": syncs,
                    "partners": n // 2,
                    "batch": self.args.batch,
                    "list_ids": list_ids,
                    "api_key": DEFAULT_API_KEY,
                    "api_url": self.sandbox.api_url(),
                    "analyze": self.args.analyze,
                },
                f"setup-{db}",
            )
            ids = setup["pairing_ids"]
            self.sandbox.control("POST", "latency", {"seconds": self.args.latency})
            self.sandbox.control("DELETE", "requests")
            server = self.odoo.server(db, queue=path == "queue")
            try:
                # a fresh database has every cron due at once: the cron worker runs
                # them first (a server up for a while has not), and the cron worker
                # and the job runner listening (a notification sent before they
                # listen waits for their next poll, a minute)
                self.wait_crons(db)
                time.sleep(
                    max(5.0, self.args.interval - (time.monotonic() - seeded_at))
                )
                queued = self.odoo.shell(
                    db, SHELL_SYNC_NOW, {"pairing_ids": ids}, f"now-{db}"
                )
                started = time.monotonic()
                seconds = self.wait_runs(db, ids, started)
            finally:
                self.odoo.stop_server(server)
            result = self.odoo.shell(
                db, SHELL_SYNCS_RESULT, {"pairing_ids": ids}, f"result-{db}"
            )
            runs = result["runs"]
            # Odoo's datetimes keep whole seconds: the first run's start after Sync
            # Now (the cron worker's or the job runner's pick-up), roughly
            first_start = min(run["start"] for run in runs)
            figures[f"server_{path}"] = {
                "seconds": seconds,
                "pickup": max(0.0, first_start - int(queued["at"])),
                "syncs": syncs,
                "contacts": n * syncs,
                "runs": runs,
                "sandbox_requests": len(self.sandbox.api_requests()),
            }
            pickup = figures[f"server_{path}"]["pickup"]
            log(
                f"  {path}: {syncs} sync(s) x {n:,} in {seconds:.1f} s (first run "
                f"started ~{pickup:.0f} s after Sync Now); runs "
                + "; ".join(
                    f"{r['state']} c{r['created']} u{r['updated']} f{r['failed']} "
                    f"{r['members']} members"
                    + (f" {r['jobs']} jobs" if r["jobs"] else "")
                    + (f" ({r['message']})" if r.get("message") else "")
                    for r in runs
                )
            )
            self.finish(db)

    def server_main(self):
        folder, reason = queue_job_addons(self.odoo.odoo)
        if folder is None:
            raise SystemExit(f"--path queue needs queue_job: {reason}")
        self.odoo.add_addons(folder)
        self.templates = {
            "cron": self.template,
            "queue": f"{self.prefix}_tmpl_queue",
        }
        for path, modules in (("cron", ADDON), ("queue", QUEUE_ADDON)):
            log(f"installing {modules} into {self.templates[path]}")
            self.odoo.install(self.templates[path], modules)
        for n in self.args.sizes:
            figures = self.results.setdefault(n, {})
            log(f"N = {n:,} per sync, {self.args.syncs} sync(s) at once")
            self.scenario_server(n, figures)
            print_server_table(n, figures, self.args)
        if self.args.json:
            Path(self.args.json).write_text(
                json.dumps(self.results, indent=1, default=str)
            )

    def wait_crons(self, db, timeout=300):
        query = (
            "SELECT count(*) FROM ir_cron WHERE active AND "
            "nextcall <= (now() AT TIME ZONE 'UTC')"
        )
        psql = ["psql", *self.psql_args(), "-d", db, "-tAc", query]
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            out = subprocess.run(psql, capture_output=True, text=True).stdout.strip()
            if out == "0":
                waited = time.monotonic() - started
                log(f"  the fresh database's due crons ran ({waited:.0f} s)")
                return
            time.sleep(1)
        log(f"  !! crons still due after {timeout} s: measured anyway")

    def wait_runs(self, db, ids, started, timeout=7200):
        """Seconds from ``started`` until every sync of ``ids`` has a run that is
        no longer running (polled every 0.2 s)."""
        query = (
            "SELECT count(*) FROM mailchimp_pairing p WHERE p.id IN ({ids}) AND "
            "EXISTS (SELECT 1 FROM mailchimp_sync_run r WHERE r.pairing_id = p.id) "
            "AND NOT EXISTS (SELECT 1 FROM mailchimp_sync_run r WHERE "
            "r.pairing_id = p.id AND r.state = 'running')"
        ).format(ids=",".join(str(i) for i in ids))
        psql = ["psql", *self.psql_args(), "-d", db, "-tAc", query]
        while time.monotonic() - started < timeout:
            out = subprocess.run(psql, capture_output=True, text=True).stdout.strip()
            if out and int(out) == len(ids):
                return time.monotonic() - started
            time.sleep(0.2)
        raise RuntimeError(f"{db}: the runs did not end within {timeout} s")

    def psql_args(self):
        args = []
        for arg in self.odoo.extra:
            for option, flag in (("--db_host=", "-h"), ("--db_port=", "-p")):
                if arg.startswith(option):
                    args += [flag, arg[len(option) :]]
            if arg.startswith("--db_user="):
                args += ["-U", arg[len("--db_user=") :]]
        return args

    # -- whole run -------------------------------------------------------------

    def main(self):
        log(f"work files (odoo logs): {self.workdir}")
        log(f"measuring {ADDON} from the {self.measured}")
        try:
            self.sandbox.start()
            log(
                f"sandbox on {self.sandbox.url} (pid {self.sandbox.process.pid}), "
                f"latency {self.args.latency * 1000:.0f} ms per API call"
            )
            if self.args.path == "queue":
                self.server_main()
                return
            log(f"installing {ADDON} into {self.template}")
            started = time.monotonic()
            self.odoo.install(self.template)
            log(f"  installed in {time.monotonic() - started:.0f} s")
            for n in self.args.sizes:
                figures = self.results.setdefault(n, {})
                log(f"N = {n:,}")
                for name in self.args.scenarios:
                    getattr(self, f"scenario_{name}")(n, figures)
                print_table(n, figures, self.args)
            print_summary(self.results, self.args)
            if self.args.json:
                Path(self.args.json).write_text(
                    json.dumps(self.results, indent=1, default=str)
                )
                log(f"raw figures written to {self.args.json}")
        except BaseException:
            log(f"failed; the odoo logs stay in {self.workdir}")
            self.workdir_kept = True
            raise
        finally:
            self.sandbox.stop()
            if not self.args.keep:
                for db in list(self.odoo.databases):
                    self.odoo.drop(db)
                log("sandbox stopped, databases and filestores dropped")
            else:
                log(
                    f"sandbox stopped; databases kept: {', '.join(self.odoo.databases)}"
                )
            if not self.args.keep and not self.workdir_kept:
                shutil.rmtree(self.workdir, ignore_errors=True)


def _route(path):
    """/us1/3.0/lists/f0a1b2c3d4/members/abc -> /lists/{id}/members/{id}"""
    parts = path.split("?")[0].split("/")
    if "3.0" in parts:
        parts = parts[parts.index("3.0") + 1 :]
    out, previous = [], None
    for part in parts:
        out.append(
            "{id}" if previous in ("lists", "members", "batches", "campaigns") else part
        )
        previous = part
    return "/" + "/".join(p for p in out if p)


def _routes(by_route):
    return (
        ", ".join(f"{count} {route}" for route, count in sorted(by_route.items()))
        or "none"
    )


# ---------------------------------------------------------------------------
# Tables
# ---------------------------------------------------------------------------

ROWS = [
    # key, title, request target kind, sql target kind
    ("push", "(a) initial push, Odoo -> Mailchimp", "push", "initial"),
    ("push_reread", "(c) next run after the push (re-reads it)", "info", "info"),
    ("push_unchanged", "(c) nothing changed, after the push", "unchanged", "unchanged"),
    ("pull", "(b) initial pull, Mailchimp -> Odoo", "pull", "initial"),
    ("pull_unchanged", "(c) nothing changed, after the pull", "unchanged", "unchanged"),
    (
        "pull_unchanged2",
        "(c) nothing changed again, after the pull",
        "unchanged",
        "unchanged",
    ),
    ("both", "(d) both ways, N/2 + N/2, initial", "info", "initial"),
    ("both_reread", "(d) next run after both ways", "info", "info"),
    ("both_unchanged", "(d) nothing changed, both ways", "unchanged", "unchanged"),
]


def _verdict(ok):
    return "met" if ok else "MISSED"


def request_cell(kind, requests, n):
    per_k = requests / (n / 1000)
    if kind == "push":
        return (
            f"{per_k:.2f}/1k",
            f"<= {TARGET_PUSH_REQ}/1k {_verdict(per_k <= TARGET_PUSH_REQ)}",
        )
    if kind == "pull":
        return (
            f"{per_k:.2f}/1k",
            f"<= {TARGET_PULL_REQ}/1k {_verdict(per_k <= TARGET_PULL_REQ)}",
        )
    if kind == "unchanged":
        return (
            f"{requests} /run",
            f"<= {TARGET_UNCHANGED_REQ}/run "
            f"{_verdict(requests <= TARGET_UNCHANGED_REQ)}",
        )
    return f"{per_k:.2f}/1k", ""


def sql_cell(kind, queries, n):
    per = queries / n
    if kind == "initial":
        return (
            f"{per:.3f}",
            f"<= {TARGET_INITIAL_SQL} {_verdict(per <= TARGET_INITIAL_SQL)}",
        )
    if kind == "unchanged":
        # a fixed cost per run is not "per partner"; judged on the slope across sizes
        return f"{per:.3f}", "0/partner: see slope"
    return f"{per:.3f}", ""


def print_table(n, figures, args):
    baseline = figures.get("baseline")
    memory = "RSS high-water growth" if args.memory == "rss" else "tracemalloc peak"
    print()
    print(
        f"N = {n:,} contacts, sandbox latency {args.latency * 1000:.0f} ms per call; "
        f"memory = {memory} of the Odoo process during run_sync(); "
        f"{ADDON} from the {args.measured}; {os.cpu_count()} CPUs; "
        + (
            "VACUUM ANALYZE after the set-up"
            if args.analyze
            else "no ANALYZE after the set-up"
        )
    )
    header = (
        f"{'scenario':<44}{'contacts':>9}{'wall s':>8}{'API s':>7}{'SQL s':>7}"
        f"{'x ORM':>7}{'requests':>10}{'per 1k/run':>12}"
        f"  {'target':<22}{'SQL':>9}{'q/partner':>10}  {'target':<22}{'mem MB':>8}"
        f"  {'done':<34}"
    )
    print(header)
    print("-" * len(header))
    if baseline:
        print(
            f"{'bare ORM bulk create of N partners':<44}{n:>9,}"
            f"{baseline['seconds']:>8.1f}{'':>7}{'':>7}{1:>7.2f}"
            f"{'-':>10}{'':>12}  {'':<22}{baseline['queries']:>9,}"
            f"{baseline['queries'] / n:>10.3f}  {'(baseline)':<22}{'':>8}"
        )
    for key, title, req_kind, sql_kind in ROWS:
        r = figures.get(key)
        if not r:
            continue
        ratio = f"{r['seconds'] / baseline['seconds']:.2f}" if baseline else "-"
        req, req_target = request_cell(req_kind, r["http_requests"], r["contacts"])
        sql, sql_target = sql_cell(sql_kind, r["queries"], r["contacts"])
        done = (
            f"c{r['created']} u{r['updated']} ="
            f"{r['unchanged']} s{r['skipped']} "
            f"f{r['failed']}"
            + ("" if r["state"] == "done" else f" {r['state'].upper()}")
        )
        print(
            f"{title:<44}{r['contacts']:>9,}{r['seconds']:>8.1f}{r['api_seconds']:>7.1f}"
            f"{r['sql_seconds']:>7.1f}{ratio:>7}{r['http_requests']:>10}{req:>12}"
            f"  {req_target:<22}{r['queries']:>9,}{sql:>10}  {sql_target:<22}"
            f"{r['memory_growth'] / 2**20:>8.1f}  {done:<34}"
        )
    print(
        "(wall s = run_sync(); API s = time the sandbox took to answer its calls, "
        "latency included; SQL s = time in cursor.execute; x ORM = wall s / bare ORM "
        "create of N;"
    )
    print(
        " requests = the run's http_requests; the sandbox logged "
        + ", ".join(
            f"{key} {figures[key]['sandbox_requests']}"
            for key, *_ in ROWS
            if key in figures
        )
        + " API calls;"
    )
    print(
        " done: c created, u updated, = unchanged, s skipped, f failed, as the run "
        "counted them)"
    )
    print()


def print_server_table(n, figures, args):
    cron, queue = figures.get("server_cron"), figures.get("server_queue")
    print()
    print(
        f"{args.syncs} sync(s) both ways of {n:,} contacts each (N/2 only in Odoo, "
        f"N/2 only in Mailchimp), Sync Now on all at once; Odoo --workers=2 "
        f"--max-cron-threads=1; sandbox latency {args.latency * 1000:.0f} ms per "
        f"call; {os.cpu_count()} CPUs; {ADDON} from the {args.measured}"
    )
    header = f"{'path':<40}{'contacts':>10}{'wall s':>9}{'API calls':>11}  runs"
    print(header)
    print("-" * (len(header) + 30))
    for key, title in (
        ("server_cron", "ir.cron (the addon alone)"),
        ("server_queue", "queue_job, channel root.mailchimp:2"),
    ):
        r = figures.get(key)
        if not r:
            continue
        runs = ", ".join(
            f"{run['state']} {run['members']:,} members"
            + (f" / {run['jobs']} jobs" if run["jobs"] else "")
            for run in r["runs"]
        )
        print(
            f"{title:<40}{r['contacts']:>10,}{r['seconds']:>9.1f}"
            f"{r['sandbox_requests']:>11}  {runs}"
        )
    if cron and queue:
        print(f"ratio wall time cron / queue: {cron['seconds'] / queue['seconds']:.2f}")
    print()


def print_summary(results, args):
    sizes = sorted(results)
    print("Targets across sizes")
    print("--------------------")
    big = results.get(100000, {}).get("both")
    if big:
        print(
            f"100k both ways, initial run: {big['seconds']:.1f} s (target <= "
            f"{TARGET_BOTH_SECONDS} s: "
            f"{_verdict(big['seconds'] <= TARGET_BOTH_SECONDS)}) on {os.cpu_count()} "
            "CPUs"
        )
    else:
        print(f"100k both ways: not measured (target <= {TARGET_BOTH_SECONDS} s)")
    if len(sizes) >= 2:
        small, large = sizes[0], sizes[-1]
        print(
            f"Peak memory growth of a run from {small:,} to {large:,} contacts "
            f"(target <= {TARGET_MEMORY_MB} MB from 10k to 100k):"
        )
        for key, title, *_ in ROWS:
            a, b = results[small].get(key), results[large].get(key)
            if a and b:
                growth = (b["memory_growth"] - a["memory_growth"]) / 2**20
                print(
                    f"  {title:<44} {a['memory_growth'] / 2**20:7.1f} MB -> "
                    f"{b['memory_growth'] / 2**20:7.1f} MB: +{growth:.1f} MB "
                    f"{_verdict(growth <= TARGET_MEMORY_MB)}"
                )
        print(
            f"SQL queries per unchanged partner (slope from {small:,} to {large:,}; "
            f"target {TARGET_UNCHANGED_SQL}):"
        )
        for key, title, _req, sql_kind in ROWS:
            a, b = results[small].get(key), results[large].get(key)
            if a and b and sql_kind == "unchanged":
                slope = (b["queries"] - a["queries"]) / (large - small)
                print(
                    f"  {title:<44} {a['queries']:,} -> {b['queries']:,} queries: "
                    f"{slope:.4f} per partner {_verdict(slope <= TARGET_UNCHANGED_SQL)}"
                )
    print()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000",
        help="comma-separated N (default 10000,100000)",
    )
    parser.add_argument(
        "--scenarios",
        default="push,pull,both",
        help="any of push,pull,both (default all)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.1,
        help="sandbox latency per API call in seconds (default 0.1)",
    )
    parser.add_argument("--memory", choices=("rss", "tracemalloc"), default="rss")
    parser.add_argument(
        "--interval",
        type=float,
        default=6.0,
        help="seconds at least between the end of a run and the start of the "
        "next run of the same sync (default 6: longer than the sync's 5 s "
        "watermark margin, as the scheduler's minutes are; 0 to run them "
        "back to back)",
    )
    parser.add_argument(
        "--batch",
        type=int,
        default=1000,
        help="partners per create() call of the bare-ORM baseline",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="write cProfile stats and SQL queries by caller per run",
    )
    parser.add_argument(
        "--explain",
        type=int,
        metavar="MS",
        help="log the plans of statements slower than MS ms to PostgreSQL's "
        "server log (auto_explain; needs a superuser role)",
    )
    parser.add_argument(
        "--no-analyze",
        dest="analyze",
        action="store_false",
        help="skip the VACUUM ANALYZE between the set-up and the first run "
        "(planner statistics then predate the N new contacts)",
    )
    parser.add_argument(
        "--path",
        choices=("engine", "queue"),
        default="engine",
        help="engine: run_sync() in a shell (default); queue: a production-like "
        "server, ir.cron against queue_job (see the docstring)",
    )
    parser.add_argument(
        "--syncs",
        type=int,
        default=1,
        help="with --path queue: syncs at once, each of N contacts (default 1)",
    )
    parser.add_argument("--json", metavar="FILE", help="write the raw figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument(
        "--rev",
        help="measure the addon (and sandbox) of this git revision "
        "(default: a copy of the working tree taken at start)",
    )
    parser.add_argument(
        "--odoo-args",
        default=os.environ.get("ODOO_TEST_ARGS", ""),
        help="extra arguments for every odoo call (default $ODOO_TEST_ARGS)",
    )
    args = parser.parse_args(argv)
    args.sizes = [int(size.replace("_", "")) for size in args.sizes.split(",") if size]
    args.scenarios = [
        name.strip() for name in args.scenarios.split(",") if name.strip()
    ]
    unknown = set(args.scenarios) - {"push", "pull", "both"}
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    Benchmark(args).main()


if __name__ == "__main__":
    main()
