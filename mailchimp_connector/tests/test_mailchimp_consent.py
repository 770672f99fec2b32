# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Consent: Odoo's blacklist option (F16) and GDPR marketing permissions, on real
Odoo against the sandbox."""

import logging
from unittest.mock import patch

from odoo.exceptions import ValidationError
from odoo.tests import HttpCase, tagged

from ..engine.consent import ConsentHooks, mirror_blacklist
from ..models.mail_blacklist import MailBlacklist
from . import test_mailchimp_webhook
from .common import ALTERNATIVE_BEHAVIOUR, behaviour_variants
from .test_mailchimp_sync_rules import SyncRulesCase

_logger = logging.getLogger(__name__)


class ConsentCase(SyncRulesCase):
    def blacklist(self, email):
        """The blacklist entry of an address, archived ones too (empty if none)."""
        return (
            self.env["mail.blacklist"]
            .with_context(active_test=False)
            .search([("email", "=", email)])
        )

    def blacklisted(self, *emails):
        return {email for email in emails if self.blacklist(email).active}

    def batch_posts(self):
        return [
            call
            for call in self.api_calls()
            if call["method"] == "POST" and call["api_path"] == "/batches"
        ]


@tagged("post_install", "-at_install")
@behaviour_variants(ALTERNATIVE_BEHAVIOUR)
class TestBlacklistMirror(ConsentCase):
    """F16's option: Mailchimp's unsubscribes
    and cleaned addresses into mail.blacklist."""

    def setUp(self):
        super().setUp()
        self.una, self.cleo, self.sam = self.contacts(
            [
                {"email": "una@corp.com"},
                {"email": "cleo@corp.com"},
                {"email": "sam@corp.com"},
            ]
        )
        self.mailchimp_put("una@corp.com", "unsubscribed")
        self.mailchimp_put("cleo@corp.com")
        self.member_action("cleo@corp.com", "cleaned")
        self.mailchimp_put("sam@corp.com")
        self.emails = ("una@corp.com", "cleo@corp.com", "sam@corp.com")

    def test_off_by_default_nothing_is_blacklisted(self):
        pairing = self.make_pairing()
        self.assertFalse(pairing.blacklist_mirror)
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(
            {m.email: m.status for m in pairing.member_ids},
            {
                "una@corp.com": "unsubscribed",
                "cleo@corp.com": "cleaned",
                "sam@corp.com": "subscribed",
            },
        )
        self.assertFalse(
            self.blacklist("una@corp.com") | self.blacklist("cleo@corp.com")
        )
        self.assertFalse(self.una.is_blacklisted or self.cleo.is_blacklisted)
        # a single status change does nothing either
        changes = [("una@corp.com", None, "unsubscribed")]
        self.assertEqual(mirror_blacklist(pairing, changes), {})
        self.assertFalse(self.blacklist("una@corp.com"))

    def test_on_mirrors_both_in_one_bulk_call_per_page_with_a_reason(self):
        pairing = self.make_pairing(blacklist_mirror=True)
        calls = []
        original = MailBlacklist._mailchimp_add

        def spy(blacklist, reasons):
            calls.append(dict(reasons))
            return original(blacklist, reasons)

        with patch.object(
            MailBlacklist, "_mailchimp_add", autospec=True, side_effect=spy
        ):
            run = pairing.run_sync()
        self.assertRunDone(run)
        pages = [
            call for call in self.member_gets() if "archived" not in str(call["query"])
        ]
        self.assertEqual(
            len(pages), 1, "one page read (and the archived ones of a full run)"
        )
        self.assertEqual(len(calls), 1, "one bulk call for the page")
        self.assertEqual(set(calls[0]), {"una@corp.com", "cleo@corp.com"})
        self.assertEqual(
            self.blacklisted(*self.emails), {"una@corp.com", "cleo@corp.com"}
        )
        self.assertTrue(self.una.is_blacklisted and self.cleo.is_blacklisted)
        self.assertFalse(self.sam.is_blacklisted)
        una_note = self.blacklist("una@corp.com").message_ids.mapped("body")
        cleo_note = self.blacklist("cleo@corp.com").message_ids.mapped("body")
        self.assertTrue(
            any("Unsubscribed in Mailchimp" in body for body in una_note), una_note
        )
        self.assertTrue(
            any("bounced or reported abuse" in body for body in cleo_note), cleo_note
        )
        self.assertTrue(
            any("Newsletter" in body and pairing.name in body for body in una_note)
        )

    def test_later_unsubscribe_is_mirrored_and_an_admins_removal_kept(self):
        pairing = self.make_pairing(blacklist_mirror=True)
        self.assertRunDone(pairing.run_sync())
        self.next_second()
        self.member_action("sam@corp.com", "unsubscribe")
        self.assertRunDone(pairing.run_sync())
        self.assertIn("sam@corp.com", self.blacklisted(*self.emails))
        # an admin takes Una off Odoo's blacklist:
        # later runs (a full one too) leave that
        self.blacklist("una@corp.com").action_archive()
        self.assertRunDone(pairing.run_sync(full=True))
        self.assertNotIn("una@corp.com", self.blacklisted(*self.emails))

    def test_never_the_other_way_round(self):
        """Without "Odoo opt-outs unsubscribe in Mailchimp" (off on syncs that
        existed before the option) Odoo's blacklist is not sent to Mailchimp: a
        blacklisted member stays subscribed there, and its changes still sync."""
        pairing = self.make_pairing(blacklist_mirror=True, optout_unsubscribe=False)
        self.assertRunDone(pairing.run_sync())
        self.env["mail.blacklist"]._add("sam@corp.com", message="Asked by phone")
        self.sam.name = "Sam Changed"
        self.next_second()
        self.assertRunDone(pairing.run_sync())
        sam = self.mc_member("sam@corp.com")
        self.assertEqual(sam["status"], "subscribed")
        self.assertEqual(sam["merge_fields"]["FNAME"], "Sam")
        self.assertEqual(sam["merge_fields"]["LNAME"], "Changed")
        # and the sync sends no status for the mirrored ones either
        self.assertEqual(self.mc_member("una@corp.com")["status"], "unsubscribed")

    def test_resubscribe_keeps_the_blacklist_unless_opted_in(self):
        pairing = self.make_pairing(blacklist_mirror=True)
        self.assertRunDone(pairing.run_sync())
        self.next_second()
        self.member_action("una@corp.com", "subscribe")  # the person opts in again
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(
            pairing.member_ids.filtered(lambda m: m.email == "una@corp.com").status,
            "subscribed",
        )
        self.assertIn("una@corp.com", self.blacklisted(*self.emails))

        pairing.blacklist_unmirror = True
        self.next_second()
        self.member_action("cleo@corp.com", "subscribe")
        self.assertRunDone(pairing.run_sync())
        self.assertNotIn("cleo@corp.com", self.blacklisted(*self.emails))
        entry = self.blacklist("cleo@corp.com")
        self.assertTrue(entry, "archived, as Odoo's own _remove does, not deleted")
        self.assertTrue(
            any(
                "Subscribed again in Mailchimp" in body
                for body in entry.message_ids.mapped("body")
            )
        )

    def test_turning_it_on_later_mirrors_the_known_unsubscribes(self):
        pairing = self.make_pairing()
        self.assertRunDone(pairing.run_sync())
        self.assertFalse(self.blacklisted(*self.emails))
        pairing.blacklist_mirror = True
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(
            self.blacklisted(*self.emails), {"una@corp.com", "cleo@corp.com"}
        )
        self.assertTrue(pairing.blacklist_backfilled)
        pairing.blacklist_mirror = False
        self.assertFalse(pairing.blacklist_backfilled)

    def test_single_status_changes_mirrored(self):
        pairing = self.make_pairing(blacklist_mirror=True, blacklist_unmirror=True)

        def mirror(email, new_status, old_status=None):
            done = mirror_blacklist(pairing, [(email, old_status, new_status)])
            return done.get(email)

        self.assertEqual(mirror("Web.Hook@Corp.com ", "cleaned"), "add")
        self.assertTrue(self.blacklist("web.hook@corp.com").active)
        # a known unsubscribe again: nothing new
        self.assertIsNone(mirror("web.hook@corp.com", "unsubscribed", "cleaned"))
        self.assertEqual(mirror("web.hook@corp.com", "subscribed", "cleaned"), "remove")
        self.assertFalse(self.blacklist("web.hook@corp.com").active)


@tagged("post_install", "-at_install")
@behaviour_variants(ALTERNATIVE_BEHAVIOUR)
class TestMarketingPermissions(ConsentCase):
    """GDPR marketing permissions: read, shown, mapped, sent once."""

    def setUp(self):
        super().setUp()
        ids = self.sandbox_control(
            "POST",
            f"lists/{self.list_id}/marketing-permissions",
            {"permissions": ["Email", "Direct Mail"]},
        )["marketing_permissions"]
        self.mp = {item["text"]: item["marketing_permission_id"] for item in ids}
        # Mailchimp lists them on members only: one member lets a refresh learn them
        self.mailchimp_put("someone@elsewhere.com")
        self.env["mailchimp.audience"]._sync_from_mailchimp(self.account)
        self.permissions = {p.name: p for p in self.audience.marketing_permission_ids}

    def mc_permissions(self, email):
        return {
            item["text"]: item["enabled"]
            for item in self.mc_member(email)["marketing_permissions"]
        }

    def mc_set(self, email, **enabled):
        self.client.patch(
            self.member_path(email),
            json={
                "marketing_permissions": [
                    {
                        "marketing_permission_id": self.mp[text.replace("_", " ")],
                        "enabled": value,
                    }
                    for text, value in enabled.items()
                ]
            },
        )

    def map_email_to_employee(self, pairing):
        field = self.env["ir.model.fields"]._get("res.partner", "employee")
        return self.env["mailchimp.permission.map"].create(
            {
                "pairing_id": pairing.id,
                "permission_id": self.permissions["Email"].id,
                "odoo_field_id": field.id,
            }
        )

    def test_audience_permissions_learnt_on_refresh(self):
        self.assertTrue(self.audience.marketing_permissions_enabled)
        self.assertEqual(set(self.permissions), {"Email", "Direct Mail"})
        self.assertEqual(
            self.permissions["Email"].marketing_permission_id, self.mp["Email"]
        )

    def test_permissions_read_and_shown_per_member(self):
        ann = self.contact("ann@corp.com")
        self.mailchimp_put("ann@corp.com")
        self.mc_set("ann@corp.com", Email=True)
        pairing = self.make_pairing()
        self.assertRunDone(pairing.run_sync())
        member = pairing.member_ids.filtered(lambda m: m.partner_id == ann)
        self.assertEqual(
            {line.name: line.enabled for line in member.consent_ids},
            {"Email": True, "Direct Mail": False},
        )
        self.assertEqual(ann.mailchimp_consent_ids, member.consent_ids)
        self.assertFalse(
            ann.employee, "nothing is mapped: Odoo's fields are left alone"
        )
        # a change in Mailchimp shows at the next run
        self.next_second()
        self.mc_set("ann@corp.com", Email=False, Direct_Mail=True)
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(
            {line.name: line.enabled for line in member.consent_ids},
            {"Email": False, "Direct Mail": True},
        )
        # the contact's Mailchimp tab and the member show them (read-only lists), and a
        # salesperson (Mailchimp user) reads them
        arch = self.env["res.partner"].get_view(view_type="form")["arch"]
        self.assertIn('name="mailchimp_consent_ids"', arch)
        arch = self.env["mailchimp.member"].get_view(view_type="form")["arch"]
        self.assertIn('name="consent_ids"', arch)
        as_user = ann.with_user(self.owner)
        self.assertEqual(
            {line.name: line.enabled for line in as_user.mailchimp_consent_ids},
            {"Email": False, "Direct Mail": True},
        )

    def test_mapped_permission_pulled_and_withdrawn(self):
        ann = self.contact("ann@corp.com")
        self.mailchimp_put("ann@corp.com")
        self.mc_set("ann@corp.com", Email=True)
        pairing = self.make_pairing()
        self.map_email_to_employee(pairing)
        self.assertRunDone(pairing.run_sync())
        self.assertTrue(ann.employee, "consent given in Mailchimp is copied to Odoo")
        member = pairing.member_ids.filtered(lambda m: m.partner_id == ann)
        self.assertEqual(member.synced_permissions, {self.mp["Email"]: True})
        self.next_second()
        self.mc_set("ann@corp.com", Email=False)
        self.assertRunDone(pairing.run_sync())
        self.assertFalse(ann.employee, "a withdrawal in Mailchimp reaches Odoo")
        self.assertEqual(self.mc_permissions("ann@corp.com")["Email"], False)

    def test_first_sync_odoo_false_never_withdraws_mailchimp_consent(self):
        # Odoo wins conflicts, yet its default False
        # is no evidence: Mailchimp's consent stays
        ann = self.contact("ann@corp.com")
        self.mailchimp_put("ann@corp.com")
        self.mc_set("ann@corp.com", Email=True)
        pairing = self.make_pairing(conflict_winner="odoo")
        self.map_email_to_employee(pairing)
        self.assertRunDone(pairing.run_sync())
        self.assertTrue(self.mc_permissions("ann@corp.com")["Email"])
        self.assertTrue(ann.employee)

    def test_sent_for_new_and_changed_members_not_resent_when_unchanged(self):
        new, plain = self.contacts(
            [{"email": "new@corp.com", "employee": True}, {"email": "plain@corp.com"}]
        )
        pairing = self.make_pairing()
        self.map_email_to_employee(pairing)
        self.assertRunDone(pairing.run_sync())
        # new member: batch subscribe cannot carry it, one /batches PATCH follows
        self.assertEqual(
            self.mc_permissions("new@corp.com"), {"Email": True, "Direct Mail": False}
        )
        self.assertEqual(
            self.mc_permissions("plain@corp.com"),
            {"Email": False, "Direct Mail": False},
        )
        self.assertEqual(len(self.batch_posts()), 1)

        # nothing changed: nothing sent
        self.sandbox_control("DELETE", "requests")
        self.next_second()
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(self.batch_posts(), [])
        self.assertFalse(
            any(call["method"] in ("PATCH", "PUT") for call in self.api_calls())
        )

        # changed in Odoo: a withdrawal and a new consent go in one /batches call
        new.employee = False
        plain.employee = True
        self.sandbox_control("DELETE", "requests")
        self.next_second()
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(len(self.batch_posts()), 1)
        self.assertEqual(self.mc_permissions("new@corp.com")["Email"], False)
        self.assertEqual(self.mc_permissions("plain@corp.com")["Email"], True)
        self.assertEqual(self.mc_permissions("plain@corp.com")["Direct Mail"], False)
        self.assertEqual(run.updated_count, 2)
        self.assertEqual(self.mc_member("new@corp.com")["status"], "subscribed")

        # and once agreed, not sent again
        self.sandbox_control("DELETE", "requests")
        self.next_second()
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(self.batch_posts(), [])

    def test_permission_and_merge_field_change_share_one_patch(self):
        ann = self.contact("ann@corp.com", "Ann Old")
        pairing = self.make_pairing()
        self.map_email_to_employee(pairing)
        self.assertRunDone(pairing.run_sync())
        ann.write({"name": "Ann New", "employee": True})
        self.sandbox_control("DELETE", "requests")
        self.next_second()
        self.assertRunDone(pairing.run_sync())
        self.assertEqual(len(self.batch_posts()), 1)
        member = self.mc_member("ann@corp.com")
        self.assertEqual(member["merge_fields"]["LNAME"], "New")
        self.assertTrue(self.mc_permissions("ann@corp.com")["Email"])

    def test_direction_rules_apply(self):
        ann = self.contact("ann@corp.com", employee=True)
        self.mailchimp_put("ann@corp.com")
        bob = self.contact("bob@corp.com")
        self.mailchimp_put("bob@corp.com")
        self.mc_set("bob@corp.com", Email=True)
        pairing = self.make_pairing(direction="mailchimp2odoo")
        self.map_email_to_employee(pairing)
        self.assertRunDone(pairing.run_sync())
        self.assertFalse(self.mc_permissions("ann@corp.com")["Email"], "never pushed")
        self.assertTrue(bob.employee)
        self.assertTrue(ann.employee, "not pulled to False either")

        push_only = self.make_pairing(
            name="Push only",
            direction="odoo2mailchimp",
            partner_domain="[('email', '=', 'bob@corp.com')]",
            partner_tag_id=False,
        )
        self.map_email_to_employee(push_only)
        bob.employee = False
        self.mc_set("bob@corp.com", Email=True)
        self.assertRunDone(push_only.run_sync())
        self.assertFalse(bob.employee, "an odoo2mailchimp sync does not write Odoo")

    def test_mapping_must_be_a_boolean_of_the_audience(self):
        pairing = self.make_pairing()
        with self.assertRaisesRegex(ValidationError, "yes/no field"):
            self.env["mailchimp.permission.map"].create(
                {
                    "pairing_id": pairing.id,
                    "permission_id": self.permissions["Email"].id,
                    "odoo_field_id": self.env["ir.model.fields"]
                    ._get("res.partner", "name")
                    .id,
                }
            )

    def test_permission_mailchimp_refuses_is_a_failed_record(self):
        ann = self.contact("ann@corp.com")
        pairing = self.make_pairing()
        gone = self.env["mailchimp.marketing.permission"].create(
            {
                "audience_id": self.audience.id,
                "marketing_permission_id": "0000000000",
                "name": "Deleted in Mailchimp",
            }
        )
        self.env["mailchimp.permission.map"].create(
            {
                "pairing_id": pairing.id,
                "permission_id": gone.id,
                "odoo_field_id": self.env["ir.model.fields"]
                ._get("res.partner", "employee")
                .id,
            }
        )
        self.assertRunDone(pairing.run_sync())
        ann.employee = True
        self.next_second()
        run = pairing.run_sync()
        self.assertRunDone(run)
        failure = self.failures(run)
        self.assertEqual(failure.partner_id, ann)
        self.assertIn("Invalid marketing permission ID", failure.reason)
        member = pairing.member_ids.filtered(lambda m: m.partner_id == ann)
        self.assertFalse(
            (member.synced_permissions or {}).get("0000000000"), "sent again later"
        )


@tagged("post_install", "-at_install")
class TestConsentAtScale(ConsentCase):
    """Thousands of members: bulk calls, a bounded number of queries per page."""

    def spy(self, model_class, name):
        """Wrap a method: record each call's arguments and the SQL queries it ran."""
        calls = []
        original = getattr(model_class, name)
        cr = self.env.cr

        def wrapper(record, *args):
            before = cr.sql_log_count
            result = original(record, *args)
            calls.append({"args": args, "queries": cr.sql_log_count - before})
            return result

        return calls, patch.object(
            model_class, name, autospec=True, side_effect=wrapper
        )

    def test_blacklist_bulk_for_1500_unsubscribes(self):
        self.sandbox_control(
            "POST",
            f"lists/{self.list_id}/seed",
            {"count": 1500, "status": "unsubscribed"},
        )
        pairing = self.make_pairing(blacklist_mirror=True)
        calls, spy = self.spy(MailBlacklist, "_mailchimp_add")
        with spy:
            self.assertRunDone(pairing.run_sync())
        self.assertEqual(
            [len(call["args"][0]) for call in calls], [1000, 500], "one call per page"
        )
        _logger.info(
            "blacklist mirroring: SQL queries per page %s",
            [c["queries"] for c in calls],
        )
        for call in calls:
            # Odoo inserts 100 rows per INSERT: ~20 for 1,000 entries and their notes
            self.assertLess(
                call["queries"], 50, "a page is a few queries, not one per address"
            )
        self.assertEqual(
            self.env["mail.blacklist"].search_count(
                [("email", "=like", "member%@seed-mail.com")]
            ),
            1500,
        )

    def test_permissions_of_1200_members_stored_and_sent_in_bulk(self):
        self.sandbox_control(
            "POST",
            f"lists/{self.list_id}/marketing-permissions",
            {"permissions": ["Email"]},
        )
        self.sandbox_control("POST", f"lists/{self.list_id}/seed", {"count": 1200})
        self.env["mailchimp.audience"]._sync_from_mailchimp(self.account)
        permission = self.audience.marketing_permission_ids
        self.assertEqual(permission.name, "Email")
        partners = self.contacts(
            [
                {"email": f"member{n:06d}@seed-mail.com", "employee": n % 2 == 0}
                for n in range(1200)
            ]
        )
        pairing = self.make_pairing()
        self.env["mailchimp.permission.map"].create(
            {
                "pairing_id": pairing.id,
                "permission_id": permission.id,
                "odoo_field_id": self.env["ir.model.fields"]
                ._get("res.partner", "employee")
                .id,
            }
        )
        calls, spy = self.spy(ConsentHooks, "_pull_page_permissions")
        self.sandbox_control("DELETE", "requests")
        with spy:
            run = pairing.run_sync()
        self.assertRunDone(run)
        _logger.info(
            "marketing permissions: SQL queries per page %s",
            [c["queries"] for c in calls],
        )
        for call in calls:
            self.assertLess(
                call["queries"], 40, "a page of members is a handful of queries"
            )
        members = pairing.member_ids
        self.assertEqual(len(members.consent_ids), 1200)
        # the 600 given in Odoo went to Mailchimp in
        # one /batches call (a chunk holds them all)
        self.assertEqual(len(self.batch_posts()), 1)
        given = [
            m
            for m in self.mailchimp_members().values()
            if m["marketing_permissions"][0]["enabled"]
        ]
        self.assertEqual(len(given), 600)
        self.assertEqual(
            partners.filtered("employee").mapped("email"),
            sorted(m["email_address"] for m in given),
        )


