# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Email activity as queue_job jobs: one job per campaign.

The hourly pass reads the account's new campaigns (short) and queues one job
per campaign of the activity window; campaigns' jobs run side by side. A job
holds its campaign's advisory lock (two jobs never pull one campaign at once)
and its account's activity lock shared: a whole-account pull ("Sync activity
now") and campaign jobs exclude each other. Each page is committed with its
position (engine/activity.py), so a job run twice or killed goes on from there.
"""

import contextlib
import logging
from datetime import timedelta

from odoo import api, fields, models

from odoo.addons.mailchimp_connector.engine import transactions
from odoo.addons.mailchimp_connector.engine.activity import (
    ACTIVITY_CONNECTIONS,
    ActivityPull,
    CampaignActivity,
)
from odoo.addons.mailchimp_connector.utils import mailchimp_errors as mc_errors
from odoo.addons.mailchimp_connector.utils.locks import (
    LOCK_ACTIVITY,
    LOCK_CAMPAIGN_ACTIVITY,
)
from odoo.addons.queue_job.exception import RetryableJobError

from .mailchimp_pairing import BUSY_RETRY_SECONDS, CHANNEL, THROTTLED_RETRY_SECONDS

_logger = logging.getLogger(__name__)


def activity_identity(campaign_id):
    return f"mailchimp_activity_{campaign_id}"


class MailchimpCampaign(models.Model):
    _inherit = "mailchimp.campaign"

    @api.model
    def _cron_sync_activity(self):
        """The hourly pass: each connected account's new campaigns, then one job
        per campaign of its activity window."""
        accounts = self.env["mailchimp.account"].search([("state", "=", "connected")])
        for account in accounts:
            self._mailchimp_queue_activity(account)

    @api.model
    def _mailchimp_queue_activity(self, account):
        cr = self.env.cr
        if transactions.try_lock(cr, LOCK_ACTIVITY, account.id):
            # the listing, under the account's lock (else a whole-account pull
            # under way reads it)
            try:
                with account._get_client() as client:
                    ActivityPull(account)._pull_campaigns(client)
                account.sudo().activity_error = False
            except mc_errors.MailchimpError as error:
                transactions.rollback(cr)
                account.sudo().activity_error = account._mailchimp_error_message(error)
                transactions.commit(cr)
                return self.browse()
            finally:
                transactions.unlock(cr, LOCK_ACTIVITY, account.id)
        window = timedelta(days=account.activity_window_days or 30)
        campaigns = self.search(
            [
                ("account_id", "=", account.id),
                ("send_time", ">=", fields.Datetime.now() - window),
            ],
            order="send_time, id",
        )
        for campaign in campaigns:
            campaign.with_delay(
                channel=CHANNEL,
                identity_key=activity_identity(campaign.id),
                description=self.env._("Mailchimp activity: %s", campaign.title),
            )._mailchimp_job_activity()
        transactions.commit(cr)
        return campaigns

    def _mailchimp_job_activity(self):
        """The job: this campaign's activity since its marks."""
        self.ensure_one()
        campaign, account, cr = self, self.account_id, self.env.cr
        if account.state != "connected":
            return "account not connected"
        cr.execute(
            "SELECT pg_try_advisory_lock_shared(%s, %s)", (LOCK_ACTIVITY, account.id)
        )
        if not cr.fetchone()[0]:
            raise RetryableJobError(
                "A whole-account activity pull is under way",
                seconds=BUSY_RETRY_SECONDS,
                ignore_retry=True,
            )
        try:
            if not transactions.try_lock(cr, LOCK_CAMPAIGN_ACTIVITY, campaign.id):
                return "being pulled by another job"
            try:
                return self._mailchimp_pull_activity()
            finally:
                transactions.unlock(cr, LOCK_CAMPAIGN_ACTIVITY, campaign.id)
        finally:
            cr.execute(
                "SELECT pg_advisory_unlock_shared(%s, %s)", (LOCK_ACTIVITY, account.id)
            )

    def _mailchimp_pull_activity(self):
        account, cr = self.account_id, self.env.cr
        try:
            with contextlib.ExitStack() as stack:
                clients = [
                    stack.enter_context(account._get_client())
                    for _i in range(
                        min(ACTIVITY_CONNECTIONS, account.max_connections or 10)
                    )
                ]
                CampaignActivity(self, clients).run()
        except mc_errors.MailchimpRateLimitError as error:
            seconds = int(error.retry_after or THROTTLED_RETRY_SECONDS)
            raise RetryableJobError(
                f"Mailchimp asked to slow down (429): tried again in {seconds} s",
                seconds=max(1, seconds),
            ) from error
        except mc_errors.MailchimpError as error:
            # what was committed stays; the next pass resumes from the marks
            transactions.rollback(cr)
            account.sudo().activity_error = account._mailchimp_error_message(error)
            transactions.commit(cr)
            _logger.warning(
                "Mailchimp activity of campaign %s stopped: %s", self.id, error
            )
            return f"stopped: {error}"
        return f"{self.activity_count} events"
