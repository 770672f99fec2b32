# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The push: Odoo -> Mailchimp. New and changed contacts of the segment, by id,
PUSH_CHUNK at a time: each chunk planned (``plans.PushPlan``) while the previous
one is sent, then sent and committed with the cursor that covers it."""

import json
from concurrent.futures import ThreadPoolExecutor

from odoo import fields

from ..utils import batch_jobs, consent, interest_rules, merge_values, sync_rules
from ..utils.mailchimp_keys import subscriber_hash
from .plans import MemberUpdate, MemberValues, NewMember, PushPlan, Winners
from .push_selection import PushSelection
from .step import MEMBER_REPLY_FIELDS, Step, op_reason

PUSH_CHUNK = 5000  # contacts read, planned, sent and committed together
# new members of a chunk: up to this many by batch subscribe (500 per call, an answer
# at once); more as one /batches job, a few requests whatever their number
SUBSCRIBE_UP_TO = 1500


class PushStep(Step):
    """Odoo -> Mailchimp; the consent hooks (``engine.consent``) plan and save each
    chunk's opt-outs and marketing permissions with it."""

    @property
    def consent(self):
        return self.engine.consent

    def run(self):
        """Send new and changed contacts of the segment, PUSH_CHUNK at a time, by id.
        Returns False when the deadline (or a /batches job) came first."""
        client, deadline = self.client, self.deadline
        pairing = self.pairing
        state = pairing._sync_cursor()
        if not self.sync_run.push_started:
            self.sync_run.push_started = self._odoo_watermark_now()
        maps = pairing.field_map_ids._plan()
        interest_plan = pairing.interest_map_ids._plan()
        read_fields = maps.partner_fields() + ["create_date", "write_date"]
        selection = self._selection(state)
        self.progress.later = 0
        self.progress.expect(selection.count(after=self.sync_run.push_cursor))
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
                    cursor = (
                        sending.partners[-1].id
                        if sending
                        else self.sync_run.push_cursor
                    )
                    chunk = selection.next_chunk(cursor, read_fields, PUSH_CHUNK)
                    plan = self._plan_push_chunk(chunk, maps) if chunk else None
                    self.consent.plan_optouts(plan)
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
            self.sync_run.push_batch_id = waiting.batch_id
            self._count_requests(client)
            self._commit()
            return False
        self._report_invalid_emails()
        self._move_odoo_watermark(state)
        self.sync_run.stage = "end"
        return True

    def _move_odoo_watermark(self, state):
        """The next incremental push looks for contacts changed from this run's
        start (see _odoo_watermark_now)."""
        state.odoo_watermark = self.sync_run.push_started

    def estimate(self):
        """About how many contacts the push will read, before the pull (which may
        add some): for an incremental run, those changed since its mark or
        still to send; the push's own count adds those new to the sync though
        unchanged, whose anti-join a run pays once, not twice."""
        state = self.pairing._sync_cursor()
        partners = self.env["res.partner"].with_context(active_test=False)
        segment = self.pairing._segment_domain()
        if self.sync_run.full or not state.odoo_watermark:
            return partners.search_count(segment)
        return partners.search_count(
            segment
            + PushSelection.changed_domain(self.pairing, state.odoo_watermark, [])
        )

    def _selection(self, state):
        """The contacts the push reads: the segment, and for an incremental run
        only those changed since the push's mark, new to the audience, still to
        send, or whose Odoo opt-out changed (the blacklist does not touch
        write_date: ``ConsentHooks.push_optout_ids``)."""
        partners = self.env["res.partner"].with_context(active_test=False)
        segment = self.pairing._segment_domain()
        if self.sync_run.full or not state.odoo_watermark:
            return PushSelection(partners, segment)
        return PushSelection.incremental(
            partners,
            segment,
            self.pairing,
            state.odoo_watermark,
            self.consent.push_optout_ids(),
        )

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
                    plan.new_items, plan.interests, plan.optouts.new
                ),
                update_existing=False,
            )
            return
        plan.upserted = True
        plan.subscribed = sender.submit(
            batch_jobs.run_batch,
            client,
            self._upsert_operations(
                list_id, plan.new_items, plan.interests, plan.optouts.new
            ),
            plan.reuse,
            plan.deadline,
        )

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
        partners = self.env["res.partner"].search_fetch(
            self._invalid_email_domain(), ["email"]
        )
        # contacts the push looked at, which failed
        self.progress.add(len(partners))
        self._add(failed=len(partners))
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

    def _invalid_email_domain(self):
        """The contacts _report_invalid_emails reports: of the segment, changed
        since the last push."""
        pairing = self.pairing
        domain = pairing._segment_domain(email=False) + [
            ("email", "!=", False),
            ("email_normalized", "=", False),
        ]
        state = pairing._sync_cursor()
        if not self.sync_run.full and state.odoo_watermark:
            domain.append(("write_date", ">=", state.odoo_watermark))
        return domain

    def _plan_push_chunk(self, partners, maps):
        """What to send for a chunk of contacts: reads only, so that it can be
        prepared while the previous chunk is still being sent."""
        pairing = self.pairing
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
        plan = PushPlan(partners, members=member_of)
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
            self._plan_contact(plan, partner, member_of.get(partner.id), winners, maps)
        plan.new_items = self._not_linked_elsewhere(plan.new_items, plan.skipped)
        self.consent.plan_permissions(plan)
        return plan

    def _plan_contact(self, plan, partner, member, winners, maps):
        """Where one contact of the chunk goes: a failure, skipped, a new member, an
        unchanged one (its Odoo base kept up to date), or an update."""
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
            return
        if winners.by_email.get(email) != partner.id:
            plan.skipped.append(
                (partner.id, partner.email, winners.reasons.get(partner.id))
            )
            return
        synced = (member.synced_values or {}) if member else {}
        values, errors = maps.mailchimp_values_checked(partner, [synced])
        if not errors:
            changed, errors = self._odoo_changes(maps, member, values, synced)
        if errors:
            plan.failures.append((partner.id, email, "; ".join(errors.values())))
            return
        odoo_base = {
            tag: merge_values.canonical(value) for tag, value in values.items()
        }
        if not member:
            plan.new_items.append(
                NewMember(partner, MemberValues(changed, odoo_base, maps))
            )
            return
        renamed = email != member.email
        if not changed and not renamed:
            plan.unchanged_ids.append(member.id)
            if member.odoo_synced_values != odoo_base:
                plan.rebased[member.id] = odoo_base  # seen, with nothing to send
            return
        blocked = sync_rules.push_blocked_reason(member.status)
        if renamed and not blocked:
            blocked = sync_rules.rename_blocked_reason(member.status)
        if blocked:
            plan.skipped.append((partner.id, email, blocked))
            return
        mailchimp_base = dict(
            synced,
            **{tag: merge_values.canonical(value) for tag, value in changed.items()},
        )
        plan.updates.append(
            MemberUpdate(
                partner,
                member,
                MemberValues(mailchimp_base, odoo_base, maps),
                changed,
                renamed,
            )
        )

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
            member.last_seen_run_id.id == self.sync_run.id
            and not member.need_push
            and member.partner_write_date == partner.write_date
            and member.email == partner.email_normalized
        )

    def _save_push_chunk(self, client, list_id, plan):
        """Store what Mailchimp answered for a chunk, send its updates, and commit
        it with the cursor: a rerun goes on after it. Each contact read is counted
        processed and in one outcome."""
        outcomes = self._outcomes()
        with self.env.cr.savepoint():
            failures = list(plan.failures)
            if plan.upserted:
                self._store_upserts(
                    plan.new_items,
                    plan.subscribed.result(),
                    failures,
                    "created_mailchimp",
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
                    opted_out=plan.optouts.new,
                )
            if plan.subscribed:
                self.consent.send_new_member_permissions(
                    client, list_id, plan, failures
                )
            self._send_updates(
                client,
                list_id,
                plan.updates,
                failures,
                plan.permissions,
                interests=plan.interests,
                reuse=plan.reuse,
                deadline=plan.deadline,
                unsubscribe=plan.optouts.unsubscribe,
            )
            self.consent.save_optouts(client, list_id, plan, failures)
            self._save_interests(plan, failures)
            unchanged = self.env["mailchimp.member"].browse(plan.unchanged_ids)
            unchanged.filtered("need_push").write({"need_push": False})
            self._save_rebased(plan)
            self._add(unchanged=len(unchanged), skipped=len(plan.skipped))
            self._record_failures("odoo2mailchimp", failures)
            self._record_failures(
                "odoo2mailchimp", [row for row in plan.skipped if row[2]], "skipped"
            )
            self._count_failed_rest(len(plan.partners), outcomes)
        self.sync_run.push_cursor = plan.partners[-1].id
        self.progress.add(len(plan.partners))
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
        pairing = self.pairing
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
        return Winners(
            by_email={email: contact["id"] for email, contact in winners.items()},
            reasons={contact["id"]: reason for contact, reason in skipped},
        )

    def _not_linked_elsewhere(self, new_items, skipped):
        """Leave out new contacts whose address is the member of another contact of
        this sync (e.g. one whose own email change Mailchimp refused): one member,
        one contact."""
        if not new_items:
            return new_items
        hashes = {
            subscriber_hash(item.partner.email_normalized): item.partner
            for item in new_items
        }
        taken = self.env["mailchimp.member"].search_fetch(
            [
                ("pairing_id", "=", self.pairing.id),
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
            item
            for item in new_items
            if subscriber_hash(item.partner.email_normalized) not in busy
        ]

    def _new_members_payload(self, new_items, interests=None, opted_out=()):
        """Batch subscribe items for contacts new to the audience: with update_existing
        off, no status is ever sent to an existing member (Mailchimp refuses them).
        ``opted_out``: partner ids opted out in Odoo, added as unsubscribed."""
        double_opt_in = self.pairing.double_opt_in
        return [
            {
                "email_address": item.partner.email_normalized,
                "status": sync_rules.new_member_status(
                    double_opt_in, item.partner.id in opted_out
                ),
                "merge_fields": {
                    t: v for t, v in item.values.items() if v not in ("", None)
                },
                **_interests_item(interests, item.partner),
            }
            for item in new_items
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
        by_email = {item.partner.email_normalized: item for item in new_items}
        member_vals, existing = [], []
        for mc_member in result.created:
            item = by_email.get(mc_member["email_address"].lower())
            if item:
                member_vals.append(
                    self._member_vals(item.partner, item.values, mc_member)
                )
        for error in result.errors:
            email = (error.get("email_address") or "").lower()
            item = by_email.get(email)
            if error.get("error_code") == "ERROR_CONTACT_EXISTS" and item:
                existing.append(item)
            else:
                failures.append(
                    (item and item.partner.id, email, _batch_error_reason(error))
                )
        self.env["mailchimp.member"].create(member_vals)
        self._add(created_mailchimp=len(member_vals))
        if existing:
            operations = self._upsert_operations(
                list_id, existing, interests, opted_out
            )
            results = batch_jobs.run_batch(client, operations, reuse, deadline)
            self._store_upserts(existing, results, failures, "updated")

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
            "last_seen_run_id": self.sync_run.id,
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
        double_opt_in = self.pairing.double_opt_in
        operations = []
        for item in items:
            partner, email = item.partner, item.partner.email_normalized
            body = {
                "email_address": email,
                "status_if_new": sync_rules.new_member_status(
                    double_opt_in, partner.id in opted_out
                ),
                "merge_fields": {
                    t: v for t, v in item.values.items() if v not in ("", None)
                },
                **_interests_item(interests, partner),
            }
            operations.append(
                batch_jobs.operation(
                    "put",
                    partner.id,
                    "PUT",
                    f"/lists/{list_id}/members/{subscriber_hash(email)}",
                    body,
                    params={"fields": MEMBER_REPLY_FIELDS},
                )
            )
        return operations

    def _store_upserts(self, items, results, failures, counter):
        """Link the members the upserts of ``items`` (NewMember) answered for;
        ``counter``: what they count as (created_mailchimp, updated)."""
        by_partner = {item.partner.id: item for item in items}
        member_vals = []
        for result in results:
            item = by_partner[batch_jobs.record_id(result)]
            partner = item.partner
            if result["status_code"] == 200:
                member_vals.append(
                    self._member_vals(partner, item.values, result["response"])
                )
            else:
                failures.append(
                    (partner.id, partner.email_normalized, op_reason(result))
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
        for update in updates:
            body = _update_body(update, permissions, interests, unsubscribe)
            operations.append(
                batch_jobs.operation(
                    "patch",
                    update.member.id,
                    "PATCH",
                    f"/lists/{list_id}/members/{update.member.subscriber_hash}",
                    body,
                    params={"fields": MEMBER_REPLY_FIELDS},
                )
            )
            by_id[update.member.id] = update
        for result in batch_jobs.run_batch(client, operations, reuse, deadline):
            update = by_id[batch_jobs.record_id(result)]
            partner, member = update.partner, update.member
            if result["status_code"] == 200:
                self._store_update(update, result["response"] or {}, permissions)
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
                    (partner.id, partner.email_normalized, op_reason(result))
                )

    def _store_update(self, update, response, permissions):
        """A member Mailchimp has just updated: its bases as Mailchimp now holds
        them (``response``, the PATCH's answer), nothing left to send."""
        partner, member = update.partner, update.member
        synced, odoo_synced = _bases_once_sent(update.values, update.changed, response)
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
        for item in plan.new_items:
            plan.interests[item.partner.id] = interest_rules.new_member_interests(
                wanted[item.partner.id]
            )
        for update in plan.updates:
            member = update.member
            plan.interests[update.partner.id] = interest_rules.interest_changes(
                wanted[update.partner.id],
                member.synced_interests,
                member.mailchimp_interests,
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
                plan.send_alone(partner, member)
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
                ("pairing_id", "=", self.pairing.id),
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


def _update_body(update, permissions, interests, unsubscribe):
    """The PATCH body of one member update: only what changed."""
    partner, member, changed = update.partner, update.member, update.changed
    body = {"merge_fields": changed} if changed else {}
    body.update(_interests_item(interests, partner))
    if update.renamed:
        body["email_address"] = partner.email_normalized
    if member.id in permissions:
        body["marketing_permissions"] = consent.permissions_payload(
            permissions[member.id][0]
        )
    if member.id in unsubscribe:
        body["status"] = "unsubscribed"
    return body


def _interests_item(interests, partner):
    """The ``interests`` key of a member payload, when there is one to send."""
    sent = (interests or {}).get(partner.id)
    return {"interests": sent} if sent else {}


def _batch_error_reason(error):
    reason = error.get("error") or error.get("error_code") or "?"
    if error.get("field"):
        reason = f"{reason} ({error['field']}: {error.get('field_message') or ''})"
    return reason
