"""F11 type rules and value conversion (utils/merge_values.py), without Odoo."""

import datetime as dt

import pytest

from mailchimp_utils.merge_values import (
    MAILCHIMP_TEXT_LIMIT,
    PUSH_ONLY,
    PUSH_PULL,
    PUSH_PULL_BY_NAME,
    Direction,
    MappingError,
    MergeValueError,
    ValueTooLong,
    address_from_mailchimp,
    address_parts,
    allowed_directions,
    check_mapping,
    default_mappings,
    fields_fitting,
    from_mailchimp,
    join_name,
    normalize_email,
    normalize_mailchimp,
    pull_refusal,
    split_name,
    split_name_like,
    state_label,
    to_mailchimp,
    value_to_send,
    values_fingerprint,
    why_not_pulled,
)

TIERS = [("gold", "Gold"), ("silver", "Silver")]


# -------------------------------------------------------------- check_mapping: accepted
@pytest.mark.parametrize(
    "odoo_type, merge_type, expected",
    [
        ("char", "text", PUSH_PULL),
        ("char", "phone", PUSH_PULL),
        ("char", "url", PUSH_PULL),
        ("char", "imageurl", PUSH_PULL),
        ("char", "zip", PUSH_PULL),
        ("text", "text", PUSH_PULL),
        ("integer", "number", PUSH_PULL),
        ("float", "number", PUSH_PULL),
        ("monetary", "number", PUSH_PULL),
        ("integer", "text", PUSH_PULL),
        ("float", "text", PUSH_PULL),
        ("monetary", "text", PUSH_PULL),
        ("date", "date", PUSH_PULL),
        ("date", "text", PUSH_PULL),
        ("date", "birthday", PUSH_ONLY),
        ("datetime", "date", PUSH_ONLY),
        ("datetime", "birthday", PUSH_ONLY),
        ("datetime", "text", PUSH_ONLY),
        ("boolean", "text", PUSH_ONLY),
        ("selection", "text", PUSH_PULL),
        ("many2one", "text", PUSH_PULL_BY_NAME),
        ("many2many", "text", PUSH_ONLY),
    ],
)
def test_accepted_field_pairs_and_their_directions(odoo_type, merge_type, expected):
    assert check_mapping("field", odoo_type, merge_type) == expected
    assert allowed_directions(odoo_type, merge_type) == expected


@pytest.mark.parametrize("merge_type", ["dropdown", "radio"])
def test_selection_to_choice_field_accepted_when_every_label_is_a_choice(merge_type):
    directions = check_mapping(
        "field",
        "selection",
        merge_type,
        selection=TIERS,
        choices=["Silver", "Gold", "Bronze"],
    )
    assert directions == PUSH_PULL


@pytest.mark.parametrize(
    "source_kind, odoo_type, merge_type",
    [
        ("first_name", "char", "text"),
        ("last_name", "char", "text"),
        ("address", None, "address"),
    ],
)
def test_special_sources_accepted(source_kind, odoo_type, merge_type):
    assert check_mapping(source_kind, odoo_type, merge_type) == PUSH_PULL


def test_directions_say_what_may_be_pushed_and_pulled():
    assert PUSH_PULL.can_push and PUSH_PULL.can_pull
    assert PUSH_ONLY.can_push and not PUSH_ONLY.can_pull
    many2one = check_mapping("field", "many2one", "text")
    assert (
        many2one.can_pull
        and Direction.PULL_BY_NAME in many2one
        and Direction.PULL not in many2one
    )
    assert not Direction.NONE.can_push and not Direction.NONE.can_pull


# --------------------------------------------------------------- check_mapping: refused
@pytest.mark.parametrize(
    "source_kind, odoo_type, merge_type, fragments",
    [
        ("field", "boolean", "number", ["Boolean", "Number", "Text", '"Yes" or "No"']),
        (
            "field",
            "char",
            "number",
            [
                "Char field cannot fill a Mailchimp Number field",
                "Text, Phone, Website, Image URL or Zip Code field",
            ],
        ),
        (
            "field",
            "text",
            "phone",
            ["Odoo Text field cannot fill a Mailchimp Phone field"],
        ),
        (
            "field",
            "integer",
            "date",
            ["Integer", "Date", "it can fill a Number or Text field."],
        ),
        ("field", "date", "number", ["Date", "Number", "Date, Text or Birthday"]),
        (
            "field",
            "many2many",
            "dropdown",
            ["Many2many", "Dropdown", "joined with commas"],
        ),
        ("field", "many2one", "number", ["Many2one", "display name"]),
        (
            "field",
            "selection",
            "number",
            ["Selection", "Number", "Dropdown, Radio Buttons or Text"],
        ),
        ("field", "char", "birthday", ["Char", "Birthday"]),
        ("field", "boolean", "radio", ["Boolean", "Radio Buttons"]),
        ("field", "html", "text", ["Html", "raw tags"]),
        ("field", "one2many", "text", ["One2many", "field of the contact itself"]),
        ("field", "binary", "text", ["binary fields cannot be mapped"]),
        (
            "field",
            "char",
            "address",
            ["Address field can only be filled from the contact's whole address"],
        ),
        (
            "address",
            None,
            "text",
            ["can only fill a Mailchimp Address field, not a Text field"],
        ),
        ("first_name", "char", "date", ["first name", "Text field, not a Date field"]),
        ("last_name", "char", "number", ["last name", "Number"]),
        ("field", "char", "email", ["'email' is not a Mailchimp merge field type"]),
    ],
)
def test_refused_pairs_explain_why_and_what_would_work(
    source_kind, odoo_type, merge_type, fragments
):
    with pytest.raises(MappingError) as info:
        check_mapping(source_kind, odoo_type, merge_type)
    for fragment in fragments:
        assert fragment in info.value.reason
    assert info.value.reason.endswith(".")


