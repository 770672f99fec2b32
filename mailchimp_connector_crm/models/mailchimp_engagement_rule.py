# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.exceptions import ValidationError


class MailchimpEngagementRule(models.Model):
    """A sign of interest in a sync's audience that the salesperson is told about:
    a click on a matching link, or a number of opens within some days."""

    _name = "mailchimp.engagement.rule"
    _description = "Mailchimp Engagement Rule"
    _order = "sequence, id"

    sequence = fields.Integer(default=10)
    name = fields.Char(
        required=True,
        translate=True,
        help="What the activity calls it: "
        '"Joel Willis clicked Pricing in Winter sale".',
    )
    active = fields.Boolean(default=True)
    pairing_id = fields.Many2one(
        "mailchimp.pairing",
        string="Sync",
        required=True,
        ondelete="cascade",
        index=True,
    )
    kind = fields.Selection(
        [("click", "Click on a link"), ("opens", "Opens")],
        required=True,
        default="click",
    )
    url_pattern = fields.Char(
        string="Link contains",
        help="A click on a link whose URL contains this text (any case), "
        "e.g. /pricing.",
    )
    open_count = fields.Integer(string="Opens", default=3)
    open_days = fields.Integer(string="Within (days)", default=7)
    lead_priority = fields.Selection(
        [("0", "Unchanged"), ("1", "Medium"), ("2", "High"), ("3", "Very High")],
        string="Raise open leads to",
        default="0",
        help="The contact's open leads get at least this priority (stars).",
    )

    @api.constrains("kind", "url_pattern", "open_count", "open_days")
    def _check_kind(self):
        for rule in self:
            if rule.kind == "click" and not (rule.url_pattern or "").strip():
                raise ValidationError(self.env._("A click rule needs a link pattern."))
            if rule.kind == "opens" and (rule.open_count < 1 or rule.open_days < 1):
                raise ValidationError(
                    self.env._("An opens rule needs at least one open and one day.")
                )
