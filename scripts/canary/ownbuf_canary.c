// SPDX-License-Identifier: GPL-2.0
/*
 * ownbuf_canary - commits one deliberate sin when it is loaded, so that the
 * ownbuf test harness can prove that it sees each kind of failure.  It is
 * not part of ownbuf.ko; the harness self-test (scripts/check.sh) builds it
 * against the debug kernel (and the kcsan kernel, for "race"), with ownbuf.ko
 * whose API it uses, and boots it once per sin, ownbuf.ko loaded first.
 *
 *	insmod ownbuf.ko; insmod ownbuf_canary.ko sin=<sin>
 *
 * none          nothing: the control, judged green
 * uaf           reads a freed object (KASAN)
 * lockdep       takes two mutexes in both orders (ABBA)
 * borrow-abba   blocking borrows of two buffers in both orders (lockdep)
 * borrow-mutex  a mutex under a blocking borrow, and the other way round
 * warn          WARN()s
 * leak          loses an allocation (kmemleak)
 * kunit         fails one case of the ownbuf_canary KUnit suite
 * pin           takes a reference on itself, so rmmod fails
 * panic         panics (early death of the guest)
 * hang          never finishes loading (the run times out)
 * race          two threads on two CPUs write one variable, plainly (KCSAN)
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <kunit/test.h>
#include <linux/compiler.h>
#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/kthread.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/ownbuf.h>
#include <linux/panic.h>
#include <linux/slab.h>
#include <linux/string.h>

static char *sin = "none";
module_param(sin, charp, 0444);
MODULE_PARM_DESC(sin, "the sin to commit: none, uaf, lockdep, borrow-abba, borrow-mutex, warn, leak, kunit, pin, panic, hang or race");

static DEFINE_MUTEX(ownbuf_canary_a);
static DEFINE_MUTEX(ownbuf_canary_b);

static noinline int ownbuf_canary_uaf(void)
{
	char *p = kmalloc(64, GFP_KERNEL);

	if (!p)
		return -ENOMEM;
	kfree(p);
	/* Hide the free from the compiler; KASAN must see the access. */
	OPTIMIZER_HIDE_VAR(p);
	pr_info("read %d from a freed object\n", READ_ONCE(p[8]));
	return 0;
}

static noinline void ownbuf_canary_abba(void)
{
	mutex_lock(&ownbuf_canary_a);
	mutex_lock(&ownbuf_canary_b);
	mutex_unlock(&ownbuf_canary_b);
	mutex_unlock(&ownbuf_canary_a);

	mutex_lock(&ownbuf_canary_b);
	mutex_lock(&ownbuf_canary_a);
	mutex_unlock(&ownbuf_canary_a);
	mutex_unlock(&ownbuf_canary_b);
}

/* A scoped blocking mut borrow of @outer, and in it one of @inner. */
static int ownbuf_canary_nest(struct ownbuf_handle outer,
			      struct ownbuf_handle inner)
{
	ownbuf_scoped(mut_wait, return PTR_ERR(scope), outer) {
		CLASS(ownbuf_mut_wait, r)(inner);

		if (IS_ERR(r))
			return PTR_ERR(r);
	}
	return 0;
}

/*
 * Two buffers made at two places, so of two lockdep classes (ownbuf.h),
 * each borrowed blocking while a scoped borrow of the other is held, in
 * both orders: the AB-BA that would hang two threads.  One thread never
 * waits, yet lockdep must report it.
 */
static noinline int ownbuf_canary_borrow_abba(void)
{
	struct ownbuf_handle a __free(ownbuf) = OWNBUF_HANDLE_NULL;
	struct ownbuf_handle b __free(ownbuf) = OWNBUF_HANDLE_NULL;
	int ret;

	ret = ownbuf_create(64, GFP_KERNEL, &a);
	if (ret)
		return ret;
	ret = ownbuf_create(64, GFP_KERNEL, &b);
	if (ret)
		return ret;
	ret = ownbuf_canary_nest(a, b);
	if (ret)
		return ret;
	return ownbuf_canary_nest(b, a);
}

/*
 * A mutex taken under a scoped blocking borrow, then a blocking borrow of
 * the same buffer taken under the mutex: the second one a token that could
 * outlive the call, of which lockdep sees only the wait.
 */
static noinline int ownbuf_canary_borrow_mutex(void)
{
	struct ownbuf_handle h __free(ownbuf) = OWNBUF_HANDLE_NULL;
	struct ownbuf_ref ref = { };
	int ret;

	ret = ownbuf_create(64, GFP_KERNEL, &h);
	if (ret)
		return ret;
	ownbuf_scoped(mut_wait, return PTR_ERR(scope), h) {
		mutex_lock(&ownbuf_canary_a);
		mutex_unlock(&ownbuf_canary_a);
	}
	mutex_lock(&ownbuf_canary_a);
	ret = ownbuf_borrow(h, OWNBUF_MUT | OWNBUF_WAIT, &ref);
	mutex_unlock(&ownbuf_canary_a);
	if (ret)
		return ret;
	return ownbuf_release(&ref);
}

