"""The aiohttp middleware's per-try timer: ours becomes the timeout, anyone else's cancellation goes on."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

import aiohttp
import pytest

from sockwise import Phase
from sockwise.aiohttp._middleware import _perform
from sockwise.runner import AttemptContext

pytestmark = pytest.mark.skipif(sys.version_info < (3, 11), reason="Python 3.10 bounds a try with asyncio.wait_for")


def _attempt(handler: Any, ctx: AttemptContext) -> Any:
    """One attempt of a stream request (the response head only) through ``handler``."""
    return _perform(ctx, object(), handler, True)  # type: ignore[arg-type]


def test_a_try_past_its_timeout_is_a_timeout_and_leaves_no_cancellation() -> None:
    """A handler that never answers ends as asyncio.TimeoutError; the task is not left cancelling."""

    async def never(request: object) -> object:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def main() -> int:
        ctx = AttemptContext(1, "direct", 0.05)
        with pytest.raises(asyncio.TimeoutError):
            await _attempt(never, ctx)
        task = asyncio.current_task()
        assert task is not None
        return task.cancelling()

    assert asyncio.run(main()) == 0


def test_a_handler_that_swallows_the_cancel_gets_its_answer_through() -> None:
    """An attempt that survives the timer's cancel returns its response, and the cancellation is taken back."""
    answer = object()

    async def stubborn(request: object) -> object:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.Event().wait()
        return answer

    async def main() -> tuple[object, int]:
        got = await _attempt(stubborn, AttemptContext(1, "direct", 0.05))
        task = asyncio.current_task()
        assert task is not None
        return got, task.cancelling()

    assert asyncio.run(main()) == (answer, 0)


def test_someone_elses_cancellation_is_not_a_timeout() -> None:
    """The caller cancelling the request mid-try gets CancelledError, not a timeout."""
    started = asyncio.Event()

    async def slow(request: object) -> object:
        started.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def main() -> None:
        inner = asyncio.create_task(_attempt(slow, AttemptContext(1, "direct", 30.0)))
        await started.wait()
        inner.cancel()
        with pytest.raises(asyncio.CancelledError):
            await inner

    asyncio.run(asyncio.wait_for(main(), 10))


def test_a_cancel_turned_into_another_error_is_that_error_and_leaves_no_cancellation() -> None:
    """A handler that answers the timer's cancel with its own error: that error comes out, no cancel is left."""

    async def converts(request: object) -> object:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise ValueError("turned") from None
        raise AssertionError("unreachable")

    async def main() -> int:
        with pytest.raises(ValueError, match="turned"):
            await _attempt(converts, AttemptContext(1, "direct", 0.05))
        task = asyncio.current_task()
        assert task is not None
        await asyncio.sleep(0.06)  # nothing of ours is left to cancel a later await
        return task.cancelling()

    assert asyncio.run(main()) == 0


class _EndlessBody:
    """A response whose body never ends; notes whether it was closed."""

    closed = False

    async def read(self) -> bytes:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.closed = True


def test_a_body_past_the_timeout_is_a_socket_timeout_and_the_response_is_closed() -> None:
    """The per-try timeout bounds reading the body too: phase body, aiohttp's socket timeout, connection not pooled."""
    response = _EndlessBody()

    async def answers(request: object) -> object:
        return response

    async def main() -> AttemptContext:
        ctx = AttemptContext(1, "direct", 0.05)
        with pytest.raises(aiohttp.SocketTimeoutError, match=r"attempt 1 ran out of its 0\.05 s in phase body"):
            await _perform(ctx, object(), answers, False)  # type: ignore[arg-type]
        return ctx

    assert asyncio.run(main()).phase is Phase.BODY
    assert response.closed
