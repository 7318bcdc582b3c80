"""Probes: one way to read a host.

A `Probe` declares one read of a host in the engineer's words: the command per OS (with
alternatives: wmic, else PowerShell), the parser of its output, whether it needs privileges, its
timeout, and what an answer such as "no such file" means. A check declares the probes it uses and
keeps only its judgement:

    SVCS = probe("solaris.svcs", "the SMF service states", parse_svcs_xv, solaris="svcs -xv")

    @check("os.solaris.services", ..., probes=[SVCS])
    def services(ctx):
        for svc in ctx.read(SVCS): ...

`ctx.read(probe)` returns the parsed records (or None when the probe says the thing read is
absent), or raises a `ReadError` naming why (host unreachable, login refused, timed out, command
missing, permission denied, failed, unparsable), which the runner turns into an `error` finding
with the reason and the evidence. Each probe is read once per host and run, whichever checks (and
fact collection) ask for it; the commands a collector gathers are the probes' commands.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from .memo import Memo
from .model import Evidence
from .options import SHELL_SPECIAL
from .parsers import ParseError
from .secrets import mask
from .transports.base import OUTPUT_CAP, CommandResult, CommandTimeout, NotCollected, TransportError

if TYPE_CHECKING:  # pragma: no cover
    from .inventory import Host, Site
    from .transports.base import Shell

#: how much of an output a command's evidence keeps
EXCERPT_CHARS = 8000

_NOT_FOUND = re.compile(
    r"not found|not recognized as an internal or external command|No such file or directory|nicht gefunden|"
    r"is not recognized as the name of a cmdlet", re.I)
_DENIED = re.compile(
    r"permission denied|not authorized|insufficient privilege|Access is denied|requires .*authori[sz]ation|"
    r"must be (root|super-?user)|not permitted", re.I)


# ---- declaring probes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """One way to make the read on one OS: a command and the parser of what it prints."""

    command: str
    parse: Callable[..., Any]
    #: the tool prints its answer on stderr too (e.g. metastat): parse stdout and stderr together
    whole: bool = False


@dataclass(frozen=True)
class Probe:
    """One read of a host. Build it with `probe(...)`."""

    name: str
    reads: str
    variants: Mapping[str, tuple[Variant, ...]]
    privileged: bool = False
    timeout_s: float | None = None
    #: a pattern on stdout+stderr of a command that FAILED (exit code not 0) meaning the thing read does
    #: not exist (a path, a registry key, a service): the read returns None instead of failing
    absent: str | None = None
    #: the command not being installed means "not used here" (None), not an error
    missing_ok: bool = False
    #: fills {placeholders} in the commands from the site's settings (e.g. a configured path);
    #: called with site None for the defaults; None means the read does not apply on this site
    arguments: Callable[["Site | None", "Host | None"], dict[str, str] | None] | None = None
    #: any exit code but 0 is a failed read, even with output (a tool whose output on failure is not an answer)
    strict_rc: bool = False
    #: applied to the output before it is parsed or kept as evidence (e.g. blank a password)
    redact: Callable[[str], str] | None = None
    #: a note for the finding when the read found the thing absent
    absent_note: str | None = None
    #: keyword arguments for the parser from the site's settings (e.g. a listing's date order)
    parse_options: Callable[["Site | None", "Host | None"], dict[str, Any]] | None = None
    #: the `arguments` that are whole command lines a site configures (e.g. a vendor tool's
    #: invocation): not refused for shell characters as paths and names are
    command_args: tuple[str, ...] = ()
    #: an output cut at the transport's cap (16 MB) still answers (e.g. the newest lines come first);
    #: otherwise a cut output is a failed read, never judged on a part
    partial_ok: bool = False

    def variants_for(self, os_name: str) -> tuple[Variant, ...]:
        return tuple(self.variants.get(os_name, ())) + tuple(self.variants.get("*", ()))

    def commands_for(self, os_name: str, site: "Site | None" = None, host: "Host | None" = None) -> tuple[str, ...]:
        """The command lines this probe runs on a host of this OS (every alternative), as the collector gathers them."""
        args = self.arguments(site, host) if self.arguments else {}
        if args is None:
            return ()
        try:
            return tuple(_fill(v.command, args, self.command_args) for v in self.variants_for(os_name))
        except UnsafeArgument:  # nothing to collect: the read itself reports the setting
            return ()

    def __hash__(self) -> int:  # probes are keys of memos and sets; their name is their identity
        return hash(self.name)


VariantSpec = "str | Variant | tuple[str, Callable[..., Any]] | Iterable[str | Variant | tuple[str, Callable[..., Any]]]"


def probe(
    name: str,
    reads: str,
    parse: Callable[..., Any] | None = None,
    *,
    solaris: Any = None,
    windows: Any = None,
    linux: Any = None,
    any_os: Any = None,
    **options: Any,
) -> Probe:
    """A `Probe`. Per OS give a command (parsed with `parse`), a (command, parser) pair, a `Variant`,
    or a list of those tried in order: the next one runs when a command is missing or fails."""
    variants: dict[str, tuple[Variant, ...]] = {}
    for os_name, spec in (("solaris", solaris), ("windows", windows), ("linux", linux), ("*", any_os)):
        if spec is not None:
            variants[os_name] = tuple(_variant(item, parse, name) for item in (spec if isinstance(spec, list) else [spec]))
    if not variants:
        raise ValueError(f"probe {name}: give a command for at least one OS")
    return Probe(name=name, reads=reads, variants=variants, **options)


def _variant(item: Any, parse: Callable[..., Any] | None, name: str) -> Variant:
    if isinstance(item, Variant):
        return item
    if isinstance(item, tuple):
        return Variant(item[0], item[1])
    if parse is None:
        raise ValueError(f"probe {name}: no parser for {item!r}")
    return Variant(str(item), parse)


#: what a shell (sh or cmd.exe) would interpret inside a site's value put into a command line
_SHELL_SPECIAL = re.compile("[" + re.escape("".join(sorted(SHELL_SPECIAL))) + "]")


class UnsafeArgument(ValueError):
    """A site's setting that would change the command line it is put into, not just fill it."""


