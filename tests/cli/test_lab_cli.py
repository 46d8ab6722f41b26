"""`sockwise lab` and `sockwise demo` from the command line: output, exit codes, bad input."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request

import pytest
from click.testing import CliRunner

from sockwise.cli._main import cli


def test_lab_list_json_has_every_origin_scenario() -> None:
    """`lab list --json` lists every path and port scenario with a description and what a client sees."""
    from sockwise.lab import scenario_names

    result = CliRunner().invoke(cli, ["lab", "list", "--json"])
    assert result.exit_code == 0, result.output
    items = {item["name"]: item for item in json.loads(result.output)}
    for name in scenario_names("path") + scenario_names("port"):
        assert items[name]["description"]
        assert items[name]["observed"]


def test_lab_list_table_filters_by_kind() -> None:
    """`lab list --kind port` prints a table of the port scenarios only."""
    result = CliRunner().invoke(cli, ["lab", "list", "--kind", "port"])
    assert result.exit_code == 0
    assert "backlog-full" in result.output
    assert "reset-after-request" not in result.output


def test_lab_serve_runs_until_interrupted() -> None:
    """`lab serve --json` prints where scenarios listen, serves them, and exits 0 on Ctrl-C."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "sockwise", "lab", "serve", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        info = json.loads(proc.stdout.readline())
        with urllib.request.urlopen(info["scenarios"]["ok"], timeout=5) as resp:
            assert resp.read() == b"ok"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_lab_serve_port_in_use_is_one_line_exit_2() -> None:
    """A port in use gives exit 2 and one line naming the port, no traceback."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli, ["lab", "serve", "--port", str(port), "--duration", "0"])
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"sockwise: port {port} on 127.0.0.1 is in use (lab origin); choose another port, or 0 for a free one"
    )


@pytest.mark.parametrize("mix", ["healthy=six", "healthy", "nonsense=2", "healthy=-1"])
def test_lab_farm_bad_mix_is_exit_2(mix: str) -> None:
    """A farm mix that does not parse gives exit 2 and one line quoting the bad part."""
    result = CliRunner().invoke(cli, ["lab", "farm", "--size", "3", "--mix", mix, "--duration", "0"])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1
    assert result.output.startswith("sockwise: ")


def test_demo_shows_each_fault() -> None:
    """`sockwise demo` meets every origin scenario and shows what a plain client saw."""
    result = CliRunner().invoke(cli, ["demo", "--no-proxies", "--timeout", "0.3"])
    assert result.exit_code == 0, result.output
    for expected in ("ConnectionResetError", "RemoteDisconnected", "IncompleteRead", "BadStatusLine"):
        assert expected in result.output
    assert "ConnectionRefusedError" in result.output
    assert "SSLCertVerificationError" in result.output
