"""Collector scripts: what `impax-preflight collect` writes for a host that cannot be reached remotely.

The script runs, on the server, exactly the commands it is given (the applicable checks' and fact
collection's: `plan.host_commands`), and leaves a bundle (see `transports/bundle.py` for the
format) that `impax-preflight run INVENTORY --bundle HOST=PATH` replays. POSIX ``sh`` for Solaris/Linux,
PowerShell 2.0-compatible for Windows. The scripts only run the listed commands and write into
their own output folder: nothing on the server is changed.
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from .bundle import FORMAT
from .quoting import (
    SH_PRELUDE,
    UnsafeScriptText,
    comment_text,
    display_text,
    ps_literal,
    sh_word,
)

if TYPE_CHECKING:  # pragma: no cover
    from ..inventory import Host


def _version() -> str:
    from .._version import __version__

    return str(__version__)


#: Seconds a collector lets one command run before killing it (thresholds.command_timeout_s).
DEFAULT_COMMAND_TIMEOUT_S = 60.0
_OS_NAMES = ("solaris", "linux", "windows")


def collector_script(host_name: str, os_name: str, commands: list[str],
                     command_timeout_s: float = DEFAULT_COMMAND_TIMEOUT_S,
                     timeouts: dict[str, float] | None = None) -> str:
    """The collector script text for a host: POSIX sh (solaris/linux) or PowerShell (windows).

    Each command may run `command_timeout_s` seconds, or its own limit from `timeouts` (a probe that
    declares a longer one, e.g. a RAID tool or a vendor report: the collector must give it the time
    a live run would). Every interpolated text is quoted by `quoting.py`; a text no script can carry
    (a NUL, a line break in a Windows command) raises `UnsafeScriptText` naming it."""
    if os_name not in _OS_NAMES:
        raise UnsafeScriptText(f"unknown OS {comment_text(os_name)} (expected one of {', '.join(_OS_NAMES)})")
    timeout = _seconds(command_timeout_s)
    limits = [_seconds((timeouts or {}).get(cmd, command_timeout_s)) for cmd in commands]
    if os_name == "windows":
        return _powershell(host_name, commands, timeout, limits)
    return _posix_sh(host_name, os_name, commands, timeout, limits)


def _seconds(value: float) -> int:
    if not (isinstance(value, (int, float)) and value > 0 and math.isfinite(value)):
        raise UnsafeScriptText(f"the per-command timeout must be a positive number of seconds, not {value!r}")
    return max(1, math.ceil(value))


def script_name(host_name: str, os_name: str) -> str:
    safe = safe_name(host_name)
    return f"collect-{safe}.ps1" if os_name == "windows" else f"collect-{safe}.sh"


def safe_name(host_name: str) -> str:
    """The host name reduced to characters safe in a file name and unquoted in a script."""
    safe = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in host_name)
    return safe.lstrip("-.") or "host"


def _version_text() -> str:
    return re.sub(r"[^A-Za-z0-9.+_-]", "_", _version())


# ---- POSIX sh -------------------------------------------------------------------------------

_SH_HEAD = r"""#!/bin/sh
# impax-preflight collector for host {host} ({os}), written {when} by impax-preflight {version}.
#
# It runs {count} read-only commands (listed at the bottom), one after the other, each for at most
# {timeout} seconds, and writes their output into a bundle folder (and a .zip or .tar.gz of it when
# zip or tar is available). Nothing on this server is changed. Run it as the user the checks would
# use (root, or a user with the needed RBAC profile):   sh {script} [OUTPUT_DIR]
LC_ALL=C; LANG=C; export LC_ALL LANG
umask 077
{prelude}
TIMEOUT={timeout}
STAMP=`date -u +%Y%m%d%H%M%S`
OUT_DIR=${{1:-impax-preflight-bundle-{safe}-$STAMP}}
# a folder named like an option would be read as one by basename, zip and tar
case "$OUT_DIR" in -*) OUT_DIR="./$OUT_DIR" ;; esac
if [ -f "$OUT_DIR/manifest.json" ]; then
  echo "collector: $OUT_DIR already holds a bundle; give another folder" >&2; exit 2
