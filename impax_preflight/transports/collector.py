"""Collector scripts: what `impax-preflight collect` writes for a host that cannot be reached remotely.

The script runs, on the server, exactly the commands it is given (the applicable checks' and fact
collection's: `plan.host_commands`), and leaves a bundle (see `transports/bundle.py` for the
format) that `impax-preflight run INVENTORY --bundle HOST=PATH` replays. POSIX ``sh`` for Solaris/Linux,
PowerShell 2.0-compatible for Windows. The scripts only run the listed commands and write into
their own output folder: nothing on the server is changed.
"""

from __future__ import annotations

import json
import shlex
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from .bundle import FORMAT

if TYPE_CHECKING:  # pragma: no cover
    from ..inventory import Host


def _version() -> str:
    from .._version import __version__

    return str(__version__)


def collector_script(host_name: str, os_name: str, commands: list[str]) -> str:
    """The collector script text for a host: POSIX sh (solaris/linux) or PowerShell (windows)."""
    if os_name == "windows":
        return _powershell(host_name, commands)
    return _posix_sh(host_name, os_name, commands)


def script_name(host_name: str, os_name: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in host_name)
    return f"collect-{safe}.ps1" if os_name == "windows" else f"collect-{safe}.sh"


# ---- POSIX sh -------------------------------------------------------------------------------

_SH_HEAD = r"""#!/bin/sh
# impax-preflight collector for host {host} ({os}), written {when} by impax-preflight {version}.
#
# It runs {count} read-only commands (listed at the bottom), one after the other, and writes their
# output into a bundle folder (and a .zip or .tar.gz of it when zip or tar is available).
# Nothing on this server is changed. Run it as the user the checks would use (root, or a user
# with the needed RBAC profile):   sh {script} [OUTPUT_DIR]
LC_ALL=C; LANG=C; export LC_ALL LANG
umask 077
HOST={host_q}
STAMP=`date -u +%Y%m%d%H%M%S`
OUT_DIR=${{1:-impax-preflight-bundle-{safe}-$STAMP}}
if [ -f "$OUT_DIR/manifest.json" ]; then
  echo "collector: $OUT_DIR already holds a bundle; give another folder" >&2; exit 2
fi
mkdir -p "$OUT_DIR/out" || {{ echo "collector: cannot create $OUT_DIR/out" >&2; exit 2; }}
COLLECTED_AT=`date -u +%Y-%m-%dT%H:%M:%SZ`
ENTRIES="$OUT_DIR/.entries"
: > "$ENTRIES"
SEP=""

# written for the Solaris 10 Bourne shell too: backquotes, no `command -v`, no `[ -e`
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

# run_one NUMBER JSON_OF_COMMAND COMMAND
run_one() {{
  n=$1; json=$2; cmd=$3
  started=`date -u +%Y-%m-%dT%H:%M:%SZ`
  t0=`now`
  /bin/sh -c "$cmd" < /dev/null > "$OUT_DIR/out/$n.out" 2> "$OUT_DIR/out/$n.err"
  rc=$?
  t1=`now`
  dur=`awk "BEGIN {{ d = $t1 - $t0; if (d < 0) d = 0; printf(\"%.3f\", d) }}" < /dev/null`
  case "$dur" in ''|*[!0-9.]*) dur=0 ;; esac
  printf '%s{{"command": %s, "rc": %s, "stdout": "out/%s.out", "stderr": "out/%s.err", "started": "%s", "duration_s": %s}}\n' \
    "$SEP" "$json" "$rc" "$n" "$n" "$started" "$dur" >> "$ENTRIES"
  SEP=", "
  printf 'collector: [%s] rc=%s  %s\n' "$n" "$rc" "$cmd" >&2
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
  (cd "$PARENT" && zip -qr "$BASE.zip" "$BASE") && echo "collector: wrote $OUT_DIR.zip" >&2
elif have tar && have gzip; then
  (cd "$PARENT" && tar cf - "$BASE" | gzip -c > "$BASE.tar.gz") && echo "collector: wrote $OUT_DIR.tar.gz (extract it before use)" >&2
fi
echo "collector: bundle folder $OUT_DIR is complete; bring it (or the archive) back to the impax-preflight machine" >&2
"""


