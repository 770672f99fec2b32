"""Sandbox: campaigns, reports, email-activity paging
and ``since`` filtering, generated activity."""

import time

import pytest
import requests

from mailchimp_sandbox import DEFAULT_API_KEY, DEFAULT_LIST_ID, subscriber_hash

# seconds: a sandbox that stops answering fails the test instead of hanging it
TIMEOUT = 30

AUTH = ("anystring", DEFAULT_API_KEY)


def make_campaign(sandbox, **body):
    body.setdefault("list_id", DEFAULT_LIST_ID)
    r = requests.post(sandbox.url + "/_sandbox/campaigns", json=body, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    return r.json()


def test_explicit_events_report_and_since(api, sandbox):
    for e in ("a@acme-mail.com", "b@acme-mail.com", "c@acme-mail.com"):
        sandbox.state.add_member(
            DEFAULT_LIST_ID, e, merge_fields={"FNAME": e[0].upper()}
        )
    camp = make_campaign(
        sandbox,
        subject="Spring",
        send_time="2030-03-01T09:00:00+00:00",
        events=[
            {
                "email": "a@acme-mail.com",
                "action": "open",
                "timestamp": "2030-03-01T10:00:00+00:00",
            },
            {
                "email": "a@acme-mail.com",
                "action": "open",
                "timestamp": "2030-03-02T10:00:00+00:00",
            },
            {
                "email": "a@acme-mail.com",
                "action": "click",
                "url": "https://shop.acme-mail.com/x",
                "timestamp": "2030-03-02T10:00:05+00:00",
            },
            {
                "email": "b@acme-mail.com",
                "action": "bounce",
                "type": "hard",
                "timestamp": "2030-03-01T09:01:00+00:00",
            },
            {
                "email": "c@acme-mail.com",
                "action": "unsub",
                "timestamp": "2030-03-01T12:00:00+00:00",
            },
        ],
    )
    assert camp["status"] == "sent" and camp["emails_sent"] == 3
    assert camp["send_time"] == "2030-03-01T09:00:00+00:00"
    rep = api.get(f"/reports/{camp['id']}").json()
    assert rep["emails_sent"] == 3 and rep["list_id"] == DEFAULT_LIST_ID
    assert rep["subject_line"] == "Spring" and rep["campaign_title"] == "Spring"
    assert rep["opens"]["opens_total"] == 2 and rep["opens"]["unique_opens"] == 1
    assert rep["opens"]["open_rate"] == pytest.approx(1 / 2)  # of the 2 delivered
    assert rep["clicks"]["clicks_total"] == 1 and rep["clicks"]["unique_clicks"] == 1
    assert rep["bounces"]["hard_bounces"] == 1 and rep["bounces"]["soft_bounces"] == 0
    assert rep["unsubscribed"] == 1 and rep["abuse_reports"] == 0
    act = api.get(f"/reports/{camp['id']}/email-activity").json()
    assert act["total_items"] == 3
    by = {e["email_address"]: e for e in act["emails"]}
    assert [a["action"] for a in by["a@acme-mail.com"]["activity"]] == [
        "open",
        "open",
        "click",
    ]
    assert by["a@acme-mail.com"]["activity"][2]["url"] == "https://shop.acme-mail.com/x"
    assert by["b@acme-mail.com"]["activity"] == [
        {
            "action": "bounce",
            "type": "hard",
            "timestamp": "2030-03-01T09:01:00+00:00",
            "ip": "127.0.0.1",
        }
    ]
    # unsubscribes are not email activity
    assert by["c@acme-mail.com"]["activity"] == []
    since = api.get(
        f"/reports/{camp['id']}/email-activity",
        params={"since": "2030-03-02T00:00:00+00:00"},
    ).json()
    assert since["total_items"] == 1
    assert [a["timestamp"] for a in since["emails"][0]["activity"]] == [
        "2030-03-02T10:00:00+00:00",
        "2030-03-02T10:00:05+00:00",
    ]
    # by default since is exclusive ("after a
    # specific time"); the switch makes it inclusive
    same = api.get(
        f"/reports/{camp['id']}/email-activity",
        params={"since": "2030-03-02T10:00:05+00:00"},
    ).json()
    assert same["total_items"] == 0
    sandbox.state.set_behaviour(since="inclusive")
    same = api.get(
        f"/reports/{camp['id']}/email-activity",
        params={"since": "2030-03-02T10:00:05+00:00"},
    ).json()
    assert same["total_items"] == 1 and len(same["emails"][0]["activity"]) == 1
    sandbox.state.set_behaviour(since="exclusive")
    od = api.get(
        f"/reports/{camp['id']}/open-details",
        params={"since": "2030-03-02T00:00:00+00:00"},
    ).json()
    assert od["total_items"] == 1 and od["total_opens"] == 1
    assert od["members"][0]["opens"] == [
        {"timestamp": "2030-03-02T10:00:00+00:00", "is_proxy_open": False}
    ]
    assert api.get(f"/reports/{camp['id']}/open-details").json()["total_opens"] == 2
    one = api.get(
        f"/reports/{camp['id']}/email-activity/{subscriber_hash('a@acme-mail.com')}"
    ).json()
    assert one["email_address"] == "a@acme-mail.com" and len(one["activity"]) == 3
    sent = api.get(f"/reports/{camp['id']}/sent-to").json()
    statuses = {
        s["email_address"]: (s["status"], s["open_count"]) for s in sent["sent_to"]
    }
    assert statuses == {
        "a@acme-mail.com": ("sent", 2),
        "b@acme-mail.com": ("hard", 0),
        "c@acme-mail.com": ("sent", 0),
    }
    uns = api.get(f"/reports/{camp['id']}/unsubscribed").json()
    assert [u["email_address"] for u in uns["unsubscribes"]] == ["c@acme-mail.com"]
    assert uns["unsubscribes"][0]["merge_fields"]["FNAME"] == "C"
    # the campaign changed the audience like Mailchimp would
    assert (
        sandbox.state.get_member(DEFAULT_LIST_ID, "c@acme-mail.com")["status"]
        == "unsubscribed"
    )
    assert (
        sandbox.state.get_member(DEFAULT_LIST_ID, "b@acme-mail.com")["status"]
        == "cleaned"
    )
    assert api.get("/reports/nope").status_code == 404


def test_abuse_reports_listed_apart_from_email_activity(api, sandbox):
    for e in ("a@acme-mail.com", "b@acme-mail.com"):
        sandbox.state.add_member(DEFAULT_LIST_ID, e)
    camp = make_campaign(
        sandbox,
        subject="Spam?",
        send_time="2030-03-01T09:00:00+00:00",
        events=[
            {
                "email": "a@acme-mail.com",
                "action": "open",
                "timestamp": "2030-03-01T10:00:00+00:00",
            },
            {
                "email": "a@acme-mail.com",
                "action": "abuse",
                "timestamp": "2030-03-01T10:05:00+00:00",
            },
        ],
    )
    assert api.get(f"/reports/{camp['id']}").json()["abuse_reports"] == 1
    reports = api.get(f"/reports/{camp['id']}/abuse-reports").json()
    assert reports["total_items"] == 1 and reports["campaign_id"] == camp["id"]
    (report,) = reports["abuse_reports"]
    assert report["email_address"] == "a@acme-mail.com"
    assert report["email_id"] == subscriber_hash("a@acme-mail.com")
    assert report["date"] == "2030-03-01T10:05:00+00:00" and isinstance(
        report["id"], int
    )
    # a complaint is not email activity, and does not change the member's status
    act = api.get(f"/reports/{camp['id']}/email-activity").json()
    assert [a["action"] for e in act["emails"] for a in e["activity"]] == ["open"]
    assert (
        sandbox.state.get_member(DEFAULT_LIST_ID, "a@acme-mail.com")["status"]
        == "subscribed"
    )
    assert api.get(f"/reports/{camp['id']}/abuse-reports").json() == reports


def test_campaign_listing_filters(api, sandbox):
    sandbox.state.add_member(DEFAULT_LIST_ID, "x@acme-mail.com")
    other = sandbox.state.create_list(name="Other")
    c1 = make_campaign(sandbox, subject="One", send_time="2030-01-01T00:00:00+00:00")
    c2 = make_campaign(sandbox, subject="Two", send_time="2030-02-01T00:00:00+00:00")
    c3 = make_campaign(
        sandbox, subject="Three", list_id=other, send_time="2030-03-01T00:00:00+00:00"
    )
    got = api.get(
        "/campaigns",
        params={
            "status": "sent",
            "since_send_time": "2030-01-15T00:00:00+00:00",
            "sort_field": "send_time",
            "sort_dir": "ASC",
        },
    ).json()
    assert [c["id"] for c in got["campaigns"]] == [c2["id"], c3["id"]] and got[
        "total_items"
    ] == 2
    got = api.get(
        "/campaigns", params={"before_send_time": "2030-02-01T00:00:00+00:00"}
    ).json()
    assert [c["id"] for c in got["campaigns"]] == [c1["id"]]
    got = api.get("/campaigns", params={"list_id": other}).json()
    assert [c["settings"]["subject_line"] for c in got["campaigns"]] == ["Three"]
    got = api.get(
        "/campaigns", params={"sort_field": "send_time", "sort_dir": "DESC"}
    ).json()
    assert [c["id"] for c in got["campaigns"]] == [c3["id"], c2["id"], c1["id"]]
    assert api.get("/campaigns", params={"status": "save"}).json()["total_items"] == 0
    assert (
        api.get(f"/campaigns/{c1['id']}").json()["recipients"]["list_id"]
        == DEFAULT_LIST_ID
    )
    assert api.get("/reports", params={"count": 2}).json()["total_items"] == 3


def test_generated_activity_is_deterministic_and_paged(api, sandbox):
    sandbox.state.seed(DEFAULT_LIST_ID, 1000)
    gen = {
        "opens_per_member": 0.6,
        "clicks_per_member": 0.2,
        "bounce_rate": 0.02,
        "unsub_rate": 0.01,
        "seed": 7,
    }
    c1 = make_campaign(
        sandbox,
        subject="G",
        send_time="2030-05-01T00:00:00+00:00",
        generate=gen,
        apply_to_members=False,
    )
    c2 = make_campaign(
        sandbox,
        subject="G",
        send_time="2030-05-01T00:00:00+00:00",
        generate=gen,
        apply_to_members=False,
    )
    r1, r2 = (
        api.get(f"/reports/{c1['id']}").json(),
        api.get(f"/reports/{c2['id']}").json(),
    )
    for key in ("opens", "clicks", "bounces"):
        assert {k: v for k, v in r1[key].items()} == r2[key]
    assert r1["bounces"]["hard_bounces"] + r1["bounces"]["soft_bounces"] == 20
    assert r1["unsubscribed"] == 10
    # sum of the paged activity equals the report's totals
    opens = clicks = 0
    seen = set()
    for offset in range(0, 1000, 300):
        page = api.get(
            f"/reports/{c1['id']}/email-activity",
            params={"count": 300, "offset": offset},
        ).json()
        assert page["total_items"] == 1000
        for e in page["emails"]:
            seen.add(e["email_id"])
            opens += sum(a["action"] == "open" for a in e["activity"])
            clicks += sum(a["action"] == "click" for a in e["activity"])
    assert len(seen) == 1000
    assert (
        opens == r1["opens"]["opens_total"] and clicks == r1["clicks"]["clicks_total"]
    )
    # since: only members with activity at/after the mark, only that activity
    mark = "2030-05-01T01:00:00+00:00"
    page = api.get(
        f"/reports/{c1['id']}/email-activity", params={"since": mark, "count": 1000}
    ).json()
    assert 0 < page["total_items"] < 1000
    assert all(a["timestamp"] >= mark for e in page["emails"] for a in e["activity"])
    assert all(e["activity"] for e in page["emails"])


def test_million_events_campaign(api, sandbox):
    t0 = time.perf_counter()
    sandbox.state.seed(DEFAULT_LIST_ID, 100_000)
    t1 = time.perf_counter()
    camp = sandbox.state.create_campaign(
        subject="Big",
        generate={"opens_per_member": 8, "clicks_per_member": 2, "seed": 3},
        apply_to_members=False,
    )
    t2 = time.perf_counter()
    rep = api.get(f"/reports/{camp['id']}").json()
    assert rep["emails_sent"] == 100_000
    assert rep["opens"]["opens_total"] + rep["clicks"]["clicks_total"] == 1_000_000
    last = api.get(
        f"/reports/{camp['id']}/email-activity",
        params={"count": 1000, "offset": 99_000},
    ).json()
    assert len(last["emails"]) == 1000 and len(last["emails"][0]["activity"]) == 10
    # the timings, for whoever runs the test with -s; nothing asserts them
    print(  # pylint: disable=print-used
        f"seed 100k: {t1 - t0:.2f}s, campaign with 1M events: {t2 - t1:.2f}s"
    )


def test_activity_added_after_the_send(api, sandbox):
    sandbox.state.add_member(DEFAULT_LIST_ID, "late@acme-mail.com")
    camp = make_campaign(
        sandbox,
        subject="Late",
        send_time="2030-04-01T09:00:00+00:00",
        events=[
            {
                "email": "late@acme-mail.com",
                "action": "open",
                "timestamp": "2030-04-01T10:00:00+00:00",
            }
        ],
    )
    r = requests.post(
        sandbox.url + f"/_sandbox/campaigns/{camp['id']}/events",
        json={
            "events": [
                {
                    "email": "late@acme-mail.com",
                    "action": "click",
                    "url": "https://x.acme-mail.com",
                    "timestamp": "2030-04-01T10:00:00+00:00",
                }
            ]
        },
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text
    assert r.json()["clicks"]["clicks_total"] == 1
    act = api.get(f"/reports/{camp['id']}/email-activity").json()["emails"][0][
        "activity"
    ]
    assert [a["action"] for a in act] == ["open", "click"]
    r = requests.post(
        sandbox.url + f"/_sandbox/campaigns/{camp['id']}/events",
        json={"events": [{"email": "stranger@acme-mail.com", "action": "open"}]},
        timeout=TIMEOUT,
    )
    assert r.status_code == 400
    assert requests.post(
        sandbox.url + "/_sandbox/campaigns/nope/events",
        json={"events": []},
        timeout=TIMEOUT,
    ).status_code in (400, 404)
