# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The sync rules, one scenario each, on real Odoo against the sandbox.

Matching (F9), Odoo -> Mailchimp (F16, F18, F11), Mailchimp -> Odoo (F8, F15,
F16, F17, F18), a deleted audience (F17), conflicts (F10) and the hub's
actions (F23-F25, F28, F33).
"""

import csv
import io
import time
from collections import deque
from datetime import timedelta
from unittest.mock import patch

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import HttpCase, new_test_user, tagged

from ..engine import scheduler
from ..utils.mailchimp_errors import MailchimpNotFoundError
from ..utils.mailchimp_keys import subscriber_hash
from ..utils.sync_rules import mark_second, mark_text
from .common import ALTERNATIVE_BEHAVIOUR, MailchimpSyncCase, behaviour_variants


class SyncRulesCase(MailchimpSyncCase):
    """Pairings on a tagged segment, and readable helpers on both sides."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tag = cls.env["res.partner.category"].create(
            {"name": "Mailchimp sync test"}
        )
        cls.owner = new_test_user(
            cls.env,
            login="mc_owner",
            name="Owner Salesperson",
            groups="base.group_user,mailchimp_connector.group_mailchimp_user",
            context={"no_reset_password": True},
        )

    # -- Odoo side -----------------------------------------------------------

    def make_pairing(self, **vals):
        vals.setdefault("partner_domain", "[]")
        vals.setdefault("partner_tag_id", self.tag.id)
        return super().make_pairing(**vals)

    def contact(self, email, name=None, **vals):
        """A contact of the test segment (tagged)."""
        return self.contacts([dict({"email": email, "name": name}, **vals)])

    def contacts(self, vals_list):
        return self.env["res.partner"].create(
            [
                dict(
                    vals,
                    name=vals.get("name") or vals["email"].strip().split("@")[0],
                    category_id=[Command.link(self.tag.id)],
                )
                for vals in vals_list
            ]
        )

    def set_create_date(self, partner, days_ago):
        self.env.cr.execute(
            "UPDATE res_partner SET create_date = %s WHERE id = %s",
            (fields.Datetime.now() - timedelta(days=days_ago), partner.id),
        )
        partner.invalidate_recordset(["create_date"])

    def partners_with_email(self, email):
        return (
            self.env["res.partner"]
            .with_context(active_test=False)
            .search([("email_normalized", "=", email)])
        )

    def failures(self, run, kind=None):
        return run.failure_ids.filtered(lambda f: not kind or f.kind == kind)

    def assertRunDone(self, run):
        self.assertTrue(run, "the sync did not run")
        self.assertEqual(run.state, "done", run.message)

    def assertEveryContactOnce(self, pairing, partners):
        """Each contact is one member in Mailchimp and one member record in Odoo."""
        members = self.mailchimp_members()
        self.assertEqual(sorted(members), sorted(partners.mapped("email_normalized")))
        self.assertEqual(len(pairing.member_ids), len(partners))
        self.assertEqual(pairing.member_ids.partner_id, partners)
        self.assertEqual(
            len(set(pairing.member_ids.mapped("subscriber_hash"))), len(partners)
        )

    # -- Mailchimp side --------------------------------------------------------

    def member_path(self, email):
        return f"/lists/{self.list_id}/members/{subscriber_hash(email)}"

    def mc_member(self, email):
        """The member as the API shows it (archived ones too), or None."""
        try:
            return self.client.get(self.member_path(email))
        except MailchimpNotFoundError:
            return None

    def mc_archived(self):
        return {
            member["email_address"]: member
            for member in self.client.paginate(
                f"/lists/{self.list_id}/members",
                "members",
                params={"status": "archived"},
            )
        }

    def member_action(self, email, action, **extra):
        return self.sandbox_control(
            "POST",
            f"lists/{self.list_id}/member-action",
            dict({"email": email, "action": action, "source": "user"}, **extra),
        )

    def add_merge_field(self, tag, field_type, **extra):
        self.client.post(
            f"/lists/{self.list_id}/merge-fields",
            json=dict({"tag": tag, "name": tag.title(), "type": field_type}, **extra),
        )
        self.env["mailchimp.audience"]._sync_from_mailchimp(self.account)
        return self.audience.merge_field_ids.filtered(lambda f: f.tag == tag)

    def member_gets(self):
        """The members GETs of the request log (the pulls)."""
        return [
            call
            for call in self.api_calls()
            if call["method"] == "GET"
            and call["api_path"] == f"/lists/{self.list_id}/members"
        ]

    @staticmethod
    def next_second():
        """Mailchimp's last_changed has a one-second grain: start a new second."""
        time.sleep(1.02 - time.time() % 1)


