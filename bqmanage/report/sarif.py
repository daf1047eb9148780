"""SARIF 2.1.0 output of findings, as GitHub code scanning accepts it: each result is located at
the definition file and line of its table or column."""

from __future__ import annotations

import hashlib
from typing import Any

from bqmanage import __version__
from bqmanage.check.findings import FINDING_KINDS, SEVERITY, Finding
from bqmanage.model.schema import Definitions

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"error": "error", "warning": "warning", "note": "note"}
_HELP = {
    "missing_dataset": "A defined dataset does not exist.",
    "missing_table": "A defined table does not exist.",
    "missing_column": "A defined column is not in the live table.",
    "extra_column": "A live column is not defined.",
    "extra_table": "A live table in a defined dataset is not defined.",
    "type_mismatch": "A column's live type differs from its definition.",
    "mode_mismatch": "A column's live mode (NULLABLE/REQUIRED/REPEATED) differs from its definition.",
    "default_mismatch": "A column's live DEFAULT differs from its definition.",
    "description_mismatch": "A live description differs from its definition.",
    "partitioning_mismatch": "The live partitioning differs from the definition.",
    "clustering_mismatch": "The live clustering differs from the definition.",
    "option_mismatch": "A live table or dataset option differs from the definition.",
    "legacy_dataset": "A dataset still carries a legacy name.",
    "legacy_table": "A table still carries a legacy name.",
    "legacy_reference": "Code refers to a legacy name.",
    "unknown_table_reference": "Code refers to an undefined table.",
    "unknown_column_reference": "Code refers to an undefined column.",
    "sql_type_error": "A statement on a managed table has a type error (Google's GoogleSQL analyzer).",
    "orphan_dataset": "A live dataset matches a dataset template but belongs to no tenant of the registry.",
    "registry_row_invalid": "A registry row --all-tenants cannot take as written (a near-miss status, a tenant listed twice).",
    "pending_backfill": "An interrupted apply left a backfill unfinished: existing rows still lack a column's default.",
    "unreadable_path": "audit-code could not read a file or directory, so its contents were not audited.",
    "skipped_link": "A link inside an audited directory leads out of it, so its target was not audited.",
    "location_mismatch": "A live dataset is in another location than its definition says.",
    "row_access_policy_missing": "An isolated table lacks a row access policy its definition implies.",
    "row_access_policy_differs": "A live row access policy's filter or grantees differ from the definition (altered by hand).",
    "policy_tags_differ": "A column's live policy tags differ from its definition (a tag removed or changed by hand).",
    "isolation_leak": "The isolation probe: a tenant's member can read another tenant's rows.",
    "missing_grant": "A dataset access entry the definitions declare is not granted.",
    "unexpected_grant": "A dataset access entry is granted that the definitions do not declare.",
}


def _rule_name(kind: str) -> str:
    return "".join(part.capitalize() for part in kind.split("_"))


def _location(finding: Finding, desired: Definitions) -> dict[str, Any]:
    if finding.path is not None:  # a code finding: the source file, line and column
        return {
            "physicalLocation": {
                "artifactLocation": {"uri": finding.path, "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": finding.line or 1, "startColumn": finding.col or 1},
            }
        }
    uri, line = finding.definition, finding.definition_line
    if uri is None:
        # Legacy datasets have no definition of their own: point at the replacement's first table.
        candidates = [t for t in desired.tables if t.dataset == finding.replacement] or list(desired.tables)
        uri, line = candidates[0].source, 1
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": uri or "schemas", "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": max(1, line or 1)},
        }
    }


def to_sarif(findings: list[Finding], desired: Definitions, failures: list[str] | None = None) -> dict[str, Any]:
    """``failures``: what the run could not do (a tenant whose datasets could not be read), as
    tool execution notifications of an unsuccessful invocation."""
    rules = [
        {
            "id": kind,
            "name": _rule_name(kind),
            "shortDescription": {"text": _HELP[kind]},
            "defaultConfiguration": {"level": _LEVEL[SEVERITY[kind]]},
        }
        for kind in FINDING_KINDS
    ]
    results = []
    for finding in findings:
        identity = "|".join(
            str(x)
            for x in (finding.kind, finding.dataset, finding.table, finding.column)
            + ((finding.path, finding.line, finding.actual) if finding.path else ())
        )
        result: dict[str, Any] = {
            "ruleId": finding.kind,
            "ruleIndex": FINDING_KINDS.index(finding.kind),
            "level": _LEVEL[finding.severity],
            "message": {"text": finding.message},
            "locations": [_location(finding, desired)],
            "partialFingerprints": {"bqmanageFinding/v1": hashlib.sha256(identity.encode()).hexdigest()[:32]},
        }
        if finding.tenant is not None:
            result["properties"] = {"tenant": finding.tenant}
        results.append(result)
    invocation = {
        "executionSuccessful": not failures,
        "toolExecutionNotifications": [{"level": "error", "message": {"text": text}} for text in failures or []],
    }
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "bqmanage",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": "https://pypi.org/project/bqmanage/",
                        "rules": rules,
                    }
                },
                "results": results,
                "invocations": [invocation],
                "columnKind": "utf16CodeUnits",
            }
        ],
    }
