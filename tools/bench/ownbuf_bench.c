// SPDX-License-Identifier: GPL-2.0
/*
 * In-kernel benchmarks of the ownbuf engine, each against a baseline
 * measured in the same run: a refcount_t inc + dec_and_test pair.  Not part
 * of ownbuf.ko.  Results are printed when the module loads, one line per
 * metric: "metric=<name> value=<ns> baseline=<ns> ratio=<r>".
 */

#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
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

static unsigned int reps = 7;
module_param(reps, uint, 0444);
MODULE_PARM_DESC(reps, "Repetitions; the median is reported (at least 5)");

struct ownbuf_bench_ctx {
	struct ownbuf_handle h;
	refcount_t rc;
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

/* ns per operation of one repetition of @fn on this CPU. */
static u64 ownbuf_bench_once(ownbuf_bench_fn fn, struct ownbuf_bench_ctx *ctx)
{
	u64 t0, t1;

	t0 = ktime_get_ns();
	fn(ctx);
	t1 = ktime_get_ns();
	return div_u64(t1 - t0, ctx->n);
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

/* Median over reps of @fn, interleaved with @base so drift hits both. */
static void ownbuf_bench_pair(const char *name, ownbuf_bench_fn fn,
			      ownbuf_bench_fn base, unsigned int n,
			      struct ownbuf_bench_ctx *ctx, u64 *t, u64 *tb)
{
	u64 mv, mb;
	unsigned int r;

	ctx->n = n;
	for (r = 0; r < reps; r++) {
		t[r] = ownbuf_bench_once(fn, ctx);
		tb[r] = ownbuf_bench_once(base, ctx);
		cond_resched();
	}
	mv = ownbuf_bench_median(t, reps);
	mb = ownbuf_bench_median(tb, reps);
	pr_info("metric=%s value=%llu baseline=%llu ratio=%llu.%02llu\n",
		name, mv, mb, div64_u64(mv, mb ?: 1),
		div64_u64(mv * 100, mb ?: 1) % 100);
}

struct ownbuf_bench_worker {
	struct ownbuf_bench_ctx *ctx;
	struct completion *go;
	u64 ns;
	struct completion done;
};

static int ownbuf_bench_thread(void *arg)
{
	struct ownbuf_bench_worker *w = arg;

	wait_for_completion(w->go);
	w->ns = ownbuf_bench_once(ownbuf_bench_shared, w->ctx);
	complete(&w->done);
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

/* ns per shared borrow+release with one thread per CPU in @cpus at once. */
static u64 ownbuf_bench_parallel(struct ownbuf_bench_ctx *ctx,
				 unsigned int ncpus)
{
	struct ownbuf_bench_worker w[2];
	struct task_struct *t[2];
	DECLARE_COMPLETION_ONSTACK(go);
	unsigned int i;
	u64 sum = 0;

	for (i = 0; i < ncpus; i++) {
		w[i].ctx = ctx;
		w[i].go = &go;
		init_completion(&w[i].done);
		t[i] = kthread_create(ownbuf_bench_thread, &w[i], "ownbuf_bench/%u",
				      i);
		if (IS_ERR(t[i]))
			return 0;
		kthread_bind(t[i], i);
		wake_up_process(t[i]);
	}
	complete_all(&go);
	for (i = 0; i < ncpus; i++) {
		wait_for_completion(&w[i].done);
		kthread_stop(t[i]);
		sum += w[i].ns;
	}
	return div_u64(sum, ncpus);
}

static int __init ownbuf_bench_init(void)
{
	struct ownbuf_bench_ctx *ctx;
	u64 *t, *tb;
	unsigned int r;
	int ret = -ENOMEM;

	reps = max(reps, 5U);
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

	if (num_online_cpus() >= 2 && cpu_online(0) && cpu_online(1)) {
		ctx->n = iters;
		for (r = 0; r < reps; r++) {
			t[r] = ownbuf_bench_parallel(ctx, 2);
			tb[r] = ownbuf_bench_parallel(ctx, 1);
		}
		pr_info("metric=kernel_shared_2cpu_scaling value=%llu baseline=%llu ratio=%llu.%02llu\n",
			ownbuf_bench_median(t, reps),
			ownbuf_bench_median(tb, reps),
			div64_u64(t[reps / 2], tb[reps / 2] ?: 1),
			div64_u64(t[reps / 2] * 100, tb[reps / 2] ?: 1) % 100);
	}
	ownbuf_drop(&ctx->h);
	ret = 0;
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
