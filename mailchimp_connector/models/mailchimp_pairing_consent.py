# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models

from ..utils import consent


class MailchimpPairing(models.Model):
    """Consent options of a sync: the email blacklist (F16) and GDPR marketing permissions."""

    _inherit = "mailchimp.pairing"

    blacklist_mirror = fields.Boolean(
        string="Mirror unsubscribes into Odoo's blacklist",
        tracking=True,
        help="Addresses that unsubscribe or are cleaned (bounced, abuse) in Mailchimp are added "
        "to Odoo's email blacklist, with the reason. Odoo's blacklist is never sent to "
        "Mailchimp. Off by default.",
    )
    blacklist_unmirror = fields.Boolean(
        string="Remove from the blacklist on re-subscribe",
        tracking=True,
        help="With the option above: an address that subscribes again in Mailchimp (which "
        "needs the person's own new opt-in) leaves Odoo's blacklist, whatever put it there. "
        "Off by default: a re-subscription in Mailchimp leaves Odoo's blacklist as it is.",
    )
    blacklist_backfilled = fields.Boolean(
        readonly=True,
        copy=False,
        help="The members already unsubscribed or cleaned when the option was turned on have "
        "been mirrored (by the next run).",
    )
    permission_map_ids = fields.One2many(
        "mailchimp.permission.map", "pairing_id", string="Marketing Permissions"
    )
    marketing_permissions_enabled = fields.Boolean(
        related="audience_id.marketing_permissions_enabled"
    )

    def write(self, vals):
        if "blacklist_mirror" in vals and not vals["blacklist_mirror"]:
            # turned on again later: the next run mirrors what it knows by then
            vals = dict(vals, blacklist_backfilled=False, blacklist_unmirror=False)
        return super().write(vals)

    def _mirror_blacklist(self, email, new_status, old_status=None):
        """One member's status change, from Mailchimp, applied to Odoo's blacklist by the
        sync's options (for the webhook and other callers of one email).

        ``old_status`` is the status Odoo knew before (None: not known). Returns
        "add", "remove" or None: what was done.
        """
        self.ensure_one()
        return self._mirror_blacklist_many([(email, old_status, new_status)]).get(email)

    def _mirror_blacklist_many(self, changes):
        """[(email, old status, new status)] applied to Odoo's blacklist in one bulk
        call per direction. Returns {email: "add" | "remove"} for those acted on."""
        self.ensure_one()
        if not self.blacklist_mirror:
            return {}
        added, removed, done = {}, {}, {}
        for email, old_status, new_status in changes:
            action = consent.blacklist_action(
                old_status,
                new_status,
                mirror=self.blacklist_mirror,
                unmirror=self.blacklist_unmirror,
            )
            if action == "add":
                added[email] = self._blacklist_reason(new_status)
            elif action == "remove":
                removed[email] = self.env._(
                    "Subscribed again in Mailchimp (audience %(audience)s, sync %(sync)s).",
                    audience=self.audience_id.name,
                    sync=self.name,
                )
            if action:
                done[email] = action
        # the sync's option was set by a Mailchimp administrator; the blacklist itself
        # is a settings model
        Blacklist = self.env["mail.blacklist"].sudo()
        if added:
            Blacklist._mailchimp_add(added)
        if removed:
            Blacklist._mailchimp_remove(removed)
        return done

    def _blacklist_reason(self, status):
        if status == "cleaned":
            return self.env._(
                "Cleaned in Mailchimp: the address bounced or reported abuse "
                "(audience %(audience)s, sync %(sync)s).",
                audience=self.audience_id.name,
                sync=self.name,
            )
        return self.env._(
            "Unsubscribed in Mailchimp (audience %(audience)s, sync %(sync)s).",
            audience=self.audience_id.name,
            sync=self.name,
        )
