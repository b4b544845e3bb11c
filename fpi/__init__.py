"""fpi: fulfillment exception process intelligence.

Shared, dependency-light pieces used by both the dataflow (``flows``) and the
metric layer (``metrics``): configuration, the event contract, time helpers and
the DuckDB schema/connection rules.
"""

__version__ = "0.1.0"
