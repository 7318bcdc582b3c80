"""Bundles are untrusted input: the outside probe's attacks, each refused with a clear error.

A bundle may not read a file outside itself (`..`, absolute paths, symbolic links in folders or
archives, zip-slip names), may not block (a FIFO as the bundle or as a member), and may not eat the
machine (size limits checked before reading, reads capped)."""

from __future__ import annotations

import io
import json
import os
import resource
import stat
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import pytest

from impax_preflight.transports.base import CommandTimeout, NotCollected, TransportError
from impax_preflight.transports.bundle import FORMAT, BundleEntry, BundleShell, write_bundle
from impax_preflight.transports.bundle_store import BundleRefused, member_name

SECRET = "PRIVATE-KEY-MATERIAL-5f3a"
MB = 1024 * 1024


@pytest.fixture
def private_file(tmp_path) -> Path:
    p = tmp_path / "private" / "id_rsa"
    p.parent.mkdir()
    p.write_text(SECRET)
    return p


def _bundle(root: Path, **manifest_changes) -> Path:
    write_bundle(root, "arch1", "solaris", [BundleEntry("svcs -xv", "all ok\n"), BundleEntry("uname -a", "SunOS\n")])
    if manifest_changes:
        m = json.loads((root / "manifest.json").read_text())
        for i, change in manifest_changes.get("commands", {}).items():
            m["commands"][i].update(change)
        (root / "manifest.json").write_text(json.dumps(m))
    return root


def _refused(path, *needles: str, **kw) -> str:
    with pytest.raises(BundleRefused) as info:
        BundleShell(path, **kw)
    text = str(info.value)
    assert SECRET not in text
    for n in needles:
        assert n in text, text
    return text


# ---- folder bundles: paths in the manifest -----------------------------------------------------

@pytest.mark.parametrize("path,why", [
    ("../private/id_rsa", "'..'"),
    ("out/../../private/id_rsa", "'..'"),
    ("/etc/passwd", "absolute path"),
    ("C:/Windows/win.ini", "absolute path"),
    ("C:\\Windows\\win.ini", "absolute path"),
    ("..\\private\\id_rsa", "'..'"),
])
def test_manifest_paths_leaving_the_bundle_are_refused(tmp_path, private_file, path, why):
    root = _bundle(tmp_path / "b", commands={0: {"stdout": path}})
    _refused(root, why, repr(path), "commands[0].stdout")


def test_manifest_absolute_path_to_the_private_file(tmp_path, private_file):
    root = _bundle(tmp_path / "b", commands={1: {"stderr": str(private_file)}})
    _refused(root, "absolute path")


def test_symlinked_member_pointing_at_a_private_file_is_refused(tmp_path, private_file):
    root = _bundle(tmp_path / "b")
    (root / "out" / "001.out").unlink()
    (root / "out" / "001.out").symlink_to(private_file)
    _refused(root, "'out/001.out'", "symbolic link", "outside the bundle")


def test_symlinked_folder_inside_a_bundle_is_refused(tmp_path, private_file):
    root = _bundle(tmp_path / "b")
    elsewhere = tmp_path / "elsewhere"
    (root / "out").rename(elsewhere)
    (root / "out").symlink_to(elsewhere)
    _refused(root, "'out'", "symbolic link")


def test_even_a_symlink_pointing_inside_is_refused(tmp_path):
    root = _bundle(tmp_path / "b")
    (root / "out" / "001.out").unlink()
    (root / "out" / "001.out").symlink_to(root / "out" / "002.out")
    _refused(root, "symbolic link", "inside the bundle")


def test_bundle_folder_given_through_a_symlink_is_fine(tmp_path):
    root = _bundle(tmp_path / "b")
    link = tmp_path / "current"
    link.symlink_to(root)
    assert BundleShell(link).run("svcs -xv").stdout == "all ok\n"


def test_fifo_as_member_is_refused_without_blocking(tmp_path):
    root = _bundle(tmp_path / "b")
    (root / "out" / "001.out").unlink()
    os.mkfifo(root / "out" / "001.out")
    _refused(root, "FIFO")


def test_fifo_as_bundle_path_does_not_block(tmp_path):
    fifo = tmp_path / "bundle.zip"
    os.mkfifo(fifo)
    errors: list[BaseException] = []
    t = threading.Thread(target=lambda: errors.append(_catch(lambda: BundleShell(fifo))), daemon=True)
    t.start()
    t.join(timeout=5)
    assert not t.is_alive(), "opening a FIFO bundle blocked"
    assert isinstance(errors[0], BundleRefused) and "FIFO" in str(errors[0]) and "not opened" in str(errors[0])


def test_device_as_bundle_path_is_refused():
    _refused("/dev/zero", "character device")


def _catch(fn):
    try:
        fn()
    except BaseException as exc:  # noqa: BLE001
        return exc
    return None


# ---- sizes ------------------------------------------------------------------------------------

