# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import ast
from contextlib import suppress

from odoo import Command, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.osv import expression
from odoo.tools import SQL, sql
from odoo.tools.safe_eval import safe_eval

from ..engine import scheduler, webhooks
from .mailchimp_account import MANAGER_GROUP

DIRECTIONS = [
    ("mailchimp2odoo", "Mailchimp → Odoo"),
    ("odoo2mailchimp", "Odoo → Mailchimp"),
    ("both", "Bidirectional"),
]
# contacts with an email, but not your companies nor your internal users (their
# partners are no marketing contacts: res.partner.mailchimp_is_internal)
DEFAULT_DOMAIN = "[('email', '!=', False), ('mailchimp_is_internal', '=', False)]"
# the default segment of syncs made before the one above: changed to it on upgrade
OLD_DEFAULT_DOMAIN = [("email", "!=", False)]

# what runs and the scheduler write: on mailchimp.pairing.cursor, never on the pairing
CURSOR_FIELDS = frozenset(
    {
        "mailchimp_watermark",
        "odoo_watermark",
        "initial_done",
        "last_sync_date",
        "last_full_sync_date",
        "last_run_id",
        "next_sync_date",
        "retry_count",
        "stopped_by",
        "retry_reason",
    }
)


class MailchimpPairing(models.Model):
    """One Odoo segment of contacts kept in step with one Mailchimp audience: the
    sync's settings (segment, direction, mapping, consent options, webhook) and
    its entry points (buttons, the scheduler). The work, webhook deliveries
    included, is the sync engine's (``engine/``)."""

    _name = "mailchimp.pairing"
    _description = "Mailchimp Sync"
    _inherit = ["mail.thread"]
    _order = "sequence, id"

    name = fields.Char(required=True, tracking=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    account_id = fields.Many2one(
        "mailchimp.account",
        required=True,
        ondelete="restrict",
        domain="[('state', '=', 'connected')]",
        tracking=True,
    )
    company_id = fields.Many2one(
        related="account_id.company_id", store=True, index=True
    )
    audience_id = fields.Many2one(
        "mailchimp.audience",
        string="Mailchimp Audience",
        required=True,
        ondelete="restrict",
        domain="[('account_id', '=', account_id)]",
        tracking=True,
    )
    partner_domain = fields.Char(
        string="Odoo Segment",
        default=DEFAULT_DOMAIN,
        required=True,
        help="Which contacts belong to this sync. Contacts without an email never do.",
    )
    partner_tag_id = fields.Many2one(
        "res.partner.category",
        string="Contact Tag",
        help="Optional: only contacts carrying this tag.",
    )
    added_partner_ids = fields.Many2many(
        "res.partner",
        "mailchimp_pairing_added_partner_rel",
        "pairing_id",
        "partner_id",
        string="Added Contacts",
        help="Contacts added to this sync one by one (Add to Mailchimp…), whether or "
        "not the segment's domain and tag match them. They still need a valid email "
        "and the sync's company.",
    )
    direction = fields.Selection(
        DIRECTIONS, required=True, default="both", tracking=True
    )
    create_missing = fields.Boolean(
        string="Create missing records in Odoo",
        help="Contacts that exist only in Mailchimp are created in Odoo.",
        tracking=True,
    )
    create_unsubscribed = fields.Boolean(
        string="Also for unsubscribed members",
        tracking=True,
        help="Create a contact for a member who unsubscribed in Mailchimp when no "
        "contact has the address. Off: no new contact for them (an existing contact "
        "with the address is still linked, with its status).",
    )
    create_cleaned = fields.Boolean(
        string="Also for cleaned members",
        tracking=True,
        help="Create a contact for a member Mailchimp cleaned (the address bounced "
        "or is invalid) when no contact has the address. Off: no new contact for "
        "them (an existing contact with the address is still linked, with its "
        "status).",
    )
    default_owner_id = fields.Many2one(
        "res.users",
        string="Default Owner",
        domain="[('share', '=', False)]",
        help="Salesperson set on contacts created from Mailchimp.",
    )
    conflict_winner = fields.Selection(
        [("odoo", "Odoo wins"), ("mailchimp", "Mailchimp wins")],
        string="On conflict",
        required=True,
        default="odoo",
        help="When a mapped field changed on both sides since the last sync.",
        tracking=True,
    )
    double_opt_in = fields.Boolean(
        help="New members get a confirmation email (status pending) instead of being "
        "subscribed directly.",
    )
    field_map_ids = fields.One2many(
        "mailchimp.field.map", "pairing_id", string="Field Mapping"
    )
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("active", "Active"),
            ("paused", "Paused"),
            ("broken", "Broken"),
        ],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
        tracking=True,
    )
    broken_reason = fields.Text(readonly=True, copy=False)
    setup_step = fields.Selection(
        [
            ("configure", "Configure"),
            ("mapping", "Field Mapping"),
            ("review", "Review"),
        ],
        default="configure",
        copy=False,
    )
    sync_interval = fields.Integer(
        string="Sync every (hours)",
        default=1,
        help="How often the scheduler runs this sync.",
    )
    sync_requested = fields.Boolean(readonly=True, copy=False)
    odoo_rescan_date = fields.Datetime(
        readonly=True,
        copy=False,
        help="What Odoo sends changed (e.g. the interest mapping): the next run "
        "compares every contact of the segment.",
    )
    # the run-written state lives on its own row
    # (see _sync_cursor); shown here read-only
    sync_cursor_ids = fields.One2many(
        "mailchimp.pairing.cursor", "pairing_id", readonly=True
    )
    next_sync_date = fields.Datetime(
        related="sync_cursor_ids.next_sync_date", string="Next Sync"
    )
    initial_done = fields.Boolean(related="sync_cursor_ids.initial_done")
    mailchimp_watermark = fields.Char(related="sync_cursor_ids.mailchimp_watermark")
    odoo_watermark = fields.Datetime(
        related="sync_cursor_ids.odoo_watermark", readonly=True
    )
    last_sync_date = fields.Datetime(related="sync_cursor_ids.last_sync_date")
    last_full_sync_date = fields.Datetime(related="sync_cursor_ids.last_full_sync_date")
    retry_count = fields.Integer(related="sync_cursor_ids.retry_count")
    stopped_by = fields.Selection(related="sync_cursor_ids.stopped_by")
    retry_reason = fields.Text(related="sync_cursor_ids.retry_reason")
    full_sync_days = fields.Integer(
        string="Full sync every (days)",
        default=7,
        help="Incremental runs cannot see members archived or deleted in Mailchimp; a "
        "full run reads the whole audience. 0: never after the first one.",
    )
    last_run_id = fields.Many2one(
        related="sync_cursor_ids.last_run_id", string="Last Run"
    )
    last_run_state = fields.Selection(
        related="last_run_id.state", string="Last Run Status"
    )
    # the current or last run's progress, on the sync's form and in the list
    last_run_stage = fields.Selection(related="last_run_id.stage", string="Stage")
    last_run_percent = fields.Float(
        related="last_run_id.progress_percent", string="Progress (%)"
    )
    last_run_progress = fields.Char(
        related="last_run_id.progress_text", string="Processed"
    )
    last_run_time_left = fields.Char(related="last_run_id.time_left")
    run_ids = fields.One2many("mailchimp.sync.run", "pairing_id", string="History")
    member_ids = fields.One2many("mailchimp.member", "pairing_id", string="Members")
    tag_rule_ids = fields.One2many("mailchimp.tag.rule", "pairing_id", string="Tags")
    interest_map_ids = fields.One2many(
        "mailchimp.interest.map", "pairing_id", string="Interest Groups"
    )
    member_count = fields.Integer(compute="_compute_counts")
    failure_count = fields.Integer(
        compute="_compute_counts",
        string="Errors",
        help="Records the sync's last finished run (Start Sync, Sync Now or "
        "scheduled) could not sync; skipped ones are not errors. A run in progress "
        "does not change it until it ends.",
    )
    # consent: Odoo's email blacklist (F16), Odoo opt-outs, GDPR marketing permissions
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

    # real-time updates (F19): a webhook on the audience
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

    def _auto_init(self):
        """An upgrade adds "Odoo opt-outs unsubscribe in Mailchimp" switched off on the
        existing syncs, which were set up under "Odoo's blacklist is never sent to
        Mailchimp" (an unsubscribe is something Odoo can never undo); new syncs get it
        on (its default). Likewise the existing syncs keep creating contacts for
        unsubscribed and cleaned members as they did (new syncs do not, by default),
        and those on the old default segment get the new one, which leaves out your
        companies and internal users (a segment of one's own is kept)."""
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
        if sql.table_exists(cr, self._table) and not sql.column_exists(
            cr, self._table, "create_unsubscribed"
        ):
            for name in ("create_unsubscribed", "create_cleaned"):
                sql.create_column(cr, self._table, name, "boolean")
            cr.execute(
                SQL(
                    "UPDATE %s SET create_unsubscribed = TRUE, create_cleaned = TRUE",
                    SQL.identifier(self._table),
                )
            )
            self._upgrade_default_domain()
        return super()._auto_init()

    def _upgrade_default_domain(self):
        """The syncs on the old default segment (contacts with an email) get the
        new one; any other segment is the administrator's and stays."""
        cr = self.env.cr
        cr.execute(
            SQL("SELECT id, partner_domain FROM %s", SQL.identifier(self._table))
        )
        old = []
        for pairing_id, domain in cr.fetchall():
            with suppress(ValueError, SyntaxError, TypeError):
                if [tuple(leaf) for leaf in ast.literal_eval(domain or "[]")] == (
                    OLD_DEFAULT_DOMAIN
                ):
                    old.append(pairing_id)
        if old:
            cr.execute(
                SQL(
                    "UPDATE %s SET partner_domain = %s WHERE id = ANY(%s)",
                    SQL.identifier(self._table),
                    DEFAULT_DOMAIN,
                    old,
                )
            )

    @api.constrains("create_missing", "default_owner_id", "direction")
    def _check_default_owner(self):
        for pairing in self:
            if pairing.create_missing and not pairing.default_owner_id:
                raise ValidationError(
                    self.env._(
                        "Choose a Default Owner: contacts created from Mailchimp need "
                        "one."
                    )
                )

    @api.constrains("account_id", "audience_id")
    def _check_audience_account(self):
        for pairing in self:
            if pairing.audience_id.account_id != pairing.account_id:
                raise ValidationError(
                    self.env._(
                        "The audience must belong to the sync's Mailchimp account."
                    )
                )

    @api.constrains("partner_domain")
    def _check_partner_domain(self):
        for pairing in self:
            try:
                pairing._segment_domain()
                self.env["res.partner"].search_count(pairing._segment_domain(), limit=1)
            except Exception as error:  # any bad domain is the admin's to fix
                raise ValidationError(
                    self.env._("The Odoo segment is not a valid domain: %s", error)
                ) from None

    @api.constrains("sync_interval")
    def _check_sync_interval(self):
        if any(pairing.sync_interval < 1 for pairing in self):
            raise ValidationError(self.env._("Sync at most once an hour per sync."))

    @api.model_create_multi
    def create(self, vals_list):
        """Each sync gets its state row; initial state values may be given here."""
        states = [
            {name: vals.pop(name) for name in list(vals) if name in CURSOR_FIELDS}
            for vals in vals_list
        ]
        pairings = super().create(vals_list)
        self.env["mailchimp.pairing.cursor"].sudo().create(
            [
                dict(state, pairing_id=pairing.id)
                for pairing, state in zip(pairings, states, strict=True)
            ]
        )
        return pairings

    def write(self, vals):
        if "blacklist_mirror" in vals and not vals["blacklist_mirror"]:
            # turned on again later: the next run mirrors what it knows by then
            vals = dict(vals, blacklist_backfilled=False, blacklist_unmirror=False)
        moved = CURSOR_FIELDS.intersection(vals)
        if moved:
            # a run writing here would make a save of the sync's form fail again
            raise ValueError(
                "{}: a sync's run state is written through pairing._sync_cursor(), "
                "never on mailchimp.pairing".format(", ".join(sorted(moved)))
            )
        return super().write(vals)

    def unlink(self):
        registered = self.filtered("webhook_id")
        if registered:
            # never remove the webhook of a sync the user may not delete
            registered.check_access("unlink")
            registered._webhook_unregister()
        return super().unlink()

    def export_data(self, fields_to_export):
        if any(path.split("/")[0] == "webhook_token" for path in fields_to_export):
            raise UserError(self.env._("Webhook secrets cannot be exported."))
        return super().export_data(fields_to_export)

    def _sync_cursor(self):
        """The sync's run-written state (``mailchimp.pairing.cursor``): watermarks
        (``mailchimp_watermark``, ``odoo_watermark``), ``initial_done``,
        ``last_sync_date``, ``last_full_sync_date``, ``last_run_id``,
        ``next_sync_date`` and the retry streak. Runs and the scheduler read and
        write these there, never on the pairing, whose row the form and Sync Now
        write: e.g. ``state = pairing._sync_cursor(); since = state.mailchimp_watermark;
        state.mailchimp_watermark = watermark``, committed with the chunk it covers.
        """
        self.ensure_one()
        state = self.sync_cursor_ids[:1]
        if not state:  # a sync made without create() (e.g. in SQL): made on first use
            state = (
                self.env["mailchimp.pairing.cursor"]
                .sudo()
                .create({"pairing_id": self.id})
            )
            state = state.with_env(self.env)
            self.invalidate_recordset(["sync_cursor_ids"])
        return state

    def _compute_counts(self):
        members = dict(
            self.env["mailchimp.member"]._read_group(
                [("pairing_id", "in", self.ids)], ["pairing_id"], ["__count"]
            )
        )
        failures = dict(
            self.env["mailchimp.sync.failure"]._read_group(
                [
                    ("run_id", "in", list(self._last_finished_runs().values())),
                    ("kind", "=", "failed"),
                ],
                ["pairing_id"],
                ["__count"],
            )
        )
        for pairing in self:
            pairing.member_count = members.get(pairing, 0)
            pairing.failure_count = failures.get(pairing, 0)

    def _last_finished_runs(self):
        """{pairing: id of its last run of the whole sync that ended}: neither the
        day's webhook entry nor runs of selected contacts (one query for all)."""
        return dict(
            self.env["mailchimp.sync.run"]._read_group(
                [
                    ("pairing_id", "in", self.ids),
                    ("state", "!=", "running"),
                    ("trigger", "in", ("manual", "cron")),
                ],
                ["pairing_id"],
                ["id:max"],
            )
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

    @api.onchange("audience_id")
    def _onchange_audience_id(self):
        if self.audience_id and not self.name:
            self.name = self.env._("Contacts ↔ %s", self.audience_id.name)

    # ------------------------------------------------------------------
    # Segment and mapping
    # ------------------------------------------------------------------

    def _segment_domain(self, email=True):
        """The contacts of this sync: the admin's domain and the tag, or the
        contacts added one by one; then an email, the company.

        ``email=False`` leaves out the condition on a valid address (to report the
        contacts whose email is not one).
        """
        self.ensure_one()
        domain = list(safe_eval(self.partner_domain or "[]"))
        if self.partner_tag_id:
            domain += [("category_id", "in", self.partner_tag_id.ids)]
        if self.added_partner_ids and domain:  # an empty domain has them already
            domain = expression.OR([domain, [("id", "in", self.added_partner_ids.ids)]])
        if email:
            domain += [("email_normalized", "!=", False)]
        if self.company_id:
            domain += [("company_id", "in", (False, self.company_id.id))]
        domain += [("mailchimp_forgotten", "=", False)]
        return domain

    def action_apply_default_mapping(self):
        """Propose the usual pairs for the audience's
        merge fields; keep existing ones."""
        for pairing in self:
            self.env["mailchimp.field.map"]._add_defaults(pairing)

    # ------------------------------------------------------------------
    # Running
    # ------------------------------------------------------------------

    def run_sync(self, full=False, trigger="manual", deadline=None):
        """Run one complete sync of this pairing in this process.

        Returns the ``mailchimp.sync.run``, or an empty recordset when another
        sync of the same pairing is running (two never run at once). A run cut
        off earlier (a crash, or ``deadline``, a ``time.monotonic()`` value, in
        a cron pass) is taken up where its last committed chunk left it. The
        run is returned still "running" when ``deadline`` came first, or when a
        Mailchimp /batches job outlasted the wait (10 minutes without deadline).
        """
        self.ensure_one()
        if self.state not in ("draft", "active"):
            raise UserError(
                self.env._(
                    "The sync %(name)s is %(state)s.", name=self.name, state=self.state
                )
            )
        return scheduler.run_sync(self, full, trigger, deadline)

    def _mailchimp_run_in_background(self):
        """Have these syncs' work start in the background (Sync Now, a deferred
        webhook delivery): here the scheduler, woken now, runs them; the
        ``mailchimp_connector_queue`` addon queues them as jobs instead."""
        if self:
            self.env.ref(scheduler.CRON_XMLID)._trigger()

    @api.model
    def _cron_sync(self):
        """The scheduler's pass: the syncs that are due, within a time budget
        (``engine.scheduler.cron_pass``)."""
        scheduler.cron_pass(self)

    def action_setup_next(self):
        """Configure -> Field Mapping (prefilled with defaults) -> Review, which
        opens the dry run's counts (``action_review``)."""
        reviewed = self.browse()
        for pairing in self:
            if pairing.setup_step == "configure":
                if not pairing.field_map_ids:
                    pairing.action_apply_default_mapping()
                pairing.setup_step = "mapping"
            elif pairing.setup_step == "mapping":
                pairing.field_map_ids._check_compatible()
                pairing.setup_step = "review"
                reviewed |= pairing
        if len(reviewed) == 1 and reviewed.account_id.state == "connected":
            return reviewed.action_review()
        return True

    def action_review(self):
        """The Review: what the initial sync will do, counted by a dry run that
        reads Mailchimp and Odoo and writes nothing in either
        (``mailchimp.sync.review``)."""
        self.ensure_one()
        review = self.env["mailchimp.sync.review"]._make(self)
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Review: what the sync will do"),
            "res_model": "mailchimp.sync.review",
            "res_id": review.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "new",
            "context": {"dialog_size": "extra-large"},
        }

    def action_setup_back(self):
        steps = {"review": "mapping", "mapping": "configure"}
        for pairing in self:
            pairing.setup_step = steps.get(pairing.setup_step, "configure")

    def action_start_sync(self):
        """Activate the sync, run its initial sync in the background and register
        its webhook (real-time updates; a failure is said, the sync runs anyway)."""
        for pairing in self:
            if not pairing.field_map_ids:
                pairing.action_apply_default_mapping()
            pairing.write({"state": "active", "broken_reason": False})
        result = self.action_sync_now()
        errors = self._webhook_register()
        if errors:
            return self.env["mailchimp.account"]._notification(
                self.env._(
                    "The sync has started; its progress shows on the sync as it goes. "
                    "Real-time updates are off: %s",
                    "; ".join(errors),
                ),
                "warning",
            )
        return result

    def action_sync_now(self):
        """Ask the scheduler to run these syncs now; the browser does not wait.

        A sync a run holds at this moment is not started twice: the notification
        says it is running, and the scheduler runs it once more when that run
        ends, for what changed meanwhile.
        """
        self.check_access("write")
        if any(pairing.state == "broken" for pairing in self):
            raise UserError(
                self.env._(
                    "Repair the broken sync first (see its message), then resume it."
                )
            )
        running = scheduler.request(self)
        Account = self.env["mailchimp.account"]
        if running:
            return Account._notification(
                self.env._(
                    "%(syncs)s: already running; its progress shows on the sync as "
                    "it goes. It runs once more as soon as this run ends, to take up "
                    "what changed meanwhile.",
                    syncs=", ".join(running.mapped("name")),
                ),
                "info",
            )
        return Account._notification(
            self.env._(
                "The sync has started; its progress shows on the sync as it goes."
            )
        )

    def _add_contacts(self, partners):
        """Add ``partners`` to this sync's segment (its added contacts, apart from
        its domain) and send them at once in the background: one run limited to
        them, in bulk, in the sync's history. A sync not started yet sends them
        with its initial sync. Returns the run (none for a draft sync)."""
        self.ensure_one()
        self.check_access("write")
        if self.state not in ("draft", "active") or self.direction == "mailchimp2odoo":
            raise UserError(
                self.env._(
                    "Contacts can only be added to an active or draft sync that sends "
                    "to Mailchimp; %s is not one.",
                    self.name,
                )
            )
        self.write({"added_partner_ids": [Command.link(pid) for pid in partners.ids]})
        if self.state != "active" or not partners:
            return self.env["mailchimp.sync.run"]
        return scheduler.request_contacts(self, partners, direction="odoo2mailchimp")

    def _sync_contacts(self, partners):
        """Sync ``partners`` now, both ways as each of these syncs says, in the
        background: per sync, one run limited to those of its segment or linked to
        it (two queries per sync). Returns the runs."""
        self.check_access("write")
        runs = self.env["mailchimp.sync.run"]
        for pairing in self.filtered(
            lambda p: p.state == "active" and p.account_id.state == "connected"
        ):
            linked = self.env["mailchimp.member"].search(
                [("pairing_id", "=", pairing.id), ("partner_id", "in", partners.ids)]
            )
            ours = linked.partner_id | self.env["res.partner"].with_context(
                active_test=False
            ).search(pairing._segment_domain() + [("id", "in", partners.ids)])
            if ours:
                runs |= scheduler.request_contacts(pairing, ours)
        return runs

    def action_pause(self):
        self.write({"state": "paused", "sync_requested": False})
        self._webhook_unregister()

    def action_resume(self):
        self.write({"state": "active", "broken_reason": False})
        self.filtered(lambda p: p.state == "active")._webhook_register()

    def _interests_remapped(self):
        """The interest mapping changed (F14): the next run compares every contact of
        the segment once, not only those changed since the last run. Asked on the
        pairing (the run's watermark is the run's to write): a push mark older than
        this request no longer counts."""
        self.write({"odoo_rescan_date": fields.Datetime.now()})

    # ------------------------------------------------------------------
    # Webhooks (F19): registration (deliveries: ``engine.webhooks.receive``)
    # ------------------------------------------------------------------

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

    def _webhook_register(self):
        """Register (or replace) the webhooks; returns the problems, each also
        recorded on its sync (``engine.webhooks.register``)."""
        return webhooks.register(self)

    def _webhook_unregister(self):
        """Remove the webhooks and forget their secrets; returns the messages of
        those left in Mailchimp (``engine.webhooks.unregister``)."""
        return webhooks.unregister(self)

    # ------------------------------------------------------------------
    # Screens
    # ------------------------------------------------------------------

    def _action_for(self, xml_id, default=False):
        """The action ``xml_id`` on this sync's records (``default``: new ones
        belong to it too)."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            f"mailchimp_connector.{xml_id}"
        )
        action["domain"] = [("pairing_id", "=", self.id)]
        if default:
            action["context"] = {"default_pairing_id": self.id}
        return action

    def action_view_members(self):
        return self._action_for("mailchimp_member_action", default=True)

    def action_view_field_mapping(self):
        return self._action_for("mailchimp_field_map_action", default=True)

    def action_view_history(self):
        return self._action_for("mailchimp_sync_run_action")

    def action_view_failures(self):
        """The sync's failed records, those of the run its Errors count first."""
        action = self._action_for("mailchimp_sync_failure_action")
        last = self._last_finished_runs().get(self)
        action["context"] = {"search_default_failed": 1}
        if last:
            action["context"]["search_default_run_id"] = last
        return action

    def action_export_failures(self):
        """Download the failed records of this sync as CSV."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_url",
            "url": f"/mailchimp/pairing/{self.id}/failures.csv",
            "target": "download",
        }
