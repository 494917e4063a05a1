#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The four kernels ownbuf is tested on, built or fetched once and cached in
# $OWNBUF_CACHE (default ~/.cache/ownbuf), and the repository's modules
# built against them.  Only Debian packages are used.
#
#   debug     6.12 from linux-source-6.12, tinyconfig + scripts/debug.config
#             (PREEMPT, lockdep, kmemleak, KUnit, ...) + scripts/kasan.config
#   kcsan     the same with scripts/kcsan.config instead of KASAN
#   stock61   Debian's linux-image-amd64 (6.1) with its headers
#   stock612  Debian's linux-image-6.12-amd64 with its headers
#
# As a command ("Booting a guest yourself" in README.md):
#   scripts/lib/kernel.sh NAME [OUTDIR]
# prints shell assignments of KNAME KVER KDIR BZIMAGE KSRC KCMDLINE for the
# caller to eval; with OUTDIR, also builds the modules against NAME in
# OUTDIR/src (W=1) and prints MODDIR=OUTDIR/src; exit status 1 if that
# build failed, 2 if it had warnings.
#
# As a library (after common.sh): kernel_source, kernel_get NAME,
# kernel_accel NAME, kernel_exclude NAME, copy_tree, build_warnings,
# modules_build.

# shellcheck shell=bash

# Bumped whenever the build recipe below changes, to invalidate the cache.
KERNEL_RECIPE=1

KERNEL_NAMES="debug kcsan stock61 stock612"

# Packages the kernel build and the module builds need on the host.
KERNEL_HOST_PACKAGES="linux-source-6.12 build-essential bc bison flex \
libelf-dev libssl-dev dwarves cpio kmod rsync python3 perl xz-utils gcc-12"

# kernel_source - unpack linux-source-6.12 into the cache (once per package
# version).  Sets KSRC and KSRC_VERSION.
kernel_source()
{
	local tarball=/usr/src/linux-source-6.12.tar.xz

	# shellcheck disable=SC2086
	ensure_packages $KERNEL_HOST_PACKAGES
	KSRC_VERSION=$(dpkg-query -W -f='${Version}' linux-source-6.12)
	KSRC=$OWNBUF_CACHE/src/linux-source-$KSRC_VERSION/linux-source-6.12
	[ -f "$KSRC/.ownbuf-unpacked" ] && return 0
	with_lock source _kernel_unpack "$tarball" "$(dirname "$KSRC")"
}

_kernel_unpack()
{
	local tarball=$1 dir=$2 t0

	[ -f "$dir/linux-source-6.12/.ownbuf-unpacked" ] && return 0
	log "unpacking $tarball into $dir"
	t0=$(now)
	rm -rf "$dir"
	mkdir -p "$dir.tmp"
	tar -C "$dir.tmp" -xf "$tarball"
	[ -f "$dir.tmp/linux-source-6.12/Makefile" ] ||
		die "$tarball did not unpack to linux-source-6.12/"
	touch "$dir.tmp/linux-source-6.12/.ownbuf-unpacked"
	mv "$dir.tmp" "$dir"
	log "unpacked in $(($(now) - t0))s"
}

# kernel_built NAME FRAGMENT - configure and build a 6.12 test kernel from
# tinyconfig, scripts/debug.config and FRAGMENT (bzImage and modules, so
# that Module.symvers exists).  Cached by source version and the sha256 of
# both fragments.
kernel_built()
{
	local frags=("$OWNBUF_TOP/scripts/debug.config" "$2") key

	kernel_source
	key=$(cat "${frags[@]}" - <<<"recipe=$KERNEL_RECIPE" | sha256sum | cut -c1-16)
	KNAME=$1
	KDIR=$OWNBUF_CACHE/kernels/$1-$KSRC_VERSION-$key
	BZIMAGE=$KDIR/arch/x86/boot/bzImage
	if [ ! -f "$KDIR/.ownbuf-built" ]; then
		with_lock "$1-$key" _kernel_build "${frags[@]}"
	else
		log "$1 kernel: cached at $KDIR"
	fi
	KVER=$(cat "$KDIR/include/config/kernel.release")
	# no5lvl: QEMU's "-cpu max" offers LA57, and identify_cpu() clears
	# the boot CPU's feature bits with interrupts on; a timer interrupt
	# in that window sees pgtable_l5_enabled() false, so KASAN takes
	# every 5-level direct-map address for a wild access and the boot
	# drowns in reports (seen twice in ~40 boots).  4-level paging has
	# no such window.  preempt=full: what PREEMPT_DYNAMIC would pick
	# anyway, said out loud.
	KCMDLINE="no5lvl preempt=full"
	# Every KASAN report, not only the first one.
	[ "$1" = debug ] && KCMDLINE="$KCMDLINE kasan_multi_shot"
	return 0
}

