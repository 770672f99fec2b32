# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The sync engine's contract: one run of one pairing.

    result = SyncEngine(run, deadline).execute()

runs the steps in order, each a unit with one entry point, ``run()``, that
returns False when ``deadline`` (a ``time.monotonic()`` value) came first:

1. ``PullStep``  (pull.py)   Mailchimp -> Odoo, page by page;
2. ``PushStep``  (push.py)   Odoo -> Mailchimp, chunk by chunk;
3. ``TagStep``   (tags.py)   the tag rules, once the contacts are committed.

``ConsentHooks`` (consent.py) is no step of its own: the pull and the push call
it explicitly on each page and chunk (blacklist, opt-outs, marketing
permissions). Plans are plain dataclasses (plans.py); what the steps share is
step.py; commits, locks and writes apart live in transactions.py. Around the
engine: scheduler.py decides when runs happen (``run_sync``, the cron pass) and
webhooks.py registers a pairing's webhook and reads the member a delivery names.

The run record (``mailchimp.sync.run``) is where the engine writes what it does
(stage, cursors, counts, failures, message) and where an interrupted run goes
on from: its data are committed chunk by chunk, each chunk with the watermark
that covers it. The engine calls down only (records as data, the client); what
the sync itself must do once a run stops (break, put its account in error) is
returned as a ``RunResult`` for the pairing to apply.

