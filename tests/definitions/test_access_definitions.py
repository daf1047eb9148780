"""``access:`` in a _dataset.yaml: bad entries give exit 2, one located message each, before any
warehouse is opened; good ones load as the model's entries."""

from __future__ import annotations

from pathlib import Path

import pytest

from bqmanage.definitions.load import load_definitions
from bqmanage.model.access import MAX_AUTHORIZED
from tests.helpers import run_cli, write

TABLE = "columns:\n  - {name: id, type: STRING}\n"

# (name, access block of schemas/sales/_dataset.yaml, its line, a fragment of the message)
BAD = [
    ("unknown role", "  - {role: READR, member: group:a@example.com}\n", 2, "access[0].role: unknown role 'READR'"),
    (
        "malformed email",
        "  - {role: READER, member: user:bob@}\n",
        2,
        "access[0].member: member 'user:bob@': 'bob@' is not an email",
    ),
    ("unknown member kind", "  - {role: READER, member: team:a@example.com}\n", 2, "must be <kind>:<id>"),
    ("no role", "  - {member: group:a@example.com}\n", 2, "needs a role"),
    ("role on an authorized view", "  - {role: READER, member: view:my-project.shared.v}\n", 2, "takes no role"),
    (
        "service account that is no service account",
        "  - {role: WRITER, member: serviceAccount:etl@example.com}\n",
        2,
        "ends in .gserviceaccount.com",
    ),
    ("special group", "  - {role: READER, member: specialGroup:everyone}\n", 2, "special groups are"),
    ("dot before @", "  - {role: READER, member: group:readers.@example.com}\n", 2, "is not an email address"),
    ("two dots in a row", "  - {role: READER, member: user:bob..smith@example.com}\n", 2, "is not an email address"),
    ("domain label ending in -", "  - {role: READER, member: domain:acme-.example.com}\n", 2, "is not a domain name"),
    (
        "service account name too short",
        "  - {role: WRITER, member: serviceAccount:etl@my-project.iam.gserviceaccount.com}\n",
        2,
        "a service account's name (before @) is 6 to 30 characters; 'etl' has 3",
    ),
    (
        "service account name with an underscore",
        "  - {role: WRITER, member: serviceAccount:etl_loader@my-project.iam.gserviceaccount.com}\n",
        2,
        "lowercase letters, digits and hyphens",
    ),
    ("pattern in a fixed dataset", "  - {role: READER, member: 'group:{tenant}@example.com'}\n", 2, "is for dataset templates"),
    (
        "members_from in a fixed dataset",
        "  - {role: READER, members_from: tenant_profiles.reader_group}\n",
        2,
        "is for dataset templates",
    ),
    (
        "declared twice",
        "  - {role: READER, member: group:a@example.com}\n  - {role: READER, member: group:A@example.com}\n",
        3,
        "declared twice",
    ),
]


