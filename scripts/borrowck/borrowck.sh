#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# borrowck: ownbuf's ownership rules checked at build time, on the source,
# by the semantic patches (Coccinelle) next to this script.
#
# Usage: scripts/borrowck/borrowck.sh [FILE|DIR...]
#
# Checks every C file given (directories: the C files in them) that uses
# ownbuf; without arguments, the project's kernel code that is meant to
# keep the rules: module/, samples/, tools/bench/ and
# selftests/test_modules/ (not kunit/, which breaks them on purpose).
# Prints one line per finding, "file:line: rule: message", sorted:
#
#   borrow-not-released  a borrow into a token on the stack that some path
#                        out of the function does not end
#   use-after-consume    a handle used after drop/move/revoke consumed it
#   unsafe-escape        a pointer from ownbuf_unsafe_begin() used after
#                        ownbuf_unsafe_end(), or stored or returned
#   unchecked-access     the result of a bounds-checked read/write ignored
#
# Exit status: 0 nothing found, 1 something found, 2 no spatch or a
# semantic patch failed.

set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
RULES="borrow_leak use_after_consume unsafe_escape unchecked_access"

if ! command -v spatch >/dev/null; then
	echo "borrowck: spatch not found (apt-get install coccinelle)" >&2
	exit 2
fi

if [ $# -eq 0 ]; then
	cd "$TOP"
	set -- module samples tools/bench selftests/test_modules
fi

files=()
while IFS= read -r f; do
	files+=("$f")
done < <(find "$@" -name '*.c' -type f 2>/dev/null | sort |
	 xargs -r grep -l 'ownbuf_' || true)
[ ${#files[@]} -gt 0 ] || exit 0

out=$(mktemp)
trap 'rm -f "$out"' EXIT
for r in $RULES; do
	if ! spatch --very-quiet --no-includes \
		    --macro-file-builtins "$HERE/ownbuf.macros" \
		    --sp-file "$HERE/$r.cocci" "${files[@]}" >>"$out" 2>&1; then
		echo "borrowck: spatch failed on $r.cocci:" >&2
		cat "$out" >&2
		exit 2
	fi
done

# Findings only (spatch may say more), one per file, line and rule.
grep -E '^[^:]+:[0-9]+: [a-z-]+: ' "$out" |
	sort -t: -k1,1 -k2,2n -u |
	awk -F': ' '!seen[$1 FS $2]++' >"$out.found" || true
cat "$out.found"
n=$(wc -l <"$out.found")
rm -f "$out.found"
[ "$n" -eq 0 ]
