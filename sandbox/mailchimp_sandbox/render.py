"""Stored objects -> Mailchimp JSON shapes (field names as in the v3.0 spec).

Rendering is kept apart from storage so members stay small dicts (100k of
them must fit and seed fast) while responses carry every field a client
expects.
"""

from . import consent
from .clock import iso


def member_json(lst, m, tags_limit=50):
    fields = lst.merge_fields.values()
    merges = {}
    for f in fields:
        merges[f["tag"]] = m["merge_fields"].get(f["tag"], "")
    interests = {}
    for cat in lst.categories.values():
        for iid in cat["interests"]:
            interests[iid] = bool(m["interests"].get(iid, False))
    tags = []
    for seg_id in m["tags"]:
        seg = lst.segments.get(seg_id)
        if seg is not None:
            tags.append({"id": seg["id"], "name": seg["name"]})
    fname = merges.get("FNAME", "")
    lname = merges.get("LNAME", "")
    loc = m["location"]
    return {
        "id": m["id"],
        "email_address": m["email"],
        "unique_email_id": m["unique_email_id"],
        "contact_id": m["contact_id"],
        "full_name": " ".join(str(x) for x in (fname, lname) if x),
        "web_id": m["web_id"],
        "email_type": m["email_type"],
        "status": m["status"],
        "unsubscribe_reason": m["unsubscribe_reason"],
        "consents_to_one_to_one_messaging": True,
        "merge_fields": merges,
        "interests": interests,
        "stats": {"avg_open_rate": 0, "avg_click_rate": 0},
        "ip_signup": m["ip_signup"],
        "timestamp_signup": iso(m["timestamp_signup"]),
        "ip_opt": m["ip_opt"],
        "timestamp_opt": iso(m["timestamp_opt"]),
        "member_rating": 2,
        "last_changed": iso(m["last_changed"]),
        "language": m["language"],
        "vip": m["vip"],
        "email_client": "",
        "location": {
            "latitude": loc.get("latitude", 0),
            "longitude": loc.get("longitude", 0),
            "gmtoff": 0,
            "dstoff": 0,
            "country_code": "",
            "timezone": "",
            "region": "",
        },
        "marketing_permissions": consent.render(lst, m),
        "source": m["source"],
        "tags_count": len(tags),
        "tags": tags[:tags_limit],
        "list_id": lst.id,
    }


def list_stats(state, lst):
    def build():
        counts = {"subscribed": 0, "unsubscribed": 0, "cleaned": 0}
        last_sub = last_unsub = 0
        for m in lst.members.values():
            st = m["status"]
            if st in counts:
                counts[st] += 1
            if st == "subscribed" and m["timestamp_opt"] > last_sub:
                last_sub = m["timestamp_opt"]
            if st == "unsubscribed" and m["last_changed"] > last_unsub:
                last_unsub = m["last_changed"]
        return counts, last_sub, last_unsub, len(lst.members)

    counts, last_sub, last_unsub, total = lst.cached("stats", build)
    campaigns = [c for c in state.campaigns.values() if c.list_id == lst.id]
    last_sent = max((c.send_us for c in campaigns), default=0)
    return {
        "member_count": counts["subscribed"],
        "total_contacts": total,
        "unsubscribe_count": counts["unsubscribed"],
        "cleaned_count": counts["cleaned"],
        "member_count_since_send": counts["subscribed"],
        "unsubscribe_count_since_send": counts["unsubscribed"],
        "cleaned_count_since_send": counts["cleaned"],
        "campaign_count": len(campaigns),
        "campaign_last_sent": iso(last_sent),
        "merge_field_count": len(lst.merge_fields),
        "avg_sub_rate": 0,
        "avg_unsub_rate": 0,
        "target_sub_rate": 0,
        "open_rate": 0,
        "click_rate": 0,
        "last_sub_date": iso(last_sub),
        "last_unsub_date": iso(last_unsub),
    }


def list_json(state, lst):
    return {
        "id": lst.id,
        "web_id": lst.web_id,
        "name": lst.name,
        "contact": dict(lst.contact),
        "permission_reminder": lst.permission_reminder,
        "use_archive_bar": lst.use_archive_bar,
        "campaign_defaults": dict(lst.campaign_defaults),
        "notify_on_subscribe": lst.notify_on_subscribe,
        "notify_on_unsubscribe": lst.notify_on_unsubscribe,
        "date_created": iso(lst.date_created_us),
        "list_rating": 0,
        "email_type_option": lst.email_type_option,
        "subscribe_url_short": f"http://eepurl.com/sandbox{lst.web_id}",
        "subscribe_url_long": f"https://sandbox.us1.list-manage.com/subscribe?u=sandbox&id={lst.id}",
        "beamer_address": f"us1-sandbox-{lst.id}@inbound.mailchimp.com",
        "visibility": lst.visibility,
        "double_optin": lst.double_optin,
        "has_welcome": lst.has_welcome,
        "marketing_permissions": lst.marketing_permissions,
        "modules": [],
        "stats": list_stats(state, lst),
    }


def merge_field_json(field):
    out = dict(field)
    out["options"] = dict(field.get("options") or {})
    return out


def segment_json(lst, seg):
    out = {
        "id": seg["id"],
        "name": seg["name"],
        "member_count": len(seg["members"]),
        "type": seg["type"],
        "created_at": iso(seg["created_at"]),
        "updated_at": iso(seg["updated_at"]),
        "list_id": lst.id,
    }
    if seg["type"] == "saved" and seg.get("options"):
        out["options"] = seg["options"]
    return out


def category_json(lst, cat):
    return {
        "list_id": lst.id,
        "id": cat["id"],
        "title": cat["title"],
        "display_order": cat["display_order"],
        "type": cat["type"],
    }


def interest_json(lst, cat, interest):
    count = sum(1 for m in lst.members.values() if m["interests"].get(interest["id"]))
    return {
        "category_id": cat["id"],
        "list_id": lst.id,
        "id": interest["id"],
        "name": interest["name"],
        "subscriber_count": str(count),
        "display_order": interest["display_order"],
    }


def webhook_json(lst, hook):
    return {
        "id": hook["id"],
        "url": hook["url"],
        "events": dict(hook["events"]),
        "sources": dict(hook["sources"]),
        "list_id": lst.id,
    }
