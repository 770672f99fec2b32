"""Activity check: email activity pulled with real commits and the default parallel
writers, rerun, killed with SIGKILL mid-walk and rerun; nothing lost, nothing twice.

Run by ``tests/run.py`` on its Odoo test database (the addon installed).  Odoo's
test classes run in one shared transaction, so there the activity pull writes its
pages one after the other; the path the cron takes (pages read ahead by other
HTTP connections, two pages written at once, each in a transaction of its own
cursor, the campaign's position committed after them) only runs in a real
process.  This check drives that path through ``odoo shell`` against its own
sandbox process:

1. 3,000 contacts synced to the sandbox's audience; three campaigns with several
   pages of generated opens/clicks (with URLs)/hard and soft bounces/unsubscribes,
   explicit spam complaints and clicks, and 120 recipients that are not in Odoo.
2. First pull: every event of a known contact is stored exactly once (compared
   event by event with what the sandbox serves), one chatter line per contact and
   campaign under the "Mailchimp activity" subtype, saying what its events say,
   none twice, nobody notified, the events of unknown recipients counted and not
   stored, each campaign's watermark at its
   latest event and its walk closed; pages were written by two transactions at
   once on different database connections.
3. Second pull: nothing added (same rows, same highest ids, same counts).
4. A fourth campaign; its pull is killed with SIGKILL right after a writer
   committed the second email-activity page (so a committed page lies beyond the
   campaign's saved position), then pulled again: the same properties hold for all
   four campaigns.
"""

# a command-line program: what it prints is its report, not a log line
# pylint: disable=print-used

import importlib.util
import json
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests

from odoo_crash_check import _shell, pairing_setup, sandbox_process

ROOT = Path(__file__).resolve().parent.parent
CONTACTS = 3000
STRANGERS = 120
KILL_AT_PAGE = 2
# an account of its own: the crash check's account (the sandbox's default one) stays
# in the same database, and an account is stored once per Mailchimp account and company
API_KEY = "ac71c17ac71c17ac71c17ac71c17ac71-us1"
MARK = "ACT-DUMP"
EMAIL_ACTIVITY_ACTIONS = ("open", "click", "bounce")

SETUP_DONE = """
run = pairing.run_sync()
env.cr.commit()
print('ACT-SETUP ' + json.dumps({'account': account.id, 'pairing': pairing.id,
    'list_id': audience.mailchimp_list_id, 'sync': run.state}))
"""

