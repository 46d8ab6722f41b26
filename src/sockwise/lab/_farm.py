"""A proxy farm: many lab proxies with a known mix of profiles, as a proxy list a tool can load.

The mix is ``profile=count`` pairs, e.g. ``healthy=6,refuse=3,blackhole=3,reset-after-connect=3,auth=2,ban:403=3``.
When the counts do not add up to the farm's size they are scaled to it by largest remainder (each
profile gets ``count * size / total`` rounded down, and the proxies left over go to the largest
fractions, ties to the profile written first); a profile may so get none in a small farm. The
seed shuffles the order of the proxies in the list, reproducibly: the same size, mix and seed give
the same sequence of profiles (the ports differ from run to run).

The list written holds lab-made credentials for ``auth`` proxies; they protect nothing but the
lab, so writing them to a file is fine (it is what a user's proxy list looks like).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sockwise._exceptions import ConfigError
from sockwise._model import Proxy
from sockwise.lab._proxy import LabProxy, check_profile, parse_profile, start_proxy

if TYPE_CHECKING:
    from sockwise.lab._lab import Lab

__all__ = ["MAX_FARM", "Farm", "allocate", "farm_order", "parse_mix", "start_farm"]

MAX_FARM = 1000  # each proxy holds a port and a file descriptor
_MIX_FORMAT = "expected profile=count[,profile=count...], e.g. healthy=6,refuse=3,ban:403=3"


def parse_mix(text: str) -> dict[str, int]:
    """Parse a farm mix such as ``healthy=6,refuse=3,ban:403=3``.

    Args:
        text: comma-separated ``profile=count`` pairs; counts are integers >= 0, at least one > 0.

    Returns:
        The profiles and their counts, in the order written.

    Raises:
        ConfigError: a part does not parse, names an unknown profile, repeats a profile, or every count
            is 0; the message names the part and the expected format.
    """
    mix: dict[str, int] = {}
    parts = [p.strip() for p in text.split(",")]
    if not text.strip():
        raise ConfigError(f"the farm mix is empty; {_MIX_FORMAT}")
    for part in parts:
        profile, sep, count_text = (s.strip() for s in part.partition("="))
        if not part or not sep or not profile:
            raise ConfigError(f"bad farm mix part {part!r}; {_MIX_FORMAT}")
        if not count_text.isdigit():
            raise ConfigError(f"bad farm mix part {part!r}: the count must be an integer >= 0; {_MIX_FORMAT}")
        try:
            check_profile(profile)
        except ConfigError as exc:
            raise ConfigError(f"bad farm mix part {part!r}: {exc}") from None
        if profile in mix:
            raise ConfigError(f"bad farm mix part {part!r}: {profile} is already in the mix; {_MIX_FORMAT}")
        mix[profile] = int(count_text)
    if not any(mix.values()):
        raise ConfigError(f"the farm mix {text!r} has no proxy: every count is 0; {_MIX_FORMAT}")
    return mix


def allocate(mix: Mapping[str, int], size: int) -> dict[str, int]:
    """Scale a mix to ``size`` proxies by largest remainder (ties go to the profile written first).

    Args:
        mix: profile → count, as from :func:`parse_mix`.
        size: how many proxies the farm has.

    Returns:
        profile → count, summing to ``size`` (profiles scaled to 0 are kept with 0).

    Raises:
        ConfigError: ``size`` is out of 1..MAX_FARM or the mix is empty.
    """
    _check_size(size)
    total = sum(mix.values())
    if total <= 0:
        raise ConfigError(f"the farm mix has no proxy; {_MIX_FORMAT}")
    if total == size:
        return dict(mix)
    counts = {p: c * size // total for p, c in mix.items()}
    left = size - sum(counts.values())
    order = sorted(mix, key=lambda p: (-((mix[p] * size) % total), list(mix).index(p)))
    for profile in order[:left]:
        counts[profile] += 1
    return counts


def farm_order(mix: Mapping[str, int], size: int, seed: int) -> list[str]:
    """The profiles of a farm's proxies in list order: the allocated mix shuffled by ``seed``."""
    counts = allocate(mix, size)
    order = [profile for profile, count in counts.items() for _ in range(count)]
    random.Random(seed).shuffle(order)
    return order


