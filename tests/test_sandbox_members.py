"""Sandbox: member rules (identity, upsert,
compliance, archive, forget, rename, validation)."""

import hashlib

import pytest
import requests

from mailchimp_sandbox import DEFAULT_API_KEY, DEFAULT_LIST_ID

AUTH = ("anystring", DEFAULT_API_KEY)


def h(email):
    return hashlib.md5(email.lower().encode()).hexdigest()


class Api:
    def __init__(self, sandbox):
        self.base = sandbox.api_url("us1")
        self.s = requests.Session()
        self.s.auth = AUTH

    def __getattr__(self, method):
        def call(path, **kw):
            return self.s.request(method.upper(), self.base + path, **kw)

        return call


@pytest.fixture()
def api(sandbox):
    return Api(sandbox)


M = f"/lists/{DEFAULT_LIST_ID}/members"


def put(api, email, **body):
    body.setdefault("email_address", email)
    body.setdefault("status_if_new", "subscribed")
    return api.put(f"{M}/{h(email)}", json=body)


def problem(r, status, title):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/problem+json")
    doc = r.json()
    assert doc["title"] == title
    return doc


def test_put_upsert_identity_and_status_kept(api):
    r = put(api, "Ann.Lee@Example.com", merge_fields={"FNAME": "Ann"})
    assert r.status_code == 200
    m = r.json()
    assert m["id"] == h("ann.lee@example.com")
    assert m["status"] == "subscribed" and m["merge_fields"]["FNAME"] == "Ann"
    assert m["last_changed"].endswith("+00:00")
    # raw email in path works too
    assert api.get(f"{M}/Ann.Lee@Example.com").json()["id"] == m["id"]
    api.patch(f"{M}/{m['id']}", json={"status": "unsubscribed"}).raise_for_status()
    # PUT without status keeps the current status
    # (status_if_new is ignored for existing)
    r = put(api, "ann.lee@example.com", merge_fields={"LNAME": "Lee"})
    assert r.json()["status"] == "unsubscribed"
    assert r.json()["merge_fields"] == {
        **r.json()["merge_fields"],
        "FNAME": "Ann",
        "LNAME": "Lee",
    }


def test_status_if_new_counts_for_new_addresses(api):
    r = put(api, "fresh@acme-mail.com", status_if_new="pending", status="subscribed")
    assert r.json()["status"] == "pending"
    r = put(
        api, "fresh@acme-mail.com", status_if_new="unsubscribed", status="subscribed"
    )
    assert r.json()["status"] == "subscribed"  # existing: status applies


def test_put_requires_email_and_status_if_new(api):
    doc = problem(
        api.put(
            f"{M}/{h('x@acme-mail.com')}", json={"email_address": "x@acme-mail.com"}
        ),
        400,
        "Invalid Resource",
    )
    assert [e["field"] for e in doc["errors"]] == ["status_if_new"]
    doc = problem(
        api.put(f"{M}/{h('x@acme-mail.com')}", json={"status_if_new": "subscribed"}),
        400,
        "Invalid Resource",
    )
    assert doc["errors"][0]["field"] == "email_address"
    problem(put(api, "x@acme-mail.com", status_if_new="bogus"), 400, "Invalid Resource")


def test_post_member_exists(api):
    body = {"email_address": "bo@acme-mail.com", "status": "subscribed"}
    assert api.post(M, json=body).status_code == 200
    doc = problem(api.post(M, json=body), 400, "Member Exists")
    assert "Use PUT to insert or update list members" in doc["detail"]


@pytest.mark.parametrize("prior", ["unsubscribed", "cleaned"])
def test_compliance_state_blocks_explicit_subscribe(api, prior):
    email = f"{prior}@acme-mail.com"
    put(api, email, status_if_new=prior).raise_for_status()
    doc = problem(
        put(api, email, status="subscribed"), 400, "Member In Compliance State"
    )
    assert doc["detail"] == (
        f"{email} is in a compliance state due to unsubscribe, bounce, or "
        "compliance review and cannot be subscribed."
    )
    problem(
        api.patch(f"{M}/{h(email)}", json={"status": "subscribed"}),
        400,
        "Member In Compliance State",
    )
    # the documented workaround: pending (double opt-in) is accepted
    assert (
        api.patch(f"{M}/{h(email)}", json={"status": "pending"}).json()["status"]
        == "pending"
    )


