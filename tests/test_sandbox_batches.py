"""Sandbox: asynchronous /batches end to end, including the tar.gz results."""

import io
import json
import tarfile
import time

import requests

from mailchimp_sandbox import DEFAULT_API_KEY, DEFAULT_LIST_ID

# seconds: a sandbox that stops answering fails the test instead of hanging it
TIMEOUT = 30

AUTH = ("anystring", DEFAULT_API_KEY)


def wait_finished(api, batch_id, timeout=10):
    deadline = time.time() + timeout
    statuses = []
    while time.time() < deadline:
        b = requests.get(f"{api}/batches/{batch_id}", auth=AUTH, timeout=TIMEOUT).json()
        statuses.append(b["status"])
        if b["status"] == "finished":
            return b, statuses
        time.sleep(0.02)
    raise AssertionError(f"batch not finished: {statuses[-5:]}")


def read_results(url):
    r = requests.get(url, timeout=TIMEOUT)
    assert r.status_code == 200
    out = []
    with tarfile.open(fileobj=io.BytesIO(r.content), mode="r:gz") as tar:
        for member in tar.getmembers():
            if member.isfile():
                assert member.name.endswith(".json")
                out += json.load(tar.extractfile(member))
    return out


def test_batch_end_to_end(sandbox):
    api = sandbox.api_url("us1")
    ops = [
        {
            "method": "PUT",
            "path": f"/lists/{DEFAULT_LIST_ID}/members/a@acme-mail.com",
            "operation_id": "put-a",
            "body": json.dumps(
                {"email_address": "a@acme-mail.com", "status_if_new": "subscribed"}
            ),
        },
        {
            "method": "POST",
            "path": f"/lists/{DEFAULT_LIST_ID}/members",
            "operation_id": "bad",
            "body": json.dumps({"email_address": "nope", "status": "subscribed"}),
        },
        {
            "method": "GET",
            "path": f"/lists/{DEFAULT_LIST_ID}/members",
            "operation_id": "list",
            "params": {"count": 5, "fields": "total_items"},
        },
        {"method": "GET", "path": "/lists/missing", "operation_id": "missing"},
    ]
    r = requests.post(
        f"{api}/batches", auth=AUTH, json={"operations": ops}, timeout=TIMEOUT
    )
    assert r.status_code == 200
    batch = r.json()
    assert batch["id"] and batch["status"] in ("pending", "started", "finished")
    assert batch["total_operations"] == 4
    done, _ = wait_finished(api, batch["id"])
    assert done["finished_operations"] == 4 and done["errored_operations"] == 2
    assert done["completed_at"] and done["submitted_at"]
    assert done["response_body_url"].endswith(
        f"/_sandbox/batch-results/{batch['id']}.tar.gz"
    )
    results = {r["operation_id"]: r for r in read_results(done["response_body_url"])}
    assert set(results) == {"put-a", "bad", "list", "missing"}
    assert results["put-a"]["status_code"] == 200
    assert isinstance(results["put-a"]["response"], str)  # a JSON *string*
    assert (
        json.loads(results["put-a"]["response"])["email_address"] == "a@acme-mail.com"
    )
    assert results["bad"]["status_code"] == 400
    assert json.loads(results["bad"]["response"])["title"] == "Invalid Resource"
    assert json.loads(results["list"]["response"]) == {"total_items": 1}
    assert results["missing"]["status_code"] == 404
    # the operations really ran against the same account's state
    assert (
        sandbox.state.get_member(DEFAULT_LIST_ID, "a@acme-mail.com")["status"]
        == "subscribed"
    )
    listing = requests.get(f"{api}/batches", auth=AUTH, timeout=TIMEOUT).json()
    assert listing["total_items"] == 1 and listing["batches"][0]["id"] == batch["id"]


def test_batch_status_progression_pause_and_delete(sandbox):
    api = sandbox.api_url("us1")
    requests.post(
        sandbox.url + "/_sandbox/batches/config",
        json={"paused": True},
        timeout=TIMEOUT,
    ).raise_for_status()
    ops = [{"method": "GET", "path": "/ping"}] * 3
    b = requests.post(
        f"{api}/batches", auth=AUTH, json={"operations": ops}, timeout=TIMEOUT
    ).json()
    time.sleep(0.1)
    assert (
        requests.get(f"{api}/batches/{b['id']}", auth=AUTH, timeout=TIMEOUT).json()[
            "status"
        ]
        == "pending"
    )
    requests.post(
        sandbox.url + "/_sandbox/batches/config",
        json={"paused": False, "operation_delay": 0.1},
        timeout=TIMEOUT,
    ).raise_for_status()
    _done, statuses = wait_finished(api, b["id"])
    assert "started" in statuses and statuses[-1] == "finished"
    assert statuses.index("started") < statuses.index("finished")
    assert (
        requests.delete(
            f"{api}/batches/{b['id']}", auth=AUTH, timeout=TIMEOUT
        ).status_code
        == 204
    )
    r = requests.get(f"{api}/batches/{b['id']}", auth=AUTH, timeout=TIMEOUT)
    assert r.status_code == 404 and r.json()["title"] == "Resource Not Found"


def test_batch_validation_and_pending_limit(sandbox):
    api = sandbox.api_url("us1")
    r = requests.post(
        f"{api}/batches",
        auth=AUTH,
        json={
            "operations": [
                {
                    "method": "PUT",
                    "path": "/lists/x/members/y",
                    "body": {"not": "a string"},
                }
            ]
        },
        timeout=TIMEOUT,
    )
    assert (
        r.status_code == 400 and r.json()["errors"][0]["field"] == "operations.0.body"
    )
    assert (
        requests.post(f"{api}/batches", auth=AUTH, json={}, timeout=TIMEOUT).status_code
        == 400
    )
    sandbox.state.pause_batches(True)
    for _ in range(500):
        sandbox.state.batches.submit(
            DEFAULT_API_KEY, [{"method": "GET", "path": "/ping"}]
        )
    r = requests.post(
        f"{api}/batches",
        auth=AUTH,
        json={"operations": [{"method": "GET", "path": "/ping"}]},
        timeout=TIMEOUT,
    )
    assert r.status_code == 429 and r.json()["title"] == "Too Many Requests"
    assert "500 pending batches" in r.json()["detail"]