fi
mkdir -p "$OUT_DIR/out" || {{ echo "collector: cannot create $OUT_DIR/out" >&2; exit 2; }}
COLLECTED_AT=`date -u +%Y-%m-%dT%H:%M:%SZ`
ENTRIES="$OUT_DIR/.entries"
: > "$ENTRIES"
SEP=""

# written for the Solaris 10 Bourne shell too: backquotes, no `command -v`, no `[ -e`, no $(( ))
have() {{
  for d in `echo "$PATH" | tr ':' ' '`; do [ -x "$d/$1" ] && return 0; done
  return 1
}}

# seconds since the epoch, with milliseconds when perl is there (Solaris 10 date has no %s)
now() {{
  t=`perl -MTime::HiRes=time -e 'printf("%.3f\n", time)' 2>/dev/null`
  [ -n "$t" ] || t=`date +%s 2>/dev/null`
  case "$t" in ''|*[!0-9.]*) t=0 ;; esac
  echo "$t"
}}

# the pids of process $1 and of all its descendants (Solaris 10 has no pgrep -P)
tree() {{
  ps -e -o pid= -o ppid= 2>/dev/null | awk '
    {{ pid[NR] = $1; par[NR] = $2 }}
    END {{
      keep["'"$1"'"] = 1; more = 1
      while (more > 0) {{
        more = 0
        for (i = 1; i <= NR; i++) if (keep[par[i]] == 1 && keep[pid[i]] != 1) {{ keep[pid[i]] = 1; more++ }}
      }}
      for (i = 1; i <= NR; i++) if (keep[pid[i]] == 1) print pid[i]
    }}'
}}

# watchdog PID MARK SECONDS: after SECONDS, if MARK.running still exists, write MARK and kill the
# command's whole process tree (stopped first, so nothing forks away while it is being killed).
# No `timeout` command on Solaris 10, and the command shares our process group, so no group kill.
watchdog() {{
  w=0
  while [ $w -lt $3 ]; do
    sleep 1
    [ -f "$2.running" ] || exit 0
    w=`expr $w + 1`
  done
  : > "$2"
  kill -STOP `tree $1` 2>/dev/null
  kill -STOP `tree $1` 2>/dev/null
  kill -9 `tree $1` 2>/dev/null
}}

# run_one NUMBER JSON_OF_COMMAND LABEL COMMAND [SECONDS]
run_one() {{
  n=$1; json=$2; label=$3; cmd=$4; limit=${{5:-$TIMEOUT}}
  mark="$OUT_DIR/out/$n.timeout"
  started=`date -u +%Y-%m-%dT%H:%M:%SZ`
  t0=`now`
  : > "$mark.running"
  /bin/sh -c "$cmd" < /dev/null > "$OUT_DIR/out/$n.out" 2> "$OUT_DIR/out/$n.err" &
  pid=$!
  # exec in a subshell: a redirection on the call itself leaves the shell's saved copy of stdout
  # open in the watchdog, and whoever reads our output would wait for the watchdog to end
  ( exec < /dev/null > /dev/null 2>&1; watchdog $pid "$mark" $limit ) &
  wait $pid
  rc=$?
  rm -f "$mark.running"
  t1=`now`
  dur=`awk "BEGIN {{ d = $t1 - $t0; if (d < 0) d = 0; printf(\"%.3f\", d) }}" < /dev/null`
  case "$dur" in ''|*[!0-9.]*) dur=0 ;; esac
  extra=""
  if [ -f "$mark" ]; then
    extra=", \"timed_out\": true, \"timeout_s\": $limit"
    rm -f "$mark"
    echo "collector: [$n] killed after $limit s: $label" >&2
  fi
  printf '%s{{"command": %s, "rc": %s, "stdout": "out/%s.out", "stderr": "out/%s.err", "started": "%s", "duration_s": %s%s}}\n' \
    "$SEP" "$json" "$rc" "$n" "$n" "$started" "$dur" "$extra" >> "$ENTRIES"
  SEP=", "
  printf 'collector: [%s] rc=%s  %s\n' "$n" "$rc" "$label" >&2
}}

