"""Crash check: a sync SIGKILLed mid-run, then run again, loses and duplicates nothing.

Run by ``tests/run.py`` on its Odoo test database (the addon installed), because
it needs real commits and a real process to kill, which Odoo's test classes
cannot give.  It starts its own sandbox process, lets a sync commit a few
chunks, kills it, reruns it and compares both sides.
"""

# a command-line program: what it prints is its report, not a log line
# pylint: disable=print-used

import json
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_KEY = "0123456789abcdef0123456789abcdef-us1"  # the sandbox's default account
# two chunks of new members go as /batches jobs, the last thousand by batch subscribe
CONTACTS = 11000


def pairing_setup(name, email, direction, api, count, api_key=DEFAULT_KEY):
    """An ``odoo shell`` script shared by the real-database checks: an account on
    the sandbox at ``api``, ``count`` contacts ``<local>NNNNN@<domain>`` (``email``
    is the pair) and an active sync of them with the default mapping; it leaves
    ``account``, ``audience`` and ``pairing`` defined for the script that follows."""
    local, domain = email
    return f"""
import json
env['ir.config_parameter'].set_param('mailchimp_connector.max_retry_seconds', '5')
account = env['mailchimp.account'].create({{
    'name': {name!r}, 'api_key': {api_key!r}, 'api_base_url': {api!r}}})
account.action_connect()
audience = account.audience_ids.filtered(lambda a: a.name == 'Newsletter')
env['res.partner'].create([
    {{'name': {name!r} + ' Person%d' % i, 'email': '{local}%05d@{domain}' % i}}
    for i in range({count:d})])
pairing = env['mailchimp.pairing'].create({{
    'name': {name!r}, 'account_id': account.id, 'audience_id': audience.id,
    'partner_domain': "[('email', '=like', '%@{domain}')]", 'state': 'active',
    'direction': {direction!r}}})
pairing.action_apply_default_mapping()
"""


SETUP_DONE = """
env.cr.commit()
print('CRASH-SETUP ' + json.dumps(
    {'pairing': pairing.id, 'list_id': audience.mailchimp_list_id}))
"""

RUN = """
pairing = env['mailchimp.pairing'].browse(%(pairing)d)
run = pairing.run_sync()
env.cr.commit()
print('CRASH-RUN ' + run.state + ' ' + str(run.created_count))
"""

CHECK = """
import json
pairing = env['mailchimp.pairing'].browse(%(pairing)d)
members = pairing.member_ids
partners = env['res.partner'].search([('email', '=like', '%%@crash-corp.com')])
print('CRASH-CHECK ' + json.dumps({
    'members': len(members),
    'distinct_partners': len(set(members.partner_id.ids)),
    'distinct_hashes': len(set(members.mapped('subscriber_hash'))),
    'partners': len(partners),
    'runs': pairing.run_ids.mapped('state'),
}))
"""


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def sandbox_process():
    """The project's sandbox in a process of its own (as a deployment runs it); yields
    its base URL once it answers, and stops it afterwards."""
    port = _free_port()
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
        cwd=ROOT / "sandbox",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(50):
            try:
                requests.get(f"{base}/_sandbox/health", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield base
    finally:
        sandbox.terminate()
        sandbox.wait()


def _shell(command, script, marker, timeout=600):
    result = subprocess.run(
        command, input=script, capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )
    for line in result.stdout.splitlines():
        if line.startswith(marker):
            return line[len(marker) + 1 :]
    raise RuntimeError(
        f"{marker} not printed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    )


def _members_committed(db, pairing_id):
    out = subprocess.run(
        [
            "psql",
            "-d",
            db,
            "-tAc",
            f"SELECT count(*) FROM mailchimp_member WHERE pairing_id = {pairing_id}",
        ],
        capture_output=True,
        text=True,
    )
    return int(out.stdout.strip() or 0)


def run_crash_check(shell_command, db):
    """Returns a list of (check name, ok) pairs."""
    with sandbox_process() as base:
        setup = json.loads(
            _shell(
                shell_command,
                pairing_setup(
                    "Crash check",
                    ("crash", "crash-corp.com"),
                    "both",
                    f"{base}/{{dc}}/3.0",
                    CONTACTS,
                )
                + SETUP_DONE,
                "CRASH-SETUP",
            )
        )
        # slow Mailchimp down so that the kill lands mid-run
        requests.post(f"{base}/_sandbox/latency", json={"seconds": 0.3}, timeout=5)
        victim = subprocess.Popen(
            shell_command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
            start_new_session=True,
        )
        victim.stdin.write(RUN % setup)
        victim.stdin.close()
        deadline = time.monotonic() + 300
        committed = 0
        while time.monotonic() < deadline and victim.poll() is None:
            committed = _members_committed(db, setup["pairing"])
            if committed >= 1000:
                break
            time.sleep(0.1)
        killed_mid_run = victim.poll() is None and 0 < committed < CONTACTS
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
        print(
            f"crash check: killed the sync with SIGKILL after {committed} of "
            f"{CONTACTS} members were committed"
        )
        requests.post(f"{base}/_sandbox/latency", json={"seconds": 0}, timeout=5)
        rerun = _shell(shell_command, RUN % setup, "CRASH-RUN")
        check = json.loads(_shell(shell_command, CHECK % setup, "CRASH-CHECK"))
        in_mailchimp = requests.get(
            f"{base}/us1/3.0/lists/{setup['list_id']}/members",
            params={"count": 1000, "fields": "members.email_address,total_items"},
            auth=("x", DEFAULT_KEY),
            timeout=30,
        ).json()["total_items"]
        print(
            f"crash check: rerun {rerun}; Odoo {check}; Mailchimp members "
            f"{in_mailchimp}"
        )
        return [
            ("the sync was killed mid-run", killed_mid_run),
            ("the rerun finished", rerun.startswith("done")),
            ("every contact is in Mailchimp exactly once", in_mailchimp == CONTACTS),
            (
                "one member record per contact, no duplicate",
                check["members"]
                == check["distinct_partners"]
                == check["distinct_hashes"]
                == check["partners"]
                == CONTACTS,
            ),
            (
                "the interrupted run was taken up again and finished",
                check["runs"] == ["done"],
            ),
        ]
