#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# "make demo" and "make vm": ownbuf in a QEMU guest running Debian's stock
# 6.12 kernel.  Works on a fresh Debian 12 machine: no KVM, no kernel
# headers for the running kernel, no module loading on the host.
#
#   scripts/demo.sh           build ownbuf.ko and the tools, boot the guest,
#                             load the module, run "ownbuf demo" there and
#                             unload it; exit status 0 only if all of that
#                             went as Documentation/userspace-api/ownbuf.rst
#                             says
#   scripts/demo.sh --shell   the same guest with an interactive shell
#                             instead ("poweroff -f" or Ctrl-A x ends it)
#
# It installs what is missing with apt-get (root needed only then): make,
# gcc-12, libc6-dev, libelf1, dwarves, rsync, perl, qemu-system-x86,
# busybox-static, cpio.  The stock kernel image and headers are downloaded once and
# unpacked into $OWNBUF_CACHE (default ~/.cache/ownbuf), never installed.
# Everything built goes to build/demo/; the guest's kernel log is
# build/demo/run/console.log.
#
# Environment: OWNBUF_CACHE, OWNBUF_JOBS (see scripts/lib/common.sh),
# OWNBUF_DEMO_TIMEOUT (seconds for the guest run, default 600).

# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"

OUT=$TOP/build/demo
TIMEOUT=${OWNBUF_DEMO_TIMEOUT:-600}

usage()
{
	usage_of "$0"
	exit 2
}

# The package lists of a fresh machine may be empty: the stock kernel
# cannot be found without them.
apt_lists_ready()
{
	apt-cache show linux-image-6.12-amd64 >/dev/null 2>&1 && return 0
	[ "$(id -u)" -eq 0 ] ||
		die "apt knows no linux-image-6.12-amd64: run 'apt-get update' as root"
	quietly "apt-get update (linux-image-6.12-amd64 not in the package lists)" \
		apt-get update -qq || die "apt-get update failed"
	apt-cache show linux-image-6.12-amd64 >/dev/null 2>&1 ||
		die "linux-image-6.12-amd64 is not available from this machine's apt sources (Debian 12 has it in bookworm and bookworm-security)"
}

# build_module - the repository's modules against the stock kernel, in a
# copy of the tree (the harness's modules_build), so that nothing is
# written into the checkout.
build_module()
{
	log "building ownbuf.ko against $KVER"
	if ! modules_build "$KDIR" "$OUT/modules"; then
		tail -n 30 "$OUT/modules/build.log" >&2
		die "the module build failed (log: $OUT/modules/build.log)"
	fi
	MODULE=$OUT/modules/src/module/ownbuf.ko
}

build_tools()
{
	log "building tools/ownbuf (static)"
	if ! make -C "$TOP" tools TOOLS_OUT="$OUT/bin" LDFLAGS=-static \
	     >"$OUT/tools.log" 2>&1; then
		cat "$OUT/tools.log" >&2
		die "the tools build failed (log: $OUT/tools.log)"
	fi
}

