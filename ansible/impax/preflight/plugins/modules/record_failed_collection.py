# Copyright: impax-preflight maintainers
# Apache License 2.0 (see the collection's galaxy.yml)
# Documentation only: the work is done by the action plugin of the same name, on the controller.

DOCUMENTATION = r"""
module: record_failed_collection
short_description: Record on the controller that collecting on a host failed
description:
  - Writes, in place of the host's bundle, a bundle whose manifest has C(collection_failed) with the
    reason. impax-preflight then reports every check of that host as an C(error) finding with that
    reason, and checks the other hosts of the site as usual.
  - Needs no connection to the host (it may be down).
  - Give O(reason), or O(failed_task) and O(failed_result) (in a C(rescue) section,
    C(ansible_failed_task.name) and C(ansible_failed_result)) and the reason is made from them.
version_added: 0.1.0
options:
  dest:
    description: Path of the bundle zip on the controller (replaced atomically).
    type: path
    required: true
  host:
    description: The impax-preflight host name.
    type: str
    required: true
  os:
    description: The host's operating system (solaris, linux, windows).
    type: str
    required: true
  reason:
    description: Why collecting failed.
    type: str
  failed_task:
    description: Name of the task that failed.
    type: str
  failed_result:
    description: Result of the task that failed.
    type: raw
attributes:
  check_mode:
    support: full
    description: Writes nothing in check mode.
author:
  - impax-preflight maintainers
"""

EXAMPLES = r"""
- name: Record why this host has no bundle
  impax.preflight.record_failed_collection:
    dest: /srv/impax-preflight/bundles/north/north-prod-db.zip
    host: north-prod-db
    os: solaris
    failed_task: "{{ ansible_failed_task.name }}"
    failed_result: "{{ ansible_failed_result }}"
"""

RETURN = r"""
reason:
  description: The reason written into the bundle.
  returned: always
  type: str
dest:
  description: The zip on the controller.
  returned: success
  type: str
"""
