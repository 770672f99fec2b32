# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The setup's Review: a dry run of a sync's initial run. It reads the audience
from Mailchimp (GETs only: the members, then the archived ones, 1,000 a page,
only the fields the run compares, pages read ahead on a few connections) and the
contacts from Odoo, and hands both to ``utils.sync_review.review``, which follows
the run's own rules. It writes nothing, on either side."""

import contextlib
import time
from dataclasses import dataclass

from odoo.tools import split_every

from ..utils import merge_values, sync_review

# simultaneous connections the review reads the audience with
REVIEW_CONNECTIONS = 4
PAGE_SIZE = 1000
# addresses looked up in Odoo per query
EMAILS_PER_QUERY = 10000


@dataclass
class ReviewResult:
    """What ``SyncReview.run`` found, and what it cost."""

    review: sync_review.Review
    seconds: float
    requests: int


class SyncReview:
    """The dry run of one pairing's initial run (``run()``)."""

    def __init__(self, pairing, sample_size=sync_review.SAMPLE_SIZE):
        pairing.ensure_one()
        self.pairing = pairing
        self.env = pairing.env
        self.sample_size = sample_size
        self.maps = pairing.field_map_ids._plan()
        self.read_fields = self.maps.partner_fields() + ["create_date", "active"]

    def run(self):
        started = time.monotonic()
        members, requests = self._read_members()
        pairing = self.pairing
        emails = {merge_values.normalize_email(m.email) for m in members} - {None}
        partners = self._partners(emails)
        forgotten = self._forgotten(emails)
        linked = {
            member.subscriber_hash: member.partner_id.id
            for member in self.env["mailchimp.member"].search_fetch(
                [("pairing_id", "=", pairing.id)], ["subscriber_hash", "partner_id"]
            )
        }
        options = sync_review.Options(
            direction=pairing.direction,
            create_missing=pairing.create_missing,
            create_unsubscribed=pairing.create_unsubscribed,
            create_cleaned=pairing.create_cleaned,
            double_opt_in=pairing.double_opt_in,
            optout_policy=pairing.optout_new_policy,
            conflict_winner=pairing.conflict_winner,
            push_only=tuple(self.maps.push_only),
        )
        result = sync_review.review(
            members,
            partners,
            options,
            odoo_values=_OdooValues(
                self.env["res.partner"], self.maps, [c.id for c in partners]
            ),
            forgotten=forgotten,
            linked=linked,
            sample_size=self.sample_size,
        )
        return ReviewResult(result, time.monotonic() - started, requests)

    # ------------------------------------------------------------------ Mailchimp
    def _read_members(self):
        """Every member of the audience (the listing, then the archived ones), as
        ``sync_review.Member``; and the number of requests it took."""
        pairing, maps = self.pairing, self.maps
        path = f"/lists/{pairing.audience_id.mailchimp_list_id}/members"
        wanted = ["id", "email_address", "status"] + [
            f"merge_fields.{tag}" for tag in maps.tags
        ]
        query = {
            "fields": ",".join([f"members.{name}" for name in wanted] + ["total_items"])
        }

        def prepare(items):
            return [
                sync_review.Member(
                    id=item["id"],
                    email=item["email_address"],
                    status=item["status"],
                    values=maps.normalize(item.get("merge_fields") or {}),
                )
                for item in items
            ]

        account = pairing.account_id
        members = []
        with contextlib.ExitStack() as stack:
            clients = [
                stack.enter_context(account._get_client())
                for _i in range(min(REVIEW_CONNECTIONS, account.max_connections or 10))
            ]
            for params in (query, dict(query, status="archived")):
                pages = clients[0].pages_ahead(
                    path,
                    "members",
                    prepare,
                    params=params,
                    count=PAGE_SIZE,
                    clients=clients,
                )
                for _position, page in pages:
                    members.extend(page)
            requests = sum(client.take_request_count() for client in clients)
        return members, requests

    # ----------------------------------------------------------------------- Odoo
    def _partners(self, emails):
        """``sync_review.Contact`` items: the contacts the pull may link (the
        members' addresses), the segment's (invalid addresses too), your companies'
        and internal users' with an address."""
        pairing = self.pairing
        Partner = self.env["res.partner"]
        company = [("company_id", "in", (False, pairing.company_id.id))]
        found = {}  # id: (partner, candidate, in segment)
        for chunk in split_every(EMAILS_PER_QUERY, sorted(emails), list):
            domain = [
                ("email_normalized", "in", chunk),
                ("mailchimp_forgotten", "=", False),
            ]
            if pairing.company_id:
                domain += company
            for partner in Partner.search_fetch(domain, self.read_fields):
                found[partner.id] = [partner, True, False]
        segment = Partner.with_context(active_test=False).search_fetch(
            pairing._segment_domain(), self.read_fields
        )
        invalid = Partner.search_fetch(
            pairing._segment_domain(email=False)
            + [("email", "!=", False), ("email_normalized", "=", False)],
            self.read_fields,
        )
        for partner in segment | invalid:
            found.setdefault(partner.id, [partner, False, False])[2] = True
        internal_domain = [
            ("mailchimp_is_internal", "=", True),
            ("email_normalized", "!=", False),
        ]
        if pairing.company_id:
            internal_domain += company
        internal = Partner.search_fetch(internal_domain, self.read_fields)
        for partner in internal:
            found.setdefault(partner.id, [partner, False, False])
        kinds = internal._mailchimp_internal_kinds()
        partners = Partner.browse(list(found)).with_context(active_test=False)
        blacklisted = self._blacklisted(partners)
        return [
            sync_review.Contact(
                id=partner.id,
                name=partner.name or "",
                email=partner.email,
                email_normalized=partner.email_normalized,
                create_date=partner.create_date,
                in_segment=in_segment,
                candidate=candidate,
                active=partner.active,
                blacklisted=partner.email_normalized in blacklisted,
                internal=kinds.get(partner.id),
            )
            for partner, candidate, in_segment in found.values()
        ]

    def _blacklisted(self, partners):
        """The addresses of ``partners`` on Odoo's email blacklist (the run's
        opt-outs: ``ConsentHooks._opt_out_sql``)."""
        emails = [email for email in partners.mapped("email_normalized") if email]
        Blacklist = self.env["mail.blacklist"].sudo()
        blacklisted = set()
        for chunk in split_every(EMAILS_PER_QUERY, emails, list):
            blacklisted.update(
                Blacklist.search_fetch([("email", "in", chunk)], ["email"]).mapped(
                    "email"
                )
            )
        return blacklisted

    def _forgotten(self, emails):
        """The members' addresses that a contact forgotten in Mailchimp holds."""
        forgotten = set()
        Partner = self.env["res.partner"].with_context(active_test=False)
        for chunk in split_every(EMAILS_PER_QUERY, sorted(emails), list):
            forgotten.update(
                Partner.search_fetch(
                    [
                        ("email_normalized", "in", chunk),
                        ("mailchimp_forgotten", "=", True),
                    ],
                    ["email_normalized"],
                ).mapped("email_normalized")
            )
        return forgotten


