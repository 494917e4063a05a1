# SPDX-License-Identifier: GPL-2.0
#
# Shared helpers of the ownbuf scripts, with kernel.sh and guest.sh, and
# their one opening line: a script sources this file and nothing else
# comes first.  It sets bash's strict mode and TOP (the tree's top).
# OWNBUF_CACHE (default ~/.cache/ownbuf) caches kernels and sources,
# OWNBUF_JOBS (default nproc) is make's -j, OWNBUF_LOG_TAG tags log lines
# (default: the script's name, without .sh).

# shellcheck shell=bash

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
OWNBUF_CACHE=${OWNBUF_CACHE:-$HOME/.cache/ownbuf}
OWNBUF_LOG_TAG=${OWNBUF_LOG_TAG:-$(basename "$0" .sh)}
OWNBUF_JOBS=${OWNBUF_JOBS:-$(nproc)}

log()
{
	printf '[%s] %s\n' "$OWNBUF_LOG_TAG" "$*" >&2
}

die()
{
	log "ERROR: $*"
	exit 1
}

now()
{
	date +%s
}

# usage_of FILE - FILE's opening comment, its usage, to stderr.
usage_of()
{
	sed -n '1{/^#!/d};/SPDX/d;/^#/!q;s/^# \{0,1\}//p' "$1" >&2
}

# quietly WHAT CMD... - an apt step, logged as WHAT, its transcript in
# OWNBUF_CACHE/logs/apt.log (the last lines to stderr on failure).
quietly()
{
	local what=$1 logf=$OWNBUF_CACHE/logs/apt.log rc=0

	shift
	mkdir -p "${logf%/*}"
	log "$what"
	printf '\n== %s: %s\n' "$(date -u +%FT%TZ)" "$*" >>"$logf"
	DEBIAN_FRONTEND=noninteractive "$@" >>"$logf" 2>&1 && return 0 || rc=$?
	tail -n 20 "$logf" >&2
	log "$what: failed (rc=$rc; the whole transcript: $logf)"
	return $rc
}

# ensure_packages PKG... - install the missing Debian packages; a warm run
# never touches apt.
ensure_packages()
{
	local pkg missing=()

	for pkg in "$@"; do
		dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null |
			grep -q '^install ok installed$' || missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] ||
		die "missing packages (${missing[*]}); run as root or install them"
	set -- apt-get install -y -qq --no-install-recommends "${missing[@]}"
	quietly "installing ${missing[*]}" "$@" ||
		{ quietly "refreshing the package lists once" apt-get update -qq &&
		  quietly "installing ${missing[*]}" "$@"; } || die "$* failed"
}

# with_lock NAME CMD... - CMD under an exclusive lock of the cache: two
# runs never build or unpack the same thing at once.
with_lock()
{
	mkdir -p "$OWNBUF_CACHE/locks"
	( flock 9; "${@:2}" ) 9>"$OWNBUF_CACHE/locks/$1.lock"
}

# shellcheck source=scripts/lib/kernel.sh
. "$TOP/scripts/lib/kernel.sh"
# shellcheck source=scripts/lib/guest.sh
. "$TOP/scripts/lib/guest.sh"
