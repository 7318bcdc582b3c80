#!/bin/sh
# Scheduled impax-preflight run (cron, systemd timer, AWX): docs/history.md, "Scheduling".
#
#   impax-preflight-scheduled.sh INVENTORY OUTPUT_ROOT [impax-preflight run options...]
#
# Writes the reports to OUTPUT_ROOT/<UTC date and time>/ and records the run in the history (the
# inventory's [site.history], the user's data folder, or --history PATH among the options). The
# verdict is the report's business (and the mail's, with [site.notify.mail]): exit codes 0 GO,
# 1 GO WITH WARNINGS and 2 NO-GO are a run that happened, so this exits 0 for them; 3 (could not
# start: bad inventory, bad option) and anything else are passed on, so the scheduler marks the job
# failed. Set IMPAX_PREFLIGHT to the program if it is not on PATH.
set -u
if [ "$#" -lt 2 ]; then
  echo "usage: $0 INVENTORY OUTPUT_ROOT [impax-preflight run options...]" >&2
  exit 3
fi
inventory=$1
root=$2
shift 2
out="$root/$(date -u +%Y-%m-%dT%H%MZ)"
"${IMPAX_PREFLIGHT:-impax-preflight}" run "$inventory" -o "$out" --no-progress "$@"
rc=$?
case $rc in
  0|1|2) echo "impax-preflight: verdict exit code $rc, reports in $out"; exit 0 ;;
  *) echo "impax-preflight: the run could not be made (exit code $rc)" >&2; exit "$rc" ;;
esac
