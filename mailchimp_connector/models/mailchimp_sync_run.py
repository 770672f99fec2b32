# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, suppress
from datetime import timedelta
from types import SimpleNamespace

import psycopg2

from odoo import Command, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.service.model import PG_CONCURRENCY_EXCEPTIONS_TO_RETRY
from odoo.tools import split_every

from ..utils import (
    batch_jobs,
    consent,
    interest_rules,
    merge_values,
    schedule_rules,
    sync_rules,
)
from ..utils import mailchimp_errors as mc_errors
from ..utils.mailchimp_keys import subscriber_hash
from ..utils.read_ahead import read_ahead
from .mailchimp_pairing import DIRECTIONS

_logger = logging.getLogger(__name__)

PUSH_CHUNK = 5000  # contacts read, planned, sent and committed together
# new members of a chunk: up to this many by batch subscribe (500 per call, an answer
# at once); more as one /batches job, a few requests whatever their number
SUBSCRIBE_UP_TO = 1500
# what the sync reads of a member Mailchimp returns from a /batches upsert or PATCH:
# its merge values too, to remember what Mailchimp made of the values sent
MEMBER_REPLY_FIELDS = "id,contact_id,email_address,status,last_changed,merge_fields"
# members a full read did not see, confirmed one
# GET each up to this many, else by one /batches job
CONFIRM_DIRECTLY = 10
# contacts created or updated by a pull before the member table is analyzed
ANALYZE_AFTER = 10000
MEMBER_FIELDS = [
    "id",
    "contact_id",
    "email_address",
    "status",
    "last_changed",
    "marketing_permissions",
    "merge_fields",  # last: the pull asks for the mapped merge fields only
]
# partners written by the sync carry no chatter noise and no followers
QUIET = {
    "tracking_disable": True,
    "mail_create_nolog": True,
    "mail_create_nosubscribe": True,
}


