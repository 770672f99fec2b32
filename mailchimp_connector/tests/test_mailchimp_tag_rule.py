# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""F13 on real Odoo against the sandbox: tags follow Odoo domains, added and
removed in bulk (static segment members_to_add / members_to_remove)."""

import time
from datetime import timedelta
from unittest.mock import patch

from odoo.exceptions import ValidationError
from odoo.tests import tagged

from ..engine.step import Step
from .common import ALTERNATIVE_BEHAVIOUR, behaviour_variants
from .test_mailchimp_sync_rules import SyncRulesCase


@tagged("post_install", "-at_install")
@behaviour_variants(ALTERNATIVE_BEHAVIOUR)
class TestTagRules(SyncRulesCase):
    def setUp(self):
        super().setUp()
        self.pairing = self.make_pairing(direction="both")

    def add_rule(self, name="VIP", domain="[('function', '=', 'VIP')]", **vals):
        return self.env["mailchimp.tag.rule"].create(
            dict(
                {"pairing_id": self.pairing.id, "name": name, "partner_domain": domain},
                **vals,
            )
        )

    def mc_tagged(self, tag):
        """{email} carrying ``tag`` in Mailchimp, read from the audience's members."""
        return {
            email
            for email, member in self.mailchimp_members().items()
            if tag in [t["name"] for t in member["tags"]]
        }

    def mc_tags(self):
        segments = self.client.get(
            f"/lists/{self.list_id}/segments", params={"type": "static", "count": 1000}
        )["segments"]
        return {segment["name"]: segment for segment in segments}

    def segment_calls(self, method="POST"):
        """Calls of the request log on one tag's members (bulk or per contact)."""
        return [
            call
            for call in self.api_calls()
            if call["method"] == method
            and call["api_path"].startswith(f"/lists/{self.list_id}/segments/")
        ]

    def per_contact_tag_calls(self):
        """Tag writes one contact at a time (member tags, segment members): never."""
        return [
            call
            for call in self.api_calls()
            if call["api_path"].endswith("/tags")
            or ("/segments/" in call["api_path"] and "/members" in call["api_path"])
        ]

    def run_sync(self):
        run = self.pairing.run_sync()
        self.assertRunDone(run)
        return run

    # ------------------------------------------------------------------

    def test_tag_added_and_removed_as_contacts_move(self):
        ann = self.contact("ann@corp.com", function="VIP")
        bob = self.contact("bob@corp.com", function="VIP")
        cat = self.contact("cat@corp.com", function="Staff")
        rule = self.add_rule()
        self.sandbox_control("DELETE", "requests")
        run = self.run_sync()
        self.assertEqual(self.mc_tagged("VIP"), {"ann@corp.com", "bob@corp.com"})
        self.assertEqual((run.tag_added_count, run.tag_removed_count), (2, 0))
        self.assertEqual(rule.member_ids.partner_id, ann | bob)
        self.assertEqual(rule.member_count, 2)
        self.assertTrue(rule.mailchimp_segment_id)
        # one bulk call for both contacts (after
        # the segment was created), none per contact
        self.assertEqual(len(self.segment_calls()), 1)
        self.assertEqual(self.per_contact_tag_calls(), [])

        # Bob leaves the domain, Cat enters it: one call adds and removes
        bob.function = "Staff"
        cat.function = "VIP"
        self.sandbox_control("DELETE", "requests")
        run = self.run_sync()
        self.assertEqual(self.mc_tagged("VIP"), {"ann@corp.com", "cat@corp.com"})
        self.assertEqual((run.tag_added_count, run.tag_removed_count), (1, 1))
        self.assertEqual(rule.member_ids.partner_id, ann | cat)
        self.assertEqual(len(self.segment_calls()), 1)
        self.assertEqual(
            [
                c
                for c in self.api_calls()
                if c["api_path"] == f"/lists/{self.list_id}/segments"
            ],
            [],
            "the tag is known: it is not looked up again",
        )

        # nothing moved: no tag call at all
        self.sandbox_control("DELETE", "requests")
        run = self.run_sync()
        self.assertEqual(self.segment_calls(), [])
        self.assertEqual((run.tag_added_count, run.tag_removed_count), (0, 0))

    def test_bulk_calls_carry_500_contacts_each(self):
        partners = self.contacts(
            [{"email": f"p{i:04d}@corp.com", "function": "VIP"} for i in range(1100)]
        )
        self.add_rule()
        self.sandbox_control("DELETE", "requests")
        run = self.run_sync()
        self.assertEqual(run.tag_added_count, 1100)
        self.assertEqual(len(self.segment_calls()), 3)  # 500 + 500 + 100, not 1,100
        self.assertEqual(self.per_contact_tag_calls(), [])
        self.assertEqual(self.mc_tags()["VIP"]["member_count"], 1100)

        # 600 leave the domain and 2 new contacts enter it: two calls, not 602
        partners[:600].write({"function": "Staff"})
        self.contacts(
            [{"email": f"new{i}@corp.com", "function": "VIP"} for i in range(2)]
        )
        self.sandbox_control("DELETE", "requests")
        run = self.run_sync()
        self.assertEqual((run.tag_added_count, run.tag_removed_count), (2, 600))
        self.assertEqual(len(self.segment_calls()), 2)
        self.assertEqual(self.mc_tags()["VIP"]["member_count"], 502)

    def test_run_cut_off_during_tags_goes_on_where_it_stopped(self):
        self.contacts(
            [{"email": f"p{i:04d}@corp.com", "function": "VIP"} for i in range(1100)]
        )
        self.add_rule()
        # the time budget runs out during the tag step only (after its first call)
        with patch.object(
            Step,
            "_out_of_time",
            lambda step, deadline: step.sync_run.stage == "end",
            create=False,
        ):
            run = self.pairing.run_sync(deadline=time.monotonic() + 3600)
        self.assertEqual(run.state, "running")
        self.assertEqual(run.tag_added_count, 500)
        self.assertEqual(self.mc_tags()["VIP"]["member_count"], 500)
        self.sandbox_control("DELETE", "requests")
        again = self.pairing.run_sync()
        self.assertEqual(again, run, "the same run goes on")
        self.assertRunDone(run)
        self.assertEqual(run.tag_added_count, 1100)
        self.assertEqual(
            len(self.segment_calls()), 2, "what was sent is not sent again"
        )
        self.assertEqual(self.mc_tags()["VIP"]["member_count"], 1100)

    def test_existing_tag_found_whatever_its_case(self):
        self.contact("ann@corp.com", function="VIP")
        self.client.post(
            f"/lists/{self.list_id}/segments",
            json={"name": "vip", "static_segment": []},
        )
        rule = self.add_rule(name="VIP")
        self.run_sync()
        self.assertEqual(list(self.mc_tags()), ["vip"], "no second tag in another case")
        self.assertEqual(rule.mailchimp_segment_id, self.mc_tags()["vip"]["id"])
        self.assertEqual(self.mc_tagged("vip"), {"ann@corp.com"})
        # adopted as it is: not renamed to the rule's case at the next run
        self.sandbox_control("DELETE", "requests")
        self.run_sync()
        self.assertEqual(self.segment_calls("PATCH"), [])
        self.assertEqual(list(self.mc_tags()), ["vip"])
        # two rules for one tag of a sync would fight: refused
        with self.assertRaises(ValidationError):
            self.add_rule(name="Vip ")

    def test_renamed_rule_renames_the_tag(self):
        self.contact("ann@corp.com", function="VIP")
        rule = self.add_rule(name="VIP")
        self.run_sync()
        segment_id = rule.mailchimp_segment_id
        rule.name = "Gold"
        self.sandbox_control("DELETE", "requests")
        self.run_sync()
        self.assertEqual(list(self.mc_tags()), ["Gold"])
        self.assertEqual(rule.mailchimp_segment_id, segment_id)
        self.assertEqual(rule.mailchimp_tag_name, "Gold")
        self.assertEqual(self.mc_tagged("Gold"), {"ann@corp.com"})
        self.assertEqual(len(self.segment_calls("PATCH")), 1)
        self.assertEqual(
            self.segment_calls("POST"), [], "members keep the tag: nothing to send"
        )
        # a name another Mailchimp tag has (in any
        # case): refused, reported, nothing lost
        self.client.post(
            f"/lists/{self.list_id}/segments",
            json={"name": "Silver", "static_segment": []},
        )
        rule.name = "SILVER"
        run = self.run_sync()
        self.assertIn("Tag SILVER", self.failures(run).reason)
        self.assertEqual(self.mc_tagged("Gold"), {"ann@corp.com"})
        self.assertEqual(rule.mailchimp_tag_name, "Gold")

    def test_deleted_or_archived_rule_leaves_the_tag_in_mailchimp(self):
        self.contact("ann@corp.com", function="VIP")
        bob = self.contact("bob@corp.com", function="VIP")
        rule = self.add_rule(name="VIP")
        other = self.add_rule(name="Key", domain="[('function', '=', 'VIP')]")
        self.run_sync()
        rule.active = False
        other.unlink()
        bob.function = "Staff"
        self.sandbox_control("DELETE", "requests")
        self.run_sync()
        self.assertEqual(self.segment_calls(), [])
        self.assertEqual(self.mc_tagged("VIP"), {"ann@corp.com", "bob@corp.com"})
        self.assertEqual(self.mc_tagged("Key"), {"ann@corp.com", "bob@corp.com"})
        # back in use: the rule goes on from what it had tagged
        rule.active = True
        self.run_sync()
        self.assertEqual(self.mc_tagged("VIP"), {"ann@corp.com"})

    def test_tag_deleted_in_mailchimp_is_made_again(self):
        self.contact("ann@corp.com", function="VIP")
        bob = self.contact("bob@corp.com", function="Staff")
        rule = self.add_rule()
        self.run_sync()
        self.client.delete(
            f"/lists/{self.list_id}/segments/{rule.mailchimp_segment_id}"
        )
        # a change: the bulk call finds the tag gone, makes it again and tags everyone
        bob.function = "VIP"
        self.run_sync()
        self.assertEqual(self.mc_tagged("VIP"), {"ann@corp.com", "bob@corp.com"})
        self.client.delete(
            f"/lists/{self.list_id}/segments/{rule.mailchimp_segment_id}"
        )
        # no change: a full run checks the tag still exists
        self.pairing._sync_cursor().last_full_sync_date -= timedelta(
            days=self.pairing.full_sync_days
        )
        run = self.run_sync()
        self.assertTrue(run.full)
        self.assertEqual(self.mc_tagged("VIP"), {"ann@corp.com", "bob@corp.com"})

    def test_contacts_unlinked_or_archived_lose_the_tag(self):
        ann = self.contact("ann@corp.com", function="VIP")
        self.contact("bob@corp.com", function="VIP")
        self.add_rule()
        self.run_sync()
        # an archived contact stays in the sync's segment, and keeps its tag
        ann.action_archive()
        self.run_sync()
        self.assertEqual(self.mc_tagged("VIP"), {"ann@corp.com", "bob@corp.com"})
        # a deleted one is no longer linked to its member: Odoo takes its tag off
        ann.unlink()
        self.run_sync()
        self.assertEqual(self.mc_tagged("VIP"), {"bob@corp.com"})

    def test_tag_error_is_a_failure_and_keeps_the_contacts(self):
        self.contact("ann@corp.com", function="VIP")
        self.add_rule(name="VIP")
        self.add_rule(name="All", domain="[]")
        with self.sandbox_fault(
            status=400, method="POST", path_pattern=r"/segments$", count=1
        ):
            run = self.run_sync()
        # the contact is synced, the first tag
        # failed and is reported, the second went on
        self.assertIn("ann@corp.com", self.mailchimp_members())
        failures = self.failures(run)
        self.assertEqual(len(failures), 1)
        self.assertIn("Tag VIP", failures.reason)
        self.assertEqual(self.mc_tagged("All"), {"ann@corp.com"})
        # the next run makes up for it
        self.run_sync()
        self.assertEqual(self.mc_tagged("VIP"), {"ann@corp.com"})

    def test_address_refused_by_mailchimp_is_reported(self):
        ann = self.contact("ann@corp.com", function="VIP")
        bob = self.contact("bob@corp.com", function="VIP")
        self.run_sync()
        # erased in Mailchimp behind Odoo's back (an incremental run cannot see it)
        member = self.pairing.member_ids.filtered(lambda m: m.partner_id == ann)
        self.client.post(
            f"/lists/{self.list_id}/members/{member.subscriber_hash}/actions/delete-permanent"
        )
        rule = self.add_rule()
        run = self.run_sync()
        failures = self.failures(run)
        self.assertEqual(failures.partner_id, ann)
        self.assertIn("Tag VIP", failures.reason)
        self.assertEqual(rule.member_ids.partner_id, bob)
        self.assertEqual(self.mc_tagged("VIP"), {"bob@corp.com"})

    def test_mailchimp_to_odoo_sync_sends_no_tags(self):
        self.contact("ann@corp.com", function="VIP")
        self.mailchimp_put("ann@corp.com")
        self.pairing.direction = "mailchimp2odoo"
        self.add_rule()
        self.sandbox_control("DELETE", "requests")
        self.run_sync()
        self.assertEqual(self.segment_calls(), [])
        self.assertEqual(self.mc_tags(), {})
