# Copyright: impax-preflight maintainers
# Apache License 2.0 (see the collection's galaxy.yml)
# Documentation only: the work is done by the action plugin of the same name, on the controller.

DOCUMENTATION = r"""
module: fetch_bundle
short_description: Fetch an impax-preflight bundle from a server that may have no Python
description:
  - Brings the bundle an impax-preflight collector wrote on the server back to the controller and
    stores it as one zip with C(manifest.json) at its top level.
  - Looks for O(src).zip, then O(src).tar.gz, then the folder O(src) itself (its C(manifest.json) and
    every output file it lists), using only the connection (shell C(test -e) or PowerShell
    C(Test-Path), then the connection's file transfer). Works on Solaris without Python and over WinRM.
  - Refuses a bundle without a manifest, of another format, or collected on another host.
  - V(changed) is true when the zip on the controller was written with different content.
version_added: 0.1.0
options:
  src:
    description: The bundle folder given to the collector on the server (without .zip).
    type: str
    required: true
  dest:
    description: Path of the zip on the controller (replaced atomically).
    type: path
    required: true
  host:
    description: The impax-preflight host name the bundle must have been collected on.
    type: str
attributes:
  check_mode:
    support: full
    description: Fetches nothing in check mode.
notes:
  - Runs no module on the server, so it needs no Python there.
author:
  - impax-preflight maintainers
"""

EXAMPLES = r"""
- name: Bring the bundle back
  impax.preflight.fetch_bundle:
    src: /var/tmp/impax-preflight.12345/bundle
    dest: /srv/impax-preflight/bundles/north/north-prod-db.zip
    host: north-prod-db
"""

RETURN = r"""
dest:
  description: The zip on the controller.
  returned: success
  type: str
remote:
  description: What was fetched (the archive, or the folder when the server made no archive).
  returned: success
  type: str
commands:
  description: Number of commands the bundle holds.
  returned: success
  type: int
collected_at:
  description: When the collector ran (UTC, from the manifest).
  returned: success
  type: str
"""
