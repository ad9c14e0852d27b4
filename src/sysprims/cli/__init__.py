"""The ``sysprims`` command line (click).

Subcommands live in ``sysprims/cli/cmd_*.py``; each module defines ``COMMAND``
(a ``click.Command`` or ``click.Group``) and optionally ``ORDER`` for the help
listing. They are discovered at start-up, so a component adds its commands
without touching this file. Errors from sysprims become ``sysprims: error: ...``
with exit code 1; usage errors exit with 2, as click does.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Sequence
from typing import Any

from .._version import __version__


def _load_click() -> Any:
    try:
        import click
    except ImportError:
        from .._deps import install_hint

        print(f"sysprims: the command line needs click; install it with {install_hint('cli')}", file=sys.stderr)
        raise SystemExit(1) from None
    return click


def _os_error(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return exc.strerror or str(exc)


def build_cli() -> Any:
    click = _load_click()
    from ..errors import SysprimsError

    class SysprimsGroup(click.Group):  # type: ignore[name-defined,misc]  # click is imported at run time
        def invoke(self, ctx: Any) -> Any:
            try:
                return super().invoke(ctx)
            except SysprimsError as exc:
                raise click.ClickException(str(exc)) from exc
            except OSError as exc:  # a full disk, a directory given as a file, no permission...
                raise click.ClickException(_os_error(exc)) from exc

    @click.group(cls=SysprimsGroup, context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(__version__, prog_name="sysprims", message="%(prog)s %(version)s")
    def cli() -> None:
        """sysprims: NumPy/Numba-accelerated building blocks of large systems."""

    modules = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("cmd_"):
            modules.append(importlib.import_module(f"{__name__}.{info.name}"))
    for module in sorted(modules, key=lambda m: (getattr(m, "ORDER", 100), m.__name__)):
        cli.add_command(module.COMMAND)
    return cli


#: The collector's thresholds while a command runs: a command allocates few
#: cycles, but importing numba, pyarrow and the kernels allocates hundreds of
#: thousands of objects, and at Python's default (700, 10, 10) that triggers
#: full collections over all of them (0.1-0.25 s of CPU per process here).
GC_THRESHOLDS = (100_000, 50, 100)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it).

    Run as the program (``argv`` None: the console script, ``python -m sysprims.cli``),
    it also freezes the garbage collector when the interpreter exits: the collections
    of the interpreter's shutdown then skip the objects that imports left (numba's
    and pyarrow's hundreds of thousands: 0.2 s of CPU per process here), which are
    freed as the modules are torn down anyway. A call with ``argv`` (a test, a caller
    that goes on running) leaves the process's collector alone."""
    import gc

    if argv is None:
        import atexit

        atexit.register(gc.freeze)  # runs after the exit handlers registered during the command
    before = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        return _main(argv)
    finally:
        gc.set_threshold(*before)


def _main(argv: Sequence[str] | None) -> int:
    cli = build_cli()
    click = _load_click()
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="sysprims", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except getattr(click.exceptions, "NoArgsIsHelpError", ()) as exc:
        click.echo(exc.format_message())
        return 0
    except click.ClickException as exc:
        click.echo(f"sysprims: error: {exc.format_message()}", err=True)
        return 2 if isinstance(exc, click.UsageError) else 1
    except click.exceptions.Abort as exc:
        click.echo("Aborted!", err=True)
        return 130 if isinstance(exc.__cause__, KeyboardInterrupt) else 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
