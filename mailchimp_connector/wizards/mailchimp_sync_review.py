# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
from odoo import Command, fields, models
from odoo.exceptions import UserError

from ..engine.review import SyncReview
from ..utils import mailchimp_errors as mc_errors

# the counts of ``utils.sync_review.Review`` shown, each in the field ``<key>_count``
COUNT_KEYS = (
    "members",
    "members_subscribed",
    "members_pending",
    "members_unsubscribed",
    "members_cleaned",
    "members_transactional",
    "members_archived",
    "link",
    "link_archived",
    "create_subscribed",
    "create_pending",
    "create_transactional",
    "create_unsubscribed",
    "create_cleaned",
    "skip_off",
    "skip_archived",
    "skip_unsubscribed",
    "skip_cleaned",
    "skip_forgotten",
    "conflict",
    "conflict_fields",
    "segment",
    "add_subscribed",
    "add_pending",
    "add_unsubscribed",
    "optout_skipped",
    "in_audience",
    "duplicate",
    "invalid",
    "value_error",
    "internal_in_segment",
    "internal_left_out",
)
# the sample page each count's lines go to
CATEGORIES = [
    ("add", "To Mailchimp"),
    ("create", "New contacts"),
    ("skip", "Not created"),
    ("link", "Linked"),
    ("conflict", "Conflicts"),
    ("duplicate", "Duplicates"),
    ("invalid", "Invalid"),
    ("internal", "Company and users"),
]
CATEGORY_OF = {
    "add_": "add",
    "optout_skipped": "add",
    "create_": "create",
    "skip_": "skip",
    "link": "link",
    "conflict": "conflict",
    "duplicate": "duplicate",
    "invalid": "invalid",
    "value_error": "invalid",
    "internal_": "internal",
}


def _count_field(string, help_text=None):
    return fields.Integer(string=string, readonly=True, help=help_text)