class MailchimpSyncRun(models.Model):
    """One run of one pairing: what it did, and the work itself (pull, then push).

    Data are committed chunk by chunk, each chunk with the watermark that
    covers it, so a run killed at any point resumes from the last chunk.
    """

    _name = "mailchimp.sync.run"
    _description = "Mailchimp Sync Run"
    _order = "id desc"

    pairing_id = fields.Many2one(
        "mailchimp.pairing", ondelete="set null", index=True, readonly=True
    )
    pairing_name = fields.Char(readonly=True)
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    trigger = fields.Selection(
        [("manual", "Manual"), ("cron", "Scheduled")], default="manual", readonly=True
    )
    full = fields.Boolean(string="Full sync", readonly=True)
    direction = fields.Selection(DIRECTIONS, readonly=True)
    state = fields.Selection(
        [("running", "Running"), ("done", "Done"), ("failed", "Failed")],
        default="running",
        required=True,
        readonly=True,
    )
    start_date = fields.Datetime(default=fields.Datetime.now, readonly=True)
    end_date = fields.Datetime(readonly=True)
    duration = fields.Float(compute="_compute_duration", string="Duration (s)")
    stage = fields.Selection(
        [
            ("pull", "Reading Mailchimp"),
            ("push", "Sending to Mailchimp"),
            ("end", "Finished"),
        ],
        default="pull",
        readonly=True,
    )
    progress_done = fields.Integer(string="Processed", readonly=True)
    # where an interrupted run (time budget, crash)
    # goes on from; committed with each chunk
    pull_resumed = fields.Boolean(readonly=True)
    push_cursor = fields.Integer(readonly=True)
    push_started = fields.Datetime(readonly=True)
    # a /batches job of the chunk in progress that a pass left running in Mailchimp
    push_batch_id = fields.Char(readonly=True)
    created_count = fields.Integer(string="Created", readonly=True)
    updated_count = fields.Integer(string="Updated", readonly=True)
    unchanged_count = fields.Integer(string="Unchanged", readonly=True)
    skipped_count = fields.Integer(string="Skipped", readonly=True)
    failed_count = fields.Integer(string="Failed", readonly=True)
    conflict_count = fields.Integer(string="Conflicts resolved", readonly=True)
    http_requests = fields.Integer(string="Mailchimp requests", readonly=True)
    tag_added_count = fields.Integer(string="Tags added", readonly=True)
    tag_removed_count = fields.Integer(string="Tags removed", readonly=True)
    message = fields.Text(readonly=True)
    failure_ids = fields.One2many("mailchimp.sync.failure", "run_id", string="Failures")

    @api.depends("start_date", "end_date")
    def _compute_duration(self):
        for run in self:
            end = run.end_date or fields.Datetime.now()
            run.duration = (
                (end - run.start_date).total_seconds() if run.start_date else 0
            )

    # ------------------------------------------------------------------
    # Orchestration
    # ------------------------------------------------------------------

    def _execute(self, deadline=None):
        """Do the run's work, from where it stopped if it was interrupted.

        Returns False when ``deadline`` (a ``time.monotonic()`` value) passed
        first: the run stays "running" and the next call goes on with it.
        """
        self.ensure_one()
        pairing = self.pairing_id
        self._commit()
        client = None
        try:
            client = pairing.account_id._get_client()
            with client:
                if self.stage == "pull" and not self._pull(client, deadline):
                    self._count_requests(client)
                    self._commit()
                    return False
                if self.stage == "push" and not self._push(client, deadline):
                    self._count_requests(client)
                    self._commit()
                    return False
                if not self._push_tags(client, deadline):
                    self._count_requests(client)
                    self._commit()
                    return False
            self._count_requests(client)
            vals = {"initial_done": True, "last_sync_date": fields.Datetime.now()}
            if self.full:
                vals["last_full_sync_date"] = self.start_date
            state = pairing._sync_cursor()
            if state.stopped_by:  # the retries are over: back to the sync's interval
                vals["next_sync_date"] = fields.Datetime.now() + timedelta(
                    hours=pairing.sync_interval
                )
            state.write(dict(vals, retry_count=0, stopped_by=False, retry_reason=False))
            self._finish("done")
        except mc_errors.MailchimpError as error:
            # the chunk in progress was rolled back by its savepoint; earlier ones stay
            self._count_requests(client)
            self._fail(error)
        except PG_CONCURRENCY_EXCEPTIONS_TO_RETRY as error:
            # another writer met at a chunk's commit: that chunk is undone, the earlier
            # ones stay; tried again in minutes like a Mailchimp outage
            _logger.warning(
                "Mailchimp sync run %s met a concurrent write: %s", self.id, error
            )
            self.pairing_id._rollback()
            self._count_requests(client)
            self._fail(error)
        except Exception as error:  # one sync's bug must not stop the others
            # a bug, not Mailchimp: end the run with the reason rather than crash the
            # cron pass (and every other pairing with it) again and again
            _logger.exception(
                "Mailchimp sync run %s stopped on an unexpected error", self.id
            )
            self.pairing_id._rollback()
            self._count_requests(client)
            self._finish(
                "failed",
                self.env._("The sync stopped on an unexpected error: %s", error),
            )
        return True

    def _out_of_time(self, deadline):
        return deadline is not None and time.monotonic() > deadline

    def _count_requests(self, client):
        """Record the requests sent since the last count (the client counts them,
        also those of the thread that reads ahead), with the chunk they belong to."""
        if client is not None:
            self.http_requests += client.take_request_count()

    def _fail(self, error):
        """End the run on ``error`` and say when the sync runs next.

        A temporary error (throttling, a server error, a timeout, the network, a
        concurrent write) is tried again within minutes, longer while it lasts
        (schedule_rules.retry_delay); a rejected key puts the account in error and
        the sync waits for Reauthorize (or Connect), which runs it at once; a
        deleted audience breaks the sync. The run is finished and committed first:
        the writes on the pairing, the account and the audience (rows people and
        other jobs write too) come after, each in a transaction of its own, tried
        again on a concurrent write, so they can never undo the run's work.
        """
        pairing, account = self.pairing_id, self.pairing_id.account_id
        state = pairing._sync_cursor()
        if isinstance(error, mc_errors.MailchimpError):
            message = account._mailchimp_error_message(error)
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
                "Mailchimp). Nothing was deleted in Odoo; pair the contacts with "
                "another audience.",
                audience=pairing.audience_id.name,
            )
            state.write({"retry_count": 0, "stopped_by": False, "retry_reason": False})
        elif kind == "transient":
            streak = state.retry_count + 1
            delay = schedule_rules.retry_delay(
                streak, timedelta(hours=pairing.sync_interval)
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
            pairing._retrigger(next_try)
        elif kind == "auth":
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
        else:
            state.write({"retry_count": 0, "stopped_by": False, "retry_reason": False})
        _logger.warning(
            "Mailchimp sync run %s failed: %s", self.id, type(error).__name__
        )
        self._finish("failed", message)
        if audience_gone:
            pairing._write_concurrently(lambda: pairing._mark_broken(message))
            pairing._write_concurrently(
                lambda: pairing.audience_id.write({"active": False})
            )
        elif kind == "auth":
            pairing._write_concurrently(lambda: account._set_error(message))

    def _finish(self, state, message=False):
        """The run's end, committed with the sync's state written with it."""
        self.write(
            {
                "state": state,
                "end_date": fields.Datetime.now(),
                # after what the run noted on its way (_pull_note)
                "message": "\n".join(part for part in (self.message, message) if part)
                or False,
                "stage": "end",
            }
        )
        self._commit()

    def _add(self, **counts):
        """Count in the run's own fields: flushed with the chunk they describe."""
        for name, value in counts.items():
            self[f"{name}_count"] += value

    def _commit(self):
        """Save a chunk, its counts and its watermark together."""
        self.pairing_id._commit()

    def _record_failures(self, direction, rows, kind="failed"):
        """rows: (partner id or False, email, reason). One create for the chunk."""
        if not rows:
            return
        self.env["mailchimp.sync.failure"].create(
            [
                {
                    "run_id": self.id,
                    "partner_id": partner_id or False,
                    "email": email,
                    "direction": direction,
                    "kind": kind,
                    "reason": reason,
                }
                for partner_id, email, reason in rows
            ]
        )
        self._add(**{kind: len(rows)})

    # ------------------------------------------------------------------
    # Mailchimp -> Odoo
    # ------------------------------------------------------------------

    def _pull(self, client, deadline=None):
        """Read the members changed since the first
        second still to read, oldest change first.

        A full run reads everything, and the archived members apart, unless it is
        resuming: then it goes on from the second its own committed pages reached.
        The next page is read from Mailchimp while this one is written. A member a
        complete full read did not see is archived only once Mailchimp confirms it
        (``_pull_confirm_missing``).
        """
        pairing = self.pairing_id
        self._pull_consent_start()
        mark = self._pull_mark()
        since = (
            mark if mark is not None and (not self.full or self.pull_resumed) else None
        )
        path = f"/lists/{pairing.audience_id.mailchimp_list_id}/members"
        maps = pairing.field_map_ids._plan()
        fields_wanted = MEMBER_FIELDS[:-1] + [
            f"merge_fields.{tag}" for tag in maps.tags
        ]
        if pairing.interest_map_ids:
            fields_wanted.append("interests")  # stored as read (F14)
        walk = self._pull_walk(client, path, maps, fields_wanted, since, deadline)
        if walk is None:
            return False
        if self.full:
            # archived members are listed only when asked for (or with the others: then
            # those already read are not merged twice): read them so that a first sync
            # links them and the push does not add back what was deleted in Mailchimp
            # (F17); they do not move the mark
            archived = self._pull_walk(
                client,
                path,
                maps,
                fields_wanted,
                None,
                deadline,
                params={"status": "archived"},
                skip=walk.archived,
            )
            if archived is None:
                return False
            if walk.complete and archived.complete:
                if not self._pull_confirm_missing(
                    client, path, maps, fields_wanted, deadline
                ):
                    return False
            else:
                self._pull_note(
                    self.env._(
                        "Mailchimp's member list was incomplete while it was read (it "
                        "served fewer members than it counted, or kept changing): no "
                        "member was marked archived. The next full sync checks again."
                    )
                )
        self._set_pull_mark(
            sync_rules.first_second_to_read(
                since,
                walk.newest,
                walk.started,
                pairing._watermark_margin(),
                walk.complete,
            )
        )
        push = self.direction in ("both", "odoo2mailchimp")
        self.stage = "push" if push else "end"
        self._commit()
        if self.created_count + self.updated_count >= ANALYZE_AFTER:
            # the member table may have grown from nothing: plan the push's
            # queries on its real size, not on the statistics of an empty table
            self.env.cr.execute("ANALYZE mailchimp_member")
        return True

    def _pull_walk(
        self, client, path, maps, fields_wanted, since, deadline, params=None, skip=None
    ):
        """One walk over the audience's members (``MailchimpClient.pages_since``), each
        page merged and committed. The main walk (no ``params``) commits with each page
        the second a rerun must start from; ``skip``: (id, last_changed) not to merge
        again. Returns what the walk saw, or None when ``deadline`` came first."""
        account = self.pairing_id.account_id.sudo()
        inclusive = (account.since_semantics or {}).get(
            "since_last_changed"
        ) == "inclusive"
        margin = self.pairing_id._watermark_margin()
        seen = SimpleNamespace(
            complete=False, newest=None, started=None, archived=set()
        )
        pages = client.pages_since(
            path,
            "members",
            params=params,
            since=since,
            fields=fields_wanted,
            inclusive=inclusive,
        )
        with closing(read_ahead(pages)) as pages:
            for page in pages:
                seen.started = seen.started or page.server_time
                if page.complete is not None:
                    seen.complete = page.complete
                if page.since_inclusive and not inclusive:
                    # Mailchimp showed a member of the very second it was asked from:
                    # its since_last_changed keeps that second, later walks ask from it
                    inclusive = True
                    semantics = dict(
                        account.since_semantics or {}, since_last_changed="inclusive"
                    )
                    # the account's row is people's and other jobs' too: written apart
                    # from the run's pages, retried on a concurrent write
                    self.pairing_id._write_concurrently(
                        lambda semantics=semantics: account.write(
                            {"since_semantics": semantics}
                        )
                    )
                if skip:
                    page = [
                        m for m in page if (m["id"], m.get("last_changed")) not in skip
                    ]
                if page:
                    self._pull_page_committed(page, maps, client)
                    seconds = [sync_rules.mark_second(m["last_changed"]) for m in page]
                    if seen.newest is not None:
                        seconds.append(seen.newest)
                    seen.newest = max(seconds)
                    seen.archived.update(
                        (m["id"], m["last_changed"])
                        for m in page
                        if m["status"] == "archived"
                    )
                    if params is None:
                        # cut off now, the run would go on from there
                        self._set_pull_mark(
                            sync_rules.first_second_to_read(
                                since, seen.newest, seen.started, margin, complete=False
                            )
                        )
                        self.pull_resumed = True
                    self._commit()
                if self._out_of_time(deadline):
                    return None
        return seen

    def _pull_confirm_missing(self, client, path, maps, fields_wanted, deadline):
        """After a complete full read: the linked members it did not see. Absence is
        not deletion: each is read from Mailchimp (a few directly, more as one
        /batches job of GETs). A 404 or an archived member is marked archived; any
        other member Mailchimp shows goes through the pull's merge (the listing simply
        did not show it). Returns False when the job outlasts ``deadline`` (the next
        pass reads its answers)."""
        Member = self.env["mailchimp.member"]
        missing = Member.search_fetch(
            [
                ("pairing_id", "=", self.pairing_id.id),
                ("last_seen_run_id", "!=", self.id),
                ("status", "!=", "archived"),
            ],
            ["subscriber_hash"],
            order="id",
        )
        if not missing:
            # a job an earlier pass left for them: not needed now
            self.push_batch_id = False
            return True
        params = {"fields": ",".join(fields_wanted)}
        answers = []  # (member, HTTP status, member as Mailchimp shows it)
        if len(missing) <= CONFIRM_DIRECTLY and not self.push_batch_id:
            for member in missing:
                try:
                    found = client.get(
                        f"{path}/{member.subscriber_hash}", params=params
                    )
                except mc_errors.MailchimpNotFoundError:
                    answers.append((member, 404, None))
                else:
                    answers.append((member, 200, found))
        else:
            operations = [
                batch_jobs.operation(
                    "get",
                    member.id,
                    "GET",
                    f"{path}/{member.subscriber_hash}",
                    None,
                    params,
                )
                for member in missing
            ]
            try:
                reuse = self._left_over_batch(client, deadline)
                results = self._run_batch(client, operations, reuse, deadline)
            except batch_jobs.BatchStillRunning as waiting:
                self.push_batch_id = waiting.batch_id
                self._count_requests(client)
                self._commit()
                return False
            by_id = {member.id: member for member in missing}
            answers = [
                (
                    by_id[batch_jobs.record_id(result)],
                    result["status_code"],
                    result["response"],
                )
                for result in results
            ]
        gone = Member.browse(
            [member.id for member, status, _body in answers if status == 404]
        )
        shown = [body for _member, status, body in answers if status == 200 and body]
        gone.write({"status": "archived"})  # deleted for good in Mailchimp (F17)
        for chunk in split_every(1000, shown, list):
            self._pull_page_committed(chunk, maps, client)
        unconfirmed = len(missing) - len(gone) - len(shown)
        if unconfirmed:
            self._pull_note(
                self.env._(
                    "%s members not seen by the full read could not be checked with "
                    "Mailchimp; they were left as they are.",
                    unconfirmed,
                )
            )
        self._count_requests(client)
        self._commit()
        return True

    def _pull_mark(self):
        """The first second the next pull must read (whole epoch seconds), or None:
        the one place that reads where the pull stands (see _set_pull_mark)."""
        return sync_rules.mark_second(
            self.pairing_id._sync_cursor().mailchimp_watermark
        )

    def _set_pull_mark(self, second):
        """Record, with the chunk being committed, the first second to read next."""
        self.pairing_id._sync_cursor().mailchimp_watermark = sync_rules.mark_text(
            second
        )

    def _pull_note(self, text):
        """Something the run's message must say at its end."""
        self.message = "\n".join(part for part in (self.message, text) if part)

    def _pull_page_committed(self, page, maps, client):
        """One page, in a savepoint, counted with the requests sent so far."""
        with self.env.cr.savepoint():
            self._pull_page(page, maps)
        self.progress_done += len(page)
        self._count_requests(client)

    def _pull_page(self, page, maps):
        pairing = self.pairing_id
        Member = self.env["mailchimp.member"]
        read_fields = maps.partner_fields() + ["create_date", "write_date"]
        hashes = [member["id"] for member in page]
        contact_ids = [
            member.get("contact_id") for member in page if member.get("contact_id")
        ]
        linked = Member.search_fetch(
            [
                ("pairing_id", "=", pairing.id),
                "|",
                ("subscriber_hash", "in", hashes),
                ("mailchimp_contact_id", "in", contact_ids),
            ],
            [
                "subscriber_hash",
                "mailchimp_contact_id",
                "partner_id",
                "email",
                "status",
                "mailchimp_last_changed",
                "synced_values",
                "synced_fingerprint",
                "odoo_synced_values",
            ],
            order="id",
        )
        by_hash = {member.subscriber_hash: member for member in linked}
        by_contact = {
            member.mailchimp_contact_id: member
            for member in linked
            if member.mailchimp_contact_id
        }
        # prefetch the linked partners' mapped fields in one query
        linked.partner_id.with_context(active_test=False).fetch(read_fields)
        unlinked = [
            merge_values.normalize_email(member["email_address"])
            for member in page
            if member["id"] not in by_hash
            and member.get("contact_id") not in by_contact
        ]
        candidates, duplicates = self._partners_by_email(
            [email for email in unlinked if email], read_fields
        )
        if self.direction == "mailchimp2odoo":
            # with a push, the push reports them (F9)
            self._record_failures("mailchimp2odoo", duplicates, "skipped")
        push_only = maps.push_only
        to_create, member_vals, failures = [], [], []
        # (member or None, vals, partner, tags pulled, Odoo's values before, pending)
        written = []
        unsendable = []  # Odoo values of merged contacts that Mailchimp cannot take
        counts = Counter()
        previous_status = {}  # for the consent part (blacklist option)
        for mc_member in page:
            email = merge_values.normalize_email(mc_member["email_address"])
            member = by_hash.get(mc_member["id"]) or by_contact.get(
                mc_member.get("contact_id")
            )
            previous_status[mc_member["id"]] = member.status if member else None
            last_changed = sync_rules.to_odoo_datetime(mc_member.get("last_changed"))
            mc_values = maps.normalize(mc_member.get("merge_fields") or {})
            if (
                member
                and not self.full
                and member.mailchimp_last_changed == last_changed
                and member.email == email
                and member.status == mc_member["status"]
                and merge_values.values_fingerprint(mc_values)
                == member.synced_fingerprint
                # interests are read only for syncs that map some (F14): stored as read
                and (
                    "interests" not in mc_member
                    or mc_member["interests"] == member.mailchimp_interests
                )
            ):
                # read again only because the pull reads again the seconds that were
                # still open (or what this sync itself sent): Mailchimp has nothing new
                # for it. A full run merges it all the
                # same (a new mapping, a missed change)
                counts["unchanged" if member.partner_id else "skipped"] += 1
                continue
            common = self._pulled_member_common(mc_member, email, last_changed)
            if member:
                partner = member.partner_id
                if not partner:
                    member.write(common)
                    counts["skipped"] += 1
                    continue
                synced, odoo_synced = _member_bases(member)
            else:
                partner = candidates.get(email)
                synced, odoo_synced = None, {}
            if not partner:
                if (
                    pairing.create_missing
                    and self.direction != "odoo2mailchimp"
                    and (mc_member["status"] != "archived")
                ):
                    to_create.append((mc_member, mc_values, common))
                else:
                    counts["skipped"] += 1
                continue
            if mc_member["status"] == "archived":
                # deleted in Mailchimp: keep the link
                # and the status, change nothing (F17)
                if member:
                    member.write(common)
                else:
                    member_vals.append(self._new_member(common, partner))
                counts["unchanged"] += 1
                continue
            resolution, pending, odoo_now, odoo_errors = self._merge(
                partner, synced, odoo_synced, mc_values, maps, push_only
            )
            odoo_vals, bad_values, pulled = self._pulled_vals(
                maps, resolution, partner, odoo_now, synced
            )
            self._note_refused_values(
                partner, email, odoo_errors, bad_values, pending, failures, unsendable
            )
            if (
                member
                and email != member.email
                and self.direction != "odoo2mailchimp"
                and partner.email_normalized == member.email
            ):
                # renamed in Mailchimp (same contact
                # id): rename the contact, no duplicate
                odoo_vals["email"] = mc_member["email_address"]
            odoo_vals = maps.changed_vals(partner, odoo_vals)
            if odoo_vals:
                try:
                    with self.env.cr.savepoint():
                        partner.with_context(**QUIET).write(odoo_vals)
                except (UserError, ValidationError, psycopg2.Error) as error:
                    # one contact Odoo refuses to change does not stop the page
                    failures.append((partner.id, email, str(error)))
                    continue
                counts["updated"] += 1
            elif member and not pending:
                counts["unchanged"] += 1
            counts["conflict"] += len(resolution.conflicts)
            vals = dict(
                common,
                synced_values=resolution.new_synced,
                odoo_synced_values=resolution.new_odoo_synced,
                need_push=bool(pending),
                last_sync_date=fields.Datetime.now(),
            )
            written.append((member, vals, partner, pulled, odoo_now, pending))
        self._rebase_pulled(written, maps)
        self._save_pulled_members(written, member_vals, to_create, maps, failures)
        self._add(**counts)
        self._record_failures("mailchimp2odoo", failures)
        self._record_failures("odoo2mailchimp", unsendable)
        self._pull_page_consent(page, previous_status)

    def _pulled_member_common(self, mc_member, email, last_changed):
        """The member's values as Mailchimp shows them, written whatever the merge."""
        common = {
            "email": email,
            "subscriber_hash": mc_member["id"],
            "mailchimp_contact_id": mc_member.get("contact_id"),
            "status": mc_member["status"],
            "mailchimp_last_changed": last_changed,
            "last_seen_run_id": self.id,
        }
        if "interests" in mc_member:
            common["mailchimp_interests"] = mc_member["interests"]
        return common

    def _note_refused_values(
        self, partner, email, odoo_errors, bad_values, pending, failures, unsendable
    ):
        """A merged contact's values that a side refuses, as failures of the run:
        ``odoo_errors`` Odoo's values Mailchimp cannot take, ``bad_values``
        Mailchimp's values Odoo cannot take."""
        if self.direction == "mailchimp2odoo":
            # no push to report them
            bad_values = list(odoo_errors.values()) + bad_values
        elif odoo_errors and not pending:
            # the push skips a contact this pull has merged: say it here
            unsendable.append((partner.id, email, "; ".join(odoo_errors.values())))
        if bad_values:
            failures.append((partner.id, email, "; ".join(bad_values)))

    def _save_pulled_members(self, written, member_vals, to_create, maps, failures):
        """Write the merged members, then create the new ones with the contacts
        ``to_create`` (Mailchimp's members that no contact matched)."""
        for member, vals, partner, *_rest in written:
            vals["synced_fingerprint"] = merge_values.values_fingerprint(
                vals["synced_values"]
            )
            vals["partner_write_date"] = partner.write_date
            if member:
                member.write(vals)
            else:
                member_vals.append(self._new_member(vals, partner))
        if to_create:
            member_vals += self._create_partners(to_create, maps, failures)
        self.env["mailchimp.member"].create(member_vals)

    def _merge(self, partner, synced, odoo_synced, mc_values, maps, push_only):
        """Three-way merge, each side against its own base; tags Odoo must still push
        keep their old bases (the push compares them again).

        ``odoo_synced`` None: the member was synced before Odoo's base was kept
        (``sync_rules.legacy_odoo_base``). Odoo's values are written the way
        Mailchimp writes them where both mean the same (the hints: Mailchimp's
        base, then what it has now). A mapped Odoo value that cannot be
        converted (too long, not a number...) is left out of the merge and keeps
        its old bases: the push reports it, and the contact's other fields and
        status still sync.
        """
        odoo_now, odoo_errors = maps.mailchimp_values_checked(
            partner, [synced, mc_values]
        )
        if odoo_synced is None:
            odoo_synced = sync_rules.legacy_odoo_base(synced, odoo_now)
        resolution = sync_rules.resolve_fields(
            synced,
            odoo_now,
            mc_values,
            self.pairing_id.conflict_winner,
            self.direction,
            push_only=push_only,
            tags=[tag for tag in mc_values if tag not in odoo_errors],
            odoo_synced=odoo_synced,
        )
        pending = dict(resolution.to_mailchimp)
        for tag in odoo_errors:
            for new, old in (
                (resolution.new_synced, synced or {}),
                (resolution.new_odoo_synced, odoo_synced),
            ):
                if tag in old:
                    new[tag] = old[tag]
                else:
                    new.pop(tag, None)
        for tag in pending:
            # Mailchimp's value as read now: the push combines Odoo's with it
            resolution.new_synced[tag] = merge_values.canonical(mc_values.get(tag))
            # Odoo's base as it was, so that the push sends the change
            resolution.new_odoo_synced[tag] = odoo_synced.get(tag, "")
        return resolution, pending, odoo_now, odoo_errors

    def _pulled_vals(self, maps, resolution, partner, odoo_now, synced):
        """Partner vals for what Mailchimp brings, the reasons of values Odoo refuses,
        and the tags pulled.

        A refused value is left out on both sides and reported: Odoo's base
        becomes Odoo's value (Odoo does not overwrite Mailchimp's) and
        Mailchimp's keeps its old one, so the next full read tries it again.
        """
        hints = [synced, resolution.new_synced]
        # all at once, unless a value is refused: then value by value
        with suppress(merge_values.MergeValueError):
            vals = maps.odoo_vals(resolution.to_odoo, partner, hints)
            return vals, [], set(resolution.to_odoo)
        good, errors = {}, []
        for tag, value in resolution.to_odoo.items():
            try:
                maps.odoo_vals({tag: value}, partner, hints)
            except merge_values.MergeValueError as error:
                errors.append(f"{tag}: {error.reason}")
                resolution.new_odoo_synced[tag] = merge_values.canonical(
                    odoo_now.get(tag)
                )
                if tag in (synced or {}):
                    resolution.new_synced[tag] = synced[tag]
                else:
                    resolution.new_synced.pop(tag, None)
            else:
                good[tag] = value
        return maps.odoo_vals(good, partner, hints), errors, set(good)

    def _rebase_pulled(self, written, maps):
        """Odoo's base of the contacts a pull has just written: what Odoo shows once
        it holds Mailchimp's values (in bulk for the page: the contacts are read and
        their computed fields computed once for all of them).

        A pulled tag's base is Odoo's value now, which may differ from Mailchimp's
        (a name split otherwise, a state Odoo lacks, the company of a parent
        company): that difference is not a change, so it is never sent back. A
        mapped value of another tag that the write changed (a field computed from
        a pulled one) is left to the push (``need_push``).
        """
        rewritten = [item for item in written if item[3]]
        if not rewritten:
            return
        partners = self.env["res.partner"].browse([item[2].id for item in rewritten])
        partners.fetch(maps.partner_fields())
        for _member, vals, partner, pulled, odoo_before, pending in rewritten:
            now, _errors = maps.mailchimp_values_checked(
                partner, [vals["synced_values"]]
            )
            base = dict(vals["odoo_synced_values"])
            for tag, value in now.items():
                value = merge_values.canonical(value)
                if tag in pulled:
                    base[tag] = value
                elif tag not in pending and value != merge_values.canonical(
                    odoo_before.get(tag)
                ):
                    vals["need_push"] = True
            vals["odoo_synced_values"] = base

    def _partners_by_email(self, emails, read_fields):
        """The contact each email matches (F9):
        linked first, else the oldest, else lowest id.

        Returns ({email: partner}, [(partner id, email, reason)] for the others).
        """
        if not emails:
            return {}, []
        pairing = self.pairing_id
        domain = [("email_normalized", "in", emails)]
        if pairing.company_id:
            domain.append(("company_id", "in", (False, pairing.company_id.id)))
        partners = self.env["res.partner"].search_fetch(domain, read_fields)
        taken = set(
            self.env["mailchimp.member"]
            .search_fetch(
                [("pairing_id", "=", pairing.id), ("partner_id", "in", partners.ids)],
                ["partner_id"],
            )
            .partner_id.ids
        )
        contacts = [
            {
                "id": partner.id,
                "email": partner.email_normalized,
                "create_date": partner.create_date,
                "linked": False,
            }
            for partner in partners
            if partner.id not in taken
        ]
        winners, skipped = sync_rules.pick_winners(contacts)
        return (
            {
                email: partners.browse(contact["id"])
                for email, contact in winners.items()
            },
            [(contact["id"], contact["email"], reason) for contact, reason in skipped],
        )

    def _create_partners(self, to_create, maps, failures):
        """Contacts that exist only in Mailchimp (F8), created in one batch."""
        pairing = self.pairing_id
        partner_vals, kept = [], []
        for mc_member, mc_values, common in to_create:
            pullable = {tag: mc_values.get(tag) for tag in maps.pull_tags}
            try:
                vals = maps.odoo_vals(pullable)
            except merge_values.MergeValueError as error:
                failures.append((False, common["email"], error.reason))
                continue
            vals.setdefault("name", vals.get("name") or mc_member["email_address"])
            vals.update(
                {
                    "email": mc_member["email_address"],
                    "user_id": pairing.default_owner_id.id,
                    "company_id": pairing.company_id.id or False,
                }
            )
            if pairing.partner_tag_id:
                # so that the contact belongs to the segment and its changes go back
                vals["category_id"] = [Command.link(pairing.partner_tag_id.id)]
            partner_vals.append(vals)
            kept.append((common, mc_values))
        partners = self.env["res.partner"].with_context(**QUIET).create(partner_vals)
        self._add(created=len(partners))
        now = fields.Datetime.now()
        member_vals = []
        # Odoo's base: the new contacts as Odoo
        # shows them, read and computed once for all
        partners.fetch(maps.partner_fields() + ["write_date"])
        for partner, (common, synced) in zip(partners, kept, strict=True):
            odoo_synced, _errors = maps.mailchimp_values_checked(partner, [synced])
            member_vals.append(
                self._new_member(
                    dict(
                        common,
                        synced_values=synced,
                        synced_fingerprint=merge_values.values_fingerprint(synced),
                        odoo_synced_values={
                            tag: merge_values.canonical(value)
                            for tag, value in odoo_synced.items()
                        },
                        last_sync_date=now,
                        partner_write_date=partner.write_date,
                    ),
                    partner,
                )
            )
        return member_vals

    # ------------------------------------------------------------------
    # Odoo -> Mailchimp
    # ------------------------------------------------------------------

    def _push(self, client, deadline=None):
        """Send new and changed contacts of the segment, PUSH_CHUNK at a time, by id."""
        pairing = self.pairing_id
        state = pairing._sync_cursor()
        if not self.push_started:
            self.push_started = self._odoo_watermark_now()
        maps = pairing.field_map_ids._plan()
        interest_plan = pairing.interest_map_ids._plan()
        read_fields = maps.partner_fields() + ["create_date", "write_date"]
        domain = pairing._segment_domain()
        # Odoo opt-outs changed since the last run:
        # the blacklist does not touch write_date
        optout_ids = self._optout_partner_ids()
        if not self.full and state.odoo_watermark:
            domain += [
                "|",
                "|",
                "|",
                # at the mark too: a write in the mark's
                # own transaction has its timestamp
                ("write_date", ">=", state.odoo_watermark),
                ("mailchimp_member_ids", "not any", [("pairing_id", "=", pairing.id)]),
                (
                    "mailchimp_member_ids",
                    "any",
                    [("pairing_id", "=", pairing.id), ("need_push", "=", True)],
                ),
                ("id", "in", optout_ids),
            ]
        Partner = self.env["res.partner"].with_context(active_test=False)
        list_id = pairing.audience_id.mailchimp_list_id
        try:
            reuse = self._left_over_batch(client, deadline)
            # chunk n+1 is read and converted while Mailchimp takes chunk n's new
            # members; one request at a time still,
            # and each chunk is saved whole, in order
            sending = None
            with ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="mailchimp-push"
            ) as sender:
                while True:
                    cursor = sending.partners[-1].id if sending else self.push_cursor
                    chunk = Partner.search_fetch(
                        domain + [("id", ">", cursor)],
                        read_fields,
                        order="id",
                        limit=PUSH_CHUNK,
                    )
                    plan = self._plan_push_chunk(chunk, maps) if chunk else None
                    self._plan_push_optouts(plan)
                    self._plan_interests(plan, *interest_plan)
                    if sending:
                        self._save_push_chunk(client, list_id, sending)
                        sending = None
                        if self._out_of_time(deadline):
                            return False
                    if not plan:
                        break
                    plan.reuse, plan.deadline = reuse, deadline
                    self._send_new(sender, client, list_id, plan)
                    sending = plan
        except batch_jobs.BatchStillRunning as waiting:
            # the chunk was rolled back by its savepoint; Mailchimp goes on with the
            # job, whose results the next pass reads instead of sending it again
            self.push_batch_id = waiting.batch_id
            self._count_requests(client)
            self._commit()
            return False
        self._report_invalid_emails()
        state.odoo_watermark = self.push_started
        self.stage = "end"
        return True

    def _send_new(self, sender, client, list_id, plan):
        """Start sending the chunk's new members in the sender thread: by batch
        subscribe when few (it answers at once), else as one /batches job of
        upserts that never send a status to an existing member."""
        if not plan.new_items:
            return
        if len(plan.new_items) <= SUBSCRIBE_UP_TO:
            plan.subscribed = sender.submit(
                client.batch_subscribe,
                list_id,
                self._new_members_payload(
                    plan.new_items, plan.interests, plan.optout_new
                ),
                update_existing=False,
            )
            return
        plan.upserted = True
        plan.subscribed = sender.submit(
            batch_jobs.run_batch,
            client,
            self._upsert_operations(
                list_id, plan.new_items, plan.interests, plan.optout_new
            ),
            plan.reuse,
            plan.deadline,
        )

    def _left_over_batch(self, client, deadline):
        """The answers of the job an earlier pass left running, once it is done
        (BatchStillRunning if it is not yet); a job Mailchimp no longer has is
        simply sent again."""
        if not self.push_batch_id:
            return {}
        try:
            results = batch_jobs.wait_for_results(client, self.push_batch_id, deadline)
        except mc_errors.MailchimpNotFoundError:
            results = []
        self.push_batch_id = False
        return batch_jobs.reusable_results(results)

    def _odoo_watermark_now(self):
        """The moment from which the next push must look for changed contacts.

        A contact's write_date is the start of the transaction that wrote it, which
        may commit after this run has read the contacts: the mark is therefore the
        start of the oldest transaction still open, if older than this one, so that
        no change is lost between two runs (at most an hour back: a forgotten idle
        session must not make every run read everything again).
        """
        self.env.cr.execute(
            """
            SELECT GREATEST(LEAST(now(), MIN(xact_start)), now() - interval '1 hour')
                   AT TIME ZONE 'UTC'
              FROM pg_stat_activity
             WHERE datname = current_database()
               AND pid <> pg_backend_pid()
               AND xact_start IS NOT NULL
            """
        )
        return self.env.cr.fetchone()[0]

    def _report_invalid_emails(self):
        """Contacts of the segment whose email is not an address at all (F32): they
        cannot match or be sent, say so (those changed since the last push)."""
        pairing = self.pairing_id
        domain = pairing._segment_domain(email=False) + [
            ("email", "!=", False),
            ("email_normalized", "=", False),
        ]
        state = pairing._sync_cursor()
        if not self.full and state.odoo_watermark:
            domain.append(("write_date", ">=", state.odoo_watermark))
        partners = self.env["res.partner"].search_fetch(domain, ["email"])
        self._record_failures(
            "odoo2mailchimp",
            [
                (
                    partner.id,
                    partner.email,
                    self.env._("'%s' is not a valid email address.", partner.email),
                )
                for partner in partners
            ],
        )

    def _plan_push_chunk(self, partners, maps):
        """What to send for a chunk of contacts: reads only, so that it can be
        prepared while the previous chunk is still being sent."""
        pairing = self.pairing_id
        members = self.env["mailchimp.member"].search_fetch(
            [("pairing_id", "=", pairing.id), ("partner_id", "in", partners.ids)],
            [
                "partner_id",
                "email",
                "subscriber_hash",
                "status",
                "synced_values",
                "need_push",
                "last_seen_run_id",
                "partner_write_date",
                "odoo_synced_values",
            ],
            order="id",
        )
        member_of = {member.partner_id.id: member for member in members}
        plan = PushPlan(partners)
        plan.members = member_of
        rest = []
        for partner in partners:
            member = member_of.get(partner.id)
            if member and self._merged_by_this_pull(member, partner):
                plan.unchanged_ids.append(member.id)
            else:
                rest.append(partner.id)
        if not rest:
            return plan
        partners = partners.browse(rest)
        winners = self._push_winners(partners, member_of)
        for partner in partners:
            email = partner.email_normalized
            if not merge_values.normalize_email(email):
                # Odoo took it for an address, Mailchimp would not (e.g. no domain)
                plan.failures.append(
                    (
                        partner.id,
                        partner.email,
                        self.env._("'%s' is not a valid email address.", partner.email),
                    )
                )
                continue
            if winners.get(email) != partner.id:
                plan.skipped.append(
                    (partner.id, partner.email, winners.get(("reason", partner.id)))
                )
                continue
            member = member_of.get(partner.id)
            synced = (member.synced_values or {}) if member else {}
            values, errors = maps.mailchimp_values_checked(partner, [synced])
            if not errors:
                changed, errors = self._odoo_changes(maps, member, values, synced)
            if errors:
                plan.failures.append((partner.id, email, "; ".join(errors.values())))
                continue
            odoo_base = {
                tag: merge_values.canonical(value) for tag, value in values.items()
            }
            if not member:
                plan.new_items.append((partner, MemberValues(changed, odoo_base, maps)))
                continue
            renamed = email != member.email
            if not changed and not renamed:
                plan.unchanged_ids.append(member.id)
                if member.odoo_synced_values != odoo_base:
                    plan.rebased[member.id] = odoo_base  # seen, with nothing to send
                continue
            blocked = sync_rules.push_blocked_reason(member.status)
            if renamed and not blocked:
                blocked = sync_rules.rename_blocked_reason(member.status)
            if blocked:
                plan.skipped.append((partner.id, email, blocked))
                continue
            mailchimp_base = dict(
                synced,
                **{
                    tag: merge_values.canonical(value) for tag, value in changed.items()
                },
            )
            plan.updates.append(
                (
                    partner,
                    member,
                    MemberValues(mailchimp_base, odoo_base, maps),
                    changed,
                    renamed,
                )
            )
        plan.new_items = self._not_linked_elsewhere(plan.new_items, plan.skipped)
        self._plan_push_permissions(plan)
        return plan

    def _odoo_changes(self, maps, member, values, synced):
        """({tag: value to send}, {tag: reason}) for one contact of the push.

        A new member gets every value Mailchimp can take. A linked one gets only
        what Odoo changed since its own base (Mailchimp's value as last read or
        written is the other base: a difference that is only Odoo's form of it
        is not sent), composite values keeping Mailchimp's parts where Odoo's
        did not change, and nothing Mailchimp already has.
        """
        if not member:
            changes, synced = values, {}
        else:
            odoo_synced = member.odoo_synced_values
            if odoo_synced is None or odoo_synced is False:
                odoo_synced = sync_rules.legacy_odoo_base(synced, values)
            changes = sync_rules.push_changes(values, odoo_synced, synced)
        result, errors = {}, {}
        for tag, value in changes.items():
            try:
                sent = maps.sendable(tag, value, synced.get(tag))
            except merge_values.MergeValueError as error:
                spec = maps.by_tag[tag]
                errors[tag] = self.env._(
                    "%(field)s (%(tag)s): %(reason)s",
                    field=spec.label,
                    tag=tag,
                    reason=error.reason,
                )
                continue
            if sent is not None:
                result[tag] = sent
            elif not member:
                result[tag] = ""  # nothing Mailchimp can take (left out of the payload)
        return result, errors

    def _merged_by_this_pull(self, member, partner):
        """This run's pull has just merged the contact and nobody wrote it since:
        there is nothing to send (a write by anyone changes its write_date)."""
        return (
            member.last_seen_run_id.id == self.id
            and not member.need_push
            and member.partner_write_date == partner.write_date
            and member.email == partner.email_normalized
        )

    def _save_push_chunk(self, client, list_id, plan):
        """Store what Mailchimp answered for a chunk, send its updates, and commit
        it with the cursor: a rerun goes on after it."""
        with self.env.cr.savepoint():
            failures = list(plan.failures)
            if plan.upserted:
                self._store_upserts(
                    plan.new_items, plan.subscribed.result(), failures, "created"
                )
            elif plan.subscribed:
                self._store_new(
                    client,
                    list_id,
                    plan.new_items,
                    plan.subscribed.result(),
                    failures,
                    interests=plan.interests,
                    reuse=plan.reuse,
                    deadline=plan.deadline,
                    opted_out=plan.optout_new,
                )
            if plan.subscribed:
                self._push_new_member_permissions(client, list_id, plan, failures)
            self._send_updates(
                client,
                list_id,
                plan.updates,
                failures,
                plan.permissions,
                interests=plan.interests,
                reuse=plan.reuse,
                deadline=plan.deadline,
                unsubscribe=plan.unsubscribe,
            )
            self._save_push_optouts(client, list_id, plan, failures)
            self._save_interests(plan, failures)
            unchanged = self.env["mailchimp.member"].browse(plan.unchanged_ids)
            unchanged.filtered("need_push").write({"need_push": False})
            self._save_rebased(plan)
            self._add(unchanged=len(unchanged))
            self._record_failures("odoo2mailchimp", failures)
            self._record_failures(
                "odoo2mailchimp", [row for row in plan.skipped if row[2]], "skipped"
            )
        self.push_cursor = plan.partners[-1].id
        self.progress_done += len(plan.partners)
        self._count_requests(client)
        self._commit()
        # saved: out of the cache, so that a run holds only the chunk being sent and
        # the one being prepared (the next chunk's members are read again if needed)
        plan.partners.invalidate_recordset()
        self.env["mailchimp.member"].invalidate_model()

    def _save_rebased(self, plan):
        """Odoo's base of the linked contacts the push saw with nothing to send (a
        value only Odoo's form of Mailchimp's, one Mailchimp cannot take and does
        not have): the next run compares with what Odoo shows now. One batched
        UPDATE for the chunk when the ORM flushes."""
        Member = self.env["mailchimp.member"]
        for member_id, base in plan.rebased.items():
            Member.browse(member_id).odoo_synced_values = base

    def _push_winners(self, partners, member_of):
        """{email: winning partner id} for the chunk's emails, and losers' reasons (F9).

        Contacts already linked for an email win, also when a pull linked one
        outside the segment (matching is by email only).
        """
        pairing = self.pairing_id
        emails = list(set(partners.mapped("email_normalized")))
        domain = pairing._segment_domain() + [("email_normalized", "in", emails)]
        everyone = self.env["res.partner"].search_fetch(
            domain, ["email_normalized", "create_date"]
        )
        linked_partners = (
            self.env["mailchimp.member"]
            .search_fetch(
                [
                    ("pairing_id", "=", pairing.id),
                    ("partner_id.email_normalized", "in", emails),
                ],
                ["partner_id"],
            )
            .partner_id
        )
        linked = set(member_of) | set(linked_partners.ids)
        everyone |= linked_partners.with_context(active_test=False)
        winners, skipped = sync_rules.pick_winners(
            [
                {
                    "id": partner.id,
                    "email": partner.email_normalized,
                    "create_date": partner.create_date,
                    "linked": partner.id in linked,
                }
                for partner in everyone
            ]
        )
        result = {email: contact["id"] for email, contact in winners.items()}
        for contact, reason in skipped:
            result[("reason", contact["id"])] = reason
        return result

    def _not_linked_elsewhere(self, new_items, skipped):
        """Leave out new contacts whose address is the member of another contact of
        this sync (e.g. one whose own email change Mailchimp refused): one member,
        one contact."""
        if not new_items:
            return new_items
        hashes = {
            subscriber_hash(partner.email_normalized): partner
            for partner, _v in new_items
        }
        taken = self.env["mailchimp.member"].search_fetch(
            [
                ("pairing_id", "=", self.pairing_id.id),
                ("subscriber_hash", "in", list(hashes)),
            ],
            ["subscriber_hash", "partner_id", "email"],
        )
        if not taken:
            return new_items
        for member in taken:
            partner = hashes[member.subscriber_hash]
            skipped.append(
                (
                    partner.id,
                    partner.email,
                    self.env._(
                        "duplicate email: the Mailchimp member %(email)s is synced "
                        "with contact #%(id)s",
                        email=member.email,
                        id=member.partner_id.id,
                    ),
                )
            )
        busy = set(taken.mapped("subscriber_hash"))
        return [
            (partner, values)
            for partner, values in new_items
            if subscriber_hash(partner.email_normalized) not in busy
        ]

    def _new_members_payload(self, new_items, interests=None, opted_out=()):
        """Batch subscribe items for contacts new to the audience: with update_existing
        off, no status is ever sent to an existing member (Mailchimp refuses them).
        ``opted_out``: partner ids opted out in Odoo, added as unsubscribed."""
        double_opt_in = self.pairing_id.double_opt_in
        return [
            {
                "email_address": partner.email_normalized,
                "status": sync_rules.new_member_status(
                    double_opt_in, partner.id in opted_out
                ),
                "merge_fields": {
                    t: v for t, v in values.items() if v not in ("", None)
                },
                **_interests_item(interests, partner),
            }
            for partner, values in new_items
        ]

    def _store_new(
        self,
        client,
        list_id,
        new_items,
        result,
        failures,
        interests=None,
        reuse=None,
        deadline=None,
        opted_out=(),
    ):
        """Link the members a batch subscribe created; addresses Mailchimp already
        had are upserted without a status."""
        by_email = {
            partner.email_normalized: (partner, values) for partner, values in new_items
        }
        member_vals, existing = [], []
        for mc_member in result.created:
            partner, values = by_email.get(
                mc_member["email_address"].lower(), (None, None)
            )
            if partner:
                member_vals.append(self._member_vals(partner, values, mc_member))
        for error in result.errors:
            email = (error.get("email_address") or "").lower()
            partner, values = by_email.get(email, (None, None))
            if error.get("error_code") == "ERROR_CONTACT_EXISTS" and partner:
                existing.append((partner, values))
            else:
                failures.append(
                    (partner and partner.id, email, _batch_error_reason(error))
                )
        self.env["mailchimp.member"].create(member_vals)
        self._add(created=len(member_vals))
        if existing:
            operations = self._upsert_operations(
                list_id, existing, interests, opted_out
            )
            results = self._run_batch(client, operations, reuse, deadline)
            self._store_upserts(existing, results, failures, "updated")

    def _new_member(self, vals, partner):
        """Create values of a member of this pairing; the pairing's audience and
        company are given, not computed again for each new row."""
        pairing = self.pairing_id
        return dict(
            vals,
            pairing_id=pairing.id,
            audience_id=pairing.audience_id.id,
            company_id=pairing.company_id.id,
            partner_id=partner.id,
        )

    def _member_vals(self, partner, values, mc_member):
        sent = [tag for tag, value in values.items() if value not in ("", None)]
        synced, odoo_synced = _bases_once_sent(values, sent, mc_member)
        vals = {
            "email": partner.email_normalized,
            "subscriber_hash": mc_member.get("id")
            or subscriber_hash(partner.email_normalized),
            "mailchimp_contact_id": mc_member.get("contact_id"),
            "status": mc_member.get("status"),
            "mailchimp_last_changed": sync_rules.to_odoo_datetime(
                mc_member.get("last_changed")
            ),
            "synced_values": synced,
            "synced_fingerprint": merge_values.values_fingerprint(synced),
            "last_sync_date": fields.Datetime.now(),
            "last_seen_run_id": self.id,
            "partner_write_date": partner.write_date,
        }
        if odoo_synced is not None:
            vals["odoo_synced_values"] = odoo_synced
        return self._new_member(vals, partner)

    def _upsert_operations(self, list_id, items, interests=None, opted_out=()):
        """PUTs by subscriber hash with ``status_if_new`` only: they create new members
        and never change an existing member's status (nor resubscribe anybody).
        Empty Odoo values are left out: they never clear what Mailchimp has.
        ``opted_out``: partner ids opted out in Odoo, new ones added as unsubscribed."""
        double_opt_in = self.pairing_id.double_opt_in
        return [
            batch_jobs.operation(
                "put",
                partner.id,
                "PUT",
                f"/lists/{list_id}/members/{subscriber_hash(partner.email_normalized)}",
                {
                    "email_address": partner.email_normalized,
                    "status_if_new": sync_rules.new_member_status(
                        double_opt_in, partner.id in opted_out
                    ),
                    "merge_fields": {
                        t: v for t, v in values.items() if v not in ("", None)
                    },
                    **_interests_item(interests, partner),
                },
                params={"fields": MEMBER_REPLY_FIELDS},
            )
            for partner, values in items
        ]

    def _store_upserts(self, items, results, failures, counter):
        """Link the members the upserts of ``items`` (partner, values) answered for;
        ``counter``: what they count as (created, updated)."""
        by_partner = {partner.id: (partner, values) for partner, values in items}
        member_vals = []
        for result in results:
            partner, values = by_partner[batch_jobs.record_id(result)]
            if result["status_code"] == 200:
                member_vals.append(
                    self._member_vals(partner, values, result["response"])
                )
            else:
                failures.append(
                    (partner.id, partner.email_normalized, _op_reason(result))
                )
        self.env["mailchimp.member"].create(member_vals)
        self._add(**{counter: len(member_vals)})

    def _send_updates(
        self,
        client,
        list_id,
        updates,
        failures,
        permissions=None,
        interests=None,
        reuse=None,
        deadline=None,
        unsubscribe=(),
    ):
        """Changed merge fields (and renames, F18) as PATCHes in one /batches call;
        ``permissions``: {member id: (changed GDPR permissions, base once sent)};
        ``interests``: {partner id: interests to send} (F14); ``unsubscribe``: member
        ids opted out in Odoo, sent ``status:
        unsubscribed`` (the only status Odoo sends)."""
        if not updates:
            return
        permissions = permissions or {}
        operations, by_id = [], {}
        for partner, member, values, changed, renamed in updates:
            body = {"merge_fields": changed} if changed else {}
            body.update(_interests_item(interests, partner))
            if renamed:
                body["email_address"] = partner.email_normalized
            if member.id in permissions:
                body["marketing_permissions"] = consent.permissions_payload(
                    permissions[member.id][0]
                )
            if member.id in unsubscribe:
                body["status"] = "unsubscribed"
            operations.append(
                batch_jobs.operation(
                    "patch",
                    member.id,
                    "PATCH",
                    f"/lists/{list_id}/members/{member.subscriber_hash}",
                    body,
                    params={"fields": MEMBER_REPLY_FIELDS},
                )
            )
            by_id[member.id] = (partner, member, values, changed)
        for result in self._run_batch(client, operations, reuse, deadline):
            partner, member, values, changed = by_id[batch_jobs.record_id(result)]
            if result["status_code"] == 200:
                response = result["response"] or {}
                synced, odoo_synced = _bases_once_sent(values, changed, response)
                vals = {
                    "email": partner.email_normalized,
                    "subscriber_hash": response.get("id") or member.subscriber_hash,
                    "status": response.get("status") or member.status,
                    "mailchimp_last_changed": sync_rules.to_odoo_datetime(
                        response.get("last_changed")
                    ),
                    "synced_values": synced,
                    "synced_fingerprint": merge_values.values_fingerprint(synced),
                    "need_push": False,
                    "last_sync_date": fields.Datetime.now(),
                    "partner_write_date": partner.write_date,
                }
                if odoo_synced is not None:
                    vals["odoo_synced_values"] = odoo_synced
                member.write(vals)
                if member.id in permissions:
                    member.synced_permissions = permissions[member.id][1]
                self._add(updated=1)
            elif result["status_code"] == 404:
                member.status = "archived"
                failures.append(
                    (
                        partner.id,
                        partner.email_normalized,
                        self.env._("The member was deleted in Mailchimp."),
                    )
                )
            else:
                failures.append(
                    (partner.id, partner.email_normalized, _op_reason(result))
                )

    # ------------------------------------------------------------------
    # Tags and interests (F13, F14)
    # ------------------------------------------------------------------

    def _push_tags(self, client, deadline=None):
        """The pairing's tag rules, once its contacts are synced and committed
        (an error on a tag is a failure line, it never undoes the contacts)."""
        rules = self.pairing_id.tag_rule_ids
        if self.direction == "mailchimp2odoo" or not rules:
            return True
        self._commit()
        return rules._push_tags(self, client, deadline)

    def _plan_interests(self, plan, rules, fields_read):
        """Add the interests to send to a planned chunk: all mapped ones that are on
        for new members; for linked ones only those Odoo changed (an unchanged
        contact whose interests changed becomes an update; one whose interests
        did not change sends nothing)."""
        if not plan or not rules:
            return
        wanted = self.env["mailchimp.interest.map"]._wanted(
            rules, fields_read, plan.partners
        )
        plan.interests_wanted = wanted
        for partner, _values in plan.new_items:
            plan.interests[partner.id] = interest_rules.new_member_interests(
                wanted[partner.id]
            )
        for partner, member, _values, _changed, _renamed in plan.updates:
            plan.interests[partner.id] = interest_rules.interest_changes(
                wanted[partner.id], member.synced_interests, member.mailchimp_interests
            )
        members = {member.id: member for member in plan.members.values()}
        unchanged = []
        for member_id in plan.unchanged_ids:
            member = members[member_id]
            partner = plan.partners.browse(member.partner_id.id)
            changes = interest_rules.interest_changes(
                wanted.get(partner.id, {}),
                member.synced_interests,
                member.mailchimp_interests,
            )
            if changes and not sync_rules.push_blocked_reason(member.status):
                plan.updates.append(
                    (partner, member, member.synced_values or {}, {}, False)
                )
                plan.interests[partner.id] = changes
            else:
                unchanged.append(member_id)
        plan.unchanged_ids = unchanged

    def _save_interests(self, plan, failures):
        """Remember Odoo's interest values for the chunk's members that were sent
        (or had nothing to send), so that the next run sends only what changes."""
        if not plan.interests_wanted:
            return
        not_done = {row[0] for row in failures} | {row[0] for row in plan.skipped}
        members = self.env["mailchimp.member"].search_fetch(
            [
                ("pairing_id", "=", self.pairing_id.id),
                (
                    "partner_id",
                    "in",
                    [pid for pid in plan.interests_wanted if pid not in not_done],
                ),
            ],
            ["partner_id", "synced_interests"],
        )
        groups = {}
        for member in members:
            old = member.synced_interests or {}
            new = dict(old, **plan.interests_wanted[member.partner_id.id])
            if new != old:
                groups.setdefault(json.dumps(new, sort_keys=True), []).append(member.id)
        for value, member_ids in groups.items():
            members.browse(member_ids).write({"synced_interests": json.loads(value)})

    def _run_batch(self, client, operations, reuse=None, deadline=None):
        """Each operation's result, from one /batches job (or from the answers of a
        job an earlier pass left running); BatchStillRunning past ``deadline``."""
        return batch_jobs.run_batch(client, operations, reuse, deadline)

    # ------------------------------------------------------------------
    # Screens
    # ------------------------------------------------------------------

    def action_view_failures(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mailchimp_connector.mailchimp_sync_failure_action"
        )
        action["domain"] = [("run_id", "in", self.ids)]
        return action


