"""API root and health check."""

from ..clock import iso
from ..router import route


@route("GET", "/ping")
def ping(ctx):
    return 200, {"health_status": "Everything's Chimpy!"}


@route("GET", "/")
def account_info(ctx):
    acct = ctx.account
    lists = [
        audience
        for audience in ctx.state.lists.values()
        if audience.api_key == acct.api_key
    ]
    total = sum(
        1
        for audience in lists
        for m in audience.members.values()
        if m["status"] == "subscribed"
    )
    return 200, {
        "account_id": acct.account_id,
        "login_id": acct.login_id,
        "account_name": acct.account_name,
        "email": acct.email,
        "first_name": acct.first_name,
        "last_name": acct.last_name,
        "username": acct.username,
        "avatar_url": "",
        "role": "owner",
        "member_since": iso(acct.created_us),
        "pricing_plan_type": "monthly",
        "first_payment": iso(acct.created_us),
        "account_timezone": "UTC",
        "account_industry": "Software",
        "contact": {
            "company": acct.account_name,
            "addr1": "1 Sandbox Way",
            "addr2": "",
            "city": "Atlanta",
            "state": "GA",
            "zip": "30308",
            "country": "US",
        },
        "pro_enabled": False,
        "last_login": iso(acct.created_us),
        "total_subscribers": total,
        "industry_stats": {"open_rate": 0.2, "bounce_rate": 0.01, "click_rate": 0.03},
    }
