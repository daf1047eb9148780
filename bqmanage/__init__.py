"""bqmanage: keep a multi-tenant BigQuery warehouse exactly as its YAML definitions say."""

__version__ = "0.1.0"
