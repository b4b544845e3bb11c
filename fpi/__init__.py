"""fpi: fulfillment exception process intelligence — the applications.

The command line (:mod:`fpi.cli`), exported reports (:mod:`fpi.report`) and the
renderers of results for people and tools (:mod:`fpi.output`). They sit on top:
they use ``flows`` and ``metrics`` (and the ground, ``core``), and nothing
imports them.
"""

__version__ = "0.1.0"
