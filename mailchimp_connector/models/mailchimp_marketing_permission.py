# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models


class MailchimpMarketingPermission(models.Model):
    """A GDPR marketing permission of an audience (e.g. Email, Direct Mail).

    Created in Mailchimp; its API cannot list them, so Odoo learns them from the
    members it reads (a refresh of the audiences reads one member, each pull
    reads them all).
    """

    _name = "mailchimp.marketing.permission"
    _description = "Mailchimp Marketing Permission"
    _order = "audience_id, id"

    name = fields.Char(string="Text", readonly=True)
    marketing_permission_id = fields.Char(
        string="Mailchimp ID", required=True, readonly=True
    )
    audience_id = fields.Many2one(
        "mailchimp.audience",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    company_id = fields.Many2one(related="audience_id.company_id", store=True)

    _sql_constraints = [
        (
            "audience_permission_uniq",
            "unique(audience_id, marketing_permission_id)",
            "A marketing permission is known once per audience.",
        ),
    ]

    @api.model
    def _learn(self, audience, texts):
        """{Mailchimp id: text} seen on members -> {Mailchimp id: record}, creating the
        new ones and renaming changed texts (one search, one create)."""
        if not texts:
            return {}
        known = self.sudo().search_fetch(
            [
                ("audience_id", "=", audience.id),
                ("marketing_permission_id", "in", list(texts)),
            ],
            ["marketing_permission_id", "name"],
        )
        by_id = {permission.marketing_permission_id: permission for permission in known}
        for permission in known:
            text = texts[permission.marketing_permission_id]
            if text and permission.name != text:
                permission.name = text
        created = self.sudo().create(
            [
                {
                    "audience_id": audience.id,
                    "marketing_permission_id": pid,
                    "name": text or pid,
                }
                for pid, text in texts.items()
                if pid not in by_id
            ]
        )
        by_id.update(
            {permission.marketing_permission_id: permission for permission in created}
        )
        return {pid: permission.with_env(self.env) for pid, permission in by_id.items()}
