"""The engine compiled by mypyc and the pure engine: which one loads, and that they agree.

This process runs one of them (the compiled one when `./satchel build-engine` has built the current
sources, the pure one with SATCHEL_ENGINE=pure or without a build); the tests here run the other in
a child process, so a suite run checks both: the engine's own tests, and a replay of a seeded
stream of every kind of command whose transcripts must be identical.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import exchange.engine
from exchange.engine import BUILD_ROOT, COMPILED_MODULES, source_digest

from .replay import transcript

ROOT = Path(__file__).resolve().parents[3]
IS_BUILT = (BUILD_ROOT / source_digest()).is_dir()
FORCED_PURE = os.environ.get("SATCHEL_ENGINE", "").lower() == "pure"


def _module_file(name: str) -> str:
    return importlib.import_module(f"exchange.engine.{name}").__file__ or ""


def _other_engine_env() -> dict[str, str]:
    """The environment that runs the engine this process does not run, or skip if there is none."""
    env = {key: value for key, value in os.environ.items() if key != "SATCHEL_ENGINE"}
    if exchange.engine.IMPLEMENTATION == "compiled":
        return {**env, "SATCHEL_ENGINE": "pure"}
    if not IS_BUILT:
        pytest.skip("no compiled engine for these sources (./satchel build-engine)")
    return env


@pytest.mark.skipif(
    not IS_BUILT or FORCED_PURE, reason="no compiled engine for these sources, or forced pure"
)
def test_the_compiled_engine_is_what_loads_when_built():
    assert exchange.engine.IMPLEMENTATION == "compiled"
    for name in COMPILED_MODULES:
        assert _module_file(name).endswith(".so"), name
    # The edges (Decimal conversions, snapshots) stay interpreted.
    for name in ("spec", "state"):
        assert _module_file(name).endswith(".py"), name


def test_forcing_the_pure_engine_loads_the_sources():
    code = "import exchange.engine.engine as e, exchange.engine as p; print(p.IMPLEMENTATION, e.__file__)"
    env = {**os.environ, "SATCHEL_ENGINE": "pure"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    implementation, path = done.stdout.split()
    assert implementation == "pure"
    assert path.endswith("exchange/engine/engine.py")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_both_engines_replay_a_seeded_stream_identically(seed):
    env = _other_engine_env()
    ours = transcript(seed, 3000)
    theirs = subprocess.run(
        [sys.executable, "-m", "tests.exchange.engine.replay", str(seed), "3000"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Fill(" in ours
    assert "OrderRejected(" in ours
    assert "CancelRejected(" in ours
    assert "OrderTriggered(" in ours
    assert theirs == ours


def test_the_engine_suite_passes_on_the_other_engine():
    env = _other_engine_env()
    engine_tests = Path(__file__).parent
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(engine_tests),
            f"--deselect={Path(__file__).relative_to(ROOT)}::test_the_engine_suite_passes_on_the_other_engine",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout
