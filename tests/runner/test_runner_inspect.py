"""inspect_response: status and Retry-After read from httpx, requests and aiohttp shaped responses."""

from __future__ import annotations

from dataclasses import dataclass, field

from sockwise.runner import ResponseInfo, inspect_response


@dataclass
class StatusCode:
    status_code: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Status:
    status: int
    headers: dict[str, str] = field(default_factory=dict)


def test_status_code_attribute() -> None:
    """httpx/requests: status_code and a Retry-After header."""
    assert inspect_response(StatusCode(503, {"Retry-After": "4"})) == ResponseInfo(503, "4")


def test_status_attribute() -> None:
    """aiohttp: status."""
    assert inspect_response(Status(429, {"Retry-After": "1"})) == ResponseInfo(429, "1")


def test_retry_after_ignored_on_success() -> None:
    """A 200's Retry-After is not read."""
    assert inspect_response(StatusCode(200, {"Retry-After": "4"})) == ResponseInfo(200, None)


def test_unknown_object_has_no_status() -> None:
    """An object without a status counts as a success."""
    assert inspect_response(object()) == ResponseInfo(None)
    assert inspect_response(StatusCode(True)) == ResponseInfo(None)
