# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The conversions a pairing's field mapping makes for a run (F11): the
mappings (``mailchimp.field.map``) read once, then the values of many contacts
converted both ways with ``utils.merge_values``. Built by
``mailchimp.field.map._plan()``; plain classes, no model."""

from ..utils import merge_values

ADDRESS_FIELDS = ("street", "street2", "city", "zip", "state_id", "country_id")
# the company Odoo shows (the parent company's name, else company_name), and the
# field a pull writes: the computed one would not keep it
COMPANY_FIELDS = ("commercial_company_name", "company_name")


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

    def __init__(self, mappings, country_id, state_id):
        self.env = mappings.env
        self.field_maps = mappings
        # cached lookups: a pull of many addresses must not query them per contact
        self.country_id, self.state_id = country_id, state_id
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
        country_id = self.country_id(parts["country_code"] or "")
        return {
            "street": parts["street"],
            "street2": parts["street2"],
            "city": parts["city"],
            "zip": parts["zip"],
            "state_id": self.state_id(parts["state_name"] or "", country_id),
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
