# SPDX-License-Identifier: GPL-2.0
#
# The test sequence of "make check", run by /init inside the guest.  What it
# runs comes from the initramfs (see scripts/lib/guest.sh and check.sh):
#
#   /ownbuf/run.conf              settings below (sourced)
#   /ownbuf/modules/<module>.ko   the module under test (ownbuf.ko), or
#   $OWNBUF_DKMS                  the one DKMS installed (modprobe.sh)
#   /ownbuf/kunit/*.ko            KUnit modules (debug kernel only)
#   /ownbuf/selftests/programs    names of the kselftest programs
#   /ownbuf/selftests/*           the programs and the test scripts
#                                 (selftests/*.sh, tools/test-*.sh)
#   /ownbuf/samples/*.ko          sample modules: insmod + rmmod each
#
# Everything is reported on the results channel (see /init); the host judges.

# shellcheck shell=dash disable=SC2013

# shellcheck source=scripts/guest/lib.sh
. /ownbuf/lib.sh

OWNBUF_KERNEL=unknown
OWNBUF_MODULE=ownbuf
OWNBUF_MODULE_ARGS=""
# Modules it needs, loaded before it and unloaded after it (the canary's).
OWNBUF_NEEDS=""
# The module as DKMS installed it (/lib/modules/...), loaded by modprobe.
OWNBUF_DKMS=""
OWNBUF_TEST_TIMEOUT=300
OWNBUF_PROGRAM_TIMEOUT=1800
OWNBUF_LEAK_AGE=6
OWNBUF_KMEMLEAK=1
# Selftests this kernel leaves out: "PROG" or "PROG:FIXTURE", space separated.
OWNBUF_EXCLUDE=""
# shellcheck source=/dev/null
[ -f /ownbuf/run.conf ] && . /ownbuf/run.conf

KMEMLEAK=/sys/kernel/debug/kmemleak

modname()
{
	basename "$1" .ko | tr - _
}

meta()
{
	echo "kernel=$OWNBUF_KERNEL"
	echo "release=$(uname -r)"
	echo "cmdline=$(cat /proc/cmdline)"
	echo "tainted=$(cat /proc/sys/kernel/tainted)"
	echo "kmemleak=$([ -e $KMEMLEAK ] && [ "$OWNBUF_KMEMLEAK" = 1 ] &&
			 echo yes || echo no)"
}

# excluded PROG - what of PROG this kernel leaves out, one per line:
# FIXTURE, *.VARIANT (of every fixture), or "*" for the whole program.
excluded()
{
	local e

	set -f
	for e in $OWNBUF_EXCLUDE; do
		case $e in
		"$1") echo "*" ;;
		"$1":*) echo "${e#*:}" ;;
		esac
	done
	set +f
}

# run_program PROG - a kselftest program, all its tests in one run.
# Its output goes to /dev/kmsg, where each line is a record of the kernel
# log the moment it is written; the harness writes "#  RUN NAME ..." before
# it forks each test, so whatever the kernel reports during a test follows
# that test's name on the console (scripts/judge.py attributes it so).
# The program's lines (facility user, priorities 8-15) are then copied
# from the log to the results channel.  Its plan ("1..N") counts the tests
# the filters below leave, so a test that never reports is a missing
# result to scripts/judge.py.  One run per program, not per
# test: the harness maps a page per test at start-up, which under the
# debug kernel costs more than most tests.
run_program()
{
	local prog="$1" rc f args=""

	set -f
	for f in $(excluded "$prog"); do
		case $f in
		"*."*) args="$args -V ${f#\*.}" ;;
		*) args="$args -F $f" ;;
		esac
	done
	set +f
	ownbuf_mark "selftests $prog"
	dmesg -c >/dev/null
	# shellcheck disable=SC2086
	timeout -s KILL "$OWNBUF_PROGRAM_TIMEOUT" "./$prog" $args \
		</dev/null >/dev/kmsg 2>&1
	rc=$?
	ownbuf_res "@@OWNBUF BEGIN selftests $prog"
	dmesg -r | sed -nE 's/^<(8|9|1[0-5])>\[[ 0-9.]*\](\[ *[TC][0-9]+\])? ?//p' >&3
	ownbuf_res "@@OWNBUF END selftests $prog rc=$rc"
}

kmemleak_scan()
{
	echo scan >$KMEMLEAK
	sleep 1
	echo scan >$KMEMLEAK
}

ownbuf_item meta start meta

