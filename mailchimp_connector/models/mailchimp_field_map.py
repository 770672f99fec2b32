# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError

from ..engine.mapping import FieldMapPlan
from ..utils import merge_values

SOURCE_KINDS = [
    ("field", "Contact field"),
    ("first_name", "First name (from the name)"),
    ("last_name", "Last name (from the name)"),
    (
        "company",
        "Company (the company the contact shows; pulled into its company name)",
    ),
    ("address", "Address (street, city, zip, state, country)"),
]


class MailchimpFieldMap(models.Model):
    """One Mailchimp merge field <-> one Odoo contact source, type-checked (F11)."""

    _name = "mailchimp.field.map"
    _description = "Mailchimp Field Mapping"
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
    merge_field_id = fields.Many2one(
        "mailchimp.merge.field",
        string="Mailchimp field",
        required=True,
        ondelete="cascade",
        domain="[('audience_id', '=', audience_id)]",
    )
    merge_tag = fields.Char(related="merge_field_id.tag", store=True)
    merge_type = fields.Selection(related="merge_field_id.field_type")
    source_kind = fields.Selection(
        SOURCE_KINDS, string="Source", required=True, default="field"
    )
    odoo_field_id = fields.Many2one(
        "ir.model.fields",
        string="Odoo field",
        ondelete="cascade",
        domain="[('model', '=', 'res.partner'), ('store', '=', True), "
        "('ttype', 'in', ('char', 'text', 'integer', 'float', 'monetary', 'date', "
        "'datetime', 'boolean', 'selection', 'many2one', 'many2many'))]",
    )
    # the views' domain of odoo_field_id: only the fields that fit the merge field
    odoo_field_domain = fields.Binary(
        compute="_compute_odoo_field_domain",
        help="The contact fields that can fill the chosen Mailchimp field.",
    )
    # computed as superuser: salespeople read the mapping but not ir.model.fields
    can_push = fields.Boolean(
        compute="_compute_directions", compute_sudo=True, string="Odoo → Mailchimp"
    )
    can_pull = fields.Boolean(
        compute="_compute_directions", compute_sudo=True, string="Mailchimp → Odoo"
    )
    pull_note = fields.Char(
        compute="_compute_directions",
        compute_sudo=True,
        string="Not read back because",
        help="Why Mailchimp's values of this field are not written to the contacts.",
    )

    _sql_constraints = [
        (
            "merge_field_pairing_uniq",
            "unique(pairing_id, merge_field_id)",
            "A Mailchimp field is mapped once per sync.",
        ),
    ]

    @api.depends("source_kind", "odoo_field_id", "merge_field_id")
    def _compute_directions(self):
        for mapping in self:
            note = ""
            try:
                directions = mapping._check_mapping()
            except (merge_values.MappingError, ValidationError):
                directions = merge_values.Direction(0)
            else:
                if directions.can_push and not directions.can_pull:
                    field = mapping._odoo_field()
                    note = merge_values.why_not_pulled(
                        mapping.source_kind,
                        field.type if field is not None else False,
                        mapping.merge_field_id.field_type,
                        target=_target(field),
                    )
            mapping.can_push = directions.can_push
            mapping.can_pull = directions.can_pull
            mapping.pull_note = note

    @api.depends("merge_field_id.field_type", "merge_field_id.options")
    def _compute_odoo_field_domain(self):
        """The Odoo field's drop-down offers only the stored contact fields whose
        type fits the chosen merge field (and, for a dropdown or radio field,
        whose options are all among its choices): ``merge_values.fields_fitting``,
        the rule the save checks."""
        base = [("model", "=", "res.partner"), ("store", "=", True)]
        partner_fields = None
        by_merge_field = {}
        for mapping in self:
            merge_field = mapping.merge_field_id
            if not merge_field.field_type:
                mapping.odoo_field_domain = base + [
                    ("ttype", "in", merge_values.MAPPABLE_ODOO_TYPES)
                ]
                continue
            if merge_field not in by_merge_field:
                if partner_fields is None:
                    partner_fields = self._partner_field_specs()
                names = merge_values.fields_fitting(
                    merge_field.field_type,
                    partner_fields,
                    choices=(merge_field.options or {}).get("choices"),
                )
                by_merge_field[merge_field] = base + [("name", "in", names)]
            mapping.odoo_field_domain = by_merge_field[merge_field]

    @api.model
    def _partner_field_specs(self):
        """The contact's stored fields as ``merge_values`` reads them."""
        return {
            name: {
                "type": field.type,
                "string": field.string,
                "selection": field._description_selection(self.env)
                if field.type == "selection"
                else None,
            }
            for name, field in self.env["res.partner"]._fields.items()
            if field.store
        }

    @api.constrains("source_kind", "odoo_field_id", "merge_field_id")
    def _check_compatible(self):
        for mapping in self:
            try:
                mapping._check_mapping()
            except merge_values.MappingError as error:
                raise ValidationError(
                    self.env._(
                        "%(odoo)s cannot be mapped to %(merge)s: %(reason)s",
                        odoo=mapping._source_label(),
                        merge=mapping.merge_field_id.display_name,
                        reason=error.reason,
                    )
                ) from None

    def _source_label(self):
        if self.source_kind == "field":
            return self.odoo_field_id.field_description or "?"
        return dict(SOURCE_KINDS)[self.source_kind]

    def _odoo_field(self):
        """The mapped res.partner field (an ORM
        Field), or None for the other sources."""
        if self.source_kind != "field" or not self.odoo_field_id:
            return None
        return self.env["res.partner"]._fields.get(self.odoo_field_id.name)

    def _check_mapping(self):
        """The allowed directions, or MappingError with the reason.

        A field that does not keep what is written (related, read-only, computed
        without an inverse) is push-only: a pull never writes there.
        """
        self.ensure_one()
        if self.source_kind == "field" and not self.odoo_field_id:
            raise ValidationError(self.env._("Choose the Odoo field to map."))
        field = self._odoo_field()
        if self.source_kind == "field":
            odoo_type = field.type if field is not None else self.odoo_field_id.ttype
        else:
            odoo_type = "char"
        selection = None
        if field is not None and field.type == "selection":
            selection = field._description_selection(self.env)
        return merge_values.check_mapping(
            self.source_kind,
            odoo_type,
            self.merge_field_id.field_type,
            selection=selection,
            choices=(self.merge_field_id.options or {}).get("choices"),
            target=_target(field),
        )

    @api.model
    def _add_defaults(self, pairing):
        """Map the pairing's unmapped merge fields the usual way: the rule is
        ``merge_values.default_mappings``, given the contact's stored fields."""
        merge_fields = pairing.audience_id.merge_field_ids
        partner_fields = self._partner_field_specs()
        proposals = merge_values.default_mappings(
            [
                {"tag": mf.tag, "type": mf.field_type, "options": mf.options or {}}
                for mf in merge_fields
            ],
            partner_fields,
        )
        mapped = set(pairing.field_map_ids.mapped("merge_tag"))
        by_tag = {merge_field.tag: merge_field for merge_field in merge_fields}
        fields_by_name = {
            field.name: field
            for field in self.env["ir.model.fields"].search(
                [("model", "=", "res.partner")]
            )
        }
        pairing.field_map_ids = [
            fields.Command.create(
                {
                    "sequence": index,
                    "merge_field_id": by_tag[proposal["merge_tag"]].id,
                    "source_kind": proposal["source_kind"],
                    "odoo_field_id": proposal["source_kind"] == "field"
                    and fields_by_name[proposal["odoo_field"]].id,
                }
            )
            for index, proposal in enumerate(proposals)
            if proposal["merge_tag"] not in mapped
        ]

    # ------------------------------------------------------------------
    # Values (used by the sync, for many partners at once)
    # ------------------------------------------------------------------

    def _plan(self):
        """These mappings, read once, to convert the values of many contacts
        (``engine.mapping.FieldMapPlan``; countries and states through the caches
        below)."""
        return FieldMapPlan(self, self._country_id, self._state_id)

    @api.model
    @tools.ormcache("code")
    def _country_id(self, code):
        """Cached: a pull of many addresses must not query countries per contact."""
        if not code:
            return False
        return self.env["res.country"].search([("code", "=ilike", code)], limit=1).id

    @api.model
    @tools.ormcache("name", "country_id")
    def _state_id(self, name, country_id):
        if not name:
            return False
        domain = ["|", ("code", "=ilike", name), ("name", "=ilike", name)]
        if country_id:
            domain.append(("country_id", "=", country_id))
        return self.env["res.country.state"].search(domain, limit=1).id


def _target(field):
    """What ``merge_values.pull_refusal`` needs
    to know of an ORM field (None: no field)."""
    if field is None:
        return None
    return {
        "related": bool(field.related),
        "readonly": bool(field.readonly),
        "computed": bool(field.compute),
        "inverse": bool(field.inverse),
        "stored": bool(field.store),
    }
