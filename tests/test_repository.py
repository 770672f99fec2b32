"""The repository's own files hold together:
manifest, access rules, compose, CI, README."""

import ast
import csv
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
ADDON = ROOT / "mailchimp_connector"
CRM_ADDON = ROOT / "mailchimp_connector_crm"
TEST_COMMAND = "python3 tests/run.py"


def manifest():
    return ast.literal_eval((ADDON / "__manifest__.py").read_text())


def test_manifest_is_an_installable_odoo_18_app():
    data = manifest()
    assert re.fullmatch(r"18\.0\.\d+\.\d+\.\d+", data["version"])
    assert data["license"] == "LGPL-3"
    assert data["installable"] and data["application"]
    assert data["summary"] and data["category"]
    assert "requests" in data["external_dependencies"]["python"]
    assert (ADDON / "static" / "description" / "icon.png").stat().st_size > 500
    for path in data["data"] + data.get("demo", []):
        assert (ADDON / path).is_file(), path


def test_crm_glue_is_a_small_addon_installed_with_crm():
    """The main addon never depends on crm: the glue does, and
    installs itself where both are."""
    data = ast.literal_eval((CRM_ADDON / "__manifest__.py").read_text())
    assert data["version"] == manifest()["version"]
    assert data["license"] == "LGPL-3"
    assert set(data["depends"]) == {"mailchimp_connector", "crm"}
    assert data["auto_install"] and data["installable"]
    assert not data.get("application")
    assert "crm" not in manifest()["depends"]
    for path in data["data"]:
        assert (CRM_ADDON / path).is_file(), path
    assert "import odoo.addons.crm" not in "".join(
        source.read_text() for source in ADDON.rglob("*.py")
    )


def test_crm_glue_models_have_access_rules():
    declared = set()
    for source in (CRM_ADDON / "models").glob("*.py"):
        declared |= set(re.findall(r'^\s+_name = "([\w.]+)"', source.read_text(), re.M))
    if not declared:
        return
    with open(CRM_ADDON / "security" / "ir.model.access.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    covered = {
        row["model_id:id"].removeprefix("model_").replace("_", ".") for row in rows
    }
    assert declared <= covered, declared - covered


def test_every_model_has_access_rules_for_users_and_managers():
    declared = set()
    for folder in ("models", "wizards"):
        for source in (ADDON / folder).glob("*.py"):
            # tables only: an abstract model has no records to give access to
            declared |= {
                name
                for kind, name in re.findall(
                    r"^class \w+\(models\.(\w+)\):"
                    r'(?:(?!^class ).)*?^\s+_name = "([\w.]+)"',
                    source.read_text(),
                    re.M | re.S,
                )
                if kind != "AbstractModel"
            }
    assert {
        "mailchimp.account",
        "mailchimp.audience",
        "mailchimp.merge.field",
    } <= declared
    with open(ADDON / "security" / "ir.model.access.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    covered = {
        row["model_id:id"].removeprefix("model_").replace("_", ".") for row in rows
    }
    assert declared <= covered, declared - covered
    wizards = set()
    for source in (ADDON / "wizards").glob("*.py"):
        text = source.read_text()
        if "models.TransientModel" in text:
            wizards |= set(re.findall(r'^\s+_name = "([\w.]+)"', text, re.M))
    for row in rows:
        model = row["model_id:id"].removeprefix("model_").replace("_", ".")
        if row["group_id:id"].endswith("group_mailchimp_user") and model in wizards:
            # a request a salesperson records (a wizard): filled in, never deleted
            assert row["perm_unlink"] == "0", row["id"]
        elif row["group_id:id"].endswith("group_mailchimp_user"):
            # salespeople only ever read
            assert (row["perm_write"], row["perm_create"], row["perm_unlink"]) == (
                "0",
                "0",
                "0",
            )


def test_neutralization_wipes_the_api_keys():
    sql = (ADDON / "data" / "neutralize.sql").read_text().lower()
    assert "update mailchimp_account" in sql and "api_key = null" in sql


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_postgres_official_odoo_18_and_the_sandbox():
    services = compose()["services"]
    assert set(services) == {"db", "odoo", "mailchimp-sandbox"}
    assert services["db"]["image"].startswith("postgres:")
    odoo = services["odoo"]
    dockerfile = ROOT / odoo["build"]["context"] / odoo["build"]["dockerfile"]
    assert re.search(r"^FROM odoo:18\.0$", dockerfile.read_text(), re.M)
    assert "requirements.txt" in dockerfile.read_text()
    mounts = [volume.split(":") for volume in odoo["volumes"]]
    addon_mounts = [m for m in mounts if m[0] == "./mailchimp_connector"]
    assert (
        addon_mounts and addon_mounts[0][1] == "/mnt/extra-addons/mailchimp_connector"
    )
    assert (ROOT / "mailchimp_connector" / "__manifest__.py").is_file()
    # the CRM glue beside it, in the same addons folder
    assert [
        "./mailchimp_connector_crm",
        "/mnt/extra-addons/mailchimp_connector_crm",
        "ro",
    ] in mounts
    installed = odoo["command"][odoo["command"].index("-i") + 1].split(",")
    assert installed == ["mailchimp_connector", "queue_job"]
    # production's set-up with queue_job: workers, the job runner server-wide, the
    # job-queue glue mounted beside the addon, queue_job in the image
    assert "--workers=2" in odoo["command"]
    assert "--load=web,queue_job" in odoo["command"]
    assert [
        "./mailchimp_connector_queue",
        "/mnt/extra-addons/mailchimp_connector_queue",
        "ro",
    ] in mounts
    assert "root.mailchimp" in odoo["environment"]["ODOO_QUEUE_JOB_CHANNELS"]
    assert "odoo-addon-queue-job==18.0.*" in dockerfile.read_text()
    assert odoo["environment"]["HOST"] == "db"
    assert odoo["ports"][0] == "8069:8069"
    for dependency, condition in odoo["depends_on"].items():
        assert dependency in services
        assert condition["condition"] == "service_healthy"
        assert "healthcheck" in services[dependency]
    sandbox = services["mailchimp-sandbox"]
    assert (ROOT / sandbox["build"] / "Dockerfile").is_file()
    named_volumes = set(compose()["volumes"])
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith("./") or source in named_volumes, source


def test_demo_account_points_at_the_compose_sandbox():
    services = compose()["services"]
    demo = (ADDON / "demo" / "mailchimp_account_demo.xml").read_text()
    url = re.search(r'name="api_base_url">([^<]+)<', demo).group(1)
    host, port = re.match(r"http://([\w-]+):(\d+)/\{dc\}/3\.0$", url).groups()
    assert host in services
    assert any(mapping.endswith(f":{port}") for mapping in services[host]["ports"])
    sandbox_dockerfile = (ROOT / services[host]["build"] / "Dockerfile").read_text()
    assert port in sandbox_dockerfile


def test_ci_and_readme_use_the_same_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert ci.strip().splitlines()[-1] == f"exec {TEST_COMMAND}"
    readme = (ROOT / "README.md").read_text()
    assert TEST_COMMAND in readme
    assert "docker compose up -d" in readme
    for feature in range(1, 34):
        assert (
            f"| F{feature} " in readme
        ), f"F{feature} missing from the README's feature table"
