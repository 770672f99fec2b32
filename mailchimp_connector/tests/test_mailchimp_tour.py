# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import os
import tempfile
import time
from ast import literal_eval
from datetime import timedelta
from unittest.mock import patch

from odoo import SUPERUSER_ID, api, fields
from odoo.tests import HttpCase, new_test_user, tagged

from ..engine import progress as run_progress
from ..models.mailchimp_pairing import DEFAULT_DOMAIN
from ..utils.activity_events import make_event
from ..utils.mailchimp_keys import subscriber_hash
from .common import (
    DEFAULT_API_KEY,
    MailchimpSandboxMixin,
    SchedulerInBackgroundMixin,
    TourScreenshotsMixin,
    sandbox_url,
)


@tagged("post_install", "-at_install")
class TestMailchimpTour(
    SchedulerInBackgroundMixin, TourScreenshotsMixin, MailchimpSandboxMixin, HttpCase
):
    """The screens as a person uses them, in headless Chromium."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        sandbox_url()

    def setUp(self):
        super().setUp()
        self.sandbox_control("POST", "reset")
        # Start Sync registers the webhook from inside a request; the test server
        # serializes requests, so the sandbox's URL check (a second request) would
        # wait for the first one to end. Production servers answer it concurrently.
        self.sandbox_control("POST", "webhooks/validation", {"enabled": False})
        self.account = self.env["mailchimp.account"].create(
            {
                "name": "Tour account",
                "api_key": DEFAULT_API_KEY,
                "api_base_url": self.sandbox_api_url(),
            }
        )

    def test_connect_tour(self):
        folder = tempfile.mkdtemp(prefix="mailchimp_tour_")
        with patch.dict(os.environ, {"MAILCHIMP_TOUR_SCREENSHOTS": folder}):
            self.start_tour(
                "/odoo/action-mailchimp_connector.mailchimp_account_action",
                "mailchimp_connect_tour",
                login="admin",
            )
        self.assertEqual(self.account.state, "connected")
        self.assertEqual(self.account.audience_ids.mapped("name"), ["Newsletter"])
        # the tour's screenshot step wrote its picture (the README's are made so)
        picture = os.path.join(folder, "account_connected.png")
        for _wait in range(50):
            if os.path.exists(picture):
                break
            time.sleep(0.1)
        with open(picture, "rb") as png:
            self.assertEqual(png.read(8), b"\x89PNG\r\n\x1a\n")

    def test_new_sync_tour(self):
        self.account.action_connect()
        list_id = self.account.audience_ids.mailchimp_list_id
        for status, start, count in (
            ("subscribed", 0, 3),
            ("unsubscribed", 100, 2),
            ("cleaned", 200, 1),
        ):
            self.sandbox_control(
                "POST",
                f"lists/{list_id}/seed",
                {"count": count, "status": status, "start": start},
            )
        contact = self.env["res.partner"].create(
            {"name": "Tour Contact", "email": "tour.contact@corp.com"}
        )
        fake = self.env["res.partner"].create(
            {"name": "Fake", "email": "test@corp.com"}
        )
        self.env.company.partner_id.email = "info@ourcompany.com"
        # the review's numbers the tour reads: the default segment is these two
        Partner = self.env["res.partner"]
        self.assertEqual(Partner.search(literal_eval(DEFAULT_DOMAIN)), contact | fake)
        partners_before = Partner.with_context(active_test=False).search([])
        # the scheduler's worker, played in the request that asks for it
        Cron = self.registry["ir.cron"]
        self.patch(
            Cron,
            "_trigger",
            lambda cron, at=None: cron.env["mailchimp.pairing"]._cron_sync(),
        )
        self.start_tour(
            "/odoo/action-mailchimp_connector.mailchimp_pairing_action",
            "mailchimp_new_sync_tour",
            login="admin",
        )
        pairing = self.env["mailchimp.pairing"].search(
            [("account_id", "=", self.account.id)]
        )
        self.assertEqual(pairing.state, "active")
        self.assertEqual(pairing.direction, "both")
        self.assertIn(contact, pairing.member_ids.partner_id)
        self.assertTrue(pairing.last_run_id)
        # as the review said: the 3 subscribed members became contacts, the
        # unsubscribed and cleaned ones did not; the company was not sent
        created = Partner.with_context(active_test=False).search(
            [("id", "not in", partners_before.ids)]
        )
        self.assertEqual(
            sorted(created.mapped("email")),
            [f"member{n:06d}@seed-mail.com" for n in range(3)],
        )
        with self.account._get_client() as client:
            sent = [
                member["email_address"]
                for member in client.paginate(f"/lists/{list_id}/members", "members")
            ]
        self.assertNotIn("info@ourcompany.com", sent)
        self.assertIn("tour.contact@corp.com", sent)
        # the CSV behind Export Failed Records names the refused contact and why
        self.authenticate("admin", "admin")
        response = self.url_open(f"/mailchimp/pairing/{pairing.id}/failures.csv")
        self.assertEqual(response.status_code, 200)
        self.assertIn("text/csv", response.headers["Content-Type"])
        body = response.content.decode("utf-8-sig")
        self.assertIn(
            "Email,Contact,Direction,Result,Reason,Date", body.splitlines()[0]
        )
        self.assertIn(f"test@corp.com,{fake.display_name}", body)
        self.assertIn("fake", body.lower())

    def test_sync_progress_tour(self):
        """The sync's form follows its run through the bus: the run's next pages
        are committed in another cursor, each with the engine's notification."""
        self.account.action_connect()
        pairing = self.env["mailchimp.pairing"].create(
            {
                "name": "Progress sync",
                "account_id": self.account.id,
                "audience_id": self.account.audience_ids[:1].id,
                "direction": "mailchimp2odoo",
                "state": "active",
            }
        )
        run = self.env["mailchimp.sync.run"].create(
            {
                "pairing_id": pairing.id,
                "pairing_name": pairing.name,
                "direction": pairing.direction,
                "start_date": fields.Datetime.now() - timedelta(seconds=60),
                "progress_done": 4000,
                "progress_total": 20000,
            }
        )
        pairing._sync_cursor().last_run_id = run
        played = []

        def pages(wake):
            """The scheduler's worker: three pages, a second apart, the last
            one ending the run, each committed with its notification."""
            time.sleep(1.5)  # the form's own reload after the button first
            for done in (8000, 14000, 20000):
                with self.registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    page_run = env["mailchimp.sync.run"].browse(run.id)
                    page_run.progress_done = done
                    if done == 20000:
                        page_run._finish("done")
                    run_progress.notify(page_run)
                wake()
                played.append(done)
                time.sleep(1)

        with self.scheduler_in_background(pages, "mailchimp-progress-tour"):
            self.start_tour(
                "/odoo/action-mailchimp_connector.mailchimp_pairing_action",
                "mailchimp_sync_progress_tour",
                login="admin",
            )
        self.assertEqual(played, [8000, 14000, 20000])
        self.assertEqual(run.state, "done")


