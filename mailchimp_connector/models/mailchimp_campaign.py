# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import time

from odoo import api, fields, models

from ..engine.activity import ActivityPull


class MailchimpCampaign(models.Model):
    """A campaign sent to an audience of a connected account, with its report figures.

    Its email activity is pulled incrementally by ``engine.activity``:
    ``activity_watermark`` is the latest event time seen, moved only once a
    whole walk over ``/reports/{id}/email-activity`` is committed;
    ``activity_offset`` lets a walk cut off by a crash or a 429 resume where its
    last committed page ended.
    """

    _name = "mailchimp.campaign"
    _description = "Mailchimp Campaign"
    _order = "send_time desc, id desc"
    _rec_name = "title"

    account_id = fields.Many2one(
        "mailchimp.account",
        required=True,
        ondelete="cascade",
        index=True,
        readonly=True,
    )
    company_id = fields.Many2one(related="account_id.company_id", store=True)
    mailchimp_campaign_id = fields.Char(
        string="Mailchimp Campaign ID", required=True, readonly=True
    )
    title = fields.Char(readonly=True)
    subject = fields.Char(readonly=True)
    audience_id = fields.Many2one(
        "mailchimp.audience", readonly=True, ondelete="set null", index=True
    )
    mailchimp_list_id = fields.Char(readonly=True)
    send_time = fields.Datetime(readonly=True, index=True)
    emails_sent = fields.Integer(string="Sent", readonly=True)
    delivered = fields.Integer(readonly=True)
    opens = fields.Integer(readonly=True)
    unique_opens = fields.Integer(readonly=True)
    clicks = fields.Integer(readonly=True)
    unique_clicks = fields.Integer(readonly=True)
    hard_bounces = fields.Integer(readonly=True)
    soft_bounces = fields.Integer(readonly=True)
    unsubscribes = fields.Integer(readonly=True)
    abuse_reports = fields.Integer(readonly=True)
    open_rate = fields.Float(string="Open Rate (%)", readonly=True, digits=(5, 2))
    click_rate = fields.Float(string="Click Rate (%)", readonly=True, digits=(5, 2))
    utm_campaign_id = fields.Many2one(
        "utm.campaign", string="UTM Campaign", readonly=True, ondelete="set null"
    )
    activity_watermark = fields.Datetime(
        readonly=True,
        copy=False,
        help="Latest event time seen in Mailchimp's activity.",
    )
    activity_next_since = fields.Datetime(readonly=True, copy=False)
    activity_walk_since = fields.Datetime(readonly=True, copy=False)
    activity_walk_max = fields.Datetime(readonly=True, copy=False)
    activity_offset = fields.Integer(readonly=True, copy=False)
    sent_to_offset = fields.Integer(readonly=True, copy=False)
    sent_to_done = fields.Boolean(readonly=True, copy=False)
    unknown_sent_count = fields.Integer(readonly=True, copy=False)
    unknown_activity_count = fields.Integer(readonly=True, copy=False)
    unknown_unsubscribe_count = fields.Integer(readonly=True, copy=False)
    unknown_abuse_count = fields.Integer(readonly=True, copy=False)
    unknown_event_count = fields.Integer(
        string="Events of Unknown Contacts",
        compute="_compute_unknown_event_count",
        store=True,
        help="Events of recipients that are not linked to an Odoo contact: counted, "
        "not stored.",
    )
    activity_count = fields.Integer(compute="_compute_activity_count")
    last_activity_sync = fields.Datetime(readonly=True, copy=False)

    _sql_constraints = [
        (
            "account_campaign_uniq",
            "unique(account_id, mailchimp_campaign_id)",
            "A Mailchimp campaign is stored once per account.",
        ),
    ]

    @api.depends(
        "unknown_sent_count",
        "unknown_activity_count",
        "unknown_unsubscribe_count",
        "unknown_abuse_count",
    )
    def _compute_unknown_event_count(self):
        for campaign in self:
            campaign.unknown_event_count = (
                campaign.unknown_sent_count
                + campaign.unknown_activity_count
                + campaign.unknown_unsubscribe_count
                + campaign.unknown_abuse_count
            )

    def _compute_activity_count(self):
        counts = dict(
            self.env["mailchimp.activity"]._read_group(
                [("campaign_id", "in", self.ids)], ["campaign_id"], ["__count"]
            )
        )
        for campaign in self:
            campaign.activity_count = counts.get(campaign, 0)

    def _activity_subject(self):
        """What the chatter lines of this campaign's events name it by: its title,
        as the lists do."""
        self.ensure_one()
        return self.title or self.subject or self.mailchimp_campaign_id

    def action_view_activity(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mailchimp_connector.mailchimp_activity_action"
        )
        action["domain"] = [("campaign_id", "=", self.id)]
        return action

    def action_sync_activity(self):
        """Pull the activity of these campaigns' accounts now, in the background
        (Mailchimp users, as the contacts' *Refresh Mailchimp activity*): the
        person is told with the counts when the pull ends."""
        self.env["res.partner"]._mailchimp_check_group(
            "mailchimp_connector.group_mailchimp_user"
        )
        accounts = self.account_id.filtered(lambda a: a.state == "connected")
        Account = self.env["mailchimp.account"]
        if not accounts:
            return Account._notification(
                self.env._("Connect the Mailchimp account first."),
                "warning",
                reload=False,
            )
        return accounts._request_activity_pull()

    @api.model_create_multi
    def create(self, vals_list):
        """Each campaign comes with its UTM campaign (the activity pull creates
        them page by page)."""
        campaigns = super().create(vals_list)
        campaigns._ensure_utm_campaign()
        return campaigns

    def _ensure_utm_campaign(self):
        """One utm.campaign per campaign, created once (kept after uninstall)."""
        todo = self.filtered(lambda c: not c.utm_campaign_id)
        if not todo:
            return
        utms = (
            self.env["utm.campaign"]
            .sudo()
            .create(
                [
                    {"title": campaign.title or campaign.mailchimp_campaign_id}
                    for campaign in todo
                ]
            )
        )
        for campaign, utm in zip(todo, utms, strict=True):
            campaign.utm_campaign_id = utm

    @api.model
    def _cron_sync_activity(self):
        """The hourly pull of every connected account's activity within the
        cron's time budget; the accounts left are the next pass's."""
        budget = self.env["mailchimp.account"]._cron_time_budget()
        deadline = time.monotonic() + budget
        accounts = self.env["mailchimp.account"].search([("state", "=", "connected")])
        done = 0
        for account in accounts:
            result = ActivityPull(account, deadline=deadline).run_counted()
            remaining = result["remaining"]
            if not remaining:
                account._activity_pulled(result)
            if remaining:
                self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
                return
            done += 1
        self.env["ir.cron"]._notify_progress(done=done, remaining=0)
