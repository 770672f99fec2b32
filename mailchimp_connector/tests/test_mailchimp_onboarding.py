# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Daily use: menus by role, the screen the app opens on, empty states, wording,
the delete dialog, the mapping's Odoo fields offered by type, and a Connect that
fails fast on a host that cannot be reached."""

import re
import socket
import time
from ast import literal_eval

from lxml import etree

from odoo import SUPERUSER_ID, api
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import HttpCase, new_test_user, tagged

from ..models.mailchimp_pairing import DEFAULT_DOMAIN
from ..utils import merge_values
from ..utils.mailchimp_keys import subscriber_hash
from .common import (
    DEFAULT_API_KEY,
    MailchimpCase,
    MailchimpSandboxMixin,
    SchedulerInBackgroundMixin,
    TourScreenshotsMixin,
    sandbox_url,
)

SALES_MENUS = {
    "Mailchimp",
    "Mailchimp/Campaigns",
    "Mailchimp/Email Activity",
    "Mailchimp/Members",
}
ADMIN_MENUS = SALES_MENUS | {
    "Mailchimp/Syncs",
    "Mailchimp/Syncs/Syncs",
    "Mailchimp/Syncs/History",
    "Mailchimp/Syncs/Failed Records",
    "Mailchimp/Configuration",
    "Mailchimp/Configuration/Accounts",
    "Mailchimp/Configuration/Audiences",
    "Mailchimp/Configuration/Merge Fields",
    "Mailchimp/Configuration/Contact Events",
}
# "Pairing" is the model's name in code; people read "Sync"
CODE_WORD = re.compile(r"pairing|paired|\bpairs?\b", re.IGNORECASE)
ADDONS = ("mailchimp_connector", "mailchimp_connector_crm")
# the id of the sandbox's default audience, "Newsletter"
NEWSLETTER_LIST_ID = "f0a1b2c3d4"


def _users(env):
    salesperson = new_test_user(
        env,
        login="mc_daily_salesperson",
        password="mc_daily_salesperson",
        groups="base.group_user,base.group_partner_manager,"
        "mailchimp_connector.group_mailchimp_user",
    )
    manager = new_test_user(
        env,
        login="mc_daily_manager",
        password="mc_daily_manager",
        groups="base.group_user,base.group_partner_manager,"
        "mailchimp_connector.group_mailchimp_manager",
    )
    return salesperson, manager


@tagged("post_install", "-at_install")
class TestMailchimpMenus(MailchimpCase):
    """Salespeople see Campaigns, Email Activity and Members; administrators also
    the syncs and the configuration, each under its own menu."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesperson, cls.manager = _users(cls.env)

    def _menu_paths(self, user):
        root = self.env.ref("mailchimp_connector.mailchimp_menu_root")
        visible = self.env["ir.ui.menu"].with_user(user)._visible_menu_ids()
        menus = (
            self.env["ir.ui.menu"]
            .with_context(**{"ir.ui.menu.full_list": True})
            .search([("id", "child_of", root.id)])
        )

        def lineage(menu):
            while menu:
                yield menu
                menu = menu.parent_id

        def path(menu):
            return "/".join(reversed([m.name for m in lineage(menu)]))

        def shown(menu):  # a menu shows when it and all its folders are visible
            return all(m.id in visible for m in lineage(menu))

        return {path(menu) for menu in menus if shown(menu)}

    def test_a_salesperson_sees_campaigns_activity_and_members(self):
        self.assertEqual(self._menu_paths(self.salesperson), SALES_MENUS)

    def test_an_administrator_sees_syncs_and_configuration_grouped(self):
        self.assertEqual(self._menu_paths(self.manager), ADMIN_MENUS)
        self.assertEqual(self._menu_paths(self.env.ref("base.user_admin")), ADMIN_MENUS)

    def test_a_salesperson_opens_each_of_their_menus(self):
        """Each of their menus' screens reads its records as the salesperson (the
        full screens, buttons included: test_mailchimp_screens)."""
        root = self.env.ref("mailchimp_connector.mailchimp_menu_root")
        visible = self.env["ir.ui.menu"].with_user(self.salesperson)._visible_menu_ids()
        menus = root.child_id.filtered(lambda menu: menu.id in visible)
        self.assertEqual(len(menus), 3)
        for menu in menus:
            action = menu.action.sudo()
            self.assertEqual(action._name, "ir.actions.act_window")
            Model = self.env[action.res_model].with_user(self.salesperson)
            Model.get_views([(False, mode) for mode in action.view_mode.split(",")])
            Model.search_fetch([], list(Model.fields_get(attributes=["type"])), limit=5)


