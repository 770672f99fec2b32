"""Concurrency check: the screen and the scheduler never break a running sync.

Run by ``tests/run.py`` on its Odoo test database, because it needs real
transactions committed side by side, which Odoo's test classes cannot give
(they share one transaction). One ``odoo shell`` process plays three parties,
each with its own database connection, as an Odoo server's workers do:

1. a sync run (its own thread and cursor, committing page by page) is held in
   the middle of a page of its pull, its transaction open;
2. meanwhile an administrator saves the sync's form (``web_save``) and presses
   Sync Now, each in its own transaction, committed, retried on a concurrency
   error as Odoo's HTTP layer retries a request; then the run goes on: it must
   end "done" with all its data, the form's changes kept, Sync Now must say that
   the sync is already running, and the server log must show no serialization
   failure;
3. a user holds the sync's row (a form save not yet committed) while the cron's
   pass takes up the sync Sync Now asked for: the pass must not crash, and must
   run the sync;
4. the account's key is revoked and another job (the email activity pull) holds
   the account's row while a run fails on the key: the run must end "failed"
   with the key's message (not crash), the account must end in error, and the
   other job's write must be kept;
5. (before 4) an administrator renames a tag rule of the sync while the run's
   tag step, its transaction begun, is creating that tag in Mailchimp: the run
   must end "done", the rename must be kept, and the next run renames the tag.
"""

# a command-line program: what it prints is its report, not a log line
# pylint: disable=print-used

import json
import subprocess

import requests

from odoo_crash_check import ROOT, pairing_setup, sandbox_process

MEMBERS = 2500  # three pages of Mailchimp members
API_KEY = "c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0c0-us1"  # an account of its own in the sandbox

