"""The chain walk: order, cycles, bounds, and which errno counts."""

from __future__ import annotations

import builtins
import socket
import ssl
import sys

import pytest

from sockwise._classify import walk_chain
from sockwise._classify._chain import MAX_DEPTH, MAX_LINKS, deepest_errno, is_real_errno, links


def _raise_from(outer: BaseException, cause: BaseException | None) -> BaseException:
    try:
        raise outer from cause
    except BaseException as exc:
        return exc


def _raise_during(outer: BaseException, handled: BaseException) -> BaseException:
    try:
        try:
            raise handled
        except BaseException:
            raise outer  # noqa: B904 - the implicit context is what is being built
    except BaseException as exc:
        return exc


class _WithReason(Exception):
    def __init__(self, reason: BaseException) -> None:
        super().__init__("wrapped")
        self.reason = reason


class _WithOsError(Exception):
    def __init__(self, os_error: OSError) -> None:
        super().__init__("wrapped")
        self._os_error = os_error

    @property
    def os_error(self) -> OSError:
        return self._os_error


def test_cause_is_walked_before_context() -> None:
    """__cause__ comes before __context__, both before .args members."""
    cause, context, arg = ValueError("cause"), KeyError("context"), TypeError("arg")
    outer = RuntimeError("outer", arg)
    outer.__cause__ = cause
    outer.__context__ = context
    assert walk_chain(outer) == (outer, cause, context, arg)


def test_reason_and_os_error_are_followed() -> None:
    """urllib3's .reason and aiohttp's .os_error lead to the wrapped error."""
    refused = ConnectionRefusedError(111, "Connection refused")
    assert walk_chain(_WithReason(refused))[1] is refused
    assert walk_chain(_WithOsError(refused))[1] is refused


def _reraise_from_none() -> None:
    try:
        raise ConnectionResetError(104, "reset")
    except ConnectionResetError:
        raise ValueError("clean") from None


def _reraise_from(cause: BaseException, handled: BaseException) -> None:
    try:
        raise handled
    except ConnectionResetError:
        raise ValueError("v") from cause


def test_from_none_hides_the_context() -> None:
    """``raise X from None`` suppresses the context: it is not walked."""
    with pytest.raises(ValueError, match="clean") as info:
        _reraise_from_none()
    assert walk_chain(info.value) == (info.value,)


def test_context_of_raise_from_is_still_walked() -> None:
    """``raise X from Y`` inside an except keeps the handled exception reachable."""
    handled = ConnectionResetError(104, "reset")
    cause = KeyError("other")
    with pytest.raises(ValueError, match="v") as info:
        _reraise_from(cause, handled)
    assert walk_chain(info.value) == (info.value, cause, handled)


def test_cycles_terminate_and_visit_each_once() -> None:
    """A cause cycle ends; every exception appears once."""
    a, b = ValueError("a"), ValueError("b")
    a.__cause__ = b
    b.__cause__ = a
    b.__context__ = b
    assert walk_chain(a) == (a, b)


def test_depth_is_bounded() -> None:
    """A chain deeper than MAX_DEPTH stops there."""
    top: BaseException = OSError(104, "bottom")
    for index in range(MAX_DEPTH * 3):
        top = _raise_from(ValueError(str(index)), top)
    assert max(depth for _, depth in links(top)) == MAX_DEPTH
    assert len(walk_chain(top)) == MAX_DEPTH + 1


_needs_groups = pytest.mark.skipif(sys.version_info < (3, 11), reason="ExceptionGroup is new in Python 3.11")


@_needs_groups
def test_breadth_is_bounded() -> None:
    """An exception group with many members yields at most MAX_LINKS links."""
    group = vars(builtins)["ExceptionGroup"]("many", [OSError(111, "x") for _ in range(MAX_LINKS * 2)])
    assert len(walk_chain(group)) == MAX_LINKS


@_needs_groups
def test_exception_group_members_are_walked() -> None:
    """Happy-eyeballs style groups expose their members' errnos."""
    refused = ConnectionRefusedError(111, "refused")
    top = _raise_from(OSError("All connection attempts failed"), vars(builtins)["ExceptionGroup"]("g", [refused]))
    assert deepest_errno(links(top)) == 111


def test_deepest_errno_wins_over_copies() -> None:
    """The deepest carrier decides; wrappers only copy."""
    root = ConnectionResetError(104, "reset")
    middle = _raise_from(OSError(32, "copied pipe"), root)
    assert deepest_errno(links(middle)) == 104


def test_ssl_errno_is_not_an_os_errno() -> None:
    """ssl.SSLError.errno (1 = SSL_ERROR_SSL) and copies of it above are never OS errnos."""
    ssl_error = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    copy = _raise_from(OSError(*ssl_error.args), ssl_error)  # aiohttp's ClientOSError(*exc.args)
    assert isinstance(copy, OSError)
    assert copy.errno == 1
    assert deepest_errno(links(copy)) is None
    assert deepest_errno(links(ssl.SSLEOFError(8, "EOF occurred in violation of protocol"))) is None


def test_resolver_codes_are_not_errnos() -> None:
    """socket.gaierror's negative EAI codes are not OS errnos."""
    gai = socket.gaierror(-2, "Name or service not known")
    assert deepest_errno(links(gai)) is None
    assert not is_real_errno(-2)
    assert is_real_errno(104)
    assert not is_real_errno(True)


def test_errno_less_and_non_os_errors_carry_none() -> None:
    """A chain of errno-less exceptions has no errno."""
    top = _raise_during(RuntimeError("outer"), TimeoutError("timed out"))
    assert deepest_errno(links(top)) is None


def test_property_that_raises_is_skipped() -> None:
    """A foreign attribute that raises does not break the walk."""

    class Hostile(Exception):
        @property
        def reason(self) -> BaseException:
            raise RuntimeError("no")

    exc = Hostile("h")
    assert walk_chain(exc) == (exc,)
