"""Reading the files of a bundle (folder, .zip, .tar.gz) so that nothing outside it is ever read.

A bundle comes from a server, by hand, through whoever carried it: it is untrusted input. Rules:

- the bundle path itself must be a folder or a regular file; a FIFO, device or socket is refused
  before anything opens it (opening a FIFO would block forever);
- a member is named by a relative '/'-separated path: no absolute path, drive letter, `..`, NUL
  or empty part;
- a member must be a regular file: symbolic links (even pointing inside), hard links, FIFOs and
  devices are refused, in folders (every path component is checked with lstat, and the opened file
  is checked again with fstat) as in archives (zip mode bits, tar member types);
- sizes are checked before reading: each member against the per-member limit (zip/tar headers,
  stat for folders), the whole archive (or every file the manifest names, for a folder) against the
  total limit; headers are not trusted alone: every read stops one byte past the limit.

A breach raises `BundleRefused` (a `TransportError`: an `error` finding) naming the bundle, the
member and the rule or limit. The bundle as a whole is refused when its structure is unsafe (a
link, a special file, an unsafe name, over the total); a single member over the per-member limit
only fails the commands whose output it holds.
"""

from __future__ import annotations

import os
import stat
import tarfile
import threading
import zipfile
from pathlib import Path

from .base import TransportError

MB = 1024 * 1024
DEFAULT_MEMBER_MAX_MB = 64.0
DEFAULT_TOTAL_MAX_MB = 1024.0
_CHUNK = 1024 * 1024


class BundleRefused(TransportError):
    """The bundle, or one of its members, breaks a rule or a size limit."""


def _mb(n: float) -> str:
    return f"{n / MB:g} MB"


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


def member_name(name: str, backslash_is_separator: bool = True) -> str:
    """The normalised form of a member name ('/'-separated, no leading './'); raises ValueError with
    the reason when the name could point outside the bundle.

    PowerShell 5's Compress-Archive writes backslashes as separators, while on Unix a backslash is
    an ordinary character of a file name (a zip made on Unix, a tar): `backslash_is_separator` says
    which, for the lookup. The safety rules hold under both readings, so a name that would climb
    out of the bundle for a Windows tool is refused here too."""
    if not isinstance(name, str) or not name:
        raise ValueError("an empty name")
    if "\x00" in name:
        raise ValueError("a NUL character in the name")
    for norm in {name.replace("\\", "/"), name}:
        if norm.startswith("/") or (len(norm) >= 2 and norm[1] == ":"):
            raise ValueError("an absolute path")
        if ".." in norm.split("/"):
            raise ValueError("a '..' part leading out of the bundle")
    norm = name.replace("\\", "/") if backslash_is_separator else name
    parts = [p for p in norm.split("/") if p not in ("", ".")]
    if not parts:
        raise ValueError("an empty name")
    return "/".join(parts)


