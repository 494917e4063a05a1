// SPDX-License-Identifier: GPL-2.0
/*
 * In-kernel benchmarks of the ownbuf engine, each against a baseline
 * measured in the same run: a refcount_t inc + dec_and_test pair, the
 * cheapest way C code keeps an object alive.  Not part of ownbuf.ko.
 *
 * Results are printed when the module loads, one line per metric:
 *   metric=<name> value=<ns/op> baseline=<ns/op> ratio=<value/baseline>
 * Each figure is the median of @reps repetitions of @iters operations, the
 * measured side and its baseline alternating so that drift hits both.
 * The module stays loaded (and idle) until rmmod.
 *
 * Besides the engine's own figures there are floors: what the engine's
 * design costs at the least, with no checks and no tracking.  A shared
 * borrow + release is one exported call each way and three atomic
 * read-modify-writes (the per-CPU count up, the token's state, the count
 * down); kernel_floor_atomics and kernel_floor_calls measure those alone.
 *
 * With extras=1 (the default) also the tail and the curves:
 *  - the tail: rounds of an empty clock pair, a shared borrow + release
 *    and a refcount_t pair (the floor), each timed on its own with
 *    ktime_get_ns() on CPU 0, alone and while a kthread on CPU 1 takes and
 *    releases shared and mut borrows of the same buffer and creates and
 *    drops another; and a refcount_t pair on a counter that the kthread
 *    also changes (the floor of anything that two CPUs write).  Printed
 *    as percentiles against the p50 of the same pass, and as histograms,
 *    "hist=<series> ns=<bucket's lower bound> count=<operations>", in
 *    quarter-octave buckets.
 *  - the curves, each point against the first: handle lookup (of one
 *    buffer, and of each buffer alive in turn, with its floor: one word of
 *    as many objects in turn) and shared borrow + release with 1, 10^3
 *    and 10^5 buffers alive; ownbuf_stat() and a (refused) mut borrow with
 *    max_shared shared borrows out, spread over CPUs 0 and 1, against one.
 * Lines starting "note: " say what a figure needs to be read right.
 */

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/ownbuf.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/timekeeping.h>
#include <linux/workqueue.h>

static unsigned int iters = 200000;
module_param(iters, uint, 0444);
MODULE_PARM_DESC(iters, "Operations per repetition");

static unsigned int reps = 11;
module_param(reps, uint, 0444);
MODULE_PARM_DESC(reps, "Repetitions; the median is reported (at least 5)");

static bool extras = true;
module_param(extras, bool, 0444);
MODULE_PARM_DESC(extras, "Also the tail and the curves (default 1)");

static unsigned int tail_samples = 100000;
module_param(tail_samples, uint, 0444);
MODULE_PARM_DESC(tail_samples, "Timed operations per tail series");

static unsigned int max_alive = 100000;
module_param(max_alive, uint, 0444);
MODULE_PARM_DESC(max_alive, "Buffers alive at the last point of the curve");

static unsigned int max_shared = 1024;
module_param(max_shared, uint, 0444);
MODULE_PARM_DESC(max_shared, "ownbuf's max_shared (borrows taken until -EOVERFLOW, at most 4 times this)");

/**
 * struct ownbuf_bench_ctx - what the measured loops work on
 * @h: a live 4 KiB buffer.
 * @rc: the baseline's refcount, kept at 1 or more.
 * @rc_shared: the same, which the tail's load changes too.
 * @count: the floor's stand-in for a per-CPU shared-borrow count.
 * @token: the floor's stand-in for a borrow token's state.
 * @n: operations per repetition.
 * @hs: the buffers alive, for the spread lookup (@hs[0] is @h).
 * @objs: as many objects, for the floor of the spread lookup.
 * @alive: how many of @hs and of @objs.
 * @sink: where the floor's loads go, so that they are made.
 * @pool: a buffer for each repetition of a pair (see PLACEMENT).
 * @npool: how many of @pool.
 * @hone: a buffer with one shared borrow out.
 * @hmany: a buffer with max_shared shared borrows out.
 */
struct ownbuf_bench_ctx {
	struct ownbuf_handle h;
	refcount_t rc;
	refcount_t rc_shared ____cacheline_aligned;
	atomic_long_t count ____cacheline_aligned;
	atomic_t token ____cacheline_aligned;
	unsigned int n;
	struct ownbuf_handle *hs;
	void **objs;
	unsigned int alive;
	u64 sink;
	struct ownbuf_handle *pool;
	unsigned int npool;
	struct ownbuf_handle hone, hmany;
};

typedef void (*ownbuf_bench_fn)(struct ownbuf_bench_ctx *ctx);

static void ownbuf_bench_refcount(struct ownbuf_bench_ctx *ctx)
{
	unsigned int i;

	for (i = 0; i < ctx->n; i++) {
		refcount_inc(&ctx->rc);
		if (refcount_dec_and_test(&ctx->rc))
			pr_err("refcount hit zero\n");
	}
}

static void ownbuf_bench_shared(struct ownbuf_bench_ctx *ctx)
{
	struct ownbuf_ref ref = { };
	unsigned int i;

	for (i = 0; i < ctx->n; i++) {
		if (ownbuf_borrow_shared(ctx->h, &ref) || ownbuf_release(&ref))
			pr_err("shared borrow failed\n");
	}
}

static void ownbuf_bench_mut(struct ownbuf_bench_ctx *ctx)
{
	struct ownbuf_ref ref = { };
	unsigned int i;

	for (i = 0; i < ctx->n; i++) {
		if (ownbuf_borrow_mut(ctx->h, &ref) || ownbuf_release(&ref))
			pr_err("mut borrow failed\n");
	}
}

static void ownbuf_bench_lookup(struct ownbuf_bench_ctx *ctx)
{
	unsigned int i;
	size_t size;

	for (i = 0; i < ctx->n; i++) {
		if (ownbuf_size(ctx->h, &size))
			pr_err("lookup failed\n");
	}
}

