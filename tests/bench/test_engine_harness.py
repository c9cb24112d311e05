"""The engine benchmark's harness: both passes run, cover the same commands and trade alike."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from array import array
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "engine"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_engine_{name}", BENCH / f"{name}.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


harness = _load("harness")


def test_satchel_adapter_untimed_pass_trades_as_the_timed_pass(tmp_path: Path) -> None:
    stream = tmp_path / "stream.csv"
    facts = _load("stream").generate(stream, 3000, 7)
    done = subprocess.run(
        [sys.executable, str(BENCH / "adapters" / "satchel.py"), str(stream), "-", "60"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["commands"] == summary["throughput_commands"] == 3000
    assert summary["trades"] == facts["trades"] > 0
    assert summary["throughput_same_trades"] is True
    assert summary["throughput_ops_per_s"] > 0
    assert summary["ops_per_s"] > 0


class _Counting:
    """Counts commands as trades; `drift` makes the untimed pass count differently."""

    def __init__(self, drift: int = 0) -> None:
        self.count, self.drift = 0, drift

    def timed(self, chunk: list[Any], latencies: array, offset: int) -> None:  # type: ignore[type-arg]
        for index, _ in enumerate(chunk, offset):
            latencies[index] = 1000
        self.count += len(chunk)

    def untimed(self, chunk: list[Any]) -> None:
        self.count += len(chunk) + self.drift

    def trades(self) -> dict[str, object]:
        return {"trades": self.count, "traded_lots": self.count}


def _stream(count: int) -> list[Any]:
    return [(harness.CANCEL, n, 1, 0, 0, 0) for n in range(count)]


def test_untimed_pass_runs_the_prefix_the_timed_pass_reached_at_the_budget() -> None:
    built: list[int] = []

    def build(stream: list[Any]) -> list[Any]:
        built.append(len(stream))
        return list(stream)

    summary = harness.measure("fake", _stream(1000), 0.0, build, _Counting, stride=64)
    # A spent budget stops the timed pass after its first chunk; the untimed pass gets that prefix.
    assert built == [1000, 64]
    assert (summary["commands"], summary["of"], summary["complete"]) == (64, 1000, False)
    assert summary["throughput_commands"] == 64
    assert summary["throughput_same_trades"] is True


def test_untimed_pass_that_trades_differently_is_reported() -> None:
    summary = harness.measure("fake", _stream(200), 60.0, list, lambda: _Counting(drift=1), stride=64)
    assert summary["commands"] == summary["throughput_commands"] == 200
    assert summary["throughput_same_trades"] is False
