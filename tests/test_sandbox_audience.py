"""Sandbox: audiences, batch subscribe, merge fields,
tags/segments, paging and partial responses."""

import hashlib

from mailchimp_sandbox import DEFAULT_API_KEY, DEFAULT_LIST_ID

AUTH = ("anystring", DEFAULT_API_KEY)
L = f"/lists/{DEFAULT_LIST_ID}"


def h(email):
    return hashlib.md5(email.lower().encode()).hexdigest()


NEW_LIST = {
    "name": "Second",
    "permission_reminder": "You asked for it.",
    "email_type_option": False,
    "contact": {
        "company": "Acme",
        "address1": "1 Road",
        "city": "Lyon",
        "country": "FR",
    },
    "campaign_defaults": {
        "from_name": "Acme",
        "from_email": "news@acme-mail.com",
        "subject": "",
        "language": "fr",
    },
}


def test_default_audience(api):
    lists = api.get("/lists").json()
    assert lists["total_items"] == 1
    lst = lists["lists"][0]
    assert lst["id"] == DEFAULT_LIST_ID and lst["name"] == "Newsletter"
    assert lst["stats"]["member_count"] == 0
    fields = api.get(f"{L}/merge-fields").json()
    assert [(f["tag"], f["type"], f["required"]) for f in fields["merge_fields"]][
        :3
    ] == [
        ("FNAME", "text", False),
        ("LNAME", "text", False),
        ("ADDRESS", "address", False),
    ]
    assert fields["total_items"] == 6
    assert {f["tag"] for f in fields["merge_fields"]} == {
        "FNAME",
        "LNAME",
        "ADDRESS",
        "PHONE",
        "BIRTHDAY",
        "COMPANY",
    }


def test_list_crud_and_delete_cascades(api):
    created = api.post("/lists", json=NEW_LIST).json()
    lid = created["id"]
    assert created["name"] == "Second" and created["stats"]["member_count"] == 0
    # spec: all 5 required
    assert api.patch(f"/lists/{lid}", json={"name": "Renamed"}).status_code == 400
    assert (
        api.patch(f"/lists/{lid}", json=dict(NEW_LIST, name="Renamed")).json()["name"]
        == "Renamed"
    )
    api.post(
        f"/lists/{lid}/members",
        json={"email_address": "a@acme-mail.com", "status": "subscribed"},
    )
    assert api.get(f"/lists/{lid}").json()["stats"]["member_count"] == 1
    assert api.get("/lists").json()["total_items"] == 2
    assert api.delete(f"/lists/{lid}").status_code == 204
    for path in (
        f"/lists/{lid}",
        f"/lists/{lid}/members",
        f"/lists/{lid}/members/{h('a@acme-mail.com')}",
    ):
        r = api.get(path)
        assert r.status_code == 404 and r.json()["title"] == "Resource Not Found"


def test_batch_subscribe_partial_errors(api):
    api.post(
        f"{L}/members",
        json={"email_address": "exists@acme-mail.com", "status": "subscribed"},
    )
    body = {
        "members": [
            {
                "email_address": "new1@acme-mail.com",
                "status": "subscribed",
                "merge_fields": {"FNAME": "N"},
            },
            {"email_address": "exists@acme-mail.com", "status": "subscribed"},
            {"email_address": "bad-address", "status": "subscribed"},
            {"email_address": "test@acme-mail.com", "status": "subscribed"},
            {"email_address": "new2@acme-mail.com", "status": "pending"},
            {"email_address": "new2@acme-mail.com", "status": "subscribed"},
        ]
    }
    r = api.post(L, json=body)
    assert r.status_code == 200
    out = r.json()
    assert out["total_created"] == 2 and out["total_updated"] == 0
    assert {m["email_address"] for m in out["new_members"]} == {
        "new1@acme-mail.com",
        "new2@acme-mail.com",
    }
    assert out["error_count"] == len(out["errors"]) == 4
    codes = {e["email_address"]: e["error_code"] for e in out["errors"]}
    assert codes["exists@acme-mail.com"] == "ERROR_CONTACT_EXISTS"
    assert codes["bad-address"] == "ERROR_GENERIC"
    fake = next(e for e in out["errors"] if e["email_address"] == "test@acme-mail.com")
    assert "looks fake or invalid" in fake["error"]
    for e in out["errors"]:
        assert set(e) == {
            "email_address",
            "error",
            "error_code",
            "field",
            "field_message",
        }
    # update_existing + skip_duplicate_check: first duplicate wins silently
    body = {
        "update_existing": True,
        "members": [
            {"email_address": "exists@acme-mail.com", "status": "unsubscribed"},
            {"email_address": "dup@acme-mail.com", "status": "subscribed"},
            {"email_address": "dup@acme-mail.com", "status": "unsubscribed"},
        ],
    }
    out = api.post(L, params={"skip_duplicate_check": "true"}, json=body).json()
    assert (
        out["total_updated"] == 1
        and out["total_created"] == 1
        and out["error_count"] == 0
    )
    assert out["new_members"][0]["status"] == "subscribed"
    assert out["updated_members"][0]["status"] == "unsubscribed"
    # compliance applies inside batches too
    body = {
        "update_existing": True,
        "members": [{"email_address": "exists@acme-mail.com", "status": "subscribed"}],
    }
    out = api.post(L, json=body).json()
    assert out["error_count"] == 1 and "compliance state" in out["errors"][0]["error"]


