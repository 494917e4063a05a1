#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The semantic patches of scripts/borrowck against planted mistakes.
#
# Usage: scripts/borrowck/tests/run.sh
#
# Each file here marks every line where borrowck must report, and with
# which rule, by a comment "/* borrowck: RULE */" on that line;
# near_miss.c is correct code next to each mistake and marks nothing.
# Every marked line must be reported with its rule, and nothing else may
# be.  Prints what differs; exit status 0 when nothing does.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE"

want=$(mktemp)
got=$(mktemp)
trap 'rm -f "$want" "$got"' EXIT

grep -HnE '/\* borrowck: [a-z-]+ \*/' ./*.c |
	sed -E 's|^\./([^:]+):([0-9]+):.*borrowck: ([a-z-]+).*|\1:\2: \3|' |
	sort >"$want"

rc=0
../borrowck.sh ./*.c >"$got.raw" || rc=$?
if [ "$rc" -gt 1 ]; then
	cat "$got.raw"
	rm -f "$got.raw"
	exit "$rc"
fi
sed -E 's|^\./||; s|^([^:]+:[0-9]+: [a-z-]+):.*|\1|' "$got.raw" | sort >"$got"
rm -f "$got.raw"

if diff -u --label expected --label reported "$want" "$got"; then
	echo "borrowck tests: $(wc -l <"$want") planted mistakes reported, nothing else"
else
	exit 1
fi
