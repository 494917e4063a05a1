#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# "make kunit": the KUnit suites as kernel CI runs them, by the kernel's own
# tools/testing/kunit/kunit.py, with ownbuf built in as drivers/misc/ownbuf.
#
#   scripts/kunit.sh [--arch x86_64|um] [--kcsan] [--json FILE]
#                    [--build-only] [-- KUNIT.PY OPTIONS...]
#
#   --arch     x86_64 (default: a QEMU/TCG guest with two CPUs) or um (User
#              Mode Linux: no SMP, so the races and windows skip)
#   --kcsan    KCSAN instead of KASAN (x86_64 only)
#   --json     where kunit.py writes its KernelCI JSON (default:
#              build/kunit/ARCH[-kcsan].json); its log (.log) and the
#              kernel's console (.console) go next to it
#   --build-only  configure and build the kernel (kunit.py build), run
#              nothing: a CI's build job, or a cold build done apart from
#              the run
#
# KERNEL_SRC names the kernel source tree to run in.  By default it is a
# hardlinked copy (in $OWNBUF_CACHE/kunit-src) of the linux-source-6.12
# that make check unpacks, so that the shared unpack is never touched.
# This tree goes into KERNEL_SRC for the run only: copied to
# drivers/misc/ownbuf, with one line added to drivers/misc/Kconfig and one
# to drivers/misc/Makefile; all three are undone when the run ends, however
# it ends (a run killed outright is undone by the next one).  kunit.py's
# build directory is kept, $OWNBUF_CACHE/kunit-ARCH-KEY: a second run only
# rebuilds what changed.  OWNBUF_KUNIT_TIMEOUT (default 1800) is the
# seconds kunit.py gives the tests.

# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"

# What of this tree the kernel build needs (the Kbuild files name nothing
# else in a kernel tree).
KUNIT_FILES="Kconfig Kbuild .kunitconfig dkms.conf include module kunit"
KUNIT_HOOK_KCONFIG='source "drivers/misc/ownbuf/Kconfig"'
# shellcheck disable=SC2016 # make's $(...), not the shell's
KUNIT_HOOK_MAKEFILE='obj-$(CONFIG_OWNBUF) += ownbuf/'

ARCH=x86_64
KCSAN=0
JSON=""
BUILD_ONLY=0

# kunit_src - the kernel tree to run in: KERNEL_SRC, or a hardlinked copy
# of the cached linux-source-6.12 (made once).
kunit_src()
{
	local copy

	if [ -n "${KERNEL_SRC:-}" ]; then
		SRC=$(cd "$KERNEL_SRC" && pwd)
		return 0
	fi
	kernel_source
	copy=$OWNBUF_CACHE/kunit-src/linux-source-$KSRC_VERSION
	SRC=$copy
	[ -f "$copy/.ownbuf-unpacked" ] && return 0
	with_lock kunit-src _kunit_copy "$KSRC" "$copy"
}

_kunit_copy()
{
	[ -f "$2/.ownbuf-unpacked" ] && return 0
	log "hardlinking $1 to $2"
	rm -rf "$2" "$2.tmp"
	mkdir -p "${2%/*}"
	cp -al "$1" "$2.tmp"
	mv "$2.tmp" "$2"
}

# A file of the kernel tree is changed by replacing it (never in place: in
# the hardlinked copy it shares its inode with the cached unpack), and its
# original is kept in STATE until kunit_unplace puts it back.
kunit_hook()
{
	local f=$SRC/drivers/misc/$1 tmp

	cp -p "$f" "$STATE/$1"
	tmp=$(mktemp "$f.XXXXXX")
	case $1 in
	Kconfig)
		# Before the menu's last line, "endmenu".
		awk -v hook="$KUNIT_HOOK_KCONFIG" '
			{ line[NR] = $0 }
			/^endmenu/ { last = NR }
			END {
				for (i = 1; i <= NR; i++) {
					if (i == last)
						print hook
					print line[i]
				}
			}' "$f" >"$tmp"
		;;
	Makefile)
		{ cat "$f"; echo "$KUNIT_HOOK_MAKEFILE"; } >"$tmp"
		;;
	esac
	mv "$tmp" "$f"
}

# kunit_unplace - the kernel tree as it was: no drivers/misc/ownbuf, the
# two hooked files back (with their times).  Also what a killed run left.
kunit_unplace()
{
	local f

	for f in Kconfig Makefile; do
		if [ -f "$STATE/$f" ]; then
			mv -f "$STATE/$f" "$SRC/drivers/misc/$f"
		fi
	done
	if [ -f "$SRC/drivers/misc/ownbuf/.placed-by-make-kunit" ]; then
		rm -rf "$SRC/drivers/misc/ownbuf"
	fi
}

