"""Sent campaigns and their reports, with activity generated on the fly.

A benchmark must be able to create a campaign with ~1,000,000 events for
100,000 recipients in seconds, so generated activity is never materialised:
each recipient's opens, clicks, bounce and unsubscribe are a pure function of
(seed, recipient index).  Counts are spread evenly (``floor((i+1)*rate+phase)
- floor(i*rate+phase)``), so totals are exact and reproducible; timestamps,
IPs and links come from a 64-bit mix of the index.  Explicit events given at
creation are stored as-is and merged in.
"""

import array
import math

from .clock import US, iso, parse_iso
from .constants import MAX_OPENS_CLICKS_PER_MEMBER
from .store import subscriber_hash

MASK64 = (1 << 64) - 1
ACTIONS = ("open", "click", "bounce", "unsub", "abuse")
# not email activity: listed by /unsubscribed and /abuse-reports
LIST_ACTIONS = ("unsub", "abuse")


def _mix(seed, i):
    x = (seed * 0x9E3779B97F4A7C15 + (i + 1) * 0xBF58476D1CE4E5B9) & MASK64
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & MASK64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def _spread(i, rate, phase):
    return math.floor((i + 1) * rate + phase) - math.floor(i * rate + phase)


class Campaign:
    """A sent regular campaign on one audience."""

    def __init__(
        self,
        state,
        campaign_id,
        api_key,
        lst,
        subject,
        title,
        send_us,
        recipients,
        generate=None,
        explicit=None,
        preview_text="",
        from_name=None,
    ):
        self.id = campaign_id
        self.web_id = state.next_int()
        self.api_key = api_key
        self.list_id = lst.id
        self.list_name = lst.name
        self.subject = subject
        self.title = title or subject
        self.preview_text = preview_text
        self.from_name = from_name or lst.campaign_defaults.get("from_name", "")
        self.reply_to = lst.campaign_defaults.get("from_email", "")
        self.send_us = send_us
        self.create_us = min(send_us, state.now_us())
        self.emails = [e for e in recipients]
        self.hashes = [subscriber_hash(e) for e in self.emails]
        self.index = {h: i for i, h in enumerate(self.hashes)}
        self.n = len(self.emails)
        g = generate or {}
        self.generated = bool(generate)
        self.seed = int(g.get("seed", 1))
        self.opr = float(g.get("opens_per_member", 0))
        self.cpr = float(g.get("clicks_per_member", 0))
        self.br = float(g.get("bounce_rate", 0))
        self.ur = float(g.get("unsub_rate", 0))
        ph = _mix(self.seed, -2)
        self.phases = [((ph >> (k * 16)) & 0xFFFF) / 65536.0 for k in range(4)]
        self.urls = [
            f"https://www.sandbox-mail.com/c/{campaign_id}/link{k}" for k in range(3)
        ]
        self.explicit = explicit or {}  # index -> [(ts_us, action, type, url, ip)]
        self._summarise()

    # ------------------------------------------------------------ generation
    def _profile(self, i):
        """(hash64, bounce type or '', unsub?, opens, clicks) for recipient i."""
        if not self.generated:
            return 0, "", False, 0, 0
        h = _mix(self.seed, i)
        bounce = ""
        if self.br and _spread(i, self.br, self.phases[0]) > 0:
            bounce = "hard" if (h >> 7) & 1 == 0 else "soft"
        if bounce:
            return h, bounce, False, 0, 0
        unsub = bool(self.ur) and _spread(i, self.ur, self.phases[1]) > 0
        opens = (
            min(_spread(i, self.opr, self.phases[2]), MAX_OPENS_CLICKS_PER_MEMBER)
            if self.opr
            else 0
        )
        clicks = (
            min(_spread(i, self.cpr, self.phases[3]), MAX_OPENS_CLICKS_PER_MEMBER)
            if self.cpr
            else 0
        )
        return h, bounce, unsub, opens, clicks

    def _times(self, h):
        base = self.send_us + (60 + h % 7200) * US
        gap = (300 + (h >> 16) % 3600) * US
        return base, gap

    def events(self, i):
        """All events of recipient i, oldest first: (ts_us, action, type, url, ip)."""
        h, bounce, unsub, opens, clicks = self._profile(i)
        out = []
        if self.generated:
            ip = f"10.{(h >> 24) & 255}.{(h >> 32) & 255}.{(h >> 40) & 255 or 1}"
            base, gap = self._times(h)
            if bounce:
                out.append(
                    (self.send_us + (120 + h % 600) * US, "bounce", bounce, "", "")
                )
            for j in range(opens):
                out.append((base + j * gap, "open", "", "", ip))
            for k in range(clicks):
                out.append(
                    (base + k * gap + 30 * US, "click", "", self.urls[(h + k) % 3], ip)
                )
            if unsub:
                out.append(
                    (base + max(opens, clicks) * gap + 60 * US, "unsub", "", "", ip)
                )
        out += self.explicit.get(i, [])
        out.sort(key=lambda e: e[0])
        return out

    def _summarise(self):
        s = {
            "hard": 0,
            "soft": 0,
            "opens": 0,
            "unique_opens": 0,
            "clicks": 0,
            "unique_clicks": 0,
            "unsubs": 0,
            "abuse": 0,
            "last_open": 0,
            "last_click": 0,
        }
        last = array.array("q", bytes(8 * self.n))
        last_open = array.array("q", bytes(8 * self.n))
        unsub_idx, bounce_idx, abuse_idx = [], [], []
        for i in range(self.n):
            h, bounce, unsub, opens, clicks = self._profile(i)
            mx = 0
            if self.generated:
                base, gap = self._times(h)
                if bounce:
                    s[bounce] += 1
                    bounce_idx.append(i)
                    mx = self.send_us + (120 + h % 600) * US
                if opens:
                    s["opens"] += opens
                    s["unique_opens"] += 1
                    t = base + (opens - 1) * gap
                    mx = max(mx, t)
                    last_open[i] = t
                    s["last_open"] = max(s["last_open"], t)
                if clicks:
                    s["clicks"] += clicks
                    s["unique_clicks"] += 1
                    t = base + (clicks - 1) * gap + 30 * US
                    mx = max(mx, t)
                    s["last_click"] = max(s["last_click"], t)
                if unsub:
                    s["unsubs"] += 1
                    unsub_idx.append(i)
            if i in self.explicit:
                mx = self._count_explicit(
                    i, s, last_open, (unsub_idx, bounce_idx, abuse_idx), mx
                )
                kinds = {e[1] for e in self.explicit[i]}
                if "open" in kinds and not opens:
                    s["unique_opens"] += 1
                if "click" in kinds and not clicks:
                    s["unique_clicks"] += 1
            last[i] = mx
        self.summary = s
        self.last_activity = last
        self.last_open = last_open
        self.unsub_idx = sorted(set(unsub_idx))
        self.bounce_idx = sorted(set(bounce_idx))
        self.abuse_idx = sorted(set(abuse_idx))
        self._since_cache = {}

    def _count_explicit(self, i, s, last_open, indexes, mx):
        """Add recipient ``i``'s explicit events to the summary ``s``; returns the
        time of its latest activity, ``mx`` if none is later."""
        unsub_idx, bounce_idx, abuse_idx = indexes
        for e in self.explicit[i]:
            if e[1] == "open":
                s["opens"] += 1
                last_open[i] = max(last_open[i], e[0])
                s["last_open"] = max(s["last_open"], e[0])
            elif e[1] == "click":
                s["clicks"] += 1
                s["last_click"] = max(s["last_click"], e[0])
            elif e[1] == "bounce":
                s["hard" if e[2] != "soft" else "soft"] += 1
                bounce_idx.append(i)
            elif e[1] == "unsub":
                s["unsubs"] += 1
                unsub_idx.append(i)
            elif e[1] == "abuse":
                s["abuse"] += 1
                abuse_idx.append(i)
            if e[1] not in LIST_ACTIONS:
                mx = max(mx, e[0])
        return mx

    def with_activity_since(self, since_us):
        """Recipient indexes with open/click/bounce
        activity at or after ``since_us``."""
        if since_us is None:
            return range(self.n)
        hit = self._since_cache.get(since_us)
        if hit is None:
            last = self.last_activity
            hit = [i for i in range(self.n) if last[i] and last[i] >= since_us]
            if len(self._since_cache) > 32:
                self._since_cache.clear()
            self._since_cache[since_us] = hit
        return hit

    def opened_since(self, since_us):
        """(recipient indexes with an open at/after
        ``since_us``, their opens in total)."""
        key = ("opens", since_us)
        hit = self._since_cache.get(key)
        if hit is None:
            last = self.last_open
            floor = since_us or 0
            idx = [i for i in range(self.n) if last[i] and last[i] >= floor]
            if since_us is None:
                total = self.summary["opens"]
            else:
                total = sum(
                    1
                    for i in idx
                    for e in self.events(i)
                    if e[1] == "open" and e[0] >= floor
                )
            hit = (idx, total)
            self._since_cache[key] = hit
        return hit

    def open_details(self, state, i, since_us=None):
        m, merges = _member_view(state, self, i)
        opens = [
            {"timestamp": iso(ts), "is_proxy_open": False}
            for ts, a, *_ in self.events(i)
            if a == "open" and (since_us is None or ts >= since_us)
        ]
        return {
            "campaign_id": self.id,
            "list_id": self.list_id,
            "list_is_active": self.list_id in state.lists,
            "contact_status": m["status"] if m else "",
            "email_id": self.hashes[i],
            "email_address": self.emails[i],
            "merge_fields": merges,
            "vip": bool(m and m["vip"]),
            "opens_count": len(opens),
            "proxy_excluded_opens_count": len(opens),
            "opens": opens,
        }

    # ------------------------------------------------------------- rendering
    def delivered(self):
        return self.n - self.summary["hard"] - self.summary["soft"]

    def rates(self):
        d = self.delivered()
        s = self.summary
        return (s["unique_opens"] / d if d else 0.0), (
            s["unique_clicks"] / d if d else 0.0
        )

    def json(self, state):
        open_rate, click_rate = self.rates()
        s = self.summary
        return {
            "id": self.id,
            "web_id": self.web_id,
            "type": "regular",
            "create_time": iso(self.create_us),
            "archive_url": f"http://eepurl.com/sandbox-{self.id}",
            "long_archive_url": f"https://us1.campaign-archive.com/?u=sandbox&id={self.id}",
            "status": "sent",
            "emails_sent": self.n,
            "send_time": iso(self.send_us),
            "content_type": "template",
            "needs_block_refresh": False,
            "resendable": False,
            "recipients": {
                "list_id": self.list_id,
                "list_is_active": self.list_id in state.lists,
                "list_name": self.list_name,
                "segment_text": "",
                "recipient_count": self.n,
            },
            "settings": {
                "subject_line": self.subject,
                "preview_text": self.preview_text,
                "title": self.title,
                "from_name": self.from_name,
                "reply_to": self.reply_to,
                "use_conversation": False,
                "to_name": "",
                "folder_id": "",
                "authenticate": True,
                "auto_footer": False,
                "inline_css": False,
                "auto_tweet": False,
                "fb_comments": False,
                "timewarp": False,
                "template_id": 0,
                "drag_and_drop": True,
            },
            "tracking": {
                "opens": True,
                "html_clicks": True,
                "text_clicks": False,
                "goal_tracking": False,
                "ecomm360": False,
                "google_analytics": "",
                "clicktale": "",
            },
            "report_summary": {
                "opens": s["opens"],
                "unique_opens": s["unique_opens"],
                "open_rate": open_rate,
                "clicks": s["clicks"],
                "subscriber_clicks": s["unique_clicks"],
                "click_rate": click_rate,
            },
            "delivery_status": {"enabled": False},
        }

    def report(self, state):
        open_rate, click_rate = self.rates()
        s = self.summary
        return {
            "id": self.id,
            "campaign_title": self.title,
            "type": "regular",
            "list_id": self.list_id,
            "list_is_active": self.list_id in state.lists,
            "list_name": self.list_name,
            "subject_line": self.subject,
            "preview_text": self.preview_text,
            "emails_sent": self.n,
            "abuse_reports": s["abuse"],
            "unsubscribed": s["unsubs"],
            "send_time": iso(self.send_us),
            "rss_last_send": "",
            "bounces": {
                "hard_bounces": s["hard"],
                "soft_bounces": s["soft"],
                "syntax_errors": 0,
            },
            "forwards": {"forwards_count": 0, "forwards_opens": 0},
            "opens": {
                "opens_total": s["opens"],
                "proxy_excluded_opens": s["opens"],
                "unique_opens": s["unique_opens"],
                "proxy_excluded_unique_opens": s["unique_opens"],
                "open_rate": open_rate,
                "proxy_excluded_open_rate": open_rate,
                "last_open": iso(s["last_open"]),
            },
            "clicks": {
                "clicks_total": s["clicks"],
                "unique_clicks": s["unique_clicks"],
                "unique_subscriber_clicks": s["unique_clicks"],
                "click_rate": click_rate,
                "last_click": iso(s["last_click"]),
            },
            "facebook_likes": {
                "recipient_likes": 0,
                "unique_likes": 0,
                "facebook_likes": 0,
            },
            "industry_stats": {
                "type": "Software",
                "open_rate": 0.2,
                "click_rate": 0.03,
                "bounce_rate": 0.01,
                "unopen_rate": 0.8,
                "unsub_rate": 0.002,
                "abuse_rate": 0.0,
            },
            "list_stats": {
                "sub_rate": 0,
                "unsub_rate": 0,
                "open_rate": 0,
                "click_rate": 0,
            },
            "timeseries": [],
            "ecommerce": {
                "total_orders": 0,
                "total_spent": 0,
                "total_revenue": 0,
                "currency_code": "USD",
            },
            "delivery_status": {"enabled": False},
        }

    def email_activity(self, state, i, since_us=None):
        """One recipient's open/click/bounce activity from ``since_us`` on (the first
        tick kept: the route has applied the ``since`` behaviour switch)."""
        acts = []
        for ts, action, btype, url, ip in self.events(i):
            if action in LIST_ACTIONS or (since_us is not None and ts < since_us):
                continue
            item = {"action": action, "timestamp": iso(ts), "ip": ip}
            if action == "bounce":
                item["type"] = btype
            if action == "click":
                item["url"] = url
            acts.append(item)
        return {
            "campaign_id": self.id,
            "list_id": self.list_id,
            "list_is_active": self.list_id in state.lists,
            "email_id": self.hashes[i],
            "email_address": self.emails[i],
            "activity": acts,
        }


