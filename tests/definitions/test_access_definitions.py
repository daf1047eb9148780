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
        ("'domain:{tenant}.example.com'", "is not valid for tenant id 'a_b'"),
        ("'group:{tenant}-{team}@example.com'", "the only placeholder is {tenant}"),
        ("'group:{tenant}'", "is not an email"),
    ],
)
def test_a_template_pattern_must_give_a_valid_member_for_every_tenant_id(workdir: Path, member: str, fragment: str) -> None:
    write(workdir / "schemas" / "tenant_{tenant}" / "_dataset.yaml", f"access:\n  - {{role: READER, member: {member}}}\n")
    result = run_cli("validate")
    assert result.exit_code == 2
    assert "schemas/tenant_{tenant}/_dataset.yaml:2: access[0].member" in result.stderr
    assert fragment in result.stderr


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
        "  - {role: roles/bigquery.jobUser, member: serviceAccount:etl@my-project.iam.gserviceaccount.com}\n"
        "  - {member: dataset:my-project.shared}\n",
    )
    write(workdir / "schemas" / "sales" / "orders.yaml", TABLE)
    sales = next(d for d in load_definitions(workdir / "schemas").datasets if d.name == "sales")
    assert sales.access_exclusive
    assert [(e.role, e.member, e.line) for e in sales.access or ()] == [
        ("READER", "group:analysts@example.com", 3),
        ("roles/bigquery.jobUser", "serviceAccount:etl@my-project.iam.gserviceaccount.com", 4),
        (None, "dataset:my-project.shared", 5),
    ]
