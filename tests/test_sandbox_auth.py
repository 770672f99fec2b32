"""Sandbox: authentication, datacenters, error documents and HTTP-level rules."""

import base64

import requests

from mailchimp_sandbox import DEFAULT_ACCOUNT_NAME, DEFAULT_API_KEY, DEFAULT_LIST_ID

# seconds: a sandbox that stops answering fails the test instead of hanging it
TIMEOUT = 30

AUTH = ("anystring", DEFAULT_API_KEY)
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}


def assert_problem(resp, status, title):
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"].startswith("application/problem+json")
    doc = resp.json()
    assert PROBLEM_KEYS <= set(doc)
    assert doc["status"] == status
    assert doc["title"] == title
    assert doc["instance"] == resp.headers["X-Request-Id"]
    return doc


def test_ping_and_account_root(sandbox):
    r = requests.get(sandbox.api_url("us1") + "/ping", auth=AUTH, timeout=TIMEOUT)
    assert r.status_code == 200
    assert r.json() == {"health_status": "Everything's Chimpy!"}
    assert r.headers["X-Request-Id"]
    root = requests.get(sandbox.api_url("us1") + "/", auth=AUTH, timeout=TIMEOUT).json()
    assert root["account_name"] == DEFAULT_ACCOUNT_NAME
    for key in (
        "account_id",
        "email",
        "login_id",
        "first_name",
        "last_name",
        "total_subscribers",
    ):
        assert key in root
    assert root["total_subscribers"] == 0


def test_bearer_and_basic_any_username(sandbox):
    url = sandbox.api_url("us1") + "/ping"
    assert (
        requests.get(
            url,
            headers={"Authorization": f"Bearer {DEFAULT_API_KEY}"},
            timeout=TIMEOUT,
        ).status_code
        == 200
    )
    token = base64.b64encode(f"whoever:{DEFAULT_API_KEY}".encode()).decode()
    assert (
        requests.get(
            url, headers={"Authorization": f"Basic {token}"}, timeout=TIMEOUT
        ).status_code
        == 200
    )


def test_missing_and_invalid_keys(sandbox):
    url = sandbox.api_url("us1") + "/lists"
    assert_problem(requests.get(url, timeout=TIMEOUT), 401, "API Key Missing")
    doc = assert_problem(
        requests.get(
            url, auth=("x", "ffffffffffffffffffffffffffffffff-us1"), timeout=TIMEOUT
        ),
        401,
        "API Key Invalid",
    )
    assert doc["detail"] == (
        "Your API key may be invalid, or you've attempted to access the wrong "
        "datacenter."
    )
    assert_problem(
        requests.get(url, auth=("x", "garbage"), timeout=TIMEOUT),
        401,
        "API Key Invalid",
    )


def test_wrong_datacenter_and_dcless_path(sandbox):
    doc = assert_problem(
        requests.get(sandbox.api_url("us6") + "/ping", auth=AUTH, timeout=TIMEOUT),
        403,
        "Wrong Datacenter",
    )
    assert "us1" in doc["detail"]
    # /3.0 without a dc prefix: no dc check
    assert (
        requests.get(sandbox.url + "/3.0/ping", auth=AUTH, timeout=TIMEOUT).status_code
        == 200
    )


