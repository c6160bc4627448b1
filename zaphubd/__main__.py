"""The `zaphubd` command: serve | migrate | check-config | nodes | simnet | standalone.

This is the only place that turns errors into exit statuses (sysexits.h): invalid
configuration exits 78 (EX_CONFIG) with one line per problem and no traceback, an unreachable
dependency 69 (EX_UNAVAILABLE), a schema problem 65 (EX_DATAERR).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from zaphubd import __version__
from zaphubd.errors import ConfigError, DependencyUnavailable, MigrationError, ZaphubError

if TYPE_CHECKING:
    from zaphubd.settings import Settings

EX_DATAERR = 65
EX_UNAVAILABLE = 69
EX_CONFIG = 78


def _serve(args: argparse.Namespace) -> int:
    from zaphubd.daemon import run_daemon

    settings = _load_logged_settings()
    asyncio.run(run_daemon(settings))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from zaphubd.db.migrations import migrate_url

    settings = _load_logged_settings()
    applied = asyncio.run(migrate_url(settings.database_url, settings.startup_timeout_s))
    print(f"applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else ""))
    return 0


def _check_config(args: argparse.Namespace) -> int:
    from zaphubd.settings import load_settings

    settings = load_settings()
    width = max(len(name) for name in settings.masked())
    for name, value in settings.masked().items():
        print(f"{name:<{width}}  {value}")
    return 0


def _nodes(args: argparse.Namespace) -> int:
    from zaphubd.cluster.cli import read_cluster, render
    from zaphubd.settings import load_settings

    print(render(asyncio.run(read_cluster(load_settings())), args.json))
    return 0


def _simnet(args: argparse.Namespace) -> int:
    from zaphubd import log
    from zaphubd.simnet.server import run_simnet

    log.configure(args.log_level, "auto")
    asyncio.run(
        run_simnet(
            args.host,
            args.port,
            args.state,
            args.auto_read_ms,
            qr_first_s=args.qr_first_s,
            qr_next_s=args.qr_next_s,
            qr_max=args.qr_max,
        )
    )
    return 0


def _standalone(args: argparse.Namespace) -> int:
    from zaphubd import log
    from zaphubd.standalone import run_standalone

    log.configure(args.log_level, "text")
    asyncio.run(run_standalone(args.auth_dir))
    return 0


def _load_logged_settings() -> Settings:
    from zaphubd import log
    from zaphubd.settings import load_settings

    settings = load_settings()
    secrets = [s.get_secret_value() for s in (settings.api_key, settings.webhook_secret) if s]
    log.configure(settings.log_level, settings.log_format, secrets)
    return settings


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zaphubd", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"zaphubd {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the daemon").set_defaults(func=_serve)
    sub.add_parser("migrate", help="apply pending migrations and exit").set_defaults(func=_migrate)
    sub.add_parser(
        "check-config", help="validate the configuration and print it with secrets masked"
    ).set_defaults(func=_check_config)
    nodes = sub.add_parser("nodes", help="list the live nodes, their sessions and capacity")
    nodes.add_argument("--json", action="store_true", help="one JSON object")
    nodes.set_defaults(func=_nodes)

    simnet = sub.add_parser("simnet", help="run the simulated WhatsApp network")
    simnet.add_argument("--host", default="127.0.0.1")
    simnet.add_argument("--port", type=int, default=7781)
    simnet.add_argument("--state", type=Path, default=None, help="file that keeps state")
    simnet.add_argument("--auto-read-ms", type=int, default=None, help="send read receipts")
    simnet.add_argument("--qr-first-s", type=float, default=60.0, help="first QR code validity")
    simnet.add_argument("--qr-next-s", type=float, default=20.0, help="later QR codes validity")
    simnet.add_argument("--qr-max", type=int, default=6, help="QR codes before giving up")
    simnet.add_argument("--log-level", default="INFO")
    simnet.set_defaults(func=_simnet)

    standalone = sub.add_parser("standalone", help="one neonize session in the terminal")
    standalone.add_argument("--auth-dir", type=Path, default=Path("auth_data"))
    standalone.add_argument("--log-level", default="INFO")
    standalone.set_defaults(func=_standalone)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        code = func(args)
    except ConfigError as err:
        for problem in err.problems:
            print(f"zaphubd: configuration error: {problem}", file=sys.stderr)
        code = EX_CONFIG
    except DependencyUnavailable as err:
        print(f"zaphubd: {err}", file=sys.stderr)
        code = EX_UNAVAILABLE
    except MigrationError as err:
        print(f"zaphubd: database migration error: {err}", file=sys.stderr)
        code = EX_DATAERR
    except ZaphubError as err:
        print(f"zaphubd: {err}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