class MailchimpSyncReview(models.TransientModel):
    """The setup's Review: what the sync's initial run will do, counted by a dry
    run (``engine.review.SyncReview``: reads only, on both sides), with a sample
    of each kind; Start Sync from here."""

    _name = "mailchimp.sync.review"
    _description = "Mailchimp Sync Review"

    pairing_id = fields.Many2one(
        "mailchimp.pairing", required=True, ondelete="cascade", readonly=True
    )
    pairing_state = fields.Selection(related="pairing_id.state")
    direction = fields.Selection(related="pairing_id.direction")
    double_opt_in = fields.Boolean(related="pairing_id.double_opt_in")
    create_missing = fields.Boolean(related="pairing_id.create_missing")
    create_unsubscribed = fields.Boolean(
        related="pairing_id.create_unsubscribed", readonly=False
    )
    create_cleaned = fields.Boolean(related="pairing_id.create_cleaned", readonly=False)
    conflict_winner = fields.Selection(related="pairing_id.conflict_winner")
    optout_policy = fields.Selection(related="pairing_id.optout_new_policy")

    members_count = _count_field("Members read")
    members_subscribed_count = _count_field("Members read: subscribed")
    members_pending_count = _count_field("Members read: pending")
    members_unsubscribed_count = _count_field("Members read: unsubscribed")
    members_cleaned_count = _count_field("Members read: cleaned")
    members_transactional_count = _count_field("Members read: transactional")
    members_archived_count = _count_field("Members read: archived")
    link_count = _count_field(
        "Linked to existing contacts",
        "Members whose address an Odoo contact has: linked, nothing created.",
    )
    link_archived_count = _count_field("Of them archived in Mailchimp")
    create_subscribed_count = _count_field("New contacts: subscribed")
    create_pending_count = _count_field("New contacts: pending")
    create_transactional_count = _count_field("New contacts: transactional")
    create_unsubscribed_count = _count_field("New contacts: unsubscribed")
    create_cleaned_count = _count_field("New contacts: cleaned")
    created_count = fields.Integer(
        string="New contacts in Odoo", compute="_compute_totals"
    )
    skip_off_count = _count_field(
        "The sync creates no contacts", "Create missing records is off."
    )
    skip_archived_count = _count_field("Not created: archived")
    skip_unsubscribed_count = _count_field("Not created: unsubscribed")
    skip_cleaned_count = _count_field("Not created: cleaned")
    skip_forgotten_count = _count_field("Forgotten at the person's request")
    not_created_count = fields.Integer(
        string="Not created in Odoo", compute="_compute_totals"
    )
    conflict_count = _count_field(
        "Contacts in conflict",
        "Linked contacts whose mapped fields hold other values than Mailchimp's: "
        "the sync's conflict rule decides, field by field.",
    )
    conflict_fields_count = _count_field("Fields in conflict")
    segment_count = _count_field(
        "Contacts in the segment", "With a valid email address."
    )
    add_subscribed_count = _count_field("New members: subscribed")
    add_pending_count = _count_field(
        "New members: pending", "Double opt-in: Mailchimp asks them to confirm."
    )
    add_unsubscribed_count = _count_field(
        "New members: unsubscribed (Odoo opt-outs)",
        "On Odoo's email blacklist: added as unsubscribed, never mailed.",
    )
    added_count = fields.Integer(
        string="New members in Mailchimp", compute="_compute_totals"
    )
    optout_skipped_count = _count_field(
        "Opt-outs skipped",
        "On Odoo's email blacklist: not added, as the sync's option says.",
    )
    in_audience_count = _count_field(
        "Already in the audience", "Linked to their member."
    )
    duplicate_count = _count_field(
        "Duplicates",
        "Contacts with the address of another contact, which is synced: reported, "
        "not sent.",
    )
    invalid_count = _count_field("Invalid addresses")
    value_error_count = _count_field("Values Mailchimp refuses", "Reported, not sent.")
    internal_in_segment_count = _count_field(
        "Company and internal users in the segment"
    )
    internal_left_out_count = _count_field("Company and internal users left out")
    seconds = fields.Float(string="Counted in (s)", readonly=True, digits=(16, 1))
    request_count = fields.Integer(string="Mailchimp requests", readonly=True)

    line_ids = fields.One2many("mailchimp.sync.review.line", "review_id")
    add_line_ids = fields.One2many(
        "mailchimp.sync.review.line",
        "review_id",
        domain=[("category", "=", "add")],
        string="To Mailchimp (examples)",
    )
    create_line_ids = fields.One2many(
        "mailchimp.sync.review.line",
        "review_id",
        domain=[("category", "=", "create")],
        string="New contacts (examples)",
    )
    skip_line_ids = fields.One2many(
        "mailchimp.sync.review.line",
        "review_id",
        domain=[("category", "=", "skip")],
        string="Not created (examples)",
    )
    link_line_ids = fields.One2many(
        "mailchimp.sync.review.line",
        "review_id",
        domain=[("category", "=", "link")],
        string="Linked (examples)",
    )
    conflict_line_ids = fields.One2many(
        "mailchimp.sync.review.line",
        "review_id",
        domain=[("category", "=", "conflict")],
        string="Conflicts (examples)",
    )
    duplicate_line_ids = fields.One2many(
        "mailchimp.sync.review.line",
        "review_id",
        domain=[("category", "=", "duplicate")],
        string="Duplicates (examples)",
    )
    invalid_line_ids = fields.One2many(
        "mailchimp.sync.review.line",
        "review_id",
        domain=[("category", "=", "invalid")],
        string="Invalid (examples)",
    )
    internal_line_ids = fields.One2many(
        "mailchimp.sync.review.line",
        "review_id",
        domain=[("category", "=", "internal")],
        string="Company and users (examples)",
    )

    def _compute_totals(self):
        for review in self:
            review.created_count = sum(
                review[f"create_{status}_count"]
                for status in (
                    "subscribed",
                    "pending",
                    "transactional",
                    "unsubscribed",
                    "cleaned",
                )
            )
            review.added_count = (
                review.add_subscribed_count
                + review.add_pending_count
                + review.add_unsubscribed_count
            )
            review.not_created_count = sum(
                review[f"skip_{reason}_count"]
                for reason in (
                    "off",
                    "archived",
                    "unsubscribed",
                    "cleaned",
                    "forgotten",
                )
            )

    # ------------------------------------------------------------------
    # Counting
    # ------------------------------------------------------------------

    def _make(self, pairing):
        """Count now (the dry run) and keep the result in a new review."""
        pairing.ensure_one()
        pairing.check_access("write")
        if pairing.account_id.state != "connected":
            raise UserError(
                self.env._("Connect the sync's Mailchimp account first (Connect).")
            )
        try:
            result = SyncReview(pairing).run()
        except mc_errors.MailchimpError as error:
            raise UserError(
                self.env._(
                    "Mailchimp could not be read for the review: %s",
                    pairing.account_id._mailchimp_error_message(error),
                )
            ) from None
        return self.create(
            {
                "pairing_id": pairing.id,
                "seconds": result.seconds,
                "request_count": result.requests,
                "line_ids": self._lines(result.review),
                **{
                    f"{key}_count": result.review.counts.get(key, 0)
                    for key in COUNT_KEYS
                },
            }
        )

    def _lines(self, review):
        lines, sequence = [], 0
        for key in COUNT_KEYS:
            for sample in review.samples.get(key, ()):
                sequence += 1
                lines.append(
                    Command.create(
                        {
                            "sequence": sequence,
                            "category": _category(key),
                            "partner_id": sample.contact_id or False,
                            "email": sample.email,
                            "status": sample.status or False,
                            "detail": self._detail(key, sample),
                        }
                    )
                )
        return lines

    def _detail(self, key, sample):
        """What happens to a sample's contact or member, in words."""
        _ = self.env._
        args = sample.args
        winner = dict(self._fields["conflict_winner"]._description_selection(self.env))
        texts = {
            "add": lambda: _("New to the audience: added"),
            "optout": lambda: _("On Odoo's email blacklist: added as unsubscribed"),
            "optout_skipped": lambda: _(
                "On Odoo's email blacklist: not added (the sync's option)"
            ),
            "create": lambda: _("No contact has this address: a contact is created"),
            "off": lambda: _("No contact has this address; the sync creates none"),
            "unsubscribed": lambda: _(
                "Unsubscribed, no contact has this address: none created (the "
                "sync's option)"
            ),
            "cleaned": lambda: _(
                "Cleaned, no contact has this address: none created (the sync's "
                "option)"
            ),
            "forgotten": lambda: _(
                "Forgotten at the person's request: neither linked nor created"
            ),
            "link": lambda: _("Same address: linked"),
            "linked_before": lambda: _("Already linked"),
            "conflict": lambda: _(
                "Different values: %(fields)s (%(winner)s)",
                fields=args.get("fields"),
                winner=winner.get(args.get("winner"), ""),
            ),
            "duplicate": lambda: _(
                "Same address as %(name)s (#%(id)s), which is synced",
                name=args.get("winner"),
                id=args.get("winner_id"),
            ),
            "invalid": lambda: _("Not a valid email address"),
            "value_error": lambda: args.get("errors") or "",
        }
        if sample.reason == "archived":
            if key == "link":
                return _("Archived in Mailchimp: linked, left as it is")
            return _("Archived in Mailchimp: no contact created")
        if sample.reason in ("company", "user"):
            who = (
                _("One of your companies")
                if sample.reason == "company"
                else _("An internal user")
            )
            if key == "internal_in_segment":
                return _("%s: in the segment, sent to Mailchimp", who)
            return _("%s: left out of the segment", who)
        return texts[sample.reason]()

    # ------------------------------------------------------------------
    # Buttons
    # ------------------------------------------------------------------

    def action_recount(self):
        """Count again (e.g. after changing an option here)."""
        self.ensure_one()
        return self.pairing_id.action_review()

    def action_start_sync(self):
        """Start the sync as reviewed; the review closes."""
        self.ensure_one()
        action = self.pairing_id.action_start_sync()
        action.setdefault("params", {})["next"] = {
            "type": "ir.actions.act_window_close"
        }
        return action


def _category(key):
    for prefix, category in CATEGORY_OF.items():
        if key == prefix or (prefix.endswith("_") and key.startswith(prefix)):
            return category
    raise KeyError(key)