static void ownbuf_bench_create(struct ownbuf_bench_ctx *ctx)
{
	struct ownbuf_handle h;
	unsigned int i;

	for (i = 0; i < ctx->n; i++) {
		if (ownbuf_create(64, GFP_KERNEL, &h) || ownbuf_drop(&h))
			pr_err("create/drop failed\n");
	}
}

/* The atomics of a shared borrow + release, and nothing else. */
static void ownbuf_bench_atomics(struct ownbuf_bench_ctx *ctx)
{
	unsigned int i;
	int s;

	for (i = 0; i < ctx->n; i++) {
		atomic_long_inc_return(&ctx->count);
		atomic_set_release(&ctx->token, 1);
		s = 1;
		if (!atomic_try_cmpxchg(&ctx->token, &s, 2))
			pr_err("token changed\n");
		atomic_long_dec_return(&ctx->count);
	}
}

/* A function call that does nothing, as ownbuf's are called. */
static noinline void ownbuf_bench_nop(struct ownbuf_bench_ctx *ctx)
{
	/* Kept: the compiler may not drop the call. */
	asm volatile("" : : "r" (ctx) : "memory");
}

/* The two calls of a borrow + release, and nothing else. */
static void ownbuf_bench_calls(struct ownbuf_bench_ctx *ctx)
{
	unsigned int i;

	for (i = 0; i < ctx->n; i++) {
		ownbuf_bench_nop(ctx);
		ownbuf_bench_nop(ctx);
	}
}

/* Picoseconds per operation of one repetition of @fn on this CPU. */
static u64 ownbuf_bench_once(ownbuf_bench_fn fn, struct ownbuf_bench_ctx *ctx)
{
	u64 t0, t1;

	t0 = ktime_get_ns();
	fn(ctx);
	t1 = ktime_get_ns();
	return div_u64((t1 - t0) * 1000, ctx->n);
}

