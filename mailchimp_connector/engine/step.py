# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""What every step of a run shares: the run record it reports on, the client, the
deadline, and the few ways a step records its work on the run (counts, failure
lines, notes, the chunk's commit)."""

import time

from odoo import fields

from ..utils import batch_jobs
from ..utils import mailchimp_errors as mc_errors
from . import transactions

# what the sync reads of a member Mailchimp returns from a /batches upsert or PATCH:
# its merge values too, to remember what Mailchimp made of the values sent
MEMBER_REPLY_FIELDS = "id,contact_id,email_address,status,last_changed,merge_fields"
# partners written by the sync carry no chatter noise and no followers
# the counters of a record's outcome: each record processed is in one of them
OUTCOME_FIELDS = (
    "created_odoo_count",
    "created_mailchimp_count",
    "updated_count",
    "unchanged_count",
    "skipped_count",
    "failed_count",
)
QUIET = {
    "tracking_disable": True,
    "mail_create_nolog": True,
    "mail_create_nosubscribe": True,
}


class Step:
    """One step of a run (``engine.run.SyncEngine`` builds them): ``run()`` does
    its work and returns False when the deadline came first."""

    def __init__(self, engine):
        self.engine = engine
        self.sync_run = engine.run
        self.env = engine.env
        self.pairing = engine.pairing

    @property
    def client(self):
        return self.engine.client

    @property
    def deadline(self):
        return self.engine.deadline

    def _out_of_time(self, deadline):
        return deadline is not None and time.monotonic() > deadline

    def _count_requests(self, client):
        """Record the requests sent since the last count (the client counts them,
        also those of the thread that reads ahead), with the chunk they belong to."""
        if client is not None:
            self.sync_run.http_requests += client.take_request_count()

    @property
    def progress(self):
        return self.engine.progress

    def _commit(self):
        """Save a chunk, its counts and its watermark together; the browsers
        showing the run hear of it (at most once a second)."""
        self.progress.notify()
        transactions.commit(self.env.cr)
        # the next chunk's statements too (see without_jit)
        transactions.without_jit(self.env.cr)

    def _add(self, **counts):
        """Count in the run's own fields: flushed with the chunk they describe."""
        run = self.sync_run
        for name, value in counts.items():
            run[f"{name}_count"] += value

    def _outcomes(self):
        """The records the run has counted so far in an outcome (created in Odoo
        or in Mailchimp, updated, unchanged, skipped, failed)."""
        return sum(self.sync_run[name] for name in OUTCOME_FIELDS)

    def _count_failed_rest(self, processed, outcomes_before):
        """Of ``processed`` records read by a page or chunk, those no other outcome
        counted since ``outcomes_before`` could not be synced: failed (each has its
        line among the failed records). So the outcomes always add up to
        "Processed"."""
        rest = processed - (self._outcomes() - outcomes_before)
        self._add(failed=max(0, rest))

    def _note(self, text):
        """Something the run's message must say at its end."""
        run = self.sync_run
        run.message = "\n".join(part for part in (run.message, text) if part)

    def _record_failures(self, direction, rows, kind="failed"):
        """rows: (partner id or False, email, reason). One create for the chunk.
        The lines only: the run's counters count records (see _count_failed_rest),
        and a record may have several lines, or one for a value refused while the
        rest of it synced."""
        if not rows:
            return
        self.env["mailchimp.sync.failure"].create(
            [
                {
                    "run_id": self.sync_run.id,
                    "partner_id": partner_id or False,
                    "email": email,
                    "direction": direction,
                    "kind": kind,
                    "reason": reason,
                }
                for partner_id, email, reason in rows
            ]
        )

    def _left_over_batch(self, client, deadline):
        """The answers of the job an earlier pass left running, once it is done
        (BatchStillRunning if it is not yet); a job Mailchimp no longer has is
        simply sent again."""
        if not self.sync_run.push_batch_id:
            return {}
        try:
            results = batch_jobs.wait_for_results(
                client, self.sync_run.push_batch_id, deadline
            )
        except mc_errors.MailchimpNotFoundError:
            results = []
        self.sync_run.push_batch_id = False
        return batch_jobs.reusable_results(results)

    def _new_member(self, vals, partner):
        """Create values of a member of this pairing; the pairing's audience and
        company are given, not computed again for each new row."""
        pairing = self.pairing
        return dict(
            vals,
            pairing_id=pairing.id,
            audience_id=pairing.audience_id.id,
            company_id=pairing.company_id.id,
            partner_id=partner.id,
        )

    def _write_apart(self, function):
        """Write rows people also write (the sync's form, the account), apart from
        the run's chunks: see ``transactions.write_concurrently``."""
        return transactions.write_concurrently(self.env, function, self.pairing.ids)


def op_reason(result):
    """The reason of a /batches operation Mailchimp refused."""
    response = result.get("response") or {}
    if isinstance(response, dict):
        detail = response.get("detail") or response.get("title")
        errors = "; ".join(
            f"{err.get('field')}: {err.get('message')}"
            for err in response.get("errors") or []
        )
        return " ".join(part for part in (detail, errors) if part) or str(
            result["status_code"]
        )
    return str(response)[:500]


def now():
    return fields.Datetime.now()
