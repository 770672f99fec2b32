# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""A contact's life in Odoo and its Mailchimp members: merged (one member per
audience on the survivor, activity and consents moved), deleted (unlinked, nothing
deleted in Mailchimp), archived (the member as it was); on real Odoo against the
sandbox."""

from odoo import fields
from odoo.tests import tagged

from .test_mailchimp_contact_optout import ContactOptOutCase


class LifecycleCase(ContactOptOutCase):
    def merge(self, partners, survivor):
        """Odoo's Merge wizard, as an administrator runs it."""
        wizard = self.env["base.partner.merge.automatic.wizard"].create({})
        self.env.flush_all()
        self.sandbox_control("DELETE", "requests")
        wizard._merge(partners.ids, survivor)
        self.env.invalidate_all()
        self.assertEqual(self.api_calls(), [], "the merge sends nothing")

    def activity(self, partner):
        campaign = self.env["mailchimp.campaign"].create(
            {
                "account_id": self.account.id,
                "mailchimp_campaign_id": f"c-{partner.id}",
                "audience_id": self.audience.id,
            }
        )
        return self.env["mailchimp.activity"].create(
            {
                "partner_id": partner.id,
                "campaign_id": campaign.id,
                "action": "open",
                "timestamp": fields.Datetime.now(),
                "event_key": f"open-{partner.id}",
            }
        )

    def consent(self, member, audience):
        permission = self.env["mailchimp.marketing.permission"].create(
            {
                "audience_id": audience.id,
                "marketing_permission_id": f"p{member.id}",
                "name": "Email",
            }
        )
        return self.env["mailchimp.member.consent"].create(
            {"member_id": member.id, "permission_id": permission.id, "enabled": True}
        )

    def statuses(self, list_id=None):
        list_id = list_id or self.list_id
        return {
            member["email_address"]: member["status"]
            for member in self.client.paginate(f"/lists/{list_id}/members", "members")
        }


@tagged("post_install", "-at_install")
class TestPartnerMerge(LifecycleCase):
    def test_same_audience_different_emails_keeps_the_survivors_member(self):
        ann, ann2 = self.contacts(
            [{"email": "ann@corp.com"}, {"email": "ann.smith@corp.com"}]
        )
        pairing = self.make_pairing()
        self.assertRunDone(pairing.run_sync())
        kept = pairing.member_ids.filtered(lambda m: m.partner_id == ann)
        other = pairing.member_ids.filtered(lambda m: m.partner_id == ann2)
        consent = self.consent(other, self.audience)
        opened = self.activity(ann2)
        self.merge(ann | ann2, ann)
        self.assertFalse(ann2.exists())
        self.assertEqual(kept.partner_id, ann)
        self.assertTrue(other.exists(), "unlinked in Odoo, not deleted")
        self.assertFalse(other.partner_id)
        self.assertEqual(ann.mailchimp_member_ids, kept)
        # the other member's consent stays with it: it is that address's
        self.assertEqual(consent.member_id, other)
        self.assertFalse(consent.partner_id)
        self.assertEqual(opened.partner_id, ann)
        note = self.notes(ann, "Merged contacts:")
        self.assertIn("ann.smith@corp.com", note.body)
        self.assertIn("Newsletter", note.body)
        # both members left in Mailchimp as they were; the next runs add nobody
        self.next_second()
        self.sandbox_control("DELETE", "requests")
        for full in (False, True):
            self.assertRunDone(pairing.run_sync(full=full))
        self.assertEqual(
            self.statuses(),
            {"ann@corp.com": "subscribed", "ann.smith@corp.com": "subscribed"},
        )
        self.assertFalse(
            [c for c in self.api_calls() if c["method"] in ("DELETE", "POST", "PUT")]
        )
        self.assertEqual(len(pairing.member_ids), 2)
        self.assertEqual(self.partners_with_email("ann.smith@corp.com"), ann.browse())

    def test_different_audiences_move_to_the_survivor_with_consents(self):
        ann, ann2 = self.contacts(
            [{"email": "ann@corp.com"}, {"email": "ann.smith@corp.com"}]
        )
        pairing = self.make_pairing(partner_domain="[('id', '=', %d)]" % ann.id)
        audience, other_pairing = self.second_audience()
        other_pairing.partner_domain = "[('id', '=', %d)]" % ann2.id
        self.assertRunDone(pairing.run_sync())
        self.assertRunDone(other_pairing.run_sync())
        moved = other_pairing.member_ids
        self.assertEqual(moved.partner_id, ann2)
        consent = self.consent(moved, audience)
        opened = self.activity(ann2)
        self.merge(ann | ann2, ann)
        self.assertEqual(moved.partner_id, ann)
        self.assertEqual(consent.partner_id, ann)
        self.assertEqual(opened.partner_id, ann)
        self.assertEqual(ann.mailchimp_member_ids.audience_id, self.audience | audience)
        self.assertFalse(self.notes(ann, "unlinked"))

    def test_activity_lines_follow_the_merge_one_per_campaign(self):
        """Both contacts had a line for one campaign: the survivor has one, saying
        what all the events now its own say."""
        ann, ann2 = self.contacts(
            [{"email": "ann@corp.com"}, {"email": "ann.smith@corp.com"}]
        )
        campaign = self.env["mailchimp.campaign"].create(
            {
                "account_id": self.account.id,
                "mailchimp_campaign_id": "c-merge",
                "title": "Merge sale",
                "audience_id": self.audience.id,
            }
        )
        Activity = self.env["mailchimp.activity"]
        now = fields.Datetime.now().replace(microsecond=0)
        for partner, action in ((ann, "open"), (ann2, "open"), (ann2, "click")):
            Activity._insert_staged(
                campaign,
                [
                    (
                        partner.id,
                        "\t".join(
                            [
                                action,
                                "\\N",
                                "https://shop.example.com/x"
                                if action == "click"
                                else "\\N",
                                now.isoformat(),
                                f"{partner.id}-{action}",
                                "",
                            ]
                        ),
                    )
                ],
            )
        self.merge(ann | ann2, ann)
        summary = self.env["mailchimp.activity.summary"].search(
            [("campaign_id", "=", campaign.id)]
        )
        self.assertEqual(summary.partner_id, ann)
        self.assertEqual((summary.open_count, summary.click_count), (2, 1))
        lines = self.env["mail.message"].search(
            [
                ("model", "=", "res.partner"),
                ("res_id", "=", ann.id),
                ("body", "ilike", "Merge sale"),
            ]
        )
        self.assertEqual(lines, summary.message_id)
        self.assertIn("opened 2×", lines.body)

    def test_merge_into_a_forgotten_contact_links_nothing(self):
        ann, ann2 = self.contacts(
            [{"email": "ann@corp.com"}, {"email": "ann.smith@corp.com"}]
        )
        pairing = self.make_pairing()
        self.assertRunDone(pairing.run_sync())
        self.forget(ann)
        self.merge(ann | ann2, ann)
        self.assertTrue(ann.mailchimp_forgotten)
        self.assertFalse(ann.mailchimp_member_ids)
        self.assertEqual(self.statuses(), {"ann.smith@corp.com": "subscribed"})

    def test_a_forgotten_merged_contact_makes_the_survivor_forgotten(self):
        ann, ann2 = self.contacts(
            [{"email": "ann@corp.com"}, {"email": "ann.smith@corp.com"}]
        )
        self.assertRunDone(self.make_pairing().run_sync())
        self.forget(ann2)
        self.merge(ann | ann2, ann)
        self.assertTrue(ann.mailchimp_forgotten)
        self.assertTrue(ann.mailchimp_forgotten_date)
        # its own member is unlinked (reported), left in Mailchimp as it is
        self.assertFalse(ann.mailchimp_member_ids)
        self.assertEqual(self.statuses(), {"ann@corp.com": "subscribed"})


