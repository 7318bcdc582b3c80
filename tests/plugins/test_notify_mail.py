"""The mail notification against a real SMTP server (aiosmtpd, started by the tests): STARTTLS with a
certificate made at test time, AUTH; a refused login, a server that is down, one without STARTTLS,
one with an untrusted certificate and one that never answers are each a run warning, never a
failed run, and the password appears in no log, report or output."""

from __future__ import annotations

import base64
import json
import socket
import textwrap

import pytest
from click.testing import CliRunner
from services import free_port

from impax_preflight import load_plugins, run_preflight
from impax_preflight.cli import cli
from impax_preflight.inventory import InventoryError, load_inventory

PLUGIN = textwrap.dedent("""
    import os
    from impax_preflight import check, hookimpl

    @check("local.readiness", "readiness from the environment", "blocker", "site")
    def readiness(ctx):
        s = os.environ.get("PF_STATE", "pass")
        yield ctx.finding(s, f"state is {s}")

    @hookimpl
    def impax_register_checks(register):
        register(readiness)
""")


def inventory(tmp_path, mail: str) -> str:
    path = tmp_path / "site.toml"
    path.write_text(textwrap.dedent("""
        [site]
        name = "Mail Hospital"
        impax_version = "6.3"
        platform = "AS300"
        upgrade_date = 2030-06-01

        [site.notify.mail]
        """) + textwrap.dedent(mail) + textwrap.dedent("""
        [[hosts]]
        name = "h1"
        os = "windows"
        roles = ["application"]
        transport = { kind = "local" }
        """), encoding="utf-8")
    return str(path)


def mail_settings(server, **extra) -> str:
    lines = {
        "to": '["pacs-team@hospital.example", "board@hospital.example"]',
        "from": '"impax-preflight@hospital.example"',
        "server": '"127.0.0.1"',
        "port": str(server.port if hasattr(server, "port") else server),
        "user": '"preflight"',
        "password": '"env:PF_SMTP_PASSWORD"',
        "timeout_s": "5",
    }
    if getattr(server, "cert", None):
        lines["ca_file"] = json.dumps(str(server.cert))
    lines.update(extra)
    return "".join(f"{k} = {v}\n" for k, v in lines.items() if v is not None)


def run(tmp_path, inv: str, state: str, monkeypatch, out: str = "out", extra=("--history", "{tmp}/history.sqlite")):
    (tmp_path / "plug").mkdir(exist_ok=True)
    (tmp_path / "plug" / "p.py").write_text(PLUGIN)
    monkeypatch.setenv("PF_STATE", state)
    out_dir = tmp_path / out
    log = tmp_path / f"{out}.log"
    result = CliRunner().invoke(cli, ["-vv", "--log-file", str(log), "run", inv, "--plugins-dir", str(tmp_path / "plug"),
                                      "--only", "local.*", "-o", str(out_dir), "--no-progress",
                                      *(e.format(tmp=tmp_path) for e in extra)])
    report = json.loads((out_dir / "report.json").read_text(encoding="utf-8"))
    # --only leaves the catalog's blocker checks out: the run says at best GO WITH WARNINGS (exit 1)
    # and warns so; the mail's own warnings are the others
    report["warnings"] = [w for w in report["warnings"] if not w.startswith("a partial run")]
    return result, report, out_dir, log


def assert_secret_nowhere(secret: str, result, out_dir, log) -> None:
    # the password, and its AUTH PLAIN / LOGIN encodings, in nothing the run leaves behind
    forms = {secret, base64.b64encode(secret.encode()).decode(),
             base64.b64encode(f"\0preflight\0{secret}".encode()).decode()}
    texts = [result.output, log.read_text(encoding="utf-8")] + [p.read_text(encoding="utf-8") for p in out_dir.iterdir()]
    for text in texts:
        for form in forms:
            assert form not in text


