"""Exported KPI report (``fpi report --db DB --out FILE``); the format follows the file
ending: ``.pdf``, ``.xlsx``, ``.html``, ``.md``, ``.json``, ``.csv``.

A report a VP can forward: an executive summary on one page (the headline
sentence with the gap to target and where the SLA overrun sits, KPI tiles with
targets and changes against the previous period, trend charts, the top
bottleneck by lane, site, carrier and root cause, the top open exceptions by
revenue at risk), then details and an appendix of definitions generated from
the KPI catalog. Every number comes from the metric layer, for the same period
and filters as ``fpi kpis``.

Modules: :mod:`.content` (what the report says, computed once),
:mod:`.kpi_line` (value, previous, change, target of one KPI),
:mod:`.headline` (the sentence), :mod:`.cells` (cell text),
:mod:`.svg` (charts), :mod:`.document` (HTML), :mod:`.pdf` (Chromium),
:mod:`.workbook` (XLSX), :mod:`.plain` (JSON, CSV, Markdown),
:mod:`.render` (format dispatch, atomic write), :mod:`.command` (the CLI).

Public: :func:`write_report` and :func:`render_report` (also used by scheduled
e-mail reports), :func:`build_report`, :data:`FORMATS`, :data:`MEDIA_TYPES`,
:func:`report_format`, :class:`ChromiumError`, :func:`add_parser`.
"""

from __future__ import annotations

from .command import add_parser, cmd_report
from .content import Report, build_report
from .pdf import ChromiumError
from .render import FORMATS, MEDIA_TYPES, render, render_report, report_format, write_report

__all__ = [
    "FORMATS",
    "MEDIA_TYPES",
    "ChromiumError",
    "Report",
    "add_parser",
    "build_report",
    "cmd_report",
    "render",
    "render_report",
    "report_format",
    "write_report",
]
