"""sockwise.aiohttp.trace_config: what each aiohttp tracing signal notes in the running attempt (no sockets)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from sockwise import Phase
from sockwise.aiohttp import trace_config
from sockwise.aiohttp._hints import CURRENT_ATTEMPT
from sockwise.runner import DIRECT, AttemptContext

# signal -> (phase it notes, whether it proves a pooled connection)
_EXPECTED = {
    "on_connection_create_start": (Phase.CONNECT, False),
    "on_dns_resolvehost_start": (Phase.DNS, False),
    "on_dns_resolvehost_end": (Phase.CONNECT, False),
    "on_connection_create_end": (Phase.SEND, False),
    "on_connection_reuseconn": (Phase.SEND, True),
    "on_request_headers_sent": (Phase.WAIT, False),
}
_SILENT = ("on_request_start", "on_request_end", "on_request_exception", "on_response_chunk_received")


async def _fire(config: object, signal: str) -> None:
    for callback in getattr(config, signal):
        await callback(None, SimpleNamespace(), None)


def test_each_signal_notes_its_phase_and_only_reuse_notes_reuse() -> None:
    """Every hooked signal sets exactly its phase; only on_connection_reuseconn marks the connection reused."""
    config = trace_config()

    async def main() -> dict[str, tuple[Phase | None, bool]]:
        seen = {}
        for signal in _EXPECTED:
            ctx = AttemptContext(1, DIRECT, None)
            token = CURRENT_ATTEMPT.set(ctx)
            try:
                await _fire(config, signal)
            finally:
                CURRENT_ATTEMPT.reset(token)
            seen[signal] = (ctx.phase, ctx.reused_connection)
        return seen

    assert asyncio.run(main()) == _EXPECTED
    for signal in _SILENT:
        assert len(getattr(config, signal)) == 0


def test_signals_outside_an_attempt_change_nothing() -> None:
    """With no attempt running (CURRENT_ATTEMPT unset) the callbacks do nothing and raise nothing."""
    config = trace_config()
    ctx = AttemptContext(1, DIRECT, None)

    async def main() -> None:
        for signal in _EXPECTED:
            await _fire(config, signal)

    asyncio.run(main())
    assert (ctx.phase, ctx.reused_connection, CURRENT_ATTEMPT.get()) == (None, False, None)


def test_each_config_is_new_and_hooks_each_signal_once() -> None:
    """Two sessions get two TraceConfigs, each with one callback per hooked signal."""
    first, second = trace_config(), trace_config()
    assert first is not second
    for signal in _EXPECTED:
        assert len(getattr(first, signal)) == len(getattr(second, signal)) == 1