kunit_place()
{
	if [ -e "$SRC/drivers/misc/ownbuf" ] &&
	   [ ! -f "$SRC/drivers/misc/ownbuf/.placed-by-make-kunit" ]; then
		die "$SRC/drivers/misc/ownbuf exists and is not ours: not touching it"
	fi
	if grep -qxF "$KUNIT_HOOK_KCONFIG" "$SRC/drivers/misc/Kconfig" ||
	   grep -qxF "$KUNIT_HOOK_MAKEFILE" "$SRC/drivers/misc/Makefile"; then
		die "$SRC/drivers/misc already builds ownbuf: not touching it"
	fi
	mkdir -p "$SRC/drivers/misc/ownbuf"
	touch "$SRC/drivers/misc/ownbuf/.placed-by-make-kunit"
	# No -t: the copies are newer than the objects kunit.py kept in its
	# build directory, so every source of ownbuf is built again (with
	# their own times, a tree older than the last build was not).
	# shellcheck disable=SC2086
	(cd "$TOP" && rsync -rlR --exclude='*.o' --exclude='*.ko' \
		--exclude='.*.cmd' --exclude='*.mod' --exclude='*.mod.c' \
		--exclude='*.a' --exclude='*.order' --exclude=Module.symvers \
		$KUNIT_FILES "$SRC/drivers/misc/ownbuf/")
	kunit_hook Kconfig
	kunit_hook Makefile
}

# kunit_judge CONSOLE - fail on any kernel report (KASAN, KCSAN, lockdep,
# UBSAN, WARN, ...) in the console, whatever kunit.py said of the cases:
# kunit.py fails a case only on a KASAN report inside it.  The reports
# are scripts/judge.py's list, as make check judges its guests; judge.py
# reads only timestamped kernel log lines (.kunitconfig sets
# CONFIG_PRINTK_TIME), so a console without them cannot be judged.
kunit_judge()
{
	local console=$1 out=${1%.console}.splats

	if [ ! -s "$console" ]; then
		log "no console in $console: cannot look for kernel reports"
		return 1
	fi
	if ! grep -qE '^\[ *[0-9]+\.[0-9]+\]' "$console"; then
		log "no timestamps in $console (CONFIG_PRINTK_TIME): cannot look for kernel reports"
		return 1
	fi
	if python3 "$TOP/scripts/judge.py" splats "$console" >"$out"; then
		log "kernel reports: none ($out)"
		return 0
	fi
	log "kernel reports on the console (a failure, whatever the cases said):"
	sed 's/^/    /' "$out" >&2
	return 1
}