static int ownbuf_bench_cmp(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static u64 ownbuf_bench_median(u64 *v, unsigned int n)
{
	sort(v, n, sizeof(*v), ownbuf_bench_cmp, NULL);
	return v[n / 2];
}

/*
 * One result line; @ps and @base_ps are picoseconds per operation, @milli
 * the ratio in thousandths.
 */
static void ownbuf_bench_print_milli(const char *name, u64 ps, u64 base_ps,
				     u64 milli)
{
	pr_info("metric=%s value=%llu.%llu baseline=%llu.%llu ratio=%llu.%03llu\n",
		name, div_u64(ps, 1000), div_u64(ps % 1000, 100),
		div_u64(base_ps, 1000), div_u64(base_ps % 1000, 100),
		div_u64(milli, 1000), milli % 1000);
}

/* One result line, the ratio @ps / @base_ps. */
static void ownbuf_bench_print(const char *name, u64 ps, u64 base_ps)
{
	ownbuf_bench_print_milli(name, ps, base_ps,
				 div64_u64(ps * 1000, base_ps ?: 1));
}

/**
 * struct ownbuf_bench_point - one measured pair
 * @ps: the median of the measured side, picoseconds per operation.
 * @base: the median of its baseline, the same.
 */
struct ownbuf_bench_point {
	u64 ps, base;
};

/* Median over reps of @fn, interleaved with @base so drift hits both. */
static void ownbuf_bench_measure(ownbuf_bench_fn fn, ownbuf_bench_fn base,
				 unsigned int n, struct ownbuf_bench_ctx *ctx,
				 u64 *t, u64 *tb,
				 struct ownbuf_bench_point *pt)
{
	struct ownbuf_handle h = ctx->h;
	unsigned int r;

	ctx->n = n;
	fn(ctx);		/* warm up both */
	base(ctx);
	for (r = 0; r < reps; r++) {
		/* See PLACEMENT at ownbuf_bench_pool_make(). */
		if (ctx->npool)
			ctx->h = ctx->pool[r % ctx->npool];
		t[r] = ownbuf_bench_once(fn, ctx);
		tb[r] = ownbuf_bench_once(base, ctx);
		cond_resched();
	}
	ctx->h = h;
	pt->ps = ownbuf_bench_median(t, reps);
	pt->base = ownbuf_bench_median(tb, reps);
}

/*
 * PLACEMENT.  Under QEMU's TCG the emulated TLB is direct-mapped: when two
 * pages that an operation touches share a slot, every access to them
 * misses, and the operation runs many times slower for as long as the
 * objects stay where they are (a mut borrow + release once read 40 times
 * its usual time for a whole run, and for the warm-up module's run before
 * it, which had been given the same memory).  So each repetition of a pair
 * works on a buffer of its own, made in advance (@ctx->pool): a bad
 * placement spoils one repetition, which the median drops.
 */
static int ownbuf_bench_pool_make(struct ownbuf_bench_ctx *ctx)
{
	int ret;

	ctx->pool = kcalloc(reps, sizeof(*ctx->pool), GFP_KERNEL);
	if (!ctx->pool)
		return -ENOMEM;
	for (ctx->npool = 0; ctx->npool < reps; ctx->npool++) {
		ret = ownbuf_create(4096, GFP_KERNEL, &ctx->pool[ctx->npool]);
		if (ret)
			return ret;
	}
	return 0;
}

static void ownbuf_bench_pool_free(struct ownbuf_bench_ctx *ctx)
{
	while (ctx->npool) {
		struct ownbuf_handle *h = &ctx->pool[--ctx->npool];

		if (ownbuf_drop(h))
			pr_err("drop failed\n");
	}
	kfree(ctx->pool);
	ctx->pool = NULL;
}

static void ownbuf_bench_pair(const char *name, ownbuf_bench_fn fn,
			      ownbuf_bench_fn base, unsigned int n,
			      struct ownbuf_bench_ctx *ctx, u64 *t, u64 *tb)
{
	struct ownbuf_bench_point pt;

	ownbuf_bench_measure(fn, base, n, ctx, t, tb, &pt);
	ownbuf_bench_print(name, pt.ps, pt.base);
}

/**
 * struct ownbuf_bench_worker - one kthread of a parallel run
 * @ctx: shared by all workers.
 * @fn: what each runs.
 * @ready: workers that arrived at the start line.
 * @nr: workers in this run.
 * @t0: when its loop started (ns).
 * @t1: when its loop ended (ns).
 * @ps: its result, picoseconds per operation.
 * @done: completed when @ps is valid.
 */
struct ownbuf_bench_worker {
	struct ownbuf_bench_ctx *ctx;
	ownbuf_bench_fn fn;
	atomic_t *ready;
	unsigned int nr;
	u64 t0, t1, ps;
	struct completion done;
};

static int ownbuf_bench_thread(void *arg)
{
	struct ownbuf_bench_worker *w = arg;

	/* Spin at the start line, so that the workers' loops overlap. */
	atomic_inc(w->ready);
	while (atomic_read(w->ready) < w->nr)
		cpu_relax();
	w->t0 = ktime_get_ns();
	w->fn(w->ctx);
	w->t1 = ktime_get_ns();
	w->ps = div_u64((w->t1 - w->t0) * 1000, w->ctx->n);
	complete(&w->done);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

/*
 * Picoseconds per @fn with one kthread on each of CPUs 0..@ncpus-1 at once;
 * in *@overlap, how much of the longer loop the other one ran alongside,
 * in percent.
 */
static u64 ownbuf_bench_parallel(struct ownbuf_bench_ctx *ctx,
				 ownbuf_bench_fn fn, unsigned int ncpus,
				 unsigned int *overlap)
{
	struct ownbuf_bench_worker w[2];
	struct task_struct *t[2];
	atomic_t ready = ATOMIC_INIT(0);
	unsigned int i, started = 0;
	u64 sum = 0;

	for (i = 0; i < ncpus; i++) {
		w[i].ctx = ctx;
		w[i].fn = fn;
		w[i].ready = &ready;
		w[i].nr = ncpus;
		init_completion(&w[i].done);
		t[i] = kthread_create(ownbuf_bench_thread, &w[i],
				      "ownbuf_bench/%u", i);
		if (IS_ERR(t[i]))
			break;
		kthread_bind(t[i], i);
		started++;
	}
	if (started < ncpus) {
		/* Not woken yet: kthread_stop() ends them before threadfn. */
		for (i = 0; i < started; i++)
			kthread_stop(t[i]);
		return 0;
	}
	for (i = 0; i < ncpus; i++)
		wake_up_process(t[i]);
	for (i = 0; i < ncpus; i++) {
		wait_for_completion(&w[i].done);
		kthread_stop(t[i]);
		sum += w[i].ps;
	}
	*overlap = 100;
	if (ncpus == 2) {
		s64 both = (s64)min(w[0].t1, w[1].t1) - max(w[0].t0, w[1].t0);
		u64 longer = max(w[0].t1 - w[0].t0, w[1].t1 - w[1].t0);

		*overlap = both > 0 ? div64_u64(both * 100, longer ?: 1) : 0;
	}
	return div_u64(sum, ncpus);
}

/*
 * @fn @n times on CPUs 0 and 1 at once (value) vs on CPU 0 alone
 * (baseline).  Long enough loops that the host's scheduler, which runs
 * the vCPUs, lets them overlap; how well they did is printed too.
 */
static void ownbuf_bench_scaling(const char *name, ownbuf_bench_fn fn,
				 unsigned int n, struct ownbuf_bench_ctx *ctx,
				 u64 *t, u64 *tb)
{
	unsigned int r, overlap, least = 100, one;

	ctx->n = n;
	for (r = 0; r < reps; r++) {
		t[r] = ownbuf_bench_parallel(ctx, fn, 2, &overlap);
		tb[r] = ownbuf_bench_parallel(ctx, fn, 1, &one);
		if (!t[r] || !tb[r]) {
			pr_err("%s: could not start the threads\n", name);
			return;
		}
		least = min(least, overlap);
	}
	ownbuf_bench_print(name, ownbuf_bench_median(t, reps),
			   ownbuf_bench_median(tb, reps));
	pr_info("%s: the two CPUs' loops overlapped for at least %u%% of their time\n",
		name, least);
}

/* --- the curves --- */

/* Lookups of every buffer alive in turn: the table as a whole. */
static void ownbuf_bench_lookup_spread(struct ownbuf_bench_ctx *ctx)
{
	unsigned int i, j = 0;
	size_t size;

	for (i = 0; i < ctx->n; i++) {
		if (ownbuf_size(ctx->hs[j], &size))
			pr_err("lookup failed\n");
		if (++j == ctx->alive)
			j = 0;
	}
}

static void ownbuf_bench_stat_h(struct ownbuf_handle h, unsigned int n)
{
	struct ownbuf_stat st;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (ownbuf_stat(h, &st))
			pr_err("stat failed\n");
	}
}

static void ownbuf_bench_stat_one(struct ownbuf_bench_ctx *ctx)
{
	ownbuf_bench_stat_h(ctx->hone, ctx->n);
}

static void ownbuf_bench_stat_many(struct ownbuf_bench_ctx *ctx)
{
	ownbuf_bench_stat_h(ctx->hmany, ctx->n);
}

/* A mut borrow of a buffer lent out: refused, after counting the shares. */
static void ownbuf_bench_mut_try(struct ownbuf_handle h, unsigned int n)
{
	struct ownbuf_ref ref = { };
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (ownbuf_borrow_mut(h, &ref) != -EBUSY) {
			pr_err("mut borrow not refused\n");
			ownbuf_ref_discard(&ref);
		}
	}
}

static void ownbuf_bench_mut_one(struct ownbuf_bench_ctx *ctx)
{
	ownbuf_bench_mut_try(ctx->hone, ctx->n);
}

static void ownbuf_bench_mut_many(struct ownbuf_bench_ctx *ctx)
{
	ownbuf_bench_mut_try(ctx->hmany, ctx->n);
}

/* The floor of any table of many objects: one word of each in turn. */
static void ownbuf_bench_floor_spread(struct ownbuf_bench_ctx *ctx)
{
	unsigned int i, j = 0;
	u64 sum = 0;

	for (i = 0; i < ctx->n; i++) {
		sum += READ_ONCE(*(u64 *)ctx->objs[j]);
		if (++j == ctx->alive)
			j = 0;
	}
	WRITE_ONCE(ctx->sink, sum);
}