@pytest.mark.parametrize(
    "merge_type, label", [("dropdown", "Dropdown"), ("radio", "Radio Buttons")]
)
def test_selection_refused_naming_labels_missing_from_choices(merge_type, label):
    selection = TIERS + [("bronze", "Bronze")]
    with pytest.raises(MappingError) as info:
        check_mapping(
            "field", "selection", merge_type, selection=selection, choices=["Gold"]
        )
    reason = info.value.reason
    assert "'Silver', 'Bronze'" in reason and "'Gold'" not in reason
    assert label in reason and "Text field" in reason


def test_selection_choices_are_compared_exactly():
    with pytest.raises(MappingError, match="'Gold'"):
        check_mapping(
            "field",
            "selection",
            "dropdown",
            selection=TIERS,
            choices=["gold", "Silver"],
        )


def test_selection_without_choices_refuses_every_label():
    with pytest.raises(MappingError, match="'Gold', 'Silver'"):
        check_mapping(
            "field", "selection", "radio", selection=dict(TIERS), choices=None
        )


def test_selection_to_dropdown_needs_the_selection_to_check():
    with pytest.raises(TypeError):
        check_mapping("field", "selection", "dropdown", choices=["Gold"])


def test_selection_to_text_needs_no_choices():
    assert check_mapping("field", "selection", "text", selection=TIERS) == PUSH_PULL


def test_unknown_source_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="source_kind"):
        check_mapping("formula", "char", "text")


def test_refused_pairs_have_no_directions():
    assert allowed_directions("boolean", "number") == Direction.NONE
    assert allowed_directions("address", "text") == Direction.NONE
    assert allowed_directions("address", "address") == PUSH_PULL


# --------------------------------------------------------------------- default_mappings
SANDBOX_FIELDS = [
    {"tag": "FNAME", "type": "text", "required": False, "options": {"size": 25}},
    {"tag": "LNAME", "type": "text", "required": False, "options": {"size": 25}},
    {
        "tag": "ADDRESS",
        "type": "address",
        "required": False,
        "options": {"default_country": 164},
    },
    {
        "tag": "PHONE",
        "type": "phone",
        "required": False,
        "options": {"phone_format": "none"},
    },
    {
        "tag": "BIRTHDAY",
        "type": "birthday",
        "required": False,
        "options": {"date_format": "MM/DD"},
    },
    {"tag": "COMPANY", "type": "text", "required": False, "options": {"size": 25}},
]
PARTNER_FIELDS = {
    "name": {"type": "char", "string": "Name"},
    "email": {"type": "char", "string": "Email"},
    "street": {"type": "char", "string": "Street"},
    "street2": {"type": "char", "string": "Street2"},
    "city": {"type": "char", "string": "City"},
    "zip": {"type": "char", "string": "Zip"},
    "state_id": {"type": "many2one", "string": "State"},
    "country_id": {"type": "many2one", "string": "Country"},
    "phone": {"type": "char", "string": "Phone"},
    "mobile": {"type": "char", "string": "Mobile"},
    "website": {"type": "char", "string": "Website Link"},
    "company_name": {"type": "char", "string": "Company Name"},
    "commercial_company_name": {"type": "char", "string": "Company Name Entity"},
    "category_id": {"type": "many2many", "string": "Tags"},
    "create_date": {"type": "datetime", "string": "Created on"},
}


def _by_tag(proposals):
    return {p["merge_tag"]: (p["source_kind"], p["odoo_field"]) for p in proposals}


def test_default_mappings_for_a_new_audience():
    merge_fields = [
        {"tag": "EMAIL", "type": "email", "required": True}
    ] + SANDBOX_FIELDS
    partner_fields = dict(
        PARTNER_FIELDS, x_birthday={"type": "date", "string": "Birthday"}
    )
    proposals = default_mappings(merge_fields, partner_fields)
    assert proposals == [
        {"merge_tag": "FNAME", "source_kind": "first_name", "odoo_field": "name"},
        {"merge_tag": "LNAME", "source_kind": "last_name", "odoo_field": "name"},
        {"merge_tag": "ADDRESS", "source_kind": "address", "odoo_field": None},
        {"merge_tag": "PHONE", "source_kind": "field", "odoo_field": "phone"},
        {"merge_tag": "BIRTHDAY", "source_kind": "field", "odoo_field": "x_birthday"},
        # the company Odoo shows is computed: the
        # "company" source pulls into company_name
        {"merge_tag": "COMPANY", "source_kind": "company", "odoo_field": None},
    ]


def test_default_mappings_fall_back_to_mobile_and_company_name():
    partner_fields = {
        k: v
        for k, v in PARTNER_FIELDS.items()
        if k not in ("phone", "commercial_company_name")
    }
    mapping = _by_tag(default_mappings(SANDBOX_FIELDS, partner_fields))
    assert mapping["PHONE"] == ("field", "mobile")
    assert mapping["COMPANY"] == ("field", "company_name")


def test_default_mappings_skip_birthday_without_a_birthday_field():
    mapping = _by_tag(default_mappings(SANDBOX_FIELDS, PARTNER_FIELDS))
    assert "BIRTHDAY" not in mapping  # create_date is a datetime but not a birthday
    assert "EMAIL" not in mapping


def test_default_mappings_prefer_a_date_named_birthday():
    partner_fields = dict(
        PARTNER_FIELDS,
        x_date_of_birth={"type": "datetime", "string": "Born"},
        x_studio_dob={"type": "date", "string": "Date of birth"},
        birthdate={"type": "date", "string": "Birthdate"},
        x_birthday_note={"type": "char", "string": "Birthday wishes"},
    )
    assert _by_tag(default_mappings(SANDBOX_FIELDS, partner_fields))["BIRTHDAY"] == (
        "field",
        "birthdate",
    )


