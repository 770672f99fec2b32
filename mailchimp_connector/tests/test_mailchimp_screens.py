# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Every Mailchimp screen a user is given opens without an error (F33).

The screens are opened by the web client's own calls, through
``/web/dataset/call_kw`` as that user: the menus the user sees
(``/web/webclient/load_menus``), each menu's action (``/web/action/load``), its
views (``get_views``), its records with the specification the web client builds
from the view arch (``web_search_read``, ``web_read``, with the one2many and
many2many subviews the form embeds), graphs and pivots (``read_group``), a
record of each list in its form view, and every smart button of every form
(``/web/dataset/call_button``) with the screen it opens. Also the contact form
with its Mailchimp tab and smart button. A salesperson may also press every
other button left visible to them: none may end in an access error.
"""

import json
import logging

from lxml import etree

from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools.safe_eval import safe_eval

from ..engine.contact_events import ContactEventSender
from ..utils.mailchimp_keys import subscriber_hash
from .common import DEFAULT_API_KEY, MailchimpSandboxMixin, sandbox_url

_logger = logging.getLogger(__name__)
SUBVIEWS = ("list", "kanban", "form", "graph", "pivot", "calendar")
MULTI_RECORD_VIEWS = ("list", "kanban")


def field_nodes(root):
    """The ``<field>`` nodes of a view, not those of the subviews they embed."""
    for node in root.iterchildren(tag=etree.Element):
        if node.tag == "field":
            yield node
        elif node.tag != "groupby":
            yield from field_nodes(node)


def fields_spec(root, model, models):
    """The ``specification`` the web client sends for a view arch (getFieldsSpec
    in web/static/src/model/relational_model/utils.js)."""
    fields = models[model]["fields"]
    spec = {}
    for node in field_nodes(root):
        name = node.get("name")
        field = fields[name]
        invisible = node.get("invisible") in ("1", "True")
        entry = {}
        if field["type"] in ("one2many", "many2many"):
            modes = (node.get("mode") or "list,kanban").split(",")
            subviews = {child.tag: child for child in node if child.tag in SUBVIEWS}
            subview = next((subviews[mode] for mode in modes if mode in subviews), None)
            if subview is not None and not invisible:
                entry = {
                    "fields": fields_spec(subview, field["relation"], models),
                    "limit": int(subview.get("limit") or 40),
                }
            elif node.get("widget") in ("many2many_tags", "many2many_tags_avatar"):
                entry = {"fields": {"display_name": {}}}
        elif field["type"] in ("many2one", "reference"):
            entry = {"fields": {} if invisible else {"display_name": {}}}
        spec[name] = entry
    return spec


class ScreenError(Exception):
    """The server answered a web client call with an error."""


def views_models(result):
    """get_views' ``models`` as {model: {"fields": ...}} whatever its shape."""
    return {
        model: info if "fields" in info else {"fields": info}
        for model, info in result["models"].items()
    }


