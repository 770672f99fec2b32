"""Sandbox: the behaviour switches for what Mailchimp's documentation leaves open.

``since_*`` filters exclusive ("after the set time", the default) or inclusive;
archived members listed without ``status=`` or not (the default); one second's
members in change order (the default) or by id. Also the frozen clock.
"""

import os
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

from mailchimp_sandbox import DEFAULT_API_KEY, DEFAULT_LIST_ID

AUTH = ("anystring", DEFAULT_API_KEY)
ROOT = Path(__file__).resolve().parent.parent
US = 1_000_000
# 2030-01-01T10:00:00Z in microsecond ticks, and its rendering
T0 = int(datetime(2030, 1, 1, 10, tzinfo=timezone.utc).timestamp()) * US
T0_ISO = "2030-01-01T10:00:00+00:00"
DEFAULTS = {
    "since": "exclusive",
    "archived_listed": False,
    "same_second_order": "change",
}
M = f"/lists/{DEFAULT_LIST_ID}/members"


@pytest.fixture()
def control(sandbox):
    def call(method, path, **kwargs):
        return requests.request(
            method, f"{sandbox.url}/_sandbox/{path}", timeout=10, **kwargs
        )

    return call


@pytest.fixture()
def get(sandbox):
    session = requests.Session()
    session.auth = AUTH
    base = sandbox.api_url("us1")
    yield lambda path, **params: session.get(
        base + path, params=params, timeout=10
    ).json()
    session.close()


def add(sandbox, email, tick, **extra):
    return sandbox.state.add_member(
        DEFAULT_LIST_ID, email, last_changed=tick, timestamp_opt=tick, **extra
    )


def test_defaults_follow_the_documentation_and_a_reset_restores_them(control):
    assert control("GET", "behaviour").json() == DEFAULTS
    changed = control(
        "POST",
        "behaviour",
        json={"since": "inclusive", "archived_listed": True, "same_second_order": "id"},
    )
    assert changed.status_code == 200
    assert changed.json() == {
        "since": "inclusive",
        "archived_listed": True,
        "same_second_order": "id",
    }
    # a partial change keeps the others
    assert (
        control("POST", "behaviour", json={"since": "exclusive"}).json()[
            "archived_listed"
        ]
        is True
    )
    control("POST", "reset").raise_for_status()
    assert control("GET", "behaviour").json() == DEFAULTS


@pytest.mark.parametrize(
    "body",
    [
        {"since": "sometimes"},
        {"archived_listed": "maybe"},
        {"same_second_order": "random"},
        {"nonsense": 1},
    ],
)
def test_unknown_switches_and_values_are_refused(control, body):
    response = control("POST", "behaviour", json=body)
    assert response.status_code == 400
    assert control("GET", "behaviour").json() == DEFAULTS


@pytest.mark.parametrize(
    "since,kept", [("exclusive", ["later"]), ("inclusive", ["same", "later"])]
)
def test_since_last_changed_and_since_timestamp_opt(sandbox, control, get, since, kept):
    control("POST", "behaviour", json={"since": since}).raise_for_status()
    add(sandbox, "before@acme-mail.com", T0 - 1)  # the second before
    add(sandbox, "same@acme-mail.com", T0 + 999_999)  # within the second of since
    add(sandbox, "later@acme-mail.com", T0 + US)  # the next second
    for param in ("since_last_changed", "since_timestamp_opt"):
        members = get(M, **{param: T0_ISO, "sort_field": "last_changed"})["members"]
        assert [m["email_address"].split("@")[0] for m in members] == kept, param
    # before_* filters are not switched: exclusive as ever
    members = get(M, before_last_changed=T0_ISO)["members"]
    assert [m["email_address"] for m in members] == ["before@acme-mail.com"]