@tagged("post_install", "-at_install")
class TestSalespersonTour(TourScreenshotsMixin, MailchimpSandboxMixin, HttpCase):
    """A salesperson's day in headless Chromium, on a screen wide enough for the
    chatter beside the form (the Apps page's picture of a contact)."""

    browser_size = "1600x1000"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        sandbox_url()

    def setUp(self):
        super().setUp()
        self.sandbox_control("POST", "reset")
        self.account = self.env["mailchimp.account"].create(
            {
                "name": "Tour account",
                "api_key": DEFAULT_API_KEY,
                "api_base_url": self.sandbox_api_url(),
            }
        )

    def _member(self, pairing, partner, status):
        return self.env["mailchimp.member"].create(
            {
                "pairing_id": pairing.id,
                "partner_id": partner.id,
                "email": partner.email,
                "subscriber_hash": subscriber_hash(partner.email),
                "status": status,
            }
        )

    def test_salesperson_tour(self):
        """A salesperson (Mailchimp user, no administrator rights) filters
        Contacts by Mailchimp status, opens a contact: its status badge, one
        chatter line for the campaign; the Mailchimp app shows no admin menus."""
        self.account.action_connect()
        events_id = self.sandbox_control("POST", "lists", {"name": "Events"})["id"]
        self.env["mailchimp.audience"]._sync_from_mailchimp(self.account)
        newsletter = self.account.audience_ids.filtered(
            lambda a: a.mailchimp_list_id != events_id
        )
        events = self.account.audience_ids - newsletter
        Partner = self.env["res.partner"]
        sally, ulla = Partner.create(
            [
                {
                    "name": "Sally Prospect",
                    "email": "sally@prospect.example.com",
                    "function": "Purchasing Manager",
                    "phone": "+32 2 555 01 23",
                    "street": "Rue de la Loi 42",
                    "city": "Brussels",
                    "zip": "1040",
                },
                {"name": "Ulla Unsubscribed", "email": "ulla@prospect.example.com"},
            ]
        )
        pairings = self.env["mailchimp.pairing"].create(
            [
                {
                    "name": name,
                    "account_id": self.account.id,
                    "audience_id": audience.id,
                    "direction": "mailchimp2odoo",
                }
                for name, audience in (("Newsletter", newsletter), ("Events", events))
            ]
        )
        self._member(pairings[0], sally, "subscribed")
        self._member(pairings[0], ulla, "unsubscribed")
        self._member(pairings[1], sally, "unsubscribed")
        campaign = self.env["mailchimp.campaign"].create(
            {
                "account_id": self.account.id,
                "mailchimp_campaign_id": "tour-winter",
                "title": "Winter sale",
                "subject": "Our winter sale starts now",
                "audience_id": newsletter.id,
                "mailchimp_list_id": newsletter.mailchimp_list_id,
                "send_time": fields.Datetime.now() - timedelta(days=2),
            }
        )
        sent = campaign.send_time.replace(microsecond=0)
        sally_hash = subscriber_hash(sally.email)

        def at(hours):
            return (sent + timedelta(hours=hours)).isoformat()

        Activity = self.env["mailchimp.activity"]
        Activity._store_events(
            campaign,
            [
                make_event(campaign.id, sally_hash, "sent", at(0)),
                make_event(campaign.id, sally_hash, "open", at(1)),
            ],
        )
        # a later page: the same line, rewritten
        Activity._store_events(
            campaign,
            [
                make_event(campaign.id, sally_hash, "open", at(20)),
                make_event(
                    campaign.id,
                    sally_hash,
                    "click",
                    at(21),
                    "https://shop.example.com/chairs?utm_source=mailchimp",
                ),
            ],
        )
        # an earlier campaign: its own line
        autumn = campaign.copy(
            {
                "mailchimp_campaign_id": "tour-autumn",
                "title": "Autumn catalogue",
                "send_time": campaign.send_time - timedelta(days=12),
            }
        )
        autumn_sent = autumn.send_time.replace(microsecond=0)
        Activity._store_events(
            autumn,
            [
                make_event(autumn.id, sally_hash, "sent", autumn_sent.isoformat()),
                make_event(
                    autumn.id,
                    sally_hash,
                    "open",
                    (autumn_sent + timedelta(days=1)).isoformat(),
                ),
            ],
        )
        lines = self.env["mail.message"].search(
            [
                ("model", "=", "res.partner"),
                ("res_id", "=", sally.id),
                (
                    "subtype_id",
                    "=",
                    self.env.ref("mailchimp_connector.mt_mailchimp_activity").id,
                ),
            ]
        )
        self.assertEqual(len(lines), 2)
        winter = lines.filtered(lambda line: "Winter sale" in line.body)
        self.assertEqual(len(winter), 1)
        self.assertNotIn("Our winter sale", winter.body)
        salesperson = new_test_user(
            self.env,
            login="mc_tour_salesperson",
            groups="base.group_user,mailchimp_connector.group_mailchimp_user",
        )
        self.assertFalse(
            salesperson.has_group("mailchimp_connector.group_mailchimp_manager")
        )
        visible = (
            self.env["ir.ui.menu"]
            .with_user(salesperson)
            .search(
                [
                    (
                        "id",
                        "child_of",
                        self.env.ref("mailchimp_connector.mailchimp_menu_root").id,
                    )
                ]
            )
        )
        self.assertNotIn(
            self.env.ref("mailchimp_connector.mailchimp_menu_configuration"), visible
        )
        self.start_tour(
            "/odoo/contacts?view_type=list",
            "mailchimp_salesperson_tour",
            login="mc_tour_salesperson",
        )
