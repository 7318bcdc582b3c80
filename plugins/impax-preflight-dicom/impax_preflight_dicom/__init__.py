"""impax-preflight plugin: DICOM checks — C-ECHO of every AE, old/new archive study counts and study
reconciliation per day, time to the first image, storage commitment on the new archive.

Registered through the entry point group ``impax_preflight`` (name ``dicom``). pynetdicom is
imported only when a check or the ``dicom-echo`` command actually talks DICOM.
"""

from __future__ import annotations

from impax_preflight import hookimpl
from impax_preflight.check import register_module_checks

__version__ = "0.1.0"


@hookimpl
def impax_register_checks(register):
    from . import checks, commitment, reconcile, retrieve

    for module in (checks, reconcile, retrieve, commitment):
        register_module_checks(register, vars(module))


@hookimpl
def impax_register_commands(cli):
    import click

    @cli.command("dicom-echo")
    @click.argument("ae_title")
    @click.argument("address")
    @click.argument("port", type=int)
    @click.option("--calling-ae", default="IMPAX_PREFLIGHT", show_default=True, help="our AE title")
    @click.option("--timeout", default=10.0, show_default=True, help="seconds per phase")
    def dicom_echo_command(ae_title: str, address: str, port: int, calling_ae: str, timeout: float) -> None:
        """C-ECHO one DICOM AE (AE_TITLE ADDRESS PORT): exit 0 if it answers 0x0000, else 1."""
        from .net import Peer, echo

        outcome = echo(Peer(ae_title, address, port), calling_ae, timeout)
        click.echo(f"{ae_title}@{address}:{port}: {outcome.message}")
        raise SystemExit(0 if outcome.ok else 1)
