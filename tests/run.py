#!/usr/bin/env python3
"""The project's one test command: ``python tests/run.py``.

1. The tests that need no Odoo (client, sandbox, repository files), with pytest.
2. When an ``odoo`` executable is on PATH: a fresh database, the addon (with
   ``base_automation``, whose Automation Rules its tests drive) installed with
   its Odoo tests (``--test-enable``), an upgrade (``-u``), and an uninstall
   that must keep the contacts.  Without ``odoo`` it says so loudly.
   Before the uninstall, checks that need real commits and real processes:
   a contact sync killed with SIGKILL (``odoo_crash_check.py``), a sync run
   while its form is saved and Sync Now pressed, and a cron pass while a save
   holds the sync (``odoo_concurrency_check.py``), and the email
   activity pull with its parallel writers, rerun, killed and rerun
   (``odoo_activity_check.py``).
3. The CRM glue (``mailchimp_connector_crm``): ``crm`` and the glue installed on a
   database of their own (``<ODOO_TEST_DB>_crm``) with the glue's tests; the
   addon itself stays tested without ``crm`` in step 2.
4. The job-queue glue (``mailchimp_connector_queue``): OCA's ``queue_job``,
   downloaded from PyPI (``pip download --no-deps odoo-addon-queue-job==18.0.*``)
   and unpacked outside the repository (``~/.cache/mailchimp_connector/queue_job``),
   installed with the glue on ``<ODOO_TEST_DB>_queue`` with the glue's tests, then
   a real-process check: Odoo with two workers and queue_job's job runner, a
   20,000-contact sync done by jobs, a worker SIGKILLed mid-run
   (``odoo_queue_check.py``).  Skipped LOUDLY, and counted as skipped, only when
   queue_job cannot be had.

A whole run (no ODOO_TEST_TAGS) goes in two lanes, one per core: the first
runs step 2 without the addon's test files of ``SECOND_LANE_FILES``; the second,
a process of its own (``tests/run.py --second-lane``, its log printed after
the first lane's), runs step 1, those files on ``<ODOO_TEST_DB>_beside`` (its
Odoo on ODOO_TEST_HTTP_PORT + 1), then steps 3 and 4.  The totals are both
lanes'.

Environment:
  ODOO_TEST_DB        database to (re)create, default ``mailchimp_connector_test``
  ODOO_ADDONS_PATH    Odoo's own addons folders, comma-separated, when ``odoo``
                      does not find them itself (a source install)
  ODOO_TEST_ARGS      extra arguments for every ``odoo`` call (e.g. --db_host=...)
  ODOO_TEST_TAGS      what to run, default ``/mailchimp_connector`` (then the
                      glues' ``/mailchimp_connector_crm`` and
                      ``/mailchimp_connector_queue``); tags naming a glue run
                      its phase only, the others the addon's only
  QUEUE_JOB_ADDONS    a folder holding ``queue_job`` to use instead of the download
  ODOO_TEST_HTTP_PORT port of Odoo's test server (browser tours), default 18069
  SKIP_ODOO_TESTS=1   only the pure tests (says so loudly)
Arguments after ``--`` go to pytest.
"""

# a command-line program: what it prints is its report, not a log line
# pylint: disable=print-used

import ast
import configparser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from odoo_activity_check import run_activity_check
from odoo_concurrency_check import run_concurrency_check
from odoo_crash_check import run_crash_check
from odoo_queue_check import run_queue_check

