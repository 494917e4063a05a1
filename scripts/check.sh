#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The ownbuf test command ("make check").  See "Testing" in README.md.
#
#   scripts/check.sh                    everything
#   scripts/check.sh --only STAGES      a comma-separated subset of
#                                       tests,sparse,style,borrowck,vm,
#                                       harness,kunit
#   scripts/check.sh --kernels "debug stock612"
#                                       test on these kernels only (default:
#                                       debug kcsan stock61 stock612)
#   scripts/check.sh --only harness --sins "uaf race"
#                                       the harness self-test, some sins
#
# Environment: OWNBUF_CACHE (default ~/.cache/ownbuf) holds the kernels;
# OWNBUF_JOBS (default nproc); OWNBUF_BOOT_TIMEOUT (default 3600 s per
# guest run).  Results go to build/check/; the last line printed is
# "N passed, N failed" (scripts/judge.py report) and the exit status is
# non-zero on any failure.

set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib/common.sh
. "$TOP/scripts/lib/common.sh"
# shellcheck source=scripts/deb.sh
. "$TOP/scripts/deb.sh"

BUILD=$TOP/build
OUT=$BUILD/check
# Items (verdicts) are written per stage, so that stages running at the
# same time never share a file; the report reads them in this order.
ITEM_FILES="build deb debug kcsan stock61 stock612 kunit static vm harness"
ITEMS=$OUT/items-build.tsv
JUDGE=$TOP/scripts/judge.py
BOOT_TIMEOUT=${OWNBUF_BOOT_TIMEOUT:-3600}
# Seconds a single test may take in the guest, and seconds without any
# output after which a guest counts as hung (a test that outlives its
# timeout is killed, so a live guest always says something sooner).
TEST_TIMEOUT=300
IDLE_TIMEOUT=480
STAGES="tests,sparse,style,vm,harness,kunit"
KERNELS=$KERNEL_NAMES
STATIC_PACKAGES="sparse perl"

declare -A K_KDIR K_BZIMAGE K_CMDLINE K_BUILT K_KVER K_DKMS

# item SUITE NAME pass|fail|skip [CATEGORY [DETAIL_FILE [KERNEL]]]
item()
{
	item_to "$ITEMS" "$@"
}

# run_item SUITE NAME CATEGORY LOG CMD... - CMD as one item: pass if it
# succeeds, else a failure of CATEGORY with its output (LOG).  Returns
# CMD's status.
run_item()
{
	local suite=$1 name=$2 cat=$3 logf=$4 rc=0

	shift 4
	"$@" >"$logf" 2>&1 || rc=$?
	if [ $rc -eq 0 ]; then
		item "$suite" "$name" pass
	else
		item "$suite" "$name" fail "$cat" "$logf"
	fi
	return $rc
}

# build_item SUITE NAME RC LOG [KERNEL] - a build that ended with status
# RC: a failure (its last lines), a warning (its diagnostics) or a pass.
build_item()
{
	local warn=${4%.log}-warnings.log

	build_warnings "$4" >"$warn"
	if [ "$3" -ne 0 ]; then
		tail -n 40 "$4" >"${4%.log}-failure.log"
		item "$1" "$2" fail build "${4%.log}-failure.log" "${5:-}"
	elif [ -s "$warn" ]; then
		item "$1" "$2" fail warning "$warn" "${5:-}"
	else
		item "$1" "$2" pass "" "" "${5:-}"
	fi
	return "$3"
}

# quiet CMD... - CMD must succeed and say nothing.
quiet()
{
	local out

	out=$("$@" 2>&1) || { echo "$out"; return 1; }
	echo "$out"
	[ -z "$out" ]
}

want()
{
	[[ ",$STAGES," == *",$1,"* ]]
}

# kernel_try NAME - kernel_get, but a kernel that cannot be built or
# fetched is a failure item instead of the end of the run.
kernel_try()
{
	local logf=$BUILD/kernel-$1.log

	mkdir -p "$BUILD"
	# The first call, in a subshell, survives die(); the second one is
	# the cached result, setting the variables here.
	if (kernel_get "$1") 2>&1 | tee "$logf" >&2; then
		kernel_get "$1" 2>/dev/null
		return 0
	fi
	item kernel "get $1" fail kernel "$logf" "$1"
	return 1
}

