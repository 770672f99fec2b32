# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import api, models, tools


class MailBlacklist(models.Model):
    """Bulk forms of ``_add`` / ``_remove`` for the Mailchimp blacklist option (F16).

    Same effect as Odoo's own methods (normalized address, archived entry
    reactivated rather than duplicated, the reason as a note on the entry),
    but a page of a thousand members costs a handful of queries, not
    thousands. Odoo's blacklist is only ever written here; the push reads it
    (``mailchimp.sync.run._opt_out_sql``) so that an opted-out contact is never
    subscribed in Mailchimp.
    """

    _inherit = "mail.blacklist"

    @api.model
    def _mailchimp_add(self, reasons):
        """Blacklist {email: reason}; returns the entries added or reactivated.

        Addresses already blacklisted are left as they are (no new note).
        """
        wanted = self._mailchimp_normalized(reasons)
        if not wanted:
            return self.browse()
        quiet = self.with_context(tracking_disable=True, mail_create_nolog=True)
        existing = quiet.with_context(active_test=False).search_fetch(
            [("email", "in", list(wanted))], ["email", "active"]
        )
        revived = existing.filtered(lambda entry: not entry.active)
        revived.write({"active": True})
        known = set(existing.mapped("email"))
        created = quiet.create(
            [{"email": email} for email in wanted if email not in known]
        )
        changed = (revived | created).with_env(self.env)
        changed._message_log_batch(
            bodies={entry.id: wanted[entry.email] for entry in changed}
        )
        return changed

    @api.model
    def _mailchimp_remove(self, reasons):
        """Take {email: reason} off the blacklist (archive, as ``_remove`` does);
        returns the entries archived. Addresses not blacklisted are left alone."""
        wanted = self._mailchimp_normalized(reasons)
        if not wanted:
            return self.browse()
        entries = self.with_context(tracking_disable=True).search_fetch(
            [("email", "in", list(wanted))], ["email"]
        )
        entries.write({"active": False})
        entries = entries.with_env(self.env)
        entries._message_log_batch(
            bodies={entry.id: wanted[entry.email] for entry in entries}
        )
        return entries

    @api.model
    def _mailchimp_normalized(self, reasons):
        wanted = {}
        for email, reason in (reasons or {}).items():
            normalized = tools.email_normalize(email)
            if normalized:
                wanted.setdefault(normalized, reason)
        return wanted