def _member_view(state, camp, i):
    lst = state.lists.get(camp.list_id)
    m = lst.members.get(camp.hashes[i]) if lst else None
    merges = {}
    if m is not None and lst is not None:
        merges = {
            f["tag"]: m["merge_fields"].get(f["tag"], "")
            for f in lst.merge_fields.values()
        }
    return m, merges


def sent_to(state, camp, i):
    m, merges = _member_view(state, camp, i)
    evs = camp.events(i)
    opens = [e[0] for e in evs if e[1] == "open"]
    bounce = next((e[2] for e in evs if e[1] == "bounce"), "")
    return {
        "email_id": camp.hashes[i],
        "email_address": camp.emails[i],
        "merge_fields": merges,
        "vip": bool(m and m["vip"]),
        "status": bounce or "sent",
        "open_count": len(opens),
        "last_open": iso(max(opens)) if opens else "",
        "absplit_group": "a",
        "gmt_offset": 0,
        "campaign_id": camp.id,
        "list_id": camp.list_id,
        "list_is_active": camp.list_id in state.lists,
    }


def unsubscribed(state, camp, i):
    m, merges = _member_view(state, camp, i)
    ts = next((e[0] for e in camp.events(i) if e[1] == "unsub"), camp.send_us)
    return {
        "email_id": camp.hashes[i],
        "email_address": camp.emails[i],
        "merge_fields": merges,
        "vip": bool(m and m["vip"]),
        "timestamp": iso(ts),
        "reason": "N/A (Unsubscribed via campaign)",
        "campaign_id": camp.id,
        "list_id": camp.list_id,
        "list_is_active": camp.list_id in state.lists,
    }


