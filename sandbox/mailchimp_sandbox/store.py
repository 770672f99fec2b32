"""In-memory state of the sandbox: accounts, audiences and everything under them.

One ``State`` object is the single source of truth for both the HTTP API and
in-process tests (``sb.state``).  All mutation happens under ``state.lock``
(an RLock); HTTP handlers take it for the duration of one call, so every API
call is atomic like a real request.  The methods below mirror the control API
(``/_sandbox/...``) so tests can set things up without HTTP.
"""

import hashlib
import secrets
import threading
from collections import OrderedDict

from . import constants as C
from .clock import Clock, iso

# Where Mailchimp's documentation is silent or ambiguous, the sandbox follows its
# wording by default and offers the plausible alternatives as switches, so that a
# client can be tested under each (control route /_sandbox/behaviour):
# - since: "exclusive" ("changed after the set timeframe": a time in the second of
#   ``since`` is not kept) or "inclusive" (it is), for every since_* filter;
# - archived_listed: whether GET .../members without ``status`` lists archived
#   members (the docs are silent; by default only ``status=archived`` lists them);
# - same_second_order: how a sort by a time orders the items of one second, by the
#   change itself ("change") or by member id ("id").
BEHAVIOUR_CHOICES = {
    "since": ("exclusive", "inclusive"),
    "archived_listed": (False, True),
    "same_second_order": ("change", "id"),
}
BEHAVIOUR_DEFAULTS = {
    "since": "exclusive",
    "archived_listed": False,
    "same_second_order": "change",
}


def check_behaviour(changes):
    """The validated switches of ``changes`` (unknown names or values: ValueError)."""
    out = {}
    for name, value in changes.items():
        if value is None:
            continue
        if name not in BEHAVIOUR_CHOICES:
            raise ValueError(
                f"unknown behaviour switch {name!r}; known: "
                f"{', '.join(BEHAVIOUR_CHOICES)}"
            )
        choices = BEHAVIOUR_CHOICES[name]
        if isinstance(choices[0], bool):
            if isinstance(value, str):
                if value.lower() not in ("0", "1", "true", "false", "yes", "no"):
                    raise ValueError(f"{name} must be true or false, not {value!r}")
                value = value.lower() in ("1", "true", "yes")
            value = bool(value)
        elif value not in choices:
            raise ValueError(
                f"{name} must be one of {', '.join(choices)}, not {value!r}"
            )
        out[name] = value
    return out


DEFAULT_MERGE_FIELDS = (
    # tag, name, type, options
    ("FNAME", "First Name", "text", {"size": 25}),
    ("LNAME", "Last Name", "text", {"size": 25}),
    ("ADDRESS", "Address", "address", {"default_country": 164}),
    ("PHONE", "Phone Number", "phone", {"phone_format": "none"}),
    ("BIRTHDAY", "Birthday", "birthday", {"date_format": "MM/DD"}),
    ("COMPANY", "Company", "text", {"size": 25}),
)


def subscriber_hash(email: str) -> str:
    return hashlib.md5(email.strip().lower().encode("utf-8")).hexdigest()


class Account:
    """A Mailchimp user reachable with one API key."""

    def __init__(self, api_key, account_name, email, account_id=None, now_us=0):
        self.api_key = api_key
        self.dc = api_key.rsplit("-", 1)[-1]
        self.account_id = account_id or hashlib.md5(api_key.encode()).hexdigest()[:25]
        self.account_name = account_name
        self.email = email
        self.login_id = str(int(hashlib.md5(api_key.encode()).hexdigest()[:7], 16))
        self.username = email.split("@")[0]
        self.first_name = "Sandbox"
        self.last_name = "Owner"
        self.revoked = False
        self.disabled = False
        self.created_us = now_us

    def public(self):
        return {
            "api_key_last4": self.api_key.rsplit("-", 1)[0][-4:],
            "dc": self.dc,
            "account_id": self.account_id,
            "account_name": self.account_name,
            "email": self.email,
            "revoked": self.revoked,
            "disabled": self.disabled,
        }


