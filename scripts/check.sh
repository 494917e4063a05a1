#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The ownbuf test command ("make check").  See "Testing" in README.md.
#
#   scripts/check.sh                 everything
#   scripts/check.sh --only sparse   sparse (C=2) against the debug kernel
#   scripts/check.sh --only style    checkpatch.pl --strict on every source
#   scripts/check.sh --only STAGES   a comma-separated subset of
#                                    tests,sparse,style,vm,harness
#   scripts/check.sh --kernels "debug stock612"
#                                    test on these kernels only (default:
#                                    debug kcsan stock61 stock612)
#
# Environment: OWNBUF_CACHE (default ~/.cache/ownbuf) holds the kernels;
# OWNBUF_JOBS (default nproc); OWNBUF_BOOT_TIMEOUT (default 3600 s per
# guest run).  Results go to build/check/ in the checkout; the last line
# printed is "N passed, N failed" and the exit status is non-zero on any
# failure.

set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
OWNBUF_TOP=$TOP
# shellcheck source=scripts/lib/common.sh
. "$TOP/scripts/lib/common.sh"
# shellcheck source=scripts/lib/kernel.sh
. "$TOP/scripts/lib/kernel.sh"
# shellcheck source=scripts/lib/guest.sh
. "$TOP/scripts/lib/guest.sh"
# shellcheck source=scripts/lib/modules.sh
. "$TOP/scripts/lib/modules.sh"
# shellcheck source=scripts/deb.sh
. "$TOP/scripts/deb.sh"

BUILD=$TOP/build
OUT=$BUILD/check
# Items (verdicts) are written per stage, so that stages running at the
# same time never share a file; the report reads them in this order.
ITEM_FILES="build deb debug kcsan stock61 stock612 static vm harness"
ITEMS=$OUT/items-build.jsonl
JUDGE=$TOP/scripts/judge.py
BOOT_TIMEOUT=${OWNBUF_BOOT_TIMEOUT:-3600}
# Seconds a single test may take in the guest, and seconds without any
# output after which a guest counts as hung (a test that outlives its
# timeout is killed, so a live guest always says something sooner).
TEST_TIMEOUT=300
IDLE_TIMEOUT=480
STAGES="tests,sparse,style,vm,harness"
KERNELS=$KERNEL_NAMES
STATIC_PACKAGES="sparse perl"

declare -A K_KDIR K_BZIMAGE K_CMDLINE K_BUILT K_KVER K_DKMS

usage()
{
	usage_of "$0"
	exit 1
}

# item SUITE NAME pass|fail|skip [CATEGORY [DETAIL_FILE [KERNEL]]]
item()
{
	python3 "$JUDGE" item --out "$ITEMS" --suite "$1" --name "$2" \
		--status "$3" --category "${4:-}" --detail-file "${5:-}" \
		--kernel "${6:-host}"
}

want()
{
	case ",$STAGES," in
	*",$1,"*) return 0 ;;
	*) return 1 ;;
	esac
}

# kernel_try NAME - kernel_get, but a kernel that cannot be built or
# fetched is a failure item instead of the end of the run.
kernel_try()
{
	local log=$BUILD/kernel-$1.log rc=0

	mkdir -p "$BUILD"
	# The first call, in a subshell, survives die(); the second one is
	# the cached result, setting the variables here.
	(kernel_get "$1") 2>&1 | tee "$log" >&2 || rc=$?
	if [ $rc -eq 0 ]; then
		kernel_get "$1" 2>/dev/null
		return 0
	fi
	item kernel "get $1" fail kernel "$log" "$1"
	log "kernel $1 is unavailable (log: $log)"
	return 1
}

kernels_get()
{
	local k

	for k in $KERNELS; do
		kernel_try "$k" || continue
		K_KDIR[$k]=$KDIR
		K_BZIMAGE[$k]=$BZIMAGE
		K_CMDLINE[$k]=$KCMDLINE
		K_KVER[$k]=$KVER
		log "kernel $k: $KVER"
	done
}

