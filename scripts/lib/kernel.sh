#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The test kernels (debug, kcsan, stock61, stock612; "Testing" in
# README.md), built or fetched from Debian packages once into $OWNBUF_CACHE.
#
# Usage: scripts/lib/kernel.sh NAME [OUTDIR]
# prints KNAME KVER KDIR BZIMAGE KSRC KCMDLINE as assignments to eval; with
# OUTDIR also builds the modules against NAME in OUTDIR/src (W=1) and
# prints MODDIR; exit status 1 if that build failed, 2 if it warned.

# shellcheck shell=bash

# Bumped whenever the build recipe below changes, to invalidate the cache.
KERNEL_RECIPE=1
KERNEL_NAMES="debug kcsan stock61 stock612"
KERNEL_HOST_PACKAGES="linux-source-6.12 build-essential bc bison flex \
libelf-dev libssl-dev dwarves cpio kmod rsync python3 perl xz-utils gcc-12"

# kernel_source - linux-source-6.12 unpacked into the cache once per
# package version: KSRC, KSRC_VERSION.
kernel_source()
{
	# shellcheck disable=SC2086
	ensure_packages $KERNEL_HOST_PACKAGES
	KSRC_VERSION=$(dpkg-query -W -f='${Version}' linux-source-6.12)
	KSRC=$OWNBUF_CACHE/src/linux-source-$KSRC_VERSION/linux-source-6.12
	[ -f "$KSRC/.ownbuf-unpacked" ] || with_lock source _kernel_unpack
}