@tagged("post_install", "-at_install")
@behaviour_variants(ALTERNATIVE_BEHAVIOUR)
class TestSyncMatching(SyncRulesCase):
    """F9: the normalised email is the only key; duplicates get one winner."""

    def test_match_by_normalized_email_only(self):
        ann = self.contact("  Ann.Smith@Corp.COM ", "Ann Smith")
        bob = self.contact("bob@corp.com", "Bob Jones")
        # same address in another case: the same
        # member; same name, other address: not a match
        self.mailchimp_put("ANN.SMITH@corp.com", FNAME="Ann", LNAME="Smith")
        self.mailchimp_put("bob.jones@corp.com", FNAME="Bob", LNAME="Jones")
        pairing = self.make_pairing(create_missing=True, default_owner_id=self.owner.id)
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(len(self.partners_with_email("ann.smith@corp.com")), 1)
        member = pairing.member_ids.filtered(lambda m: m.email == "ann.smith@corp.com")
        self.assertEqual(member.partner_id, ann)
        self.assertEqual(member.subscriber_hash, subscriber_hash("ann.smith@corp.com"))
        # Odoo's duplicate rules (same name) are not applied: Bob Jones of Mailchimp is
        # another address, so another contact; the Odoo Bob is pushed as a new member
        created = self.partners_with_email("bob.jones@corp.com")
        self.assertEqual(len(created), 1)
        self.assertNotEqual(created, bob)
        self.assertEqual(created.name, "Bob Jones")
        self.assertEqual(pairing.member_ids.partner_id, ann | bob | created)
        self.assertEqual(
            sorted(self.mailchimp_members()),
            ["ANN.SMITH@corp.com", "bob.jones@corp.com", "bob@corp.com"],
        )
        # one contact in Odoo, one member in Mailchimp
        self.assertEqual(run.created_count, 2)

    def test_duplicate_emails_one_deterministic_winner(self):
        first, second, third = self.contacts(
            [
                {"email": "dup@corp.com", "name": "First Dup"},
                {"email": " DUP@corp.com", "name": "Second Dup"},
                {"email": "dup@Corp.com ", "name": "Third Dup"},
            ]
        )
        self.set_create_date(first, 5)
        self.set_create_date(second, 10)  # the oldest wins, not the lowest id
        self.set_create_date(third, 1)
        pairing = self.make_pairing(direction="odoo2mailchimp")
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(pairing.member_ids.partner_id, second)
        self.assertEqual(
            self.mailchimp_members()["dup@corp.com"]["merge_fields"]["FNAME"], "Second"
        )
        skipped = self.failures(run, "skipped")
        self.assertEqual(skipped.partner_id, first | third)
        self.assertEqual(run.skipped_count, 2)
        for failure in skipped:
            self.assertEqual(failure.direction, "odoo2mailchimp")
            self.assertIn("duplicate email", failure.reason)
            self.assertIn(f"#{second.id}", failure.reason)

        # an even older duplicate appears later: the linked contact stays the winner
        self.set_create_date(first, 30)
        first.name = "First Changed"
        second.name = "Second Changed"
        run2 = pairing.run_sync()
        self.assertRunDone(run2)
        self.assertEqual(pairing.member_ids.partner_id, second)
        self.assertEqual(self.failures(run2, "skipped").partner_id, first | third)
        self.assertEqual(len(self.mailchimp_members()), 1)
        self.assertEqual(
            self.mailchimp_members()["dup@corp.com"]["merge_fields"]["FNAME"], "Second"
        )
        self.assertEqual(
            self.mailchimp_members()["dup@corp.com"]["merge_fields"]["LNAME"], "Changed"
        )

    def test_duplicate_emails_on_pull_are_reported(self):
        self.mailchimp_put("twin@corp.com", FNAME="Twin", LNAME="Member")
        young, old = self.contacts(
            [
                {"email": "twin@corp.com", "name": "Young Twin"},
                {"email": "Twin@corp.com", "name": "Old Twin"},
            ]
        )
        self.set_create_date(old, 3)
        pairing = self.make_pairing(
            direction="mailchimp2odoo",
            create_missing=True,
            default_owner_id=self.owner.id,
            conflict_winner="mailchimp",
        )
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(pairing.member_ids.partner_id, old)
        self.assertEqual(old.name, "Twin Member")
        self.assertEqual(young.name, "Young Twin")
        # none created
        self.assertEqual(len(self.partners_with_email("twin@corp.com")), 2)
        skipped = self.failures(run, "skipped")
        self.assertEqual(skipped.partner_id, young)
        self.assertEqual(skipped.direction, "mailchimp2odoo")
        self.assertIn(f"#{old.id}", skipped.reason)