ROOT = Path(__file__).resolve().parent.parent
ADDON = "mailchimp_connector"
TEST_ALSO_INSTALLED = "base_automation"
CRM_ADDON = "mailchimp_connector_crm"
QUEUE_ADDON = "mailchimp_connector_queue"
GLUES = (CRM_ADDON, QUEUE_ADDON)
QUEUE_JOB_SPEC = "odoo-addon-queue-job==18.0.*"
# the addon's test files run on a second database beside the others (two cores):
# chosen so that both lanes take about as long (per-file times in the CI log)
SECOND_LANE_FILES = (
    "test_mailchimp_activity.py",
    "test_mailchimp_consent.py",
    "test_mailchimp_round_trip.py",
    "test_mailchimp_screens.py",
    "test_mailchimp_sync_progress.py",
    "test_mailchimp_tour.py",
    "test_mailchimp_webhook.py",
)
QUEUE_JOB_CACHE = Path("~/.cache/mailchimp_connector/queue_job").expanduser()
SUMMARY = re.compile(
    r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database"
)
SKIPPED = re.compile(r"\.tests\.[\w.]+: skipped ")
POST_TESTS = "odoo.service.server: Starting post tests"
# log lines an install must not produce: warnings
# and errors about our addon, whoever logs them
LOG_PROBLEM = re.compile(r" (?:WARNING|ERROR|CRITICAL) \S+ (\S+): (.*)")


def own_problems(output):
    return [
        line
        for line in output.splitlines()
        if (match := LOG_PROBLEM.search(line))
        and ("mailchimp" in match.group(1) or "mailchimp" in match.group(2).lower())
    ]


def banner(text):
    line = "=" * 78
    print(f"\n{line}\n{text}\n{line}", flush=True)


def run_pure_tests(pytest_args):
    """Returns (exit code, {"passed": n, "failed": n, "skipped": n, "error": n})."""
    rc, output = run_logged(
        "Pure-Python tests (client, sandbox, repository files): pytest",
        [sys.executable, "-m", "pytest", *pytest_args],
    )
    summary = "".join(output.splitlines(keepends=True)[-5:])
    counts = {
        kind: sum(int(n) for n in re.findall(rf"(\d+) {kind}", summary))
        for kind in ("passed", "failed", "skipped", "error")
    }
    return rc, counts


def odoo_addons_path(extra=()):
    paths = [str(path) for path in extra]
    configured = os.environ.get("ODOO_ADDONS_PATH")
    if not configured:
        for rc in (os.environ.get("ODOO_RC"), "~/.odoorc", "/etc/odoo/odoo.conf"):
            rc_path = rc and Path(rc).expanduser()
            if rc_path and rc_path.is_file():
                parser = configparser.ConfigParser()
                parser.read(rc_path)
                configured = parser.get("options", "addons_path", fallback="")
                break
    for path in (configured or "").split(","):
        path = path.strip()
        if path and Path(path).resolve() != ROOT and path not in paths:
            paths.append(path)
    return ",".join([str(ROOT), *paths])


def odoo_command(odoo, db, *args, subcommand=(), extra_addons=()):
    extra = shlex.split(os.environ.get("ODOO_TEST_ARGS", ""))
    # before the subcommand: given after it, Odoo has already put the
    # configuration file's addons path on sys.path, first, and a checkout
    # named there (not this one) is the addon the shell loads
    return [
        odoo,
        f"--addons-path={odoo_addons_path(extra_addons)}",
        *subcommand,
        "-d",
        db,
        *extra,
        *args,
    ]


def run_logged(title, command, logfile=None):
    """Run a command, echo its output, keep it
    (and write it to ``logfile``) for parsing."""
    banner(title)
    print("$ " + " ".join(shlex.quote(part) for part in command), flush=True)
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    lines = []
    for line in process.stdout:
        sys.stdout.write(line)
        lines.append(line)
    process.wait()
    output = "".join(lines)
    if logfile:
        Path(logfile).write_text(output, encoding="utf-8")
    print(f"({title}: exit {process.returncode} in {time.monotonic() - started:.0f} s)")
    return process.returncode, output


