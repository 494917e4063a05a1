#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the repository's modules (the top-level Kbuild: module/ownbuf.ko,
# samples/*.ko, kunit/ownbuf_kunit.ko where the kernel has KUnit) against
# one of the test kernels, with W=1, in a fresh copy of the tree: external
# module builds write their objects next to the sources, so each build gets
# its own copy.
#
# As a command:
#   scripts/lib/modules.sh debug|stock61|stock612 OUTDIR
# builds in OUTDIR/src (logs: OUTDIR/build.log, OUTDIR/warnings.log) and
# prints MODDIR=OUTDIR/src for the caller to eval; exit status 1 if the build
# failed, 2 if it built with warnings.
#
# As a library (source common.sh first): copy_tree, build_warnings,
# modules_build.

# shellcheck shell=bash

# copy_tree DEST - the repository without .git, build/ and build products,
# always fresh, so that every warning shows on every build.
copy_tree()
{
	rm -rf "$1"
	mkdir -p "$1"
	rsync -a --exclude=/.git --exclude=/build --exclude='*.o' \
		--exclude='*.ko' --exclude='*.mod' --exclude='*.mod.c' \
		--exclude='.*.cmd' --exclude='*.a' --exclude=modules.order \
		--exclude=Module.symvers --exclude=/tools/ownbuf \
		--exclude=/tools/ownbuf-example "$OWNBUF_TOP/" "$1/"
}

# build_warnings LOG - compiler, modpost and sparse diagnostics of a build.
build_warnings()
{
	grep -E '(warning|error):|^WARNING:|^ERROR:' "$1" || true
}

# modules_build KDIR DIR [MAKE ARGS...] - build into DIR/src.  Returns the
# status of make; DIR/warnings.log lists the diagnostics.
modules_build()
{
	local kdir=$1 dir=$2 rc=0

	shift 2
	copy_tree "$dir/src"
	make -C "$kdir" M="$dir/src" W=1 -j"$OWNBUF_JOBS" "$@" modules \
		>"$dir/build.log" 2>&1 || rc=$?
	build_warnings "$dir/build.log" >"$dir/warnings.log"
	return $rc
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
	# shellcheck source=scripts/lib/common.sh
	. "$(dirname "$0")/common.sh"
	# shellcheck source=scripts/lib/kernel.sh
	. "$(dirname "$0")/kernel.sh"
	[ $# -eq 2 ] || die "usage: $0 debug|stock61|stock612 OUTDIR"
	kernel_get "$1" >&2
	mkdir -p "$2"
	out=$(cd "$2" && pwd)
	log "building the modules against $1 in $out/src"
	if ! modules_build "$KDIR" "$out"; then
		tail -n 30 "$out/build.log" >&2
		die "module build failed (log: $out/build.log)"
	fi
	printf 'MODDIR=%q\n' "$out/src"
	if [ -s "$out/warnings.log" ]; then
		cat "$out/warnings.log" >&2
		exit 2
	fi
fi
