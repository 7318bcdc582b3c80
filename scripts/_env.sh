# Shared set-up for scripts/demo.sh and scripts/test.sh: a virtualenv in .venv with this package.
# Sourced, not run. Works on a fresh Debian machine with Python 3.11.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi

apt_install() {
  # Install the Debian packages that are missing; no-op where apt is absent.
  command -v apt-get >/dev/null 2>&1 || { echo "apt-get not found: install $* by hand" >&2; return 0; }
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

make_venv() {
  if [ ! -x "$ROOT/.venv/bin/python" ]; then
    if ! "$PY" -m venv "$ROOT/.venv" 2>/dev/null; then
      apt_install python3-venv
      rm -rf "$ROOT/.venv"
      "$PY" -m venv "$ROOT/.venv"
    fi
  fi
  VPY="$ROOT/.venv/bin/python"
  pip_quiet install --upgrade pip
}

pip_quiet() {
  # pip's chatter goes to a log; it is shown only when pip fails
  local log="$ROOT/.venv/pip.log"
  if ! "$VPY" -m pip "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "pip $* failed (log: $log)" >&2
    return 1
  fi
}
