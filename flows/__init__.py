"""The dataflow: milestone lines -> validated, deduplicated, per-exception state -> DuckDB."""
