"""Email-activity rows without a database (utils/activity_events.py): F27.

What the threads that fetch report pages compute: event times, keys, chatter
bodies, the COPY text PostgreSQL reads (the ordered prefetching is tested in
test_read_ahead.py).
"""

import datetime as dt
import hashlib

import pytest
from markupsafe import Markup

from mailchimp_utils.activity_events import (
    ChatterBodies,
    Summary,
    chatter_body,
    copy_value,
    email_activity_events,
    escape,
    event_key,
    make_event,
    no_bodies,
    short_date,
    short_url,
    staged_event,
    staging_rows,
    summary_body,
    utc_stamp,
)
from mailchimp_utils.sync_rules import to_odoo_datetime


@pytest.mark.parametrize(
    "value",
    [
        "2030-03-01T10:00:05+00:00",
        "2030-03-01T10:00:05Z",
        "2030-03-01T12:00:05+02:00",
        "2030-03-01T10:00:05.250000+00:00",
        "2030-03-01T10:00:05",
        dt.datetime(2030, 3, 1, 10, 0, 5),
    ],
)
def test_utc_stamp_is_the_isoformat_of_the_naive_utc_time(value):
    assert utc_stamp(value) == to_odoo_datetime(value).isoformat()
    assert dt.datetime.fromisoformat(utc_stamp(value)) == to_odoo_datetime(value)


def test_utc_stamp_of_nothing_is_empty():
    assert utc_stamp(None) == "" and utc_stamp("") == ""


def test_event_key_formula_is_the_one_rows_were_stored_with():
    """Keys of rows stored by earlier versions must not change, or a rerun would
    store and post those events again."""
    stamp = dt.datetime(2030, 3, 1, 10, 0, 5).isoformat()
    raw = f"7|abc|click|{stamp}|https://x.test/a|"
    assert (
        event_key(7, "abc", "click", stamp, "https://x.test/a", None)
        == hashlib.md5(raw.encode()).hexdigest()
    )
    assert event_key(7, "abc", "open", stamp, None, None) != event_key(
        7, "abc", "open", stamp, None, "soft"
    )


def test_email_activity_page_gives_events_and_latest_time():
    items = [
        {
            "email_id": "h1",
            "activity": [
                {"action": "open", "timestamp": "2030-03-01T10:00:00+00:00"},
                {
                    "action": "click",
                    "timestamp": "2030-03-01T10:00:30+00:00",
                    "url": "https://x.test",
                },
            ],
        },
        {
            "email_id": "h2",
            "activity": [
                {
                    "action": "bounce",
                    "type": "hard",
                    "timestamp": "2030-03-01T09:01:00+00:00",
                },
            ],
        },
        {"email_id": "h3", "activity": []},
    ]
    events, latest = email_activity_events(5, items)
    assert [(e.hash, e.action, e.url, e.bounce_type) for e in events] == [
        ("h1", "open", None, None),
        ("h1", "click", "https://x.test", None),
        ("h2", "bounce", None, "hard"),
    ]
    assert latest == "2030-03-01T10:00:30"
    assert events[1].key == event_key(
        5, "h1", "click", "2030-03-01T10:00:30", "https://x.test", None
    )
    assert email_activity_events(5, []) == ([], "")


@pytest.mark.parametrize(
    "action, bounce_type, url",
    [
        ("open", None, None),
        ("sent", None, None),
        ("click", None, "https://shop.test/a?b=1&c='x'"),
        ("bounce", "soft", None),
        ("unsubscribe", None, None),
        ("abuse", None, None),
    ],
)
def test_chatter_body_is_what_markup_wrote(action, bounce_type, url):
    """Same HTML as the Markup templates that wrote the lines before, escaped."""
    subject = 'Spring <offer> & "more"'
    labels = {
        "sent": "Sent",
        "open": "Opened",
        "click": "Clicked",
        "bounce": "Bounced",
        "unsubscribe": "Unsubscribed",
        "abuse": "Marked as Spam",
    }
    if action == "click":
        expected = Markup(
            "Mailchimp: %s <b>%s</b> — <a href='%s' target='_blank'>%s</a>"
        ) % (labels[action], subject, url, url)
    elif action == "bounce":
        expected = Markup("Mailchimp: %s (%s) <b>%s</b>") % (
            labels[action],
            bounce_type,
            subject,
        )
    else:
        expected = Markup("Mailchimp: %s <b>%s</b>") % (labels[action], subject)
    assert chatter_body(subject, action, bounce_type, url) == str(expected)
    assert ChatterBodies(subject)(action, bounce_type, url) == str(expected)


def test_escape_matches_markupsafe():
    text = "<a href=\"x\">'&'</a>"
    assert escape(text) == str(Markup.escape(text))


def test_copy_value_escapes_what_copy_would_misread():
    assert copy_value(None) == "\\N"
    assert copy_value(12) == "12"
    assert copy_value("a\tb\nc\\d\re") == "a\\tb\\nc\\\\d\\re"