/* Median over reps of @fn alone, picoseconds per operation. */
static u64 ownbuf_bench_alone(ownbuf_bench_fn fn, unsigned int n,
			      struct ownbuf_bench_ctx *ctx, u64 *t)
{
	unsigned int r;

	ctx->n = n;
	fn(ctx);		/* warm up */
	for (r = 0; r < reps; r++) {
		t[r] = ownbuf_bench_once(fn, ctx);
		cond_resched();
	}
	return ownbuf_bench_median(t, reps);
}

static const ownbuf_bench_fn ownbuf_bench_alive_fns[] = {
	ownbuf_bench_lookup, ownbuf_bench_lookup_spread,
	ownbuf_bench_floor_spread, ownbuf_bench_shared,
};

#define OWNBUF_BENCH_ALIVE_FNS ARRAY_SIZE(ownbuf_bench_alive_fns)

/**
 * struct ownbuf_bench_alive_pass - one point's measurements, on CPU 0
 * @ctx: with @ctx->alive buffers alive.
 * @t: room for reps times.
 * @ps: out: the median of each of ownbuf_bench_alive_fns.
 */
struct ownbuf_bench_alive_pass {
	struct ownbuf_bench_ctx *ctx;
	u64 *t;
	u64 ps[OWNBUF_BENCH_ALIVE_FNS];
};

static long ownbuf_bench_alive_run(void *arg)
{
	struct ownbuf_bench_alive_pass *p = arg;
	unsigned int m;

	for (m = 0; m < OWNBUF_BENCH_ALIVE_FNS; m++)
		p->ps[m] = ownbuf_bench_alone(ownbuf_bench_alive_fns[m], iters,
					      p->ctx, p->t);
	return 0;
}

/* Make or drop buffers (and the floor's objects) until @want are alive. */
static int ownbuf_bench_alive_set(struct ownbuf_bench_ctx *ctx,
				  unsigned int want)
{
	int ret;

	while (ctx->alive < want) {
		ctx->objs[ctx->alive] = kzalloc(256, GFP_KERNEL);
		if (!ctx->objs[ctx->alive])
			return -ENOMEM;
		ret = ownbuf_create(64, GFP_KERNEL, &ctx->hs[ctx->alive]);
		if (ret) {
			kfree(ctx->objs[ctx->alive]);
			pr_err("create %u failed: %d\n", ctx->alive, ret);
			return ret;
		}
		if (!(++ctx->alive % 1024))
			cond_resched();
	}
	while (ctx->alive > want) {
		struct ownbuf_handle *h = &ctx->hs[--ctx->alive];

		kfree(ctx->objs[ctx->alive]);
		if (ownbuf_drop(h))
			pr_err("drop failed\n");
		if (!(ctx->alive % 1024))
			cond_resched();
	}
	return 0;
}

/*
 * Handle lookup (of one buffer, and of every buffer alive in turn), its
 * floor (one word of as many objects in turn) and shared borrow + release
 * with 1, 10^3 and 10^5 buffers alive.  The points are measured on CPU 0
 * in the order 1, 10^3, 10^5, 10^3, 1, and those measured twice averaged,
 * so that the guest's speed drifting between them (they are seconds apart)
 * cancels out.
 */
static int ownbuf_bench_alive(struct ownbuf_bench_ctx *ctx, u64 *t)
{
	static const unsigned int order[] = { 0, 1, 2, 1, 0 };
	static const unsigned int points[] = { 1, 1000, 100000 };
	static const char * const names[][3] = {
		{ NULL, "kernel_lookup_alive_1e3", "kernel_lookup_alive_1e5" },
		{ NULL, "kernel_lookup_spread_1e3", "kernel_lookup_spread_1e5" },
		{ NULL, "kernel_floor_spread_1e3", "kernel_floor_spread_1e5" },
		{ NULL, "kernel_shared_alive_1e3", "kernel_shared_alive_1e5" },
	};
	u64 sum[OWNBUF_BENCH_ALIVE_FNS][ARRAY_SIZE(points)] = { };
	unsigned int times[ARRAY_SIZE(points)] = { };
	unsigned int alive[ARRAY_SIZE(points)];
	struct ownbuf_bench_alive_pass pass = { .ctx = ctx, .t = t };
	unsigned int k, m, o;
	u64 v, first;
	int ret = -ENOMEM;

	ctx->hs = kvcalloc(max(max_alive, 1U), sizeof(*ctx->hs), GFP_KERNEL);
	ctx->objs = kvcalloc(max(max_alive, 1U), sizeof(*ctx->objs),
			     GFP_KERNEL);
	if (!ctx->hs || !ctx->objs)
		goto out;
	ctx->objs[0] = kzalloc(256, GFP_KERNEL);
	if (!ctx->objs[0])
		goto out;
	ctx->hs[0] = ctx->h;
	ctx->alive = 1;
	for (o = 0; o < ARRAY_SIZE(order); o++) {
		k = order[o];
		ret = ownbuf_bench_alive_set(ctx, min(points[k], max_alive));
		if (ret)
			goto out;
		/* What the drops (and the tail's load before) left to free. */
		rcu_barrier();
		alive[k] = ctx->alive;
		work_on_cpu(0, ownbuf_bench_alive_run, &pass);
		for (m = 0; m < OWNBUF_BENCH_ALIVE_FNS; m++)
			sum[m][k] += pass.ps[m];
		times[k]++;
	}
	for (m = 0; m < OWNBUF_BENCH_ALIVE_FNS; m++) {
		first = div_u64(sum[m][0], times[0]);
		for (k = 1; k < ARRAY_SIZE(points); k++) {
			v = div_u64(sum[m][k], times[k]);
			ownbuf_bench_print(names[m][k], v, first);
		}
	}
	pr_info("note: buffers alive: %u, %u, %u, measured in the order 1, 10^3, 10^5, 10^3, 1 on CPU 0 (the two measurements of a point averaged)\n",
		alive[0], alive[1], alive[2]);
out:
	if (ctx->objs && ctx->hs && ctx->alive) {
		ownbuf_bench_alive_set(ctx, 1);
		kfree(ctx->objs[0]);
	}
	kvfree(ctx->objs);
	kvfree(ctx->hs);
	ctx->objs = NULL;
	ctx->hs = NULL;
	ctx->alive = 0;
	return ret;
}

