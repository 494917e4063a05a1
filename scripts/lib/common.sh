# SPDX-License-Identifier: GPL-2.0
#
# Shared helpers of the ownbuf scripts.  Source this file; it defines
# functions and a few variables, sources the kernel and guest libraries
# (kernel.sh, guest.sh) and runs nothing else.
#
#   OWNBUF_TOP     the repository root
#   OWNBUF_CACHE   where kernels and unpacked sources are cached
#                  (default ~/.cache/ownbuf; override from the environment)
#   OWNBUF_LOG_TAG prefix of log lines (default "check")

# shellcheck shell=bash

OWNBUF_TOP=${OWNBUF_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
OWNBUF_CACHE=${OWNBUF_CACHE:-$HOME/.cache/ownbuf}
OWNBUF_LOG_TAG=${OWNBUF_LOG_TAG:-check}
OWNBUF_JOBS=${OWNBUF_JOBS:-$(nproc)}

log()
{
	printf '[%s] %s\n' "$OWNBUF_LOG_TAG" "$*" >&2
}

die()
{
	printf '[%s] ERROR: %s\n' "$OWNBUF_LOG_TAG" "$*" >&2
	exit 1
}

# usage_of FILE - print FILE's opening comment (after the SPDX line) to
# stderr: every script's usage is the comment it opens with.
usage_of()
{
	awk 'NR == 1 && /^#!/ { next }
	     /SPDX-License-Identifier/ { next }
	     !/^#/ { exit }
	     { sub(/^# ?/, ""); print }' "$1" >&2
}

# item FILE SUITE NAME pass|fail|skip [CATEGORY [DETAIL_FILE [KERNEL]]] -
# one verdict of a host stage: a line of FILE (items-*.tsv), its detail
# copied beside it; scripts/judge.py report reads them with the judged
# guest runs.
item_to()
{
	local file=$1 detail=""

	touch "$file"
	if [ -n "${6:-}" ] && [ -f "$6" ]; then
		mkdir -p "$file.d"
		detail=$file.d/$(wc -l <"$file")
		cp "$6" "$detail"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "${7:-host}" "$2" "$3" "$4" \
		"${5:-}" "$detail" >>"$file"
}

# Seconds since the epoch, for timing the phases of a run.
now()
{
	date +%s
}

# quietly WHAT CMD... - run CMD (an apt step) with its transcript in
# OWNBUF_CACHE/logs/apt.log, saying WHAT in one line; on failure, its
# last lines go to stderr as well.
quietly()
{
	local what=$1 logf=$OWNBUF_CACHE/logs/apt.log rc=0

	shift
	mkdir -p "${logf%/*}"
	log "$what"
	printf '\n== %s: %s\n' "$(date -u +%FT%TZ)" "$*" >>"$logf"
	DEBIAN_FRONTEND=noninteractive "$@" >>"$logf" 2>&1 || rc=$?
	if [ $rc -ne 0 ]; then
		tail -n 20 "$logf" >&2
		log "$what: failed (rc=$rc; the whole transcript: $logf)"
	fi
	return $rc
}

# ensure_packages PKG... - install the Debian packages that are missing.
# A warm run (everything installed) never touches apt.
ensure_packages()
{
	local pkg missing=()

	for pkg in "$@"; do
		if ! dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null |
		     grep -q '^install ok installed$'; then
			missing+=("$pkg")
		fi
	done
	[ ${#missing[@]} -eq 0 ] && return 0

	[ "$(id -u)" -eq 0 ] ||
		die "missing packages (${missing[*]}); run as root or install them"
	quietly "installing ${missing[*]}" apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" && return 0
	quietly "refreshing the package lists once" apt-get update -qq ||
		die "apt-get update failed"
	quietly "installing ${missing[*]}" apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" ||
		die "apt-get install ${missing[*]} failed"
}

# with_lock NAME CMD... - run CMD holding an exclusive lock in the cache, so
# that two runs never build or unpack the same thing at the same time.
with_lock()
{
	local name=$1
	shift
	mkdir -p "$OWNBUF_CACHE/locks"
	(
		flock 9
		"$@"
	) 9>"$OWNBUF_CACHE/locks/$name.lock"
}

# shellcheck source=scripts/lib/kernel.sh
. "$OWNBUF_TOP/scripts/lib/kernel.sh"
# shellcheck source=scripts/lib/guest.sh
. "$OWNBUF_TOP/scripts/lib/guest.sh"