@pytest.mark.service
def test_mail_with_starttls_and_login_twice_says_what_changed(tmp_path, monkeypatch, smtp_factory):
    server = smtp_factory(starttls=True, auth=True)
    monkeypatch.setenv("PF_SMTP_PASSWORD", server.password)
    inv = inventory(tmp_path, mail_settings(server))
    first, report1, _, _ = run(tmp_path, inv, "pass", monkeypatch, "run1")
    assert first.exit_code == 1, first.output
    second, report2, out2, log2 = run(tmp_path, inv, "fail", monkeypatch, "run2")
    assert second.exit_code == 2, second.output  # the verdict decides the exit code, not the mail
    assert report1["warnings"] == [] and report2["warnings"] == []
    assert server.logins == [("preflight", True), ("preflight", True)]
    assert len(server.messages) == 2
    mail = server.messages[1]
    assert mail["To"] == "pacs-team@hospital.example, board@hospital.example"
    assert mail["From"] == "impax-preflight@hospital.example"
    assert mail["Subject"] == "[impax-preflight] NO-GO — Mail Hospital: 1 blocker (1 new, 0 resolved since the last run)"
    text = mail.get_body(("plain",)).get_content()
    assert "Verdict: NO-GO" in text and "Upgrade planned for 2030-06-01" in text
    assert "Since the last run" in text and "local.readiness@site" in text
    assert "New blockers: 1" in text and "Verdict: GO WITH WARNINGS -> NO-GO (changed)" in text
    (attachment,) = list(mail.iter_attachments())
    assert attachment.get_content_type() == "text/html"
    assert attachment.get_filename() == f"impax-preflight-{report2['run_id']}.html"
    html = attachment.get_content()
    assert '<div class="verdict-label" id="verdict">NO-GO</div>' in html
    assert 'id="chart-burn-down"' in html and "Since the last run" in html  # the report the board sees, with its history
    first_text = server.messages[0].get_body(("plain",)).get_content()
    assert "first recorded run of this site" in first_text
    assert_secret_nowhere(server.password, second, out2, log2)


@pytest.mark.service
def test_refused_login_is_a_warning_and_the_password_stays_secret(tmp_path, monkeypatch, smtp_factory):
    server = smtp_factory(starttls=True, auth=True)
    wrong = "Wr0ng-" + server.password
    monkeypatch.setenv("PF_SMTP_PASSWORD", wrong)
    result, report, out, log = run(tmp_path, inventory(tmp_path, mail_settings(server)), "fail", monkeypatch)
    assert result.exit_code == 2, result.output
    assert server.messages == [] and server.logins == [("preflight", False)]
    (warning,) = report["warnings"]
    assert warning.startswith("the report was not e-mailed: 127.0.0.1:") and "refused the login of 'preflight' (535" in warning
    assert "env:PF_SMTP_PASSWORD" in warning
    assert "the report was not e-mailed" in result.output  # the CLI summary shows it
    assert "the report was not e-mailed" in (out / "report.html").read_text(encoding="utf-8")
    assert_secret_nowhere(wrong, result, out, log)


@pytest.mark.service
def test_server_down_is_a_warning(tmp_path, monkeypatch):
    monkeypatch.setenv("PF_SMTP_PASSWORD", "whatever-secret")
    port = free_port()  # nothing listens there
    result, report, *_ = run(tmp_path, inventory(tmp_path, mail_settings(port)), "pass", monkeypatch)
    assert result.exit_code == 1, result.output
    assert report["warnings"] == [f"the report was not e-mailed: cannot connect to 127.0.0.1:{port}: connection refused "
                                  "(is the SMTP server running, is the port right?)"]


@pytest.mark.service
def test_server_that_never_answers_times_out(tmp_path, monkeypatch):
    monkeypatch.setenv("PF_SMTP_PASSWORD", "whatever-secret")
    with socket.socket() as silent:  # accepts the connection (backlog) and never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        result, report, *_ = run(tmp_path, inventory(tmp_path, mail_settings(port, timeout_s="1")), "warn", monkeypatch)
    assert result.exit_code == 1, result.output
    assert report["warnings"] == [f"the report was not e-mailed: 127.0.0.1:{port} did not answer within 1 s (timeout_s)"]


@pytest.mark.service
def test_no_starttls_means_nothing_sent_and_no_password(tmp_path, monkeypatch, smtp_factory):
    server = smtp_factory(starttls=False, auth=False)
    monkeypatch.setenv("PF_SMTP_PASSWORD", "never-sent-secret")
    result, report, *_ = run(tmp_path, inventory(tmp_path, mail_settings(server)), "pass", monkeypatch)
    assert result.exit_code == 1
    assert server.messages == [] and server.logins == []
    assert "does not offer STARTTLS, so nothing was sent" in report["warnings"][0]


@pytest.mark.service
def test_untrusted_certificate_is_refused(tmp_path, monkeypatch, smtp_factory):
    server = smtp_factory(starttls=True, auth=True)
    monkeypatch.setenv("PF_SMTP_PASSWORD", server.password)
    # no ca_file: the self-signed certificate is not one the system trusts
    settings = mail_settings(server, ca_file=None).replace(f'ca_file = "{server.cert}"\n', "")
    result, report, *_ = run(tmp_path, inventory(tmp_path, settings), "pass", monkeypatch)
    assert result.exit_code == 1
    assert server.logins == [] and server.messages == []
    assert "could not be verified (self-signed certificate)" in report["warnings"][0]
    assert "ca_file" in report["warnings"][0]