_kernel_build()
{
	local t0 make_o frag

	[ -f "$KDIR/.ownbuf-built" ] && return 0
	log "building the $KNAME kernel in $KDIR (-j$OWNBUF_JOBS; 11-14 min on 2 cores)"
	t0=$(now)
	rm -rf "$KDIR"
	mkdir -p "$KDIR"
	make_o=(make -s -C "$KSRC" O="$KDIR")
	"${make_o[@]}" tinyconfig >"$KDIR/.ownbuf-config.log" 2>&1 ||
		die "make tinyconfig failed (see $KDIR/.ownbuf-config.log)"
	"$KSRC/scripts/kconfig/merge_config.sh" -m -O "$KDIR" \
		"$KDIR/.config" "$@" >>"$KDIR/.ownbuf-config.log" 2>&1 ||
		die "merge_config.sh failed (see $KDIR/.ownbuf-config.log)"
	"${make_o[@]}" olddefconfig >>"$KDIR/.ownbuf-config.log" 2>&1 ||
		die "make olddefconfig failed (see $KDIR/.ownbuf-config.log)"
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

# kernel_verify_config FRAGMENT CONFIG - every option of FRAGMENT must have
# the same value in CONFIG: Kconfig silently drops options whose
# dependencies are missing, and a debug kernel without KASAN tests nothing.
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

# kernel_stock SERIES - Debian's own kernel image and headers for SERIES
# (6.1 or 6.12), the newest installable version, unpacked into a private
# root (never installed on the host).
kernel_stock()
{
	local series=$1 meta img hdr deps pkg ver root

	case $series in
	6.1) meta=amd64 ;;
	6.12) meta=6.12-amd64 ;;
	*) die "unknown stock kernel series $series" ;;
	esac
	img=$(_apt_depends "linux-image-$meta" '^linux-image-')
	hdr=$(_apt_depends "linux-headers-$meta" '^linux-headers-')
	if { [ -z "$img" ] || [ -z "$hdr" ]; } && [ "$(id -u)" -eq 0 ]; then
		quietly "linux-image-$meta unknown to apt; running apt-get update" \
			apt-get update -qq || die "apt-get update failed"
		img=$(_apt_depends "linux-image-$meta" '^linux-image-')
		hdr=$(_apt_depends "linux-headers-$meta" '^linux-headers-')
	fi
	if [ -z "$img" ] || [ -z "$hdr" ]; then
		die "cannot resolve linux-image-$meta / linux-headers-$meta (apt-get update?)"
	fi
	KVER=${img#linux-image-}
	deps=$(_apt_depends "$hdr" '^linux-(headers-.*-common|kbuild-)' all)
	ver=$(apt-cache policy "$img" | awk '/Candidate:/ { print $2 }')
	root=$OWNBUF_CACHE/kernels/stock-$KVER-$ver
	KDIR=$root/usr/src/linux-headers-$KVER
	BZIMAGE=$root/boot/vmlinuz-$KVER
	if [ ! -f "$root/.ownbuf-unpacked" ]; then
		# shellcheck disable=SC2086
		with_lock "stock-$KVER" _kernel_fetch_stock "$root" "$img" "$hdr" $deps
	else
		log "stock $series kernel $KVER: cached at $root"
	fi
	[ -f "$BZIMAGE" ] || die "no $BZIMAGE in $img"
	[ -f "$KDIR/Makefile" ] || die "no kbuild tree at $KDIR"
	# Debian's kernels are PREEMPT_DYNAMIC: booted as users do who need a
	# window between two statements to be real.
	KCMDLINE="preempt=full"
}

