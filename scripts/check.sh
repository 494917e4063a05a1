#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The ownbuf test command, "make check" ("Testing" in README.md):
#   scripts/check.sh [--only STAGES] [--kernels KERNELS] [--sins SINS]
# STAGES: a comma-separated subset of tests,sparse,style,borrowck,vm,
# harness,kunit (style runs borrowck too).  Results go to build/check/.

# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/lib/common.sh"
# shellcheck source=scripts/deb.sh
. "$TOP/scripts/deb.sh"

BUILD=$TOP/build
OUT=$BUILD/check
# One items file per stage (stages run side by side).
ITEMS=$OUT/items-build.tsv
JUDGE=$TOP/scripts/judge.py
BOOT_TIMEOUT=${OWNBUF_BOOT_TIMEOUT:-3600}
# A test that outlives TEST_TIMEOUT is killed, so a live guest always says
# something within IDLE_TIMEOUT seconds.
TEST_TIMEOUT=300
IDLE_TIMEOUT=480
STAGES="tests,sparse,style,vm,harness,kunit"
# The kernels whose guest also runs the kselftest install's run_kselftest.sh.
KSELFTEST_KERNELS=stock612
KERNELS=$KERNEL_NAMES

declare -A K_KDIR K_BZIMAGE K_CMDLINE K_BUILT K_KVER K_DKMS

# item SUITE NAME pass|fail|skip [CATEGORY [DETAIL_FILE [KERNEL]]] - a
# verdict of a host stage, a line of $ITEMS for "judge.py report"; a
# failure's detail is copied beside it.
item()
{
	local detail=""

	[ "$3" != pass ] || set -- "$1" "$2" pass "" "" "${6:-}"
	touch "$ITEMS"
	if [ -f "${5:-}" ]; then
		mkdir -p "$ITEMS.d"
		detail=$ITEMS.d/$(wc -l <"$ITEMS")
		cp "$5" "$detail"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "${6:-host}" "$1" "$2" "$3" "${4:-}" \
		"$detail" >>"$ITEMS"
}

# run_item SUITE NAME CATEGORY LOG CMD... - CMD as one item, its output in
# LOG; returns CMD's status.
run_item()
{
	local rc=0 st=pass

	"${@:5}" >"$4" 2>&1 || { rc=$?; st=fail; }
	item "$1" "$2" $st "$3" "$4"
	return $rc
}

# build_item SUITE NAME RC LOG [KERNEL] - a build that ended with status
# RC: a failure (its last lines), a warning (its diagnostics) or a pass.
build_item()
{
	local warn=${4%.log}-warnings.log

	build_warnings "$4" >"$warn"
	tail -n 40 "$4" >"${4%.log}-failure.log"
	if [ "$3" -ne 0 ]; then
		item "$1" "$2" fail build "${4%.log}-failure.log" "${5:-}"
	else
		item "$1" "$2" "$([ -s "$warn" ] && echo fail || echo pass)" \
			warning "$warn" "${5:-}"
	fi
	return "$3"
}

want()
{
	[[ ",$STAGES," == *",$1,"* ]]
}

# kernel_try NAME - kernel_get, but a kernel that cannot be had is a failed
# item, not the end of the run.
kernel_try()
{
	# A subshell survives die(); the second call is the cached result.
	if (kernel_get "$1") 2>&1 | tee "$BUILD/kernel-$1.log" >&2; then
		kernel_get "$1" 2>/dev/null
		K_KDIR[$1]=$KDIR K_BZIMAGE[$1]=$BZIMAGE
		K_CMDLINE[$1]=$KCMDLINE K_KVER[$1]=$KVER
		return 0
	fi
	item kernel "get $1" fail kernel "$BUILD/kernel-$1.log" "$1"
	return 1
}

# build_modules KERNEL - the repository's Kbuild against KERNEL, W=1.
build_modules()
{
	local k=$1 rc=0

	[ -n "${K_KDIR[$k]:-}" ] || return 0
	log "building the modules against $k"
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
	build_kselftest "$dir/src"
}