def test_revoked_and_disabled_accounts(sandbox):
    key2 = "abcdefabcdefabcdefabcdefabcdef12-us2"
    key3 = "abcdefabcdefabcdefabcdefabcdef13-us2"
    r = requests.post(
        sandbox.url + "/_sandbox/accounts",
        json={"api_key": key2, "account_name": "Two", "email": "two@acme-mail.com"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 200 and r.json()["lists"] == []
    sandbox.state.create_account(api_key=key3, account_name="Three")
    api2 = sandbox.api_url("us2")
    assert (
        requests.get(api2 + "/", auth=("x", key2), timeout=TIMEOUT).json()[
            "account_name"
        ]
        == "Two"
    )
    # a new account sees none of the default account's audiences
    assert (
        requests.get(api2 + "/lists", auth=("x", key2), timeout=TIMEOUT).json()[
            "total_items"
        ]
        == 0
    )
    assert_problem(
        requests.get(
            f"{api2}/lists/{DEFAULT_LIST_ID}", auth=("x", key2), timeout=TIMEOUT
        ),
        404,
        "Resource Not Found",
    )
    requests.post(
        sandbox.url + "/_sandbox/accounts/revoke",
        json={"api_key": key2},
        timeout=TIMEOUT,
    ).raise_for_status()
    assert_problem(
        requests.get(api2 + "/ping", auth=("x", key2), timeout=TIMEOUT),
        401,
        "API Key Invalid",
    )
    requests.post(
        sandbox.url + "/_sandbox/accounts/disable",
        json={"api_key": key3},
        timeout=TIMEOUT,
    ).raise_for_status()
    assert_problem(
        requests.get(api2 + "/ping", auth=("x", key3), timeout=TIMEOUT),
        403,
        "User Disabled",
    )


def test_rotated_key_keeps_the_account_and_its_audiences(sandbox):
    new_key = "00112233445566778899aabbccddeeff-us1"
    api = sandbox.api_url("us1")
    before = requests.get(api + "/", auth=AUTH, timeout=TIMEOUT).json()["account_id"]
    r = requests.post(
        sandbox.url + "/_sandbox/accounts/rotate",
        json={"api_key": DEFAULT_API_KEY, "new_api_key": new_key},
        timeout=TIMEOUT,
    )
    assert r.status_code == 200, r.text
    assert_problem(
        requests.get(api + "/ping", auth=AUTH, timeout=TIMEOUT), 401, "API Key Invalid"
    )
    assert (
        requests.get(api + "/", auth=("x", new_key), timeout=TIMEOUT).json()[
            "account_id"
        ]
        == before
    )
    lists = requests.get(api + "/lists", auth=("x", new_key), timeout=TIMEOUT).json()[
        "lists"
    ]
    assert [lst["id"] for lst in lists] == [DEFAULT_LIST_ID]


def test_unknown_route_wrong_method_and_bad_json(sandbox):
    api = sandbox.api_url("us1")
    assert_problem(
        requests.get(api + "/automations", auth=AUTH, timeout=TIMEOUT),
        404,
        "Resource Not Found",
    )
    assert_problem(
        requests.get(sandbox.url + "/totally/else", auth=AUTH, timeout=TIMEOUT),
        404,
        "Resource Not Found",
    )
    r = requests.put(api + "/lists", auth=AUTH, json={}, timeout=TIMEOUT)
    assert_problem(r, 405, "Method Not Allowed")
    assert "GET" in r.headers["Allow"] and "POST" in r.headers["Allow"]
    r = requests.post(
        f"{api}/lists/{DEFAULT_LIST_ID}/members",
        auth=AUTH,
        data="{not json",
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert_problem(r, 400, "JSON Parse Error")


def test_method_override_only_on_post(sandbox):
    api = sandbox.api_url("us1")
    body = requests.get(
        f"{api}/lists/{DEFAULT_LIST_ID}",
        auth=AUTH,
        params={
            "fields": "contact,permission_reminder,campaign_defaults,email_type_option"
        },
        timeout=TIMEOUT,
    ).json()
    r = requests.post(
        f"{api}/lists/{DEFAULT_LIST_ID}",
        auth=AUTH,
        json=dict(body, name="Renamed"),
        headers={"X-HTTP-Method-Override": "PATCH"},
        timeout=TIMEOUT,
    )
    assert r.status_code == 200 and r.json()["name"] == "Renamed"
    r = requests.get(
        f"{api}/lists/{DEFAULT_LIST_ID}",
        auth=AUTH,
        headers={"X-HTTP-Method-Override": "DELETE"},
        timeout=TIMEOUT,
    )
    assert_problem(r, 422, "Invalid Method Override")
    assert (
        requests.get(
            f"{api}/lists/{DEFAULT_LIST_ID}", auth=AUTH, timeout=TIMEOUT
        ).status_code
        == 200
    )


def test_problem_documents_carry_validation_errors(sandbox):
    r = requests.post(
        sandbox.api_url("us1") + "/lists",
        auth=AUTH,
        json={"name": "x"},
        timeout=TIMEOUT,
    )
    doc = assert_problem(r, 400, "Invalid Resource")
    fields = {e["field"] for e in doc["errors"]}
    assert {
        "contact",
        "permission_reminder",
        "campaign_defaults",
        "email_type_option",
    } <= fields
