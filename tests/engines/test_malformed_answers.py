"""An endpoint that answers 200 with JSON that is not what BigQuery's API answers (``{}`` to every
request, an access list that is no list, policy tags that are no object): every bigquery command
fails with one line that names where, exit 3, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from bqmanage.errors import WarehouseError
from bqmanage.model.rest import column_from_api, dataset_from_api
from tests.engines.test_endpoint_answers import COMMANDS, IDS, WHERE, _bigquery


def _empty(method: str, path: str) -> tuple[int, str | None, bytes]:
    return 200, "application/json", b"{}"


def _check(result: object) -> None:
    from tests.helpers import Result

    assert isinstance(result, Result)
    assert result.exit_code == 3, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {WHERE}"), result.stderr


# check reads the datasets from datasets.list, where {} is a project without datasets: drift, exit 1.
_COMMANDS = [c for c in COMMANDS if c != ["check"]] + [["tenant", "list"]]


@pytest.mark.parametrize("command", _COMMANDS, ids=[i for i in IDS if i != "check"] + ["tenant-list"])
def test_an_empty_object_for_every_answer_is_one_line_exit_3(
    command: list[str], workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.runtime import answering_endpoint

    with answering_endpoint(_empty) as url:
        _check(_bigquery(url, monkeypatch, *command))


@pytest.mark.parametrize("access", ["nope", ["nope"], [{"role": 3, "groupByEmail": "g@example.com"}]])
def test_an_access_list_of_the_wrong_type_is_a_warehouse_error(access: object) -> None:
    resource = {"id": "p:sales", "datasetReference": {"projectId": "p", "datasetId": "sales"}, "etag": "e", "access": access}
    with pytest.raises(WarehouseError, match="does not answer as the BigQuery API"):
        dataset_from_api(resource)


@pytest.mark.parametrize("tags", ["oops", ["a"], {"names": "a"}, {"names": [1]}])
def test_policy_tags_of_the_wrong_type_are_a_warehouse_error(tags: object) -> None:
    with pytest.raises(WarehouseError, match="does not answer as the BigQuery API"):
        column_from_api({"name": "c", "type": "STRING", "policyTags": tags})
