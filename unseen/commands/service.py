"""Running the edge service: serve, layers, filters; and the config flags they share."""

from __future__ import annotations

import click

from unseen.params import InputFile, OutputDir, model_option


class LazyChoice(click.Choice):
    """A Choice whose values come from a function, called only when a value is checked or help drawn."""

    def __init__(self, values) -> None:
        self._values = values
        super().__init__(())

    @property
    def choices(self):
        return self._values()

    @choices.setter
    def choices(self, _value) -> None:
        pass


def _flag(key: str, opt):
    dest = key.replace(".", "__")
    if opt.type is bool:
        name = opt.flag.lstrip("-")
        return click.option(f"--{name}/--no-{name}", dest, default=None, help=opt.help)
    choices = opt.choices
    kind = (LazyChoice(choices) if callable(choices) else click.Choice(choices)) if choices else opt.type
    return click.option(opt.flag, dest, type=kind, default=None,
                        help=f"{opt.help} [config {key}, default {opt.default!r}]")


def config_options(*sections: str, keys: tuple[str, ...] = ()):
    """One flag per configuration key of `sections` or `keys` (all when neither is named); flags override
    the --config file."""
    from edge_service.config import all_options

    def wanted(key: str) -> bool:
        section = key.rpartition(".")[0] or "device"
        return (not sections and not keys) or section in sections or key in keys

    def decorate(command):
        for key, opt in reversed(all_options()):
            if wanted(key):
                command = _flag(key, opt)(command)
        return click.option("--config", "config_path", type=InputFile("config file"), help="device TOML file")(command)
    return decorate


def load_config(config_path, options):
    from edge_service.config import load_config as load
    return load(config_path, {k.replace("__", "."): v for k, v in options.items()})


def setup_logging(level: str) -> None:
    import logging
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@click.command()
@config_options()
def serve(config_path, **options) -> None:
    """Run the edge service until SIGINT / SIGTERM (or --frames are done)."""
    config = load_config(config_path, options)
    setup_logging(config.log.level)
    from edge_service.errors import EdgeError
    from edge_service.service import serve as run_service
    counters = run_service(config)
    click.echo(f"stopped: {counters.summary()}", err=True)
    if counters.processed == 0 and (counters.bad_frames or counters.inference_errors or counters.source_errors):
        # Nothing came through and something failed: a script must not read that as success.
        raise EdgeError(f"no frame was processed; the last error: {counters.last_error}")


def _backend_option(default: str):
    from edge_service.config.sections import backend_names
    return click.option("--backend", default=default, show_default=True, type=LazyChoice(backend_names),
                        help="inference backend (only auto falls back to another)")


@click.command()
@click.argument("images", nargs=-1, required=True)
@model_option
@_backend_option("numpy")
@click.option("-o", "--output", type=OutputDir(), default="out/layers", show_default=True)
def layers(images, model, backend, output) -> None:
    """Show what the model sees in IMAGES (files, folders, globs): every layer, in an HTML gallery."""
    from edge_service.offline import render_layers
    index, results, bad = render_layers(list(images), model, backend, output)
    for path, result in results:
        top = ", ".join(f"{t['label']} {t['score']:.2f}" for t in result.top)
        click.echo(f"{path}: {top}")
    for reason in bad:
        click.echo(f"skipped {reason}", err=True)
    click.echo(f"gallery: {index}" + (f" ({len(bad)} images skipped)" if bad else ""))


@click.command()
@model_option
@click.option("-o", "--output", type=OutputDir(), default="out/filters", show_default=True)
def filters(model, output) -> None:
    """Draw the convolution filters and weight matrices of MODEL."""
    from edge_service.offline import render_filters
    index = render_filters(model, output)
    click.echo(f"filters: {index}")
