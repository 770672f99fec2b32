# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Test base: Odoo tests against the project's Mailchimp sandbox.

The sandbox is the one named by MAILCHIMP_SANDBOX_URL, or else the copy in the
repository next to the addon (``../sandbox``), started in-process on a free
loopback port.  Odoo's test classes block outbound HTTP and stretch short
timeouts; requests to the sandbox are passed straight to the real ``send`` so
that timeouts and retries behave as in production.
"""

import base64
import os
import sys
import threading
from contextlib import contextmanager
from unittest import SkipTest
from urllib.parse import urlsplit

import requests

from odoo.tests import common as odoo_common

from odoo.addons.bus.models.bus import channel_with_db, dispatch, hashable
from odoo.addons.bus.websocket import WebsocketConnectionHandler

from ..engine import progress as run_progress

SANDBOX_DIR = os.path.normpath(
    os.path.join(os.path.dirname(__file__), "..", "..", "sandbox")
)
DEFAULT_API_KEY = "0123456789abcdef0123456789abcdef-us1"
_sandbox = {}


def sandbox_url():
    """The sandbox's root URL, starting an in-process one the first time."""
    if "url" in _sandbox:
        return _sandbox["url"]
    url = os.environ.get("MAILCHIMP_SANDBOX_URL")
    if not url:
        if not os.path.isdir(os.path.join(SANDBOX_DIR, "mailchimp_sandbox")):
            raise SkipTest(
                "No Mailchimp sandbox: set MAILCHIMP_SANDBOX_URL or run the tests "
                "from the project's repository."
            )
        if SANDBOX_DIR not in sys.path:
            sys.path.insert(0, SANDBOX_DIR)
        from mailchimp_sandbox import Sandbox  # pylint: disable=import-outside-toplevel

        server = Sandbox(host="127.0.0.1", port=0).start()
        _sandbox["server"] = server
        url = server.url
    _sandbox["url"] = url.rstrip("/")
    return _sandbox["url"]


def _is_loopback(url):
    return urlsplit(url).hostname in ("127.0.0.1", "localhost")


class MailchimpSandboxMixin:
    """Helpers to drive the sandbox through its control API."""

    @classmethod
    def _request_handler(cls, s, r, /, **kw):
        # the sandbox, and loopback ports standing for a host that cannot be reached
        # (Odoo's own handler would stretch their timeouts, and cannot compare a
        # (connect, read) timeout with its minimum)
        if r.url.startswith(_sandbox.get("url", "\0")) or _is_loopback(r.url):
            return odoo_common._super_send(s, r, **kw)
        return super()._request_handler(s, r, **kw)

    @classmethod
    def sandbox_control(cls, method, path, payload=None):
        response = requests.request(
            method, f"{sandbox_url()}/_sandbox/{path}", json=payload, timeout=30
        )
        response.raise_for_status()
        return response.json() if response.content else None

    @classmethod
    def sandbox_api_url(cls, dc="{dc}"):
        return f"{sandbox_url()}/{dc}/3.0"

    def sandbox_requests(self):
        return self.sandbox_control("GET", "requests")["requests"]

    @contextmanager
    def sandbox_fault(self, **fault):
        self.sandbox_control("POST", "faults", fault)
        try:
            yield
        finally:
            self.sandbox_control("DELETE", "faults")


def behaviour_variants(*variants):
    """Class decorator: the test class also runs under each sandbox behaviour of
    ``variants`` (``(suffix, {switch: value})``, see the sandbox's /_sandbox/behaviour),
    as subclasses named ``<class><suffix>`` in the same module.

    Where Mailchimp's documentation is silent, code must be right under every
    plausible behaviour: the sync and activity tests run under each setting.
    """

    def decorate(cls):
        module = sys.modules[cls.__module__]
        for suffix, behaviour in variants:
            variant = type(
                cls.__name__ + suffix,
                (cls,),
                {
                    "sandbox_behaviour": dict(cls.sandbox_behaviour, **behaviour),
                    # Odoo's loader collects only a class's own test methods otherwise
                    "allow_inherited_tests_method": True,
                    "__module__": cls.__module__,
                    "__doc__": f"{cls.__doc__ or cls.__name__} (sandbox: {behaviour})",
                },
            )
            setattr(module, variant.__name__, variant)
        return cls

    return decorate


# the alternative of each of the sandbox's switches for what Mailchimp's documentation
# leaves open: a class runs under the documented default and under this one
ALTERNATIVE_BEHAVIOUR = ("Inclusive", {"since": "inclusive", "archived_listed": True})


