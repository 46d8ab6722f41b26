"""The one attempt loop that joins classify, retry and routes; integrations only perform attempts.

Layer ``runner``: imports the model, classify (lazily), retry and the route seam. The loop is a
sans-IO generator (:func:`attempt_flow`) driven by :meth:`Runner.run` (sync) and
:meth:`Runner.arun` (asyncio); both produce the same Attempts for the same outcomes. A first try on
the default policy and a static route takes a short path (:meth:`Runner.begin` and
:meth:`Runner.settle`) and enters the loop only when it does not settle the request.
"""

from sockwise.runner._clock import SYSTEM_CLOCK, Clock, SystemClock
from sockwise.runner._flow import (
    AttemptContext,
    Classifier,
    Raised,
    Release,
    ResponseInfo,
    RunResult,
    Sleep,
    attempt_flow,
    inspect_response,
)
from sockwise.runner._pool_routes import PoolRoutes
from sockwise.runner._routes import (
    DIRECT,
    DirectRoutes,
    FixedProxyRoutes,
    Route,
    RouteProvider,
    resolve_routes,
    route_label,
)
from sockwise.runner._runner import Runner

__all__ = [
    "DIRECT",
    "SYSTEM_CLOCK",
    "AttemptContext",
    "Classifier",
    "Clock",
    "DirectRoutes",
    "FixedProxyRoutes",
    "PoolRoutes",
    "Raised",
    "Release",
    "ResponseInfo",
    "Route",
    "RouteProvider",
    "RunResult",
    "Runner",
    "Sleep",
    "SystemClock",
    "attempt_flow",
    "inspect_response",
    "resolve_routes",
    "route_label",
]