/**
 * struct ownbuf_bench_take - shared borrows taken on one CPU
 * @h: of this buffer.
 * @refs: their tokens.
 * @got: the next token to fill; in: where to start, out: where it stopped.
 * @to: stop before this token.
 * @err: why it stopped early (0: it did not).
 */
struct ownbuf_bench_take {
	struct ownbuf_handle h;
	struct ownbuf_ref *refs;
	unsigned int got, to;
	int err;
};

static long ownbuf_bench_take_shared(void *arg)
{
	struct ownbuf_bench_take *tk = arg;

	for (tk->err = 0; tk->got < tk->to; tk->got++) {
		tk->err = ownbuf_borrow_shared(tk->h, &tk->refs[tk->got]);
		if (tk->err)
			break;
	}
	return 0;
}

/*
 * ownbuf_stat() and a (refused) mut borrow of a buffer with max_shared
 * shared borrows out, half of them taken on CPU 1 and the rest on CPU 0,
 * against a buffer with one out.
 */
static int ownbuf_bench_many(struct ownbuf_bench_ctx *ctx, u64 *t, u64 *tb)
{
	struct ownbuf_bench_take tk = { };
	struct ownbuf_ref one = { };
	unsigned int i, on1;
	int ret;

	tk.to = max(max_shared, 1U) * 4;
	tk.refs = kvcalloc(tk.to, sizeof(*tk.refs), GFP_KERNEL);
	if (!tk.refs)
		return -ENOMEM;
	ret = ownbuf_create(4096, GFP_KERNEL, &ctx->hone);
	if (ret)
		goto out_free;
	ret = ownbuf_create(4096, GFP_KERNEL, &ctx->hmany);
	if (ret)
		goto out_drop_one;
	ret = ownbuf_borrow_shared(ctx->hone, &one);
	if (ret)
		goto out_drop_many;
	tk.h = ctx->hmany;
	tk.to = max_shared / 2;
	work_on_cpu(1, ownbuf_bench_take_shared, &tk);
	on1 = tk.got;
	if (!tk.err) {
		tk.to = max(max_shared, 1U) * 4;
		work_on_cpu(0, ownbuf_bench_take_shared, &tk);
	}
	if (tk.err != -EOVERFLOW) {
		pr_err("shared borrows stopped at %u with %d, not -EOVERFLOW\n",
		       tk.got, tk.err);
		ret = -EINVAL;
		goto out_release;
	}
	pr_info("note: max_shared: %u shared borrows out (%u taken on CPU 1, %u on CPU 0) against 1\n",
		tk.got, on1, tk.got - on1);
	ownbuf_bench_pair("kernel_stat_shared_max", ownbuf_bench_stat_many,
			  ownbuf_bench_stat_one, max(iters / 100, 20U), ctx, t,
			  tb);
	ownbuf_bench_pair("kernel_mut_refused_shared_max",
			  ownbuf_bench_mut_many, ownbuf_bench_mut_one,
			  max(iters / 100, 20U), ctx, t, tb);
out_release:
	for (i = 0; i < tk.got; i++) {
		if (ownbuf_release(&tk.refs[i]))
			pr_err("release failed\n");
	}
	if (ownbuf_release(&one))
		pr_err("release failed\n");
out_drop_many:
	if (ownbuf_drop(&ctx->hmany))
		pr_err("drop failed\n");
out_drop_one:
	if (ownbuf_drop(&ctx->hone))
		pr_err("drop failed\n");
out_free:
	kvfree(tk.refs);
	return ret;
}

/* --- the tail --- */

/* What one pass of the tail times, interleaved operation by operation. */
enum {
	OWNBUF_BENCH_T_CLOCK,		/* nothing: the clock's own cost */
	OWNBUF_BENCH_T_SHARED,		/* shared borrow + release */
	OWNBUF_BENCH_T_REFCOUNT,	/* the refcount_t pair: the floor */
	OWNBUF_BENCH_T_SHARED_LINE,	/* the same, on a counter CPU 1 changes */
	OWNBUF_BENCH_NR_T,
};

/**
 * struct ownbuf_bench_tail - one pass of the tail
 * @ctx: the buffer and the refcount.
 * @ns: per kind, the time of each operation granted, ns; sorted once done.
 * @got: per kind, how many of @ns.
 * @refused: shared borrows refused with -EBUSY (the load held the mut one).
 * @refused_max: the longest of those, ns.
 */
struct ownbuf_bench_tail {
	struct ownbuf_bench_ctx *ctx;
	u32 *ns[OWNBUF_BENCH_NR_T];
	unsigned int got[OWNBUF_BENCH_NR_T];
	unsigned int refused;
	u64 refused_max;
};

static void ownbuf_bench_tail_add(struct ownbuf_bench_tail *tl, int kind,
				  u64 ns)
{
	tl->ns[kind][tl->got[kind]++] = min_t(u64, ns, U32_MAX);
}

/* A refcount_t pair on @rc, timed as @kind. */
static void ownbuf_bench_tail_pair(struct ownbuf_bench_tail *tl, int kind,
				   refcount_t *rc)
{
	u64 t0, t1;
	bool zero;

	t0 = ktime_get_ns();
	refcount_inc(rc);
	zero = refcount_dec_and_test(rc);
	t1 = ktime_get_ns();
	if (zero)
		pr_err("refcount hit zero\n");
	ownbuf_bench_tail_add(tl, kind, t1 - t0);
}

/*
 * tail_samples rounds of: an empty clock pair, a shared borrow + release,
 * a refcount_t pair and one on the counter the load changes too, each
 * timed on its own, so that whatever happens to the CPU (an interrupt,
 * the host taking the vCPU away) happens to all four alike.  Runs on
 * CPU 0.
 */
