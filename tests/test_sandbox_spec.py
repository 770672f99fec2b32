"""Sandbox vs. Mailchimp's OpenAPI spec (the subset in sandbox/spec/).

Every endpoint the sandbox serves is called for real; the request (query
parameters, JSON body) and the sandbox's answer (2xx body, or the problem
document for errors) are validated against the spec's schemas with
``jsonschema`` (Draft 4, after turning OpenAPI's ``nullable`` into a null
type).  Path parameters are camelCased in the spec file and snake_case on
the wire; the tests map between the two.
"""

import json
import re
import sys
from pathlib import Path

import jsonschema
import pytest
import requests

from mailchimp_sandbox import DEFAULT_API_KEY, DEFAULT_LIST_ID, subscriber_hash

# seconds: a sandbox that stops answering fails the test instead of hanging it
TIMEOUT = 30

ROOT = Path(__file__).resolve().parent.parent
SPEC_FILE = ROOT / "sandbox" / "spec" / "marketing-openapi.subset.json"
AUTH = ("anystring", DEFAULT_API_KEY)

# Where Mailchimp's observed behaviour and the spec disagree the sandbox follows
# Mailchimp; these request-side differences are expected.
# (field of a request body, reason) - see sandbox/README.md "Spec deviations".
REQUEST_DEVIATIONS = {
    (
        "POST",
        "/lists/{listId}",
        "members.tags",
    ): "sync_tags needs per-member tags, absent from the spec",
}


# Both directions: the spec types every merge field value as an object, but
# Mailchimp takes and returns text/number/date... values as scalars and only
# ADDRESS as an object.
SCHEMA_DEVIATIONS = [
    (
        re.compile(r"merge_fields/[A-Z0-9_]+: .* is not of type 'object'"),
        "merge field values are scalars (address is an object), not always objects",
    ),
]


def _nullable(node):
    if isinstance(node, dict):
        node = {k: _nullable(v) for k, v in node.items()}
        if node.pop("nullable", False) and "type" in node:
            t = node["type"]
            node["type"] = (t if isinstance(t, list) else [t]) + ["null"]
            if "enum" in node:
                node["enum"] = list(node["enum"]) + [None]
        return node
    if isinstance(node, list):
        return [_nullable(v) for v in node]
    return node


@pytest.fixture(scope="module")
def spec():
    raw = json.loads(SPEC_FILE.read_text())
    raw["components"]["schemas"] = _nullable(raw["components"]["schemas"])
    for ops in raw["paths"].values():
        for op in ops.values():
            for key in ("requestBody", "responses", "parameters"):
                if key in op:
                    op[key] = _nullable(op[key])
    return raw


def _validator(spec, schema):
    root = {"components": spec["components"], "allOf": [schema]}
    return jsonschema.Draft4Validator(root)


def _errors(spec, schema, instance):
    return sorted(
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:200]}"
        for e in _validator(spec, schema).iter_errors(instance)
    )


def _template_regex(template):
    return re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", template) + "$")


