#!/usr/bin/env bash
# Install everything the tests need (system services, ODBC drivers, Chromium, Python packages)
# and run the whole test suite. Service-backed tests may not skip: IMPAX_PREFLIGHT_REQUIRE_SERVICES=1.
source "$(dirname "$0")/_env.sh"
apt_install unixodbc unixodbc-dev odbc-postgresql libsqliteodbc tdsodbc \
  openssh-server openssh-client postgresql chromium fonts-dejavu-core zip orthanc dcmtk
echo "Preparing $ROOT/.venv ..."
make_venv
pip_quiet install -e "$ROOT[test,keyring]"
for plugin in "$ROOT"/plugins/*/; do
  [ -f "$plugin/pyproject.toml" ] && pip_quiet install "$plugin"
done
export IMPAX_PREFLIGHT_REQUIRE_SERVICES="${IMPAX_PREFLIGHT_REQUIRE_SERVICES:-1}"
cd "$ROOT"
test_dirs=(tests)
for d in plugins/*/tests; do [ -d "$d" ] && test_dirs+=("$d"); done
set +e
"$VPY" -m pytest -q -p no:cacheprovider "${test_dirs[@]}" "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  # "no tests collected": fine when the caller filtered (-k, a path); the full suite must collect tests
  if [ "$#" -gt 0 ]; then echo "no test matched the filter"; exit 0; fi
  echo "pytest collected no tests: the suite is broken" >&2
  exit 1
fi
exit "$rc"
