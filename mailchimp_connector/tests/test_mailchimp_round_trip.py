# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl).
"""Round-trip stability: a sync followed by runs where nothing changed,
incremental and full, writes nothing on either side, whatever Odoo cannot hold
exactly (a name split, a state it lacks, a computed company name...)."""

from contextlib import contextmanager
from unittest.mock import patch

from odoo import Command
from odoo.tests import tagged

from .common import ALTERNATIVE_BEHAVIOUR, behaviour_variants
from .test_mailchimp_sync_rules import SyncRulesCase

COMPANIES = ["Acme GmbH", "Société Générale", "株式会社 山田商事", "Müller & Söhne KG"]
# multi-word last names, accents, non-Latin scripts, a first name only
NAMES = [
    ("Françoise", "da Silva"),
    ("Дмитрий", "Шостакович"),
    ("Zoë", "Brontë"),
    ("José María", "de la Cruz"),
    ("美咲", "山田"),
    ("Ludwig", "van der Rohe"),
    ("Γιώργος", "Παπαδόπουλος"),
    ("Łukasz", ""),
]
ADDRESSES = [
    # a German state by name (Odoo has it, with the code DE-BE)
    {
        "addr1": "Unter den Linden 1",
        "addr2": "",
        "city": "Berlin",
        "state": "Berlin",
        "zip": "10117",
        "country": "DE",
    },
    # a French region Odoo has no state for
    {
        "addr1": "1 rue de Rivoli",
        "addr2": "Bât. B",
        "city": "Paris",
        "state": "Île-de-France",
        "zip": "75001",
        "country": "FR",
    },
    # a US state by code
    {
        "addr1": "1 Main St",
        "addr2": "",
        "city": "Springfield",
        "state": "IL",
        "zip": "62701",
        "country": "US",
    },
    # a state by name, in another script
    {
        "addr1": "Тверская 1",
        "addr2": "",
        "city": "Москва",
        "state": "Москва",
        "zip": "125009",
        "country": "RU",
    },
    "",
]


def member_values(i):
    """Generated Mailchimp merge values of the i-th seeded member."""
    first, last = NAMES[i % len(NAMES)]
    values = {
        "FNAME": first,
        "LNAME": last,
        "COMPANY": COMPANIES[i % len(COMPANIES)] if i % 4 != 3 else "",
        "PHONE": f"+49 30 {i:07d}" if i % 5 else "",
        "ADDRESS": ADDRESSES[i % len(ADDRESSES)],
    }
    return values


class RoundTripCase(SyncRulesCase):
    """Helpers to prove that nothing is written on either side."""

    @contextmanager
    def partner_writes(self):
        """Collect (partner ids, vals) of every res.partner write while it is open."""
        calls = []
        Partner = type(self.env["res.partner"])
        original = Partner.write

        def spy(records, vals):
            calls.append((records.ids, dict(vals)))
            return original(records, vals)

        with patch.object(Partner, "write", spy):
            yield calls

    def mailchimp_writes(self):
        """API calls that change something in Mailchimp (anything but GET)."""
        return [
            f"{call['method']} {call['api_path']}"
            for call in self.api_calls()
            if call["method"] != "GET"
        ]

    def merge_values_now(self):
        return {
            email: member["merge_fields"]
            for email, member in self.mailchimp_members().items()
        }

    def partner_snapshot(self, partners, names):
        partners.invalidate_recordset()
        return {
            partner.id: {name: partner[name] for name in names}
            | {"write_date": partner.write_date}
            for partner in partners
        }

    def assertQuietRun(self, pairing, partners, field_names, full):
        """One run with nothing changed: no Mailchimp write, no member's values
        changed in Mailchimp, no contact written in Odoo."""
        before_mc = self.merge_values_now()
        before_odoo = self.partner_snapshot(partners, field_names)
        self.sandbox_control("DELETE", "requests")
        with self.partner_writes() as writes:
            run = pairing.run_sync(full=full)
        self.assertRunDone(run)
        self.assertEqual(run.full, full)
        after_mc = self.merge_values_now()
        rewritten = sorted(
            email for email in before_mc if after_mc.get(email) != before_mc[email]
        )
        sample = {
            email: (before_mc[email], after_mc.get(email)) for email in rewritten[:3]
        }
        self.assertEqual(
            len(rewritten),
            0,
            f"{len(rewritten)} of {len(before_mc)} members rewritten in Mailchimp by a "
            f"{'full' if full else 'incremental'} run with nothing changed, e.g. "
            f"{sample}",
        )
        self.assertEqual(self.mailchimp_writes(), [])
        written = {pid for ids, _vals in writes for pid in ids if pid in partners.ids}
        self.assertEqual(written, set(), f"contacts written: {writes[:3]}")
        self.assertEqual(self.partner_snapshot(partners, field_names), before_odoo)
        self.assertEqual(run.updated_count, 0)
        self.assertEqual(run.failed_count, 0, run.failure_ids.mapped("reason"))
        return run


