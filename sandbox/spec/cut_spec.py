"""Cut the part of Mailchimp's OpenAPI spec that the sandbox serves.

Usage (from the repo root):
    python sandbox/spec/cut_spec.py PATH/TO/marketing-openapi.json

The full spec is not in the repository (PROVENANCE.md says where it comes from).

Keeps exactly the (path, method) pairs registered in the sandbox's router,
plus every component schema they reference (transitively), and writes
``sandbox/spec/marketing-openapi.subset.json``.  The input is checked against
the sha256 recorded in PROVENANCE.md so the subset always comes from the same
file.
"""

# a command-line program: what it prints is its output, not a log line
# pylint: disable=print-used

import hashlib
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

EXPECTED_SHA256 = "ab58965d976eb992be3892534f5f2987965c829c1ee0b8c70e0c03a1e63ba815"
OUTPUT = HERE / "marketing-openapi.subset.json"

# wire name (sandbox routes, real API) -> camelCased name used in this spec file
WIRE_TO_SPEC = {
    "list_id": "listId",
    "subscriber_hash": "subscriberHash",
    "merge_id": "mergeId",
    "segment_id": "segmentId",
    "category_id": "interestCategoryId",
    "interest_id": "interestId",
    "webhook_id": "webhookId",
    "batch_id": "batchId",
    "campaign_id": "campaignId",
}


def served_operations():
    """[(METHOD, spec path)] for every route the sandbox implements."""
    from mailchimp_sandbox import routes  # noqa: F401 (importing registers routes)
    from mailchimp_sandbox.router import _ROUTES

    ops = []
    for method, regex, _fn, _lock in _ROUTES:
        pattern = regex.pattern[1:-1]
        path = re.sub(
            r"\(\?P<(\w+)>\[\^/\]\+\)",
            lambda m: f"{{{WIRE_TO_SPEC[m.group(1)]}}}",
            pattern,
        )
        ops.append((method, path))
    return ops


def _refs(node, found):
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def cut(spec):
    paths = {}
    missing = []
    for method, path in served_operations():
        op = spec["paths"].get(path, {}).get(method.lower())
        if op is None:
            missing.append(f"{method} {path}")
            continue
        paths.setdefault(path, {})[method.lower()] = op
    names, todo = set(), set()
    _refs(paths, todo)
    while todo:
        name = todo.pop()
        if name in names:
            continue
        names.add(name)
        more = set()
        _refs(spec["components"]["schemas"][name], more)
        todo |= more - names
    return {
        "openapi": spec["openapi"],
        "info": dict(
            spec["info"], title=spec["info"].get("title", "") + " (sandbox subset)"
        ),
        "servers": spec.get("servers", []),
        "paths": {p: paths[p] for p in sorted(paths)},
        "components": {
            "schemas": {n: spec["components"]["schemas"][n] for n in sorted(names)},
            "securitySchemes": spec["components"].get("securitySchemes", {}),
        },
    }, missing


def main(argv):
    if len(argv) != 2:
        sys.exit(f"usage: {argv[0]} PATH/TO/marketing-openapi.json (see PROVENANCE.md)")
    src = Path(argv[1])
    data = src.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != EXPECTED_SHA256:
        sys.exit(f"{src}: sha256 {digest} is not the recorded {EXPECTED_SHA256}")
    subset, missing = cut(json.loads(data))
    OUTPUT.write_text(json.dumps(subset, indent=1, sort_keys=False) + "\n")
    n_ops = sum(len(v) for v in subset["paths"].values())
    print(
        f"wrote {OUTPUT.name}: {len(subset['paths'])} paths, {n_ops} operations, "
        f"{len(subset['components']['schemas'])} schemas"
    )
    if missing:
        print("served by the sandbox but absent from the spec:", ", ".join(missing))


if __name__ == "__main__":
    main(sys.argv)