_kernel_unpack()
{
	local tarball=/usr/src/linux-source-6.12.tar.xz dir=${KSRC%/*}

	[ -f "$KSRC/.ownbuf-unpacked" ] && return 0
	log "unpacking $tarball into $dir"
	rm -rf "$dir" "$dir.tmp"
	mkdir -p "$dir.tmp"
	tar -C "$dir.tmp" -xf "$tarball"
	[ -f "$dir.tmp/linux-source-6.12/Makefile" ] ||
		die "$tarball did not unpack to linux-source-6.12/"
	touch "$dir.tmp/linux-source-6.12/.ownbuf-unpacked"
	mv "$dir.tmp" "$dir"
}

# kernel_built NAME FRAGMENT - a 6.12 kernel from tinyconfig, debug.config
# and FRAGMENT, cached by source version and the fragments' sha256.
kernel_built()
{
	local frags=("$TOP/scripts/debug.config" "$2") key

	kernel_source
	key=$(cat "${frags[@]}" - <<<"recipe=$KERNEL_RECIPE" | sha256sum | cut -c1-16)
	KNAME=$1
	KDIR=$OWNBUF_CACHE/kernels/$1-$KSRC_VERSION-$key
	BZIMAGE=$KDIR/arch/x86/boot/bzImage
	if [ -f "$KDIR/.ownbuf-built" ]; then
		log "$1 kernel: cached at $KDIR"
	else
		with_lock "$1-$key" _kernel_build "${frags[@]}"
	fi
	KVER=$(cat "$KDIR/include/config/kernel.release")
	# no5lvl: with QEMU's LA57 a timer interrupt while identify_cpu()
	# clears the boot CPU's features made KASAN take every direct-map
	# address for a wild access (2 boots in ~40).
	KCMDLINE="no5lvl preempt=full"
	[ "$1" = debug ] && KCMDLINE="$KCMDLINE kasan_multi_shot"
	return 0
}

_kernel_build()
{
	local t0 frag clog=$KDIR/.ownbuf-config.log
	local make_o=(make -s -C "$KSRC" O="$KDIR")

	[ -f "$KDIR/.ownbuf-built" ] && return 0
	log "building the $KNAME kernel in $KDIR (-j$OWNBUF_JOBS; 11-14 min on 2 cores)"
	t0=$(now)
	rm -rf "$KDIR"
	mkdir -p "$KDIR"
	{ "${make_o[@]}" tinyconfig &&
	  "$KSRC/scripts/kconfig/merge_config.sh" -m -O "$KDIR" "$KDIR/.config" "$@" &&
	  "${make_o[@]}" olddefconfig; } >"$clog" 2>&1 ||
		die "configuring the $KNAME kernel failed (see $clog)"
	for frag in "$@"; do
		kernel_verify_config "$frag" "$KDIR/.config"
	done
	if ! "${make_o[@]}" -j"$OWNBUF_JOBS" bzImage modules \
	     >"$KDIR/.ownbuf-build.log" 2>&1; then
		tail -n 40 "$KDIR/.ownbuf-build.log" >&2
		die "$KNAME kernel build failed (log: $KDIR/.ownbuf-build.log)"
	fi
	[ -f "$KDIR/Module.symvers" ] || die "no Module.symvers after make modules"
	touch "$KDIR/.ownbuf-built"
	log "$KNAME kernel built in $(($(now) - t0))s"
}

# kernel_verify_config FRAGMENT CONFIG - every option of FRAGMENT has its
# value in CONFIG: Kconfig silently drops options whose dependencies are
# missing, and a debug kernel without KASAN tests nothing.
kernel_verify_config()
{
	local bad

	bad=$(awk -F= '
	     /^# CONFIG_.* is not set$/ { split($0, w, " "); $0 = w[2] "=n" }
	     !/^CONFIG_/ { next }
	     FNR == NR { want[$1] = substr($0, length($1) + 2); next }
	     { have[$1] = substr($0, length($1) + 2) }
	     END { for (o in want) if ((o in have ? have[o] : "n") != want[o])
			print o " wanted " want[o] ", got " \
			      (o in have ? have[o] : "n") }' "$1" "$2")
	[ -z "$bad" ] || die "the kernel config lost options of $1 (missing dependencies?): $bad"
	log "config: all options of $(basename "$1") verified in .config"
}

# kernel_stock SERIES - Debian's newest kernel image and headers of SERIES
# (6.1 or 6.12), unpacked into a private root, never installed.
kernel_stock()
{
	local meta=amd64 img hdr deps ver root try

	[ "$1" = 6.12 ] && meta=6.12-amd64
	for try in 1 2; do
		img=$(_apt_depends "linux-image-$meta" '^linux-image-' | sed -n 1p)
		hdr=$(_apt_depends "linux-headers-$meta" '^linux-headers-' | sed -n 1p)
		[ -z "$img" ] || [ -z "$hdr" ] || break
		if [ $try = 2 ] || [ "$(id -u)" -ne 0 ]; then
			die "cannot resolve linux-image-$meta / linux-headers-$meta (apt-get update?)"
		fi
		quietly "linux-image-$meta unknown to apt; running apt-get update" \
			apt-get update -qq || die "apt-get update failed"
	done
	KVER=${img#linux-image-}
	deps=$(_apt_depends "$hdr" '^linux-(headers-.*-common|kbuild-)')
	ver=$(apt-cache policy "$img" | awk '/Candidate:/ { print $2 }')
	root=$OWNBUF_CACHE/kernels/stock-$KVER-$ver
	KDIR=$root/usr/src/linux-headers-$KVER
	BZIMAGE=$root/boot/vmlinuz-$KVER
	if [ -f "$root/.ownbuf-unpacked" ]; then
		log "stock $1 kernel $KVER: cached at $root"
	else
		# shellcheck disable=SC2086
		with_lock "stock-$KVER" _kernel_fetch_stock "$root" "$img" "$hdr" $deps
	fi
	[ -f "$BZIMAGE" ] || die "no $BZIMAGE in $img"
	[ -f "$KDIR/Makefile" ] || die "no kbuild tree at $KDIR"
	# PREEMPT_DYNAMIC: real windows between two statements.
	KCMDLINE="preempt=full"
}

# _apt_depends PKG REGEX - the dependencies of PKG whose names match REGEX.
_apt_depends()
{
	apt-cache depends "$1" 2>/dev/null |
		awk '$1 ~ /Depends:$/ { print $2 }' | grep -E "$2" || true
}

_kernel_fetch_stock()
{
	local root=$1 deb

	shift
	[ -f "$root/.ownbuf-unpacked" ] && return 0
	rm -rf "$root" "$root.dl"
	mkdir -p "$root" "$root.dl"
	(cd "$root.dl" && quietly "fetching $*" \
		apt-get download -qq -o APT::Sandbox::User=root "$@") ||
		die "apt-get download $* failed"
	for deb in "$root.dl"/*.deb; do
		dpkg-deb -x "$deb" "$root"
	done
	rm -rf "$root.dl"
	# The flavour's Makefile includes the common headers by absolute path.
	sed -i "s|^include /usr/src/|include $root/usr/src/|" \
		"$root"/usr/src/linux-headers-*/Makefile
	touch "$root/.ownbuf-unpacked"
}

# kernel_accel NAME - QEMU's -accel: one thread for all vCPUs, since
# multi-threaded TCG oopses now and then when ftrace patches kernel text;
# but KCSAN needs two CPUs that really run at once.
kernel_accel()
{
	case $1 in kcsan) echo tcg,thread=multi ;; *) echo tcg,thread=single ;; esac
}