class SpecClient:
    """Calls the sandbox and checks both directions against the spec."""

    def __init__(self, spec, sandbox):
        self.spec = spec
        self.base = sandbox.api_url("us1")
        self.session = requests.Session()
        self.session.auth = AUTH
        self.templates = [(t, _template_regex(t)) for t in spec["paths"]]
        self.covered = set()
        self.problems = []
        self.deviations = set()

    def operation(self, method, path):
        hits = [
            t
            for t, rx in self.templates
            if rx.match(path) and method.lower() in self.spec["paths"][t]
        ]
        # prefer the most literal template (fewest params)
        hits.sort(key=lambda t: t.count("{"))
        assert hits, f"{method} {path} is not in the spec subset"
        return hits[0], self.spec["paths"][hits[0]][method.lower()]

    def _check_query(self, method, template, op, params):
        declared = {
            p["name"]: p for p in op.get("parameters", []) if p.get("in") == "query"
        }
        for name, value in (params or {}).items():
            if name not in declared:
                self.problems.append(
                    f"{method} {template}: query parameter {name!r} not in spec"
                )
                continue
            schema = declared[name].get("schema", {})
            t = schema.get("type")
            if t == "integer":
                value = int(value)
            elif t == "boolean":
                value = str(value).lower() == "true"
            elif t == "array":
                value = str(value).split(",")
            for err in _errors(self.spec, schema, value):
                self.problems.append(f"{method} {template} ?{name}: {err}")

    def _check_body(self, method, template, op, body):
        schema = (
            op.get("requestBody", {})
            .get("content", {})
            .get("application/json", {})
            .get("schema")
        )
        if schema is None:
            self.problems.append(
                f"{method} {template}: sends a body the spec does not describe"
            )
            return
        for err in _errors(self.spec, schema, body):
            if any(rx.search(err) for rx, _why in SCHEMA_DEVIATIONS):
                self.deviations.add(err.split(":")[0])
                continue
            self.problems.append(f"{method} {template} request: {err}")
        self._undocumented(method, template, schema, body, "")

    def _undocumented(self, method, template, schema, body, prefix):
        """Flag request fields the spec does not list (jsonschema allows extras)."""
        schema = self._deref(schema)
        if isinstance(body, dict) and schema.get("properties"):  # {} = free-form
            for key, value in body.items():
                field = f"{prefix}{key}"
                if key not in schema["properties"]:
                    if (
                        method,
                        template,
                        field,
                    ) not in REQUEST_DEVIATIONS and schema.get(
                        "additionalProperties"
                    ) is None:
                        self.problems.append(
                            f"{method} {template} request: field {field!r} not in spec"
                        )
                    continue
                self._undocumented(
                    method, template, schema["properties"][key], value, field + "."
                )
        elif isinstance(body, list) and "items" in schema:
            for item in body:
                self._undocumented(method, template, schema["items"], item, prefix)

    def _deref(self, schema):
        while "$ref" in schema:
            schema = self.spec["components"]["schemas"][
                schema["$ref"].rsplit("/", 1)[1]
            ]
        if "allOf" in schema and "properties" not in schema:
            merged = {"properties": {}}
            for part in schema["allOf"]:
                merged["properties"].update(self._deref(part).get("properties", {}))
            return merged
        return schema

    def call(
        self, method, path, params=None, json_body=None, expect=None, invalid=False
    ):
        """``invalid=True``: the request is deliberately wrong; the spec must agree."""
        template, op = self.operation(method, path)
        self.covered.add((method, template))
        before = len(self.problems)
        self._check_query(method, template, op, params)
        if json_body is not None:
            self._check_body(method, template, op, json_body)
        if invalid:
            assert (
                len(self.problems) > before
            ), f"{method} {path}: the spec accepts this request"
            del self.problems[before:]
        r = self.session.request(
            method, self.base + path, params=params, json=json_body
        )
        if expect is not None:
            assert (
                r.status_code == expect
            ), f"{method} {path}: {r.status_code} {r.text[:300]}"
        code = str(r.status_code)
        response = op["responses"].get(code) or op["responses"]["default"]
        if r.status_code == 204:
            assert r.content == b""
            assert "204" in op["responses"], f"{method} {template}: 204 not in spec"
            return None
        content = response.get("content", {})
        ctype = r.headers.get("Content-Type", "").split(";")[0]
        if ctype not in content:
            self.problems.append(
                f"{method} {template} {code}: content type {ctype} not in spec"
            )
            return r.json()
        doc = r.json()
        for err in _errors(self.spec, content[ctype]["schema"], doc):
            if any(rx.search(err) for rx, _why in SCHEMA_DEVIATIONS):
                self.deviations.add(err.split(":")[0])
                continue
            self.problems.append(f"{method} {template} {code} response: {err}")
        return doc


LIST_BODY = {
    "name": "Spec",
    "permission_reminder": "You signed up.",
    "email_type_option": True,
    "contact": {
        "company": "Acme",
        "address1": "1 Road",
        "city": "Lyon",
        "state": "",
        "zip": "69001",
        "country": "FR",
    },
    "campaign_defaults": {
        "from_name": "Acme",
        "from_email": "news@acme-mail.com",
        "subject": "Hi",
        "language": "fr",
    },
}


@pytest.fixture()
def client(spec, sandbox):
    return SpecClient(spec, sandbox)


def test_subset_covers_every_sandbox_route(spec):
    sys.path.insert(0, str(ROOT / "sandbox" / "spec"))
    from cut_spec import served_operations

    ops = {(m, p) for m, p in served_operations()}
    in_spec = {(m.upper(), p) for p, v in spec["paths"].items() for m in v}
    assert ops == in_spec