# build_modules KERNEL - the repository's Kbuild against KERNEL, with W=1.
build_modules()
{
	local k=$1 dir=$BUILD/$1 rc=0

	[ -n "${K_KDIR[$k]:-}" ] || return 0
	log "building the modules against $k"
	mkdir -p "$dir"
	modules_build "${K_KDIR[$k]}" "$dir" || rc=$?
	if [ $rc -ne 0 ]; then
		tail -n 40 "$dir/build.log" >"$dir/failure.log"
		item build "modules W=1" fail build "$dir/failure.log" "$k"
		log "module build against $k FAILED (log: $dir/build.log)"
		return 0
	fi
	K_BUILT[$k]=1
	if [ -s "$dir/warnings.log" ]; then
		item build "modules W=1" fail warning "$dir/warnings.log" "$k"
		log "module build against $k has warnings (log: $dir/build.log)"
	else
		item build "modules W=1" pass "" "" "$k"
	fi
}

# build_userspace - the selftests (static) and tools/ownbuf (static).
build_userspace()
{
	local dir=$BUILD/host rc=0 prog

	copy_tree "$dir/src"
	rm -rf "$BUILD/selftests"
	log "building the selftests"
	make -C "$dir/src/selftests" KSFT_DIR="$KSRC/tools/testing/selftests" \
		OUT="$BUILD/selftests" >"$dir/selftests.log" 2>&1 || rc=$?
	build_warnings "$dir/selftests.log" >"$dir/selftests-warnings.log"
	if [ $rc -ne 0 ]; then
		tail -n 40 "$dir/selftests.log" >"$dir/failure.log"
		item build selftests fail build "$dir/failure.log"
	elif [ -s "$dir/selftests-warnings.log" ]; then
		item build selftests fail warning "$dir/selftests-warnings.log"
	else
		item build selftests pass
	fi
	if ! SELFTEST_PROGS=$(make -s -C "$dir/src/selftests" list 2>&1); then
		echo "$SELFTEST_PROGS" >"$dir/failure.log"
		item build "selftests list" fail build "$dir/failure.log"
		SELFTEST_PROGS=""
	fi
	for prog in $SELFTEST_PROGS; do
		[ -f "$BUILD/selftests/$prog" ] || continue
		if readelf -d "$BUILD/selftests/$prog" 2>/dev/null | grep -q NEEDED; then
			echo "$prog is dynamically linked" >"$dir/failure.log"
			item build "selftests static" fail build "$dir/failure.log"
		fi
	done

	TOOLS_DIR=""
	if [ ! -f "$TOP/tools/ownbuf.c" ]; then
		log "tools/ownbuf.c does not exist (yet): not building tools/ownbuf"
		return 0
	fi
	log "building the tools (static)"
	rc=0
	rm -rf "$BUILD/tools"
	make -C "$dir/src" tools TOOLS_OUT="$BUILD/tools" LDFLAGS=-static \
		>"$dir/tools.log" 2>&1 || rc=$?
	build_warnings "$dir/tools.log" >"$dir/tools-warnings.log"
	if [ $rc -ne 0 ]; then
		item build tools fail build "$dir/tools.log"
	elif [ -s "$dir/tools-warnings.log" ]; then
		item build tools fail warning "$dir/tools-warnings.log"
	else
		item build tools pass
		TOOLS_DIR=$BUILD/tools
	fi
}

