# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging

import werkzeug.exceptions

from odoo import models
from odoo.http import Response, request

from ..utils import webhook_events

_logger = logging.getLogger(__name__)


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _pre_dispatch(cls, rule, args):
        """Refuse a webhook body that is not a Mailchimp delivery before Odoo parses it
        (Odoo parses a form before calling the route; a 1 MB form of tiny fields takes
        it most of a second). Bodies over the route's limit already got 413 here."""
        res = super()._pre_dispatch(rule, args)
        if (
            rule.endpoint.routing.get("mailchimp_webhook")
            and request.httprequest.method == "POST"
        ):
            httprequest = request.httprequest
            problem = webhook_events.raw_body_problem(
                httprequest.mimetype, httprequest.get_data(cache=True)
            )
            if problem:
                _logger.info(
                    "Mailchimp webhook body refused before parsing (%s)", problem
                )
                werkzeug.exceptions.abort(Response(status=400))
        return res
