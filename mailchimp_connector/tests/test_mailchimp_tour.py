# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.tests import HttpCase, tagged

from .common import DEFAULT_API_KEY, MailchimpSandboxMixin, sandbox_url


@tagged("post_install", "-at_install")
class TestMailchimpTour(MailchimpSandboxMixin, HttpCase):
    """The screens as a person uses them, in headless Chromium."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        sandbox_url()

    def test_connect_tour(self):
        self.sandbox_control("POST", "reset")
        account = self.env["mailchimp.account"].create(
            {
                "name": "Tour account",
                "api_key": DEFAULT_API_KEY,
                "api_base_url": self.sandbox_api_url(),
            }
        )
        self.start_tour(
            "/odoo/action-mailchimp_connector.mailchimp_account_action",
            "mailchimp_connect_tour",
            login="admin",
        )
        self.assertEqual(account.state, "connected")
        self.assertEqual(account.audience_ids.mapped("name"), ["Newsletter"])
