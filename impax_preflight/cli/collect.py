"""`collect`: a collector script for each host that cannot be reached remotely."""

from __future__ import annotations

from pathlib import Path

import click

from .common import fail, load_inventory_or_fail, load_plugins_or_fail, plugin_options


@click.command("collect")
@click.argument("inventory", type=click.Path(exists=True, dir_okay=False))
@click.option("--host", "host_names", multiple=True, required=True, metavar="NAME",
              help="Host to write a collector for (repeatable).")
@click.option("-o", "--output", "out_dir", default="collectors", show_default=True,
              type=click.Path(file_okay=False), help="Folder to write the script(s) and README into.")
@plugin_options
def collect_cmd(inventory, host_names, out_dir, plugins_dirs, checks_dirs, disable):
    """Write a collector script for hosts that cannot be reached over SSH.

    The script runs on the server exactly the commands the applicable checks need and leaves a
    bundle; `impax-preflight run INVENTORY --bundle NAME=PATH` then checks the host from it.
    Exit code 0 when written, 3 on a bad inventory or unknown host.
    """
    from ..plan import host_command_timeouts, host_commands
    from ..transports.collector import (
        collector_script,
        readme_text,
        safe_name,
        script_name,
    )
    from ..transports.quoting import UnsafeScriptText

    inv = load_inventory_or_fail(inventory)
    plugins = load_plugins_or_fail(plugins_dirs, checks_dirs, disable)
    hosts = []
    for name in host_names:
        try:
            hosts.append(inv.host(name))
        except KeyError:
            known = ", ".join(h.name for h in inv.hosts)
            fail(f"error: host {name!r} is not in {inventory} (hosts: {known})")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    usage = []
    for host in hosts:
        cmds = host_commands(plugins, inv, host)
        script = script_name(host.name, host.os)
        try:
            text = collector_script(host.name, host.os, cmds, inv.site.thresholds.command_timeout_s,
                                    host_command_timeouts(plugins, inv, host))
        except UnsafeScriptText as exc:
            fail(f"error: cannot write the collector for host {host.name}: {exc}")
        path = out / script
        readme = out / (f"README-{safe_name(host.name)}.txt" if len(hosts) > 1 else "README.txt")
        try:
            # Windows scripts keep CRLF; newline="" writes the text exactly as built
            path.write_text(text, encoding="utf-8-sig" if host.os == "windows" else "utf-8", newline="")
            if host.os != "windows":
                path.chmod(0o755)
            readme.write_text(readme_text(host, inventory, script, cmds, inv.site.thresholds.command_timeout_s),
                              encoding="utf-8")
        except OSError as exc:  # e.g. a host name too long for a file name
            fail(f"error: cannot write the collector for host {host.name[:60]!r} in {out}: {exc.strerror or exc}")
        click.echo(f"wrote {path} ({len(cmds)} commands) and {readme}")
        usage.append(f"--bundle {host.name}=PATH/TO/BUNDLE")
    click.echo("after collecting on the server(s), run:\n"
               f"  impax-preflight run {inventory} " + " ".join(usage))
