#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# "make bench": what the ownership discipline costs, measured in a QEMU
# guest running Debian's stock 6.12 kernel (not the debug kernel, whose
# sanitizers distort timing), each figure against a baseline measured in
# the same run.
#
#   scripts/bench.sh        build ownbuf.ko, the bench module and the
#                           userspace bench, boot the guest (2 vCPUs,
#                           multi-threaded TCG), run them, print the table,
#                           the machine-readable lines and the chart's path
#
# Each figure is the median of OWNBUF_BENCH_REPS repetitions (default 11,
# at least 5); a ratio is ownbuf's time per operation divided by the
# baseline's, so lower is better.  Times are guest (TCG) times: they say
# nothing about another machine, only the ratios carry over, roughly.
#
# Output, in build/bench/: table.txt (the table; table.md in Markdown),
# metrics.txt (one line "metric=NAME value=NS baseline=NS ratio=R" per
# metric), ratios.svg (the chart, targets drawn), run/console.log (the
# guest's kernel log), run/results.log (every repetition's times too).
#
# The latest run's table is in README.md ("Performance"); the method, how
# far to trust one run and why each figure is what it is are in
# tools/bench/README.md.
#
# Exit status: 0 if every benchmark ran and the kernel logged no warning
# (a missed target is not a failure), 1 otherwise.
#
# Like "make demo", it installs what is missing with apt-get (root needed
# only then), here also gnuplot-nox, and caches the stock kernel in
# $OWNBUF_CACHE.  Environment: OWNBUF_BENCH_REPS, OWNBUF_BENCH_SCALE
# (multiplies the userspace operations per repetition, default 1),
# OWNBUF_BENCH_TIMEOUT (seconds for the guest run, default 1800),
# OWNBUF_CACHE, OWNBUF_JOBS.

set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
OWNBUF_LOG_TAG=${OWNBUF_LOG_TAG:-bench}
# shellcheck source=scripts/lib/common.sh
. "$TOP/scripts/lib/common.sh"

BENCH_PACKAGES="make gcc gcc-12 libc6-dev libelf1 dwarves rsync perl gnuplot-nox"
OUT=$TOP/build/bench
REPS=${OWNBUF_BENCH_REPS:-11}
SCALE=${OWNBUF_BENCH_SCALE:-1}
TIMEOUT=${OWNBUF_BENCH_TIMEOUT:-1800}

# The metrics, in the order of the table:
#   name|what ownbuf does|the baseline|target ratio ("-": none)
# The targets are those of the benchmark issue: design goals, not asserts.
METRICS="\
rw_4k|owner pwrite+pread, 4 KiB|same on a memfd|0.96
rw_64k|owner pwrite+pread, 64 KiB|same on a memfd|0.90
rw_1m|owner pwrite+pread, 1 MiB|same on a memfd|0.55
mmap_read_1m|read a mut borrow's mmap, 1 MiB|read a memfd's mmap|1.03
borrow_close_vs_memfd|BORROW ioctl + close()|memfd_create() + close()|0.92
borrow_close_vs_dup|BORROW ioctl + close()|dup() + close()|-
info_vs_getppid|INFO ioctl|getppid()|1.5
ioctl_floor_vs_getppid|unknown ioctl (ENOTTY): the floor|getppid()|-
info_vs_ioctl_floor|INFO ioctl|unknown ioctl (ENOTTY)|-
kernel_shared_borrow_release|shared borrow + release|refcount_t inc + dec_and_test|2
kernel_mut_borrow_release|mut borrow + release|refcount_t inc + dec_and_test|2.5
kernel_handle_lookup|handle lookup (ownbuf_size())|refcount_t inc + dec_and_test|1.5
kernel_create_drop|create (64 B) + drop|refcount_t inc + dec_and_test|-
kernel_floor_atomics|floor: the 3 atomics of a shared borrow+release|refcount_t inc + dec_and_test|-
kernel_floor_calls|floor: 2 empty function calls|refcount_t inc + dec_and_test|-
kernel_shared_2cpu_scaling|shared borrow + release, CPUs 0+1 at once|same on CPU 0 alone|1.5
kernel_refcount_2cpu_scaling|one refcount_t pair, CPUs 0+1 at once|same on CPU 0 alone|-"

