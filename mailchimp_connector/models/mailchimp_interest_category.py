# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

CATEGORY_TYPES = [
    ("checkboxes", "Checkboxes"),
    ("dropdown", "Dropdown"),
    ("radio", "Radio Buttons"),
    ("hidden", "Hidden"),
]


class MailchimpInterestCategory(models.Model):
    """A group category of an audience ("Interests" in Mailchimp), read from Mailchimp.

    Categories and their interests are created in Mailchimp (F14); Odoo reads
    them with the audience's merge fields and archives those that disappear,
    so that a mapping to a deleted interest is never sent.
    """

    _name = "mailchimp.interest.category"
    _description = "Mailchimp Interest Category"
    _order = "audience_id, display_order, id"
    _rec_name = "title"

    audience_id = fields.Many2one(
        "mailchimp.audience",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    company_id = fields.Many2one(related="audience_id.company_id", store=True)
    active = fields.Boolean(default=True, readonly=True)
    mailchimp_id = fields.Char(string="Mailchimp ID", required=True, readonly=True)
    title = fields.Char(required=True, readonly=True)
    category_type = fields.Selection(CATEGORY_TYPES, string="Type", readonly=True)
    display_order = fields.Integer(readonly=True)
    interest_ids = fields.One2many(
        "mailchimp.interest", "category_id", string="Interests"
    )

    _sql_constraints = [
        (
            "audience_mailchimp_uniq",
            "unique(audience_id, mailchimp_id)",
            "An interest category is known once per audience.",
        ),
    ]

    @api.model
    def _sync_audience(self, audience, client):
        """Mirror the audience's categories and interests: one request for the
        categories and one per category. Those gone from Mailchimp are archived."""
        Category = self.sudo().with_context(active_test=False)
        Interest = self.env["mailchimp.interest"].sudo().with_context(active_test=False)
        list_id = audience.mailchimp_list_id
        categories = {
            category.mailchimp_id: category
            for category in Category.search([("audience_id", "=", audience.id)])
        }
        interests = {
            interest.mailchimp_id: interest
            for interest in Interest.search([("audience_id", "=", audience.id)])
        }
        seen_categories, seen_interests = Category, Interest
        for mc_category in client.paginate(
            f"/lists/{list_id}/interest-categories",
            "categories",
            fields=["id", "title", "type", "display_order"],
        ):
            vals = {
                "title": mc_category.get("title") or mc_category["id"],
                "category_type": mc_category.get("type")
                if mc_category.get("type") in dict(CATEGORY_TYPES)
                else False,
                "display_order": mc_category.get("display_order") or 0,
                "active": True,
            }
            category = categories.get(mc_category["id"])
            if category:
                category.write(vals)
            else:
                category = Category.create(
                    dict(vals, audience_id=audience.id, mailchimp_id=mc_category["id"])
                )
            seen_categories |= category
            path = f"/lists/{list_id}/interest-categories/{mc_category['id']}"
            seen_interests |= category._sync_interests(client, path, interests)
        (Category.browse([c.id for c in categories.values()]) - seen_categories).write(
            {"active": False}
        )
        (Interest.browse([i.id for i in interests.values()]) - seen_interests).write(
            {"active": False}
        )

    def _sync_interests(self, client, path, known):
        """Mirror this category's interests (``path``: the category in the API;
        ``known``: the audience's interests by Mailchimp ID). Returns those
        Mailchimp still has."""
        self.ensure_one()
        Interest = self.env["mailchimp.interest"]
        seen, to_create = Interest, []
        for mc_interest in client.paginate(
            f"{path}/interests", "interests", fields=["id", "name", "display_order"]
        ):
            vals = {
                "name": mc_interest.get("name") or mc_interest["id"],
                "display_order": mc_interest.get("display_order") or 0,
                "category_id": self.id,
                "active": True,
            }
            interest = known.get(mc_interest["id"])
            if interest:
                interest.write(vals)
                seen |= interest
            else:
                to_create.append(dict(vals, mailchimp_id=mc_interest["id"]))
        return seen | Interest.create(to_create)