def test_default_mappings_only_propose_accepted_pairs():
    merge_fields = [
        {
            "tag": "ADDRESS",
            "type": "text",
        },  # an address kept as text cannot take the composite
        {"tag": "COMPANY", "type": "number"},
        {"tag": "PHONE", "type": "phone"},
        {"tag": "WEBSITE", "type": "url"},
        {"tag": "MMERGE9", "type": "text"},  # unknown purpose: no guess
    ]
    proposals = default_mappings(merge_fields, PARTNER_FIELDS)
    assert _by_tag(proposals) == {
        "PHONE": ("field", "phone"),
        "WEBSITE": ("field", "website"),
    }
    for proposal in proposals:
        tag_type = {f["tag"]: f["type"] for f in merge_fields}[proposal["merge_tag"]]
        odoo_type = PARTNER_FIELDS[proposal["odoo_field"]]["type"]
        assert check_mapping(proposal["source_kind"], odoo_type, tag_type).can_push


def test_default_mappings_use_each_source_once():
    merge_fields = [
        {"tag": "PHONE", "type": "phone"},
        {"tag": "MOBILE", "type": "phone"},
    ]
    assert _by_tag(default_mappings(merge_fields, PARTNER_FIELDS)) == {
        "PHONE": ("field", "phone"),
        "MOBILE": ("field", "mobile"),
    }


def test_default_mappings_without_address_fields_propose_no_address():
    partner_fields = {"name": {"type": "char"}}
    assert _by_tag(default_mappings(SANDBOX_FIELDS, partner_fields)) == {
        "FNAME": ("first_name", "name"),
        "LNAME": ("last_name", "name"),
    }


# ------------------------------------------------------------------------- to_mailchimp
@pytest.mark.parametrize("empty", [None, False, ""])
@pytest.mark.parametrize(
    "odoo_type, merge_type",
    [
        ("char", "text"),
        ("integer", "number"),
        ("date", "date"),
        ("many2one", "text"),
        ("char", "zip"),
    ],
)
def test_empty_odoo_values_are_sent_empty(empty, odoo_type, merge_type):
    assert to_mailchimp(empty, odoo_type, merge_type) == ""


def test_empty_many2many_is_sent_empty():
    assert to_mailchimp([], "many2many", "text") == ""


@pytest.mark.parametrize(
    "value, odoo_type, expected",
    [
        (0, "integer", 0),
        (42, "integer", 42),
        (3.0, "float", 3),
        (2.5, "float", 2.5),
        (19.99, "monetary", 19.99),
    ],
)
def test_numbers_stay_numbers(value, odoo_type, expected):
    result = to_mailchimp(value, odoo_type, "number")
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_numbers_mailchimp_cannot_store_are_refused(value):
    with pytest.raises(MergeValueError, match="number"):
        to_mailchimp(value, "float", "number")


@pytest.mark.parametrize(
    "value, odoo_type, expected",
    [(7, "integer", "7"), (2.0, "float", "2"), (2.5, "monetary", "2.5")],
)
def test_numbers_as_text(value, odoo_type, expected):
    assert to_mailchimp(value, odoo_type, "text") == expected


@pytest.mark.parametrize(
    "merge_type, date_format, expected",
    [
        ("date", "MM/DD/YYYY", "03/07/2024"),
        ("date", "DD/MM/YYYY", "07/03/2024"),
        ("date", None, "03/07/2024"),
        ("birthday", "MM/DD", "03/07"),
        ("birthday", "DD/MM", "07/03"),
        ("birthday", None, "03/07"),
    ],
)
def test_dates_follow_the_merge_field_format(merge_type, date_format, expected):
    options = {"date_format": date_format} if date_format else {}
    assert to_mailchimp(dt.date(2024, 3, 7), "date", merge_type, options) == expected


def test_date_accepts_odoo_strings_and_lowercase_formats():
    assert (
        to_mailchimp("2024-12-31", "date", "date", {"date_format": "dd/mm/yyyy"})
        == "31/12/2024"
    )


def test_birthday_on_29_february():
    assert (
        to_mailchimp(dt.date(2000, 2, 29), "date", "birthday", {"date_format": "DD/MM"})
        == "29/02"
    )


def test_datetime_sends_its_date_or_full_text():
    moment = dt.datetime(2024, 3, 7, 23, 15, 0)
    assert (
        to_mailchimp(moment, "datetime", "date", {"date_format": "DD/MM/YYYY"})
        == "07/03/2024"
    )
    assert to_mailchimp(moment, "datetime", "birthday") == "03/07"
    assert to_mailchimp(moment, "datetime", "text") == "2024-03-07 23:15:00"
    assert (
        to_mailchimp("2024-03-07 23:15:00", "datetime", "text") == "2024-03-07 23:15:00"
    )


def test_date_as_text_is_iso():
    assert to_mailchimp(dt.date(2024, 3, 7), "date", "text") == "2024-03-07"


def test_bad_date_is_a_value_error():
    with pytest.raises(MergeValueError, match="not a date"):
        to_mailchimp("31/12/2024", "date", "date")


def test_boolean_is_yes_or_no():
    assert to_mailchimp(True, "boolean", "text") == "Yes"
    assert to_mailchimp(False, "boolean", "text") == "No"


def test_selection_sends_the_label():
    options = {"choices": ["Gold", "Silver"]}
    assert (
        to_mailchimp("silver", "selection", "dropdown", options, selection=TIERS)
        == "Silver"
    )
    assert (
        to_mailchimp("gold", "selection", "radio", options, selection=dict(TIERS))
        == "Gold"
    )
    assert to_mailchimp("gold", "selection", "text", selection=TIERS) == "Gold"