class MailchimpCase(MailchimpSandboxMixin, odoo_common.TransactionCase):
    """A transaction with a reset sandbox and one account pointing at it.

    ``sandbox_behaviour``: the sandbox's behaviour switches the class's tests run
    under, applied after each reset ({} = the sandbox's defaults).
    """

    sandbox_behaviour = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        sandbox_url()
        cls.env["ir.config_parameter"].sudo().set_param(
            "mailchimp_connector.max_retry_seconds", "2"
        )

    def setUp(self):
        super().setUp()
        self.sandbox_control("POST", "reset")
        if self.sandbox_behaviour:
            self.sandbox_control("POST", "behaviour", self.sandbox_behaviour)
        self.account = self.env["mailchimp.account"].create(
            {
                "name": "Test account",
                "api_key": DEFAULT_API_KEY,
                "api_base_url": self.sandbox_api_url(),
                "request_timeout": 5,
            }
        )


class MailchimpSyncCase(MailchimpCase):
    """A connected account and helpers to build pairings and read the sandbox."""

    def setUp(self):
        super().setUp()
        self.account.action_connect()
        self.audience = self.account.audience_ids.filtered(
            lambda a: a.name == "Newsletter"
        )
        self.list_id = self.audience.mailchimp_list_id
        self.client = self.account._get_client()
        self.addCleanup(self.client.close)

    def make_pairing(self, **vals):
        pairing = self.env["mailchimp.pairing"].create(
            dict(
                {
                    "name": "Test sync",
                    "account_id": self.account.id,
                    "audience_id": self.audience.id,
                    "partner_domain": "[('email', 'ilike', '@corp.com')]",
                    "state": "active",
                },
                **vals,
            )
        )
        if not pairing.field_map_ids:
            pairing.action_apply_default_mapping()
        return pairing

    def mailchimp_members(self):
        """{email: member} as Mailchimp has them now."""
        return {
            member["email_address"]: member
            for member in self.client.paginate(
                f"/lists/{self.list_id}/members", "members"
            )
        }

    def mailchimp_put(self, email, status="subscribed", **merge_fields):
        from ..utils.mailchimp_keys import subscriber_hash

        return self.client.put(
            f"/lists/{self.list_id}/members/{subscriber_hash(email)}",
            json={
                "email_address": email,
                "status_if_new": status,
                "status": status,
                "merge_fields": merge_fields,
            },
        )

    def api_calls(self):
        return [
            entry
            for entry in self.sandbox_requests()
            if "/_sandbox/" not in entry["path"]
        ]


SCREENSHOT_SIGNAL = "mailchimp_screenshot:"


def _save_png(folder, name, done):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"{name}.png"), "wb") as png:
        png.write(base64.b64decode(done.result()["data"]))


class TourScreenshotsMixin:
    """Screenshots asked for by a tour step (``console.log(
    "mailchimp_screenshot:NAME")``), saved as ``NAME.png`` in the folder named
    by MAILCHIMP_TOUR_SCREENSHOTS; without it the steps take none. The README's
    and the Apps page's pictures are made this way (see README, "Screenshots")."""

    def start_tour(self, *args, **kwargs):
        folder = os.environ.get("MAILCHIMP_TOUR_SCREENSHOTS")
        browser_class = odoo_common.ChromeBrowser
        handle_console = browser_class._handle_console

        def handle(browser, type, args=None, stackTrace=None, **kw):  # pylint: disable=redefined-builtin
            text = str(browser._from_remoteobject(args[0])) if args else ""
            if not text.startswith(SCREENSHOT_SIGNAL):
                return handle_console(browser, type, args, stackTrace, **kw)
            if folder:
                # the console arrives on the browser's receiving thread, which
                # must not wait: the picture is written when Chromium sends it
                name = os.path.basename(text[len(SCREENSHOT_SIGNAL) :].strip())
                future = browser._websocket_send(
                    "Page.captureScreenshot", with_future=True
                )
                future.add_done_callback(lambda done: _save_png(folder, name, done))
            return None

        self.patch(browser_class, "_handle_console", handle)
        return super().start_tour(*args, **kwargs)


class SchedulerInBackgroundMixin:
    """For tours that watch a run: the cron worker a button wakes, played by a
    thread of the test."""

    @contextmanager
    def scheduler_in_background(self, work, name):
        """``work(wake)`` runs in a thread the first time the cron is triggered;
        it commits in cursors of its own and calls ``wake()`` after each commit to
        wake the browsers' websockets (test cursors never really commit, which
        is what wakes them in production)."""
        # Odoo's test server refuses websockets unless a test asks for them
        self.patch(WebsocketConnectionHandler, "websocket_allowed", lambda *args: True)
        group = self.env.ref(run_progress.AUDIENCE_GROUP)
        channel = hashable(channel_with_db(self.registry.db_name, group))

        def wake():
            for websocket in dispatch._channels_to_ws.get(channel, ()):
                websocket.trigger_notification_dispatching()

        worker = threading.Thread(target=work, args=(wake,), name=name)
        self.patch(
            self.registry["ir.cron"],
            "_trigger",
            lambda cron, at=None: worker.ident or worker.start(),
        )
        try:
            yield
        finally:
            if worker.ident:
                worker.join(60)
