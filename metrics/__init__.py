"""The metric layer: every KPI of ``shared/spec/kpis.md`` declared once, and queries.

Reads DuckDB only (read-only, short-lived connections); returns polars
DataFrames. The CLI, the dashboard and the reports all read numbers from here.
"""
