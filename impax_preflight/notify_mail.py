"""E-mail the verdict, what changed since the last run and the HTML report when a run is finished.

A built-in plugin on `impax_run_finished`, configured by the inventory's ``[site.notify.mail]``
(validated with the rest of the inventory). It runs last among the run observers, after the run
was recorded in the history, renders the HTML report into memory itself (the reporters write the
files only after the hook) and sends it over SMTP with STARTTLS (or implicit TLS) and a login by
secret reference. A mail that cannot be sent — server down, refused login, untrusted certificate,
timeout — is a run warning, never a failed run; the password never appears in any message.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from .hookspecs import hookimpl
from .secrets import mask

if TYPE_CHECKING:  # pragma: no cover
    from email.message import EmailMessage

    from .inventory import Inventory, MailNotification
    from .model import RunReport

log = logging.getLogger("impax_preflight.notify_mail")


class MailError(Exception):
    """The mail could not be sent; the message says why and what to change."""


@hookimpl(trylast=True)
def impax_run_finished(report: "RunReport", inventory: "Inventory") -> None:
    settings = inventory.site.notify.mail if inventory is not None else None
    if settings is None:
        return
    why_not = _skip_reason(report, settings)
    if why_not:
        log.info("mail not sent: %s", why_not)
        return
    try:
        message = build_message(report, settings)
        deliver(message, settings)
    except MailError as exc:
        report.warnings.append(mask(f"the report was not e-mailed: {exc}"))
        return
    log.info("report e-mailed to %s", ", ".join(settings.to))


def _skip_reason(report: "RunReport", settings: "MailNotification") -> str | None:
    if settings.when == "problems" and report.verdict.value == "GO":
        return "the verdict is GO and [site.notify.mail] when = \"problems\""
    if settings.when == "changes":
        diff, since = _changes(report)
        if diff and not (diff["verdict"]["changed"] or diff["new_blockers"] or diff["resolved"]):
            return f"nothing changed since the {since} and [site.notify.mail] when = \"changes\""
    return None


def _changes(report: "RunReport") -> tuple[dict | None, str]:
    """What "changed" means for the mail: since the last recorded run; without a history, since the
    --baseline run (None when there is neither)."""
    if report.history is not None:
        return report.history.since_last, "last run"
    return report.baseline, "baseline run"


# ---- the message -----------------------------------------------------------------------------


def subject(report: "RunReport", settings: "MailNotification") -> str:
    blockers = len(report.blockers())
    text = f"{settings.subject_prefix} {report.verdict.label} — {report.site}: {blockers} blocker{'s' if blockers != 1 else ''}"
    diff, since = _changes(report)
    if diff is not None:
        text += f" ({len(diff['new_blockers'])} new, {len(diff['resolved'])} resolved since the {since})"
    return " ".join(text.split())


def body(report: "RunReport") -> str:
    """The plain-text mail: verdict, blockers with remediation, changes since the last run, warnings."""
    from .report.diff import diff_to_text
    from .report.merge import ordered_blockers
    from .report.text import blocker_line, no_verdict_sentence, nothing_blocks_sentence, one_line

    counts = ", ".join(f"{n} {s}" for s, n in report.counts().items() if n)
    lines = [
        f"IMPAX upgrade readiness — {report.site}",
        f"Verdict: {report.verdict.label}" + (" (interrupted: partial run)" if report.interrupted else ""),
        f"Run {report.run_id}, started {report.started_at:%Y-%m-%d %H:%M %Z}"
        + (f", {report.duration_s:.0f} s" if report.duration_s is not None else "")
        + (f", by {report.operator}" if report.operator else ""),
        f"Findings: {counts or 'none'}",
    ]
    history = report.history
    if history is not None and history.upgrade_date is not None:
        days = (history.upgrade_date - report.started_at.date()).days
        lines.append(f"Upgrade planned for {history.upgrade_date.isoformat()}: "
                     + (f"{days} day(s) after this run." if days >= 0 else f"the date passed {-days} day(s) before this run."))
    blockers = ordered_blockers(report)  # in the order every report lists them
    unverified = [] if blockers else report.unverified_blockers()
    lines += ["", f"What blocks the upgrade ({len(blockers)}):" if blockers else no_verdict_sentence(len(unverified))
              if unverified else nothing_blocks_sentence(report.counts()["waived"])]
    lines += [f"  - {one_line(u)}" for u in unverified]
    for f in blockers:
        lines.append(f"  - {blocker_line(f)}")
        if f.remediation:
            lines.append(f"      Remediation: {one_line(f.remediation)}")
    lines.append("")
    if history is not None and history.since_last is not None:
        lines += ["Since the last run", "------------------", diff_to_text(history.since_last)]
    elif history is not None:
        lines.append("This is the first recorded run of this site: the next mail will say what changed.")
    else:
        lines.append("The run history is off (--no-history): no comparison with the last run.")
    if report.baseline is not None:  # asked for with --baseline: shown as well, in its own section
        lines += ["", "Since the baseline run", "----------------------", diff_to_text(report.baseline)]
    if report.warnings:
        lines += ["", "Run warnings:"] + [f"  - {w}" for w in report.warnings]
    lines.append("")
    return mask("\n".join(lines) + "\n")


def build_message(report: "RunReport", settings: "MailNotification") -> "EmailMessage":
    from email.message import EmailMessage
    from email.utils import formatdate, make_msgid

    msg = EmailMessage()
    msg["Subject"] = mask(subject(report, settings))
    msg["From"] = settings.sender
    msg["To"] = ", ".join(settings.to)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    attachment, note = _report_attachment(report, settings) if settings.attach_html else (None, "")
    msg.set_content(body(report) + note + "\n")
    if attachment is not None:
        data, maintype, subtype, filename = attachment
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


def _report_attachment(report: "RunReport", settings: "MailNotification"):
    """report.html; zipped if it is over the size limit; left out (with a note) if even that is."""
    import io
    import zipfile

    from .report.html import render_html

    data = render_html(report).encode("utf-8")
    limit = int(settings.max_attachment_mb * 1024 * 1024)
    name = f"impax-preflight-{report.run_id}"
    if len(data) <= limit:
        return (data, "text", "html", f"{name}.html"), ("The full report with the evidence is attached: open the .html file in "
                                                         "a browser, it works offline.")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr(f"{name}.html", data)
    if buf.tell() <= limit:
        return ((buf.getvalue(), "application", "zip", f"{name}.zip"),
                f"The full report is attached zipped ({len(data) / 1e6:.1f} MB unzipped, over max_attachment_mb).")
    return None, (f"The report ({len(data) / 1e6:.1f} MB, {buf.tell() / 1e6:.1f} MB zipped) is over max_attachment_mb = "
                  f"{settings.max_attachment_mb:g} and is not attached: open report.html in the run's output folder.")


# ---- sending ---------------------------------------------------------------------------------


def deliver(msg: "EmailMessage", settings: "MailNotification") -> None:
    """Send over SMTP: STARTTLS (or implicit TLS) verified against the system CAs or ca_file, then login.

    Raises MailError naming the server and what to change. Nothing is sent before the connection is
    encrypted, and without STARTTLS the password is never sent.
    """
    import smtplib
    import socket
    import ssl

    from .secrets import SecretError

    where = f"{settings.server}:{settings.port}"
    try:
        password = settings.password.resolve(prompt_label="SMTP password") if settings.password else None
    except SecretError as exc:
        raise MailError(f"site.notify.mail.password ({settings.password.display()}): {exc}") from None
    try:
        context = ssl.create_default_context(cafile=settings.ca_file) if settings.security != "none" else None
    except (OSError, ssl.SSLError) as exc:
        raise MailError(f"site.notify.mail.ca_file {settings.ca_file}: cannot load it ({getattr(exc, 'strerror', None) or exc})") from None
    try:
        if settings.security == "tls":
            smtp = smtplib.SMTP_SSL(settings.server, settings.port, timeout=settings.timeout_s, context=context)
        else:
            smtp = smtplib.SMTP(settings.server, settings.port, timeout=settings.timeout_s)
        with smtp:
            smtp.ehlo()
            if settings.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise MailError(f"{where} does not offer STARTTLS, so nothing was sent (the report and the password are "
                                    "never sent unencrypted): enable STARTTLS on the server, or use security = \"tls\" and "
                                    "its TLS port")
                smtp.starttls(context=context)
                smtp.ehlo()
            if settings.user:
                _login(smtp, settings.user, password, where)
            refused = smtp.send_message(msg)
    except MailError:
        raise
    except smtplib.SMTPAuthenticationError as exc:
        raise MailError(f"{where} refused the login of {settings.user!r} ({_server_says(exc)}): check "
                        f"site.notify.mail.user and the password behind {settings.password.display() if settings.password else '—'}") from None
    except smtplib.SMTPNotSupportedError as exc:
        raise MailError(f"{where} does not support what was asked ({exc}): check security and user") from None
    except smtplib.SMTPRecipientsRefused as exc:
        raise MailError(f"{where} refused every recipient ({', '.join(exc.recipients)})") from None
    except smtplib.SMTPSenderRefused as exc:
        raise MailError(f"{where} refused the sender {settings.sender!r} ({_server_says(exc)})") from None
    except ssl.SSLCertVerificationError as exc:
        raise MailError(f"the certificate of {where} could not be verified ({exc.verify_message}): give the CA that signed it "
                        "in site.notify.mail.ca_file") from None
    except ssl.SSLError as exc:
        raise MailError(f"TLS with {where} failed ({exc.reason or exc}): check port and security "
                        f"(\"{settings.security}\")") from None
    except (socket.timeout, TimeoutError):
        raise MailError(f"{where} did not answer within {settings.timeout_s:g} s (timeout_s)") from None
    except ConnectionRefusedError:
        raise MailError(f"cannot connect to {where}: connection refused (is the SMTP server running, is the port right?)") from None
    except smtplib.SMTPServerDisconnected as exc:
        if isinstance(exc.__context__, (socket.timeout, TimeoutError)):  # smtplib wraps a read timeout
            raise MailError(f"{where} did not answer within {settings.timeout_s:g} s (timeout_s)") from None
        raise MailError(f"{where} closed the connection ({exc})") from None
    except smtplib.SMTPException as exc:
        raise MailError(f"{where}: {_server_says(exc)}") from None
    except OSError as exc:
        raise MailError(f"cannot connect to {where}: {exc.strerror or exc}") from None
    if refused:
        log.warning("the SMTP server refused some recipients: %s", ", ".join(refused))


def _login(smtp, user: str, password: str | None, where: str) -> None:
    """One login attempt with one mechanism. smtplib's login() tries the next mechanism after a refusal:
    two failed logins per run count double against a directory's lockout policy."""
    offered = smtp.esmtp_features.get("auth", "").upper().split()
    mechanism = next((m for m in ("PLAIN", "LOGIN", "CRAM-MD5") if m in offered), None)
    if mechanism is None:
        raise MailError(f"{where} offers no login mechanism this tool speaks (it offers: {' '.join(offered) or 'none'}); "
                        "leave out user and password if the server needs no login")
    smtp.user, smtp.password = user, password or ""
    smtp.auth(mechanism, getattr(smtp, "auth_" + mechanism.lower().replace("-", "_")))


def _server_says(exc: Exception) -> str:
    code = getattr(exc, "smtp_code", None)
    text = getattr(exc, "smtp_error", b"")
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {text}".strip() if code else (str(exc) or type(exc).__name__)
