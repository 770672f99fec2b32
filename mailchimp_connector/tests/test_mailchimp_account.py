# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.exceptions import UserError
from odoo.modules.neutralize import get_neutralization_queries
from odoo.tests import tagged

from .common import DEFAULT_API_KEY, MailchimpCase

OTHER_KEY = "fedcba9876543210fedcba9876543210-us1"


@tagged("post_install", "-at_install")
class TestMailchimpAccountConnect(MailchimpCase):
    def _api_requests(self):
        return [
            (entry["method"], entry["path"])
            for entry in self.sandbox_requests()
            if "/_sandbox/" not in entry["path"]
        ]

    def test_module_installed_with_menu_and_groups(self):
        module = self.env["ir.module.module"].search(
            [("name", "=", "mailchimp_connector")]
        )
        self.assertEqual(module.state, "installed")
        root = self.env.ref("mailchimp_connector.mailchimp_menu_root")
        self.assertEqual(
            set(root.child_id.mapped("name")),
            {"Campaigns", "Email Activity", "Members", "Syncs", "Configuration"},
        )
        self.assertEqual(
            root.action, self.env.ref("mailchimp_connector.mailchimp_action_home")
        )
        manager = self.env.ref("mailchimp_connector.group_mailchimp_manager")
        self.assertIn(manager, self.env.ref("base.group_system").implied_ids)
        self.assertTrue(
            self.env.ref("base.user_admin").has_group(
                "mailchimp_connector.group_mailchimp_manager"
            )
        )

    def test_connect_success_reads_account_and_audiences(self):
        self.sandbox_control("DELETE", "requests")
        action = self.account.action_connect()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(self.account.state, "connected")
        self.assertFalse(self.account.last_error)
        self.assertEqual(self.account.mailchimp_account_name, "Sandbox Account")
        self.assertTrue(self.account.mailchimp_account_id)
        self.assertEqual(self.account.data_center, "us1")
        self.assertTrue(self.account.connected_date)
        # ping first, then the account: the key is checked before anything else
        calls = self._api_requests()
        self.assertEqual(calls[0][0], "GET")
        self.assertTrue(calls[0][1].endswith("/ping"), calls)
        self.assertTrue(
            calls[1][1].endswith("/3.0/") or calls[1][1].endswith("/3.0"), calls
        )
        newsletter = self.account.audience_ids.filtered(
            lambda a: a.name == "Newsletter"
        )
        self.assertEqual(len(newsletter), 1)
        self.assertIn("Newsletter", action["params"]["message"])
        tags = set(newsletter.merge_field_ids.mapped("tag"))
        self.assertTrue({"FNAME", "LNAME", "ADDRESS", "PHONE"} <= tags, tags)
        address = newsletter.merge_field_ids.filtered(lambda f: f.tag == "ADDRESS")
        self.assertEqual(address.field_type, "address")

    def _assert_connect_fails(self, expected_words):
        action = self.account.action_connect()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertEqual(self.account.state, "error")
        self.assertTrue(self.account.last_error_date)
        for word in expected_words:
            self.assertIn(word, self.account.last_error)
            self.assertIn(word, action["params"]["message"])
        self.assertFalse(self.account.mailchimp_account_id)
        self.assertFalse(self.account.audience_ids)
        return action

    def test_malformed_key_fails_without_calling_mailchimp(self):
        self.sandbox_control("DELETE", "requests")
        self.account.api_key = "not-a-key"
        self._assert_connect_fails(["malformed"])
        self.assertEqual(self._api_requests(), [])

    def test_missing_key_is_refused(self):
        self.account.api_key = False
        with self.assertRaisesRegex(UserError, "API key"):
            self.account.action_connect()

    def test_invalid_key(self):
        self.account.api_key = OTHER_KEY
        self._assert_connect_fails(["invalid or has been revoked"])

    def test_revoked_key_after_connecting(self):
        self.account.action_connect()
        self.sandbox_control("POST", "accounts/revoke", {"api_key": DEFAULT_API_KEY})
        action = self.account.action_refresh_audiences()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertEqual(self.account.state, "error")
        self.assertIn("revoked", self.account.last_error)
        # the audiences read before stay: nothing is deleted on errors
        self.assertTrue(self.account.audience_ids)

    def test_disabled_user(self):
        self.sandbox_control("POST", "accounts/disable", {"api_key": DEFAULT_API_KEY})
        self._assert_connect_fails(["disabled"])

    def test_wrong_data_center(self):
        self.account.api_base_url = self.sandbox_api_url("us9")
        self._assert_connect_fails(["data center"])

    def test_unreachable(self):
        self.account.api_base_url = "http://127.0.0.1:9/{dc}/3.0"
        self._assert_connect_fails(["could not be reached"])

    def test_timeout(self):
        self.account.request_timeout = 1
        with self.sandbox_fault(path_pattern="ping", status=200, hang=3, count=10):
            self._assert_connect_fails(["did not answer in time"])

    def test_server_error(self):
        with self.sandbox_fault(path_pattern="ping", status=500, count=50):
            self._assert_connect_fails(["internal error", "500"])

    def test_rate_limited(self):
        with self.sandbox_fault(path_pattern="ping", status=429, count=50):
            self._assert_connect_fails(["limiting the requests"])

    def test_retry_then_success(self):
        with self.sandbox_fault(path_pattern="ping", status=503, count=1):
            self.account.action_connect()
        self.assertEqual(self.account.state, "connected")

    def test_editing_the_key_requires_a_new_connect(self):
        self.account.action_connect()
        self.account.api_key = OTHER_KEY
        self.assertEqual(self.account.state, "draft")

    def test_reauthorize_keeps_old_key_when_new_one_is_refused(self):
        self.account.action_connect()
        wizard = self.env["mailchimp.account.reauthorize"].create(
            {"account_id": self.account.id, "api_key": OTHER_KEY}
        )
        with self.assertRaisesRegex(UserError, "invalid or has been revoked"):
            wizard.action_reauthorize()
        self.assertEqual(self.account.api_key, DEFAULT_API_KEY)
        self.assertEqual(self.account.state, "connected")

    def test_reauthorize_with_a_new_key_reconnects(self):
        self.account.action_connect()
        # the admin revokes the key in Mailchimp and creates a new one
        self.sandbox_control(
            "POST",
            "accounts/rotate",
            {"api_key": DEFAULT_API_KEY, "new_api_key": OTHER_KEY},
        )
        self.account.action_refresh_audiences()
        self.assertEqual(self.account.state, "error")
        wizard = self.env["mailchimp.account.reauthorize"].create(
            {"account_id": self.account.id, "api_key": f"  {OTHER_KEY} "}
        )
        action = wizard.action_reauthorize()
        self.assertEqual(action["params"]["type"], "success")
        self.assertEqual(self.account.api_key, OTHER_KEY)
        self.assertEqual(self.account.state, "connected")
        self.assertFalse(self.account.last_error)
        self.assertNotEqual(wizard.api_key, OTHER_KEY)

    def test_reauthorize_refuses_a_key_of_another_mailchimp_account(self):
        self.account.action_connect()
        self.sandbox_control(
            "POST",
            "accounts",
            {
                "api_key": OTHER_KEY,
                "account_name": "Someone else",
                "email": "x@else.com",
            },
        )
        with self.assertRaisesRegex(UserError, "Someone else"):
            self.account._reauthorize(OTHER_KEY)
        self.assertEqual(self.account.api_key, DEFAULT_API_KEY)

    def test_disconnect_forgets_key_and_keeps_data(self):
        self.account.action_connect()
        audiences = self.account.audience_ids
        partner = self.env["res.partner"].create(
            {"name": "Kept", "email": "kept@corp.com"}
        )
        self.account.action_disconnect()
        self.assertEqual(self.account.state, "draft")
        self.assertFalse(self.account.api_key)
        self.assertEqual(self.account.audience_ids, audiences)
        self.assertTrue(partner.exists())

    def test_audience_refresh_archives_deleted_audiences(self):
        self.account.action_connect()
        newsletter = self.account.audience_ids.filtered(
            lambda a: a.name == "Newsletter"
        )
        client = self.account._get_client()
        client.post("/lists", json=_new_list_payload("Customers"))
        self.account.action_refresh_audiences()
        self.assertIn("Customers", self.account.audience_ids.mapped("name"))
        client.delete(f"/lists/{newsletter.mailchimp_list_id}")
        self.account.action_refresh_audiences()
        self.assertFalse(newsletter.active)
        self.assertTrue(newsletter.exists())
        self.assertEqual(self.account.audience_ids.mapped("name"), ["Customers"])

    def test_neutralization_wipes_keys(self):
        self.account.action_connect()
        self.env.flush_all()
        for query in get_neutralization_queries(["mailchimp_connector"]):
            self.env.cr.execute(query)
        self.account.invalidate_recordset()
        self.assertFalse(self.account.api_key)
        self.assertEqual(self.account.state, "draft")


def _new_list_payload(name):
    return {
        "name": name,
        "contact": {
            "company": "Test Corp",
            "address1": "1 Main Street",
            "city": "Brussels",
            "state": "BXL",
            "zip": "1000",
            "country": "BE",
        },
        "permission_reminder": "You signed up on our website.",
        "campaign_defaults": {
            "from_name": "Test Corp",
            "from_email": "news@corp.com",
            "subject": "News",
            "language": "en",
        },
        "email_type_option": False,
    }
