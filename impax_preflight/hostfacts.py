"""What is known about one host: facts discovered on it and facts the inventory declares, merged once.

The rule, in one place: a fact the inventory declares (``[hosts.facts]``) wins over the same fact
discovered on the host — the engineer states what a server cannot tell, or tells wrongly — and a
discovered fact fills every gap the inventory leaves. Installed products (Connectivity Manager,
TalkStation, PACS Broker, IMPAX...) follow the same rule, matched by DisplayName patterns that a
site may replace (``site.software_patterns``).

`HostFacts` reads like the dict checks have always used (``facts.get("cpus")``) and has typed
properties for the well-known keys. Plain Python: nothing heavy is imported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Iterator

from .patterns import PatternError, compile_pattern
from .versions import parse_version

if TYPE_CHECKING:  # pragma: no cover
    from .inventory import Host, Site

#: DisplayName (or pkginfo NAME) regexes per product; a site overrides them in `software_patterns`
DEFAULT_SOFTWARE_PATTERNS: dict[str, str] = {
    "connectivity_manager": r"(?i)connectivity\s*manager",
    "talkstation": r"(?i)talk\s*station",
    "pacs_broker": r"(?i)pacs\s*broker(?!.*dicom interface)",
    "pacs_broker_su2": r"(?i)pacs\s*broker.*dicom\s*interface.*su\s*2",
    "impax": r"(?i)^(agfa\s+)?impax(?!.*(client|migration|installation server))\b",
}

_BUILT_IN_PATTERNS = frozenset(DEFAULT_SOFTWARE_PATTERNS.values())

#: keys of HostFacts that are bookkeeping, not facts about the host
_META = ("declared", "errors")


def software_patterns(site: "Site | None") -> dict[str, str]:
    """The product patterns of a site: the defaults, replaced key by key by ``site.software_patterns``."""
    pats = dict(DEFAULT_SOFTWARE_PATTERNS)
    if site is not None:
        pats.update(site.software_patterns or {})
    return pats


def match_products(software: list[dict[str, Any]], patterns: dict[str, str]) -> dict[str, str]:
    """{product key: version}: of the entries whose name matches each pattern, the LOWEST version.

    Several installed versions of one product (an old copy never removed, a 32-bit and a 64-bit
    entry) are judged by the oldest: it is the one that would block the upgrade, and a pass must not
    rest on the newest while the old one is still there."""
    out: dict[str, str] = {}
    for key, rx in patterns.items():
        try:
            # ours may use look-ahead (re); a site's run on RE2, in linear time (checked when the inventory loads)
            pat = re.compile(rx) if rx in _BUILT_IN_PATTERNS else compile_pattern(rx)
        except (re.error, PatternError):
            continue
        hits = [s for s in software if s.get("name") and pat.search(s["name"])]
        with_v = [(v, s) for v, s in ((parse_version(s.get("version") or ""), s) for s in hits) if v is not None]
        if with_v:
            lowest = min(with_v, key=lambda t: t[0])
            out[key] = str(lowest[1]["version"]).strip()
        elif hits:
            # installed, version unknown: the DisplayName sometimes holds it ("TalkStation 4.0")
            v = parse_version(hits[0]["name"])
            out[key] = str(v) if v else "unknown"
    return out


def _given(v: Any) -> bool:
    return v not in (None, "", [], {})


def _version_text(v: Any) -> str | None:
    if isinstance(v, bool) or not isinstance(v, (str, int, float)) or not str(v).strip():
        return None
    return str(v)


class HostFacts(Mapping):
    """The facts of one host: declared ones win, discovered ones fill the gaps; plus what could not
    be read (``errors``). Read it like a dict, or through the typed properties."""

    def __init__(self, discovered: Mapping[str, Any] | None = None, declared: Mapping[str, Any] | None = None,
                 errors: list[str] | None = None):
        self.discovered: dict[str, Any] = {k: v for k, v in (discovered or {}).items() if k not in _META}
        self.declared: dict[str, Any] = dict(declared or {})
        self.errors: list[str] = list(errors or []) + [
            e for e in (discovered or {}).get("errors") or [] if isinstance(e, str) and e not in (errors or [])
        ]

    @classmethod
    def of(cls, value: "HostFacts | Mapping[str, Any] | None") -> "HostFacts":
        """A HostFacts from what a caller holds: itself, or a plain dict (a ``declared`` key inside it
        is taken as the declared facts; the rest as discovered)."""
        if isinstance(value, HostFacts):
            return value
        data = dict(value or {})
        declared = data.pop("declared", None)
        return cls(data, declared if isinstance(declared, Mapping) else None)

    @classmethod
    def declared_only(cls, host: "Host") -> "HostFacts":
        """What the inventory says about a host whose facts were not collected in this run."""
        return cls({}, dict(host.facts))

    # -- the merged view ----------------------------------------------------------------------
    def _value(self, key: str) -> Any:
        if key == "declared":
            return self.declared
        if key == "errors":
            return self.errors
        if key in self.declared and _given(self.declared[key]):
            return self.declared[key]
        if key in self.discovered:
            return self.discovered[key]
        if key in self.declared:
            return self.declared[key]
        raise KeyError(key)

    def __getitem__(self, key: str) -> Any:
        return self._value(key)

    def __iter__(self) -> Iterator[str]:
        seen = dict.fromkeys(list(self.discovered) + list(self.declared))
        return iter(list(seen) + list(_META))

    def __len__(self) -> int:
        return len(set(self.discovered) | set(self.declared)) + len(_META)

    def __repr__(self) -> str:
        return f"HostFacts(discovered={sorted(self.discovered)}, declared={sorted(self.declared)}, errors={len(self.errors)})"

    def origin(self, key: str) -> str | None:
        """'declared' or 'discovered' for where a fact's value comes from; None when unknown."""
        if key in self.declared and _given(self.declared[key]):
            return "declared"
        if key in self.discovered:
            return "discovered"
        return None

    def conflicts(self) -> list[tuple[str, Any, Any]]:
        """(fact, declared, discovered) where the host says something else than the inventory (the
        declared value is the one used). A discovered value that only refines the declared one
        (build 6.3.1.2156 of release 6.3.1, "5.10" of "5.10") is no conflict."""
        out = []
        for key, said in self.declared.items():
            if key in _META or not _given(said) or key not in self.discovered or not _given(self.discovered[key]):
                continue
            if not all(isinstance(v, (str, int, float)) for v in (said, self.discovered[key])):
                continue  # structured facts (product tables...) are compared by the checks that read them
            a, b = str(said).strip().lower(), str(self.discovered[key]).strip().lower()
            if a != b and not b.startswith(a + ".") and not b.startswith(a + " "):
                out.append((key, said, self.discovered[key]))
        return out

    def with_discovered(self, discovered: Mapping[str, Any], errors: list[str] | None = None) -> "HostFacts":
        """These facts with more discovered ones (empty values never replace a known one)."""
        merged = dict(self.discovered)
        merged.update({k: v for k, v in discovered.items() if k not in _META and _given(v)})
        more = [e for e in discovered.get("errors") or [] if isinstance(e, str)]
        return HostFacts(merged, self.declared, self.errors + more + list(errors or []))

    # -- typed access to the well-known facts -----------------------------------------------------
    @property
    def os(self) -> str | None:
        return self.get("os")

    @property
    def os_release(self) -> str | None:
        return self.get("os_release")

    @property
    def os_version(self) -> str | None:
        return self.get("os_version")

    @property
    def hostname(self) -> str | None:
        return self.get("hostname")

    @property
    def cpus(self) -> int | None:
        v = self.get("cpus")
        return v if isinstance(v, int) and not isinstance(v, bool) else None

    @property
    def memory_mb(self) -> float | None:
        v = self.get("memory_mb")
        return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    @property
    def software(self) -> list[dict[str, Any]] | None:
        """Installed programs, or None when they were not read in this run."""
        v = self.discovered.get("software")
        return list(v) if isinstance(v, list) else None

    def products(self, site: "Site | None") -> dict[str, str]:
        """{product key: version} with the site's patterns, the declared versions winning.

        Recomputed from the installed software with the site's patterns, so that facts gathered
        without the site (another collector, a test) agree with them: a product a site pattern no
        longer matches is dropped, not kept from an earlier default match. A declared version
        (``talkstation = "4.0"``, or a ``products`` table in ``[hosts.facts]``) overrides discovery.
        """
        pats = software_patterns(site)
        discovered_products = dict(self.discovered.get("products") or {})
        software = self.software
        if software is not None:
            out = {k: v for k, v in discovered_products.items() if k not in pats}
            out.update(match_products(software, pats))
        else:
            out = discovered_products
        for source in (self.discovered, self.declared):
            for key in pats:
                v = _version_text(source.get(key))
                if v is not None:
                    out[key] = v
        if isinstance(self.declared.get("products"), Mapping):
            out.update({k: str(v) for k, v in self.declared["products"].items()})
        return out


def products_for(facts: "HostFacts | Mapping[str, Any]", site: "Site | None") -> dict[str, str]:
    """{product key: version} of a host's facts (see `HostFacts.products`)."""
    return HostFacts.of(facts).products(site)
