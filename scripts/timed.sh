#!/usr/bin/env bash
# One area of `make test`, timed against its budget (DECISIONS.md, "CI budget": each area prints its time and
# fails past its budget, so CI stays inside its 75 of 90 minutes).
#
#   scripts/timed.sh AREA BUDGET_SECONDS COMMAND [ARG...]
#
# Runs COMMAND (an argv, never a shell string), then prints `AREA  N s of BUDGET s` and appends that line to
# $TIMES_FILE when set. Exits with COMMAND's status if it failed, 1 if it took longer than BUDGET_SECONDS.
set -uo pipefail

if [ $# -lt 3 ] || ! [[ $2 =~ ^[0-9]+$ ]]; then
  echo "usage: $0 AREA BUDGET_SECONDS COMMAND [ARG...]" >&2
  exit 2
fi
area=$1
budget=$2
shift 2

start=$(date +%s)
"$@"
status=$?
took=$(($(date +%s) - start))

verdict="ok"
if [ "$status" -ne 0 ]; then
  verdict="FAILED (exit $status)"
elif [ "$took" -gt "$budget" ]; then
  verdict="OVER BUDGET"
  status=1
fi
line=$(printf '%-12s %5d s of %5d s  %s' "$area" "$took" "$budget" "$verdict")
echo "== $line"
if [ -n "${TIMES_FILE:-}" ]; then
  echo "$line" >>"$TIMES_FILE"
fi
exit "$status"