def drop_database(odoo, db):
    extra = shlex.split(os.environ.get("ODOO_TEST_ARGS", ""))
    db_args = [arg for arg in extra if arg.startswith("--db")]
    subprocess.call(
        [odoo, "db", *db_args, "drop", db],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


UNINSTALL_CHECK = f"""
partner = env['res.partner'].create(
    {{'name': 'Kept after uninstall', 'email': 'kept@corp.com'}})
# email activity (F27): one event with its chatter line and its UTM campaign
mc_account = env['mailchimp.account'].create(
    {{'name': 'Uninstall check', 'api_key': '0123456789abcdef' * 2 + '-us1'}})
mc_campaign = env['mailchimp.campaign'].create({{
    'account_id': mc_account.id, 'mailchimp_campaign_id': 'uninst1',
    'title': 'Kept UTM campaign', 'subject': 'Kept subject',
    'send_time': '2026-01-01 10:00:00'}})
mc_campaign._ensure_utm_campaign()
utm_id = mc_campaign.utm_campaign_id.id
from odoo.addons.{ADDON}.utils.activity_events import (
    ChatterBodies, make_event, staging_rows)
staged = staging_rows(
    [make_event(mc_campaign.id, 'uninstall-check', 'open', '2026-01-01T11:00:00')],
    ChatterBodies(mc_campaign._activity_subject()))
env['mailchimp.activity']._insert_staged(
    mc_campaign, [(partner.id, tail) for _hash, _stamp, tail in staged])
message_ids = env['mail.message'].search([
    ('model', '=', 'res.partner'), ('res_id', '=', partner.id),
    ('subtype_id', '=', env.ref('mailchimp_connector.mt_mailchimp_activity').id)]).ids
env.cr.commit()
module = env['ir.module.module'].search([('name', '=', '{ADDON}')])
module.button_immediate_uninstall()
env.cr.commit()
env.invalidate_all()
module = env['ir.module.module'].search([('name', '=', '{ADDON}')])
checks = {{
    'module uninstalled': module.state == 'uninstalled',
    'contact kept': bool(env['res.partner'].browse(partner.id).exists()),
    'tables dropped': 'mailchimp.account' not in env,
    'activity chatter line kept': len(message_ids) == 1
    and len(env['mail.message'].browse(message_ids).exists()) == 1,
    'UTM campaign kept': bool(env['utm.campaign'].browse(utm_id).exists()),
}}
for name, ok in checks.items():
    print('UNINSTALL-CHECK', 'ok' if ok else 'FAILED', name)
"""


def install_and_test(odoo, db, modules, tags, title, extra_addons=()):
    """Install ``modules`` on a new database with the tests ``tags`` name.
    Returns (failures, passed, skipped, ran, failed, errors, the install's own
    warning lines), None when Odoo printed no test summary."""
    logdir = ROOT / ".test-logs" / db
    logdir.mkdir(parents=True, exist_ok=True)
    drop_database(odoo, db)
    rc, output = run_logged(
        title,
        odoo_command(
            odoo,
            db,
            "-i",
            modules,
            "--test-enable",
            f"--test-tags={tags}",
            "--stop-after-init",
            f"--http-port={os.environ.get('ODOO_TEST_HTTP_PORT', '18069')}",
            "--without-demo=all",
            "--log-level=info",
            extra_addons=extra_addons,
        ),
        logdir / "odoo-install-tests.log",
    )
    match = SUMMARY.search(output)
    skipped = len(SKIPPED.findall(output))
    if not match:
        print(f"!! Odoo printed no test summary for {modules}: the tests did not run.")
        return None
    failed, errors, ran = (int(group) for group in match.groups())
    failures = max(failed + errors, 1) if rc or failed or errors else 0
    if not ran:
        print(f"!! no test of {modules} matched the tags {tags}: nothing was tested.")
        failures += 1
    # the install itself must be clean; what tests log on purpose comes after this mark
    problems = own_problems(output.split(POST_TESTS)[0])
    passed = ran - failed - errors - skipped
    return failures, passed, skipped, ran, failed, errors, problems


def process_check(label, title, check, shell, db):
    """One check with real processes and commits (``check(shell, db)`` returns
    [(name, ok)]); True when every part of it held."""
    banner(f"Odoo: {title}")
    try:
        results = check(shell, db)
    except Exception as error:  # reported as a failed check
        results = [(f"{label} check could not run: {error}", False)]
    for name, ok in results:
        print(f"{label} check: {'ok' if ok else 'FAILED'} {name}")
    return bool(results) and all(ok for _name, ok in results)


def run_odoo_tests(tags=None):
    """Returns (failed_count, passed_count, skipped_count) for the Odoo phase
    (its tests named by ``tags``, default ODOO_TEST_TAGS' or all)."""
    odoo = shutil.which("odoo")
    if os.environ.get("SKIP_ODOO_TESTS") == "1" or not odoo:
        reason = "SKIP_ODOO_TESTS=1" if odoo else "no `odoo` executable on PATH"
        banner(
            f"ODOO TESTS SKIPPED ({reason}): 0 Odoo tests ran.\nModels, views, "
            "security, cron and chatter were NOT exercised.\nPut an Odoo 18.0 `odoo` "
            "on PATH (official image or a source install) to run them."
        )
        return None
    db = os.environ.get("ODOO_TEST_DB", "mailchimp_connector_test")
    tags = phase_tags()[0] if tags is None else tags
    if not tags:
        banner(f"Odoo: {ADDON}'s phase not asked for by ODOO_TEST_TAGS")
        return (0, 0, 0)
    tested = install_and_test(
        odoo,
        db,
        # Automation Rules (no dependency of the addon): its tests run them
        f"{ADDON},{TEST_ALSO_INSTALLED}",
        tags,
        f"Odoo: install {ADDON} on a new database '{db}' and run its tests",
    )
    if tested is None:
        return (1, 0, 0)
    failures, tests_passed, skipped, ran, failed, errors, problems = tested
    passed = tests_passed
    logdir = ROOT / ".test-logs" / db

    rc_update, output = run_logged(
        f"Odoo: upgrade {ADDON} (-u) on '{db}'",
        odoo_command(odoo, db, "-u", ADDON, "--stop-after-init", "--no-http"),
        logdir / "odoo-update.log",
    )
    problems += own_problems(output)
    upgrade_ok = rc_update == 0 and "Traceback" not in output
    print(f"upgrade check: {'ok' if upgrade_ok else 'FAILED'}")
    failures += 0 if upgrade_ok else 1
    passed += 1 if upgrade_ok else 0

    shell = odoo_command(odoo, db, "--no-http", subcommand=["shell"])
    for label, title, check in (
        (
            "crash",
            f"a sync killed with SIGKILL mid-run, then rerun, on '{db}'",
            run_crash_check,
        ),
        (
            "concurrency",
            "a sync run while the form is saved and Sync Now pressed, and a cron "
            f"pass while a save holds the sync, with real transactions, on '{db}'",
            run_concurrency_check,
        ),
        (
            "activity",
            "email activity pulled with real commits and parallel writers, rerun, "
            f"killed with SIGKILL mid-walk and rerun, on '{db}'",
            run_activity_check,
        ),
    ):
        ok = process_check(label, title, check, shell, db)
        failures += 0 if ok else 1
        passed += 1 if ok else 0

    banner(f"Odoo: uninstall {ADDON} from '{db}'; contacts must stay")
    command = odoo_command(odoo, db, "--no-http", subcommand=["shell"])
    print("$ " + " ".join(shlex.quote(part) for part in command) + " < uninstall check")
    result = subprocess.run(
        command, input=UNINSTALL_CHECK, cwd=ROOT, capture_output=True, text=True
    )
    (logdir / "odoo-uninstall.log").write_text(result.stdout + result.stderr)
    checks = re.findall(r"UNINSTALL-CHECK (ok|FAILED) (.+)", result.stdout)
    for status, name in checks:
        print(f"uninstall check: {status} {name}")
    if len(checks) != 5:
        print(result.stdout[-3000:], result.stderr[-3000:])
    uninstall_failed = [c for c in checks if c[0] != "ok"] or len(checks) != 5
    failures += 1 if uninstall_failed else 0
    passed += 0 if uninstall_failed else 1

    if problems:
        print(
            f"!! {len(problems)} warning/error line(s) about the addon during "
            "install/upgrade:"
        )
        print("\n".join(problems[:20]))
        failures += 1
    drop_database(odoo, db)
    banner(
        f"Odoo tests: {ran} ran ({tests_passed} passed, {failed} failed, {errors} "
        f"errors, {skipped} skipped) + upgrade, crash, concurrency, activity and "
        "uninstall checks"
    )
    return (failures, passed, skipped)


def lane_tags():
    """(the first lane's tags, the second's) for the addon's tests: the files of
    SECOND_LANE_FILES on a database of their own, the rest on the first, which
    also runs the upgrade and the process checks. Only for a whole run (no
    ODOO_TEST_TAGS): a new test file lands on the first lane."""
    files = [f"/{ADDON}/tests/{name}" for name in SECOND_LANE_FILES]
    return ",".join([f"/{ADDON}"] + ["-" + spec for spec in files]), ",".join(files)


def run_addon_tests_beside(tags):
    """The second lane's share of the addon's tests, installed as in the first
    lane on ``<ODOO_TEST_DB>_beside``. Returns (failed, passed, skipped)."""
    odoo = shutil.which("odoo")
    db = os.environ.get("ODOO_TEST_DB", "mailchimp_connector_test") + "_beside"
    tested = install_and_test(
        odoo,
        db,
        f"{ADDON},{TEST_ALSO_INSTALLED}",
        tags,
        f"Odoo: install {ADDON} on a new database '{db}' and run the second "
        "lane's share of its tests",
    )
    drop_database(odoo, db)
    if tested is None:
        return (1, 0, 0)
    failures, passed, skipped, ran, failed, errors, problems = tested
    if problems:
        print(f"!! {len(problems)} warning/error line(s) about the addon:")
        print("\n".join(problems[:20]))
        failures += 1
    banner(
        f"Odoo tests, second lane: {ran} ran ({passed} passed, {failed} failed, "
        f"{errors} errors, {skipped} skipped)"
    )
    return (failures, passed, skipped)


def run_second_lane(pytest_args, result_file):
    """The second lane, a process of its own beside the first: the pure tests,
    its share of the addon's tests, the CRM glue's, the queue glue's. Its
    results go to ``result_file`` (JSON)."""
    pure_rc, pure = run_pure_tests(pytest_args)
    result = {
        "pure_rc": pure_rc,
        "pure": pure,
        "odoo": run_addon_tests_beside(lane_tags()[1]),
        "crm": run_crm_tests(),
        "queue": run_queue_tests(),
    }
    Path(result_file).write_text(json.dumps(result), encoding="utf-8")
    return 0


def start_second_lane(pytest_args):
    """Start the second lane (``tests/run.py --second-lane``), its output to a
    log printed once the first lane is done; its Odoo on the next HTTP port."""
    logdir = ROOT / ".test-logs"
    logdir.mkdir(parents=True, exist_ok=True)
    log_path, result_path = logdir / "second-lane.log", logdir / "second-lane.json"
    result_path.unlink(missing_ok=True)
    port = int(os.environ.get("ODOO_TEST_HTTP_PORT", "18069")) + 1
    banner(
        "Second lane started beside the first: the pure tests, "
        f"{len(SECOND_LANE_FILES)} of the addon's test files, the CRM and queue "
        f"glues (HTTP port {port}); its log follows the first lane's"
    )
    log = open(log_path, "w", encoding="utf-8")
    process = subprocess.Popen(
        [sys.executable, __file__, "--second-lane", str(result_path), "--"]
        + pytest_args,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, ODOO_TEST_HTTP_PORT=str(port)),
    )
    return process, log, log_path, result_path


