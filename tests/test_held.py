"""sockwise._held.HeldLRU: per-proxy pools kept to a bound, closed once nobody holds them (no sockets)."""

from __future__ import annotations

from sockwise._held import HeldLRU


def _lru(size: int) -> tuple[HeldLRU[str, str], list[str]]:
    made: list[str] = []

    def make(key: str) -> str:
        made.append(key)
        return f"pool:{key}"

    return HeldLRU(make, size), made


def test_a_key_is_made_once_and_kept_most_recently_used() -> None:
    """acquire makes a key's resource on first use only, and moves the key to the most recent end."""
    lru, made = _lru(3)
    for key in ("a", "b", "a", "c"):
        entry, idle = lru.acquire(key)
        assert entry.value == f"pool:{key}"
        assert idle == ()
        lru.release(entry)
    assert made == ["a", "b", "c"]
    assert lru.keys() == ["b", "a", "c"]
    assert len(lru) == 3


def test_an_idle_evicted_resource_is_handed_back_at_once() -> None:
    """Past the bound, the least recently used key is dropped; nobody holds it, so acquire returns it to close."""
    lru, _ = _lru(2)
    for key in ("a", "b"):
        lru.release(lru.acquire(key)[0])
    entry, idle = lru.acquire("c")
    assert idle == ["pool:a"]
    assert lru.keys() == ["b", "c"]
    assert lru.release(entry) is None  # kept: nothing to close


def test_a_held_evicted_resource_is_closed_by_its_last_release() -> None:
    """A dropped resource still held is never handed back under its users: the last release returns it."""
    lru, made = _lru(1)
    first, _ = lru.acquire("a")
    second, _ = lru.acquire("a")
    assert first is second
    assert list(lru.acquire("b")[1]) == []  # "a" dropped, but held twice: nothing to close now
    assert lru.release(first) is None
    assert lru.release(second) == "pool:a"
    assert lru.acquire("a")[0].value == "pool:a"  # made again, a new resource
    assert made == ["a", "b", "a"]


def test_one_shot_and_take_all() -> None:
    """A one-shot resource is returned by its release; take_all hands over everything kept or held, once."""
    lru, _ = _lru(2)
    shot = lru.one_shot("pool:fresh")
    assert lru.release(shot) == "pool:fresh"
    kept, _ = lru.acquire("a")
    lru.acquire("b")
    lru.acquire("c")  # "a" dropped while held
    held = lru.one_shot("pool:other")
    assert sorted(lru.take_all()) == ["pool:a", "pool:b", "pool:c", "pool:other"]
    assert lru.keys() == []
    assert lru.release(kept) is None  # already handed over by take_all
    assert lru.release(held) is None
