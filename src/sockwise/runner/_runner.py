"""Runner: the two thin drivers of the attempt loop, sync (:meth:`Runner.run`) and async (:meth:`Runner.arun`)."""

from __future__ import annotations

import functools
import importlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from sockwise._model import Attempt
from sockwise.retry import RetryPolicy, attempt_timeout
from sockwise.runner._clock import SYSTEM_CLOCK, Clock, monotonic_of
from sockwise.runner._flow import (
    _NO_ROUTES,
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
from sockwise.runner._routes import DirectRoutes, FixedProxyRoutes, Route, RouteProvider

__all__ = ["Runner"]

R = TypeVar("R")

# Route providers with one route that learn nothing: a first try on them needs no lease or report.
_STATIC_ROUTES = (DirectRoutes, FixedProxyRoutes)


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
        inspect: response -> status and ``Retry-After`` (duck-typed httpx/requests/aiohttp by default);
            pure: the first try's response may be inspected twice (:meth:`settle`, then the loop).
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
    # The one route of a static route provider when no hook wants every Attempt: requests on the
    # default policy then take the first try's short path (begin / settle). None otherwise.
    _static: Route | None = field(init=False, default=None, repr=False, compare=False)
    _monotonic: Callable[[], float] = field(init=False, default=time.monotonic, repr=False, compare=False)

    def __post_init__(self) -> None:
        static = None
        if self.on_attempt is None and type(self.routes) in _STATIC_ROUTES:
            static = self.routes.lease("", _NO_ROUTES)
        object.__setattr__(self, "_static", static)
        object.__setattr__(self, "_monotonic", monotonic_of(self.clock))

    def _flow(
        self,
        method: str,
        host: str,
        policy: RetryPolicy | None,
        overrides: Mapping[str, object] | None,
        first: tuple[AttemptContext, Any] | None = None,
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
            first,
        )

    # -- the first try's short path ---------------------------------------------------------------

    def begin(self, host: str) -> AttemptContext | None:
        """Start a request on the default policy: count it, and give its first attempt, or None.

        The short path of :meth:`run` / :meth:`arun`, for an integration that makes the first
        attempt itself (one call layer less on every request)::

            ctx = runner.begin(host)
            if ctx is None:  # a pool, or a hook that wants every Attempt: the whole loop
                return runner.run(send, method=method, host=host).response
            try:
                reply = send(ctx)
            except Exception as exc:
                reply = Raised(exc)
            else:
                if runner.settle(reply) is not None:
                    return reply  # the common case: done
            return runner.resume(send, ctx, reply, method=method, host=host).response

        Only for requests on :attr:`policy` (no per-request policy or overrides).

        Args:
            host: the request's host.

        Returns:
            The first attempt's context (the request's retry budget deposit made), or None unless
            the routes are exactly a :class:`DirectRoutes` or :class:`FixedProxyRoutes` (whose one
            route learns nothing) and ``on_attempt`` is None: use :meth:`run` / :meth:`arun` then.
        """
        route = self._static
        if route is None:
            return None
        policy = self.policy
        start = self._monotonic()
        budget = policy.budget
        if budget is not None:
            budget.deposit(host, start)
        timeout = policy.timeout if policy.deadline is None else attempt_timeout(policy, start, start)
        return AttemptContext(1, route, timeout, False, None, False, start)

    def settle(self, response: object) -> ResponseInfo | None:
        """Whether the response of the first attempt (the one :meth:`begin` gave) ends the request.

        Args:
            response: what the attempt returned.

        Returns:
            Its :class:`ResponseInfo` when the request is done (a status the policy does not
            retry); None when the loop must go on: call :meth:`resume` / :meth:`aresume` (a
            retried status, an inspector that raised, or a debug log that wants the record).
            The loop inspects the response again (inspectors are pure).

        Raises:
            BaseException: what the inspector raised that is not an ``Exception``
                (``KeyboardInterrupt``, a cancellation); the caller releases the response.
        """
        try:
            info = self.inspect(response)
        except Exception:
            return None  # the loop inspects it again, and releases the response when it raises
        status = info.status
        if status is not None and status in self.policy.failing_statuses:
            return None
        if self.logger.isEnabledFor(logging.DEBUG):
            return None  # the loop logs the attempt
        return info

    def _done(self, ctx: AttemptContext, info: ResponseInfo, response: R) -> RunResult[R]:
        return RunResult(response, (), None, (ctx.route, info.status, self._monotonic() - ctx.began))

    def resume(
        self, send: Callable[[AttemptContext], R], ctx: AttemptContext, reply: R | Raised, *, method: str, host: str
    ) -> RunResult[R]:
        """Go on with a request whose first attempt (:meth:`begin`) did not settle it.

        Args:
            send: performs the next attempts.
            ctx: the first attempt's context.
            reply: what the first attempt returned, or :class:`Raised` with its exception.
            method: the HTTP method.
            host: the request's host.

        Returns:
            The last response and every attempt, the first one included.

        Raises:
            RequestFailed: retries ended on a failure without a response (``from`` the last exception).
        """
        return self._drive(self._flow(method, host, None, None, (ctx, reply)), send)

    async def aresume(
        self,
        send: Callable[[AttemptContext], Awaitable[R]],
        ctx: AttemptContext,
        reply: R | Raised,
        *,
        method: str,
        host: str,
    ) -> RunResult[R]:
        """:meth:`resume` under asyncio: same arguments, result and errors, with an async ``send``."""
        return await self._adrive(self._flow(method, host, None, None, (ctx, reply)), send)

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
        ctx = self.begin(host) if policy is None and not overrides else None
        if ctx is None:
            return self._drive(self._flow(method, host, policy, overrides), send)
        reply: R | Raised
        try:
            response = send(ctx)
        except Exception as exc:
            reply = Raised(exc)
        else:
            try:
                info = self.settle(response)
            except BaseException:
                if self.release is not None:
                    self.release(response)
                raise
            if info is not None:
                return self._done(ctx, info, response)
            reply = response
        return self.resume(send, ctx, reply, method=method, host=host)

    def _drive(
        self,
        flow: Generator[AttemptContext | Sleep | Release[Any], Any, RunResult[Any]],
        send: Callable[[AttemptContext], R],
    ) -> RunResult[R]:
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
        ctx = self.begin(host) if policy is None and not overrides else None
        if ctx is None:
            return await self._adrive(self._flow(method, host, policy, overrides), send)
        reply: R | Raised
        try:
            response = await send(ctx)
        except Exception as exc:
            reply = Raised(exc)
        else:
            try:
                info = self.settle(response)
            except BaseException:
                await self._arelease(Release(response))
                raise
            if info is not None:
                return self._done(ctx, info, response)
            reply = response
        return await self.aresume(send, ctx, reply, method=method, host=host)

    async def _adrive(
        self,
        flow: Generator[AttemptContext | Sleep | Release[Any], Any, RunResult[Any]],
        send: Callable[[AttemptContext], Awaitable[R]],
    ) -> RunResult[R]:
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