def finish_second_lane(lane):
    """Wait for the second lane, print its log, return its results; a lane that
    wrote none failed everything it was to run."""
    process, log, log_path, result_path = lane
    process.wait()
    log.close()
    banner(f"Second lane's log ({log_path}, exit {process.returncode})")
    print(log_path.read_text(encoding="utf-8", errors="replace"), flush=True)
    try:
        result = json.loads(result_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        banner("!! the second lane wrote no result: counted as failed")
        failed = {"passed": 0, "failed": 1, "skipped": 0, "error": 0}
        return 1, failed, (1, 0, 0), (1, 0, 0), (1, 0, 0)
    queue = result["queue"]
    return (
        result["pure_rc"],
        result["pure"],
        tuple(result["odoo"]),
        tuple(result["crm"]) if result["crm"] is not None else None,
        tuple(queue) if queue is not None else None,
    )


def two_lanes():
    """A whole run with Odoo at hand runs in two lanes (two cores)."""
    return (
        shutil.which("odoo")
        and os.environ.get("SKIP_ODOO_TESTS") != "1"
        and not os.environ.get("ODOO_TEST_TAGS")
    )


def phase_tags():
    """(the addon's test tags, the CRM glue's, the queue glue's): ODOO_TEST_TAGS
    split by the addon they name; every phase by default."""
    given = os.environ.get("ODOO_TEST_TAGS")
    if not given:
        return f"/{ADDON}", f"/{CRM_ADDON}", f"/{QUEUE_ADDON}"
    parts = [part.strip() for part in given.split(",") if part.strip()]
    crm = [part for part in parts if CRM_ADDON in part]
    queue = [part for part in parts if QUEUE_ADDON in part]
    main = [part for part in parts if not any(glue in part for glue in GLUES)]
    return ",".join(main), ",".join(crm), ",".join(queue)


def run_crm_tests():
    """The glue's phase: crm and the glue installed on a database of their own,
    with the glue's tests. Returns (failed, passed, skipped), None when skipped."""
    odoo = shutil.which("odoo")
    tags = phase_tags()[1]
    if os.environ.get("SKIP_ODOO_TESTS") == "1" or not odoo or not tags:
        return None
    db = os.environ.get("ODOO_TEST_DB", "mailchimp_connector_test") + "_crm"
    tested = install_and_test(
        odoo,
        db,
        f"crm,{CRM_ADDON}",
        tags,
        f"Odoo: install crm and {CRM_ADDON} on a new database '{db}' and run "
        "the glue's tests",
    )
    drop_database(odoo, db)
    if tested is None:
        return (1, 0, 0)
    failures, passed, skipped, ran, failed, errors, problems = tested
    if problems:
        print(
            f"!! {len(problems)} warning/error line(s) about the addons during install:"
        )
        print("\n".join(problems[:20]))
        failures += 1
    banner(
        f"Odoo CRM glue tests: {ran} ran ({passed} passed, {failed} failed, "
        f"{errors} errors, {skipped} skipped)"
    )
    return (failures, passed, skipped)


def odoo_python(odoo):
    """The interpreter ``odoo`` runs under: its shebang, or the Python a shell
    wrapper execs (a source install's ``odoo`` is often one); None if unknown."""
    try:
        text = Path(odoo).read_text(encoding="utf-8", errors="replace")[:2000]
    except OSError:
        return None
    first = text.splitlines()[0] if text else ""
    if first.startswith("#!") and "python" in first:
        parts = first[2:].split()
        # "#!/usr/bin/env python3" names the interpreter through env
        return shutil.which(parts[-1]) if parts[0].endswith("env") else parts[0]
    match = re.search(r"exec\s+(\S*python[\d.]*)\s", text)
    return match.group(1) if match else None


def queue_job_addons(odoo):
    """The folder holding OCA's ``queue_job`` (downloaded once from PyPI and
    unpacked outside the repository), its Python needs installed in Odoo's
    interpreter. Returns (folder, None) or (None, why it cannot be had)."""
    given = os.environ.get("QUEUE_JOB_ADDONS")
    if given:
        folder = Path(given).expanduser()
        if (folder / "queue_job" / "__manifest__.py").is_file():
            return folder, None
        return None, f"QUEUE_JOB_ADDONS={given} holds no queue_job addon"
    QUEUE_JOB_CACHE.mkdir(parents=True, exist_ok=True)
    banner(f"queue_job: pip download --no-deps {QUEUE_JOB_SPEC}")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "-q",
            "-d",
            str(QUEUE_JOB_CACHE),
            QUEUE_JOB_SPEC,
        ],
        capture_output=True,
        text=True,
    )
    wheels = sorted(
        QUEUE_JOB_CACHE.glob("odoo_addon_queue_job-18.0.*.whl"),
        key=lambda path: [
            int(part) if part.isdigit() else 0
            for part in path.name.split("-")[1].split(".")
        ],
    )
    if not wheels:
        return None, (
            "pip could not download it: " + (result.stderr.strip()[-500:] or "?")
        )
    if result.returncode:
        print(f"(pip download failed, the cached {wheels[-1].name} is used)")
    wheel = wheels[-1]
    folder = QUEUE_JOB_CACHE / wheel.name.split("-")[1]
    if not (folder / "queue_job" / "__manifest__.py").is_file():
        with zipfile.ZipFile(wheel) as archive:
            prefix = "odoo/addons/queue_job/"
            for name in archive.namelist():
                if name.startswith(prefix) and not name.endswith("/"):
                    target = folder / "queue_job" / name[len(prefix) :]
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(archive.read(name))
    print(f"queue_job {wheel.name.split('-')[1]} in {folder}")
    # its Python needs (external_dependencies), in the interpreter Odoo runs under
    manifest = ast.literal_eval(
        (folder / "queue_job" / "__manifest__.py").read_text(encoding="utf-8")
    )
    needs = manifest.get("external_dependencies", {}).get("python", [])
    python = odoo_python(odoo)
    if not python:
        banner(
            f"!! WARNING: cannot tell which Python `{odoo}` runs under: queue_job's "
            f"Python packages {needs} are NOT checked; install them there if the "
            "install below says they are missing."
        )
        return folder, None
    for package in needs:
        found = subprocess.run(
            [python, "-c", f"import {package}"], capture_output=True
        ).returncode
        if found:
            print(f"queue_job needs {package}: pip install {package} into {python}")
            if subprocess.call([python, "-m", "pip", "install", "-q", package]):
                return None, f"{package} could not be installed into {python}"
    return folder, None


