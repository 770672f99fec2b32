# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import concurrent.futures
import contextlib
import logging
import time
from collections import deque
from datetime import datetime, timedelta

from odoo import api, fields, models

from ..engine import transactions
from ..engine.transactions import LOCK_ACTIVITY
from ..utils import mailchimp_errors as mc_errors
from ..utils import sync_rules
from ..utils.activity_events import (
    ChatterBodies,
    email_activity_events,
    make_event,
    staging_rows,
    utc_stamp,
)

_logger = logging.getLogger(__name__)

PAGE_SIZE = 1000
# a walk over email-activity re-reads from a little before it started: members
# whose first activity arrives during the walk may shift the offset pages
WALK_MARGIN = timedelta(minutes=5)
# since_send_time / since are asked from one second before the mark: whether Mailchimp's
# "after" keeps the mark's own second is not documented (campaigns and events are
# known by id and key, so what is read twice is stored once)
SINCE_BEFORE = timedelta(seconds=1)
# what the campaign listing is read for
CAMPAIGN_FIELDS = [
    "id",
    "send_time",
    "emails_sent",
    "recipients.list_id",
    "settings.title",
    "settings.subject_line",
]
# simultaneous report reads of one activity pull (pages fetched ahead while the
# current one is written); never more than the account's connection limit
ACTIVITY_CONNECTIONS = 4
# pages written at once, each in its own transaction: PostgreSQL runs one
# backend per connection, so a second writer uses the second core
ACTIVITY_WRITERS = 2


def stamp_to_datetime(stamp):
    """Naive UTC ISO text (``activity_events.utc_stamp``)
    -> datetime, False if empty."""
    return datetime.fromisoformat(stamp) if stamp else False


def mailchimp_time(value):
    return value.strftime("%Y-%m-%dT%H:%M:%S+00:00")