usage()
{
	usage_of "$0"
	exit 2
}

build()
{
	mkdir -p "$OUT"
	log "building ownbuf.ko and ownbuf_bench.ko against $KVER"
	if ! modules_build "$KDIR" "$OUT/modules"; then
		tail -n 30 "$OUT/modules/build.log" >&2
		die "the module build failed (log: $OUT/modules/build.log)"
	fi
	if build_warnings "$OUT/modules/build.log" | grep . >&2; then
		log "the module build had warnings (log: $OUT/modules/build.log)"
	fi
	MODULE=$OUT/modules/src/module/ownbuf.ko
	BENCH_KO=$OUT/modules/src/tools/bench/ownbuf_bench.ko
	[ -f "$BENCH_KO" ] || die "no $BENCH_KO after the build"

	log "building ownbuf-bench (static)"
	if ! make -C "$TOP" "$OUT/bin/ownbuf-bench" TOOLS_OUT="$OUT/bin" \
	     LDFLAGS=-static >"$OUT/tools.log" 2>&1; then
		cat "$OUT/tools.log" >&2
		die "the userspace bench did not build (log: $OUT/tools.log)"
	fi
}

# The script the guest runs: both benches, every result on the results
# channel.  The in-kernel bench prints its lines to the kernel log at
# insmod; a short first load warms up the code it runs, and is discarded.
write_guest_script()
{
	mkdir -p "$OUT/guest"
	cat >"$OUT/guest/bench.sh" <<EOF
#!/bin/sh
# Run by the guest's /init (ownbuf.run=), written by scripts/bench.sh.
. /ownbuf/lib.sh
kmetrics()
{
	dmesg | sed -n -e 's/^\[[ 0-9.]*\] \(metric=\)/\1/p' \
		-e 's/^\[[ 0-9.]*\] \(kernel_.*overlapped\)/\1/p'
}
ownbuf_item insmod ownbuf insmod /ownbuf/modules/ownbuf.ko || exit 1
rc=0
# Let what the boot started settle first.
sleep 3
ownbuf_item bench user ownbuf-bench -v --reps $REPS --scale $SCALE || rc=1
insmod /ownbuf/modules/ownbuf_bench.ko iters=2000 reps=5 &&
	rmmod ownbuf_bench
dmesg -c >/dev/null
ownbuf_item insmod ownbuf_bench \\
	insmod /ownbuf/modules/ownbuf_bench.ko reps=$REPS || rc=1
ownbuf_item bench kernel kmetrics || rc=1
ownbuf_item rmmod ownbuf_bench rmmod ownbuf_bench || rc=1
ownbuf_item rmmod ownbuf rmmod ownbuf || rc=1
exit \$rc
EOF
	chmod +x "$OUT/guest/bench.sh"
}

# Kernel log lines that must never appear
# (Documentation/userspace-api/ownbuf.rst section 1).
splats()
{
	python3 "$TOP/scripts/judge.py" splats "$RUN/console.log" || true
}

