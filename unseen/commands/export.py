"""Taking a model elsewhere: export firmware, edgetpu, bundle, keygen; install and rollback."""

from __future__ import annotations

from pathlib import Path

import click

from unseen.params import FiniteFloat, InputFile, OutputDir, OutputFile, model_option

@click.group()
def export() -> None:
    """Take a model to microcontrollers, the Edge TPU, or an offline bundle."""


@export.command("firmware")
@model_option
@click.option("-o", "--output", type=OutputDir(), default="out/firmware", show_default=True)
@click.option("--name", help="C identifier for the model (default: from the manifest)")
@click.option("--flash-kb", type=FiniteFloat(1), help="flash budget for the model data, KiB")
@click.option("--arena-kb", type=FiniteFloat(1), help="RAM budget for the tensor arena, KiB")
def export_firmware_command(model, output, name, flash_kb, arena_kb) -> None:
    """C++ sources for TFLite Micro: model data, settings, op resolver, an example."""
    from firmware_export.firmware import export_firmware
    report = export_firmware(model, output, name, flash_kb, arena_kb)
    click.echo("\n".join(report.lines()))


@export.command("edgetpu")
@model_option
@click.option("-o", "--output", type=OutputDir(), help="where the compiler writes (default: beside)")
def export_edgetpu_command(model, output) -> None:
    """Check MODEL against the Edge TPU's requirements, layer by layer; compile when possible."""
    from firmware_export.edgetpu import export_edgetpu
    problems, outcome = export_edgetpu(model, output)
    if problems:
        click.echo(f"{len(problems)} problem(s) for the Edge TPU:")
        for problem in problems:
            click.echo(f"  {problem}")
    else:
        click.echo("every layer meets the Edge TPU's requirements")
    click.echo(outcome)


@export.command("bundle")
@model_option
@click.option("-o", "--output", type=OutputFile(), default="model.unseen.tar.gz", show_default=True)
@click.option("--sign-key", type=InputFile("signing key"), help="Ed25519 private key (PEM) to sign with")
def export_bundle_command(model, output, sign_key) -> None:
    """An offline bundle: model, manifest, labels, SHA-256 list, optional signature."""
    from edge_service.manifest import default_model_dir
    from firmware_export.bundle import make_bundle
    info = make_bundle(model or default_model_dir(), output, sign_key)
    click.echo(f"wrote {output}: {info['name']} ({info['model_sha256'][:12]}), "
               f"{'signed' if info['signed'] else 'unsigned'}, files {', '.join(info['files'])}")


@export.command("keygen")
@click.option("-o", "--output", type=OutputFile(), default="unseen-signing", show_default=True,
              help="writes OUTPUT.key (private) and OUTPUT.pub")
@click.option("--force", is_flag=True, help="replace an existing key pair (devices holding the old key stop "
                                            "accepting new bundles)")
def export_keygen(output, force) -> None:
    """A new Ed25519 key pair for signing bundles."""
    from firmware_export.bundle import generate_key
    private, public = output.with_suffix(".key"), output.with_suffix(".pub")
    generate_key(private, public, force)
    click.echo(f"private key {private} (keep it off the devices), public key {public} (configure it on them)")


def _model_dir(model_dir: Path | None) -> Path:
    if model_dir:
        return model_dir
    raise click.UsageError("give --model-dir (the folder the service's model.dir points at)")


@click.command()
@click.argument("bundle", type=InputFile("bundle"))
@click.option("--model-dir", type=OutputDir("model folder"), help="where models are installed")
@click.option("--public-key", type=InputFile("public key"),
              help="Ed25519 public key; when given, only bundles signed with its private key install")
def install(bundle, model_dir, public_key) -> None:
    """Verify BUNDLE and install it atomically, keeping the previous model for rollback."""
    from edge_service.bundles import install_bundle
    done = install_bundle(bundle, _model_dir(model_dir), public_key)
    signed = "signed" if done["signed"] else "unsigned"
    if done["already_installed"]:
        click.echo(f"{done['name']} version {done['version']} ({signed}) is already the current one at {done['path']}")
        return
    click.echo(f"installed {done['name']} version {done['version']} ({signed}) at {done['path']}"
               + (f"; previous {done['previous']}" if done["previous"] else ""))


@click.command()
@click.argument("name")
@click.option("--model-dir", type=click.Path(path_type=Path), help="where models are installed")
def rollback(name, model_dir) -> None:
    """Go back to the model installed before the current one."""
    from edge_service.bundles import rollback as do_rollback
    done = do_rollback(_model_dir(model_dir), name)
    click.echo(f"{done['name']}: now {done['current']} (was {done['previous']})")
