"""Seeded, deterministic generator of contract-v1 milestone streams.

What is generated (``shared/spec/events.md``), for a distributor shipping
``lines_per_day`` order lines a day (about four lines per order) from five
distribution centres (``DC-ATL``, ``DC-DAL``, ``DC-CHI``, ``DC-LAX``, ``DC-NJ``):

* every order gets ``order.released`` (site, lane, carrier — absent for will-call
  orders —, customer tier, value in USD/EUR/CAD/MXN/GBP, ``promised_delivery_at``,
  ``lines``); most then get ``order.shipped``, ``order.delivered`` (``in_full``,
  some late) and ``order.invoiced``;
* about 4 % of orders get an exception (a few get two), with the full lifecycle:
  ``opened`` → ``assigned`` (sometimes reassigned) → human and system ``touched`` →
  ``escalated`` (levels 1–3) → ``paused``/``resumed`` (waiting on customer or
  carrier) → ``resolved`` (some auto-resolved by a system with no human touch) →
  sometimes ``reopened`` and resolved again; a few are ``cancelled`` (opened in
  error) and a few are never resolved (backlog). Active (SLA-clock) time is
  log-normal, by root cause, severity and customer tier.

**Planted bottleneck** (:data:`PLANTED_BOTTLENECK`): carrier ``REDLINE`` on lane
``ATL→MIA`` (site ``DC-ATL``; REDLINE carries 65 % of that lane). Orders of
REDLINE on ATL→MIA get an exception about 8× as often as other orders (30 % vs
3.6 %), mostly missed pickups, carrier capacity and carrier failures; each needs
4–6× the active (SLA-clock) time of a medium-severity exception of the same root
cause *whatever its severity* (the carrier does not speed up for urgent ones),
gets more than twice the manual touches, is escalated in 80 % of cases (vs
about 15 %), reassigned and reopened about three times as often, and stays stuck
twice as often. REDLINE is the top carrier, ATL→MIA the top lane and DC-ATL the
top site by SLA overrun hours, with the default configuration, with the demo
file and at ``days=2, lines_per_day=5000`` (about 70 % of all overrun hours at
full scale).

With ``mess=True`` the stream looks like a real feed: about 1 % exact duplicate
re-sends, a few same-``event_id`` re-sends with a different body, arrival order
different from event time (per-source delivery delays of seconds to hours),
``exception.opened`` arriving after its follow-ups, clock drift (an
``exception.assigned`` stamped slightly before its ``exception.opened``), local
UTC offsets (``Z``, ``+00:00``, ``-04:00``, ``-05:00``, ``-07:00``, ``+02:00``),
milliseconds from some systems, ``schema_version`` ``"1.1"`` with unknown extra
fields, blank lines and about 0.1 % bad lines covering every rejection reason
(``invalid_json``, ``schema``, ``unknown_event_type``, ``unsupported_version``,
``naive_timestamp``, ``unknown_currency``, ``duplicate_open``). With
``mess=False`` the same world is written clean: UTC ``Z`` timestamps in event-time
order, no duplicates, no bad lines.

The world (orders, exceptions, their event times and event ids) does not depend
on ``mess``: the mess is drawn from separate random streams. Each day is drawn
from its own seeded random stream.
The output is a pure function of :class:`GeneratorConfig`; nothing reads the
wall clock.

Modules, each importing only from those above it:

* :mod:`.config` — :class:`GeneratorConfig`, :data:`DEFAULT_START`;
  :mod:`.labels` — ground truth: :data:`PLANTED_BOTTLENECK`, line labels,
  :data:`BAD_LINE_KINDS`; :mod:`.timestamps` — epoch ms and their RFC 3339 text;
  :mod:`.sampling` — weighted picks, Poisson counts;
* :mod:`.world` — sites, lanes, carriers, tiers, currencies, source zones;
  :mod:`.taxonomy` — root causes and severities; :mod:`.world_event` — an event
  before rendering; :mod:`.summary` — running counts and :class:`GenerationSummary`;
* :mod:`.exceptions` — root cause and lifecycle script of each exception;
* :mod:`.orders` — orders day by day (with the knock-on effects of exceptions);
* :mod:`.render` — clean lines with event ids; :mod:`.mess` — the real-feed mess;
* :mod:`.stream` — day by day, in arrival order: :func:`generate_labelled`,
  :func:`generate_events`;
* :mod:`.writer` — :func:`write_stream`; :mod:`.demo` — the shipped demo file
  (:data:`DEMO_CONFIG`, :data:`DEMO_PATH`, :func:`write_demo`); ``__main__``
  regenerates it (``python -m sample_streams.generator``).
"""

from .config import DEFAULT_START, GeneratorConfig
from .demo import DEMO_CONFIG, DEMO_PATH, write_demo
from .labels import BAD_LINE_KINDS, PLANTED_BOTTLENECK
from .stream import generate_events, generate_labelled
from .summary import GenerationSummary
from .writer import write_stream

__all__ = [
    "BAD_LINE_KINDS",
    "DEFAULT_START",
    "DEMO_CONFIG",
    "DEMO_PATH",
    "PLANTED_BOTTLENECK",
    "GenerationSummary",
    "GeneratorConfig",
    "generate_events",
    "generate_labelled",
    "write_demo",
    "write_stream",
]
