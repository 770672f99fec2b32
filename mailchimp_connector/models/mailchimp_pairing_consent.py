# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import fields, models
from odoo.tools import sql


class MailchimpPairing(models.Model):
    """Consent options of a sync: the email blacklist (F16), Odoo opt-outs and GDPR
    marketing permissions."""

    _inherit = "mailchimp.pairing"

    blacklist_mirror = fields.Boolean(
        string="Mirror unsubscribes into Odoo's blacklist",
        tracking=True,
        help="Addresses that unsubscribe or are cleaned (bounced, abuse) in Mailchimp "
        "are added to Odoo's email blacklist, with the reason. Such an opt-out came "
        "from Mailchimp: it is never sent back to this audience. Off by default.",
    )
    blacklist_unmirror = fields.Boolean(
        string="Remove from the blacklist on re-subscribe",
        tracking=True,
        help="With the option above: an address that subscribes again in Mailchimp "
        "(which needs the person's own new opt-in) leaves Odoo's blacklist, whatever "
        "put it there. Off by default: a re-subscription in Mailchimp leaves Odoo's "
        "blacklist as it is.",
    )
    blacklist_backfilled = fields.Boolean(
        readonly=True,
        copy=False,
        help="The members already unsubscribed or cleaned when the option was turned "
        "on have been mirrored (by the next run).",
    )
    # Odoo opt-outs: a contact on Odoo's email blacklist is never
    # subscribed in Mailchimp by the sync
    optout_new_policy = fields.Selection(
        [
            ("unsubscribed", "Add as unsubscribed"),
            ("skip", "Skip, with a reason"),
        ],
        string="Opted-out contacts new to the audience",
        required=True,
        default="unsubscribed",
        tracking=True,
        help="A contact of the segment whose address is on Odoo's email blacklist is "
        "never added to Mailchimp as subscribed or pending (double opt-in). Add as "
        "unsubscribed: Mailchimp keeps the address as unsubscribed and never mails it, "
        "even if someone imports it later. Skip: it is not sent, and each run lists it "
        "as skipped with the reason.",
    )
    optout_unsubscribe = fields.Boolean(
        string="Odoo opt-outs unsubscribe in Mailchimp",
        default=True,
        tracking=True,
        help="A contact put on Odoo's email blacklist is unsubscribed from this "
        "audience at the next run. It is the only status Odoo ever sends, and only "
        "once per opt-out: a person who subscribes again in Mailchimp stays "
        "subscribed, and taking an address off Odoo's blacklist sends nothing (Odoo "
        "never re-subscribes). Cleaned and archived members are left alone. Opt-outs "
        "made while this is off are not sent when it is turned on. Syncs that push to "
        "Mailchimp only.",
    )
    permission_map_ids = fields.One2many(
        "mailchimp.permission.map", "pairing_id", string="Marketing Permissions"
    )
    marketing_permissions_enabled = fields.Boolean(
        related="audience_id.marketing_permissions_enabled"
    )

    def _auto_init(self):
        """An upgrade adds "Odoo opt-outs unsubscribe in Mailchimp" switched off on the
        existing syncs, which were set up under "Odoo's blacklist is never sent to
        Mailchimp" (an unsubscribe is something Odoo can never undo); new syncs get it
        on (its default)."""
        cr = self.env.cr
        if sql.table_exists(cr, self._table) and not sql.column_exists(
            cr, self._table, "optout_unsubscribe"
        ):
            sql.create_column(
                cr,
                self._table,
                "optout_unsubscribe",
                "boolean",
                "Odoo opt-outs unsubscribe in Mailchimp",
            )
        return super()._auto_init()

    def write(self, vals):
        if "blacklist_mirror" in vals and not vals["blacklist_mirror"]:
            # turned on again later: the next run mirrors what it knows by then
            vals = dict(vals, blacklist_backfilled=False, blacklist_unmirror=False)
        return super().write(vals)
