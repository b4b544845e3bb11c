"""The per-exception rules of ``shared/spec/kpis.md``, each written once as SQL.

The expressions read the rule vocabulary, not a table's columns:

* ``active_s`` — the SLA clock (active seconds) at the moment judged; for a
  resolved exception, the clock at ``resolved_at`` (it stops when resolved);
* ``target_s`` — the SLA target in seconds (``sla_target_hours × 3600``);
* ``manual_touches``, ``reopen_count``, ``resolved_by_kind`` (``human`` |
  ``system``) — as in the ``exceptions`` table.

Each rule is about a *resolved* exception; the caller restricts to resolved
rows. Two places apply them: the metric layer (``metrics.catalog``: the
shares ``sla_adherence``, ``first_touch_resolution_rate``,
``auto_resolution_rate``, over its working set which has these columns) and
the sink, which stores them as the ``exceptions`` columns ``met_sla``,
``first_touch_resolution`` and ``auto_resolved`` (bound to that table's
columns in ``core.schema``; NULL unless resolved).
"""

from __future__ import annotations

MET_SLA = "active_s <= target_s"
"""kpis.md: "met SLA: resolved and ``active_seconds(resolved_at)`` ≤ target"."""

FIRST_TOUCH_RESOLUTION = "manual_touches <= 1 AND reopen_count = 0"
"""kpis.md: "first-touch resolution: resolved, ``manual_touches`` ≤ 1 and
``reopen_count`` = 0"."""

AUTO_RESOLVED = "manual_touches = 0 AND resolved_by_kind = 'system'"
"""kpis.md: "auto-resolved: resolved, ``manual_touches`` = 0, and the resolving
event's actor is ``system``"."""
