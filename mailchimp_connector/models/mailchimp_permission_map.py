# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.exceptions import ValidationError


class MailchimpPermissionMap(models.Model):
    """One GDPR marketing permission of the audience <-> one boolean contact field.

    It flows the way the sync's direction allows (see utils/consent.py for the
    first-sync rule: "not given" never withdraws a consent given on the other side).
    """

    _name = "mailchimp.permission.map"
    _description = "Mailchimp Marketing Permission Mapping"
    _order = "pairing_id, id"

    pairing_id = fields.Many2one(
        "mailchimp.pairing",
        string="Sync",
        required=True,
        ondelete="cascade",
        index=True,
    )
    company_id = fields.Many2one(related="pairing_id.company_id", store=True)
    audience_id = fields.Many2one(related="pairing_id.audience_id")
    permission_id = fields.Many2one(
        "mailchimp.marketing.permission",
        string="Marketing permission",
        required=True,
        ondelete="cascade",
        domain="[('audience_id', '=', audience_id)]",
    )
    odoo_field_id = fields.Many2one(
        "ir.model.fields",
        string="Odoo field",
        required=True,
        ondelete="cascade",
        domain="[('model', '=', 'res.partner'), ('store', '=', True), ('ttype', '=', "
        "'boolean'), ('readonly', '=', False)]",
        help="A yes/no field of the contact that records this consent.",
    )

    _sql_constraints = [
        (
            "pairing_permission_uniq",
            "unique(pairing_id, permission_id)",
            "A marketing permission is mapped once per sync.",
        ),
    ]

    @api.constrains("permission_id", "odoo_field_id", "pairing_id")
    def _check_permission_map(self):
        for mapping in self:
            if mapping.permission_id.audience_id != mapping.pairing_id.audience_id:
                raise ValidationError(
                    self.env._(
                        "The marketing permission must belong to the sync's audience."
                    )
                )
            field = self.env["res.partner"]._fields.get(mapping.odoo_field_id.name)
            if field is None or field.type != "boolean" or not field.store:
                raise ValidationError(
                    self.env._(
                        "%(field)s is not a stored yes/no field of contacts: a "
                        "marketing permission is given or not.",
                        field=mapping.odoo_field_id.field_description,
                    )
                )

    def _by_permission(self):
        """{Mailchimp permission id: contact field name} of these mappings."""
        return {
            mapping.permission_id.marketing_permission_id: mapping.odoo_field_id.name
            for mapping in self
        }
