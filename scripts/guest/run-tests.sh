# SPDX-License-Identifier: GPL-2.0
#
# The test sequence of "make check" ("Testing" in README.md), run by
# /init in the guest on what test_kernel() in scripts/check.sh put into
# the initramfs.  Everything goes to the results channel; the host judges.

# shellcheck shell=dash disable=SC2013,SC2016

# shellcheck source=scripts/guest/lib.sh
. /ownbuf/lib.sh

OWNBUF_KERNEL=unknown
OWNBUF_MODULE=ownbuf
OWNBUF_MODULE_ARGS=""
# Modules it needs, loaded before it and unloaded after it (the canary's).
OWNBUF_NEEDS=""
OWNBUF_DKMS=""
OWNBUF_TEST_TIMEOUT=300
OWNBUF_PROGRAM_TIMEOUT=1800
OWNBUF_LEAK_AGE=6
OWNBUF_KMEMLEAK=1
# "PROG OPTIONS" lines, what this kernel leaves out (scripts/lib/kernel.sh).
OWNBUF_EXCLUDE=""
# shellcheck source=/dev/null
[ -f /ownbuf/run.conf ] && . /ownbuf/run.conf

KMEMLEAK=/sys/kernel/debug/kmemleak
# A run may do without the scans, which take a while.
[ "$OWNBUF_KMEMLEAK" = 1 ] || KMEMLEAK=/nonexistent

modname()
{
	basename "$1" .ko | tr - _
}

meta()
{
	printf 'kernel=%s\nrelease=%s\ncmdline=%s\ntainted=%s\nkmemleak=%s\n' \
		"$OWNBUF_KERNEL" "$(uname -r)" "$(cat /proc/cmdline)" \
		"$(cat /proc/sys/kernel/tainted)" \
		"$([ -e $KMEMLEAK ] && echo yes || echo no)"
}

# excluded PROG - the kselftest options that leave out what this kernel
# does not run of PROG ("*": all of it).
excluded()
{
	echo "$OWNBUF_EXCLUDE" | sed -n "s/^$1 //p"
}

# runs_here PROG - does this kernel run PROG at all?  Not if excluded
# whole; ownbuf_faults.sh only where there is fault injection.
runs_here()
{
	[ "$(excluded "$1")" != "*" ] &&
		{ [ "$1" != ownbuf_faults.sh ] ||
		  [ -d /sys/kernel/debug/failslab ]; }
}

# run_program PROG - a kselftest program, all its tests in one run (the
# harness maps a page per test at start-up, costly under the debug
# kernel); its plan counts what the filters leave.  Its output goes to
# /dev/kmsg: a kernel report follows the "#  RUN" line of the test that
# caused it, and scripts/judge.py blames that test.  Then its lines
# (facility user) go to the results channel.
run_program()
{
	local prog="$1" rc

	ownbuf_mark "selftests $prog"
	dmesg -c >/dev/null
	# shellcheck disable=SC2046
	timeout -s KILL "$OWNBUF_PROGRAM_TIMEOUT" "./$prog" $(excluded "$prog") \
		</dev/null >/dev/kmsg 2>&1
	rc=$?
	ownbuf_res "@@OWNBUF BEGIN selftests $prog"
	dmesg -r | sed -nE 's/^<(8|9|1[0-5])>\[[ 0-9.]*\](\[ *[TC][0-9]+\])? ?//p' >&3
	ownbuf_res "@@OWNBUF END selftests $prog rc=$rc"
}

# kmemleak_report - leaks older than 5 s (kmemleak's minimum age).
kmemleak_report()
{
	sleep "$OWNBUF_LEAK_AGE"
	echo scan >$KMEMLEAK
	sleep 1
	echo scan >$KMEMLEAK
	cat $KMEMLEAK
}

# t DESCRIPTION CMD... - one TAP result: CMD's exit status.
t()
{
	local what="$1" out

	shift
	n=$((n + 1))
	if out=$("$@" 2>&1); then
		echo "ok $n $what"
	else
		echo "not ok $n $what"
		echo "$out" | sed 's/^/# /'
		fail=1
	fi
}

# dkms_load, dkms_unload - in TAP, ownbuf as a user installs it: what DKMS
# installed found by depmod, loaded by modprobe with /etc/modprobe.d/'s
# options and without; after the tests, "ownbuf demo" and "modprobe -r".
dkms_load()
{
	n=0 fail=0
	echo "1..6"
	t "depmod finds the module DKMS installed" \
		sh -c 'depmod && grep -q updates/dkms/ownbuf.ko \
		       "/lib/modules/$(uname -r)/modules.dep"'
	t "modinfo shows a version, the author and the parameters' units" \
		sh -c 'modinfo ownbuf | grep -q "^version: *[0-9]" &&
		       modinfo ownbuf | grep -q "^author:" &&
		       modinfo ownbuf | grep -q "max_size:.*bytes"'
	mkdir -p /etc/modprobe.d
	echo "options ownbuf dev_mode=0660" >/etc/modprobe.d/ownbuf.conf
	t "modprobe ownbuf" modprobe ownbuf
	t "/etc/modprobe.d/ownbuf.conf's dev_mode=0660 gives /dev/ownbuf 660" \
		sh -c '[ "$(stat -c %a /dev/ownbuf)" = 660 ]'
	# The tests expect the defaults.
	rm /etc/modprobe.d/ownbuf.conf
	t "modprobe -r, then modprobe without options" \
		sh -c 'modprobe -r ownbuf && modprobe ownbuf'
	t "/dev/ownbuf is 600 by default" \
		sh -c '[ "$(stat -c %a /dev/ownbuf)" = 600 ]'
	return $fail
}