SCRIPT = """
env['mailchimp.pairing'].browse(pairing.id).write({
    'create_missing': True, 'default_owner_id': env.ref('base.user_admin').id})
# the cron's pass below must meet this sync only (the other checks' syncs stay as
# they are)
others = env['mailchimp.pairing'].search([('id', '!=', pairing.id)])
others.write({'active': False})
env.cr.commit()
import requests
requests.post(%(control)r + '/lists/' + audience.mailchimp_list_id + '/seed',
              json={'count': %(members)d, 'spread_seconds': %(members)d}, timeout=60)

import logging
import threading
from odoo import SUPERUSER_ID, api
from odoo.service.model import retrying
from odoo.addons.mailchimp_connector.engine.pull import PullStep

registry = env.registry
pid = pairing.id
admin = env.ref('base.user_admin').id
in_page, screen_done = threading.Event(), threading.Event()
pull_page = PullStep._pull_page
pages = []

def held_pull_page(step, page, maps):
    result = pull_page(step, page, maps)
    pages.append(len(page))
    if len(pages) == 1 and threading.current_thread().name == 'sync-run':
        in_page.set()  # the page is written, its transaction still open
        screen_done.wait(60)
    return result

PullStep._pull_page = held_pull_page
outcome = {}

class SerializationSeen(logging.Handler):
    # PostgreSQL's "could not serialize" in any log line (Odoo logs failed queries)
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        text = record.getMessage()
        if 'could not serialize' in text:
            self.lines.append(record.name + ': ' + text.splitlines()[-1][:200])

seen = SerializationSeen()
logging.getLogger().addHandler(seen)

def sync_run():
    try:
        with registry.cursor() as cr:
            Pairing = api.Environment(cr, SUPERUSER_ID, {})['mailchimp.pairing']
            run = Pairing.browse(pid).run_sync(trigger='cron')
            cr.commit()
            outcome.update(run=run.id, state=run.state, message=run.message or '')
    except Exception as error:
        outcome.update(state='crashed', message=repr(error))
    finally:
        in_page.set()

def as_screen(function):
    # one request of the web client: its own transaction, retried like Odoo's HTTP layer
    with registry.cursor() as cr:
        uenv = api.Environment(cr, admin, {})
        result = retrying(lambda: function(uenv['mailchimp.pairing'].browse(pid)), uenv)
        cr.commit()
        return result

thread = threading.Thread(target=sync_run, name='sync-run')
thread.start()
held = in_page.wait(120) and 'state' not in outcome
screen = {}
try:
    saved = as_screen(lambda p: p.web_save(
        {'name': 'Renamed during the run', 'sync_interval': 3,
         'conflict_winner': 'mailchimp'},
        {'name': {}, 'sync_interval': {}, 'conflict_winner': {},
         'mailchimp_watermark': {}, 'last_run_id': {'fields': {'display_name': {}}}}))
    screen['saved'] = saved[0]['name']
    screen['sync_now'] = as_screen(lambda p: p.action_sync_now())['params']['message']
except Exception as error:
    screen['error'] = repr(error)
finally:
    screen_done.set()
thread.join(300)

with registry.cursor() as cr:
    cenv = api.Environment(cr, SUPERUSER_ID, {})
    p = cenv['mailchimp.pairing'].browse(pid)
    first = dict(outcome, held=held, screen=screen, name=p.name,
                 interval=p.sync_interval, winner=p.conflict_winner,
                 members=len(p.member_ids),
                 linked=len(p.member_ids.filtered('partner_id')),
                 requested=p.sync_requested, serialization=list(seen.lines))
seen.lines.clear()

# 3. a user's save holds the row while the cron's pass takes the sync up
PullStep._pull_page = pull_page
user_holds, user_done = threading.Event(), threading.Event()

def user_save():
    with registry.cursor() as cr:
        uenv = api.Environment(cr, admin, {})
        uenv['mailchimp.pairing'].browse(pid).write(
            {'name': 'Saved while the cron starts'})
        uenv.flush_all()
        user_holds.set()
        user_done.wait(3)  # the cron's pass meets the row lock meanwhile
        cr.commit()

with registry.cursor() as cr:
    api.Environment(cr, admin, {})['mailchimp.pairing'].browse(pid).action_sync_now()
    cr.commit()
user = threading.Thread(target=user_save)
user.start()
user_holds.wait(30)
second = {}
try:
    with registry.cursor() as cr:
        cenv = api.Environment(cr, SUPERUSER_ID, {})
        before = cenv['mailchimp.sync.run'].search([('pairing_id', '=', pid)]).ids
        cenv['mailchimp.pairing']._cron_sync()
        cr.commit()
        runs = cenv['mailchimp.sync.run'].search(
            [('pairing_id', '=', pid), ('id', 'not in', before)])
        second.update(runs=runs.mapped('state'))
except Exception as error:
    second['crashed'] = repr(error)
user_done.set()
user.join(30)
with registry.cursor() as cr:
    p = api.Environment(cr, SUPERUSER_ID, {})['mailchimp.pairing'].browse(pid)
    second.update(name=p.name, requested=p.sync_requested,
                  serialization=list(seen.lines))
seen.lines.clear()

# 5. the tag rule's form saved while the run's tag step creates the tag
from odoo.addons.mailchimp_connector.engine.tags import TagStep
with registry.cursor() as cr:
    rule_id = api.Environment(cr, SUPERUSER_ID, {})['mailchimp.tag.rule'].create({
        'pairing_id': pid, 'name': 'Concurrency VIP',
        'partner_domain': "[('email', '=like', 'conc00001@%%')]"}).id
    cr.commit()
ensure_segment = TagStep._ensure_segment
in_tags, rule_saved = threading.Event(), threading.Event()

def held_ensure_segment(step, *args, **kwargs):
    if threading.current_thread().name == 'sync-run':
        # the step's transaction has begun: its snapshot is taken
        step.env.cr.execute('SELECT 1')
        in_tags.set()
        rule_saved.wait(60)
    return ensure_segment(step, *args, **kwargs)

TagStep._ensure_segment = held_ensure_segment
outcome.clear()
in_page.clear()
thread = threading.Thread(target=sync_run, name='sync-run')
thread.start()
fifth = {'held': in_tags.wait(120) and 'state' not in outcome}
try:
    with registry.cursor() as cr:
        uenv = api.Environment(cr, admin, {})
        retrying(lambda: uenv['mailchimp.tag.rule'].browse(rule_id).write(
            {'name': 'Concurrency VIP renamed'}), uenv)
        cr.commit()
except Exception as error:
    fifth['error'] = repr(error)
finally:
    rule_saved.set()
thread.join(300)
TagStep._ensure_segment = ensure_segment
fifth.update(state=outcome.get('state'), message=outcome.get('message'))
with registry.cursor() as cr:
    renv = api.Environment(cr, SUPERUSER_ID, {})
    rule = renv['mailchimp.tag.rule'].browse(rule_id)
    fifth.update(name=rule.name, segment=rule.mailchimp_segment_id,
                 tagged=rule.member_count, serialization=list(seen.lines))
    again = renv['mailchimp.pairing'].browse(pid).run_sync()
    cr.commit()
    fifth.update(again=again.state)
    segment = requests.get(
        %(control)r.replace('/_sandbox', '/us1/3.0') + '/lists/'
        + audience.mailchimp_list_id + '/segments/' + str(rule.mailchimp_segment_id),
        auth=('x', %(api_key)r), timeout=10)
    fifth['mailchimp_name'] = segment.json().get('name')
seen.lines.clear()

# 4. a run failing on a revoked key while another job holds the account's row
requests.post(
    %(control)r + '/accounts/revoke', json={'api_key': %(api_key)r}, timeout=10)
job_holds, job_done = threading.Event(), threading.Event()

def activity_job():
    with registry.cursor() as cr:
        jenv = api.Environment(cr, SUPERUSER_ID, {})
        jenv['mailchimp.account'].browse(account.id).write(
            {'activity_error': 'held by a job'})
        jenv.flush_all()
        job_holds.set()
        job_done.wait(3)
        cr.commit()

job = threading.Thread(target=activity_job)
job.start()
job_holds.wait(30)
third = {}
try:
    with registry.cursor() as cr:
        renv = api.Environment(cr, SUPERUSER_ID, {})
        run = renv['mailchimp.pairing'].browse(pid).run_sync()
        cr.commit()
        third.update(state=run.state, message=run.message or '')
except Exception as error:
    third['crashed'] = repr(error)
job_done.set()
job.join(30)
with registry.cursor() as cr:
    a = api.Environment(cr, SUPERUSER_ID, {})['mailchimp.account'].browse(account.id)
    third.update(account=a.state, last_error=a.last_error or '',
                 activity_error=a.activity_error, serialization=list(seen.lines))
    cr.commit()

with registry.cursor() as cr:
    others.with_env(api.Environment(cr, SUPERUSER_ID, {})).write({'active': True})
    cr.commit()
print('CONCURRENCY-CHECK ' + json.dumps(
    {'first': first, 'second': second, 'third': third, 'fifth': fifth}))
"""


