# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""When runs happen: one sync run now (``run_sync``), or a scheduler pass over the
syncs that are due (``cron_pass``), each holding the sync's lock, taking up the
run a crash or a time budget interrupted, and applying to the sync what a
stopped run asks of it (``plans.RunResult``)."""

import logging
import time
from datetime import datetime, timedelta

from odoo import Command, fields

from . import transactions
from .run import SyncEngine
from .transactions import LOCK_SYNC

_logger = logging.getLogger(__name__)

CRON_XMLID = "mailchimp_connector.ir_cron_mailchimp_sync"


def run_sync(pairing, full=False, trigger="manual", deadline=None):
    """One complete run of ``pairing`` in this process (see
    ``mailchimp.pairing.run_sync``); an empty recordset when the sync is held."""
    cr = pairing.env.cr
    if not transactions.try_lock(cr, LOCK_SYNC, pairing.id):
        _logger.info("Mailchimp sync %s is already running: skipped", pairing.id)
        return pairing.env["mailchimp.sync.run"]
    try:
        return _run_locked(pairing, full, trigger, deadline)
    finally:
        transactions.unlock(cr, LOCK_SYNC, pairing.id)


def cron_pass(Pairing):
    """Run the syncs that are due, asked for or unfinished, within a time budget.

    A pass stops before Odoo's worker time limit; while work remains (a run cut
    off by the budget, syncs the pass did not reach) it triggers the cron again
    at once, so that the next pass, a new cron job, goes on within seconds. (Not
    Odoo's progress API: it would run the next pass in the same job, whose
    passes together would outlast the worker's time limit; and a pass that
    reports nothing done is taken as finished and waits for the cron's next
    interval.) A sync that a run or a webhook delivery holds is left to the next
    pass (its request kept); the pass's own writes on a sync (its request taken,
    its next time) go in a transaction of their own, tried again if a person
    saves the sync at that instant.
    """
    env = Pairing.env
    deadline = time.monotonic() + env["mailchimp.account"]._cron_time_budget()
    if not selected_pass(env, deadline):
        return
    now = fields.Datetime.now()
    pairings = due_pairings(Pairing, now)
    more = False
    for index, pairing in enumerate(pairings):
        run = _cron_run(pairing, now, deadline)
        if run is None:
            continue
        unfinished = run.state == "running"
        pairing.invalidate_recordset(["sync_requested"])
        # a run cut off, or Sync Now pressed during the run: the next pass
        more = more or unfinished or pairing.sync_requested
        if unfinished or time.monotonic() > deadline:
            more = more or index + 1 < len(pairings)
            break
    if more:
        again_now(env, now)


def due_domain(now):
    """The syncs a pass runs: active, connected, and asked for, unfinished or due."""
    return [
        ("state", "=", "active"),
        ("account_id.state", "=", "connected"),
        "|",
        "|",
        ("sync_requested", "=", True),
        ("sync_cursor_ids.last_run_id.state", "=", "running"),
        "|",
        ("sync_cursor_ids.next_sync_date", "=", False),
        ("sync_cursor_ids.next_sync_date", "<=", now),
    ]


def due_pairings(Pairing, now):
    """The syncs due at ``now``, those asked for first, then by due time."""
    return Pairing.search(due_domain(now)).sorted(
        lambda p: (not p.sync_requested, p.next_sync_date or datetime.min, p.id)
    )


def run_stretch(pairing, deadline, raise_throttled=False):
    """One stretch of a sync's work, up to ``deadline``, for a job queue (see the
    ``mailchimp_connector_queue`` addon): the run left unfinished goes on, else a
    new run starts when the sync is due or asked for. Returns (status, run):
    "busy" (a run, a pass or a webhook delivery holds the sync), "idle" (nothing
    to do), "more" (the run is unfinished or the sync was asked for again
    meanwhile) or "done". ``raise_throttled``: a 429 still answered after the
    client's retries leaves the run unfinished and is raised (the queue tries
    the stretch again when Mailchimp said) instead of failing the run.

    Whatever runs the stretches, one at a time per sync, the run is the same
    resumable run as the cron's: each chunk committed with its watermark, so a
    stretch run twice, or cut off by a killed worker, goes on from the last
    committed chunk."""
    cr = pairing.env.cr
    if not transactions.try_lock(cr, LOCK_SYNC, pairing.id):
        return "busy", None
    try:
        pairing.invalidate_recordset()
        now = fields.Datetime.now()
        run = unfinished_run(pairing)
        if not run:
            if not _is_due(pairing, now):
                return "idle", None
            requested = pairing.sync_requested
            if not _write_apart(pairing, lambda: _take_request(pairing, now)):
                return "busy", None
            run = _new_run(pairing, False, "manual" if requested else "cron")
        elif pairing.state != "active" or pairing.account_id.state != "connected":
            return "idle", run
        pairing._sync_cursor().last_run_id = run
        engine = SyncEngine(run, deadline)
        engine.raise_throttled = raise_throttled
        _after_run(pairing, engine.execute())
        pairing.invalidate_recordset(["sync_requested"])
        more = run.state == "running" or (
            pairing.sync_requested and pairing.state == "active"
        )
        return ("more" if more else "done"), run
    finally:
        transactions.unlock(cr, LOCK_SYNC, pairing.id)


def _is_due(pairing, now):
    return bool(pairing.search_count(due_domain(now) + [("id", "=", pairing.id)]))


def selected_pass(env, deadline):
    """The runs of selected contacts asked for (a person waits for them), before
    the syncs that are due; False when the pass's time is up."""
    started = fields.Datetime.now()
    runs = env["mailchimp.sync.run"].search(
        [("state", "=", "running"), ("partner_ids", "!=", False)], order="id"
    )
    for run in runs:
        _selected_run(run, deadline)
        if time.monotonic() > deadline:
            # the next pass goes on at once (with this run if it was cut off)
            again_now(env, started)
            return False
    return True