class Audience:
    """A list (audience) with its members, merge fields, tags, groups and webhooks."""

    def __init__(self, list_id, api_key, name, web_id, now_us, **settings):
        self.id = list_id
        self.api_key = api_key
        self.name = name
        self.web_id = web_id
        self.date_created_us = now_us
        self.contact = settings.get("contact") or {
            "company": "Sandbox Inc.",
            "address1": "1 Sandbox Way",
            "address2": "",
            "city": "Atlanta",
            "state": "GA",
            "zip": "30308",
            "country": "US",
            "phone": "",
        }
        self.permission_reminder = (
            settings.get("permission_reminder") or "You signed up on our website."
        )
        self.campaign_defaults = settings.get("campaign_defaults") or {
            "from_name": "Sandbox",
            "from_email": "news@sandbox-mail.com",
            "subject": "",
            "language": "en",
        }
        self.email_type_option = bool(settings.get("email_type_option", False))
        self.double_optin = bool(settings.get("double_optin", False))
        self.use_archive_bar = bool(settings.get("use_archive_bar", True))
        self.notify_on_subscribe = settings.get("notify_on_subscribe") or ""
        self.notify_on_unsubscribe = settings.get("notify_on_unsubscribe") or ""
        self.visibility = settings.get("visibility") or "pub"
        self.marketing_permissions = bool(settings.get("marketing_permissions", False))
        self.permissions = OrderedDict()  # marketing permission id -> text (consent.py)
        self.has_welcome = bool(settings.get("has_welcome", False))
        self.members = {}  # subscriber hash -> member dict
        self.merge_fields = OrderedDict()  # merge_id -> field dict
        self.next_merge_id = 1
        # segment id -> segment dict (members: set of hashes)
        self.segments = OrderedDict()
        # category id -> {..., "interests": OrderedDict}
        self.categories = OrderedDict()
        self.webhooks = OrderedDict()  # webhook id -> webhook dict
        self.forgotten = set()  # hashes permanently deleted: never re-importable
        self.version = 0  # bumped on every member change (cache key)
        self._cache = {}

    def touch(self):
        self.version += 1

    def fields_by_tag(self):
        return {f["tag"]: f for f in self.merge_fields.values()}

    def interest_index(self):
        """interest id -> (category, interest)."""
        out = {}
        for cat in self.categories.values():
            for iid, interest in cat["interests"].items():
                out[iid] = (cat, interest)
        return out

    def cached(self, key, build):
        hit = self._cache.get(key)
        if hit is not None and hit[0] == self.version:
            return hit[1]
        value = build()
        if len(self._cache) > 64:
            self._cache.clear()
        self._cache[key] = (self.version, value)
        return value