def test_sparse_1gib_member_refuses_the_bundle_before_reading(tmp_path):
    root = _bundle(tmp_path / "b")
    with open(root / "out" / "001.out", "wb") as fh:
        fh.truncate(1024 * MB + 1)  # sparse: no disk used, 1 GiB + 1 byte as far as stat goes
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    _refused(root, "over the limit of 1024 MB", "bundle_max_mb")
    assert time.monotonic() - start < 2
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100 * 1024  # KiB: nothing was read


def test_member_over_its_limit_fails_only_its_command(tmp_path):
    root = _bundle(tmp_path / "b")
    with open(root / "out" / "001.out", "wb") as fh:
        fh.truncate(100 * MB)
    shell = BundleShell(root)
    with pytest.raises(BundleRefused) as info:
        shell.run("svcs -xv")
    text = str(info.value)
    assert "'out/001.out'" in text and "104857600 bytes" in text and "64 MB" in text and "bundle_member_max_mb" in text
    assert shell.run("uname -a").stdout == "SunOS\n"
    # the limit is the inventory's to raise
    bigger = BundleShell(root, member_max_mb=128)
    r = bigger.run("svcs -xv")
    assert r.truncated and r.raw == b"\0" * len(r.raw)


def test_total_limit_is_configurable(tmp_path):
    root = _bundle(tmp_path / "b")
    (root / "out" / "001.out").write_bytes(b"x" * (2 * MB))
    _refused(root, "over the limit of 1 MB", total_max_mb=1)
    assert BundleShell(root, total_max_mb=3).run("svcs -xv").stdout.startswith("xx")


# ---- archives -----------------------------------------------------------------------------------

def _manifest(stdout: str = "out/001.out") -> bytes:
    return json.dumps({"format": FORMAT, "host": "arch1", "os": "solaris", "commands": [
        {"command": "svcs -xv", "rc": 0, "stdout": stdout, "stderr": "out/001.err"}]}).encode()


def _zip(path: Path, members: dict[str, bytes], modes: dict[str, int] | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = ((modes or {}).get(name, stat.S_IFREG | 0o644)) << 16
            zf.writestr(info, data)
    return path


@pytest.mark.parametrize("evil", ["../../etc/cron.d/x", "/etc/passwd", "..\\..\\evil.txt", "C:\\evil.txt",
                                  "out/../../evil"])
def test_zip_slip_names_refuse_the_bundle(tmp_path, evil):
    path = _zip(tmp_path / "b.zip", {"manifest.json": _manifest(), "out/001.out": b"ok", evil: b"boom"})
    _refused(path, repr(evil))


def test_zip_manifest_naming_a_slip_member(tmp_path):
    path = _zip(tmp_path / "b.zip", {"manifest.json": _manifest("../secret"), "out/001.out": b"ok"})
    _refused(path, "'..'")


def test_zip_symlink_member_is_refused(tmp_path, private_file):
    path = _zip(tmp_path / "b.zip", {"manifest.json": _manifest(), "out/001.out": str(private_file).encode()},
                modes={"out/001.out": stat.S_IFLNK | 0o777})
    _refused(path, "'out/001.out'", "symbolic link")


def test_zip_duplicate_member_is_refused(tmp_path):
    path = tmp_path / "b.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", _manifest())
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            zf.writestr("out/001.out", b"first")
            zf.writestr("out/001.out", b"second")
    _refused(path, "appears twice")


def test_zip_member_over_limit_is_not_read(tmp_path):
    path = _zip(tmp_path / "b.zip", {"manifest.json": _manifest(), "out/001.out": b"\0" * (65 * MB),
                                     "out/001.err": b""})
    assert path.stat().st_size < 2 * MB  # a zip bomb in miniature
    shell = BundleShell(path)
    with pytest.raises(BundleRefused, match=r"'out/001.out' is 68157440 bytes, over the limit of 64 MB"):
        shell.run("svcs -xv")


def test_zip_total_over_limit_from_headers(tmp_path):
    path = _zip(tmp_path / "b.zip", {"manifest.json": _manifest(), "out/001.out": b"\0" * (3 * MB)})
    _refused(path, "bundle_max_mb", total_max_mb=2)


