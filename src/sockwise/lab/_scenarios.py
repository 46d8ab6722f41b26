"""The catalogue of lab scenarios: each name, where it is reached and what a client sees on Linux."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from sockwise._exceptions import ConfigError

__all__ = ["SCENARIOS", "Scenario", "get_scenario", "load_all", "register", "scenario_names"]


@dataclass(frozen=True, slots=True)
class Scenario:
    """One failure the lab can produce.

    Attributes:
        name: the name used in URLs (``/fault/<name>``), on the command line and in fixtures.
        kind: ``path`` (a path on the origin port, plain and TLS), ``port`` (its own port: the fault
            happens before HTTP), ``proxy`` (a forward-proxy profile) or ``netns`` (needs a private
            network namespace).
        description: one line.
        observed: what stdlib ``http.client`` / ``socket`` sees on Linux, as asserted by the lab's tests.
    """

    name: str
    kind: str
    description: str
    observed: str


_ALL = (
    # origin, reached by path
    Scenario("ok", "path", "200 with ?size=N bytes (default 2), keep-alive, ?chunked=1", "a normal response"),
    Scenario(
        "status",
        "path",
        "any ?code= (default 503) with optional ?retry_after=S or ?retry_after_date=S (HTTP-date S from now)",
        "a response with that status",
    ),
    Scenario(
        "reset-after-request",
        "path",
        "reads the request, then RST (SO_LINGER 0)",
        "getresponse(): ConnectionResetError errno 104",
    ),
    Scenario(
        "empty-reply",
        "path",
        "reads the request, then FIN without a response",
        "getresponse(): RemoteDisconnected (errno None)",
    ),
    Scenario(
        "reset-mid-body",
        "path",
        "announces ?size= bytes (100000), sends ?sent= (1000), then RST",
        "read(): the bytes sent, then ConnectionResetError errno 104",
    ),
    Scenario(
        "close-mid-body",
        "path",
        "announces ?size= bytes (100000), sends ?sent= (1000), then FIN",
        "read(): IncompleteRead(1000 bytes read, 99000 more expected)",
    ),
    Scenario(
        "stall-before-headers",
        "path",
        "reads the request and never answers",
        "getresponse(): TimeoutError('timed out', errno None) after the socket timeout",
    ),
    Scenario(
        "stall-mid-body",
        "path",
        "announces ?size= bytes (10), sends ?sent= (2), then never sends more",
        "read(): TimeoutError (errno None) after the socket timeout",
    ),
    Scenario(
        "trickle",
        "path",
        "sends ?size= body bytes (10) one every ?interval= seconds (0.2): defeats per-read timeouts",
        "succeeds, slowly: a per-read timeout longer than the interval never fires",
    ),
    Scenario("garbage", "path", "answers an SSH banner instead of HTTP", "getresponse(): BadStatusLine"),
    Scenario(
        "stale-keepalive",
        "path",
        "serves one response, then closes (FIN, or RST with ?mode=rst) as the next request arrives",
        "second getresponse() on the same connection: RemoteDisconnected (FIN) / ConnectionResetError 104 (RST)",
    ),
    # origin, on a port of their own
    Scenario(
        "refused",
        "port",
        "a port bound but not listening: the kernel answers SYN with RST",
        "connect(): ConnectionRefusedError errno 111",
    ),
    Scenario(
        "reset-on-accept",
        "port",
        "accepts, then RST at once",
        "connect() succeeds; send/recv: ConnectionResetError 104 (then BrokenPipeError 32 on later sends)",
    ),
    Scenario(
        "backlog-full",
        "port",
        "a listener whose accept queue is full: new SYNs are dropped",
        "connect() with a timeout: TimeoutError('timed out', errno None)",
    ),
    Scenario(
        "tls-to-plain",
        "port",
        "the plain origin port reached with https: answers 400 to the ClientHello",
        "wrap_socket/do_handshake: ssl.SSLError WRONG_VERSION_NUMBER",
    ),
    Scenario(
        "tls-stall",
        "port",
        "accepts a TLS client and never sends a ServerHello",
        "do_handshake: TimeoutError('_ssl.c: The handshake operation timed out')",
    ),
    Scenario(
        "bad-cert",
        "port",
        "TLS with a certificate from a CA the client does not trust",
        "do_handshake: ssl.SSLCertVerificationError (CERTIFICATE_VERIFY_FAILED, self-signed/unknown issuer)",
    ),
    Scenario(
        "wrong-host",
        "port",
        "TLS with a trusted certificate for another host name",
        "do_handshake: ssl.SSLCertVerificationError (CERTIFICATE_VERIFY_FAILED, Hostname mismatch)",
    ),
)

SCENARIOS: dict[str, Scenario] = {s.name: s for s in _ALL}


def register(scenario: Scenario) -> None:
    """Add a scenario to the catalogue (proxy profiles and namespace scenarios register themselves)."""
    SCENARIOS[scenario.name] = scenario


def scenario_names(kind: str | None = None) -> list[str]:
    """Names of the scenarios of one kind (or all), in catalogue order."""
    return [s.name for s in SCENARIOS.values() if kind is None or s.kind == kind]


def get_scenario(name: str, kind: str | None = None) -> Scenario:
    """Look a scenario up by name.

    Raises:
        ConfigError: no such scenario (the message suggests the closest names).
    """
    scenario = SCENARIOS.get(name)
    if scenario is None:
        scenario = load_all().get(name)
    if scenario is not None and (kind is None or scenario.kind == kind):
        return scenario
    names = scenario_names(kind)
    close = difflib.get_close_matches(name, names, n=3)
    hint = f"did you mean {', '.join(close)}?" if close else "run 'sockwise lab list' to see them all"
    what = f"{kind} scenario" if kind else "scenario"
    raise ConfigError(f"unknown lab {what} {name!r}; {hint}")


_PLUGGED = ("sockwise.lab._proxy", "sockwise.lab._netns")


def load_all() -> dict[str, Scenario]:
    """The whole catalogue, with the proxy profiles and namespace scenarios registered."""
    import importlib

    for module in _PLUGGED:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a plug-in still being written must not break the rest
            if exc.name != module:
                raise
    return SCENARIOS