class MailchimpCampaign(models.Model):
    """A campaign sent to an audience of a connected account, with its report figures.

    Its email activity is pulled incrementally: ``activity_watermark`` is the
    latest event time seen, moved only once a whole walk over
    ``/reports/{id}/email-activity`` is committed; ``activity_offset`` lets a
    walk cut off by a crash or a 429 resume where its last committed page ended.
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
        """What the chatter lines of this campaign's events name it by."""
        self.ensure_one()
        return self.subject or self.title or self.mailchimp_campaign_id

    def action_view_activity(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mailchimp_connector.mailchimp_activity_action"
        )
        action["domain"] = [("campaign_id", "=", self.id)]
        return action

    # ------------------------------------------------------------------
    # Cron and entry points
    # ------------------------------------------------------------------

    @api.model
    def _cron_sync_activity(self):
        budget = self.env["mailchimp.account"]._cron_time_budget()
        deadline = time.monotonic() + budget
        accounts = self.env["mailchimp.account"].search([("state", "=", "connected")])
        done = 0
        for account in accounts:
            remaining = self._sync_account_activity(account, deadline=deadline)
            if remaining:
                self.env["ir.cron"]._notify_progress(done=done, remaining=remaining)
                return
            done += 1
        self.env["ir.cron"]._notify_progress(done=done, remaining=0)

    @api.model
    def _sync_account_activity(self, account, deadline=None):
        """Pull new campaigns of ``account`` and the activity of those inside their
        window.  Returns the number of campaigns left for a later pass (deadline)."""
        cr = self.env.cr
        if not transactions.try_lock(cr, LOCK_ACTIVITY, account.id):
            _logger.info(
                "Mailchimp activity of account %s is already being pulled", account.id
            )
            return 0
        try:
            with contextlib.ExitStack() as stack:
                # one client (one requests session) per simultaneous connection
                clients = [
                    stack.enter_context(account._get_client())
                    for _i in range(
                        min(ACTIVITY_CONNECTIONS, account.max_connections or 10)
                    )
                ]
                client = clients[0]
                self._pull_campaigns(account, client)
                window = timedelta(days=account.activity_window_days or 30)
                campaigns = self.search(
                    [
                        ("account_id", "=", account.id),
                        ("send_time", ">=", fields.Datetime.now() - window),
                    ],
                    order="send_time, id",
                )
                for index, campaign in enumerate(campaigns):
                    if deadline and time.monotonic() > deadline:
                        return len(campaigns) - index
                    campaign._sync_activity(client, clients)
        except mc_errors.MailchimpError as error:
            # what was committed stays; the next pass resumes from the saved positions
            self._rollback()
            account.sudo().activity_error = account._mailchimp_error_message(error)
            self._commit()
            _logger.warning(
                "Mailchimp activity pull of account %s stopped: %s", account.id, error
            )
            return 0
        finally:
            transactions.unlock(cr, LOCK_ACTIVITY, account.id)
        account.sudo().activity_error = False
        self._commit()
        return 0

    # ------------------------------------------------------------------
    # Campaigns
    # ------------------------------------------------------------------

    @api.model
    def _pull_campaigns(self, account, client):
        """Sent campaigns of the activity window (from the account's mark if it is
        older: a pull that had stopped catches up), each created once.

        Not from the newest send time read: a campaign's send_time is when its sending
        started, so a big send that ends after a later one was read is listed then with
        an earlier send_time. And since_send_time keeps what was sent "after" it, which
        may or may not include its own second: asked from one second before (campaigns
        are known by id, one read twice is skipped).
        """
        window_start = fields.Datetime.now() - timedelta(
            days=account.activity_window_days or 30
        )
        since = min(account.activity_campaign_watermark or window_start, window_start)
        params = {
            "status": "sent",
            "since_send_time": mailchimp_time(since - SINCE_BEFORE),
            "sort_field": "send_time",
            "sort_dir": "ASC",
        }
        audiences = {
            audience.mailchimp_list_id: audience
            for audience in self.env["mailchimp.audience"]
            .with_context(active_test=False)
            .search([("account_id", "=", account.id)])
        }
        for page in client.pages(
            "/campaigns",
            "campaigns",
            params=params,
            count=PAGE_SIZE,
            fields=CAMPAIGN_FIELDS,
        ):
            ids = [item["id"] for item in page]
            known = set(
                self.search(
                    [
                        ("account_id", "=", account.id),
                        ("mailchimp_campaign_id", "in", ids),
                    ]
                ).mapped("mailchimp_campaign_id")
            )
            vals_list = []
            for item in page:
                if item["id"] in known:
                    continue
                known.add(item["id"])
                vals_list.append(self._odoo_values(account, item, audiences))
            created = self.create(vals_list)
            created._ensure_utm_campaign()
            send_times = [
                sync_rules.to_odoo_datetime(item.get("send_time")) for item in page
            ]
            send_times = [t for t in send_times if t]
            if send_times:
                account.activity_campaign_watermark = max(
                    [*send_times, account.activity_campaign_watermark or send_times[0]]
                )
            self._commit()

    @api.model
    def _odoo_values(self, account, item, audiences):
        """A new campaign's values from its item in Mailchimp's listing;
        ``audiences``: the account's audiences by Mailchimp list id."""
        list_id = (item.get("recipients") or {}).get("list_id")
        settings = item.get("settings") or {}
        subject = settings.get("subject_line")
        return {
            "account_id": account.id,
            "mailchimp_campaign_id": item["id"],
            "title": settings.get("title") or subject or item["id"],
            "subject": subject,
            "mailchimp_list_id": list_id,
            "audience_id": audiences[list_id].id if list_id in audiences else False,
            "send_time": sync_rules.to_odoo_datetime(item.get("send_time")),
            "emails_sent": item.get("emails_sent") or 0,
        }

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

    def _update_figures(self, report):
        bounces = report.get("bounces") or {}
        opens = report.get("opens") or {}
        clicks = report.get("clicks") or {}
        sent = report.get("emails_sent") or 0
        hard, soft = bounces.get("hard_bounces") or 0, bounces.get("soft_bounces") or 0
        self.write(
            {
                "emails_sent": sent,
                "delivered": max(sent - hard - soft, 0),
                "opens": opens.get("opens_total") or 0,
                "unique_opens": opens.get("unique_opens") or 0,
                "open_rate": 100.0 * (opens.get("open_rate") or 0.0),
                "clicks": clicks.get("clicks_total") or 0,
                "unique_clicks": clicks.get("unique_clicks") or 0,
                "click_rate": 100.0 * (clicks.get("click_rate") or 0.0),
                "hard_bounces": hard,
                "soft_bounces": soft,
                "unsubscribes": report.get("unsubscribed") or 0,
                "abuse_reports": report.get("abuse_reports") or 0,
            }
        )

    # ------------------------------------------------------------------
    # Activity
    # ------------------------------------------------------------------

    def _sync_activity(self, client, clients=None):
        """Figures, recipients (sent), opens/clicks/bounces since the watermark,
        unsubscribes and abuse reports of this campaign; each page committed with
        its position.  ``clients`` (default: ``client`` alone) read the next
        pages while the current one is written."""
        self.ensure_one()
        clients = clients or [client]
        path = f"/reports/{self.mailchimp_campaign_id}"
        self._update_figures(client.get(path))
        self._commit()
        if not self.sent_to_done:
            self._sync_sent_to(path, clients)
        self._sync_email_activity(path, clients)
        unknown_unsubscribes = self._sync_event_list(
            client, f"{path}/unsubscribed", "unsubscribes", "unsubscribe", "timestamp"
        )
        unknown_abuse = self._sync_event_list(
            client, f"{path}/abuse-reports", "abuse_reports", "abuse", "date"
        )
        self.write(
            {
                "unknown_unsubscribe_count": unknown_unsubscribes,
                "unknown_abuse_count": unknown_abuse,
                "last_activity_sync": fields.Datetime.now(),
            }
        )
        self._commit()

    def _store_pages(self, pages):
        """Store the events of ``pages`` (``(position, page)`` from
        ``MailchimpClient.pages_ahead``, ``page["staged"]`` the page's staging
        rows) and yield ``(position, page, times of the unknown events)`` in page
        order, each once its events and chatter lines are committed, so that the
        caller can record the position after it.

        ``ACTIVITY_WRITERS`` pages are written at once, each in a transaction of
        its own cursor.  Pages are independent: an event is stored once whoever
        writes it (unique key, rows inserted in key order so two writers never
        wait on each other in a cycle), and the position only ever covers pages
        whose transaction committed, so a crash between two commits makes the
        next pull re-read a page that stores nothing twice.  Under tests (one
        shared transaction) pages are written one after the other, in place.
        """
        Activity = self.env["mailchimp.activity"]
        writers = 1 if self._testing() else ACTIVITY_WRITERS
        if writers < 2:
            for position, page in pages:
                yield position, page, Activity._store_staged(self, page["staged"])
            return
        registry, uid, context, campaign_id = (
            self.env.registry,
            self.env.uid,
            self.env.context,
            self.id,
        )

        def write(page):
            with registry.cursor() as cr:  # commits when the block ends without error
                env = api.Environment(cr, uid, context)
                return env["mailchimp.activity"]._store_staged(
                    env["mailchimp.campaign"].browse(campaign_id), page["staged"]
                )

        pending = deque()
        with concurrent.futures.ThreadPoolExecutor(
            max_workers=writers, thread_name_prefix="mailchimp-activity-writer"
        ) as pool:
            try:
                for position, page in pages:
                    pending.append((position, page, pool.submit(write, page)))
                    while len(pending) >= writers or pending[0][2].done():
                        position, page, future = pending.popleft()
                        yield position, page, future.result()
                        if not pending:
                            break
                while pending:
                    position, page, future = pending.popleft()
                    yield position, page, future.result()
            finally:
                for *_page, future in pending:
                    future.cancel()

    def _sync_sent_to(self, path, clients):
        """Recipients: one "sent" event each, read once, resumable by offset."""
        campaign_id, stamp = (
            self.id,
            self.send_time.isoformat() if self.send_time else "",
        )
        bodies = ChatterBodies(self._activity_subject())

        def prepare(items):
            events = [
                make_event(campaign_id, item.get("email_id"), "sent", stamp)
                for item in items
            ]
            return {"staged": staging_rows(events, bodies)}

        pages = clients[0].pages_ahead(
            f"{path}/sent-to",
            "sent_to",
            prepare,
            params={"fields": "sent_to.email_id,total_items"},
            offset=self.sent_to_offset,
            count=PAGE_SIZE,
            clients=clients,
        )
        for position, _page, unknown in self._store_pages(pages):
            self.write(
                {
                    "sent_to_offset": position.end,
                    "sent_to_done": position.last,
                    "unknown_sent_count": self.unknown_sent_count + len(unknown),
                }
            )
            self._commit()

    def _sync_email_activity(self, path, clients):
        """Opens, clicks, bounces: a walk with a fixed ``since``, resumable by offset;
        the watermark moves once the whole walk is committed."""
        if not self.activity_walk_since and not self.activity_offset:
            self.write(
                {
                    "activity_walk_since": self.activity_next_since or self.send_time,
                    "activity_walk_max": self.activity_watermark,
                }
            )
        walk_started = fields.Datetime.now()
        since = self.activity_walk_since
        campaign_id = self.id
        bodies = ChatterBodies(self._activity_subject())
        params = {
            # only what is stored: a third of the JSON to read and keep in memory
            "fields": "emails.email_id,emails.activity.action,"
            "emails.activity.timestamp,emails.activity.url,emails.activity.type,"
            "total_items",
        }
        if since:
            # "events that occur after" it, its own second kept or not: from one second
            # before (an event read twice is stored once, by its key)
            params["since"] = mailchimp_time(since - SINCE_BEFORE)

        def prepare(items):
            events, latest = email_activity_events(campaign_id, items)
            return {"staged": staging_rows(events, bodies), "latest": latest}

        pages = clients[0].pages_ahead(
            f"{path}/email-activity",
            "emails",
            prepare,
            params=params,
            offset=self.activity_offset,
            count=PAGE_SIZE,
            clients=clients,
        )
        for position, page, unknown in self._store_pages(pages):
            self.write(
                self._activity_walk_values(position, page, unknown, since, walk_started)
            )
            self._commit()

    def _activity_walk_values(self, position, page, unknown, since, walk_started):
        """The walk's state once ``page`` (at ``position``) is stored: where it
        got to, the latest event time, the events of unknown recipients counted
        once; at the end of the walk, the watermark and the next walk's ``since``
        (``walk_started``: when this pull began)."""
        # events up to the previous watermark were counted by an earlier walk
        seen_until = (
            self.activity_watermark.isoformat() if self.activity_watermark else ""
        )
        new_unknown = sum(1 for stamp in unknown if stamp > seen_until)
        latest = self.activity_walk_max
        if page["latest"] and (not latest or page["latest"] > latest.isoformat()):
            latest = stamp_to_datetime(page["latest"])
        vals = {
            "activity_offset": position.end,
            "activity_walk_max": latest,
            "unknown_activity_count": self.unknown_activity_count + new_unknown,
        }
        if position.last:
            next_since = min(latest, walk_started - WALK_MARGIN) if latest else since
            vals.update(
                {
                    "activity_watermark": latest,
                    "activity_next_since": next_since,
                    "activity_offset": 0,
                    "activity_walk_since": False,
                }
            )
        return vals

    def _sync_event_list(self, client, list_path, items_key, action, time_key):
        """Unsubscribes or abuse reports: short lists, re-read while the campaign
        is in its window.  Returns how many belong to people not in Odoo."""
        Activity = self.env["mailchimp.activity"]
        send_stamp = self.send_time.isoformat() if self.send_time else ""
        unknown = 0
        for page in client.pages(list_path, items_key, count=PAGE_SIZE):
            events = [
                make_event(
                    self.id,
                    item.get("email_id"),
                    action,
                    utc_stamp(item.get(time_key)) or send_stamp,
                )
                for item in page
            ]
            unknown += len(Activity._store_events(self, events))
            self._commit()
        return unknown

    # ------------------------------------------------------------------

    def _testing(self):
        return transactions.testing()

    def _commit(self):
        transactions.commit(self.env.cr)

    def _rollback(self):
        transactions.rollback(self.env.cr)
