# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The setup's Review: a dry run of the initial sync that reads only, and counts
what the run that follows then does (F8, F9, F10, F16, F32)."""

from collections import Counter

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import tagged

from ..models.mailchimp_pairing import DEFAULT_DOMAIN
from .test_mailchimp_sync_rules import SyncRulesCase

STATUSES = ("subscribed", "pending", "transactional", "unsubscribed", "cleaned")


@tagged("post_install", "-at_install")
class TestSyncReview(SyncRulesCase):
    """A seeded audience (every status, archived, matches, a conflict) and a segment
    with new contacts, an opt-out, duplicates and invalid addresses: the review's
    counts are what the real run does next."""

    def setUp(self):
        super().setUp()
        seed = f"lists/{self.list_id}/seed"
        # member000000..member000011 subscribed, 100..104 unsubscribed,
        # 200..202 cleaned, 300..301 pending; FNAME/LNAME filled
        for status, start, count in (
            ("subscribed", 0, 12),
            ("unsubscribed", 100, 5),
            ("cleaned", 200, 3),
            ("pending", 300, 2),
        ):
            self.sandbox_control(
                "POST",
                seed,
                {
                    "count": count,
                    "status": status,
                    "start": start,
                    "merge_fields": {"FNAME": "Seed{n}", "LNAME": "Member"},
                },
            )
        # archived in Mailchimp: one a contact has, one nobody has
        for n in (10, 11):
            self.client.delete(self.member_path(self.seed_email(n)))
        self.owner_vals = {"create_missing": True, "default_owner_id": self.owner.id}
        # the segment: tagged contacts
        self.new = self.contacts(
            [{"email": f"new{i}@corp.com", "name": f"New {i}"} for i in range(4)]
        )
        self.optout = self.contact("optout@corp.com", "Opted Out")
        self.env["mail.blacklist"].sudo()._add("optout@corp.com")
        self.dup_old, self.dup_new = self.contacts(
            [
                {"email": "dup@corp.com", "name": "Dup Old"},
                {"email": "DUP@corp.com", "name": "Dup New"},
            ]
        )
        self.set_create_date(self.dup_old, 30)
        self.invalid = self.contacts(
            [
                {"email": "not-an-address", "name": "No Address"},
                {"email": "john@localhost", "name": "No Domain"},
            ]
        )
        # contacts with the members' addresses: in the segment (a conflict: Odoo's
        # name is another), outside it, an unsubscribed and an archived one
        self.matched = self.contacts(
            [
                {"email": self.seed_email(0), "name": "Other Member"},
                {"email": self.seed_email(1), "name": "Seed1 Member"},
                {"email": self.seed_email(100), "name": "Seed100 Member"},
                {"email": self.seed_email(10), "name": "Seed10 Member"},
            ]
        )
        self.outside = self.env["res.partner"].create(
            {"name": "Seed2 Member", "email": self.seed_email(2)}
        )

    @staticmethod
    def seed_email(n):
        return f"member{n:06d}@seed-mail.com"

    def review(self, pairing):
        action = pairing.action_review()
        self.assertEqual(action["res_model"], "mailchimp.sync.review")
        self.assertEqual(action["target"], "new")
        return self.env["mailchimp.sync.review"].browse(action["res_id"])

    def outcome(self, pairing, run, partners_before, members_before):
        """What the run did, read from both sides."""
        Partner = self.env["res.partner"].with_context(active_test=False)
        created = Partner.search([("id", "not in", partners_before.ids)])
        members = pairing.member_ids
        new_members = {
            email: member
            for email, member in self.mailchimp_members().items()
            if email not in members_before
        }
        failures = run.failure_ids
        return {
            "created": Counter(
                members.filtered(lambda m: m.partner_id in created).mapped("status")
            ),
            "added": Counter(member["status"] for member in new_members.values()),
            # members Mailchimp had, linked to contacts Odoo had
            "linked": len(
                members.filtered(
                    lambda m: m.partner_id in partners_before
                    and m.email in members_before
                )
            ),
            "duplicates": len(
                failures.filtered(
                    lambda f: f.kind == "skipped" and f.reason.startswith("duplicate")
                )
            ),
            "invalid": len(
                failures.filtered(lambda f: "not a valid email" in (f.reason or ""))
            ),
            "unlinked": Counter(
                member["status"]
                for email, member in members_before.items()
                if email not in members.mapped("email")
            ),
        }

    def assertReviewIsTheRun(self, review, outcome):
        self.assertEqual(
            outcome["created"],
            Counter(
                {
                    status: review[f"create_{status}_count"]
                    for status in STATUSES
                    if review[f"create_{status}_count"]
                }
            ),
        )
        self.assertEqual(
            outcome["added"],
            Counter(
                {
                    status: review[f"add_{status}_count"]
                    for status in ("subscribed", "pending", "unsubscribed")
                    if review[f"add_{status}_count"]
                }
            ),
        )
        self.assertEqual(outcome["linked"], review.link_count)
        self.assertEqual(outcome["duplicates"], review.duplicate_count)
        self.assertEqual(outcome["invalid"], review.invalid_count)

    def run_after_review(self, pairing):
        Partner = self.env["res.partner"].with_context(active_test=False)
        partners_before = Partner.search([])
        members_before = {
            email: member for email, member in self.mailchimp_members().items()
        }
        members_before.update(self.mc_archived())
        run = pairing.run_sync()
        self.assertRunDone(run)
        return run, self.outcome(pairing, run, partners_before, members_before)

    def test_review_counts_what_the_run_then_does(self):
        pairing = self.make_pairing(state="draft", **self.owner_vals)
        review = self.review(pairing)
        # Mailchimp: 22 members and 2 archived, read; 4 matched by address (one
        # archived), the unsubscribed and cleaned ones left out by default
        self.assertEqual(review.members_count, 22)
        self.assertEqual(
            (
                review.members_subscribed_count,
                review.members_unsubscribed_count,
                review.members_cleaned_count,
                review.members_pending_count,
                review.members_archived_count,
            ),
            (10, 5, 3, 2, 2),
        )
        self.assertEqual((review.link_count, review.link_archived_count), (5, 1))
        self.assertEqual(
            (review.create_subscribed_count, review.create_pending_count), (7, 2)
        )
        self.assertEqual(review.created_count, 9)
        self.assertEqual(
            (
                review.skip_unsubscribed_count,
                review.skip_cleaned_count,
                review.skip_archived_count,
            ),
            (4, 3, 1),
        )
        self.assertEqual((review.conflict_count, review.conflict_fields_count), (1, 1))
        # Odoo: 4 new and the oldest of two duplicates, the opt-out as
        # unsubscribed, the other duplicate, 2 invalid
        self.assertEqual(review.add_subscribed_count, 5)
        self.assertEqual(review.add_unsubscribed_count, 1)
        self.assertEqual(review.added_count, 6)
        self.assertEqual(review.in_audience_count, 4)
        self.assertEqual(review.duplicate_count, 1)
        self.assertEqual(review.invalid_count, 2)
        # samples, each with what the sync does
        self.assertEqual(review.duplicate_line_ids.partner_id, self.dup_new)
        self.assertIn("Dup Old", review.duplicate_line_ids.detail)
        self.assertEqual(review.invalid_line_ids.partner_id, self.invalid)
        self.assertEqual(review.conflict_line_ids.partner_id, self.matched[0])
        self.assertIn("FNAME", review.conflict_line_ids.detail)
        self.assertEqual(
            set(review.skip_line_ids.mapped("status")),
            {"unsubscribed", "cleaned", "archived"},
        )
        self.assertEqual(
            review.add_line_ids.filtered(
                lambda line: line.status == "unsubscribed"
            ).partner_id,
            self.optout,
        )
        self.assertEqual(len(review.create_line_ids), 9)

        run, outcome = self.run_after_review(pairing)
        self.assertReviewIsTheRun(review, outcome)
        # a first sync: the review's conflicts are differences the rule settles,
        # not changes on both sides since a last sync
        self.assertEqual(run.first_sync_diff_count, review.conflict_fields_count)
        self.assertEqual(run.conflict_count, 0)
        self.assertEqual(
            outcome["unlinked"],
            Counter({"unsubscribed": 4, "cleaned": 3, "archived": 1}),
        )

    def test_option_creates_unsubscribed_and_cleaned_members_too(self):
        pairing = self.make_pairing(
            state="draft",
            create_unsubscribed=True,
            create_cleaned=True,
            **self.owner_vals,
        )
        review = self.review(pairing)
        self.assertEqual(
            (review.create_unsubscribed_count, review.create_cleaned_count), (4, 3)
        )
        self.assertEqual(review.created_count, 16)
        self.assertEqual(review.skip_unsubscribed_count + review.skip_cleaned_count, 0)
        run, outcome = self.run_after_review(pairing)
        self.assertReviewIsTheRun(review, outcome)
        self.assertEqual(outcome["unlinked"], Counter({"archived": 1}))

    def test_option_changed_in_the_review_is_the_syncs(self):
        pairing = self.make_pairing(state="draft", **self.owner_vals)
        review = self.review(pairing)
        review.create_cleaned = True
        recounted = self.env["mailchimp.sync.review"].browse(
            review.action_recount()["res_id"]
        )
        self.assertTrue(pairing.create_cleaned)
        self.assertFalse(pairing.create_unsubscribed)
        self.assertEqual(
            (recounted.create_cleaned_count, recounted.create_unsubscribed_count),
            (3, 0),
        )
        run, outcome = self.run_after_review(pairing)
        self.assertEqual(outcome["created"]["cleaned"], 3)
        self.assertNotIn("unsubscribed", outcome["created"])

    def test_later_runs_follow_the_option(self):
        pairing = self.make_pairing(**self.owner_vals)
        self.assertRunDone(pairing.run_sync())
        Partner = self.env["res.partner"]
        self.assertFalse(Partner.search([("email", "=", self.seed_email(103))]))
        self.mailchimp_put("late@corp.com", "unsubscribed", FNAME="Late")
        self.assertRunDone(pairing.run_sync())
        self.assertFalse(Partner.search([("email", "=", "late@corp.com")]))
        pairing.create_unsubscribed = True
        self.mailchimp_put("later@corp.com", "unsubscribed", FNAME="Later")
        self.assertRunDone(pairing.run_sync())
        self.assertTrue(Partner.search([("email", "=", "later@corp.com")]))

    def test_review_writes_nothing_and_reads_only(self):
        pairing = self.make_pairing(state="draft", **self.owner_vals)
        Partner = self.env["res.partner"].with_context(active_test=False)
        partners = Partner.search_count([])
        self.sandbox_control("DELETE", "requests")
        review = self.review(pairing)
        self.assertEqual(review.members_count, 22)
        calls = self.api_calls()
        self.assertTrue(calls)
        self.assertEqual({call["method"] for call in calls}, {"GET"})
        self.assertEqual(len(calls), review.request_count)
        # 1,000 members a page, only the fields the run compares
        for call in calls:
            self.assertEqual(call["api_path"], f"/lists/{self.list_id}/members")
            query = {k: str(v) for k, v in call["query"].items()}
            self.assertIn("1000", query["count"])
            self.assertIn("members.email_address", query["fields"])
            self.assertNotIn("members.last_changed", query["fields"])
        self.assertEqual(Partner.search_count([]), partners)
        self.assertFalse(pairing.member_ids)
        self.assertFalse(pairing.run_ids)
        self.assertFalse(self.env["mailchimp.sync.failure"].search([]))
        self.assertFalse(pairing.initial_done)
        self.assertFalse(pairing.mailchimp_watermark)
        self.assertEqual(pairing.state, "draft")

    def test_only_mailchimp_administrators_review(self):
        pairing = self.make_pairing(state="draft", **self.owner_vals)
        with self.assertRaises(AccessError):
            pairing.with_user(self.owner).action_review()
        self.assertFalse(
            self.env["mailchimp.sync.review"].with_user(self.owner).has_access("read")
        )

    def test_start_sync_from_the_review(self):
        pairing = self.make_pairing(state="draft", **self.owner_vals)
        pairing.setup_step = "mapping"
        action = pairing.action_setup_next()
        self.assertEqual(pairing.setup_step, "review")
        review = self.env["mailchimp.sync.review"].browse(action["res_id"])
        self.assertEqual(review.pairing_id, pairing)
        result = review.action_start_sync()
        self.assertEqual(pairing.state, "active")
        self.assertTrue(pairing.sync_requested)
        self.assertEqual(
            result["params"]["next"]["type"], "ir.actions.act_window_close"
        )


@tagged("post_install", "-at_install")
class TestDefaultSegment(SyncRulesCase):
    """The default segment leaves out your companies and internal users; the
    review lists them."""

    def setUp(self):
        super().setUp()
        self.company_partner = self.env.company.partner_id
        self.company_partner.write(
            {"email": "info@ourcompany.com", "category_id": [Command.link(self.tag.id)]}
        )
        self.admin_partner = self.env.ref("base.user_admin").partner_id
        self.admin_partner.write(
            {
                "email": "admin@ourcompany.com",
                "category_id": [Command.link(self.tag.id)],
            }
        )
        self.customer = self.contact("customer@corp.com", "A Customer")

    def test_default_segment_leaves_out_the_company_and_internal_users(self):
        Pairing = self.env["mailchimp.pairing"]
        default = Pairing.default_get(["partner_domain"])["partner_domain"]
        self.assertEqual(default, DEFAULT_DOMAIN)
        pairing = self.make_pairing(state="draft", partner_domain=default)
        review = self.review(pairing)
        self.assertEqual(review.internal_in_segment_count, 0)
        left_out = review.internal_line_ids.filtered(
            lambda line: line.partner_id in (self.company_partner | self.admin_partner)
        )
        self.assertEqual(left_out.partner_id, self.company_partner | self.admin_partner)
        self.assertIn(
            "One of your companies: left out of the segment",
            left_out.filtered(
                lambda line: line.partner_id == self.company_partner
            ).detail,
        )
        self.assertIn(
            "An internal user: left out of the segment",
            left_out.filtered(
                lambda line: line.partner_id == self.admin_partner
            ).detail,
        )
        self.assertEqual(review.added_count, 1)
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(list(self.mailchimp_members()), ["customer@corp.com"])

    def test_a_segment_that_takes_them_is_warned_about(self):
        pairing = self.make_pairing(
            state="draft", partner_domain="[('email', '!=', False)]"
        )
        review = self.review(pairing)
        self.assertEqual(review.internal_in_segment_count, 2)
        self.assertEqual(
            review.internal_line_ids.filtered(
                lambda line: "in the segment" in line.detail
            ).partner_id,
            self.company_partner | self.admin_partner,
        )
        self.assertEqual(review.added_count, 3)

    def test_internal_flag_searches_company_and_internal_users(self):
        Partner = self.env["res.partner"]
        internal = Partner.search([("mailchimp_is_internal", "=", True)])
        self.assertIn(self.company_partner, internal)
        self.assertIn(self.admin_partner, internal)
        self.assertNotIn(self.customer, internal)
        self.assertNotIn(
            self.owner.partner_id,
            Partner.search([("mailchimp_is_internal", "=", False)]),
        )
        self.assertIn(
            self.customer, Partner.search([("mailchimp_is_internal", "=", False)])
        )
        self.assertTrue(self.admin_partner.mailchimp_is_internal)
        self.assertFalse(self.customer.mailchimp_is_internal)

    def test_upgrade_gives_the_old_default_segment_the_new_one(self):
        old = self.make_pairing(name="Old", partner_domain='[("email", "!=", False)]')
        mine = self.make_pairing(
            name="Mine", partner_domain="[('is_company', '=', True)]"
        )
        self.env["mailchimp.pairing"]._upgrade_default_domain()
        (old | mine).invalidate_recordset(["partner_domain"])
        self.assertIn("mailchimp_is_internal", old.partner_domain)
        self.assertEqual(mine.partner_domain, "[('is_company', '=', True)]")

    def review(self, pairing):
        action = pairing.action_review()
        return self.env["mailchimp.sync.review"].browse(action["res_id"])
