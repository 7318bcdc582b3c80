# Copyright: impax-preflight maintainers
# Apache License 2.0 (see the collection's galaxy.yml)
"""impax.preflight.site: impax-preflight site inventories as an Ansible inventory.

One site file drives both tools: impax-preflight reads it for its checks, Ansible reads it through
this plugin for the hosts to collect from. Secrets stay references (env:, file:, keyring:, prompt:):
they are listed as text, never resolved into host variables.
"""

from __future__ import annotations

DOCUMENTATION = r"""
name: site
short_description: impax-preflight site inventories (TOML or YAML) as an Ansible inventory
description:
  - Reads one or more impax-preflight site inventories and adds their hosts, grouped by site, tier,
    role, operating system and platform.
  - Host variables carry what the impax.preflight roles need (site file, impax-preflight host name,
    OS, tier, transport) and, unless O(connection_vars=false), how Ansible reaches the host
    (address, port, user, key, known_hosts, jump host) taken from the site file's transport.
  - Secrets stay references. V(impax_preflight_secrets) lists where each one is and its reference
    (for example V(env:IMPAX_DB_PASSWORD)); a literal V(plain:) password is shown masked. No secret
    value is read, and C(ansible_password) is never set.
  - Source either a configuration file whose name ends in C(impax_preflight.yml) (or C(.yaml)) listing
    the site files, or a site C(.toml) file directly (then add C(impax.preflight.site) to
    C(enable_plugins)).
  - Needs the impax-preflight Python package in the Python that runs Ansible.
options:
  plugin:
    description: The name of this plugin.
    required: true
    choices: ['impax.preflight.site']
  sites:
    description:
      - impax-preflight site inventories (C(.toml), C(.yaml) or C(.yml)); relative paths are relative to
        this configuration file.
    type: list
    elements: path
    required: true
  connection_vars:
    description:
      - Set C(ansible_host), C(ansible_port), C(ansible_user), C(ansible_ssh_private_key_file) and
        C(ansible_ssh_common_args) (known_hosts, host key checking, jump host) from each host's transport.
      - Turn it off when AWX or group_vars give Ansible its own way to reach the hosts.
    type: bool
    default: true
  windows_connection:
    description:
      - Connection plugin for Windows hosts. V(winrm) and V(psrp) need the pywinrm or pypsrp package
        on the controller; V(ssh) uses the site file's SSH transport (OpenSSH on Windows).
    type: str
    default: winrm
    choices: ['winrm', 'psrp', 'ssh']
extends_documentation_fragment:
  - constructed
"""

EXAMPLES = r"""
# cluster.impax_preflight.yml
plugin: impax.preflight.site
sites:
  - sites/north-hospital.toml
  - sites/south-hospital.toml
  - sites/central-dr.yaml
windows_connection: winrm
keyed_groups:
  - key: impax_preflight_impax_version
    prefix: impax
"""

import re
import shlex
import sys
from pathlib import Path

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable

CONFIG_SUFFIXES = ("impax_preflight.yml", "impax_preflight.yaml")


def slug(text):
    """A name for folders and groups: lower case, runs of anything else than a-z0-9 become one '-'."""
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-") or "site"


def secret_text(ref):
    """A secret reference as text: the reference itself, a literal (plain:) password masked."""
    text = str(ref)
    return "plain:********" if text.startswith("plain:") else text


def load_site(path):
    """The one place this collection imports impax-preflight: its public inventory loader."""
    try:
        from impax_preflight.inventory import InventoryError, load_inventory
    except ImportError as exc:
        raise AnsibleParserError(
            f"the impax.preflight.site inventory plugin needs the impax-preflight package in the Python that runs "
            f"Ansible ({sys.executable}): pip install impax-preflight ({exc})"
        ) from None
    try:
        return load_inventory(path)
    except InventoryError as exc:
        raise AnsibleParserError(f"the impax-preflight site inventory {path} is not valid:\n{exc}") from None