def test_selection_label_missing_from_choices_is_refused():
    with pytest.raises(
        MergeValueError, match="'Silver' is not one of the Mailchimp field's choices"
    ):
        to_mailchimp(
            "silver", "selection", "dropdown", {"choices": ["Gold"]}, selection=TIERS
        )


def test_selection_unknown_key_is_refused():
    with pytest.raises(MergeValueError, match="'platinum' is not an option"):
        to_mailchimp("platinum", "selection", "text", selection=TIERS)


def test_many2one_sends_the_display_name():
    assert to_mailchimp("Azure Interior", "many2one", "text") == "Azure Interior"
    assert to_mailchimp((7, "Azure Interior"), "many2one", "text") == "Azure Interior"


def test_many2many_joins_names_with_commas():
    assert to_mailchimp(["VIP", "Prospect"], "many2many", "text") == "VIP, Prospect"
    assert (
        to_mailchimp([(1, "VIP"), (2, " "), (3, "B2B")], "many2many", "text")
        == "VIP, B2B"
    )


def test_text_up_to_255_characters_passes():
    text = "x" * MAILCHIMP_TEXT_LIMIT
    assert to_mailchimp(text, "text", "text") == text


def test_text_over_255_characters_is_refused_not_truncated():
    with pytest.raises(ValueTooLong) as info:
        to_mailchimp("x" * 256, "char", "text")
    assert isinstance(info.value, MergeValueError)
    assert "256 characters" in info.value.reason and "255" in info.value.reason


def test_many2many_joined_over_255_is_refused():
    with pytest.raises(ValueTooLong):
        to_mailchimp(["tag%03d" % n for n in range(40)], "many2many", "text")


def test_phone_checked_like_mailchimp():
    assert to_mailchimp(" +32 2 555 01 02 ", "char", "phone") == "+32 2 555 01 02"
    with pytest.raises(MergeValueError, match="phone number"):
        to_mailchimp("call me", "char", "phone")
    with pytest.raises(ValueTooLong):
        to_mailchimp("1" * 51, "char", "phone")


def test_url_gets_a_scheme_like_odoo_websites():
    assert to_mailchimp("www.example.com", "char", "url") == "http://www.example.com"
    assert (
        to_mailchimp("https://cdn.example.com/a.png", "char", "imageurl")
        == "https://cdn.example.com/a.png"
    )
    with pytest.raises(MergeValueError, match="web address"):
        to_mailchimp("not a url", "char", "url")


def test_zip_is_us_only():
    assert to_mailchimp("30318", "char", "zip") == "30318"
    assert to_mailchimp("30318-1234", "char", "zip") == "30318-1234"
    with pytest.raises(MergeValueError, match="US ZIP code"):
        to_mailchimp("1000", "char", "zip")


def test_address_source_sends_the_address_dict():
    value = {
        "street": "1 Main St",
        "street2": "",
        "city": "Atlanta",
        "zip": "30318",
        "state": "GA",
        "country_code": "us",
    }
    assert to_mailchimp(value, "address", "address") == {
        "addr1": "1 Main St",
        "addr2": "",
        "city": "Atlanta",
        "state": "GA",
        "zip": "30318",
        "country": "US",
    }


@pytest.mark.parametrize(
    "odoo_type, merge_type",
    [("boolean", "number"), ("html", "text"), ("address", "text"), ("char", "address")],
)
def test_refused_pairs_cannot_be_converted(odoo_type, merge_type):
    with pytest.raises(MappingError):
        to_mailchimp("x", odoo_type, merge_type)


# ----------------------------------------------------------------------- from_mailchimp
@pytest.mark.parametrize("empty", [None, ""])
@pytest.mark.parametrize(
    "odoo_type, merge_type",
    [
        ("char", "text"),
        ("integer", "number"),
        ("date", "date"),
        ("many2one", "text"),
        ("float", "text"),
    ],
)
def test_empty_mailchimp_values_become_false(empty, odoo_type, merge_type):
    assert from_mailchimp(empty, odoo_type, merge_type) is False


def test_numbers_from_mailchimp():
    assert from_mailchimp(42, "integer", "number") == 42
    assert from_mailchimp("42", "integer", "number") == 42
    assert from_mailchimp(0, "integer", "number") == 0
    result = from_mailchimp(3, "float", "number")
    assert result == 3.0 and isinstance(result, float)
    assert from_mailchimp("19.99", "monetary", "number") == 19.99


def test_fractions_do_not_fit_integers():
    with pytest.raises(MergeValueError, match="whole number"):
        from_mailchimp(2.5, "integer", "number")


def test_numbers_typed_as_text_must_parse():
    assert from_mailchimp(" 12 ", "integer", "text") == 12
    with pytest.raises(MergeValueError, match="'twelve' is not a number"):
        from_mailchimp("twelve", "float", "text")


@pytest.mark.parametrize(
    "value, date_format, expected",
    [
        ("03/07/2024", "MM/DD/YYYY", dt.date(2024, 3, 7)),
        ("07/03/2024", "DD/MM/YYYY", dt.date(2024, 3, 7)),
        ("03/07/2024", None, dt.date(2024, 3, 7)),
        (
            "2024-03-07",
            "DD/MM/YYYY",
            dt.date(2024, 3, 7),
        ),  # the API may answer in ISO form
    ],
)
def test_dates_from_mailchimp(value, date_format, expected):
    options = {"date_format": date_format} if date_format else None
    assert from_mailchimp(value, "date", "date", options) == expected


def test_date_in_the_wrong_format_is_refused():
    with pytest.raises(MergeValueError, match="DD/MM/YYYY"):
        from_mailchimp("12/31/2024", "date", "date", {"date_format": "DD/MM/YYYY"})


