"""audit-code: legacy names and unknown table/column references in application source files."""
