# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models

from .mailchimp_pairing import DIRECTIONS


class MailchimpSyncRun(models.Model):
    """One run of one pairing, as its history shows it: what it did, where it
    stands. The work itself is the sync engine's (``engine/run.py``), which
    writes here as it goes, so that an interrupted run resumes from here."""

    _name = "mailchimp.sync.run"
    _description = "Mailchimp Sync Run"
    _order = "id desc"

    pairing_id = fields.Many2one(
        "mailchimp.pairing",
        string="Sync",
        ondelete="set null",
        index=True,
        readonly=True,
    )
    pairing_name = fields.Char(string="Sync Name", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True, index=True)
    # webhook: the deliveries of a day, counted in one history entry per sync
    trigger = fields.Selection(
        [
            ("manual", "Manual"),
            ("cron", "Scheduled"),
            ("webhook", "Webhook"),
            ("contacts", "Selected contacts"),
        ],
        default="manual",
        readonly=True,
    )
    full = fields.Boolean(string="Full sync", readonly=True)
    # a run of selected contacts only (Add to Mailchimp…, Sync with Mailchimp now)
    partner_ids = fields.Many2many(
        "res.partner",
        "mailchimp_sync_run_partner_rel",
        "run_id",
        "partner_id",
        string="Contacts",
        readonly=True,
        help="The run covered these contacts only, not the whole segment.",
    )
    partner_count = fields.Integer(
        compute="_compute_partner_count", string="Selected contacts"
    )
    direction = fields.Selection(DIRECTIONS, readonly=True)
    state = fields.Selection(
        [("running", "Running"), ("done", "Done"), ("failed", "Failed")],
        default="running",
        required=True,
        readonly=True,
    )
    start_date = fields.Datetime(default=fields.Datetime.now, readonly=True)
    end_date = fields.Datetime(readonly=True)
    duration = fields.Float(compute="_compute_duration", string="Duration (s)")
    stage = fields.Selection(
        [
            ("pull", "Reading Mailchimp"),
            ("push", "Sending to Mailchimp"),
            ("end", "Finished"),
        ],
        default="pull",
        readonly=True,
    )
    progress_done = fields.Integer(string="Processed", readonly=True)
    # where an interrupted run (time budget, crash)
    # goes on from; committed with each chunk
    pull_resumed = fields.Boolean(readonly=True)
    push_cursor = fields.Integer(readonly=True)
    push_started = fields.Datetime(readonly=True)
    # a /batches job of the chunk in progress that a pass left running in Mailchimp
    push_batch_id = fields.Char(readonly=True)
    created_count = fields.Integer(string="Created", readonly=True)
    updated_count = fields.Integer(string="Updated", readonly=True)
    unchanged_count = fields.Integer(string="Unchanged", readonly=True)
    skipped_count = fields.Integer(string="Skipped", readonly=True)
    failed_count = fields.Integer(string="Failed", readonly=True)
    conflict_count = fields.Integer(string="Conflicts resolved", readonly=True)
    http_requests = fields.Integer(string="Mailchimp requests", readonly=True)
    tag_added_count = fields.Integer(string="Tags added", readonly=True)
    tag_removed_count = fields.Integer(string="Tags removed", readonly=True)
    optout_added_count = fields.Integer(
        string="Added as unsubscribed",
        readonly=True,
        help="Contacts opted out in Odoo (email blacklist) that this run put in the "
        "audience as unsubscribed, never as subscribed or pending (also counted as "
        "created).",
    )
    optout_unsubscribed_count = fields.Integer(
        string="Unsubscribed (Odoo opt-outs)",
        readonly=True,
        help="Members this run unsubscribed in Mailchimp because their contact was put "
        "on Odoo's email blacklist (also counted as updated).",
    )
    message = fields.Text(readonly=True)
    failure_ids = fields.One2many("mailchimp.sync.failure", "run_id", string="Failures")

    @api.depends("start_date", "end_date")
    def _compute_duration(self):
        for run in self:
            end = run.end_date or fields.Datetime.now()
            run.duration = (
                (end - run.start_date).total_seconds() if run.start_date else 0
            )

    @api.depends("partner_ids")
    def _compute_partner_count(self):
        for run in self:  # the relation of all runs in view, read in one query
            run.partner_count = len(run.partner_ids)

    def _finish(self, state, message=False):
        """The run's end; ``message`` comes after what the run noted on its way."""
        self.write(
            {
                "state": state,
                "end_date": fields.Datetime.now(),
                "message": "\n".join(part for part in (self.message, message) if part)
                or False,
                "stage": "end",
            }
        )

    def _mailchimp_contacts_created(self, partners, members):
        """Called once per page with the contacts a pull (or a webhook delivery)
        has just created and the Mailchimp members they come from (same order):
        nothing here; another app's addon (CRM) acts on them in bulk."""

    @api.model
    def _webhook_entry(self, pairing):
        """Today's "Webhook" entry of the sync's history, counting the deliveries."""
        now = fields.Datetime.now()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        run = self.search(
            [
                ("pairing_id", "=", pairing.id),
                ("trigger", "=", "webhook"),
                ("start_date", ">=", midnight),
            ],
            order="id desc",
            limit=1,
        )
        return run or self.create(
            {
                "pairing_id": pairing.id,
                "pairing_name": pairing.name,
                "company_id": pairing.company_id.id,
                "trigger": "webhook",
                "direction": pairing.direction,
                "state": "done",
                "stage": "end",
                "start_date": now,
                "end_date": now,
                "message": self.env._(
                    "Real-time updates received from Mailchimp today."
                ),
            }
        )

    def action_view_failures(self):
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mailchimp_connector.mailchimp_sync_failure_action"
        )
        action["domain"] = [("run_id", "in", self.ids)]
        return action