@pytest.mark.parametrize(("block", "line", "fragment"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_bad_access_entry_is_refused_with_its_location(workdir: Path, block: str, line: int, fragment: str) -> None:
    write(workdir / "schemas" / "sales" / "_dataset.yaml", "access:\n" + block)
    write(workdir / "schemas" / "sales" / "orders.yaml", TABLE)
    result = run_cli("validate")
    assert result.exit_code == 2
    assert f"schemas/sales/_dataset.yaml:{line}: " in result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert not (workdir / ".bqmanage").exists()  # no engine was opened


def test_every_bad_entry_is_reported_not_only_the_first(workdir: Path) -> None:
    block = "access:\n  - {role: READR, member: group:a@example.com}\n  - {role: READER, member: user:nobody}\n"
    write(workdir / "schemas" / "sales" / "_dataset.yaml", block)
    write(workdir / "schemas" / "sales" / "orders.yaml", TABLE)
    result = run_cli("validate")
    assert result.exit_code == 2
    assert "_dataset.yaml:2: access[0].role" in result.stderr and "_dataset.yaml:3: access[1].member" in result.stderr


@pytest.mark.parametrize(
    ("member", "fragment"),
    [
        ("'group:{tenant}-{team}@example.com'", "the only placeholder is {tenant}"),
        ("'group:{tenant}'", "is valid for no tenant id"),
        ("'group:{tenant}.@example.com'", "is valid for no tenant id"),  # a dot just before @
        ("'group:readers@{tenant}-.example.com'", "is valid for no tenant id"),  # a label ending in '-'
        # A service account's name is 6 to 30 characters: 31 without the id.
        ("'serviceAccount:{tenant}-pipelines-of-the-platform-xyz@p.iam.gserviceaccount.com'", "is valid for no tenant id"),
        ("'serviceAccount:{tenant}_x@my-project.iam.gserviceaccount.com'", "is valid for no tenant id"),
        ("'{tenant}:readers@example.com'", "{tenant} goes after the kind"),
        ("'specialGroup:{tenant}'", "a special group is one of"),
    ],
)
def test_a_template_pattern_that_no_tenant_id_makes_valid_is_refused(workdir: Path, member: str, fragment: str) -> None:
    write(workdir / "schemas" / "tenant_{tenant}" / "_dataset.yaml", f"access:\n  - {{role: READER, member: {member}}}\n")
    result = run_cli("validate")
    assert result.exit_code == 2
    assert "schemas/tenant_{tenant}/_dataset.yaml:2: access[0].member" in result.stderr
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "member",
    [
        "'serviceAccount:{tenant}@my-project.iam.gserviceaccount.com'",  # ids of 6 to 30, no '_'
        "'domain:{tenant}.example.com'",  # ids without '_', not ending in '-'
        "'group:{tenant}-readers@example.com'",  # ids up to 56 characters
        "'group:readers@{tenant}.example.com'",
    ],
)
def test_a_template_pattern_that_some_tenant_ids_make_valid_passes_validate(workdir: Path, member: str) -> None:
    """Such a pattern is checked per tenant, when a command acts for one (tests/tenants/test_tenant_member_patterns.py)."""
    write(workdir / "schemas" / "tenant_{tenant}" / "_dataset.yaml", f"access:\n  - {{role: READER, member: {member}}}\n")
    result = run_cli("validate")
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    ("members_from", "fragment"),
    [
        ("tenant_profiles.reader_grp", "the registry tenants.tenant_profiles has no column 'reader_grp'"),
        ("customers.reader_group", "'customers' is not the tenant registry (tenant_profiles)"),
        ("tenant_profiles.daily_limit", "the column is INT64; a member is a STRING"),
    ],
)
def test_members_from_must_name_a_string_column_of_the_registry(workdir: Path, members_from: str, fragment: str) -> None:
    write(
        workdir / "schemas" / "tenant_{tenant}" / "_dataset.yaml",
        f"access:\n  - {{role: READER, members_from: {members_from}}}\n",
    )
    result = run_cli("validate")
    assert result.exit_code == 2
    assert "schemas/tenant_{tenant}/_dataset.yaml:2: access[0].members_from" in result.stderr
    assert fragment in result.stderr


def test_more_authorized_resources_than_bigquery_allows_on_one_dataset_is_refused(workdir: Path) -> None:
    views = "".join(f"  - {{member: view:my-project.shared.v{i}}}\n" for i in range(MAX_AUTHORIZED + 1))
    write(workdir / "schemas" / "sales" / "_dataset.yaml", "access:\n" + views)
    write(workdir / "schemas" / "sales" / "orders.yaml", TABLE)
    result = run_cli("validate")
    assert result.exit_code == 2
    assert (
        "schemas/sales/_dataset.yaml:1: access: 2501 authorized views and datasets; BigQuery allows at most 2,500"
        in result.stderr
    )


def test_access_entries_load_in_the_form_bigquery_reads_back(workdir: Path) -> None:
    write(
        workdir / "schemas" / "sales" / "_dataset.yaml",
        "access_exclusive: true\naccess:\n"
        "  - {role: roles/bigquery.dataViewer, member: group:analysts@example.com}\n"
        "  - {role: roles/bigquery.jobUser, member: serviceAccount:etl-loader@my-project.iam.gserviceaccount.com}\n"
        "  - {member: dataset:my-project.shared}\n",
    )
    write(workdir / "schemas" / "sales" / "orders.yaml", TABLE)
    sales = next(d for d in load_definitions(workdir / "schemas").datasets if d.name == "sales")
    assert sales.access_exclusive
    assert [(e.role, e.member, e.line) for e in sales.access or ()] == [
        ("READER", "group:analysts@example.com", 3),
        ("roles/bigquery.jobUser", "serviceAccount:etl-loader@my-project.iam.gserviceaccount.com", 4),
        (None, "dataset:my-project.shared", 5),
    ]


@pytest.mark.parametrize(
    "member",
    [
        "serviceAccount:etl-loader@my-project.iam.gserviceaccount.com",
        "serviceAccount:a23456789012345678901234567890@my-project.iam.gserviceaccount.com",  # 30: the longest
        # Google's own accounts, which are not named by the user-managed account's rule:
        "serviceAccount:service-123456789012@gcp-sa-bigquerydatatransfer.iam.gserviceaccount.com",
        "serviceAccount:123456789012-compute@developer.gserviceaccount.com",
        "serviceAccount:my-project@appspot.gserviceaccount.com",
        "user:o'brien+bq@mail.example.co.uk",
        "domain:x.example.com",
    ],
)
def test_members_bigquery_accepts_pass_validate(workdir: Path, member: str) -> None:
    write(workdir / "schemas" / "sales" / "_dataset.yaml", f'access:\n  - {{role: READER, member: "{member}"}}\n')
    write(workdir / "schemas" / "sales" / "orders.yaml", TABLE)
    result = run_cli("validate")
    assert result.exit_code == 0, result.stderr