static noinline int ownbuf_canary_leak(void)
{
	char *p = kstrdup("ownbuf canary: deliberately leaked", GFP_KERNEL);

	if (!p)
		return -ENOMEM;
	/* Forget the only reference: kmemleak must report the object. */
	OPTIMIZER_HIDE_VAR(p);
	return 0;
}

/* Written by two threads at once, without a lock or a marking. */
static unsigned long ownbuf_canary_racy;

struct ownbuf_canary_racer {
	struct completion done;
	unsigned long until;
};

static int ownbuf_canary_racer_fn(void *arg)
{
	struct ownbuf_canary_racer *r = arg;

	while (time_before(jiffies, r->until)) {
		ownbuf_canary_racy++;
		cpu_relax();
	}
	/* Never back into this module's text once the loader may go on. */
	kthread_complete_and_exit(&r->done, 0);
}

/*
 * Two threads, one per CPU, race on ownbuf_canary_racy for a second:
 * KCSAN watches one access in a few thousand and stalls it, long enough
 * for the other CPU's write to land in the window.
 */
static noinline int ownbuf_canary_race(void)
{
	struct ownbuf_canary_racer r[2];
	struct task_struct *t;
	int i;

	if (num_online_cpus() < 2) {
		pr_err("race: needs two CPUs, %u online\n", num_online_cpus());
		return -ENODEV;
	}
	for (i = 0; i < 2; i++) {
		init_completion(&r[i].done);
		r[i].until = jiffies + HZ;
		t = kthread_create_on_cpu(ownbuf_canary_racer_fn, &r[i],
					  i ? cpumask_last(cpu_online_mask) :
					      cpumask_first(cpu_online_mask),
					  "ownbuf_canary/%u");
		if (IS_ERR(t))
			return PTR_ERR(t);
		wake_up_process(t);
	}
	for (i = 0; i < 2; i++)
		wait_for_completion(&r[i].done);
	pr_info("race: %lu increments\n", READ_ONCE(ownbuf_canary_racy));
	return 0;
}

static int __init ownbuf_canary_init(void)
{
	pr_info("sin=%s\n", sin);
	if (!strcmp(sin, "none") || !strcmp(sin, "kunit"))
		return 0;
	if (!strcmp(sin, "uaf"))
		return ownbuf_canary_uaf();
	if (!strcmp(sin, "lockdep")) {
		ownbuf_canary_abba();
		return 0;
	}
	if (!strcmp(sin, "borrow-abba"))
		return ownbuf_canary_borrow_abba();
	if (!strcmp(sin, "borrow-mutex"))
		return ownbuf_canary_borrow_mutex();
	if (!strcmp(sin, "warn")) {
		WARN(1, "ownbuf canary: deliberate warning\n");
		return 0;
	}
	if (!strcmp(sin, "leak"))
		return ownbuf_canary_leak();
	if (!strcmp(sin, "pin")) {
		__module_get(THIS_MODULE);
		return 0;
	}
	if (!strcmp(sin, "panic"))
		panic("ownbuf canary: deliberate panic\n");
	if (!strcmp(sin, "hang")) {
		for (;;)
			msleep_interruptible(1000);
	}
	if (!strcmp(sin, "race"))
		return ownbuf_canary_race();
	pr_err("unknown sin '%s'\n", sin);
	return -EINVAL;
}
module_init(ownbuf_canary_init);

static void __exit ownbuf_canary_exit(void)
{
}
module_exit(ownbuf_canary_exit);

#if IS_ENABLED(CONFIG_KUNIT)
static void ownbuf_canary_test_control(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, 1 + 1, 2);
}

static void ownbuf_canary_test_sin(struct kunit *test)
{
	KUNIT_EXPECT_STRNEQ_MSG(test, sin, "kunit",
				"deliberate KUnit failure (sin=kunit)");
}

static struct kunit_case ownbuf_canary_test_cases[] = {
	KUNIT_CASE(ownbuf_canary_test_control),
	KUNIT_CASE(ownbuf_canary_test_sin),
	{}
};

static struct kunit_suite ownbuf_canary_test_suite = {
	.name = "ownbuf_canary",
	.test_cases = ownbuf_canary_test_cases,
};

kunit_test_suite(ownbuf_canary_test_suite);
#endif

MODULE_DESCRIPTION("ownbuf test harness canary: one deliberate bug per run");
MODULE_LICENSE("GPL");
