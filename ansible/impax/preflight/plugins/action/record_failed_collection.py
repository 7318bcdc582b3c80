# Copyright: impax-preflight maintainers
# Apache License 2.0 (see the collection's galaxy.yml)
"""impax.preflight.record_failed_collection: write the bundle that says collecting on a host failed.

Runs on the controller only (no connection to the host, which may be down). impax-preflight reads
the bundle's ``collection_failed`` reason and reports every check of that host as an error with it,
while the other hosts of the site are checked as usual.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.impax.preflight.plugins.plugin_utils.bundles import failed_collection, failure_reason, write_zip


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False  # the host may be unreachable: this writes on the controller only

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _, args = self.validate_argument_spec(argument_spec={
            "dest": {"type": "path", "required": True},
            "host": {"type": "str", "required": True},
            "os": {"type": "str", "required": True},
            "reason": {"type": "str"},
            "failed_task": {"type": "str"},
            "failed_result": {"type": "raw"},
        })
        reason = args.get("reason") or failure_reason(args.get("failed_task"), args.get("failed_result"))
        if self._task.check_mode:
            result.update(changed=False, skipped=True, reason=reason, msg="check mode: nothing written")
            return result
        changed = write_zip(args["dest"], failed_collection(args["host"], args["os"], reason))
        result.update(changed=changed, dest=args["dest"], reason=reason)
        return result