# build_modules KERNEL - the repository's Kbuild against KERNEL, with W=1.
build_modules()
{
	local k=$1 rc=0

	[ -n "${K_KDIR[$k]:-}" ] || return 0
	log "building the modules against $k"
	mkdir -p "$BUILD/$k"
	modules_build "${K_KDIR[$k]}" "$BUILD/$k" || rc=$?
	build_item build "modules W=1" $rc "$BUILD/$k/build.log" "$k" &&
		K_BUILT[$k]=1
	return 0
}

# build_userspace - the selftests and tools/ownbuf, static.
build_userspace()
{
	local dir=$BUILD/host rc=0 prog

	copy_tree "$dir/src"
	rm -rf "$BUILD/selftests" "$BUILD/tools"
	log "building the selftests and the tools (static)"
	make -C "$dir/src/selftests" KSFT_DIR="$KSRC/tools/testing/selftests" \
		OUT="$BUILD/selftests" >"$dir/selftests.log" 2>&1 || rc=$?
	build_item build selftests $rc "$dir/selftests.log" || true
	SELFTEST_PROGS=$(make -s -C "$dir/src/selftests" list) ||
		item build "selftests list" fail build "$dir/selftests.log"
	for prog in $SELFTEST_PROGS; do
		if readelf -d "$BUILD/selftests/$prog" 2>&1 | grep -q NEEDED; then
			echo "$prog is dynamically linked" >"$dir/static.log"
			item build "selftests static" fail build "$dir/static.log"
		fi
	done
	rc=0
	make -C "$dir/src" tools TOOLS_OUT="$BUILD/tools" LDFLAGS=-static \
		>"$dir/tools.log" 2>&1 || rc=$?
	build_item build tools $rc "$dir/tools.log" || true
}

# test_kernel KERNEL - boot KERNEL with everything built for it, run the
# test sequence (scripts/guest/run-tests.sh) and judge the run.
test_kernel()
{
	local k=$1 src=$BUILD/$1/src run=$OUT/$1 f
	local -a adds=()

	[ -n "${K_BUILT[$k]:-}" ] || return 0
	mkdir -p "$run"
	cat >"$run/run.conf" <<-EOF
	OWNBUF_KERNEL=$k
	OWNBUF_TEST_TIMEOUT=$TEST_TIMEOUT
	OWNBUF_EXCLUDE="$(kernel_exclude "$k")"
	OWNBUF_DKMS=${K_DKMS[$k]:-}
	EOF
	if [ -n "${K_DKMS[$k]:-}" ]; then
		# What DKMS installed from the package, loaded by modprobe.
		adds+=(-a "${K_DKMS[$k]}:${K_DKMS[$k]}" -b /usr/bin/ownbuf)
	else
		adds+=(-a "$src/module/ownbuf.ko:/ownbuf/modules/ownbuf.ko")
	fi
	for f in "$src"/{kunit,samples,selftests/test_modules}/*.ko; do
		f=${f#"$src"/}
		[ -f "$src/$f" ] && adds+=(-a "$src/$f:/ownbuf/${f#selftests/}")
	done
	echo "$SELFTEST_PROGS" >"$run/programs"
	for f in "$run/programs" "$TOP"/tools/test-*.sh "$TOP"/selftests/*.sh; do
		adds+=(-a "$f:/ownbuf/selftests/${f##*/}")
	done
	for f in $SELFTEST_PROGS; do
		[ -f "$BUILD/selftests/$f" ] &&
			adds+=(-a "$BUILD/selftests/$f:/ownbuf/selftests/$f")
	done
	for f in "$BUILD"/tools/*; do
		[ -x "$f" ] && adds+=(-a "$f:/ownbuf/bin/${f##*/}")
	done
	# A kselftest program's whole output passes through the kernel log
	# (run-tests.sh): room for the largest one (~150 KiB) and more.
	guest_boot -k "${K_BZIMAGE[$k]}" -o "$run" -t "$BOOT_TIMEOUT" \
		-I "$IDLE_TIMEOUT" -A "$(kernel_accel "$k")" \
		-a "$run/run.conf:/ownbuf/run.conf" \
		-c "${K_CMDLINE[$k]} log_buf_len=4M" "${adds[@]}" || true
	python3 "$JUDGE" run --kernel "$k" --dir "$run" --ksrc "$KSRC" \
		--out "$OUT/items-$k.jsonl" ||
		ITEMS=$OUT/items-$k.tsv item judge "judge.py run" fail judge \
			"" "$k"
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

stage_sparse()
{
	local dir=$BUILD/sparse rc=0 ITEMS=$OUT/items-static.tsv

	kernel_try debug || return 0
	log "sparse (C=2) against the debug kernel"
	mkdir -p "$dir"
	# W= (no extra warnings): the compiler's are judged by the builds.
	modules_build "$KDIR" "$dir" W= C=2 CHECK=sparse || rc=$?
	build_item static sparse $rc "$dir/build.log" || true
}

