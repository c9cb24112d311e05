"""`./satchel run` starts the whole exchange; `./satchel test` runs the suite.

Both start embedded PostgreSQL and Redis when DATABASE_URL / REDIS_URL are unset, hand the URLs to
every child through the environment, and stop everything they started on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from config import engine_build, services

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
STOP_GRACE_SECONDS = 20


class Stop(Exception):
    """Raised in the main thread by SIGINT/SIGTERM so every `finally` runs."""


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Stop(signal.Signals(signum).name)


def _environment() -> tuple[dict[str, str], bool]:
    """The children's environment, and whether this process registered with the embedded servers."""
    env = dict(os.environ)
    if env.get("DATABASE_URL") and env.get("REDIS_URL"):
        return env, False
    urls = services.acquire()
    if not os.environ.get("DATABASE_URL"):
        env["DATABASE_URL"] = urls.database_url
    if not os.environ.get("REDIS_URL"):
        env["REDIS_URL"] = urls.redis_url
    return env, True


def _stop(children: Sequence[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(max(0.1, deadline - time.monotonic()))
    for child in children:
        # Each child leads its own process group: this also reaps Celery's pool processes.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def process_commands(*, host: str, port: int, matching_queues: str) -> dict[str, list[str]]:
    """The long-running processes of one Satchel node: web, matching worker, general worker, beat.

    The matching worker consumes one queue per market; each market is drained under its own
    PostgreSQL advisory lock, so any number of matching workers may run (docs/OPERATIONS.md).
    """
    # Forked pool processes must not share pooled connections (config/settings/base.py).
    celery = ["env", "DATABASE_POOL_SIZE=0", PYTHON, "-m", "celery", "-A", "config.worker"]
    web = [PYTHON, "-m", "uvicorn", "config.asgi:application", "--host", host, "--port", str(port)]
    web += ["--no-access-log", "--lifespan", "off", "--ws-ping-interval", "60", "--ws-ping-timeout", "120"]
    # Stream frames are a few hundred bytes: compressing each one per socket cost more CPU than
    # any other step of the fan-out and saves little (docs/PERFORMANCE.md, "WebSocket fan-out").
    web += ["--ws-per-message-deflate", "false"]
    # One web process per core: a request's Django and psycopg work is CPU-bound (docs/PERFORMANCE.md).
    web += ["--workers", os.environ.get("WEB_CONCURRENCY") or str(os.cpu_count() or 1)]
    return {
        "web": web,
        "matching": [
            *celery,
            "worker",
            "-l",
            "info",
            "-Q",
            matching_queues,
            "-c",
            "2",
            "-n",
            "matching@%h",
        ],
        "worker": [*celery, "worker", "-l", "info", "-Q", "celery", "-c", "1", "-n", "worker@%h"],
        "beat": [*celery, "beat", "-l", "warning", "-s", str(services.data_dir() / "celerybeat-schedule")],
        # One publisher per node is enough; a second one waits on its advisory lock.
        "publisher": ["env", "DATABASE_POOL_SIZE=0", PYTHON, "manage.py", "publish_outbox"],
    }


def _manage_output(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return result.stdout.strip()


def _manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True)


def run(port: int, host: str) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    env, registered = _environment()
    env["PORT"] = str(port)
    children: list[subprocess.Popen[bytes]] = []
    try:
        _manage(env, "migrate", "--no-input", "-v", "0")
        _manage(env, "seed_demo")
        queues = _manage_output(env, "matching_queues")
        commands = process_commands(host=host, port=port, matching_queues=queues)
        for command in commands.values():
            children.append(subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True))
        print(
            f"\nSatchel is up on http://{host}:{port}/  (admin: http://{host}:{port}/admin/)  Ctrl-C stops it.\n",
            flush=True,
        )
        while True:
            for name, child in zip(commands, children, strict=True):
                if child.poll() is not None:
                    print(f"satchel: {name} exited with {child.returncode}; stopping", file=sys.stderr)
                    return 1
            time.sleep(0.5)
    except Stop as stop:
        print(f"\nsatchel: {stop}; stopping every process", file=sys.stderr, flush=True)
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stop(children)
        if registered:
            services.release()


CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium() -> None:
    """Install Debian's Chromium for the browser tests (tests/browser) when it is missing.

    Only as root with apt-get, and only once: a failed attempt is remembered in var/ (delete
    `var/chromium-install-failed` to try again), and without Chromium the browser tests skip.
    """
    failed_marker = ROOT / "var" / "chromium-install-failed"
    if CHROMIUM.exists() or failed_marker.exists():
        return
    if os.geteuid() != 0 or not Path("/usr/bin/apt-get").exists():
        print(
            "satchel: chromium is not installed (needs root and apt-get); browser tests will skip",
            file=sys.stderr,
        )
        return
    print(
        "satchel: installing chromium with apt-get for the browser tests (once)", file=sys.stderr, flush=True
    )
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"]
    result = subprocess.run(install, env=apt_env, capture_output=True, text=True)
    if result.returncode != 0:
        # A fresh image often has no package lists yet.
        subprocess.run(["apt-get", "update", "-qq"], env=apt_env, capture_output=True)
        result = subprocess.run(install, env=apt_env, capture_output=True, text=True)
    if result.returncode != 0 or not CHROMIUM.exists():
        failed_marker.parent.mkdir(parents=True, exist_ok=True)
        failed_marker.write_text(result.stdout[-2000:] + result.stderr[-2000:])
        print(
            f"satchel: chromium install failed (see {failed_marker}); browser tests will skip",
            file=sys.stderr,
        )


def test(pytest_args: list[str]) -> int:
    # Tests get embedded servers of their own, so they never touch a running demo's data or queues.
    os.environ.setdefault("SATCHEL_DATA_DIR", str(ROOT / "var" / "test"))
    os.environ.setdefault("SATCHEL_PG_FAST", "1")
    ensure_chromium()
    env, registered = _environment()
    child: subprocess.Popen[bytes] | None = None
    try:
        child = subprocess.Popen([PYTHON, "-m", "pytest", *pytest_args], cwd=ROOT, env=env)
        return child.wait()
    except Stop:
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if child is not None and child.poll() is None:
            child.terminate()
            child.wait()
        if registered:
            services.release()


def lint() -> int:
    """ruff (lint and format) and the import contracts that keep the pure cores free of Django."""
    checks = [
        [PYTHON, "-m", "ruff", "check", "--no-cache", "."],
        [PYTHON, "-m", "ruff", "format", "--no-cache", "--check", "."],
        [str(Path(PYTHON).parent / "lint-imports")],
    ]
    failed = 0
    for command in checks:
        print(
            "$",
            " ".join(Path(command[0]).name if i == 0 else part for i, part in enumerate(command)),
            flush=True,
        )
        failed |= subprocess.run(command, cwd=ROOT).returncode
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="satchel", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="start web, worker, beat and embedded services with demo data")
    run_parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    run_parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    sub.add_parser("test", help="run the test suite (extra arguments go to pytest)")
    sub.add_parser("lint", help="ruff and import-linter")
    sub.add_parser("reset", help="stop the embedded servers and delete their data")
    sub.add_parser("build-engine", help="compile the matching engine with mypyc (--force retries a failure)")
    args, rest = parser.parse_known_args(argv)
    if args.command == "build-engine":
        return engine_build.main(rest)
    # Once per change of the engine's sources; on failure the pure engine runs (one stderr line).
    engine_build.ensure()
    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    if args.command == "run":
        return run(args.port, args.host)
    if args.command == "test":
        return test(rest)
    if args.command == "lint":
        return lint()
    services.wipe()
    return 0


if __name__ == "__main__":
    sys.exit(main())