@tagged("post_install", "-at_install")
class TestPartnerDeleteAndArchive(LifecycleCase):
    def test_deleting_a_contact_unlinks_and_deletes_nothing_in_mailchimp(self):
        ann, bob = self.contacts([{"email": "ann@corp.com"}, {"email": "bob@corp.com"}])
        pairing = self.make_pairing(create_missing=True, default_owner_id=self.owner.id)
        self.assertRunDone(pairing.run_sync())
        member = pairing.member_ids.filtered(lambda m: m.partner_id == ann)
        self.sandbox_control("DELETE", "requests")
        ann.unlink()
        self.assertEqual(self.api_calls(), [])
        self.assertTrue(member.exists())
        self.assertFalse(member.partner_id)
        self.assertEqual(member.status, "subscribed")
        # the next runs neither delete it in Mailchimp nor make a contact of it again
        self.next_second()
        for full in (False, True):
            run = pairing.run_sync(full=full)
            self.assertRunDone(run)
            self.assertEqual(run.created_count, 0)
        self.assertEqual(
            self.statuses(),
            {"ann@corp.com": "subscribed", "bob@corp.com": "subscribed"},
        )
        self.assertFalse(self.partners_with_email("ann@corp.com"))
        self.assertFalse(
            [c for c in self.api_calls() if c["method"] in ("DELETE", "POST", "PUT")]
        )

    def test_archiving_a_contact_keeps_the_member_as_it_is(self):
        ann = self.contact("ann@corp.com")
        pairing = self.make_pairing()
        self.assertRunDone(pairing.run_sync())
        member = pairing.member_ids
        self.sandbox_control("DELETE", "requests")
        ann.action_archive()
        self.assertEqual(self.api_calls(), [])
        self.next_second()
        for full in (False, True):
            self.assertRunDone(pairing.run_sync(full=full))
        self.assertEqual(member.partner_id, ann)
        self.assertEqual(member.status, "subscribed")
        self.assertEqual(self.statuses(), {"ann@corp.com": "subscribed"})
        self.assertFalse(
            [c for c in self.api_calls() if c["method"] in ("DELETE", "POST", "PUT")]
        )
