"""The `unseen` command. Heavy imports happen inside each subcommand, so --help is instant."""

from __future__ import annotations

import sys

import click

from unseen.errors import UnseenError


class UnseenGroup(click.Group):
    """Turns a user's mistake into one clear line and exit code 2, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except UnseenError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=UnseenGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="unseen")
def main() -> None:
    """unseen: show what a CNN sees inside, from training to the edge."""


def _register() -> None:
    from unseen.commands import collect, export, model, mqtt, service
    for command in (model.train, model.convert, model.inspect, model.verify, service.serve, service.layers,
                    service.filters, mqtt.outbox, mqtt.watch, mqtt.broker, export.export, export.install,
                    export.rollback, collect.collect):
        main.add_command(command)


_register()


if __name__ == "__main__":
    main()