@tagged("post_install", "-at_install")
@behaviour_variants(ALTERNATIVE_BEHAVIOUR)
class TestSyncOdooToMailchimp(SyncRulesCase):
    """F16, F18, F11: what Odoo sends, and what it never sends."""

    def test_new_members_get_status_if_new_subscribed(self):
        self.contacts([{"email": f"sub{i}@corp.com"} for i in range(3)])
        pairing = self.make_pairing(direction="odoo2mailchimp")
        self.assertRunDone(pairing.run_sync())
        members = self.mailchimp_members()
        self.assertEqual(len(members), 3)
        self.assertEqual({m["status"] for m in members.values()}, {"subscribed"})
        self.assertEqual(set(pairing.member_ids.mapped("status")), {"subscribed"})

    def test_new_members_pending_with_double_opt_in(self):
        self.contacts([{"email": f"optin{i}@corp.com"} for i in range(3)])
        pairing = self.make_pairing(direction="odoo2mailchimp", double_opt_in=True)
        self.assertRunDone(pairing.run_sync())
        members = self.mailchimp_members()
        self.assertEqual(len(members), 3)
        self.assertEqual({m["status"] for m in members.values()}, {"pending"})
        self.assertEqual(set(pairing.member_ids.mapped("status")), {"pending"})

    def test_existing_status_is_never_sent(self):
        self.mailchimp_put("una@corp.com", "unsubscribed", FNAME="Una")
        self.mailchimp_put("cleo@corp.com", FNAME="Cleo")
        self.member_action("cleo@corp.com", "cleaned")
        self.mailchimp_put("flag@corp.com", FNAME="Flag")
        self.sandbox_control(
            "POST",
            f"lists/{self.list_id}/compliance",
            {"email": "flag@corp.com", "flagged": True},
        )
        una, cleo, flag = self.contacts(
            [
                {"email": "una@corp.com", "name": "Una Unsub"},
                {"email": "cleo@corp.com", "name": "Cleo Cleaned"},
                {"email": "flag@corp.com", "name": "Flag Review"},
            ]
        )
        pairing = self.make_pairing(double_opt_in=False)
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(run.failed_count, 0, run.failure_ids.mapped("reason"))
        statuses = {m.email: m.status for m in pairing.member_ids}
        self.assertEqual(
            statuses,
            {
                "una@corp.com": "unsubscribed",
                "cleo@corp.com": "cleaned",
                "flag@corp.com": "subscribed",
            },
        )
        # the merge fields change in Odoo: they are sent, the status is not
        una.name = "Una Renamed"
        cleo.name = "Cleo Renamed"
        flag.name = "Flag Renamed"
        run2 = pairing.run_sync()
        self.assertRunDone(run2)
        self.assertEqual(run2.failed_count, 0, run2.failure_ids.mapped("reason"))
        for email, status in statuses.items():
            member = self.mc_member(email)
            self.assertEqual(member["status"], status, email)
            self.assertEqual(member["merge_fields"]["LNAME"], "Renamed", email)
        self.assertEqual(len(self.mailchimp_members()), 3)

    def test_merge_values_converted_per_type(self):
        # Odoo 18's contacts have no stored date: add one, as an admin would
        self.env["ir.model.fields"].create(
            {
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "name": "x_mc_since",
                "ttype": "date",
                "field_description": "Member since",
                "state": "manual",
            }
        )
        choices = ["Contact", "Invoice Address", "Delivery Address", "Other Address"]
        extra = {
            "SCORE": (self.add_merge_field("SCORE", "number"), "color"),
            "SINCE": (self.add_merge_field("SINCE", "date"), "x_mc_since"),
            "KIND": (
                self.add_merge_field("KIND", "dropdown", options={"choices": choices}),
                "type",
            ),
            "TAGS": (self.add_merge_field("TAGS", "text"), "category_id"),
            "CTRY": (self.add_merge_field("CTRY", "text"), "country_id"),
            "ISCO": (self.add_merge_field("ISCO", "text"), "is_company"),
        }
        by_tag = {f.tag: f for f in self.audience.merge_field_ids}
        field_ids = {
            f.name: f.id
            for f in self.env["ir.model.fields"].search([("model", "=", "res.partner")])
        }
        mapping = [
            Command.create(
                {"merge_field_id": by_tag["FNAME"].id, "source_kind": "first_name"}
            ),
            Command.create(
                {"merge_field_id": by_tag["LNAME"].id, "source_kind": "last_name"}
            ),
            Command.create(
                {"merge_field_id": by_tag["ADDRESS"].id, "source_kind": "address"}
            ),
            Command.create(
                {
                    "merge_field_id": by_tag["PHONE"].id,
                    "odoo_field_id": field_ids["phone"],
                }
            ),
            Command.create(
                {
                    "merge_field_id": by_tag["BIRTHDAY"].id,
                    "odoo_field_id": field_ids["x_mc_since"],
                }
            ),
        ] + [
            Command.create(
                {"merge_field_id": merge_field.id, "odoo_field_id": field_ids[name]}
            )
            for merge_field, name in extra.values()
        ]
        vip = self.env["res.partner.category"].create({"name": "VIP"})
        usa = self.env.ref("base.us")
        ann = self.contact(
            "typed@corp.com",
            "Ann Marie Smith",
            street="1 Main St",
            city="Springfield",
            zip="62701",
            state_id=self.env.ref("base.state_us_14").id,  # Illinois
            country_id=usa.id,
            phone="+1 217 555 0100",
            x_mc_since="2024-03-15",
            color=7,
            type="invoice",
            is_company=False,
        )
        ann.category_id = [Command.link(vip.id)]
        pairing = self.make_pairing(field_map_ids=mapping)
        self.assertTrue(all(pairing.field_map_ids.mapped("can_push")))
        run = pairing.run_sync()
        self.assertRunDone(run)
        merge = self.mc_member("typed@corp.com")["merge_fields"]
        self.assertEqual(merge["FNAME"], "Ann Marie")
        self.assertEqual(merge["LNAME"], "Smith")
        self.assertEqual(
            merge["ADDRESS"],
            {
                "addr1": "1 Main St",
                "addr2": "",
                "city": "Springfield",
                "state": "IL",
                "zip": "62701",
                "country": "US",
            },
        )
        self.assertEqual(merge["PHONE"], "+1 217 555 0100")
        self.assertEqual(merge["BIRTHDAY"], "03/15")
        self.assertEqual(merge["SCORE"], 7)
        self.assertEqual(merge["SINCE"], "03/15/2024")
        self.assertEqual(merge["KIND"], "Invoice Address")
        self.assertEqual(
            merge["TAGS"], ", ".join(ann.category_id.mapped("display_name"))
        )
        self.assertIn("VIP", merge["TAGS"])
        self.assertEqual(merge["CTRY"], usa.display_name)
        self.assertEqual(merge["ISCO"], "No")

        # and back: Mailchimp's values converted to Odoo's types
        self.client.patch(
            self.member_path("typed@corp.com"),
            json={
                "merge_fields": {"SCORE": 9, "SINCE": "04/01/2024", "KIND": "Contact"}
            },
        )
        run2 = pairing.run_sync()
        self.assertRunDone(run2)
        self.assertEqual(ann.color, 9)
        self.assertEqual(ann.x_mc_since, fields.Date.to_date("2024-04-01"))
        self.assertEqual(ann.type, "contact")
        self.assertEqual(ann.name, "Ann Marie Smith")

    def test_email_change_in_odoo_renames_the_member(self):
        eve = self.contact("eve.old@corp.com", "Eve Moved")
        pairing = self.make_pairing(direction="odoo2mailchimp")
        self.assertRunDone(pairing.run_sync())
        before = self.mc_member("eve.old@corp.com")
        eve.email = "Eve.New@corp.com"
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(run.failed_count, 0, run.failure_ids.mapped("reason"))
        members = self.mailchimp_members()
        self.assertEqual(list(members), ["eve.new@corp.com"])
        self.assertEqual(self.mc_archived(), {})
        self.assertEqual(
            members["eve.new@corp.com"]["contact_id"], before["contact_id"]
        )
        member = pairing.member_ids
        self.assertEqual(len(member), 1)
        self.assertEqual(member.partner_id, eve)
        self.assertEqual(member.email, "eve.new@corp.com")
        self.assertEqual(member.subscriber_hash, subscriber_hash("eve.new@corp.com"))
        # nothing left to do afterwards
        self.sandbox_control("DELETE", "requests")
        self.assertRunDone(pairing.run_sync())
        self.assertEqual([c for c in self.api_calls() if c["method"] != "GET"], [])

    def test_email_change_mailchimp_refuses_is_reported_never_duplicated(self):
        self.mailchimp_put("una@corp.com", "unsubscribed", FNAME="Una", LNAME="Unsub")
        una = self.contact("una@corp.com", "Una Unsub")
        pairing = self.make_pairing()
        self.assertRunDone(pairing.run_sync())
        una.email = "una.new@corp.com"
        # and someone else now has the old address in Odoo
        other = self.contact("una@corp.com", "Other Una")
        run = pairing.run_sync()
        self.assertRunDone(run)
        reasons = {f.partner_id: f.reason for f in self.failures(run, "skipped")}
        self.assertEqual(set(reasons), {una, other})
        self.assertIn("only changes it for subscribed members", reasons[una])
        self.assertIn(f"synced with contact #{una.id}", reasons[other])
        self.assertEqual(list(self.mailchimp_members()), ["una@corp.com"])
        self.assertEqual(self.mc_member("una@corp.com")["status"], "unsubscribed")
        self.assertEqual(pairing.member_ids.partner_id, una)
        self.assertEqual(pairing.member_ids.email, "una@corp.com")

    def test_member_archived_in_mailchimp_is_not_added_back(self):
        self.mailchimp_put("gone@corp.com", FNAME="Gone")
        self.client.delete(self.member_path("gone@corp.com"))
        gone = self.contact("gone@corp.com", "Gone Away")
        pairing = self.make_pairing()
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(self.mc_member("gone@corp.com")["status"], "archived")
        self.assertEqual(pairing.member_ids.partner_id, gone)
        self.assertEqual(pairing.member_ids.status, "archived")
        self.assertTrue(gone.exists())
        self.assertIn("archived in Mailchimp", self.failures(run, "skipped").reason)