def abuse_reports(state, camp, i):
    """The abuse reports (spam complaints) of recipient i: one per explicit event."""
    m, merges = _member_view(state, camp, i)
    return [
        {
            "id": _mix(camp.seed, i * 8 + k) & 0x7FFFFFFF,
            "campaign_id": camp.id,
            "list_id": camp.list_id,
            "list_is_active": camp.list_id in state.lists,
            "email_id": camp.hashes[i],
            "email_address": camp.emails[i],
            "merge_fields": merges,
            "vip": bool(m and m["vip"]),
            "date": iso(ts),
        }
        for k, (ts, *_rest) in enumerate(e for e in camp.events(i) if e[1] == "abuse")
    ]


def member_activity(state, lst, m):
    """Campaign events of one member across the audience's campaigns, newest first."""
    out = []
    for camp in state.campaigns.values():
        if camp.list_id != lst.id:
            continue
        i = camp.index.get(m["id"])
        if i is None:
            continue
        base = {"campaign_id": camp.id, "title": camp.title, "parent_campaign": ""}
        out.append(
            dict(
                base,
                action="sent",
                timestamp=iso(camp.send_us),
                type="regular",
                url="",
                _ts=camp.send_us,
            )
        )
        for ts, action, btype, url, _ip in camp.events(i):
            out.append(
                dict(
                    base, action=action, timestamp=iso(ts), type=btype, url=url, _ts=ts
                )
            )
    out.sort(key=lambda e: e["_ts"], reverse=True)
    for e in out:
        del e["_ts"]
    return out


