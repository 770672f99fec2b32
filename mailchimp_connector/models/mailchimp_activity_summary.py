# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.tools import SQL

from ..utils.activity_events import BOUNCE_LABELS, Summary, summary_body

# what the summary of a contact and a campaign holds, computed from its stored
# events (never added to: a page read again changes nothing)
SUMMARY_COLUMNS = (*Summary._fields, "last_event_date")


# the counts and dates of each contact of a page (``unnest``, then the campaign):
# one probe of the contact index per contact: the campaign's own events may be
# millions, and without statistics (a new table) PostgreSQL would also scan the
# campaign index for each contact; "+ 0" keeps it off that index
COUNTS_SQL = """
                SELECT p.id AS partner_id, e.*
                  FROM unnest(%s::int[]) AS p(id)
                 CROSS JOIN LATERAL (
                    SELECT min(timestamp) FILTER (WHERE action = 'sent') AS sent_date,
                           count(*) FILTER (WHERE action = 'open') AS open_count,
                           max(timestamp) FILTER (WHERE action = 'open')
                               AS last_open_date,
                           count(*) FILTER (WHERE action = 'click') AS click_count,
                           max(timestamp) FILTER (WHERE action = 'click')
                               AS last_click_date,
                           (array_agg(url ORDER BY timestamp DESC, url)
                                FILTER (WHERE action = 'click'))[1] AS last_click_url,
                           (array_agg(bounce_type
                                      ORDER BY bounce_type IS NOT DISTINCT FROM 'hard'
                                                   DESC,
                                               bounce_type IS NULL, timestamp DESC)
                                FILTER (WHERE action = 'bounce'))[1] AS bounce_type,
                           max(timestamp) FILTER (WHERE action = 'bounce')
                               AS bounce_date,
                           min(timestamp) FILTER (WHERE action = 'unsubscribe')
                               AS unsubscribe_date,
                           min(timestamp) FILTER (WHERE action = 'abuse') AS abuse_date,
                           max(timestamp) AS last_event_date
                      FROM mailchimp_activity
                     WHERE partner_id = p.id AND campaign_id + 0 = %s
                 ) AS e
"""


def returned(table):
    """What ``_refresh``'s statements return of the summaries of ``table`` (its
    name or alias): what ``_write_lines`` reads."""
    names = ("id", "partner_id", "message_id", "last_event_date", *Summary._fields)
    return SQL(", ".join(f"{table}.{name}" for name in names))