def test_staging_rows_one_per_key_and_never_without_time_or_action():
    bodies = ChatterBodies("S")
    click = make_event(1, "h1", "click", "2030-03-01T10:00:00", "https://x.test/\t")
    rows = staging_rows(
        [
            click,
            click,  # the same event twice on a page
            make_event(1, "h2", "bounce", "2030-03-01T10:00:00", bounce_type="weird"),
            make_event(1, "h3", "open", ""),  # no time: no stable key
            make_event(
                1, "h4", None, "2030-03-01T10:00:00"
            ),  # no action: nothing to store
        ],
        bodies,
    )
    assert [(h, stamp) for h, stamp, _tail in rows] == [
        ("h1", "2030-03-01T10:00:00"),
        ("h2", "2030-03-01T10:00:00"),
    ]
    fields = rows[0][2].split("\t")
    assert fields == [
        "click",
        "\\N",
        "https://x.test/\\t",
        "2030-03-01T10:00:00",
        click.key,
        "Mailchimp: Clicked <b>S</b> — <a href='https://x.test/\\t' target='_blank'>"
        "https://x.test/\\t</a>",
    ]
    # an unknown bounce type is not stored
    assert rows[1][2].split("\t")[:2] == ["bounce", "\\N"]


def test_staged_event_reads_back_what_staging_rows_wrote():
    """What the hook after a stored batch reads of a row is the event itself,
    a URL with COPY's special characters included."""
    url = "https://shop.example/pricing?a=1\tb\\c"
    events = [
        make_event(7, "h1", "click", "2025-01-31T10:00:00", url),
        make_event(7, "h1", "open", "2025-01-31T10:01:00"),
    ]
    rows = staging_rows(events, ChatterBodies("Winter sale"))
    read = [staged_event(tail) for _hash, _stamp, tail in rows]
    assert [(e.action, e.url, e.stamp, e.key) for e in read] == [
        ("click", url, "2025-01-31T10:00:00", events[0].key),
        ("open", None, "2025-01-31T10:01:00", events[1].key),
    ]
    assert read[0].bounce_type is None


def _summary(**values):
    fields = dict.fromkeys(Summary._fields)
    fields.update(open_count=0, click_count=0)
    fields.update(values)
    return Summary(**fields)


def test_summary_line_says_what_the_contact_did_with_the_campaign():
    """One chatter line per contact and campaign: the campaign's title, then
    each kind of event once, counts for repeated ones, the last link clicked
    shown short (its full address in the link)."""
    url = "https://shop.example.com/chairs/?utm_source=mc&x='1'"
    body = summary_body(
        "Winter <sale>",
        _summary(
            sent_date=dt.datetime(2030, 11, 29, 8, 0),
            open_count=2,
            last_open_date=dt.datetime(2030, 11, 30, 9, 0),
            click_count=1,
            last_click_url=url,
        ),
    )
    assert body == (
        "Mailchimp: <b>Winter &lt;sale&gt;</b> — sent 29 Nov · opened 2× · clicked "
        "<a href='https://shop.example.com/chairs/?utm_source=mc&amp;x=&#39;1&#39;' "
        "target='_blank'>shop.example.com/chairs</a>"
    )


def test_summary_line_shows_bounces_unsubscribes_and_spam_with_their_dates():
    body = summary_body(
        "Spring",
        _summary(
            sent_date="2030-03-01T10:00:00",
            open_count=1,
            last_open_date="2030-03-02T10:00:00",
            click_count=3,
            last_click_url="http://x.test/a",
            bounce_type="hard",
            bounce_date="2030-03-03T10:00:00",
            unsubscribe_date="2030-03-04T10:00:00",
            abuse_date="2030-03-05T10:00:00",
        ),
    )
    assert body == (
        "Mailchimp: <b>Spring</b> — sent 1 Mar · opened 2 Mar · clicked 3× "
        "<a href='http://x.test/a' target='_blank'>x.test/a</a> · bounced (hard) "
        "3 Mar · unsubscribed 4 Mar · marked as spam 5 Mar"
    )
    assert summary_body("Spring", _summary()) == "Mailchimp: <b>Spring</b>"
    assert "bounced 3 Mar" in summary_body(
        "S", _summary(bounce_date="2030-03-03T10:00:00")
    )


def test_short_url_and_date():
    assert short_url("https://a.test/" + "p" * 80).endswith("…")
    assert len(short_url("https://a.test/" + "p" * 80)) == 60
    assert short_url("https://a.test/") == "a.test"
    assert short_url("mailto:x@y.test") == "mailto:x@y.test"
    assert short_date(dt.datetime(2030, 1, 5)) == "5 Jan"
    assert short_date(None) == ""


def test_no_bodies_when_the_chatter_has_a_line_per_campaign():
    rows = staging_rows([make_event(1, "h1", "open", "2030-03-01T10:00:00")], no_bodies)
    assert rows[0][2].split("\t")[-1] == ""
    assert staged_event(rows[0][2]).action == "open"