# --------------------------------------------------------------- creation
def _explicit_events(camp_emails, index, events, send_us):
    explicit = {}
    for ev in events or []:
        email = ev.get("email") or ev.get("email_address")
        if not email:
            raise ValueError("each event needs an email")
        action = ev.get("action")
        if action not in ACTIONS:
            raise ValueError(
                "event action must be one of {}".format(", ".join(ACTIONS))
            )
        h = subscriber_hash(email)
        if h not in index:
            index[h] = len(camp_emails)
            camp_emails.append(email)
        ts = parse_iso(ev["timestamp"]) if ev.get("timestamp") else send_us + 3600 * US
        btype = ev.get("type") or ("hard" if action == "bounce" else "")
        explicit.setdefault(index[h], []).append(
            (ts, action, btype, ev.get("url") or "", ev.get("ip") or "127.0.0.1")
        )
    return explicit


def add_events(state, campaign_id, events):
    """Control API: activity that arrives after the campaign was sent, for its
    recipients (member statuses are left as they are). Returns the campaign's report."""
    with state.lock:
        camp = state.campaigns.get(campaign_id)
        if camp is None:
            raise KeyError(f"no campaign {campaign_id!r}")
        emails, index = list(camp.emails), dict(camp.index)
        new = _explicit_events(emails, index, events, camp.send_us)
        if len(emails) != camp.n:
            raise ValueError("events can be added for the campaign's recipients only")
        for i, more in new.items():
            camp.explicit.setdefault(i, []).extend(more)
        camp._summarise()
        return camp.report(state)