@tagged("post_install", "-at_install")
class TestMailchimpHome(MailchimpCase):
    """The app's root menu runs a server action that opens what to do next."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesperson, cls.manager = _users(cls.env)

    def _home(self, user):
        root = self.env.ref("mailchimp_connector.mailchimp_menu_root")
        home = self.env.ref("mailchimp_connector.mailchimp_action_home")
        self.assertEqual(root.action, home)
        return home.with_user(user).run()

    def assertAction(self, action, xml_id):
        expected = self.env.ref(f"mailchimp_connector.{xml_id}")
        self.assertEqual(action["id"], expected.id, action.get("name"))

    def test_no_account_opens_connect_mailchimp(self):
        self.env["mailchimp.account"].search([]).unlink()
        action = self._home(self.manager)
        self.assertAction(action, "mailchimp_account_action_connect")
        self.assertEqual(action["name"], "Connect Mailchimp")
        self.assertEqual(action["res_model"], "mailchimp.account")
        self.assertEqual(action["view_mode"], "form")
        self.assertFalse(action.get("res_id"))

    def test_an_account_not_connected_opens_its_form(self):
        self.assertNotEqual(self.account.state, "connected")
        action = self._home(self.manager)
        self.assertAction(action, "mailchimp_account_action_connect")
        self.assertEqual(action["res_id"], self.account.id)
        # several waiting: the list, to choose
        self.env["mailchimp.account"].create(
            {"name": "Second", "api_key": DEFAULT_API_KEY}
        )
        self.assertAction(self._home(self.manager), "mailchimp_account_action")

    def test_connected_without_sync_opens_create_your_first_sync(self):
        self.account.action_connect()
        self.assertFalse(self.account.pairing_count)
        action = self._home(self.manager)
        self.assertAction(action, "mailchimp_pairing_action_first")
        self.assertEqual(action["name"], "Create your first sync")
        self.assertEqual(action["view_mode"], "form")
        newsletter = self.account.audience_ids
        self.assertEqual(len(newsletter), 1)
        self.assertEqual(
            action["context"],
            {
                "default_account_id": self.account.id,
                "default_audience_id": newsletter.id,
                "mailchimp_first_sync": True,
            },
        )
        # the account's form offers the same next step
        self.assertEqual(self.account.action_create_first_sync(), action)
        # the new sync's form starts filled: account, audience, its name
        Pairing = self.env["mailchimp.pairing"].with_context(**action["context"])
        values = Pairing.onchange(
            Pairing.default_get(["account_id", "audience_id", "name"]),
            [],
            {"account_id": {}, "audience_id": {}, "name": {}},
        )["value"]
        self.assertEqual(values["name"], "Contacts ↔ Newsletter")

    def test_with_a_sync_opens_the_syncs(self):
        self.account.action_connect()
        self.env["mailchimp.pairing"].create(
            {
                "name": "A sync",
                "account_id": self.account.id,
                "audience_id": self.account.audience_ids.id,
            }
        )
        self.assertEqual(self.account.pairing_count, 1)
        self.assertAction(self._home(self.manager), "mailchimp_pairing_action")
        self.assertAction(
            self._home(self.env.ref("base.user_admin")), "mailchimp_pairing_action"
        )

    def test_a_salesperson_always_opens_the_campaigns(self):
        self.assertAction(self._home(self.salesperson), "mailchimp_campaign_action")
        self.account.action_connect()
        self.assertAction(self._home(self.salesperson), "mailchimp_campaign_action")
        with self.assertRaises(AccessError):  # no "first sync" for them
            self.account.with_user(self.salesperson).action_create_first_sync()

    def test_every_list_says_what_to_do_when_empty(self):
        actions = self.env["ir.actions.act_window"].search(
            [("res_model", "like", "mailchimp.")]
        )
        checked = 0
        for action in actions:
            if action.get_external_id()[action.id].split(".")[0] not in ADDONS:
                continue
            if not {"list", "kanban"} & set(action.view_mode.split(",")):
                continue
            checked += 1
            help_text = str(action.help or "")
            self.assertIn("o_view_nocontent_smiling_face", help_text, action.name)
            # a title and a sentence that says what to do
            self.assertGreaterEqual(help_text.count("<p"), 2, action.name)
        self.assertGreaterEqual(checked, 10)


@tagged("post_install", "-at_install")
class TestMailchimpConnectFailsFast(MailchimpCase):
    """Connect says at once that a host cannot be reached: one attempt, a short
    connection timeout, a message naming the host."""

    attempts = []

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        if "/_sandbox/" not in r.url:  # the API's requests, not the test's own
            cls.attempts.append((r.url, kw.get("timeout")))
        return super()._request_handler(s, r, **kw)

    def setUp(self):
        super().setUp()
        self.account.request_timeout = 60
        # a long retry budget: a retry would show in the attempts
        self.env["ir.config_parameter"].sudo().set_param(
            "mailchimp_connector.max_retry_seconds", "60"
        )
        self.attempts.clear()

    def _closed_port(self):
        with socket.socket() as probe:  # the sandbox stopped: nothing listens there
            probe.bind(("127.0.0.1", 0))
            return probe.getsockname()[1]

    def test_unreachable_host_is_named_after_one_attempt(self):
        port = self._closed_port()
        self.account.api_base_url = f"http://127.0.0.1:{port}/{{dc}}/3.0"
        action = self.account.action_connect()
        self.assertEqual(action["params"]["type"], "danger")
        message = action["params"]["message"]
        self.assertIn(f"could not be reached at 127.0.0.1:{port}", message)
        self.assertIn("connection refused", message)
        self.assertIn("API base URL", message)
        self.assertEqual(self.account.state, "error")
        self.assertEqual(self.account.last_error, message)
        self.assertEqual(
            self.attempts, [(f"http://127.0.0.1:{port}/us1/3.0/ping", (5, 60))]
        )

    def test_a_host_that_does_not_answer_in_time_is_not_asked_twice(self):
        self.account.request_timeout = 1
        self.sandbox_control("DELETE", "requests")
        with self.sandbox_fault(path_pattern="ping", status=200, hang=3, count=10):
            action = self.account.action_connect()
        host = sandbox_url().split("//")[1]
        self.assertIn(f"{host} did not answer in time", action["params"]["message"])
        self.assertEqual(
            self.attempts, [(f"{self.sandbox_api_url('us1')}/ping", (1, 1))]
        )

    def test_reauthorize_fails_fast_too_and_keeps_the_key(self):
        port = self._closed_port()
        self.account.api_base_url = f"http://127.0.0.1:{port}/{{dc}}/3.0"
        other_key = "fedcba9876543210fedcba9876543210-us1"
        with self.assertRaisesRegex(UserError, f"127.0.0.1:{port}"):
            self.account._reauthorize(other_key)
        self.assertEqual(len(self.attempts), 1)
        self.assertEqual(self.account.api_key, DEFAULT_API_KEY)

    def test_syncs_still_retry_network_errors(self):
        """Only Connect and Reauthorize, where a person waits, give up at once."""
        with self.account._get_client() as client:
            self.assertTrue(client.retry_network_errors)
            self.assertEqual(client.timeout, 60)
        with self.account._get_client(checking=True) as client:
            self.assertFalse(client.retry_network_errors)
            self.assertEqual(client.timeout, (5, 60))


@tagged("post_install", "-at_install")
class TestMailchimpFieldMapChoices(MailchimpCase):
    """While a mapping is chosen, the Odoo field's drop-down offers only the
    contact fields that fit the chosen Mailchimp field: what the save accepts."""

    def setUp(self):
        super().setUp()
        self.account.action_connect()
        self.audience = self.account.audience_ids
        self.pairing = self.env["mailchimp.pairing"].create(
            {
                "name": "Mapping sync",
                "account_id": self.account.id,
                "audience_id": self.audience.id,
            }
        )
        kinds = self.env["res.partner"]._fields["type"]._description_selection(self.env)
        self.kind = self._merge_field(
            "KIND", "dropdown", [label for _k, label in kinds]
        )
        self.kind_short = self._merge_field(
            "KINDS", "dropdown", [label for _k, label in kinds][:1]
        )

    def _merge_field(self, tag, field_type, choices):
        return self.env["mailchimp.merge.field"].create(
            {
                "audience_id": self.audience.id,
                "merge_id": 100 + len(self.audience.merge_field_ids),
                "tag": tag,
                "name": tag.title(),
                "field_type": field_type,
                "options": {"choices": choices},
            }
        )

    def _offered(self, merge_field):
        """The drop-down's domain as the web client gets it, by the onchange of the
        Mailchimp field."""
        FieldMap = self.env["mailchimp.field.map"]
        result = FieldMap.onchange(
            {
                "pairing_id": self.pairing.id,
                "merge_field_id": merge_field.id,
                "source_kind": "field",
            },
            ["merge_field_id"],
            {
                "pairing_id": {},
                "merge_field_id": {},
                "source_kind": {},
                "odoo_field_domain": {},
            },
        )
        domain = result["value"]["odoo_field_domain"]
        return self.env["ir.model.fields"].search(domain)

    def _accepted(self, merge_field, field):
        mapping = self.env["mailchimp.field.map"].new(
            {
                "pairing_id": self.pairing.id,
                "merge_field_id": merge_field.id,
                "source_kind": "field",
                "odoo_field_id": field.id,
            }
        )
        try:
            mapping._check_mapping()
        except merge_values.MappingError:
            return False
        return True

    def test_the_drop_down_offers_exactly_what_the_save_accepts(self):
        stored = self.env["ir.model.fields"].search(
            [("model", "=", "res.partner"), ("store", "=", True)]
        )
        by_tag = {field.tag: field for field in self.audience.merge_field_ids}
        for tag in ("FNAME", "PHONE", "ADDRESS", "BIRTHDAY", "KIND", "KINDS"):
            merge_field = by_tag[tag]
            offered = self._offered(merge_field)
            for field in stored:
                self.assertEqual(
                    field in offered,
                    self._accepted(merge_field, field),
                    f"{tag} <- {field.name} ({field.ttype})",
                )
        names = {tag: set(self._offered(by_tag[tag]).mapped("name")) for tag in by_tag}
        self.assertIn("phone", names["PHONE"])
        self.assertNotIn("is_company", names["PHONE"])
        self.assertNotIn("date", names["PHONE"])
        self.assertIn("is_company", names["FNAME"])
        self.assertEqual(names["ADDRESS"], set())  # the "address" source fills it
        self.assertIn("type", names["KIND"])
        # a choice missing in Mailchimp: not offered (the save would refuse it)
        self.assertNotIn("type", names["KINDS"])
        with self.assertRaisesRegex(ValidationError, "no choice"):
            self.env["mailchimp.field.map"].create(
                {
                    "pairing_id": self.pairing.id,
                    "merge_field_id": self.kind_short.id,
                    "source_kind": "field",
                    "odoo_field_id": self.env["ir.model.fields"]
                    ._get("res.partner", "type")
                    .id,
                }
            )

    def test_both_mapping_lists_use_the_domain(self):
        for view_xml_id, path in (
            ("mailchimp_field_map_view_list", "//field[@name='odoo_field_id']"),
            (
                "mailchimp_pairing_view_form",
                "//field[@name='field_map_ids']//field[@name='odoo_field_id']",
            ),
        ):
            view = self.env.ref(f"mailchimp_connector.{view_xml_id}")
            arch = etree.fromstring(view.arch)
            (node,) = arch.xpath(path)
            self.assertEqual(node.get("domain"), "odoo_field_domain", view_xml_id)


@tagged("post_install", "-at_install")
class TestMailchimpWording(MailchimpCase):
    """One word for one thing ("Sync"), technical fields only in debug mode."""

    def test_no_pairing_in_what_people_read(self):
        found = []
        models = (
            self.env["ir.model"]
            .search([])
            .filtered(
                lambda model: set(ADDONS) & set((model.modules or "").split(", "))
            )
        )
        self.assertIn("mailchimp.pairing", models.mapped("model"))
        for model in models:
            if CODE_WORD.search(model.name):
                found.append(f"model {model.model}: {model.name}")
            Model = self.env[model.model]
            described = Model.fields_get(attributes=["string", "help", "selection"])
            for name in Model._fields:
                if not (
                    model.model.startswith("mailchimp.") or name.startswith("mailchimp")
                ):
                    continue  # another addon's field of an inherited model
                texts = [described[name].get("string"), described[name].get("help")]
                texts += [label for _k, label in described[name].get("selection") or []]
                found += [
                    f"{model.model}.{name}: {text}"
                    for text in texts
                    if text and CODE_WORD.search(str(text))
                ]
        views = self.env["ir.ui.view"].browse(
            self.env["ir.model.data"]
            .search([("module", "in", ADDONS), ("model", "=", "ir.ui.view")])
            .mapped("res_id")
        )
        self.assertGreaterEqual(len(views), 20)
        for view in views:
            for node in etree.fromstring(view.arch).iter(etree.Element):
                texts = [node.get(attr) for attr in ("string", "help", "placeholder")]
                texts += [node.get("confirm"), node.get("title"), node.text]
                found += [
                    f"view {view.xml_id}: {text.strip()}"
                    for text in texts
                    if text and CODE_WORD.search(text)
                ]
        menus = self.env["ir.ui.menu"].search(
            [
                (
                    "id",
                    "child_of",
                    self.env.ref("mailchimp_connector.mailchimp_menu_root").id,
                )
            ]
        )
        found += [f"menu {m.name}" for m in menus if CODE_WORD.search(m.name)]
        for action in self.env["ir.actions.act_window"].search(
            [("res_model", "like", "mailchimp.")]
        ):
            for text in (action.name, str(action.help or "")):
                if CODE_WORD.search(text):
                    found.append(f"action {action.name}: {text}")
        self.assertFalse(found, "\n".join(found))

    def _form_fields(self, user, model, view_xml_id):
        view = self.env.ref(f"mailchimp_connector.{view_xml_id}")
        arch = (
            self.env[model]
            .with_user(user)
            .get_views([(view.id, "form")])["views"]["form"]["arch"]
        )
        # not those the view adds, invisible, for the conditions that use them
        return set(
            etree.fromstring(arch).xpath(
                "//field[not(@invisible='True') and not(@invisible='1')]/@name"
            )
        )

    def test_technical_fields_only_in_debug_mode(self):
        admin = _users(self.env)[1]
        technical = {
            ("mailchimp.pairing", "mailchimp_pairing_view_form"): {
                "mailchimp_watermark",
                "odoo_watermark",
                "initial_done",
                "webhook_id",
            },
            ("mailchimp.account", "mailchimp_account_view_form"): {
                "activity_campaign_watermark",
                "mailchimp_account_id",
            },
            ("mailchimp.campaign", "mailchimp_campaign_view_form"): {
                "activity_watermark",
                "mailchimp_campaign_id",
                "unknown_event_count",
            },
            ("mailchimp.sync.run", "mailchimp_sync_run_view_form"): {"http_requests"},
        }
        for (model, view_xml_id), names in technical.items():
            shown = self._form_fields(admin, model, view_xml_id)
            self.assertFalse(names & shown, view_xml_id)
            # shown in debug mode (base.group_no_one holds only there)
            arch = etree.fromstring(
                self.env.ref(f"mailchimp_connector.{view_xml_id}").arch
            )
            for name in names:
                (node,) = arch.xpath(f"//field[@name='{name}']")
                self.assertEqual(node.get("groups"), "base.group_no_one", name)
        # what people use stays
        self.assertIn(
            "last_sync_date",
            self._form_fields(
                admin, "mailchimp.pairing", "mailchimp_pairing_view_form"
            ),
        )

    def test_deleting_a_sync_keeps_contacts_members_and_history(self):
        """What the delete dialog promises (its text: the delete tour)."""
        self.account.action_connect()
        partner = self.env["res.partner"].create(
            {"name": "Kept", "email": "kept@corp.com"}
        )
        pairing = self.env["mailchimp.pairing"].create(
            {
                "name": "To delete",
                "account_id": self.account.id,
                "audience_id": self.account.audience_ids.id,
                "partner_domain": f"[('id', '=', {partner.id})]",
                "direction": "odoo2mailchimp",
                "state": "active",
            }
        )
        run = pairing.run_sync()
        self.assertEqual(run.state, "done", run.message)
        list_id = self.account.audience_ids.mailchimp_list_id
        member_path = f"/lists/{list_id}/members/{subscriber_hash('kept@corp.com')}"
        with self.account._get_client() as client:
            self.assertEqual(client.get(member_path)["status"], "subscribed")
        pairing.unlink()
        self.assertTrue(partner.exists())
        self.assertTrue(run.exists())
        with self.account._get_client() as client:
            self.assertEqual(client.get(member_path)["status"], "subscribed")


@tagged("post_install", "-at_install")
class TestMailchimpOnboardingTour(
    SchedulerInBackgroundMixin, TourScreenshotsMixin, MailchimpSandboxMixin, HttpCase
):
    """The first run on an empty database, a salesperson's first screen and the
    delete dialog, in headless Chromium."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        sandbox_url()

    def setUp(self):
        super().setUp()
        self.sandbox_control("POST", "reset")

    def test_first_run_tour(self):
        self.env["mailchimp.account"].with_context(active_test=False).search(
            []
        ).unlink()
        # a new account talks to the sandbox (an administrator would fill the API
        # base URL, Advanced tab, for a test server)
        field = self.registry["mailchimp.account"]._fields["api_base_url"]
        self.patch(field, "default", lambda model: self.sandbox_api_url())
        self.start_tour("/odoo", "mailchimp_first_run_tour", login="admin")
        account = self.env["mailchimp.account"].search([])
        self.assertEqual(len(account), 1)
        self.assertEqual(account.state, "connected")
        self.assertEqual(account.audience_ids.mapped("name"), ["Newsletter"])
        self.assertFalse(self.env["mailchimp.pairing"].search([]))

    def test_first_sync_tour(self):
        """Connect, the first sync, the review's numbers for a seeded audience,
        Start Sync, and its run followed to 100 % without a reload."""
        # Start Sync registers the webhook from inside a request, which the test
        # server's single thread cannot answer at the same time (test_mailchimp_tour)
        self.sandbox_control("POST", "webhooks/validation", {"enabled": False})
        self.env["mailchimp.account"].with_context(active_test=False).search(
            []
        ).unlink()
        field = self.registry["mailchimp.account"]._fields["api_base_url"]
        self.patch(field, "default", lambda model: self.sandbox_api_url())
        list_id = NEWSLETTER_LIST_ID
        for status, start, count in (
            ("subscribed", 0, 1200),
            ("unsubscribed", 5000, 25),
            ("cleaned", 6000, 10),
        ):
            self.sandbox_control(
                "POST",
                f"lists/{list_id}/seed",
                {"count": count, "status": status, "start": start},
            )
        # the default segment: these 5 contacts, whatever the database had
        Partner = self.env["res.partner"]
        Partner.search(literal_eval(DEFAULT_DOMAIN)).write({"email": False})
        segment = Partner.create(
            [{"name": f"First {n}", "email": f"first.{n}@corp.com"} for n in range(5)]
        )
        self.assertEqual(Partner.search(literal_eval(DEFAULT_DOMAIN)), segment)
        passes = []

        def scheduler(wake):
            """The cron worker Start Sync wakes: its passes, each committed."""
            time.sleep(1.5)  # the form shows the sync started, not yet done
            for _pass in range(20):
                with self.registry.cursor() as cr:
                    env = api.Environment(cr, SUPERUSER_ID, {})
                    env["mailchimp.pairing"]._cron_sync()
                    state = env["mailchimp.pairing"].search([]).last_run_id.state
                    passes.append(state)
                wake()
                if state != "running":
                    return
                time.sleep(0.5)

        with self.scheduler_in_background(scheduler, "mailchimp-first-sync"):
            self.start_tour("/odoo", "mailchimp_first_sync_tour", login="admin")
        pairing = self.env["mailchimp.pairing"].search([])
        self.assertEqual(len(pairing), 1)
        self.assertEqual(pairing.state, "active")
        run = pairing.last_run_id
        self.assertEqual(passes[-1], "done")
        self.assertEqual(run.state, "done", run.message)
        # as the review said
        self.assertEqual(run.created_odoo_count, 1200)
        self.assertEqual(run.created_mailchimp_count, 5)
        self.assertEqual(run.progress_done, run.progress_total)
        self.assertEqual(len(pairing.member_ids), 1205)
        with pairing.account_id._get_client() as client:
            emails = [
                member["email_address"]
                for member in client.paginate(f"/lists/{list_id}/members", "members")
            ]
        self.assertEqual(len(emails), 1240)
        self.assertEqual(len(set(emails)), 1240)
        self.assertLessEqual(set(segment.mapped("email")), set(emails))

    def test_salesperson_home_tour(self):
        salesperson, _manager = _users(self.env)
        self.start_tour(
            "/odoo", "mailchimp_salesperson_home_tour", login=salesperson.login
        )

    def test_delete_sync_tour(self):
        account = self.env["mailchimp.account"].create(
            {
                "name": "Tour account",
                "api_key": DEFAULT_API_KEY,
                "api_base_url": self.sandbox_api_url(),
            }
        )
        account.action_connect()
        partner = self.env["res.partner"].create(
            {"name": "Kept contact", "email": "kept.contact@corp.com"}
        )
        self.env["mailchimp.pairing"].search([]).unlink()
        self.env["mailchimp.pairing"].create(
            [
                {
                    "name": f"Delete me {index}",
                    "account_id": account.id,
                    "audience_id": account.audience_ids.id,
                }
                for index in (1, 2)
            ]
        )
        self.start_tour(
            "/odoo/action-mailchimp_connector.mailchimp_pairing_action",
            "mailchimp_delete_sync_tour",
            login="admin",
        )
        self.assertFalse(self.env["mailchimp.pairing"].search([]))
        self.assertTrue(partner.exists())