class BundleStore:
    """Reads members of one bundle by name, within the rules above. Thread-safe."""

    def __init__(self, path: Path, member_max: int, total_max: int):
        self.path = path
        self.member_max = member_max
        self.total_max = total_max
        self._lock = threading.Lock()
        self._read_total = 0
        self._counted: set[str] = set()

    # subclasses
    def names(self) -> set[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _size(self, name: str) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _read(self, name: str, cap: int) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        pass

    # shared
    def refused(self, member: str, why: str) -> BundleRefused:
        return BundleRefused(
            f"bundle {self.path}: member {member!r} is refused: {why}. A bundle holds only regular files "
            "inside its own folder; this one was not written by the impax-preflight collector or was altered "
            "on the way: collect it again"
        )

    def over_limit(self, member: str, size: int | str, limit: int, setting: str) -> BundleRefused:
        return BundleRefused(
            f"bundle {self.path}: member {member!r} is {size} bytes, over the limit of {_mb(limit)} "
            f"(transport.{setting}); it was not read. Raise the limit in the inventory if this output is genuine"
        )

    def exists(self, name: str) -> bool:
        return name in self.names()

    def size(self, name: str) -> int:
        return self._size(name)

    def read(self, name: str) -> bytes:
        """The bytes of member `name` (already normalised), at most the per-member limit."""
        size = self._size(name)
        if size > self.member_max:
            raise self.over_limit(name, size, self.member_max, "bundle_member_max_mb")
        with self._lock:
            data = self._read(name, self.member_max + 1)
            if len(data) > self.member_max:
                raise self.over_limit(name, f"more than {self.member_max}", self.member_max, "bundle_member_max_mb")
            if name not in self._counted:
                if self._read_total + len(data) > self.total_max:
                    raise BundleRefused(
                        f"bundle {self.path}: reading member {name!r} would pass the limit of {_mb(self.total_max)} "
                        "for the whole bundle (transport.bundle_max_mb); it was not read"
                    )
                self._counted.add(name)
                self._read_total += len(data)
        return data

    def check_total(self, names: list[str]) -> None:
        """Refuse the bundle when the members `names` add up to more than the total limit."""
        total = 0
        for n in dict.fromkeys(names):
            try:
                total += self._size(n)
            except BundleRefused:
                raise
            except TransportError:
                continue  # missing: the command that needs it says so
        if total > self.total_max:
            raise BundleRefused(
                f"bundle {self.path} holds {total} bytes of output, over the limit of {_mb(self.total_max)} for "
                "a whole bundle (transport.bundle_max_mb); nothing was read. Raise the limit in the inventory if "
                "the bundle is genuine"
            )


class FolderStore(BundleStore):
    """A bundle folder: every path component is checked with lstat, the opened file with fstat."""

    def __init__(self, path: Path, member_max: int, total_max: int):
        super().__init__(path, member_max, total_max)
        self.root = Path(os.path.realpath(path))

    def names(self) -> set[str]:  # only used for the manifest lookup in a folder
        return {"manifest.json"} if (self.root / "manifest.json").exists() else set()

    def exists(self, name: str) -> bool:
        return os.path.lexists(self.root / name)

    def _lstat_chain(self, name: str) -> os.stat_result:
        current = self.root
        parts = name.split("/")
        for i, part in enumerate(parts):
            current = current / part
            try:
                st = os.lstat(current)
            except FileNotFoundError:
                raise TransportError(f"bundle {self.path}: member {name!r} is missing") from None
            except OSError as exc:
                raise TransportError(f"bundle {self.path}: member {name!r} cannot be read: {exc.strerror}") from None
            last = i == len(parts) - 1
            if stat.S_ISLNK(st.st_mode):
                target = os.readlink(current)
                where = "outside" if not _inside(self.root, current.parent / target) else "inside"
                raise self.refused(name, f"{'it' if last else repr('/'.join(parts[: i + 1]))} is a symbolic link "
                                         f"(to {target!r}, {where} the bundle)")
            if not last and not stat.S_ISDIR(st.st_mode):
                raise TransportError(f"bundle {self.path}: member {name!r} is missing")
            if last and not stat.S_ISREG(st.st_mode):
                raise self.refused(name, f"it is {_kind(st.st_mode)}")
        return st

    def _size(self, name: str) -> int:
        return self._lstat_chain(name).st_size

    def _read(self, name: str, cap: int) -> bytes:
        before = self._lstat_chain(name)
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
        try:
            fd = os.open(self.root / name, flags)
        except OSError as exc:
            raise self.refused(name, f"it could not be opened safely ({exc.strerror})") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (before.st_dev, before.st_ino):
                raise self.refused(name, "it changed while being opened")
            chunks, got = [], 0
            while got < cap:
                chunk = os.read(fd, min(_CHUNK, cap - got))
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)


