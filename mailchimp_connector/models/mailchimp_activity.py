# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import io

from odoo import api, fields, models
from odoo.tools import SQL
from odoo.tools.mail import generate_tracking_message_id

from ..engine import transactions
from ..utils.activity_events import (
    ACTION_LABELS,
    BOUNCE_LABELS,
    ChatterBodies,
    no_bodies,
    staging_rows,
)

ACTIONS = list(ACTION_LABELS.items())
BOUNCE_TYPES = list(BOUNCE_LABELS.items())

# a page of events goes through this temporary table: COPY is PostgreSQL's
# cheapest way in, and one INSERT ... SELECT then stores the new events and
# their chatter lines together
STAGING_TABLE = "mailchimp_activity_staging"
STAGING_COLUMNS = SQL(
    "partner_id int4, action varchar, bounce_type varchar, url varchar, "
    "timestamp timestamp, event_key varchar, body text"
)


class MailchimpActivity(models.Model):
    """One email event of a contact: sent, opened, clicked, bounced, unsubscribed,
    marked as spam.

    Rows are written once, in bulk, and never changed: no access-log columns
    (``_log_access``), and no foreign key beyond the contact and the campaign
    (each one is a trigger PostgreSQL fires for every inserted row)."""

    _name = "mailchimp.activity"
    _description = "Mailchimp Email Activity"
    _order = "timestamp desc, id desc"
    _rec_name = "action"
    _log_access = False

    partner_id = fields.Many2one(
        "res.partner",
        string="Contact",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    campaign_id = fields.Many2one(
        "mailchimp.campaign",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    company_id = fields.Many2one(related="campaign_id.company_id")
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
        """{subscriber hash: partner id} for the campaign's audience, in one query:
        one probe of the members' unique (pairing, hash) index per recipient, so
        that a page costs the same in an audience of 10,000 or 1,000,000 (the
        oldest member wins when several pairings share the audience)."""
        if not campaign.audience_id or not hashes:
            return {}
        self.env["mailchimp.member"].flush_model(
            ["pairing_id", "subscriber_hash", "partner_id"]
        )
        self.env["mailchimp.pairing"].flush_model(["audience_id"])
        self.env.cr.execute(
            """
            SELECT h.hash, m.partner_id
              FROM unnest(%s::varchar[]) AS h(hash)
             CROSS JOIN LATERAL (
                    SELECT partner_id
                      FROM mailchimp_member
                     WHERE pairing_id IN (
                           SELECT id FROM mailchimp_pairing WHERE audience_id = %s)
                       AND subscriber_hash = h.hash AND partner_id IS NOT NULL
                     ORDER BY id
                     LIMIT 1
                   ) AS m
            """,
            (list(hashes), campaign.audience_id.id),
        )
        return dict(self.env.cr.fetchall())

    @api.model
    def _store_events(self, campaign, events):
        """Store the events of known contacts once, with one chatter line each.

        events: ``activity_events.Event`` tuples.  Returns the times of the
        events of recipients not linked to a contact (not stored)."""
        bodies = self._chatter_bodies(campaign)
        return self._store_staged(campaign, staging_rows(events, bodies))

    @api.model
    def _chatter_bodies(self, campaign):
        """The chatter lines of ``campaign``'s events, which name it by its
        title; none when the account's chatter has one line per contact and
        campaign (``mailchimp.activity.summary``)."""
        if self._line_per_event(campaign):
            return ChatterBodies(campaign._activity_subject())
        return no_bodies

    @api.model
    def _line_per_event(self, campaign):
        return campaign.account_id.activity_chatter == "event"

    @api.model
    def _store_staged(self, campaign, staged):
        """Store events given as ``activity_events.staging_rows`` (built by the
        thread that fetched their page): one query matches the recipients with
        contacts, one COPY and one INSERT ... SELECT store the events not stored
        yet and the chatter lines of exactly those.  Returns the times of the
        events of recipients not linked to a contact (not stored)."""
        if not staged:
            return []
        matches = self._match_partners(campaign, {row[0] for row in staged if row[0]})
        self._insert_staged(
            campaign, [(matches[h], tail) for h, _stamp, tail in staged if h in matches]
        )
        return [stamp for h, stamp, _tail in staged if h not in matches]

    @api.model
    def _insert_staged(self, campaign, rows):
        """Insert ``[(partner id, staging row text)]`` with ``ON CONFLICT DO
        NOTHING``, then the chatter: the one line per contact and campaign of the
        contacts with new events rewritten (``mailchimp.activity.summary``), or,
        when the account asks for it, one quiet line per event actually inserted
        (``_insert_from_staging``).  Returns how many events were new."""
        if not rows:
            return 0
        self.flush_model()
        self.env["mail.message"].flush_model()
        transactions.without_jit(self.env.cr)
        self._copy_to_staging(rows)
        if self._line_per_event(campaign):
            inserted = self._insert_from_staging(campaign)
        else:
            partner_ids, inserted = self._insert_events_from_staging(campaign)
            self.env["mailchimp.activity.summary"]._refresh(campaign, partner_ids)
        self.invalidate_model()
        self.env["mail.message"].invalidate_model()
        if inserted:
            self._mailchimp_activity_stored(campaign, rows)
        return inserted

    @api.model
    def _mailchimp_activity_stored(self, campaign, rows):
        """Called once per written batch that stored new events, with the batch's
        ``[(partner id, staging row text)]`` (``activity_events.staged_event``
        reads one): nothing here; another app's addon (CRM) reacts to
        engagement in bulk. Events stored before may be among them."""

    @api.model
    def _copy_to_staging(self, rows):
        """The staging table holds ``rows`` alone: created once per session,
        emptied at each commit and before each page."""
        cr = self.env.cr
        cr.execute(
            SQL(
                "CREATE TEMPORARY TABLE IF NOT EXISTS %s (%s) ON COMMIT DELETE ROWS",
                SQL.identifier(STAGING_TABLE),
                STAGING_COLUMNS,
            )
        )
        cr.execute(SQL("TRUNCATE %s", SQL.identifier(STAGING_TABLE)))
        text = "".join([f"{partner_id}\t{tail}\n" for partner_id, tail in rows])
        cr.copy_expert(f"COPY {STAGING_TABLE} FROM STDIN", io.StringIO(text))

    @api.model
    def _events_insert_sql(self, campaign, returning):
        """``INSERT INTO mailchimp_activity ...``: the staged events of
        ``campaign`` not stored yet, in key order (two writers never wait on
        each other in a cycle), ``RETURNING returning``."""
        return SQL(
            """
            INSERT INTO mailchimp_activity
                   (partner_id, campaign_id, action, bounce_type, url, timestamp,
                    event_key)
            SELECT partner_id, %(campaign)s, action, bounce_type, url, timestamp,
                   event_key
              FROM %(staging)s
             ORDER BY event_key
            ON CONFLICT (event_key) DO NOTHING
            RETURNING %(returning)s
            """,
            staging=SQL.identifier(STAGING_TABLE),
            campaign=campaign.id,
            returning=SQL(returning),
        )

    @api.model
    def _quiet_notes_sql(self, source, res_id, date, body, message_id=None):
        """``INSERT INTO mail_message ... SELECT ... FROM source``: one quiet note
        per row of ``source`` on the contact ``res_id`` under the "Mailchimp
        activity" subtype, no follower notified, as ``_message_log_batch``
        writes them (one Message-Id for the batch too).  The arguments are SQL
        expressions over ``source``; ``message_id``: the notes' ids, when they
        were drawn from the sequence beforehand."""
        author = self.env.ref("base.partner_root")
        return SQL(
            """
            INSERT INTO mail_message
                   (%(id_column)s model, res_id, message_type, subtype_id,
                    is_internal, author_id, email_from, date, body, message_id,
                    reply_to_force_new, email_add_signature, create_uid, write_uid,
                    create_date, write_date)
            SELECT %(id_value)s 'res.partner', %(res_id)s, 'notification',
                   %(subtype)s, TRUE, %(author)s, %(email_from)s, %(date)s,
                   %(body)s, %(header)s, FALSE, FALSE, %(uid)s, %(uid)s, %(now)s,
                   %(now)s
              FROM %(source)s
            """,
            id_column=SQL("id," if message_id else ""),
            id_value=SQL("%s,", SQL(message_id)) if message_id else SQL(),
            res_id=SQL(res_id),
            date=SQL(date),
            body=SQL(body),
            source=SQL(source),
            subtype=self.env["ir.model.data"]._xmlid_to_res_id(
                "mailchimp_connector.mt_mailchimp_activity"
            ),
            author=author.id,
            email_from=author.email_formatted or None,
            header=generate_tracking_message_id("mailchimp-activity"),
            uid=self.env.uid,
            now=fields.Datetime.now(),
        )

    @api.model
    def _insert_events_from_staging(self, campaign):
        """Store the staged events of ``campaign`` not stored yet; returns the
        contacts that have new ones (sorted) and how many events were new."""
        self.env.cr.execute(
            SQL(
                """
                WITH new AS (%s)
                SELECT partner_id, count(*) FROM new GROUP BY partner_id
                 ORDER BY partner_id
                """,
                self._events_insert_sql(campaign, "partner_id"),
            )
        )
        counts = self.env.cr.fetchall()
        return [partner_id for partner_id, _count in counts], sum(
            count for _partner_id, count in counts
        )

    @api.model
    def _insert_from_staging(self, campaign):
        """One statement stores the staged events of ``campaign`` not stored yet
        and, for exactly those, a quiet note each.  Returns how many events were
        new."""
        self.env.cr.execute(
            SQL(
                "WITH new AS (%s) %s",
                self._events_insert_sql(campaign, "event_key"),
                self._quiet_notes_sql(
                    f"{STAGING_TABLE} s JOIN new USING (event_key)",
                    res_id="s.partner_id",
                    date="s.timestamp",
                    body="s.body",
                ),
            )
        )
        return self.env.cr.rowcount