# report METRICS_FILE - the table, on stdout and in table.txt; the chart's
# data in chart.dat; the number of metrics not measured in missing.
report()
{
	printf '%s\n' "$METRICS" | awk -F'|' -v results="$1" \
		-v dat="$OUT/chart.dat" -v table="$OUT/table.txt" \
		-v md="$OUT/table.md" \
		-v missing="$OUT/missing" -v host="$HOST" '
	function fmt(ns) {
		if (ns >= 1000000) return sprintf("%.2f ms", ns / 1000000)
		if (ns >= 10000) return sprintf("%.1f us", ns / 1000)
		return sprintf("%.1f ns", ns)
	}
	function out(s) { print s; print s >table }
	BEGIN {
		while ((getline line <results) > 0) {
			n = split(line, kv, " ")
			name = ""
			for (i = 1; i <= n; i++) {
				split(kv[i], p, "=")
				if (p[1] == "metric") name = p[2]
				else val[name, p[1]] = p[2]
			}
			if (name != "") have[name] = 1
		}
		printf "" >table
		print "| metric | ownbuf vs baseline | ownbuf | baseline | ratio | target | met? |" >md
		print "|---|---|--:|--:|--:|--:|---|" >md
		out(sprintf("%-29s %10s %10s %8s %6s  %s", "metric", "ownbuf",
		    "baseline", "ratio", "target", "met?"))
	}
	{
		name = $1; target = $4
		legend[NR] = sprintf("  %-29s %s  vs  %s", name, $2, $3)
		if (!(name in have)) {
			nmissing++
			out(sprintf("%-29s %s", name, "NOT MEASURED"))
			next
		}
		r = val[name, "ratio"] + 0
		if (target == "-") { met = ""; colour = 10066329 }
		else if (r <= target + 0) { met = "yes"; colour = 5091146 }
		else {
			met = sprintf("no (%+.1f%% over)", (r / target - 1) * 100)
			colour = 16744192
		}
		printf "| `%s` | %s vs %s | %s | %s | %.2f | %s | %s |\n", name,
		    $2, $3, fmt(val[name, "value"]), fmt(val[name, "baseline"]),
		    r, target == "-" ? "" : "≤ " target, met >md
		out(sprintf("%-29s %10s %10s %8.3f %6s  %s", name,
		    fmt(val[name, "value"]), fmt(val[name, "baseline"]), r,
		    target, met))
		printf "%d \"%s\" %s %s %d\n", row++, name, r,
		    target == "-" ? "NaN" : target, colour >dat
	}
	END {
		out("")
		out("ratio = ownbuf / baseline, time per operation (median of the repetitions); lower is better.")
		out("Times are guest times under QEMU TCG: they do not carry across machines.")
		out(host)
		out("")
		out("What each metric compares (ownbuf vs baseline):")
		for (i = 1; i <= NR; i++)
			out(legend[i])
		print nmissing + 0 >missing
	}'
}

# chart - ratios.svg from chart.dat: one bar per metric on a log scale,
# the target of each as a red tick, parity (1.0) as a dashed line.
chart()
{
	local rows

	rows=$(wc -l <"$OUT/chart.dat")
	gnuplot <<EOF
set terminal svg size 1000,$((120 + 28 * rows)) dynamic noenhanced font "sans,12" background "white"
set output "$OUT/ratios.svg"
set title "ownbuf vs same-run baselines (time per operation; lower is better)\nQEMU TCG guest, Debian stock 6.12, 2 vCPUs; red tick: target"
set logscale x 10
set xrange [0.1:2000]
set yrange [$rows - 0.3:-0.7]
set xlabel "ratio ownbuf / baseline (log scale)"
set xtics ("0.1" 0.1, "0.2" 0.2, "0.5" 0.5, "1" 1, "2" 2, "5" 5, "10" 10, "20" 20, "50" 50, "100" 100, "200" 200, "500" 500, "1000" 1000)
set grid xtics
set key off
set lmargin 34
set arrow from 1, graph 0 to 1, graph 1 nohead dashtype 2 lc rgb "#333333"
plot "$OUT/chart.dat" using (sqrt(\$3 * 0.1)):1:(0.1):3:(\$1 - 0.35):(\$1 + 0.35):5:ytic(2) \
	with boxxyerror fs solid 0.8 noborder lc rgb variable, \
     "" using 3:1:(sprintf(" %.2f", \$3)) with labels left font "sans,10", \
     "" using 4:(\$1 - 0.45):(0):(0.9) with vectors nohead lw 3 lc rgb "#e41a1c"
EOF
}

