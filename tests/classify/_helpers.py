"""What the classify tests share: a failure's comparable shape and ways to raise real exception chains."""

from __future__ import annotations

from collections.abc import Callable

from sockwise import Blame, ErrorCode, Failure, Phase

Shape = tuple[ErrorCode, Phase, Blame, "bool | None", "int | None", "int | None"]


def shape(failure: Failure) -> Shape:
    """Code, phase, blame, request_sent, errno and status: what a classify test pins."""
    return (failure.code, failure.phase, failure.blame, failure.request_sent, failure.errno, failure.status)


def caught(fn: Callable[[], object], handling: BaseException | None = None) -> BaseException:
    """Run ``fn`` (inside an ``except`` for ``handling``, when given) and return what it raised."""
    try:
        if handling is None:
            fn()
        else:
            try:
                raise handling
            except BaseException:
                fn()
    except BaseException as exc:
        return exc
    raise AssertionError("nothing was raised")


def raise_(exc: BaseException, cause: BaseException | None = None) -> None:
    """Raise ``exc``, ``from cause`` when given."""
    if cause is None:
        raise exc
    raise exc from cause
