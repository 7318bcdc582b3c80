"""impax.preflight.site: the site inventory as Ansible sees it (ansible-inventory, the real CLI)."""

from __future__ import annotations

import json

import pytest
import yaml

SITE_TOML = """\
[site]
name = "St. Example Hospital"
impax_version = "6.3.1"
platform = "AS3000"

[[hosts]]
name = "mvfdb"
address = "10.1.10.5"
os = "solaris"
roles = ["database", "archive"]
tier = "prod"
backup_pacs = "mvfbk"
[hosts.transport]
kind = "ssh"
user = "mvf"
port = 2222
key_file = "keys/id_ed25519"
known_hosts = "keys/known_hosts"
jump = "ops@bastion:22"
use_agent = false
password = "env:IMPAX_TEST_SSH_SECRET"
[[hosts.databases]]
name = "mvf"
kind = "oracle"
dsn = "10.1.10.5:1521/MVF"
user = "preflight_ro"
password = "env:IMPAX_TEST_DB_SECRET"

[[hosts]]
name = "mvfbk"
os = "solaris"
roles = ["single_host"]
tier = "bk"
[hosts.transport]
kind = "bundle"
bundle = "bundles/mvfbk.zip"

[[hosts]]
name = "ws01"
address = "10.1.10.9"
os = "windows"
roles = ["application"]
tier = "prod"
[hosts.transport]
kind = "ssh"
user = "svc"
password = "plain:Sommer2024!"
"""

DR_YAML = {
    "site": {"name": "Central DR", "impax_version": "6.3.1", "platform": "AS3000"},
    "hosts": [{"name": "dr-arch", "os": "solaris", "roles": ["archive"], "tier": "dr",
               "transport": {"kind": "ssh", "user": "mvf", "trust_new_host_key": True}}],
}


def _inventory(run_ansible, work, *args, env=None):
    return run_ansible("ansible-inventory", "-i", *args, "--list", cwd=work, env=env)