# build_kselftest SRC - SRC/selftests as a kernel CI builds them: dropped
# into a kernel tree as tools/testing/selftests/ownbuf and installed by
# kselftest's own Makefile, run_kselftest.sh and all, into
# $BUILD/kselftest (static: the guests have no C library).  The tree is
# what that needs of the cached source, hardlinked; the unpack is shared.
build_kselftest()
{
	local dir=$BUILD/kselftest-tree rc=0

	rm -rf "$dir" "$BUILD/kselftest"
	mkdir -p "$dir/scripts"
	cp -al "$KSRC/tools" "$KSRC/Makefile" "$dir/"
	cp -al "$KSRC/scripts/subarch.include" "$dir/scripts/"
	cp -r "$1/selftests" "$dir/tools/testing/selftests/ownbuf"
	log "kselftest: make -C tools/testing/selftests TARGETS=ownbuf install"
	make -C "$dir/tools/testing/selftests" TARGETS=ownbuf \
		OWNBUF_UAPI="$1/include/uapi" LDFLAGS=-static \
		INSTALL_PATH="$BUILD/kselftest" install \
		>"$BUILD/host/kselftest.log" 2>&1 || rc=$?
	build_item build "kselftest install" $rc "$BUILD/host/kselftest.log" ||
		true
	rm -rf "$dir"
}

# test_kernel KERNEL - run-tests.sh in KERNEL with all built for it; judge.
test_kernel()
{
	local k=$1 src=$BUILD/$1/src run=$OUT/$1 f
	local -a adds=(-a "$src/module/ownbuf.ko:/ownbuf/modules/ownbuf.ko")

	[ -n "${K_BUILT[$k]:-}" ] || return 0
	mkdir -p "$run"
	cat >"$run/run.conf" <<-EOF
	OWNBUF_KERNEL=$k
	OWNBUF_TEST_TIMEOUT=$TEST_TIMEOUT
	OWNBUF_EXCLUDE="$(kernel_exclude "$k")"
	OWNBUF_DKMS=${K_DKMS[$k]:-}
	EOF
	# With DKMS: what it installed from the package, loaded by modprobe.
	[ -z "${K_DKMS[$k]:-}" ] ||
		adds=(-a "${K_DKMS[$k]}:${K_DKMS[$k]}" -b /usr/bin/ownbuf)
	echo "$SELFTEST_PROGS" >"$run/programs"
	for f in "$src"/{kunit,samples,selftests/test_modules}/*.ko; do
		f=${f#"$src"/}
		[ -f "$src/$f" ] && adds+=(-a "$src/$f:/ownbuf/${f#selftests/}")
	done
	[ -d "$BUILD/selftests" ] && adds+=(-a "$BUILD/selftests:/ownbuf/selftests")
	[ -d "$BUILD/tools" ] && adds+=(-a "$BUILD/tools:/ownbuf/bin")
	# kselftest's own runner, once, on what users insmod into; its
	# runner wants coreutils' timeout (--foreground).
	[[ " $KSELFTEST_KERNELS " != *" $k "* ]] || [ ! -d "$BUILD/kselftest" ] ||
		adds+=(-a "$BUILD/kselftest:/ownbuf/kselftest" -b /usr/bin/timeout)
	for f in "$run/programs" "$TOP"/{tools/test-*.sh,selftests/*.sh}; do
		[ -f "$f" ] && adds+=(-a "$f:/ownbuf/selftests/${f##*/}")
	done
	# log_buf_len: kselftest output passes through the kernel log.
	guest_boot -k "${K_BZIMAGE[$k]}" -o "$run" -t "$BOOT_TIMEOUT" \
		-I "$IDLE_TIMEOUT" -A "$(kernel_accel "$k")" \
		-a "$run/run.conf:/ownbuf/run.conf" \
		-c "${K_CMDLINE[$k]} log_buf_len=4M" "${adds[@]}" || true
	python3 "$JUDGE" run --kernel "$k" --dir "$run" --ksrc "$KSRC" \
		--out "$OUT/items-$k.jsonl" ||
		ITEMS=$OUT/items-$k.tsv item judge "judge.py run" fail judge "" "$k"
}

# timed WHAT CMD... - CMD in a subshell; log its wall and CPU time (QEMU's).
timed()
{
	local TIMEFORMAT="[$OWNBUF_LOG_TAG] $1: %0Rs wall, %0Us user + %0Ss system CPU"

	shift
	time ( "$@" || exit )
}

stage_sparse()
{
	local dir=$BUILD/sparse rc=0 ITEMS=$OUT/items-static.tsv

	kernel_try debug || return 0
	log "sparse (C=2) against the debug kernel"
	# W= (no extra warnings): the builds judge the compiler's.
	modules_build "$KDIR" "$dir" W= C=2 CHECK=sparse || rc=$?
	build_item static sparse $rc "$dir/build.log" || true
}

