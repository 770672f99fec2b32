# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
import logging
from urllib.parse import urlsplit

from odoo import Command, api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..engine.activity import ActivityPull
from ..utils import mailchimp_errors as mc_errors
from ..utils.mailchimp_client import DEFAULT_BASE_URL, MailchimpClient
from ..utils.mailchimp_keys import parse_api_key

_logger = logging.getLogger(__name__)

MANAGER_GROUP = "mailchimp_connector.group_mailchimp_manager"
SECRET_FIELDS = ("api_key",)
# Connect and Reauthorize: seconds to open the connection, and no second try after a
# failed connection (a wrong or unreachable host is said at once)
CHECK_CONNECT_TIMEOUT = 5


class MailchimpAccount(models.Model):
    """A Mailchimp account reached with one API key.

    The key is a secret: only Mailchimp administrators can read or write it, it
    is never tracked, exported or logged, and it is wiped on neutralization.
    """

    _name = "mailchimp.account"
    _description = "Mailchimp Account"
    _inherit = ["mail.thread"]
    _order = "name, id"

    name = fields.Char(required=True, tracking=True)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one(
        "res.company",
        required=True,
        default=lambda self: self.env.company,
        tracking=True,
    )
    api_key = fields.Char(
        string="API Key",
        groups=MANAGER_GROUP,
        copy=False,
        exportable=False,
        help="A Mailchimp API key: 32 characters, a dash, then the data center "
        "(for example ...-us6). Create one in Mailchimp under Profile > Extras > "
        "API keys.",
    )
    api_base_url = fields.Char(
        string="API Base URL",
        groups=MANAGER_GROUP,
        copy=False,
        help="Advanced: leave empty to use https://<dc>.api.mailchimp.com/3.0. "
        "'{dc}' is replaced by the key's data center (the sandbox uses "
        "http://localhost:8090/{dc}/3.0).",
    )
    data_center = fields.Char(compute="_compute_data_center", store=True)
    request_timeout = fields.Integer(
        default=60,
        groups=MANAGER_GROUP,
        help="Seconds to wait for an answer from Mailchimp before giving up.",
    )
    max_connections = fields.Integer(
        default=10,
        groups=MANAGER_GROUP,
        help="Simultaneous connections to Mailchimp (Mailchimp allows 10 per user).",
    )
    # what Mailchimp was seen doing where its documentation is silent, learnt by the
    # syncs so that later runs pay nothing for not knowing it: {"since_last_changed":
    # "inclusive"} once a member of the very second asked from was listed
    since_semantics = fields.Json(readonly=True, copy=False, groups=MANAGER_GROUP)
    state = fields.Selection(
        [("draft", "Not connected"), ("connected", "Connected"), ("error", "Error")],
        default="draft",
        required=True,
        readonly=True,
        copy=False,
        tracking=True,
    )
    last_error = fields.Text(readonly=True, copy=False)
    last_error_date = fields.Datetime(readonly=True, copy=False)
    connected_date = fields.Datetime(string="Connected On", readonly=True, copy=False)
    mailchimp_account_id = fields.Char(
        string="Mailchimp Account ID", readonly=True, copy=False
    )
    mailchimp_account_name = fields.Char(readonly=True, copy=False)
    mailchimp_login_email = fields.Char(readonly=True, copy=False)
    total_subscribers = fields.Integer(readonly=True, copy=False)
    audience_ids = fields.One2many("mailchimp.audience", "account_id")
    audience_count = fields.Integer(compute="_compute_audience_count")
    pairing_count = fields.Integer(
        string="Syncs", compute="_compute_pairing_count", compute_sudo=True
    )

    _sql_constraints = [
        (
            "mailchimp_account_company_uniq",
            "unique(mailchimp_account_id, company_id)",
            "This Mailchimp account is already connected in this company.",
        ),
    ]

    @api.depends("api_key")
    def _compute_data_center(self):
        for account in self:
            key = account.sudo().api_key
            try:
                account.data_center = parse_api_key(key) if key else False
            except mc_errors.MailchimpConfigError:
                account.data_center = False

    def _compute_audience_count(self):
        counts = dict(
            self.env["mailchimp.audience"]._read_group(
                [("account_id", "in", self.ids)], ["account_id"], ["__count"]
            )
        )
        for account in self:
            account.audience_count = counts.get(account, 0)

    def _compute_pairing_count(self):
        counts = dict(
            self.env["mailchimp.pairing"]
            .with_context(active_test=False)
            ._read_group([("account_id", "in", self.ids)], ["account_id"], ["__count"])
        )
        for account in self:
            account.pairing_count = counts.get(account, 0)

    @api.constrains("max_connections")
    def _check_max_connections(self):
        for account in self.sudo():
            if not 1 <= account.max_connections <= 10:
                raise ValidationError(
                    self.env._("Simultaneous connections must be between 1 and 10.")
                )

    def export_data(self, fields_to_export):
        if any(path.split("/")[0] in SECRET_FIELDS for path in fields_to_export):
            raise UserError(self.env._("API keys cannot be exported."))
        return super().export_data(fields_to_export)

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("api_key"):
                vals["api_key"] = vals["api_key"].strip()
        return super().create(vals_list)

    def write(self, vals):
        if "api_key" in vals:
            vals = dict(vals, api_key=(vals["api_key"] or "").strip() or False)
            if not self.env.context.get("mailchimp_key_verified"):
                # an unverified key is not a connection: Connect must check it first
                vals.setdefault("state", "draft")
        return super().write(vals)

    # ------------------------------------------------------------------
    # Client and errors
    # ------------------------------------------------------------------

    def _get_client(self, api_key=None, checking=False):
        """A fresh client for this account, never cached across key changes.

        ``checking``: for Connect and Reauthorize, where a person waits: a short
        connection timeout and no second try after a failed connection or a
        timeout, so that a wrong or unreachable host is said at once.
        """
        self.ensure_one()
        account = self.sudo()
        key = api_key or account.api_key
        if not key:
            raise UserError(self.env._("Enter the Mailchimp API key first."))
        timeout = account.request_timeout or 60
        return MailchimpClient(
            key,
            base_url=account.api_base_url or None,
            timeout=(min(CHECK_CONNECT_TIMEOUT, timeout), timeout)
            if checking
            else timeout,
            max_connections=account.max_connections or 10,
            # one call retries 429/5xx/network errors for this long, however many
            # attempts it takes (no attempt cap)
            max_retry_seconds=self._max_retry_seconds(),
            retry_network_errors=not checking,
        )

    def _api_host(self, api_key=None):
        """The host (and port) the account's requests go to, for messages."""
        self.ensure_one()
        account = self.sudo()
        url = (account.api_base_url or DEFAULT_BASE_URL).strip()
        try:
            data_center = parse_api_key(api_key or account.api_key or "")
        except mc_errors.MailchimpConfigError:
            data_center = "{dc}"  # a malformed key: the address as configured
        url = url.replace("{dc}", data_center)
        return urlsplit(url).netloc or url

    @api.model
    def _max_retry_seconds(self):
        """``mailchimp_connector.max_retry_seconds`` (default 60; a value that is not
        a positive number counts as the default)."""
        value = (
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("mailchimp_connector.max_retry_seconds", "60")
        )
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = 0
        return seconds if seconds > 0 else 60.0

    @api.model
    def _cron_time_budget(self):
        """``mailchimp_connector.cron_time_budget``: the seconds a pass of a
        Mailchimp cron (syncs, email activity) works before it leaves the rest to
        the next pass (default 60)."""
        return float(
            self.env["ir.config_parameter"]
            .sudo()
            .get_param("mailchimp_connector.cron_time_budget", "60")
        )

    def _mailchimp_error_message(self, error, host=None):
        """A sentence for a person, naming what went wrong and what to do
        (``host``: the host called, named when it could not be reached)."""
        _ = self.env._
        if host and isinstance(error, mc_errors.MailchimpTimeoutError):
            return _(
                "%(host)s did not answer in time. Check the API base URL (Advanced "
                "tab) and that this server can reach it; if Mailchimp is only slow, "
                "try again later or raise the request timeout of the account.",
                host=host,
            )
        if host and isinstance(error, mc_errors.MailchimpNetworkError):
            sentences = (
                _("Mailchimp could not be reached at %(host)s.", host=host),
                _network_cause(self.env, error),
                _(
                    "Check the API base URL (Advanced tab; leave it empty for "
                    "Mailchimp itself) and that this server can reach the internet."
                ),
            )
            return " ".join(sentence for sentence in sentences if sentence)
        if isinstance(error, mc_errors.MailchimpConfigError):
            return _(
                "The API key is malformed. A Mailchimp API key is 32 letters and "
                "digits, a dash, then the data center, for example "
                "0123456789abcdef0123456789abcdef-us6."
            )
        if isinstance(error, mc_errors.MailchimpWrongDatacenterError):
            return _(
                "The API key belongs to another Mailchimp data center than the one "
                "that was called. Check the end of the key (-us6, -us21...) and the "
                "API base URL."
            )
        if isinstance(error, mc_errors.MailchimpAuthError):
            if error.title and "disabled" in error.title.lower():
                return _("The Mailchimp user that owns this API key is disabled.")
            return _(
                "Mailchimp rejected the API key: it is invalid or has been revoked. "
                "Create a new key in Mailchimp (Profile > Extras > API keys) and use "
                "Reauthorize."
            )
        if isinstance(error, mc_errors.MailchimpTimeoutError):
            return _(
                "Mailchimp did not answer in time. Try again later; if it keeps "
                "happening, raise the request timeout of the account."
            )
        if isinstance(error, mc_errors.MailchimpNetworkError):
            return _(
                "Mailchimp could not be reached. Check that this server can reach "
                "the internet and that the API base URL is right."
            )
        if isinstance(error, mc_errors.MailchimpRateLimitError):
            return _(
                "Mailchimp is limiting the requests of this account (too many at "
                "once). Try again in a few minutes."
            )
        if isinstance(error, mc_errors.MailchimpServerError):
            return _(
                "Mailchimp had an internal error (HTTP %(status)s). Try again later.",
                status=error.status or "?",
            )
        return _(
            "Mailchimp answered with an error: %(title)s. %(detail)s",
            title=error.title or error.status,
            detail=error.detail or "",
        )

    def _set_error(self, message):
        self.sudo().write(
            {
                "state": "error",
                "last_error": message,
                "last_error_date": fields.Datetime.now(),
            }
        )

    @api.model
    def _notification(self, message, kind="success", title=None, reload=True):
        params = {
            "title": title or self.env._("Mailchimp"),
            "message": message,
            "type": kind,
            "sticky": kind == "danger",
        }
        if reload:
            params["next"] = {"type": "ir.actions.client", "tag": "soft_reload"}
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": params,
        }

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------

    def _fetch_account_info(self, api_key):
        """Ping, then read the account: both must
        succeed before we call it connected. Fails fast on an unreachable host."""
        with self._get_client(api_key, checking=True) as client:
            client.ping()
            return client.account()

    def _check_same_mailchimp_account(self, info):
        known = self.mailchimp_account_id
        if known and info.get("account_id") and known != info["account_id"]:
            raise UserError(
                self.env._(
                    "This key belongs to the Mailchimp account %(new)s, not to "
                    "%(old)s that this Odoo account is connected to. Create a new "
                    "Mailchimp account in Odoo for it.",
                    new=info.get("account_name") or info["account_id"],
                    old=self.mailchimp_account_name or known,
                )
            )

    def _mark_connected(self, info):
        self.sudo().with_context(mailchimp_key_verified=True).write(
            {
                "state": "connected",
                "last_error": False,
                "last_error_date": False,
                "connected_date": fields.Datetime.now(),
                "mailchimp_account_id": info.get("account_id"),
                "mailchimp_account_name": info.get("account_name"),
                "mailchimp_login_email": info.get("email"),
                "total_subscribers": info.get("total_subscribers") or 0,
            }
        )

    def action_connect(self):
        """Check the stored key against Mailchimp, then load the audiences."""
        self.ensure_one()
        self.check_access("write")
        try:
            info = self._fetch_account_info(self.sudo().api_key)
        except mc_errors.MailchimpError as error:
            message = self._mailchimp_error_message(error, host=self._api_host())
            _logger.info(
                "Mailchimp account %s: connection failed (%s)",
                self.id,
                type(error).__name__,
            )
            self._set_error(message)
            return self._notification(
                message, "danger", self.env._("Connection failed")
            )
        self._check_same_mailchimp_account(info)
        self._mark_connected(info)
        refresh_error = self._refresh_audiences_or_error()
        self._resume_stopped_syncs()
        if refresh_error:
            return self._notification(refresh_error, "warning")
        names = self.audience_ids.mapped("name")
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        return self._notification(
            self.env._(
                "Connected to %(name)s. Audiences (%(count)s): %(audiences)s.",
                name=self.mailchimp_account_name,
                count=len(names),
                audiences=shown or self.env._("none yet"),
            )
        )

    def _refresh_audiences_or_error(self):
        try:
            self.env["mailchimp.audience"]._sync_from_mailchimp(self)
        except mc_errors.MailchimpError as error:
            message = self._mailchimp_error_message(error)
            self._set_error(message)
            return message
        return False

    def action_refresh_audiences(self):
        self.check_access("write")
        for account in self:
            if account.state != "connected":
                raise UserError(
                    self.env._("Connect the account %s first.", account.name)
                )
            message = account._refresh_audiences_or_error()
            if message:
                return self._notification(message, "danger")
        return self._notification(self.env._("Audiences refreshed."))

    def action_open_reauthorize(self):
        self.ensure_one()
        self.check_access("write")
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Reauthorize %s", self.name),
            "res_model": "mailchimp.account.reauthorize",
            "view_mode": "form",
            "target": "new",
            "context": {"default_account_id": self.id},
        }

    def _reauthorize(self, api_key):
        """Swap in a new key only once Mailchimp has accepted it."""
        self.ensure_one()
        self.check_access("write")
        api_key = (api_key or "").strip()
        try:
            info = self._fetch_account_info(api_key)
        except mc_errors.MailchimpError as error:
            # the old key stays: a failed reauthorization must not break anything
            raise UserError(
                self._mailchimp_error_message(error, host=self._api_host(api_key))
            ) from None
        self._check_same_mailchimp_account(info)
        self.sudo().with_context(mailchimp_key_verified=True).write(
            {"api_key": api_key}
        )
        self._mark_connected(info)
        self.message_post(body=self.env._("The API key was replaced (reauthorized)."))
        refresh_error = self._refresh_audiences_or_error()
        self._resume_stopped_syncs()
        return refresh_error

    def _resume_stopped_syncs(self):
        """The key works again (Reauthorize, Connect): the syncs its rejection stopped
        run at once, each from its last committed watermarks (F3), and the scheduler
        is woken for the others that came due meanwhile."""
        connected = self.filtered(lambda account: account.state == "connected")
        if not connected:
            return
        pairings = (
            self.env["mailchimp.pairing"]
            .sudo()
            .search([("account_id", "in", connected.ids), ("state", "=", "active")])
        )
        stopped = pairings.filtered(lambda pairing: pairing.stopped_by == "auth")
        stopped.filtered(lambda pairing: not pairing.sync_requested).write(
            {"sync_requested": True}
        )
        if pairings:
            self.env.ref("mailchimp_connector.ir_cron_mailchimp_sync")._trigger()

    def action_disconnect(self):
        """Forget the key and stop talking to Mailchimp; keep everything else. The
        syncs' webhooks are removed first, while the key still works (F19)."""
        self.check_access("write")
        self.env["mailchimp.pairing"].with_context(active_test=False).search(
            [("account_id", "in", self.ids), ("webhook_id", "!=", False)]
        )._webhook_unregister()
        self.sudo().with_context(mailchimp_key_verified=True).write(
            {"api_key": False, "state": "draft", "last_error": False}
        )
        for account in self:
            account.message_post(body=self.env._("Disconnected from Mailchimp."))
        return self._notification(self.env._("Disconnected. No data was deleted."))

    # ------------------------------------------------------------------
    # Onboarding: what the app opens on
    # ------------------------------------------------------------------

    @api.model
    def _action_home(self):
        """The Mailchimp app's first screen (its root menu): "Connect Mailchimp"
        while no account is connected, then "Create your first sync", then the
        syncs. Salespeople, who set nothing up, open on the campaigns."""
        Window = self.env["ir.actions.act_window"]
        if not self.env.user.has_group(MANAGER_GROUP):
            return Window._for_xml_id("mailchimp_connector.mailchimp_campaign_action")
        accounts = self.search([])
        connected = accounts.filtered(lambda account: account.state == "connected")
        if not connected:
            return accounts._action_connect_mailchimp()
        if not self.env["mailchimp.pairing"].search_count([], limit=1):
            return connected[:1]._action_first_sync()
        return Window._for_xml_id("mailchimp_connector.mailchimp_pairing_action")

    def _action_connect_mailchimp(self):
        """ "Connect Mailchimp": the form of the account to connect (a new one when
        there is none), or the list when several wait."""
        if len(self) > 1:
            return self.env["ir.actions.act_window"]._for_xml_id(
                "mailchimp_connector.mailchimp_account_action"
            )
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mailchimp_connector.mailchimp_account_action_connect"
        )
        if self:
            action["res_id"] = self.id
        return action

    def _action_first_sync(self):
        """ "Create your first sync": a new sync of this account (and of its
        audience when it has only one)."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mailchimp_connector.mailchimp_pairing_action_first"
        )
        context = {"default_account_id": self.id, "mailchimp_first_sync": True}
        if len(self.audience_ids) == 1:
            context["default_audience_id"] = self.audience_ids.id
        action["context"] = context
        return action

    def action_create_first_sync(self):
        self.ensure_one()
        self.check_access("write")
        return self._action_first_sync()

    def action_view_audiences(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mailchimp_connector.mailchimp_audience_action"
        )
        action["domain"] = [("account_id", "=", self.id)]
        action["context"] = {"default_account_id": self.id}
        return action

    # ------------------------------------------------------------------
    # Email activity (F27, F29)
    # ------------------------------------------------------------------

    activity_window_days = fields.Integer(
        string="Activity Window (days)",
        default=30,
        help="Email activity of a campaign is pulled for this many days after its "
        "send.",
    )
    activity_chatter = fields.Selection(
        [
            ("summary", "One line per contact and campaign"),
            ("event", "One line per event"),
        ],
        string="Activity in the Chatter",
        default="summary",
        required=True,
        help="One line per contact and campaign, rewritten as events arrive (sent, "
        "opened 2×, clicked...), or one line per event. Every event is listed in "
        "Email Activity either way.",
    )
    activity_campaign_watermark = fields.Datetime(
        string="Campaigns Pulled Until", readonly=True, copy=False
    )
    activity_error = fields.Text(
        string="Last Activity Error",
        readonly=True,
        copy=False,
        help="Why the last pull of email activity stopped; it resumes at the next "
        "pull.",
    )
    campaign_ids = fields.One2many(
        "mailchimp.campaign", "account_id", string="Campaigns"
    )
    campaign_count = fields.Integer(compute="_compute_campaign_count")

    def _compute_campaign_count(self):
        counts = dict(
            self.env["mailchimp.campaign"]._read_group(
                [("account_id", "in", self.ids)], ["account_id"], ["__count"]
            )
        )
        for account in self:
            account.campaign_count = counts.get(account, 0)

    activity_requester_ids = fields.Many2many(
        "res.users",
        "mailchimp_account_activity_requester_rel",
        string="Waiting for the Activity Pull",
        readonly=True,
        copy=False,
        groups=MANAGER_GROUP,
        help="People who asked for a pull of the email activity: told when it ends.",
    )

    def action_sync_activity(self):
        """Pull new campaigns and their email activity in the background: the
        activity pull's worker is woken now, and the person is told once it is
        done (a notification with the counts)."""
        self.check_access("write")
        for account in self:
            if account.state != "connected":
                raise UserError(self.env._("Connect the account first."))
        return self._request_activity_pull()

    def _request_activity_pull(self):
        """Wake the activity pull's worker for these accounts and remember who
        asked (anyone who may ask: the pull runs as the scheduler).  Returns the
        notification that tells them so."""
        self.sudo().write({"activity_requester_ids": [Command.link(self.env.uid)]})
        self.env.ref("mailchimp_connector.ir_cron_mailchimp_activity").sudo()._trigger()
        return self._notification(
            self.env._(
                "The email activity of %s is being pulled from Mailchimp in the "
                "background; you will be told here when it is done.",
                ", ".join(self.mapped("name")),
            ),
            reload=False,
        )

    def _pull_activity(self):
        """One activity pull of each account (what the scheduler's pass does,
        without its time budget); the people who asked for it are told."""
        for account in self:
            account._activity_pulled(ActivityPull(account).run_counted())

    def _activity_pulled(self, result):
        """Tell the people who asked for a pull of this account's activity that it
        ended, with what it stored (``result``: ``ActivityPull.run_counted``)."""
        self.ensure_one()
        account = self.sudo()
        users = account.activity_requester_ids
        if not users:
            return
        account.activity_requester_ids = [Command.clear()]
        if account.activity_error:
            message, kind = account.activity_error, "danger"
        else:
            message, kind = (
                self.env._(
                    "Email activity of %(account)s pulled from Mailchimp: new events: "
                    "%(events)s, campaigns read: %(campaigns)s.",
                    account=account.name,
                    events=result["events"],
                    campaigns=result["campaigns"],
                ),
                "success",
            )
        for user in users:
            user._bus_send(
                "simple_notification",
                {
                    "title": self.env._("Mailchimp"),
                    "message": message,
                    "type": kind,
                    "sticky": kind == "danger",
                },
            )

    def action_view_campaigns(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "mailchimp_connector.mailchimp_campaign_action"
        )
        action["domain"] = [("account_id", "=", self.id)]
        return action


def _network_cause(env, error):
    """Why a connection failed, in a sentence, from the error's detail (empty when
    it says nothing a person can act on)."""
    detail = str(error.detail or "")
    if any(
        mark in detail
        for mark in ("NameResolutionError", "Name or service not known", "getaddrinfo")
    ):
        return env._("The host name is unknown (DNS).")
    if "Connection refused" in detail:
        return env._("Nothing answers there (connection refused).")
    if "SSLError" in detail:
        return env._("The secure connection failed (SSL).")
    return ""
