# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..utils import contact_events as ce

MAILCHIMP_STATES = {
    "mailchimp_tag_add": "tag_add",
    "mailchimp_tag_remove": "tag_remove",
    "mailchimp_event": "event",
}
RELATIONAL = ("many2one", "one2many", "many2many")


class IrActionsServer(models.Model):
    """Server actions for Automation Rules (and the Action menu): tag the
    records' contacts in Mailchimp, or send them a custom event that starts a
    Customer Journey. Running one only queues ``mailchimp.contact.event`` rows;
    a cron sends them in bulk."""

    _inherit = "ir.actions.server"

    state = fields.Selection(
        selection_add=[
            ("mailchimp_tag_add", "Mailchimp: add tag"),
            ("mailchimp_tag_remove", "Mailchimp: remove tag"),
            ("mailchimp_event", "Mailchimp: send event"),
        ],
        ondelete={state: "cascade" for state in MAILCHIMP_STATES},
    )
    mailchimp_pairing_id = fields.Many2one(
        "mailchimp.pairing",
        string="Mailchimp Sync",
        ondelete="restrict",
        help="Its audience receives the tag or the event.",
    )
    mailchimp_partner_field_id = fields.Many2one(
        "ir.model.fields",
        string="Contact Field",
        ondelete="cascade",
        domain="[('model_id', '=', model_id), ('ttype', '=', 'many2one'), "
        "('relation', '=', 'res.partner')]",
        help="The record's contact (e.g. the customer of a sale order). Empty on "
        "contacts: the contact itself.",
    )
    mailchimp_tag_name = fields.Char(string="Mailchimp Tag")
    mailchimp_event_name = fields.Char(
        string="Mailchimp Event",
        help="2 to 30 letters, digits, _ or -, e.g. order_confirmed: the name a "
        "Customer Journey starts on.",
    )
    mailchimp_event_properties = fields.Text(
        string="Event Properties",
        help="One property a line, property=field of the record, e.g.\n"
        "amount=amount_total\nreference=name\nFields of related records too: "
        "country=partner_id.country_id.code",
    )

    @api.constrains(
        "state",
        "model_id",
        "mailchimp_pairing_id",
        "mailchimp_partner_field_id",
        "mailchimp_tag_name",
        "mailchimp_event_name",
        "mailchimp_event_properties",
    )
    def _check_mailchimp_settings(self):
        _ = self.env._
        for action in self.filtered(lambda a: a.state in MAILCHIMP_STATES):
            if not action.mailchimp_pairing_id:
                raise ValidationError(_("Choose the Mailchimp sync of the action."))
            field = action.mailchimp_partner_field_id
            if field and field.model_id != action.model_id:
                raise ValidationError(
                    _("The contact field must be a field of %s.", action.model_id.name)
                )
            if not field and action.model_id.model != "res.partner":
                raise ValidationError(
                    _("Choose the field that holds the record's contact.")
                )
            if action.state == "mailchimp_event":
                if not ce.valid_event_name(action.mailchimp_event_name):
                    raise ValidationError(
                        _(
                            "A Mailchimp event name is 2 to 30 letters, digits, _ "
                            "or - (e.g. order_confirmed)."
                        )
                    )
                action._mailchimp_property_map()
            elif not (action.mailchimp_tag_name or "").strip():
                raise ValidationError(_("Enter the Mailchimp tag."))

    def _mailchimp_property_map(self):
        """[(property, field path)], each path checked against the model."""
        self.ensure_one()
        try:
            pairs = ce.parse_property_map(self.mailchimp_event_properties)
        except ValueError as error:
            raise ValidationError(
                self.env._(
                    "Event properties, line %(line)s: write property=field, e.g. "
                    "amount=amount_total, each property once.",
                    line=error.args[0],
                )
            ) from None
        for _property, path in pairs:
            model = self.env[self.model_id.model]
            for name in path.split("."):
                field = model._fields.get(name)
                if field is None:
                    raise ValidationError(
                        self.env._(
                            "Event properties: %(model)s has no field %(field)s.",
                            model=model._description,
                            field=name,
                        )
                    )
                if field.type in RELATIONAL:
                    model = self.env[field.comodel_name]
        return pairs

    # the runners: one per state, each queueing for all the records at once
    def _run_action_mailchimp_tag_add_multi(self, eval_context=None):
        return self._mailchimp_queue(eval_context)

    def _run_action_mailchimp_tag_remove_multi(self, eval_context=None):
        return self._mailchimp_queue(eval_context)

    def _run_action_mailchimp_event_multi(self, eval_context=None):
        return self._mailchimp_queue(eval_context)

    def _mailchimp_queue(self, eval_context):
        """Queue the tag or the event for the contacts of the records the action
        runs on (no request here: the rule's transaction stays fast)."""
        self.ensure_one()
        eval_context = eval_context or self._get_eval_context(self)
        model = eval_context["model"]
        records = (eval_context.get("record") or model) | (
            eval_context.get("records") or model
        )
        # an onchange automation runs on records not saved yet: nothing to send
        records = records.filtered("id").sudo()
        if not records:
            return False
        kind = MAILCHIMP_STATES[self.state]
        name = (
            self.mailchimp_event_name
            if kind == "event"
            else self.mailchimp_tag_name.strip()
        )
        properties = self._mailchimp_property_map() if kind == "event" else []
        field = self.mailchimp_partner_field_id.name
        now = fields.Datetime.now()
        rows = []
        for record in records:
            partner = record[field] if field else record
            # a contact erased at the person's request gets nothing from Mailchimp
            if not partner or partner.mailchimp_forgotten:
                continue
            rows.append(
                {
                    "partner_id": partner.id,
                    "pairing_id": self.mailchimp_pairing_id.id,
                    "kind": kind,
                    "name": name,
                    "properties": {
                        key: _property_value(record, path) for key, path in properties
                    },
                    "occurred_at": now,
                    "idempotency_key": ce.idempotency_key(
                        record._name, record.id, self.id, kind, name
                    ),
                    "res_model": record._name,
                    "res_id": record.id,
                    "action_id": self.id,
                }
            )
        self.env["mailchimp.contact.event"].sudo()._queue(rows)
        return False


def _property_value(record, path):
    """The value at ``path`` (fields of related records: of the first one) as a
    string; relations as their names."""
    *relations, name = path.split(".")
    for relation in relations:
        record = record[relation][:1]
    field = record._fields[name]
    value = record[name]
    if field.type in RELATIONAL:
        value = value.mapped("display_name")
    return ce.property_text(value, field.type)
