#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Test of the ownbuf command-line tool (tools/ownbuf) and of the README's
# userspace example (tools/ownbuf-example), run in a guest by "make check".
#
# Usage: test-ownbuf.sh [-t OWNBUF] [-e EXAMPLE]
#
#   -t OWNBUF    the tool (default: ./ownbuf next to this script, else
#                "ownbuf" on PATH)
#   -e EXAMPLE   the example (default: ./ownbuf-example next to this
#                script, else "ownbuf-example" on PATH; SKIPped if none)
#
# Needs root, ownbuf.ko loaded and a POSIX sh (busybox is enough).  It
# briefly renames /dev/ownbuf to test the "module not loaded" message and
# puts a "nobody" user into /etc/passwd if there is none.  Prints TAP;
# exit status 0 if every test passed or was skipped, 1 if one failed, 2 on
# bad usage.

here=$(cd "$(dirname "$0")" && pwd)
OWNBUF=""
EXAMPLE=""
while getopts t:e:h opt; do
	case $opt in
	t) OWNBUF=$OPTARG ;;
	e) EXAMPLE=$OPTARG ;;
	# The usage is the opening comment, from "Usage:" on.
	*) sed -n '/^# Usage:/,/^$/{s/^# \{0,1\}//;s/^#$//;p}' "$0" >&2
	   exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 0 ] || { echo "usage: $0 [-t OWNBUF] [-e EXAMPLE]" >&2; exit 2; }

if [ -z "$OWNBUF" ]; then
	if [ -x "$here/ownbuf" ]; then
		OWNBUF=$here/ownbuf
	else
		OWNBUF=$(command -v ownbuf || echo ownbuf)
	fi
fi
if [ -z "$EXAMPLE" ]; then
	if [ -x "$here/ownbuf-example" ]; then
		EXAMPLE=$here/ownbuf-example
	else
		EXAMPLE=$(command -v ownbuf-example || true)
	fi
fi

DEV=/dev/ownbuf
SYSFS=/sys/class/misc/ownbuf/violations
CLASSES="use_after_free double_free data_race null_deref out_of_bounds dangling_borrow"
T=$(mktemp -d /tmp/test-ownbuf.XXXXXX) || exit 1
n=0
failed=0
holder=""