def test_compliance_flag_blocks_subscribe(api, sandbox):
    put(api, "flag@acme-mail.com", status_if_new="pending").raise_for_status()
    sandbox.state.set_compliance(DEFAULT_LIST_ID, "flag@acme-mail.com")
    problem(
        put(api, "flag@acme-mail.com", status="subscribed"),
        400,
        "Member In Compliance State",
    )
    assert (
        sandbox.state.get_member(DEFAULT_LIST_ID, "flag@acme-mail.com")["status"]
        == "pending"
    )


def test_delete_archives_and_405_rules(api):
    put(api, "arch@acme-mail.com").raise_for_status()
    r = api.delete(f"{M}/{h('arch@acme-mail.com')}")
    assert r.status_code == 204 and r.content == b""
    assert api.get(f"{M}/{h('arch@acme-mail.com')}").json()["status"] == "archived"
    # archived members are not listed unless asked for
    assert api.get(M).json()["total_items"] == 0
    assert api.get(M, params={"status": "archived"}).json()["total_items"] == 1
    doc = problem(
        api.delete(f"{M}/{h('arch@acme-mail.com')}"), 405, "Method Not Allowed"
    )
    assert "bounced, pending or archived" in doc["detail"]
    for status in ("cleaned", "pending"):
        put(api, f"{status}2@acme-mail.com", status_if_new=status).raise_for_status()
        problem(
            api.delete(f"{M}/{h(status + '2@acme-mail.com')}"),
            405,
            "Method Not Allowed",
        )
    # unarchive needs an explicit status; the old status is not restored
    r = api.patch(f"{M}/{h('arch@acme-mail.com')}", json={"status": "subscribed"})
    assert r.json()["status"] == "subscribed"
    problem(api.delete(f"{M}/{h('nobody@acme-mail.com')}"), 404, "Resource Not Found")


def test_delete_permanent_forgets_forever(api):
    email = "gdpr@acme-mail.com"
    put(api, email).raise_for_status()
    r = api.post(f"{M}/{h(email)}/actions/delete-permanent")
    assert r.status_code == 204
    problem(api.get(f"{M}/{h(email)}"), 404, "Resource Not Found")
    for r in (
        put(api, email),
        api.post(M, json={"email_address": email, "status": "subscribed"}),
    ):
        doc = problem(r, 400, "Forgotten Email Not Subscribed")
        assert "cannot be re-imported" in doc["detail"]
    batch = api.post(
        f"/lists/{DEFAULT_LIST_ID}",
        json={"members": [{"email_address": email, "status": "subscribed"}]},
    ).json()
    assert batch["error_count"] == 1 and batch["total_created"] == 0


def test_rename_via_old_hash(api):
    put(api, "old@acme-mail.com", merge_fields={"FNAME": "Olga"}).raise_for_status()
    api.post(
        f"{M}/{h('old@acme-mail.com')}/tags",
        json={"tags": [{"name": "VIP", "status": "active"}]},
    )
    r = api.patch(
        f"{M}/{h('old@acme-mail.com')}", json={"email_address": "new@acme-mail.com"}
    )
    assert r.status_code == 200
    assert r.json()["id"] == h("new@acme-mail.com")
    assert r.json()["email_address"] == "new@acme-mail.com"
    assert r.json()["merge_fields"]["FNAME"] == "Olga"
    assert [t["name"] for t in r.json()["tags"]] == ["VIP"]
    problem(api.get(f"{M}/{h('old@acme-mail.com')}"), 404, "Resource Not Found")
    # PUT on the old hash renames too
    r = put(api, "newer@acme-mail.com")
    assert r.json()["id"] == h("newer@acme-mail.com")
    r = api.put(
        f"{M}/{h('new@acme-mail.com')}",
        json={"email_address": "third@acme-mail.com", "status_if_new": "subscribed"},
    )
    assert r.json()["id"] == h("third@acme-mail.com")
    assert api.get(M).json()["total_items"] == 2


def test_rename_only_for_subscribed(api):
    put(api, "gone@acme-mail.com", status_if_new="unsubscribed").raise_for_status()
    doc = problem(
        api.patch(
            f"{M}/{h('gone@acme-mail.com')}",
            json={"email_address": "back@acme-mail.com"},
        ),
        400,
        "Invalid Resource",
    )
    assert "status of subscribed" in doc["detail"]
    put(api, "cl@acme-mail.com", status_if_new="cleaned").raise_for_status()
    problem(
        api.patch(
            f"{M}/{h('cl@acme-mail.com')}", json={"email_address": "cl2@acme-mail.com"}
        ),
        400,
        "Invalid Resource",
    )