@pytest.mark.service
def test_when_problems_skips_a_go_and_no_history_still_mails(tmp_path, monkeypatch, smtp_factory):
    server = smtp_factory(starttls=True, auth=True)
    monkeypatch.setenv("PF_SMTP_PASSWORD", server.password)
    inv = inventory(tmp_path, mail_settings(server, when='"problems"'))
    # a GO: a whole run of a catalog that is only the plugin's check (the API's builtin_checks=False;
    # from the command line, --only leaves the built-in blocker checks out and cannot say GO)
    (tmp_path / "plug").mkdir(exist_ok=True)
    (tmp_path / "plug" / "p.py").write_text(PLUGIN)
    monkeypatch.setenv("PF_STATE", "pass")
    go = run_preflight(load_inventory(inv), plugins=load_plugins(plugins_dirs=[tmp_path / "plug"], entry_points=False,
                                                                 builtin_checks=False))
    assert go.verdict.value == "GO" and server.messages == [] and go.warnings == []
    partial, report, *_ = run(tmp_path, inv, "pass", monkeypatch, "partial")
    assert partial.exit_code == 1 and len(server.messages) == 1  # GO WITH WARNINGS is a problem worth a mail
    bad, report, *_ = run(tmp_path, inv, "fail", monkeypatch, "nogo", extra=["--no-history"])
    assert bad.exit_code == 2 and len(server.messages) == 2
    text = server.messages[1].get_body(("plain",)).get_content()
    assert "The run history is off (--no-history)" in text and report["history"] is None


def test_mail_settings_are_validated_with_file_and_line(tmp_path):
    inv = inventory(tmp_path, 'to = ["pacs-team"]\nfrom = "a@b.example"\nserver = "smtp"\n')
    with pytest.raises(InventoryError) as err:
        load_inventory(inv)
    assert "site.toml:9: site.notify.mail.to: Value error, 'pacs-team' is not an e-mail address" in str(err.value) \
        or "site.toml:9: site.notify.mail.to: 'pacs-team' is not an e-mail address" in str(err.value)
    inv = inventory(tmp_path, 'to = "a@b.example"\nfrom = "a@b.example"\nserver = "smtp"\nsecurity = "none"\n'
                              'user = "u"\npassword = "env:X"\n')
    with pytest.raises(InventoryError, match="a login over an unencrypted connection is refused"):
        load_inventory(inv)
    inv = inventory(tmp_path, 'to = "a@b.example"\nfrom = "a@b.example"\nserver = "smtp"\npassword = "hunter2"\nuser = "u"\n')
    with pytest.raises(InventoryError, match=r"site.toml:12: site.notify.mail.password: .*a literal password is refused"):
        load_inventory(inv)


def test_mail_password_is_a_reference_everywhere(tmp_path, monkeypatch):
    inv = load_inventory(inventory(tmp_path, 'to = "a@b.example"\nfrom = "a@b.example"\nserver = "smtp"\nuser = "u"\n'
                                             'password = "plain:Lit3ral-Secret"\n'))
    assert ("site.notify.mail.password", "plain:Lit3ral-Secret") in [(w, str(r)) for w, r in inv.secret_refs()]
    summary = json.dumps(inv.summary())
    assert "Lit3ral-Secret" not in summary and '"password": "plain:********"' in summary
    monkeypatch.delenv("SMTP_PW_UNSET", raising=False)
    inv = load_inventory(inventory(tmp_path, 'to = "a@b.example"\nfrom = "a@b.example"\nserver = "smtp"\nuser = "u"\n'
                                             'password = "env:SMTP_PW_UNSET"\nca_file = "missing-ca.pem"\n'))
    from impax_preflight.inventory import connection_problems

    problems = connection_problems(inv)
    assert "site.notify.mail.password: environment variable SMTP_PW_UNSET is not set" in problems
    assert any(p.startswith("site.notify.mail.ca_file: ") and p.endswith("missing-ca.pem does not exist") for p in problems)


