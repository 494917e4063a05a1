# SPDX-License-Identifier: GPL-2.0
#
# Helpers for scripts that run inside an ownbuf guest (sourced by /init and
# available to ownbuf.run scripts as /ownbuf/lib.sh).  File descriptor 3 is
# the results channel (ttyS1).

# shellcheck shell=dash

# ownbuf_res LINE... - one line on the results channel.
ownbuf_res()
{
	printf '%s\n' "$*" >&3
}

# ownbuf_mark LABEL - a line in the kernel log, so that a splat on the
# console can be attributed to what was running.
ownbuf_mark()
{
	echo "ownbuf-harness: begin $1" >/dev/kmsg
}

# ownbuf_item KIND NAME CMD... - run CMD as one judged item: marker in the
# kernel log, its output framed by BEGIN/END on the results channel.
# Returns CMD's exit status.
ownbuf_item()
{
	local kind="$1" name="$2" rc

	shift 2
	ownbuf_mark "$kind $name"
	ownbuf_res "@@OWNBUF BEGIN $kind $name"
	"$@" >&3 2>&1 </dev/null
	rc=$?
	ownbuf_res "@@OWNBUF END $kind $name rc=$rc"
	return $rc
}

# ownbuf_dump KIND NAME FILE... - copy files to the results channel.
ownbuf_dump()
{
	local kind="$1" name="$2" rc

	shift 2
	ownbuf_res "@@OWNBUF BEGIN $kind $name"
	cat "$@" >&3 2>&1
	rc=$?
	ownbuf_res "@@OWNBUF END $kind $name rc=$rc"
}