def _tar(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz", compresslevel=1) as tf:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                tf.addfile(m)
            else:
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tf.addfile(info, io.BytesIO(m[1]))
    return path


def _special(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


@pytest.mark.parametrize("member,why", [
    (_special("bundle/out/001.out", tarfile.SYMTYPE, "/etc/shadow"), "symbolic link"),
    (_special("bundle/out/001.out", tarfile.SYMTYPE, "../../private/id_rsa"), "symbolic link"),
    (_special("bundle/out/001.out", tarfile.LNKTYPE, "/etc/shadow"), "hard link"),
    (_special("bundle/out/001.out", tarfile.FIFOTYPE), "FIFO"),
    (_special("bundle/out/001.out", tarfile.CHRTYPE), "character device"),
    (_special("bundle/out/001.out", tarfile.BLKTYPE), "block device"),
    (("bundle/../../evil", b"x"), "'..'"),
    (("/etc/cron.d/evil", b"x"), "absolute path"),
])
def test_tar_link_special_and_slip_members_are_refused(tmp_path, member, why):
    path = _tar(tmp_path / "b.tar.gz", [("bundle/manifest.json", _manifest()), member])
    _refused(path, why)


def test_tar_member_over_limit_fails_its_command_only(tmp_path):
    path = _tar(tmp_path / "b.tar.gz", [("bundle/manifest.json", _manifest()), ("bundle/out/001.out", b"\0" * (65 * MB)),
                                        ("bundle/out/001.err", b"warn\n")])
    shell = BundleShell(path)
    with pytest.raises(BundleRefused, match="over the limit of 64 MB"):
        shell.run("svcs -xv")


# ---- manifests that are not what they should be ---------------------------------------------

@pytest.mark.parametrize("text,needle", [
    ("[" * 100000 + "]" * 100000, "not valid JSON"),
    ("not json", "not valid JSON"),
    ("[1, 2]", "JSON object"),
    (json.dumps({"format": "other/9"}), "unknown format"),
    (json.dumps({"format": FORMAT, "commands": {"a": 1}}), "'commands' must be a list"),
    (json.dumps({"format": FORMAT, "commands": ["svcs"]}), "commands[0]: must be a JSON object"),
    (json.dumps({"format": FORMAT, "commands": [{"command": "x", "rc": "zero"}]}), "'rc' must be"),
    (json.dumps({"format": FORMAT, "commands": [{"command": "x", "rc": 0, "codepage": "klingon"}]}), "not a known encoding"),
    (json.dumps({"format": FORMAT, "commands": [{"command": "x", "stdout": 5}]}), "'stdout' must be a string"),
    (json.dumps({"format": FORMAT, "os": "vms"}), "'os' must be one of"),
    (json.dumps({"format": FORMAT, "commands": [{"command": "x", "duration_s": -1}]}), "'duration_s'"),
])
def test_bad_manifests_are_clear_errors(tmp_path, text, needle):
    root = tmp_path / "b"
    root.mkdir()
    (root / "manifest.json").write_text(text)
    with pytest.raises(TransportError) as info:
        BundleShell(root)
    assert needle in str(info.value) and str(root) in str(info.value)


def test_command_timed_out_in_the_collector_is_a_timeout(tmp_path):
    root = _bundle(tmp_path / "b", commands={0: {"timed_out": True, "timeout_s": 60, "rc": 143}})
    with pytest.raises(CommandTimeout, match=r"ran past the collector's 60s timeout on the server and was killed"):
        BundleShell(root).run("svcs -xv")
    with pytest.raises(NotCollected):
        BundleShell(root).run("metastat")


def test_member_name_rules():
    assert member_name("./out/001.out") == "out/001.out"
    assert member_name("bundle\\out\\001.out") == "bundle/out/001.out"
    for bad in ("", "/", "..", "a/../../b", "/abs", "C:x", "a\x00b", "./"):
        with pytest.raises(ValueError):
            member_name(bad)


# ---- through a whole run: an error finding, nothing private in the report -----------------------

def test_symlinked_member_through_run_preflight_is_an_error_finding(tmp_path, private_file):
    from impax_preflight.inventory import load_inventory
    from impax_preflight.model import Status
    from impax_preflight import run_preflight

    root = _bundle(tmp_path / "b")
    (root / "out" / "001.out").unlink()
    (root / "out" / "001.out").symlink_to(private_file)
    inv_path = tmp_path / "site.toml"
    inv_path.write_text(
        '[site]\nname = "Bundle Hospital"\nimpax_version = "6.3.1"\nplatform = "AS3000"\n\n'
        '[[hosts]]\nname = "arch1"\naddress = "10.0.0.5"\nos = "solaris"\nroles = ["archive"]\n'
        f'[hosts.transport]\nkind = "bundle"\nbundle = "{root}"\nbundle_member_max_mb = 8\nbundle_max_mb = 64\n'
    )
    inv = load_inventory(inv_path)
    assert inv.hosts[0].transport.bundle_member_max_mb == 8
    report = run_preflight(inv, only=["os.solaris.services"])
    findings = [f for f in report.findings if f.target == "arch1"]
    assert findings and all(f.status is Status.ERROR for f in findings)
    assert any("symbolic link" in f.message and "out/001.out" in f.message for f in findings)
    assert SECRET not in report.model_dump_json()


@pytest.mark.parametrize("field,value", [("bundle_member_max_mb", 0), ("bundle_max_mb", -5),
                                         ("bundle_max_mb", "nan"), ("bundle_member_max_mb", "inf")])
def test_inventory_refuses_silly_bundle_limits(tmp_path, field, value):
    from impax_preflight.inventory import InventoryError, load_inventory

    literal = value if isinstance(value, int) else value  # TOML: nan and inf are float literals
    p = tmp_path / "site.toml"
    p.write_text('[site]\nname = "H"\nimpax_version = "6.3.1"\nplatform = "AS3000"\n\n[[hosts]]\nname = "a"\n'
                 f'os = "solaris"\nroles = ["archive"]\n[hosts.transport]\nkind = "bundle"\nbundle = "x"\n'
                 f"{field} = {literal}\n")
    with pytest.raises(InventoryError, match=field):
        load_inventory(p)
