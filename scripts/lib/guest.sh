#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a kernel in QEMU (TCG) with a busybox initramfs made for this run,
# wait for it, and leave the console and the results channel in files.
#
# Usage: scripts/lib/guest.sh -k BZIMAGE -o OUTDIR [options]
#
#   -k, --kernel BZIMAGE   kernel to boot (required)
#   -o, --out DIR          output directory (required), gets:
#                            console.log      ttyS0: kernel log + /init output
#                            results.log      ttyS1: the results channel
#                            initramfs.cpio.gz
#                            status           done | died | timeout
#                            idle             only after an --idle stop
#   -a, --add SRC[:DEST]   put file or directory SRC into the initramfs at
#                          DEST (absolute path in the guest; default
#                          /ownbuf/extra/<name of SRC>).  Repeatable.
#   -b, --bin PATH         put executable PATH and the shared libraries it
#                          needs (ldd) into the initramfs, same paths.
#   -c, --append ARGS      more kernel command line
#   -r, --run SCRIPT       run SCRIPT (a path inside the guest) instead of
#                          the "make check" test sequence; same as
#                          --append ownbuf.run=SCRIPT.  "shell" gives an
#                          interactive shell (with --interactive).
#   -t, --timeout SECS     hard limit of the run (default 1800; none with
#                          --interactive unless given)
#   -I, --idle SECS        also stop the run when neither the console nor
#                          the results channel grew for SECS (a hang); the
#                          status is "timeout" and OUTDIR/idle says why
#   -m, --mem SIZE         guest memory (default 2G)
#   -A, --accel ACCEL      QEMU's -accel (default tcg,thread=single; "tcg"
#                          runs the vCPUs in parallel, for benchmarks)
#   -i, --interactive      console on this terminal (Ctrl-A x quits QEMU)
#   -q, --quiet            no log lines
#
# The guest always has the helpers of scripts/guest/ (/init, /ownbuf/lib.sh,
# /ownbuf/run-tests.sh) and busybox; /ownbuf/bin is on its PATH.  Base
# command line: console=ttyS0 panic=-1 printk.devkmsg=on loglevel=8.
#
# Exit status: 0 the guest finished its run and powered off ("@@OWNBUF DONE
# rc=0" on the results channel), 3 it finished but the run (the --run
# script or the test sequence) exited non-zero, 2 it died first (panic,
# reboot, QEMU error), 124 it was still running at the timeout, 1 bad usage
# or setup error.  A guest that died or hung before its /init wrote on the
# results channel (the kernel did not boot) is booted once more.
#
# Also usable as a library (source common.sh, then this file): guest_boot
# takes the same options.

# shellcheck shell=bash

GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../guest" && pwd)
GUEST_PACKAGES="qemu-system-x86 busybox-static cpio gzip"
GUEST_CMDLINE="console=ttyS0 panic=-1 printk.devkmsg=on loglevel=8"

_guest_usage()
{
	usage_of "${BASH_SOURCE[0]}"
	exit 1
}

# _guest_add STAGE SRC DEST - copy SRC into the staging tree at DEST.
_guest_add()
{
	local stage=$1 src=$2 dest=$3

	[ -e "$src" ] || die "guest: no such file: $src"
	mkdir -p "$stage$(dirname "$dest")"
	if [ -d "$src" ]; then
		mkdir -p "$stage$dest"
		cp -a "$src/." "$stage$dest/"
	else
		cp -aL "$src" "$stage$dest"
	fi
}

# _guest_add_bin STAGE PATH - an executable and its shared libraries.
_guest_add_bin()
{
	local stage=$1 bin lib

	bin=$(command -v "$2" || true)
	[ -n "$bin" ] || die "guest: no executable $2"
	_guest_add "$stage" "$bin" "$bin"
	for lib in $(ldd "$bin" 2>/dev/null | grep -oE '/[^ ]+' || true); do
		[ -e "$lib" ] && _guest_add "$stage" "$lib" "$lib"
	done
}

