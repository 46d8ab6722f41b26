"""The proxy farm: mix parsing, scaling, seeded order, the list file, and each proxy behaving as its profile."""

from __future__ import annotations

import base64
import http.client
import socket
from pathlib import Path

import pytest

from sockwise import ConfigError, Proxy
from sockwise.lab import Lab
from sockwise.lab._farm import MAX_FARM, Farm, allocate, farm_order, parse_mix, start_farm
from sockwise.lab._proxy import LabProxy

MIX = "healthy=6,refuse=3,blackhole=3,reset-after-connect=3,auth=2,ban:403=3"
FORMAT = "expected profile=count[,profile=count...], e.g. healthy=6,refuse=3,ban:403=3"


# -- parsing and allocation (no sockets) ----------------------------------------------------------------------------
def test_parse_mix() -> None:
    """A mix parses into profile → count in the order written, spaces allowed."""
    assert parse_mix(MIX) == {
        "healthy": 6,
        "refuse": 3,
        "blackhole": 3,
        "reset-after-connect": 3,
        "auth": 2,
        "ban:403": 3,
    }
    assert list(parse_mix(" slow = 1 , healthy=0,ban:429=2")) == ["slow", "healthy", "ban:429"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", f"the farm mix is empty; {FORMAT}"),
        ("healthy", f"bad farm mix part 'healthy'; {FORMAT}"),
        ("healthy=6,,refuse=1", f"bad farm mix part ''; {FORMAT}"),
        ("=3", f"bad farm mix part '=3'; {FORMAT}"),
        ("healthy=six", f"bad farm mix part 'healthy=six': the count must be an integer >= 0; {FORMAT}"),
        ("healthy=-1", f"bad farm mix part 'healthy=-1': the count must be an integer >= 0; {FORMAT}"),
        ("healty=3", "bad farm mix part 'healty=3': unknown lab proxy profile 'healty'; did you mean healthy?"),
        ("ban=3", "bad farm mix part 'ban=3': lab proxy profile 'ban' needs a status: write ban:403 or ban:429"),
        ("healthy=1,healthy=2", f"bad farm mix part 'healthy=2': healthy is already in the mix; {FORMAT}"),
        ("healthy=0,refuse=0", f"the farm mix 'healthy=0,refuse=0' has no proxy: every count is 0; {FORMAT}"),
    ],
)
def test_parse_mix_errors(text: str, message: str) -> None:
    """A bad mix raises ConfigError naming the bad part and the expected format."""
    with pytest.raises(ConfigError) as info:
        parse_mix(text)
    assert str(info.value).startswith(message)


def test_allocate_scales_by_largest_remainder() -> None:
    """Counts that do not sum to the size are scaled to it; leftovers go to the largest fractions, then mix order."""
    mix = parse_mix(MIX)  # sums to 20
    assert allocate(mix, 20) == mix
    assert allocate(mix, 10) == {
        "healthy": 3,
        "refuse": 2,  # 1.5 each for refuse, blackhole, reset-after-connect and ban:403: the first two win
        "blackhole": 2,
        "reset-after-connect": 1,
        "auth": 1,
        "ban:403": 1,
    }
    assert allocate({"healthy": 1, "refuse": 1, "auth": 1}, 2) == {"healthy": 1, "refuse": 1, "auth": 0}
    assert allocate({"healthy": 2}, 7) == {"healthy": 7}
    for size in range(1, 41):
        assert sum(allocate(mix, size).values()) == size


@pytest.mark.parametrize("size", [0, -1, MAX_FARM + 1])
def test_allocate_rejects_bad_sizes(size: int) -> None:
    """A farm size outside 1..MAX_FARM is a ConfigError."""
    with pytest.raises(ConfigError, match=rf"^farm size must be an integer from 1 to {MAX_FARM}, not {size}$"):
        allocate({"healthy": 1}, size)


def test_seed_makes_the_order_reproducible() -> None:
    """The same mix, size and seed give the same profile order; another seed gives another one."""
    mix = parse_mix(MIX)
    assert farm_order(mix, 20, 7) == farm_order(mix, 20, 7)
    assert farm_order(mix, 20, 7) != farm_order(mix, 20, 8)
    assert sorted(farm_order(mix, 20, 7)) == sorted(p for p, n in mix.items() for _ in range(n))


