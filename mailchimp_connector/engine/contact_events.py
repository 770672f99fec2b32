# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Tags and custom events queued by Automation Rules, sent to Mailchimp in bulk.

One pass per account, holding its lock (``LOCK_CONTACT_EVENTS``):

1. What a crash left *sending* is resolved first. A /batches job whose id was
   committed is read (its answers say what was sent). An event without one (the
   process died between the request and the record of its answer, or the answer
   never came) is looked for among its member's events (``GET .../events``: same
   name, second and properties) once no job of the account is still running;
   only the events Mailchimp does not have are sent again. Mailchimp does not
   deduplicate events: this check is what sends each one once.
2. Tags: per audience and tag, the latest wish per contact, 500 + 500 addresses
   per call (static segment bulk). Setting a tag twice is harmless, so tags are
   simply sent again after a crash.
3. Events: flipped to *sending* and committed before any request, then sent one
   call each up to ``DIRECT_MAX``, beyond that as one /batches job whose id is
   committed before it is waited for.

Throttling, server errors and an unreachable Mailchimp put an event back in the
queue with a growing delay (``contact_events.retry_delay``), up to
``MAX_ATTEMPTS``; what Mailchimp refuses (not a member, invalid) fails with its
reason, shown on the contact.
"""

import logging
import time
from collections import defaultdict
from datetime import timedelta

from odoo import fields
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..utils import batch_jobs, tag_rules
from ..utils import contact_events as ce
from ..utils import mailchimp_errors as mc_errors
from ..utils.locks import LOCK_CONTACT_EVENTS
from ..utils.mailchimp_batches import BATCH_DONE_STATUSES
from ..utils.mailchimp_keys import subscriber_hash
from . import transactions
from .step import op_reason

_logger = logging.getLogger(__name__)

CRON_XMLID = "mailchimp_connector.ir_cron_mailchimp_contact_events"
PASS_LIMIT = 5000  # events (and tags) of one account per pass
WAIT_SECONDS = 60  # a job still running, or a check left for later: looked at again
EVENTS_PAGE = 1000  # a member's events read to check what was sent (Mailchimp's max)
_REQUESTED = "mailchimp_connector.contact_events_requested"


def request(env):
    """Wake the sender now, once per transaction (a rule fires per record)."""
    data = env.cr.precommit.data
    cron = env.ref(CRON_XMLID, raise_if_not_found=False)
    if cron and not data.get(_REQUESTED):
        data[_REQUESTED] = True
        cron.sudo()._trigger()


def retrigger(env, seconds=WAIT_SECONDS):
    env.ref(CRON_XMLID).sudo()._trigger(
        fields.Datetime.now() + timedelta(seconds=seconds)
    )


def due_domain(now):
    return [
        ("state", "in", ("queued", "sending")),
        "|",
        ("next_attempt_date", "=", False),
        ("next_attempt_date", "<=", now),
    ]


def cron_pass(Event):
    """Send each connected account's due events and tags within a time budget."""
    env = Event.env
    deadline = time.monotonic() + env["mailchimp.account"]._cron_time_budget()
    groups = Event._read_group(
        due_domain(fields.Datetime.now()) + [("account_id.state", "=", "connected")],
        ["account_id"],
    )
    accounts = [account for (account,) in groups]
    cron = env["ir.cron"]
    for done, account in enumerate(accounts, start=1):
        if not transactions.try_lock(env.cr, LOCK_CONTACT_EVENTS, account.id):
            _logger.info("Mailchimp events of account %s are being sent", account.id)
            retrigger(env)
            continue
        try:
            left = ContactEventSender(account, deadline).run()
        finally:
            transactions.unlock(env.cr, LOCK_CONTACT_EVENTS, account.id)
        cron._notify_progress(done=done, remaining=len(accounts) - done)
        if left:
            retrigger(env)
        if time.monotonic() > deadline:
            retrigger(env, 0)
            break


