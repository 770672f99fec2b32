# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging

_logger = logging.getLogger(__name__)


def uninstall_hook(env):
    """Take the syncs' webhooks off their Mailchimp audiences before the tables go:
    otherwise Mailchimp keeps calling an Odoo that answers 404 until someone
    removes them by hand. Best effort: uninstalling never fails on Mailchimp."""
    pairings = (
        env["mailchimp.pairing"]
        .sudo()
        .with_context(active_test=False)
        .search([("webhook_id", "!=", False)])
    )
    try:
        left = pairings._webhook_unregister()
    except Exception:  # a Mailchimp problem must not block the uninstall
        _logger.exception("Mailchimp webhooks could not be removed on uninstall")
        return
    for message in left:
        _logger.warning("On uninstall: %s", message)
