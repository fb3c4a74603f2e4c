"""The ``postergenre`` command: a thin Typer shell over the library.

Every ``UserError`` and command-line usage error ends as one line on stderr and exit code 2;
so does an OS error no command foresaw (a disk that fills, a folder that vanishes), naming
its file.
"""

from __future__ import annotations

import os
import sys
import warnings

import click
import typer

from ..errors import UserError
from . import data, embed, fetch, model, report, serve  # noqa: F401 - fetch registers `data fetch`
from . import tune as tuning

INTERRUPTED = 130  # the exit code of Ctrl-C
app = typer.Typer(
    help="Predict a movie's genres from its poster; train and evaluate models honestly.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(data.app, name="data")
app.command()(model.train)
app.command()(model.predict)
app.command()(model.evaluate)
app.command()(embed.embed)
app.command()(tuning.tune)
app.command()(tuning.compare)
app.command()(report.report)
app.command()(serve.serve)
app.command()(serve.index)


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"note: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    warnings.showwarning = _warning_line  # library notes as one line, not a source dump
    try:
        rv = app(args=argv, prog_name="postergenre", standalone_mode=False)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except click.exceptions.NoArgsIsHelpError as e:
        print(e.ctx.get_help() if e.ctx else str(e))
        return 0
    except click.UsageError as e:
        print(f"error: {e.format_message()}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader of stdout has gone (`| head`): stop, quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no flush error at exit
        return 1
    except OSError as e:  # the last resort: one line naming the file, never a traceback
        where = " → ".join(str(f) for f in (e.filename, e.filename2) if f is not None)
        print(f"error: {where or type(e).__name__}: {e.strerror or e}", file=sys.stderr)
        return 2
    except click.exceptions.Exit as e:
        rv = e.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt):
        rv = INTERRUPTED
    if rv == INTERRUPTED:  # Typer returns Ctrl-C in a command as 130 (no command returns it)
        print("error: interrupted", file=sys.stderr)
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":
    sys.exit(main())
