"""The `unseen` command. Heavy imports happen inside each subcommand, so --help is instant.

The edge of every error: a user's mistake is one line `error: ...` and exit 2; anything
unexpected is one line `internal error: ...` and exit 70, with the traceback only under
--debug or UNSEEN_DEBUG=1.
"""

from __future__ import annotations

import os
import sys
import traceback

import click

from edge_service.errors import UnseenError

USER_ERROR, INTERNAL_ERROR, INTERRUPTED = 2, 70, 130


def _debugging(args: list[str]) -> bool:
    return "--debug" in args or os.environ.get("UNSEEN_DEBUG", "") not in ("", "0")


def _fail(message: str, code: int) -> None:
    click.secho(message, fg="red", err=True)
    sys.exit(code)


class UnseenGroup(click.Group):
    """Runs a command and turns whatever it raises into one line and a documented exit code."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        args = list(sys.argv[1:] if args is None else args)
        try:
            super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.ClickException as exc:  # a usage error: one line, naming where help is
            where = f" (see '{exc.ctx.command_path} --help')" if getattr(exc, "ctx", None) else ""
            _fail(f"error: {exc.format_message()}{where}", USER_ERROR)
        except (click.Abort, KeyboardInterrupt):
            _fail("interrupted", INTERRUPTED)
        except UnseenError as exc:
            if _debugging(args):
                traceback.print_exc()
            _fail(f"error: {exc}", USER_ERROR)
        except OSError as exc:
            if _debugging(args):
                traceback.print_exc()
            if exc.filename is None:
                _fail(f"internal error: {exc} (run with --debug for the traceback)", INTERNAL_ERROR)
            _fail(f"error: {exc.filename}: {exc.strerror or exc}", USER_ERROR)
        except Exception as exc:
            if _debugging(args):
                traceback.print_exc()
            _fail(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)",
                  INTERNAL_ERROR)
        sys.exit(0)


@click.group(cls=UnseenGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="unseen")
@click.option("--debug", is_flag=True, help="show the traceback of an unexpected error")
def main(debug: bool) -> None:
    """unseen: show what a CNN sees inside, from training to the edge."""


def _register() -> None:
    from unseen.commands import collect, export, expose, figures, model, mqtt, service
    for command in (model.train, model.convert, model.inspect, model.verify, service.serve, service.layers,
                    service.filters, mqtt.outbox, mqtt.watch, mqtt.broker, export.export, export.install,
                    export.rollback, expose.expose, figures.activations, figures.conversion_layers,
                    collect.collect):
        main.add_command(command)


_register()


if __name__ == "__main__":
    main()
