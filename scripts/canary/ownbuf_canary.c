// SPDX-License-Identifier: GPL-2.0
/*
 * ownbuf_canary - commits one deliberate sin when it is loaded, so that the
 * ownbuf test harness can prove that it sees each kind of failure.  It is
 * not part of ownbuf.ko; the harness self-test (scripts/check.sh) builds it
 * against the debug kernel (and the kcsan kernel, for "race") and boots it
 * once per sin.
 *
 *	insmod ownbuf_canary.ko sin=<sin>
 *
 * none     nothing: the control, judged green
 * uaf      reads a freed object (KASAN)
 * lockdep  takes two mutexes in both orders (ABBA)
 * warn     WARN()s
 * leak     loses an allocation (kmemleak)
 * kunit    fails one case of the ownbuf_canary KUnit suite
 * pin      takes a reference on itself, so rmmod fails
 * panic    panics (early death of the guest)
 * hang     never finishes loading (the run times out)
 * race     two threads on two CPUs write one variable, plainly (KCSAN)
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
#include <linux/panic.h>
#include <linux/slab.h>
#include <linux/string.h>

static char *sin = "none";
module_param(sin, charp, 0444);
MODULE_PARM_DESC(sin, "the sin to commit: none, uaf, lockdep, warn, leak, kunit, pin, panic, hang or race");

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