def test_batch_subscribe_limits_and_merge_errors(api):
    members = [
        {"email_address": f"m{i}@acme-mail.com", "status": "subscribed"}
        for i in range(501)
    ]
    r = api.post(L, json={"members": members})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "members"
    assert api.post(L, json={"members": members[:500]}).json()["total_created"] == 500
    api.post(
        f"{L}/merge-fields",
        json={"name": "Code", "type": "text", "tag": "CODE", "required": True},
    )
    item = {"email_address": "req@acme-mail.com", "status": "subscribed"}
    out = api.post(L, json={"members": [item]}).json()
    assert out["error_count"] == 1
    assert (
        out["errors"][0]["field"] == "CODE"
        and out["errors"][0]["error"] == "Your merge fields were invalid."
    )
    out = api.post(
        L, params={"skip_merge_validation": "true"}, json={"members": [item]}
    ).json()
    assert out["total_created"] == 1


def test_batch_subscribe_sync_tags(api):
    api.post(
        L,
        json={
            "members": [
                {
                    "email_address": "t@acme-mail.com",
                    "status": "subscribed",
                    "tags": ["a", "b"],
                }
            ]
        },
    )
    out = api.post(
        L,
        json={
            "update_existing": True,
            "sync_tags": True,
            "members": [{"email_address": "t@acme-mail.com", "tags": ["b", "c"]}],
        },
    ).json()
    assert sorted(t["name"] for t in out["updated_members"][0]["tags"]) == ["b", "c"]


def test_merge_field_crud(api):
    f = api.post(
        f"{L}/merge-fields",
        json={
            "name": "Favourite colour",
            "type": "radio",
            "options": {"choices": ["red", "blue"]},
        },
    ).json()
    assert f["tag"].startswith("MMERGE") and f["options"]["choices"] == ["red", "blue"]
    r = api.post(
        f"{L}/merge-fields",
        json={"name": "Too long", "type": "text", "tag": "ELEVENCHARS"},
    )
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "tag"
    r = api.post(
        f"{L}/merge-fields", json={"name": "Dup", "type": "text", "tag": "FNAME"}
    )
    assert r.status_code == 400
    r = api.post(f"{L}/merge-fields", json={"name": "Bad", "type": "colour"})
    assert r.status_code == 400
    upd = api.patch(
        f"{L}/merge-fields/{f['merge_id']}", json={"name": "Colour", "required": True}
    ).json()
    assert upd["name"] == "Colour" and upd["required"] is True
    assert api.get(f"{L}/merge-fields/{f['merge_id']}").json()["name"] == "Colour"
    assert api.delete(f"{L}/merge-fields/{f['merge_id']}").status_code == 204
    assert api.get(f"{L}/merge-fields/{f['merge_id']}").status_code == 404


def test_segments_and_tag_search(api):
    for i in range(3):
        api.post(
            f"{L}/members",
            json={"email_address": f"s{i}@acme-mail.com", "status": "subscribed"},
        )
    seg = api.post(
        f"{L}/segments", json={"name": "Donors", "static_segment": ["s0@acme-mail.com"]}
    ).json()
    assert seg["type"] == "static" and seg["member_count"] == 1
    r = api.post(
        f"{L}/segments/{seg['id']}",
        json={
            "members_to_add": [
                "s1@acme-mail.com",
                "s2@acme-mail.com",
                "ghost@acme-mail.com",
            ],
            "members_to_remove": ["s0@acme-mail.com"],
        },
    )
    out = r.json()
    assert out["total_added"] == 2 and out["total_removed"] == 1
    assert {m["email_address"] for m in out["members_added"]} == {
        "s1@acme-mail.com",
        "s2@acme-mail.com",
    }
    assert out["error_count"] == 1 and out["errors"][0]["email_addresses"] == [
        "ghost@acme-mail.com"
    ]
    r = api.post(
        f"{L}/segments/{seg['id']}",
        json={"members_to_add": [f"x{i}@a.com" for i in range(501)]},
    )
    assert r.status_code == 400
    members = api.get(f"{L}/segments/{seg['id']}/members").json()
    assert members["total_items"] == 2
    assert (
        api.post(
            f"{L}/segments/{seg['id']}/members",
            json={"email_address": "s0@acme-mail.com"},
        ).status_code
        == 200
    )
    assert (
        api.delete(
            f"{L}/segments/{seg['id']}/members/{h('s1@acme-mail.com')}"
        ).status_code
        == 204
    )
    assert api.get(f"{L}/segments/{seg['id']}").json()["member_count"] == 2
    assert (
        api.patch(f"{L}/segments/{seg['id']}", json={"name": "Givers"}).json()["name"]
        == "Givers"
    )
    tags = api.get(f"{L}/tag-search", params={"name": "giv"}).json()
    assert [t["name"] for t in tags["tags"]] == ["Givers"]
    member_tags = api.get(f"{L}/members/{h('s0@acme-mail.com')}").json()["tags"]
    assert member_tags == [{"id": seg["id"], "name": "Givers"}]
    assert api.delete(f"{L}/segments/{seg['id']}").status_code == 204
    assert api.get(f"{L}/members/{h('s0@acme-mail.com')}").json()["tags"] == []
    assert api.get(f"{L}/segments").json()["total_items"] == 0