@tagged("post_install", "-at_install")
@behaviour_variants(ALTERNATIVE_BEHAVIOUR)
class TestSyncMailchimpToOdoo(SyncRulesCase):
    """F8, F15, F16, F17, F18 seen from Odoo."""

    def test_pull_reads_only_members_changed_since_the_watermark(self):
        # no margin: a second is settled as soon as it has ended
        self.env["ir.config_parameter"].sudo().set_param(
            "mailchimp_connector.watermark_margin_seconds", "0"
        )
        for i in range(3):
            self.mailchimp_put(f"old{i}@corp.com", FNAME=f"Old{i}")
        self.next_second()
        self.mailchimp_put("recent@corp.com", FNAME="Recent")
        pairing = self.make_pairing(
            direction="mailchimp2odoo",
            create_missing=True,
            default_owner_id=self.owner.id,
        )
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(run.created_count, 4)
        # each new contact says where it came from, once, quietly
        created = pairing.member_ids.partner_id
        notes = self.env["mail.message"].search(
            [
                ("model", "=", "res.partner"),
                ("res_id", "in", created.ids),
                ("body", "ilike", "Created from Mailchimp"),
            ]
        )
        self.assertEqual(sorted(notes.mapped("res_id")), sorted(created.ids))
        self.assertIn(
            f"by the sync {pairing.name}, audience {pairing.audience_id.name}",
            notes[0].body,
        )
        self.assertFalse(notes.notification_ids)
        first_get = self.member_gets()[0]
        self.assertNotIn("since_last_changed", first_get["query"])
        # the next run starts at the second the first one began in (still open then)
        recent = mark_second(self.mc_member("recent@corp.com")["last_changed"])
        mark = mark_second(pairing.mailchimp_watermark)
        self.assertIn(mark, (recent, recent + 1))

        self.next_second()
        self.mailchimp_put("old1@corp.com", FNAME="Changed")
        self.sandbox_control("DELETE", "requests")
        run2 = pairing.run_sync()
        self.assertRunDone(run2)
        gets = self.member_gets()
        self.assertEqual(len(gets), 1)
        # asked from the second before: right whether Mailchimp's "after" keeps its own
        # second or not (what is older is dropped)
        self.assertEqual(gets[0]["query"]["since_last_changed"], mark_text(mark - 1))
        # the change, and at most the recent member of the second that was still open
        self.assertIn(run2.progress_done, (1, 2))
        self.assertEqual(self.partners_with_email("old1@corp.com").name, "Changed")
        self.assertEqual(run2.updated_count, 1)
        self.assertEqual(run2.created_count, 0)
        self.assertGreater(mark_second(pairing.mailchimp_watermark), mark)

    def test_missing_contacts_created_only_when_enabled(self):
        self.mailchimp_put("solo@corp.com", FNAME="Solo", LNAME="Person")
        pairing = self.make_pairing(direction="mailchimp2odoo")
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertFalse(self.partners_with_email("solo@corp.com"))
        self.assertFalse(pairing.member_ids)
        self.assertEqual(run.skipped_count, 1)
        with self.assertRaises(ValidationError):
            pairing.create_missing = True  # a default owner is required
        pairing.write({"create_missing": True, "default_owner_id": self.owner.id})
        run2 = pairing.run_sync(full=True)
        self.assertRunDone(run2)
        solo = self.partners_with_email("solo@corp.com")
        self.assertEqual(len(solo), 1)
        self.assertEqual(solo.name, "Solo Person")
        self.assertEqual(solo.user_id, self.owner)
        self.assertEqual(pairing.member_ids.partner_id, solo)
        self.assertEqual(run2.created_count, 1)

    def test_pull_updates_mapped_fields_and_statuses(self):
        paul = self.contact("paul@corp.com", "Paul Pull", phone="+32 470 00 00 01")
        pairing = self.make_pairing()
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(paul.mailchimp_status, "subscribed")
        self.client.patch(
            self.member_path("paul@corp.com"),
            json={"merge_fields": {"FNAME": "Paulo", "PHONE": "+32 470 99 99 99"}},
        )
        self.member_action("paul@corp.com", "unsubscribe")
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(paul.name, "Paulo Pull")
        self.assertEqual(paul.phone, "+32 470 99 99 99")
        self.assertEqual(pairing.member_ids.status, "unsubscribed")
        self.assertEqual(paul.mailchimp_status, "unsubscribed")
        self.assertEqual(run.updated_count, 1)
        # a later Odoo change goes out without resubscribing
        paul.name = "Paulo Pulled"
        self.assertRunDone(pairing.run_sync())
        member = self.mc_member("paul@corp.com")
        self.assertEqual(member["status"], "unsubscribed")
        self.assertEqual(member["merge_fields"]["LNAME"], "Pulled")

    def test_member_archived_or_deleted_in_mailchimp_deletes_nothing(self):
        kept, archived, erased = self.contacts(
            [
                {"email": "kept@corp.com"},
                {"email": "archived@corp.com"},
                {"email": "erased@corp.com"},
            ]
        )
        pairing = self.make_pairing(create_missing=True, default_owner_id=self.owner.id)
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(len(pairing.member_ids), 3)
        self.client.delete(self.member_path("archived@corp.com"))
        self.client.post(
            self.member_path("erased@corp.com") + "/actions/delete-permanent"
        )
        # an incremental run does not see them; a change of the erased one meets a 404
        erased.name = "Erased Changed"
        run_incremental = pairing.run_sync()
        self.assertRunDone(run_incremental)
        failure = self.failures(run_incremental, "failed")
        self.assertEqual(failure.partner_id, erased)
        self.assertIn("deleted in Mailchimp", failure.reason)
        run = pairing.run_sync(full=True)
        self.assertRunDone(run)
        self.assertEqual((kept | archived | erased).exists(), kept | archived | erased)
        self.assertTrue(all((kept | archived | erased).mapped("active")))
        statuses = {m.email: m.status for m in pairing.member_ids}
        self.assertEqual(
            statuses,
            {
                "kept@corp.com": "subscribed",
                "archived@corp.com": "archived",
                "erased@corp.com": "archived",
            },
        )
        self.assertEqual(archived.mailchimp_status, "archived")
        # and nothing was added back in Mailchimp (archived members may be listed too)
        self.assertEqual(
            [
                e
                for e, m in self.mailchimp_members().items()
                if m["status"] != "archived"
            ],
            ["kept@corp.com"],
        )
        self.assertEqual(self.mc_member("archived@corp.com")["status"], "archived")
        self.assertIsNone(self.mc_member("erased@corp.com"))

    def test_email_change_in_mailchimp_renames_the_contact(self):
        eve = self.contact("eve@corp.com", "Eve Moved")
        pairing = self.make_pairing(create_missing=True, default_owner_id=self.owner.id)
        self.assertRunDone(pairing.run_sync())
        self.client.patch(
            self.member_path("eve@corp.com"), json={"email_address": "eve.new@corp.com"}
        )
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(eve.email, "eve.new@corp.com")
        self.assertFalse(self.partners_with_email("eve@corp.com"))
        self.assertEqual(self.partners_with_email("eve.new@corp.com"), eve)
        member = pairing.member_ids
        self.assertEqual(len(member), 1)
        self.assertEqual(member.email, "eve.new@corp.com")
        self.assertEqual(member.subscriber_hash, subscriber_hash("eve.new@corp.com"))
        self.assertEqual(run.created_count, 0)
        self.assertEqual(list(self.mailchimp_members()), ["eve.new@corp.com"])
        self.sandbox_control("DELETE", "requests")
        self.assertRunDone(pairing.run_sync())
        self.assertEqual([c for c in self.api_calls() if c["method"] != "GET"], [])


