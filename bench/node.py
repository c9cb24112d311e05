"""A Satchel node for the benchmarks that need a live server (bench/api, bench/ws).

A fresh database on the embedded (or configured) PostgreSQL, migrated and seeded by the same
commands an operator runs, funded API accounts made with `create_account`, and the launcher's
processes (beat excluded: the benchmark drives the load itself).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class BenchNode:
    server_url: str  # the PostgreSQL server, without a database name
    database: str
    port: int
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database_url(self) -> str:
        return f"{self.server_url}/{self.database}"

    def manage(self, *command: str) -> str:
        return subprocess.run(
            [PYTHON, "manage.py", *command],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    def create_account(self, email: str, *deposits: str) -> dict[str, str]:
        """A fully verified account with `deposits` ("USDC=1000") and an API key."""
        args = ["create_account", "--email", email, "--password", "bench-password-1", "--kyc", "full"]
        for deposit in deposits:
            args += ["--deposit", deposit]
        output = self.manage(*args, "--api-key", "--json")
        return json.loads(output.strip().splitlines()[-1])

    def start(self, log_prefix: str) -> None:
        from config.launcher import process_commands

        commands = process_commands(
            host="127.0.0.1", port=self.port, matching_queues=self.manage("matching_queues").strip()
        )
        logs = ROOT / "var" / "bench"
        for name, argv in commands.items():
            if name == "beat":
                continue
            self.processes[name] = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=self.env,
                stdout=(logs / f"{log_prefix}-{name}.log").open("wb"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )


def node_prepare(*, database: str, redis_db: int) -> BenchNode:
    """A fresh database `database`, migrated and seeded; Redis database `redis_db`; not started."""
    import psycopg

    from config import services

    urls = services.acquire()
    server_url = urls.database_url.rsplit("/", 1)[0]
    with psycopg.connect(server_url + "/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {database}")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"{server_url}/{database}",
        "REDIS_URL": urls.redis_url.rsplit("/", 1)[0] + f"/{redis_db}",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "PORT": str(port),
    }
    node = BenchNode(server_url=server_url, database=database, port=port, env=env)
    node.manage("migrate", "--no-input", "-v", "0")
    node.manage("seed_demo")
    return node
