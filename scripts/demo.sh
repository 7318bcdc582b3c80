#!/usr/bin/env bash
# Install impax-preflight into .venv and run the demo site (no servers needed).
source "$(dirname "$0")/_env.sh"
make_venv
echo "Installing impax-preflight into $ROOT/.venv ..."
pip_quiet install "$ROOT"
cd "$ROOT"
exec "$ROOT/.venv/bin/impax-preflight" demo "${1:-impax-preflight-demo}"
