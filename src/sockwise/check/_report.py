"""A check's results as a file: CSV or JSON Lines, chosen by the file's extension."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path

from sockwise import ConfigError, Phase
from sockwise.check._check import CheckResult

__all__ = ["CSV_COLUMNS", "output_format", "write_results"]

_PHASE_COLUMNS = tuple(f"{phase}_ms" for phase in Phase if phase is not Phase.UNKNOWN)
#: The CSV header, in order. ``<phase>_ms`` is empty for a phase the probe did not reach.
CSV_COLUMNS = (
    "proxy",
    "protocol",
    "ok",
    "outcome",
    "status",
    "latency_ms",
    "code",
    "phase",
    "blame",
    "errno",
    "request_sent",
    "body_bytes",
    *_PHASE_COLUMNS,
    "target",
    "detail",
)
_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def output_format(path: str | Path) -> str:
    """The format a results file gets from its extension: ``csv`` or ``jsonl``.

    Raises:
        ConfigError: any other extension; the message lists the ones that work.
    """
    suffix = Path(path).suffix.lower()
    if suffix not in _FORMATS:
        raise ConfigError(
            f"cannot tell the format of {str(path)!r} from its extension {suffix or '(none)'!r}; "
            "name it .csv or .jsonl (.ndjson)"
        )
    return _FORMATS[suffix]


def _csv_row(result: CheckResult) -> dict[str, object]:
    record = result.as_dict()
    row: dict[str, object] = {key: record[key] for key in CSV_COLUMNS if key in record}
    for key in ("status", "code", "phase", "blame", "errno"):
        row[key] = "" if row[key] is None else row[key]
    row["ok"] = "true" if result.ok else "false"
    row["request_sent"] = {True: "true", False: "false", None: ""}[record["request_sent"]]
    for phase in Phase:
        if phase is not Phase.UNKNOWN:
            ms = result.phase_ms(phase)
            row[f"{phase}_ms"] = "" if ms is None else round(ms, 3)
    return row


def write_results(path: str | Path, results: Iterable[CheckResult]) -> Path:
    """Write a check's results to ``path``: CSV (``.csv``) or one JSON object a line (``.jsonl``).

    Every record shows the proxy redacted; no password is written.

    Args:
        path: the file to write (replaced if it exists).
        results: the results, in the order to write them.

    Returns:
        The path written.

    Raises:
        ConfigError: an extension other than .csv, .jsonl or .ndjson, or the file cannot be written.
    """
    target = Path(path)
    kind = output_format(target)
    try:
        with target.open("w", encoding="utf-8", newline="") as out:
            if kind == "csv":
                writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
                writer.writeheader()
                for result in results:
                    writer.writerow(_csv_row(result))
            else:
                for result in results:
                    out.write(json.dumps(result.as_dict(), ensure_ascii=False) + "\n")
    except OSError as exc:
        raise ConfigError(f"cannot write the results to {str(target)!r}: {exc.strerror or exc}") from None
    return target
