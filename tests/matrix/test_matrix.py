"""The classification matrix: every lab scenario x six HTTP clients x direct / through a lab proxy, on real sockets.

Each cell runs one client against the lab, classifies what it raised with ``classify(exc, via_proxy=...)``
and *no phase hint* (what a library user gets), and must match ``tests/matrix/expected.py`` exactly:
the exception, code, phase, blame, request_sent, errno and what the server saw. All cells run once per
module, in parallel groups (one lab per client, one network namespace), well under a minute.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.matrix._cells import CELLS, SPECS, Cell, Observed, run_cells
from tests.matrix._doc import parse_doc
from tests.matrix.expected import EXPECTED, alternatives

from sockwise.lab import Netns, netns_available
from sockwise.lab._scenarios import load_all

DOC = Path(__file__).resolve().parents[2] / "docs" / "matrix.md"

#: Lab scenarios the matrix leaves out, and why.
NOT_IN_MATRIX = {
    # Proxy profiles that are not failures of the proxy hop: the healthy proxy is every proxied route;
    # slow only adds latency; a ban is the site's status through the proxy (tests/lab covers both).
    "healthy": "the proxy of every proxied route",
    "slow": "latency only, no failure",
    "ban:<status>": "a status page, covered by the status row",
    # These need per-library socket options (keepalive, TCP_USER_TIMEOUT) and seconds of kernel timers;
    # tests/lab/test_netns.py pins what the socket sees.
    "peer-vanishes": "needs keepalive / TCP_USER_TIMEOUT socket options per library and ~3 s kernel timers",
    "zero-window": "needs TCP_USER_TIMEOUT per library and ~2.5 s kernel timers",
}


def _netns_reason() -> str:
    ok, reason = netns_available()
    return "" if ok else reason


@pytest.fixture(scope="module")
def matrix() -> Iterator[dict[Cell, Observed]]:
    """Every cell's observation, run once for the module (netns cells only where namespaces work)."""
    if _netns_reason():
        yield run_cells(CELLS)
        return
    with Netns(sysctls={"net.ipv4.tcp_retries2": 3}) as ns:
        results = run_cells(CELLS, netns=ns)
    if ns.errors:
        pytest.fail(f"the namespace's servers failed: {ns.errors!r}", pytrace=False)
    yield results


def _explain(observed: Observed) -> str:
    failure = observed.failure
    detail = failure.detail if failure is not None else f"status {observed.status}"
    return f"{observed.as_expect()} ({detail})"


@pytest.mark.parametrize("cell", CELLS, ids=lambda c: f"{c.row}:{c.client}:{c.route}")
def test_cell(cell: Cell, matrix: dict[Cell, Observed]) -> None:
    """One cell: the library's exception and sockwise's exact classification of it, and the server's count."""
    if cell.spec.kind == "netns" and cell not in matrix:
        reason = _netns_reason()
        if os.environ.get("SOCKWISE_REQUIRE_NETNS") == "1":
            pytest.fail(f"SOCKWISE_REQUIRE_NETNS=1 but network namespaces are unavailable: {reason}")
        pytest.skip(reason)
    observed = matrix[cell]
    legal = alternatives(EXPECTED[cell.key])
    assert observed.as_expect() in legal, f"{cell.key}: got {_explain(observed)}; expected one of {legal}"


def test_expected_table_has_exactly_the_cells() -> None:
    """The expected table and the cells the matrix runs are the same set: no cell untested, no stale row."""
    assert set(EXPECTED) == {cell.key for cell in CELLS}
    assert len(CELLS) == len({cell.key for cell in CELLS})


def test_every_lab_scenario_is_in_the_matrix_or_excused() -> None:
    """Each scenario of the lab's catalogue (origin, port, proxy, netns) is a row, or is excused with a reason."""
    catalogue = set(load_all())
    rows = {spec.lab_name for spec in SPECS}
    assert catalogue - rows == set(NOT_IN_MATRIX)
    assert rows <= catalogue


def test_doc_matches_the_expected_table() -> None:
    """docs/matrix.md was generated from a run that agreed with the current table: each row a legal outcome."""
    rows = parse_doc(DOC.read_text(encoding="utf-8"))
    assert sorted(rows) == sorted(EXPECTED), "docs/matrix.md is stale: run python -m tests.matrix"
    wrong = {key: got for key, got in rows.items() if got not in alternatives(EXPECTED[key])}
    assert not wrong, f"docs/matrix.md disagrees with tests/matrix/expected.py: {wrong}"