@tagged("post_install", "-at_install")
class TestBlacklistByWebhook(ConsentCase, HttpCase):
    """A webhook delivery goes through the sync's
    pull code: the option applies at once."""

    # the webhook tests' helpers (not their class: its tests would run twice)
    active_pairing = test_mailchimp_webhook.TestMailchimpWebhook.active_pairing
    deliver = test_mailchimp_webhook.TestMailchimpWebhook.deliver

    def test_unsubscribe_delivered_is_blacklisted_at_once(self):
        pairing = self.active_pairing(
            ("ann@corp.com", "Ann Smith"), blacklist_mirror=True
        )
        ann = pairing.member_ids.partner_id
        self.assertFalse(ann.is_blacklisted)
        self.assertEqual(self.deliver("ann@corp.com", "unsubscribe")[0]["status"], 200)
        self.assertTrue(self.blacklist("ann@corp.com").active)
        # the person subscribes again through a form: without the second opt-in, kept
        self.assertEqual(self.deliver("ann@corp.com", "subscribe")[0]["status"], 200)
        self.assertEqual(pairing.member_ids.status, "subscribed")
        self.assertTrue(self.blacklist("ann@corp.com").active)

    def test_without_the_option_a_delivery_leaves_the_blacklist_alone(self):
        self.active_pairing(("bob@corp.com", "Bob Bounce"))
        self.assertEqual(self.deliver("bob@corp.com", "cleaned")[0]["status"], 200)
        self.assertFalse(self.blacklist("bob@corp.com"))