"""

_SH_TAIL = r"""
{{
  printf '{{"format": "{fmt}", "host": %s, "os": "{os}", "collected_at": "%s", "collector": "%s",\n "commands": [\n' \
    "$HOST_JSON" "$COLLECTED_AT" "impax-preflight {version} collector (sh)"
  cat "$ENTRIES"
  printf ']}}\n'
}} > "$OUT_DIR/manifest.json"
rm -f "$ENTRIES"

# pack it for the trip back; the folder itself is a valid bundle too
BASE=`basename "$OUT_DIR"`
PARENT=`dirname "$OUT_DIR"`
if have zip; then
  (cd "$PARENT" && zip -qr "./$BASE.zip" "./$BASE") && echo "collector: wrote $OUT_DIR.zip" >&2
elif have tar && have gzip; then
  (cd "$PARENT" && tar cf - "./$BASE" | gzip -c > "./$BASE.tar.gz") && echo "collector: wrote $OUT_DIR.tar.gz (extract it before use)" >&2
fi
echo "collector: bundle folder $OUT_DIR is complete; bring it (or the archive) back to the impax-preflight machine" >&2
"""


def _posix_sh(host_name: str, os_name: str, commands: list[str], timeout: int, limits: list[int]) -> str:
    lines = [
        _SH_HEAD.format(
            host=comment_text(host_name),
            os=os_name,
            when=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            version=_version_text(),
            count=len(commands),
            timeout=timeout,
            script=script_name(host_name, os_name),
            safe=safe_name(host_name),
            prelude=SH_PRELUDE,
        ),
        # JSON texts are made here, in Python, and carried as sh literals: the script never has to
        # escape anything itself, so any command text round-trips exactly
        f"HOST_JSON={sh_word(json.dumps(host_name), 'the host name')}",
        "",
    ]
    for i, (cmd, limit) in enumerate(zip(commands, limits), start=1):
        lines.append(f"run_one {i:03d} {sh_word(json.dumps(cmd))} {sh_word(display_text(cmd))} "
                     f"{sh_word(cmd, 'the command')}" + (f" {limit}" if limit != timeout else ""))
    lines.append(_SH_TAIL.format(fmt=FORMAT, os=os_name, version=_version_text()))
    return "\n".join(lines)


# ---- PowerShell (2.0 compatible) -------------------------------------------------------------

_PS_HEAD = r"""# impax-preflight collector for host {host} (windows), written {when} by impax-preflight {version}.
#
# It runs {count} read-only commands (listed at the bottom) through cmd.exe, one after the other,
# each for at most {timeout} seconds, and writes their raw output into a bundle folder (and a .zip of
# it when Windows can make one). Nothing on this server is changed. Works with Windows PowerShell 2.0
# and later. Run it in an elevated PowerShell window:
#   powershell -NoProfile -ExecutionPolicy Bypass -File {script} [OUTPUT_DIR]
$ErrorActionPreference = 'Stop'
$HostJson = {host_json}
$TimeoutMs = {timeout_ms}
$Stamp = (Get-Date).ToUniversalTime().ToString('yyyyMMddHHmmss')
if ($args.Count -ge 1) {{ $OutDir = [string]$args[0] }} else {{ $OutDir = Join-Path (Get-Location).Path ('impax-preflight-bundle-{safe}-' + $Stamp) }}
# -LiteralPath and .NET calls throughout: a folder name with [ ] * ? is not a wildcard
if (Test-Path -LiteralPath (Join-Path $OutDir 'manifest.json')) {{ Write-Error "collector: $OutDir already holds a bundle; give another folder"; exit 2 }}
[void][IO.Directory]::CreateDirectory((Join-Path $OutDir 'out'))
$OutDir = (Resolve-Path -LiteralPath $OutDir).ProviderPath
$OutSub = Join-Path $OutDir 'out'
$Inv = [Globalization.CultureInfo]::InvariantCulture
$CollectedAt = (Get-Date).ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", $Inv)
$CodePage = 'cp850'
try {{ $cp = [Console]::OutputEncoding.CodePage; if ($cp -eq 65001) {{ $CodePage = 'utf-8' }} else {{ $CodePage = 'cp' + $cp }} }} catch {{ }}
$Entries = New-Object System.Collections.ArrayList
$ErrorActionPreference = 'Continue'