def test_every_endpoint_conforms(client, sandbox):
    c = client
    L = f"/lists/{DEFAULT_LIST_ID}"
    sandbox.state.set_webhook_validation(False)
    c.call("GET", "/ping", expect=200)
    c.call("GET", "/", params={"fields": "account_id,account_name"}, expect=200)
    # lists
    new = c.call("POST", "/lists", json_body=LIST_BODY, expect=200)
    c.call(
        "GET",
        "/lists",
        params={
            "count": 5,
            "offset": 0,
            "sort_field": "date_created",
            "sort_dir": "DESC",
        },
        expect=200,
    )
    c.call("GET", f"/lists/{new['id']}", expect=200)
    # spec: 5 required fields
    c.call(
        "PATCH",
        f"/lists/{new['id']}",
        json_body={"name": "Spec 2"},
        expect=400,
        invalid=True,
    )
    c.call(
        "PATCH",
        f"/lists/{new['id']}",
        json_body=dict(LIST_BODY, name="Spec 2", double_optin=True),
        expect=200,
    )
    c.call("DELETE", f"/lists/{new['id']}", expect=204)
    c.call("GET", f"/lists/{new['id']}", expect=404)
    # merge fields
    mf = c.call(
        "POST",
        f"{L}/merge-fields",
        json_body={
            "name": "Size",
            "type": "dropdown",
            "tag": "SIZE",
            "options": {"choices": ["S", "M"]},
        },
        expect=200,
    )
    c.call("GET", f"{L}/merge-fields", params={"count": 50}, expect=200)
    c.call("GET", f"{L}/merge-fields/{mf['merge_id']}", expect=200)
    c.call(
        "PATCH",
        f"{L}/merge-fields/{mf['merge_id']}",
        json_body={"name": "Shirt size"},
        expect=200,
    )
    # interests
    cat = c.call(
        "POST",
        f"{L}/interest-categories",
        json_body={"title": "Topics", "type": "checkboxes"},
        expect=200,
    )
    C = f"{L}/interest-categories/{cat['id']}"
    c.call("GET", f"{L}/interest-categories", expect=200)
    c.call("GET", C, expect=200)
    c.call("PATCH", C, json_body={"title": "Themes", "type": "checkboxes"}, expect=200)
    interest = c.call("POST", f"{C}/interests", json_body={"name": "News"}, expect=200)
    c.call("GET", f"{C}/interests", expect=200)
    c.call("GET", f"{C}/interests/{interest['id']}", expect=200)
    c.call(
        "PATCH",
        f"{C}/interests/{interest['id']}",
        json_body={"name": "Latest news"},
        expect=200,
    )
    # members
    ann = "ann@acme-mail.com"
    H = subscriber_hash(ann)
    c.call(
        "POST",
        f"{L}/members",
        json_body={
            "email_address": ann,
            "status": "subscribed",
            "merge_fields": {"FNAME": "Ann", "SIZE": "M"},
            "interests": {interest["id"]: True},
            "vip": True,
            "language": "en",
            "email_type": "html",
        },
        expect=200,
    )
    c.call(
        "POST",
        f"{L}/members",
        json_body={"email_address": ann, "status": "subscribed"},
        expect=400,
    )
    c.call(
        "PUT",
        f"{L}/members/{subscriber_hash('bob@acme-mail.com')}",
        params={"skip_merge_validation": "true"},
        json_body={
            "email_address": "bob@acme-mail.com",
            "status_if_new": "unsubscribed",
            "merge_fields": {"LNAME": "Bob"},
        },
        expect=200,
    )
    c.call(
        "PUT",
        f"{L}/members/{subscriber_hash('bob@acme-mail.com')}",
        json_body={
            "email_address": "bob@acme-mail.com",
            "status_if_new": "subscribed",
            "status": "subscribed",
        },
        expect=400,
    )
    c.call(
        "PATCH",
        f"{L}/members/{H}",
        json_body={"merge_fields": {"LNAME": "Lee"}},
        expect=200,
    )
    c.call(
        "GET",
        f"{L}/members/{H}",
        params={"fields": "id,status,merge_fields"},
        expect=200,
    )
    c.call(
        "GET",
        f"{L}/members",
        params={
            "count": 100,
            "offset": 0,
            "status": "subscribed",
            "since_last_changed": "2000-01-01T00:00:00+00:00",
            "sort_field": "last_changed",
            "sort_dir": "ASC",
            "vip_only": "false",
            "email_type": "html",
            "interest_category_id": cat["id"],
            "interest_ids": interest["id"],
            "interest_match": "any",
        },
        expect=200,
    )
    c.call(
        "GET",
        f"{L}/members",
        params={
            "status": "unsubscribed",
            "unsubscribed_since": "2000-01-01T00:00:00+00:00",
        },
        expect=200,
    )
    c.call(
        "POST",
        f"{L}/members/{H}/tags",
        json_body={"tags": [{"name": "VIP", "status": "active"}], "is_syncing": False},
        expect=204,
    )
    c.call("GET", f"{L}/members/{H}/tags", expect=200)
    c.call(
        "POST",
        f"{L}/members/{H}/events",
        json_body={
            "name": "order_confirmed",
            "properties": {"amount": "12.50", "reference": "S00042"},
            "occurred_at": "2030-01-01T10:00:00+00:00",
            "is_syncing": False,
        },
        expect=204,
    )
    c.call("GET", f"{L}/members/{H}/events", params={"count": 5}, expect=200)
    c.call("GET", f"{L}/tag-search", params={"name": "VI"}, expect=200)
    # batch subscribe
    c.call(
        "POST",
        L,
        params={"skip_merge_validation": "false", "skip_duplicate_check": "true"},
        json_body={
            "members": [
                {
                    "email_address": "cy@acme-mail.com",
                    "status": "subscribed",
                    "merge_fields": {"FNAME": "Cy"},
                    "tags": ["spec"],
                },
                {"email_address": ann, "status": "subscribed"},
                {"email_address": "test@acme-mail.com", "status": "subscribed"},
            ],
            "update_existing": False,
            "sync_tags": False,
        },
        expect=200,
    )
    # segments
    seg = c.call(
        "POST",
        f"{L}/segments",
        json_body={"name": "Donors", "static_segment": [ann]},
        expect=200,
    )
    S = f"{L}/segments/{seg['id']}"
    c.call("GET", f"{L}/segments", params={"type": "static", "count": 10}, expect=200)
    c.call("GET", S, expect=200)
    c.call("PATCH", S, json_body={"name": "Givers"}, expect=200)
    c.call(
        "POST",
        S,
        json_body={
            "members_to_add": ["cy@acme-mail.com", "ghost@acme-mail.com"],
            "members_to_remove": [],
        },
        expect=200,
    )
    c.call("GET", f"{S}/members", params={"include_unsubscribed": "true"}, expect=200)
    c.call(
        "POST",
        f"{S}/members",
        json_body={"email_address": "bob@acme-mail.com"},
        expect=200,
    )
    c.call("DELETE", f"{S}/members/{subscriber_hash('bob@acme-mail.com')}", expect=204)
    # webhooks
    hook = c.call(
        "POST",
        f"{L}/webhooks",
        json_body={
            "url": "http://127.0.0.1:9/hook",
            "events": {"subscribe": True, "unsubscribe": True},
            "sources": {"user": True, "admin": True, "api": False},
        },
        expect=200,
    )
    c.call("GET", f"{L}/webhooks", expect=200)
    c.call("GET", f"{L}/webhooks/{hook['id']}", expect=200)
    c.call(
        "PATCH",
        f"{L}/webhooks/{hook['id']}",
        json_body={"events": {"profile": True}},
        expect=200,
    )
    c.call("DELETE", f"{L}/webhooks/{hook['id']}", expect=204)
    # campaigns & reports
    camp = sandbox.state.create_campaign(
        subject="Spec",
        events=[
            {"email": ann, "action": "open"},
            {"email": ann, "action": "click", "url": "https://acme-mail.com/x"},
            {"email": "cy@acme-mail.com", "action": "unsub"},
            {"email": ann, "action": "abuse"},
        ],
    )
    cid = camp["id"]
    c.call(
        "GET", f"{L}/members/{H}/activity", params={"action": "open,click"}, expect=200
    )
    c.call(
        "GET",
        f"{L}/members/{H}/activity-feed",
        params={"activity_filters": "open,click", "count": 10},
        expect=200,
    )
    c.call(
        "GET",
        "/campaigns",
        params={
            "status": "sent",
            "sort_field": "send_time",
            "sort_dir": "ASC",
            "since_send_time": "2000-01-01T00:00:00+00:00",
            "list_id": DEFAULT_LIST_ID,
            "type": "regular",
        },
        expect=200,
    )
    c.call("GET", f"/campaigns/{cid}", expect=200)
    c.call(
        "GET",
        "/reports",
        params={"count": 10, "since_send_time": "2000-01-01T00:00:00+00:00"},
        expect=200,
    )
    c.call("GET", f"/reports/{cid}", expect=200)
    c.call(
        "GET",
        f"/reports/{cid}/email-activity",
        params={"since": "2000-01-01T00:00:00+00:00", "count": 5},
        expect=200,
    )
    c.call("GET", f"/reports/{cid}/email-activity/{H}", expect=200)
    c.call(
        "GET",
        f"/reports/{cid}/open-details",
        params={"since": "2000-01-01T00:00:00+00:00", "count": 5},
        expect=200,
    )
    c.call("GET", f"/reports/{cid}/sent-to", params={"count": 5}, expect=200)
    c.call("GET", f"/reports/{cid}/sent-to/{H}", expect=200)
    c.call("GET", f"/reports/{cid}/unsubscribed", expect=200)
    c.call("GET", f"/reports/{cid}/abuse-reports", expect=200)
    c.call(
        "GET",
        f"/reports/{cid}/unsubscribed/{subscriber_hash('cy@acme-mail.com')}",
        expect=200,
    )
    c.call(
        "GET",
        f"/reports/{cid}/sent-to/{subscriber_hash('nobody@acme-mail.com')}",
        expect=404,
    )
    # batches
    batch = c.call(
        "POST",
        "/batches",
        json_body={
            "operations": [
                {
                    "method": "GET",
                    "path": f"{L}/members",
                    "params": {"count": "1"},
                    "operation_id": "one",
                }
            ]
        },
        expect=200,
    )
    sandbox.state.batches.wait(batch["id"])
    c.call("GET", "/batches", expect=200)
    c.call("GET", f"/batches/{batch['id']}", expect=200)
    c.call("DELETE", f"/batches/{batch['id']}", expect=204)
    # deletions last
    c.call("DELETE", f"{S}", expect=204)
    c.call("DELETE", f"{C}/interests/{interest['id']}", expect=204)
    c.call("DELETE", C, expect=204)
    c.call("DELETE", f"{L}/merge-fields/{mf['merge_id']}", expect=204)
    c.call("DELETE", f"{L}/members/{H}", expect=204)
    c.call("DELETE", f"{L}/members/{H}", expect=405)
    c.call("POST", f"{L}/members/{H}/actions/delete-permanent", expect=204)
    c.call("GET", f"{L}/members/{H}", expect=404)

    all_ops = {(m.upper(), p) for p, v in c.spec["paths"].items() for m in v}
    assert all_ops - c.covered == set(), "endpoints not exercised"
    assert c.problems == [], "\n".join(c.problems)
    assert c.deviations, "the documented merge_fields deviation should have been seen"


