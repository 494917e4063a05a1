#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a kernel in QEMU/TCG with a busybox initramfs made for the run.
#
# Usage: scripts/lib/guest.sh -k BZIMAGE -o OUTDIR [options]
#   -a SRC[:DEST]  put file or directory SRC at DEST in the initramfs
#                  (default /ownbuf/extra/NAME; /ownbuf/bin is on PATH)
#   -b PATH        executable PATH and its shared libraries
#   -c ARGS        more kernel command line
#   -r SCRIPT      run SCRIPT (a guest path; "shell": a shell), not the tests
#   -t SECS        time limit (default 1800; none with -i)
#   -I SECS        stop when the guest said nothing for SECS (a hang)
#   -A ACCEL       QEMU's -accel (default tcg,thread=single)
#   -i             console on this terminal (Ctrl-A x quits QEMU)
#   -q             no log lines
# OUTDIR gets console.log (ttyS0), results.log (ttyS1, see
# scripts/guest/init), status (done, died or timeout) and, after -I, idle.
#
# Exit status: 0 the run finished ("@@OWNBUF DONE rc=0"), 3 it finished
# but failed, 2 the guest died first, 124 it timed out, 1 bad usage.  A
# guest that never reached /init is booted once more (the first attempt
# stays in OUTDIR/first-attempt/).  As a library: guest_boot OPTIONS, and
# the array GUEST_QEMU_ARGS holds more QEMU options.

# shellcheck shell=bash

GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../guest" && pwd)
GUEST_PACKAGES="qemu-system-x86 busybox-static cpio gzip"
GUEST_CMDLINE="console=ttyS0 panic=-1 printk.devkmsg=on loglevel=8"

# _guest_add STAGE SRC DEST - copy file or directory SRC to STAGE/DEST.
_guest_add()
{
	[ -e "$2" ] || die "guest: no such file: $2"
	mkdir -p "$1${3%/*}"
	cp -aLT "$2" "$1$3"
}

# _guest_watch PID IDLE OUT - wait for PID (QEMU); stop it when its output
# files did not grow for IDLE seconds (0: never), and return 1 then.
_guest_watch()
{
	local size="" cur last

	last=$(now)
	while kill -0 "$1" 2>/dev/null; do
		sleep 1
		cur=$(stat -c %s "$3/console.log" "$3/results.log" 2>/dev/null || true)
		if [ "$cur" != "$size" ]; then
			size=$cur
			last=$(now)
		elif [ "$2" -gt 0 ] && [ $(($(now) - last)) -ge "$2" ]; then
			echo "no output from the guest for ${2}s" >"$3/idle"
			kill -TERM "$1" 2>/dev/null || true
			return 1
		fi
	done
}

