# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The consent part of a sync run: Odoo's blacklist option (F16) and GDPR marketing
permissions, called from the pull and the push of ``mailchimp.sync.run``."""
import json
from collections import defaultdict

import psycopg2

from odoo import models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import split_every

from ..utils import batch_jobs, consent, sync_rules
from .mailchimp_sync_run import QUIET, _op_reason

BACKFILL_CHUNK = 1000


class MailchimpSyncRun(models.Model):
    _inherit = "mailchimp.sync.run"

    # ------------------------------------------------------------------
    # Mailchimp -> Odoo
    # ------------------------------------------------------------------

    def _pull_consent_start(self):
        """Before reading Mailchimp: a sync whose blacklist option has just been turned
        on mirrors the unsubscribed and cleaned members it already knows (from its
        own records, no request), so the option covers them too."""
        pairing = self.pairing_id
        if not pairing.blacklist_mirror or pairing.blacklist_backfilled:
            return
        members = self.env["mailchimp.member"].search_fetch(
            [("pairing_id", "=", pairing.id), ("status", "in", consent.BLACKLIST_STATUSES)],
            ["email", "status"],
        )
        for chunk in split_every(BACKFILL_CHUNK, members.ids, members.browse):
            pairing._mirror_blacklist_many(
                [(member.email, None, member.status) for member in chunk]
            )
        # the pairing's row is the form's too: written apart, never with the run's chunks
        pairing._write_concurrently(lambda: pairing.write({"blacklist_backfilled": True}))

    def _pull_page_consent(self, page, previous_status):
        """After a page is stored: its status changes to Odoo's blacklist (one bulk
        call), its members' marketing permissions stored and merged.

        ``previous_status``: {member id in the page: the status Odoo knew before the
        page, or None}.
        """
        pairing = self.pairing_id
        if pairing.blacklist_mirror:
            pairing._mirror_blacklist_many(
                [
                    (mc_member["email_address"], previous_status.get(mc_member["id"]),
                     mc_member["status"])
                    for mc_member in page
                ]
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
        pairing = self.pairing_id
        texts = {
            pid: item["text"] for permissions in shown.values() for pid, item in permissions.items()
        }
        records = self.env["mailchimp.marketing.permission"]._learn(pairing.audience_id, texts)
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
            [("member_id", "in", members.ids)], ["member_id", "permission_id", "enabled"]
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
        pairing = self.pairing_id
        linked = members.filtered(lambda member: member.partner_id and member.status != "archived")
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
                synced, odoo_now, mc_now, pairing.conflict_winner, self.direction
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
                vals = tuple(sorted((mapped[pid], v) for pid, v in resolution.to_odoo.items()))
                partner_writes[vals].append(partner.id)
            if base != synced:
                bases[member] = json.dumps(base, sort_keys=True)
        failures, refused = [], set()
        for vals, partner_ids in partner_writes.items():
            try:
                with self.env.cr.savepoint():
                    partners.browse(partner_ids).with_context(**QUIET).write(dict(vals))
            except (UserError, ValidationError, psycopg2.Error) as error:
                # not taken: the base stays, the next run tries again
                refused.update(partner_ids)
                failures += [
                    (partner.id, partner.email, str(error))
                    for partner in partners.browse(partner_ids)
                ]
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

    def _plan_push_permissions(self, plan):
        """Mapped permissions changed in Odoo since both sides agreed: they go with the
        member's PATCH (``plan.permissions``); a contact with nothing else to send is
        moved from the unchanged ones to the updates. Nothing when nothing changed."""
        pairing = self.pairing_id
        mapped = pairing.permission_map_ids._by_permission()
        if not mapped or self.direction == "mailchimp2odoo":
            return
        unchanged = self.env["mailchimp.member"].browse(plan.unchanged_ids)
        candidates = [(partner, member) for partner, member, *_rest in plan.updates]
        candidates += [(member.partner_id, member) for member in unchanged]
        moved = []
        for partner, member in candidates:
            if sync_rules.push_blocked_reason(member.status):
                continue
            odoo_now = {pid: partner[field] for pid, field in mapped.items()}
            changed = consent.changed_permissions(member.synced_permissions, odoo_now)
            if not changed:
                continue
            plan.permissions[member.id] = (changed, dict(member.synced_permissions or {}, **changed))
            if member in unchanged:
                moved.append((partner, member))
        for partner, member in moved:
            plan.unchanged_ids.remove(member.id)
            plan.updates.append((partner, member, member.synced_values or {}, {}, False))

    def _push_new_member_permissions(self, client, list_id, plan, failures):
        """Contacts just added to the audience: batch subscribe cannot carry marketing
        permissions (not in its items), so the given ones follow as PATCHes in one
        /batches call; none when no new contact has one."""
        pairing = self.pairing_id
        mapped = pairing.permission_map_ids._by_permission()
        if not mapped or not plan.new_items or self.direction == "mailchimp2odoo":
            return
        members = self.env["mailchimp.member"].search_fetch(
            [
                ("pairing_id", "=", pairing.id),
                ("partner_id", "in", [partner.id for partner, _values in plan.new_items]),
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
        for result in self._run_batch(client, operations, plan.reuse, plan.deadline):
            member, changed = by_id[batch_jobs.record_id(result)]
            if result["status_code"] == 200:
                bases[json.dumps(changed, sort_keys=True)].append(member.id)
            else:
                failures.append((member.partner_id.id, member.email, _op_reason(result)))
        for key, member_ids in bases.items():
            members.browse(member_ids).write({"synced_permissions": json.loads(key)})
