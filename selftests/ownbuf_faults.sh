#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# ownbuf_stress again, with the slab and page allocations of its processes
# failing at random (failslab, fail_page_alloc; user pages are spared).
# Every call must still end in an errno the contract allows or -ENOMEM,
# and nothing may splat or leak.  Its TAP is ownbuf_stress's; the seed is
# printed and replays the run's calls.  Needs debugfs and a kernel with
# CONFIG_FAILSLAB and CONFIG_FAIL_PAGE_ALLOC (the debug kernel of make
# check); exit status 4 (kselftest's skip) elsewhere.

# shellcheck shell=dash

FAULTS="/sys/kernel/debug/failslab /sys/kernel/debug/fail_page_alloc"

cd "$(dirname "$0")" || exit 1
if [ ! -d /sys/kernel/debug/failslab ]; then
	echo "1..0 # SKIP no /sys/kernel/debug/failslab"
	exit 4
fi
for d in $FAULTS; do
	[ -d "$d" ] || continue
	echo Y >"$d/task-filter"
	echo N >"$d/ignore-gfp-wait"
	echo 1 >"$d/probability"
	echo 1 >"$d/interval"
	echo -1 >"$d/times"
	echo 0 >"$d/verbose"
done
[ ! -e /sys/kernel/debug/fail_page_alloc/min-order ] ||
	echo 0 >/sys/kernel/debug/fail_page_alloc/min-order
OWNBUF_STRESS_FAULTS=1 OWNBUF_STRESS_SECONDS=10 \
	OWNBUF_STRESS_SEED=${OWNBUF_STRESS_SEED:-$(($(date +%s) % 100000))} \
	./ownbuf_stress
rc=$?
for d in $FAULTS; do
	[ ! -d "$d" ] || echo 0 >"$d/probability"
done
exit $rc
