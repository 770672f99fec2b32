# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import json

from odoo import api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from ..engine import contact_events

EVENT_KINDS = [
    ("event", "Event"),
    ("tag_add", "Tag added"),
    ("tag_remove", "Tag removed"),
]
EVENT_STATES = [
    ("queued", "Queued"),
    ("sending", "Sending"),
    ("sent", "Sent"),
    ("failed", "Failed"),
    ("cancelled", "Superseded"),
]


class MailchimpContactEvent(models.Model):
    """A tag or a custom event an Automation Rule asked Mailchimp to record on a
    contact's member: queued in the rule's transaction (no request there), sent
    in bulk by a cron, retried on temporary faults, sent once (its
    idempotency key: one record, one action, one name)."""

    _name = "mailchimp.contact.event"
    _description = "Mailchimp Contact Event"
    _order = "id desc"

    partner_id = fields.Many2one(
        "res.partner",
        string="Contact",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    pairing_id = fields.Many2one(
        "mailchimp.pairing",
        string="Sync",
        required=True,
        ondelete="cascade",
        readonly=True,
    )
    audience_id = fields.Many2one(related="pairing_id.audience_id", store=True)
    account_id = fields.Many2one(related="pairing_id.account_id", store=True)
    company_id = fields.Many2one(related="pairing_id.company_id", store=True)
    kind = fields.Selection(EVENT_KINDS, required=True, readonly=True)
    name = fields.Char(
        required=True, readonly=True, help="The event's name, or the tag's."
    )
    properties = fields.Json(readonly=True, help="The event's properties (strings).")
    occurred_at = fields.Datetime(
        string="Occurred",
        required=True,
        readonly=True,
        default=fields.Datetime.now,
        help="When the rule fired: sent to Mailchimp as the event's time.",
    )
    idempotency_key = fields.Char(required=True, readonly=True, copy=False)
    res_model = fields.Char(string="Source Model", readonly=True)
    res_id = fields.Many2oneReference(
        string="Source Record", model_field="res_model", readonly=True
    )
    action_id = fields.Many2one(
        "ir.actions.server", string="Server Action", ondelete="set null", readonly=True
    )
    state = fields.Selection(
        EVENT_STATES, default="queued", required=True, readonly=True, copy=False
    )
    attempts = fields.Integer(readonly=True, copy=False)
    next_attempt_date = fields.Datetime(string="Next Try", readonly=True, copy=False)
    error = fields.Text(readonly=True, copy=False)
    date_sent = fields.Datetime(string="Sent", readonly=True, copy=False)
    email = fields.Char(readonly=True, copy=False, help="The address it was sent to.")
    batch_id = fields.Char(
        string="Mailchimp Batch",
        readonly=True,
        copy=False,
        help="The /batches job that carries it, while it is being sent.",
    )

    _sql_constraints = [
        (
            "idempotency_key_uniq",
            "unique(idempotency_key)",
            "A record sends an event or a tag once per action.",
        ),
    ]

    def init(self):
        res = super().init()
        # the sender's pass reads only what is left to send
        self.env.cr.execute(
            SQL(
                "CREATE INDEX IF NOT EXISTS mailchimp_contact_event_todo_index "
                "ON mailchimp_contact_event (account_id, kind, id) "
                "WHERE state IN ('queued', 'sending')"
            )
        )
        return res

    @api.depends("kind", "name")
    def _compute_display_name(self):
        kinds = dict(self._fields["kind"]._description_selection(self.env))
        for event in self:
            event.display_name = f"{kinds.get(event.kind, '')}: {event.name}"

    @api.model
    def _queue(self, rows):
        """Queue ``rows`` (dicts: partner_id, pairing_id, kind, name, properties,
        occurred_at, idempotency_key, res_model, res_id, action_id) in one INSERT.

        A key already queued or sent is not queued again, and a twin queued by a
        concurrent transaction never fails the one that fired the rule (ON
        CONFLICT). A tag already sent is queued again: setting a tag twice is
        harmless and a record may move back and forth. Wakes the sender.
        """
        if not rows:
            return 0
        pairings = self.env["mailchimp.pairing"].browse(
            {row["pairing_id"] for row in rows}
        )
        pairing_data = {
            pairing.id: (
                pairing.audience_id.id,
                pairing.account_id.id,
                pairing.company_id.id or None,
            )
            for pairing in pairings.sudo()
        }
        now = fields.Datetime.now()
        uid = self.env.uid
        values = SQL(", ").join(
            SQL(
                "(%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, "
                "'queued', 0, %s, %s, %s, %s)",
                row["partner_id"],
                row["pairing_id"],
                *pairing_data[row["pairing_id"]],
                row["kind"],
                row["name"],
                json.dumps(row.get("properties") or {}),
                row.get("occurred_at") or now,
                row["idempotency_key"],
                row.get("res_model"),
                row.get("res_id") or None,
                row.get("action_id") or None,
                uid,
                now,
                uid,
                now,
            )
            for row in rows
        )
        self.env.cr.execute(
            SQL(
                """
                INSERT INTO mailchimp_contact_event AS e (
                    partner_id, pairing_id, audience_id, account_id, company_id,
                    kind, name, properties, occurred_at, idempotency_key,
                    res_model, res_id, action_id, state, attempts,
                    create_uid, create_date, write_uid, write_date)
                VALUES %s
                ON CONFLICT (idempotency_key) DO UPDATE
                   SET state = 'queued', attempts = 0, error = NULL,
                       next_attempt_date = NULL, batch_id = NULL,
                       occurred_at = EXCLUDED.occurred_at,
                       write_uid = EXCLUDED.write_uid, write_date = EXCLUDED.write_date
                 WHERE e.kind != 'event' AND e.state IN ('sent', 'failed', 'cancelled')
                RETURNING id
                """,
                values,
            )
        )
        queued = len(self.env.cr.fetchall())
        self.invalidate_model()
        if queued:
            contact_events.request(self.env)
        return queued

    @api.model
    def _cron_send(self):
        """The sender's pass: each connected account's due events and tags."""
        contact_events.cron_pass(self)

    def action_retry(self):
        """Queue failed events again (an administrator fixed the cause)."""
        if not self.env.user.has_group("mailchimp_connector.group_mailchimp_manager"):
            raise AccessError(
                self.env._("Only Mailchimp administrators can send events again.")
            )
        failed = self.filtered(lambda event: event.state == "failed")
        failed.write(
            {
                "state": "queued",
                "attempts": 0,
                "error": False,
                "next_attempt_date": False,
            }
        )
        if failed:
            contact_events.request(self.env)
        return True