function Invoke-One([string]$n, [string]$json, [string]$cmd, [int]$limitMs = $TimeoutMs) {{
  # shown on the console: control and format characters (escape sequences, bidi overrides) as '?'
  $label = [regex]::Replace($cmd, '[\p{{Cc}}\p{{Cf}}\p{{Zl}}\p{{Zp}}]', '?')
  $batFile = Join-Path $OutSub ($n + '.cmd')
  # the command goes into a .cmd file run by cmd.exe, so cmd syntax (pipes, quotes) works
  # unchanged and both streams of a whole pipeline are captured as raw bytes
  [IO.File]::WriteAllText($batFile, "@echo off`r`n" + $cmd + "`r`n@exit /b %ERRORLEVEL%`r`n", [Text.Encoding]::Default)
  $started = (Get-Date).ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", $Inv)
  $sw = [Diagnostics.Stopwatch]::StartNew()
  $psi = New-Object Diagnostics.ProcessStartInfo
  $psi.FileName = $env:ComSpec
  # relative names in the output folder: no path text (which may hold % or ^) on cmd's command line
  $psi.WorkingDirectory = $OutSub
  $psi.Arguments = '/d /s /c ""' + $n + '.cmd" 1>"' + $n + '.out" 2>"' + $n + '.err" <NUL"'
  $psi.UseShellExecute = $false
  $psi.CreateNoWindow = $true
  $p = [Diagnostics.Process]::Start($psi)
  $timedOut = $false
  if (-not $p.WaitForExit($limitMs)) {{
    # the whole tree: the command may have started others (taskkill /T, Windows XP / 2003 and later)
    & taskkill.exe /T /F /PID $p.Id 2>&1 | Out-Null
    $p.WaitForExit()
    $timedOut = $true
    Write-Host ('collector: [' + $n + '] killed after ' + ($limitMs / 1000) + ' s: ' + $label)
  }}
  $rc = $p.ExitCode
  $sw.Stop()
  Remove-Item -LiteralPath $batFile -Force -ErrorAction SilentlyContinue
  $dur = $sw.Elapsed.TotalSeconds.ToString('0.000', $Inv)
  $extra = ''
  if ($timedOut) {{ $extra = ', "timed_out": true, "timeout_s": ' + ($limitMs / 1000).ToString($Inv) }}
  [void]$Entries.Add('{{"command": ' + $json + ', "rc": ' + $rc + ', "stdout": "out/' + $n + '.out", "stderr": "out/' + $n + '.err", "started": "' + $started + '", "duration_s": ' + $dur + ', "codepage": "' + $CodePage + '"' + $extra + '}}')
  Write-Host ('collector: [' + $n + '] rc=' + $rc + '  ' + $label)
}}

"""

_PS_TAIL = r"""
$manifest = '{{"format": "{fmt}", "host": ' + $HostJson + ', "os": "windows", "collected_at": "' + $CollectedAt + '", "collector": "impax-preflight {version} collector (powershell)",' + "`n" + ' "commands": [' + "`n" + ($Entries -join (",`n")) + "`n]}}`n"
# UTF-8 without a byte order mark: the manifest is JSON
[IO.File]::WriteAllText((Join-Path $OutDir 'manifest.json'), $manifest, (New-Object Text.UTF8Encoding($false)))