def run_concurrency_check(shell_command, db):
    """Returns a list of (check name, ok) pairs."""
    with sandbox_process() as base:
        requests.post(
            f"{base}/_sandbox/accounts",
            timeout=10,
            json={
                "api_key": API_KEY,
                "account_name": "Concurrency check",
                "default_list": True,
            },
        ).raise_for_status()
        script = pairing_setup(
            "Concurrency check",
            ("conc", "conc-corp.com"),
            "both",
            f"{base}/{{dc}}/3.0",
            50,
            API_KEY,
        ) + SCRIPT % {
            "control": f"{base}/_sandbox",
            "members": MEMBERS,
            "api_key": API_KEY,
        }
        result = subprocess.run(
            shell_command,
            input=script,
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=900,
        )
    lines = [
        line
        for line in result.stdout.splitlines()
        if line.startswith("CONCURRENCY-CHECK ")
    ]
    log = result.stderr + "".join(
        line
        for line in result.stdout.splitlines(keepends=True)
        if not line.startswith("CONCURRENCY-CHECK ")
    )
    if not lines:
        raise RuntimeError(
            "CONCURRENCY-CHECK not "
            f"printed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        )
    result = json.loads(lines[0].split(" ", 1)[1])
    first, second, third, fifth = (
        result[key] for key in ("first", "second", "third", "fifth")
    )
    print(f"concurrency check: run during a save and a Sync Now: {json.dumps(first)}")
    print(
        f"concurrency check: cron pass while a save holds the row: {json.dumps(second)}"
    )
    print(
        "concurrency check: a run failing on a revoked key while a job holds the "
        f"account: {json.dumps(third)}"
    )
    print(
        "concurrency check: a tag rule renamed while the run creates its tag: "
        f"{json.dumps(fifth)}"
    )
    if "could not serialize" in log and not first.get("serialization"):
        print(
            "concurrency check: the server log's serialization failures all came from "
            "the retried writes of scenarios 3 and 4 (the cron pass's, the failed "
            "run's)"
        )
    screen = first.get("screen", {})
    return [
        (
            "the run was held mid-page while the screen saved and pressed Sync Now",
            first.get("held"),
        ),
        ("the run ended done", first.get("state") == "done"),
        (
            "the run kept all its data (every Mailchimp member and contact linked)",
            first.get("linked") == first.get("members") == MEMBERS + 50,
        ),
        (
            "the form's save went through and was kept",
            screen.get("saved") == first.get("name") == "Renamed during the run"
            and first.get("interval") == 3
            and first.get("winner") == "mailchimp",
        ),
        (
            "Sync Now during the run said it is already running",
            "already running" in (screen.get("sync_now") or ""),
        ),
        (
            "no serialization failure in the server log while the run and the screen "
            "worked",
            first.get("serialization") == [],
        ),
        (
            "the cron's pass met the save holding the sync's row, tried again and did "
            "not crash",
            "crashed" not in second and bool(second.get("serialization")),
        ),
        (
            "the cron's pass ran the sync Sync Now asked for",
            second.get("runs") == ["done"],
        ),
        (
            "the user's save was kept",
            second.get("name") == "Saved while the cron starts",
        ),
        (
            "a run failing on a revoked key while a job holds the account met the "
            "job's write, ended failed with the key's message and did not crash",
            third.get("state") == "failed"
            and "rejected the API key" in third.get("message", "")
            and bool(third.get("serialization")),
        ),
        (
            "a tag rule renamed while the run's tag step created its tag: the run "
            "ended done, with no serialization failure",
            fifth.get("held")
            and fifth.get("state") == "done"
            and fifth.get("serialization") == [],
        ),
        (
            "the rename was kept, the tag made and given to its contact, and the next "
            "run renamed the tag in Mailchimp",
            fifth.get("name") == "Concurrency VIP renamed"
            and bool(fifth.get("segment"))
            and fifth.get("tagged") == 1
            and fifth.get("again") == "done"
            and fifth.get("mailchimp_name") == "Concurrency VIP renamed",
        ),
        (
            "the account ended in error and the job's write was kept",
            third.get("account") == "error"
            and "rejected the API key" in third.get("last_error", "")
            and third.get("activity_error") == "held by a job",
        ),
    ]
