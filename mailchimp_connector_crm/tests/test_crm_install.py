# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo.tests import TransactionCase, tagged


@tagged("post_install", "-at_install")
class TestCrmGlueInstall(TransactionCase):
    def test_installed_beside_crm_automatically(self):
        module = self.env["ir.module.module"].search(
            [("name", "=", "mailchimp_connector_crm")]
        )
        self.assertEqual(module.state, "installed")
        self.assertTrue(module.auto_install)
        self.assertEqual(
            set(module.dependencies_id.mapped("name")), {"mailchimp_connector", "crm"}
        )