# A pull as the scheduler runs it, traced: which thread and which database
# connection wrote each page, and when.  With ``KILL_CAMPAIGN`` set, the process
# kills itself with SIGKILL as soon as a writer has committed the
# ``KILL_AT_PAGE``-th email-activity page of that campaign: that page's position
# cannot be saved yet (it is saved after the page's write returns).
RUN = """
import json, os, signal, threading, time
from odoo.addons.mailchimp_connector.engine import activity as activity_module

KILL_CAMPAIGN, KILL_AT_PAGE = %(kill_campaign)r, %(kill_at_page)d
account = env['mailchimp.account'].browse(%(account)d)
pairing = env['mailchimp.pairing'].browse(%(pairing)d)
Activity = env.registry['mailchimp.activity']
original = Activity._store_staged
lock = threading.Lock()
writes, activity_pages = [], []


def traced(self, campaign, staged):
    self.env.cr.execute('SELECT pg_backend_pid()')
    pid = self.env.cr.fetchone()[0]
    started = time.monotonic()
    result = original(self, campaign, staged)
    thread = threading.current_thread().name
    with lock:
        writes.append([thread, pid, started, time.monotonic()])
        in_walk = (
            KILL_CAMPAIGN and thread.startswith('mailchimp-activity-writer') and staged
            and campaign.mailchimp_campaign_id == KILL_CAMPAIGN
            and staged[0][2].split('\\t', 1)[0] in ('open', 'click', 'bounce'))
        if in_walk:
            activity_pages.append(pid)
        if in_walk and len(activity_pages) == KILL_AT_PAGE:
            # what the writer's cursor does right after this returns
            self.env.cr.commit()
            print('ACT-KILLED', flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
    return result


Activity._store_staged = traced


def dump(label):
    cr = env.cr
    subtype = env.ref('mailchimp_connector.mt_mailchimp_activity').id
    cr.execute('''
        SELECT a.partner_id, c.mailchimp_campaign_id, a.action, a.timestamp, a.url,
               a.bounce_type
          FROM mailchimp_activity a JOIN mailchimp_campaign c ON c.id = a.campaign_id
         WHERE c.account_id = %%s''', (account.id,))
    events = [[p, c, a, t.isoformat(), u, b] for p, c, a, t, u, b in cr.fetchall()]
    cr.execute('''SELECT res_id, date, body FROM mail_message
                   WHERE subtype_id = %%s AND model = 'res.partner' ''', (subtype,))
    messages = [[r, d.isoformat(), str(b)] for r, d, b in cr.fetchall()]
    cr.execute('''SELECT (SELECT count(*) FROM mail_notification n JOIN mail_message m
                                   ON m.id = n.mail_message_id
                           WHERE m.subtype_id = %%s),
                         (SELECT count(*) FROM mail_mail mm JOIN mail_message m
                                   ON m.id = mm.mail_message_id
                           WHERE m.subtype_id = %%s),
                         (SELECT max(id) FROM mailchimp_activity),
                         (SELECT max(id) FROM mail_message WHERE subtype_id = %%s)''',
               (subtype, subtype, subtype))
    notified, mails, max_activity, max_message = cr.fetchone()
    cr.execute('SELECT subscriber_hash, partner_id FROM mailchimp_member '
               'WHERE pairing_id = %%s', (pairing.id,))
    members = dict(cr.fetchall())
    env.invalidate_all()
    campaigns = {
        c.mailchimp_campaign_id: {
            'subject': c.subject, 'title': c.title,
            'watermark': c.activity_watermark and c.activity_watermark.isoformat(),
            'offset': c.activity_offset, 'walk_since': bool(c.activity_walk_since),
            'sent_to_offset': c.sent_to_offset, 'sent_to_done': c.sent_to_done,
            'unknown': c.unknown_event_count, 'synced': bool(c.last_activity_sync),
        }
        for c in env['mailchimp.campaign'].search([('account_id', '=', account.id)])
    }
    print('%(mark)s ' + json.dumps({
        'label': label, 'events': events, 'messages': messages, 'notified': notified,
        'mails': mails, 'max_activity': max_activity, 'max_message': max_message,
        'members': members, 'campaigns': campaigns,
        'error': account.activity_error or '', 'writes': writes, 'main_pid': main_pid,
        'settings': [activity_module.ACTIVITY_CONNECTIONS,
                     activity_module.ACTIVITY_WRITERS],
    }), flush=True)
    writes.clear()


env.cr.execute('SELECT pg_backend_pid()')
main_pid = env.cr.fetchone()[0]
if %(dump_before)r:
    dump('before')
started = time.monotonic()
activity_module.ActivityPull(account).run()
env.cr.commit()
print('ACT-SECONDS %%.1f' %% (time.monotonic() - started), flush=True)
dump('after')
"""


