"""Sandbox: custom member events (POST/GET .../members/{hash}/events), direct
and inside /batches, validated as the spec states (name 2-30 characters,
properties of strings)."""

import hashlib
import io
import json
import tarfile

import pytest
import requests

from mailchimp_sandbox import DEFAULT_LIST_ID

M = f"/lists/{DEFAULT_LIST_ID}/members"


def h(email):
    return hashlib.md5(email.lower().encode()).hexdigest()


def member(api, email="ev@acme-mail.com"):
    api.put(
        f"{M}/{h(email)}",
        json={"email_address": email, "status_if_new": "subscribed"},
    ).raise_for_status()
    return h(email)


def test_event_added_and_listed(api):
    hash_ = member(api)
    r = api.post(
        f"{M}/{hash_}/events",
        json={
            "name": "order_confirmed",
            "properties": {"amount": "12.50"},
            "occurred_at": "2030-01-01T10:00:00Z",
        },
    )
    assert r.status_code == 204 and r.content == b""
    api.post(f"{M}/{hash_}/events", json={"name": "visited"}).raise_for_status()
    listed = api.get(f"{M}/{hash_}/events").json()
    assert listed["total_items"] == 2
    first, second = listed["events"]
    assert first == {
        "name": "order_confirmed",
        "properties": {"amount": "12.50"},
        "occurred_at": "2030-01-01T10:00:00+00:00",
    }
    assert second["name"] == "visited" and second["properties"] == {}
    assert second["occurred_at"].endswith("+00:00")
    # paged like every collection
    page = api.get(f"{M}/{hash_}/events", params={"count": 1, "offset": 1}).json()
    assert [e["name"] for e in page["events"]] == ["visited"]


def test_event_on_an_unknown_member_is_404(api):
    r = api.post(f"{M}/{h('nobody@acme-mail.com')}/events", json={"name": "x1"})
    assert r.status_code == 404
    assert r.json()["title"] == "Resource Not Found"
    assert api.get(f"{M}/{h('nobody@acme-mail.com')}/events").status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "name"),
        ({"name": "x"}, "name"),
        ({"name": "x" * 31}, "name"),
        ({"name": "ok_name", "properties": ["a"]}, "properties"),
        ({"name": "ok_name", "properties": {"amount": 12}}, "properties.amount"),
        ({"name": "ok_name", "occurred_at": "yesterday"}, "occurred_at"),
        ({"name": "ok_name", "is_syncing": "yes"}, "is_syncing"),
    ],
)
def test_event_validation(api, body, field):
    hash_ = member(api)
    r = api.post(f"{M}/{hash_}/events", json=body)
    assert r.status_code == 400, r.text
    doc = r.json()
    assert doc["title"] == "Invalid Resource"
    assert [e["field"] for e in doc["errors"]] == [field]
    assert api.get(f"{M}/{hash_}/events").json()["total_items"] == 0


def test_name_length_bounds_are_accepted(api):
    hash_ = member(api)
    for name in ("ab", "y" * 30, "Order Confirmed!"):
        assert api.post(f"{M}/{hash_}/events", json={"name": name}).status_code == 204


def test_events_inside_a_batch(api, sandbox):
    hash_ = member(api)
    operations = [
        {
            "method": "POST",
            "path": f"{M}/{hash_}/events",
            "body": json.dumps({"name": f"step_{n}"}),
            "operation_id": f"op-{n}",
        }
        for n in range(3)
    ] + [
        {
            "method": "POST",
            "path": f"{M}/{h('ghost@acme-mail.com')}/events",
            "body": json.dumps({"name": "step_x"}),
            "operation_id": "op-ghost",
        },
        {"method": "GET", "path": f"{M}/{hash_}/events", "operation_id": "op-read"},
    ]
    batch = api.post("/batches", json={"operations": operations}).json()
    done = sandbox.state.batches.wait(batch["id"])
    assert done.status == "finished" and done.errored == 1
    archive = requests.get(
        api.get(f"/batches/{batch['id']}").json()["response_body_url"], timeout=30
    ).content
    results = {}
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        for item in tar:
            if item.isfile():
                for entry in json.loads(tar.extractfile(item).read()):
                    results[entry["operation_id"]] = entry
    assert [results[f"op-{n}"]["status_code"] for n in range(3)] == [204] * 3
    assert results["op-ghost"]["status_code"] == 404
    read = json.loads(results["op-read"]["response"])
    assert [e["name"] for e in read["events"]] == ["step_0", "step_1", "step_2"]


def test_events_go_with_a_permanent_delete(api):
    hash_ = member(api)
    api.post(f"{M}/{hash_}/events", json={"name": "visited"}).raise_for_status()
    api.post(f"{M}/{hash_}/actions/delete-permanent").raise_for_status()
    assert api.get(f"{M}/{hash_}/events").status_code == 404
