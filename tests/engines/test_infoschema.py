"""Pure tests of the INFORMATION_SCHEMA reader: the batched SQL and rows -> the model."""

from __future__ import annotations

import sqlglot

from bqmanage.engines import infoschema
from bqmanage.model.rest import table_from_api


def test_union_all_batches_dataset_qualified_views_in_one_query() -> None:
    views = ["COLUMNS", "TABLES"]
    sql = infoschema.catalog_sql(views, ["a", "b"], "my-proj", frozenset({"COLUMNS.column_default"}))
    assert sql.count("UNION ALL") == 3  # two views of two datasets
    assert "FROM `my-proj`.`a`.INFORMATION_SCHEMA.COLUMNS" in sql and "`my-proj`.`b`.INFORMATION_SCHEMA.TABLES" in sql
    assert "CAST(NULL AS STRING) AS column_default" in sql and "CAST(NULL AS INT64) AS ordinal_position" in sql
    sqlglot.parse_one(sql, read="bigquery")
    assert infoschema.batches(list("abcde"), 2) == [["a", "b"], ["c", "d"], ["e"]]
    rows = [
        {"catalog_view": "TABLES", "table_schema": "a", "table_name": "t", "table_type": "BASE TABLE", "column_name": None},
        {"catalog_view": "COLUMNS", "table_schema": "a", "table_name": "t", "column_name": "id", "table_type": None},
    ]
    split = infoschema.split_rows(rows)
    assert split["TABLES"] == [{"table_schema": "a", "table_name": "t", "table_type": "BASE TABLE", "ddl": None}]
    assert split["COLUMNS"][0]["column_name"] == "id" and "table_type" not in split["COLUMNS"][0]


def test_region_qualified_is_one_query_with_a_parameter() -> None:
    sql = infoschema.catalog_sql(list(infoschema.VIEWS), ["a", "b"], "my-proj", region="EU")
    assert sql.startswith("SELECT ") and "`my-proj`.`region-eu`.INFORMATION_SCHEMA.TABLE_OPTIONS" in sql
    assert sql.count("IN UNNEST(@datasets)") == len(infoschema.VIEWS) and sql.count("UNION ALL") == len(infoschema.VIEWS) - 1
    sqlglot.parse_one(sql, read="bigquery")


def test_rows_become_the_model() -> None:
    t = {"table_schema": "tenants", "table_name": "q"}
    rows = {
        "COLUMNS": [
            {
                **t,
                "column_name": "id",
                "ordinal_position": 1,
                "is_nullable": "NO",
                "data_type": "STRING",
                "is_partitioning_column": "NO",
                "clustering_ordinal_position": 1,
                "column_default": None,
            },
            {
                **t,
                "column_name": "day",
                "ordinal_position": 2,
                "is_nullable": "YES",
                "data_type": "DATE",
                "is_partitioning_column": "YES",
                "clustering_ordinal_position": None,
                "column_default": None,
            },
            {
                **t,
                "column_name": "gb",
                "ordinal_position": 3,
                "is_nullable": "YES",
                "data_type": "NUMERIC(10, 2)",
                "is_partitioning_column": "NO",
                "clustering_ordinal_position": None,
                "column_default": "0",
            },
            {
                **t,
                "column_name": "tags",
                "ordinal_position": 4,
                "is_nullable": "YES",
                "data_type": "ARRAY<STRUCT<k STRING, v INT64>>",
                "is_partitioning_column": "NO",
                "clustering_ordinal_position": None,
                "column_default": None,
            },
            {
                **t,
                "column_name": "_PARTITIONTIME",
                "ordinal_position": None,
                "is_nullable": "YES",
                "data_type": "TIMESTAMP",
                "is_partitioning_column": "NO",
                "clustering_ordinal_position": None,
                "column_default": None,
            },
        ],
        "COLUMN_FIELD_PATHS": [
            {**t, "column_name": "gb", "field_path": "gb", "data_type": "NUMERIC(10, 2)", "description": "storage"},
            {**t, "column_name": "tags", "field_path": "tags.k", "data_type": "STRING", "description": "key"},
        ],
        "TABLES": [
            {
                **t,
                "table_type": "BASE TABLE",
                "ddl": "CREATE TABLE `p.tenants.q`\n(...)\nPARTITION BY DATE_TRUNC(day, MONTH)\nCLUSTER BY id;",
            }
        ],
        "TABLE_OPTIONS": [
            {**t, "option_name": "description", "option_value": '"quota \\"table\\""'},
            {**t, "option_name": "labels", "option_value": '[STRUCT("owner", "platform"), STRUCT("tier", "gold")]'},
            {**t, "option_name": "require_partition_filter", "option_value": "true"},
            {**t, "option_name": "partition_expiration_days", "option_value": "30.0"},
        ],
    }
    (resource,) = infoschema.to_resources("p", rows).values()
    table = table_from_api(resource)
    assert [c.name for c in table.columns] == ["id", "day", "gb", "tags"]
    gb = table.column("gb")
    assert gb is not None and (gb.type_sql(), gb.default, gb.description) == ("NUMERIC(10, 2)", "0", "storage")
    tags = table.column("tags")
    assert tags is not None and tags.mode == "REPEATED" and tags.type_sql() == "ARRAY<STRUCT<`k` STRING, `v` INT64>>"
    assert tags.fields[0].description == "key"
    assert table.column("id").mode == "REQUIRED"  # type: ignore[union-attr]
    assert table.partitioning is not None and (table.partitioning.column, table.partitioning.granularity) == ("day", "MONTH")
    assert table.clustering == ("id",)
    assert table.description == 'quota "table"'
    assert table.labels == {"owner": "platform", "tier": "gold"}
    assert table.require_partition_filter is True and table.partition_expiration_days == 30.0