def _fill(command: str, args: Mapping[str, str], command_args: Iterable[str] = ()) -> str:
    """`command` with its {placeholders} filled. A value (a path, a name from the inventory) is
    refused when it holds a quote or a character a shell interprets, so a setting can only fill
    its place; only the arguments a probe declares as whole commands (`command_args`) are exempt."""
    if not args:
        return command
    for name, value in args.items():
        bad = _SHELL_SPECIAL.search(str(value)) if name not in command_args else None
        if bad:
            raise UnsafeArgument(f"the setting {name} = {str(value)[:200]!r} holds {bad.group()!r}, which a shell would "
                                 "interpret; give a plain path or name (no quotes, $, %, ;, &, |, <, >, !, backquotes or "
                                 "line breaks)")
    return command.format(**args)


# ---- what a read can end in ---------------------------------------------------------------------


class ReadError(Exception):
    """A probe's read that gave no usable answer. `reason` says why and what to do; `evidence`
    holds what was run and what came back."""

    kind = "failed"

    def __init__(self, reason: str, evidence: list[Evidence] | None = None):
        super().__init__(reason)
        self.reason = reason
        self.evidence = list(evidence or [])


class HostUnreachable(ReadError):
    kind = "unreachable"


class LoginRefused(ReadError):
    kind = "refused"


class ReadTimeout(ReadError):
    kind = "timed out"


class CommandMissing(ReadError):
    kind = "command missing"


class PermissionDenied(ReadError):
    kind = "permission"


class Unparsable(ReadError):
    kind = "unparsable"


class NotInBundle(ReadError):
    kind = "not collected"


@dataclass
class Reading:
    """What one read of a probe gave: the parsed value (None: absent), its evidence and notes."""

    value: Any
    evidence: list[Evidence] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: where and when the answer was taken: ``transport`` (ssh, local, bundle...) and, from a bundle,
    #: ``collected_at`` (ISO 8601, the collection time the bundle records) and ``clock`` (whose clock
    #: stamped it: "server" for the collector scripts, "impax-preflight" for bundles the tool wrote)
    context: dict[str, Any] = field(default_factory=dict)