# pack it for the trip back; the folder itself is a valid bundle too
$zip = $OutDir + '.zip'
try {{
  if (Get-Command Compress-Archive -ErrorAction SilentlyContinue) {{
    Compress-Archive -LiteralPath $OutDir -DestinationPath $zip -Force
  }} else {{
    # PowerShell 2.0: an empty zip, then the Explorer shell copies the folder into it (asynchronously)
    [IO.File]::WriteAllBytes($zip, [byte[]](@(80, 75, 5, 6) + (,0 * 18)))
    $shell = New-Object -ComObject Shell.Application
    $shell.NameSpace($zip).CopyHere($shell.NameSpace((Split-Path $OutDir)).ParseName((Split-Path $OutDir -Leaf)), 16)
    $waited = 0
    while ($waited -lt 120 -and $shell.NameSpace($zip).Items().Count -lt 1) {{ Start-Sleep -Seconds 1; $waited++ }}
    Start-Sleep -Seconds 3
  }}
  Write-Host "collector: wrote $zip"
}} catch {{
  Write-Host "collector: could not zip ($_); bring the folder $OutDir back instead"
}}
Write-Host "collector: bundle folder $OutDir is complete; bring it (or the zip) back to the impax-preflight machine"
"""


def _powershell(host_name: str, commands: list[str], timeout: int, limits: list[int]) -> str:
    for cmd in commands:
        if "\r" in cmd or "\n" in cmd:
            # written into a .cmd file, each line would run as a command of its own
            raise UnsafeScriptText(f"the Windows command {comment_text(cmd)} contains a line break: cmd.exe would "
                                   "run each line as a separate command; fix the check that declares it")
    lines = [
        _PS_HEAD.format(
            host=comment_text(host_name),
            when=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            version=_version_text(),
            count=len(commands),
            timeout=timeout,
            timeout_ms=timeout * 1000,
            script=script_name(host_name, "windows"),
            host_json=ps_literal(json.dumps(host_name), "the host name"),
            safe=safe_name(host_name),
        )
    ]
    for i, (cmd, limit) in enumerate(zip(commands, limits), start=1):
        lines.append(f"Invoke-One '{i:03d}' {ps_literal(json.dumps(cmd))} {ps_literal(cmd, 'the command')}"
                     + (f" {limit * 1000}" if limit != timeout else ""))
    lines.append(_PS_TAIL.format(fmt=FORMAT, version=_version_text()))
    return "\r\n".join("\n".join(lines).split("\n"))


# ---- README for the person carrying the script ----------------------------------------------

def readme_text(host: "Host", inventory_path: str, script: str, commands: list[str],
                command_timeout_s: float | None = None) -> str:
    # names and commands are shown with control characters escaped: nothing can hide from the reader
    name, inventory_path = display_text(host.name), display_text(str(inventory_path))
    if host.os == "windows":
        how = (
            f"1. Copy {script} to the server {name} (e.g. to C:\\Temp).\n"
            "2. Open PowerShell as Administrator in that folder and run:\n"
            f"       powershell -NoProfile -ExecutionPolicy Bypass -File .\\{script}\n"
            "   (optionally followed by an output folder). It works with Windows PowerShell 2.0 and later.\n"
            "3. It writes a folder impax-preflight-bundle-<host>-<time> and, when Windows can, a .zip of it.\n"
        )
    else:
        how = (
            f"1. Copy {script} to the server {name} (e.g. scp it to /var/tmp).\n"
            "2. Run it as root (or as the user with the RBAC profile the checks need):\n"
            f"       sh {script}\n"
            "   (optionally followed by an output folder).\n"
            "3. It writes a folder impax-preflight-bundle-<host>-<time> and a .zip (or .tar.gz) of it.\n"
        )
    listed = "\n".join(f"   {i:3d}. {display_text(c)}" for i, c in enumerate(commands, start=1))
    return (
        f"impax-preflight collector for host {name} ({host.os})\n"
        f"{'=' * 60}\n\n"
        "What it does: runs the read-only commands below, one after the other, and saves what each\n"
        "printed (stdout, stderr, exit code, start time, duration) into a bundle. It changes nothing on\n"
        "the server. Review the list before you run it.\n"
        + (f"Each command may run for {max(1, math.ceil(command_timeout_s))} seconds at most; one that runs longer is\n"
           "killed (with what it started) and shows as an error finding.\n" if command_timeout_s else "")
        + "\n"
        f"On the server\n{how}\n"
        "Back on the impax-preflight machine\n"
        "4. Bring the folder or the .zip back (a .tar.gz must be extracted first: tar xzf FILE).\n"
        "5. Run the checks with it:\n"
        f"       impax-preflight run {inventory_path} --bundle {name}=PATH/TO/BUNDLE\n"
        "   A command missing from the bundle (checks changed since the script was made) shows as an\n"
        "   error finding: regenerate the script with `impax-preflight collect` and collect again.\n\n"
        f"Commands ({len(commands)})\n{listed}\n"
    )
