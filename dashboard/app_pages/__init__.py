"""Pages of the dashboard, run by ``st.navigation`` in ``dashboard/app.py``."""