def _plain(value):
    """ansible-inventory marks nested strings from plugins as {"__ansible_unsafe": text}: the text."""
    if isinstance(value, dict):
        return value["__ansible_unsafe"] if set(value) == {"__ansible_unsafe"} else {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@pytest.fixture
def sites(tmp_path):
    (tmp_path / "sites").mkdir()
    (tmp_path / "sites" / "example.toml").write_text(SITE_TOML)
    (tmp_path / "sites" / "dr.yaml").write_text(yaml.safe_dump(DR_YAML))
    (tmp_path / "cluster.impax_preflight.yml").write_text(
        "plugin: impax.preflight.site\nsites: [sites/example.toml, sites/dr.yaml]\n"
        "keyed_groups:\n  - key: impax_preflight_impax_version\n    prefix: impax\n")
    return tmp_path


def test_groups_and_host_variables(run_ansible, sites):
    run = _inventory(run_ansible, sites, "cluster.impax_preflight.yml",
                     env={"IMPAX_TEST_SSH_SECRET": "ssh-Secret-4711", "IMPAX_TEST_DB_SECRET": "db-Secret-0815"})
    assert run.rc == 0, run.stderr
    inv = json.loads(run.stdout)
    children = lambda g: set(inv.get(g, {}).get("hosts", []))  # noqa: E731
    assert children("site_st_example_hospital") == {"mvfdb", "mvfbk", "ws01"}
    assert children("site_central_dr") == {"dr-arch"}
    assert children("tier_prod") == {"mvfdb", "ws01"} and children("tier_bk") == {"mvfbk"} and children("tier_dr") == {"dr-arch"}
    assert children("role_database") == {"mvfdb"} and children("os_windows") == {"ws01"}
    assert children("platform_as3000") == {"mvfdb", "mvfbk", "ws01", "dr-arch"}
    assert children("impax_preflight") == {"mvfdb", "mvfbk", "ws01", "dr-arch"}
    assert children("impax_6_3_1") == {"mvfdb", "mvfbk", "ws01", "dr-arch"}  # constructed keyed_groups work
    hv = _plain(inv["_meta"]["hostvars"])
    db = hv["mvfdb"]
    assert db["impax_preflight_site"] == "St. Example Hospital" and db["impax_preflight_site_slug"] == "st-example-hospital"
    assert db["impax_preflight_site_file"] == str(sites / "sites" / "example.toml")
    assert db["impax_preflight_site_hosts"] == ["mvfdb", "mvfbk", "ws01"]
    assert (db["impax_preflight_os"], db["impax_preflight_tier"], db["impax_preflight_roles"]) == ("solaris", "prod", ["database", "archive"])
    assert (db["ansible_host"], db["ansible_port"], db["ansible_user"]) == ("10.1.10.5", 2222, "mvf")
    assert db["ansible_ssh_private_key_file"] == str(sites / "sites" / "keys" / "id_ed25519")  # relative to the site file
    args = db["ansible_ssh_common_args"]
    assert f"UserKnownHostsFile={sites / 'sites' / 'keys' / 'known_hosts'}" in args
    assert "StrictHostKeyChecking=yes" in args and "ProxyJump=ops@bastion:22" in args and "IdentitiesOnly=yes" in args
    assert "StrictHostKeyChecking=accept-new" in hv["dr-arch"]["ansible_ssh_common_args"]  # trust_new_host_key
    assert db["impax_preflight_databases"] == [{"name": "mvf", "kind": "oracle", "purpose": "impax"}]
    assert hv["mvfbk"]["impax_preflight_transport"] == "bundle"
    assert hv["mvfbk"]["impax_preflight_site_bundle"] == str(sites / "sites" / "bundles" / "mvfbk.zip")
    ws = hv["ws01"]
    assert (ws["ansible_connection"], ws["ansible_shell_type"]) == ("winrm", "powershell")
    assert "ansible_port" not in ws and "ansible_user" not in ws  # WinRM logins come from an AWX credential


def test_secrets_stay_references(run_ansible, sites):
    env = {"IMPAX_TEST_SSH_SECRET": "ssh-Secret-4711", "IMPAX_TEST_DB_SECRET": "db-Secret-0815"}
    run = _inventory(run_ansible, sites, "cluster.impax_preflight.yml", env=env)
    assert run.rc == 0, run.stderr
    hv = _plain(json.loads(run.stdout)["_meta"]["hostvars"])
    assert hv["mvfdb"]["impax_preflight_secrets"] == {"transport.password": "env:IMPAX_TEST_SSH_SECRET",
                                                       "databases.mvf.password": "env:IMPAX_TEST_DB_SECRET"}
    assert hv["ws01"]["impax_preflight_secrets"] == {"transport.password": "plain:********"}
    everything = run.stdout + run.stderr
    for value in (*env.values(), "Sommer2024!"):
        assert value not in everything
    assert not any(k in h for h in hv.values() for k in ("ansible_password", "ansible_ssh_pass", "ansible_become_password"))


def test_site_file_given_directly(run_ansible, sites):
    (sites / "ansible.cfg").write_text("[inventory]\nenable_plugins = impax.preflight.site\n")
    run = _inventory(run_ansible, sites, "sites/example.toml", env={"ANSIBLE_CONFIG": str(sites / "ansible.cfg")})
    assert run.rc == 0, run.stderr
    inv = json.loads(run.stdout)
    assert set(inv["site_st_example_hospital"]["hosts"]) == {"mvfdb", "mvfbk", "ws01"}


def test_connection_vars_can_be_left_to_awx(run_ansible, sites):
    (sites / "bare.impax_preflight.yml").write_text("plugin: impax.preflight.site\nsites: [sites/example.toml]\n"
                                                    "connection_vars: false\nwindows_connection: psrp\n")
    run = _inventory(run_ansible, sites, "bare.impax_preflight.yml")
    assert run.rc == 0, run.stderr
    hv = json.loads(run.stdout)["_meta"]["hostvars"]
    assert not any(k in hv["mvfdb"] for k in ("ansible_host", "ansible_port", "ansible_user", "ansible_ssh_common_args"))
    assert hv["ws01"]["ansible_connection"] == "psrp"


def test_bad_site_file_is_named_with_line_and_field(run_ansible, sites):
    (sites / "sites" / "example.toml").write_text(SITE_TOML.replace('roles = ["single_host"]', 'roles = ["singel_host"]'))
    run = _inventory(run_ansible, sites, "cluster.impax_preflight.yml")
    text = run.stdout + run.stderr
    assert "example.toml is not valid" in text
    assert "example.toml:" in text and "hosts[1].roles[0]: 'singel_host' is not allowed" in text
    assert "Traceback" not in text


def test_same_host_in_two_sites_is_refused(run_ansible, sites):
    dr = dict(DR_YAML, hosts=[dict(DR_YAML["hosts"][0], name="mvfdb")])
    (sites / "sites" / "dr.yaml").write_text(yaml.safe_dump(dr))
    run = _inventory(run_ansible, sites, "cluster.impax_preflight.yml")
    assert "host 'mvfdb' is in two site inventories" in run.stdout + run.stderr