# _guest_watch PID IDLE OUT - wait for PID (the QEMU run); stop it when
# its output files did not grow for IDLE seconds.  Returns 1 if it did.
_guest_watch()
{
	local pid=$1 idle=$2 out=$3 last size=-1 cur f n

	last=$(now)
	while kill -0 "$pid" 2>/dev/null; do
		sleep 5
		cur=0
		for f in "$out/console.log" "$out/results.log"; do
			n=$(stat -c %s "$f" 2>/dev/null || echo 0)
			cur=$((cur + n))
		done
		if [ "$cur" != "$size" ]; then
			size=$cur
			last=$(now)
		elif [ $(($(now) - last)) -ge "$idle" ]; then
			echo "no output from the guest for ${idle}s" >"$out/idle"
			kill -TERM "$pid" 2>/dev/null || true
			return 1
		fi
	done
	return 0
}

# guest_initramfs STAGE OUT - pack the staging tree into a newc cpio.gz.
guest_initramfs()
{
	local stage=$1 out=$2

	(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
	 cpio --quiet -o -0 -H newc -R 0:0) | gzip -1 >"$out"
}

# _guest_qemu ACCEL TIMEOUT MEM KERNEL OUT CMDLINE SERIAL... - the QEMU
# command line, into the array GUEST_QEMU.  timeout(1) is its first word:
# the process to signal to stop the run (it passes the signal on to QEMU).
# With the console on a terminal (GUEST_FG=1) QEMU must stay in the
# terminal's foreground process group, or its first read of the terminal
# stops it (SIGTTIN): timeout --foreground, or no timeout(1) at all.
_guest_qemu()
{
	local accel=$1 timeout=$2 mem=$3 kernel=$4 out=$5 cmdline=$6
	local -a limit=(timeout -k 10 "$timeout")

	shift 6
	if [ "${GUEST_FG:-0}" -eq 1 ]; then
		limit=(timeout --foreground "$timeout")
		[ "$timeout" != 0 ] || limit=()
	fi
	GUEST_QEMU=("${limit[@]}" qemu-system-x86_64 \
		-accel "$accel" -cpu max -smp 2 -m "$mem" \
		-nodefaults -display none -no-reboot -monitor none \
		"$@" \
		-kernel "$kernel" -initrd "$out/initramfs.cpio.gz" \
		-append "$cmdline")
}

# guest_boot OPTIONS... - see the top of this file.  A guest that died or
# hung before its /init wrote anything on the results channel (a kernel
# that did not boot: nothing of ours ran yet) is booted once more; the
# first attempt is kept in OUTDIR/first-attempt/.
guest_boot()
{
	local rc=0

	_guest_boot_once "$@" || rc=$?
	if { [ $rc -eq 2 ] || [ $rc -eq 124 ]; } && [ "$GUEST_FG" -eq 0 ] &&
	   [ ! -s "$GUEST_OUT/results.log" ]; then
		log "guest never reached /init ($(cat "$GUEST_OUT/status")); booting once more"
		rm -rf "$GUEST_OUT/first-attempt"
		mkdir -p "$GUEST_OUT/first-attempt"
		mv "$GUEST_OUT"/{console.log,status} "$GUEST_OUT/first-attempt/"
		[ ! -e "$GUEST_OUT/idle" ] || mv "$GUEST_OUT/idle" "$GUEST_OUT/first-attempt/"
		rc=0
		_guest_boot_once "$@" || rc=$?
	fi
	return $rc
}

