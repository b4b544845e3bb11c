"""The fpi dashboard: Streamlit + Plotly over the metric layer (read-only).

``fpi dashboard --db DB`` runs ``dashboard/app.py`` (see :mod:`dashboard.launch`).
Pages live in ``dashboard/app_pages/``; figures are pure functions in
:mod:`dashboard.charts`; every number comes from ``metrics.*`` through the
cached, read-only loaders of :mod:`dashboard.data`.
"""