def _load_utils(submodule):
    """One of the addon's pure ``utils`` modules (no odoo import): the activity
    events for the chatter bodies, the advisory-lock keys."""
    name = "mailchimp_utils"
    if name not in sys.modules:
        utils = ROOT / "mailchimp_connector" / "utils"
        spec = importlib.util.spec_from_file_location(
            name, utils / "__init__.py", submodule_search_locations=[str(utils)]
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return importlib.import_module(f"{name}.{submodule}")


def _dumps(shell_command, script, timeout=600):
    """Run ``script`` in ``odoo shell``; returns
    (dumps by label, seconds of the pull)."""
    result = subprocess.run(
        shell_command,
        input=script,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
    )
    dumps, seconds = {}, None
    for line in result.stdout.splitlines():
        if line.startswith(MARK + " "):
            dump = json.loads(line[len(MARK) + 1 :])
            dumps[dump["label"]] = dump
        elif line.startswith("ACT-SECONDS "):
            seconds = float(line.split()[1])
    if "after" not in dumps:
        raise RuntimeError(
            f"the pull printed no state:\n{result.stdout[-2000:]}\n"
            f"{result.stderr[-3000:]}"
        )
    return dumps, seconds


class SandboxTruth:
    """What the sandbox serves for the account's campaigns, read plainly (whole
    collections, no ``since``), independently of the connector's walks."""

    def __init__(self, base):
        self.api = f"{base}/us1/3.0"
        self.session = requests.Session()
        self.session.auth = ("x", API_KEY)

    def get(self, path, **params):
        response = self.session.get(f"{self.api}{path}", params=params, timeout=60)
        response.raise_for_status()
        return response.json()

    def collection(self, path, key):
        offset, items = 0, []
        while True:
            page = self.get(path, count=1000, offset=offset)
            items += page.get(key) or []
            offset += 1000
            if offset >= page.get("total_items", 0) or not page.get(key):
                return items

    def campaign(self, campaign_id, stamp):
        """(events as tuples (hash, campaign, action, time, url, bounce type),
        email-activity recipients in walk order, latest email-activity time)."""
        path = f"/reports/{campaign_id}"
        send = stamp(self.get(f"/campaigns/{campaign_id}")["send_time"])
        events = [
            (item["email_id"], campaign_id, "sent", send, None, None)
            for item in self.collection(f"{path}/sent-to", "sent_to")
        ]
        order, latest = [], ""
        for item in self.collection(f"{path}/email-activity", "emails"):
            order.append(item["email_id"])
            for act in item.get("activity") or ():
                when = stamp(act["timestamp"])
                latest = max(latest, when)
                bounce = act.get("type") if act["action"] == "bounce" else None
                events.append(
                    (
                        item["email_id"],
                        campaign_id,
                        act["action"],
                        when,
                        act.get("url") or None,
                        bounce if bounce in ("hard", "soft") else None,
                    )
                )
        for item in self.collection(f"{path}/unsubscribed", "unsubscribes"):
            events.append(
                (
                    item["email_id"],
                    campaign_id,
                    "unsubscribe",
                    stamp(item["timestamp"]),
                    None,
                    None,
                )
            )
        for item in self.get(f"{path}/abuse-reports").get("abuse_reports") or []:
            events.append(
                (
                    item["email_id"],
                    campaign_id,
                    "abuse",
                    stamp(item["date"]),
                    None,
                    None,
                )
            )
        return events, order, latest


def _campaign_request(list_id, index, send_time):
    """A campaign to every subscribed member, with generated activity and explicit
    events: spam complaints and clicks on an odd URL of known contacts, and every
    kind of event of recipients who are not in Odoo."""
    at = send_time.replace(microsecond=0)
    events = []
    for i in range(index * 10, index * 10 + 6):
        email = f"act{i:05d}@activity-check.com"
        events.append(
            {
                "email": email,
                "action": "abuse",
                "timestamp": (at + timedelta(minutes=400 + i)).isoformat(),
            }
        )
        events.append(
            {
                "email": email,
                "action": "click",
                "url": f"https://shop.example.com/p?id={i}&ref='mc'<b>",
                "timestamp": (at + timedelta(minutes=401 + i)).isoformat(),
            }
        )
    stranger_actions = [
        ("open", None),
        ("click", None),
        ("bounce", "soft"),
        ("bounce", "hard"),
        ("unsub", None),
        ("abuse", None),
    ]
    for j in range(STRANGERS):
        action, kind = stranger_actions[j % len(stranger_actions)]
        event = {
            "email": f"stranger{j:03d}@elsewhere.example.com",
            "action": action,
            "timestamp": (at + timedelta(minutes=20 + j)).isoformat(),
        }
        if action == "click":
            event["url"] = f"https://www.example.com/stranger/{j}"
        if kind:
            event["type"] = kind
        events.append(event)
    return {
        "api_key": API_KEY,
        "list_id": list_id,
        "subject": f"Activity check campaign {index}",
        "send_time": at.isoformat(),
        "events": events,
        "generate": {
            "opens_per_member": 1.5,
            "clicks_per_member": 0.4,
            "bounce_rate": 0.03,
            "unsub_rate": 0.02,
            "seed": index + 1,
        },
    }


def _wait_unlocked(db, account_id, seconds=20):
    """Wait until no backend of the killed process holds the account's pull lock."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        out = subprocess.run(
            [
                "psql",
                "-d",
                db,
                "-tAc",
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                f"AND classid = {_load_utils('locks').LOCK_ACTIVITY} "
                f"AND objid = {int(account_id)}",
            ],
            capture_output=True,
            text=True,
        )
        if out.stdout.strip() == "0":
            return
        time.sleep(0.1)


def summary_lines(expected, campaigns, events_module):
    """Counter of the chatter lines ``(partner, date, body)`` that the events
    ``expected`` (``(partner, campaign, action, time, url, bounce type)``) make:
    one per contact and campaign, dated by its latest event, its body built from
    the events as the summary's SQL computes them."""
    by_pair = {}
    for partner, campaign, action, when, url, bounce in expected.elements():
        by_pair.setdefault((partner, campaign), []).append((action, when, url, bounce))
    lines = Counter()
    for (partner, campaign), events in by_pair.items():

        def times(name, events=events):
            return [when for action, when, _url, _bounce in events if action == name]

        clicks = [(when, url) for action, when, url, _b in events if action == "click"]
        last_click = max((w for w, _u in clicks), default=None)
        bounces = [(b, when) for action, when, _u, b in events if action == "bounce"]
        bounce_type = None
        if bounces:
            bounce_type = max(
                bounces,
                key=lambda item: (item[0] == "hard", item[0] is not None, item[1]),
            )[0]
        summary = events_module.Summary(
            sent_date=min(times("sent"), default=None),
            open_count=len(times("open")),
            last_open_date=max(times("open"), default=None),
            click_count=len(clicks),
            last_click_date=last_click,
            # the latest click's URL; of several in one second, the first by
            # text (PostgreSQL sorts NULL last)
            last_click_url=min(
                (u for w, u in clicks if w == last_click),
                key=lambda u: (u is None, u or ""),
                default=None,
            ),
            bounce_type=bounce_type,
            bounce_date=max(times("bounce"), default=None),
            unsubscribe_date=min(times("unsubscribe"), default=None),
            abuse_date=min(times("abuse"), default=None),
        )
        info = campaigns.get(campaign, {})
        title = info.get("title") or info.get("subject") or campaign
        body = events_module.summary_body(title, summary)
        lines[(partner, max(when for _a, when, _u, _b in events), body)] += 1
    return lines


def verify(label, dump, truth, bodies):
    """The properties every finished pull must have.  ``truth``: {campaign id:
    (events, walk order, latest)} from the sandbox; ``bodies``: the addon's
    ``activity_events`` module.  Returns [(name, ok)]."""
    members = dump["members"]
    known_partners = set(members.values())
    expected, unknown = Counter(), Counter()
    for events, _order, _latest in truth.values():
        for event in set(events):  # an identical event is one event (same key)
            if event[0] in members:
                expected[(members[event[0]], *event[1:])] += 1
            else:
                unknown[event[1]] += 1
    stored = Counter(tuple(row) for row in dump["events"])
    per_action = Counter(event[2] for event in stored.elements())
    wanted_per_action = Counter(event[2] for event in expected.elements())
    wanted_lines = summary_lines(expected, dump["campaigns"], bodies)
    lines = Counter(tuple(row) for row in dump["messages"])
    campaigns = dump["campaigns"]
    positions = {
        cid: (
            campaigns.get(cid, {}).get("watermark"),
            latest or None,
            campaigns.get(cid, {}).get("offset"),
            campaigns.get(cid, {}).get("walk_since"),
            campaigns.get(cid, {}).get("sent_to_done"),
            campaigns.get(cid, {}).get("sent_to_offset"),
            sum(1 for e in events if e[2] == "sent"),
            campaigns.get(cid, {}).get("synced"),
        )
        for cid, (events, _order, latest) in truth.items()
    }
    missing = expected - stored
    extra = stored - expected
    print(
        f"activity check: {label}: {sum(stored.values())} events stored "
        f"({dict(sorted(per_action.items()))}), sandbox has {sum(expected.values())} "
        f"for known contacts ({dict(sorted(wanted_per_action.items()))}) and "
        f"{sum(unknown.values())} of unknown recipients; {sum(lines.values())} chatter "
        f"lines; missing {sum(missing.values())}, extra/duplicated "
        f"{sum(extra.values())}"
    )
    if missing or extra:
        print(
            f"activity check: {label}: e.g. missing {list(missing)[:3]}, extra "
            f"{list(extra)[:3]}"
        )
    unknown_counts = {
        cid: (campaigns.get(cid, {}).get("unknown"), unknown[cid]) for cid in truth
    }
    print(
        f"activity check: {label}: unknown counted/served per campaign {unknown_counts}"
    )
    return [
        (f"{label}: no pull error", not dump["error"]),
        (
            f"{label}: every event of a known contact stored exactly once, per action "
            "as served "
            f"({', '.join(f'{a} {n}' for a, n in sorted(per_action.items()))})",
            stored == expected
            and set(wanted_per_action)
            == {"sent", "open", "click", "bounce", "unsubscribe", "abuse"}
            and {e[5] for e in expected if e[2] == "bounce"} == {"hard", "soft"}
            and any(e[4] for e in expected if e[2] == "click"),
        ),
        (
            f"{label}: one chatter line per contact and campaign under 'Mailchimp "
            "activity', saying what its stored events say, none duplicated, nobody "
            "notified",
            lines == wanted_lines
            and max(lines.values(), default=0) == 1
            and sum(lines.values())
            == len({(partner, campaign) for partner, campaign, *_rest in stored})
            and dump["notified"] == 0
            and dump["mails"] == 0,
        ),
        (
            f"{label}: events of unknown recipients counted on their campaign, not "
            "stored",
            all(
                counted == served and served > 0
                for counted, served in unknown_counts.values()
            )
            and all(partner in known_partners for partner, *_rest in stored),
        ),
        (
            f"{label}: each campaign's watermark at its latest event, walk closed, "
            "recipients read to the end",
            all(
                watermark == latest
                and offset == 0
                and not walk_since
                and sent_done
                and sent_offset == recipients
                and synced
                for (
                    watermark,
                    latest,
                    offset,
                    walk_since,
                    sent_done,
                    sent_offset,
                    recipients,
                    synced,
                ) in positions.values()
            ),
        ),
    ]


def parallel_writes(label, dump):
    """Pages written by two transactions at once, on connections other than the
    pull's own: the path the benchmark measures, here with its default settings."""
    writers = [
        w for w in dump["writes"] if w[0].startswith("mailchimp-activity-writer")
    ]
    pids = {w[1] for w in writers}
    overlapping = sum(
        1
        for i, a in enumerate(writers)
        for b in writers[i + 1 :]
        if a[1] != b[1] and a[2] < b[3] and b[2] < a[3]
    )
    print(
        f"activity check: {label}: settings (connections, writers) {dump['settings']}; "
        f"{len(writers)} pages written by writer threads on {len(pids)} connections, "
        f"{overlapping} pairs written at the same time"
    )
    return (
        f"{label}: pages written by two transactions at once on their own connections "
        "(default settings)",
        dump["settings"][1] == 2
        and len(pids) >= 2
        and dump["main_pid"] not in pids
        and overlapping > 0,
    )


def run_activity_check(shell_command, db):
    """Returns a list of (check name, ok) pairs."""
    events_module = _load_utils("activity_events")
    bodies = events_module
    stamp = events_module.utc_stamp
    started = time.monotonic()
    checks = []
    with sandbox_process() as base:
        requests.post(
            f"{base}/_sandbox/accounts",
            timeout=10,
            json={
                "api_key": API_KEY,
                "account_name": "Activity check",
                "default_list": True,
            },
        ).raise_for_status()
        setup = json.loads(
            _shell(
                shell_command,
                pairing_setup(
                    "Activity check",
                    ("act", "activity-check.com"),
                    "odoo2mailchimp",
                    f"{base}/{{dc}}/3.0",
                    CONTACTS,
                    API_KEY,
                )
                + SETUP_DONE,
                "ACT-SETUP",
            )
        )
        checks.append(
            ("the contacts were synced to the sandbox", setup["sync"] == "done")
        )
        now = datetime.now(timezone.utc)
        campaign_ids = []
        for index, sent in enumerate(
            (
                now - timedelta(days=3),
                now - timedelta(days=2),
                now - timedelta(days=2, hours=-2),
            )
        ):
            response = requests.post(
                f"{base}/_sandbox/campaigns",
                json=_campaign_request(setup["list_id"], index, sent),
                timeout=60,
            )
            response.raise_for_status()
            campaign_ids.append(response.json()["id"])
        sandbox_api = SandboxTruth(base)
        truth = {cid: sandbox_api.campaign(cid, stamp) for cid in campaign_ids}

        def pull(kill_campaign="", dump_before=False):
            return _dumps(
                shell_command,
                RUN
                % {
                    "account": setup["account"],
                    "pairing": setup["pairing"],
                    "mark": MARK,
                    "kill_campaign": kill_campaign,
                    "kill_at_page": KILL_AT_PAGE,
                    "dump_before": dump_before,
                },
            )

        first, seconds = pull()
        first = first["after"]
        print(
            f"activity check: first pull of {len(first['events'])} events in {seconds} "
            "s"
        )
        checks += verify("first pull", first, truth, bodies)
        checks.append(parallel_writes("first pull", first))

        second, seconds = pull()
        second = second["after"]
        print(f"activity check: second pull in {seconds} s")
        checks += verify("second pull", second, truth, bodies)
        checks.append(
            (
                "second pull adds nothing (same events, chatter lines, highest ids, "
                "unknown counts)",
                sorted(map(tuple, second["events"]))
                == sorted(map(tuple, first["events"]))
                and sorted(map(tuple, second["messages"]))
                == sorted(map(tuple, first["messages"]))
                and (second["max_activity"], second["max_message"])
                == (first["max_activity"], first["max_message"])
                and {c: i["unknown"] for c, i in second["campaigns"].items()}
                == {c: i["unknown"] for c, i in first["campaigns"].items()},
            )
        )

        response = requests.post(
            f"{base}/_sandbox/campaigns",
            json=_campaign_request(setup["list_id"], 3, now - timedelta(days=1)),
            timeout=60,
        )
        response.raise_for_status()
        crash_id = response.json()["id"]
        truth[crash_id] = sandbox_api.campaign(crash_id, stamp)
        victim = subprocess.run(
            shell_command,
            input=RUN
            % {
                "account": setup["account"],
                "pairing": setup["pairing"],
                "mark": MARK,
                "kill_campaign": crash_id,
                "kill_at_page": KILL_AT_PAGE,
                "dump_before": False,
            },
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=600,
        )
        killed = victim.returncode == -9 and "ACT-KILLED" in victim.stdout
        how = (
            "killed with SIGKILL after a writer committed email-activity page "
            f"{KILL_AT_PAGE}"
            if killed
            else "not killed"
        )
        print(
            "activity check: the pull of the fourth campaign exited "
            f"{victim.returncode} ({how})"
        )
        if not killed:
            print(victim.stdout[-2000:], victim.stderr[-3000:])
        _wait_unlocked(db, setup["account"])

        dumps, seconds = pull(dump_before=True)
        after_kill, rerun = dumps["before"], dumps["after"]
        crash_state = after_kill["campaigns"].get(crash_id, {})
        _events, order, _latest = truth[crash_id]
        rank = {email_id: index for index, email_id in enumerate(order)}
        members_by_partner = {p: h for h, p in after_kill["members"].items()}
        beyond = {
            members_by_partner[p]
            for p, c, action, *_rest in after_kill["events"]
            if c == crash_id
            and action in EMAIL_ACTIVITY_ACTIONS
            and rank.get(members_by_partner.get(p), -1) >= crash_state.get("offset", 0)
        }
        crash_stored = sum(1 for e in after_kill["events"] if e[1] == crash_id)
        print(
            f"activity check: after the kill, the fourth campaign had {crash_stored} "
            f"events stored, its saved position {crash_state.get('offset')} of "
            f"{len(order)} recipients with activity, {len(beyond)} recipients' events "
            f"committed beyond it, watermark {crash_state.get('watermark')}; rerun in "
            f"{seconds} s"
        )
        checks.append(
            (
                "the pull was killed mid-walk with a committed page beyond the saved "
                "position",
                killed
                and not crash_state.get("watermark")
                and not crash_state.get("synced")
                and crash_state.get("offset", 0) < len(order)
                and bool(beyond),
            )
        )
        checks += verify("rerun after the kill", rerun, truth, bodies)
    print(f"activity check: ran in {time.monotonic() - started:.0f} s")
    return checks
