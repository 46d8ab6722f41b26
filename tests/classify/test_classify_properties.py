"""Properties of classify over arbitrary chains: it never raises and its answers are consistent."""

from __future__ import annotations

import errno
import itertools
import ssl

from hypothesis import given, settings
from hypothesis import strategies as st

from sockwise import ErrorCode, Failure, Phase
from sockwise._classify import classify, redact_credentials
from sockwise._classify._chain import is_real_errno

NOT_SENT_PHASES = {Phase.DNS, Phase.PROXY_CONNECT, Phase.PROXY_HANDSHAKE, Phase.CONNECT, Phase.TLS}

errnos = st.one_of(st.none(), st.integers(min_value=-20, max_value=200), st.sampled_from(sorted(errno.errorcode)))
texts = st.text(max_size=40)


@st.composite
def os_errors(draw: st.DrawFn) -> BaseException:
    number = draw(errnos)
    kind = draw(st.sampled_from(["oserror", "ssl", "timeout", "plain"]))
    if kind == "ssl":
        exc: BaseException = ssl.SSLError(draw(st.integers(0, 10)), draw(texts))
        if draw(st.booleans()):
            exc.reason = draw(st.sampled_from([None, "WRONG_VERSION_NUMBER", "UNEXPECTED_EOF_WHILE_READING"]))  # type: ignore[attr-defined]
        return exc
    if kind == "timeout":
        return TimeoutError(number, draw(texts)) if number is not None else TimeoutError(draw(texts))
    if kind == "plain":
        return RuntimeError(draw(texts))
    return OSError(number, draw(texts)) if number is not None else OSError(draw(texts))


@st.composite
def chains(draw: st.DrawFn) -> BaseException:
    """A chain of OSErrors linked by cause, context, args and .reason, sometimes with a cycle."""
    nodes = draw(st.lists(os_errors(), min_size=1, max_size=8))
    for upper, lower in itertools.pairwise(nodes):
        link = draw(st.sampled_from(["cause", "context", "reason", "arg"]))
        if link == "cause":
            upper.__cause__ = lower
        elif link == "context":
            upper.__context__ = lower
        elif link == "reason":
            upper.reason = lower  # type: ignore[attr-defined]
        else:
            upper.args = (*upper.args, lower)
    if len(nodes) > 1 and draw(st.booleans()):
        nodes[-1].__context__ = nodes[draw(st.integers(0, len(nodes) - 2))]
    return nodes[0]


hints = st.one_of(st.none(), st.sampled_from(list(Phase)))


@settings(max_examples=300, deadline=None)
@given(exc=chains(), phase=hints, via_proxy=st.booleans(), status=st.one_of(st.none(), st.integers(100, 599)))
def test_classify_never_raises_and_is_consistent(
    exc: BaseException, phase: Phase | None, via_proxy: bool, status: int | None
) -> None:
    """For any chain: a Failure, an errno that is None or a real OS errno, and a coherent request_sent."""
    failure = classify(exc, phase=phase, status=status, via_proxy=via_proxy)
    assert isinstance(failure, Failure)
    assert failure.errno is None or is_real_errno(failure.errno)
    assert failure.request_sent is not True or failure.phase not in NOT_SENT_PHASES
    assert "\n" not in failure.detail
    assert len(failure.detail) <= 300
    if failure.code is ErrorCode.ETIMEDOUT:
        assert failure.errno in (None, errno.ETIMEDOUT)


@settings(max_examples=100, deadline=None)
@given(exc=chains(), phase=hints, via_proxy=st.booleans())
def test_classify_is_pure(exc: BaseException, phase: Phase | None, via_proxy: bool) -> None:
    """The same input gives the same Failure."""
    assert classify(exc, phase=phase, via_proxy=via_proxy) == classify(exc, phase=phase, via_proxy=via_proxy)


@settings(max_examples=200, deadline=None)
@given(number=st.sampled_from(sorted(errno.errorcode)), text=texts)
def test_a_bare_errno_is_reported_as_itself(number: int, text: str) -> None:
    """A lone OSError with an OS errno reports exactly that errno."""
    assert classify(OSError(number, text)).errno == number


@given(number=st.integers(0, 10), text=texts)
def test_ssl_codes_never_become_errnos(number: int, text: str) -> None:
    """An SSLError's errno (an SSL_ERROR_* code) is never reported, whatever wraps it."""
    ssl_error = ssl.SSLError(number, text)
    wrapper = OSError(number, text)
    wrapper.__cause__ = ssl_error
    assert classify(ssl_error).errno is None
    assert classify(wrapper).errno is None


secret = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=%", min_size=1)


@given(user=secret, password=secret, scheme=st.sampled_from(["http", "https", "socks5", "socks5h"]))
def test_redaction_hides_any_password(user: str, password: str, scheme: str) -> None:
    """No password survives redaction of a proxy URL, whatever characters it holds."""
    marker = "PW" + password
    text = f"failed via {scheme}://{user}:{marker}@10.1.2.3:8080/path"
    redacted = redact_credentials(text)
    assert marker not in redacted
    assert redacted.endswith("@10.1.2.3:8080/path")
