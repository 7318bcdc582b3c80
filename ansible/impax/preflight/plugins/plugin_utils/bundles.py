# Copyright: impax-preflight maintainers
# Apache License 2.0 (see the collection's galaxy.yml)
"""Bundle files on the controller: read a fetched bundle, write it as one zip, record a failed collection.

The bundle format (``impax-preflight-bundle/1``, see impax-preflight's docs/bundles.md) is a folder
with ``manifest.json`` and ``out/NNN.out|err`` files, or a .zip / .tar.gz of it. This collection keeps
every host's bundle on the controller as one zip whose top level holds ``manifest.json``, written
atomically, with fixed member times so the same outputs give the same file (``changed`` is honest).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
import tempfile
import zipfile
from datetime import datetime, timezone

FORMAT = "impax-preflight-bundle/1"
_SSH_NOISE = re.compile(r"^(Shared )?[Cc]onnection to \S+ closed\.$")
DRIVER = "impax.preflight Ansible collection"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class BundleProblem(Exception):
    """A fetched bundle that cannot be used; the message says what is wrong and where."""


def members_of_archive(path):
    """Every file of a .zip or .tar(.gz) as {name: bytes}, names '/'-separated."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            # Windows PowerShell 5's Compress-Archive writes names with backslashes
            return {n.replace("\\", "/"): zf.read(n) for n in zf.namelist() if not n.endswith(("/", "\\"))}
    if tarfile.is_tarfile(path):
        with tarfile.open(path) as tf:
            return {m.name.removeprefix("./"): tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}
    raise BundleProblem(f"{path} is neither a zip nor a tar archive")


def normalized(members, expected_host=None):
    """(manifest, members with manifest.json at the top level). Raises BundleProblem."""
    prefix = "" if "manifest.json" in members else next(
        (n[: -len("manifest.json")] for n in sorted(members) if n.endswith("/manifest.json")), None)
    if prefix is None:
        raise BundleProblem("the bundle has no manifest.json: the collector did not finish")
    try:
        manifest = json.loads(members[prefix + "manifest.json"].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BundleProblem(f"the bundle's manifest.json is not valid JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleProblem(f"the bundle's manifest.json is not format {FORMAT}")
    if expected_host and manifest.get("host") not in (None, expected_host):
        raise BundleProblem(f"the bundle was collected on host {manifest.get('host')!r}, not {expected_host!r}")
    if not isinstance(manifest.get("commands"), list):
        raise BundleProblem("the bundle's manifest.json has no command list")
    files = {n[len(prefix):]: data for n, data in members.items() if n.startswith(prefix)}
    for entry in manifest["commands"]:
        for key in ("stdout", "stderr"):
            rel = entry.get(key) if isinstance(entry, dict) else None
            if rel and rel not in files:
                raise BundleProblem(f"the bundle lists {rel} but does not hold it")
    return manifest, files


def write_zip(dest, files):
    """Write {name: bytes} as a zip at dest, atomically. Returns True when dest's content changed."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.external_attr = 0o600 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, files[name])
    data = buf.getvalue()
    try:
        with open(dest, "rb") as f:
            if hashlib.sha256(f.read()).digest() == hashlib.sha256(data).digest():
                return False
    except OSError:
        pass
    folder = os.path.dirname(dest) or "."
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".bundle-", suffix=".zip", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o600)  # outputs of hospital servers: readable by the controller's user only
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return True


def failed_collection(host, os_name, reason, collected_at=None):
    """The files of a bundle that records a failed collection (impax-preflight turns it into errors)."""
    manifest = {
        "format": FORMAT,
        "host": host,
        "os": os_name,
        "collected_at": collected_at or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "collector": DRIVER,
        "collection_failed": reason,
        "commands": [],
    }
    return {"manifest.json": (json.dumps(manifest, indent=2) + "\n").encode("utf-8")}


def failure_reason(task_name, result, limit=1500):
    """One readable line from a failed (or unreachable) task result: what failed, its message, the
    end of its stderr/stdout. Ansible's "Task failed: " prefix is dropped."""
    result = result if isinstance(result, dict) else {}
    parts = []
    msg = str(result.get("msg") or "").strip()
    if msg.startswith("Task failed: "):
        msg = msg[len("Task failed: "):]
    if msg:
        parts.append(msg)
    if result.get("rc") not in (None, 0):
        parts.append(f"rc {result.get('rc')}")
    for key in ("stderr", "stdout"):
        # raw runs with a terminal, so its messages often come on stdout; OpenSSH's own
        # "Shared connection to ... closed." is noise, not the reason
        lines = [line.strip() for line in str(result.get(key) or "").splitlines()
                 if line.strip() and not _SSH_NOISE.match(line.strip())]
        if lines:
            parts.append(f"{key}: " + " | ".join(lines[-5:]))
            break
    text = "; ".join(parts) or "no reason given"
    text = f"{task_name}: {text}" if task_name else text
    return text if len(text) <= limit else text[: limit - 1] + "…"
