# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The glue's test base: the main addon's sandbox cases, with CRM people."""

from odoo.tests import new_test_user

from odoo.addons.mailchimp_connector.tests.test_mailchimp_sync_rules import (
    SyncRulesCase,
)


class CrmSyncCase(SyncRulesCase):
    """A sandbox audience, a sales team and its salesperson."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.seller = new_test_user(
            cls.env,
            login="mc_crm_seller",
            name="Sally Seller",
            groups="sales_team.group_sale_salesman",
            context={"no_reset_password": True},
        )
        cls.team = cls.env["crm.team"].create(
            {"name": "Newsletter sales", "member_ids": [(4, cls.seller.id)]}
        )
        cls.source = cls.env.ref("mailchimp_connector_crm.utm_source_mailchimp")

    def lead_pairing(self, **vals):
        return self.make_pairing(
            **dict(
                {
                    "direction": "mailchimp2odoo",
                    "create_missing": True,
                    "default_owner_id": self.owner.id,
                    "crm_create_leads": True,
                    "crm_team_id": self.team.id,
                    "crm_user_id": self.seller.id,
                },
                **vals,
            )
        )

    def seed(self, count, status="subscribed", start=0):
        self.sandbox_control(
            "POST",
            f"lists/{self.list_id}/seed",
            {
                "count": count,
                "status": status,
                "start": start,
                "merge_fields": {"FNAME": "First{n}", "LNAME": "Last"},
            },
        )

    def mailchimp_leads(self):
        return (
            self.env["crm.lead"]
            .with_context(active_test=False)
            .search([("source_id", "=", self.source.id)])
        )