stage_style()
{
	local f dir=$BUILD/style ITEMS=$OUT/items-static.tsv

	mkdir -p "$dir"
	log "checkpatch.pl --strict, kernel-doc, the README's examples"
	cd "$TOP"
	# Every C source and header of the project, the canary included.
	for f in $(find module include kunit samples selftests tools \
		   scripts/canary -name '*.[ch]' | LC_ALL=C sort); do
		run_item checkpatch "$f" style "$dir/out.log" \
			"$KSRC/scripts/checkpatch.pl" --strict --no-tree \
			--no-summary --terse --show-types -f "$f" || true
	done
	# kernel-doc of the API and the engine, which Documentation/ pulls
	# in: no warning.
	run_item kernel-doc "kernel-doc -Wall" style "$dir/kernel-doc.log" \
		quiet "$KSRC/scripts/kernel-doc" -none -Wall \
		include/linux/ownbuf.h include/uapi/linux/ownbuf.h \
		module/*.[ch] || true
	run_item readme "examples are the built files" style \
		"$dir/readme.log" scripts/check-readme.sh || true
}

vm_pty()
{
	python3 "$TOP/scripts/vm-pty.py" "$1/terminal.log" && return 0
	echo "--- what the terminal showed last:"
	tail -n 30 "$1"/terminal.log*
	return 1
}

# stage_borrowck - "make borrowck": the project's own kernel code breaks
# none of the rules scripts/borrowck checks, and the checks find every
# planted mistake of scripts/borrowck/tests and nothing else.
stage_borrowck()
{
	local dir=$BUILD/borrowck ITEMS=$OUT/items-static.tsv

	ensure_packages coccinelle
	mkdir -p "$dir"
	log "borrowck (Coccinelle) on the project's kernel code"
	run_item borrowck "the project's kernel code" borrowck \
		"$dir/own.log" "$TOP/scripts/borrowck/borrowck.sh" || true
	run_item borrowck "planted mistakes" borrowck "$dir/tests.log" \
		"$TOP/scripts/borrowck/tests/run.sh" || true
}

# stage_vm - "make vm" as a user at a terminal runs it (scripts/vm-pty.py).
stage_vm()
{
	local dir=$BUILD/vm ITEMS=$OUT/items-vm.tsv

	rm -rf "$dir"
	mkdir -p "$dir"
	run_item vm "make vm in a pseudo-terminal" interactive \
		"$dir/vm-pty.log" vm_pty "$dir" || true
}

# stage_deb - "make deb", lintian, the packages installed here and DKMS
# building and installing the module for each stock kernel: the stock
# guests then modprobe what DKMS installed (K_DKMS).
stage_deb()
{
	local dir=$BUILD/deb k ko ITEMS=$OUT/items-deb.tsv

	run_item deb "make deb" build "$dir.log" deb_build "$dir" || return 0
	run_item deb lintian style "$dir/lintian.log" deb_lintian "$dir" || true
	# Left by a run that was stopped before its purge: DKMS would refuse
	# to build the same version again.
	if dpkg-query -W ownbuf-dkms >/dev/null 2>&1; then
		# shellcheck disable=SC2119
		deb_purge >"$dir/purge-before.log" 2>&1 || true
	fi
	run_item deb "apt install" build "$dir/install.log" \
		deb_install "$dir" || return 0
	for k in $KERNELS; do
		[[ $k == stock* && -n ${K_KDIR[$k]:-} ]] || continue
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
	local k kvers=() ITEMS=$OUT/items-deb.tsv

	dpkg-query -W ownbuf-dkms >/dev/null 2>&1 || return 0
	for k in "${!K_DKMS[@]}"; do
		kvers+=("${K_KVER[$k]}")
	done
	run_item deb "apt purge removes the module" build \
		"$BUILD/deb/purge.log" deb_purge "${kvers[@]}" || true
}

# The harness self-test: it proves that it can see red.  The canary
# module (scripts/canary/) is booted in the debug kernel once per sin (the
# data race in the kcsan kernel), the run is judged like any other, and the
# judge must report exactly the failure that sin is (that category,
# nothing else).  The control sin "none" must be judged green.  "hang" is
# caught by the idle watchdog, as a hang in a test run would be.
declare -A SIN_EXPECT=([none]="" [uaf]=kasan [lockdep]=lockdep [warn]=warning
	[leak]=kmemleak [kunit]=kunit [pin]=rmmod [panic]=death [hang]=hang
	[race]=kcsan [borrow-abba]=lockdep [borrow-mutex]=lockdep)
SINS="hang none uaf lockdep borrow-abba borrow-mutex warn leak kunit pin panic race"

# run_sin SIN - boot the canary with SIN, judge it; the verdict goes to
# $OUT/harness/SIN/verdict.
run_sin()
{
	local sin=$1 dir=$OUT/harness/$1 k=debug idle=0

	[ "$sin" = race ] && k=kcsan
	[ "$sin" = hang ] && idle=60
	mkdir -p "$dir"
	# The leak scans take a while: only where a leak is judged.
	cat >"$dir/run.conf" <<-EOF
	OWNBUF_KERNEL=canary-$sin
	OWNBUF_MODULE=ownbuf_canary
	OWNBUF_NEEDS=ownbuf
	OWNBUF_MODULE_ARGS=sin=$sin
	OWNBUF_KMEMLEAK=$([[ $sin == none || $sin == leak ]] && echo 1 || echo 0)
	EOF
	# KFENCE samples an allocation now and then: when it takes the
	# canary's, the use-after-free is a KFENCE report, not a KASAN one.
	# One detector per sin keeps the verdict exact.
	guest_boot -q -k "${K_BZIMAGE[$k]}" -o "$dir" -t 300 -I "$idle" \
		-A "$(kernel_accel "$k")" \
		-c "${K_CMDLINE[$k]} kfence.sample_interval=0" \
		-a "$dir/run.conf:/ownbuf/run.conf" \
		-a "$OUT/harness/$k/module/ownbuf.ko:/ownbuf/modules/ownbuf.ko" \
		-a "$OUT/harness/$k/scripts/canary/ownbuf_canary.ko:/ownbuf/modules/ownbuf_canary.ko" ||
		true
	# shellcheck disable=SC2086
	if python3 "$JUDGE" run --kernel "canary-$sin" --dir "$dir" \
		--ksrc "$KSRC" --out "$dir/items.jsonl" >"$dir/judge.log" 2>&1 &&
	   python3 "$JUDGE" expect --items "$dir/items.jsonl" \
		${SIN_EXPECT[$sin]} >>"$dir/judge.log" 2>&1; then
		echo pass >"$dir/verdict"
	else
		echo fail >"$dir/verdict"
	fi
}

# stage_harness JOBS - the self-test, JOBS canary boots at a time (the
# hanging guest idles, so it runs beside them, not in a slot).
stage_harness()
{
	local sin k rc running=0 pid hang_pid="" ITEMS=$OUT/items-harness.tsv

	for k in debug $([[ " $SINS " == *" race "* ]] && echo kcsan); do
		kernel_try "$k" || return 0
		K_BZIMAGE[$k]=$BZIMAGE
		K_CMDLINE[$k]=$KCMDLINE
		copy_tree "$OUT/harness/$k"
		rc=0
		# ownbuf.ko first: the canary uses its API.
		make -C "$KDIR" M="$OUT/harness/$k/module" W=1 modules \
			>"$OUT/harness/build-$k.log" 2>&1 &&
		make -C "$KDIR" M="$OUT/harness/$k/scripts/canary" W=1 modules \
			>>"$OUT/harness/build-$k.log" 2>&1 || rc=$?
		build_item harness "canary builds against $k" $rc \
			"$OUT/harness/build-$k.log" || return 0
	done
	log "harness self-test: booting the canary with: $SINS"
	for sin in $SINS; do
		run_sin "$sin" &
		if [ "$sin" = hang ]; then
			hang_pid=$!
			continue
		fi
		running=$((running + 1))
		while [ $running -ge "$1" ]; do
			wait -n -p pid || true
			[ "$pid" = "$hang_pid" ] || running=$((running - 1))
		done
	done
	wait
	for sin in $SINS; do
		if [ "$(cat "$OUT/harness/$sin/verdict")" = pass ]; then
			item harness "sin=$sin -> ${SIN_EXPECT[$sin]:-nothing}" pass
		else
			item harness "sin=$sin -> ${SIN_EXPECT[$sin]:-nothing}" \
				fail harness "$OUT/harness/$sin/judge.log"
		fi
	done
}

# stage_kunit - the KUnit suites as kernel CI runs them: kunit.py in a
# kernel tree with ownbuf built in (scripts/kunit.sh, "make kunit"), in an
# x86_64 guest; one item per case of its JSON.
stage_kunit()
{
	local dir=$BUILD/kunit rc=0

	rm -rf "$dir"
	mkdir -p "$dir"
	"$TOP/scripts/kunit.sh" --arch x86_64 --json "$dir/x86_64.json" \
		>"$dir/run.log" 2>&1 || rc=$?
	python3 "$JUDGE" kunit-json --kernel kunit.py-x86_64 --rc $rc \
		--json "$dir/x86_64.json" --console "$dir/x86_64.console" \
		--log "$dir/run.log" --out "$OUT/items-kunit.jsonl"
}

main()
{
	local k t0 rc=0 bg="" fg="" f pkgs
	local -a files=()

	while [ $# -gt 0 ]; do
		case $1 in
		--only) STAGES=$2; shift ;;
		--kernels) KERNELS=$2; shift ;;
		--sins) SINS=$2; shift ;;
		*) usage_of "$0"; exit 1 ;;
		esac
		shift
	done

	mkdir -p "$BUILD"
	exec 8>"$BUILD/.check.lock"
	flock -n 8 || { log "another check runs in this checkout; waiting"
			flock 8; }
	rm -rf "$OUT"
	mkdir -p "$OUT"
	t0=$(now)
	kernel_source
	# Installed here, once: the stages below run side by side, and apt
	# cannot run twice at a time.
	pkgs=$STATIC_PACKAGES
	if want tests || want vm || want harness; then
		pkgs="$pkgs $GUEST_PACKAGES $DEB_PACKAGES"
	fi
	# shellcheck disable=SC2086
	ensure_packages $pkgs

	if want tests; then
		for k in $KERNELS; do
			kernel_try "$k" || continue
			K_KDIR[$k]=$KDIR
			K_BZIMAGE[$k]=$BZIMAGE
			K_CMDLINE[$k]=$KCMDLINE
			K_KVER[$k]=$KVER
		done
		build_userspace
		# The debug and KCSAN runs are the long ones (KASAN, lockdep,
		# kmemleak, KCSAN under TCG): each starts in the background as
		# soon as its modules are built; the debug run, the longest on
		# one host thread, keeps its priority, everything else is niced
		# below it.
		for k in debug kcsan; do
			[[ " $KERNELS " == *" $k "* ]] || continue
			build_modules "$k"
			[ -n "${K_BUILT[$k]:-}" ] || continue
			log "$k guest runs in the background (log: $OUT/$k.log)"
			[ "$k" = debug ] || renice -n 5 $$ >/dev/null || true
			timed "$k guest" test_kernel "$k" >"$OUT/$k.log" 2>&1 &
			bg="$bg $k:$!"
		done
		renice -n 5 $$ >/dev/null || true
		for k in $KERNELS; do
			[[ " $bg " == *" $k:"* ]] && continue
			[[ $k == debug || $k == kcsan ]] || build_modules "$k"
			fg="$fg $k"
		done
	fi
	want style && timed style stage_style
	{ want style || want borrowck; } && timed borrowck stage_borrowck
	want sparse && timed sparse stage_sparse
	# The rest below the long guests, which end about when the packages
	# are built: then the stock guests, one after the other, run beside
	# the vm stage and the canary boots, so that both CPUs stay busy to
	# the end.  (Everything at once starved the debug guest, the longest,
	# and the canary boots: one timed out booting.)
	if want tests; then
		# Not in a subshell: it sets K_DKMS for the guests.
		stage_deb
		if [ -n "$fg" ]; then
			log "the stock guests run in the background (log: $OUT/stock.log)"
			for k in $fg; do
				timed "$k guest" test_kernel "$k"
			done >"$OUT/stock.log" 2>&1 &
			bg="$bg stock:$!"
		fi
	fi
	want vm && timed vm stage_vm
	want harness && timed harness stage_harness 2
	for k in $bg; do
		log "waiting for: ${k%%:*}"
		wait "${k#*:}" || true
		cat "$OUT/${k%%:*}.log"
	done
	# After the guests that use what DKMS installed.
	want tests && stage_deb_purge
	# Alone: a kernel build and a guest of its own.
	want kunit && timed kunit stage_kunit

	log "finished in $(($(now) - t0))s; results in $OUT"
	echo
	for k in $ITEM_FILES; do
		for f in "$OUT/items-$k".{tsv,jsonl}; do
			[ -f "$f" ] && files+=("$f")
		done
	done
	python3 "$JUDGE" report "${files[@]:-$ITEMS}" | tee "$OUT/report.txt" ||
		rc=$?
	return "$rc"
}

main "$@"