def _check_size(size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_FARM:
        raise ConfigError(f"farm size must be an integer from 1 to {MAX_FARM}, not {size!r}")


@dataclass(frozen=True, slots=True)
class Farm:
    """A running farm of lab proxies (they stop with the lab).

    Attributes:
        proxies: the proxies, in list order.
        seed: the seed that shuffled them.
        mix: the allocated mix (profile → count, summing to the size).
    """

    proxies: tuple[LabProxy, ...]
    seed: int
    mix: Mapping[str, int]

    @property
    def profiles(self) -> dict[str, str]:
        """``Proxy.key`` (of each proxy's http form) → its profile: the truth a test checks against."""
        return {p.proxy.key: p.profile for p in self.proxies}

    @property
    def order(self) -> list[str]:
        """The profiles in list order (what the seed makes reproducible)."""
        return [p.profile for p in self.proxies]

    def profile_of(self, proxy: Proxy) -> str:
        """The profile behind a proxy of this farm, whatever its scheme.

        Raises:
            KeyError: the proxy is not one of this farm's.
        """
        for member in self.proxies:
            if (member.host, member.port) == (proxy.host, proxy.port):
                return member.profile
        raise KeyError(proxy.redacted)

    def by_profile(self, profile: str) -> list[LabProxy]:
        """The farm's proxies of one profile, in list order."""
        return [p for p in self.proxies if p.profile == profile]

    def as_proxies(self, scheme: str = "http") -> list[Proxy]:
        """Every proxy as a :class:`sockwise.Proxy` of ``scheme`` (http, socks4, socks5, socks5h)."""
        return [p.as_scheme(scheme) for p in self.proxies]

    def lines(self, scheme: str = "http") -> list[str]:
        """The proxy list's lines: ``scheme://[user:pass@]host:port`` for each proxy, in list order."""
        return [proxy.url for proxy in self.as_proxies(scheme)]

    def write_list(self, path: str | Path, scheme: str = "http") -> Path:
        """Write the proxy list: one ``scheme://[user:pass@]host:port`` a line, in list order.

        The credentials of ``auth`` proxies are written: they are made by the lab for the lab.

        Returns:
            The path written.
        """
        target = Path(path)
        target.write_text("".join(line + "\n" for line in self.lines(scheme)), encoding="utf-8")
        return target

    def __len__(self) -> int:
        return len(self.proxies)

    def __iter__(self) -> Iterator[LabProxy]:
        return iter(self.proxies)


def start_farm(lab: Lab, size: int, mix: Mapping[str, int] | str, seed: int = 0) -> Farm:
    """Start ``size`` lab proxies whose profiles follow ``mix``, shuffled by ``seed``.

    Args:
        lab: a running lab; the proxies stop with it.
        size: how many proxies (1..MAX_FARM); the mix's counts are scaled to it.
        mix: profile → count (from :func:`parse_mix`) or the mix text itself.
        seed: shuffles the list order reproducibly.

    Returns:
        The farm. Its proxies are also appended to ``lab.proxies``.

    Raises:
        ConfigError: bad mix or size.
    """
    counts = parse_mix(mix) if isinstance(mix, str) else dict(mix)
    for profile in counts:
        check_profile(profile)
    order = farm_order(counts, size, seed)
    specs = [parse_profile(profile) for profile in order]

    async def start_all() -> list[LabProxy]:
        return [await start_proxy(lab, spec) for spec in specs]

    proxies = lab.call(start_all())
    lab.proxies.extend(proxies)
    return Farm(tuple(proxies), seed, allocate(counts, size))
