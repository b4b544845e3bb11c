"""The distributor's world: sites, lanes, carriers, customers, currencies and zones.

Static tables only (no randomness): five distribution centres with their
destinations and carrier shares, the planted carrier's share of the planted
lane, transit times, the release profile, customer tiers, exchange rates, and
how each source system writes timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .labels import PLANTED_CARRIER
from .timestamps import Zone

RATES_TO_USD: Final[dict[str, float]] = {
    "USD": 1.0,
    "EUR": 1.08,
    "GBP": 1.27,
    "CAD": 0.73,
    "MXN": 0.058,
}
CARRIERS: Final = ("ACME", "BLUEWAVE", "NORTHSTAR", "PACRIM", "REDLINE")


@dataclass(frozen=True, slots=True)
class Site:
    """A distribution centre: its destinations and carriers with their weights."""

    name: str
    origin: str
    zone: Zone
    weight: float
    dests: tuple[tuple[str, float], ...]
    carriers: tuple[tuple[str | None, float], ...]


# fmt: off
SITES: Final[tuple[Site, ...]] = (
    Site("DC-ATL", "ATL", (-240, "-04:00", False), 24,
         (("MIA", 26), ("ORL", 12), ("TPA", 10), ("CLT", 12), ("BNA", 10), ("BHM", 8),
          ("JAX", 8), ("SAV", 6), ("ATL", 10), ("MEM", 8)),
         (("ACME", 30), ("BLUEWAVE", 25), ("NORTHSTAR", 15), ("REDLINE", 25), (None, 5))),
    Site("DC-DAL", "DAL", (-300, "-05:00", False), 20,
         (("HOU", 18), ("AUS", 14), ("SAT", 12), ("OKC", 10), ("MTY", 8), ("PHX", 10),
          ("DEN", 10), ("MSY", 8), ("DAL", 10)),
         (("ACME", 30), ("BLUEWAVE", 20), ("NORTHSTAR", 25), ("PACRIM", 10), ("REDLINE", 10),
          (None, 5))),
    Site("DC-CHI", "CHI", (-300, "-05:00", False), 22,
         (("DET", 14), ("MKE", 12), ("MSP", 14), ("STL", 12), ("IND", 12), ("CLE", 10),
          ("TOR", 8), ("MCI", 8), ("CHI", 10)),
         (("ACME", 30), ("BLUEWAVE", 20), ("NORTHSTAR", 35), ("REDLINE", 10), (None, 5))),
    Site("DC-LAX", "LAX", (-420, "-07:00", False), 18,
         (("SFO", 18), ("SAN", 14), ("SEA", 14), ("PDX", 10), ("LAS", 12), ("PHX", 10),
          ("TIJ", 8), ("SLC", 8), ("LAX", 6)),
         (("ACME", 25), ("PACRIM", 45), ("BLUEWAVE", 15), ("NORTHSTAR", 10), (None, 5))),
    Site("DC-NJ", "EWR", (-240, "-04:00", False), 16,
         (("NYC", 18), ("BOS", 14), ("PHL", 14), ("BWI", 10), ("DCA", 12), ("PIT", 8),
          ("MTL", 8), ("HFD", 6), ("EWR", 10)),
         (("ACME", 35), ("BLUEWAVE", 30), ("NORTHSTAR", 20), ("REDLINE", 10), (None, 5))),
)
# fmt: on
PLANTED_LANE_CARRIERS: Final[tuple[tuple[str | None, float], ...]] = (
    (PLANTED_CARRIER, 65),
    ("ACME", 15),
    ("BLUEWAVE", 15),
    (None, 5),
)
"""REDLINE holds the contract for most of the ATL→MIA volume."""

# fmt: off
DEST_OFFSET: Final[dict[str, int]] = {
    **dict.fromkeys(("MIA", "ORL", "TPA", "CLT", "JAX", "SAV", "ATL", "DET", "CLE", "IND",
                     "TOR", "NYC", "BOS", "PHL", "BWI", "DCA", "PIT", "MTL", "HFD", "EWR"), -240),
    **dict.fromkeys(("BNA", "BHM", "MEM", "HOU", "AUS", "SAT", "OKC", "MSY", "DAL", "MKE",
                     "MSP", "STL", "MCI", "CHI", "MTY"), -300),
    **dict.fromkeys(("DEN", "SLC"), -360),
    **dict.fromkeys(("PHX", "SFO", "SAN", "SEA", "PDX", "LAS", "LAX", "TIJ"), -420),
}
# fmt: on
"""UTC offset of each destination, in minutes."""
CROSS_BORDER: Final[dict[str, str]] = {"MTY": "MX", "TIJ": "MX", "TOR": "CA", "MTL": "CA"}
_FAR_LANES: Final[frozenset[tuple[str, str]]] = frozenset(
    {
        ("DAL", "PHX"),
        ("DAL", "DEN"),
        ("LAX", "SEA"),
        ("LAX", "SLC"),
        ("ATL", "MEM"),
        ("CHI", "MCI"),
        ("LAX", "PDX"),
        ("EWR", "PIT"),
    }
)

CARRIER_ZONE: Final[dict[str, Zone]] = {
    "ACME": (0, "Z", True),
    "BLUEWAVE": (120, "+02:00", True),
    "NORTHSTAR": (-300, "-05:00", False),
    "PACRIM": (-420, "-07:00", True),
    "REDLINE": (-240, "-04:00", False),
}
SOURCE_ZONE: Final[dict[str, Zone]] = {
    "ERP": (0, "Z", False),
    "TMS": (0, "+00:00", False),
    "CRM": (-300, "-05:00", False),
    "FINANCE": (120, "+02:00", False),
    "EDI": (0, "Z", True),
    "CARRIER": (0, "Z", True),
}

# Release profile by local hour (ERP release waves; EDI orders trickle in overnight).
# fmt: off
LOCAL_HOUR_WEIGHTS: Final = (1, 1, 1, 1, 1, 2, 4, 7, 9, 10, 10, 10,
                             9, 10, 10, 9, 8, 6, 5, 4, 3, 2, 2, 1)
# fmt: on
# Lines per order 1..12, mean 4.01.
LINES_WEIGHTS: Final = (22, 18, 14, 11, 9, 7, 5, 4, 3, 3, 2, 2)
TIERS: Final = ("strategic", "key", "standard")
TIER_WEIGHTS: Final = (15, 30, 55)
TIER_CUSTOMERS: Final[dict[str, tuple[int, int]]] = {
    "strategic": (10_001, 60),
    "key": (20_001, 400),
    "standard": (30_001, 4_000),
}
"""Customer ids by tier: (first number, count)."""
TIER_VALUE: Final[dict[str, float]] = {"strategic": 1.8, "key": 1.3, "standard": 1.0}


def transit_days(origin: str, dest: str) -> int:
    """Planned transit days of a lane."""
    if dest == origin:
        return 1
    if dest in CROSS_BORDER:
        return 4
    if (origin, dest) in _FAR_LANES:
        return 3
    return 2


def zone_for(source: str, site: Site, carrier: str | None) -> Zone:
    """How ``source`` writes timestamps for an order of ``site`` shipped by ``carrier``."""
    if source == "WMS":
        return site.zone
    if source == "CARRIER":
        return CARRIER_ZONE.get(carrier or "", SOURCE_ZONE["CARRIER"])
    return SOURCE_ZONE[source]
