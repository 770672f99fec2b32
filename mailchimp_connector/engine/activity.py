# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The email-activity pull: Mailchimp's sent campaigns of an account's activity
window and, for each, its report figures, its recipients ("sent"), its opens,
clicks and bounces since its watermark, its unsubscribes and abuse reports,
stored as ``mailchimp.activity`` rows with one chatter line each.

Each page is committed with its position, so a pull cut off by a crash, a 429
or the cron's time budget resumes where its last committed page ended. A
campaign's walk over ``/reports/{id}/email-activity`` has a fixed ``since``:
``activity_watermark`` (the latest event time seen) moves only once the whole
walk is committed, ``activity_offset`` lets a walk cut off resume.
"""

import concurrent.futures
import contextlib
import logging
import time
from collections import deque
from datetime import datetime, timedelta

from odoo import api, fields

from ..utils import mailchimp_errors as mc_errors
from ..utils import sync_rules
from ..utils.activity_events import (
    email_activity_events,
    make_event,
    staging_rows,
    utc_stamp,
)
from . import transactions
from .transactions import LOCK_ACTIVITY

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


def campaign_values(account, item, audiences):
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


def report_figures(report):
    """A campaign's figures from its ``/reports/{id}``."""
    bounces = report.get("bounces") or {}
    opens = report.get("opens") or {}
    clicks = report.get("clicks") or {}
    sent = report.get("emails_sent") or 0
    hard, soft = bounces.get("hard_bounces") or 0, bounces.get("soft_bounces") or 0
    return {
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


class ActivityPull:
    """One pull of one account's email activity (the hourly cron's, or the
    account's "Sync activity now"): new campaigns, then the activity of those
    inside the account's window, oldest first."""

    def __init__(self, account, deadline=None):
        self.account = account
        self.env = account.env
        self.deadline = deadline
        self.campaigns_read = 0

    def run(self):
        """Pull under the account's activity lock (a pull already under way is
        left alone). A Mailchimp error stops the pull and is shown on the
        account: what was committed stays, the next pass resumes from the saved
        positions. Returns the number of campaigns left for a later pass (the
        deadline came first)."""
        account, cr = self.account, self.env.cr
        if not transactions.try_lock(cr, LOCK_ACTIVITY, account.id):
            _logger.info(
                "Mailchimp activity of account %s is already being pulled", account.id
            )
            return 0
        try:
            remaining = self._pull()
        except mc_errors.MailchimpError as error:
            transactions.rollback(cr)
            account.sudo().activity_error = account._mailchimp_error_message(error)
            transactions.commit(cr)
            _logger.warning(
                "Mailchimp activity pull of account %s stopped: %s", account.id, error
            )
            return 0
        finally:
            transactions.unlock(cr, LOCK_ACTIVITY, account.id)
        if remaining:
            return remaining
        account.sudo().activity_error = False
        transactions.commit(cr)
        return 0

    def run_counted(self):
        """``run()``, and what it did: ``{"events": new events stored,
        "campaigns": campaigns read, "remaining": campaigns left}`` (the events
        counted by id, above the highest one before the pull)."""
        cr = self.env.cr
        cr.execute("SELECT coalesce(max(id), 0) FROM mailchimp_activity")
        before = cr.fetchone()[0]
        self.campaigns_read = 0
        remaining = self.run()
        cr.execute(
            """
            SELECT count(*) FROM mailchimp_activity a
              JOIN mailchimp_campaign c ON c.id = a.campaign_id
             WHERE a.id > %s AND c.account_id = %s
            """,
            (before, self.account.id),
        )
        return {
            "events": cr.fetchone()[0],
            "campaigns": self.campaigns_read,
            "remaining": remaining,
        }

    def _pull(self):
        """The pull itself, with one client (one requests session) per
        simultaneous connection; returns the campaigns left at the deadline."""
        account = self.account
        with contextlib.ExitStack() as stack:
            clients = [
                stack.enter_context(account._get_client())
                for _i in range(
                    min(ACTIVITY_CONNECTIONS, account.max_connections or 10)
                )
            ]
            self._pull_campaigns(clients[0])
            window = timedelta(days=account.activity_window_days or 30)
            campaigns = self.env["mailchimp.campaign"].search(
                [
                    ("account_id", "=", account.id),
                    ("send_time", ">=", fields.Datetime.now() - window),
                ],
                order="send_time, id",
            )
            for index, campaign in enumerate(campaigns):
                if self.deadline and time.monotonic() > self.deadline:
                    return len(campaigns) - index
                CampaignActivity(campaign, clients).run()
                self.campaigns_read = index + 1
        return 0

    def _pull_campaigns(self, client):
        """Sent campaigns of the activity window (from the account's mark if it is
        older: a pull that had stopped catches up), each created once.

        Not from the newest send time read: a campaign's send_time is when its sending
        started, so a big send that ends after a later one was read is listed then with
        an earlier send_time. And since_send_time keeps what was sent "after" it, which
        may or may not include its own second: asked from one second before (campaigns
        are known by id, one read twice is skipped).
        """
        account = self.account
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
            self._create_campaigns(page, audiences)
            self._move_campaign_mark(page)
            transactions.commit(self.env.cr)

    def _create_campaigns(self, page, audiences):
        """The campaigns of a listing page not stored yet (each with its UTM
        campaign, see ``mailchimp.campaign.create``)."""
        Campaign = self.env["mailchimp.campaign"]
        ids = [item["id"] for item in page]
        known = set(
            Campaign.search(
                [
                    ("account_id", "=", self.account.id),
                    ("mailchimp_campaign_id", "in", ids),
                ]
            ).mapped("mailchimp_campaign_id")
        )
        vals_list = []
        for item in page:
            if item["id"] in known:
                continue
            known.add(item["id"])
            vals_list.append(campaign_values(self.account, item, audiences))
        Campaign.create(vals_list)

    def _move_campaign_mark(self, page):
        """The account's campaign mark: the latest send time read."""
        account = self.account
        send_times = [
            sync_rules.to_odoo_datetime(item.get("send_time")) for item in page
        ]
        send_times = [t for t in send_times if t]
        if send_times:
            account.activity_campaign_watermark = max(
                [*send_times, account.activity_campaign_watermark or send_times[0]]
            )


class CampaignActivity:
    """The activity of one campaign. ``clients``: the first reads the figures and
    the short lists, all of them read the long lists' next pages while the
    current one is written."""

    def __init__(self, campaign, clients):
        self.campaign = campaign
        self.env = campaign.env
        self.clients = clients
        self.client = clients[0]
        self.path = f"/reports/{campaign.mailchimp_campaign_id}"

    def run(self):
        """Figures, recipients (sent), opens/clicks/bounces since the watermark,
        unsubscribes and abuse reports; each page committed with its position."""
        campaign, path = self.campaign, self.path
        campaign.write(report_figures(self.client.get(path)))
        self._commit()
        if not campaign.sent_to_done:
            self._sync_sent_to()
        self._sync_email_activity()
        unknown_unsubscribes = self._sync_event_list(
            f"{path}/unsubscribed", "unsubscribes", "unsubscribe", "timestamp"
        )
        unknown_abuse = self._sync_event_list(
            f"{path}/abuse-reports", "abuse_reports", "abuse", "date"
        )
        campaign.write(
            {
                "unknown_unsubscribe_count": unknown_unsubscribes,
                "unknown_abuse_count": unknown_abuse,
                "last_activity_sync": fields.Datetime.now(),
            }
        )
        self._commit()

    def _commit(self):
        transactions.commit(self.env.cr)

    def _chatter_bodies(self):
        return self.env["mailchimp.activity"]._chatter_bodies(self.campaign)

    # ------------------------------------------------------------------
    # Recipients, email activity, short lists
    # ------------------------------------------------------------------

    def _sync_sent_to(self):
        """Recipients: one "sent" event each, read once, resumable by offset."""
        campaign = self.campaign
        campaign_id, stamp = (
            campaign.id,
            campaign.send_time.isoformat() if campaign.send_time else "",
        )
        bodies = self._chatter_bodies()

        def prepare(items):
            events = [
                make_event(campaign_id, item.get("email_id"), "sent", stamp)
                for item in items
            ]
            return {"staged": staging_rows(events, bodies)}

        pages = self.client.pages_ahead(
            f"{self.path}/sent-to",
            "sent_to",
            prepare,
            params={"fields": "sent_to.email_id,total_items"},
            offset=campaign.sent_to_offset,
            count=PAGE_SIZE,
            clients=self.clients,
        )
        for position, _page, unknown in self._store_pages(pages):
            campaign.write(
                {
                    "sent_to_offset": position.end,
                    "sent_to_done": position.last,
                    "unknown_sent_count": campaign.unknown_sent_count + len(unknown),
                }
            )
            self._commit()

    def _sync_email_activity(self):
        """Opens, clicks, bounces: a walk with a fixed ``since``, resumable by offset;
        the watermark moves once the whole walk is committed."""
        campaign = self.campaign
        if not campaign.activity_walk_since and not campaign.activity_offset:
            campaign.write(
                {
                    "activity_walk_since": campaign.activity_next_since
                    or campaign.send_time,
                    "activity_walk_max": campaign.activity_watermark,
                }
            )
        walk_started = fields.Datetime.now()
        since = campaign.activity_walk_since
        campaign_id = campaign.id
        bodies = self._chatter_bodies()
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

        pages = self.client.pages_ahead(
            f"{self.path}/email-activity",
            "emails",
            prepare,
            params=params,
            offset=campaign.activity_offset,
            count=PAGE_SIZE,
            clients=self.clients,
        )
        for position, page, unknown in self._store_pages(pages):
            campaign.write(
                self._walk_values(position, page, unknown, since, walk_started)
            )
            self._commit()

    def _walk_values(self, position, page, unknown, since, walk_started):
        """The walk's state once ``page`` (at ``position``) is stored: where it
        got to, the latest event time, the events of unknown recipients counted
        once; at the end of the walk, the watermark and the next walk's ``since``
        (``walk_started``: when this pull began)."""
        campaign = self.campaign
        # events up to the previous watermark were counted by an earlier walk
        seen_until = (
            campaign.activity_watermark.isoformat()
            if campaign.activity_watermark
            else ""
        )
        new_unknown = sum(1 for stamp in unknown if stamp > seen_until)
        latest = campaign.activity_walk_max
        if page["latest"] and (not latest or page["latest"] > latest.isoformat()):
            latest = stamp_to_datetime(page["latest"])
        vals = {
            "activity_offset": position.end,
            "activity_walk_max": latest,
            "unknown_activity_count": campaign.unknown_activity_count + new_unknown,
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

    def _sync_event_list(self, list_path, items_key, action, time_key):
        """Unsubscribes or abuse reports: short lists, re-read while the campaign
        is in its window.  Returns how many belong to people not in Odoo."""
        campaign = self.campaign
        Activity = self.env["mailchimp.activity"]
        send_stamp = campaign.send_time.isoformat() if campaign.send_time else ""
        unknown = 0
        for page in self.client.pages(list_path, items_key, count=PAGE_SIZE):
            events = [
                make_event(
                    campaign.id,
                    item.get("email_id"),
                    action,
                    utc_stamp(item.get(time_key)) or send_stamp,
                )
                for item in page
            ]
            unknown += len(Activity._store_events(campaign, events))
            self._commit()
        return unknown

    # ------------------------------------------------------------------
    # Writing pages
    # ------------------------------------------------------------------

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
        writers = 1 if transactions.testing() else ACTIVITY_WRITERS
        if writers < 2:
            for position, page in pages:
                yield (
                    position,
                    page,
                    Activity._store_staged(self.campaign, page["staged"]),
                )
            return
        yield from self._store_pages_at_once(pages, writers)

    def _store_pages_at_once(self, pages, writers):
        """``_store_pages`` with ``writers`` threads, each page committed by
        its own cursor, the results yielded in page order."""
        registry, uid, context, campaign_id = (
            self.env.registry,
            self.env.uid,
            self.env.context,
            self.campaign.id,
        )

        def write(page):
            with registry.cursor() as cr:  # commits when the block ends without error
                # each statement sees what the other writer committed: the
                # summaries are read again once their rows are locked
                cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
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
