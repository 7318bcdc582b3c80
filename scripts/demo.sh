#!/usr/bin/env bash
# Install impax-preflight into .venv and run the demo site (no servers needed).
source "$(dirname "$0")/_env.sh"
make_venv
"$VPY" -m pip install -q "$ROOT"
cd "$ROOT"
exec "$ROOT/.venv/bin/impax-preflight" demo "${1:-impax-preflight-demo}"
