# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

from ..utils import consent, sync_rules


class MailchimpAudience(models.Model):
    """A Mailchimp audience (a "list" in the API), mirrored from its account.

    Audiences are created and deleted in Mailchimp; Odoo only reads them, and
    archives the ones that disappear instead of deleting them.
    """

    _name = "mailchimp.audience"
    _description = "Mailchimp Audience"
    _order = "account_id, name, id"

    name = fields.Char(required=True, readonly=True)
    active = fields.Boolean(default=True)
    account_id = fields.Many2one(
        "mailchimp.account",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    company_id = fields.Many2one(
        related="account_id.company_id", store=True, index=True
    )
    mailchimp_list_id = fields.Char(
        string="Mailchimp Audience ID", required=True, readonly=True
    )
    mailchimp_web_id = fields.Integer(readonly=True)
    member_count = fields.Integer(readonly=True)
    date_created = fields.Datetime(readonly=True)
    merge_field_ids = fields.One2many("mailchimp.merge.field", "audience_id")
    marketing_permissions_enabled = fields.Boolean(
        string="GDPR fields",
        readonly=True,
        help="The audience has marketing permissions (GDPR fields) in Mailchimp.",
    )
    marketing_permission_ids = fields.One2many(
        "mailchimp.marketing.permission", "audience_id", string="Marketing Permissions"
    )
    interest_category_ids = fields.One2many(
        "mailchimp.interest.category", "audience_id", string="Interest Categories"
    )

    _sql_constraints = [
        (
            "mailchimp_list_account_uniq",
            "unique(account_id, mailchimp_list_id)",
            "This Mailchimp audience is already known for this account.",
        ),
    ]

    @api.model
    def _odoo_values(self, mc_list):
        return {
            "name": mc_list.get("name") or mc_list["id"],
            "mailchimp_list_id": mc_list["id"],
            "mailchimp_web_id": mc_list.get("web_id") or 0,
            "member_count": (mc_list.get("stats") or {}).get("member_count") or 0,
            "date_created": sync_rules.to_odoo_datetime(mc_list.get("date_created")),
            "marketing_permissions_enabled": bool(mc_list.get("marketing_permissions")),
        }

    @api.model
    def _sync_from_mailchimp(self, account):
        """Mirror the account's audiences and their merge fields, marketing
        permissions and interest groups; never delete (those gone are archived)."""
        account.ensure_one()
        Audience = self.sudo().with_context(active_test=False)
        with account._get_client() as client:
            lists = list(
                client.paginate(
                    "/lists",
                    "lists",
                    fields=[
                        "id",
                        "web_id",
                        "name",
                        "stats.member_count",
                        "date_created",
                        "marketing_permissions",
                    ],
                )
            )
            existing = {
                audience.mailchimp_list_id: audience
                for audience in Audience.search([("account_id", "=", account.id)])
            }
            to_create = []
            seen = Audience
            for mc_list in lists:
                vals = Audience._odoo_values(mc_list)
                audience = existing.get(mc_list["id"])
                if audience:
                    audience.write(dict(vals, active=True))
                    seen |= audience
                else:
                    to_create.append(dict(vals, account_id=account.id))
            seen |= Audience.create(to_create)
            (Audience.browse([a.id for a in existing.values()]) - seen).write(
                {"active": False}
            )
            for audience in seen:
                merge_fields = client.paginate(
                    f"/lists/{audience.mailchimp_list_id}/merge-fields",
                    "merge_fields",
                )
                audience._sync_merge_fields(list(merge_fields))
                audience._sync_marketing_permissions(client)
                # interest groups are created in
                # Mailchimp too: read them alongside (F14)
                self.env["mailchimp.interest.category"]._sync_audience(audience, client)
        return seen

    def _sync_merge_fields(self, merge_fields):
        """Mirror the audience's merge fields, keyed by Mailchimp's merge_id."""
        self.ensure_one()
        MergeField = self.env["mailchimp.merge.field"].sudo()
        existing = {field.merge_id: field for field in self.merge_field_ids}
        to_create = []
        for merge_field in merge_fields:
            vals = MergeField._odoo_values(merge_field)
            record = existing.pop(vals["merge_id"], None)
            if record:
                record.write(vals)
            else:
                to_create.append(dict(vals, audience_id=self.id))
        MergeField.create(to_create)
        # merge fields removed in Mailchimp no longer exist there: drop our copy
        MergeField.browse([field.id for field in existing.values()]).unlink()

    def _sync_marketing_permissions(self, client):
        """Learn the audience's GDPR marketing permissions from one member: Mailchimp's
        API has no endpoint that lists them (each member shows them all)."""
        self.ensure_one()
        if not self.marketing_permissions_enabled:
            return
        page = client.get(
            f"/lists/{self.mailchimp_list_id}/members",
            params={"count": 1, "fields": "members.marketing_permissions"},
        )
        texts = {}
        for member in (page or {}).get("members") or ():
            for pid, item in consent.member_permissions(member).items():
                texts[pid] = item["text"]
        self.env["mailchimp.marketing.permission"]._learn(self, texts)

    def action_refresh(self):
        return self.account_id.action_refresh_audiences()