cleanup()
{
	[ -n "$holder" ] && kill "$holder" 2>/dev/null
	[ -e "$DEV.moved-by-test" ] && [ ! -e "$DEV" ] &&
		mv "$DEV.moved-by-test" "$DEV"
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok()
{
	n=$((n + 1))
	echo "ok $n $1"
}

not_ok()
{
	n=$((n + 1))
	failed=$((failed + 1))
	echo "not ok $n $1"
	shift
	for line in "$@"; do
		echo "# $line"
	done
	if [ -s "$T/out" ]; then
		echo "# --- stdout:"
		tail -n 15 "$T/out" | sed 's/^/#   /'
	fi
	if [ -s "$T/err" ]; then
		echo "# --- stderr:"
		tail -n 15 "$T/err" | sed 's/^/#   /'
	fi
}

skip()
{
	n=$((n + 1))
	echo "ok $n $1 # SKIP $2"
}

# run CMD... - run CMD, stdout in $T/out, stderr in $T/err, status in $rc.
run()
{
	"$@" >"$T/out" 2>"$T/err"
	rc=$?
}

# expect NAME RC [GREP_STDOUT [GREP_STDERR]] - judge the last run().
expect()
{
	name=$1
	want=$2
	if [ "$rc" -ne "$want" ]; then
		not_ok "$name" "exit status $rc, expected $want"
	elif [ -n "${3:-}" ] && ! grep -q -- "$3" "$T/out"; then
		not_ok "$name" "stdout lacks: $3"
	elif [ -n "${4:-}" ] && ! grep -q -- "$4" "$T/err"; then
		not_ok "$name" "stderr lacks: $4"
	else
		ok "$name"
	fi
}

counter()
{
	cat "$SYSFS/$1"
}

# Bail out early when the test cannot run at all.
if [ "$(id -u)" -ne 0 ]; then
	echo "1..0 # SKIP needs root"
	exit 0
fi
if ! command -v "$OWNBUF" >/dev/null 2>&1; then
	echo "Bail out! no ownbuf tool ($OWNBUF)"
	exit 1
fi
if [ ! -c "$DEV" ] || [ ! -d "$SYSFS" ]; then
	echo "Bail out! $DEV or $SYSFS missing: load ownbuf.ko first"
	exit 1
fi

# --- usage and help ---------------------------------------------------

run "$OWNBUF" --help
expect "ownbuf --help exits 0 and lists the commands" 0 "violations"
for cmd in demo info ls violations; do
	run "$OWNBUF" "$cmd" --help
	expect "ownbuf $cmd --help exits 0" 0 "usage: .*$cmd"
	run "$OWNBUF" help "$cmd"
	expect "ownbuf help $cmd exits 0" 0 "usage: .*$cmd"
done
run "$OWNBUF"
expect "ownbuf without a command exits 2" 2 "" "usage:"
run "$OWNBUF" frobnicate
expect "ownbuf with an unknown command exits 2" 2 "" "unknown command"
run "$OWNBUF" demo extra
expect "ownbuf demo with an argument exits 2" 2 "" "usage:"
run "$OWNBUF" violations --bogus
expect "ownbuf violations --bogus exits 2" 2 "" "unknown option"
run "$OWNBUF" violations --interval 0
expect "ownbuf violations --interval 0 exits 2" 2 "" "interval"
run "$OWNBUF" info
expect "ownbuf info without an argument exits 2" 2 "" "usage:"
run "$OWNBUF" info banana
expect "ownbuf info banana exits 2" 2 "" "not a file descriptor"
run "$OWNBUF" info /proc/1/fd/x
expect "ownbuf info /proc/1/fd/x exits 2" 2 "" "not a file descriptor"
run "$OWNBUF" ls --bogus
expect "ownbuf ls --bogus exits 2" 2 "" "unknown option"
run "$OWNBUF" ls extra
expect "ownbuf ls with an argument exits 2" 2 "" "unexpected argument extra"
run "$OWNBUF" violations extra
expect "ownbuf violations with an argument exits 2" 2 "" "unexpected argument extra"
run "$OWNBUF" ls --id 0
expect "ownbuf ls --id 0 exits 2" 2 "" "not a buffer id"
run "$OWNBUF" ls extra
expect "ownbuf ls with an argument exits 2" 2 "" "usage:"

# --- demo ------------------------------------------------------------

run "$OWNBUF" demo
expect "ownbuf demo exits 0" 0 "all [0-9]* steps behaved as ownbuf's contract says"
if [ "$rc" -eq 0 ]; then
	if grep -q FAIL "$T/out"; then
		not_ok "ownbuf demo reports no FAIL despite exit 0"
	else
		ok "ownbuf demo reports no FAIL"
	fi
	# The table: "  class  description...  demo  total" per class.
	for c in $CLASSES; do
		line=$(grep "^  $c " "$T/out")
		demo=$(echo "$line" | awk 'NF > 2 { print $(NF - 1) }')
		total=$(echo "$line" | awk 'NF > 2 { print $NF }')
		now=$(counter "$c")
		if [ -z "$demo" ] || [ -z "$total" ]; then
			not_ok "demo table has a row for $c"
		elif [ "$demo" -lt 1 ] 2>/dev/null; then
			not_ok "demo caught $c" "row: $line"
		elif [ "$total" -ne "$now" ]; then
			not_ok "demo table total of $c is the sysfs counter" \
				"row: $line" "sysfs: $now"
		else
			ok "demo caught $c ($demo) and its total matches sysfs"
		fi
	done
	for word in ESTALE EBUSY EFAULT ENOSPC EINVAL SIGBUS REVOKED MOVED; do
		if grep -q "$word" "$T/out"; then
			ok "demo shows $word"
		else
			not_ok "demo shows $word"
		fi
	done
fi

# A second run on the same module: counts are deltas, so it passes again.
run "$OWNBUF" demo
expect "ownbuf demo passes a second time (counts are per run)" 0

# --- violations --------------------------------------------------------

run "$OWNBUF" violations
expect "ownbuf violations exits 0" 0 "^dangling_borrow "
good=1
for c in $CLASSES; do
	v=$(awk -v c="$c" '$1 == c { print $2 }' "$T/out")
	[ "$v" = "$(counter "$c")" ] || good=0
done
if [ $good -eq 1 ] && [ "$(wc -l <"$T/out")" -eq 6 ]; then
	ok "ownbuf violations prints the six sysfs counters"
else
	not_ok "ownbuf violations prints the six sysfs counters"
fi

"$OWNBUF" violations --watch --interval 0.2 >"$T/watch" 2>"$T/err" &
watcher=$!
sleep 1
"$OWNBUF" demo >/dev/null 2>&1
sleep 1
kill -TERM "$watcher"
wait "$watcher"
rc=$?
cp "$T/watch" "$T/out"
if [ "$rc" -ne 0 ]; then
	not_ok "ownbuf violations --watch ends with 0 on SIGTERM" "rc=$rc"
elif ! grep -q " double_free  *+[0-9]* (total [0-9]*)" "$T/watch" ||
     ! grep -q " null_deref  *+[0-9]* (total [0-9]*)" "$T/watch"; then
	not_ok "ownbuf violations --watch prints the changes"
else
	ok "ownbuf violations --watch prints the changes and ends on SIGTERM"
fi

# --- info ----------------------------------------------------------------

run sh -c "exec 3<>$DEV; exec \"\$0\" info 3" "$OWNBUF"
expect "ownbuf info FD describes a new owner" 0 "role     owner"
if [ "$rc" -eq 0 ]; then
	if grep -q "state    LIVE" "$T/out" &&
	   grep -q "size     [0-9]* bytes" "$T/out" &&
	   grep -q "borrows  0 shared, 0 mut" "$T/out"; then
		ok "ownbuf info FD shows state, size and borrows"
	else
		not_ok "ownbuf info FD shows state, size and borrows"
	fi
fi
run sh -c "exec 5<>$DEV; exec \"\$0\" info /proc/self/fd/5" "$OWNBUF"
expect "ownbuf info /proc/self/fd/N" 0 "role     owner"

# Another process holds an owner on fd 3.
sh -c "exec 3<>$DEV; exec sleep 60" &
holder=$!
i=0
while [ $i -lt 50 ]; do
	[ "$(readlink "/proc/$holder/fd/3" 2>/dev/null)" = "$DEV" ] &&
		[ "$(cat "/proc/$holder/comm" 2>/dev/null)" = sleep ] && break
	sleep 0.1
	i=$((i + 1))
done
run "$OWNBUF" info "/proc/$holder/fd/3"
expect "ownbuf info /proc/PID/fd/N of another process" 0 "state    LIVE"
run "$OWNBUF" info "/proc/$holder/fd/9"
expect "ownbuf info /proc/PID/fd/N, N not open there, exits 1" 1 "" \
	"no such fd"

# --- ls ------------------------------------------------------------------

run "$OWNBUF" info "/proc/$holder/fd/3"
id=$(sed -n '1s/.* of buffer \([0-9]*\) .*/\1/p' "$T/out")
run "$OWNBUF" ls
expect "ownbuf ls shows the owner fd of another process" 0 \
	"^  owner   live  *$holder sleep  *3 /dev/ownbuf"
expect "ownbuf ls ends with the totals" 0 "^total: [0-9]* buffers"
if [ -r /sys/kernel/debug/ownbuf/buffers ]; then
	expect "ownbuf ls names the buffer's creator" 0 \
		"^  created .* ago by pid $holder (sh)"
fi
run "$OWNBUF" ls --id "$id"
expect "ownbuf ls --id N: one buffer" 0 "^total: 1 buffers"
if [ -r /sys/kernel/debug/ownbuf/buffers ]; then
	expect "ownbuf ls --id N: that buffer, its size" 0 \
		"^buffer $id: 4096 bytes"
fi
run "$OWNBUF" ls --json --id "$id"
expect "ownbuf ls --json: the fd" 0 \
	"\"pid\": $holder, \"comm\": \"sleep\", \"fd\": 3, \"role\": \"owner\""
run "$OWNBUF" ls --id 999999999
expect "ownbuf ls --id N of no buffer exits 1" 1 "" "no buffer 999999999"
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
run "$OWNBUF" info "/proc/$holder/fd/3"
expect "ownbuf info /proc/PID/fd/N of a dead process exits 1" 1 "" \
	"no process"
holder=""

run sh -c "exec \"\$0\" info 0 </dev/null" "$OWNBUF"
expect "ownbuf info on /dev/null: not an ownbuf fd" 1 "" \
	"not an ownbuf file descriptor"
run sh -c "exec \"\$0\" info 3 3<\"\$0\"" "$OWNBUF"
expect "ownbuf info on a regular file: not an ownbuf fd" 1 "" \
	"not an ownbuf file descriptor"
run sh -c "echo | exec \"\$0\" info 0" "$OWNBUF"
expect "ownbuf info on a pipe: not an ownbuf fd" 1 "" \
	"not an ownbuf file descriptor"
run sh -c "exec 7>&-; exec \"\$0\" info 7" "$OWNBUF"
expect "ownbuf info on a closed fd exits 1" 1 "" "not open"

# --- clear errors ----------------------------------------------------------

# The module "not loaded": the device node gone.
if mv "$DEV" "$DEV.moved-by-test" 2>/dev/null; then
	run "$OWNBUF" demo
	expect "ownbuf demo without /dev/ownbuf says to load the module" 1 "" \
		"is ownbuf.ko loaded? try: sudo insmod module/ownbuf.ko"
	if [ "$(wc -l <"$T/err")" -eq 1 ]; then
		ok "that error is one line"
	else
		not_ok "that error is one line"
	fi
	mv "$DEV.moved-by-test" "$DEV"
else
	skip "ownbuf demo without /dev/ownbuf" "cannot rename $DEV"
fi

# Permission denied: a user who is not root.
[ -d /etc ] || mkdir -p /etc
grep -q '^nobody:' /etc/passwd 2>/dev/null ||
	echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >>/etc/passwd 2>/dev/null
if su -s /bin/sh nobody -c true >/dev/null 2>&1; then
	run su -s /bin/sh nobody -c "$OWNBUF demo"
	expect "ownbuf demo as a user says permission denied" 1 "" \
		"permission denied.*sudo"
	run su -s /bin/sh nobody -c "$OWNBUF violations"
	expect "ownbuf violations works for a user (sysfs is world-readable)" 0 \
		"^use_after_free "
	sleep 60 &
	holder=$!
	run su -s /bin/sh nobody -c "$OWNBUF info /proc/$holder/fd/0"
	expect "ownbuf info on root's process as a user: permission denied" 1 \
		"" "permission denied"
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
	holder=""
else
	skip "ownbuf demo as a user" "no su"
	skip "ownbuf violations as a user" "no su"
	skip "ownbuf info as a user" "no su"
fi

# --- the README's example ----------------------------------------------------

if [ -n "$EXAMPLE" ] && [ -x "$EXAMPLE" ]; then
	before=$(counter data_race)
	run "$EXAMPLE"
	expect "the README's example runs" 0 "Device or resource busy"
	after=$(counter data_race)
	if [ "$after" -eq $((before + 1)) ]; then
		ok "the README's example counts one data_race"
	else
		not_ok "the README's example counts one data_race" \
			"data_race went from $before to $after"
	fi
else
	skip "the README's example runs" "no ownbuf-example"
	skip "the README's example counts one data_race" "no ownbuf-example"
fi

echo "1..$n"
[ $failed -eq 0 ]
