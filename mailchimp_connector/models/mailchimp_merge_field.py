# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

MERGE_FIELD_TYPES = [
    ("text", "Text"),
    ("number", "Number"),
    ("address", "Address"),
    ("phone", "Phone"),
    ("date", "Date"),
    ("url", "Website"),
    ("imageurl", "Image URL"),
    ("radio", "Radio Buttons"),
    ("dropdown", "Dropdown"),
    ("birthday", "Birthday"),
    ("zip", "Zip Code"),
]


class MailchimpMergeField(models.Model):
    """A merge field of an audience (FNAME, ADDRESS...), read from Mailchimp."""

    _name = "mailchimp.merge.field"
    _description = "Mailchimp Merge Field"
    _order = "audience_id, display_order, id"
    _rec_names_search = ["tag", "name"]

    audience_id = fields.Many2one(
        "mailchimp.audience",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    company_id = fields.Many2one(related="audience_id.company_id", store=True)
    merge_id = fields.Integer(readonly=True, required=True)
    tag = fields.Char(required=True, readonly=True)
    name = fields.Char(required=True, readonly=True)
    field_type = fields.Selection(MERGE_FIELD_TYPES, required=True, readonly=True)
    required = fields.Boolean(readonly=True)
    public = fields.Boolean(readonly=True)
    display_order = fields.Integer(readonly=True)
    default_value = fields.Char(readonly=True)
    options = fields.Json(readonly=True)
    choices = fields.Char(compute="_compute_choices")

    _sql_constraints = [
        (
            "merge_id_audience_uniq",
            "unique(audience_id, merge_id)",
            "A merge field is known once per audience.",
        ),
    ]

    @api.depends("tag", "name")
    def _compute_display_name(self):
        for field in self:
            field.display_name = f"{field.name} ({field.tag})"

    @api.depends("options")
    def _compute_choices(self):
        for field in self:
            field.choices = ", ".join((field.options or {}).get("choices") or [])

    @api.model
    def _odoo_values(self, merge_field):
        field_type = merge_field.get("type")
        known = dict(MERGE_FIELD_TYPES)
        return {
            "merge_id": merge_field["merge_id"],
            "tag": merge_field["tag"],
            "name": merge_field.get("name") or merge_field["tag"],
            "field_type": field_type if field_type in known else "text",
            "required": bool(merge_field.get("required")),
            "public": bool(merge_field.get("public")),
            "display_order": merge_field.get("display_order") or 0,
            "default_value": merge_field.get("default_value") or False,
            "options": merge_field.get("options") or {},
        }
