"""The `sparse-circuits` program (and `sparse-circuits-gui`, and the frozen app): with no
command the desktop app; `--self-test`, `--screenshot PNG` and `bench gui` here too; every
other command is core.cli's, which runs without Qt. Importing this module imports no Qt."""

from __future__ import annotations

import time

LAUNCHED = time.perf_counter()  # before torch and Qt load: the screenshot's "after launch"

import argparse
import json
import sys

from core import cli


def build_parser() -> argparse.ArgumentParser:
    parser = cli.build_parser(bench_kinds={**cli.BENCH_KINDS, "gui": "the app's latencies"})
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check that everything works (train, open, ablate, draw) and exit",
    )
    parser.add_argument(
        "--screenshot",
        metavar="PNG",
        help="open the app, save the window once the default circuit shows, exit",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    return cli.run(build_parser(), argv, app_command)


def app_command(args) -> int | None:
    """The app's part of the command line; None for the headless commands."""
    if args.command is None:
        return gui_main(self_test=args.self_test, screenshot=args.screenshot)
    if args.command == "bench" and args.what == "gui":
        return cmd_bench_gui(args)
    return None


def missing_gui_libraries() -> ImportError | None:
    try:
        import pyqtgraph  # noqa: F401
        from PySide6 import QtWidgets  # noqa: F401
    except ImportError as e:
        return e
    return None


def gui_main(self_test: bool = False, screenshot: str | None = None) -> int:
    if (error := missing_gui_libraries()) is not None:
        print(
            f"sparse-circuits: the desktop app needs PySide6 and pyqtgraph ({error}); install "
            f"them with: pip install 'sparse-circuits[gui]'. The commands work without them:",
            file=sys.stderr,
        )
        build_parser().print_help()
        return 2
    if not self_test:  # the self-test draws offscreen, without X
        from .platform_check import desktop_problem

        if (problem := desktop_problem()) is not None:
            print(problem, file=sys.stderr)
            return 2
    if self_test:
        from .selftest import run_self_test

        return run_self_test()
    from .main import run_app

    return run_app(screenshot=screenshot, launched=LAUNCHED)


def cmd_bench_gui(args) -> int:
    if (error := missing_gui_libraries()) is not None:
        raise cli.UsageError(f"sparse-circuits: bench gui needs PySide6 and pyqtgraph ({error})")
    from .bench import bench_gui

    result = bench_gui()
    print(json.dumps(result) if args.json else "\n".join(f"{k:<26} {v:,.1f}" for k, v in result.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