def test_date_from_text_is_iso():
    assert from_mailchimp("2024-03-07", "date", "text") == dt.date(2024, 3, 7)
    with pytest.raises(MergeValueError, match="YYYY-MM-DD"):
        from_mailchimp("next tuesday", "date", "text")


def test_selection_from_label_then_key():
    assert (
        from_mailchimp("Silver", "selection", "dropdown", selection=TIERS) == "silver"
    )
    assert from_mailchimp("gold", "selection", "text", selection=TIERS) == "gold"
    with pytest.raises(MergeValueError, match="'Platinum' matches no option"):
        from_mailchimp("Platinum", "selection", "radio", selection=TIERS)


def test_many2one_pulls_a_name_to_resolve():
    assert from_mailchimp("  Azure Interior ", "many2one", "text") == "Azure Interior"


def test_text_pulled_as_is_and_checked_against_char_size():
    assert from_mailchimp(" Jane ", "char", "text") == " Jane "
    assert from_mailchimp("+1 404 555 0100", "char", "phone") == "+1 404 555 0100"
    assert from_mailchimp("abcdef", "char", "text", size=6) == "abcdef"
    with pytest.raises(ValueTooLong, match="7 characters"):
        from_mailchimp("abcdefg", "char", "text", size=6)


def test_address_pulled_as_parts():
    value = {
        "addr1": "1 Main St",
        "addr2": "",
        "city": "Atlanta",
        "state": "GA",
        "zip": "30318",
        "country": "US",
    }
    assert from_mailchimp(value, "address", "address") == {
        "street": "1 Main St",
        "street2": False,
        "city": "Atlanta",
        "zip": "30318",
        "state_name": "GA",
        "country_code": "US",
    }
    assert from_mailchimp("", "address", "address")["street"] is False


@pytest.mark.parametrize(
    "odoo_type, merge_type",
    [
        ("boolean", "text"),
        ("many2many", "text"),
        ("date", "birthday"),
        ("datetime", "date"),
        ("datetime", "text"),
    ],
)
def test_push_only_pairs_are_never_pulled(odoo_type, merge_type):
    with pytest.raises(MappingError, match="not read back"):
        from_mailchimp("x", odoo_type, merge_type)


@pytest.mark.parametrize(
    "value, odoo_type, merge_type, options",
    [
        ("Jane", "char", "text", None),
        ("Long text\nwith lines", "text", "text", None),
        ("+1 404 555 0100", "char", "phone", None),
        ("https://example.com/x", "char", "url", None),
        ("30318", "char", "zip", None),
        (12, "integer", "number", None),
        (12.5, "float", "number", None),
        (12, "integer", "text", None),
        (99.95, "monetary", "text", None),
        (dt.date(2024, 2, 29), "date", "date", {"date_format": "DD/MM/YYYY"}),
        (dt.date(1999, 12, 31), "date", "date", {"date_format": "MM/DD/YYYY"}),
        (dt.date(1999, 12, 31), "date", "text", None),
        ("silver", "selection", "dropdown", {"choices": ["Gold", "Silver"]}),
        ("gold", "selection", "text", None),
    ],
)
def test_round_trip_of_pullable_pairs(value, odoo_type, merge_type, options):
    sent = to_mailchimp(value, odoo_type, merge_type, options, selection=TIERS)
    assert (
        from_mailchimp(sent, odoo_type, merge_type, options, selection=TIERS) == value
    )


# ------------------------------------------------------------------ normalize_mailchimp
def test_normalize_brings_mailchimp_values_to_the_sent_form():
    assert (
        normalize_mailchimp("2024-03-07", "date", {"date_format": "DD/MM/YYYY"})
        == "07/03/2024"
    )
    assert (
        normalize_mailchimp("07/03/2024", "date", {"date_format": "DD/MM/YYYY"})
        == "07/03/2024"
    )
    assert normalize_mailchimp("07/03", "birthday", {"date_format": "DD/MM"}) == "07/03"
    assert normalize_mailchimp("42", "number") == 42
    assert normalize_mailchimp(3.0, "number") == 3
    assert normalize_mailchimp(None, "text") == ""
    assert normalize_mailchimp("Jane", "text") == "Jane"
    assert normalize_mailchimp("1 Main St  Atlanta  GA  30318  US", "address") == {
        "addr1": "1 Main St",
        "addr2": "",
        "city": "Atlanta",
        "state": "GA",
        "zip": "30318",
        "country": "US",
    }


def test_normalize_leaves_unreadable_values_alone():
    assert normalize_mailchimp("soon", "date") == "soon"
    assert normalize_mailchimp("n/a", "number") == "n/a"


# --------------------------------------------------------------------------- names
@pytest.mark.parametrize(
    "name, expected",
    [
        ("Jane Doe", ("Jane", "Doe")),
        ("  Jean  Claude   Van Damme ", ("Jean Claude Van", "Damme")),
        ("Cher", ("Cher", "")),
        ("   ", ("", "")),
        (None, ("", "")),
        (False, ("", "")),
    ],
)
def test_split_name(name, expected):
    assert split_name(name) == expected


@pytest.mark.parametrize(
    "first, last, expected",
    [
        ("Jane", "Doe", "Jane Doe"),
        (" Jane ", "", "Jane"),
        ("", "Doe", "Doe"),
        (None, False, ""),
        ("Jean Claude Van", "Damme", "Jean Claude Van Damme"),
    ],
)
def test_join_name(first, last, expected):
    assert join_name(first, last) == expected


def test_split_then_join_gives_the_tidied_name_back():
    assert join_name(*split_name("  Ada   King  Lovelace ")) == "Ada King Lovelace"


# --------------------------------------------------------------------------- address
COMPLETE = {
    "street": "1 Main St",
    "street2": "Apt 4",
    "city": "Atlanta",
    "zip": "30318",
    "state": "GA",
    "country_code": "US",
}