# -- running farms --------------------------------------------------------------------------------------------------
def test_start_farm_follows_mix_and_seed(sockwise_lab: Lab) -> None:
    """start_farm starts size proxies in the seeded order; profiles maps each Proxy.key to its profile."""
    farm = start_farm(sockwise_lab, 20, MIX, seed=3)
    assert len(farm) == 20
    assert farm.order == farm_order(parse_mix(MIX), 20, 3)
    assert farm.mix == parse_mix(MIX)
    assert farm.profiles == {p.proxy.key: p.profile for p in farm}
    assert len(farm.profiles) == 20
    assert len({p.port for p in farm}) == 20
    assert sockwise_lab.proxies == list(farm.proxies)
    again = start_farm(sockwise_lab, 20, parse_mix(MIX), seed=3)
    assert again.order == farm.order
    assert {p.name for p in again}.isdisjoint(p.name for p in farm)


def test_write_list(sockwise_lab: Lab, tmp_path: Path) -> None:
    """write_list writes one scheme://[user:pass@]host:port a line, in list order, credentials of auth included."""
    farm = start_farm(sockwise_lab, 5, "healthy=3,auth=2", seed=1)
    path = farm.write_list(tmp_path / "proxies.txt")
    lines = path.read_text().splitlines()
    assert lines == [p.proxy.url for p in farm]
    for proxy, line in zip(farm, lines, strict=True):
        if proxy.profile == "auth":
            assert line == f"http://lab:{proxy.spec.password}@127.0.0.1:{proxy.port}"
        else:
            assert line == f"http://127.0.0.1:{proxy.port}"
    socks = farm.write_list(tmp_path / "socks.txt", scheme="socks5").read_text().splitlines()
    assert [s.split("://")[0] for s in socks] == ["socks5"] * 5
    assert farm.profile_of(Proxy("socks5", "127.0.0.1", farm.proxies[0].port)) == farm.proxies[0].profile
    with pytest.raises(KeyError):
        farm.profile_of(Proxy("http", "127.0.0.1", 1))


def _observe(lab: Lab, proxy: LabProxy) -> str:
    """What stdlib http.client sees through one proxy: a short verdict."""
    conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=0.5)
    conn.set_tunnel(lab.host, lab.port("origin"))
    try:
        conn.request("GET", "/fault/ok")
        resp = conn.getresponse()
        return f"status {resp.status}"
    except ConnectionRefusedError:
        return "refused"
    except http.client.RemoteDisconnected:  # a ConnectionResetError too, with no errno: test it first
        return "empty reply"
    except ConnectionResetError as exc:
        return f"reset {exc.errno}"
    except TimeoutError:
        return "timeout"
    except OSError as exc:
        return str(exc)
    finally:
        conn.close()


EXPECTED = {
    "healthy": "status 200",
    "slow": "status 200",
    "refuse": "refused",
    "blackhole": "timeout",
    "auth": "Tunnel connection failed: 407 Proxy Authentication Required",
    "connect-502": "Tunnel connection failed: 502 Bad Gateway",
    "connect-403": "Tunnel connection failed: 403 Forbidden",
    "reset-after-connect": "reset 104",
    "upstream-dead": "empty reply",
    "ban:403": "status 403",
    "ban:429": "status 429",
}


def test_every_farm_proxy_behaves_as_its_profile(sockwise_lab: Lab) -> None:
    """Each proxy of a farm holding every profile shows, through http.client, exactly its profile's behaviour."""
    mix = ",".join(f"{profile}={2 if profile == 'healthy' else 1}" for profile in EXPECTED)
    farm: Farm = start_farm(sockwise_lab, 12, mix, seed=5)
    seen = {proxy.proxy.key: _observe(sockwise_lab, proxy) for proxy in farm}
    assert seen == {key: EXPECTED[profile] for key, profile in farm.profiles.items()}


def test_farm_auth_proxies_accept_their_listed_credentials(sockwise_lab: Lab) -> None:
    """The credentials written for an auth proxy open it (through SOCKS5 user/pass here)."""
    farm = start_farm(sockwise_lab, 2, "auth=1", seed=0)
    for member in farm:
        proxy = member.as_scheme("socks5")
        assert proxy.username is not None
        assert proxy.password is not None
        sock = socket.create_connection((proxy.host, proxy.port), timeout=5)
        sock.sendall(b"\x05\x01\x02")
        assert sock.recv(2) == b"\x05\x02"
        user, password = proxy.username.encode(), proxy.password.encode()
        sock.sendall(b"\x01" + bytes([len(user)]) + user + bytes([len(password)]) + password)
        assert sock.recv(2) == b"\x01\x00"
        sock.close()
        token = base64.b64encode(user + b":" + password).decode()
        conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=5)
        conn.request("GET", sockwise_lab.url("ok"), headers={"Proxy-Authorization": f"Basic {token}"})
        assert conn.getresponse().read() == b"ok"
        conn.close()
