# Copyright: impax-preflight maintainers
# Apache License 2.0 (see the collection's galaxy.yml)
"""impax.preflight.fetch_bundle: bring a collector's bundle back to the controller, without Python on the server.

ansible.builtin.fetch needs Python on the target (it asks the stat or slurp module first); old
Solaris servers have none. This action uses only the connection: a shell `test -e` (or PowerShell
Test-Path) to find the archive, then the connection's own file transfer (sftp/scp over SSH, WinRM,
PSRP). Where the server could make no archive, it fetches manifest.json and the files it lists.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.impax.preflight.plugins.plugin_utils.bundles import (
    BundleProblem,
    members_of_archive,
    normalized,
    write_zip,
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False  # nothing goes to the server, so no remote temporary folder is made

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(argument_spec={
            "src": {"type": "str", "required": True},
            "dest": {"type": "path", "required": True},
            "host": {"type": "str"},
        })
        if self._task.check_mode:
            result.update(skipped=True, changed=False, msg="check mode: nothing fetched")
            return result
        src, dest = args["src"], args["dest"]
        work = tempfile.mkdtemp(prefix="impax-fetch-")
        try:
            members, remote = self._fetch(src, work)
            manifest, files = normalized(members, args.get("host"))
        except (BundleProblem, AnsibleError) as exc:
            result.update(failed=True, changed=False, msg=f"no usable bundle from {src}: {exc}")
            return result
        finally:
            shutil.rmtree(work, ignore_errors=True)
        changed = write_zip(dest, files)
        result.update(changed=changed, dest=dest, remote=remote, commands=len(manifest["commands"]),
                      collected_at=manifest.get("collected_at"), host=manifest.get("host"))
        return result

    def _exists(self, path):
        res = self._low_level_execute_command(self._connection._shell.exists(path), sudoable=False)
        return res.get("rc") == 0

    def _fetch(self, src, work):
        """({name: bytes}, what was fetched): the archive when the collector made one, else the folder."""
        for suffix in (".zip", ".tar.gz"):
            remote = src + suffix
            if self._exists(remote):
                local = os.path.join(work, "bundle" + suffix)
                self._connection.fetch_file(remote, local)
                return members_of_archive(local), remote
        manifest_remote = self._connection._shell.join_path(src, "manifest.json")
        if not self._exists(manifest_remote):
            raise BundleProblem(f"the collector left no bundle ({src}.zip, {src}.tar.gz or {manifest_remote} missing)")
        members = {}
        local = os.path.join(work, "manifest.json")
        self._connection.fetch_file(manifest_remote, local)
        with open(local, "rb") as f:
            members["manifest.json"] = f.read()
        import json

        try:
            listed = json.loads(members["manifest.json"].decode("utf-8")).get("commands", [])
        except (UnicodeDecodeError, ValueError, AttributeError) as exc:
            raise BundleProblem(f"{manifest_remote} is not valid JSON: {exc}") from None
        for entry in listed:
            for key in ("stdout", "stderr"):
                rel = entry.get(key) if isinstance(entry, dict) else None
                if not rel:
                    continue
                clean = posixpath.normpath(rel)
                if clean.startswith(("../", "/")) or clean == "..":
                    raise BundleProblem(f"{manifest_remote} names a file outside the bundle: {rel!r}")
                target = os.path.join(work, "files", clean.replace("/", "_"))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                self._connection.fetch_file(self._connection._shell.join_path(src, *clean.split("/")), target)
                with open(target, "rb") as f:
                    members[clean] = f.read()
        return members, src