# _apt_depends PKG REGEX [all] - the dependency (or all dependencies) of
# PKG whose name matches REGEX.
_apt_depends()
{
	local out

	out=$(apt-cache depends "$1" 2>/dev/null |
	      awk '$1 ~ /Depends:$/ { print $2 }' | grep -E "$2" || true)
	if [ "${3:-}" = all ]; then
		printf '%s\n' "$out"
	else
		printf '%s\n' "$out" | head -n 1
	fi
}

_kernel_fetch_stock()
{
	local root=$1 dl deb
	shift

	[ -f "$root/.ownbuf-unpacked" ] && return 0
	rm -rf "$root" "$root.dl"
	mkdir -p "$root" "$root.dl"
	dl=$root.dl
	(cd "$dl" && quietly "fetching $*" \
		apt-get download -qq -o APT::Sandbox::User=root "$@") ||
		die "apt-get download $* failed"
	for deb in "$dl"/*.deb; do
		dpkg-deb -x "$deb" "$root"
	done
	rm -rf "$dl"
	# The flavour's Makefile includes the common headers by absolute path;
	# point it into the private root (the symlinks are relative already).
	sed -i "s|^include /usr/src/|include $root/usr/src/|" \
		"$root"/usr/src/linux-headers-*/Makefile
	touch "$root/.ownbuf-unpacked"
}

# kernel_accel NAME - QEMU's -accel for test runs of kernel NAME.  One
# thread for all vCPUs, since multi-threaded TCG oopses now and then when
# ftrace patches kernel text; but a data-race detector needs two CPUs
# that really run at once, so the kcsan kernel gets a thread per vCPU.
kernel_accel()
{
	case $1 in
	kcsan) echo tcg,thread=multi ;;
	*) echo tcg,thread=single ;;
	esac
}

# kernel_exclude NAME - kselftests not run on kernel NAME: "PROG" for a
# whole program, "PROG:FIXTURE" for one fixture, "PROG:*.VARIANT" for one
# variant of every fixture that has it.
#
# On the KCSAN kernel: where every vCPU is a thread of its own
# (kernel_accel), a test that patches kernel text (enabling a tracepoint
# flips a static key; a kprobe may be optimized into a jump) risks the
# int3 oops multi-threaded TCG shows there now and then.  And the size
# matrix of the data and mmap fixtures (one process, one thread, the same
# code for every size) keeps one size per role there: a race detector
# learns nothing from the other seven, which cost a third of the run.
# Everything left out runs on every other kernel, KASAN's included.
OWNBUF_KCSAN_SIZES="owner_1 owner_4096 owner_1m mut_1 mut_5000 mut_1m
		    shared_1 shared_4096 shared_1m"

kernel_exclude()
{
	local v

	case $1 in
	kcsan)
		echo "ownbuf_sys:trace ownbuf_holders:trace ownbuf_unload"
		for v in $OWNBUF_KCSAN_SIZES; do
			echo "ownbuf_data:*.$v ownbuf_mmap:*.$v"
		done
		;;
	esac
}

# kernel_get NAME - debug, kcsan, stock61 or stock612.
kernel_get()
{
	KSRC=${KSRC:-}
	KCMDLINE=""
	case $1 in
	debug) kernel_built debug "$OWNBUF_TOP/scripts/kasan.config" ;;
	kcsan) kernel_built kcsan "$OWNBUF_TOP/scripts/kcsan.config" ;;
	stock61) KNAME=stock61; kernel_stock 6.1 ;;
	stock612) KNAME=stock612; kernel_stock 6.12 ;;
	*) die "unknown kernel '$1' (one of: $KERNEL_NAMES)" ;;
	esac
}

# copy_tree DEST - the repository without .git, build/ and build products,
# always fresh: external module builds write their objects next to the
# sources, and every warning must show on every build.
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

# modules_build KDIR DIR [MAKE ARGS...] - the top-level Kbuild (module/,
# samples/, kunit/ where the kernel has KUnit, ...) against KDIR, W=1,
# in DIR/src; log: DIR/build.log.  Returns the status of make.
modules_build()
{
	local kdir=$1 dir=$2

	shift 2
	copy_tree "$dir/src"
	make -C "$kdir" M="$dir/src" W=1 -j"$OWNBUF_JOBS" "$@" modules \
		>"$dir/build.log" 2>&1
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	set -euo pipefail
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