main()
{
	local key bdir rc=0 reports=0 log t0 threads a try
	local -a args=() bargs=() rargs=()

	while [ $# -gt 0 ]; do
		case $1 in
		--arch) ARCH=$2; shift ;;
		--kcsan) KCSAN=1 ;;
		--json) JSON=$2; shift ;;
		--build-only) BUILD_ONLY=1 ;;
		--) shift; break ;;
		*) usage_of "$0"; exit 1 ;;
		esac
		shift
	done
	case $ARCH in
	x86_64)
		ensure_packages qemu-system-x86
		# Two CPUs (the races and windows need them), TCG: no KVM here.
		# One host thread for both, as make check's debug guest (text
		# patching under multi-threaded TCG oopses now and then); KCSAN
		# needs the two to really run at once.
		threads=single
		[ $KCSAN -eq 0 ] || threads=multi
		# Preemptible, as make check's debug kernel: UML cannot be.
		args+=(--kconfig_add CONFIG_SMP=y --kconfig_add CONFIG_PREEMPT=y
		       --qemu_args="-smp 2 -cpu max -accel tcg,thread=$threads")
		# 4-level paging: one boot in three with -cpu max's LA57 had a
		# KASAN wild-memory-access in an interrupt at 0.005 s, long
		# before any ownbuf code (Documentation/ownbuf/facts.rst).
		rargs+=(--kernel_args=no5lvl)
		;;
	um)
		[ $KCSAN -eq 0 ] || die "KCSAN needs --arch x86_64"
		;;
	*)
		die "--arch x86_64 or um"
		;;
	esac
	# KCSAN depends on !KASAN, which .kunitconfig enables.
	[ $KCSAN -eq 0 ] ||
		args+=(--kconfig_add CONFIG_KASAN=n --kconfig_add CONFIG_KCSAN=y)

	kunit_src
	[ -f "$SRC/tools/testing/kunit/kunit.py" ] ||
		die "$SRC is no kernel source tree (no tools/testing/kunit/kunit.py)"
	key=$(printf '%s\n' "$SRC" "${args[@]}" | sha1sum | cut -c1-12)
	bdir=$OWNBUF_CACHE/kunit-$ARCH-$key
	STATE=$OWNBUF_CACHE/kunit-state/$(printf '%s' "$SRC" | sha1sum | cut -c1-12)
	JSON=${JSON:-$TOP/build/kunit/$ARCH$([ $KCSAN -eq 0 ] || echo -kcsan).json}
	log=${JSON%.json}.log
	mkdir -p "$STATE" "$(dirname "$JSON")"
	# A build alone leaves the last run's results.
	[ $BUILD_ONLY -eq 1 ] || rm -f "$JSON"

	# One run per kernel tree at a time; what a killed run left goes first.
	exec 9>"$STATE/lock"
	flock 9
	kunit_unplace
	trap kunit_unplace EXIT
	trap 'exit 130' INT TERM HUP
	kunit_place

	if [ $BUILD_ONLY -eq 1 ]; then
		# kunit.py build takes no QEMU options.
		for a in "${args[@]}"; do
			case $a in --qemu_args=*) ;; *) bargs+=("$a") ;; esac
		done
		log "kunit.py build in $SRC, build directory $bdir"
		t0=$(now)
		(cd "$SRC" && python3 tools/testing/kunit/kunit.py build \
			--kunitconfig=drivers/misc/ownbuf --arch="$ARCH" \
			--build_dir="$bdir" --jobs="$OWNBUF_JOBS" \
			"${bargs[@]}") || rc=$?
		log "kunit.py build: $(($(now) - t0))s, exit status $rc"
		return $rc
	fi

	log "kunit.py run in $SRC, build directory $bdir (log: $log)"
	t0=$(now)
	kunit_py "$bdir" run --jobs="$OWNBUF_JOBS" "${args[@]}" "${rargs[@]}" \
		"$@" || rc=$?
	log "kunit.py: $(($(now) - t0))s, exit status $rc"
	# kunit.py fails a run whose KTAP it cannot parse, even when every
	# case in its JSON passed: a kernel line of another task printed
	# between a suite's "KTAP version 1" and its "# Subtest:" line (here
	# "tsc: Refined TSC clocksource calibration", which lands when the
	# suites start, at about 3.6 s) makes its parser nest all six suites
	# in one nameless test and miss five.  Then the kernel, untouched,
	# runs again, at most twice more.  A case that failed, a kernel
	# report or a missing case is never run again.
	kunit_judge "${JSON%.json}.console" || reports=1
	for try in 1 2; do
		if [ $rc -eq 0 ] || [ $reports -ne 0 ] ||
		   ! python3 "$TOP/scripts/judge.py" kunit-passed "$JSON"; then
			break
		fi
		for a in json log console; do
			mv -f "${JSON%.json}.$a" "${JSON%.json}.attempt$try.$a"
		done
		log "kunit.py failed, yet every case passed and the console has no" \
		    "kernel report: its parser lost the stream (kept in" \
		    "${JSON%.json}.attempt$try.*).  The same kernel runs again."
		grep -F '[ERROR]' "${JSON%.json}.attempt$try.log" | head -5 >&2 ||
			true
		rc=0
		kunit_py "$bdir" exec "${args[@]}" "${rargs[@]}" "$@" || rc=$?
		log "kunit.py exec: exit status $rc"
		kunit_judge "${JSON%.json}.console" || reports=1
	done
	[ $reports -eq 0 ] || rc=1
	return $rc
}

# kunit_py BUILD_DIR ACTION ARGS... - kunit.py ACTION (run or exec) on
# ownbuf's kunitconfig; its JSON, log and the kernel's whole console (for
# what the JSON leaves out) next to JSON.
kunit_py()
{
	local rc=0

	(cd "$SRC" && python3 tools/testing/kunit/kunit.py "$2" \
		--kunitconfig=drivers/misc/ownbuf --arch="$ARCH" \
		--build_dir="$1" --timeout="${OWNBUF_KUNIT_TIMEOUT:-1800}" \
		--json="$JSON" "${@:3}") 2>&1 | tee "${JSON%.json}.log" || rc=$?
	cp "$1/test.log" "${JSON%.json}.console" 2>/dev/null || true
	return $rc
}

main "$@"