class MailchimpActivitySummary(models.Model):
    """What one contact did with one campaign, and its one chatter line.

    Kept by the activity pull in SQL, page by page, from the stored events
    (``_refresh``): the counts and dates are computed again from
    ``mailchimp.activity`` for the contacts of the page that have new events, and
    the chatter line (``message_id``) is rewritten in place.  The events stay in
    ``mailchimp.activity`` (the *Email Activity* view)."""

    _name = "mailchimp.activity.summary"
    _description = "Mailchimp Activity per Contact and Campaign"
    _order = "last_event_date desc, id desc"
    _rec_name = "campaign_id"
    _log_access = False

    partner_id = fields.Many2one(
        "res.partner", string="Contact", required=True, ondelete="cascade"
    )
    # no index of its own: the unique (contact, campaign) index is the one the
    # pull's lookups by contact must use
    campaign_id = fields.Many2one(
        "mailchimp.campaign", required=True, ondelete="cascade"
    )
    company_id = fields.Many2one(related="campaign_id.company_id")
    message_id = fields.Many2one(
        "mail.message", string="Chatter Line", ondelete="set null", readonly=True
    )
    sent_date = fields.Datetime(string="Sent", readonly=True)
    open_count = fields.Integer(string="Opens", readonly=True)
    last_open_date = fields.Datetime(string="Last Opened", readonly=True)
    click_count = fields.Integer(string="Clicks", readonly=True)
    last_click_date = fields.Datetime(string="Last Clicked", readonly=True)
    last_click_url = fields.Char(string="Last Clicked URL", readonly=True)
    bounce_type = fields.Selection(list(BOUNCE_LABELS.items()), readonly=True)
    bounce_date = fields.Datetime(string="Bounced", readonly=True)
    unsubscribe_date = fields.Datetime(string="Unsubscribed", readonly=True)
    abuse_date = fields.Datetime(string="Marked as Spam", readonly=True)
    last_event_date = fields.Datetime(string="Last Event", readonly=True)

    _sql_constraints = [
        (
            "partner_campaign_uniq",
            "unique(partner_id, campaign_id)",
            "A contact has one activity summary per campaign.",
        ),
    ]

    @api.model
    def _refresh(self, campaign, partner_ids):
        """The summaries of ``partner_ids`` for ``campaign`` computed again from
        their stored events, and their chatter lines written or rewritten: a few
        statements for a page, whatever its size.

        Safe with several writers at once (each in its own READ COMMITTED
        transaction, see ``engine.activity``): a summary is created with the
        counts its writer read, unless another writer created it meanwhile (a
        writer that stores events of the same contact waits for it, then
        computes it again); the others are locked in contact order (two writers
        never wait on each other in a cycle), and their counts are read only
        once the lock is held, by a statement that sees what the writer that
        held it before committed."""
        if not partner_ids:
            return
        cr = self.env.cr
        partner_ids = sorted(set(partner_ids))
        cr.execute(
            SQL(
                "SELECT a.partner_id, %s FROM (%s) a ORDER BY a.partner_id",
                SQL(", ".join(f"a.{name}" for name in SUMMARY_COLUMNS)),
                self._counts_sql(campaign, partner_ids, new_only=True),
            )
        )
        created = self._create_with_lines(campaign, cr.fetchall())
        others = [partner for partner in partner_ids if partner not in created]
        if others:
            self._update_with_lines(campaign, others)
        self.invalidate_model()
        self.env["mail.message"].invalidate_model()

    @api.model
    def _update_with_lines(self, campaign, partner_ids):
        """Lock the summaries of ``partner_ids``, compute them again and rewrite
        their chatter lines."""
        cr = self.env.cr
        cr.execute(
            """
            SELECT id FROM mailchimp_activity_summary
             WHERE campaign_id = %s AND partner_id = ANY(%s)
             ORDER BY partner_id
               FOR UPDATE
            """,
            (campaign.id, partner_ids),
        )
        cr.execute(
            SQL(
                """
                UPDATE mailchimp_activity_summary s
                   SET %(assignments)s
                  FROM (%(counts)s) a
                 WHERE s.campaign_id = %(campaign)s
                   AND s.partner_id = a.partner_id
                RETURNING %(returned)s
                """,
                assignments=SQL(
                    ", ".join(f"{name} = a.{name}" for name in SUMMARY_COLUMNS)
                ),
                counts=self._counts_sql(campaign, partner_ids),
                campaign=campaign.id,
                returned=returned("s"),
            )
        )
        self._write_lines(campaign, cr.fetchall())

    @api.model
    def _create_with_lines(self, campaign, rows):
        """Insert the summaries ``rows`` (``[(partner id, *SUMMARY_COLUMNS)]``)
        and their chatter lines in one statement, each summary written once: its
        line's id is drawn from ``mail_message``'s sequence as it is inserted.
        A summary another writer created meanwhile is left to the update that
        follows (``ON CONFLICT DO NOTHING``, no line).  Returns the contacts whose
        summary was created."""
        if not rows:
            return set()
        title = campaign._activity_subject()
        columns = list(zip(*rows, strict=True))
        arrays = SQL(", ").join(
            SQL(
                "%s::%s[]",
                list(values),
                SQL(self._fields[name].column_type[1]),
            )
            for name, values in zip(SUMMARY_COLUMNS, columns[1:], strict=True)
        )
        cr = self.env.cr
        cr.execute(
            SQL(
                """
                WITH v AS (
                    SELECT *
                      FROM unnest(%(partners)s::int[], %(bodies)s::text[], %(arrays)s)
                           AS v(partner_id, body, %(columns)s)
                ), summaries AS (
                    INSERT INTO mailchimp_activity_summary
                           (partner_id, campaign_id, message_id, %(columns)s)
                    SELECT v.partner_id, %(campaign)s, nextval('mail_message_id_seq'),
                           %(values)s
                      FROM v
                     ORDER BY v.partner_id
                    ON CONFLICT (partner_id, campaign_id) DO NOTHING
                    RETURNING partner_id, message_id
                )
                %(lines)s
                RETURNING res_id
                """,
                partners=list(columns[0]),
                bodies=[summary_body(title, Summary(*row[1:-1])) for row in rows],
                arrays=arrays,
                columns=SQL(", ".join(SUMMARY_COLUMNS)),
                values=SQL(", ".join(f"v.{name}" for name in SUMMARY_COLUMNS)),
                campaign=campaign.id,
                lines=self.env["mailchimp.activity"]._quiet_notes_sql(
                    "summaries s JOIN v USING (partner_id)",
                    res_id="s.partner_id",
                    date="v.last_event_date",
                    body="v.body",
                    message_id="s.message_id",
                ),
            )
        )
        return {row[0] for row in cr.fetchall()}

    @api.model
    def _counts_sql(self, campaign, partner_ids, new_only=False):
        """The counts and dates of ``partner_ids``' stored events of ``campaign``
        (``new_only``: of those that have no summary yet)."""
        missing = (
            SQL(
                """
                 WHERE NOT EXISTS (
                       SELECT 1 FROM mailchimp_activity_summary s
                        WHERE s.partner_id = p.id AND s.campaign_id = %s)
                """,
                campaign.id,
            )
            if new_only
            else SQL()
        )
        return SQL(
            """
%s
                %s
            """,
            SQL(COUNTS_SQL, partner_ids, campaign.id),
            missing,
        )

    @api.model
    def _write_lines(self, campaign, rows):
        """Write the chatter lines of the summaries ``rows`` (``returned``)."""
        cr = self.env.cr
        title = campaign._activity_subject()
        new, old = [], []
        for summary_id, partner_id, message_id, last, *values in rows:
            body = summary_body(title, Summary(*values))
            if message_id:
                old.append((message_id, body, last))
            else:
                new.append((summary_id, partner_id, body, last))
        if old:
            cr.execute(
                """
                UPDATE mail_message m
                   SET body = v.body, date = v.date, write_date = %s
                  FROM unnest(%s::int[], %s::text[], %s::timestamp[])
                       AS v(id, body, date)
                 WHERE m.id = v.id
                """,
                (
                    fields.Datetime.now(),
                    [row[0] for row in old],
                    [row[1] for row in old],
                    [row[2] for row in old],
                ),
            )
        if new:
            self._post_lines(new)

    @api.model
    def _post_lines(self, new):
        """A new chatter line for each summary of ``new`` (``[(summary id,
        partner id, body, date)]``) that has none (its line was deleted), linked
        to it in the same statement."""
        self.env.cr.execute(
            SQL(
                """
                WITH v AS (
                    SELECT *
                      FROM unnest(%(ids)s::int[], %(partners)s::int[],
                                  %(bodies)s::text[], %(dates)s::timestamp[])
                           AS v(summary_id, partner_id, body, date)
                ), summaries AS (
                    UPDATE mailchimp_activity_summary s
                       SET message_id = nextval('mail_message_id_seq')
                      FROM v
                     WHERE s.id = v.summary_id
                    RETURNING s.id, s.message_id
                )
                %(lines)s
                """,
                ids=[row[0] for row in new],
                partners=[row[1] for row in new],
                bodies=[row[2] for row in new],
                dates=[row[3] for row in new],
                lines=self.env["mailchimp.activity"]._quiet_notes_sql(
                    "summaries s JOIN v ON v.summary_id = s.id",
                    res_id="v.partner_id",
                    date="v.date",
                    body="v.body",
                    message_id="s.message_id",
                ),
            )
        )
