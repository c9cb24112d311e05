"""`./satchel run` brings the whole exchange up, and Ctrl-C leaves no process behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.live


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _descendants_and_services(launcher: psutil.Process, data_dir: Path) -> set[int]:
    pids = {child.pid for child in launcher.children(recursive=True)}
    for process in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if str(data_dir) in cmdline:  # the embedded PostgreSQL (its -D points into the data dir)
            pids.add(process.info["pid"])
    redis_pid = data_dir / "redis" / "redis.pid"
    if redis_pid.exists():
        pids.add(int(redis_pid.read_text()))
    return pids


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_run_serves_the_exchange_and_a_signal_stops_every_process(tmp_path, stop_signal):
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "SATCHEL_PG_FAST"}
    }
    env.update(
        SATCHEL_DATA_DIR=str(tmp_path / "data"),
        PORT=str(port),
        DJANGO_SETTINGS_MODULE="config.settings.local",
    )
    log = (tmp_path / "run.log").open("wb")
    launcher = subprocess.Popen(
        [sys.executable, "-m", "config.launcher", "run"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert launcher.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            try:
                if requests.get(f"http://127.0.0.1:{port}/api/v1/ping", timeout=1).text == "pong":
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "the exchange did not come up"
            time.sleep(0.25)
        assert requests.get(f"http://127.0.0.1:{port}/admin/login/", timeout=5).status_code == 200
        output = (tmp_path / "run.log").read_text()
        assert "trader@satchel.demo" in output
        assert "officer@satchel.demo" in output
        # Wait for both Celery processes to be up, so the signal meets the full set.
        deadline = time.monotonic() + 60
        while (
            len([p for p in psutil.Process(launcher.pid).children() if "celery" in " ".join(p.cmdline())]) < 2
        ):
            assert time.monotonic() < deadline
            time.sleep(0.25)
        started = _descendants_and_services(psutil.Process(launcher.pid), tmp_path / "data")
        assert len(started) >= 5  # web, worker (+ its pool), beat, PostgreSQL, Redis

        launcher.send_signal(stop_signal)
        assert launcher.wait(60) == 0
        deadline = time.monotonic() + 10
        while alive := [
            pid for pid in started if psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie"
        ]:
            assert time.monotonic() < deadline, f"still running: {alive}"
            time.sleep(0.2)
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()