@pytest.mark.parametrize(
    "email", ["not-an-email", "a@b", "two@@acme-mail.com", "sp ace@acme-mail.com"]
)
def test_invalid_email_syntax(api, email):
    r = api.post(M, json={"email_address": email, "status": "subscribed"})
    assert (
        problem(r, 400, "Invalid Resource")["detail"]
        == "Please provide a valid email address."
    )


@pytest.mark.parametrize(
    "email",
    [
        "test@acme-mail.com",
        "fake@gmail.com",
        "asdf@acme-mail.com",
        "joe@mail.invalid",
        "joe@site.test",
        "joe@corp.example",
    ],
)
def test_fake_emails(api, email):
    r = api.post(M, json={"email_address": email, "status": "subscribed"})
    doc = problem(r, 400, "Invalid Resource")
    assert (
        doc["detail"]
        == f"{email} looks fake or invalid, please enter a real email address."
    )


def test_example_com_is_valid(api):
    assert (
        api.post(
            M, json={"email_address": "someone@example.com", "status": "subscribed"}
        ).status_code
        == 200
    )


def add_field(api, **body):
    r = api.post(f"/lists/{DEFAULT_LIST_ID}/merge-fields", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def test_merge_field_validation(api):
    add_field(
        api,
        name="Shirt",
        type="dropdown",
        tag="SHIRT",
        options={"choices": ["S", "M", "L"]},
    )
    add_field(api, name="Age", type="number", tag="AGE")
    add_field(
        api,
        name="Joined",
        type="date",
        tag="JOINED",
        options={"date_format": "DD/MM/YYYY"},
    )
    add_field(api, name="Member no", type="text", tag="MEMNO", required=True)
    email = "mf@acme-mail.com"
    # required missing
    doc = problem(put(api, email, merge_fields={"FNAME": "A"}), 400, "Invalid Resource")
    assert doc["detail"] == "Your merge fields were invalid."
    assert {"field": "MEMNO", "message": "Please enter a value"} in doc["errors"]
    # ... unless skip_merge_validation
    r = api.put(
        f"{M}/{h(email)}",
        params={"skip_merge_validation": "true"},
        json={
            "email_address": email,
            "status_if_new": "subscribed",
            "merge_fields": {"UNKNOWN": 1},
        },
    )
    # unknown tag ignored
    assert r.status_code == 200 and "UNKNOWN" not in r.json()["merge_fields"]
    bad = {
        "FNAME": "x" * 256,
        "AGE": "twelve",
        "SHIRT": "XXL",
        "JOINED": "2024-12-31",
        "ADDRESS": {"addr1": "1 Main St", "city": "Paris"},
        "BIRTHDAY": "13/40",
    }
    doc = problem(
        put(api, "mf2@acme-mail.com", merge_fields=dict(bad, MEMNO="7")),
        400,
        "Invalid Resource",
    )
    assert {e["field"] for e in doc["errors"]} == set(bad)
    good = {
        "FNAME": "x" * 255,
        "AGE": "12",
        "SHIRT": "M",
        "JOINED": "31/12/2024",
        "MEMNO": "7",
        "ADDRESS": {
            "addr1": "1 Main St",
            "city": "Paris",
            "state": "IDF",
            "zip": "75001",
            "country": "FR",
        },
        "BIRTHDAY": "12/31",
    }
    r = put(api, "mf2@acme-mail.com", merge_fields=good)
    assert r.status_code == 200, r.text
    assert r.json()["merge_fields"]["AGE"] == 12
    assert r.json()["merge_fields"]["ADDRESS"]["zip"] == "75001"


@pytest.mark.parametrize("since", ["exclusive", "inclusive"])
def test_last_changed_is_monotonic_and_since_follows_the_switch(api, sandbox, since):
    sandbox.state.set_behaviour(since=since)
    emails = [f"lc{i}@acme-mail.com" for i in range(5)]
    stamps = []
    for e in emails:
        stamps.append(put(api, e).json()["last_changed"])
    page = api.get(
        M, params={"sort_field": "last_changed", "sort_dir": "ASC", "count": 100}
    ).json()
    assert [m["email_address"] for m in page["members"]] == emails
    # a change is listed after the newest earlier change, in the mark's second or later
    mark = max(stamps)
    put(api, emails[0], merge_fields={"FNAME": "changed"}).raise_for_status()
    changed = api.get(f"{M}/{h(emails[0])}").json()["last_changed"]
    since_mark = api.get(
        M,
        params={
            "since_last_changed": mark,
            "sort_field": "last_changed",
            "sort_dir": "ASC",
        },
    ).json()["members"]
    got = [m["email_address"] for m in since_mark]
    # exclusive ("changed after"): nothing of
    # the mark's own second; inclusive: all of it
    in_mark_second = [
        e for e, s in zip(emails, stamps, strict=True) if s == mark and e != emails[0]
    ]
    if since == "inclusive":
        assert got[-1] == emails[0] and in_mark_second == got[:-1]
    else:
        assert got == ([emails[0]] if changed > mark else [])
    desc = api.get(M, params={"sort_field": "last_changed", "sort_dir": "DESC"}).json()[
        "members"
    ]
    assert desc[0]["email_address"] == emails[0]
    before = api.get(
        M, params={"before_last_changed": "2000-01-01T00:00:00+00:00"}
    ).json()
    assert before["total_items"] == 0


def test_member_filters(api, sandbox):
    put(api, "s1@acme-mail.com").raise_for_status()
    put(api, "u1@acme-mail.com", status_if_new="unsubscribed").raise_for_status()
    m = put(api, "s2@acme-mail.com", vip=True).json()
    assert api.get(M, params={"status": "unsubscribed"}).json()["total_items"] == 1
    assert api.get(M, params={"vip_only": "true"}).json()["members"][0]["id"] == m["id"]
    got = api.get(M, params={"unique_email_id": m["unique_email_id"]}).json()
    assert [x["id"] for x in got["members"]] == [m["id"]]
    problem(api.get(M, params={"status": "nope"}), 400, "Invalid Resource")


def test_member_tags_and_activity(api, sandbox):
    email = "tags@acme-mail.com"
    put(api, email).raise_for_status()
    r = api.post(
        f"{M}/{h(email)}/tags",
        json={
            "tags": [
                {"name": "A", "status": "active"},
                {"name": "B", "status": "active"},
            ]
        },
    )
    assert r.status_code == 204
    api.post(
        f"{M}/{h(email)}/tags", json={"tags": [{"name": "A", "status": "inactive"}]}
    )
    tags = api.get(f"{M}/{h(email)}/tags").json()
    assert [t["name"] for t in tags["tags"]] == ["B"] and tags["total_items"] == 1
    assert tags["tags"][0]["date_added"].endswith("+00:00")
    sandbox.state.create_campaign(
        subject="Hello",
        events=[
            {
                "email": email,
                "action": "open",
                "timestamp": "2030-01-01T10:00:00+00:00",
            },
            {
                "email": email,
                "action": "click",
                "url": "https://x.com",
                "timestamp": "2030-01-01T10:01:00+00:00",
            },
        ],
    )
    act = api.get(f"{M}/{h(email)}/activity").json()
    assert [a["action"] for a in act["activity"]] == ["click", "open", "sent"]
    feed = api.get(
        f"{M}/{h(email)}/activity-feed", params={"activity_filters": "click"}
    ).json()
    assert [a["activity_type"] for a in feed["activity"]] == ["click"]
    assert feed["activity"][0]["link_clicked"] == "https://x.com"


def test_interests_on_members(api):
    cat = api.post(
        f"/lists/{DEFAULT_LIST_ID}/interest-categories",
        json={"title": "Topics", "type": "checkboxes"},
    ).json()
    base = f"/lists/{DEFAULT_LIST_ID}/interest-categories/{cat['id']}/interests"
    a = api.post(base, json={"name": "Apples"}).json()
    b = api.post(base, json={"name": "Pears"}).json()
    m = put(api, "int@acme-mail.com", interests={a["id"]: True}).json()
    assert m["interests"] == {a["id"]: True, b["id"]: False}
    assert api.get(f"{base}/{a['id']}").json()["subscriber_count"] == "1"
    got = api.get(
        M,
        params={
            "interest_category_id": cat["id"],
            "interest_ids": a["id"],
            "interest_match": "any",
        },
    ).json()
    assert got["total_items"] == 1
    doc = problem(
        put(api, "int@acme-mail.com", interests={"nope": True}), 400, "Invalid Resource"
    )
    assert "nope" in doc["detail"]
    assert api.delete(f"{base}/{b['id']}").status_code == 204
    assert api.get(f"{M}/{m['id']}").json()["interests"] == {a["id"]: True}
    assert (
        api.patch(
            f"/lists/{DEFAULT_LIST_ID}/interest-categories/{cat['id']}",
            json={"title": "Fruit"},
        ).json()["title"]
        == "Fruit"
    )
    assert (
        api.get(f"/lists/{DEFAULT_LIST_ID}/interest-categories").json()["total_items"]
        == 1
    )
