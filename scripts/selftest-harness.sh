#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The harness proves that it can see red: the canary module
# (scripts/canary/) is booted in the debug kernel once per sin (the data
# race in the kcsan kernel), the run is judged like any other, and the
# judge must report exactly the failure that sin is (right category,
# nothing else).  The control sin "none" must be judged green.
#
#   scripts/selftest-harness.sh [--items FILE] [--sins "uaf warn ..."]
#                               [--jobs N]
#
# With --items, one item per sin is appended to FILE (suite "harness");
# otherwise the summary is printed.  Exit status 1 if any sin was misjudged.

set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
OWNBUF_TOP=$TOP
# shellcheck source=scripts/lib/common.sh
. "$TOP/scripts/lib/common.sh"
# shellcheck source=scripts/lib/kernel.sh
. "$TOP/scripts/lib/kernel.sh"
# shellcheck source=scripts/lib/guest.sh
. "$TOP/scripts/lib/guest.sh"

JUDGE=$TOP/scripts/judge.py
OUT=$TOP/build/harness

# sin -> the categories the judge must report, exactly.
declare -A EXPECT=(
	[none]=""
	[uaf]="kasan"
	[lockdep]="lockdep"
	[warn]="warning"
	[leak]="kmemleak"
	[kunit]="kunit"
	[pin]="rmmod"
	[panic]="death"
	[hang]="hang"
	[race]="kcsan"
)
SINS="hang none uaf lockdep warn leak kunit pin panic race"

# sin_kernel SIN - the kernel that sin is booted in.
sin_kernel()
{
	case $1 in
	race) echo kcsan ;;
	*) echo debug ;;
	esac
}

declare -A K_BZIMAGE K_CMDLINE
# A canary boot takes about 30 s.  "hang" is caught by the idle watchdog
# (no output for HANG_IDLE s), as a hang in a test run would be.
SIN_TIMEOUT=300
HANG_IDLE=60

# run_sin SIN - boot the canary with SIN and judge it.  Leaves the verdict
# in $OUT/SIN/verdict.
run_sin()
{
	local sin=$1 dir=$OUT/$1 idle=0 rc=0 k
	k=$(sin_kernel "$sin")

	[ "$sin" = hang ] && idle=$HANG_IDLE
	mkdir -p "$dir"
	{
		echo "OWNBUF_KERNEL=canary-$sin"
		echo "OWNBUF_MODULE=ownbuf_canary"
		echo "OWNBUF_MODULE_ARGS=sin=$sin"
		# The leak scans take a while: only where a leak is judged.
		case $sin in
		none|leak) ;;
		*) echo "OWNBUF_KMEMLEAK=0" ;;
		esac
	} >"$dir/run.conf"
	# KFENCE samples an allocation now and then: when it takes the
	# canary's, the use-after-free is a KFENCE report, not a KASAN one.
	# One detector per sin keeps the verdict exact.
	guest_boot -q -R -k "${K_BZIMAGE[$k]}" -o "$dir" -t "$SIN_TIMEOUT" \
		-I "$idle" -A "$(kernel_accel "$k")" \
		-c "${K_CMDLINE[$k]} kfence.sample_interval=0" \
		-a "$dir/run.conf:/ownbuf/run.conf" \
		-a "$OUT/$k/ownbuf_canary.ko:/ownbuf/modules/ownbuf_canary.ko" ||
		true
	rm -f "$dir/items.jsonl"
	python3 "$JUDGE" run --kernel "canary-$sin" --dir "$dir" \
		--ksrc "$KSRC" --out "$dir/items.jsonl" >"$dir/judge.log" 2>&1 ||
		rc=$?
	# shellcheck disable=SC2086
	if [ $rc -eq 0 ] &&
	   python3 "$JUDGE" expect --items "$dir/items.jsonl" ${EXPECT[$sin]} \
		>>"$dir/judge.log" 2>&1; then
		echo pass >"$dir/verdict"
	else
		echo fail >"$dir/verdict"
	fi
}

main()
{
	local items="" sins=$SINS sin running=0 rc=0 t0 expect k
	local jobs=$OWNBUF_JOBS hang_pid="" pid

	while [ $# -gt 0 ]; do
		case $1 in
		--items) items=$2; shift ;;
		--sins) sins=$2; shift ;;
		--jobs) jobs=$2; shift ;;
		*) usage_of "$0"; exit 1 ;;
		esac
		shift
	done
	for sin in $sins; do
		[ -n "${EXPECT[$sin]+set}" ] || die "unknown sin $sin"
	done

	t0=$(now)
	# shellcheck disable=SC2086
	ensure_packages $GUEST_PACKAGES
	kernel_source
	rm -rf "$OUT"
	mkdir -p "$OUT"
	for k in $(for sin in $sins; do sin_kernel "$sin"; done | sort -u); do
		kernel_get "$k"
		K_BZIMAGE[$k]=$BZIMAGE
		K_CMDLINE[$k]=$KCMDLINE
		cp -a "$TOP/scripts/canary/." "$OUT/$k/"
		log "harness self-test: building the canary against $k"
		if ! make -C "$KDIR" M="$OUT/$k" W=1 modules \
			>"$OUT/build-$k.log" 2>&1 ||
		   grep -qE '(warning|error):|^WARNING:' "$OUT/build-$k.log"; then
			cat "$OUT/build-$k.log" >&2
			for sin in $sins; do
				[ -z "$items" ] || python3 "$JUDGE" item \
					--out "$items" --suite harness \
					--name "sin=$sin" --status fail \
					--category harness \
					--detail-file "$OUT/build-$k.log"
			done
			die "the canary does not build cleanly against $k"
		fi
	done

	# One short boot per sin, $jobs at a time (TCG is one thread).  The
	# hanging guest idles, so it runs beside the others, not in a slot.
	log "harness self-test: booting the canary with: $sins"
	for sin in $sins; do
		run_sin "$sin" &
		if [ "$sin" = hang ]; then
			hang_pid=$!
			continue
		fi
		running=$((running + 1))
		while [ $running -ge "$jobs" ]; do
			pid=""
			wait -n -p pid || true
			[ "$pid" = "$hang_pid" ] || running=$((running - 1))
		done
	done
	wait

	for sin in $sins; do
		expect=${EXPECT[$sin]:-nothing}
		if [ "$(cat "$OUT/$sin/verdict" 2>/dev/null)" = pass ]; then
			log "harness: sin=$sin judged exactly as: $expect"
			[ -z "$items" ] || python3 "$JUDGE" item --out "$items" \
				--suite harness --name "sin=$sin -> $expect" \
				--status pass
		else
			rc=1
			log "harness: sin=$sin MISJUDGED (wanted: $expect)"
			sed 's/^/    /' "$OUT/$sin/judge.log" >&2
			[ -z "$items" ] || python3 "$JUDGE" item --out "$items" \
				--suite harness --name "sin=$sin -> $expect" \
				--status fail --category harness \
				--detail-file "$OUT/$sin/judge.log"
		fi
	done
	log "harness self-test done in $(($(now) - t0))s"
	if [ -z "$items" ]; then
		if [ $rc -eq 0 ]; then
			log "the harness sees every sin"
		else
			log "the harness is blind to some sin"
		fi
	fi
	return $rc
}

main "$@"
