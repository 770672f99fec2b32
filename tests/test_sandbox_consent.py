"""Sandbox: GDPR marketing permissions of audiences and members
(sandbox/mailchimp_sandbox/consent.py)."""

import requests

from mailchimp_sandbox import DEFAULT_LIST_ID, subscriber_hash

# seconds: a sandbox that stops answering fails the test instead of hanging it
TIMEOUT = 30

M = f"/lists/{DEFAULT_LIST_ID}/members"


def add_permissions(sandbox, *texts):
    r = requests.post(
        f"{sandbox.url}/_sandbox/lists/{DEFAULT_LIST_ID}/marketing-permissions",
        json={"permissions": list(texts)},
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text
    return {
        p["text"]: p["marketing_permission_id"]
        for p in r.json()["marketing_permissions"]
    }


def put(api, email, **body):
    return api.put(
        f"{M}/{subscriber_hash(email)}",
        json=dict({"email_address": email, "status_if_new": "subscribed"}, **body),
    )


def test_audience_without_permissions_shows_none(api):
    assert api.get(f"/lists/{DEFAULT_LIST_ID}").json()["marketing_permissions"] is False
    member = put(api, "ann@acme-mail.com").json()
    assert member["marketing_permissions"] == []
    r = put(
        api,
        "ann@acme-mail.com",
        marketing_permissions=[
            {"marketing_permission_id": "abcdef1234", "enabled": True}
        ],
    )
    assert r.status_code == 400 and r.json()["title"] == "Invalid Resource"
    assert "abcdef1234" in r.json()["detail"]


def test_members_show_every_permission_of_the_audience(sandbox, api):
    ids = add_permissions(sandbox, "Email", "Direct Mail")
    assert api.get(f"/lists/{DEFAULT_LIST_ID}").json()["marketing_permissions"] is True
    member = put(api, "bob@acme-mail.com").json()
    assert member["marketing_permissions"] == [
        {"marketing_permission_id": ids["Email"], "text": "Email", "enabled": False},
        {
            "marketing_permission_id": ids["Direct Mail"],
            "text": "Direct Mail",
            "enabled": False,
        },
    ]
    # the ids are learnt from members: a fields list can ask for them alone
    page = api.get(
        M, params={"fields": "members.email_address,members.marketing_permissions"}
    ).json()
    assert (
        page["members"][0]["marketing_permissions"][0]["marketing_permission_id"]
        == ids["Email"]
    )


def test_writes_change_only_the_ids_given(sandbox, api):
    ids = add_permissions(sandbox, "Email", "Direct Mail")
    email = "cid@acme-mail.com"
    created = put(
        api,
        email,
        marketing_permissions=[
            {"marketing_permission_id": ids["Email"], "enabled": True}
        ],
    ).json()
    assert {p["text"]: p["enabled"] for p in created["marketing_permissions"]} == {
        "Email": True,
        "Direct Mail": False,
    }
    patched = api.patch(
        f"{M}/{subscriber_hash(email)}",
        json={
            "marketing_permissions": [
                {"marketing_permission_id": ids["Direct Mail"], "enabled": True}
            ]
        },
    ).json()
    assert {p["text"]: p["enabled"] for p in patched["marketing_permissions"]} == {
        "Email": True,
        "Direct Mail": True,
    }
    assert patched["last_changed"] >= created["last_changed"]
    withdrawn = api.patch(
        f"{M}/{subscriber_hash(email)}",
        json={
            "marketing_permissions": [
                {"marketing_permission_id": ids["Email"], "enabled": False}
            ]
        },
    ).json()
    assert {p["text"]: p["enabled"] for p in withdrawn["marketing_permissions"]} == {
        "Email": False,
        "Direct Mail": True,
    }


def test_bad_permissions_are_refused_and_change_nothing(sandbox, api):
    ids = add_permissions(sandbox, "Email")
    email = "dan@acme-mail.com"
    put(api, email, merge_fields={"FNAME": "Dan"}).raise_for_status()
    path = f"{M}/{subscriber_hash(email)}"
    for permissions, field in (
        (
            {"marketing_permission_id": ids["Email"], "enabled": True},
            "marketing_permissions",
        ),
        ([{"enabled": True}], "marketing_permissions.marketing_permission_id"),
        (
            [{"marketing_permission_id": ids["Email"], "enabled": "yes"}],
            "marketing_permissions.enabled",
        ),
    ):
        r = api.patch(
            path,
            json={
                "merge_fields": {"FNAME": "Changed"},
                "marketing_permissions": permissions,
            },
        )
        assert r.status_code == 400, r.text
        assert r.json()["errors"][0]["field"] == field
    r = api.patch(
        path,
        json={
            "merge_fields": {"FNAME": "Changed"},
            "marketing_permissions": [
                {"marketing_permission_id": "0000000000", "enabled": True}
            ],
        },
    )
    assert (
        r.status_code == 400 and "Invalid marketing permission ID" in r.json()["detail"]
    )
    member = api.get(path).json()
    assert member["merge_fields"]["FNAME"] == "Dan"
    assert member["marketing_permissions"][0]["enabled"] is False


def test_batch_subscribe_items_carry_no_permissions(sandbox, api):
    ids = add_permissions(sandbox, "Email")
    r = api.post(
        f"/lists/{DEFAULT_LIST_ID}",
        json={
            "members": [
                {
                    "email_address": "eve@acme-mail.com",
                    "status": "subscribed",
                    "marketing_permissions": [
                        {"marketing_permission_id": ids["Email"], "enabled": True}
                    ],
                }
            ]
        },
    )
    assert r.status_code == 200 and r.json()["total_created"] == 1
    member = api.get(f"{M}/{subscriber_hash('eve@acme-mail.com')}").json()
    assert member["marketing_permissions"][0]["enabled"] is False


def test_control_route_keeps_texts_once(sandbox):
    first = add_permissions(sandbox, "Email")
    again = add_permissions(sandbox, "Email", "Customized Online Advertising")
    assert again["Email"] == first["Email"]
    assert len(again) == 2
    r = requests.post(
        f"{sandbox.url}/_sandbox/lists/{DEFAULT_LIST_ID}/marketing-permissions",
        json={"permissions": "Email"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 400


def test_permission_writes_and_members_conform_to_the_spec(sandbox):
    # the spec checker of test_sandbox_spec: request bodies and 2xx answers
    from test_sandbox_spec import SpecClient
    from test_sandbox_spec import spec as spec_fixture

    client = SpecClient(spec_fixture.__wrapped__(), sandbox)
    ids = add_permissions(sandbox, "Email", "Direct Mail")
    email = "spec@acme-mail.com"
    path = f"{M}/{subscriber_hash(email)}"
    permission = [{"marketing_permission_id": ids["Email"], "enabled": True}]
    client.call(
        "PUT",
        path,
        json_body={
            "email_address": email,
            "status_if_new": "subscribed",
            "marketing_permissions": permission,
        },
        expect=200,
    )
    client.call(
        "PATCH", path, json_body={"marketing_permissions": permission}, expect=200
    )
    client.call(
        "POST",
        M,
        json_body={
            "email_address": "spec2@acme-mail.com",
            "status": "subscribed",
            "marketing_permissions": permission,
        },
        expect=200,
    )
    member = client.call("GET", path, expect=200)
    page = client.call("GET", M, expect=200)
    assert client.problems == [], "\n".join(client.problems)
    assert member["marketing_permissions"][0] == {
        "marketing_permission_id": ids["Email"],
        "text": "Email",
        "enabled": True,
    }
    assert len(page["members"][0]["marketing_permissions"]) == 2