@tagged("post_install", "-at_install")
@behaviour_variants(ALTERNATIVE_BEHAVIOUR)
class TestDefaultMappingRoundTrip(RoundTripCase):
    """With the mapping the addon proposes, a sync then a full run must rewrite
    nothing in Mailchimp when nobody changed anything (it once rewrote 250 of 300
    members)."""

    def test_300_members_survive_an_incremental_and_a_full_run(self):
        members = [
            {
                "email_address": f"member{i:03d}@corp.com",
                "status": "subscribed",
                "merge_fields": {k: v for k, v in member_values(i).items() if v != ""},
            }
            for i in range(300)
        ]
        result = self.client.batch_subscribe(
            self.list_id, members, update_existing=True
        )
        self.assertEqual(result.errors, [])
        seeded = self.merge_values_now()
        pairing = self.make_pairing(
            create_missing=True, default_owner_id=self.owner.id, partner_domain="[]"
        )
        self.assertEqual(
            sorted(pairing.field_map_ids.mapped("merge_tag")),
            ["ADDRESS", "COMPANY", "FNAME", "LNAME", "PHONE"],
        )
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(run.created_count, 300)
        self.assertEqual(run.failed_count, 0, run.failure_ids.mapped("reason"))
        partners = pairing.member_ids.partner_id
        self.assertEqual(len(partners), 300)
        # the first sync itself changed nothing in Mailchimp
        self.assertEqual(self.merge_values_now(), seeded)
        names = [
            "name",
            "company_name",
            "phone",
            "street",
            "street2",
            "city",
            "zip",
            "state_id",
            "country_id",
        ]
        self.assertQuietRun(pairing, partners, names, full=False)
        self.assertQuietRun(pairing, partners, names, full=True)
        self.assertEqual(self.merge_values_now(), seeded)
        ann = partners.filtered(lambda p: p.email == "member000@corp.com")
        self.assertEqual(ann.name, "Françoise da Silva")
        self.assertEqual(ann.company_name, "Acme GmbH")
        self.assertEqual(ann.commercial_company_name, "Acme GmbH")
        self.assertEqual(ann.state_id, self.env.ref("base.state_de_be"))


# tag: (Odoo field, its type, merge type, merge options, extra ir.model.fields values)
TYPED_FIELDS = {
    "TCHAR": ("x_mc_char", "char", "text", {}, {}),
    "TTEXT": ("x_mc_text", "text", "text", {}, {}),
    "NINT": ("x_mc_int", "integer", "number", {}, {}),
    "NFLOAT": ("x_mc_float", "float", "number", {}, {}),
    "TFLOAT": ("x_mc_float2", "float", "text", {}, {}),
    "NAMOUNT": (
        "x_mc_amount",
        "monetary",
        "number",
        {},
        {"currency_field": "x_mc_currency_id"},
    ),
    "DDATE": ("x_mc_date", "date", "date", {"date_format": "DD/MM/YYYY"}, {}),
    "TDATE": ("x_mc_date2", "date", "text", {}, {}),
    "DDT": ("x_mc_dt", "datetime", "date", {"date_format": "MM/DD/YYYY"}, {}),
    "TDT": ("x_mc_dt2", "datetime", "text", {}, {}),
    "TBOOL": ("x_mc_bool", "boolean", "text", {}, {}),
    "DROP": (
        "x_mc_tier",
        "selection",
        "dropdown",
        {"choices": ["Gold", "Silver", "Bronze"]},
        {},
    ),
    "RADIO": (
        "x_mc_tier2",
        "selection",
        "radio",
        {"choices": ["Gold", "Silver", "Bronze"]},
        {},
    ),
    "TSEL": ("x_mc_tier3", "selection", "text", {}, {}),
    "TCTRY": ("x_mc_country_id", "many2one", "text", {}, {"relation": "res.country"}),
    "TTAGS": (
        "x_mc_tag_ids",
        "many2many",
        "text",
        {},
        {"relation": "res.partner.category"},
    ),
    "URL": ("website", None, "url", {}, {}),
    "ZIP": ("x_mc_zip", "char", "zip", {}, {}),
}
TIERS = "[('gold', 'Gold'), ('silver', 'Silver'), ('bronze', 'Bronze')]"
PUSH_ONLY_TAGS = {"DDT", "TDT", "TBOOL", "TTAGS", "BIRTHDAY"}