# The scripts the guest runs instead of the "make check" sequence.
write_guest_scripts()
{
	mkdir -p "$OUT/guest"
	cat >"$OUT/guest/demo.sh" <<'EOF'
#!/bin/sh
# Run by the guest's /init (ownbuf.run=): load, demo, unload.
. /ownbuf/lib.sh
ownbuf_item insmod ownbuf insmod /ownbuf/modules/ownbuf.ko || exit 1
ownbuf_item demo ownbuf ownbuf demo
rc=$?
ownbuf_item rmmod ownbuf rmmod ownbuf || rc=1
exit $rc
EOF
	cat >"$OUT/guest/shell.sh" <<'EOF'
#!/bin/sh
# Run by the guest's /init (ownbuf.run=): load, then a shell.
insmod /ownbuf/modules/ownbuf.ko || echo "ownbuf-guest: insmod ownbuf.ko failed"
cat <<EOT

ownbuf.ko is loaded in this guest (Debian's stock kernel $(uname -r)).
Things to try:
  ownbuf demo                      the ownership rules, tried for real
  ownbuf violations                the counters (--watch to follow them)
  ownbuf info 3 3<>/dev/ownbuf     what an ownbuf fd looks like
  ownbuf-example                   the README's userspace example
  test-ownbuf.sh                   the tool's test (TAP)
  ls /sys/module/ownbuf/parameters /sys/class/misc/ownbuf/violations
"poweroff -f" or Ctrl-A x ends the VM.

EOT
setsid cttyhack sh -l
EOF
	chmod +x "$OUT/guest/demo.sh" "$OUT/guest/shell.sh"
}

# record_rc KIND NAME - exit status of an item on the results channel,
# or "none" if it never ended.
record_rc()
{
	local rc

	rc=$(sed -n "s/^@@OWNBUF END $1 $2 rc=\\(-\\{0,1\\}[0-9]*\\)\$/\\1/p" \
		"$RUN/results.log" 2>/dev/null | tail -n 1)
	echo "${rc:-none}"
}

# Kernel log lines that must never appear (ownbuf.rst section 1).
splats()
{
	python3 "$TOP/scripts/judge.py" splats "$RUN/console.log" || true
}

main()
{
	local shell=0 t0 boot brc=0 rc_insmod rc_demo rc_rmmod bad
	local -a adds

	while [ $# -gt 0 ]; do
		case $1 in
		--shell) shell=1 ;;
		-h|--help) usage ;;
		*) usage ;;
		esac
		shift
	done

	t0=$(now)
	apt_lists_ready
	# shellcheck disable=SC2086
	ensure_packages $MODULE_BUILD_PACKAGES $GUEST_PACKAGES
	kernel_get stock612
	mkdir -p "$OUT"
	build_module
	build_tools
	write_guest_scripts

	RUN=$OUT/run
	adds=(-a "$MODULE:/ownbuf/modules/ownbuf.ko"
	      -a "$OUT/bin/ownbuf:/ownbuf/bin/ownbuf"
	      -a "$OUT/bin/ownbuf-example:/ownbuf/bin/ownbuf-example"
	      -a "$TOP/tools/test-ownbuf.sh:/ownbuf/bin/test-ownbuf.sh"
	      -a "$OUT/guest/demo.sh:/ownbuf/extra/demo.sh"
	      -a "$OUT/guest/shell.sh:/ownbuf/extra/shell.sh")

	if [ $shell -eq 1 ]; then
		log "ready in $(($(now) - t0))s; booting $KVER (Ctrl-A x quits)"
		guest_boot -k "$BZIMAGE" -o "$RUN" -i -q -c "loglevel=4" \
			-r /ownbuf/extra/shell.sh "${adds[@]}" || true
		return 0
	fi

	log "ready in $(($(now) - t0))s; booting $KVER in QEMU (TCG)"
	guest_boot -k "$BZIMAGE" -o "$RUN" -t "$TIMEOUT" -q \
		-r /ownbuf/extra/demo.sh "${adds[@]}" &
	boot=$!
	# The demo as it runs: the results channel without its framing.
	tail -n +1 -F --pid="$boot" "$RUN/results.log" 2>/dev/null |
		grep --line-buffered -v '^@@OWNBUF' || true
	wait "$boot" || brc=$?

	rc_insmod=$(record_rc insmod ownbuf)
	rc_demo=$(record_rc demo ownbuf)
	rc_rmmod=$(record_rc rmmod ownbuf)
	bad=$(splats)
	echo
	# guest_boot: 3 is "the guest finished, our script failed", which
	# the records below explain; anything else is the guest's failure.
	if [ $brc -ne 0 ] && [ $brc -ne 3 ]; then
		tail -n 20 "$RUN/console.log" >&2 || true
		log "the guest $(cat "$RUN/status" 2>/dev/null || echo failed) (rc=$brc, console: $RUN/console.log)"
	fi
	[ "$rc_insmod" = 0 ] || log "insmod ownbuf.ko failed (rc=$rc_insmod; console: $RUN/console.log)"
	[ "$rc_demo" = 0 ] || [ "$rc_insmod" != 0 ] ||
		log "ownbuf demo failed (rc=$rc_demo)"
	[ "$rc_rmmod" = 0 ] || [ "$rc_insmod" != 0 ] ||
		log "rmmod ownbuf failed after the demo (rc=$rc_rmmod)"
	if [ -n "$bad" ]; then
		printf '%s\n' "$bad" >&2
		log "the kernel complained during the demo (console: $RUN/console.log)"
	fi
	if [ $brc -eq 0 ] && [ "$rc_insmod" = 0 ] && [ "$rc_demo" = 0 ] &&
	   [ "$rc_rmmod" = 0 ] && [ -z "$bad" ]; then
		log "ok: ownbuf demo passed on Debian's $KVER, and ownbuf.ko unloaded cleanly ($(($(now) - t0))s)"
		return 0
	fi
	log "FAILED ($(($(now) - t0))s)"
	return 1
}

main "$@"