def test_error_documents_conform(client, sandbox):
    c = client
    for path in (
        "/lists/nope",
        "/lists/nope/members",
        "/campaigns/nope",
        "/batches/nope",
    ):
        c.call("GET", path, expect=404)
    c.call(
        "POST",
        f"/lists/{DEFAULT_LIST_ID}/members",
        json_body={"email_address": "x"},
        expect=400,
        invalid=True,
    )
    c.call(
        "GET",
        f"/lists/{DEFAULT_LIST_ID}/members",
        params={"count": 1001},
        expect=400,
        invalid=True,
    )
    assert c.problems == [], "\n".join(c.problems)


def test_transport_errors_are_problem_documents(spec, sandbox):
    """401/403/405/422/429/500/503 from the HTTP layer match ProblemDetailDocument."""
    problem = {"$ref": "#/components/schemas/ProblemDetailDocument"}
    api = sandbox.api_url("us1")
    responses = [
        requests.get(api + "/ping", timeout=TIMEOUT),
        requests.get(api + "/ping", auth=("x", "f" * 32 + "-us1"), timeout=TIMEOUT),
        requests.get(sandbox.api_url("us2") + "/ping", auth=AUTH, timeout=TIMEOUT),
        requests.put(api + "/ping", auth=AUTH, timeout=TIMEOUT),
        requests.get(
            api + "/ping",
            auth=AUTH,
            headers={"X-HTTP-Method-Override": "PUT"},
            timeout=TIMEOUT,
        ),
    ]
    for status in (429, 500, 503):  # faults are served before authentication
        sandbox.state.add_fault(status, count=1, path_pattern="^/ping$")
        responses.append(requests.get(api + "/ping", auth=AUTH, timeout=TIMEOUT))
    assert [r.status_code for r in responses] == [
        401,
        401,
        403,
        405,
        422,
        429,
        500,
        503,
    ]
    for r in responses:
        assert r.headers["Content-Type"].startswith("application/problem+json")
        assert _errors(spec, problem, r.json()) == []
        assert r.json()["instance"] == r.headers["X-Request-Id"]
