"""API handlers, one module per resource family; importing registers routes."""

from . import (
    batches,
    campaigns,
    events,
    interests,
    lists,
    members,
    merge_fields,
    root,
    segments,
    webhooks,
)
