# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging
import time
from datetime import datetime, timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools.safe_eval import safe_eval

from ..engine import transactions
from ..engine.run import SyncEngine
from ..engine.transactions import LOCK_SYNC
from ..utils import merge_values

_logger = logging.getLogger(__name__)

DIRECTIONS = [
    ("mailchimp2odoo", "Mailchimp → Odoo"),
    ("odoo2mailchimp", "Odoo → Mailchimp"),
    ("both", "Bidirectional"),
]
DEFAULT_DOMAIN = "[('email', '!=', False)]"
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
    """One Odoo segment of contacts kept in step with one Mailchimp audience."""

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
    direction = fields.Selection(
        DIRECTIONS, required=True, default="both", tracking=True
    )
    create_missing = fields.Boolean(
        string="Create missing records in Odoo",
        help="Contacts that exist only in Mailchimp are created in Odoo.",
        tracking=True,
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
    run_ids = fields.One2many("mailchimp.sync.run", "pairing_id", string="History")
    member_ids = fields.One2many("mailchimp.member", "pairing_id", string="Members")
    tag_rule_ids = fields.One2many("mailchimp.tag.rule", "pairing_id", string="Tags")
    interest_map_ids = fields.One2many(
        "mailchimp.interest.map", "pairing_id", string="Interest Groups"
    )
    member_count = fields.Integer(compute="_compute_counts")
    failure_count = fields.Integer(compute="_compute_counts")

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
        moved = CURSOR_FIELDS.intersection(vals)
        if moved:
            # a run writing here would make a save of the sync's form fail again
            raise ValueError(
                "{}: a sync's run state is written through pairing._sync_cursor(), "
                "never on mailchimp.pairing".format(", ".join(sorted(moved)))
            )
        return super().write(vals)

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
                    ("pairing_id", "in", self.ids),
                    ("run_id", "in", self.last_run_id.ids),
                ],
                ["pairing_id"],
                ["__count"],
            )
        )
        for pairing in self:
            pairing.member_count = members.get(pairing, 0)
            pairing.failure_count = failures.get(pairing, 0)

    @api.onchange("audience_id")
    def _onchange_audience_id(self):
        if self.audience_id and not self.name:
            self.name = self.env._("Contacts ↔ %s", self.audience_id.name)

    # ------------------------------------------------------------------
    # Segment and mapping
    # ------------------------------------------------------------------

    def _segment_domain(self, email=True):
        """The contacts of this sync: the admin's
        domain, the tag, an email, the company.

        ``email=False`` leaves out the condition on a valid address (to report the
        contacts whose email is not one).
        """
        self.ensure_one()
        domain = list(safe_eval(self.partner_domain or "[]"))
        if email:
            domain += [("email_normalized", "!=", False)]
        if self.partner_tag_id:
            domain += [("category_id", "in", self.partner_tag_id.ids)]
        if self.company_id:
            domain += [("company_id", "in", (False, self.company_id.id))]
        return domain

    def action_apply_default_mapping(self):
        """Propose the usual pairs for the audience's
        merge fields; keep existing ones."""
        for pairing in self:
            merge_fields = pairing.audience_id.merge_field_ids
            partner_fields = {
                name: {
                    "type": field.type,
                    "string": field.string,
                    "selection": field._description_selection(self.env)
                    if field.type == "selection"
                    else None,
                }
                for name, field in self.env["res.partner"]._fields.items()
                if field.store
            }
            proposals = merge_values.default_mappings(
                [
                    {
                        "tag": merge_field.tag,
                        "type": merge_field.field_type,
                        "options": merge_field.options or {},
                    }
                    for merge_field in merge_fields
                ],
                partner_fields,
            )
            mapped = set(pairing.field_map_ids.mapped("merge_tag"))
            by_tag = {merge_field.tag: merge_field for merge_field in merge_fields}
            fields_by_name = {
                field.name: field
                for field in self.env["ir.model.fields"].search(
                    [("model", "=", "res.partner")]
                )
            }
            pairing.field_map_ids = [
                fields.Command.create(
                    {
                        "sequence": index,
                        "merge_field_id": by_tag[proposal["merge_tag"]].id,
                        "source_kind": proposal["source_kind"],
                        "odoo_field_id": proposal["source_kind"] == "field"
                        and fields_by_name[proposal["odoo_field"]].id,
                    }
                )
                for index, proposal in enumerate(proposals)
                if proposal["merge_tag"] not in mapped
            ]

    # ------------------------------------------------------------------
    # Running
    # ------------------------------------------------------------------

    def _try_lock(self):
        """The sync's advisory lock (``transactions.LOCK_SYNC``), held across the
        run's chunk commits; PostgreSQL drops it if the process dies."""
        return transactions.try_lock(self.env.cr, LOCK_SYNC, self.id)

    def _unlock(self):
        transactions.unlock(self.env.cr, LOCK_SYNC, self.id)

    def _is_running(self):
        """Whether a run (or a webhook delivery) holds this sync right now, in any
        worker (nothing is locked)."""
        self.ensure_one()
        return transactions.is_locked(self.env.cr, LOCK_SYNC, self.id)

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
        if not self._try_lock():
            _logger.info("Mailchimp sync %s is already running: skipped", self.id)
            return self.env["mailchimp.sync.run"]
        try:
            return self._run_locked(full, trigger, deadline)
        finally:
            self._unlock()

    def _run_locked(self, full, trigger, deadline):
        """run_sync's work, the sync's lock held."""
        run = self._unfinished_run() or self.env["mailchimp.sync.run"].create(
            {
                "pairing_id": self.id,
                "pairing_name": self.name,
                "company_id": self.company_id.id,
                "trigger": trigger,
                "full": full or self._full_sync_due(),
                "direction": self.direction,
            }
        )
        self._sync_cursor().last_run_id = run
        self._after_run(SyncEngine(run, deadline).execute())
        return run

    def _after_run(self, result):
        """What a stopped run asks of the sync (``engine.plans.RunResult``): a
        deleted audience breaks it, a rejected key puts its account in error. These
        rows are people's too: each written in a transaction of its own, after the
        run's, so they can never undo its work."""
        if result.broken_reason:
            reason = result.broken_reason
            self._write_apart(lambda: self._mark_broken(reason))
            self._write_apart(lambda: self.audience_id.write({"active": False}))
        elif result.auth_error:
            message = result.auth_error
            self._write_apart(lambda: self.account_id._set_error(message))

    def _full_sync_due(self):
        """A full read now and then: only it sees
        members archived or deleted in Mailchimp."""
        state = self._sync_cursor()
        if not state.initial_done or not state.last_full_sync_date:
            return True
        due = state.last_full_sync_date + timedelta(days=self.full_sync_days)
        return bool(self.full_sync_days) and fields.Datetime.now() >= due

    def _unfinished_run(self):
        """Holding the lock, a run still "running" was interrupted: go on with it."""
        return self.env["mailchimp.sync.run"].search(
            [("pairing_id", "=", self.id), ("state", "=", "running")],
            order="id desc",
            limit=1,
        )

    def action_setup_next(self):
        """Configure -> Field Mapping (prefilled with defaults) -> Review."""
        for pairing in self:
            if pairing.setup_step == "configure":
                if not pairing.field_map_ids:
                    pairing.action_apply_default_mapping()
                pairing.setup_step = "mapping"
            elif pairing.setup_step == "mapping":
                pairing.field_map_ids._check_compatible()
                pairing.setup_step = "review"

    def action_setup_back(self):
        steps = {"review": "mapping", "mapping": "configure"}
        for pairing in self:
            pairing.setup_step = steps.get(pairing.setup_step, "configure")

    def action_start_sync(self):
        """Activate the sync and run its initial sync in the background."""
        for pairing in self:
            if not pairing.field_map_ids:
                pairing.action_apply_default_mapping()
            pairing.write({"state": "active", "broken_reason": False})
        return self.action_sync_now()

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
        running = self.filtered(lambda pairing: pairing._is_running())
        self.write({"sync_requested": True})
        self.env.ref("mailchimp_connector.ir_cron_mailchimp_sync")._trigger()
        Account = self.env["mailchimp.account"]
        if running:
            return Account._notification(
                self.env._(
                    "%(syncs)s: already running; its progress shows in its history. It "
                    "runs once more as soon as this run ends, to take up what changed "
                    "meanwhile.",
                    syncs=", ".join(running.mapped("name")),
                ),
                "info",
            )
        return Account._notification(
            self.env._("The sync has started; its progress shows in its history.")
        )

    def action_pause(self):
        self.write({"state": "paused", "sync_requested": False})

    def action_resume(self):
        self.write({"state": "active", "broken_reason": False})

    def _interests_remapped(self):
        """The interest mapping changed (F14): the next run compares every contact of
        the segment once, not only those changed since the last run. Asked on the
        pairing (the run's watermark is the run's to write): a push mark older than
        this request no longer counts."""
        self.write({"odoo_rescan_date": fields.Datetime.now()})

    def _mark_broken(self, reason):
        self.write(
            {"state": "broken", "broken_reason": reason, "sync_requested": False}
        )
        self.message_post(body=reason)

    def _write_apart(self, function):
        """Run ``function``, which writes rows people or other jobs also write, in a
        transaction of its own (``transactions.write_concurrently``)."""
        return transactions.write_concurrently(self.env, function, self.ids)

    @api.model
    def _cron_sync(self):
        """Run the syncs that are due, asked for or unfinished, within a time budget.

        A pass stops before Odoo's worker time limit; an unfinished run is
        taken up by the next pass, which the cron schedules at once. A sync that
        a run or a webhook delivery holds is left to the next pass (its request
        kept); the pass's own writes on a sync (its request taken, its next
        time) go in a transaction of their own, tried again if a person saves
        the sync at that instant.
        """
        budget = float(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("mailchimp_connector.cron_time_budget", "60")
        )
        deadline = time.monotonic() + budget
        now = fields.Datetime.now()
        pairings = self.search(
            [
                ("state", "=", "active"),
                ("account_id.state", "=", "connected"),
                "|",
                "|",
                ("sync_requested", "=", True),
                ("sync_cursor_ids.last_run_id.state", "=", "running"),
                "|",
                ("sync_cursor_ids.next_sync_date", "=", False),
                ("sync_cursor_ids.next_sync_date", "<=", now),
            ]
        ).sorted(
            lambda p: (not p.sync_requested, p.next_sync_date or datetime.min, p.id)
        )
        cron = self.env["ir.cron"]
        for done, pairing in enumerate(pairings):
            if not pairing._try_lock():
                _logger.info(
                    "Mailchimp sync %s is busy: left to the next pass", pairing.id
                )
                pairing._retrigger()
                continue
            try:
                if pairing.last_run_id.state != "running" and not pairing._write_apart(
                    lambda pairing=pairing: pairing._take_request(now)
                ):
                    pairing._retrigger()
                    continue
                pairing.invalidate_recordset(["state"])
                if pairing.state != "active":  # paused or broken since the pass began
                    continue
                run = pairing._run_locked(False, "cron", deadline)
            finally:
                pairing._unlock()
            unfinished = run.state == "running"
            remaining = len(pairings) - done - (0 if unfinished else 1)
            cron._notify_progress(
                done=done + (0 if unfinished else 1), remaining=remaining
            )
            if unfinished or time.monotonic() > deadline:
                break

    def _retrigger(self, at=None):
        """Have the scheduler come back for this sync (in a minute by default)."""
        self.env.ref("mailchimp_connector.ir_cron_mailchimp_sync")._trigger(
            at or fields.Datetime.now() + timedelta(minutes=1)
        )

    def _take_request(self, now):
        """Before a new run: its request is taken (the pairing is written only when
        there was one) and the next one is due an interval later."""
        if self.sync_requested:
            self.sync_requested = False
        self._sync_cursor().next_sync_date = now + timedelta(hours=self.sync_interval)

    # ------------------------------------------------------------------
    # Screens
    # ------------------------------------------------------------------

    def _action_for(self, xml_id, **extra):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(xml_id)
        action.update(extra)
        return action

    def action_view_members(self):
        return self._action_for(
            "mailchimp_connector.mailchimp_member_action",
            domain=[("pairing_id", "=", self.id)],
            context={"default_pairing_id": self.id},
        )

    def action_view_field_mapping(self):
        return self._action_for(
            "mailchimp_connector.mailchimp_field_map_action",
            domain=[("pairing_id", "=", self.id)],
            context={"default_pairing_id": self.id},
        )

    def action_view_history(self):
        return self._action_for(
            "mailchimp_connector.mailchimp_sync_run_action",
            domain=[("pairing_id", "=", self.id)],
        )

    def action_view_failures(self):
        return self._action_for(
            "mailchimp_connector.mailchimp_sync_failure_action",
            domain=[("pairing_id", "=", self.id)],
        )

    def action_export_failures(self):
        """Download the failed records of this sync as CSV."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_url",
            "url": f"/mailchimp/pairing/{self.id}/failures.csv",
            "target": "download",
        }