def _selected_run(run, deadline):
    """One run of selected contacts, under its sync's lock (left to the next
    pass while the sync is held); a sync that can no longer run ends it."""
    env, pairing = run.env, run.pairing_id
    if (
        not pairing
        or pairing.state != "active"
        or pairing.account_id.state != "connected"
    ):
        run._finish(
            "failed",
            env._(
                "The sync is not active (paused, broken, deleted, or its account is "
                "not connected): these contacts were not synced."
            ),
        )
        transactions.commit(env.cr)
        return
    if not transactions.try_lock(env.cr, LOCK_SYNC, pairing.id):
        _logger.info("Mailchimp sync %s is busy: left to the next pass", pairing.id)
        retrigger(env)
        return
    try:
        _after_run(pairing, SyncEngine(run, deadline).execute())
    finally:
        transactions.unlock(env.cr, LOCK_SYNC, pairing.id)


def _cron_run(pairing, now, deadline):
    """One sync of a pass: its run, or None when it is left to the next pass."""
    cr = pairing.env.cr
    if not transactions.try_lock(cr, LOCK_SYNC, pairing.id):
        _logger.info("Mailchimp sync %s is busy: left to the next pass", pairing.id)
        retrigger(pairing.env)
        return None
    try:
        requested = pairing.sync_requested
        if pairing.last_run_id.state != "running" and not _write_apart(
            pairing, lambda: _take_request(pairing, now)
        ):
            retrigger(pairing.env)
            return None
        pairing.invalidate_recordset(["state"])
        if pairing.state != "active":  # paused or broken since the pass began
            return None
        # Sync Now (or Start Sync) asked for it: a person's run, whoever runs it
        trigger = "manual" if requested else "cron"
        return _run_locked(pairing, False, trigger, deadline)
    finally:
        transactions.unlock(cr, LOCK_SYNC, pairing.id)


def _run_locked(pairing, full, trigger, deadline):
    """A run's work, the sync's lock held."""
    run = unfinished_run(pairing) or _new_run(pairing, full, trigger)
    pairing._sync_cursor().last_run_id = run
    _after_run(pairing, SyncEngine(run, deadline).execute())
    return run


def _new_run(pairing, full, trigger):
    return pairing.env["mailchimp.sync.run"].create(
        {
            "pairing_id": pairing.id,
            "pairing_name": pairing.name,
            "company_id": pairing.company_id.id,
            "trigger": trigger,
            "full": full or _full_sync_due(pairing),
            "direction": pairing.direction,
        }
    )


