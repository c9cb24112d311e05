"""`./satchel build-engine`: compile the matching engine (`exchange/engine/`) with mypyc.

The bootstrap calls `ensure()` on every start: it does nothing when a build for the current sources
exists (or failed before), so the compiler runs once per change of the engine's sources. The build
lands in `<venv>/satchel-engine/<source digest>/`, where `exchange/engine/__init__.py` looks for
it; if mypyc is missing or the compile fails, one line goes to stderr and the pure engine is used.

The compile runs in a temporary directory next to the builds and is renamed into place in one step,
so concurrent starts never load a half-written build.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from exchange.engine import BUILD_ROOT, COMPILED_MODULES, source_digest

ROOT = Path(__file__).resolve().parent.parent

# Run in a child interpreter: setuptools and mypy stay out of the launcher's process, and the
# compiler's output is captured for the failure report.
_SETUP = """
import sys
from mypyc.build import mypycify
from setuptools import setup

work, paths = sys.argv[1], sys.argv[2:]
setup(
    name="satchel-engine",
    packages=[],
    py_modules=[],
    ext_modules=mypycify(
        ["--follow-imports=silent", *paths],
        opt_level="3",
        target_dir=work + "/c",
        group_name="exchange.engine._compiled",
    ),
    script_args=["build_ext", "--build-lib", work + "/out", "--build-temp", work + "/tmp", "--quiet"],
)
"""


def _failed_marker(digest: str) -> Path:
    return BUILD_ROOT / f"{digest}.failed"


def build(*, force: bool = False) -> bool:
    """Compile the engine for the current sources unless done (or failed) already; True if a
    build for them exists afterwards."""
    digest = source_digest()
    target = BUILD_ROOT / digest
    if target.is_dir():
        return True
    failed = _failed_marker(digest)
    if failed.exists() and not force:
        return False
    BUILD_ROOT.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    print("satchel: compiling the matching engine with mypyc (once per engine change)", file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix="build-", dir=BUILD_ROOT))
    try:
        paths = [f"exchange/engine/{name}.py" for name in COMPILED_MODULES]
        env = {**os.environ, "MYPY_CACHE_DIR": str(work / "mypy-cache")}
        result = subprocess.run(
            [sys.executable, "-c", _SETUP, str(work), *paths],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        built = work / "out" / "exchange" / "engine"
        if result.returncode or not all(any(built.glob(f"{name}.*.so")) for name in COMPILED_MODULES):
            report = (result.stdout + result.stderr)[-4000:]
            failed.write_text(report)
            last = (report.strip().splitlines() or ["no output"])[-1]
            print(
                f"satchel: engine compile failed ({last}); using the pure engine (details: {failed})",
                file=sys.stderr,
            )
            return False
        try:
            # Atomic: another process may have finished the same build first, which is as good.
            (work / "out").rename(target)
        except OSError:
            if not target.is_dir():
                raise
        failed.unlink(missing_ok=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _prune(keep=digest)
    print(f"satchel: engine compiled in {time.monotonic() - started:.0f}s", file=sys.stderr)
    return True


# Builds of other sources are kept this long: several checkouts may share one interpreter (and
# so one build root) with different engine sources, and pruning each other's builds would make
# every start in one of them recompile.
_KEEP_OTHER_BUILDS_SECONDS = 3 * 24 * 3600


def _prune(*, keep: str) -> None:
    """Drop builds (and failure markers) of other sources not rebuilt for a few days (a running
    process keeps its mapped copy)."""
    cutoff = time.time() - _KEEP_OTHER_BUILDS_SECONDS
    for path in BUILD_ROOT.iterdir():
        if path.name.startswith("build-") or path.name.split(".")[0] == keep:
            continue
        try:
            if path.stat().st_mtime >= cutoff:
                continue
        except FileNotFoundError:  # pruned by another process meanwhile
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def ensure() -> None:
    """The bootstrap's step: build if needed, never fail the command that was asked for."""
    try:
        build()
    except Exception as error:  # an engine build must never stop the exchange from starting
        print(f"satchel: engine compile failed ({error}); using the pure engine", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="satchel build-engine", description=__doc__.split("\n")[0])
    parser.add_argument("--force", action="store_true", help="retry a build that failed before")
    args = parser.parse_args(argv)
    return 0 if build(force=args.force) else 1


if __name__ == "__main__":
    sys.exit(main())
