# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, fields, models
from odoo.tools.misc import formatLang

from ..utils import progress
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
        help="Manual: Start Sync or Sync Now (run by the scheduler in the "
        "background). Scheduled: the sync's interval. Webhook: the real-time "
        "updates of a day. Selected contacts: Add to Mailchimp… or Sync with "
        "Mailchimp now on contacts.",
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
    progress_done = fields.Integer(
        string="Processed",
        readonly=True,
        help="Mailchimp members read by the pull plus Odoo contacts read by the push "
        "(a two-way sync reads a contact on each side, so counts it twice). Each "
        "is counted in one of Created in Odoo, Created in Mailchimp, Updated, "
        "Unchanged, Skipped and Failed.",
    )
    progress_total = fields.Integer(
        string="To process",
        readonly=True,
        help="What the run expects to process in all: Mailchimp's count of the "
        "members to read, then the contacts the push reads. An estimate while the "
        "run goes on; what it processed once it is done.",
    )
    progress_percent = fields.Float(
        compute="_compute_progress", string="Progress (%)", digits=(3, 0)
    )
    progress_text = fields.Char(compute="_compute_progress", string="Progress")
    time_left = fields.Char(compute="_compute_progress", string="Time left")
    # where an interrupted run (time budget, crash)
    # goes on from; committed with each chunk
    pull_resumed = fields.Boolean(readonly=True)
    push_cursor = fields.Integer(readonly=True)
    push_started = fields.Datetime(readonly=True)
    # a /batches job of the chunk in progress that a pass left running in Mailchimp
    push_batch_id = fields.Char(readonly=True)
    created_odoo_count = fields.Integer(
        string="Created in Odoo",
        readonly=True,
        help="Contacts created in Odoo for Mailchimp members no contact matched.",
    )
    created_mailchimp_count = fields.Integer(
        string="Created in Mailchimp",
        readonly=True,
        help="Members added to the Mailchimp audience for contacts new to it.",
    )
    created_count = fields.Integer(
        compute="_compute_created_count",
        store=True,
        string="Created",
        help="Created in Odoo and in Mailchimp.",
    )
    updated_count = fields.Integer(
        string="Updated",
        readonly=True,
        help="Contacts written in Odoo with Mailchimp's values, or members updated "
        "in Mailchimp with Odoo's.",
    )
    unchanged_count = fields.Integer(
        string="Unchanged",
        readonly=True,
        help="Records read with nothing to change on the side being synced.",
    )
    skipped_count = fields.Integer(
        string="Skipped",
        readonly=True,
        help="Records left out on purpose (a duplicate email, a member Mailchimp "
        "keeps unsubscribed, no contact to create...); the reason is listed "
        "among the failed records when there is one.",
    )
    failed_count = fields.Integer(
        string="Failed",
        readonly=True,
        help="Records that could not be synced; the reason is listed among the "
        "failed records. A record synced with one value refused is counted as "
        "updated or unchanged, its refused value listed as failed.",
    )
    conflict_count = fields.Integer(
        string="Conflicts resolved",
        readonly=True,
        help="Fields changed on both sides since the last sync, settled by the "
        "sync's conflict rule. Values that differ at a contact's first sync are "
        "no conflict (there was no last sync): see Settled at first sync.",
    )
    first_sync_diff_count = fields.Integer(
        string="Settled at first sync",
        readonly=True,
        help="Fields whose values differed in Odoo and in Mailchimp when a contact "
        "and a member were first synced, settled by the sync's conflict rule (the "
        "review's conflicts).",
    )
    http_requests = fields.Integer(string="Mailchimp requests", readonly=True)
    tag_added_count = fields.Integer(string="Tags added", readonly=True)
    tag_removed_count = fields.Integer(string="Tags removed", readonly=True)
    optout_added_count = fields.Integer(
        string="Added as unsubscribed",
        readonly=True,
        help="Contacts opted out in Odoo (email blacklist) that this run put in the "
        "audience as unsubscribed, never as subscribed or pending (also counted as "
        "created in Mailchimp).",
    )
    optout_unsubscribed_count = fields.Integer(
        string="Unsubscribed (Odoo opt-outs)",
        readonly=True,
        help="Members this run unsubscribed in Mailchimp because their contact was put "
        "on Odoo's email blacklist (also counted as updated).",
    )
    message = fields.Text(readonly=True)
    failure_ids = fields.One2many("mailchimp.sync.failure", "run_id", string="Failures")

    @api.depends("pairing_name", "pairing_id.name", "start_date")
    @api.depends_context("tz", "lang")
    def _compute_display_name(self):
        """The sync and when the run started, in the user's time zone and date
        format: "Contacts ↔ Newsletter — 02/12 02:10"."""
        lang = self.env["res.lang"]._get_data(code=self.env.lang or "en_US")
        stamp = progress.short_datetime_format(lang.date_format, lang.time_format)
        for run in self:
            name = run.pairing_id.name or run.pairing_name or self.env._("Sync")
            if run.start_date:
                start = fields.Datetime.context_timestamp(run, run.start_date)
                name = f"{name} — {start.strftime(stamp)}"
            run.display_name = name

    @api.depends("created_odoo_count", "created_mailchimp_count")
    def _compute_created_count(self):
        for run in self:
            run.created_count = run.created_odoo_count + run.created_mailchimp_count

    @api.depends("progress_done", "progress_total", "state", "start_date")
    def _compute_progress(self):
        """Done out of the total, the percent (100 once done) and the time left
        at the rate so far (the run's pauses between passes included)."""
        now = fields.Datetime.now()
        for run in self:
            done, total = run.progress_done, max(run.progress_total, run.progress_done)
            run.progress_percent = progress.percent(done, total, run.state == "done")
            run.progress_text = self.env._(
                "%(done)s of %(total)s",
                done=formatLang(self.env, done, digits=0),
                total=formatLang(self.env, total, digits=0),
            )
            minutes = None
            if run.state == "running" and run.start_date:
                elapsed = (now - run.start_date).total_seconds()
                minutes = progress.minutes_left(
                    progress.seconds_left(done, total, elapsed)
                )
            run.time_left = (
                self.env._("about %s min left", minutes) if minutes else False
            )

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
        """The run's end; ``message`` comes after what the run noted on its way.
        A run done has processed all it had to: its total is what it processed."""
        vals = {
            "state": state,
            "end_date": fields.Datetime.now(),
            "message": "\n".join(part for part in (self.message, message) if part)
            or False,
            "stage": "end",
        }
        if state == "done":
            vals["progress_total"] = self.progress_done
        self.write(vals)

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