def _after_run(pairing, result):
    """What a stopped run asks of the sync: a deleted audience breaks it, a
    rejected key puts its account in error. These rows are people's too: each
    written in a transaction of its own, after the run's, so they can never undo
    its work."""
    if result.broken_reason:
        reason = result.broken_reason
        _write_apart(pairing, lambda: mark_broken(pairing, reason))
        _write_apart(pairing, lambda: pairing.audience_id.write({"active": False}))
    elif result.auth_error:
        message = result.auth_error
        _write_apart(pairing, lambda: pairing.account_id._set_error(message))


def mark_broken(pairing, reason):
    """The sync stops until an administrator repairs it (its message says why)."""
    pairing.write({"state": "broken", "broken_reason": reason, "sync_requested": False})
    pairing.message_post(body=reason)


def _full_sync_due(pairing):
    """A full read now and then: only it sees
    members archived or deleted in Mailchimp."""
    state = pairing._sync_cursor()
    if not state.initial_done or not state.last_full_sync_date:
        return True
    due = state.last_full_sync_date + timedelta(days=pairing.full_sync_days)
    return bool(pairing.full_sync_days) and fields.Datetime.now() >= due


def request(pairings):
    """Sync Now: the cron, woken now, runs these syncs. Returns those a run (or a
    webhook delivery) holds at this moment, in any worker (nothing is locked):
    they run once more when that run ends."""
    running = pairings.filtered(
        lambda pairing: transactions.is_locked(pairing.env.cr, LOCK_SYNC, pairing.id)
    )
    pairings.write({"sync_requested": True})
    pairings._mailchimp_run_in_background()
    return running


def request_contacts(pairing, partners, direction=None):
    """A run of ``pairing`` for ``partners`` only (both ways, or ``direction``),
    in the background: the cron, woken now, runs it first. Returns the run, in
    the sync's history from now on."""
    direction = direction or pairing.direction
    # an automation rule asks once per record: the requests of one transaction
    # share one run (not committed yet, so no worker can have started it)
    queued = pairing.env.cr.precommit.data.setdefault("mailchimp.contact_runs", {})
    run = pairing.env["mailchimp.sync.run"].browse(queued.get((pairing.id, direction)))
    if run.exists() and run.state == "running" and not run.progress_done:
        run.partner_ids = [Command.link(pid) for pid in partners.ids]
        return run
    run = pairing.env["mailchimp.sync.run"].create(
        {
            "pairing_id": pairing.id,
            "pairing_name": pairing.name,
            "company_id": pairing.company_id.id,
            "trigger": "contacts",
            "direction": direction,
            "stage": "push" if direction == "odoo2mailchimp" else "pull",
            "partner_ids": [Command.set(partners.ids)],
        }
    )
    queued[(pairing.id, direction)] = run.id
    pairing.env.ref(CRON_XMLID)._trigger()
    return run


def unfinished_run(pairing):
    """Holding the lock, a run still "running" was interrupted: go on with it
    (runs of selected contacts are the pass's own, see selected_pass)."""
    return pairing.env["mailchimp.sync.run"].search(
        [
            ("pairing_id", "=", pairing.id),
            ("state", "=", "running"),
            ("partner_ids", "=", False),
        ],
        order="id desc",
        limit=1,
    )


def retrigger(env, at=None):
    """Have the scheduler come back (in a minute by default)."""
    env.ref(CRON_XMLID)._trigger(at or fields.Datetime.now() + timedelta(minutes=1))


def again_now(env, pass_start):
    """Have the scheduler come back at once, for work a pass left.

    When the cron job ends, Odoo deletes its triggers older than the job's
    start, to the microsecond, and a trigger keeps whole seconds: one made in
    the second the pass started would be lost. So a pass that took less than a
    second asks for the next second (the scheduler's next poll runs it)."""
    retrigger(env, max(fields.Datetime.now(), pass_start + timedelta(seconds=1)))


def _take_request(pairing, now):
    """Before a new run: its request is taken (the pairing is written only when
    there was one) and the next one is due an interval later."""
    if pairing.sync_requested:
        pairing.sync_requested = False
    pairing._sync_cursor().next_sync_date = now + timedelta(hours=pairing.sync_interval)


def _write_apart(pairing, function):
    return transactions.write_concurrently(pairing.env, function, pairing.ids)