dkms_unload()
{
	n=0 fail=0
	echo "1..3"
	t "ownbuf demo (ownbuf-tools)" /usr/bin/ownbuf demo
	t "modprobe -r ownbuf" modprobe -r ownbuf
	t "/dev/ownbuf is gone" sh -c '! [ -e /dev/ownbuf ]'
	return $fail
}

ownbuf_item meta start meta

# Leaks from before the module are not ownbuf's; kmemleak's own thread
# would scan the whole memory every ten minutes during the tests.
if [ -e $KMEMLEAK ]; then
	echo scan=off >$KMEMLEAK
	echo scan >$KMEMLEAK
	echo clear >$KMEMLEAK
fi

# 1. the module under test: the build's, or the one DKMS installed
if [ -n "$OWNBUF_DKMS" ]; then
	ownbuf_item script modprobe dkms_load
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

# 2. KUnit: the suites run when their module loads; their KTAP comes from
#    debugfs, one file per suite (the console mixes the streams).
for ko in /ownbuf/kunit/*.ko; do
	[ -e "$ko" ] && ownbuf_item insmod "$(modname "$ko")" insmod "$ko"
done
for dir in /sys/kernel/debug/kunit/*/; do
	[ -e "$dir/results" ] &&
		ownbuf_item kunit "$(basename "$dir")" cat "$dir/results"
done
for ko in /ownbuf/kunit/*.ko; do
	[ -e "$ko" ] && ownbuf_item rmmod "$(modname "$ko")" rmmod "$(modname "$ko")"
done

# 3. kselftest programs, then the test scripts (TAP).  ownbuf_unload
#    reloads the module under test and its test modules from these.
export OWNBUF_KO
[ -d /ownbuf/test_modules ] && export OWNBUF_TEST_MODULES=/ownbuf/test_modules
if cd /ownbuf/selftests 2>/dev/null; then
	for prog in $(cat programs 2>/dev/null); do
		if ! runs_here "$prog"; then
			ownbuf_mark "selftests $prog: not on this kernel"
		elif [ ! -x "$prog" ]; then
			ownbuf_item selftests "$prog" echo "$prog: not built"
		else
			run_program "$prog"
		fi
	done
	for script in ./test-*.sh; do
		[ -x "$script" ] && ownbuf_item script "$(basename "$script")" \
			timeout -s KILL "$OWNBUF_TEST_TIMEOUT" "$script"
	done
	cd /
fi

# 3b. the same programs as a kernel CI runs them: kselftest's install and
#     its runner (make check's stock 6.12 guest), what this kernel runs.
if [ -x /ownbuf/kselftest/run_kselftest.sh ]; then
	tests=""
	for t in $(/ownbuf/kselftest/run_kselftest.sh -l); do
		if runs_here "${t#ownbuf:}"; then
			tests="$tests -t $t"
		else
			ownbuf_mark "kselftest $t: not on this kernel"
		fi
	done
	# shellcheck disable=SC2086
	ownbuf_item kselftest run_kselftest.sh \
		/ownbuf/kselftest/run_kselftest.sh $tests
fi

# 4. the stress program again under fault injection, where the kernel has it
if runs_here ownbuf_faults.sh && [ -x /ownbuf/selftests/ownbuf_faults.sh ]; then
	ownbuf_item script ownbuf_faults.sh timeout -s KILL \
		"$OWNBUF_TEST_TIMEOUT" sh /ownbuf/selftests/ownbuf_faults.sh
fi

# 5. sample modules
for ko in /ownbuf/samples/*.ko; do
	[ -e "$ko" ] && ownbuf_item insmod "$(modname "$ko")" insmod "$ko" &&
		ownbuf_item rmmod "$(modname "$ko")" rmmod "$(modname "$ko")"
done

# 6. unload the module under test; 7. leaks
if [ -n "$OWNBUF_DKMS" ]; then
	ownbuf_item script modprobe-r dkms_unload
else
	ownbuf_item rmmod "$OWNBUF_MODULE" rmmod "$OWNBUF_MODULE"
	for m in $OWNBUF_NEEDS; do
		ownbuf_item rmmod "$m" rmmod "$m"
	done
fi
[ -e $KMEMLEAK ] && ownbuf_item kmemleak scan kmemleak_report

ownbuf_item meta end meta