stage_style()
{
	local f dir=$BUILD/style ITEMS=$OUT/items-static.tsv

	mkdir -p "$dir"
	log "checkpatch.pl --strict, kernel-doc, the README's examples"
	cd "$TOP"
	for f in $(find module include kunit samples selftests tools \
		   scripts/canary -name '*.[ch]' | LC_ALL=C sort); do
		run_item checkpatch "$f" style "$dir/out.log" \
			"$KSRC/scripts/checkpatch.pl" --strict --no-tree \
			--no-summary --terse --show-types -f "$f" || true
	done
	# It must say nothing.
	run_item kernel-doc "kernel-doc -Wall" style "$dir/kernel-doc.log" \
		sh -c '! "$@" 2>&1 | grep .' - "$KSRC/scripts/kernel-doc" -none \
		-Wall include/linux/ownbuf.h include/uapi/linux/ownbuf.h \
		module/*.[ch] || true
	run_item readme "examples are the built files" style \
		"$dir/readme.log" scripts/check-readme.sh || true
}

vm_pty()
{
	python3 "$TOP/scripts/vm-pty.py" "$1/terminal.log" ||
		{ tail -vn 30 "$1"/terminal.log*; false; }
}

# stage_borrowck - "make borrowck": the project's kernel code breaks none of
# the rules of scripts/borrowck, which find every planted mistake.
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

	rm -rf "$dir" && mkdir -p "$dir"
	run_item vm "make vm in a pseudo-terminal" interactive \
		"$dir/vm-pty.log" vm_pty "$dir" || true
}

# stage_deb - "make deb", lintian, apt install and DKMS builds for the
# stock kernels, whose guests then modprobe what DKMS installed (K_DKMS).
stage_deb()
{
	local dir=$BUILD/deb k ko rc ITEMS=$OUT/items-deb.tsv

	run_item deb "make deb" build "$dir.log" deb_build "$dir" || return 0
	run_item deb lintian style "$dir/lintian.log" deb_lintian "$dir" || true
	# Left by a stopped run: DKMS would refuse the same version again.
	# shellcheck disable=SC2119
	! dpkg-query -W ownbuf-dkms >/dev/null 2>&1 ||
		deb_purge >"$dir/purge-before.log" 2>&1 || true
	run_item deb "apt install" build "$dir/install.log" \
		deb_install "$dir" || return 0
	for k in $KERNELS; do
		[[ $k == stock* && -n ${K_KDIR[$k]:-} ]] || continue
		rc=fail
		ko=$(deb_dkms "${K_KVER[$k]}" "${K_KDIR[$k]}" \
			2>"$dir/dkms-$k.log") && K_DKMS[$k]=$ko && rc=pass
		item deb "dkms build and install" $rc build "$dir/dkms-$k.log" "$k"
	done
}

# stage_deb_purge - "apt purge" leaves no module in any tree.
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

# The harness self-test proves it can see red: the canary module is booted
# once per sin, and the judge must report exactly that category of
# failure, nothing else ("none": green).
declare -A SIN_EXPECT=([none]="" [uaf]=kasan [lockdep]=lockdep [warn]=warning
	[leak]=kmemleak [kunit]=kunit [pin]=rmmod [panic]=death [hang]=hang
	[race]=kcsan [borrow-abba]=lockdep [borrow-mutex]=lockdep)
SINS="hang none uaf lockdep borrow-abba borrow-mutex warn leak kunit pin panic race"
# The ownbuf.ko each kernel's canary runs with.
declare -A HARNESS_KO=()

# run_sin SIN - boot the canary with SIN (in kcsan for the race) and judge
# it: $OUT/harness/SIN/judge.log, and "passed" if as expected.
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
	# No KFENCE: were the canary's allocation sampled, it would report
	# the use-after-free, not KASAN.
	guest_boot -q -k "${K_BZIMAGE[$k]}" -o "$dir" -t 300 -I "$idle" \
		-A "$(kernel_accel "$k")" \
		-c "${K_CMDLINE[$k]} kfence.sample_interval=0" \
		-a "$dir/run.conf:/ownbuf/run.conf" \
		-a "${HARNESS_KO[$k]}:/ownbuf/modules/ownbuf.ko" \
		-a "$OUT/harness/$k/scripts/canary/ownbuf_canary.ko:/ownbuf/modules/ownbuf_canary.ko" ||
		true
	# shellcheck disable=SC2086
	python3 "$JUDGE" run --kernel "canary-$sin" --dir "$dir" --ksrc "$KSRC" \
		--out "$dir/items.jsonl" --expect ${SIN_EXPECT[$sin]} \
		>"$dir/judge.log" 2>&1 && touch "$dir/passed"
}

# stage_harness JOBS - JOBS canary boots at a time, and the hanging one
# (caught by the idle watchdog) beside them.
stage_harness()
{
	local sin k rc running=0 pid hang_pid="" symvers
	local ITEMS=$OUT/items-harness.tsv

	for k in debug $([[ " $SINS " == *" race "* ]] && echo kcsan); do
		kernel_try "$k" || return 0
		copy_tree "$OUT/harness/$k"
		rc=0
		# ownbuf.ko first: the canary uses its API.  The tests stage of
		# this run built it against $k already: the canary links
		# against that build's symbols.
		HARNESS_KO[$k]=$BUILD/$k/src/module/ownbuf.ko
		symvers=$BUILD/$k/src/Module.symvers
		[ -n "${K_BUILT[$k]:-}" ] || {
			HARNESS_KO[$k]=$OUT/harness/$k/module/ownbuf.ko
			symvers=$OUT/harness/$k/module/Module.symvers
			make -C "$KDIR" M="$OUT/harness/$k/module" W=1 modules
		} >"$OUT/harness/build-$k.log" 2>&1 &&
		make -C "$KDIR" M="$OUT/harness/$k/scripts/canary" W=1 \
			KBUILD_EXTRA_SYMBOLS="$symvers" \
			modules >>"$OUT/harness/build-$k.log" 2>&1 || rc=$?
		build_item harness "canary builds against $k" $rc \
			"$OUT/harness/build-$k.log" || return 0
	done
	log "harness self-test: booting the canary with: $SINS"
	for sin in $SINS; do
		run_sin "$sin" &
		[ "$sin" != hang ] || { hang_pid=$!; continue; }
		running=$((running + 1))
		while [ $running -ge "$1" ]; do
			wait -n -p pid || true
			[ "$pid" = "$hang_pid" ] || running=$((running - 1))
		done
	done
	wait
	for sin in $SINS; do
		[ -e "$OUT/harness/$sin/passed" ] && rc=pass || rc=fail
		item harness "sin=$sin -> ${SIN_EXPECT[$sin]:-nothing}" $rc \
			harness "$OUT/harness/$sin/judge.log"
	done
}

# stage_kunit - "make kunit" in an x86_64 guest; one item per case.
stage_kunit()
{
	local dir=$BUILD/kunit rc=0

	rm -rf "$dir" && mkdir -p "$dir"
	"$TOP/scripts/kunit.sh" --arch x86_64 --json "$dir/x86_64.json" \
		>"$dir/run.log" 2>&1 || rc=$?
	python3 "$JUDGE" kunit-json --kernel kunit.py-x86_64 --rc $rc \
		--json "$dir/x86_64.json" --console "$dir/x86_64.console" \
		--log "$dir/run.log" --out "$OUT/items-kunit.jsonl"
}

main()
{
	local k t0 rc=0 bg="" fg="" pkgs="sparse perl"

	while [ $# -gt 1 ]; do
		case $1 in
		--only) STAGES=$2 ;;
		--kernels) KERNELS=$2 ;;
		--sins) SINS=$2 ;;
		*) break ;;
		esac
		shift 2
	done
	[ $# -eq 0 ] || { usage_of "$0"; exit 1; }
	for k in $KERNELS; do
		case " $KERNEL_NAMES " in
		*" $k "*) ;;
		*) die "unknown kernel '$k' (one of: $KERNEL_NAMES)" ;;
		esac
	done

	mkdir -p "$BUILD"
	exec 8>"$BUILD/.check.lock"
	flock -n 8 || { log "another check runs here; waiting"; flock 8; }
	rm -rf "$OUT"
	mkdir -p "$OUT"
	t0=$(now)
	kernel_source
	# Once, here: the stages below run side by side, apt cannot.
	want tests || want vm || want harness &&
		pkgs="$pkgs $GUEST_PACKAGES $DEB_PACKAGES"
	# shellcheck disable=SC2086
	ensure_packages $pkgs

	if want tests; then
		for k in $KERNELS; do
			kernel_try "$k" || true
		done
		build_userspace
		# The long guests start in the background once their modules
		# are built; all but the debug one, the longest, niced.
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
	# The long guests end about when the packages are built: then the
	# stock guests, one at a time, run beside the vm stage and the canary
	# boots, to keep both CPUs busy to the end without starving any.
	if want tests; then
		stage_deb	# not in a subshell: it sets K_DKMS
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
	python3 "$JUDGE" report "$OUT"/items-{build,deb,debug,kcsan}.{tsv,jsonl} \
		"$OUT"/items-{stock61,stock612,kunit,static,vm,harness}.{tsv,jsonl} |
		tee "$OUT/report.txt" || rc=$?
	return "$rc"
}

main "$@"
