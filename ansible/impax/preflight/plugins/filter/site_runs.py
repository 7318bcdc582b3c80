# Copyright: impax-preflight maintainers
# Apache License 2.0 (see the collection's galaxy.yml)
"""impax.preflight.site_runs (and collect_plan, collector_name, site_verdicts): the per-site plan of a play.

Groups the play's hosts by their site file and says, per site, which hosts take part, where the
run writes (runs/<site>/<scope>), and the --host / --bundle arguments for `impax-preflight run`.
Fail-closed: a host that was to be collected but has no bundle from this run is listed under
`missing`, so the caller records it as a failed collection instead of using an older bundle.
"""

from __future__ import annotations

import hashlib
import posixpath

from ansible.errors import AnsibleFilterError


def _var(hostvars, host, name, default=None):
    try:
        value = hostvars[host].get(name, default)
    except KeyError:
        return default
    return default if value is None else value


def _by_site(play_hosts, hostvars):
    """{site file: {site, slug, site_file, site_hosts, members (inventory host names in the play)}}."""
    sites = {}
    for host in play_hosts:
        site_file = _var(hostvars, host, "impax_preflight_site_file")
        if not site_file:
            continue  # not a host of an impax-preflight site (e.g. localhost)
        entry = sites.setdefault(site_file, {
            "site": _var(hostvars, host, "impax_preflight_site", ""),
            "slug": _var(hostvars, host, "impax_preflight_site_slug", "site"),
            "site_file": site_file,
            "site_hosts": list(_var(hostvars, host, "impax_preflight_site_hosts", [])),
            "members": [],
        })
        entry["members"].append(host)
    return sites


def collect_plan(play_hosts, hostvars):
    """One `impax-preflight collect` per site: the site file, its folder name and the hosts to collect."""
    plan = []
    for site_file, entry in sorted(_by_site(play_hosts, hostvars).items()):
        hosts = [_var(hostvars, h, "impax_preflight_host", h) for h in sorted(entry["members"])
                 if _var(hostvars, h, "impax_preflight_collect", True)]
        if hosts:
            plan.append({"site": entry["site"], "slug": entry["slug"], "site_file": site_file, "hosts": hosts})
    return plan


def collector_name(host, os_name):
    """The file name `impax-preflight collect` gives a host's collector: collect-HOST.sh or .ps1, every
    character but letters, digits, '-', '_' and '.' replaced by '_'."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(host))
    return f"collect-{safe}.ps1" if os_name == "windows" else f"collect-{safe}.sh"


def site_runs(play_hosts, hostvars, source="bundles", output_dir="."):
    if source not in ("bundles", "live"):
        raise AnsibleFilterError(f"impax_preflight_source must be 'bundles' or 'live', not {source!r}")
    sites = _by_site(play_hosts, hostvars)
    runs = []
    for site_file in sorted(sites):
        entry = sites[site_file]
        names, tiers, args, bundles, missing = [], set(), [], [], []
        for host in sorted(entry["members"]):
            name = _var(hostvars, host, "impax_preflight_host", host)
            names.append(name)
            tiers.add(str(_var(hostvars, host, "impax_preflight_tier", "prod")))
            if source != "bundles" or not _var(hostvars, host, "impax_preflight_collect", True):
                continue  # checked the way the site file says (live SSH, or its own bundle)
            bundle = _var(hostvars, host, "impax_preflight_bundle")
            dest = posixpath.join(output_dir, "bundles", entry["slug"], f"{name}.zip")
            if bundle:
                bundles.append({"host": name, "path": bundle})
            else:
                missing.append({"host": name, "os": _var(hostvars, host, "impax_preflight_os", "linux"), "dest": dest})
                bundles.append({"host": name, "path": dest})
        complete = set(names) >= set(entry["site_hosts"])
        if complete:
            scope = "all"
        else:
            # a part of the site: its own folder, so it never overwrites the run of another part
            digest = hashlib.sha1(",".join(sorted(names)).encode("utf-8")).hexdigest()[:8]
            scope = "-".join(sorted(tiers)) + "-" + digest
            for name in names:
                args += ["--host", name.replace("[", "[[]").replace("*", "[*]").replace("?", "[?]")]
        for b in bundles:
            args += ["--bundle", f"{b['host']}={b['path']}"]
        runs.append({
            "site": entry["site"],
            "slug": entry["slug"],
            "site_file": site_file,
            "hosts": names,
            "tiers": sorted(tiers),
            "complete": complete,
            "scope": scope,
            "out_dir": posixpath.join(output_dir, "runs", entry["slug"], scope),
            "missing": missing,
            "args": args,
        })
    return runs


VERDICTS = {0: "GO", 1: "GO WITH WARNINGS", 2: "NO-GO"}


def site_verdicts(results):
    """The registered results of the `impax-preflight run` loop as one summary per site run. The
    verdict comes from the exit code, the CLI's contract: 0 GO, 1 GO with warnings, 2 NO-GO;
    anything else means the run could not start and is reported as such, never as a verdict."""
    out = []
    for r in results or []:
        item = r.get("item") or {}
        if r.get("skipped"):
            continue
        rc = r.get("rc")
        out.append({
            "site": item.get("site"),
            "scope": item.get("scope"),
            "tiers": item.get("tiers", []),
            "hosts": item.get("hosts", []),
            "exit_code": rc,
            "verdict": VERDICTS.get(rc, "COULD NOT RUN"),
            "report_dir": item.get("out_dir"),
            "report_json": posixpath.join(item.get("out_dir") or ".", "report.json"),
        })
    return out


class FilterModule:
    def filters(self):
        return {"site_runs": site_runs, "site_verdicts": site_verdicts, "collect_plan": collect_plan,
                "collector_name": collector_name}
