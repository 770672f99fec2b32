# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Real time (F19): a pairing's webhook on its audience, registered and removed,
and its deliveries: the pairing a delivery's secret designates, and the one
member a delivery names, read again from Mailchimp and merged.

Registration happens when a pairing becomes active (Start Sync, Resume) or on
the admin's Re-register button; a failure is recorded on the pairing and never
stops the sync itself (the scheduled runs keep contacts in step). Pausing,
deleting the pairing or disconnecting the account removes the webhook. The
member a delivery names is merged by ``SyncEngine.sync_member``.
"""

import contextlib
import hmac
import logging
import secrets

from odoo import fields
from odoo.exceptions import UserError

from ..utils import mailchimp_errors as mc_errors
from ..utils import webhook_events
from ..utils.mailchimp_client import DEFAULT_BASE_URL
from ..utils.mailchimp_keys import subscriber_hash
from . import scheduler, transactions
from .pull import member_fields
from .run import SyncEngine
from .transactions import LOCK_SYNC

_logger = logging.getLogger(__name__)

# a delivery is answered within Mailchimp's 10 s: one short read, no long retries
WEBHOOK_READ_TIMEOUT = (3, 5)


def register(pairings):
    """Register (or replace) each pairing's webhook. Never raises for Mailchimp
    or configuration problems: each one is recorded on its pairing and returned."""
    pairings.check_access("write")
    errors = []
    for pairing in pairings.sudo():
        error = _register_one(pairing)
        if error:
            _logger.info("Mailchimp sync %s: webhook not registered", pairing.id)
            pairing.write({"webhook_state": "failed", "webhook_error": error})
            errors.append(error)
    return errors


def _register_one(pairing):
    pairing.ensure_one()
    account, env = pairing.account_id, pairing.env
    if account.state != "connected":
        return env._("Connect the Mailchimp account %s first.", account.name)
    base_url = pairing.get_base_url()
    token = secrets.token_urlsafe(32)
    url = webhook_events.webhook_url(base_url, token)
    problem = webhook_events.url_problem(url, account.api_base_url or DEFAULT_BASE_URL)
    if problem:
        return env._(
            "Mailchimp cannot reach %(base_url)s (the system parameter "
            "web.base.url): it is not a public http(s) address. Set web.base.url "
            "to the address at which this Odoo is reached from the internet, then "
            "press Re-register webhook. Until then the scheduled sync keeps "
            "contacts in step.",
            base_url=base_url or "''",
        )
    list_id = pairing.audience_id.mailchimp_list_id
    try:
        with account._get_client() as client:
            if pairing.webhook_id:
                _delete(pairing, client)
                # gone from Mailchimp: nothing may be left pointing at it
                pairing.write({"webhook_id": False, "webhook_token": False})
            hook = client.post(
                f"/lists/{list_id}/webhooks",
                json=webhook_events.registration_payload(url),
            )
    except mc_errors.MailchimpError as error:
        # Mailchimp's own words on the URL (it checks it with a GET) are in errors[]
        said = " ".join(e["message"] for e in error.errors if e["message"])
        return env._(
            "Mailchimp refused the webhook: %(message)s %(fields)s",
            message=account._mailchimp_error_message(error),
            fields=said,
        ).strip()
    pairing.write(
        {
            "webhook_token": token,
            "webhook_id": hook["id"],
            "webhook_state": "registered",
            "webhook_error": False,
            "webhook_date": fields.Datetime.now(),
        }
    )
    return False


def _delete(pairing, client):
    """Remove the pairing's webhook from Mailchimp; one already gone is fine."""
    if not pairing.webhook_id:
        return
    with contextlib.suppress(mc_errors.MailchimpNotFoundError):
        client.delete(
            f"/lists/{pairing.audience_id.mailchimp_list_id}"
            f"/webhooks/{pairing.webhook_id}"
        )