def create_campaign(
    state,
    api_key,
    list_id,
    subject,
    send_time=None,
    recipients=None,
    events=None,
    generate=None,
    title=None,
    preview_text="",
    from_name=None,
    apply_to_members=True,
):
    """Control API: a sent campaign with report data.

    ``recipients`` (emails) defaults to every subscribed member. ``events`` is an
    explicit list of {email, action open|click|bounce|unsub|abuse, timestamp?, url?,
    type?, ip?};
    ``generate`` = {opens_per_member, clicks_per_member, bounce_rate, unsub_rate, seed}.
    With ``apply_to_members`` unsubscribes and hard bounces change member statuses.
    """
    from .webhooks import Event as WEvent

    with state.lock:
        lst = state.audience(list_id, api_key)
        if lst is None:
            raise KeyError(f"no audience {list_id!r} for this api_key")
        send_us = parse_iso(send_time) if send_time else state.now_us()
        send_us -= send_us % US  # Mailchimp times are whole seconds
        if recipients is None:
            emails = [
                m["email"] for m in lst.members.values() if m["status"] == "subscribed"
            ]
        else:
            emails = list(recipients)
        index = {subscriber_hash(e): i for i, e in enumerate(emails)}
        explicit = _explicit_events(emails, index, events, send_us)
        camp = Campaign(
            state,
            state.new_id(5),
            api_key,
            lst,
            subject,
            title,
            send_us,
            emails,
            generate=generate,
            explicit=explicit,
            preview_text=preview_text,
            from_name=from_name,
        )
        state.campaigns[camp.id] = camp
        webhook_events = []
        if apply_to_members:
            state.now_us()
            for i in camp.unsub_idx:
                m = lst.members.get(camp.hashes[i])
                if m is not None and m["status"] == "subscribed":
                    m["status"] = "unsubscribed"
                    m["unsubscribe_reason"] = "N/A (Unsubscribed via campaign)"
                    m["last_changed"] = state.now_us()
                    webhook_events.append(
                        WEvent(
                            "unsubscribe",
                            lst,
                            m,
                            action="unsub",
                            reason="manual",
                            campaign_id=camp.id,
                        )
                    )
            for i in camp.bounce_idx:
                m = lst.members.get(camp.hashes[i])
                bounce = next((e[2] for e in camp.events(i) if e[1] == "bounce"), "")
                if (
                    m is not None
                    and bounce == "hard"
                    and m["status"] in ("subscribed", "unsubscribed")
                ):
                    m["status"] = "cleaned"
                    m["last_changed"] = state.now_us()
                    webhook_events.append(
                        WEvent("cleaned", lst, m, reason="hard", campaign_id=camp.id)
                    )
            lst.touch()
        doc = camp.json(state)
    if webhook_events:
        state.webhooks.deliver(webhook_events, "user")
    state.webhooks.deliver([WEvent.campaign(lst, camp)], "api")
    return doc
