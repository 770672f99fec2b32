# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import hashlib

from markupsafe import Markup

from odoo import api, fields, models
from odoo.tools import SQL
from odoo.tools.mail import generate_tracking_message_id

from ..utils.mailchimp_keys import subscriber_hash

ACTIONS = [
    ("sent", "Sent"),
    ("open", "Opened"),
    ("click", "Clicked"),
    ("bounce", "Bounced"),
    ("unsubscribe", "Unsubscribed"),
    ("abuse", "Marked as Spam"),
]
BOUNCE_TYPES = [("hard", "Hard"), ("soft", "Soft")]
INSERT_COLUMNS = (
    "partner_id",
    "campaign_id",
    "member_id",
    "company_id",
    "action",
    "bounce_type",
    "url",
    "timestamp",
    "event_key",
    "create_uid",
    "write_uid",
    "create_date",
    "write_date",
)

MESSAGE_COLUMNS = (
    "model",
    "res_id",
    "message_type",
    "subtype_id",
    "is_internal",
    "author_id",
    "email_from",
    "date",
    "body",
    "message_id",
    "reply_to_force_new",
    "email_add_signature",
    "create_uid",
    "write_uid",
    "create_date",
    "write_date",
)

COLUMN_TYPES = {
    "partner_id": "int4",
    "campaign_id": "int4",
    "member_id": "int4",
    "company_id": "int4",
    "res_id": "int4",
    "subtype_id": "int4",
    "author_id": "int4",
    "create_uid": "int4",
    "write_uid": "int4",
    "timestamp": "timestamp",
    "date": "timestamp",
    "create_date": "timestamp",
    "write_date": "timestamp",
    "is_internal": "bool",
    "reply_to_force_new": "bool",
    "email_add_signature": "bool",
    "body": "text",
}


def _array_args(columns, rows):
    """``unnest`` arguments: one typed array per column of ``rows``."""
    return SQL(", ").join(
        SQL(f"%s::{COLUMN_TYPES.get(column, 'varchar')}[]", list(values))
        for column, values in zip(columns, zip(*rows, strict=True), strict=True)
    )


def event_key(campaign_id, event):
    """A deterministic key per event, so that no rerun stores it twice."""
    raw = "|".join(
        [
            str(campaign_id),
            event["hash"] or "",
            event["action"],
            event["timestamp"].isoformat() if event["timestamp"] else "",
            event.get("url") or "",
            event.get("bounce_type") or "",
        ]
    )
    return hashlib.md5(raw.encode("utf-8")).hexdigest()  # noqa: S324


