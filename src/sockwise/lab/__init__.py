"""The fault lab: every socket failure a proxy user meets, on loopback, on purpose.

Start it in one line, point any client at it, and watch the client fail exactly as it does in
the field::

    from sockwise.lab import Lab

    with Lab() as lab:
        lab.url("reset-after-request")        # http://127.0.0.1:PORT/fault/reset-after-request
        lab.url("tls-stall")                  # a port whose TLS handshake never completes
        proxy = lab.add_proxy("connect-502")  # a forward proxy refusing every CONNECT

``sockwise lab list`` prints the catalogue; the pytest plugin gives the same as fixtures.
"""

from sockwise.lab._farm import Farm, parse_mix, start_farm
from sockwise.lab._lab import Lab
from sockwise.lab._netns import Netns, NetnsError, NetnsUnavailable, netns_available
from sockwise.lab._proxy import LabProxy, ProxySpec, ProxyStats, parse_profile
from sockwise.lab._scenarios import SCENARIOS, Scenario, get_scenario, scenario_names
from sockwise.lab._serve import Record

__all__ = [
    "SCENARIOS",
    "Farm",
    "Lab",
    "LabProxy",
    "Netns",
    "NetnsError",
    "NetnsUnavailable",
    "ProxySpec",
    "ProxyStats",
    "Record",
    "Scenario",
    "get_scenario",
    "netns_available",
    "parse_mix",
    "parse_profile",
    "scenario_names",
    "start_farm",
]