def run_queue_tests():
    """The job-queue glue's phase. Returns (failed, passed, skipped), None when
    not asked for."""
    odoo = shutil.which("odoo")
    tags = phase_tags()[2]
    if os.environ.get("SKIP_ODOO_TESTS") == "1" or not odoo or not tags:
        return None
    started = time.monotonic()
    folder, reason = queue_job_addons(odoo)
    if folder is None:
        banner(
            f"!! QUEUE_JOB TESTS SKIPPED: queue_job cannot be had ({reason}).\n"
            f"{QUEUE_ADDON}, its jobs and the multi-worker check were NOT tested."
        )
        return (0, 0, 1)
    db = os.environ.get("ODOO_TEST_DB", "mailchimp_connector_test") + "_queue"
    tested = install_and_test(
        odoo,
        db,
        QUEUE_ADDON,
        tags,
        f"Odoo: install queue_job and {QUEUE_ADDON} on a new database '{db}' and "
        "run the glue's tests",
        extra_addons=[folder],
    )
    if tested is None:
        drop_database(odoo, db)
        return (1, 0, 0)
    failures, passed, skipped, ran, failed, errors, problems = tested
    if problems:
        print(
            f"!! {len(problems)} warning/error line(s) about the addons during install:"
        )
        print("\n".join(problems[:20]))
        failures += 1
    ok = process_check(
        "queue",
        "a 20,000-contact sync done by queue jobs on two Odoo workers, one worker "
        f"SIGKILLed mid-run, on '{db}'",
        lambda _shell, database: run_queue_check(
            lambda *args, subcommand=(): odoo_command(
                odoo, database, *args, subcommand=subcommand, extra_addons=[folder]
            ),
            database,
        ),
        None,
        db,
    )
    failures += 0 if ok else 1
    passed += 1 if ok else 0
    drop_database(odoo, db)
    banner(
        f"Odoo queue glue tests: {ran} ran ({passed - (1 if ok else 0)} passed, "
        f"{failed} failed, {errors} errors, {skipped} skipped) + the multi-worker "
        f"check, in {time.monotonic() - started:.0f} s"
    )
    return (failures, passed, skipped)