class State:
    """Everything the sandbox knows. See README "In-process use" for the method list."""

    def __init__(self):
        self.lock = threading.RLock()
        self.clock = Clock()
        # what a reset restores: the documented
        # behaviour, or what the server was started with
        self.behaviour_defaults = dict(BEHAVIOUR_DEFAULTS)
        # Components created lazily by their modules (import cycles kept out of here).
        from .batches import BatchRunner
        from .limits import Faults, Limiter
        from .requestlog import RequestLog
        from .webhooks import WebhookDispatcher

        self.faults = Faults()
        self.limiter = Limiter()
        self.requests = RequestLog()
        self.batches = BatchRunner(self)
        self.webhooks = WebhookDispatcher(self)
        self.reset()

    # ------------------------------------------------------------------ reset
    def reset(self):
        """Restore the default account and its empty "Newsletter" audience; clear
        faults, latency, request log, batches, campaigns and webhook deliveries."""
        with self.lock:
            self.accounts = {}
            self.lists = OrderedDict()
            self.campaigns = OrderedDict()
            self._counter = 1000
            self.latency = 0.0
            self.behaviour = dict(self.behaviour_defaults)
            self.clock.freeze(False)
            self.webhook_validation = True
            self.limiter.max_connections = C.MAX_CONNECTIONS
            self.request_timeout = C.REQUEST_TIMEOUT
            self.faults.clear()
            self.requests.clear()
            self.batches.reset()
            self.webhooks.clear_log()
            acct = Account(
                C.DEFAULT_API_KEY,
                C.DEFAULT_ACCOUNT_NAME,
                C.DEFAULT_ACCOUNT_EMAIL,
                account_id=C.DEFAULT_ACCOUNT_ID,
                now_us=self.clock.now_us(),
            )
            self.accounts[acct.api_key] = acct
            self._new_list(acct.api_key, C.DEFAULT_LIST_NAME, list_id=C.DEFAULT_LIST_ID)
        return self

    # ---------------------------------------------------------------- helpers
    def next_int(self):
        with self.lock:
            self._counter += 1
            return self._counter

    def new_id(self, nbytes=5):
        return secrets.token_hex(nbytes)

    def now_us(self):
        return self.clock.now_us()

    def _new_list(
        self, api_key, name, list_id=None, with_default_fields=True, **settings
    ):
        list_id = list_id or self.new_id()
        lst = Audience(
            list_id, api_key, name, self.next_int(), self.now_us(), **settings
        )
        if with_default_fields:
            for order, (tag, fname, ftype, opts) in enumerate(
                DEFAULT_MERGE_FIELDS, start=1
            ):
                self.add_merge_field(
                    lst,
                    tag=tag,
                    name=fname,
                    type=ftype,
                    options=dict(opts),
                    display_order=order,
                )
        self.lists[list_id] = lst
        return lst

    def add_merge_field(
        self,
        lst,
        *,
        tag,
        name,
        type,
        options=None,
        required=False,
        default_value="",
        public=True,
        display_order=None,
        help_text="",
    ):
        merge_id = lst.next_merge_id
        lst.next_merge_id += 1
        field = {
            "merge_id": merge_id,
            "tag": tag,
            "name": name,
            "type": type,
            "required": bool(required),
            "default_value": default_value or "",
            "public": bool(public),
            "display_order": display_order or merge_id + 1,
            "options": options or {},
            "help_text": help_text or "",
            "list_id": lst.id,
        }
        lst.merge_fields[merge_id] = field
        return field

    def account(self, api_key):
        return self.accounts.get(api_key)

    def audience(self, list_id, api_key=None):
        """The audience, or None if missing or owned by another account."""
        lst = self.lists.get(list_id)
        if lst is None or (api_key is not None and lst.api_key != api_key):
            return None
        return lst

    def _require_list(self, list_id):
        lst = self.lists.get(list_id)
        if lst is None:
            raise KeyError(f"no audience {list_id!r}")
        return lst

    # --------------------------------------------------------------- accounts
    def create_account(
        self,
        api_key=None,
        account_name="Sandbox Account",
        email=None,
        default_list=False,
    ):
        """Add an account reachable with ``api_key`` (generated if omitted; ``<32
        hex>-<dc>``). No audience unless ``default_list``
        (then a "Newsletter" with default fields)."""
        with self.lock:
            if not api_key:
                api_key = secrets.token_hex(16) + "-us1"
            if not valid_key_shape(api_key):
                raise ValueError(
                    f"api_key must look like <32 hex>-<dc>, e.g. {C.DEFAULT_API_KEY}"
                )
            if api_key in self.accounts:
                raise ValueError("an account with this api_key already exists")
            acct = Account(
                api_key,
                account_name or "Sandbox Account",
                email or f"owner-{api_key[:6]}@sandbox-mail.com",
                now_us=self.now_us(),
            )
            self.accounts[api_key] = acct
            result = acct.public()
            result["api_key"] = api_key
            result["lists"] = []
            if default_list:
                lst = self._new_list(api_key, C.DEFAULT_LIST_NAME)
                result["lists"].append(lst.id)
            return result

    def revoke_key(self, api_key):
        """The key stops working (401 APIKeyInvalid)."""
        with self.lock:
            self.accounts[api_key].revoked = True
            return self.accounts[api_key].public()

    def rotate_key(self, api_key, new_api_key):
        """Replace the account's key as a person does in Mailchimp (revoke, create a new
        one): the old key stops working (401), everything the account owns stays."""
        with self.lock:
            if not valid_key_shape(new_api_key):
                raise ValueError(
                    "new_api_key must look like <32 hex>-<dc>, e.g. "
                    f"{C.DEFAULT_API_KEY}"
                )
            if new_api_key in self.accounts:
                raise ValueError("an account with this new_api_key already exists")
            acct = self.accounts.pop(api_key)
            acct.api_key = new_api_key
            self.accounts[new_api_key] = acct
            owned = [
                *self.lists.values(),
                *self.campaigns.values(),
                *self.batches.all(),
            ]
            for item in owned:
                if item.api_key == api_key:
                    item.api_key = new_api_key
            return acct.public()

    def disable_account(self, api_key):
        """The account is disabled (403 UserDisabled)."""
        with self.lock:
            self.accounts[api_key].disabled = True
            return self.accounts[api_key].public()

    def create_list(self, api_key=C.DEFAULT_API_KEY, name="Audience", **settings):
        """Fast setup: a new audience with the default merge fields. Returns its id."""
        with self.lock:
            return self._new_list(api_key, name, **settings).id

    # ---------------------------------------------------------------- members
    def add_member(
        self,
        list_id,
        email,
        status="subscribed",
        merge_fields=None,
        tags=(),
        interests=None,
        **extra,
    ):
        """Fast setup: store a member directly (no
        validation, no webhooks). Returns it raw."""
        from .members import make_member, set_tags

        with self.lock:
            lst = self._require_list(list_id)
            m = make_member(self, lst, email, status, source="Admin Add")
            m["merge_fields"].update(merge_fields or {})
            m["interests"].update(interests or {})
            m.update(extra)
            lst.members[m["id"]] = m
            if tags:
                set_tags(self, lst, m, [{"name": t, "status": "active"} for t in tags])
            lst.touch()
            return dict(m)

    def get_member(self, list_id, email_or_hash):
        """The member as stored (a shallow copy), or None."""
        from .members import resolve_hash

        with self.lock:
            lst = self._require_list(list_id)
            m = lst.members.get(resolve_hash(email_or_hash))
            if m is None:
                return None
            raw = dict(m)
            raw["tags"] = {
                lst.segments[s]["name"]: iso(t)
                for s, t in m["tags"].items()
                if s in lst.segments
            }
            raw["last_changed_iso"] = iso(m["last_changed"])
            return raw

    def add_marketing_permissions(self, list_id, texts):
        """Give the audience GDPR marketing permissions (as Mailchimp's UI does) and
        turn its marketing_permissions flag on.
        Returns [{marketing_permission_id, text}]."""
        from .consent import add_permissions

        with self.lock:
            return add_permissions(self, self._require_list(list_id), texts)

    def set_compliance(self, list_id, email_or_hash, flagged=True):
        """Flag a member as under compliance review:
        it can no longer be set subscribed."""
        from .members import resolve_hash

        with self.lock:
            m = self._require_list(list_id).members[resolve_hash(email_or_hash)]
            m["compliance"] = bool(flagged)
            return dict(m)

    def seed(
        self,
        list_id,
        count,
        status="subscribed",
        start=0,
        merge_fields=None,
        spread_seconds=0,
    ):
        """Add ``count`` members ``member{n:06d}@seed-mail.com`` (n from ``start``).
        ``merge_fields`` values may contain ``{n}``. Existing addresses are skipped.
        ``spread_seconds``: their last changes spread over that many past seconds."""
        from .members import seed_members

        with self.lock:
            return seed_members(
                self,
                self._require_list(list_id),
                int(count),
                status,
                int(start or 0),
                merge_fields or {},
                spread_seconds or 0,
            )

    def member_action(
        self,
        list_id,
        email,
        action,
        source="user",
        merges=None,
        new_email=None,
        reason=None,
    ):
        """Change a member as a person/admin would in Mailchimp and deliver webhooks
        synchronously. Returns {member, deliveries}."""
        from .members import external_action

        with self.lock:
            lst = self._require_list(list_id)
            member, events = external_action(
                self,
                lst,
                email,
                action,
                merges=merges,
                new_email=new_email,
                reason=reason,
            )
        deliveries = self.webhooks.deliver(events, source, wait=True)
        return {"member": member, "deliveries": deliveries}

    # -------------------------------------------------------------- campaigns
    def create_campaign(
        self,
        api_key=C.DEFAULT_API_KEY,
        list_id=C.DEFAULT_LIST_ID,
        subject="Sandbox campaign",
        **kwargs,
    ):
        """A sent campaign with report data (see
        reports.Campaign). Returns the campaign JSON."""
        from .reports import create_campaign

        return create_campaign(self, api_key, list_id, subject, **kwargs)

    def add_campaign_events(self, campaign_id, events):
        """Events that arrive after the campaign was sent (reports.add_events)."""
        from .reports import add_events

        return add_events(self, campaign_id, events)

    # ---------------------------------------------------------------- control
    def set_latency(self, seconds):
        self.latency = max(0.0, float(seconds))

    def set_behaviour(self, default=False, **changes):
        """Change behaviour switches (see BEHAVIOUR_CHOICES); returns them all.

        With ``default`` the change also becomes what a reset restores.
        """
        checked = check_behaviour(changes)
        with self.lock:
            self.behaviour.update(checked)
            if default:
                self.behaviour_defaults.update(checked)
            return dict(self.behaviour)

    def freeze_clock(self, frozen=True):
        """Every change from now on carries this
        second, until unfrozen (Clock.freeze)."""
        return {"frozen": self.clock.freeze(frozen)}

    def since_exclusive(self):
        return self.behaviour["since"] == "exclusive"

    def set_limits(self, max_connections=None, request_timeout=None):
        if max_connections is not None:
            self.limiter.max_connections = int(max_connections)
        if request_timeout is not None:
            self.request_timeout = float(request_timeout)
        return {
            "max_connections": self.limiter.max_connections,
            "request_timeout": self.request_timeout,
        }

    def add_fault(
        self,
        status,
        count=1,
        method=None,
        path_pattern=None,
        retry_after=None,
        hang=None,
    ):
        return self.faults.add(
            status=status,
            count=count,
            method=method,
            path_pattern=path_pattern,
            retry_after=retry_after,
            hang=hang,
        )

    def clear_faults(self):
        self.faults.clear()

    def request_log(self):
        return self.requests.entries()

    def clear_request_log(self):
        self.requests.clear()

    def set_webhook_validation(self, enabled):
        self.webhook_validation = bool(enabled)

    def webhook_deliveries(self):
        return self.webhooks.log()

    def pause_batches(self, paused=True):
        self.batches.pause(paused)


def valid_key_shape(key):
    if not isinstance(key, str) or "-" not in key:
        return False
    secret, dc = key.rsplit("-", 1)
    return (
        len(secret) == 32
        and all(c in "0123456789abcdef" for c in secret.lower())
        and dc.isalnum()
        and dc.islower()
        and 2 <= len(dc) <= 8
    )
