# SPDX-License-Identifier: GPL-2.0
#
# Helpers of the guest scripts (/ownbuf/lib.sh); fd 3: the results channel.

# shellcheck shell=dash

# ownbuf_res LINE... - one line on the results channel.
ownbuf_res()
{
	printf '%s\n' "$*" >&3
}

# ownbuf_mark LABEL - a kernel log line: a splat on the console after it
# is blamed on LABEL.
ownbuf_mark()
{
	echo "ownbuf-harness: begin $1" >/dev/kmsg
}

# ownbuf_item KIND NAME CMD... - CMD as one judged item: a mark, its output
# framed by BEGIN/END on the results channel.  Returns CMD's status.
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
