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
 */

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/ownbuf.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/timekeeping.h>

static unsigned int iters = 200000;
module_param(iters, uint, 0444);
MODULE_PARM_DESC(iters, "Operations per repetition");

static unsigned int reps = 11;
module_param(reps, uint, 0444);
MODULE_PARM_DESC(reps, "Repetitions; the median is reported (at least 5)");

/**
 * struct ownbuf_bench_ctx - what the measured loops work on
 * @h: a live 4 KiB buffer.
 * @rc: the baseline's refcount, kept at 1 or more.
 * @count: the floor's stand-in for a per-CPU shared-borrow count.
 * @token: the floor's stand-in for a borrow token's state.
 * @n: operations per repetition.
 */
struct ownbuf_bench_ctx {
	struct ownbuf_handle h;
	refcount_t rc;
	atomic_long_t count ____cacheline_aligned;
	atomic_t token ____cacheline_aligned;
	unsigned int n;
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

/* One result line; @ps and @base_ps are picoseconds per operation. */
static void ownbuf_bench_print(const char *name, u64 ps, u64 base_ps)
{
	u64 milli = div64_u64(ps * 1000, base_ps ?: 1);

	pr_info("metric=%s value=%llu.%llu baseline=%llu.%llu ratio=%llu.%03llu\n",
		name, div_u64(ps, 1000), div_u64(ps % 1000, 100),
		div_u64(base_ps, 1000), div_u64(base_ps % 1000, 100),
		div_u64(milli, 1000), milli % 1000);
}

/* Median over reps of @fn, interleaved with @base so drift hits both. */
static void ownbuf_bench_pair(const char *name, ownbuf_bench_fn fn,
			      ownbuf_bench_fn base, unsigned int n,
			      struct ownbuf_bench_ctx *ctx, u64 *t, u64 *tb)
{
	unsigned int r;

	ctx->n = n;
	fn(ctx);		/* warm up both */
	base(ctx);
	for (r = 0; r < reps; r++) {
		t[r] = ownbuf_bench_once(fn, ctx);
		tb[r] = ownbuf_bench_once(base, ctx);
		cond_resched();
	}
	ownbuf_bench_print(name, ownbuf_bench_median(t, reps),
			   ownbuf_bench_median(tb, reps));
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
	ret = ownbuf_create(4096, GFP_KERNEL, &ctx->h);
	if (ret)
		goto out;

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