class MemberValues(dict):
    """The merge values planned for one contact of the push: Mailchimp's base once
    Mailchimp took them (for a new member: the values to send), with ``odoo``,
    Odoo's values as the push saw them (Odoo's base once sent), and ``maps``, to
    read what Mailchimp answers. Plain dicts (updates that send no merge value)
    leave Odoo's base as it is."""

    def __init__(self, values, odoo, maps):
        super().__init__(values)
        self.odoo = odoo
        self.maps = maps


def _bases_once_sent(values, sent_tags, mc_member):
    """(Mailchimp's base, Odoo's base or None) of a member Mailchimp has just written.

    Mailchimp's base is the values planned, where the tags sent take what
    Mailchimp answers it holds now (it may store a value otherwise than sent,
    e.g. fill in an address's country), so that the next pull does not take
    Mailchimp's form of Odoo's value for a change; tags not sent keep their base,
    so a change made in Mailchimp meanwhile is still pulled.
    """
    synced = {tag: merge_values.canonical(value) for tag, value in values.items()}
    maps = getattr(values, "maps", None)
    answered = (mc_member or {}).get("merge_fields")
    if maps is not None and isinstance(answered, dict):
        tags = [tag for tag in sent_tags if tag in answered]
        for tag, value in maps.normalize(answered, tags).items():
            synced[tag] = merge_values.canonical(value)
    return synced, getattr(values, "odoo", None)


