"""One request, step by step on stdlib sockets, with every phase observed and timed."""

from sockwise.probe._probe import PhaseTiming, ProbeResult, probe

__all__ = ["PhaseTiming", "ProbeResult", "probe"]