def _posix_sh(host_name: str, os_name: str, commands: list[str]) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in host_name)
    lines = [
        _SH_HEAD.format(
            host=host_name.replace("\n", " "),
            os=os_name,
            when=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            version=_version(),
            count=len(commands),
            script=script_name(host_name, os_name),
            host_q=shlex.quote(host_name),
            safe=safe,
        ),
        # JSON texts are made here, in Python, and carried as sh literals: the script never has to
        # escape anything itself, so any command text round-trips exactly
        f"HOST_JSON={shlex.quote(json.dumps(host_name))}",
        "",
    ]
    for i, cmd in enumerate(commands, start=1):
        lines.append(f"run_one {i:03d} {shlex.quote(json.dumps(cmd))} {shlex.quote(cmd)}")
    lines.append(_SH_TAIL.format(fmt=FORMAT, os=os_name, version=_version()))
    return "\n".join(lines)


# ---- PowerShell (2.0 compatible) -------------------------------------------------------------

_PS_HEAD = r"""# impax-preflight collector for host {host} (windows), written {when} by impax-preflight {version}.
#
# It runs {count} read-only commands (listed at the bottom) through cmd.exe, one after the other,
# and writes their raw output into a bundle folder (and a .zip of it when Windows can make one).
# Nothing on this server is changed. Works with Windows PowerShell 2.0 and later. Run it in an
# elevated PowerShell window:
#   powershell -NoProfile -ExecutionPolicy Bypass -File {script} [OUTPUT_DIR]
$ErrorActionPreference = 'Stop'
$HostJson = {host_json}
$Stamp = (Get-Date).ToUniversalTime().ToString('yyyyMMddHHmmss')
if ($args.Count -ge 1) {{ $OutDir = $args[0] }} else {{ $OutDir = Join-Path (Get-Location).Path ('impax-preflight-bundle-{safe}-' + $Stamp) }}
if (Test-Path (Join-Path $OutDir 'manifest.json')) {{ Write-Error "collector: $OutDir already holds a bundle; give another folder"; exit 2 }}
New-Item -ItemType Directory -Force -Path (Join-Path $OutDir 'out') | Out-Null
$OutDir = (Resolve-Path $OutDir).Path
$Inv = [Globalization.CultureInfo]::InvariantCulture
$CollectedAt = (Get-Date).ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", $Inv)
$CodePage = 'cp850'
try {{ $cp = [Console]::OutputEncoding.CodePage; if ($cp -eq 65001) {{ $CodePage = 'utf-8' }} else {{ $CodePage = 'cp' + $cp }} }} catch {{ }}
$Entries = New-Object System.Collections.ArrayList
$ErrorActionPreference = 'Continue'

function Invoke-One([string]$n, [string]$json, [string]$cmd) {{
  $outFile = Join-Path $OutDir ('out\' + $n + '.out')
  $errFile = Join-Path $OutDir ('out\' + $n + '.err')
  $batFile = Join-Path $OutDir ('out\' + $n + '.cmd')
  # the command goes into a .cmd file run by cmd.exe, so cmd syntax (pipes, quotes) works
  # unchanged and both streams of a whole pipeline are captured as raw bytes
  [IO.File]::WriteAllText($batFile, "@echo off`r`n" + $cmd + "`r`n@exit /b %ERRORLEVEL%`r`n", [Text.Encoding]::Default)
  $started = (Get-Date).ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", $Inv)
  $sw = [Diagnostics.Stopwatch]::StartNew()
  $psi = New-Object Diagnostics.ProcessStartInfo
  $psi.FileName = $env:ComSpec
  $psi.Arguments = '/d /s /c ""' + $batFile + '" 1>"' + $outFile + '" 2>"' + $errFile + '" <NUL"'
  $psi.UseShellExecute = $false
  $psi.CreateNoWindow = $true
  $p = [Diagnostics.Process]::Start($psi)
  $p.WaitForExit()
  $rc = $p.ExitCode
  $sw.Stop()
  Remove-Item -LiteralPath $batFile -Force -ErrorAction SilentlyContinue
  $dur = $sw.Elapsed.TotalSeconds.ToString('0.000', $Inv)
  [void]$Entries.Add('{{"command": ' + $json + ', "rc": ' + $rc + ', "stdout": "out/' + $n + '.out", "stderr": "out/' + $n + '.err", "started": "' + $started + '", "duration_s": ' + $dur + ', "codepage": "' + $CodePage + '"}}')
  Write-Host ('collector: [' + $n + '] rc=' + $rc + '  ' + $cmd)
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
    Compress-Archive -Path $OutDir -DestinationPath $zip -Force
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


def _ps_quote(text: str) -> str:
    """A PowerShell single-quoted literal: nothing inside is expanded; a quote is doubled."""
    # PowerShell also treats the typographic quotes U+2018/U+2019/U+201A/U+201B as single quotes
    for q in ("'", "\u2018", "\u2019", "\u201a", "\u201b"):
        text = text.replace(q, q + q)
    return "'" + text + "'"


def _powershell(host_name: str, commands: list[str]) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in host_name)
    lines = [
        _PS_HEAD.format(
            host=host_name.replace("\n", " "),
            when=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            version=_version(),
            count=len(commands),
            script=script_name(host_name, "windows"),
            host_json=_ps_quote(json.dumps(host_name)),
            safe=safe,
        )
    ]
    for i, cmd in enumerate(commands, start=1):
        lines.append(f"Invoke-One '{i:03d}' {_ps_quote(json.dumps(cmd))} {_ps_quote(cmd)}")
    lines.append(_PS_TAIL.format(fmt=FORMAT, version=_version()))
    return "\r\n".join("\n".join(lines).split("\n"))


# ---- README for the person carrying the script ----------------------------------------------

def readme_text(host: "Host", inventory_path: str, script: str, commands: list[str]) -> str:
    if host.os == "windows":
        how = (
            f"1. Copy {script} to the server {host.name} (e.g. to C:\\Temp).\n"
            "2. Open PowerShell as Administrator in that folder and run:\n"
            f"       powershell -NoProfile -ExecutionPolicy Bypass -File .\\{script}\n"
            "   (optionally followed by an output folder). It works with Windows PowerShell 2.0 and later.\n"
            "3. It writes a folder impax-preflight-bundle-<host>-<time> and, when Windows can, a .zip of it.\n"
        )
    else:
        how = (
            f"1. Copy {script} to the server {host.name} (e.g. scp it to /var/tmp).\n"
            "2. Run it as root (or as the user with the RBAC profile the checks need):\n"
            f"       sh {script}\n"
            "   (optionally followed by an output folder).\n"
            "3. It writes a folder impax-preflight-bundle-<host>-<time> and a .zip (or .tar.gz) of it.\n"
        )
    listed = "\n".join(f"   {i:3d}. {c}" for i, c in enumerate(commands, start=1))
    return (
        f"impax-preflight collector for host {host.name} ({host.os})\n"
        f"{'=' * 60}\n\n"
        "What it does: runs the read-only commands below, one after the other, and saves what each\n"
        "printed (stdout, stderr, exit code, start time, duration) into a bundle. It changes nothing on\n"
        "the server. Review the list before you run it.\n\n"
        f"On the server\n{how}\n"
        "Back on the impax-preflight machine\n"
        "4. Bring the folder or the .zip back (a .tar.gz must be extracted first: tar xzf FILE).\n"
        "5. Run the checks with it:\n"
        f"       impax-preflight run {inventory_path} --bundle {host.name}=PATH/TO/BUNDLE\n"
        "   A command missing from the bundle (checks changed since the script was made) shows as an\n"
        "   error finding: regenerate the script with `impax-preflight collect` and collect again.\n\n"
        f"Commands ({len(commands)})\n{listed}\n"
    )