@tagged("post_install", "-at_install")
class TestMailchimpScreens(MailchimpSandboxMixin, HttpCase):
    """A salesperson (Mailchimp: User) and an administrator open every screen."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        sandbox_url()
        cls.env["ir.config_parameter"].sudo().set_param(
            "mailchimp_connector.max_retry_seconds", "2"
        )
        cls.salesperson = new_test_user(
            cls.env,
            login="mc_screens_salesperson",
            password="mc_screens_salesperson",
            groups="base.group_user,base.group_partner_manager,"
            "mailchimp_connector.group_mailchimp_user",
        )
        cls.manager = new_test_user(
            cls.env,
            login="mc_screens_manager",
            password="mc_screens_manager",
            groups="base.group_user,base.group_partner_manager,"
            "mailchimp_connector.group_mailchimp_manager",
        )

    def setUp(self):
        super().setUp()
        self.sandbox_control("POST", "reset")
        self.sandbox_control("POST", "webhooks/validation", {"enabled": False})
        self.account = self.env["mailchimp.account"].create(
            {
                "name": "Screens account",
                "api_key": DEFAULT_API_KEY,
                "api_base_url": self.sandbox_api_url(),
                "request_timeout": 5,
            }
        )
        self.account.action_connect()
        self.audience = self.account.audience_ids.filtered(
            lambda a: a.name == "Newsletter"
        )
        self._make_records()

    def _make_records(self):
        """A sync with every kind of row its screens show: field mappings, tags,
        interest groups, marketing permissions, members, runs, failures, a
        campaign and its email activity."""
        list_id = self.audience.mailchimp_list_id
        client = self.account._get_client()
        self.addCleanup(client.close)
        base = f"/lists/{list_id}/interest-categories"
        category = client.post(base, json={"title": "Topics", "type": "checkboxes"})
        client.post(f"{base}/{category['id']}/interests", json={"name": "Customers"})
        self.sandbox_control(
            "POST", f"lists/{list_id}/marketing-permissions", {"permissions": ["Email"]}
        )
        client.put(  # Mailchimp lists the permissions on members only
            f"/lists/{list_id}/members/{subscriber_hash('known@elsewhere.com')}",
            json={
                "email_address": "known@elsewhere.com",
                "status_if_new": "subscribed",
            },
        )
        self.env["mailchimp.audience"]._sync_from_mailchimp(self.account)
        tag = self.env["res.partner.category"].create({"name": "Screens"})
        self.partners = self.env["res.partner"].create(
            [
                {
                    "name": f"Screen Person{i}",
                    "email": f"screen{i}@corp.com",
                    "category_id": [Command.link(tag.id)],
                }
                for i in range(3)
            ]
            + [
                {
                    "name": "Fake",
                    "email": "test@corp.com",
                    "category_id": [Command.link(tag.id)],
                }
            ]
        )
        self.pairing = self.env["mailchimp.pairing"].create(
            {
                "name": "Screens sync",
                "account_id": self.account.id,
                "audience_id": self.audience.id,
                "partner_domain": "[]",
                "partner_tag_id": tag.id,
                "state": "active",
            }
        )
        self.pairing.action_apply_default_mapping()
        self.assertTrue(self.pairing.field_map_ids.filtered("odoo_field_id"))
        partner_field = self.env["ir.model.fields"]._get
        self.env["mailchimp.interest.map"].create(
            {
                "pairing_id": self.pairing.id,
                "interest_id": self.audience.interest_category_ids.interest_ids[:1].id,
                "source_kind": "boolean",
                "odoo_field_id": partner_field("res.partner", "is_company").id,
            }
        )
        self.env["mailchimp.permission.map"].create(
            {
                "pairing_id": self.pairing.id,
                "permission_id": self.audience.marketing_permission_ids[:1].id,
                "odoo_field_id": partner_field("res.partner", "employee").id,
            }
        )
        self.env["mailchimp.tag.rule"].create(
            {
                "pairing_id": self.pairing.id,
                "name": "Screens VIP",
                "partner_domain": "[]",
            }
        )
        run = self.pairing.run_sync()
        self.assertEqual(run.state, "done", run.message)
        self.assertTrue(run.failure_ids)
        self.assertTrue(self.pairing.member_ids.filtered("partner_id"))
        self.sandbox_control(
            "POST",
            "campaigns",
            {
                "list_id": list_id,
                "subject": "Screens campaign",
                "events": [
                    {"email": "screen0@corp.com", "action": "open"},
                    {
                        "email": "screen0@corp.com",
                        "action": "click",
                        "url": "https://example.com/",
                    },
                ],
            },
        )
        self.account._pull_activity()
        self.assertTrue(
            self.env["mailchimp.activity"].search(
                [("partner_id", "=", self.partners[0].id)]
            )
        )
        # an event an automation sent (the contact's Mailchimp Events)
        self.env["ir.actions.server"].create(
            {
                "name": "Screens event",
                "model_id": self.env["ir.model"]._get("res.partner").id,
                "state": "mailchimp_event",
                "mailchimp_pairing_id": self.pairing.id,
                "mailchimp_event_name": "screens_opened",
            }
        ).with_context(
            active_model="res.partner", active_ids=self.partners[0].ids
        ).run()
        ContactEventSender(self.account).run()
        self.assertEqual(
            self.env["mailchimp.contact.event"]
            .search([("partner_id", "=", self.partners[0].id)])
            .state,
            "sent",
        )

    # -- the web client's calls ------------------------------------------------

    def rpc(self, route, params):
        """A JSON-RPC call as the web client makes it; an error answer raises
        ScreenError with the server's exception and message."""
        response = self.url_open(
            route,
            json.dumps(
                {"id": 0, "jsonrpc": "2.0", "method": "call", "params": params}
            ).encode(),
            headers={"Content-Type": "application/json"},
        )
        response.raise_for_status()
        answer = response.json()
        if "error" in answer:
            data = answer["error"].get("data") or {}
            raise ScreenError(f"{data.get('name')}: {data.get('message')}")
        return answer["result"]

    def call_kw(self, model, method, args=(), kwargs=None):
        return self.rpc(
            f"/web/dataset/call_kw/{model}/{method}",
            {
                "model": model,
                "method": method,
                "args": list(args),
                "kwargs": kwargs or {},
            },
        )

    def call_button(self, model, method, res_id, context):
        return self.rpc(
            "/web/dataset/call_button",
            {
                "model": model,
                "method": method,
                "args": [[res_id]],
                "kwargs": {"context": context},
            },
        )

    def open_screens(self, login):
        """Open every screen ``login`` is given; returns {screen: error} for those
        that failed, and the list of screens opened."""
        self.authenticate(login, login)
        self.uid = self.env["res.users"].sudo().search([("login", "=", login)]).id
        self.manager_view = login != self.salesperson.login
        self.opened, self.errors, self.seen_forms = [], {}, set()
        self.context = {"lang": "en_US", "tz": "UTC", "uid": self.uid}
        menus = json.loads(self.url_open("/web/webclient/load_menus/1").content)
        root = self.env.ref("mailchimp_connector.mailchimp_menu_root")
        self.assertIn(
            root.id, [int(key) for key in menus if key != "root"], "no Mailchimp app"
        )
        actions = []
        for menu in menus.values():
            if (menu.get("xmlid") or "").startswith("mailchimp_connector.") and menu[
                "actionID"
            ]:
                actions.append((f"menu {menu['name']}", menu["actionID"]))
        self.menus_seen = {label for label, _action in actions}
        if not self.manager_view:
            # the administrators' screens, which links (a member's sync, a campaign's
            # account...) and addresses still reach: readable, no access error
            shown = {action_id for _label, action_id in actions}
            for menu in (
                self.env["ir.ui.menu"]
                .with_context(**{"ir.ui.menu.full_list": True})
                .search([("id", "child_of", root.id), ("action", "!=", False)])
            ):
                if menu.action.id not in shown:
                    actions.append((f"menu {menu.name}", menu.action.id))
        self.assertGreaterEqual(len(actions), 10, actions)
        # the contact form: its Mailchimp tab and smart button
        partner_form = self.env.ref("base.view_partner_form")
        self.open_form(
            "contact form",
            "res.partner",
            partner_form.id,
            self.partners[0].id,
            self.context,
        )
        for label, action_id in actions:
            action = self.rpc("/web/action/load", {"action_id": action_id})
            self.open_action(label, action)
        return self.errors

    def guard(self, label, function, *args):
        try:
            return function(*args)
        except ScreenError as error:
            self.errors[label] = str(error)[:300].replace("\n", " ")
            return None

    def open_action(self, label, action):
        if action.get("type") == "ir.actions.server":
            # the app's first screen (its root menu): the action it picks
            opened = self.guard(
                f"{label}: run",
                self.rpc,
                "/web/action/run",
                {"action_id": action["id"], "context": self.context},
            )
            if isinstance(opened, dict):
                self.opened.append(f"{label}: {opened.get('name')}")
                self.open_action(f"{label} > {opened.get('name')}", opened)
            return
        if action.get("type") != "ir.actions.act_window":
            return
        context = dict(self.context)
        action_context = action.get("context") or {}
        if isinstance(action_context, str):
            action_context = safe_eval(
                action_context, {"uid": self.uid, "active_id": False}
            )
        context.update(action_context)
        domain = action.get("domain") or []
        if isinstance(domain, str):
            domain = safe_eval(domain, {"uid": self.uid, "context": context})
        model = action["res_model"]
        views = action.get("views") or [
            [False, view_type]
            for view_type in (action.get("view_mode") or "list,form").split(",")
        ]
        views = [[view_id or False, view_type] for view_id, view_type in views]
        result = self.guard(
            f"{label}: get_views",
            self.call_kw,
            model,
            "get_views",
            (),
            {
                "views": views + [[False, "search"]],
                "options": {
                    "action_id": action.get("id"),
                    "load_filters": True,
                    "toolbar": True,
                },
                "context": context,
            },
        )
        if not result:
            return
        models = views_models(result)
        record_id = action.get("res_id") or None  # an action opening one record
        for view_type, view in result["views"].items():
            root = etree.fromstring(view["arch"])
            if view_type in MULTI_RECORD_VIEWS:
                found = self.guard(
                    f"{label}: {view_type}",
                    self.call_kw,
                    model,
                    "web_search_read",
                    (),
                    {
                        "domain": domain,
                        "specification": fields_spec(root, model, models),
                        "offset": 0,
                        "limit": 80,
                        "context": context,
                        "count_limit": 10001,
                    },
                )
                self.opened.append(f"{label}: {view_type}")
                if found and found["records"]:
                    # the newest: this test's records, whatever else the database holds
                    record_id = max(record["id"] for record in found["records"])
                    self.press_buttons(
                        f"{label}: {view_type}", root, model, record_id, context
                    )
                elif found is not None:
                    self.errors[f"{label}: {view_type}"] = (
                        "no record to show: the test data miss one"
                    )
            elif view_type in ("graph", "pivot"):
                groupby = [
                    node.get("name")
                    + (f":{node.get('interval')}" if node.get("interval") else "")
                    for node in root.iter("field")
                    if node.get("type") != "measure"
                ]
                self.guard(
                    f"{label}: {view_type}",
                    self.call_kw,
                    model,
                    "read_group",
                    (),
                    {
                        "domain": domain,
                        "fields": ["__count"],
                        "groupby": groupby[:1],
                        "lazy": False,
                        "context": context,
                    },
                )
                self.opened.append(f"{label}: {view_type}")
        if record_id:
            form = result["views"].get("form")
            form_id = form and form["id"]
            if not form_id:
                # a list without a form view of its own: its records open in the model's
                # form view (from a link to them)
                form_id = (
                    self.env["ir.ui.view"]
                    .sudo()
                    .search(
                        [
                            ("model", "=", model),
                            ("type", "=", "form"),
                            ("mode", "=", "primary"),
                        ],
                        order="priority, id",
                        limit=1,
                    )
                    .id
                )
            if form_id:
                self.open_form(f"{label}: form", model, form_id, record_id, context)

    def press_buttons(self, label, root, model, record_id, context):
        """A list's row buttons: a salesperson presses every one shown to them; an
        administrator those that open a screen."""
        for node in root.iterchildren("button"):
            name = node.get("name")
            if node.get("type") != "object" or not name:
                continue
            if self.manager_view and not name.startswith(
                ("action_view", "action_open")
            ):
                continue
            if not model.startswith("mailchimp.") and "mailchimp" not in name:
                continue
            action = self.guard(
                f"{label}: button {name}",
                self.call_button,
                model,
                name,
                record_id,
                context,
            )
            if isinstance(action, dict):
                self.open_action(f"{label} > {name}", action)

    def open_form(self, label, model, view_id, record_id, context):
        if (model, view_id) in self.seen_forms:
            return
        self.seen_forms.add((model, view_id))
        result = self.guard(
            f"{label}: get_views",
            self.call_kw,
            model,
            "get_views",
            (),
            {"views": [[view_id, "form"]], "options": {}, "context": context},
        )
        if not result:
            return
        root = etree.fromstring(result["views"]["form"]["arch"])
        spec = dict(fields_spec(root, model, views_models(result)), display_name={})
        self.guard(
            label,
            self.call_kw,
            model,
            "web_read",
            ([record_id],),
            {"specification": spec, "context": context},
        )
        self.opened.append(label)
        for node in root.iter("button"):
            name = node.get("name")
            if node.get("type") != "object" or not name:
                continue
            if not model.startswith("mailchimp.") and "mailchimp" not in name:
                continue  # another app's form (the contact's): only the addon's buttons
            smart = any(
                parent.get("name") == "button_box" for parent in node.iterancestors()
            )
            if not smart and (self.manager_view or node.get("confirm")):
                # an administrator's buttons act; only the screens they open count
                continue
            action = self.guard(
                f"{label}: button {name}",
                self.call_button,
                model,
                name,
                record_id,
                context,
            )
            if isinstance(action, dict) and smart:
                self.open_action(f"{label} > {name}", action)

    # -- the tests ---------------------------------------------------------------

    def assertScreensOpen(self, login):
        errors = self.open_screens(login)
        _logger.info(
            "%s opened %d screens: %s", login, len(self.opened), "; ".join(self.opened)
        )
        self.assertFalse(
            errors,
            "%d screen(s) failed for %s:\n%s"
            % (len(errors), login, "\n".join(f"- {k}: {v}" for k, v in errors.items())),
        )
        for screen in (
            "menu Syncs: form",
            "menu Accounts: form",
            "menu Email Activity: list",
            "menu Failed Records: list",
            "contact form",
        ):
            self.assertIn(screen, self.opened)
        return self.opened

    def test_a_salesperson_opens_every_mailchimp_screen(self):
        opened = self.assertScreensOpen(self.salesperson.login)
        # their menus: the campaigns, where the app opens, email activity, members
        self.assertEqual(
            self.menus_seen,
            {"menu Mailchimp", "menu Campaigns", "menu Email Activity", "menu Members"},
        )
        self.assertIn("menu Mailchimp: Campaigns", opened)
        self.assertIn("menu Members: list", opened)
        # a sync's form, reached from a member's sync, and its smart buttons
        self.assertIn("menu Syncs: form > action_view_field_mapping: list", opened)

    def test_a_mailchimp_administrator_opens_every_mailchimp_screen(self):
        self.assertScreensOpen(self.manager.login)
        # and edits a mapping without being an Odoo settings administrator: the Odoo
        # field's drop-down, the usual fields
        found = self.call_kw(
            "ir.model.fields",
            "name_search",
            (),
            {
                "name": "Phone",
                "args": [["model", "=", "res.partner"]],
                "limit": 8,
                "context": self.context,
            },
        )
        self.assertTrue(found)
        self.call_button(
            "mailchimp.pairing",
            "action_apply_default_mapping",
            self.pairing.id,
            self.context,
        )

    def test_the_odoo_administrator_opens_every_mailchimp_screen(self):
        opened = self.assertScreensOpen("admin")
        self.assertIn("menu Mailchimp: Syncs", opened)  # the app opens on the syncs