@pytest.mark.service
def test_the_mail_sees_the_baseline(tmp_path, monkeypatch, smtp_factory):
    # the baseline diff is made before the run-finished hook: without a history, when = "changes"
    # compares with the --baseline run, and the mail (text and attached report) shows the changes
    server = smtp_factory(starttls=True, auth=True)
    monkeypatch.setenv("PF_SMTP_PASSWORD", server.password)
    inv = inventory(tmp_path, mail_settings(server, when='"changes"'))
    first, *_ = run(tmp_path, inv, "pass", monkeypatch, "first", extra=["--no-history"])
    assert first.exit_code == 1 and len(server.messages) == 1  # nothing to compare with: mailed
    baseline = str(tmp_path / "first" / "report.json")
    same, *_ = run(tmp_path, inv, "pass", monkeypatch, "same", extra=["--no-history", "--baseline", baseline])
    assert same.exit_code == 1 and len(server.messages) == 1  # nothing changed since the baseline: no mail
    worse, report, *_ = run(tmp_path, inv, "fail", monkeypatch, "worse", extra=["--no-history", "--baseline", baseline])
    assert worse.exit_code == 2 and len(server.messages) == 2
    mail = server.messages[1]
    assert mail["Subject"] == "[impax-preflight] NO-GO — Mail Hospital: 1 blocker (1 new, 0 resolved since the baseline run)"
    text = mail.get_body(("plain",)).get_content()
    assert "Since the baseline run" in text and "New blockers: 1" in text and "local.readiness@site" in text
    assert "Verdict: GO WITH WARNINGS -> NO-GO (changed)" in text
    (attachment,) = list(mail.iter_attachments())
    assert "Changes since the baseline run" in attachment.get_content()
    assert report["baseline"]["new_blockers"][0]["key"] == "local.readiness@site"
    # with a history too: "since the last run" decides and leads, the baseline section follows
    both, *_ = run(tmp_path, inv, "fail", monkeypatch, "both", extra=["--history", str(tmp_path / "h.sqlite"),
                                                                     "--baseline", baseline])
    assert both.exit_code == 2 and len(server.messages) == 3  # the first recorded run: mailed
    text = server.messages[2].get_body(("plain",)).get_content()
    assert text.index("first recorded run of this site") < text.index("Since the baseline run")


def test_mail_body_lists_blockers_as_every_report_does():
    # the order and the words of the reports and of the terminal summary: site-wide, DR, BK, Prod;
    # one line per blocker, the message on one line
    import io
    import sys
    from pathlib import Path

    from rich.console import Console

    sys.path.append(str(Path(__file__).resolve().parents[1] / "reports"))
    from report_samples import finding, make_report

    from impax_preflight.cli.progress import summary
    from impax_preflight.model import Status
    from impax_preflight.notify_mail import body
    from impax_preflight.report.markdown import render_markdown
    from impax_preflight.report.merge import ordered_blockers

    report = make_report([
        finding("os.fmadm_faulty", Status.FAIL, "prod-db1", message="a fault\non two lines"),
        finding("os.fmadm_faulty", Status.FAIL, "dr-db1"),
        finding("prereq.source_version", Status.ERROR, "site", target="site", target_kind="site"),
        finding("prereq.dotnet35sp1", Status.FAIL, "bk-app1", subject="KB951847"),
    ])
    expected = ["prereq.source_version @ site", "os.fmadm_faulty @ dr-db1", "prereq.dotnet35sp1 @ bk-app1 [KB951847]",
                "os.fmadm_faulty @ prod-db1"]
    assert [f"{f.check_id} @ {f.target}" + (f" [{f.subject}]" if f.subject else "") for f in ordered_blockers(report)] == expected
    text = body(report)
    section = text.split("What blocks the upgrade (4):\n")[1].split("\n\n")[0]
    assert [line[4:].split(":")[0] for line in section.splitlines() if line.startswith("  - ")] == expected
    assert "  - os.fmadm_faulty @ prod-db1: a fault on two lines" in text.splitlines()
    out = io.StringIO()
    summary(Console(file=out, width=200), report, {}, Path("nowhere.jsonl"))
    assert [line[4:].split(":")[0] for line in out.getvalue().splitlines() if line.startswith("  - ")] == expected

    unverified = make_report([finding("os.fmadm_faulty", Status.SKIPPED, "prod-db1")])
    sentence = "No blocking problem was found in what ran, but 1 blocker check gave no verdict: confirm it before the upgrade."
    assert sentence in body(unverified) and sentence in render_markdown(unverified)
    clear = make_report([finding("os.fmadm_faulty", Status.PASS, "prod-db1")])
    assert "Nothing blocks the upgrade: every blocker check passed." in body(clear)
    assert "Nothing blocks the upgrade: every blocker check passed." in render_markdown(clear)
