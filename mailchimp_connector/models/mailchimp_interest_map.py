# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..utils import interest_rules

SOURCE_KINDS = [
    ("tag", "Contact tag"),
    ("boolean", "Checkbox field"),
    ("selection", "Selection field value"),
]


class MailchimpInterestMap(models.Model):
    """F14: an Odoo value that puts the sync's contacts in a Mailchimp interest.

    Sent with the member upserts (``interests: {id: bool}``), only when Odoo's
    value changed since the member's last sync; see utils/interest_rules.py.
    """

    _name = "mailchimp.interest.map"
    _description = "Mailchimp Interest Mapping"
    _order = "pairing_id, sequence, id"

    sequence = fields.Integer(default=10)
    pairing_id = fields.Many2one(
        "mailchimp.pairing",
        string="Sync",
        required=True,
        ondelete="cascade",
        index=True,
    )
    company_id = fields.Many2one(related="pairing_id.company_id", store=True)
    audience_id = fields.Many2one(related="pairing_id.audience_id")
    interest_id = fields.Many2one(
        "mailchimp.interest",
        string="Mailchimp Interest",
        required=True,
        ondelete="cascade",
        domain="[('audience_id', '=', audience_id)]",
    )
    interest_active = fields.Boolean(
        related="interest_id.active", string="Still in Mailchimp"
    )
    source_kind = fields.Selection(
        SOURCE_KINDS, string="When", required=True, default="tag"
    )
    partner_tag_id = fields.Many2one("res.partner.category", string="Contact Tag")
    odoo_field_id = fields.Many2one(
        "ir.model.fields",
        string="Contact Field",
        ondelete="cascade",
        domain="[('model', '=', 'res.partner'), ('store', '=', True), ('ttype', '=', "
        "source_kind)]",
    )
    selection_value_id = fields.Many2one(
        "ir.model.fields.selection",
        string="Value",
        ondelete="cascade",
        domain="[('field_id', '=', odoo_field_id)]",
    )

    @api.constrains(
        "source_kind",
        "partner_tag_id",
        "odoo_field_id",
        "selection_value_id",
        "interest_id",
        "pairing_id",
    )
    def _check_source(self):
        for rule in self:
            kind = rule.source_kind
            field = rule.odoo_field_id
            if kind == "tag" and not rule.partner_tag_id:
                raise ValidationError(
                    self.env._("Choose the contact tag of the interest.")
                )
            if kind == "boolean" and (
                field.model != "res.partner" or field.ttype != "boolean"
            ):
                raise ValidationError(
                    self.env._("Choose a checkbox field of contacts.")
                )
            if kind == "selection" and (
                field.model != "res.partner"
                or field.ttype != "selection"
                or rule.selection_value_id.field_id != field
            ):
                raise ValidationError(
                    self.env._(
                        "Choose a selection field of contacts and one of its values."
                    )
                )
            if rule.interest_id.audience_id != rule.pairing_id.audience_id:
                raise ValidationError(
                    self.env._(
                        "The interest must belong to the sync's Mailchimp audience."
                    )
                )

    @api.onchange("source_kind")
    def _onchange_source_kind(self):
        self.update(
            {
                "odoo_field_id": False,
                "selection_value_id": False,
                "partner_tag_id": False,
            }
        )

    # a changed mapping changes what every contact should have: the next run
    # compares the whole segment once (unchanged contacts still send nothing)
    @api.model_create_multi
    def create(self, vals_list):
        rules = super().create(vals_list)
        rules.pairing_id._interests_remapped()
        return rules

    def write(self, vals):
        pairings = self.pairing_id
        result = super().write(vals)
        (pairings | self.pairing_id)._interests_remapped()
        return result

    def unlink(self):
        pairings = self.pairing_id
        result = super().unlink()
        pairings._interests_remapped()
        return result

    def _plan(self):
        """The rules as plain data (utils.interest_rules), those whose interest
        still exists in Mailchimp, and the contact fields they read."""
        rules, fields_read = [], set()
        for rule in self.filtered("interest_id.active"):
            spec = {"interest": rule.interest_id.mailchimp_id, "kind": rule.source_kind}
            if rule.source_kind == "tag":
                spec["tag_id"] = rule.partner_tag_id.id
                fields_read.add("category_id")
            else:
                spec["field"] = rule.odoo_field_id.name
                fields_read.add(rule.odoo_field_id.name)
                if rule.source_kind == "selection":
                    spec["value"] = rule.selection_value_id.value
            rules.append(spec)
        return rules, sorted(fields_read)

    @api.model
    def _wanted(self, rules, fields_read, partners):
        """{partner id: {interest id: bool}} for a chunk of contacts, read in one go."""
        if not rules:
            return {}
        partners.fetch(fields_read)
        wanted = {}
        for partner in partners:
            values = {
                name: partner[name].ids if name == "category_id" else partner[name]
                for name in fields_read
            }
            wanted[partner.id] = interest_rules.wanted_interests(rules, values)
        return wanted