class InventoryModule(BaseInventoryPlugin, Constructable):
    NAME = "impax.preflight.site"

    def verify_file(self, path):
        if not super().verify_file(path):
            return False
        if path.endswith(CONFIG_SUFFIXES):
            return True
        if path.endswith(".toml"):
            # a site file given directly: it has a [site] table and [[hosts]]
            try:
                head = Path(path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                return False
            return re.search(r"^\s*\[site\]", head, re.M) is not None and re.search(r"^\s*\[\[hosts\]\]", head, re.M) is not None
        return False

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        if path.endswith(".toml"):
            # a site file given directly: the options keep their defaults
            self.set_options(direct={"plugin": self.NAME, "sites": [path]})
            site_files = [Path(path)]
        else:
            self._read_config_data(path)
            base = Path(path).parent
            site_files = [p if p.is_absolute() else base / p for p in (Path(s).expanduser() for s in self.get_option("sites"))]
        seen = {}
        for site_file in site_files:
            self._add_site(site_file.resolve(), seen)

    def _add_site(self, site_file, seen):
        inv = load_site(site_file)
        site = inv.site
        site_slug = slug(site.name)
        site_group = self.inventory.add_group("site_" + site_slug.replace("-", "_"))
        self.inventory.add_group("impax_preflight")
        names = [h.name for h in inv.hosts]
        for host in inv.hosts:
            if host.name in seen:
                raise AnsibleParserError(
                    f"host {host.name!r} is in two site inventories ({seen[host.name]} and {site_file}): Ansible needs "
                    "unique host names across the sites it reads; rename one of them"
                )
            seen[host.name] = site_file
            name = self.inventory.add_host(host.name, group=site_group)
            for group in ("impax_preflight", f"tier_{host.tier}", f"os_{host.os}", f"platform_{site.platform.lower()}",
                          *(f"role_{r}" for r in host.roles)):
                self.inventory.add_host(name, group=self.inventory.add_group(group))
            hostvars = self._host_vars(inv, host, site_file, site_slug, names)
            for key, value in hostvars.items():
                self.inventory.set_variable(name, key, value)
            strict = self.get_option("strict")
            self._set_composite_vars(self.get_option("compose"), hostvars, name, strict=strict)
            self._add_host_to_composed_groups(self.get_option("groups"), hostvars, name, strict=strict)
            self._add_host_to_keyed_groups(self.get_option("keyed_groups"), hostvars, name, strict=strict)

    def _host_vars(self, inv, host, site_file, site_slug, names):
        site, t = inv.site, host.transport
        secrets = {}
        for field in ("password", "passphrase"):
            if getattr(t, field):
                secrets[f"transport.{field}"] = secret_text(getattr(t, field))
        for db in host.databases:
            if db.password:
                secrets[f"databases.{db.name}.password"] = secret_text(db.password)
        out = {
            "impax_preflight_host": host.name,
            "impax_preflight_site": site.name,
            "impax_preflight_site_slug": site_slug,
            "impax_preflight_site_file": str(site_file),
            "impax_preflight_site_hosts": names,
            "impax_preflight_platform": site.platform,
            "impax_preflight_impax_version": host.impax_version or site.impax_version,
            "impax_preflight_target_version": site.target_version,
            "impax_preflight_os": host.os,
            "impax_preflight_roles": list(host.roles),
            "impax_preflight_tier": host.tier,
            "impax_preflight_transport": t.kind,
            "impax_preflight_databases": [{"name": d.name, "kind": d.kind, "purpose": d.purpose} for d in host.databases],
            "impax_preflight_secrets": secrets,
        }
        if t.kind == "bundle" and t.bundle:
            out["impax_preflight_site_bundle"] = t.bundle
        if t.privilege:
            out["impax_preflight_privilege"] = t.privilege
        out.update(self._connection_vars(host))
        return out

    def _connection_vars(self, host):
        t = host.transport
        out = {}
        windows = host.os == "windows"
        if windows:
            out["ansible_shell_type"] = "powershell"
            out["ansible_connection"] = self.get_option("windows_connection")
        if not self.get_option("connection_vars"):
            return out
        out["ansible_host"] = host.reach
        if windows and out["ansible_connection"] != "ssh":
            return out  # WinRM / PSRP: port, user and password come from group_vars or an AWX credential
        if t.kind == "ssh":
            out["ansible_port"] = t.port
            if t.user:
                out["ansible_user"] = t.user
            if t.key_file:
                out["ansible_ssh_private_key_file"] = t.key_file
            args = []
            if t.known_hosts:
                args += ["-o", f"UserKnownHostsFile={t.known_hosts}"]
            # the site's host key policy: an unknown key is refused unless trust_new_host_key; a changed one always
            args += ["-o", "StrictHostKeyChecking=" + ("accept-new" if t.trust_new_host_key else "yes")]
            if t.jump:
                args += ["-o", f"ProxyJump={t.jump}"]
            if t.key_file and not t.use_agent:
                args += ["-o", "IdentitiesOnly=yes"]
            if t.keepalive_s:
                args += ["-o", f"ServerAliveInterval={max(1, int(t.keepalive_s))}"]
            out["ansible_ssh_common_args"] = " ".join(shlex.quote(a) for a in args)
            out["ansible_ssh_timeout"] = max(1, int(t.connect_timeout_s))
        return out
