# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Consent, the hooks the pull and the push call explicitly on each page and chunk:
Odoo's blacklist option (F16), Odoo opt-outs and GDPR marketing permissions.

Pull: ``before_pull()`` once, ``after_page(page, previous_status)`` per page.
Push: ``push_optout_ids()`` once; per chunk ``plan_permissions(plan)`` and
``plan_optouts(plan)`` while it is planned, ``send_new_member_permissions(...)``
and ``save_optouts(...)`` when it is saved."""

import json
from collections import defaultdict

import psycopg2

from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, split_every

from ..utils import batch_jobs, consent, merge_values, sync_rules
from ..utils.mailchimp_keys import subscriber_hash
from .step import MEMBER_REPLY_FIELDS, QUIET, Step, op_reason

BACKFILL_CHUNK = 1000


class ConsentHooks(Step):
    """The consent part of a run (not a step of its own: see the module's doc)."""

    def before_pull(self):
        """Before reading Mailchimp: a sync whose blacklist option has just been turned
        on mirrors the unsubscribed and cleaned members it already knows (from its
        own records, no request), so the option covers them too."""
        pairing = self.pairing
        if not pairing.blacklist_mirror or pairing.blacklist_backfilled:
            return
        members = self.env["mailchimp.member"].search_fetch(
            [
                ("pairing_id", "=", pairing.id),
                ("status", "in", consent.BLACKLIST_STATUSES),
            ],
            ["email", "status"],
        )
        for chunk in split_every(BACKFILL_CHUNK, members.ids, members.browse):
            mirror_blacklist(
                pairing, [(member.email, None, member.status) for member in chunk]
            )
        # the pairing's row is the form's too:
        # written apart, never with the run's chunks
        self._write_apart(lambda: pairing.write({"blacklist_backfilled": True}))

    def after_page(self, page, previous_status):
        """After a page is stored: its status changes to Odoo's blacklist (one bulk
        call), its members' marketing permissions stored and merged.

        ``previous_status``: {member id in the page: the status Odoo knew before the
        page, or None}.
        """
        pairing = self.pairing
        if pairing.blacklist_mirror:
            mirror_blacklist(
                pairing,
                [
                    (
                        mc_member["email_address"],
                        previous_status.get(mc_member["id"]),
                        mc_member["status"],
                    )
                    for mc_member in page
                ],
            )
        self._pull_page_permissions(page)

    def _pull_page_permissions(self, page):
        shown = {}
        for mc_member in page:
            permissions = consent.member_permissions(mc_member)
            if permissions:
                shown[mc_member["id"]] = permissions
        if not shown:
            return
        pairing = self.pairing
        texts = {
            pid: item["text"]
            for permissions in shown.values()
            for pid, item in permissions.items()
        }
        records = self.env["mailchimp.marketing.permission"]._learn(
            pairing.audience_id, texts
        )
        members = self.env["mailchimp.member"].search_fetch(
            [("pairing_id", "=", pairing.id), ("subscriber_hash", "in", list(shown))],
            ["subscriber_hash", "partner_id", "status", "synced_permissions"],
        )
        self._store_member_consents(members, shown, records)
        mapped = pairing.permission_map_ids._by_permission()
        if mapped:
            self._merge_permissions(members, shown, mapped)

    def _store_member_consents(self, members, shown, records):
        """The read-only lines of the members' permissions, as Mailchimp shows them:
        one search, one create, at most two writes for the page."""
        Consent = self.env["mailchimp.member.consent"]
        lines = Consent.search_fetch(
            [("member_id", "in", members.ids)],
            ["member_id", "permission_id", "enabled"],
        )
        existing = {(line.member_id.id, line.permission_id.id): line for line in lines}
        to_create, flips = [], {True: [], False: []}
        for member in members:
            for pid, item in shown[member.subscriber_hash].items():
                permission = records[pid]
                line = existing.get((member.id, permission.id))
                if line is None:
                    to_create.append(
                        {
                            "member_id": member.id,
                            "permission_id": permission.id,
                            "enabled": item["enabled"],
                        }
                    )
                elif line.enabled != item["enabled"]:
                    flips[item["enabled"]].append(line.id)
        Consent.create(to_create)
        for enabled, ids in flips.items():
            if ids:
                Consent.browse(ids).write({"enabled": enabled})

    def _merge_permissions(self, members, shown, mapped):
        """Mapped permissions, merged three ways like merge fields (utils/consent.py):
        Odoo's fields written for what Mailchimp brings, members flagged for the push
        for what Odoo must send; grouped by value, not written contact by contact."""
        pairing = self.pairing
        linked = members.filtered(
            lambda member: member.partner_id and member.status != "archived"
        )
        partners = linked.partner_id.with_context(active_test=False)
        partners.fetch(sorted(set(mapped.values())))
        partner_writes, bases, push = defaultdict(list), {}, []
        for member in linked:
            partner = member.partner_id
            mc_now = {
                pid: item["enabled"]
                for pid, item in shown[member.subscriber_hash].items()
                if pid in mapped
            }
            odoo_now = {pid: partner[mapped[pid]] for pid in mc_now}
            synced = member.synced_permissions or {}
            resolution = consent.resolve_permissions(
                synced,
                odoo_now,
                mc_now,
                pairing.conflict_winner,
                self.sync_run.direction,
            )
            base = dict(synced, **resolution.new_synced)
            for pid in resolution.to_mailchimp:
                # agreed only once the push has sent it
                if pid in synced:
                    base[pid] = synced[pid]
                else:
                    base.pop(pid, None)
                push.append(member.id)
            if resolution.to_odoo:
                vals = tuple(
                    sorted((mapped[pid], v) for pid, v in resolution.to_odoo.items())
                )
                partner_writes[vals].append(partner.id)
            if base != synced:
                bases[member] = json.dumps(base, sort_keys=True)
        failures, refused = self._write_permission_fields(partners, partner_writes)
        by_base = defaultdict(list)
        for member, key in bases.items():
            if member.partner_id.id not in refused:
                by_base[key].append(member.id)
        Member = self.env["mailchimp.member"]
        for key, member_ids in by_base.items():
            Member.browse(member_ids).write({"synced_permissions": json.loads(key)})
        if push:
            Member.browse(sorted(set(push))).write({"need_push": True})
        self._record_failures("mailchimp2odoo", failures)

    # ------------------------------------------------------------------
    # Odoo -> Mailchimp
    # ------------------------------------------------------------------

    def _write_permission_fields(self, partners, partner_writes):
        """Odoo's fields for the permissions Mailchimp brings, one write per value:
        (failures, partner ids refused). A refused write keeps the base (the next
        run tries again)."""
        failures, refused = [], set()
        for vals, partner_ids in partner_writes.items():
            try:
                with self.env.cr.savepoint():
                    partners.browse(partner_ids).with_context(**QUIET).write(dict(vals))
            except (UserError, ValidationError, psycopg2.Error) as error:
                refused.update(partner_ids)
                failures += [
                    (partner.id, partner.email, str(error))
                    for partner in partners.browse(partner_ids)
                ]
        return failures, refused

    def plan_permissions(self, plan):
        """Mapped permissions changed in Odoo since both sides agreed: they go with the
        member's PATCH (``plan.permissions``); a contact with nothing else to send is
        moved from the unchanged ones to the updates. Nothing when nothing changed."""
        pairing = self.pairing
        mapped = pairing.permission_map_ids._by_permission()
        if not mapped or self.sync_run.direction == "mailchimp2odoo":
            return
        unchanged = self.env["mailchimp.member"].browse(plan.unchanged_ids)
        candidates = [(update.partner, update.member) for update in plan.updates]
        candidates += [(member.partner_id, member) for member in unchanged]
        moved = []
        for partner, member in candidates:
            if sync_rules.push_blocked_reason(member.status):
                continue
            odoo_now = {pid: partner[field] for pid, field in mapped.items()}
            changed = consent.changed_permissions(member.synced_permissions, odoo_now)
            if not changed:
                continue
            plan.permissions[member.id] = (
                changed,
                dict(member.synced_permissions or {}, **changed),
            )
            if member in unchanged:
                moved.append((partner, member))
        for partner, member in moved:
            plan.unchanged_ids.remove(member.id)
            plan.send_alone(partner, member)

    def send_new_member_permissions(self, client, list_id, plan, failures):
        """Contacts just added to the audience: batch subscribe cannot carry marketing
        permissions (not in its items), so the given ones follow as PATCHes in one
        /batches call; none when no new contact has one."""
        pairing = self.pairing
        mapped = pairing.permission_map_ids._by_permission()
        if (
            not mapped
            or not plan.new_items
            or self.sync_run.direction == "mailchimp2odoo"
        ):
            return
        members = self.env["mailchimp.member"].search_fetch(
            [
                ("pairing_id", "=", pairing.id),
                (
                    "partner_id",
                    "in",
                    [item.partner.id for item in plan.new_items],
                ),
            ],
            ["partner_id", "email", "subscriber_hash", "synced_permissions"],
        )
        operations, by_id = [], {}
        for member in members:
            if member.synced_permissions:
                continue
            partner = member.partner_id
            changed = consent.changed_permissions(
                None, {pid: partner[field] for pid, field in mapped.items()}
            )
            if not changed:
                continue
            operations.append(
                batch_jobs.operation(
                    "consent",
                    member.id,
                    "PATCH",
                    f"/lists/{list_id}/members/{member.subscriber_hash}",
                    {"marketing_permissions": consent.permissions_payload(changed)},
                    params={"fields": "id"},
                )
            )
            by_id[member.id] = (member, changed)
        if not operations:
            return
        bases = defaultdict(list)
        for result in batch_jobs.run_batch(
            client, operations, plan.reuse, plan.deadline
        ):
            member, changed = by_id[batch_jobs.record_id(result)]
            if result["status_code"] == 200:
                bases[json.dumps(changed, sort_keys=True)].append(member.id)
            else:
                failures.append((member.partner_id.id, member.email, op_reason(result)))
        for key, member_ids in bases.items():
            members.browse(member_ids).write({"synced_permissions": json.loads(key)})

    # ------------------------------------------------------------------
    # Odoo opt-outs: never subscribed, and unsubscribed on a change
    # ------------------------------------------------------------------

    def _unsubscribe_alone(self, client, list_id, plan, failures):
        """Opt-outs whose PATCH Mailchimp refused for the other changes it carried
        (a merge value, a permission, an interest): the status alone, in one more
        /batches job, so that a bad value never holds an opt-out back (the value's
        failure line stays)."""
        members = {}
        for update in plan.updates:
            partner, member = update.partner, update.member
            if (
                member.id in plan.optouts.unsubscribe
                and member.status in consent.OPT_OUT_UNSUBSCRIBES
                and (
                    update.changed
                    or member.id in plan.permissions
                    or plan.interests.get(partner.id)
                )
            ):
                members[member.id] = (partner, member)
        if not members:
            return
        operations = [
            batch_jobs.operation(
                "optout",
                member.id,
                "PATCH",
                f"/lists/{list_id}/members/{member.subscriber_hash}",
                {"status": "unsubscribed"},
                params={"fields": MEMBER_REPLY_FIELDS},
            )
            for _partner, member in members.values()
        ]
        for result in batch_jobs.run_batch(
            client, operations, plan.reuse, plan.deadline
        ):
            partner, member = members[batch_jobs.record_id(result)]
            if result["status_code"] == 200:
                response = result["response"] or {}
                member.write(
                    {
                        "status": response.get("status") or member.status,
                        "mailchimp_last_changed": sync_rules.to_odoo_datetime(
                            response.get("last_changed")
                        ),
                    }
                )
            elif result["status_code"] == 404:
                member.status = "archived"
            else:
                failures.append(
                    (partner.id, partner.email_normalized, op_reason(result))
                )

    def _opt_out_sql(self, email):
        """SQL: the address ``email`` (an SQL expression) is opted out in Odoo, i.e. on
        its email blacklist (Odoo 18 without
        mass_mailing has no other email opt-out)."""
        return SQL(
            "EXISTS (SELECT 1 FROM mail_blacklist bl "
            "WHERE bl.email = %s AND bl.active)",
            email,
        )

    def _flush_opt_outs(self):
        self.env["mail.blacklist"].flush_model(["email", "active"])
        self.env["res.partner"].flush_model(["email_normalized"])
        self.env["mailchimp.member"].flush_model(
            ["pairing_id", "partner_id", "status", "odoo_opt_out"]
        )

    def _chunk_opt_outs(self, partner_ids):
        """{partner id: (opted out in Odoo now, as its member of this sync remembers
        it)} for the contacts of a chunk: one query."""
        if not partner_ids:
            return {}
        self._flush_opt_outs()
        self.env.cr.execute(
            SQL(
                """
                SELECT p.id, %s, COALESCE(m.odoo_opt_out, FALSE)
                  FROM res_partner p
             LEFT JOIN mailchimp_member m ON m.partner_id = p.id AND m.pairing_id = %s
                 WHERE p.id = ANY(%s)
                """,
                self._opt_out_sql(SQL("p.email_normalized")),
                self.pairing.id,
                list(partner_ids),
            )
        )
        return {
            pid: (opted_out, remembered)
            for pid, opted_out, remembered in self.env.cr.fetchall()
        }

    def push_optout_ids(self):
        """Members whose contact's Odoo opt-out changed since the sync last saw it.

        Joining or leaving the blacklist does not touch the contact's write_date, so
        the push cannot find them by it: one query per run finds them all (driven by
        the active blacklist entries for new opt-outs, by the few members remembered
        as opted out for the others). Those with nothing to send are remembered at
        once; returns the contacts whose member the push must unsubscribe.
        """
        pairing = self.pairing
        self._flush_opt_outs()
        self.env.cr.execute(
            SQL(
                """
                SELECT m.id, m.partner_id, m.status, TRUE
                  FROM mail_blacklist bl
                  JOIN res_partner p ON p.email_normalized = bl.email
                  JOIN mailchimp_member m
                    ON m.partner_id = p.id AND m.pairing_id = %(pairing)s
                 WHERE bl.active
                   AND m.odoo_opt_out IS NOT TRUE
                UNION ALL
                SELECT m.id, m.partner_id, m.status, FALSE
                  FROM mailchimp_member m
                  JOIN res_partner p ON p.id = m.partner_id
                 WHERE m.pairing_id = %(pairing)s
                   AND m.odoo_opt_out
                   AND NOT %(opted_out)s
                """,
                pairing=pairing.id,
                opted_out=self._opt_out_sql(SQL("p.email_normalized")),
            )
        )
        rows = self.env.cr.fetchall()
        if not rows:
            return []
        flags, to_send = {True: [], False: []}, []
        unsubscribe = self._optout_unsubscribe_enabled()
        for member_id, partner_id, status, opted_out in rows:
            action = consent.optout_action(
                not opted_out, opted_out, status, unsubscribe=unsubscribe
            )
            if action == "unsubscribe":
                to_send.append(partner_id)
            elif action:
                flags[action == "remember"].append(member_id)
        self._remember_member_opt_outs(flags)
        return to_send

    def _optout_unsubscribe_enabled(self):
        return (
            self.pairing.optout_unsubscribe
            and self.sync_run.direction != "mailchimp2odoo"
        )

    def _remember_member_opt_outs(self, flags):
        """{True: member ids now opted out, False: no longer}: one write each."""
        Member = self.env["mailchimp.member"]
        for opted_out, member_ids in flags.items():
            if member_ids:
                Member.browse(member_ids).write({"odoo_opt_out": opted_out})

    def plan_optouts(self, plan):
        """A planned chunk's Odoo opt-outs (one query for the chunk): new contacts
        opted out go in as unsubscribed or are skipped (the sync's option), never
        subscribed; linked members whose contact was opted out in Odoo since the
        sync last saw it get ``status: unsubscribed`` in their PATCH of the chunk's
        /batches job (an unchanged one becomes an update with nothing else)."""
        if not plan:
            return
        linked = list(plan.members.values())
        states = self._chunk_opt_outs(
            [item.partner.id for item in plan.new_items]
            + [member.partner_id.id for member in linked]
        )
        opted = {pid for pid, (opted_out, _remembered) in states.items() if opted_out}
        if opted and plan.new_items:
            self._plan_new_optouts(plan, opted)
        changed = [
            member
            for member in linked
            if states[member.partner_id.id][1] != (member.partner_id.id in opted)
        ]
        if changed:
            self._plan_linked_optouts(plan, changed, states, opted)

    def _plan_new_optouts(self, plan, opted):
        """New contacts opted out in Odoo (partner ids ``opted``): added as
        unsubscribed, or skipped with the reason (the sync's option)."""
        kept = []
        for item in plan.new_items:
            partner = item.partner
            how = consent.new_member_opt_out(
                partner.id in opted, self.pairing.optout_new_policy
            )
            if how == "skip":
                plan.skipped.append(
                    (
                        partner.id,
                        partner.email_normalized,
                        self.env._(
                            "opted out in Odoo (email blacklist): not added to "
                            "Mailchimp, as the sync's option says"
                        ),
                    )
                )
                continue
            if how == "unsubscribed":
                plan.optouts.new.add(partner.id)
            kept.append(item)
        plan.new_items = kept

    def _plan_linked_optouts(self, plan, changed, states, opted):
        """Linked members whose Odoo opt-out changed since the sync last saw it:
        remembered, forgotten, or unsubscribed in the chunk's PATCHes."""
        unsubscribe = self._optout_unsubscribe_enabled()
        position = {update.member.id: update for update in plan.updates}
        unchanged = set(plan.unchanged_ids)
        failed = {row[0] for row in plan.failures}
        moved, flags = [], {True: [], False: []}
        for member in changed:
            partner = plan.partners.browse(member.partner_id.id)
            action = consent.optout_action(
                states[partner.id][1],
                partner.id in opted,
                member.status,
                unsubscribe=unsubscribe,
            )
            if action in ("remember", "forget"):
                flags[action == "remember"].append(member.id)
            elif action != "unsubscribe":
                continue
            elif member.id in position:
                if position[member.id].renamed:
                    # an email change goes first: Mailchimp renames subscribed members
                    # only, so the status follows at the next run
                    continue
                plan.optouts.unsubscribe.add(member.id)
            elif member.id in unchanged:
                moved.append(member)
                plan.send_alone(partner, member)
                plan.optouts.unsubscribe.add(member.id)
            elif partner.id in failed and partner.email_normalized == member.email:
                # a value Mailchimp cannot take does not hold back the opt-out: the
                # status alone, the contact's values stay to be sent
                plan.send_alone(partner, member)
                plan.optouts.unsubscribe.add(member.id)
                if member.need_push:
                    plan.optouts.keep_push.append(member.id)
            # else skipped (another contact has the address, archived, a rename
            # Mailchimp refuses): the next run finds it again
        plan.optouts.flags = flags
        if moved:
            ids = {member.id for member in moved}
            plan.unchanged_ids = [mid for mid in plan.unchanged_ids if mid not in ids]

    def save_optouts(self, client, list_id, plan, failures):
        """After the chunk was sent: the opt-outs remembered, those sent counted.

        A member counts as done once Mailchimp no longer mails it (the PATCH's answer
        says unsubscribed, or it was found deleted); a refused one is a failure line
        and is tried again at the next run.
        """
        self._unsubscribe_alone(client, list_id, plan, failures)
        self._remember_member_opt_outs(plan.optouts.flags)
        Member = self.env["mailchimp.member"]
        if plan.optouts.unsubscribe:
            sent = Member.browse(sorted(plan.optouts.unsubscribe))
            done = sent.filtered(
                lambda member: member.status not in consent.OPT_OUT_UNSUBSCRIBES
            )
            done.write({"odoo_opt_out": True})
            self._add(
                optout_unsubscribed=len(
                    done.filtered(lambda member: member.status == "unsubscribed")
                )
            )
            if plan.optouts.keep_push:
                Member.browse(plan.optouts.keep_push).write({"need_push": True})
        if plan.optouts.new:
            members = Member.search_fetch(
                [
                    ("pairing_id", "=", self.pairing.id),
                    ("partner_id", "in", sorted(plan.optouts.new)),
                ],
                ["status"],
            )
            # one Mailchimp already had (and still
            # mails) is unsubscribed at the next run
            members.filtered(
                lambda member: member.status not in consent.OPT_OUT_UNSUBSCRIBES
            ).write({"odoo_opt_out": True})
            self._add(
                optout_added=len(
                    members.filtered(lambda member: member.status == "unsubscribed")
                )
            )


# ----------------------------------------------------------------------
# Odoo's blacklist, from Mailchimp's statuses (the sync's options)
# ----------------------------------------------------------------------


def mirror_blacklist(pairing, changes):
    """[(email, old status, new status)] applied to Odoo's blacklist in one bulk
    call per direction, by the options of ``pairing``. ``old status``: the one
    Odoo knew before (None: not known). Returns {email: "add" | "remove"} for
    those acted on."""
    pairing.ensure_one()
    if not pairing.blacklist_mirror:
        return {}
    added, removed, done = {}, {}, {}
    for email, old_status, new_status in changes:
        action = consent.blacklist_action(
            old_status,
            new_status,
            mirror=pairing.blacklist_mirror,
            unmirror=pairing.blacklist_unmirror,
        )
        if action == "add":
            added[email] = _blacklist_reason(pairing, new_status)
        elif action == "remove":
            removed[email] = pairing.env._(
                "Subscribed again in Mailchimp (audience %(audience)s, sync "
                "%(sync)s).",
                audience=pairing.audience_id.name,
                sync=pairing.name,
            )
        if action:
            done[email] = action
    # the sync's option was set by a Mailchimp administrator; the blacklist itself
    # is a settings model
    Blacklist = pairing.env["mail.blacklist"].sudo()
    if added:
        Blacklist._mailchimp_add(added)
    if removed:
        Blacklist._mailchimp_remove(removed)
    # these opt-outs came from Mailchimp: the sync knows them already, so none is
    # sent back (and a re-subscription taken off the blacklist is not undone)
    _remember_opt_outs(pairing, added, True)
    _remember_opt_outs(pairing, removed, False)
    return done


def _remember_opt_outs(pairing, emails, opted_out):
    """The members of these addresses in this audience (of every sync of it)
    remember Odoo's opt-out as ``opted_out``: it came from this audience, so no
    sync sends it back there (a few queries for a page)."""
    hashes = {
        subscriber_hash(email)
        for email in map(merge_values.normalize_email, emails)
        if email
    }
    if not hashes:
        return
    pairings = pairing.with_context(active_test=False).search(
        [("audience_id", "=", pairing.audience_id.id)]
    )
    pairing.env["mailchimp.member"].search(
        [
            ("pairing_id", "in", pairings.ids),
            ("subscriber_hash", "in", sorted(hashes)),
            ("odoo_opt_out", "!=", opted_out),
        ]
    ).write({"odoo_opt_out": opted_out})


def _blacklist_reason(pairing, status):
    if status == "cleaned":
        return pairing.env._(
            "Cleaned in Mailchimp: the address bounced or reported abuse "
            "(audience %(audience)s, sync %(sync)s).",
            audience=pairing.audience_id.name,
            sync=pairing.name,
        )
    return pairing.env._(
        "Unsubscribed in Mailchimp (audience %(audience)s, sync %(sync)s).",
        audience=pairing.audience_id.name,
        sync=pairing.name,
    )