static long ownbuf_bench_tail_run(void *arg)
{
	struct ownbuf_bench_tail *tl = arg;
	struct ownbuf_bench_ctx *ctx = tl->ctx;
	struct ownbuf_ref ref = { };
	unsigned int i;
	u64 t0, t1;
	int ret;

	memset(tl->got, 0, sizeof(tl->got));
	tl->refused = 0;
	tl->refused_max = 0;
	for (i = 0; i < tail_samples; i++) {
		t0 = ktime_get_ns();
		t1 = ktime_get_ns();
		ownbuf_bench_tail_add(tl, OWNBUF_BENCH_T_CLOCK, t1 - t0);

		t0 = ktime_get_ns();
		ret = ownbuf_borrow_shared(ctx->h, &ref);
		if (!ret)
			ret = ownbuf_release(&ref);
		t1 = ktime_get_ns();
		if (ret && ret != -EBUSY) {
			pr_err("tail: %d\n", ret);
			return ret;
		}
		if (ret) {
			tl->refused++;
			tl->refused_max = max(tl->refused_max, t1 - t0);
		} else {
			ownbuf_bench_tail_add(tl, OWNBUF_BENCH_T_SHARED,
					      t1 - t0);
		}

		ownbuf_bench_tail_pair(tl, OWNBUF_BENCH_T_REFCOUNT, &ctx->rc);
		ownbuf_bench_tail_pair(tl, OWNBUF_BENCH_T_SHARED_LINE,
				       &ctx->rc_shared);

		/* Outside the timed parts, as any kworker would. */
		if (!(i % 256))
			cond_resched();
	}
	return 0;
}

/**
 * struct ownbuf_bench_load - the other CPU's work during the tail
 * @ctx: the measured buffer (@ctx->h) and the floor's shared counter.
 * @rounds: loops done.
 * @mut: mut borrows granted.
 */
struct ownbuf_bench_load {
	struct ownbuf_bench_ctx *ctx;
	unsigned long rounds, mut;
};

/*
 * On CPU 1: a shared borrow (no conflict with the measured ones) and a mut
 * borrow (a conflict: refused while CPU 0 holds its shared borrow, and
 * refusing CPU 0's while held) of the measured buffer, each released at
 * once, a refcount_t pair on the floor's shared counter, and another
 * buffer created and dropped, in a loop.
 */
static int ownbuf_bench_load_thread(void *arg)
{
	struct ownbuf_bench_load *l = arg;
	struct ownbuf_bench_ctx *ctx = l->ctx;
	struct ownbuf_ref ref = { };
	struct ownbuf_handle o;

	while (!kthread_should_stop()) {
		if (!ownbuf_borrow_shared(ctx->h, &ref) &&
		    ownbuf_release(&ref))
			pr_err("load: release failed\n");
		if (!ownbuf_borrow_mut(ctx->h, &ref)) {
			if (ownbuf_release(&ref))
				pr_err("load: release failed\n");
			WRITE_ONCE(l->mut, l->mut + 1);
		}
		/* As often as the mut borrow changes the state word. */
		refcount_inc(&ctx->rc_shared);
		if (refcount_dec_and_test(&ctx->rc_shared))
			pr_err("load: refcount hit zero\n");
		if (ownbuf_create(64, GFP_KERNEL, &o))
			pr_err("load: create failed\n");
		else if (ownbuf_drop(&o))
			pr_err("load: drop failed\n");
		WRITE_ONCE(l->rounds, l->rounds + 1);
		cond_resched();
	}
	return 0;
}

static int ownbuf_bench_cmp_u32(const void *a, const void *b)
{
	u32 x = *(const u32 *)a, y = *(const u32 *)b;

	return x < y ? -1 : x > y;
}

/* The value of @permille of the sorted @v[@n] (at least the smallest). */
static u64 ownbuf_bench_pct(const u32 *v, unsigned int n,
			    unsigned int permille)
{
	u64 i = div_u64((u64)n * permille, 1000);

	return n ? v[min_t(u64, i, n - 1)] : 0;
}

/* Quarter-octave buckets: 4 per power of two (below 4 ns, one per ns). */
static unsigned int ownbuf_bench_bucket(u32 v)
{
	unsigned int b;

	if (v < 4)
		return v;
	b = ilog2(v);
	return b * 4 + ((v >> (b - 2)) & 3);
}

static u64 ownbuf_bench_bucket_lo(unsigned int i)
{
	if (i < 4)
		return i;
	return ((4ULL + i % 4) << (i / 4)) >> 2;
}

/* The histogram of the sorted @v[@n], one line per bucket not empty. */
static void ownbuf_bench_hist(const char *name, const u32 *v, unsigned int n)
{
	unsigned int i = 0, b, count;

	while (i < n) {
		b = ownbuf_bench_bucket(v[i]);
		for (count = 0; i < n && ownbuf_bench_bucket(v[i]) == b;
		     count++)
			i++;
		pr_info("hist=%s ns=%llu count=%u\n", name,
			ownbuf_bench_bucket_lo(b), count);
	}
}

/* @permille of @v[@n] against its own p50, as metric @name. */
static void ownbuf_bench_pct_print(const char *name, const u32 *v,
				   unsigned int n, unsigned int permille)
{
	ownbuf_bench_print(name, ownbuf_bench_pct(v, n, permille) * 1000,
			   ownbuf_bench_pct(v, n, 500) * 1000);
}

/* p99, p99.9 and max of the shared borrows of @tl, "<...>_p99_<sfx>". */
static void ownbuf_bench_tail_print(const char *sfx,
				    const struct ownbuf_bench_tail *tl)
{
	static const unsigned int pm[] = { 990, 999, 1000 };
	static const char * const pname[] = { "p99", "p999", "max" };
	char name[64];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(pm); i++) {
		snprintf(name, sizeof(name), "kernel_shared_tail_%s_%s",
			 pname[i], sfx);
		ownbuf_bench_pct_print(name, tl->ns[OWNBUF_BENCH_T_SHARED],
				       tl->got[OWNBUF_BENCH_T_SHARED], pm[i]);
	}
}