def main(argv):
    pytest_args = argv[argv.index("--") + 1 :] if "--" in argv else []
    if argv and argv[0] == "--second-lane":
        return run_second_lane(pytest_args, argv[1])
    if two_lanes():
        lane = start_second_lane(pytest_args)
        odoo_result = run_odoo_tests(lane_tags()[0])
        pure_rc, pure, beside, crm_result, queue_result = finish_second_lane(lane)
        odoo_result = tuple(a + b for a, b in zip(odoo_result, beside, strict=True))
    else:
        pure_rc, pure = run_pure_tests(pytest_args)
        odoo_result = run_odoo_tests()
        crm_result = run_crm_tests()
        queue_result = run_queue_tests()
    ok = (
        pure_rc == 0
        and (odoo_result is None or odoo_result[0] == 0)
        and (crm_result is None or crm_result[0] == 0)
        and (queue_result is None or queue_result[0] == 0)
    )
    pure_failed = pure["failed"] + pure["error"] or (1 if pure_rc else 0)
    odoo_failed, odoo_passed, odoo_skipped = odoo_result or (0, 0, 0)
    crm_failed, crm_passed, crm_skipped = crm_result or (0, 0, 0)
    queue_failed, queue_passed, queue_skipped = queue_result or (0, 0, 0)
    banner(
        f"RESULT: {'OK' if ok else 'FAILED'}\n"
        f"pure tests: {pure['passed']} passed, {pure_failed} failed, "
        f"{pure['skipped']} skipped (pytest exit {pure_rc})\n"
        + (
            "Odoo tests: SKIPPED, 0 ran (see the line above)"
            if odoo_result is None
            else f"Odoo tests: {odoo_passed} passed, {odoo_failed} failed, "
            f"{odoo_skipped} skipped"
        )
        + (
            "\nOdoo CRM glue tests: not run"
            if crm_result is None
            else f"\nOdoo CRM glue tests ({CRM_ADDON}, with crm): {crm_passed} "
            f"passed, {crm_failed} failed, {crm_skipped} skipped"
        )
        + (
            "\nOdoo queue glue tests: not run"
            if queue_result is None
            else "\nOdoo queue glue tests: SKIPPED LOUDLY, queue_job could not be "
            "had (see above)"
            if queue_result == (0, 0, 1)
            else f"\nOdoo queue glue tests ({QUEUE_ADDON}, with queue_job): "
            f"{queue_passed} passed, {queue_failed} failed, {queue_skipped} skipped"
        )
    )
    print(
        f"total: {pure['passed'] + odoo_passed + crm_passed + queue_passed} passed, "
        f"{pure_failed + odoo_failed + crm_failed + queue_failed} failed, "
        f"{pure['skipped'] + odoo_skipped + crm_skipped + queue_skipped} skipped"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