@tagged("post_install", "-at_install")
@behaviour_variants(ALTERNATIVE_BEHAVIOUR)
class TestSyncConflicts(SyncRulesCase):
    """F10: a mapped field changed on both sides
    goes to the pairing's winner, field by field."""

    def _conflict(self, winner):
        ann = self.contact("ann@corp.com", "Ann Smith", phone="+32 470 00 00 01")
        pairing = self.make_pairing(conflict_winner=winner)
        self.assertRunDone(pairing.run_sync())
        # FNAME changes on both sides, LNAME only in Mailchimp, PHONE only in Odoo
        self.client.patch(
            self.member_path("ann@corp.com"),
            json={"merge_fields": {"FNAME": "Anna", "LNAME": "Smythe"}},
        )
        ann.write({"name": "Annie Smith", "phone": "+32 470 00 00 02"})
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(run.conflict_count, 1)
        return ann, pairing, run

    def _assert_settled(self, pairing):
        self.sandbox_control("DELETE", "requests")
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(run.conflict_count, 0)
        self.assertEqual([c for c in self.api_calls() if c["method"] != "GET"], [])

    def test_conflict_odoo_wins(self):
        ann, pairing, _run = self._conflict("odoo")
        self.assertEqual(ann.name, "Annie Smythe")
        merge = self.mc_member("ann@corp.com")["merge_fields"]
        self.assertEqual(merge["FNAME"], "Annie")
        self.assertEqual(merge["LNAME"], "Smythe")
        self.assertEqual(merge["PHONE"], "+32 470 00 00 02")
        self._assert_settled(pairing)
        self.assertEqual(ann.name, "Annie Smythe")

    def test_conflict_mailchimp_wins(self):
        ann, pairing, _run = self._conflict("mailchimp")
        self.assertEqual(ann.name, "Anna Smythe")
        merge = self.mc_member("ann@corp.com")["merge_fields"]
        self.assertEqual(merge["FNAME"], "Anna")
        self.assertEqual(merge["LNAME"], "Smythe")
        self.assertEqual(merge["PHONE"], "+32 470 00 00 02")
        self.assertEqual(ann.phone, "+32 470 00 00 02")
        self._assert_settled(pairing)
        self.assertEqual(ann.name, "Anna Smythe")


