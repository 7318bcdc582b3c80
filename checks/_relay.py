"""The Study Status Relay (Cross-Cluster Dictation Interlock) as the checks read it: where its
configuration lives and the one probe that reads it. Shared by interlock.relay and
os.windows.firewall_relay. Not a plugin (leading underscore).
"""

from __future__ import annotations

from impax_preflight.parsers.relay import parse_relay_config, redact
from impax_preflight.probes import probe

RELAY_DIR = "C:\\Program Files\\Agfa\\Impax Business Services\\study-status-signal-relay"
RELAY_CONFIG = RELAY_DIR + "\\Study.Status.Relay.exe.config"
RELAY_SERVICE = "StudyStatusRelayService"


def config_path(site) -> str:
    """The relay's configuration file: option config_path of os.windows.firewall_relay or of
    interlock.relay, else where the installer puts it."""
    options = site.options if site is not None else {}
    for check_id in ("os.windows.firewall_relay", "interlock.relay"):
        path = (options.get(check_id) or {}).get("config_path")
        if path:
            return str(path)
    return RELAY_CONFIG


RELAY_SETTINGS = probe(
    "windows.relay_config", "the Study Status Relay configuration (Study.Status.Relay.exe.config)", parse_relay_config,
    windows='type "{config_path}"',
    arguments=lambda site, host: {"config_path": config_path(site)},
    absent=r"cannot find the (path|file) specified",
    absent_note="the Study Status Relay configuration file does not exist",
    # the encrypted password is blanked before the output is parsed or kept: it never reaches a report
    redact=redact,
)
