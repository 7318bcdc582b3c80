"""Secret references and masking; output decoding; the local shell; bundles."""

from __future__ import annotations

import codecs
import json
import logging
import zipfile

import pytest

from impax_preflight.secrets import MASK, Masker, MaskingFilter, SecretError, SecretRef, masker
from impax_preflight.transports.base import CommandTimeout, NotCollected, TransportError, decode_output, finish_output
from impax_preflight.transports.bundle import BundleEntry, BundleShell, write_bundle
from impax_preflight.transports.local import LocalShell


def test_secret_refs(tmp_path, monkeypatch):
    monkeypatch.setenv("PF_PW", "s3cr3t-env")
    assert SecretRef.parse("env:PF_PW").resolve() == "s3cr3t-env"
    f = tmp_path / "pw"
    f.write_text("s3cr3t-file\n")
    assert SecretRef.parse(f"file:{f}").resolve() == "s3cr3t-file"
    assert masker.mask("x s3cr3t-env y s3cr3t-file") == f"x {MASK} y {MASK}"
    with pytest.raises(SecretError, match="PF_UNSET is not set"):
        SecretRef.parse("env:PF_UNSET").resolve()
    with pytest.raises(ValueError, match="literal password is refused"):
        SecretRef.parse("hunter2")
    assert SecretRef.parse("plain:abc").display() == f"plain:{MASK}"
    assert "abc" not in repr(SecretRef.parse("plain:abc"))


def test_masker_nested_and_logging(caplog):
    m = Masker()
    m.register("pa$$(word)")
    m.register("ab")  # too short to mask safely: ignored
    assert m.mask_obj({"a": ["x pa$$(word)", ("pa$$(word)",)], "n": 1}) == {"a": [f"x {MASK}", (MASK,)], "n": 1}
    assert m.mask("ab") == "ab"
    masker.register("log-secret-123")
    logger = logging.getLogger("pf-test")
    logger.addFilter(MaskingFilter())
    with caplog.at_level(logging.INFO, logger="pf-test"):
        logger.info("connecting with %s", "log-secret-123")
    assert "log-secret-123" not in caplog.text and MASK in caplog.text


@pytest.mark.parametrize(
    "raw,expected",
    [
        (codecs.BOM_UTF16_LE + "Caption  FreeSpace\r\nC:  1024\r\n".encode("utf-16-le"), "Caption  FreeSpace\r\nC:  1024\r\n"),
        ("Caption  FreeSpace\r\nC:\r\n".encode("utf-16-le"), "Caption  FreeSpace\r\nC:\r\n"),
        (codecs.BOM_UTF8 + "ünïcode".encode(), "ünïcode"),
        ("Datenträger C: frei".encode("cp850"), "Datenträger C: frei"),
        (b"", ""),
    ],
)
def test_decode_output(raw, expected):
    assert decode_output(raw) == expected


def test_output_cap():
    text, kept, truncated = finish_output(b"x" * (17 * 1024 * 1024))
    assert truncated and len(kept) == 16 * 1024 * 1024 and "output truncated" in text


def test_local_shell():
    sh = LocalShell("linux")
    r = sh.run("echo out; echo err >&2; exit 3")
    assert (r.rc, r.stdout, r.stderr, r.command) == (3, "out\n", "err\n", "echo out; echo err >&2; exit 3")
    assert sh.run("echo $LC_ALL").stdout.strip() == "C"
    with pytest.raises(CommandTimeout, match="abandoned"):
        sh.run("sleep 5", timeout=0.3)


def test_bundle_round_trip_folder_and_zip(tmp_path):
    entries = [
        BundleEntry("svcs -xv", "svc:/network/ssh:default (SSH)\n State: maintenance\n"),
        BundleEntry("wmic logicaldisk get Caption,FreeSpace,Size", codecs.BOM_UTF16_LE + "Caption\r\nC:\r\n".encode("utf-16-le")),
        BundleEntry("fmadm faulty", "", rc=1, stderr="fmadm: permission denied"),
    ]
    folder = write_bundle(tmp_path / "b", "db1", "solaris", entries)
    zpath = tmp_path / "b.zip"
    with zipfile.ZipFile(zpath, "w") as z:
        for p in folder.rglob("*"):
            z.write(p, f"b/{p.relative_to(folder)}")
    import tarfile

    tpath = tmp_path / "b.tar.gz"
    with tarfile.open(tpath, "w:gz") as t:
        t.add(folder, arcname="./b")
    # Windows PowerShell 5's Compress-Archive writes member names with backslashes
    wpath = tmp_path / "b-windows.zip"
    with zipfile.ZipFile(wpath, "w") as z:
        for p in folder.rglob("*"):
            if p.is_file():
                z.writestr("b\\" + str(p.relative_to(folder)).replace("/", "\\"), p.read_bytes())
    for where in (folder, zpath, tpath, wpath):
        sh = BundleShell(where, host_name="db1")
        assert sh.os == "solaris"
        assert "maintenance" in sh.run("svcs  -xv").stdout  # whitespace folded
        assert sh.run("wmic logicaldisk get Caption,FreeSpace,Size").stdout == "Caption\r\nC:\r\n"
        r = sh.run("fmadm faulty")
        assert (r.rc, r.stderr, r.transport) == (1, "fmadm: permission denied", "bundle")
        with pytest.raises(NotCollected, match="not collected"):
            sh.run("zpool status -x")
    with pytest.raises(TransportError, match="collected on host 'db1', not 'db2'"):
        BundleShell(folder, host_name="db2")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format"] = "something-else"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(TransportError, match="unknown format"):
        BundleShell(folder)


def test_bundle_recording_a_failed_collection_refuses_to_open(tmp_path):
    """A driver that could not collect (host down, login refused, collector failed) writes a manifest
    with `collection_failed`: opening it fails with the reason, so no check can pass from it."""
    folder = write_bundle(tmp_path / "down", "db1", "solaris", [], collected_at="2025-03-01T09:12:00Z",
                          collector="impax.preflight Ansible collection")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["collection_failed"] = "the server could not be reached: ssh: connect to host 10.1.1.5 port 22: Connection refused"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(TransportError) as info:
        BundleShell(folder, host_name="db1")
    assert str(info.value) == (
        "no outputs from db1: collecting on the server failed at 2025-03-01T09:12:00Z (impax.preflight Ansible "
        "collection): the server could not be reached: ssh: connect to host 10.1.1.5 port 22: Connection refused")
    with pytest.raises(TransportError, match="collected on host 'db1', not 'db2'"):
        BundleShell(folder, host_name="db2")  # the host check still comes first


def test_sqlite_path_with_uri_characters_opens_read_only(tmp_path):
    import sqlite3

    from impax_preflight.db.sqlite import SqliteSession

    folder = tmp_path / "site#1?a%20b"
    folder.mkdir()
    db = folder / "mvf.sqlite"
    with sqlite3.connect(db) as c:
        c.execute("create table t(x int)")
        c.execute("insert into t values (7)")
    s = SqliteSession(db)
    assert s.query("select x from t").scalar() == 7
    with pytest.raises(Exception):
        s._conn.execute("insert into t values (8)")  # the file really is opened read-only
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site#1?a%20b"]  # nothing else created