@tagged("post_install", "-at_install")
@behaviour_variants(ALTERNATIVE_BEHAVIOUR)
class TestSyncDeletedAudience(SyncRulesCase):
    """F17: a deleted audience breaks its pairing, deletes nothing, stops its cron."""

    def test_deleted_audience_breaks_the_pairing(self):
        partners = self.contacts([{"email": f"aud{i}@corp.com"} for i in range(3)])
        pairing = self.make_pairing(create_missing=True, default_owner_id=self.owner.id)
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(len(pairing.member_ids), 3)
        self.client.delete(f"/lists/{self.list_id}")
        run = pairing.run_sync()
        self.assertEqual(run.state, "failed")
        self.assertEqual(pairing.state, "broken")
        self.assertIn("no longer exists", pairing.broken_reason)
        self.assertIn(self.audience.name, pairing.broken_reason)
        self.assertEqual(run.message, pairing.broken_reason)
        self.assertEqual(partners.exists(), partners)
        self.assertTrue(all(partners.mapped("active")))
        self.assertEqual(len(pairing.member_ids), 3)
        self.assertEqual(self.account.state, "connected")
        # the scheduler leaves it alone, Sync Now and run_sync refuse it
        runs = pairing.run_ids
        pairing._sync_cursor().next_sync_date = False
        self.env["mailchimp.pairing"]._cron_sync()
        self.assertEqual(pairing.run_ids, runs)
        with self.assertRaises(UserError):
            pairing.action_sync_now()
        with self.assertRaises(UserError):
            pairing.run_sync()


