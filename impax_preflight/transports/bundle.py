"""Replay of outputs collected on a server (a "bundle"), for hosts that cannot be reached remotely.

Format (a folder, or a .zip / .tar.gz of it), version ``impax-preflight-bundle/1``::

    manifest.json   {"format": "impax-preflight-bundle/1", "host": "...", "os": "solaris|windows|linux",
                     "collected_at": "ISO-8601", "collector": "...",
                     "commands": [{"command": "svcs -xv", "rc": 0, "stdout": "out/001.out",
                                   "stderr": "out/001.err", "started": "ISO-8601", "duration_s": 0.12}]}
    out/NNN.out     raw stdout bytes of command NNN (any encoding: decoded like live output)
    out/NNN.err     raw stderr bytes

A command is looked up by its exact text (whitespace folded). One that is not in the bundle raises
`NotCollected`, which becomes an `error` finding — never a crash.
"""

from __future__ import annotations

import json
import re
import tarfile
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from .base import CommandResult, NotCollected, Shell, TransportError, finish_output

FORMAT = "impax-preflight-bundle/1"


def normalize_command(command: str) -> str:
    return re.sub(r"\s+", " ", command.strip())


class BundleShell(Shell):
    kind = "bundle"

    def __init__(self, path: str | Path, host_name: str | None = None, os_name: str | None = None):
        self.path = Path(path)
        manifest = self._load()
        if manifest.get("format") != FORMAT:
            raise TransportError(f"bundle {self.path}: unknown format {manifest.get('format')!r} (expected {FORMAT})")
        self.manifest = manifest
        self.host = manifest.get("host")
        if host_name and self.host and self.host != host_name:
            raise TransportError(f"bundle {self.path} was collected on host {self.host!r}, not {host_name!r}")
        self.os = manifest.get("os") or os_name or "linux"
        self.collected_at = manifest.get("collected_at")

    def _load(self) -> dict:
        """Read the manifest (and, for archives, every member) and set `self._read(rel) -> bytes`."""
        try:
            if self.path.is_dir():
                root = self.path
                self._read = lambda rel: (root / rel).read_bytes()
                manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
            else:
                blobs = self._archive_members()
                # the archive may hold the bundle folder itself: look for manifest.json one level down
                prefix = "" if "manifest.json" in blobs else next(
                    (n[: -len("manifest.json")] for n in blobs if n.endswith("/manifest.json")), "")
                self._read = lambda rel: blobs[prefix + rel]
                manifest = json.loads(blobs[prefix + "manifest.json"].decode("utf-8"))
            self._entries = {normalize_command(e["command"]): e for e in manifest.get("commands", [])}
            return manifest
        except (OSError, KeyError, TypeError, ValueError, tarfile.TarError, zipfile.BadZipFile) as exc:
            raise TransportError(f"bundle {self.path} cannot be read: {type(exc).__name__}: {exc}") from None

    def _archive_members(self) -> dict[str, bytes]:
        """Every file of a .zip or .tar.gz bundle, by its '/'-separated name."""
        if zipfile.is_zipfile(self.path):
            with zipfile.ZipFile(self.path) as zf:
                # Windows PowerShell 5's Compress-Archive writes names with backslashes
                return {n.replace("\\", "/"): zf.read(n) for n in zf.namelist() if not n.endswith(("/", "\\"))}
        if self.path.is_file() and tarfile.is_tarfile(self.path):
            # the sh collector falls back to tar.gz where zip is missing on the server
            with tarfile.open(self.path) as tf:
                return {m.name.removeprefix("./"): tf.extractfile(m).read()  # type: ignore[union-attr]
                        for m in tf.getmembers() if m.isfile()}
        raise TransportError(f"bundle {self.path} not found (expected a folder, a .zip or a .tar.gz with manifest.json)")

    def run(self, command: str, timeout: float | None = None, privileged: bool = False) -> CommandResult:
        entry = self._entries.get(normalize_command(command))
        if entry is None:
            raise NotCollected(
                f"not collected: the bundle {self.path.name} for host {self.host} has no output for `{command}`; "
                "regenerate the collector with `impax-preflight collect` and run it on the server again"
            )
        try:
            raw_out = self._read(entry["stdout"]) if entry.get("stdout") else b""
            raw_err = self._read(entry["stderr"]) if entry.get("stderr") else b""
        except (OSError, KeyError) as exc:
            raise TransportError(f"bundle {self.path}: output file for `{command}` missing: {exc}") from None
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