/* p99.9 / p50 of the shared borrows of @tl, the clock's p50 taken off. */
static u64 ownbuf_bench_net(const struct ownbuf_bench_tail *tl)
{
	u64 clk = ownbuf_bench_pct(tl->ns[OWNBUF_BENCH_T_CLOCK],
				   tl->got[OWNBUF_BENCH_T_CLOCK], 500);
	u64 p50 = ownbuf_bench_pct(tl->ns[OWNBUF_BENCH_T_SHARED],
				   tl->got[OWNBUF_BENCH_T_SHARED], 500);
	u64 p999 = ownbuf_bench_pct(tl->ns[OWNBUF_BENCH_T_SHARED],
				    tl->got[OWNBUF_BENCH_T_SHARED], 999);

	if (p50 <= clk)
		return 0;
	return div64_u64((p999 - min(p999, clk)) * 100, p50 - clk);
}

/* Start the load on CPU 1 and wait until it runs; NULL if it did not. */
static struct task_struct *ownbuf_bench_load_start(struct ownbuf_bench_load *l)
{
	struct task_struct *task;
	unsigned int i;

	task = kthread_create(ownbuf_bench_load_thread, l, "ownbuf_bench_load");
	if (IS_ERR(task))
		return NULL;
	kthread_bind(task, 1);
	wake_up_process(task);
	for (i = 0; i < 50 && READ_ONCE(l->rounds) < 10; i++)
		msleep(20);
	if (READ_ONCE(l->rounds) < 10) {
		kthread_stop(task);
		return NULL;
	}
	return task;
}

static int ownbuf_bench_tail(struct ownbuf_bench_ctx *ctx)
{
	struct ownbuf_bench_tail tl[2] = { };	/* alone, under load */
	struct ownbuf_bench_load load = { .ctx = ctx };
	struct ownbuf_bench_tail *a = &tl[0], *l = &tl[1];
	unsigned long rounds, mut;
	struct task_struct *task;
	unsigned int i, k;
	int ret = -ENOMEM;

	for (i = 0; i < 2; i++) {
		tl[i].ctx = ctx;
		for (k = 0; k < OWNBUF_BENCH_NR_T; k++) {
			tl[i].ns[k] = kvmalloc_array(tail_samples, sizeof(u32),
						     GFP_KERNEL);
			if (!tl[i].ns[k])
				goto out;
		}
	}
	/* A first pass warms the code and the caches up; not counted. */
	ret = work_on_cpu(0, ownbuf_bench_tail_run, a);
	if (!ret)
		ret = work_on_cpu(0, ownbuf_bench_tail_run, a);
	if (ret)
		goto out;
	task = ownbuf_bench_load_start(&load);
	if (!task) {
		pr_err("tail: the load did not start\n");
		ret = -ECHILD;
		goto out;
	}
	rounds = READ_ONCE(load.rounds);
	mut = READ_ONCE(load.mut);
	ret = work_on_cpu(0, ownbuf_bench_tail_run, l);
	rounds = READ_ONCE(load.rounds) - rounds;
	mut = READ_ONCE(load.mut) - mut;
	kthread_stop(task);
	if (ret)
		goto out;

	for (i = 0; i < 2; i++)
		for (k = 0; k < OWNBUF_BENCH_NR_T; k++)
			sort(tl[i].ns[k], tl[i].got[k], sizeof(u32),
			     ownbuf_bench_cmp_u32, NULL);
	if (l->got[OWNBUF_BENCH_T_SHARED] < tail_samples / 2) {
		pr_err("tail: only %u of %u shared borrows granted\n",
		       l->got[OWNBUF_BENCH_T_SHARED], tail_samples);
		ret = -EBUSY;
		goto out;
	}
	ownbuf_bench_print("kernel_tail_clock",
			   ownbuf_bench_pct(a->ns[OWNBUF_BENCH_T_CLOCK],
					    a->got[OWNBUF_BENCH_T_CLOCK],
					    500) * 1000,
			   ownbuf_bench_pct(a->ns[OWNBUF_BENCH_T_SHARED],
					    a->got[OWNBUF_BENCH_T_SHARED],
					    500) * 1000);
	ownbuf_bench_print("kernel_shared_tail_p50_load",
			   ownbuf_bench_pct(l->ns[OWNBUF_BENCH_T_SHARED],
					    l->got[OWNBUF_BENCH_T_SHARED],
					    500) * 1000,
			   ownbuf_bench_pct(a->ns[OWNBUF_BENCH_T_SHARED],
					    a->got[OWNBUF_BENCH_T_SHARED],
					    500) * 1000);
	ownbuf_bench_tail_print("alone", a);
	ownbuf_bench_tail_print("load", l);
	ownbuf_bench_pct_print("kernel_refcount_tail_p999_alone",
			       a->ns[OWNBUF_BENCH_T_REFCOUNT],
			       a->got[OWNBUF_BENCH_T_REFCOUNT], 999);
	ownbuf_bench_pct_print("kernel_refcount_tail_p999_load",
			       l->ns[OWNBUF_BENCH_T_REFCOUNT],
			       l->got[OWNBUF_BENCH_T_REFCOUNT], 999);
	ownbuf_bench_pct_print("kernel_shared_line_tail_p999_load",
			       l->ns[OWNBUF_BENCH_T_SHARED_LINE],
			       l->got[OWNBUF_BENCH_T_SHARED_LINE], 999);
	ownbuf_bench_hist("kernel_shared_alone", a->ns[OWNBUF_BENCH_T_SHARED],
			  a->got[OWNBUF_BENCH_T_SHARED]);
	ownbuf_bench_hist("kernel_shared_load", l->ns[OWNBUF_BENCH_T_SHARED],
			  l->got[OWNBUF_BENCH_T_SHARED]);
	ownbuf_bench_hist("kernel_refcount_alone",
			  a->ns[OWNBUF_BENCH_T_REFCOUNT],
			  a->got[OWNBUF_BENCH_T_REFCOUNT]);
	ownbuf_bench_hist("kernel_refcount_load",
			  l->ns[OWNBUF_BENCH_T_REFCOUNT],
			  l->got[OWNBUF_BENCH_T_REFCOUNT]);
	ownbuf_bench_hist("kernel_shared_line_load",
			  l->ns[OWNBUF_BENCH_T_SHARED_LINE],
			  l->got[OWNBUF_BENCH_T_SHARED_LINE]);
	pr_info("note: kernel tail: %u rounds per pass on CPU 0 of an empty clock pair, a shared borrow + release, a refcount_t pair and one on a counter CPU 1 changes too, each timed with ktime_get_ns(); the empty pair (inside every time): p50 %llu ns, p99.9 %llu ns, max %llu ns alone, max %llu ns under load\n",
		tail_samples,
		ownbuf_bench_pct(a->ns[OWNBUF_BENCH_T_CLOCK],
				 a->got[OWNBUF_BENCH_T_CLOCK], 500),
		ownbuf_bench_pct(a->ns[OWNBUF_BENCH_T_CLOCK],
				 a->got[OWNBUF_BENCH_T_CLOCK], 999),
		ownbuf_bench_pct(a->ns[OWNBUF_BENCH_T_CLOCK],
				 a->got[OWNBUF_BENCH_T_CLOCK], 1000),
		ownbuf_bench_pct(l->ns[OWNBUF_BENCH_T_CLOCK],
				 l->got[OWNBUF_BENCH_T_CLOCK], 1000));
	pr_info("note: kernel tail under load: %u of %u shared borrows refused (-EBUSY: CPU 1 held the mut borrow; the longest refusal %llu ns); meanwhile CPU 1 did %lu rounds, %lu mut borrows granted; refcount_t pair max %llu ns alone, %llu ns under load\n",
		l->refused, tail_samples, l->refused_max, rounds, mut,
		ownbuf_bench_pct(a->ns[OWNBUF_BENCH_T_REFCOUNT],
				 a->got[OWNBUF_BENCH_T_REFCOUNT], 1000),
		ownbuf_bench_pct(l->ns[OWNBUF_BENCH_T_REFCOUNT],
				 l->got[OWNBUF_BENCH_T_REFCOUNT], 1000));
	pr_info("note: kernel tail, net of the clock's p50: shared borrow + release p99.9 / p50 = %llu%% alone, %llu%% under load\n",
		ownbuf_bench_net(a), ownbuf_bench_net(l));
	ret = 0;
out:
	for (i = 0; i < 2; i++)
		for (k = 0; k < OWNBUF_BENCH_NR_T; k++)
			kvfree(tl[i].ns[k]);
	return ret;
}

