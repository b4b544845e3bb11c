"""The ground floor of fpi: the event contract, configuration, time, and storage.

Everything above imports from here and nothing here imports any other package
of the project (``./dev test`` checks it with import-linter):

* :mod:`core.contract` — the milestone event contract (events.md) as pydantic models;
* :mod:`core.config` — the one frozen settings object (SLA policy, currency rates);
* :mod:`core.timeutil` — UTC time helpers and the injected clock;
* :mod:`core.schema` — every table declared once (DDL, row order, dtypes, keys);
* :mod:`core.rules` — rules of kpis.md written once in SQL (met SLA, first-touch, auto-resolved);
* :mod:`core.db` — connections and the one-writer/many-readers rules;
* :mod:`core.order_state` — the per-order fold written by the sink and replayed by queries;
* :mod:`core.safe_text` — data shown as text: spreadsheet-safe CSV, terminal-safe strings.
"""
