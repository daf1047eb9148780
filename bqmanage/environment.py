"""The environment variables that tune bqmanage beyond the global flags' own (each flag has its
BQMANAGE_* twin). Kept free of imports: ``bqmanage --help`` lists them, and settings.py reads them."""

ENVIRONMENT = {
    "BQMANAGE_LOCAL_PATH": "the local engine's DuckDB file [default: .bqmanage/local.duckdb]",
    "BQMANAGE_RETRY_DEADLINE": "seconds to retry rate limits, concurrent updates and network errors on BigQuery [default: 120]",
    "BQMANAGE_JOB_TIMEOUT": "seconds to wait for one BigQuery job before cancelling it [default: 3600]",
    "BQMANAGE_LOCK_TIMEOUT": "seconds to wait for another bqmanage using the local file [default: 60]",
    "BQMANAGE_INFO_SCHEMA_BATCH": "datasets per INFORMATION_SCHEMA query of check on BigQuery [default: 50]",
    "BQMANAGE_TENANT_WORKERS": "tenants applied or checked at once on BigQuery (--all-tenants) [default: 8]",
    "BQMANAGE_CONCURRENCY": "BigQuery requests (tables.get, datasets.get, catalog jobs) in flight at once [default: 8]",
    "BQMANAGE_AUDIT_PROCESSES": "1 makes audit-code read files in one process, 2 allows a second [default: 2, for large trees]",
    "BQMANAGE_LOAD_PROCESSES": "1 reads the definitions in one process, 2 allows a second [default: 2, from 64 datasets]",
}
