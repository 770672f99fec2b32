"""API handlers, one module per resource family; importing registers routes."""
from . import root, lists, members, merge_fields, segments, interests, webhooks, batches, campaigns  # noqa: F401