def test_address_from_dict_with_missing_keys():
    assert address_from_mailchimp(
        {"addr1": " 1 Main St ", "city": "Atlanta", "country": "fr"}
    ) == {
        "street": "1 Main St",
        "street2": False,
        "city": "Atlanta",
        "zip": False,
        "state_name": False,
        "country_code": "FR",
    }


@pytest.mark.parametrize(
    "legacy, expected",
    [
        (
            "1 Main St  Apt 4  Atlanta  GA  30318  US",
            ("1 Main St", "Apt 4", "Atlanta", "30318", "GA", "US"),
        ),
        (
            "1 Main St  Atlanta  GA  30318  US",
            ("1 Main St", False, "Atlanta", "30318", "GA", "US"),
        ),
        (
            "1 Main St  Atlanta  GA  30318",
            ("1 Main St", False, "Atlanta", "30318", "GA", False),
        ),
        ("", (False,) * 6),
    ],
)
def test_address_from_legacy_string(legacy, expected):
    keys = ("street", "street2", "city", "zip", "state_name", "country_code")
    assert address_from_mailchimp(legacy) == dict(zip(keys, expected, strict=True))


def test_address_round_trip():
    parts = address_from_mailchimp(address_parts(**COMPLETE))
    assert parts == {
        "street": "1 Main St",
        "street2": "Apt 4",
        "city": "Atlanta",
        "zip": "30318",
        "state_name": "GA",
        "country_code": "US",
    }


# -------------------------------------------------------------------------- emails (F9)
@pytest.mark.parametrize(
    "raw, expected",
    [
        ("jane@example.com", "jane@example.com"),
        ("  Jane.Doe@Example.COM \n", "jane.doe@example.com"),
        ("Jane Doe <Jane@Example.com>", "jane@example.com"),
        ("first+tag@sub.example.co.uk", "first+tag@sub.example.co.uk"),
        # fake-looking but well formed: Mailchimp decides, per record
        ("test@example.com", "test@example.com"),
        ("asdf@mailinator.test", "asdf@mailinator.test"),
    ],
)
def test_valid_emails_are_trimmed_and_lower_cased(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        None,
        False,
        42,
        "",
        "   ",
        "jane",
        "jane@",
        "@example.com",
        "jane@example",
        "jane doe@example.com",
        "jane..doe@example.com",
        ".jane@example.com",
        "jane@-example.com",
        "a@b.c",
        "jane@example.com, john@example.com",
        "jane@exa_mple.com",
    ],
)
def test_invalid_emails_give_none(raw):
    assert normalize_email(raw) is None


# -------------------------------------------------------------------------- fingerprint
def test_fingerprint_is_short_stable_and_order_free():
    a = values_fingerprint({"FNAME": "Jane", "LNAME": "Doe", "AGE": 42})
    b = values_fingerprint({"AGE": 42, "LNAME": "Doe", "FNAME": "Jane"})
    assert a == b and len(a) == 16 and int(a, 16) >= 0


def test_fingerprint_ignores_representation_only_differences():
    assert values_fingerprint({"N": 3.0, "X": None, "Y": False}) == values_fingerprint(
        {"N": 3, "X": "", "Y": ""}
    )
    assert values_fingerprint(None) == values_fingerprint({})


def test_fingerprint_changes_with_any_value():
    base = {"FNAME": "Jane", "ADDRESS": {"addr1": "1 Main St", "city": "Atlanta"}}
    changed = {"FNAME": "Jane", "ADDRESS": {"addr1": "2 Main St", "city": "Atlanta"}}
    assert values_fingerprint(base) != values_fingerprint(changed)
    assert values_fingerprint({"A": "x"}) != values_fingerprint({"B": "x"})
    assert values_fingerprint({"D": dt.date(2024, 1, 1)}) == values_fingerprint(
        {"D": "2024-01-01"}
    )


# ------------------------------------------------------------------ against the sandbox
def _sandbox_check():
    validation = pytest.importorskip("mailchimp_sandbox.validation")
    return validation.check_merge_value


@pytest.mark.parametrize(
    "value, odoo_type, field",
    [
        ("Jane", "char", {"type": "text"}),
        ("x" * 255, "text", {"type": "text"}),
        (42, "integer", {"type": "number"}),
        (2.5, "float", {"type": "number"}),
        (
            dt.date(2024, 2, 29),
            "date",
            {"type": "date", "options": {"date_format": "DD/MM/YYYY"}},
        ),
        (
            dt.date(2024, 12, 31),
            "date",
            {"type": "date", "options": {"date_format": "MM/DD/YYYY"}},
        ),
        (
            dt.date(2024, 2, 29),
            "date",
            {"type": "birthday", "options": {"date_format": "MM/DD"}},
        ),
        (
            dt.date(2024, 12, 31),
            "date",
            {"type": "birthday", "options": {"date_format": "DD/MM"}},
        ),
        ("+32 2 555 01 02", "char", {"type": "phone"}),
        ("www.example.com", "char", {"type": "url"}),
        ("30318-1234", "char", {"type": "zip"}),
        (
            "gold",
            "selection",
            {"type": "dropdown", "options": {"choices": ["Gold", "Silver"]}},
        ),
        (
            "silver",
            "selection",
            {"type": "radio", "options": {"choices": ["Gold", "Silver"]}},
        ),
        (True, "boolean", {"type": "text"}),
        (["VIP", "B2B"], "many2many", {"type": "text"}),
        (dict(COMPLETE), "address", {"type": "address"}),
    ],
)
def test_sandbox_accepts_what_we_send(value, odoo_type, field):
    check_merge_value = _sandbox_check()
    if odoo_type == "address":
        value = {k: v for k, v in value.items()}
    sent = to_mailchimp(
        value, odoo_type, field["type"], field.get("options"), selection=TIERS
    )
    stored, error = check_merge_value(field, sent)
    assert error is None
    assert normalize_mailchimp(stored, field["type"], field.get("options")) == sent


