"""``fpi import``: status logs (CSV) and event logs (XES) -> contract-v1 milestone events.

* ``mapping``: the TOML mapping file (which column is the case, the time, the
  actor; how ``exception.opened`` is filled; which rows become which
  lifecycle events).
* ``readers``: streams rows from CSV / XES, plain, ``.gz`` or in a ``.zip``.
* ``convert``: the rules that turn a case's rows into events.
* ``run``: writes JSON Lines (``--out``) or ingests them (``--db``).
"""

from __future__ import annotations

from .convert import Converter, RowError
from .mapping import Mapping, MappingError, load_mapping, parse_mapping
from .readers import LogReader, LogReadError, Row
from .run import ImportSummary, convert_to, import_into, staging_path, write_events

__all__ = [
    "Converter",
    "ImportSummary",
    "LogReadError",
    "LogReader",
    "Mapping",
    "MappingError",
    "Row",
    "RowError",
    "convert_to",
    "import_into",
    "load_mapping",
    "parse_mapping",
    "staging_path",
    "write_events",
]