def _interests_item(interests, partner):
    """The ``interests`` key of a member payload, when there is one to send."""
    sent = (interests or {}).get(partner.id)
    return {"interests": sent} if sent else {}


def _batch_error_reason(error):
    reason = error.get("error") or error.get("error_code") or "?"
    if error.get("field"):
        reason = f"{reason} ({error['field']}: {error.get('field_message') or ''})"
    return reason


def _op_reason(result):
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


def _member_bases(member):
    """(Mailchimp's base, Odoo's base) of a linked member: the values each side held
    at its last sync. Odoo's is None for a member synced before it was kept."""
    synced = member.synced_values or {}
    odoo_synced = member.odoo_synced_values
    if odoo_synced is None or odoo_synced is False:
        odoo_synced = None if synced else {}
    return synced, odoo_synced


class PushPlan:
    """One chunk of the push, prepared before it is sent."""

    def __init__(self, partners):
        self.partners = partners
        self.new_items = []  # (partner, values)
        self.updates = []  # (partner, member, values, changed, renamed)
        self.unchanged_ids = []  # members whose contact has nothing new
        self.failures = []  # (partner id, email, reason)
        self.permissions = {}  # member id: (changed GDPR permissions, base once sent)
        self.skipped = []
        self.subscribed = None  # the new members' sending under way (a Future)
        self.upserted = False  # the new members went as a /batches job of upserts
        self.reuse = {}  # answers of a job an earlier pass left running
        self.deadline = None
        self.members = {}  # partner id: its member, for the chunk's linked contacts
        self.interests = {}  # partner id: {interest id: bool} to send (F14)
        self.interests_wanted = {}  # partner id: Odoo's interest values now
        # Odoo opt-outs
        self.optout_new = set()  # new contacts opted out in Odoo: added as unsubscribed
        self.unsubscribe = set()  # member ids sent status unsubscribed in their PATCH
        # member ids whose opt-out to remember
        self.optout_flags = {
            True: [],
            False: [],
        }
        self.optout_keep_push = []  # member ids whose values are still to be sent
        self.rebased = {}  # member id: Odoo's base, for members with nothing to send
