"""Sandbox: what the connector's Unsubscribe and Forget actions rely on. Batch
subscribe with ``status: unsubscribed`` and ``update_existing`` unsubscribes existing
members at once; ``actions/delete-permanent`` inside ``/batches`` erases each
member (204), one already erased answers 404, and the address cannot be added
back by the API."""

import hashlib

from mailchimp_sandbox import DEFAULT_LIST_ID
from test_sandbox_batches import read_results, wait_finished

L = f"/lists/{DEFAULT_LIST_ID}"


def h(email):
    return hashlib.md5(email.lower().encode()).hexdigest()


def subscribe(api, *emails):
    members = [{"email_address": e, "status": "subscribed"} for e in emails]
    out = api.post(L, json={"members": members}).json()
    assert out["total_created"] == len(emails)


def test_batch_subscribe_unsubscribes_existing_members(api):
    subscribe(api, "ann@acme-mail.com", "bob@acme-mail.com", "pat@acme-mail.com")
    out = api.post(
        L,
        json={
            "update_existing": True,
            "members": [
                {"email_address": "ANN@acme-mail.com", "status": "unsubscribed"},
                {"email_address": "bob@acme-mail.com", "status": "unsubscribed"},
            ],
        },
    ).json()
    assert (out["total_updated"], out["total_created"], out["error_count"]) == (2, 0, 0)
    assert {m["id"] for m in out["updated_members"]} == {
        h("ann@acme-mail.com"),
        h("bob@acme-mail.com"),
    }
    assert {m["status"] for m in out["updated_members"]} == {"unsubscribed"}
    for email, status in (
        ("ann@acme-mail.com", "unsubscribed"),
        ("bob@acme-mail.com", "unsubscribed"),
        ("pat@acme-mail.com", "subscribed"),
    ):
        assert api.get(f"{L}/members/{h(email)}").json()["status"] == status


def test_delete_permanent_in_a_batch_then_404_and_never_re_added(sandbox, api):
    subscribe(api, "ann@acme-mail.com", "bob@acme-mail.com")
    path = f"{L}/members/{{}}/actions/delete-permanent"
    ops = [
        {"method": "POST", "path": path.format(h(e)), "operation_id": f"forget-{i}"}
        for i, e in enumerate(["ann@acme-mail.com", "bob@acme-mail.com"])
    ]
    batch = api.post("/batches", json={"operations": ops}).json()
    done, _ = wait_finished(sandbox.api_url("us1"), batch["id"])
    results = {r["operation_id"]: r for r in read_results(done["response_body_url"])}
    assert {k: r["status_code"] for k, r in results.items()} == {
        "forget-0": 204,
        "forget-1": 204,
    }
    assert api.get(f"{L}/members/{h('ann@acme-mail.com')}").status_code == 404
    # erased already: 404, as the connector expects when a Forget is run again
    again = api.post(path.format(h("ann@acme-mail.com")))
    assert again.status_code == 404
    out = api.post(
        L,
        json={
            "update_existing": True,
            "members": [{"email_address": "ann@acme-mail.com", "status": "subscribed"}],
        },
    ).json()
    assert out["error_count"] == 1 and out["total_created"] == 0
    assert "permanently deleted" in out["errors"][0]["error"], out["errors"]
