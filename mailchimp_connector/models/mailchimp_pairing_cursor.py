# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.tools import SQL
from odoo.tools.sql import column_exists

# columns these values had on mailchimp_pairing before they moved here: copied by init()
LEGACY_COLUMNS = {
    "mailchimp_watermark": "mailchimp_watermark",
    "odoo_watermark": "odoo_watermark_mark",
    "initial_done": "initial_done",
    "last_sync_date": "last_sync_date",
    "last_full_sync_date": "last_full_sync_date",
    "last_run_id": "last_run_id",
    "next_sync_date": "next_sync_date",
}


class MailchimpPairingCursor(models.Model):
    """A sync's run-written state: where its runs got to, and when it runs next.

    One row per pairing, read and written through ``pairing._sync_cursor()``.
    Runs and the scheduler write here, never on the pairing, whose row the sync's
    form (and Sync Now) writes: a save during a run never meets the run's writes,
    so neither makes the other fail. The form shows these values through
    read-only related fields.
    """

    _name = "mailchimp.pairing.cursor"
    _description = "Mailchimp Sync State"
    _rec_name = "pairing_id"

    pairing_id = fields.Many2one(
        "mailchimp.pairing",
        string="Sync",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    mailchimp_watermark = fields.Char(
        readonly=True,
        help="First second of Mailchimp changes (last_changed) the next pull reads.",
    )
    odoo_watermark_mark = fields.Datetime(readonly=True)
    odoo_watermark = fields.Datetime(
        compute="_compute_odoo_watermark",
        inverse="_inverse_odoo_watermark",
        help="Contacts changed after this moment are pushed at the next run (empty: "
        "the next run compares every contact of the segment).",
    )
    initial_done = fields.Boolean(readonly=True)
    last_sync_date = fields.Datetime(readonly=True)
    last_full_sync_date = fields.Datetime(readonly=True)
    last_run_id = fields.Many2one(
        "mailchimp.sync.run", readonly=True, ondelete="set null"
    )
    next_sync_date = fields.Datetime(readonly=True)
    retry_count = fields.Integer(
        string="Failed Runs in a Row",
        readonly=True,
        help="Runs stopped in a row by a temporary Mailchimp error; the next try waits "
        "2, 5, 15, then 30 minutes (at most the sync's interval).",
    )
    stopped_by = fields.Selection(
        [
            ("transient", "A temporary Mailchimp error"),
            ("auth", "The account's API key"),
        ],
        readonly=True,
        help="Why the last run stopped, when that decides the next one.",
    )
    retry_reason = fields.Text(
        string="Waiting Because",
        readonly=True,
        help="Why the next run comes when it does.",
    )

    _sql_constraints = [
        ("pairing_uniq", "unique(pairing_id)", "A sync has one state."),
    ]

    @api.depends("odoo_watermark_mark", "pairing_id.odoo_rescan_date")
    def _compute_odoo_watermark(self):
        # a change of what Odoo sends (e.g. the interest mapping) asks the next run to
        # compare the whole segment: a mark older than that request no longer counts
        for cursor in self:
            mark, rescan = (
                cursor.odoo_watermark_mark,
                cursor.pairing_id.odoo_rescan_date,
            )
            cursor.odoo_watermark = (
                mark if mark and not (rescan and rescan >= mark) else False
            )

    def _inverse_odoo_watermark(self):
        for cursor in self:
            cursor.odoo_watermark_mark = cursor.odoo_watermark

    def init(self):
        """One row for each pairing that has none: at install nothing, at the upgrade
        from the version that kept these values on mailchimp_pairing, each pairing's
        own values (its columns are still there), so every sync goes on from its
        watermarks. Runs on every install and upgrade; rows already there stay."""
        res = super().init()
        cr = self.env.cr
        legacy = [
            (old, new)
            for old, new in LEGACY_COLUMNS.items()
            if column_exists(cr, "mailchimp_pairing", old)
        ]
        targets = SQL(", ").join(SQL.identifier(new) for _old, new in legacy)
        sources = SQL(", ").join(SQL.identifier("p", old) for old, _new in legacy)
        cr.execute(
            SQL(
                """
                INSERT INTO mailchimp_pairing_cursor
                       (pairing_id, create_uid, write_uid, create_date, write_date%s)
                SELECT p.id, p.create_uid, p.write_uid, p.create_date, p.write_date%s
                  FROM mailchimp_pairing p
                 WHERE NOT EXISTS (
                       SELECT 1
                         FROM mailchimp_pairing_cursor c
                        WHERE c.pairing_id = p.id)
                """,
                SQL(", %s", targets) if legacy else SQL(""),
                SQL(", %s", sources) if legacy else SQL(""),
            )
        )
        return res
