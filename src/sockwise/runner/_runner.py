"""Runner: the two thin drivers of the attempt loop, sync (:meth:`Runner.run`) and async (:meth:`Runner.arun`)."""

from __future__ import annotations

import functools
import importlib
import logging
import random
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from sockwise._model import Attempt
from sockwise.retry import RetryPolicy
from sockwise.runner._clock import SYSTEM_CLOCK, Clock
from sockwise.runner._flow import (
    LOGGER,
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
from sockwise.runner._routes import DirectRoutes, RouteProvider

__all__ = ["Runner"]

R = TypeVar("R")


@functools.cache
def _default_classifier() -> Classifier:
    # Imported on first use (the classifier loads its per-library tables lazily, and tests of
    # the runner pass their own), then cached: this runs once per request.
    module = importlib.import_module("sockwise._classify")
    return cast(Classifier, module.classify)


@dataclass(frozen=True, slots=True)
class Runner:
    """The attempt loop for one client: route, attempt, classify, report, decide, sleep, repeat.

    An integration makes one Runner per client and calls :meth:`run` or :meth:`arun` per
    request with a ``send`` function that performs one attempt on ``context.route`` within
    ``context.timeout``, returns the response or raises, and notes its progress in
    ``context.phase`` (and ``context.reused_connection``). Example, the shape of an integration::

        runner = Runner(policy=RetryPolicy(deadline=10.0), release=lambda response: response.close())

        def send(ctx: AttemptContext) -> httpx.Response:
            ctx.phase = Phase.CONNECT  # as far as the client lets the caller tell
            return transport_for(ctx.route).handle_request(with_timeout(request, ctx.timeout))

        result = runner.run(send, method=request.method, host=request.url.host,
                            overrides=request.extensions.get("sockwise"))
        return result.response

    Attributes:
        policy: the default policy (per-request ``overrides`` merge over it).
        routes: the route provider (direct by default).
        classify: exception + phase hint + via_proxy -> Failure (default ``sockwise.classify``).
        inspect: response -> status and ``Retry-After`` (duck-typed httpx/requests/aiohttp by default).
        release: closes a response that will be retried (sync driver; the async one too when
            ``arelease`` is None).
        arelease: closes a response that will be retried, awaited by the async driver.
        on_attempt: called with each :class:`~sockwise.Attempt` as it is decided; exceptions it
            raises propagate.
        clock: time and sleep (:class:`~sockwise.testing.FakeClock` in tests).
        rng: the jitter's randomness (seed it for reproducible delays).
        logger: where each Attempt is logged: DEBUG done, INFO retry, WARNING give up, with
            ``sockwise_*`` fields in ``extra``; routes are redacted.
    """

    policy: RetryPolicy = field(default_factory=RetryPolicy)
    routes: RouteProvider = field(default_factory=DirectRoutes)
    classify: Classifier | None = None
    # Any: one Runner serves one client, whose response type its send functions fix per call.
    inspect: Callable[[Any], ResponseInfo] = inspect_response
    release: Callable[[Any], object] | None = None
    arelease: Callable[[Any], Awaitable[object]] | None = None
    on_attempt: Callable[[Attempt], None] | None = None
    clock: Clock = SYSTEM_CLOCK
    rng: random.Random = field(default_factory=random.Random)
    logger: logging.Logger = LOGGER

    def _flow(
        self, method: str, host: str, policy: RetryPolicy | None, overrides: Mapping[str, object] | None
    ) -> Generator[AttemptContext | Sleep | Release[Any], Any, RunResult[Any]]:
        base = self.policy if policy is None else policy
        # Positional: this runs once per request, and keyword arguments cost a call ~40 % more.
        return attempt_flow(
            base.with_overrides(overrides) if overrides else base,
            method,
            host,
            self.routes,
            self.classify if self.classify is not None else _default_classifier(),
            self.inspect,
            self.clock,
            self.rng,
            self.on_attempt,
            self.logger,
        )

    def run(
        self,
        send: Callable[[AttemptContext], R],
        *,
        method: str,
        host: str,
        policy: RetryPolicy | None = None,
        overrides: Mapping[str, object] | None = None,
    ) -> RunResult[R]:
        """Run one request to its end, blocking (sleeps with ``clock.sleep``).

        Args:
            send: performs one attempt; returns a response or raises.
            method: the HTTP method.
            host: the request's host.
            policy: this request's policy instead of :attr:`policy`.
            overrides: per-request overrides, e.g. ``{"retry": 5, "retry_delay": 1.0}``.

        Returns:
            The last response and every attempt.

        Raises:
            RequestFailed: retries ended on a failure without a response (``from`` the last exception).
            ConfigError: an unknown or invalid override.
        """
        flow = self._flow(method, host, policy, overrides)
        try:
            command = next(flow)
            while True:
                if type(command) is AttemptContext:
                    try:
                        reply: R | Raised | None = send(command)
                    except Exception as exc:
                        reply = Raised(exc)
                    command = flow.send(reply)
                elif type(command) is Sleep:
                    self.clock.sleep(command.delay)
                    command = flow.send(None)
                else:
                    if self.release is not None:
                        self.release(cast("Release[Any]", command).response)
                    command = flow.send(None)
        except StopIteration as stop:
            return cast("RunResult[R]", stop.value)
        finally:
            flow.close()

    async def arun(
        self,
        send: Callable[[AttemptContext], Awaitable[R]],
        *,
        method: str,
        host: str,
        policy: RetryPolicy | None = None,
        overrides: Mapping[str, object] | None = None,
    ) -> RunResult[R]:
        """Run one request to its end under asyncio (sleeps with ``clock.asleep``).

        Same arguments, result and errors as :meth:`run`, with an async ``send``. Cancelling
        the task cancels the attempt or the sleep and releases the route's lease.
        """
        flow = self._flow(method, host, policy, overrides)
        try:
            command = next(flow)
            while True:
                if type(command) is AttemptContext:
                    try:
                        reply: R | Raised | None = await send(command)
                    except Exception as exc:
                        reply = Raised(exc)
                    command = flow.send(reply)
                elif type(command) is Sleep:
                    await self.clock.asleep(command.delay)
                    command = flow.send(None)
                else:
                    await self._arelease(cast("Release[Any]", command))
                    command = flow.send(None)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]  # the flow returns RunResult[R]
        finally:
            flow.close()

    async def _arelease(self, command: Release[Any]) -> None:
        if self.arelease is not None:
            await self.arelease(command.response)
        elif self.release is not None:
            self.release(command.response)
