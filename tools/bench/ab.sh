#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Did a change make the in-kernel paths slower?  An A/B of ownbuf.ko
# builds in one stock 6.12 guest, so that both sides share one boot, one
# memory layout of the kernel and one load of the host.
#
# Usage: tools/bench/ab.sh [-e] [-i] [-r ROUNDS] REV|DIR...
#
#   REV|DIR   git revisions of this tree, or source trees; each gets its
#             ownbuf.ko built against the stock 6.12 headers, with the
#             bench module of this checkout (tools/bench/ownbuf_bench.c)
#   -r N      rounds (default 5): in each, every build is loaded in turn
#             and the kernel pairs of the bench module run (extras=0,
#             unless -e)
#   -e        the extras too (extras=1): the tail and the curves
#   -i        instruction counts: QEMU's -icount shift=0 makes each guest
#             nanosecond one instruction, so the ratios are instruction
#             ratios, the same on every run and host (one round is enough;
#             the 2-CPU rows mean nothing then)
#
# Prints, per metric, the median ratio of each build over the rounds and
# every round's ratio.  Wall-clock ratios under TCG move with where the
# objects a loop touches land in QEMU's TLB (see README.md here): read a
# difference under 10% in them with -i beside it.  Output in build/ab/.

# shellcheck source=scripts/lib/common.sh
. "$(dirname "$0")/../../scripts/lib/common.sh"

OUT=$TOP/build/ab
ROUNDS=5
ICOUNT=0
EXTRAS=0
while getopts eir: opt; do
	case $opt in
	e) EXTRAS=1 ;;
	i) ICOUNT=1; ROUNDS=1 ;;
	r) ROUNDS=$OPTARG ;;
	*) usage_of "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -ge 1 ] || { usage_of "$0"; exit 2; }

kernel_get stock612 >/dev/null
rm -rf "$OUT"
mkdir -p "$OUT/guest"
adds=()
i=0
for rev in "$@"; do
	n=v$i
	i=$((i + 1))
	mkdir -p "$OUT/$n"
	if [ -d "$rev" ]; then
		rsync -a --exclude=.git --exclude=build "$rev/" "$OUT/$n/"
	else
		git -C "$TOP" archive "$rev" | tar -x -C "$OUT/$n"
	fi
	cp "$TOP/tools/bench/ownbuf_bench.c" "$OUT/$n/tools/bench/"
	log "building $n = $rev"
	make -C "$KDIR" M="$OUT/$n" -j"$OWNBUF_JOBS" modules \
		>"$OUT/$n.log" 2>&1 || die "$rev did not build (log: $OUT/$n.log)"
	adds+=(-a "$OUT/$n/module/ownbuf.ko:/ownbuf/ab/$n/ownbuf.ko"
	       -a "$OUT/$n/tools/bench/ownbuf_bench.ko:/ownbuf/ab/$n/ownbuf_bench.ko")
	echo "$n $rev" >>"$OUT/names"
done

cat >"$OUT/guest/ab.sh" <<EOF
#!/bin/sh
. /ownbuf/lib.sh
sleep 2
for r in \$(seq $ROUNDS); do
	for d in /ownbuf/ab/*; do
		insmod \$d/ownbuf.ko || exit 1
		dmesg -c >/dev/null
		insmod \$d/ownbuf_bench.ko extras=$EXTRAS || exit 1
		dmesg | sed -n "s/^\[[ 0-9.]*\] metric=/\${d##*/} round=\$r metric=/p" >&3
		rmmod ownbuf_bench && rmmod ownbuf || exit 1
	done
done
EOF
chmod +x "$OUT/guest/ab.sh"

accel=tcg
GUEST_QEMU_ARGS=()
if [ $ICOUNT -eq 1 ]; then
	# -icount needs single-threaded TCG; sleep=off: idle costs nothing.
	accel=tcg,thread=single
	GUEST_QEMU_ARGS=(-icount "shift=0,sleep=off")
fi
log "booting the guest: $ROUNDS round(s) of $i build(s)"
guest_boot -A "$accel" -k "$BZIMAGE" -o "$OUT/run" -t 3600 -I 600 -q \
	-r /ownbuf/extra/ab.sh -a "$OUT/guest/ab.sh:/ownbuf/extra/ab.sh" \
	"${adds[@]}" || die "the guest run failed (console: $OUT/run/console.log)"
! python3 "$TOP/scripts/judge.py" splats "$OUT/run/console.log" | grep . ||
	die "the kernel complained (console: $OUT/run/console.log)"

cat "$OUT/names"
tr -d '\r' <"$OUT/run/results.log" | python3 -c '
import re, statistics, sys
ratios = {}
for line in sys.stdin:
    m = re.match(r"(v\d+) round=\d+ metric=(\S+) .* ratio=(\S+)", line)
    if m:
        ratios.setdefault((m[2], m[1]), []).append(float(m[3]))
builds = sorted({b for _, b in ratios}, key=lambda b: int(b[1:]))
print("%-30s" % "metric" + "".join("%12s" % b for b in builds))
for metric in sorted({m for m, _ in ratios}):
    row = [ratios.get((metric, b), []) for b in builds]
    print("%-30s" % metric +
          "".join("%12.3f" % statistics.median(r) if r else "%12s" % "-"
                  for r in row))
    print("%-30s" % "" + "  ".join(",".join("%.2f" % x for x in r)
                                   for r in row))
'