# kernel_exclude NAME - "PROG OPTIONS" lines: kselftest options leaving out
# what NAME does not run ("*": all of PROG).  On kcsan (a thread per vCPU)
# the tests that patch kernel text (the int3 oops), and all sizes but three
# per role of the data and mmap fixtures, a third of the run for nothing.
kernel_exclude()
{
	local sizes="owner_1 owner_4096 owner_1m mut_1 mut_5000 mut_1m
		     shared_1 shared_4096 shared_1m"

	[ "$1" = kcsan ] || return 0
	echo "ownbuf_unload *"
	echo "ownbuf_sys -F trace"
	echo "ownbuf_holders -F trace"
	# shellcheck disable=SC2086
	printf 'ownbuf_data%s\nownbuf_mmap%s\n' "$(printf ' -V %s' $sizes)" \
		"$(printf ' -V %s' $sizes)"
}

# kernel_get NAME - one of KERNEL_NAMES.
kernel_get()
{
	KSRC=${KSRC:-}
	KNAME=$1
	case $1 in
	debug) kernel_built debug "$TOP/scripts/kasan.config" ;;
	kcsan) kernel_built kcsan "$TOP/scripts/kcsan.config" ;;
	stock61) kernel_stock 6.1 ;;
	stock612) kernel_stock 6.12 ;;
	*) die "unknown kernel '$1' (one of: $KERNEL_NAMES)" ;;
	esac
}

# copy_tree DEST - a fresh copy of the repository without .git, build/ and
# build products: every warning must show on every build.
copy_tree()
{
	rm -rf "$1"
	mkdir -p "$1"
	rsync -a --exclude=/.git --exclude=/build --exclude='*.o' \
		--exclude='*.ko' --exclude='*.mod' --exclude='*.mod.c' \
		--exclude='.*.cmd' --exclude='*.a' --exclude=modules.order \
		--exclude=Module.symvers --exclude=/tools/ownbuf \
		--exclude=/tools/ownbuf-example "$TOP/" "$1/"
}

# build_warnings LOG - compiler, modpost and sparse diagnostics of a build.
build_warnings()
{
	grep -E '(warning|error):|^WARNING:|^ERROR:' "$1" || true
}

# What modules_build needs against Debian's headers (rsync; W=1's kernel-doc
# needs perl's Pod::Usage), and the static tools.
MODULE_BUILD_PACKAGES="make gcc gcc-12 libc6-dev libelf1 dwarves rsync perl"

# modules_build KDIR DIR [MAKE ARGS...] - the top-level Kbuild against KDIR
# in DIR/src, W=1, log DIR/build.log; returns make's status.
modules_build()
{
	copy_tree "$2/src"
	make -C "$1" M="$2/src" W=1 -j"$OWNBUF_JOBS" "${@:3}" modules \
		>"$2/build.log" 2>&1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	# shellcheck source=scripts/lib/common.sh
	. "$(dirname "$0")/common.sh"
	[ $# -ge 1 ] || die "usage: $0 debug|kcsan|stock61|stock612 [OUTDIR]"
	kernel_get "$1" >&2
	printf 'KNAME=%q KVER=%q KDIR=%q BZIMAGE=%q KSRC=%q KCMDLINE=%q\n' \
		"$KNAME" "$KVER" "$KDIR" "$BZIMAGE" "$KSRC" "$KCMDLINE"
	[ $# -ge 2 ] || exit 0
	mkdir -p "$2"
	out=$(cd "$2" && pwd)
	log "building the modules against $1 in $out/src"
	modules_build "$KDIR" "$out" ||
		{ tail -n 30 "$out/build.log" >&2; die "module build failed"; }
	printf 'MODDIR=%q\n' "$out/src"
	! build_warnings "$out/build.log" | grep . >&2 || exit 2
fi