def unregister(pairings):
    """Remove the webhooks; the secrets are forgotten in any case, so that a
    webhook Mailchimp could not delete only ever gets 404 from Odoo. Returns
    the messages of those left in Mailchimp (also posted on their account)."""
    errors = []
    for pairing in pairings.sudo().filtered("webhook_id"):
        account = pairing.account_id
        left = False
        try:
            with account._get_client() as client:
                _delete(pairing, client)
        except (mc_errors.MailchimpError, UserError) as error:
            reason = (
                account._mailchimp_error_message(error)
                if isinstance(error, mc_errors.MailchimpError)
                else str(error)
            )
            left = pairings.env._(
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


def read_member(pairing, email, maps):
    """The member a delivery names, as Mailchimp shows it now (the fields a pull
    reads): one short read, no retries."""
    path = f"/lists/{pairing.audience_id.mailchimp_list_id}/members"
    with pairing.account_id._get_client() as client:
        client.timeout = WEBHOOK_READ_TIMEOUT
        client.max_retries = 0
        return client.get(
            f"{path}/{subscriber_hash(email)}",
            params={"fields": ",".join(member_fields(pairing, maps))},
        )


# ----------------------------------------------------------------------
# Deliveries: the public controller hands each one over, as superuser, on
# the one pairing the token designates
# ----------------------------------------------------------------------


def pairing_for_token(Pairing, token):
    """The active pairing whose secret is ``token``, compared in constant time."""
    if not token:
        return Pairing.browse()
    candidates = Pairing.sudo().search_fetch(
        [("state", "=", "active"), ("webhook_token", "!=", False)],
        ["webhook_token"],
    )
    given = token.encode()
    found = Pairing.browse()
    for pairing in candidates:
        # every candidate is compared: the time does not tell where it matched
        if hmac.compare_digest(pairing.webhook_token.encode(), given):
            found = pairing
    return found


def receive(pairing, event):
    """Apply one delivery. Returns what happened: "applied", "ignored" or
    "deferred" (left to the next scheduled run, which is asked for now)."""
    pairing.ensure_one()
    if event.list_id != pairing.audience_id.mailchimp_list_id:
        _logger.warning(
            "Mailchimp sync %s: webhook for another audience ignored", pairing.id
        )
        return "ignored"
    if not _try_lock(pairing):
        # a run is writing this sync's members
        # now; its reads or the next run's see it
        return _defer(pairing)
    maps = pairing.field_map_ids._plan()
    try:
        mc_member = read_member(pairing, event.email, maps)
    except mc_errors.MailchimpNotFoundError:
        return "ignored"  # erased since; the next full run sees it gone
    except mc_errors.MailchimpError as error:
        _logger.info(
            "Mailchimp sync %s: webhook member read failed (%s), left to the "
            "scheduled run",
            pairing.id,
            type(error).__name__,
        )
        return _defer(pairing)
    run = pairing.env["mailchimp.sync.run"]._webhook_entry(pairing)
    try:
        with pairing.env.cr.savepoint():
            SyncEngine(run).sync_member(mc_member, maps)
    except Exception:  # a bug here must not lose the change
        _logger.exception("Mailchimp sync %s: webhook delivery not applied", pairing.id)
        return _defer(pairing)
    unfinished = scheduler.unfinished_run(pairing)
    if unfinished.full:
        # a full run between two passes must not take it for deleted (F17)
        pairing.env["mailchimp.member"].search(
            [("pairing_id", "=", pairing.id), ("last_seen_run_id", "=", run.id)]
        ).write({"last_seen_run_id": unfinished.id})
    # the delivery is counted processed, with its outcome, by the pull's merge
    run.end_date = fields.Datetime.now()
    return "applied"


def _try_lock(pairing):
    """The sync's own advisory lock, held until this delivery's transaction ends:
    deliveries of one sync apply one after the other and never during a run."""
    return transactions.try_transaction_lock(pairing.env.cr, LOCK_SYNC, pairing.id)


def _defer(pairing):
    pairing.sync_requested = True
    pairing._mailchimp_run_in_background()
    return "deferred"