def command_missing(res: CommandResult) -> bool:
    """The command is not installed (or not on the PATH of the login used)."""
    text = f"{res.stdout}\n{res.stderr}"
    return res.rc in (127, 9009) or (res.rc not in (0, None) and bool(_NOT_FOUND.search(text)) and not res.stdout.strip())


def evidence_from_command(result: CommandResult, target: str) -> Evidence:
    """What a command ran and printed, as the proof a finding carries (output capped, secrets masked)."""
    out = result.stdout
    return Evidence(
        kind="command",
        source=mask(result.command),
        target=target,
        rc=result.rc,
        output=mask(out[:EXCERPT_CHARS]),
        stderr=mask(result.stderr[:2000]),
        duration_s=round(result.duration, 4),
        truncated=result.truncated or len(out) > EXCERPT_CHARS,
        transport=result.transport or None,
    )


@functools.lru_cache(maxsize=None)
def _takes_notes(fn: Callable[..., Any]) -> bool:
    try:
        return "notes" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def parse_with(parser: Callable[..., Any], text: str, notes: list[str] | None = None) -> Any:
    """`parser(text)`, handing it `notes` (lines it did not understand) when it takes them."""
    return parser(text, notes=notes) if notes is not None and _takes_notes(parser) else parser(text)


# ---- reading ------------------------------------------------------------------------------------