# guest_boot OPTIONS... - see the top of this file.
guest_boot()
{
	local kernel="" out="" cmdline="" timeout="" accel=tcg,thread=single
	local fg=0 quiet=0 idle=0 idled stage spec dest bin libs rc status tty
	local opt OPTIND=1 try
	local -a adds=() bins=() limit serial

	while getopts :k:o:a:b:c:r:t:I:A:iqh opt; do
		case $opt in
		k) kernel=$OPTARG ;;
		o) out=$OPTARG ;;
		a) adds+=("$OPTARG") ;;
		b) bins+=("$OPTARG") ;;
		c) cmdline="$cmdline $OPTARG" ;;
		r) cmdline="$cmdline ownbuf.run=$OPTARG" ;;
		t) timeout=$OPTARG ;;
		I) idle=$OPTARG ;;
		A) accel=$OPTARG ;;
		i) fg=1 ;;
		q) quiet=1 ;;
		*) usage_of "${BASH_SOURCE[0]}"; exit 1 ;;
		esac
	done
	if [ -z "$kernel" ] || [ -z "$out" ] || [ "$OPTIND" -le $# ]; then
		usage_of "${BASH_SOURCE[0]}"; exit 1
	fi
	[ -f "$kernel" ] || die "guest: no kernel image $kernel"
	[ -n "$timeout" ] || timeout=$((fg ? 0 : 1800))
	# shellcheck disable=SC2086
	ensure_packages $GUEST_PACKAGES

	mkdir -p "$out"
	out=$(cd "$out" && pwd)
	stage=$out/initramfs
	rm -rf "$stage" "$out"/{console.log,results.log,status,idle,first-attempt}
	mkdir -p "$stage"/{bin,dev,ownbuf/bin,ownbuf/extra,proc,sys,tmp,root}
	cp -L /bin/busybox "$stage/bin/busybox"
	install -m 0755 "$GUEST_DIR/init" "$stage/init"
	install -m 0644 "$GUEST_DIR"/{lib.sh,run-tests.sh} "$stage/ownbuf/"
	[ "$(id -u)" -eq 0 ] && mknod -m 0600 "$stage/dev/console" c 5 1
	for spec in "${adds[@]}"; do
		dest=${spec#*:}
		[ "$dest" != "$spec" ] || dest=/ownbuf/extra/${spec##*/}
		_guest_add "$stage" "${spec%%:*}" "$dest"
	done
	for spec in "${bins[@]}"; do
		bin=$(command -v "$spec") || die "guest: no executable $spec"
		libs=$(ldd "$bin" 2>/dev/null | grep -oE '/[^ ]+' || true)
		for dest in "$bin" $libs; do
			[ -e "$dest" ] && _guest_add "$stage" "$dest" "$dest"
		done
	done
	(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
	 cpio --quiet -o -0 -H newc -R 0:0) | gzip -1 >"$out/initramfs.cpio.gz"
	rm -rf "$stage"

	# timeout(1) stops QEMU.  At a terminal QEMU must stay in its
	# foreground process group, or its first read stops it (SIGTTIN).
	limit=(timeout -k 10 "$timeout")
	serial=(-serial "file:$out/console.log")
	if [ $fg -eq 1 ]; then
		limit=(timeout --foreground "$timeout")
		[ "$timeout" != 0 ] || limit=()
		serial=(-serial mon:stdio)
	fi
	set -- "${limit[@]}" qemu-system-x86_64 -accel "$accel" -cpu max \
		-smp 2 -m 2G -nodefaults -display none -no-reboot \
		-monitor none "${GUEST_QEMU_ARGS[@]}" "${serial[@]}" \
		-serial "file:$out/results.log" \
		-kernel "$kernel" -initrd "$out/initramfs.cpio.gz" \
		-append "$GUEST_CMDLINE$cmdline"
	for try in 1 2; do
		[ $quiet -eq 1 ] ||
			log "booting ${kernel##*/} (timeout ${timeout}s, output in $out)"
		rc=0 idled=0
		if [ $fg -eq 1 ]; then
			# QEMU may end (a signal) with the terminal in raw mode.
			tty=$(stty -g 2>/dev/null) || tty=""
			"$@" || rc=$?
			[ -z "$tty" ] || stty "$tty" 2>/dev/null || true
		else
			"$@" &
			_guest_watch $! "$idle" "$out" || idled=1
			wait $! || rc=$?
		fi
		if [ $idled -eq 1 ] || [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
			status=timeout rc=124
		elif grep -q '^@@OWNBUF DONE rc=0$' "$out/results.log" 2>/dev/null; then
			status="done" rc=0
		elif grep -q '^@@OWNBUF DONE' "$out/results.log" 2>/dev/null; then
			status="done" rc=3
		else
			status=died rc=2
		fi
		echo "$status" >"$out/status"
		[ $quiet -eq 1 ] || log "guest $status"
		# Booted once more: a guest that died or hung before /init.
		case $rc in 2|124) ;; *) return $rc ;; esac
		if [ $try = 2 ] || [ $fg -eq 1 ] || [ -s "$out/results.log" ]; then
			return $rc
		fi
		log "guest never reached /init ($status); booting once more"
		mkdir -p "$out/first-attempt"
		mv "$out"/{console.log,status,idle} "$out/first-attempt/" \
			2>/dev/null || true
	done
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	# shellcheck source=scripts/lib/common.sh
	. "$(dirname "$0")/common.sh"
	guest_boot "$@"
fi
