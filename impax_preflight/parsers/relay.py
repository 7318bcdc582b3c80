"""`Study.Status.Relay.exe.config` of the Cross-Cluster Dictation Interlock (an XML .NET config).

The guide names the settings under ``StudyStatusRelayConfiguration``: ``UserPassword``,
``LoginServiceUrl``, ``StudyInfoServiceUrl``, ``MessagingServiceUrl``, ``RemoteSignalHost``. The
exact layout is not public, so every common .NET form is read: child elements
(``<LoginServiceUrl>...</LoginServiceUrl>``), attributes (``LoginServiceUrl="..."``), and
``<add key="..." value="..."/>`` / ``<setting name="..."><value>...</value></setting>`` entries.
The password itself is never kept: only whether it is set (`user_password_set`). The XML is taken
from its first ``<`` to its last ``>`` once the capture cleaner has removed prompts and the echoed
``type`` / ``Get-Content`` command; text around it is a note.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

from . import ParseError
from .capture import read_capture

COMMAND = 'type "Study.Status.Relay.exe.config"'
PROGRAMS = ("type", "more", "get-content", "gc", "cat")
SETTINGS = ("UserPassword", "LoginServiceUrl", "StudyInfoServiceUrl", "MessagingServiceUrl", "RemoteSignalHost")
_SECRET = "UserPassword"


@dataclass
class RelayConfig:
    settings: dict[str, str] = field(default_factory=dict)  # every setting found, UserPassword excluded
    user_password_set: bool = False
    found_section: bool = False

    def get(self, name: str) -> str | None:
        return self.settings.get(name)

    def ports(self) -> list[int]:
        """Port numbers from settings whose name mentions a port (e.g. LocalSignalPort)."""
        out = []
        for k, v in self.settings.items():
            if "port" in k.lower() and re.fullmatch(r"\s*\d{1,5}\s*", v or ""):
                out.append(int(v))
        return out


def redact(text: str) -> str:
    """The config text with the UserPassword value blanked, for evidence."""
    # up to the next tag or the end: a truncated file must not leak the value either
    text = re.sub(r"(<UserPassword\b[^>/]*>)[^<]*", r"\1********", text or "", flags=re.I)
    text = re.sub(r'(\bUserPassword\s*=\s*")[^"]*("?)', r"\1********\2", text, flags=re.I)
    text = re.sub(r'(key\s*=\s*"UserPassword"\s+value\s*=\s*")[^"]*("?)', r"\1********\2", text, flags=re.I)
    return re.sub(r'(name\s*=\s*"UserPassword"[^>]*>\s*<value>)(.*?)(</value>)', r"\1********\3", text, flags=re.I | re.S)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def parse_relay_config(text: str, *, notes: list[str] | None = None) -> RelayConfig:
    """Parse the relay service's XML config."""
    cap = read_capture(text, command=COMMAND, programs=PROGRAMS, notes=notes, expand_tabs=False)
    body = cap.text.strip()
    first, last = body.find("<"), body.rfind(">")
    if first > 0 or (last != -1 and last < len(body) - 1):
        cap.add_note("text around the XML ignored: " + repr(redact((body[:first] + " ... " + body[last + 1 :]).strip())[:120]))
    if first != -1 and last > first:
        body = body[first : last + 1]
    if not body:
        raise ParseError("empty Study.Status.Relay.exe.config", command=COMMAND, excerpt=text)
    if "<!ENTITY" in body or "<!DOCTYPE" in body:
        raise ParseError("refusing a config with a DOCTYPE / ENTITY declaration", command=COMMAND, excerpt=redact(body))
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise ParseError(f"not well-formed XML: {exc}", command=COMMAND, excerpt=redact(body)) from None
    cfg = RelayConfig()
    found: dict[str, str] = {}
    for el in root.iter():
        name = _local(el.tag)
        if name == "StudyStatusRelayConfiguration":
            cfg.found_section = True
        if name not in ("add", "setting"):  # their attributes are key/value pairs, read below: never harvest
            for attr, value in el.attrib.items():  # `value` itself (the UserPassword would stay in the settings)
                found.setdefault(_local(attr), value)
        if name == "add" and "key" in el.attrib:
            found[el.attrib["key"]] = el.attrib.get("value", "")
        elif name == "setting" and "name" in el.attrib:
            v = el.find("value")
            found[el.attrib["name"]] = (v.text or "").strip() if v is not None else ""
        elif len(el) == 0 and el.text is not None and name not in ("value", "add"):
            found.setdefault(name, el.text.strip())
        elif len(el) == 0 and name in SETTINGS:
            found.setdefault(name, "")
    cfg.user_password_set = bool(found.pop(_SECRET, "").strip())
    for k in list(found):
        if k.lower() == _SECRET.lower():
            cfg.user_password_set = cfg.user_password_set or bool(found.pop(k).strip())
    cfg.settings = found
    return cfg
