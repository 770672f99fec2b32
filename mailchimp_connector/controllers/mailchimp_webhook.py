# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""The endpoint Mailchimp's audience webhooks call (F19).

``/mailchimp/webhook/<token>``: the token is the pairing's secret. A GET is
Mailchimp's URL check when the webhook is created: it is answered 200 without
looking the token up (the pairing registering it has not committed its new
secret yet) and it reveals and changes nothing. A POST is a delivery: an
unknown or missing token gets an empty 404; a known one is applied at once
(one member read from Mailchimp and merged) and answered 200, well within
Mailchimp's 10 s. Events the sync does not follow are answered 200 too, so
that Mailchimp does not retry them for an hour. A body that is not a
Mailchimp delivery gets a bare 400 at once (a body that is not one urlencoded
form of at most 500 fields before Odoo parses it, see ``ir_http.py``), and one
over 1 MB a 413 before it is read (Odoo's ``max_content_length`` route option).
"""

import logging

from odoo import SUPERUSER_ID, http
from odoo.http import request

from ..engine import webhooks
from ..utils import webhook_events

_logger = logging.getLogger(__name__)

# the access log shows every path: keep the secret out of it
logging.getLogger("werkzeug").addFilter(webhook_events.WebhookTokenLogFilter())


def _empty(status):
    return request.make_response(
        b"", headers=[("Content-Type", "text/plain")], status=status
    )


class MailchimpWebhook(http.Controller):
    @http.route(
        [
            webhook_events.WEBHOOK_PATH,
            f"{webhook_events.WEBHOOK_PATH}/",
            f"{webhook_events.WEBHOOK_PATH}/<string:token>",
        ],
        type="http",
        auth="public",
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
        max_content_length=webhook_events.MAX_BODY_BYTES,
        # ir.http refuses bodies that are not deliveries, unparsed
        mailchimp_webhook=True,
    )
    def mailchimp_webhook(self, token=None, **_form):
        if not token:
            return _empty(404)
        if request.httprequest.method == "GET":
            return _empty(200)
        pairing = webhooks.pairing_for_token(request.env["mailchimp.pairing"], token)
        if not pairing:
            return _empty(404)
        try:
            event = webhook_events.parse_event(
                request.httprequest.form.items(multi=True)
            )
        except webhook_events.WebhookNotFollowed as kind:
            _logger.info(
                "Mailchimp sync %s: webhook event %s ignored", pairing.id, kind
            )
            return _empty(200)
        except webhook_events.WebhookParseError as error:
            _logger.info(
                "Mailchimp sync %s: webhook body refused (%s)", pairing.id, error
            )
            return _empty(400)
        # as the scheduler's runs: changes are OdooBot's, not the public user's
        outcome = webhooks.receive(pairing.with_user(SUPERUSER_ID), event)
        _logger.info(
            "Mailchimp sync %s: webhook %s %s", pairing.id, event.type, outcome
        )
        return _empty(200)
