"""/batches: submit, poll, list and cancel asynchronous batch operations."""

from .. import errors as E
from ..constants import MAX_PENDING_BATCHES
from ..paging import paginate
from ..router import route
from .common import body_object

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _validate(ops):
    if not isinstance(ops, list) or not ops:
        raise E.required("operations")
    errs = []
    for n, op in enumerate(ops):
        if not isinstance(op, dict):
            errs.append(
                {
                    "field": f"operations.{n}",
                    "message": "Each operation must be an object.",
                }
            )
            continue
        if str(op.get("method", "")).upper() not in METHODS:
            errs.append(
                {
                    "field": f"operations.{n}.method",
                    "message": "Value is not one of the allowed values: {}.".format(
                        ", ".join(METHODS)
                    ),
                }
            )
        if not isinstance(op.get("path"), str) or not op["path"]:
            errs.append(
                {
                    "field": f"operations.{n}.path",
                    "message": "This value should not be blank.",
                }
            )
        if op.get("body") is not None and not isinstance(op["body"], str):
            errs.append(
                {
                    "field": f"operations.{n}.body",
                    "message": "Schema describes string, {} found instead".format(
                        type(op["body"]).__name__
                    ),
                }
            )
        if op.get("params") is not None and not isinstance(op["params"], dict):
            errs.append(
                {
                    "field": f"operations.{n}.params",
                    "message": "Schema describes object.",
                }
            )
    if errs:
        raise E.field_errors(errs)


@route("POST", "/batches")
def start_batch(ctx):
    body = body_object(ctx)
    _validate(body.get("operations"))
    runner = ctx.state.batches
    if runner.pending_count(ctx.api_key) >= MAX_PENDING_BATCHES:
        raise E.too_many_requests(
            f"You have more than {MAX_PENDING_BATCHES} pending batches. "
            "Please wait for some to finish before creating more."
        )
    batch = runner.submit(ctx.api_key, [dict(op) for op in body["operations"]])
    return 200, batch.json(ctx.base_url)


@route("GET", "/batches")
def list_batches(ctx):
    page, total = paginate(ctx.state.batches.list(ctx.api_key), ctx.query)
    return 200, {"batches": [b.json(ctx.base_url) for b in page], "total_items": total}


@route("GET", "/batches/{batch_id}")
def get_batch(ctx, batch_id):
    b = ctx.state.batches.get(batch_id, ctx.api_key)
    if b is None:
        raise E.not_found()
    return 200, b.json(ctx.base_url)


@route("DELETE", "/batches/{batch_id}")
def delete_batch(ctx, batch_id):
    if ctx.state.batches.get(batch_id, ctx.api_key) is None:
        raise E.not_found()
    ctx.state.batches.cancel(batch_id)
    return 204, None