class HostReader:
    """Reads probes on one host, each once per run: every check (and fact collection) asking for the
    same probe gets the same reading, or the same error."""

    def __init__(self, host: "Host | None", shell: Callable[[], "Shell"], site: "Site | None" = None,
                 default_timeout_s: float = 60.0, target: str | None = None):
        self.host = host
        self.site = site
        self._shell = shell
        self._default_timeout = default_timeout_s
        self.target = target or (host.name if host is not None else "host")
        self._readings = Memo()
        #: (command, privileged) -> its result: two probes parsing one command's output run it once
        self._results = Memo()

    @property
    def os(self) -> str:
        return self.host.os if self.host is not None else "linux"

    def read(self, p: Probe, timeout_s: float | None = None) -> Reading:
        """The reading of `p` (computed by the first caller, shared with the others); raises ReadError.

        The read is shared, so it runs with the probe's own time limit: `timeout_s` may lengthen it,
        never shorten it (one check near its deadline must not leave a timeout for all the others)."""
        args = p.arguments(self.site, self.host) if p.arguments else {}
        options = p.parse_options(self.site, self.host) if p.parse_options else {}
        key = (p.name, None if args is None else tuple(sorted(args.items())), *sorted(options.items()))
        timeout = max(timeout_s or 0.0, p.timeout_s or self._default_timeout)
        return self._readings.get(key, lambda: self._read(p, args, options, timeout))

    def _read(self, p: Probe, args: Mapping[str, str] | None, options: Mapping[str, Any], timeout: float) -> Reading:
        variants = p.variants_for(self.os)
        if not variants:
            raise CommandMissing(f"{p.reads}: nothing is known to read it on {self.os}")
        if args is None:
            raise ReadError(f"{p.reads}: not configured for this site")
        evidence: list[Evidence] = []
        try:
            shell = self._shell()
        except TransportError as exc:
            raise _connection_error(str(exc)) from None
        try:
            commands = [_fill(v.command, args, p.command_args) for v in variants]
        except UnsafeArgument as exc:
            raise ReadError(f"{p.reads}: not read — {exc}") from None
        for i, v in enumerate(variants):
            last = i == len(variants) - 1
            command = commands[i]
            try:
                res = self._run(shell, command, p.privileged, timeout)
            except CommandTimeout as exc:
                raise ReadTimeout(f"could not read {p.reads}: {exc}", evidence) from None
            except NotCollected as exc:
                if not last:
                    continue  # a bundle holds the alternative the collector ran
                raise NotInBundle(f"could not read {p.reads}: {exc}; collect the bundle again with `impax-preflight collect`",
                                  evidence) from None
            except TransportError as exc:
                raise _connection_error(f"could not read {p.reads}: {exc}", evidence) from None
            if p.redact is not None:
                res = dataclasses.replace(res, stdout=p.redact(res.stdout))
            evidence.append(evidence_from_command(res, self.target))
            text = f"{res.stdout}\n{res.stderr}"
            # "absent" is what a command says when it FAILS because the thing is not there: never a
            # phrase inside a successful output (a log that quotes "No such file or directory")
            if p.absent and res.rc not in (0, None) and re.search(p.absent, text, re.I | re.M):
                return Reading(None, evidence, [p.absent_note] if p.absent_note else [], _context_of(res))
            if command_missing(res):
                if not last:
                    continue
                if p.missing_ok:
                    return Reading(None, evidence, [f"`{res.command}` is not installed on this host"], _context_of(res))
                raise CommandMissing(
                    f"could not read {p.reads}: `{res.command}` is not installed or not on the PATH of the login used "
                    f"(exit code {res.rc}); check the account's PATH", evidence)
            quiet_failure = res.rc not in (0, None) and not res.stdout.strip()
            detail = _last_line(res.stderr) or "no output"
            if quiet_failure and _DENIED.search(res.stderr or ""):
                if not last:
                    continue
                raise PermissionDenied(
                    f"could not read {p.reads}: `{res.command}` was refused ({detail}); the account lacks the privilege: give "
                    "the inventory's transport a privilege prefix (privilege = \"pfexec\" or \"sudo -n\") or collect a bundle "
                    "as root / an administrator", evidence)
            if p.strict_rc and res.rc not in (0, None):
                if not last:
                    continue
                raise ReadError(f"could not read {p.reads}: `{res.command}` ended with exit code {res.rc} ({detail})", evidence)
            if quiet_failure and not (v.whole and res.stderr.strip()):
                if not last:
                    continue
                raise ReadError(f"could not read {p.reads}: `{res.command}` exited with code {res.rc} ({detail}); run it by "
                                "hand on the server to see why it fails", evidence)
            if res.truncated and not p.partial_ok:
                raise ReadError(
                    f"could not read {p.reads}: `{res.command}` printed more than the {OUTPUT_CAP // (1024 * 1024)} MB "
                    "impax-preflight keeps, and a cut output is not judged on its first part; narrow the command (a site "
                    "setting such as a shorter window) or read it by hand", evidence)
            return self._parse(p, v, res, evidence, options)
        raise ReadError(f"could not read {p.reads}: no command answered", evidence)  # pragma: no cover - loop returns

    def _run(self, shell: "Shell", command: str, privileged: bool, timeout: float) -> CommandResult:
        """Run a command once per host: a second probe reading the same output gets the same result."""

        def run() -> CommandResult:
            started = time.monotonic()
            res = shell.run(command, timeout=timeout, privileged=True) if privileged else shell.run(command, timeout=timeout)
            if not res.duration:
                res.duration = time.monotonic() - started
            return res

        return self._results.get((command, privileged), run)

    def _parse(self, p: Probe, v: Variant, res: CommandResult, evidence: list[Evidence], options: Mapping[str, Any]) -> Reading:
        text = res.stdout + ("\n" + res.stderr if v.whole and res.stderr else "")
        notes: list[str] = []
        parse = functools.partial(v.parse, **options) if options else v.parse
        try:
            value = parse_with(parse, text, notes)
        except ParseError as exc:
            excerpt = exc.excerpt or res.stdout[:300]
            raise Unparsable(f"could not understand the output of `{res.command}` ({p.reads}): {exc} — excerpt: "
                             f"{mask(excerpt)[:300]!r}", evidence) from None
        return Reading(value, evidence, [f"`{res.command}`: {n}" for n in notes], _context_of(res))


def _context_of(res: CommandResult) -> dict[str, Any]:
    return {"transport": res.transport or None, **(res.extra or {})}


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


_REFUSED = re.compile(r"authenticat|password|permission denied \(|login|host key", re.I)


def _connection_error(reason: str, evidence: list[Evidence] | None = None) -> ReadError:
    """A transport failure as the read error it is: a refused login, or a host out of reach."""
    return (LoginRefused if _REFUSED.search(reason) else HostUnreachable)(reason, evidence)


def probes_commands(probes: Iterable[Probe], os_name: str, site: "Site | None" = None, host: "Host | None" = None) -> list[str]:
    """Every command of `probes` on a host of this OS, in order, without duplicates."""
    out: list[str] = []
    for p in probes:
        for c in p.commands_for(os_name, site, host):
            if c not in out:
                out.append(c)
    return out