# guest_tools - the host tools the selftests/*.sh scripts call, one per
# line (Debian packages of the same name).
guest_tools()
{
	local tool

	for tool in trinity stress-ng; do
		if grep -qw "$tool" "$TOP"/selftests/*.sh 2>/dev/null; then
			echo "$tool"
		fi
	done
}

# test_kernel KERNEL - boot KERNEL with everything built for it, run the
# test sequence (scripts/guest/run-tests.sh) and judge the run.
test_kernel()
{
	local k=$1 src=$BUILD/$1/src run=$OUT/$1 f tool
	local -a adds=()

	if [ -z "${K_BUILT[$k]:-}" ]; then
		log "not booting $k: its module build failed"
		return 0
	fi
	mkdir -p "$run"
	{
		echo "OWNBUF_KERNEL=$k"
		echo "OWNBUF_MODULE=ownbuf"
		echo "OWNBUF_TEST_TIMEOUT=$TEST_TIMEOUT"
		echo "OWNBUF_EXCLUDE=\"$(kernel_exclude "$k")\""
	} >"$run/run.conf"
	if [ -n "${K_DKMS[$k]:-}" ]; then
		# What DKMS installed from the package, loaded by modprobe.
		echo "OWNBUF_DKMS=${K_DKMS[$k]}" >>"$run/run.conf"
		adds+=(-a "${K_DKMS[$k]}:${K_DKMS[$k]}" -b /usr/bin/ownbuf)
	else
		adds+=(-a "$src/module/ownbuf.ko:/ownbuf/modules/ownbuf.ko")
	fi
	adds+=(-a "$run/run.conf:/ownbuf/run.conf")
	for f in "$src"/kunit/*.ko; do
		[ -f "$f" ] && adds+=(-a "$f:/ownbuf/kunit/$(basename "$f")")
	done
	for f in "$src"/samples/*.ko; do
		[ -f "$f" ] && adds+=(-a "$f:/ownbuf/samples/$(basename "$f")")
	done
	for f in "$src"/selftests/test_modules/*.ko; do
		[ -f "$f" ] && adds+=(-a "$f:/ownbuf/test_modules/$(basename "$f")")
	done
	echo "$SELFTEST_PROGS" | tr ' ' '\n' >"$run/programs"
	adds+=(-a "$run/programs:/ownbuf/selftests/programs")
	for f in $SELFTEST_PROGS; do
		[ -f "$BUILD/selftests/$f" ] &&
			adds+=(-a "$BUILD/selftests/$f:/ownbuf/selftests/$f")
	done
	# Test scripts (TAP): selftests/*.sh and the tools' tools/test-*.sh.
	for f in "$TOP"/selftests/*.sh "$TOP"/tools/test-*.sh; do
		[ -x "$f" ] && adds+=(-a "$f:/ownbuf/selftests/$(basename "$f")")
	done
	# Tools the selftests/*.sh scripts call, with their libraries
	# (installed by guest_tools, before the guests run side by side).
	for tool in $(guest_tools); do
		adds+=(-b "$(command -v "$tool" || echo "/usr/bin/$tool")")
	done
	for f in "${TOOLS_DIR:-/nonexistent}"/*; do
		[ -x "$f" ] && adds+=(-a "$f:/ownbuf/bin/$(basename "$f")")
	done

	# A kselftest program's whole output passes through the kernel log
	# (run-tests.sh): room for the largest one (~150 KiB) and more.
	guest_boot -k "${K_BZIMAGE[$k]}" -o "$run" -t "$BOOT_TIMEOUT" \
		-I "$IDLE_TIMEOUT" -R -A "$(kernel_accel "$k")" \
		-c "${K_CMDLINE[$k]} log_buf_len=4M" "${adds[@]}" || true
	if ! python3 "$JUDGE" run --kernel "$k" --dir "$run" --ksrc "$KSRC" \
	     --out "$OUT/items-$k.jsonl"; then
		ITEMS=$OUT/items-$k.jsonl item judge "judge.py run" fail judge \
			"" "$k"
	fi
}

# timed WHAT CMD... - run CMD (in a subshell), then log its wall-clock
# and CPU time, its QEMU guests included: where the minutes of a check go.
timed()
{
	local what=$1 t rc=0 f=$BUILD/.time.$BASHPID

	shift
	t=$(now)
	( rc=0; "$@" || rc=$?; times >"$f"; exit $rc ) || rc=$?
	log "$what: $(($(now) - t))s wall, $(awk 'NR == 2 {
		n = split($0, a, /[ms ]+/); printf "%d", a[1] * 60 + a[2] + a[3] * 60 + a[4] }' \
		"$f")s CPU"
	rm -f "$f"
	return $rc
}

# nice_run CMD... - CMD at a lower priority than the debug guest.
nice_run()
{
	renice -n 5 "$BASHPID" >/dev/null 2>&1 || true
	"$@"
}

stage_sparse()
{
	local dir=$BUILD/sparse rc=0 ITEMS=$OUT/items-static.jsonl

	# shellcheck disable=SC2086
	ensure_packages $STATIC_PACKAGES
	kernel_try debug || return 0
	log "sparse (C=2) against the debug kernel"
	mkdir -p "$dir"
	# W= (no extra warnings): the compiler's are judged by the builds.
	modules_build "$KDIR" "$dir" W= C=2 CHECK=sparse || rc=$?
	if [ $rc -ne 0 ]; then
		tail -n 40 "$dir/build.log" >"$dir/failure.log"
		item static sparse fail build "$dir/failure.log"
	elif [ -s "$dir/warnings.log" ]; then
		item static sparse fail sparse "$dir/warnings.log"
	else
		item static sparse pass
	fi
}

# Every C source and header of the project, the canary included.
source_files()
{
	(cd "$TOP" && find module include kunit samples selftests tools \
		scripts/canary -type f \( -name '*.c' -o -name '*.h' \) \
		2>/dev/null | LC_ALL=C sort)
}

stage_style()
{
	local f dir=$BUILD/style n=0 ITEMS=$OUT/items-static.jsonl

	# shellcheck disable=SC2086
	ensure_packages $STATIC_PACKAGES
	mkdir -p "$dir"
	log "checkpatch.pl --strict on every source file"
	for f in $(source_files); do
		n=$((n + 1))
		if (cd "$TOP" && "$KSRC/scripts/checkpatch.pl" --strict --no-tree \
		    --no-summary --terse --show-types -f "$f") \
		    >"$dir/out.log" 2>&1; then
			item checkpatch "$f" pass
		else
			item checkpatch "$f" fail style "$dir/out.log"
		fi
	done
	[ $n -gt 0 ] || item checkpatch "source files" fail style

	# kernel-doc of the API and the engine, which
	# Documentation/userspace-api/ownbuf.rst pulls in: no warning.
	if (cd "$TOP" && "$KSRC/scripts/kernel-doc" -none -Wall \
	    include/linux/ownbuf.h include/uapi/linux/ownbuf.h module/*.[ch]) \
	    >"$dir/kernel-doc.log" 2>&1 && [ ! -s "$dir/kernel-doc.log" ]; then
		item kernel-doc "kernel-doc -Wall" pass
	else
		item kernel-doc "kernel-doc -Wall" fail style "$dir/kernel-doc.log"
	fi

	# The README's code examples must be the files the build compiles.
	if [ -x "$TOP/scripts/check-readme.sh" ]; then
		if "$TOP/scripts/check-readme.sh" >"$dir/readme.log" 2>&1; then
			item readme "examples are the built files" pass
		else
			item readme "examples are the built files" fail style \
				"$dir/readme.log"
		fi
	fi
}

# stage_borrowck - "make borrowck": the project's own kernel code breaks
# none of the rules scripts/borrowck checks, and the checks find every
# planted mistake of scripts/borrowck/tests and nothing else.
stage_borrowck()
{
	local dir=$BUILD/borrowck ITEMS=$OUT/items-static.jsonl

	ensure_packages coccinelle
	mkdir -p "$dir"
	log "borrowck (Coccinelle) on the project's kernel code"
	if "$TOP/scripts/borrowck/borrowck.sh" >"$dir/own.log" 2>&1; then
		item borrowck "the project's kernel code" pass
	else
		item borrowck "the project's kernel code" fail borrowck \
			"$dir/own.log"
	fi
	if "$TOP/scripts/borrowck/tests/run.sh" >"$dir/tests.log" 2>&1; then
		item borrowck "planted mistakes" pass
	else
		item borrowck "planted mistakes" fail borrowck "$dir/tests.log"
	fi
}

# stage_vm - "make vm" as a user at a terminal runs it: in a pseudo-
# terminal, commands typed and answered, --watch ended by Ctrl-C, the VM
# ended by "poweroff -f" and by Ctrl-A x (scripts/vm-pty.py).
stage_vm()
{
	local dir=$BUILD/vm ITEMS=$OUT/items-vm.jsonl

	rm -rf "$dir"
	mkdir -p "$dir"
	if python3 "$TOP/scripts/vm-pty.py" "$dir/terminal.log" \
	   >"$dir/vm-pty.log" 2>&1; then
		item vm "make vm in a pseudo-terminal" pass
	else
		{ echo "--- what the terminal showed last:"
		  tail -n 30 "$dir"/terminal.log*; } >>"$dir/vm-pty.log" 2>&1
		item vm "make vm in a pseudo-terminal" fail interactive \
			"$dir/vm-pty.log"
	fi
}

# stage_deb - "make deb", lintian, the packages installed here and DKMS
# building and installing the module for each stock kernel: the stock
# guests then modprobe what DKMS installed (K_DKMS).
stage_deb()
{
	local dir=$BUILD/deb k ko ITEMS=$OUT/items-deb.jsonl

	if ! deb_build "$dir"; then
		tail -n 40 "$dir/build.log" >"$dir/failure.log"
		item deb "make deb" fail build "$dir/failure.log"
		return 0
	fi
	item deb "make deb" pass
	if deb_lintian "$dir"; then
		item deb lintian pass
	else
		item deb lintian fail style "$dir/lintian.txt"
	fi
	# Left by a run that was stopped before its purge: DKMS would refuse
	# to build the same version again.
	if dpkg-query -W ownbuf-dkms >/dev/null 2>&1; then
		deb_purge >"$dir/purge-before.log" 2>&1 || true
	fi
	if ! deb_install "$dir" >"$dir/install.log" 2>&1; then
		item deb "apt install" fail build "$dir/install.log"
		return 0
	fi
	item deb "apt install" pass
	for k in $KERNELS; do
		case $k in stock*) ;; *) continue ;; esac
		[ -n "${K_KDIR[$k]:-}" ] || continue
		if ko=$(deb_dkms "${K_KVER[$k]}" "${K_KDIR[$k]}" \
			2>"$dir/dkms-$k.log"); then
			K_DKMS[$k]=$ko
			item deb "dkms build and install" pass "" "" "$k"
		else
			item deb "dkms build and install" fail build \
				"$dir/dkms-$k.log" "$k"
		fi
	done
}

# stage_deb_purge - the packages removed: no module left in any tree.
stage_deb_purge()
{
	local k kvers=() ITEMS=$OUT/items-deb.jsonl

	dpkg-query -W ownbuf-dkms >/dev/null 2>&1 || return 0
	for k in "${!K_DKMS[@]}"; do
		kvers+=("${K_KVER[$k]}")
	done
	if deb_purge "${kvers[@]}" >"$BUILD/deb/purge.log" 2>&1; then
		item deb "apt purge removes the module" pass
	else
		item deb "apt purge removes the module" fail build \
			"$BUILD/deb/purge.log"
	fi
}

# stage_harness JOBS - the harness self-test, JOBS canary boots at a time.
stage_harness()
{
	local items=$OUT/items-harness.jsonl

	# Misjudged sins are items of the report, not a reason to stop here;
	# a self-test that could not run at all is one.
	"$TOP/scripts/selftest-harness.sh" --jobs "$1" --items "$items" 2>&1 |
		tee "$BUILD/harness.log" >&2 || true
	if [ ! -s "$items" ]; then
		ITEMS=$items item harness "self-test" fail harness \
			"$BUILD/harness.log"
	fi
}

main()
{
	local k t t0 rc=0 bg="" fg
	local -a files=()

	while [ $# -gt 0 ]; do
		case $1 in
		--only) STAGES=$2; shift ;;
		--kernels) KERNELS=$2; shift ;;
		-h|--help) usage ;;
		*) usage ;;
		esac
		shift
	done

	mkdir -p "$BUILD"
	exec 8>"$BUILD/.check.lock"
	if ! flock -n 8; then
		log "another check runs in this checkout; waiting for it"
		flock 8
	fi
	rm -rf "$OUT"
	mkdir -p "$OUT"
	t0=$(now)
	kernel_source

	if want tests; then
		kernels_get
		build_userspace
		# Installed here, once: the guests and stages below run side
		# by side, and apt cannot run twice at a time.
		# shellcheck disable=SC2046,SC2086
		ensure_packages $GUEST_PACKAGES $STATIC_PACKAGES $DEB_PACKAGES \
			$(guest_tools)
		# The debug and KCSAN runs are the long ones (KASAN, lockdep,
		# kmemleak, KCSAN under TCG): each starts in the background as
		# soon as its modules are built; the debug run, the longest on
		# one host thread, keeps its priority, everything else is niced
		# below it.
		for k in debug kcsan; do
			if [[ " $KERNELS " != *" $k "* ]]; then
				continue
			fi
			build_modules "$k"
			[ -n "${K_BUILT[$k]:-}" ] || continue
			log "$k guest runs in the background (log: $OUT/$k.log)"
			if [ "$k" = debug ]; then
				timed "$k guest" test_kernel "$k" >"$OUT/$k.log" 2>&1 &
			else
				timed "$k guest" nice_run test_kernel "$k" \
					>"$OUT/$k.log" 2>&1 &
			fi
			bg="$bg $k:$!"
		done
		renice -n 5 $$ >/dev/null 2>&1 || true
		for k in $KERNELS; do
			case $k in
			debug|kcsan) ;;
			*) build_modules "$k" ;;
			esac
		done
	fi
	if want style; then
		timed style stage_style
	fi
	if want style || want borrowck; then
		timed borrowck stage_borrowck
	fi
	if want sparse; then
		timed sparse stage_sparse
	fi
	# The rest below the long guests, which end about when the packages
	# are built: then the stock guests, one after the other, run beside
	# the vm stage and the canary boots, so that both CPUs stay busy to
	# the end.  (Everything at once starved the debug guest, the longest,
	# and the canary boots: one timed out booting.)
	if want tests; then
		# Not timed (a subshell): it sets K_DKMS for the guests.
		t=$(now)
		stage_deb
		log "deb: $(($(now) - t))s wall"
		fg=""
		for k in $KERNELS; do
			[[ " $bg " == *" $k:"* ]] || fg="$fg $k"
		done
		if [ -n "$fg" ]; then
			log "the stock guests run in the background (log: $OUT/stock.log)"
			for k in $fg; do
				timed "$k guest" test_kernel "$k"
			done >"$OUT/stock.log" 2>&1 &
			bg="$bg stock:$!"
		fi
	fi
	if want vm; then
		timed vm stage_vm
	fi
	if want harness; then
		timed harness stage_harness 2
	fi
	for k in $bg; do
		log "waiting for: ${k%%:*}"
		wait "${k#*:}" || true
		cat "$OUT/${k%%:*}.log"
	done
	# After the guests that use what DKMS installed.
	want tests && stage_deb_purge

	log "finished in $(($(now) - t0))s; results in $OUT"
	echo
	for k in $ITEM_FILES; do
		[ -f "$OUT/items-$k.jsonl" ] && files+=("$OUT/items-$k.jsonl")
	done
	[ ${#files[@]} -gt 0 ] || files=("$OUT/items-build.jsonl")
	python3 "$JUDGE" report "${files[@]}" | tee "$OUT/report.txt" || rc=$?
	return "$rc"
}

main "$@"