@tagged("post_install", "-at_install")
@behaviour_variants(ALTERNATIVE_BEHAVIOUR)
class TestSyncOperations(SyncRulesCase):
    """Sync Now and the cron (F15, F23), Delete
    Sync (F24), access (F33), status (F28)."""

    def test_sync_now_triggers_the_cron_which_runs_due_pairings(self):
        cron = self.env.ref("mailchimp_connector.ir_cron_mailchimp_sync")
        Trigger = self.env["ir.cron.trigger"]
        later = fields.Datetime.now() + timedelta(hours=2)
        requested = self.make_pairing(name="Requested", next_sync_date=later)
        due = self.make_pairing(
            name="Due", next_sync_date=fields.Datetime.now() - timedelta(minutes=1)
        )
        not_due = self.make_pairing(name="Not due", next_sync_date=later)
        paused = self.make_pairing(name="Paused")
        broken = self.make_pairing(name="Broken")
        triggers = Trigger.search_count([("cron_id", "=", cron.id)])
        requested.action_sync_now()
        self.assertEqual(
            Trigger.search_count([("cron_id", "=", cron.id)]), triggers + 1
        )
        self.assertTrue(requested.sync_requested)
        self.assertFalse(requested.run_ids)  # Sync Now does not run it in the request
        paused.action_sync_now()
        paused.action_pause()
        scheduler.mark_broken(broken, "Broken on purpose")
        self.env["mailchimp.pairing"]._cron_sync()
        self.assertEqual(len(requested.run_ids), 1)
        # a person asked for it: "manual", though the scheduler ran it
        self.assertEqual(requested.run_ids.trigger, "manual")
        self.assertFalse(requested.sync_requested)
        self.assertGreater(requested.next_sync_date, fields.Datetime.now())
        self.assertEqual(len(due.run_ids), 1)
        self.assertEqual(due.run_ids.trigger, "cron")
        self.assertFalse(not_due.run_ids)
        self.assertFalse(paused.run_ids)
        self.assertFalse(broken.run_ids)
        with self.assertRaises(UserError):
            broken.action_sync_now()

    def test_delete_sync_keeps_contacts_and_history(self):
        partners = self.contacts(
            [{"email": "keep1@corp.com"}, {"email": "test@corp.com"}]
        )
        pairing = self.make_pairing()
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(run.failed_count, 1)  # the fake address
        name = pairing.name
        pairing.unlink()
        self.assertFalse(pairing.exists())
        self.assertEqual(partners.exists(), partners)
        self.assertTrue(run.exists())
        self.assertFalse(run.pairing_id)
        self.assertEqual(run.pairing_name, name)
        self.assertEqual(len(run.failure_ids), 1)
        self.assertEqual(list(self.mailchimp_members()), ["keep1@corp.com"])

    def test_salesperson_reads_members_but_cannot_configure(self):
        paul = self.contact("paul@corp.com", "Paul Sales")
        pairing = self.make_pairing()
        self.assertRunDone(pairing.run_sync())
        sales = self.owner  # a Mailchimp user, not a manager
        self.assertEqual(
            self.env["mailchimp.member"].with_user(sales).search([]).partner_id, paul
        )
        self.assertEqual(paul.with_user(sales).mailchimp_status, "subscribed")
        self.assertEqual(pairing.with_user(sales).read(["state"])[0]["state"], "active")
        with self.assertRaises(AccessError):
            self.env["mailchimp.pairing"].with_user(sales).create(
                {
                    "name": "Mine",
                    "account_id": self.account.id,
                    "audience_id": self.audience.id,
                }
            )
        with self.assertRaises(AccessError):
            pairing.with_user(sales).write({"conflict_winner": "mailchimp"})
        with self.assertRaises(AccessError):
            pairing.field_map_ids[:1].with_user(sales).unlink()
        with self.assertRaises(AccessError):
            pairing.with_user(sales).action_sync_now()
        with self.assertRaises(AccessError):
            pairing.with_user(sales).unlink()
        outsider = new_test_user(
            self.env,
            login="mc_no_group",
            groups="base.group_user",
            context={"no_reset_password": True},
        )
        with self.assertRaises(AccessError):
            self.env["mailchimp.member"].with_user(outsider).search([])

    def test_contact_mailchimp_status(self):
        both, unsub, none = self.contacts(
            [
                {"email": "both@corp.com"},
                {"email": "unsub@corp.com"},
                {"email": "none@corp.com"},
            ]
        )
        none.category_id = False
        self.mailchimp_put("unsub@corp.com", "unsubscribed")
        pairing = self.make_pairing()
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(both.mailchimp_status, "subscribed")
        self.assertEqual(unsub.mailchimp_status, "unsubscribed")
        self.assertFalse(none.mailchimp_status)
        # unsubscribed from a second audience: subscribed to any audience still shows
        events_id = self.sandbox_control("POST", "lists", {"name": "Events"})["id"]
        self.env["mailchimp.audience"]._sync_from_mailchimp(self.account)
        events = self.account.audience_ids.filtered(
            lambda a: a.mailchimp_list_id == events_id
        )
        self.client.put(
            f"/lists/{events_id}/members/{subscriber_hash('both@corp.com')}",
            json={"email_address": "both@corp.com", "status_if_new": "unsubscribed"},
        )
        self.assertRunDone(
            self.make_pairing(
                name="Events", audience_id=events.id, direction="mailchimp2odoo"
            ).run_sync()
        )
        self.assertEqual(
            both.mailchimp_member_ids.mapped("status"), ["subscribed", "unsubscribed"]
        )
        self.assertEqual(both.mailchimp_status, "subscribed")
        # and once Mailchimp unsubscribes the person from the first one too
        self.member_action("both@corp.com", "unsubscribe")
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(both.mailchimp_status, "unsubscribed")
        self.assertEqual(both.with_user(self.owner).mailchimp_status, "unsubscribed")
        self.assertEqual(both.mailchimp_audience_count, 2)
        self.assertIn("Events: Unsubscribed", both.mailchimp_status_detail)

    def _stored_status(self, partners):
        self.env.flush_all()
        self.env.cr.execute(
            "SELECT id, mailchimp_status FROM res_partner WHERE id = ANY(%s)",
            (partners.ids,),
        )
        return dict(self.env.cr.fetchall())

    def test_contact_status_is_stored_filtered_and_filled_in_sql_on_upgrade(self):
        """The status is a column: the pull and the webhook's rules keep it, the
        Contacts' filters and group-by use it, and an upgrade that adds it fills
        it with one UPDATE rather than contact by contact."""
        ann, bob, cleo = self.contacts(
            [{"email": "ann@corp.com"}, {"email": "bob@corp.com"}, {"email": "c@x.com"}]
        )
        cleo.category_id = False
        self.mailchimp_put("bob@corp.com", "unsubscribed")
        pairing = self.make_pairing()
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(
            self._stored_status(ann | bob | cleo),
            {ann.id: "subscribed", bob.id: "unsubscribed", cleo.id: None},
        )
        self.member_action("ann@corp.com", "unsubscribe")
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(self._stored_status(ann)[ann.id], "unsubscribed")
        Partner = self.env["res.partner"]
        self.assertEqual(
            Partner.search([("mailchimp_status", "=", "unsubscribed")]) & (ann | bob),
            ann | bob,
        )
        groups = dict(
            Partner._read_group(
                [("id", "in", (ann | bob | cleo).ids)],
                ["mailchimp_status"],
                ["__count"],
            )
        )
        self.assertEqual(groups, {"unsubscribed": 2, False: 1})
        # an upgrade from a version that did not store it
        self.env.cr.execute("ALTER TABLE res_partner DROP COLUMN mailchimp_status")
        queries = self.env.cr.sql_log_count
        with patch.multiple(
            self.registry,
            create=True,
            _post_init_queue=deque(),
            _foreign_keys={},
            _is_install=False,
        ):
            Partner._auto_init()
        self.assertLess(self.env.cr.sql_log_count - queries, 40)
        self.assertFalse(
            self.env.transaction.tocompute.get(Partner._fields["mailchimp_status"])
        )
        self.env.invalidate_all()
        self.assertEqual(
            self._stored_status(ann | bob | cleo),
            {ann.id: "unsubscribed", bob.id: "unsubscribed", cleo.id: None},
        )