# Whatever leaked before the module was loaded is not ownbuf's: forget it.
# (A run may do without the scans, which take a while: OWNBUF_KMEMLEAK=0.)
[ "$OWNBUF_KMEMLEAK" = 1 ] || KMEMLEAK=/nonexistent
# The scans are this script's (below): kmemleak's own thread would scan
# the whole memory every ten minutes in the middle of the tests.
if [ -e $KMEMLEAK ]; then
	echo scan=off >$KMEMLEAK
	echo scan >$KMEMLEAK
	echo clear >$KMEMLEAK
fi

# 1. the module under test: the build's, or (OWNBUF_DKMS, the stock
#    kernels) the one DKMS installed from the package, as a user loads it
if [ -n "$OWNBUF_DKMS" ]; then
	ownbuf_item script modprobe sh /ownbuf/modprobe.sh load
	OWNBUF_KO=$OWNBUF_DKMS
else
	for m in $OWNBUF_NEEDS; do
		ownbuf_item insmod "$m" insmod "/ownbuf/modules/$m.ko"
	done
	# shellcheck disable=SC2086
	ownbuf_item insmod "$OWNBUF_MODULE" \
		insmod "/ownbuf/modules/$OWNBUF_MODULE.ko" $OWNBUF_MODULE_ARGS
	OWNBUF_KO=/ownbuf/modules/$OWNBUF_MODULE.ko
fi

# 2. KUnit: suites run when their module loads; the results come from
#    debugfs, one file per suite (the console mixes several KTAP streams).
for ko in /ownbuf/kunit/*.ko; do
	[ -e "$ko" ] || continue
	ownbuf_item insmod "$(modname "$ko")" insmod "$ko"
done
for dir in /sys/kernel/debug/kunit/*/; do
	[ -e "$dir/results" ] || continue
	ownbuf_dump kunit "$(basename "$dir")" "$dir/results"
done
for ko in /ownbuf/kunit/*.ko; do
	[ -e "$ko" ] || continue
	ownbuf_item rmmod "$(modname "$ko")" rmmod "$(modname "$ko")"
done

# 3. kselftest programs, one run each.  ownbuf_unload unloads the module
#    under test and loads it again; it finds both through these.
export OWNBUF_KO
[ -d /ownbuf/test_modules ] && export OWNBUF_TEST_MODULES=/ownbuf/test_modules
if [ -d /ownbuf/selftests ]; then
	cd /ownbuf/selftests || exit 1
	for prog in $(cat programs 2>/dev/null); do
		# Left out here, run on the other kernels (kernel_exclude).
		if [ "$(excluded "$prog")" = "*" ]; then
			ownbuf_mark "selftests $prog: not on this kernel"
			continue
		fi
		if [ ! -x "$prog" ]; then
			ownbuf_item selftests "$prog" echo "$prog: not built"
			continue
		fi
		run_program "$prog"
	done

	# 4. test scripts (tools/test-*.sh): each prints TAP
	for script in ./test-*.sh; do
		[ -x "$script" ] || continue
		ownbuf_item script "$(basename "$script")" \
			timeout -s KILL "$OWNBUF_TEST_TIMEOUT" "$script"
	done
	cd /
fi

# 4b. the stress program again under fault injection, where the kernel
#     has it (selftests/ownbuf_faults.sh)
if [ -d /sys/kernel/debug/failslab ] &&
   [ -x /ownbuf/selftests/ownbuf_faults.sh ]; then
	ownbuf_item script ownbuf_faults.sh timeout -s KILL \
		"$OWNBUF_TEST_TIMEOUT" sh /ownbuf/selftests/ownbuf_faults.sh
fi

# 5. sample modules
for ko in /ownbuf/samples/*.ko; do
	[ -e "$ko" ] || continue
	ownbuf_item insmod "$(modname "$ko")" insmod "$ko" &&
		ownbuf_item rmmod "$(modname "$ko")" rmmod "$(modname "$ko")"
done

# 6. unload the module under test
if [ -n "$OWNBUF_DKMS" ]; then
	ownbuf_item script modprobe-r sh /ownbuf/modprobe.sh unload
else
	ownbuf_item rmmod "$OWNBUF_MODULE" rmmod "$OWNBUF_MODULE"
	for m in $OWNBUF_NEEDS; do
		ownbuf_item rmmod "$m" rmmod "$m"
	done
fi

# 7. leaks: kmemleak reports objects older than 5 s only
if [ -e $KMEMLEAK ]; then
	ownbuf_mark "kmemleak scan"
	sleep "$OWNBUF_LEAK_AGE"
	kmemleak_scan
	ownbuf_dump kmemleak scan $KMEMLEAK
fi

ownbuf_item meta end meta
