"""The mount table: which file-system type each mount point is (`cat /etc/mnttab`, `cat /proc/mounts`).

`df -k` gives sizes but not types, and some types are full by nature: a CD / DVD or an ISO image
mounted through lofi (Solaris ``hsfs``, ``udf``; Linux ``iso9660``, ``udf``, ``squashfs``). The
mount table names them.

* Solaris `/etc/mnttab` (mnttab(4)): one line per mount, TAB-separated: ``special  mount_point
  fstype  options  time`` (``/vol/dev/dsk/c0t0d0/sol_10  /cdrom/sol_10  hsfs  ro,nosuid,...
  1299845500``).
* Linux `/proc/mounts` (the fstab(5) layout): ``device mount_point fstype options 0 0``, blanks in
  a field written as octal escapes (``\\040`` a space).
"""

from __future__ import annotations

import re

from .capture import read_capture

SOLARIS_COMMAND = "cat /etc/mnttab"
_OCTAL = re.compile(r"\\([0-7]{3})")
_FSTYPE = re.compile(r"^[a-z][a-z0-9_.+-]*$", re.I)


def parse_mount_table(text: str, notes: list[str] | None = None) -> dict[str, str]:
    """{mount point: file-system type} from /etc/mnttab or /proc/mounts (a mount point mounted twice:
    the last, the one df shows)."""
    cap = read_capture(text, command=SOLARIS_COMMAND, programs=("cat",), notes=notes, expand_tabs=False)
    out: dict[str, str] = {}
    for ln in cap.lines:
        if ln.blank:
            continue
        raw = ln.text.strip()
        fields = raw.split("\t") if raw.count("\t") >= 2 else raw.split()
        if len(fields) < 3 or not fields[1].startswith("/") or not _FSTYPE.match(fields[2]):
            cap.note(ln)
            continue
        mount = _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), fields[1])
        out[mount] = fields[2]
    if not out and not cap.empty:
        raise cap.nothing_recognised("'device mount-point type options' lines")
    return out


__all__ = ["parse_mount_table"]