static int __init ownbuf_bench_init(void)
{
	struct ownbuf_bench_ctx *ctx;
	u64 *t, *tb;
	int ret = -ENOMEM;

	reps = max(reps, 5U);
	iters = max(iters, 20U);
	ctx = kzalloc(sizeof(*ctx), GFP_KERNEL);
	t = kcalloc(reps, sizeof(*t), GFP_KERNEL);
	tb = kcalloc(reps, sizeof(*tb), GFP_KERNEL);
	if (!ctx || !t || !tb)
		goto out;
	refcount_set(&ctx->rc, 1);
	refcount_set(&ctx->rc_shared, 1);
	ret = ownbuf_create(4096, GFP_KERNEL, &ctx->h);
	if (ret)
		goto out;
	ret = ownbuf_bench_pool_make(ctx);
	if (ret) {
		ownbuf_bench_pool_free(ctx);
		if (ownbuf_drop(&ctx->h))
			pr_err("drop failed\n");
		goto out;
	}

	ownbuf_bench_pair("kernel_shared_borrow_release", ownbuf_bench_shared,
			  ownbuf_bench_refcount, iters, ctx, t, tb);
	ownbuf_bench_pair("kernel_mut_borrow_release", ownbuf_bench_mut,
			  ownbuf_bench_refcount, iters, ctx, t, tb);
	ownbuf_bench_pair("kernel_handle_lookup", ownbuf_bench_lookup,
			  ownbuf_bench_refcount, iters, ctx, t, tb);
	ownbuf_bench_pair("kernel_create_drop", ownbuf_bench_create,
			  ownbuf_bench_refcount, iters / 20, ctx, t, tb);
	ownbuf_bench_pair("kernel_floor_atomics", ownbuf_bench_atomics,
			  ownbuf_bench_refcount, iters, ctx, t, tb);
	ownbuf_bench_pair("kernel_floor_calls", ownbuf_bench_calls,
			  ownbuf_bench_refcount, iters, ctx, t, tb);

	if (cpu_online(0) && cpu_online(1)) {
		/* Some 50 ms per loop, of both. */
		ownbuf_bench_scaling("kernel_shared_2cpu_scaling",
				     ownbuf_bench_shared, iters * 3, ctx, t, tb);
		/* For comparison: one refcount_t shared by both CPUs. */
		ownbuf_bench_scaling("kernel_refcount_2cpu_scaling",
				     ownbuf_bench_refcount, iters * 12, ctx, t,
				     tb);
	} else {
		pr_warn("CPUs 0 and 1 not both online: no scaling figures\n");
	}
	ownbuf_bench_pool_free(ctx);
	if (extras && cpu_online(0) && cpu_online(1)) {
		ret = ownbuf_bench_tail(ctx);
		if (!ret)
			ret = ownbuf_bench_alive(ctx, t);
		if (!ret)
			ret = ownbuf_bench_many(ctx, t, tb);
		if (ret) {
			if (ownbuf_drop(&ctx->h))
				pr_err("drop failed\n");
			goto out;
		}
	}
	ret = ownbuf_drop(&ctx->h);
out:
	kfree(tb);
	kfree(t);
	kfree(ctx);
	return ret;
}

static void __exit ownbuf_bench_exit(void)
{
}

module_init(ownbuf_bench_init);
module_exit(ownbuf_bench_exit);

MODULE_DESCRIPTION("Benchmarks of the ownbuf in-kernel API");
MODULE_LICENSE("GPL");
