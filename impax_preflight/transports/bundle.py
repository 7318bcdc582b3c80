"""Replay of outputs collected on a server (a "bundle"), for hosts that cannot be reached remotely.

Format (a folder, or a .zip / .tar.gz of it), version ``impax-preflight-bundle/1``::

    manifest.json   {"format": "impax-preflight-bundle/1", "host": "...", "os": "solaris|windows|linux",
                     "collected_at": "ISO-8601", "collector": "...",
                     "commands": [{"command": "svcs -xv", "rc": 0, "stdout": "out/001.out",
                                   "stderr": "out/001.err", "started": "ISO-8601", "duration_s": 0.12}]}
    out/NNN.out     raw stdout bytes of command NNN (any encoding: decoded like live output)
    out/NNN.err     raw stderr bytes

An entry may also say ``"timed_out": true, "timeout_s": N`` (the collector killed the command at
its timeout: a `CommandTimeout`) and ``"codepage"`` (Windows console code page).

A command is looked up by its exact text (whitespace folded). One that is not in the bundle raises
`NotCollected`, which becomes an `error` finding — never a crash. A manifest with
``"collection_failed": "reason"`` (and no commands) records that collecting on the server failed:
opening it raises `TransportError` with the reason, so every check of that host is an `error`.
Members are read through `bundle_store.py`: nothing outside the bundle, no links or special files,
size limits checked before reading (`transport.bundle_member_max_mb`, `transport.bundle_max_mb`).
"""

from __future__ import annotations

import codecs
import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from ..vocabulary import OS_NAMES
from .base import (
    CommandResult,
    CommandTimeout,
    NotCollected,
    Shell,
    TransportError,
    finish_output,
)
from .bundle_store import (
    DEFAULT_MEMBER_MAX_MB,
    DEFAULT_TOTAL_MAX_MB,
    BundleRefused,
    member_name,
    open_store,
)

FORMAT = "impax-preflight-bundle/1"


def normalize_command(command: str) -> str:
    return re.sub(r"\s+", " ", command.strip())


class BundleShell(Shell):
    kind = "bundle"

    def __init__(self, path: str | Path, host_name: str | None = None, os_name: str | None = None, *,
                 member_max_mb: float = DEFAULT_MEMBER_MAX_MB, total_max_mb: float = DEFAULT_TOTAL_MAX_MB):
        self.path = Path(path)
        self._store = open_store(self.path, member_max_mb, total_max_mb)
        try:
            manifest = self._load()
        except BaseException:
            self._store.close()
            raise
        self.manifest = manifest
        self.host = manifest.get("host")
        if host_name and self.host and self.host != host_name:
            self._store.close()
            raise TransportError(f"bundle {self.path} was collected on host {self.host!r}, not {host_name!r}")
        self.os = manifest.get("os") or os_name or "linux"
        self.collected_at = manifest.get("collected_at")
        failed = manifest.get("collection_failed")
        if failed:
            # written by a collector driver (e.g. the Ansible collection) that could not collect on
            # the server: every check of the host becomes an error naming the reason, never a pass
            when = f" at {self.collected_at}" if self.collected_at else ""
            by = f" ({manifest['collector']})" if manifest.get("collector") else ""
            self._store.close()
            raise TransportError(f"no outputs from {self.host or host_name}: collecting on the server failed{when}{by}: {failed}")

    def _load(self) -> dict:
        """Read and check the manifest; every output path it names must be a safe member name."""
        store = self._store
        names = store.names()
        # an archive may hold the bundle folder itself: look for manifest.json one level down
        self._prefix = "" if "manifest.json" in names or not names else next(
            (n[: -len("manifest.json")] for n in sorted(names) if n.count("/") == 1 and n.endswith("/manifest.json")), "")
        try:
            text = store.read(self._prefix + "manifest.json").decode("utf-8-sig")
            manifest = json.loads(text)
        except (BundleRefused, NotCollected):
            raise
        except TransportError as exc:
            raise TransportError(f"{exc}: the bundle has no manifest.json") from None
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise TransportError(f"bundle {self.path}: manifest.json is not valid JSON: "
                                 f"{type(exc).__name__}: {str(exc)[:200]}") from None
        if not isinstance(manifest, dict):
            raise TransportError(f"bundle {self.path}: manifest.json must hold a JSON object")
        if manifest.get("format") != FORMAT:
            raise TransportError(f"bundle {self.path}: unknown format {str(manifest.get('format'))[:80]!r} (expected {FORMAT})")
        for key in ("host", "collected_at", "collector"):
            if manifest.get(key) is not None and not isinstance(manifest[key], str):
                raise TransportError(f"bundle {self.path}: manifest.json field '{key}' must be a string")
        if manifest.get("os") is not None and manifest["os"] not in OS_NAMES:
            raise TransportError(f"bundle {self.path}: manifest.json field 'os' must be one of {', '.join(OS_NAMES)}")
        commands = manifest.get("commands", [])
        if not isinstance(commands, list):
            raise TransportError(f"bundle {self.path}: manifest.json field 'commands' must be a list")
        self._entries: dict[str, dict] = {}
        members: list[str] = []
        for i, e in enumerate(commands):
            where = f"bundle {self.path}: manifest.json commands[{i}]"
            problem = _entry_problem(e)
            if problem:
                raise TransportError(f"{where}: {problem}")
            for stream in ("stdout", "stderr"):
                if e.get(stream):
                    try:
                        e[stream] = member_name(e[stream])
                    except ValueError as exc:
                        raise store.refused(e[stream], f"{exc} (named by commands[{i}].{stream})") from None
                    members.append(self._prefix + e[stream])
            self._entries[normalize_command(e["command"])] = e
        # every output is a regular file inside the bundle (a link or a FIFO refuses the whole
        # bundle, now), and together they stay within the total limit, before anything is read
        for name in members:
            try:
                store.size(name)
            except BundleRefused:
                raise
            except TransportError:
                pass  # missing: the command that needs it says so
        store.check_total(members)
        return manifest

    def run(self, command: str, timeout: float | None = None, privileged: bool = False) -> CommandResult:
        entry = self._entries.get(normalize_command(command))
        if entry is None:
            raise NotCollected(
                f"not collected: the bundle {self.path.name} for host {self.host} has no output for `{command}`; "
                "regenerate the collector with `impax-preflight collect` and run it on the server again"
            )
        if entry.get("timed_out"):
            limit = entry.get("timeout_s")
            raise CommandTimeout(
                f"`{command}` ran past the collector's {limit:g}s timeout on the server and was killed there; "
                f"its output in bundle {self.path.name} is incomplete. Look at why it is slow on the server, or write "
                "the collector with a longer timeout (thresholds.command_timeout_s) and collect again"
                if isinstance(limit, (int, float)) else
                f"`{command}` ran past the collector's timeout on the server and was killed there; its output in "
                f"bundle {self.path.name} is incomplete"
            )
        try:
            raw_out = self._store.read(self._prefix + entry["stdout"]) if entry.get("stdout") else b""
            raw_err = self._store.read(self._prefix + entry["stderr"]) if entry.get("stderr") else b""
        except BundleRefused:
            raise
        except TransportError as exc:
            raise TransportError(f"{exc}: the output of `{command}` cannot be read") from None
        stdout, raw, truncated = finish_output(raw_out, entry.get("codepage"))
        stderr, _, _ = finish_output(raw_err, entry.get("codepage"))
        return CommandResult(
            command=command,
            rc=entry.get("rc"),
            stdout=stdout,
            stderr=stderr,
            raw=raw,
            duration=float(entry.get("duration_s") or 0.0),
            truncated=truncated,
            transport=self.kind,
            # the collector scripts stamp with the server's own clock; a bundle impax-preflight wrote
            # itself says "clock": "impax-preflight" (its stamps are the tool machine's clock)
            extra={"collected_at": entry.get("started") or self.collected_at, "clock": self.manifest.get("clock") or "server"},
        )

    def close(self) -> None:
        self._store.close()


