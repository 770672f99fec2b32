# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged

from .common import DEFAULT_API_KEY, MailchimpCase


@tagged("post_install", "-at_install")
class TestMailchimpAccess(MailchimpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.salesperson = new_test_user(
            cls.env,
            login="mc_salesperson",
            groups="base.group_user,mailchimp_connector.group_mailchimp_user",
        )
        cls.mailchimp_admin = new_test_user(
            cls.env,
            login="mc_admin",
            groups="base.group_user,mailchimp_connector.group_mailchimp_manager",
        )
        cls.outsider = new_test_user(
            cls.env, login="mc_outsider", groups="base.group_user"
        )

    def test_salesperson_reads_account_but_never_the_key(self):
        self.account.action_connect()
        account = self.account.with_user(self.salesperson)
        self.assertEqual(account.mailchimp_account_name, "Sandbox Account")
        self.assertEqual(account.audience_ids.mapped("name"), ["Newsletter"])
        with self.assertRaises(AccessError):
            account.read(["api_key"])
        with self.assertRaises(AccessError):
            # the attribute read itself is what is tested
            account.api_key  # noqa: B018  # pylint: disable=pointless-statement
        self.assertNotIn("api_key", account.fields_get())
        self.assertNotIn("api_key", account.read()[0])
        self.assertNotIn("api_base_url", account.read()[0])

    def test_salesperson_cannot_change_or_connect(self):
        account = self.account.with_user(self.salesperson)
        with self.assertRaises(AccessError):
            account.write({"name": "Renamed"})
        with self.assertRaises(AccessError):
            account.action_connect()
        with self.assertRaises(AccessError):
            account.action_disconnect()
        self.assertEqual(self.account.state, "draft")

    def test_outsider_sees_nothing(self):
        with self.assertRaises(AccessError):
            self.account.with_user(self.outsider).read(["name"])

    def test_mailchimp_admin_manages_the_key(self):
        account = self.account.with_user(self.mailchimp_admin)
        self.assertEqual(account.api_key, DEFAULT_API_KEY)
        account.action_connect()
        self.assertEqual(account.state, "connected")

    def test_key_never_exported(self):
        with self.assertRaisesRegex(UserError, "cannot be exported"):
            self.account.export_data(["name", "api_key"])
        exported = self.account.export_data(["name", "state"])
        self.assertEqual(exported["datas"], [["Test account", "Not connected"]])
        self.assertFalse(self.account.fields_get(["api_key"])["api_key"]["exportable"])

    def test_key_never_in_logs_errors_or_chatter(self):
        with self.assertLogs(
            "odoo.addons.mailchimp_connector", level=logging.DEBUG
        ) as logs:
            self.account.action_connect()
            self.sandbox_control(
                "POST", "accounts/revoke", {"api_key": DEFAULT_API_KEY}
            )
            self.account.action_connect()
            logging.getLogger("odoo.addons.mailchimp_connector").debug("end of test")
        secret = DEFAULT_API_KEY.split("-")[0]
        self.assertTrue(logs.output)
        for line in logs.output:
            self.assertNotIn(secret, line)
        self.assertNotIn(secret, self.account.last_error)
        bodies = " ".join(self.account.message_ids.mapped(lambda m: str(m.body)))
        tracked = " ".join(
            str(value)
            for value in self.account.message_ids.tracking_value_ids.mapped(
                lambda t: (t.old_value_char, t.new_value_char)
            )
        )
        self.assertNotIn(secret, bodies + tracked)
        # the key is not a tracked field at all
        self.assertNotIn("api_key", self.account._track_get_fields())

    def test_multi_company_record_rules(self):
        other_company = self.env["res.company"].create({"name": "Other Co"})
        other_account = self.env["mailchimp.account"].create(
            {
                "name": "Other",
                "company_id": other_company.id,
                "api_key": DEFAULT_API_KEY,
            }
        )
        self.mailchimp_admin.write(
            {
                "company_ids": [Command.set(self.env.company.ids)],
                "company_id": self.env.company.id,
            }
        )
        visible = (
            self.env["mailchimp.account"].with_user(self.mailchimp_admin).search([])
        )
        self.assertIn(self.account, visible)
        self.assertNotIn(other_account, visible)