@pytest.mark.parametrize(
    "value, odoo_type, field",
    [
        ("x" * 256, "char", {"type": "text"}),
        ("1000", "char", {"type": "zip"}),
        ("no", "char", {"type": "phone"}),
    ],
)
def test_values_we_refuse_are_refused_by_the_sandbox_too(value, odoo_type, field):
    check_merge_value = _sandbox_check()
    with pytest.raises(MergeValueError):
        to_mailchimp(value, odoo_type, field["type"])
    assert check_merge_value(field, value)[1] is not None


def test_sandbox_refuses_the_partial_address_we_never_send():
    check_merge_value = _sandbox_check()
    partial = {"addr1": "1 Main St", "city": "Atlanta", "state": "", "zip": "30318"}
    assert check_merge_value({"type": "address"}, partial)[1] is not None
    ours = address_parts("1 Main St", "", "Atlanta", "30318", "", "US")
    assert value_to_send("address", ours, "") is None
    assert check_merge_value({"type": "address"}, "") == ("", None)


# ------------------------------------------------------------------------- pull targets
COMPUTED = {"computed": True, "readonly": True, "stored": True}
TARGETS_REFUSED = [
    (
        {"related": True, "computed": True, "inverse": True, "stored": False},
        "related field",
    ),
    (COMPUTED, "Odoo computes it"),
    ({"computed": True, "stored": False}, "Odoo computes it"),
    ({"readonly": True}, "read-only"),
]


@pytest.mark.parametrize("target, fragment", TARGETS_REFUSED)
def test_a_field_that_does_not_keep_what_is_written_is_push_only(target, fragment):
    assert check_mapping("field", "char", "text", target=target) == PUSH_ONLY
    assert fragment in pull_refusal(target)
    assert fragment in why_not_pulled("field", "char", "text", target)


@pytest.mark.parametrize(
    "target",
    [
        None,
        {},
        {"computed": True, "inverse": True, "stored": True},
        # an editable stored computed field (readonly=False) keeps what is written
        {"computed": True, "readonly": False, "stored": True},
    ],
)
def test_a_writable_field_is_pulled(target):
    assert check_mapping("field", "char", "text", target=target) == PUSH_PULL
    assert pull_refusal(target) is None
    assert why_not_pulled("field", "char", "text", target) == ""


def test_a_refused_target_keeps_the_type_rules():
    # the type rule still refuses what it refused; a push-only pair stays push-only
    with pytest.raises(MappingError):
        check_mapping("field", "boolean", "number", target=COMPUTED)
    assert check_mapping("field", "many2one", "text", target=COMPUTED) == PUSH_ONLY
    assert check_mapping("field", "date", "birthday", target=None) == PUSH_ONLY
    assert "no year" in why_not_pulled("field", "date", "birthday")
    assert "time of day" in why_not_pulled("field", "datetime", "text")


def test_the_company_source_fills_text_fields_only():
    assert check_mapping("company", "char", "text") == PUSH_PULL
    with pytest.raises(
        MappingError, match="company name can only fill a Mailchimp Text"
    ):
        check_mapping("company", "char", "number")


def test_default_mappings_never_pull_into_a_computed_field():
    partner_fields = {
        "name": {"type": "char"},
        "company_name": {"type": "char"},
        "commercial_company_name": {"type": "char", "target": COMPUTED},
    }
    assert _by_tag(default_mappings(SANDBOX_FIELDS, partner_fields))["COMPANY"] == (
        "company",
        None,
    )
    # a field with that name that Odoo computes:
    # proposed, push-only through check_mapping
    phone = {"phone": {"type": "char", "target": COMPUTED}}
    assert _by_tag(default_mappings(SANDBOX_FIELDS, phone))["PHONE"] == (
        "field",
        "phone",
    )
    assert check_mapping("field", "char", "phone", target=COMPUTED) == PUSH_ONLY


# ----------------------------------------------------------- names split like Mailchimp
@pytest.mark.parametrize(
    "name, hints, expected",
    [
        # Mailchimp's halves join into the name: kept as they are
        ("Françoise da Silva", [("Françoise", "da Silva")], ("Françoise", "da Silva")),
        (
            "José María de la Cruz",
            [("José María", "de la Cruz")],
            ("José María", "de la Cruz"),
        ),
        ("美咲 山田", [("美咲", "山田")], ("美咲", "山田")),
        (
            "Ludwig  van der Rohe ",
            [("Ludwig", "van der Rohe")],
            ("Ludwig", "van der Rohe"),
        ),
        # the most trusted hint first
        (
            "Ana Maria Silva",
            [("Ana Maria", "Silva"), ("Ana", "Maria Silva")],
            ("Ana Maria", "Silva"),
        ),
        (
            "Ana Maria Silva",
            [("X", "Y"), ("Ana", "Maria Silva")],
            ("Ana", "Maria Silva"),
        ),
        # a changed last name keeps Mailchimp's first name, and the other way round
        ("Françoise da Costa", [("Françoise", "da Silva")], ("Françoise", "da Costa")),
        ("Fran da Silva", [("Françoise", "da Silva")], ("Fran", "da Silva")),
        # a middle name added goes with the first name, as split_name does
        ("Jean Paul Martin", [("Jean", "Martin")], ("Jean Paul", "Martin")),
        # no usable hint: split_name
        ("Jean Claude Van Damme", [], ("Jean Claude Van", "Damme")),
        (
            "Jean Claude Van Damme",
            [(None, None), ("", "")],
            ("Jean Claude Van", "Damme"),
        ),
        ("Cher", [("Sonny", "Bono")], ("Cher", "")),
        ("", [("Jane", "Doe")], ("", "")),
        # one half not mapped (None)
        ("Françoise da Silva", [("Françoise", None)], ("Françoise", "da Silva")),
        ("Françoise da Silva", [(None, "da Silva")], ("Françoise", "da Silva")),
    ],
)
def test_split_name_like_mailchimp(name, hints, expected):
    assert split_name_like(name, hints) == expected