def _entry_problem(e: Any) -> str | None:
    """What is wrong with one manifest entry, or None."""
    if not isinstance(e, dict):
        return "must be a JSON object"
    if not isinstance(e.get("command"), str) or not e["command"].strip():
        return "'command' must be a non-empty string"
    rc = e.get("rc")
    if rc is not None and (isinstance(rc, bool) or not isinstance(rc, int) or not -(2**31) <= rc < 2**32):
        return "'rc' must be an integer exit code or null"
    for key in ("stdout", "stderr", "started", "codepage"):
        if e.get(key) is not None and not isinstance(e[key], str):
            return f"'{key}' must be a string"
    if e.get("codepage"):
        try:
            codecs.lookup(e["codepage"])
        except LookupError:
            return f"'codepage' {e['codepage'][:40]!r} is not a known encoding"
    for key in ("duration_s", "timeout_s"):
        v = e.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0):
            return f"'{key}' must be a number of seconds"
    if e.get("timed_out") is not None and not isinstance(e["timed_out"], bool):
        return "'timed_out' must be true or false"
    return None


@dataclass
class BundleEntry:
    command: str
    stdout: bytes | str
    rc: int = 0
    stderr: bytes | str = b""
    duration_s: float = 0.05


def write_bundle(
    path: str | Path,
    host: str,
    os_name: str,
    entries: Iterable[BundleEntry],
    collected_at: str | None = None,
    collector: str = "impax-preflight (written by write_bundle)",
) -> Path:
    """Write a bundle folder (used by the demo and tests; the real collector writes the same).

    Stamped with this machine's clock when `collected_at` is not given: the manifest then says
    ``"clock": "impax-preflight"``, so a host's clock reading in it can be compared with it."""
    root = Path(path)
    (root / "out").mkdir(parents=True, exist_ok=True)
    when = collected_at or datetime.now(timezone.utc).isoformat(timespec="seconds")
    commands = []
    for i, e in enumerate(entries, start=1):
        out_rel, err_rel = f"out/{i:03d}.out", f"out/{i:03d}.err"
        (root / out_rel).write_bytes(e.stdout.encode("utf-8") if isinstance(e.stdout, str) else e.stdout)
        (root / err_rel).write_bytes(e.stderr.encode("utf-8") if isinstance(e.stderr, str) else e.stderr)
        commands.append(
            {"command": e.command, "rc": e.rc, "stdout": out_rel, "stderr": err_rel, "started": when, "duration_s": e.duration_s}
        )
    manifest = {"format": FORMAT, "host": host, "os": os_name, "collected_at": when, "collector": collector, "commands": commands}
    if collected_at is None:
        manifest["clock"] = "impax-preflight"
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return root
