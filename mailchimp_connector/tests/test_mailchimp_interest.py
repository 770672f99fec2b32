# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""F14 on real Odoo against the sandbox: interest groups read from Mailchimp,
Odoo values mapped to them and sent with the member upserts, only when changed."""

from odoo.exceptions import ValidationError
from odoo.tests import HttpCase, tagged

from .common import ALTERNATIVE_BEHAVIOUR, behaviour_variants
from .test_mailchimp_sync_rules import SyncRulesCase


class InterestCase(SyncRulesCase):
    """An audience with the interests Customers, Companies and Billing, and a sync."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.customer = cls.env["res.partner.category"].create({"name": "Customer"})

    def setUp(self):
        super().setUp()
        self.topics, self.mc_ids = self.mc_category(
            "Topics", ["Customers", "Companies", "Billing"]
        )
        self.env["mailchimp.audience"]._sync_from_mailchimp(self.account)
        self.pairing = self.make_pairing(direction="both")

    # -- helpers -----------------------------------------------------------------

    def mc_category(self, title, names, category_type="checkboxes"):
        base = f"/lists/{self.list_id}/interest-categories"
        category = self.client.post(base, json={"title": title, "type": category_type})
        ids = {
            name: self.client.post(
                f"{base}/{category['id']}/interests", json={"name": name}
            )["id"]
            for name in names
        }
        return category["id"], ids

    def interest(self, name):
        return (
            self.env["mailchimp.interest"]
            .with_context(active_test=False)
            .search([("audience_id", "=", self.audience.id), ("name", "=", name)])
        )

    def map_interest(self, name, **vals):
        return self.env["mailchimp.interest.map"].create(
            dict(
                {"pairing_id": self.pairing.id, "interest_id": self.interest(name).id},
                **vals,
            )
        )

    def map_all(self):
        partner_field = self.env["ir.model.fields"]._get
        type_field = partner_field("res.partner", "type")
        self.map_interest(
            "Customers", source_kind="tag", partner_tag_id=self.customer.id
        )
        self.map_interest(
            "Companies",
            source_kind="boolean",
            odoo_field_id=partner_field("res.partner", "is_company").id,
        )
        self.map_interest(
            "Billing",
            source_kind="selection",
            odoo_field_id=type_field.id,
            selection_value_id=type_field.selection_ids.filtered(
                lambda s: s.value == "invoice"
            ).id,
        )

    def mc_interests(self, email):
        """{interest name: bool} of a member in Mailchimp."""
        names = {iid: name for name, iid in self.mc_ids.items()}
        member = self.mc_member(email)
        return {
            names[iid]: on for iid, on in member["interests"].items() if iid in names
        }

    def on(self, email):
        return {name for name, on in self.mc_interests(email).items() if on}

    def batch_posts(self):
        return [
            c
            for c in self.api_calls()
            if c["method"] == "POST" and c["api_path"] == "/batches"
        ]

    def run_sync(self):
        run = self.pairing.run_sync()
        self.assertRunDone(run)
        self.assertFalse(run.failure_ids, run.failure_ids.mapped("reason"))
        return run