_guest_boot_once()
{
	local kernel="" out="" cmdline="" timeout="" mem=2G interactive=0
	local accel=tcg,thread=single
	local quiet=0 idle=0 idled=0 stage spec src dest rc status qpid tty
	local -a GUEST_QEMU
	local -a adds=() bins=() serial

	while [ $# -gt 0 ]; do
		case $1 in
		-k|--kernel) kernel=$2; shift ;;
		-o|--out) out=$2; shift ;;
		-a|--add) adds+=("$2"); shift ;;
		-b|--bin) bins+=("$2"); shift ;;
		-c|--append) cmdline="$cmdline $2"; shift ;;
		-r|--run) cmdline="$cmdline ownbuf.run=$2"; shift ;;
		-t|--timeout) timeout=$2; shift ;;
		-I|--idle) idle=$2; shift ;;
		-m|--mem) mem=$2; shift ;;
		-A|--accel) accel=$2; shift ;;
		-i|--interactive) interactive=1 ;;
		-q|--quiet) quiet=1 ;;
		-h|--help) _guest_usage ;;
		*) die "guest: unknown option $1 (see --help)" ;;
		esac
		shift
	done
	if [ -z "$kernel" ] || [ -z "$out" ]; then
		_guest_usage
	fi
	[ -f "$kernel" ] || die "guest: no kernel image $kernel"
	[ -n "$timeout" ] || { [ $interactive -eq 1 ] && timeout=0 || timeout=1800; }
	# shellcheck disable=SC2086
	ensure_packages $GUEST_PACKAGES

	mkdir -p "$out"
	out=$(cd "$out" && pwd)
	GUEST_OUT=$out
	GUEST_FG=$interactive
	stage=$out/initramfs
	rm -rf "$stage" "$out/console.log" "$out/results.log" "$out/status" \
		"$out/idle"
	mkdir -p "$stage"/{bin,dev,ownbuf/bin,ownbuf/extra,proc,sys,tmp,root}
	cp -L /bin/busybox "$stage/bin/busybox"
	install -m 0755 "$GUEST_DIR/init" "$stage/init"
	install -m 0644 "$GUEST_DIR/lib.sh" "$GUEST_DIR/run-tests.sh" \
		"$GUEST_DIR/modprobe.sh" \
		"$stage/ownbuf/"
	[ "$(id -u)" -eq 0 ] && mknod -m 0600 "$stage/dev/console" c 5 1
	for spec in "${adds[@]}"; do
		src=${spec%%:*}
		dest=${spec#*:}
		[ "$dest" != "$spec" ] || dest=/ownbuf/extra/$(basename "$src")
		_guest_add "$stage" "$src" "$dest"
	done
	for spec in "${bins[@]}"; do
		_guest_add_bin "$stage" "$spec"
	done
	guest_initramfs "$stage" "$out/initramfs.cpio.gz"
	rm -rf "$stage"

	if [ $interactive -eq 1 ]; then
		serial=(-serial mon:stdio)
	else
		serial=(-serial "file:$out/console.log")
	fi
	serial+=(-serial "file:$out/results.log")

	[ $quiet -eq 1 ] || log "booting $(basename "$kernel") (timeout ${timeout}s, output in $out)"
	rc=0
	_guest_qemu "$accel" "$timeout" "$mem" "$kernel" "$out" \
		"$GUEST_CMDLINE$cmdline" "${serial[@]}"
	if [ $interactive -eq 1 ]; then
		# QEMU puts the terminal in raw mode; a signal may end it
		# before it puts it back.
		tty=$(stty -g 2>/dev/null) || tty=""
		"${GUEST_QEMU[@]}" || rc=$?
		[ -z "$tty" ] || stty "$tty" 2>/dev/null || true
	elif [ "$idle" -gt 0 ]; then
		"${GUEST_QEMU[@]}" &
		qpid=$!
		_guest_watch "$qpid" "$idle" "$out" || idled=1
		wait "$qpid" || rc=$?
	else
		"${GUEST_QEMU[@]}" || rc=$?
	fi

	if [ $idled -eq 1 ] || [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		status=timeout
		rc=124
	elif grep -q '^@@OWNBUF DONE' "$out/results.log" 2>/dev/null; then
		status="done"
		rc=0
		grep -q '^@@OWNBUF DONE rc=0$' "$out/results.log" || rc=3
	else
		status=died
		rc=2
	fi
	echo "$status" >"$out/status"
	[ $quiet -eq 1 ] || log "guest $status"
	return $rc
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	# shellcheck source=scripts/lib/common.sh
	. "$(dirname "$0")/common.sh"
	guest_boot "$@"
fi