@pytest.mark.parametrize(
    "since,kept", [("exclusive", ["later"]), ("inclusive", ["same", "later"])]
)
def test_unsubscribed_since(sandbox, control, get, since, kept):
    control("POST", "behaviour", json={"since": since}).raise_for_status()
    add(sandbox, "same@acme-mail.com", T0, status="unsubscribed")
    add(sandbox, "later@acme-mail.com", T0 + US + 5, status="unsubscribed")
    members = get(
        M, status="unsubscribed", unsubscribed_since=T0_ISO, sort_field="last_changed"
    )["members"]
    assert [m["email_address"].split("@")[0] for m in members] == kept


def make_campaign(sandbox, **body):
    body.setdefault("list_id", DEFAULT_LIST_ID)
    response = requests.post(sandbox.url + "/_sandbox/campaigns", json=body, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("since", ["exclusive", "inclusive"])
def test_campaign_and_report_since_filters(sandbox, control, get, since):
    control("POST", "behaviour", json={"since": since}).raise_for_status()
    sandbox.state.add_member(DEFAULT_LIST_ID, "a@acme-mail.com")
    control(
        "POST", "clock", json={"frozen": True}
    ).raise_for_status()  # created in one second
    at = make_campaign(
        sandbox,
        subject="At",
        send_time=T0_ISO,
        events=[
            {
                "email": "a@acme-mail.com",
                "action": "open",
                "timestamp": "2030-01-02T00:00:00+00:00",
            },
            {
                "email": "a@acme-mail.com",
                "action": "open",
                "timestamp": "2030-01-02T00:00:07+00:00",
            },
        ],
    )
    after = make_campaign(
        sandbox, subject="After", send_time="2030-01-01T10:00:01+00:00"
    )
    control("POST", "clock", json={"frozen": False}).raise_for_status()
    inclusive = since == "inclusive"
    got = get("/campaigns", since_send_time=T0_ISO, sort_field="send_time")["campaigns"]
    assert [c["id"] for c in got] == ([at["id"]] if inclusive else []) + [after["id"]]
    got = get("/reports", since_send_time=T0_ISO)["reports"]
    assert len(got) == (2 if inclusive else 1)
    # both were created "now", in one second
    newest = max(c["create_time"] for c in get("/campaigns")["campaigns"])
    assert get("/campaigns", since_create_time=newest)["total_items"] == (
        2 if inclusive else 0
    )
    activity = f"/reports/{at['id']}/email-activity"
    stamps = (
        ["2030-01-02T00:00:07+00:00"]
        if not inclusive
        else ["2030-01-02T00:00:00+00:00", "2030-01-02T00:00:07+00:00"]
    )
    page = get(activity, since="2030-01-02T00:00:00+00:00")
    assert [a["timestamp"] for a in page["emails"][0]["activity"]] == stamps
    member_id = sandbox.state.get_member(DEFAULT_LIST_ID, "a@acme-mail.com")["id"]
    one = get(
        f"{activity}/{member_id}",
        since="2030-01-02T00:00:00+00:00",
    )
    assert [a["timestamp"] for a in one["activity"]] == stamps
    opens = get(f"/reports/{at['id']}/open-details", since="2030-01-02T00:00:00+00:00")
    assert opens["total_opens"] == len(stamps)
    # nothing after the last event's second,
    # whatever the switch, unless inclusive keeps it
    last = get(activity, since="2030-01-02T00:00:07+00:00")
    assert last["total_items"] == (1 if inclusive else 0)


@pytest.mark.parametrize("listed", [False, True])
def test_archived_members_listed_without_status_only_when_switched_on(
    sandbox, control, get, listed
):
    control("POST", "behaviour", json={"archived_listed": listed}).raise_for_status()
    add(sandbox, "kept@acme-mail.com", T0)
    add(sandbox, "gone@acme-mail.com", T0 + 1, status="archived")
    everyone = get(M, sort_field="last_changed")
    expected = ["kept@acme-mail.com"] + (["gone@acme-mail.com"] if listed else [])
    assert [m["email_address"] for m in everyone["members"]] == expected
    assert everyone["total_items"] == len(expected)
    # asked for, they are listed either way
    assert [m["email_address"] for m in get(M, status="archived")["members"]] == [
        "gone@acme-mail.com"
    ]


@pytest.mark.parametrize("order", ["change", "id"])
def test_one_seconds_members_in_change_order_or_by_id(sandbox, control, get, order):
    control("POST", "behaviour", json={"same_second_order": order}).raise_for_status()
    emails = [f"m{i}@acme-mail.com" for i in range(8)]
    for i, email in enumerate(emails):
        add(sandbox, email, T0 + 100 * (8 - i))  # changed in reverse order of listing
    add(sandbox, "earlier@acme-mail.com", T0 - US)
    add(sandbox, "later@acme-mail.com", T0 + US)
    for direction in ("ASC", "DESC"):
        members = get(M, sort_field="last_changed", sort_dir=direction, count=100)[
            "members"
        ]
        got = [m["email_address"] for m in members]
        assert got[0] == (
            "earlier@acme-mail.com" if direction == "ASC" else "later@acme-mail.com"
        )
        middle = members[1:-1]
        if order == "change":
            stamps = [
                m["email_address"]
                for m in sorted(
                    middle,
                    key=lambda m: emails.index(m["email_address"]),
                    reverse=direction == "ASC",
                )
            ]
            assert [m["email_address"] for m in middle] == stamps
        else:
            ids = [m["id"] for m in middle]
            assert ids == sorted(ids, reverse=direction == "DESC")


def test_frozen_clock_stamps_changes_with_one_second(sandbox, control, get):
    control("POST", "clock", json={"frozen": True}).raise_for_status()
    put = requests.Session()
    put.auth = AUTH
    base = sandbox.api_url("us1")
    stamps = []
    for i in range(3):
        response = put.put(
            f"{base}{M}/f{i}@acme-mail.com",
            json={
                "email_address": f"f{i}@acme-mail.com",
                "status_if_new": "subscribed",
            },
            timeout=10,
        )
        stamps.append(response.json()["last_changed"])
        time.sleep(0.4)
    assert len(set(stamps)) == 1
    ticks = [
        sandbox.state.get_member(DEFAULT_LIST_ID, f"f{i}@acme-mail.com")["last_changed"]
        for i in range(3)
    ]
    assert ticks == sorted(set(ticks))  # still ordered within the second
    control("POST", "clock", json={"frozen": False}).raise_for_status()
    time.sleep(1.05)
    response = put.put(
        f"{base}{M}/f0@acme-mail.com",
        json={
            "email_address": "f0@acme-mail.com",
            "status_if_new": "subscribed",
            "merge_fields": {"FNAME": "Later"},
        },
        timeout=10,
    )
    assert response.json()["last_changed"] > stamps[0]
    control("POST", "clock", json={"frozen": True}).raise_for_status()
    control("POST", "reset").raise_for_status()  # a reset lets the clock go again
    assert sandbox.state.clock._frozen is None


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_command_line_switches_become_the_defaults():
    port = _free_port()
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT / "sandbox"),
        MAILCHIMP_SANDBOX_SINCE="inclusive",
        MAILCHIMP_SANDBOX_ARCHIVED_LISTED="1",
        MAILCHIMP_SANDBOX_SAME_SECOND_ORDER="id",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "mailchimp_sandbox", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/_sandbox"
    try:
        deadline = time.time() + 10
        while True:
            try:
                behaviour = requests.get(f"{url}/behaviour", timeout=1).json()
                break
            except requests.ConnectionError:
                assert time.time() < deadline, "the sandbox did not start"
                time.sleep(0.05)
        chosen = {
            "since": "inclusive",
            "archived_listed": True,
            "same_second_order": "id",
        }
        assert behaviour == chosen
        requests.post(
            f"{url}/behaviour", json={"since": "exclusive"}, timeout=5
        ).raise_for_status()
        requests.post(f"{url}/reset", timeout=5).raise_for_status()
        assert requests.get(f"{url}/behaviour", timeout=5).json() == chosen
    finally:
        proc.terminate()
        proc.wait(5)
