#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Keep the README's code examples the code that "make check" builds.
#
# Usage: scripts/check-readme.sh [--update] [README]
#
# In README (default: README.md at the top of the repository) a line
#   <!-- example: PATH -->
# must be followed by a fenced block (```) whose content is the file PATH
# (relative to the top of the repository), byte for byte.  A fenced C
# block (```c) without such a marker is an error too: it would be an
# example nothing compiles.  The blocks of samples/ownbuf_sample.c (the
# driver example) and tools/example.c (the userspace one) must be there.
#
#   --update   rewrite every marked block from its file instead
#
# Exit status: 0 every marked block is its file, 1 one is not (a diff is
# printed) or a marker is missing or broken, 2 bad usage.

# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
REQUIRED="samples/ownbuf_sample.c tools/example.c"

usage()
{
	usage_of "$0"
	exit 2
}

# extract README DIR - each marked block into DIR/N, and DIR/index with
# lines "N PATH LINE"; problems on stdout as "LINE: message".
extract()
{
	awk -v dir="$2" '
	function problem(msg) { print FILENAME ":" FNR ": " msg }
	/^<!-- example: [^ ]+ -->$/ {
		if (inblock) { problem("marker inside a code block"); next }
		path = $3
		marker = FNR
		next
	}
	/^```/ {
		if (!inblock) {
			inblock = 1
			if (marker && marker == FNR - 1) {
				n++
				out = dir "/" n
				printf "" >out
				print n, path, FNR >(dir "/index")
				collecting = 1
			} else if ($0 ~ /^```[cC][ \t]*$/) {
				problem("a C example without an \"<!-- example: PATH -->\" marker: nothing builds it")
			}
			if (marker && marker != FNR - 1)
				problem("the marker of line " marker " is not right before a code block")
			marker = 0
		} else {
			inblock = 0
			if (collecting)
				close(out)
			collecting = 0
		}
		next
	}
	{
		if (marker) {
			problem("the marker of line " marker " is not right before a code block")
			marker = 0
		}
		if (collecting)
			print >>out
	}
	END {
		if (inblock)
			problem("a code block is never closed")
		if (marker)
			problem("the marker of line " marker " is not right before a code block")
	}' "$1"
}

# update README - replace every marked block by its file.
update()
{
	local readme=$1 tmp

	tmp=$(mktemp "$readme.XXXXXX")
	awk -v top="$TOP" '
	/^<!-- example: [^ ]+ -->$/ { print; path = $3; marker = FNR; next }
	/^```/ && marker == FNR - 1 && !skipping {
		print
		file = top "/" path
		while ((getline line <file) > 0)
			print line
		close(file)
		skipping = 1
		next
	}
	skipping && /^```/ { skipping = 0; print; next }
	skipping { next }
	{ print }' "$readme" >"$tmp"
	mv "$tmp" "$readme"
}

main()
{
	local readme="" do_update=0 n path line bad=0 req

	while [ $# -gt 0 ]; do
		case $1 in
		--update) do_update=1 ;;
		-h|--help) usage ;;
		-*) usage ;;
		*) [ -z "$readme" ] || usage; readme=$1 ;;
		esac
		shift
	done
	readme=${readme:-$TOP/README.md}
	[ -f "$readme" ] || { echo "check-readme: no $readme" >&2; exit 1; }

	[ $do_update -eq 0 ] || update "$readme"

	dir=$(mktemp -d)
	trap 'rm -rf "${dir:-}"' EXIT
	: >"$dir/index"
	if extract "$readme" "$dir" | grep . >&2; then
		bad=1
	fi
	while read -r n path line; do
		if [ ! -f "$TOP/$path" ]; then
			echo "$readme:$line: example $path: no such file" >&2
			bad=1
		elif ! cmp -s "$TOP/$path" "$dir/$n"; then
			echo "$readme:$line: the block differs from $path (run: scripts/check-readme.sh --update):" >&2
			diff -u --label "$path" --label "README.md block" \
				"$TOP/$path" "$dir/$n" >&2 || true
			bad=1
		else
			echo "check-readme: $path: the README's copy is the file"
		fi
	done <"$dir/index"
	for req in $REQUIRED; do
		if ! awk -v p="$req" '$2 == p { f = 1 } END { exit !f }' "$dir/index"; then
			echo "$readme: no \"<!-- example: $req -->\" block" >&2
			bad=1
		fi
	done
	return $bad
}

main "$@"