main()
{
	local t0 boot brc=0 bad rc=0 missing
	local -a adds

	case ${1:-} in
	"") ;;
	*) usage ;;
	esac
	[ "$REPS" -ge 5 ] 2>/dev/null || die "OWNBUF_BENCH_REPS must be 5 or more"

	t0=$(now)
	# shellcheck disable=SC2086
	ensure_packages $BENCH_PACKAGES $GUEST_PACKAGES
	kernel_get stock612
	build
	write_guest_script

	RUN=$OUT/run
	HOST="Host: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1); load average $(cut -d' ' -f1-3 /proc/loadavg) at the start; $(qemu-system-x86_64 --version | head -n 1)."
	# Two vCPUs want two idle host CPUs: anything else running shows up
	# as noise, in the 2-CPU figures most.  As root, the guest gets a
	# higher priority than other work on the host (QEMU inherits it).
	if awk '{ exit !($1 >= 0.5) }' /proc/loadavg; then
		log "the host is busy (load average $(cut -d' ' -f1 /proc/loadavg)): expect noisier figures"
	fi
	if [ "$(id -u)" -eq 0 ] && renice -n -10 -p $$ >/dev/null 2>&1; then
		HOST="$HOST The guest ran at nice -10."
	fi
	adds=(-a "$MODULE:/ownbuf/modules/ownbuf.ko"
	      -a "$BENCH_KO:/ownbuf/modules/ownbuf_bench.ko"
	      -a "$OUT/bin/ownbuf-bench:/ownbuf/bin/ownbuf-bench"
	      -a "$OUT/guest/bench.sh:/ownbuf/extra/bench.sh")
	log "ready in $(($(now) - t0))s; booting $KVER in QEMU (multi-threaded TCG, 2 vCPUs); the benchmarks take about a minute"
	# Multi-threaded TCG: the two vCPUs run at once, which the 2-CPU
	# figure needs.  (The test harness runs single-threaded because
	# tracepoint toggling under MTTCG once oopsed; nothing here toggles
	# one.)
	# No figure of an earlier run may reach the tail below.
	rm -f "$RUN/results.log"
	guest_boot -A tcg -k "$BZIMAGE" -o "$RUN" -t "$TIMEOUT" -I 600 -q \
		-r /ownbuf/extra/bench.sh "${adds[@]}" &
	boot=$!
	# The figures as they come.
	tail -n +1 -F --pid="$boot" "$RUN/results.log" 2>/dev/null |
		grep --line-buffered '^metric=' || true
	wait "$boot" || brc=$?

	grep -a '^metric=' "$RUN/results.log" | tr -d '\r' >"$OUT/metrics.txt" || true
	echo
	report "$OUT/metrics.txt"
	missing=$(cat "$OUT/missing")
	grep -a '^kernel_.*overlapped' "$RUN/results.log" || true
	echo
	echo "Machine-readable (also in $OUT/metrics.txt):"
	cat "$OUT/metrics.txt"
	echo
	if [ -s "$OUT/chart.dat" ] && chart; then
		echo "Chart: $OUT/ratios.svg"
	else
		log "no chart (gnuplot failed)"
		rc=1
	fi

	bad=$(splats)
	if [ $brc -ne 0 ]; then
		tail -n 20 "$RUN/console.log" >&2 || true
		log "the guest run failed: $(cat "$RUN/status" 2>/dev/null || echo "no status") (rc=$brc; console: $RUN/console.log, results: $RUN/results.log)"
		rc=1
	fi
	if [ -n "$bad" ]; then
		printf '%s\n' "$bad" >&2
		log "the kernel complained during the benchmarks (console: $RUN/console.log)"
		rc=1
	fi
	if [ "$missing" != 0 ]; then
		log "$missing metric(s) were not measured"
		rc=1
	fi
	if [ $rc -eq 0 ]; then
		log "done in $(($(now) - t0))s: every benchmark ran (table: $OUT/table.txt)"
	else
		log "FAILED ($(($(now) - t0))s)"
	fi
	return $rc
}

main "$@"
