#!/usr/bin/env python3
"""Private Postgres and Redis servers on loopback, for `make run`, `make demo` and the tests.

    localservices.py exec [--dir .run] -- CMD ...   start what is missing, then exec CMD with
                                                     ZAPHUB_DATABASE_URL / ZAPHUB_REDIS_URL set
    localservices.py stop [--dir .run]               stop the servers started under DIR

When ZAPHUB_DATABASE_URL (or ZAPHUB_REDIS_URL) is already set, that service is left alone:
the operator's own server wins. Only the standard library is used, so this runs before the
virtualenv exists.

Postgres refuses to run as root, so as root the cluster belongs to the `postgres` user and
lives where that user can reach it.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

DB_NAME = "zaphub"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def pg_bindir() -> Path:
    """The newest installed PostgreSQL server binaries (Debian keeps them off PATH)."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise SystemExit("PostgreSQL server binaries not found: install the 'postgresql' package")


def _as_postgres_user() -> dict[str, int] | None:
    """Demote child processes to `postgres` when we are root (initdb refuses root)."""
    if os.geteuid() != 0:
        return None
    entry = pwd.getpwnam("postgres")
    return {"user": entry.pw_uid, "group": entry.pw_gid}


def _run(cmd: list[str], **kwargs: object) -> None:
    demote = _as_postgres_user()
    extra: dict[str, object] = dict(kwargs)
    if demote:
        extra.update(demote)
        extra["cwd"] = "/"
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **extra)  # type: ignore[call-overload]


def _reachable_by_postgres(path: Path) -> bool:
    """Whether the postgres user can traverse every parent of `path`."""
    for parent in [path, *path.parents]:
        if not parent.exists():
            continue
        mode = parent.stat().st_mode
        if not mode & 0o001:
            return False
    return True


@dataclass
class Postgres:
    datadir: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DB_NAME}"

    @classmethod
    def locate(cls, base: Path) -> Postgres:
        """Where this checkout's cluster lives, and the port recorded for it."""
        datadir = base.resolve() / "postgres"
        if _as_postgres_user() and not _reachable_by_postgres(base.resolve()):
            digest = hashlib.sha256(str(base.resolve()).encode()).hexdigest()[:12]
            home = Path(pwd.getpwnam("postgres").pw_dir)  # owned by postgres, not world-writable
            datadir = home / f"zaphubd-{digest}" / "postgres"
        port_file = base / "postgres.port"
        port = int(port_file.read_text()) if port_file.exists() else free_port()
        port_file.parent.mkdir(parents=True, exist_ok=True)
        port_file.write_text(str(port))
        return cls(datadir, port)

    def ensure(self, fast: bool = False) -> None:
        """Start the cluster unless it runs. `fast` drops durability (tests only)."""
        if port_open(self.port):
            return
        bindir = pg_bindir()
        self._init(bindir)
        log = self.datadir / "server.log"
        options = f"-p {self.port} -k {self.datadir} -c listen_addresses=127.0.0.1"
        if fast:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            options += " -c max_connections=300"
        _run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            ]
        )
        self._create_database(bindir)

    def _init(self, bindir: Path) -> None:
        if (self.datadir / "PG_VERSION").exists():
            return
        self.datadir.mkdir(parents=True, exist_ok=True)
        demote = _as_postgres_user()
        if demote:
            os.chown(self.datadir, demote["user"], demote["group"])
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(self.datadir),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ]
        )

    def _create_database(self, bindir: Path) -> None:
        psql = [str(bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        exists = subprocess.run(
            [*psql, "-tAc", f"SELECT 1 FROM pg_database WHERE datname='{DB_NAME}'"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if exists != "1":
            subprocess.run([*psql, "-qc", f"CREATE DATABASE {DB_NAME}"], check=True)

    def stop(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                _run([str(pg_bindir() / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "stop"])


@dataclass
class Redis:
    datadir: Path
    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @classmethod
    def locate(cls, base: Path) -> Redis:
        port_file = base / "redis.port"
        port = int(port_file.read_text()) if port_file.exists() else free_port()
        port_file.parent.mkdir(parents=True, exist_ok=True)
        port_file.write_text(str(port))
        return cls(base / "redis", port)

    def ensure(self, appendonly: bool = True, extra: tuple[str, ...] = ()) -> None:
        """Start the server unless it runs; `extra` adds redis-server options."""
        if port_open(self.port):
            return
        server = shutil.which("redis-server")
        if not server:
            raise SystemExit("redis-server not found: install the 'redis-server' package")
        self.datadir.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                server,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.datadir),
                "--appendonly",
                "yes" if appendonly else "no",
                "--save",
                "",
                "--daemonize",
                "yes",
                "--pidfile",
                str(self.datadir / "redis.pid"),
                "--logfile",
                str(self.datadir / "redis.log"),
                *extra,
            ],
            check=True,
        )
        deadline = time.monotonic() + 10
        while not port_open(self.port):
            if time.monotonic() > deadline:
                raise SystemExit(f"redis-server did not start; see {self.datadir}/redis.log")
            time.sleep(0.05)

    def stop(self) -> None:
        pidfile = self.datadir / "redis.pid"
        if pidfile.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pidfile.read_text().strip()), 15)


def cmd_exec(base: Path, command: list[str]) -> None:
    env = dict(os.environ)
    if not env.get("ZAPHUB_DATABASE_URL"):
        pg = Postgres.locate(base)
        pg.ensure()
        env["ZAPHUB_DATABASE_URL"] = pg.url
    if not env.get("ZAPHUB_REDIS_URL"):
        redis = Redis.locate(base)
        redis.ensure()
        env["ZAPHUB_REDIS_URL"] = redis.url
    env.setdefault("ZAPHUB_AUTH_DATA_DIR", str(base.resolve() / "auth"))
    print(
        f"localservices: postgres {env['ZAPHUB_DATABASE_URL']}  redis {env['ZAPHUB_REDIS_URL']}",
        file=sys.stderr,
    )
    os.execvpe(command[0], command, env)


def cmd_stop(base: Path) -> None:
    Postgres.locate(base).stop()
    Redis.locate(base).stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["exec", "stop"])
    parser.add_argument("--dir", default=".run", type=Path)
    argv = sys.argv[1:]
    command = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    base = args.dir.resolve()
    if args.action == "stop":
        cmd_stop(base)
        return
    if not command:
        parser.error("exec needs a command after --")
    cmd_exec(base, command)


if __name__ == "__main__":
    main()