# Mailchimp's values, as people type them in Mailchimp: accents, non-Latin
# scripts, 255 characters, empty, numbers, dates, choices, names of records, and
# forms Odoo stores otherwise (a selection key, a padded country name, 1e3...)
MAILCHIMP_GENERATED = {
    "TCHAR": [
        "Zoë Brontë",
        "Дмитрий",
        "山田 美咲",
        "x" * 255,
        "",
        "  spaced  ",
        "O'Brien & Söhne",
    ],
    "TTEXT": ["Ligne 1\nLigne 2", "Ελληνικά", "", "ü" * 255],
    "NINT": [0, -7, 42, 2_000_000_000, ""],
    "NFLOAT": [0.1, 3.14159, -2.5, 1e6, "", 7],
    "TFLOAT": ["3.0", "1e3", "-0.5", "", "12"],
    "NAMOUNT": [3.14159, 19.99, 0, "", 1000000.5],
    "DDATE": ["29/02/2024", "01/01/1900", "31/12/2099", ""],
    "TDATE": ["2024-02-29", "1999-12-31T23:59:00", ""],
    "DDT": ["01/31/2024", ""],
    "TDT": ["2024-01-31 23:59:00", "", "whenever"],
    "TBOOL": ["Yes", "No", "", "maybe"],
    "DROP": ["Gold", "Silver", "Bronze", ""],
    "RADIO": ["Silver", "Gold", ""],
    "TSEL": ["Gold", "bronze", "", "Silver"],
    "TCTRY": ["Belgium", " France ", "", "Japan"],
    "TTAGS": ["VIP, B2B", ""],
    "URL": ["https://example.com/ünïcode", "http://www.example.org", ""],
    "ZIP": ["30318", "30318-1234", ""],
    "BIRTHDAY": ["02/29", "12/31", ""],
    "PHONE": ["+49 30 1234567", " +33 1 23 45 67 89 ", "", "(555) 010-9999"],
    "COMPANY": COMPANIES + [""],
    "ADDRESS": ADDRESSES
    + [
        # a country Odoo does not know
        {
            "addr1": "1 Nowhere Rd",
            "addr2": "",
            "city": "Atlantis",
            "state": "Deep",
            "zip": "00000",
            "country": "ZZ",
        },
    ],
}
# addresses Mailchimp holds with parts missing (taken by a form or an import)
PARTIAL_ADDRESSES = [
    {
        "addr1": "Stephansplatz 1",
        "addr2": "",
        "city": "Wien",
        "state": "",
        "zip": "1010",
        "country": "AT",
    },
    {
        "addr1": "Calle Mayor 1",
        "addr2": "",
        "city": "Madrid",
        "state": "Madrid",
        "zip": "",
        "country": "",
    },
]