def test_tag_names_are_case_insensitive(api):
    """Mailchimp sees "Customers" and "customers" as one tag (third-party:
    DynamoMTL/spree_chimpy#15): no second tag in another case, by any route."""
    api.post(
        f"{L}/members",
        json={"email_address": "c0@acme-mail.com", "status": "subscribed"},
    )
    seg = api.post(
        f"{L}/segments", json={"name": "Customers", "static_segment": []}
    ).json()
    r = api.post(f"{L}/segments", json={"name": "CUSTOMERS", "static_segment": []})
    assert r.status_code == 400 and "already exists" in r.json()["detail"]
    other = api.post(
        f"{L}/segments", json={"name": "Leads", "static_segment": []}
    ).json()
    r = api.patch(f"{L}/segments/{other['id']}", json={"name": "customers"})
    assert r.status_code == 400
    # renaming a tag to its own name in another case is fine
    assert (
        api.patch(f"{L}/segments/{seg['id']}", json={"name": "customers"}).json()[
            "name"
        ]
        == "customers"
    )
    # the member tags route adds to, and removes from, the tag whatever the case
    api.post(
        f"{L}/members/{h('c0@acme-mail.com')}/tags",
        json={"tags": [{"name": "CUSTOMERS", "status": "active"}]},
    )
    assert api.get(f"{L}/segments/{seg['id']}").json()["member_count"] == 1
    api.post(
        f"{L}/members/{h('c0@acme-mail.com')}/tags",
        json={"tags": [{"name": "Customers", "status": "inactive"}]},
    )
    assert api.get(f"{L}/segments/{seg['id']}").json()["member_count"] == 0
    assert (
        api.get(f"{L}/segments", params={"type": "static"}).json()["total_items"] == 2
    )


def test_paging_and_partial_responses(api, sandbox):
    sandbox.state.seed(DEFAULT_LIST_ID, 25)
    page = api.get(f"{L}/members").json()
    assert page["total_items"] == 25 and len(page["members"]) == 10  # default count 10
    seen = []
    for offset in range(0, 25, 7):
        seen += [
            m["id"]
            for m in api.get(
                f"{L}/members", params={"count": 7, "offset": offset}
            ).json()["members"]
        ]
    assert len(seen) == len(set(seen)) == 25
    r = api.get(f"{L}/members", params={"count": 1001})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "count"
    assert len(api.get(f"{L}/members", params={"count": 1000}).json()["members"]) == 25
    slim = api.get(
        f"{L}/members",
        params={
            "count": 2,
            "fields": "members.id,members.email_address,members.merge_fields.FNAME,"
            "total_items",
        },
    ).json()
    assert set(slim) == {"members", "total_items"}
    assert set(slim["members"][0]) == {"id", "email_address", "merge_fields"}
    assert set(slim["members"][0]["merge_fields"]) == {"FNAME"}
    fat = api.get(
        f"{L}/members",
        params={
            "count": 1,
            "exclude_fields": "members._links,members.merge_fields,list_id",
        },
    ).json()
    assert (
        "merge_fields" not in fat["members"][0]
        and "list_id" not in fat
        and "email_address" in fat["members"][0]
    )
    one = api.get(
        f"{L}/members/{fat['members'][0]['id']}", params={"fields": "status"}
    ).json()
    assert one == {"status": "subscribed"}
    for coll in (
        "/lists",
        f"{L}/merge-fields",
        f"{L}/segments",
        f"{L}/webhooks",
        "/campaigns",
        "/reports",
        "/batches",
        f"{L}/interest-categories",
    ):
        doc = api.get(coll, params={"count": 1}).json()
        assert "total_items" in doc, coll
        assert api.get(coll, params={"count": 5000}).status_code == 400, coll