@tagged("post_install", "-at_install")
class TestFailureExport(SyncRulesCase, HttpCase):
    """F25: Export Failed Records gives a CSV with the reasons."""

    def test_export_failed_records_csv(self):
        self.contacts(
            [
                {"email": "fine@corp.com"},
                {"email": "test@corp.com", "name": "Fake Address"},
            ]
        )
        pairing = self.make_pairing()
        self.assertRunDone(pairing.run_sync())
        action = pairing.action_export_failures()
        self.assertEqual(action["url"], f"/mailchimp/pairing/{pairing.id}/failures.csv")
        self.authenticate("admin", "admin")
        response = self.url_open(action["url"])
        self.assertEqual(response.status_code, 200)
        self.assertIn("text/csv", response.headers["Content-Type"])
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        self.assertEqual(
            rows[0], ["Email", "Contact", "Direction", "Result", "Reason", "Date"]
        )
        self.assertEqual(len(rows), 2)
        self.assertEqual(
            rows[1][:4], ["test@corp.com", "Fake Address", "Odoo → Mailchimp", "Failed"]
        )
        self.assertIn("looks fake or invalid", rows[1][4])
        # someone without Mailchimp access gets no CSV
        new_test_user(
            self.env,
            login="mc_csv_outsider",
            password="mc_csv_outsider1",
            context={"no_reset_password": True},
        )
        self.authenticate("mc_csv_outsider", "mc_csv_outsider1")
        response = self.url_open(action["url"])
        self.assertNotEqual(response.status_code, 200)
        self.assertNotIn(b"looks fake", response.content)