class TypedRoundTripCase(RoundTripCase):
    """A sync mapping every supported field type, next to the default mapping."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        IrField = cls.env["ir.model.fields"]
        model_id = cls.env["ir.model"]._get_id("res.partner")
        IrField.create(
            {
                "model_id": model_id,
                "name": "x_mc_currency_id",
                "ttype": "many2one",
                "relation": "res.currency",
                "field_description": "MC currency",
                "state": "manual",
            }
        )
        IrField.create(
            {
                "model_id": model_id,
                "name": "x_mc_birth",
                "ttype": "date",
                "field_description": "Birthday",
                "state": "manual",
            }
        )
        for name, ttype, _merge_type, _options, extra in TYPED_FIELDS.values():
            if ttype is None:
                continue
            vals = {
                "model_id": model_id,
                "name": name,
                "ttype": ttype,
                "field_description": name,
                "state": "manual",
                **extra,
            }
            if ttype == "selection":
                vals["selection"] = TIERS
            IrField.create(vals)
        cls.field_names = [spec[0] for spec in TYPED_FIELDS.values()] + [
            "x_mc_birth",
            "name",
            "company_name",
            "phone",
            "street",
            "street2",
            "city",
            "zip",
            "state_id",
            "country_id",
        ]

    def typed_pairing(self, **vals):
        for tag, (_name, _ttype, merge_type, options, _extra) in TYPED_FIELDS.items():
            self.add_merge_field(
                tag, merge_type, **({"options": options} if options else {})
            )
        pairing = self.make_pairing(**vals)
        field_ids = {
            f.name: f.id
            for f in self.env["ir.model.fields"].search([("model", "=", "res.partner")])
        }
        by_tag = {f.tag: f for f in self.audience.merge_field_ids}
        pairing.field_map_ids = [
            Command.create(
                {"merge_field_id": by_tag[tag].id, "odoo_field_id": field_ids[spec[0]]}
            )
            for tag, spec in TYPED_FIELDS.items()
        ]
        maps = {m.merge_tag: m for m in pairing.field_map_ids}
        self.assertEqual(
            sorted(maps),
            sorted(
                list(TYPED_FIELDS)
                + ["ADDRESS", "BIRTHDAY", "COMPANY", "FNAME", "LNAME", "PHONE"]
            ),
        )
        self.assertEqual(maps["BIRTHDAY"].odoo_field_id.name, "x_mc_birth")
        self.assertEqual(maps["COMPANY"].source_kind, "company")
        for tag, mapping in maps.items():
            self.assertTrue(mapping.can_push, tag)
            self.assertEqual(mapping.can_pull, tag not in PUSH_ONLY_TAGS, tag)
            self.assertEqual(bool(mapping.pull_note), tag in PUSH_ONLY_TAGS, tag)
        return pairing


@tagged("post_install", "-at_install")
@behaviour_variants(ALTERNATIVE_BEHAVIOUR)
class TestEveryTypeRoundTrip(TypedRoundTripCase):
    """Generated values for every default mapping and every supported field type:
    a sync, then an incremental and a full run with nothing changed, write
    nothing on either side."""

    def test_values_from_mailchimp_survive_incremental_and_full_runs(self):
        count = 42
        members = []
        for i in range(count):
            merge_fields = {
                tag: values[i % len(values)]
                for tag, values in MAILCHIMP_GENERATED.items()
            }
            first, last = NAMES[i % len(NAMES)]
            merge_fields.update(FNAME=first, LNAME=last)
            members.append(
                {
                    "email_address": f"typed{i:02d}@corp.com",
                    "status": "subscribed",
                    "merge_fields": {k: v for k, v in merge_fields.items() if v != ""},
                }
            )
        pairing = self.typed_pairing(
            create_missing=True, default_owner_id=self.owner.id, partner_domain="[]"
        )
        result = self.client.batch_subscribe(
            self.list_id, members, update_existing=True
        )
        self.assertEqual(result.errors, [])
        for i, address in enumerate(PARTIAL_ADDRESSES):
            self.member_action(
                f"typed{i:02d}@corp.com", "profile", merges={"ADDRESS": address}
            )
        seeded = self.merge_values_now()
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(run.failed_count, 0, run.failure_ids.mapped("reason"))
        self.assertEqual(run.created_count, count)
        partners = pairing.member_ids.partner_id
        self.assertEqual(len(partners), count)
        self.assertEqual(self.merge_values_now(), seeded)
        self.assertQuietRun(pairing, partners, self.field_names, full=False)
        self.assertQuietRun(pairing, partners, self.field_names, full=True)
        self.assertEqual(self.merge_values_now(), seeded)
        # what Odoo holds of them
        by_email = {p.email: p for p in partners}
        wien = by_email["typed00@corp.com"]
        self.assertEqual(
            (wien.street, wien.zip, wien.state_id.id),
            ("Stephansplatz 1", "1010", False),
        )
        self.assertEqual(wien.country_id, self.env.ref("base.at"))
        one = by_email["typed01@corp.com"]
        self.assertEqual(one.x_mc_country_id, self.env.ref("base.fr"))  # ' France '
        self.assertEqual(one.x_mc_float2, 1000.0)  # '1e3'
        self.assertEqual(one.x_mc_tier3, "bronze")
        self.assertEqual(one.name, "Дмитрий Шостакович")
        self.assertEqual(by_email["typed03@corp.com"].x_mc_char, "x" * 255)

    def test_values_from_odoo_survive_incremental_and_full_runs(self):
        Partner = self.env["res.partner"]
        acme = Partner.create({"name": "Acme GmbH", "is_company": True})
        vip = self.env["res.partner.category"].create({"name": "VIP"})
        us, de, fr = (self.env.ref(f"base.{c}") for c in ("us", "de", "fr"))
        illinois, berlin = (
            self.env.ref("base.state_us_14"),
            self.env.ref("base.state_de_be"),
        )
        addresses = [
            {
                "street": "1 Main St",
                "city": "Springfield",
                "zip": "62701",
                "state_id": illinois.id,
                "country_id": us.id,
            },
            {
                "street": "Unter den Linden 1",
                "city": "Berlin",
                "zip": "10117",
                "state_id": berlin.id,
                "country_id": de.id,
            },
            # no state: Mailchimp would refuse it, it is not sent
            {
                "street": "1 rue de Rivoli",
                "city": "Paris",
                "zip": "75001",
                "country_id": fr.id,
            },
            # no country: Mailchimp fills in its own
            {
                "street": "2 Main St",
                "city": "Chicago",
                "zip": "60601",
                "state_id": illinois.id,
            },
            {},
        ]
        odoo_generated = {
            "x_mc_char": ["Zoë Brontë", "Дмитрий", "x" * 255, False, "  spaced  "],
            "x_mc_text": ["Ligne 1\nLigne 2", "ü" * 255, False],
            "x_mc_int": [0, -7, 42],
            "x_mc_float": [0.1, 3.14159, 0.0, -2.5],
            "x_mc_float2": [1e-7, 2.5, 0.0],
            "x_mc_amount": [19.99, 0.0, 1000000.5],
            "x_mc_date": ["2024-02-29", False, "1900-01-01"],
            "x_mc_date2": ["1999-12-31", False],
            "x_mc_birth": ["1980-02-29", False],
            "x_mc_dt": ["2024-01-31 23:59:00", False],
            "x_mc_dt2": ["2024-01-31 08:00:00", False],
            "x_mc_bool": [True, False],
            "x_mc_tier": ["gold", "silver", "bronze", False],
            "x_mc_tier2": ["silver", False],
            "x_mc_tier3": ["bronze", "gold", False],
            "x_mc_country_id": [self.env.ref("base.be").id, False],
            "x_mc_tag_ids": [[Command.set(vip.ids)], [Command.clear()]],
            "website": ["https://example.com/ünïcode", False, "www.odoo.com"],
            "x_mc_zip": ["30318", False, "30318-1234"],
            "phone": ["+32 470 00 00 01", False, "(555) 010-9999"],
            "company_name": ["Société Générale", False, "株式会社 山田商事"],
        }
        vals_list = []
        for i in range(30):
            first, last = NAMES[i % len(NAMES)]
            vals = {
                key: values[i % len(values)] for key, values in odoo_generated.items()
            }
            vals.update(addresses[i % len(addresses)])
            vals.update(name=f"{first} {last}".strip(), email=f"odoo{i:02d}@corp.com")
            if i % 6 == 5:
                vals["parent_id"] = acme.id  # the company Odoo shows is its parent's
            vals_list.append(vals)
        partners = Partner.create(vals_list)
        pairing = self.typed_pairing(
            partner_tag_id=False, partner_domain="[('email', 'ilike', '@corp.com')]"
        )
        run = pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(run.failed_count, 0, run.failure_ids.mapped("reason"))
        self.assertEqual(run.created_count, 30)
        members = self.mailchimp_members()
        self.assertEqual(
            members["odoo05@corp.com"]["merge_fields"]["COMPANY"], "Acme GmbH"
        )
        self.assertEqual(
            members["odoo01@corp.com"]["merge_fields"]["ADDRESS"]["state"], "Berlin"
        )
        self.assertEqual(
            members["odoo00@corp.com"]["merge_fields"]["ADDRESS"]["state"], "IL"
        )
        self.assertEqual(members["odoo02@corp.com"]["merge_fields"]["ADDRESS"], "")
        self.assertEqual(
            members["odoo03@corp.com"]["merge_fields"]["ADDRESS"]["country"], "US"
        )
        self.assertFalse(
            partners.filtered(lambda p: p.email == "odoo03@corp.com").country_id
        )
        self.assertQuietRun(pairing, partners, self.field_names, full=False)
        self.assertQuietRun(pairing, partners, self.field_names, full=True)
        # Mailchimp's own form of what was sent (the country it filled in) is not pulled
        self.assertFalse(
            partners.filtered(lambda p: p.email == "odoo03@corp.com").country_id
        )

    def test_values_one_side_cannot_hold_are_reported_and_never_sent_back(self):
        IrField = self.env["ir.model.fields"]
        IrField.create(
            {
                "model_id": self.env["ir.model"]._get_id("res.partner"),
                "name": "x_mc_code",
                "ttype": "char",
                "size": 10,
                "field_description": "Code",
                "state": "manual",
            }
        )
        self.add_merge_field("CODE", "text")
        pairing = self.typed_pairing(
            partner_tag_id=False, partner_domain="[('email', 'ilike', '@corp.com')]"
        )
        code_field = IrField.search(
            [("model", "=", "res.partner"), ("name", "=", "x_mc_code")]
        )
        code = self.audience.merge_field_ids.filtered(lambda f: f.tag == "CODE")
        pairing.field_map_ids = [
            Command.create({"merge_field_id": code.id, "odoo_field_id": code_field.id})
        ]
        long_text = "é" * 300
        pat = self.env["res.partner"].create(
            {
                "name": "Pat Long",
                "email": "pat@corp.com",
                "x_mc_char": "short",
                "x_mc_code": "ABC",
            }
        )
        self.assertRunDone(pairing.run_sync())
        # Mailchimp gets a code longer than Odoo keeps;
        # Odoo a text longer than Mailchimp keeps
        self.client.patch(
            self.member_path("pat@corp.com"), json={"merge_fields": {"CODE": "C" * 20}}
        )
        pat.x_mc_text = long_text
        for full in (False, True):
            before = self.merge_values_now()
            self.sandbox_control("DELETE", "requests")
            run = pairing.run_sync(full=full)
            self.assertRunDone(run)
            reasons = " | ".join(run.failure_ids.mapped("reason"))
            self.assertIn("CODE", reasons)
            self.assertIn("at most 10", reasons)
            self.assertIn("at most 255", reasons)
            self.assertEqual(self.mailchimp_writes(), [])
            self.assertEqual(self.merge_values_now(), before)
            self.assertEqual((pat.x_mc_code, pat.x_mc_text), ("ABC", long_text))
        self.assertEqual(
            self.mc_member("pat@corp.com")["merge_fields"]["CODE"], "C" * 20
        )


def seed_members(case, count=20):
    """Members with companies, multi-word names and foreign addresses."""
    members = [
        {
            "email_address": f"member{i:03d}@corp.com",
            "status": "subscribed",
            "merge_fields": {k: v for k, v in member_values(i).items() if v != ""},
        }
        for i in range(count)
    ]
    result = case.client.batch_subscribe(case.list_id, members, update_existing=True)
    case.assertEqual(result.errors, [])


@tagged("post_install", "-at_install")
@behaviour_variants(ALTERNATIVE_BEHAVIOUR)
class TestRealChangesStillFlow(RoundTripCase):
    """After a quiet round trip, a real change on either side still goes across."""

    def setUp(self):
        super().setUp()
        seed_members(self, 10)
        self.pairing = self.make_pairing(
            create_missing=True, default_owner_id=self.owner.id, partner_domain="[]"
        )
        self.assertRunDone(self.pairing.run_sync())
        self.partners = self.pairing.member_ids.partner_id
        self.by_email = {p.email: p for p in self.partners}
        self.seeded = self.merge_values_now()
        self.names = [
            "name",
            "company_name",
            "phone",
            "street",
            "city",
            "zip",
            "state_id",
            "country_id",
        ]

    def assertOnlyChanged(self, changes):
        """In Mailchimp, only these merge values changed: {email: {tag: value}}."""
        now = self.merge_values_now()
        expected = {email: dict(values) for email, values in self.seeded.items()}
        for email, changed in changes.items():
            expected[email].update(changed)
        self.maxDiff = None
        self.assertEqual(now, expected)
        self.seeded = now

    def test_odoo_rename_sends_the_name_as_mailchimp_splits_it(self):
        francoise = self.by_email["member000@corp.com"]  # Françoise / da Silva
        francoise.name = "Françoise da Costa"
        run = self.pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(run.updated_count, 1)
        self.assertOnlyChanged({"member000@corp.com": {"LNAME": "da Costa"}})
        jose = self.by_email["member003@corp.com"]  # José María / de la Cruz
        jose.name = "José Luis de la Cruz"
        self.assertRunDone(self.pairing.run_sync())
        self.assertOnlyChanged({"member003@corp.com": {"FNAME": "José Luis"}})
        self.assertQuietRun(self.pairing, self.partners, self.names, full=True)

    def test_mailchimp_change_of_company_and_name_is_pulled(self):
        self.client.patch(
            self.member_path("member000@corp.com"),
            json={"merge_fields": {"COMPANY": "Acme AG", "FNAME": "Fran"}},
        )
        run = self.pairing.run_sync()
        self.assertRunDone(run)
        francoise = self.by_email["member000@corp.com"]
        self.assertEqual(francoise.company_name, "Acme AG")
        self.assertEqual(francoise.commercial_company_name, "Acme AG")
        self.assertEqual(francoise.name, "Fran da Silva")  # the last name kept whole
        self.assertOnlyChanged(
            {"member000@corp.com": {"COMPANY": "Acme AG", "FNAME": "Fran"}}
        )
        self.assertQuietRun(self.pairing, self.partners, self.names, full=True)

    def test_odoo_street_change_keeps_mailchimps_state(self):
        berlin = self.by_email["member000@corp.com"]
        paris = self.by_email["member001@corp.com"]
        self.assertEqual(berlin.state_id, self.env.ref("base.state_de_be"))
        self.assertFalse(paris.state_id)  # Odoo has no French regions
        berlin.street = "Unter den Linden 2"
        paris.street = "2 rue de Rivoli"
        run = self.pairing.run_sync()
        self.assertRunDone(run)
        self.assertEqual(run.failed_count, 0, run.failure_ids.mapped("reason"))
        self.assertOnlyChanged(
            {
                "member000@corp.com": {
                    "ADDRESS": dict(ADDRESSES[0], addr1="Unter den Linden 2")
                },
                "member001@corp.com": {
                    "ADDRESS": dict(ADDRESSES[1], addr1="2 rue de Rivoli")
                },
            }
        )
        # a state Odoo changes is written as addresses
        # of its country are: a name in Germany
        berlin.state_id = self.env.ref("base.state_de_by")
        self.assertRunDone(self.pairing.run_sync())
        self.assertOnlyChanged(
            {
                "member000@corp.com": {
                    "ADDRESS": dict(
                        ADDRESSES[0], addr1="Unter den Linden 2", state="Bayern"
                    )
                },
            }
        )
        self.assertQuietRun(self.pairing, self.partners, self.names, full=True)

    def test_odoo_cannot_clear_a_part_mailchimp_needs(self):
        berlin = self.by_email["member000@corp.com"]
        berlin.zip = False
        run = self.pairing.run_sync()
        self.assertRunDone(run)
        self.assertIn(
            "no zip", run.failure_ids.filtered(lambda f: f.partner_id == berlin).reason
        )
        self.assertOnlyChanged({})  # Mailchimp's address is not wiped
        # the whole address emptied in Odoo empties it in Mailchimp
        berlin.write(
            {
                "street": False,
                "street2": False,
                "city": False,
                "state_id": False,
                "country_id": False,
            }
        )
        self.assertRunDone(self.pairing.run_sync())
        self.assertOnlyChanged({"member000@corp.com": {"ADDRESS": ""}})

    def test_company_cleared_in_odoo_is_cleared_in_mailchimp(self):
        francoise = self.by_email["member000@corp.com"]
        francoise.company_name = False
        self.assertRunDone(self.pairing.run_sync())
        self.assertOnlyChanged({"member000@corp.com": {"COMPANY": ""}})
        # a parent company: the company Odoo shows is sent
        francoise.parent_id = self.env["res.partner"].create(
            {"name": "Parent AG", "is_company": True}
        )
        self.assertRunDone(self.pairing.run_sync())
        self.assertOnlyChanged({"member000@corp.com": {"COMPANY": "Parent AG"}})
        self.assertQuietRun(self.pairing, self.partners, self.names, full=True)

    def test_both_sides_changed_the_conflict_rule_decides(self):
        for winner, odoo_name, mc_first, expected in (
            ("odoo", "Françoise Maria da Silva", "Franziska", "Françoise Maria"),
            ("mailchimp", "Françoise Anna da Silva", "Fanny", "Fanny"),
        ):
            self.pairing.conflict_winner = winner
            francoise = self.by_email["member000@corp.com"]
            francoise.name = odoo_name
            self.client.patch(
                self.member_path("member000@corp.com"),
                json={"merge_fields": {"FNAME": mc_first}},
            )
            run = self.pairing.run_sync()
            self.assertRunDone(run)
            self.assertEqual(run.conflict_count, 1)
            self.assertOnlyChanged({"member000@corp.com": {"FNAME": expected}})
            self.assertEqual(francoise.name, f"{expected} da Silva")
        self.assertQuietRun(self.pairing, self.partners, self.names, full=True)


@tagged("post_install", "-at_install")
class TestPullTargets(RoundTripCase):
    """A field that does not keep what is written is never a pull's target."""

    def test_computed_related_and_readonly_fields_are_push_only(self):
        IrField = self.env["ir.model.fields"]
        model_id = self.env["ir.model"]._get_id("res.partner")
        IrField.create(
            {
                "model_id": model_id,
                "name": "x_mc_parent_name",
                "ttype": "char",
                "state": "manual",
                "field_description": "MC parent name",
                "related": "parent_id.name",
                "store": True,
            }
        )
        IrField.create(
            {
                "model_id": model_id,
                "name": "x_mc_locked",
                "ttype": "char",
                "state": "manual",
                "field_description": "Locked",
                "readonly": True,
            }
        )
        tags = {
            "COMPANY": "commercial_company_name",
            "PARENT": "x_mc_parent_name",
            "LOCKED": "x_mc_locked",
            "MAIL": "email_normalized",
            "NOTE": "company_name",
        }
        for tag in ("PARENT", "LOCKED", "MAIL", "NOTE"):
            self.add_merge_field(tag, "text")
        field_ids = {
            f.name: f.id for f in IrField.search([("model", "=", "res.partner")])
        }
        by_tag = {f.tag: f for f in self.audience.merge_field_ids}
        pairing = self.make_pairing(
            partner_domain="[]",
            field_map_ids=[
                Command.create(
                    {"merge_field_id": by_tag[tag].id, "odoo_field_id": field_ids[name]}
                )
                for tag, name in tags.items()
            ],
        )
        maps = {m.merge_tag: m for m in pairing.field_map_ids}
        for tag, fragment in (
            ("COMPANY", "Odoo computes it"),
            ("MAIL", "Odoo computes it"),
            ("PARENT", "related field"),
            ("LOCKED", "read-only"),
        ):
            self.assertTrue(maps[tag].can_push, tag)
            self.assertFalse(maps[tag].can_pull, tag)
            self.assertIn(fragment, maps[tag].pull_note, tag)
        self.assertTrue(maps["NOTE"].can_pull)
        self.assertFalse(maps["NOTE"].pull_note)
        # the reason is on the sync's mapping list
        arch = self.env["mailchimp.pairing"].get_view(view_type="form")["arch"]
        self.assertIn('name="pull_note"', arch)

        parent = self.env["res.partner"].create(
            {"name": "Parent AG", "is_company": True}
        )
        kim = self.contact(
            "kim@corp.com", "Kim Lee", parent_id=parent.id, x_mc_locked="L1"
        )
        self.assertRunDone(pairing.run_sync())
        merge = self.mc_member("kim@corp.com")["merge_fields"]
        self.assertEqual(
            (merge["COMPANY"], merge["PARENT"], merge["LOCKED"]),
            ("Parent AG", "Parent AG", "L1"),
        )
        # Mailchimp changes them all: only the writable one reaches Odoo
        self.client.patch(
            self.member_path("kim@corp.com"),
            json={
                "merge_fields": {
                    "COMPANY": "Other",
                    "PARENT": "Other",
                    "LOCKED": "L2",
                    "MAIL": "x@y.com",
                    "NOTE": "Noted",
                }
            },
        )
        with self.partner_writes() as writes:
            run = pairing.run_sync(full=True)
        self.assertRunDone(run)
        self.assertEqual(writes, [([kim.id], {"company_name": "Noted"})])
        self.assertEqual(parent.name, "Parent AG")
        self.assertEqual(kim.x_mc_locked, "L1")
        # and Mailchimp keeps its values: nothing is sent back over them
        merge = self.mc_member("kim@corp.com")["merge_fields"]
        self.assertEqual(
            (merge["COMPANY"], merge["PARENT"], merge["LOCKED"], merge["MAIL"]),
            ("Other", "Other", "L2", "x@y.com"),
        )