class ContactEventSender:
    """One pass over one account's due events and tags (see the module)."""

    def __init__(self, account, deadline=None):
        self.account = account
        self.env = account.env
        self.Event = self.env["mailchimp.contact.event"]
        self.deadline = deadline
        self.client = None
        self.left = False  # work a later pass must take up

    def run(self):
        """Returns True when work is left for a later pass."""
        try:
            self.client = self.account._get_client()
        except (UserError, mc_errors.MailchimpError) as error:
            # the account's problem, shown on the account: the events wait
            _logger.warning("Mailchimp account %s: %s", self.account.id, error)
            return False
        try:
            self._resolve_sending()
            if not self._out_of_time():
                self._send_tags()
            if not self._out_of_time():
                self._send_events()
        finally:
            self.client.close()
        return self.left

    # -- helpers ------------------------------------------------------------

    def _out_of_time(self):
        if self.deadline is not None and time.monotonic() > self.deadline:
            self.left = True
            return True
        return False

    def _commit(self):
        transactions.commit(self.env.cr)

    def _due(self, kinds, state="queued"):
        return self.Event.search(
            due_domain(fields.Datetime.now())
            + [
                ("account_id", "=", self.account.id),
                ("kind", "in", kinds),
                ("state", "=", state),
            ],
            order="id",
            limit=PASS_LIMIT,
        )

    def _addresses(self, rows):
        """{row id: email}: the contact's member in the row's sync, else its email."""
        members = self.env["mailchimp.member"].search_fetch(
            [
                ("pairing_id", "in", rows.pairing_id.ids),
                ("partner_id", "in", rows.partner_id.ids),
            ],
            ["pairing_id", "partner_id", "email"],
        )
        linked = {
            (member.pairing_id.id, member.partner_id.id): member.email
            for member in members
        }
        return {
            row.id: linked.get((row.pairing_id.id, row.partner_id.id))
            or row.partner_id.email_normalized
            for row in rows
        }

    def _message(self, error):
        return self.account._mailchimp_error_message(error)

    def _not_member(self):
        return self.env._("The contact is not a member of the sync's audience.")

    def _sent(self, rows):
        rows.write(
            {
                "state": "sent",
                "date_sent": fields.Datetime.now(),
                "error": False,
                "batch_id": False,
                "next_attempt_date": False,
            }
        )

    def _refused(self, rows, reason):
        rows.write(
            {
                "state": "failed",
                "error": reason,
                "batch_id": False,
                "next_attempt_date": False,
            }
        )

    def _temporary(self, rows, reason):
        """Back in the queue, a little later each time; given up after a while."""
        now = fields.Datetime.now()
        by_attempts = defaultdict(lambda: self.Event)
        for row in rows:
            by_attempts[row.attempts + 1] |= row
        for attempts, group in by_attempts.items():
            vals = {"attempts": attempts, "error": reason, "batch_id": False}
            if attempts >= ce.MAX_ATTEMPTS:
                vals.update(state="failed", next_attempt_date=False)
            else:
                delay = timedelta(seconds=ce.retry_delay(attempts))
                vals.update(state="queued", next_attempt_date=now + delay)
            group.write(vals)

    def _unknown(self, rows):
        """The answer never came: checked in Mailchimp at the next pass."""
        rows.write(
            {
                "batch_id": False,
                "next_attempt_date": fields.Datetime.now()
                + timedelta(seconds=WAIT_SECONDS),
            }
        )
        self.left = True

    def _call_failed(self, rows, error, tag=False):
        """A call that carried ``rows`` raised ``error`` (a tag whose answer never
        came is simply sent again: setting it twice is harmless)."""
        outcome = ce.error_outcome(error)
        if outcome == "unknown" and tag:
            outcome = "temporary"
        if outcome == "unknown":
            self._unknown(rows)
        elif outcome == "temporary":
            self._temporary(rows, self._message(error))
        elif isinstance(error, mc_errors.MailchimpNotFoundError):
            self._refused(rows, self._not_member())
        else:
            self._refused(rows, self._message(error))

    # -- 1. what a crash left sending -----------------------------------------

    def _resolve_sending(self):
        rows = self._due(["event", "tag_add", "tag_remove"], state="sending")
        # tags are never left sending by this code; if they are, sending again is safe
        rows.filtered(lambda row: row.kind != "event").write({"state": "queued"})
        rows = rows.filtered(lambda row: row.kind == "event")
        to_check = rows.filtered(lambda row: not row.batch_id)
        by_batch = defaultdict(lambda: self.Event)
        for row in rows - to_check:
            by_batch[row.batch_id] |= row
        for batch_id, batch_rows in by_batch.items():
            try:
                batch = self.client.get_batch(batch_id)
                if batch.get("status") not in BATCH_DONE_STATUSES:
                    self._wait(batch_rows)
                    continue
                results = self.client.batch_results(batch)
            except mc_errors.MailchimpNotFoundError:
                results = []  # Mailchimp no longer has the job: check each event
            except mc_errors.MailchimpError as error:
                _logger.info("Mailchimp batch %s unreadable: %s", batch_id, error)
                self._wait(batch_rows)
                continue
            to_check |= self._apply_results(batch_rows, results)
        if to_check:
            self._check_sent(to_check)
        self._commit()

    def _wait(self, rows):
        rows.write(
            {
                "next_attempt_date": fields.Datetime.now()
                + timedelta(seconds=WAIT_SECONDS)
            }
        )
        self.left = True

    def _jobs_running(self):
        """Whether a /batches job of the account is still running in Mailchimp: one
        submitted by a pass that died before it kept the job's id may still post
        events, so nothing is checked until it has finished."""
        return any(
            batch.get("status") not in BATCH_DONE_STATUSES
            for batch in self.client.paginate(
                "/batches", "batches", fields=["id", "status"]
            )
        )

    def _check_sent(self, rows):
        """Events whose outcome is unknown: those Mailchimp has are sent, the others
        go back to the queue (sent again below, in this pass)."""
        try:
            if self._jobs_running():
                self._wait(rows)
                return
            listings = self._member_events(rows)
        except (mc_errors.MailchimpError, batch_jobs.BatchStillRunning) as error:
            _logger.info("Mailchimp events could not be checked yet: %s", error)
            self._wait(rows)
            return
        by_member = defaultdict(lambda: self.Event)
        for row in rows:
            by_member[self._member_key(row)] |= row
        unread, gone, unverifiable = self.Event, self.Event, self.Event
        found_ids = set()
        for key, member_rows in by_member.items():
            listing = listings.get(key, False)
            if listing is False:
                unread |= member_rows
            elif listing is None:
                gone |= member_rows
            elif (listing.get("total_items") or 0) > len(listing.get("events") or []):
                unverifiable |= member_rows
            else:
                found_ids |= ce.already_sent(
                    [
                        (row.id, row.name, row.properties, row.occurred_at)
                        for row in member_rows
                    ],
                    listing.get("events"),
                )
        found = self.Event.browse(found_ids)
        self._sent(found)
        (rows - unread - gone - unverifiable - found).write(
            {"state": "queued", "next_attempt_date": False, "batch_id": False}
        )
        if unread:
            self._wait(unread)
        self._refused(gone, self._not_member())
        # too many events to read them all: rather never than twice
        self._refused(
            unverifiable,
            self.env._(
                "Mailchimp's answer never came and the member has too many events to "
                "check whether it arrived: not sent again."
            ),
        )

    def _member_key(self, row):
        return (row.audience_id.mailchimp_list_id, subscriber_hash(row.email))

    def _member_events(self, rows):
        """{(list id, hash): GET .../events answer, or None when not a member}:
        one call each up to DIRECT_MAX members, else one /batches job."""
        keys = sorted({self._member_key(row) for row in rows})
        params = {"count": EVENTS_PAGE}
        listings = {}
        if len(keys) <= ce.DIRECT_MAX:
            for list_id, hash_ in keys:
                try:
                    listings[list_id, hash_] = self.client.get(
                        f"/lists/{list_id}/members/{hash_}/events", params=params
                    )
                except mc_errors.MailchimpNotFoundError:
                    listings[list_id, hash_] = None
            return listings
        operations = [
            batch_jobs.operation(
                "check",
                index,
                "GET",
                f"/lists/{list_id}/members/{hash_}/events",
                None,
                params=params,
            )
            for index, (list_id, hash_) in enumerate(keys)
        ]
        for result in batch_jobs.run_batch(
            self.client, operations, None, self.deadline
        ):
            key = keys[batch_jobs.record_id(result)]
            status = result.get("status_code") or 500
            if status == 404:
                listings[key] = None
            elif status < 300 and isinstance(result.get("response"), dict):
                listings[key] = result["response"]
        return listings

    # -- 2. tags ----------------------------------------------------------------

    def _send_tags(self):
        rows = self._due(["tag_add", "tag_remove"])
        if not rows:
            return
        emails = self._addresses(rows)
        self._refused(
            rows.filtered(lambda row: not emails[row.id]),
            self.env._("The contact has no email address."),
        )
        groups = defaultdict(lambda: self.Event)
        for row in rows.filtered(lambda row: emails[row.id]):
            groups[row.audience_id, tag_rules.tag_key(row.name)] |= row
        segments = {}  # list id: the audience's tags, read once
        for (audience, _key), group in groups.items():
            if self._out_of_time():
                return
            self._send_tag(audience.mailchimp_list_id, group, emails, segments)
            self._commit()

    def _send_tag(self, list_id, rows, emails, segments):
        """One tag of one audience: its latest wish per contact, 500 + 500 a call."""
        to_add, to_remove, superseded = ce.tag_changes(
            [
                (row.id, emails[row.id], row.kind, (row.occurred_at, row.id))
                for row in rows
            ]
        )
        self.Event.browse(superseded).write(
            {"state": "cancelled", "next_attempt_date": False}
        )
        try:
            segment_id = self._segment(list_id, rows[0].name, bool(to_add), segments)
        except mc_errors.MailchimpError as error:
            self._call_failed(rows - self.Event.browse(superseded), error, tag=True)
            return
        if not segment_id:  # no such tag in Mailchimp: nobody carries it
            self._sent(
                self.Event.browse(
                    [row_id for row_ids in to_remove.values() for row_id in row_ids]
                )
            )
            return
        for body in tag_rules.bulk_bodies(list(to_add), list(to_remove)):
            call_ids = [
                row_id
                for email in body.get("members_to_add", [])
                for row_id in to_add[email]
            ] + [
                row_id
                for email in body.get("members_to_remove", [])
                for row_id in to_remove[email]
            ]
            try:
                response = self.client.post(
                    f"/lists/{list_id}/segments/{segment_id}", json=body
                )
            except mc_errors.MailchimpError as error:
                self._call_failed(self.Event.browse(call_ids), error, tag=True)
                continue
            added, removed, refused = tag_rules.bulk_outcome(body, response)
            done = [row_id for email in added for row_id in to_add[email]]
            done += [row_id for email in removed for row_id in to_remove[email]]
            self._sent(self.Event.browse(done))
            by_reason = defaultdict(list)
            for email, reason in refused.items():
                by_reason[reason].extend(to_add[email])
            for reason, row_ids in by_reason.items():
                self._refused(
                    self.Event.browse(row_ids),
                    self.env._("Mailchimp refused the tag: %(reason)s", reason=reason),
                )
            self._commit()

    def _segment(self, list_id, name, create, segments):
        """The id of the audience's tag ``name`` (any case), made when ``create``;
        None when it does not exist and is not to be made."""
        if list_id not in segments:
            segments[list_id] = list(
                self.client.paginate(
                    f"/lists/{list_id}/segments",
                    "segments",
                    params={"type": "static"},
                    fields=["id", "name", "type"],
                )
            )
        segment = tag_rules.find_tag(segments[list_id], name)
        if not segment and create:
            segment = self.client.post(
                f"/lists/{list_id}/segments", json={"name": name, "static_segment": []}
            )
            segments[list_id].append(segment)
        return segment["id"] if segment else None

    # -- 3. events --------------------------------------------------------------

    def _send_events(self):
        rows = self._due(["event"])
        if not rows:
            return
        emails = self._addresses(rows)
        no_email = rows.filtered(lambda row: not emails[row.id])
        self._refused(no_email, self.env._("The contact has no email address."))
        rows -= no_email
        if not rows:
            return
        self._start_sending(rows, emails)
        self._commit()  # before any request: a crash now leaves them to be checked
        if len(rows) <= ce.DIRECT_MAX:
            self._send_direct(rows)
        else:
            self._send_batch(rows)
        self._commit()

    def _start_sending(self, rows, emails):
        """state sending and the address each goes to, in one UPDATE."""
        self.env.cr.execute(
            SQL(
                """
                UPDATE mailchimp_contact_event e
                   SET state = 'sending', email = v.email, batch_id = NULL,
                       write_uid = %s, write_date = %s
                  FROM (VALUES %s) AS v(id, email)
                 WHERE e.id = v.id
                """,
                self.env.uid,
                fields.Datetime.now(),
                SQL(", ").join(SQL("(%s, %s)", row.id, emails[row.id]) for row in rows),
            )
        )
        rows.invalidate_recordset()

    def _path(self, row):
        list_id = row.audience_id.mailchimp_list_id
        return f"/lists/{list_id}/members/{subscriber_hash(row.email)}/events"

    def _body(self, row):
        return ce.event_body(row.name, row.properties, row.occurred_at)

    def _send_direct(self, rows):
        for row in rows:
            try:
                self.client.post(self._path(row), json=self._body(row))
            except mc_errors.MailchimpError as error:
                self._call_failed(row, error)
            else:
                self._sent(row)
            self._commit()

    def _send_batch(self, rows):
        operations = [
            batch_jobs.operation(
                "event", row.id, "POST", self._path(row), self._body(row)
            )
            for row in rows
        ]
        try:
            batch_id = self.client.submit_batch(operations)
        except mc_errors.MailchimpError as error:
            self._call_failed(rows, error)
            return
        self._submitted(rows, batch_id)
        # a job just submitted is still pending: its first poll waits (one request less)
        self.client.sleep(batch_jobs.FIRST_POLL_SECONDS)
        try:
            results = batch_jobs.wait_for_results(self.client, batch_id, self.deadline)
        except (mc_errors.MailchimpError, batch_jobs.BatchStillRunning) as error:
            # the job goes on in Mailchimp: the next pass reads its answers
            _logger.info("Mailchimp events batch %s left running: %s", batch_id, error)
            self._wait(rows)
            return
        to_check = self._apply_results(rows, results)
        if to_check:
            self._unknown(to_check)

    def _submitted(self, rows, batch_id):
        """The job's id, committed before it is waited for."""
        rows.write({"batch_id": batch_id})
        self._commit()

    def _apply_results(self, rows, results):
        """Each event as its job's answer says; returns those it has no answer for."""
        answers = {
            batch_jobs.record_id(result): result
            for result in results
            if str(result.get("operation_id") or "").startswith("event-")
        }
        sent, temporary, refused = [], [], defaultdict(list)
        missing = self.Event
        for row in rows:
            result = answers.get(row.id)
            if result is None:
                missing |= row
                continue
            status = result.get("status_code") or 500
            if status < 300:
                sent.append(row.id)
            elif status == 429 or status >= 500:
                temporary.append(row.id)
            elif status == 404:
                refused[self._not_member()].append(row.id)
            else:
                refused[op_reason(result)].append(row.id)
        self._sent(self.Event.browse(sent))
        self._temporary(
            self.Event.browse(temporary),
            self.env._(
                "Mailchimp could not take the event yet; it will be sent again."
            ),
        )
        for reason, row_ids in refused.items():
            self._refused(self.Event.browse(row_ids), reason)
        missing.write({"batch_id": False})
        return missing
