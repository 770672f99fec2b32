# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models, tools
from odoo.exceptions import ValidationError

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
ADDRESS_FIELDS = ("street", "street2", "city", "zip", "state_id", "country_id")
# the company Odoo shows (the parent company's name, else company_name), and the
# field a pull writes: the computed one would not keep it
COMPANY_FIELDS = ("commercial_company_name", "company_name")


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


class MappingSpec:
    """One mapping as plain attributes (no ORM access per contact)."""

    __slots__ = (
        "tag",
        "label",
        "merge_type",
        "options",
        "source_kind",
        "field",
        "selection",
        "can_push",
        "can_pull",
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

    ``hints`` are Mailchimp's values for the contact ({TAG: value} in the form
    of ``normalize``), most trusted first: Odoo's value is written the way
    Mailchimp already writes it where both mean the same (a name split, a
    state's name or code), so what Odoo cannot hold exactly is not taken for a
    change and never sent back in Odoo's form.
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
        # the merge fields that hold the name's halves, to split names like Mailchimp
        self.first_tag = next(
            (s.tag for s in self.specs if s.source_kind == "first_name"), None
        )
        self.last_tag = next(
            (s.tag for s in self.specs if s.source_kind == "last_name"), None
        )

    def partner_fields(self):
        """The partner fields to read so that these mappings can be computed."""
        names = {"name", "email", "email_normalized"}
        for spec in self.specs:
            if spec.source_kind == "address":
                names.update(ADDRESS_FIELDS)
            elif spec.source_kind == "company":
                names.update(COMPANY_FIELDS)
            elif spec.field is not None:
                names.add(spec.field.name)
        return sorted(names)

    # -- Odoo -> Mailchimp ---------------------------------------------------

    def mailchimp_values_checked(self, partner, hints=()):
        """({TAG: value in Mailchimp's form}, {TAG: reason}): a value Mailchimp would
        refuse is left out and its reason names the
        field, so a person knows what to fix."""
        values, errors = {}, {}
        hints = [hint for hint in hints if hint]
        halves = None
        for spec in self.specs:
            if not spec.can_push:
                continue
            try:
                if spec.source_kind in ("first_name", "last_name"):
                    if halves is None:
                        halves = self.name_halves(partner, hints)
                    half = halves[0] if spec.source_kind == "first_name" else halves[1]
                    values[spec.tag] = merge_values.to_mailchimp(
                        half, "char", spec.merge_type, spec.options
                    )
                else:
                    values[spec.tag] = self._to_mailchimp(spec, partner, hints)
            except merge_values.MergeValueError as error:
                errors[spec.tag] = self.env._(
                    "%(field)s (%(tag)s): %(reason)s",
                    field=spec.label,
                    tag=spec.tag,
                    reason=error.reason,
                )
        return values, errors

    def sendable(self, tag, value, mailchimp_value):
        """``merge_values.value_to_send`` for one mapped tag."""
        return merge_values.value_to_send(
            self.by_tag[tag].merge_type, value, mailchimp_value
        )

    @staticmethod
    def person_name(partner):
        """The contact's name, or "" when it is only its email address (as a sync
        names a contact Mailchimp knows no name for): not a first or last name."""
        name = partner.name or ""
        if name.strip().lower() == (partner.email or "").strip().lower():
            return ""
        return name

    def name_halves(self, partner, hints=()):
        """The contact's (first, last) name, split as Mailchimp splits it."""
        pairs = [
            (
                hint.get(self.first_tag) if self.first_tag else None,
                hint.get(self.last_tag) if self.last_tag else None,
            )
            for hint in hints
            if hint
        ]
        return merge_values.split_name_like(self.person_name(partner), pairs)

    def _to_mailchimp(self, spec, partner, hints):
        if spec.source_kind == "company":
            return merge_values.to_mailchimp(
                partner.commercial_company_name, "char", spec.merge_type, spec.options
            )
        if spec.source_kind == "address":
            state, country = partner.state_id, partner.country_id
            label = ""
            if state:
                label = merge_values.state_label(
                    state.code,
                    state.name,
                    "%(state_code)s" in (state.country_id.address_format or ""),
                    [
                        hint[spec.tag].get("state")
                        for hint in hints
                        if isinstance(hint.get(spec.tag), dict)
                    ],
                )
            address = {
                "street": partner.street,
                "street2": partner.street2,
                "city": partner.city,
                "zip": partner.zip,
                "state": label,
                "country_code": country.code,
            }
            return merge_values.to_mailchimp(
                address, "address", spec.merge_type, spec.options
            )
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

    def normalize(self, mailchimp_merge_fields, tags=None):
        """Mailchimp's merge values in the same form as ``mailchimp_values_checked``
        (``tags``: only those, when given)."""
        return {
            spec.tag: merge_values.normalize_mailchimp(
                mailchimp_merge_fields.get(spec.tag), spec.merge_type, spec.options
            )
            for spec in self.specs
            if tags is None or spec.tag in tags
        }

    def odoo_vals(self, to_odoo, partner=None, hints=()):
        """Partner vals for the pulled {TAG: value}; MergeValueError on a bad value.

        A name half changed in Mailchimp replaces that half of the contact's name
        as Mailchimp splits it (``hints``). Many2one names are resolved by exact
        name; an unknown name is refused rather than creating records behind the
        admin's back.
        """
        vals, first, last = {}, None, None
        for tag, value in to_odoo.items():
            spec = self.by_tag.get(tag)
            if not spec or not spec.can_pull:
                continue
            if spec.source_kind == "first_name":
                first = (
                    merge_values.from_mailchimp(
                        value, "char", spec.merge_type, spec.options
                    )
                    or ""
                )
            elif spec.source_kind == "last_name":
                last = (
                    merge_values.from_mailchimp(
                        value, "char", spec.merge_type, spec.options
                    )
                    or ""
                )
            elif spec.source_kind == "company":
                vals["company_name"] = merge_values.from_mailchimp(
                    value,
                    "char",
                    spec.merge_type,
                    spec.options,
                    size=getattr(
                        self.env["res.partner"]._fields["company_name"], "size", None
                    ),
                )
            elif spec.source_kind == "address":
                vals.update(self._address_vals(value))
            else:
                vals.update(self._field_vals(spec, value))
        if first is not None or last is not None:
            old_first, old_last = (
                self.name_halves(partner, hints) if partner is not None else ("", "")
            )
            name = merge_values.join_name(
                old_first if first is None else first,
                old_last if last is None else last,
            )
            if name:
                vals["name"] = name
        return vals

    @staticmethod
    def changed_vals(partner, vals):
        """The part of ``vals`` that changes the contact (an unchanged value is not
        written: the contact's write date stays as it was)."""
        changed = {}
        for name, value in vals.items():
            field = partner._fields[name]
            current = partner[name]
            if field.type == "many2one":
                same = current.id == (value or False)
            elif field.type in ("one2many", "many2many"):
                same = False
            else:
                same = (current or False) == (value or False)
            if not same:
                changed[name] = value
        return changed

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
            record = Comodel.search(
                [(Comodel._rec_name or "id", "=", converted)], limit=2
            )
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