class _OdooValues:
    """A contact's mapped values converted as the run converts them
    (``FieldMapPlan``), for ``sync_review.review``."""

    def __init__(self, Partner, maps, ids):
        self.Partner = Partner.with_context(active_test=False)
        self.maps = maps
        self.ids = tuple(ids)  # read together, like a run's chunk

    def _partner(self, contact_id):
        return self.Partner.browse(contact_id).with_prefetch(self.ids)

    def merged(self, contact_id, mailchimp_values):
        """As the pull merges a member with its contact (``PullStep._merge``)."""
        return self.maps.mailchimp_values_checked(
            self._partner(contact_id), [mailchimp_values]
        )

    def refused(self, contact_id):
        """The reasons of the values Mailchimp could not take for a new member
        (``PushStep._plan_contact``, ``_odoo_changes``)."""
        maps = self.maps
        values, errors = maps.mailchimp_values_checked(self._partner(contact_id))
        for tag, value in values.items():
            try:
                maps.sendable(tag, value, None)
            except merge_values.MergeValueError as error:
                spec = maps.by_tag[tag]
                errors[tag] = self.Partner.env._(
                    "%(field)s (%(tag)s): %(reason)s",
                    field=spec.label,
                    tag=tag,
                    reason=error.reason,
                )
        return errors