``SyncEngine(run).sync_member(member, maps)`` is the entry point for one member
as Mailchimp shows it now (a webhook delivery): merged by the pull's own code.
"""

import logging
from datetime import timedelta

from odoo import fields
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY

from ..utils import mailchimp_errors as mc_errors
from ..utils import schedule_rules
from . import transactions
from .consent import ConsentHooks
from .plans import RunResult
from .progress import RunProgress
from .pull import PullStep
from .push import PushStep
from .selected import SelectedPullStep, SelectedPushStep
from .tags import TagStep

_logger = logging.getLogger(__name__)


class SyncEngine:
    def __init__(self, run, deadline=None):
        run.ensure_one()
        self.run = run
        self.env = run.env
        self.pairing = run.pairing_id
        self.deadline = deadline
        # a job queue retries a throttled stretch itself (scheduler.run_stretch)
        self.raise_throttled = False
        self.client = None
        self.progress = RunProgress(run)
        self.consent = ConsentHooks(self)

    def execute(self):
        """Do the run's work, from where it stopped if it was interrupted. Returns
        a RunResult, ``finished`` False when the deadline came first: the run
        stays "running" and the next call goes on with it."""
        run = self.run
        self.progress.notify()
        transactions.commit(self.env.cr)
        transactions.without_jit(self.env.cr)
        try:
            self.client = self.pairing.account_id._get_client()
            # a run of selected contacts: their members only; tags at the next run
            selected = bool(run.partner_ids)
            pull, push = (
                (SelectedPullStep, SelectedPushStep)
                if selected
                else (PullStep, PushStep)
            )
            if run.stage == "pull" and run.direction != "mailchimp2odoo":
                # what the push reads after the pull, for the run's total
                self.progress.later = (
                    len(run.partner_ids) if selected else push(self).estimate()
                )
            with self.client:
                if run.stage == "pull" and not pull(self).run():
                    return self._interrupted()
                if run.stage == "push" and not push(self).run():
                    return self._interrupted()
                if not selected and not TagStep(self).run():
                    return self._interrupted()
            self._count_requests()
            self._done()
        except mc_errors.MailchimpError as error:
            # the chunk in progress was rolled back by its savepoint; earlier ones stay
            if self.raise_throttled and isinstance(
                error, mc_errors.MailchimpRateLimitError
            ):
                # the run stays unfinished, the queue tries again when Mailchimp said
                self._interrupted()
                raise
            self._count_requests()
            return self._fail(error)
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY as error:
            # another writer met at a chunk's commit: that chunk is undone, the earlier
            # ones stay; tried again in minutes like a Mailchimp outage
            _logger.warning(
                "Mailchimp sync run %s met a concurrent write: %s", run.id, error
            )
            transactions.rollback(self.env.cr)
            self._count_requests()
            return self._fail(error)
        except Exception as error:  # one sync's bug must not stop the others
            # a bug, not Mailchimp: end the run with the reason rather than crash the
            # cron pass (and every other pairing with it) again and again
            _logger.exception(
                "Mailchimp sync run %s stopped on an unexpected error", run.id
            )
            transactions.rollback(self.env.cr)
            self._count_requests()
            self._finish(
                "failed",
                self.env._("The sync stopped on an unexpected error: %s", error),
            )
        return RunResult()

    def sync_member(self, mc_member, maps):
        """Merge one member as Mailchimp shows it now into the run (a webhook
        delivery): the pull's own merge on a one-member page, so the conflict
        rule, the status rules and email renames are the sync's."""
        PullStep(self)._pull_page([mc_member], maps, resumable=False)

    def _count_requests(self):
        if self.client is not None:
            self.run.http_requests += self.client.take_request_count()

    def _interrupted(self):
        self._count_requests()
        self.progress.notify(force=True)
        transactions.commit(self.env.cr)
        return RunResult(finished=False)

    def _finish(self, state, message=False):
        """The run's end, committed with the sync's state written with it; the
        browsers showing it hear of it."""
        self.run._finish(state, message)
        self.progress.notify(force=True)
        transactions.commit(self.env.cr)

    def _done(self):
        run, pairing = self.run, self.pairing
        if run.partner_ids:  # a few contacts: the sync's own state is not its
            self._finish("done")
            return
        vals = {"initial_done": True, "last_sync_date": fields.Datetime.now()}
        if run.full:
            vals["last_full_sync_date"] = run.start_date
        state = pairing._sync_cursor()
        if state.stopped_by:  # the retries are over: back to the sync's interval
            vals["next_sync_date"] = fields.Datetime.now() + timedelta(
                hours=pairing.sync_interval
            )
        state.write(dict(vals, retry_count=0, stopped_by=False, retry_reason=False))
        self._finish("done")

    def _fail(self, error):
        """End the run on ``error`` and say when the sync runs next.

        A temporary error (throttling, a server error, a timeout, the network, a
        concurrent write) is tried again within minutes, longer while it lasts
        (schedule_rules.retry_delay); a rejected key puts the account in error and
        the sync waits for Reauthorize (or Connect), which runs it at once; a
        deleted audience breaks the sync. The run is finished and committed first:
        the writes on the pairing, the account and the audience (rows people and
        other jobs write too) are the pairing's, after (``RunResult``), so they can
        never undo the run's work.
        """
        message, kind, audience_gone = self._stop_reason(error)
        state = self.pairing._sync_cursor()
        if self.run.partner_ids:
            # a run of selected contacts leaves the sync's schedule alone: its next
            # run sends what this one could not
            pass
        elif audience_gone or kind not in ("transient", "auth"):
            state.write({"retry_count": 0, "stopped_by": False, "retry_reason": False})
        elif kind == "transient":
            self._retry_later(state, message)
        else:
            state.write(
                {
                    "retry_count": 0,
                    "stopped_by": "auth",
                    "retry_reason": self.env._(
                        "%(message)s The sync resumes from where it stopped as soon as "
                        "the account's key is fixed (Reauthorize).",
                        message=message,
                    ),
                }
            )
        _logger.warning(
            "Mailchimp sync run %s failed: %s", self.run.id, type(error).__name__
        )
        self._finish("failed", message)
        if audience_gone:
            return RunResult(broken_reason=message)
        if kind == "auth":
            return RunResult(auth_error=message)
        return RunResult()

    def _stop_reason(self, error):
        """(message, kind of stop, whether the audience is gone) for ``error``."""
        if isinstance(error, mc_errors.MailchimpError):
            message = self.pairing.account_id._mailchimp_error_message(error)
            kind = schedule_rules.stop_kind(error)
        else:
            message = self.env._(
                "Another transaction changed the same records at that instant (%s).",
                type(error).__name__,
            )
            kind = "transient"
        audience_gone = isinstance(
            error, mc_errors.MailchimpNotFoundError
        ) and "/lists/" in (error.path or "")
        if audience_gone:
            message = self.env._(
                "The Mailchimp audience %(audience)s no longer exists (deleted in "
                "Mailchimp). Nothing was deleted in Odoo; to go on, create a sync of "
                "these contacts with another audience.",
                audience=self.pairing.audience_id.name,
            )
        return message, kind, audience_gone

    def _retry_later(self, state, message):
        """A temporary error: the next try in minutes, longer while it lasts."""
        streak = state.retry_count + 1
        delay = schedule_rules.retry_delay(
            streak, timedelta(hours=self.pairing.sync_interval)
        )
        next_try = fields.Datetime.now() + delay
        state.write(
            {
                "retry_count": streak,
                "stopped_by": "transient",
                "next_sync_date": next_try,
                "retry_reason": self.env._(
                    "%(message)s The sync tries again by itself %(minutes)s "
                    "minutes after the failed run (failed runs in a row: "
                    "%(count)s).",
                    message=message,
                    minutes=int(delay.total_seconds() // 60),
                    count=streak,
                ),
            }
        )
        # the scheduler comes back then
        self.env.ref("mailchimp_connector.ir_cron_mailchimp_sync")._trigger(next_try)