@tagged("post_install", "-at_install")
@behaviour_variants(ALTERNATIVE_BEHAVIOUR)
class TestInterests(InterestCase):
    def test_categories_and_interests_refreshed_from_mailchimp(self):
        self.mc_category("Region", ["Europe"], "dropdown")
        self.sandbox_control("DELETE", "requests")
        self.env["mailchimp.audience"]._sync_from_mailchimp(self.account)
        categories = self.audience.interest_category_ids
        self.assertEqual(sorted(categories.mapped("title")), ["Region", "Topics"])
        topics = categories.filtered(lambda c: c.title == "Topics")
        self.assertEqual(topics.mailchimp_id, self.topics)
        self.assertEqual(topics.category_type, "checkboxes")
        self.assertEqual(
            {i.name: i.mailchimp_id for i in topics.interest_ids}, self.mc_ids
        )
        self.assertEqual(self.interest("Europe").category_id.category_type, "dropdown")
        # one request for the categories, one per category for its interests
        interest_calls = [
            c for c in self.api_calls() if "/interest-categories" in c["api_path"]
        ]
        self.assertEqual(len(interest_calls), 3)

        # renamed and deleted in Mailchimp: renamed and archived in Odoo
        base = f"/lists/{self.list_id}/interest-categories/{self.topics}/interests"
        self.client.patch(
            f"{base}/{self.mc_ids['Customers']}", json={"name": "Clients"}
        )
        self.client.delete(f"{base}/{self.mc_ids['Billing']}")
        self.env["mailchimp.audience"]._sync_from_mailchimp(self.account)
        self.assertEqual(
            self.interest("Clients").mailchimp_id, self.mc_ids["Customers"]
        )
        self.assertFalse(self.interest("Billing").active)
        self.assertEqual(
            sorted(topics.interest_ids.mapped("name")), ["Clients", "Companies"]
        )

    def test_interests_sent_for_new_and_changed_members_only(self):
        self.map_all()
        ann = self.contact("ann@corp.com")
        ann.category_id |= self.customer
        bob = self.contact("bob@corp.com", is_company=True)
        cat = self.contact("cat@corp.com")
        self.contact("dan@corp.com", type="invoice")
        run = self.run_sync()
        self.assertEqual(run.created_count, 4)
        self.assertEqual(self.on("ann@corp.com"), {"Customers"})
        self.assertEqual(self.on("bob@corp.com"), {"Companies"})
        self.assertEqual(self.on("cat@corp.com"), set())
        self.assertEqual(self.on("dan@corp.com"), {"Billing"})
        ann_member = self.pairing.member_ids.filtered(lambda m: m.partner_id == ann)
        self.assertEqual(
            ann_member.synced_interests,
            {
                self.mc_ids["Customers"]: True,
                self.mc_ids["Companies"]: False,
                self.mc_ids["Billing"]: False,
            },
        )

        # Ann leaves the group, Cat enters it, Bob changes his name only
        ann.category_id -= self.customer
        cat.category_id |= self.customer
        bob.name = "Bob Builder"
        self.sandbox_control("DELETE", "requests")
        run = self.run_sync()
        self.assertEqual(run.updated_count, 3)
        self.assertEqual(self.on("ann@corp.com"), set())
        self.assertEqual(self.on("cat@corp.com"), {"Customers"})
        self.assertEqual(self.on("bob@corp.com"), {"Companies"})
        self.assertEqual(
            len(self.batch_posts()), 1, "the changes go as one /batches call"
        )

        # nothing changed in Odoo: nothing is sent, interests are not resent
        self.sandbox_control("DELETE", "requests")
        run = self.run_sync()
        self.assertEqual(run.updated_count + run.created_count, 0)
        self.assertEqual([c for c in self.api_calls() if c["method"] != "GET"], [])
        # the members' interests as Mailchimp has them were read back and stored
        dan_member = self.pairing.member_ids.filtered(
            lambda m: m.email == "dan@corp.com"
        )
        self.assertEqual(
            dan_member.mailchimp_interests,
            {
                self.mc_ids["Customers"]: False,
                self.mc_ids["Companies"]: False,
                self.mc_ids["Billing"]: True,
            },
        )
        self.assertEqual(dan_member.interest_names, "Billing")

    def test_choice_made_in_mailchimp_is_kept_and_stored(self):
        self.map_all()
        ann = self.contact("ann@corp.com")
        ann.category_id |= self.customer
        self.run_sync()
        # Ann leaves the group from Mailchimp's preference centre
        self.next_second()
        self.client.patch(
            self.member_path("ann@corp.com"),
            json={
                "interests": {
                    self.mc_ids["Customers"]: False,
                    self.mc_ids["Billing"]: True,
                }
            },
        )
        self.sandbox_control("DELETE", "requests")
        self.run_sync()
        self.assertEqual(
            self.on("ann@corp.com"), {"Billing"}, "Odoo did not change: not sent"
        )
        member = self.pairing.member_ids
        self.assertEqual(member.mailchimp_interests[self.mc_ids["Billing"]], True)
        self.assertEqual(member.mailchimp_interests[self.mc_ids["Customers"]], False)
        self.assertEqual(member.interest_names, "Billing")
        self.assertEqual(
            ann.category_id, self.tag | self.customer, "not written back to Odoo"
        )
        self.assertEqual(self.batch_posts(), [])
        # once Odoo's value changes, Odoo's value is sent
        ann.category_id -= self.customer
        ann.type = "invoice"
        self.run_sync()
        ann.category_id |= self.customer
        self.run_sync()
        self.assertEqual(self.on("ann@corp.com"), {"Customers", "Billing"})

    def test_linking_an_existing_member_takes_no_interest_away(self):
        self.client.put(
            self.member_path("eve@corp.com"),
            json={
                "email_address": "eve@corp.com",
                "status_if_new": "subscribed",
                "interests": {self.mc_ids["Companies"]: True},
            },
        )
        self.map_all()
        eve = self.contact("eve@corp.com")
        eve.category_id |= self.customer
        self.run_sync()
        self.assertEqual(self.on("eve@corp.com"), {"Companies", "Customers"})
        # from now on Odoo's changes go through, both ways
        eve.is_company = True
        self.run_sync()
        eve.is_company = False
        self.run_sync()
        self.assertEqual(self.on("eve@corp.com"), {"Customers"})

    def test_new_mapping_applies_to_contacts_not_changed_since(self):
        ann = self.contact("ann@corp.com")
        ann.category_id |= self.customer
        self.contact("bob@corp.com")
        self.run_sync()
        self.assertEqual(self.on("ann@corp.com"), set())
        self.map_interest(
            "Customers", source_kind="tag", partner_tag_id=self.customer.id
        )
        self.assertFalse(
            self.pairing.odoo_watermark, "the whole segment is compared once"
        )
        self.sandbox_control("DELETE", "requests")
        run = self.run_sync()
        self.assertEqual(self.on("ann@corp.com"), {"Customers"})
        self.assertEqual(run.updated_count, 1, "Bob has nothing to send")

    def test_interest_deleted_in_mailchimp_is_no_longer_sent(self):
        self.map_all()
        base = f"/lists/{self.list_id}/interest-categories/{self.topics}/interests"
        self.client.delete(f"{base}/{self.mc_ids['Billing']}")
        self.env["mailchimp.audience"]._sync_from_mailchimp(self.account)
        self.contact("dan@corp.com", type="invoice", is_company=True)
        self.run_sync()
        self.assertEqual(self.on("dan@corp.com"), {"Companies"})

    def test_mapping_must_name_a_value_of_the_right_kind(self):
        partner_field = self.env["ir.model.fields"]._get
        with self.assertRaises(ValidationError):
            self.map_interest("Customers", source_kind="tag")
        with self.assertRaises(ValidationError):
            self.map_interest(
                "Companies",
                source_kind="boolean",
                odoo_field_id=partner_field("res.partner", "type").id,
            )
        with self.assertRaises(ValidationError):
            self.map_interest(
                "Billing",
                source_kind="selection",
                odoo_field_id=partner_field("res.partner", "type").id,
            )
        other_list = self.sandbox_control("POST", "lists", {"name": "Other"})["id"]
        base = f"/lists/{other_list}/interest-categories"
        category = self.client.post(
            base, json={"title": "Elsewhere", "type": "checkboxes"}
        )
        self.client.post(f"{base}/{category['id']}/interests", json={"name": "Far"})
        self.env["mailchimp.audience"]._sync_from_mailchimp(self.account)
        far = self.env["mailchimp.interest"].search([("name", "=", "Far")])
        self.assertEqual(far.audience_id.mailchimp_list_id, other_list)
        with self.assertRaises(ValidationError):
            self.map_interest(
                "Customers",
                interest_id=far.id,
                source_kind="tag",
                partner_tag_id=self.customer.id,
            )


@tagged("post_install", "-at_install")
class TestInterestsByWebhook(InterestCase, HttpCase):
    """A choice made in Mailchimp's preference centre arrives by webhook (F19): the
    member's interests are stored as read, as by a scheduled pull."""

    def setUp(self):
        super().setUp()
        self.sandbox_control("DELETE", "webhooks/deliveries")

    def test_interests_read_with_a_webhook_delivery(self):
        self.contact("ann@corp.com", "Ann Smith")
        pairing = self.pairing
        pairing.state = "draft"
        self.map_all()
        pairing.action_start_sync()
        self.assertEqual(pairing.webhook_state, "registered", pairing.webhook_error)
        self.run_sync()
        # an API write: not delivered
        self.client.patch(
            self.member_path("ann@corp.com"),
            json={"interests": {self.mc_ids["Billing"]: True}},
        )
        self.env.flush_all()
        self.member_action("ann@corp.com", "profile", merges={"FNAME": "Ann"})
        self.env.invalidate_all()
        member = pairing.member_ids
        self.assertEqual(member.mailchimp_interests[self.mc_ids["Billing"]], True)
        self.assertEqual(member.interest_names, "Billing")