class ZipStore(BundleStore):
    def __init__(self, path: Path, member_max: int, total_max: int):
        super().__init__(path, member_max, total_max)
        self._zip = zipfile.ZipFile(path)
        self._infos: dict[str, zipfile.ZipInfo] = {}
        total = 0
        infos = self._zip.infolist()
        # PowerShell 5's Compress-Archive separates with backslashes only; a zip that uses '/'
        # anywhere (Info-ZIP, Python) has backslashes as ordinary characters of file names
        backslash_sep = not any("/" in i.filename for i in infos)
        for info in infos:
            if info.is_dir():
                continue
            try:
                name = member_name(info.filename, backslash_is_separator=backslash_sep)
            except ValueError as exc:
                self.close()
                raise self.refused(info.filename, str(exc)) from None
            kind = (info.external_attr >> 16) & 0o170000
            if info.create_system == 3 and kind not in (0, stat.S_IFREG):  # 3: made on Unix, mode bits are real
                self.close()
                raise self.refused(info.filename, f"it is {_kind(kind)}")
            if info.flag_bits & 0x1:
                self.close()
                raise self.refused(info.filename, "it is encrypted")
            if name in self._infos:
                self.close()
                raise self.refused(info.filename, "the name appears twice in the archive")
            self._infos[name] = info
            total += info.file_size
            if total > total_max:
                self.close()
                raise BundleRefused(
                    f"bundle {self.path}: its members add up to more than the limit of {_mb(total_max)} for a whole "
                    "bundle (transport.bundle_max_mb, from the zip headers); nothing was read"
                )

    def names(self) -> set[str]:
        return set(self._infos)

    def _info(self, name: str) -> zipfile.ZipInfo:
        info = self._infos.get(name)
        if info is None:
            raise TransportError(f"bundle {self.path}: member {name!r} is missing")
        return info

    def _size(self, name: str) -> int:
        return self._info(name).file_size

    def _read(self, name: str, cap: int) -> bytes:
        try:
            with self._zip.open(self._info(name)) as fh:
                return fh.read(cap)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, RuntimeError, NotImplementedError) as exc:
            raise TransportError(f"bundle {self.path}: member {name!r} is damaged: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - zlib.error and friends from a damaged archive
            raise TransportError(f"bundle {self.path}: member {name!r} is damaged: {type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        self._zip.close()


class TarStore(BundleStore):
    def __init__(self, path: Path, member_max: int, total_max: int):
        super().__init__(path, member_max, total_max)
        self._tar = tarfile.open(path, "r:*")
        self._members: dict[str, tarfile.TarInfo] = {}
        total = 0
        try:
            while True:
                m = self._tar.next()  # headers only: the data of each member is skipped, not kept
                if m is None:
                    break
                if m.isdir():
                    continue
                try:
                    name = member_name(m.name, backslash_is_separator=False)
                except ValueError as exc:
                    raise self.refused(m.name, str(exc)) from None
                if m.issym():
                    raise self.refused(m.name, f"it is a symbolic link (to {m.linkname!r})")
                if m.islnk():
                    raise self.refused(m.name, f"it is a hard link (to {m.linkname!r})")
                if not m.isfile():
                    what = ("a FIFO (named pipe)" if m.isfifo() else "a character device" if m.ischr()
                            else "a block device" if m.isblk() else "not a regular file")
                    raise self.refused(m.name, f"it is {what}")
                if name in self._members:
                    raise self.refused(m.name, "the name appears twice in the archive")
                self._members[name] = m
                total += m.size
                if total > total_max:
                    raise BundleRefused(
                        f"bundle {self.path}: its members add up to more than the limit of {_mb(total_max)} for a "
                        "whole bundle (transport.bundle_max_mb, from the tar headers); nothing more was read"
                    )
        except BaseException:
            self.close()
            raise

    def names(self) -> set[str]:
        return set(self._members)

    def _member(self, name: str) -> tarfile.TarInfo:
        m = self._members.get(name)
        if m is None:
            raise TransportError(f"bundle {self.path}: member {name!r} is missing")
        return m

    def _size(self, name: str) -> int:
        return self._member(name).size

    def _read(self, name: str, cap: int) -> bytes:
        try:
            fh = self._tar.extractfile(self._member(name))
            if fh is None:
                raise self.refused(name, "it is not a regular file")
            with fh:
                return fh.read(cap)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise TransportError(f"bundle {self.path}: member {name!r} is damaged: {exc}") from None

    def close(self) -> None:
        self._tar.close()


def _inside(root: Path, target: Path) -> bool:
    try:
        Path(os.path.realpath(target)).relative_to(root)
        return True
    except ValueError:
        return False


def open_store(path: Path, member_max_mb: float = DEFAULT_MEMBER_MAX_MB,
               total_max_mb: float = DEFAULT_TOTAL_MAX_MB) -> BundleStore:
    """The store for the bundle at `path`, after checking what kind of file it is (before opening it)."""
    member_max, total_max = int(member_max_mb * MB), int(total_max_mb * MB)
    try:
        st = os.stat(path)  # follows a symlink given by the user: the bundle is what it points to
    except FileNotFoundError:
        raise TransportError(
            f"bundle {path} not found (expected a folder, a .zip or a .tar.gz with manifest.json)") from None
    except OSError as exc:
        raise TransportError(f"bundle {path} cannot be read: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        return FolderStore(path, member_max, total_max)
    if not stat.S_ISREG(st.st_mode):
        raise BundleRefused(f"bundle {path} is {_kind(st.st_mode)}, not a folder, .zip or .tar.gz; it was not opened")
    if st.st_size > total_max:
        raise BundleRefused(f"bundle {path} is {st.st_size} bytes, over the limit of {_mb(total_max)} for a whole "
                            "bundle (transport.bundle_max_mb); it was not opened")
    try:
        if zipfile.is_zipfile(path):
            return ZipStore(path, member_max, total_max)
        if tarfile.is_tarfile(path):
            return TarStore(path, member_max, total_max)
    except TransportError:
        raise
    except (OSError, EOFError, zipfile.BadZipFile, tarfile.TarError, ValueError) as exc:
        raise TransportError(f"bundle {path} cannot be read: {type(exc).__name__}: {exc}") from None
    raise TransportError(f"bundle {path} is neither a folder, a .zip nor a .tar.gz with manifest.json")