def test_split_name_like_gives_back_the_name():
    for name, hints in [
        ("Françoise da Costa", [("Françoise", "da Silva")]),
        ("Jean Paul Martin", [("Jean", "Martin")]),
        ("A B C D", [("Q", "R")]),
    ]:
        assert join_name(*split_name_like(name, hints)) == name


# ----------------------------------------------------------------- states and addresses
@pytest.mark.parametrize(
    "code, name, uses_code, hints, expected",
    [
        ("IL", "Illinois", True, [], "IL"),
        ("DE-BE", "Berlin", False, [], "Berlin"),  # nobody writes DE-BE on an address
        ("DE-BE", "Berlin", False, ["berlin"], "berlin"),  # what Mailchimp holds wins
        ("IL", "Illinois", True, ["Illinois"], "Illinois"),
        ("IL", "Illinois", True, ["il"], "il"),
        ("IL", "Illinois", True, ["Ohio", None, ""], "IL"),  # another state: Odoo's
        ("", "Somewhere", True, [], "Somewhere"),
        ("XY", "", False, [], "XY"),
        (False, False, True, ["x"], ""),
    ],
)
def test_state_label(code, name, uses_code, hints, expected):
    assert state_label(code, name, uses_code, hints) == expected


def test_odoo_address_is_compared_part_by_part_complete_or_not():
    partial = {
        "street": "1 Main St",
        "street2": "",
        "city": "Wien",
        "zip": "1010",
        "state": "",
        "country_code": "at",
    }
    assert to_mailchimp(partial, "address", "address") == {
        "addr1": "1 Main St",
        "addr2": "",
        "city": "Wien",
        "state": "",
        "zip": "1010",
        "country": "AT",
    }
    assert to_mailchimp(dict.fromkeys(partial, ""), "address", "address") == ""
    assert address_parts(None, False, " ", "", "", "") == ""


def test_mailchimp_address_normalised_part_by_part_complete_or_not():
    partial = {"addr1": "1 Main St ", "city": "Wien", "zip": "1010", "country": "at"}
    assert normalize_mailchimp(partial, "address") == {
        "addr1": "1 Main St",
        "addr2": "",
        "city": "Wien",
        "state": "",
        "zip": "1010",
        "country": "AT",
    }
    assert normalize_mailchimp({"addr1": "", "city": ""}, "address") == ""


FULL = {
    "addr1": "1 rue de Rivoli",
    "addr2": "",
    "city": "Paris",
    "state": "Île-de-France",
    "zip": "75001",
    "country": "FR",
}


def test_value_to_send():
    assert value_to_send("text", "Jane", "Jane") is None  # Mailchimp has it
    assert value_to_send("number", 3.0, 3) is None
    assert value_to_send("text", "Jane", "") == "Jane"
    assert value_to_send("text", "", "Jane") == ""  # Odoo's value changed to empty
    assert value_to_send("address", dict(FULL, country="fr"), "") == FULL
    assert value_to_send("address", FULL, FULL) is None
    assert value_to_send("address", "", FULL) == ""  # Odoo's address emptied
    assert value_to_send("address", "", "") is None


@pytest.mark.parametrize("missing", ["addr1", "city", "state", "zip"])
def test_incomplete_address_is_never_sent(missing):
    partial = dict(FULL, **{missing: ""})
    # Mailchimp has none: nothing to send, nothing lost
    assert value_to_send("address", partial, "") is None
    assert value_to_send("address", partial, None) is None
    # Mailchimp has one: reported, never replaced by an empty or partial one
    with pytest.raises(MergeValueError, match="complete address"):
        value_to_send("address", partial, FULL)


# ----------------------------------------- fields_fitting: what the drop-down offers
DROPDOWN_CANDIDATES = {
    "name": {"type": "char"},
    "comment": {"type": "html"},
    "credit_limit": {"type": "float"},
    "date": {"type": "date"},
    "write_date": {"type": "datetime"},
    "is_company": {"type": "boolean"},
    "tier": {"type": "selection", "selection": TIERS},
    "country_id": {"type": "many2one"},
    "category_id": {"type": "many2many"},
    "child_ids": {"type": "one2many"},
    "image_1920": {"type": "binary"},
}


@pytest.mark.parametrize(
    "merge_type, choices, expected",
    [
        (
            "text",
            None,
            [
                "category_id",
                "country_id",
                "credit_limit",
                "date",
                "is_company",
                "name",
                "tier",
                "write_date",
            ],
        ),
        ("number", None, ["credit_limit"]),
        ("phone", None, ["name"]),
        ("date", None, ["date", "write_date"]),
        ("birthday", None, ["date", "write_date"]),
        ("dropdown", ["Gold", "Silver"], ["tier"]),
        # a choice missing in Mailchimp: the selection does not fit
        ("dropdown", ["Gold"], []),
        ("address", None, []),
        ("nonsense", None, []),
    ],
)
def test_fields_fitting_offers_only_what_check_mapping_accepts(
    merge_type, choices, expected
):
    assert fields_fitting(merge_type, DROPDOWN_CANDIDATES, choices=choices) == expected
    for name in expected:
        spec = DROPDOWN_CANDIDATES[name]
        check_mapping(
            "field",
            spec["type"],
            merge_type,
            selection=spec.get("selection") or [],
            choices=choices,
        )
