# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Real time (F19): each active pairing has a webhook on its audience.

Registration happens when a pairing becomes active (Start Sync, Resume) or on
the admin's Re-register button; a failure is recorded on the pairing and never
stops the sync itself (the scheduled runs keep contacts in step). Pausing,
deleting the pairing or disconnecting the account removes the webhook.

A delivery names a member; the member is read again from Mailchimp and merged
by the sync's own pull code (``SyncEngine.sync_member``) on a one-member
page: the conflict rule, the status rules and email renames are the sync's,
deliveries that repeat or arrive out of order change nothing more, and a
webhook's form-encoded merge values never need a second conversion path.
"""

import contextlib
import hmac
import logging
import secrets

from odoo import fields, models
from odoo.exceptions import UserError

from ..engine import transactions
from ..engine.pull import member_fields
from ..engine.run import SyncEngine
from ..engine.transactions import LOCK_SYNC
from ..utils import mailchimp_errors as mc_errors
from ..utils import webhook_events
from ..utils.mailchimp_client import DEFAULT_BASE_URL
from ..utils.mailchimp_keys import subscriber_hash
from .mailchimp_account import MANAGER_GROUP

_logger = logging.getLogger(__name__)

# a delivery is answered within Mailchimp's 10 s: one short read, no long retries
WEBHOOK_READ_TIMEOUT = (3, 5)


# The webhook part of the sync still has a file of its own, beside the consent part:
# merging the model's files is a change of its own, not a lint fix.
class MailchimpPairing(models.Model):
    _inherit = "mailchimp.pairing"  # pylint: disable=consider-merging-classes-inherited

    webhook_token = fields.Char(
        groups=MANAGER_GROUP,
        copy=False,
        readonly=True,
        exportable=False,
        help="The secret part of the webhook URL given to Mailchimp.",
    )
    webhook_id = fields.Char(string="Mailchimp Webhook ID", readonly=True, copy=False)
    webhook_state = fields.Selection(
        [
            ("none", "Not registered"),
            ("registered", "Registered"),
            ("failed", "Registration failed"),
        ],
        string="Real-time Updates",
        default="none",
        required=True,
        readonly=True,
        copy=False,
    )
    webhook_error = fields.Text(readonly=True, copy=False)
    webhook_date = fields.Datetime(
        string="Webhook Registered On", readonly=True, copy=False
    )
    # read from the history, not written on the pairing at each delivery (a person
    # saving the sync's form must not wait for a delivery's row lock, nor the other way)
    webhook_last_event_date = fields.Datetime(
        string="Last Real-time Update", compute="_compute_webhook_last_event_date"
    )

    def _compute_webhook_last_event_date(self):
        last = dict(
            self.env["mailchimp.sync.run"]._read_group(
                [("pairing_id", "in", self.ids), ("trigger", "=", "webhook")],
                ["pairing_id"],
                ["end_date:max"],
            )
        )
        for pairing in self:
            pairing.webhook_last_event_date = last.get(pairing, False)

    def export_data(self, fields_to_export):
        if any(path.split("/")[0] == "webhook_token" for path in fields_to_export):
            raise UserError(self.env._("Webhook secrets cannot be exported."))
        return super().export_data(fields_to_export)

    # ------------------------------------------------------------------
    # Lifecycle: activate, pause, resume, delete
    # ------------------------------------------------------------------

    def action_start_sync(self):
        result = super().action_start_sync()
        errors = self._webhook_register()
        if errors:
            return self.env["mailchimp.account"]._notification(
                self.env._(
                    "The sync has started; its progress shows in its history. "
                    "Real-time updates are off: %s",
                    "; ".join(errors),
                ),
                "warning",
            )
        return result

    def action_resume(self):
        result = super().action_resume()
        self.filtered(lambda p: p.state == "active")._webhook_register()
        return result

    def action_pause(self):
        result = super().action_pause()
        self._webhook_unregister()
        return result

    def unlink(self):
        registered = self.filtered("webhook_id")
        if registered:
            # never remove the webhook of a sync the user may not delete
            registered.check_access("unlink")
            registered._webhook_unregister()
        return super().unlink()

    def action_webhook_register(self):
        """Re-register: a new secret, the old webhook removed (button, admins)."""
        self.check_access("write")
        errors = self._webhook_register()
        if errors:
            return self.env["mailchimp.account"]._notification(
                "; ".join(errors), "danger", self.env._("Webhook not registered")
            )
        return self.env["mailchimp.account"]._notification(
            self.env._(
                "Mailchimp now sends this audience's changes to Odoo as they happen."
            )
        )

    # ------------------------------------------------------------------
    # Registration
    # ------------------------------------------------------------------

    def _webhook_register(self):
        """Register (or replace) each pairing's webhook. Never raises for Mailchimp
        or configuration problems: each one is recorded on its pairing and returned."""
        self.check_access("write")
        errors = []
        for pairing in self.sudo():
            error = pairing._webhook_register_one()
            if error:
                _logger.info("Mailchimp sync %s: webhook not registered", pairing.id)
                pairing.write({"webhook_state": "failed", "webhook_error": error})
                errors.append(error)
        return errors

    def _webhook_register_one(self):
        self.ensure_one()
        account = self.account_id
        if account.state != "connected":
            return self.env._("Connect the Mailchimp account %s first.", account.name)
        base_url = self.get_base_url()
        token = secrets.token_urlsafe(32)
        url = webhook_events.webhook_url(base_url, token)
        problem = webhook_events.url_problem(
            url, account.api_base_url or DEFAULT_BASE_URL
        )
        if problem:
            return self.env._(
                "Mailchimp cannot reach %(base_url)s (the system parameter "
                "web.base.url): it is not a public http(s) address. Set web.base.url "
                "to the address at which this Odoo is reached from the internet, then "
                "press Re-register webhook. Until then the scheduled sync keeps "
                "contacts in step.",
                base_url=base_url or "''",
            )
        list_id = self.audience_id.mailchimp_list_id
        try:
            with account._get_client() as client:
                if self.webhook_id:
                    self._webhook_delete(client)
                    # gone from Mailchimp: nothing may be left pointing at it
                    self.write({"webhook_id": False, "webhook_token": False})
                hook = client.post(
                    f"/lists/{list_id}/webhooks",
                    json=webhook_events.registration_payload(url),
                )
        except mc_errors.MailchimpError as error:
            # Mailchimp's own words on the URL (it checks it with a GET) are in errors[]
            said = " ".join(e["message"] for e in error.errors if e["message"])
            return self.env._(
                "Mailchimp refused the webhook: %(message)s %(fields)s",
                message=account._mailchimp_error_message(error),
                fields=said,
            ).strip()
        self.write(
            {
                "webhook_token": token,
                "webhook_id": hook["id"],
                "webhook_state": "registered",
                "webhook_error": False,
                "webhook_date": fields.Datetime.now(),
            }
        )
        return False

    def _webhook_delete(self, client):
        """Remove this pairing's webhook from Mailchimp; one already gone is fine."""
        if not self.webhook_id:
            return
        with contextlib.suppress(mc_errors.MailchimpNotFoundError):
            client.delete(
                f"/lists/{self.audience_id.mailchimp_list_id}/webhooks/{self.webhook_id}"
            )

    def _webhook_unregister(self):
        """Remove the webhooks; the secrets are forgotten in any case, so that a
        webhook Mailchimp could not delete only ever gets 404 from Odoo. Returns
        the messages of those left in Mailchimp (also posted on their account)."""
        errors = []
        for pairing in self.sudo().filtered("webhook_id"):
            account = pairing.account_id
            left = False
            try:
                with account._get_client() as client:
                    pairing._webhook_delete(client)
            except (mc_errors.MailchimpError, UserError) as error:
                reason = (
                    account._mailchimp_error_message(error)
                    if isinstance(error, mc_errors.MailchimpError)
                    else str(error)
                )
                left = self.env._(
                    "The webhook of the sync %(sync)s could not be removed from the "
                    "audience %(audience)s (%(reason)s). Odoo now refuses its "
                    "deliveries; remove it in Mailchimp under Audience > Settings > "
                    "Webhooks.",
                    sync=pairing.name,
                    audience=pairing.audience_id.name,
                    reason=reason,
                )
                account.message_post(body=left)
                errors.append(left)
            pairing.write(
                {
                    "webhook_token": False,
                    "webhook_id": False,
                    "webhook_state": "none",
                    "webhook_error": left,
                    "webhook_date": False,
                }
            )
        return errors

    # ------------------------------------------------------------------
    # Deliveries (called by the public controller, as superuser, on the one
    # pairing the token designates)
    # ------------------------------------------------------------------

    def _webhook_pairing_for_token(self, token):
        """The active pairing whose secret is ``token``, compared in constant time."""
        if not token:
            return self.browse()
        candidates = self.sudo().search_fetch(
            [("state", "=", "active"), ("webhook_token", "!=", False)],
            ["webhook_token"],
        )
        given = token.encode()
        found = self.browse()
        for pairing in candidates:
            # every candidate is compared: the time does not tell where it matched
            if hmac.compare_digest(pairing.webhook_token.encode(), given):
                found = pairing
        return found

    def _webhook_receive(self, event):
        """Apply one delivery. Returns what happened: "applied", "ignored" or
        "deferred" (left to the next scheduled run, which is asked for now)."""
        self.ensure_one()
        if event.list_id != self.audience_id.mailchimp_list_id:
            _logger.warning(
                "Mailchimp sync %s: webhook for another audience ignored", self.id
            )
            return "ignored"
        if not self._webhook_try_lock():
            # a run is writing this sync's members
            # now; its reads or the next run's see it
            return self._webhook_defer()
        maps = self.field_map_ids._plan()
        try:
            mc_member = self._webhook_read_member(event.email, maps)
        except mc_errors.MailchimpNotFoundError:
            return "ignored"  # erased since; the next full run sees it gone
        except mc_errors.MailchimpError as error:
            _logger.info(
                "Mailchimp sync %s: webhook member read failed (%s), left to the "
                "scheduled run",
                self.id,
                type(error).__name__,
            )
            return self._webhook_defer()
        run = self._webhook_run()
        try:
            with self.env.cr.savepoint():
                SyncEngine(run).sync_member(mc_member, maps)
        except Exception:  # a bug here must not lose the change
            _logger.exception(
                "Mailchimp sync %s: webhook delivery not applied", self.id
            )
            return self._webhook_defer()
        unfinished = self._unfinished_run()
        if unfinished.full:
            # a full run between two passes must not take it for deleted (F17)
            self.env["mailchimp.member"].search(
                [("pairing_id", "=", self.id), ("last_seen_run_id", "=", run.id)]
            ).write({"last_seen_run_id": unfinished.id})
        run.write(
            {"progress_done": run.progress_done + 1, "end_date": fields.Datetime.now()}
        )
        return "applied"

    def _webhook_try_lock(self):
        """The sync's own advisory lock, held until this delivery's transaction ends:
        deliveries of one sync apply one after the other and never during a run."""
        return transactions.try_transaction_lock(self.env.cr, LOCK_SYNC, self.id)

    def _webhook_read_member(self, email, maps):
        account = self.account_id
        wanted = member_fields(self, maps)
        with account._get_client() as client:
            client.timeout = WEBHOOK_READ_TIMEOUT
            client.max_retries = 0
            return client.get(
                f"/lists/{self.audience_id.mailchimp_list_id}/members/{subscriber_hash(email)}",
                params={"fields": ",".join(wanted)},
            )

    def _webhook_defer(self):
        self.sync_requested = True
        self.env.ref("mailchimp_connector.ir_cron_mailchimp_sync")._trigger()
        return "deferred"

    def _webhook_run(self):
        """Today's "Webhook" entry of the sync history, counting the deliveries."""
        Run = self.env["mailchimp.sync.run"]
        now = fields.Datetime.now()
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        run = Run.search(
            [
                ("pairing_id", "=", self.id),
                ("trigger", "=", "webhook"),
                ("start_date", ">=", midnight),
            ],
            order="id desc",
            limit=1,
        )
        return run or Run.create(
            {
                "pairing_id": self.id,
                "pairing_name": self.name,
                "company_id": self.company_id.id,
                "trigger": "webhook",
                "direction": self.direction,
                "state": "done",
                "stage": "end",
                "start_date": now,
                "end_date": now,
                "message": self.env._(
                    "Real-time updates received from Mailchimp today."
                ),
            }
        )