@tagged("post_install", "-at_install")
class TestLegacyMembers(RoundTripCase):
    """Members synced before Odoo's own base was kept (and the old COMPANY mapping to
    the computed company name): a full run after the upgrade writes nothing."""

    def test_full_run_over_members_synced_by_the_old_code_writes_nothing(self):
        seed_members(self, 40)
        company = self.audience.merge_field_ids.filtered(lambda f: f.tag == "COMPANY")
        computed = self.env["ir.model.fields"]._get(
            "res.partner", "commercial_company_name"
        )
        pairing = self.make_pairing(
            create_missing=True, default_owner_id=self.owner.id, partner_domain="[]"
        )
        pairing.field_map_ids.filtered(lambda m: m.merge_tag == "COMPANY").write(
            {
                "merge_field_id": company.id,
                "source_kind": "field",
                "odoo_field_id": computed.id,
            }
        )
        self.assertRunDone(pairing.run_sync())
        partners = pairing.member_ids.partner_id
        self.assertEqual(len(partners), 40)
        # as the old code left them: one base, Mailchimp's values
        self.env.cr.execute(
            "UPDATE mailchimp_member SET odoo_synced_values = NULL WHERE pairing_id = "
            "%s",
            (pairing.id,),
        )
        pairing.member_ids.invalidate_recordset()
        names = ["name", "phone", "street", "city", "zip", "state_id", "country_id"]
        self.assertQuietRun(pairing, partners, names, full=True)
        self.assertQuietRun(pairing, partners, names, full=False)
