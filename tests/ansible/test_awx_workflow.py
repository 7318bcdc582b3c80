"""The AWX export (awx/impax-preflight-awx.json) checked for structure. There is no AWX server here,
so nothing is imported: the tests check what AWX's import (`awx import`, awxkit) and its validators
would need — natural keys, references that resolve inside the export, the workflow graph with its
approval nodes and edges, the schedule's RRULE, the credential types' inputs and injectors — and
that the job templates point at playbooks, groups and variables that exist in the collection."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

import pytest
import yaml

from ansible_kit import COLLECTION

AWX = COLLECTION / "awx"
EXPORTABLE = {"users", "organizations", "teams", "credential_types", "credentials", "notification_templates", "projects",
              "inventory", "inventory_sources", "job_templates", "workflow_job_templates", "execution_environments",
              "applications", "schedules"}  # awxkit's EXPORTABLE_RESOURCES
BUILTIN_CREDENTIAL_TYPES = {("Machine", "ssh")}  # managed by AWX, never exported


@pytest.fixture(scope="module")
def export():
    return json.loads((AWX / "impax-preflight-awx.json").read_text())


def _keys(export, resource):
    return [json.dumps(a["natural_key"], sort_keys=True) for a in export.get(resource, [])]


def _key(nk):
    return json.dumps(nk, sort_keys=True)


def test_top_level_resources_and_natural_keys(export):
    assert set(export) <= EXPORTABLE
    for resource, assets in export.items():
        for a in assets:
            nk = a["natural_key"]
            assert nk["type"] and (nk.get("name") or nk.get("identifier")), (resource, nk)
        assert len(set(_keys(export, resource))) == len(assets), f"duplicate natural key in {resource}"


def test_references_resolve_inside_the_export(export):
    known = {_key(a["natural_key"]) for assets in export.values() for a in assets}
    known |= {_key({"name": n, "kind": k, "type": "credential_type"}) for n, k in BUILTIN_CREDENTIAL_TYPES}

    def refs(obj):
        if isinstance(obj, dict):
            if "type" in obj and obj.get("type") in {"organization", "project", "inventory", "execution_environment",
                                                     "credential_type", "credential", "job_template"}:
                yield obj
            for k, v in obj.items():
                if k != "natural_key":
                    yield from refs(v)
        elif isinstance(obj, list):
            for v in obj:
                yield from refs(v)

    for assets in export.values():
        for a in assets:
            for r in refs({k: v for k, v in a.items() if k != "natural_key"}):
                assert _key(r) in known, f"{a['natural_key']} refers to {r}, which the export does not hold"


def _workflow(export, name):
    return next(w for w in export["workflow_job_templates"] if w["name"] == name)


def _graph(wf):
    nodes = {n["identifier"]: n for n in wf["related"]["workflow_nodes"]}
    edges = {i: {kind: [e["identifier"] for e in n["related"][f"{kind}_nodes"]] for kind in ("success", "failure", "always")}
             for i, n in nodes.items()}
    for i, n in nodes.items():
        assert n["natural_key"] == {"workflow_job_template": wf["natural_key"], "identifier": i, "type": "workflow_job_template_node"}
        for kind, targets in edges[i].items():
            for t in targets:
                assert t in nodes, f"{i} --{kind}--> {t}: no such node"
            for e in n["related"][f"{kind}_nodes"]:
                assert e["workflow_job_template"] == wf["natural_key"] and e["type"] == "workflow_job_template_node"
    return nodes, edges


def _acyclic_roots(nodes, edges):
    parents = {i: set() for i in nodes}
    for i, e in edges.items():
        for targets in e.values():
            for t in targets:
                parents[t].add(i)
    order, ready = [], [i for i in nodes if not parents[i]]
    roots = list(ready)
    remaining = {i: set(p) for i, p in parents.items()}
    while ready:
        i = ready.pop()
        order.append(i)
        for t in {t for targets in edges[i].values() for t in targets}:
            remaining[t].discard(i)
            if not remaining[t]:
                ready.append(t)
    assert len(order) == len(nodes), "the workflow graph has a cycle"
    return roots, parents


def test_staged_workflow_dr_approval_bk_approval_prod(export):
    wf = _workflow(export, "IMPAX 6.5.1 staged upgrade - readiness gates")
    nodes, edges = _graph(wf)
    roots, parents = _acyclic_roots(nodes, edges)
    assert roots == ["dr-readiness"]
    # the success path, node by node
    path, here = [], "dr-readiness"
    while here:
        path.append(here)
        nxt = edges[here]["success"] or edges[here]["always"]
        here = nxt[0] if nxt else None
    kinds = ["approval" if "create_approval_template" in nodes[i]["related"] else nodes[i]["unified_job_template"]["name"]
             for i in path]
    assert kinds == ["IMPAX pre-flight - DR readiness", "approval", "IMPAX pre-flight - BK readiness", "approval",
                     "IMPAX pre-flight - Prod readiness", "IMPAX pre-flight - cluster report"]
    for i in path:
        n = nodes[i]
        if "create_approval_template" in n["related"]:
            approval = n["related"]["create_approval_template"]
            assert "unified_job_template" not in n  # an approval node has its template created, not referenced
            assert approval["name"] and approval["description"] and 0 < approval["timeout"] <= 60 * 86400
            # denied or timed out: the failure path ends the upgrade with the cluster report
            assert edges[i]["failure"] == ["cluster-report"]
        elif i not in ("prod-readiness", "cluster-report"):
            assert edges[i]["failure"] == ["cluster-report"]  # a NO-GO stage (failed job) stops the staged upgrade
    assert parents["cluster-report"] == {"dr-readiness", "approve-dr-upgrade", "bk-readiness", "approve-bk-upgrade", "prod-readiness"}
    assert nodes["cluster-report"]["all_parents_must_converge"] is False  # any one path leads to it


def test_weekly_workflow_and_its_schedule(export):
    wf = _workflow(export, "IMPAX 6.5.1 weekly readiness - all stages")
    nodes, edges = _graph(wf)
    roots, _ = _acyclic_roots(nodes, edges)
    assert roots == ["dr-readiness"] and not any("create_approval_template" in n["related"] for n in nodes.values())
    assert [edges[i]["always"] for i in ("dr-readiness", "bk-readiness", "prod-readiness")] == [
        ["bk-readiness"], ["prod-readiness"], ["cluster-report"]]  # every stage is checked whatever the one before said
    (schedule,) = wf["related"]["schedules"]
    assert schedule["unified_job_template"] == wf["natural_key"] and schedule["enabled"] is True
    assert schedule["natural_key"] == {"unified_job_template": wf["natural_key"], "name": schedule["name"], "type": "schedule"}
    m = re.fullmatch(r"DTSTART;TZID=([A-Za-z_/]+):(\d{8}T\d{6}) RRULE:(\S+)", schedule["rrule"])
    assert m, schedule["rrule"]  # AWX wants one DTSTART (with a time zone) and one RRULE
    rule = dict(part.split("=", 1) for part in m.group(3).split(";"))
    assert rule["FREQ"] == "WEEKLY" and rule.get("INTERVAL", "1") == "1"
    assert 1 <= int(rule["COUNT"]) <= 999 and "UNTIL" not in rule  # it ends: the weeks before the upgrade
    assert re.fullmatch(r"(MO|TU|WE|TH|FR|SA|SU)(,(MO|TU|WE|TH|FR|SA|SU))*", rule["BYDAY"])  # AWX refuses numeric BYDAY
    start = datetime.strptime(m.group(2), "%Y%m%dT%H%M%S")
    assert start.strftime("%a")[:2].upper() in rule["BYDAY"].split(",")
    runs = [start + timedelta(weeks=k) for k in range(int(rule["COUNT"]))]
    assert (runs[-1] - runs[0]).days == 7 * (int(rule["COUNT"]) - 1)


def _role_variables():
    names = set()
    for spec in (COLLECTION / "roles").glob("*/meta/argument_specs.yml"):
        for entry in yaml.safe_load(spec.read_text())["argument_specs"].values():
            names |= set(entry.get("options", {}))
    # the playbook's own switches
    return names | {"impax_preflight_merge", "impax_preflight_hosts"}


def test_job_templates_point_at_real_playbooks_groups_and_variables(export):
    project = AWX / "project"
    known_vars = _role_variables()
    groups = {"tier_dr", "tier_bk", "tier_prod", ""}
    for jt in export["job_templates"]:
        assert (project / jt["playbook"]).is_file(), jt["playbook"]
        imported = yaml.safe_load((project / jt["playbook"]).read_text())[0]["ansible.builtin.import_playbook"]
        assert (COLLECTION / "playbooks" / (imported.split(".")[-1] + ".yml")).is_file()
        assert jt["limit"] in groups  # groups the impax.preflight.site inventory plugin makes
        extra = yaml.safe_load(jt["extra_vars"]) or {}
        assert set(extra) <= known_vars, set(extra) - known_vars
        if "readiness" in jt["name"]:
            assert extra["impax_preflight_fail_on"] == "no_go" and extra["impax_preflight_merge"] is False
            assert jt["limit"] == "tier_" + jt["name"].split(" - ")[1].split()[0].lower()
        assert jt["ask_variables_on_launch"] is False and jt["survey_enabled"] is False
    (source,) = export["inventory_sources"]
    assert source["source"] == "scm" and (project / source["source_path"]).is_file()
    config = yaml.safe_load((project / source["source_path"]).read_text())
    assert config["plugin"] == "impax.preflight.site"
    requirements = yaml.safe_load((project / "collections" / "requirements.yml").read_text())
    assert requirements["collections"][0]["name"].endswith("impax-preflight-0.1.0.tar.gz")
    galaxy = yaml.safe_load((COLLECTION / "galaxy.yml").read_text())
    assert requirements["collections"][0]["name"].endswith(f"{galaxy['namespace']}-{galaxy['name']}-{galaxy['version']}.tar.gz")


ENV_NAME = re.compile(r"^[a-zA-Z_]+[a-zA-Z0-9_]*$")  # AWX's CredentialTypeInjectorField
EXTRA_VAR = re.compile(r"^[a-zA-Z_\{\}]+[a-zA-Z0-9_\{\}]*$")


def test_credential_types_inject_secrets_without_storing_them(export):
    for ct in export["credential_types"]:
        assert ct["kind"] == "cloud" and ct["natural_key"] == {"name": ct["name"], "kind": "cloud", "type": "credential_type"}
        fields = {f["id"]: f for f in ct["inputs"]["fields"]}
        assert set(ct["inputs"].get("required", [])) <= set(fields)
        assert any(f.get("secret") for f in fields.values()) and fields["password"]["secret"] is True
        injectors = ct["injectors"]
        assert set(injectors) <= {"env", "extra_vars", "file"}
        for name in injectors.get("env", {}):
            assert ENV_NAME.match(name) and not name.startswith("ANSIBLE_")
        for name in injectors.get("extra_vars", {}):
            assert EXTRA_VAR.match(name)
        used = {m for v in [*injectors.get("env", {}).values(), *injectors.get("extra_vars", {}).values()]
                for m in re.findall(r"\{\{\s*(\w+)\s*\}\}", v)}
        assert used and used <= set(fields), (ct["name"], used - set(fields))
    # the env variable a site file references as env:IMPAX_DB_PASSWORD is what the database type injects
    envs = {n for ct in export["credential_types"] for n in ct["injectors"].get("env", {})}
    assert {"IMPAX_DB_PASSWORD", "IMPAX_DR_DB_PASSWORD"} <= envs
    # the Windows login reaches only the os_windows group, through the project's group_vars
    win_vars = yaml.safe_load((AWX / "project" / "inventories" / "group_vars" / "os_windows.yml").read_text())
    win_ct = next(ct for ct in export["credential_types"] if "WinRM" in ct["name"])
    assert {v.strip("{} ") for v in (win_vars["ansible_user"], win_vars["ansible_password"])} == set(win_ct["injectors"]["extra_vars"])


def test_no_secret_value_in_the_export(export):
    secret_fields = {f["id"] for ct in export["credential_types"] for f in ct["inputs"]["fields"] if f.get("secret")}
    secret_fields |= {"password", "ssh_key_data", "ssh_key_unlock", "become_password"}
    for cred in export["credentials"]:
        assert not (set(cred["inputs"]) & secret_fields), cred["name"]
    text = json.dumps(export)
    assert "$encrypted$" not in text
    for m in re.finditer(r'"(\w*(?:password|secret|token)\w*)":\s*"([^"]*)"', text, re.I):
        assert m.group(2).startswith("{{") or not m.group(2), m.group(0)
    for jt in export["job_templates"]:
        machine = [c for c in jt["related"]["credentials"] if c["credential_type"]["kind"] == "ssh"]
        assert len(machine) <= 1  # AWX takes one Machine credential per job template
        types = [_key(c["credential_type"]) for c in jt["related"]["credentials"]]
        assert len(types) == len(set(types))  # and one credential of each type
