# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError

from ..utils import merge_values

SOURCE_KINDS = [
    ("field", "Contact field"),
    ("first_name", "First name (from the name)"),
    ("last_name", "Last name (from the name)"),
    ("address", "Address (street, city, zip, state, country)"),
]
ADDRESS_FIELDS = ("street", "street2", "city", "zip", "state_id", "country_id")


class MailchimpFieldMap(models.Model):
    """One Mailchimp merge field <-> one Odoo contact source, type-checked (F11)."""

    _name = "mailchimp.field.map"
    _description = "Mailchimp Field Mapping"
    _order = "pairing_id, sequence, id"

    sequence = fields.Integer(default=10)
    pairing_id = fields.Many2one(
        "mailchimp.pairing", required=True, ondelete="cascade", index=True
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
    # computed as superuser: salespeople read the mapping but not ir.model.fields
    can_push = fields.Boolean(
        compute="_compute_directions", compute_sudo=True, string="Odoo → Mailchimp"
    )
    can_pull = fields.Boolean(
        compute="_compute_directions", compute_sudo=True, string="Mailchimp → Odoo"
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
            try:
                directions = mapping._check_mapping()
            except (merge_values.MappingError, ValidationError):
                directions = merge_values.Direction(0)
            mapping.can_push = directions.can_push
            mapping.can_pull = directions.can_pull

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

    def _check_mapping(self):
        """The allowed directions, or MappingError with the reason."""
        self.ensure_one()
        if self.source_kind == "field" and not self.odoo_field_id:
            raise ValidationError(self.env._("Choose the Odoo field to map."))
        if self.source_kind == "field":
            field = self.env["res.partner"]._fields.get(self.odoo_field_id.name)
            odoo_type = field.type if field else self.odoo_field_id.ttype
        else:
            field, odoo_type = None, "char"
        selection = None
        if field is not None and field.type == "selection":
            selection = field._description_selection(self.env)
        return merge_values.check_mapping(
            self.source_kind,
            odoo_type,
            self.merge_field_id.field_type,
            selection=selection,
            choices=(self.merge_field_id.options or {}).get("choices"),
        )

    # ------------------------------------------------------------------
    # Values (used by the sync, for many partners at once)
    # ------------------------------------------------------------------

    def _plan(self):
        """These mappings, read once, to convert the values of many contacts."""
        return FieldMapPlan(self)

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


class MappingSpec:
    """One mapping as plain attributes (no ORM access per contact)."""

    __slots__ = (
        "tag", "label", "merge_type", "options", "source_kind", "field", "selection",
        "can_push", "can_pull",
    )

    def __init__(self, mapping, partner_fields):
        self.tag = mapping.merge_tag
        self.label = mapping.merge_field_id.name
        self.merge_type = mapping.merge_type
        self.options = mapping.merge_field_id.options or {}
        self.source_kind = mapping.source_kind
        self.field = (
            partner_fields.get(mapping.odoo_field_id.name)
            if mapping.source_kind == "field"
            else None
        )
        self.selection = (
            self.field._description_selection(mapping.env)
            if self.field is not None and self.field.type == "selection"
            else None
        )
        self.can_push = mapping.can_push
        self.can_pull = mapping.can_pull


class FieldMapPlan:
    """A pairing's mappings, read once for a run, and the conversions they make (F11).

    A sync converts every contact with every mapping; reading the mappings'
    fields through the ORM for each of them cost more than the rest of the run.
    """

    def __init__(self, mappings):
        self.env = mappings.env
        self.field_maps = mappings
        partner_fields = self.env["res.partner"]._fields
        self.specs = [MappingSpec(mapping, partner_fields) for mapping in mappings]
        self.by_tag = {spec.tag: spec for spec in self.specs}
        self.tags = [spec.tag for spec in self.specs]
        self.push_only = [spec.tag for spec in self.specs if not spec.can_pull]
        self.pull_tags = [spec.tag for spec in self.specs if spec.can_pull]

    def partner_fields(self):
        """The partner fields to read so that these mappings can be computed."""
        names = {"name", "email", "email_normalized"}
        for spec in self.specs:
            if spec.source_kind == "address":
                names.update(ADDRESS_FIELDS)
            elif spec.field is not None:
                names.add(spec.field.name)
        return sorted(names)

    # -- Odoo -> Mailchimp ---------------------------------------------------

    def mailchimp_values_checked(self, partner):
        """({TAG: value in Mailchimp's form}, {TAG: reason}): a value Mailchimp would
        refuse is left out and its reason names the field, so a person knows what to fix."""
        values, errors = {}, {}
        for spec in self.specs:
            if not spec.can_push:
                continue
            try:
                values[spec.tag] = self._to_mailchimp(spec, partner)
            except merge_values.MergeValueError as error:
                errors[spec.tag] = self.env._(
                    "%(field)s (%(tag)s): %(reason)s",
                    field=spec.label,
                    tag=spec.tag,
                    reason=error.reason,
                )
        return values, errors

    @staticmethod
    def person_name(partner):
        """The contact's name, or "" when it is only its email address (as a sync
        names a contact Mailchimp knows no name for): not a first or last name."""
        name = partner.name or ""
        if name.strip().lower() == (partner.email or "").strip().lower():
            return ""
        return name

    def _to_mailchimp(self, spec, partner):
        if spec.source_kind in ("first_name", "last_name"):
            first, last = merge_values.split_name(self.person_name(partner))
            half = first if spec.source_kind == "first_name" else last
            return merge_values.to_mailchimp(half, "char", spec.merge_type, spec.options)
        if spec.source_kind == "address":
            state, country = partner.state_id, partner.country_id
            address = {
                "street": partner.street,
                "street2": partner.street2,
                "city": partner.city,
                "zip": partner.zip,
                "state": state.code or state.name,
                "country_code": country.code,
            }
            return merge_values.to_mailchimp(address, "address", spec.merge_type, spec.options)
        field = spec.field
        value = partner[field.name]
        if field.type == "many2one":
            value = value.display_name if value else False
        elif field.type == "many2many":
            value = value.mapped("display_name")
        return merge_values.to_mailchimp(
            value, field.type, spec.merge_type, spec.options, selection=spec.selection
        )

    # -- Mailchimp -> Odoo ---------------------------------------------------

    def normalize(self, mailchimp_merge_fields):
        """Mailchimp's merge values in the same form as ``mailchimp_values_checked``."""
        return {
            spec.tag: merge_values.normalize_mailchimp(
                mailchimp_merge_fields.get(spec.tag), spec.merge_type, spec.options
            )
            for spec in self.specs
        }

    def odoo_vals(self, to_odoo, partner_name=None):
        """Partner vals for the pulled {TAG: value}; MergeValueError on a bad value.

        Many2one names are resolved by exact name; an unknown name is refused
        rather than creating records behind the admin's back.
        """
        vals, first, last = {}, None, None
        for tag, value in to_odoo.items():
            spec = self.by_tag.get(tag)
            if not spec or not spec.can_pull:
                continue
            if spec.source_kind == "first_name":
                first = merge_values.from_mailchimp(value, "char", spec.merge_type, spec.options) or ""
            elif spec.source_kind == "last_name":
                last = merge_values.from_mailchimp(value, "char", spec.merge_type, spec.options) or ""
            elif spec.source_kind == "address":
                vals.update(self._address_vals(value))
            else:
                vals.update(self._field_vals(spec, value))
        if first is not None or last is not None:
            old_first, old_last = merge_values.split_name(partner_name or "")
            name = merge_values.join_name(
                old_first if first is None else first, old_last if last is None else last
            )
            if name:
                vals["name"] = name
        return vals

    def _address_vals(self, value):
        parts = merge_values.from_mailchimp(value, "address", "address")
        FieldMap = self.field_maps.browse()
        country_id = FieldMap._country_id(parts["country_code"] or "")
        return {
            "street": parts["street"],
            "street2": parts["street2"],
            "city": parts["city"],
            "zip": parts["zip"],
            "state_id": FieldMap._state_id(parts["state_name"] or "", country_id),
            "country_id": country_id,
        }

    def _field_vals(self, spec, value):
        field = spec.field
        converted = merge_values.from_mailchimp(
            value,
            field.type,
            spec.merge_type,
            spec.options,
            selection=spec.selection,
            size=getattr(field, "size", None),
        )
        if field.type == "many2one" and converted:
            Comodel = self.env[field.comodel_name]
            record = Comodel.search([(Comodel._rec_name or "id", "=", converted)], limit=2)
            if len(record) != 1:
                raise merge_values.MergeValueError(
                    self.env._(
                        "'%(name)s' does not name exactly one %(model)s in Odoo.",
                        name=converted,
                        model=Comodel._description,
                    )
                )
            converted = record.id
        return {field.name: converted}