class MailchimpActivity(models.Model):
    """One email event of a contact: sent, opened, clicked, bounced, unsubscribed."""

    _name = "mailchimp.activity"
    _description = "Mailchimp Email Activity"
    _order = "timestamp desc, id desc"
    _rec_name = "action"

    partner_id = fields.Many2one(
        "res.partner", string="Contact", required=True, ondelete="cascade", index=True,
        readonly=True,
    )
    campaign_id = fields.Many2one(
        "mailchimp.campaign", required=True, ondelete="cascade", index=True, readonly=True
    )
    member_id = fields.Many2one("mailchimp.member", ondelete="set null", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    account_id = fields.Many2one(related="campaign_id.account_id")
    subject = fields.Char(related="campaign_id.subject")
    action = fields.Selection(ACTIONS, required=True, readonly=True)
    bounce_type = fields.Selection(BOUNCE_TYPES, readonly=True)
    url = fields.Char(string="URL", readonly=True)
    timestamp = fields.Datetime(required=True, readonly=True, index=True)
    event_key = fields.Char(required=True, readonly=True)

    _sql_constraints = [
        ("event_key_uniq", "unique(event_key)", "An email event is stored once."),
    ]

    @api.model
    def _match_partners(self, campaign, hashes):
        """{subscriber hash: (partner id, member id)} for the campaign's audience, in one query."""
        if not campaign.audience_id or not hashes:
            return {}
        self.env["mailchimp.member"].flush_model(["audience_id", "subscriber_hash", "partner_id"])
        self.env.cr.execute(
            """
            SELECT DISTINCT ON (subscriber_hash) subscriber_hash, partner_id, id
              FROM mailchimp_member
             WHERE audience_id = %s AND subscriber_hash = ANY(%s) AND partner_id IS NOT NULL
             ORDER BY subscriber_hash, id
            """,
            (campaign.audience_id.id, list(hashes)),
        )
        return {row[0]: (row[1], row[2]) for row in self.env.cr.fetchall()}

    @api.model
    def _store_events(self, campaign, events):
        """Store the events of known contacts once, with one chatter line each.

        events: dicts {hash, email, action, timestamp, url?, bounce_type?}.
        One query to match contacts, one insert that skips events already stored,
        one batch of chatter messages for the rows actually inserted.
        Returns the events of recipients not linked to a contact (not stored).
        """
        if not events:
            return []
        for event in events:
            if not event.get("hash") and event.get("email"):
                event["hash"] = subscriber_hash(event["email"])
        matches = self._match_partners(campaign, {e["hash"] for e in events if e["hash"]})
        unknown, rows, seen = [], [], set()
        now = fields.Datetime.now()
        uid = self.env.uid
        company = campaign.company_id.id or None
        for event in events:
            match = matches.get(event["hash"])
            if not match or not event.get("timestamp"):
                unknown.append(event)
                continue
            key = event_key(campaign.id, event)
            if key in seen:
                continue
            seen.add(key)
            bounce_type = event.get("bounce_type") if event["action"] == "bounce" else None
            rows.append(
                (
                    match[0],
                    campaign.id,
                    match[1],
                    company,
                    event["action"],
                    bounce_type if bounce_type in ("hard", "soft") else None,
                    event.get("url") or None,
                    event["timestamp"],
                    key,
                    uid,
                    uid,
                    now,
                    now,
                )
            )
        if rows:
            inserted = self._insert_rows(rows)
            self._log_chatter(campaign, inserted)
        return unknown

    @api.model
    def _insert_rows(self, rows):
        """INSERT ... ON CONFLICT DO NOTHING; returns the rows actually inserted.

        One statement per page; the columns go as arrays (``unnest``) so that
        thousands of rows cost one query and little adaptation work."""
        query = SQL(
            "INSERT INTO mailchimp_activity (%s) SELECT * FROM unnest(%s) "
            "ON CONFLICT (event_key) DO NOTHING "
            "RETURNING partner_id, action, bounce_type, url, timestamp",
            SQL(", ").join(SQL.identifier(column) for column in INSERT_COLUMNS),
            _array_args(INSERT_COLUMNS, rows),
        )
        self.env.cr.execute(query)
        return self.env.cr.fetchall()

    @api.model
    def _chatter_body(self, campaign, action, bounce_type, url):
        labels = dict(ACTIONS)
        subject = campaign.subject or campaign.title or campaign.mailchimp_campaign_id
        if action == "click" and url:
            return Markup("Mailchimp: %s <b>%s</b> — <a href='%s' target='_blank'>%s</a>") % (
                labels[action], subject, url, url
            )
        if action == "bounce" and bounce_type:
            return Markup("Mailchimp: %s (%s) <b>%s</b>") % (
                labels[action], dict(BOUNCE_TYPES)[bounce_type].lower(), subject
            )
        return Markup("Mailchimp: %s <b>%s</b>") % (labels[action], subject)

    @api.model
    def _log_chatter(self, campaign, inserted):
        """One quiet note per new event on the contact, with the "Mailchimp activity"
        subtype and no follower notified: what ``_message_log_batch`` writes (it only
        logs notes, one per record), here as one multi-row insert for the page, so
        that 1,000 events cost one query instead of a dozen per message."""
        if not inserted:
            return
        subtype_id = self.env["ir.model.data"]._xmlid_to_res_id(
            "mailchimp_connector.mt_mailchimp_activity"
        )
        author = self.env.ref("base.partner_root")
        email_from = author.email_formatted or False
        now = fields.Datetime.now()
        uid = self.env.uid
        rows = [
            (
                "res.partner",
                partner_id,
                "notification",
                subtype_id,
                True,
                author.id,
                email_from,
                timestamp,
                str(self._chatter_body(campaign, action, bounce_type, url)),
                generate_tracking_message_id("mailchimp-activity"),
                False,
                True,
                uid,
                uid,
                now,
                now,
            )
            for partner_id, action, bounce_type, url, timestamp in inserted
        ]
        self.env["mail.message"].flush_model()
        self.env.cr.execute(
            SQL(
                "INSERT INTO mail_message (%s) SELECT * FROM unnest(%s)",
                SQL(", ").join(SQL.identifier(column) for column in MESSAGE_COLUMNS),
                _array_args(MESSAGE_COLUMNS, rows),
            )
        )
        self.env["mail.message"].invalidate_model()
