"""Sandbox: 10-connection limit, latency,
request timeout, injected faults, request log."""

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from mailchimp_sandbox import DEFAULT_API_KEY, DEFAULT_LIST_ID

# seconds: a sandbox that stops answering fails the test instead of hanging it
TIMEOUT = 30

AUTH = ("anystring", DEFAULT_API_KEY)


def control(sandbox, verb, path, **body):
    r = requests.request(
        verb, sandbox.url + "/_sandbox" + path, json=body, timeout=TIMEOUT
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_eleventh_concurrent_request_gets_429(sandbox):
    control(sandbox, "POST", "/latency", seconds=1.5)
    url = sandbox.api_url("us1") + "/ping"
    with ThreadPoolExecutor(15) as pool:
        responses = list(
            pool.map(lambda _: requests.get(url, auth=AUTH, timeout=TIMEOUT), range(15))
        )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 10 + [429] * 5
    throttled = next(r for r in responses if r.status_code == 429)
    assert throttled.headers["Content-Type"].startswith("application/problem+json")
    assert throttled.json()["title"] == "Too Many Requests"
    log = control(sandbox, "GET", "/requests")["requests"]
    assert max(e["in_flight"] for e in log) == 10
    assert sum(1 for e in log if e["status"] == 429) == 5
    # another key has its own budget, and the slots are released afterwards
    control(sandbox, "POST", "/latency", seconds=0)
    assert requests.get(url, auth=AUTH, timeout=TIMEOUT).status_code == 200


def test_latency_delays_api_calls_only(sandbox):
    control(sandbox, "POST", "/latency", seconds=0.3)
    t0 = time.perf_counter()
    requests.get(
        sandbox.api_url("us1") + "/ping", auth=AUTH, timeout=TIMEOUT
    ).raise_for_status()
    assert time.perf_counter() - t0 >= 0.3
    t0 = time.perf_counter()
    control(sandbox, "GET", "/requests")
    assert time.perf_counter() - t0 < 0.3


def test_requests_slower_than_timeout_are_cut(sandbox):
    control(sandbox, "POST", "/limits", request_timeout=0.3)
    control(sandbox, "POST", "/latency", seconds=5)
    t0 = time.perf_counter()
    r = requests.get(sandbox.api_url("us1") + "/ping", auth=AUTH, timeout=TIMEOUT)
    assert time.perf_counter() - t0 < 2
    assert r.status_code == 502 and r.headers["Content-Type"] == "text/html"
    assert "502 Bad Gateway" in r.text


@pytest.mark.parametrize(
    "status,title",
    [
        (429, "Too Many Requests"),
        (500, "Internal Server Error"),
        (503, "Service Unavailable"),
    ],
)
def test_problem_faults(sandbox, status, title):
    control(sandbox, "POST", "/faults", status=status, count=2, retry_after=7)
    url = sandbox.api_url("us1") + "/ping"
    for _ in range(2):
        r = requests.get(url, auth=AUTH, timeout=TIMEOUT)
        assert r.status_code == status
        assert r.json()["title"] == title and r.json()["status"] == status
        assert r.headers["Retry-After"] == "7"
    assert (
        requests.get(url, auth=AUTH, timeout=TIMEOUT).status_code == 200
    )  # count consumed


def test_502_html_and_bare_403_faults(sandbox):
    control(sandbox, "POST", "/faults", status=502)
    r = requests.get(sandbox.api_url("us1") + "/ping", auth=AUTH, timeout=TIMEOUT)
    assert r.status_code == 502 and r.headers["Content-Type"] == "text/html"
    assert r.text.lstrip().startswith("<html>")
    control(sandbox, "POST", "/faults", status=403)
    r = requests.get(sandbox.api_url("us1") + "/ping", auth=AUTH, timeout=TIMEOUT)
    assert r.status_code == 403 and r.content == b"" and "Content-Type" not in r.headers


def test_fault_matching_by_method_and_path(sandbox):
    api = sandbox.api_url("us1")
    control(
        sandbox,
        "POST",
        "/faults",
        status=500,
        method="PUT",
        path_pattern=r"^/lists/[^/]+/members/",
        count=1,
    )
    assert (
        requests.get(
            f"{api}/lists/{DEFAULT_LIST_ID}/members", auth=AUTH, timeout=TIMEOUT
        ).status_code
        == 200
    )
    r = requests.put(
        f"{api}/lists/{DEFAULT_LIST_ID}/members/a@acme-mail.com",
        auth=AUTH,
        json={"email_address": "a@acme-mail.com", "status_if_new": "subscribed"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 500
    # nothing written
    assert sandbox.state.get_member(DEFAULT_LIST_ID, "a@acme-mail.com") is None
    control(sandbox, "POST", "/faults", status=503, count=5)
    assert len(control(sandbox, "GET", "/faults")["faults"]) == 1
    control(sandbox, "DELETE", "/faults")
    assert requests.get(f"{api}/ping", auth=AUTH, timeout=TIMEOUT).status_code == 200


def test_hang_fault_makes_clients_time_out(sandbox):
    control(sandbox, "POST", "/faults", status=500, hang=1.0)
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(sandbox.api_url("us1") + "/ping", auth=AUTH, timeout=0.3)
    time.sleep(0.8)
    assert (
        requests.get(
            sandbox.api_url("us1") + "/ping", auth=AUTH, timeout=TIMEOUT
        ).status_code
        == 200
    )


def test_request_log_never_holds_the_full_key(sandbox):
    api = sandbox.api_url("us1")
    requests.get(f"{api}/lists", auth=AUTH, params={"count": 3}, timeout=TIMEOUT)
    requests.get(
        f"{api}/ping",
        headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"},
        timeout=TIMEOUT,
    )
    requests.get(f"{api}/ping", timeout=TIMEOUT)
    doc = control(sandbox, "GET", "/requests")
    dump = json.dumps(doc)
    assert DEFAULT_API_KEY not in dump and DEFAULT_API_KEY.split("-")[0] not in dump
    first = doc["requests"][0]
    assert first["method"] == "GET" and first["path"] == "/us1/3.0/lists"
    assert first["query"] == {"count": "3"} and first["status"] == 200
    assert first["api_key_last4"] == DEFAULT_API_KEY.split("-")[0][-4:]
    assert first["duration"] >= 0 and first["time"] and "in_flight" in first
    assert (
        doc["requests"][2]["status"] == 401
        and doc["requests"][2]["api_key_last4"] == ""
    )
    control(sandbox, "DELETE", "/requests")
    assert control(sandbox, "GET", "/requests")["requests"] == []
