// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers of the ownbuf KUnit suites, see ownbuf_kunit.h.
 *
 * Everything a test creates (buffers, borrows, unsafe sections, threads,
 * stubs, module parameters) is undone by a kunit action, so a failed
 * assertion leaves nothing behind.
 */

#include <linux/delay.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/mount.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <linux/vmalloc.h>
#include <trace/events/printk.h>

#include "ownbuf_kunit.h"

/*
 * --- splats on the console fail the test that caused them ---
 * A prefilter of the kernel-report headlines that scripts/judge.py lists
 * (SPLATS, the one list): it only blames the running test; judge.py reads
 * the same console and decides.
 */

static const char * const ob_splat_marks[] = {
	"BUG:", "WARNING:", "UBSAN:", "refcount_t:", "INFO: possible",
	"INFO: trying", "INFO: task", "general protection", "Oops",
};

static struct {
	spinlock_t lock;	/* protects the fields below */
	unsigned long splats;
	char first[192];
	const char *want;	/* ownbuf_test_warning_names_caller() */
	char line[192];
} ob_console = {
	.lock = __SPIN_LOCK_UNLOCKED(ob_console.lock),
};

static void ob_probe_console(void *ignore, const char *buf, size_t len)
{
	unsigned long flags;
	size_t i;

	/*
	 * printk() runs in NMI too (backtraces of a stall); the lock must
	 * not be taken there.  A line printed in NMI is a splat's tail.
	 */
	if (in_nmi())
		return;
	/*
	 * A KCSAN report is judged on the host (scripts/judge.py), which
	 * reads its stacks: only there can a race inside printk() that an
	 * ownbuf report merely called into be told from one of ownbuf's.
	 */
	if (strnstr(buf, "BUG: KCSAN:", len))
		return;
	spin_lock_irqsave(&ob_console.lock, flags);
	for (i = 0; i < ARRAY_SIZE(ob_splat_marks); i++) {
		if (!strnstr(buf, ob_splat_marks[i], len))
			continue;
		if (!ob_console.splats++)
			strscpy(ob_console.first, buf,
				min(len + 1, sizeof(ob_console.first)));
		break;
	}
	if (ob_console.want && !ob_console.line[0] &&
	    strnstr(buf, ob_console.want, len))
		strscpy(ob_console.line, buf,
			min(len + 1, sizeof(ob_console.line)));
	spin_unlock_irqrestore(&ob_console.lock, flags);
}

unsigned long ob_splats(void)
{
	unsigned long flags, n;

	spin_lock_irqsave(&ob_console.lock, flags);
	n = ob_console.splats;
	spin_unlock_irqrestore(&ob_console.lock, flags);
	return n;
}

/* The last action to run: nothing the test did may have splatted. */
static void ob_check_splats(void *arg)
{
	struct kunit *test = arg;
	struct ob_priv *priv = test->priv;
	unsigned long flags, n;
	char first[sizeof(ob_console.first)];

	spin_lock_irqsave(&ob_console.lock, flags);
	n = ob_console.splats - priv->splats;
	strscpy(first, ob_console.first, sizeof(first));
	spin_unlock_irqrestore(&ob_console.lock, flags);
	KUNIT_EXPECT_EQ_MSG(test, n, 0, "the kernel reported: %s", first);
}

/* --- violation counters --- */

void ob_snap(struct ob_counts *c)
{
	int v;

	for (v = 0; v < OWNBUF_NR_VIOLATIONS; v++)
		c->n[v] = ownbuf_violations(v);
}

/* Expect every counter to have moved by exactly @want since @before. */
void ob_expect_deltas(struct kunit *test, const struct ob_counts *before,
		      const u64 *want, int line)
{
	struct ob_counts now;
	int v;

	ob_snap(&now);
	for (v = 0; v < OWNBUF_NR_VIOLATIONS; v++)
		KUNIT_EXPECT_EQ_MSG(test, now.n[v] - before->n[v], want[v],
				    "%s counter, checked at line %d",
				    ownbuf_violation_name(v), line);
}

/* Exactly one violation of @class, or none at all for OB_NONE. */
void ob_expect_one(struct kunit *test, const struct ob_counts *before,
		   int class, int line)
{
	u64 want[OWNBUF_NR_VIOLATIONS] = { };

	if (class != OB_NONE)
		want[class] = 1;
	ob_expect_deltas(test, before, want, line);
}

/* --- buffers, borrows and sections that clean up after themselves --- */

KUNIT_DEFINE_ACTION_WRAPPER(ob_vfree, vfree, const void *);

/* Zeroed scratch memory, freed when the test ends. */
u8 *ob_scratch(struct kunit *test, size_t size)
{
	u8 *p = vzalloc(size);

	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, ob_vfree, p), 0);
	return p;
}

/*
 * @size zeroed bytes, which @cleanup gets when the test ends (kunit_kzalloc()
 * memory: freed after that).
 */
static void *ob_zalloc(struct kunit *test, size_t size,
		       kunit_action_t *cleanup)
{
	void *p = kunit_kzalloc(test, size, GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, cleanup, p), 0);
	return p;
}

static void ob_handle_cleanup(void *arg)
{
	struct ownbuf_handle *h = arg;
	u64 v = READ_ONCE(h->val);

	/* A consumed variable owns nothing; anything else is revoked. */
	if (v && !(v & OWNBUF_POISON))
		ownbuf_revoke(h);
}

/* A handle variable (NULL handle) revoked at the end if it still owns. */
struct ownbuf_handle *ob_handle(struct kunit *test)
{
	return ob_zalloc(test, sizeof(struct ownbuf_handle), ob_handle_cleanup);
}

struct ownbuf_handle *ob_create(struct kunit *test, size_t size)
{
	struct ownbuf_handle *h = ob_handle(test);

	KUNIT_ASSERT_EQ(test, ownbuf_create(size, GFP_KERNEL, h), 0);
	KUNIT_ASSERT_NE(test, h->val, 0);
	return h;
}

void ob_ref_cleanup(void *arg)
{
	ownbuf_ref_discard(arg);
}

/* A zeroed borrow token, whose borrow (if any) ends with the test. */
struct ownbuf_ref *ob_ref(struct kunit *test)
{
	return ob_zalloc(test, sizeof(struct ownbuf_ref), ob_ref_cleanup);
}

static void ob_ref_array_cleanup(void *arg)
{
	struct ob_ref_array *a = arg;
	unsigned int i;

	for (i = 0; i < a->n; i++)
		ownbuf_ref_discard(&a->refs[i]);
}

struct ownbuf_ref *ob_refs(struct kunit *test, unsigned int n)
{
	struct ob_ref_array *a;

	a = ob_zalloc(test, struct_size(a, refs, n), ob_ref_array_cleanup);
	a->n = n;
	return a->refs;
}

static void ob_unsafe_cleanup(void *arg)
{
	ownbuf_unsafe_end(arg);
}

/* Open an unsafe section that the test ends, or its cleanup does. */
void *ob_unsafe_begin(struct kunit *test, struct ownbuf_ref *ref,
		      size_t *len)
{
	void *p = ownbuf_unsafe_begin(ref, len);

	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, p);
	KUNIT_ASSERT_EQ(test,
			kunit_add_action_or_reset(test, ob_unsafe_cleanup, ref),
			0);
	return p;
}

void ob_unsafe_end(struct kunit *test, struct ownbuf_ref *ref)
{
	kunit_release_action(test, ob_unsafe_cleanup, ref);
}

/* Write @byte over the whole buffer, as its owner. */
void ob_fill(struct kunit *test, struct ownbuf_handle h, u8 byte)
{
	size_t size;
	u8 *p;

	KUNIT_ASSERT_EQ(test, ownbuf_size(h, &size), 0);
	p = ob_scratch(test, size);
	memset(p, byte, size);
	KUNIT_ASSERT_EQ(test, ownbuf_owner_write(h, 0, p, size), 0);
}

void ob_expect_bytes(struct kunit *test, const u8 *p, size_t len,
		     u8 byte, const char *what, int line)
{
	const u8 *bad = memchr_inv(p, byte, len);

	KUNIT_EXPECT_TRUE_MSG(test, !bad,
			      "%s: byte %td is 0x%02x, expected 0x%02x (line %d)",
			      what, bad - p, bad ? *bad : 0, byte, line);
}

/* Expect [@off, @off + @len) to hold @byte, read by the owner. */
void ob_expect_owner_bytes(struct kunit *test, struct ownbuf_handle h,
			   size_t off, size_t len, u8 byte, int line)
{
	u8 *p = ob_scratch(test, len);

	KUNIT_ASSERT_EQ_MSG(test, ownbuf_owner_read(h, off, p, len), 0,
			    "owner read at line %d", line);
	ob_expect_bytes(test, p, len, byte, "owner's view", line);
}

/* Expect [@off, @off + @len) to hold @byte, read through @ref. */
void ob_expect_ref_bytes(struct kunit *test, struct ownbuf_ref *ref,
			 size_t off, size_t len, u8 byte, int line)
{
	u8 *p = ob_scratch(test, len);

	KUNIT_ASSERT_EQ_MSG(test, ownbuf_read(ref, off, p, len), 0,
			    "borrow read at line %d", line);
	ob_expect_bytes(test, p, len, byte, "borrower's view", line);
}

struct ownbuf_stat ob_stat(struct kunit *test, struct ownbuf_handle h)
{
	struct ownbuf_stat st = { };

	KUNIT_ASSERT_EQ(test, ownbuf_stat(h, &st), 0);
	return st;
}

/* --- module parameters, through sysfs, restored at the end --- */

/*
 * A mount of sysfs of the suites' own: built in, they run at boot, before
 * anything is mounted on /sys.  Mounted by ownbuf_suite_init(), unmounted
 * by ownbuf_suite_exit().
 */
static struct vfsmount *ob_sysfs;

static int ob_sysfs_mount(void)
{
	struct file_system_type *fs = get_fs_type("sysfs");

	if (!fs)
		return -ENODEV;
	/* sysfs is built in: get_fs_type() took no module reference. */
	ob_sysfs = kern_mount(fs);
	if (IS_ERR(ob_sysfs)) {
		int ret = PTR_ERR(ob_sysfs);

		ob_sysfs = NULL;
		return ret;
	}
	return 0;
}

static void ob_sysfs_unmount(void)
{
	kern_unmount(ob_sysfs);
	ob_sysfs = NULL;
}

static struct file *ob_param_open(const char *name, int flags)
{
	char path[64];

	if (!ob_sysfs)
		return ERR_PTR(-ENOENT);
	snprintf(path, sizeof(path), OB_PARAM_DIR "%s", name);
	return file_open_root_mnt(ob_sysfs, path, flags, 0);
}

static int ob_param_read(const char *name, unsigned long *val)
{
	char buf[32] = { };
	struct file *f;
	loff_t pos = 0;
	ssize_t n;

	f = ob_param_open(name, O_RDONLY);
	if (IS_ERR(f))
		return PTR_ERR(f);
	n = kernel_read(f, buf, sizeof(buf) - 1, &pos);
	filp_close(f, NULL);
	if (n < 0)
		return n;
	return kstrtoul(buf, 0, val);
}

static int ob_param_write(const char *name, unsigned long val)
{
	char buf[32];
	struct file *f;
	loff_t pos = 0;
	ssize_t n;
	int len;

	len = snprintf(buf, sizeof(buf), "%lu", val);
	f = ob_param_open(name, O_WRONLY);
	if (IS_ERR(f))
		return PTR_ERR(f);
	n = kernel_write(f, buf, len, &pos);
	filp_close(f, NULL);
	return n < 0 ? n : 0;
}

/* The value of a parameter, or @dflt (its default) if sysfs is missing. */
unsigned long ob_param_get(const char *name, unsigned long dflt)
{
	unsigned long val;

	return ob_param_read(name, &val) ? dflt : val;
}

static void ob_param_restore(void *arg)
{
	struct ob_param *p = arg;

	ob_param_write(p->name, p->old);
}

/* Set a module parameter for the rest of the test; skip without sysfs. */
void ob_param_set(struct kunit *test, const char *name,
		  unsigned long val)
{
	struct ob_param *p = kunit_kzalloc(test, sizeof(*p), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, p);
	p->name = name;
	if (ob_param_read(name, &p->old))
		kunit_skip(test, "no /sys/" OB_PARAM_DIR "%s", name);
	KUNIT_ASSERT_EQ(test,
			kunit_add_action_or_reset(test, ob_param_restore, p),
			0);
	KUNIT_ASSERT_EQ(test, ob_param_write(name, val), 0);
}

/* --- threads --- */

static int ob_worker_main(void *arg)
{
	struct ob_worker *w = arg;

	allow_signal(SIGINT);
	/* The test's static stubs apply to this thread too. */
	if (w->stubs)
		current->kunit_test = w->test;
	complete(&w->started);
	w->ret = w->fn(w);
	current->kunit_test = NULL;
	/* For good: every later wait for it returns at once. */
	complete_all(&w->done);
	return 0;
}

static void ob_worker_cleanup(void *arg)
{
	struct ob_worker *w = arg;

	/* Aborted: interrupt an OWNBUF_WAIT the worker may sleep in. */
	if (!w->joined)
		send_sig(SIGINT, w->task, 1);
	kthread_stop_put(w->task);
}

struct ob_worker *ob_worker_new(struct kunit *test, size_t bufsize)
{
	struct ob_worker *w = kunit_kzalloc(test, sizeof(*w), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, w);
	w->test = test;
	init_completion(&w->started);
	init_completion(&w->done);
	atomic_long_set(&w->cb_calls, 0);
	w->cpu = -1;
	if (bufsize) {
		w->buf = ob_scratch(test, bufsize);
		w->buf2 = ob_scratch(test, bufsize);
	}
	/* Registered before the thread: runs after it is stopped. */
	KUNIT_ASSERT_EQ(test,
			kunit_add_action_or_reset(test, ob_ref_cleanup, &w->ref),
			0);
	return w;
}

void ob_worker_start(struct kunit *test, struct ob_worker *w,
		     int (*fn)(struct ob_worker *w), const char *name)
{
	struct task_struct *t;

	w->fn = fn;
	t = kthread_create(ob_worker_main, w, "ob_%s/%d", name, w->id);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, t);
	get_task_struct(t);
	w->task = t;
	KUNIT_ASSERT_EQ(test,
			kunit_add_action_or_reset(test, ob_worker_cleanup, w),
			0);
	if (w->cpu >= 0)
		kthread_bind(t, w->cpu);
	wake_up_process(t);
	KUNIT_ASSERT_NE(test, wait_for_completion_timeout(&w->started,
							  OB_TIMEOUT), 0);
}

/* Wait for @w to finish and check that it saw nothing unexpected. */
void ob_worker_join(struct kunit *test, struct ob_worker *w)
{
	w->joined = true;
	kunit_release_action(test, ob_worker_cleanup, w);
	KUNIT_EXPECT_EQ_MSG(test, w->bad, 0,
			    "worker %d: %lu unexpected results, first %d at line %d",
			    w->id, w->bad, w->bad_err, w->bad_line);
	KUNIT_EXPECT_EQ_MSG(test, w->torn, 0, "worker %d read torn data",
			    w->id);
}

void ob_bad(struct ob_worker *w, int err, int line)
{
	if (!w->bad++) {
		w->bad_err = err;
		w->bad_line = line;
	}
}

/* Count a refusal the contract allows here; anything else is bad. */
int ob_tally(struct ob_worker *w, int ret, unsigned int ok, int line)
{
	if (!ret)
		return 0;
	if (ret == -EBUSY && (ok & OB_OK_BUSY))
		w->seen[OWNBUF_DATA_RACE]++;
	else if (ret == -EBUSY && (ok & OB_OK_LENT))
		w->seen[OWNBUF_DANGLING_BORROW]++;
	else if (ret == -ESTALE && (ok & OB_OK_STALE))
		w->seen[OWNBUF_USE_AFTER_FREE]++;
	else
		ob_bad(w, ret, line);
	return ret;
}

/* A torn read: a writer always writes the whole buffer with one byte. */
void ob_check_uniform(struct ob_worker *w, const u8 *p, size_t len)
{
	if (memchr_inv(p, p[0], len))
		w->torn++;
}

static void ob_count_revoke(struct ownbuf_ref *ref)
{
	struct ob_worker *w = container_of(ref, struct ob_worker, ref);

	atomic_long_inc(&w->cb_calls);
}

const struct ownbuf_ref_ops ob_count_ops = {
	.revoke = ob_count_revoke,
};

/* --- the reporting --- */

/* --- races --- */

struct ob_race *ob_race_new(struct kunit *test, size_t size)
{
	struct ob_race *r = kunit_kzalloc(test, sizeof(*r), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, r);
	r->size = size;
	r->cpu[0] = cpumask_first(cpu_online_mask);
	r->cpu[1] = cpumask_next(r->cpu[0], cpu_online_mask);
	if (r->cpu[1] >= nr_cpu_ids)
		kunit_skip(test, "a race needs two CPUs");
	return r;
}

bool ob_running(struct ob_worker *w)
{
	return !READ_ONCE(w->race->stop) && !kthread_should_stop();
}

struct ownbuf_handle ob_slot(struct ob_race *r)
{
	return (struct ownbuf_handle){ .val = atomic64_read(&r->slot) };
}

void ob_publish(struct ob_race *r)
{
	atomic64_set(&r->slot, r->owner->val);
}

/* Add a thread on the first or the second CPU of the race. */
struct ob_worker *ob_race_add(struct kunit *test, struct ob_race *r,
			      int (*fn)(struct ob_worker *w),
			      const char *name, unsigned int flags,
			      bool use_ops, int cpu)
{
	struct ob_worker *w;

	KUNIT_ASSERT_LT(test, r->n, OB_RACE_MAX);
	w = ob_worker_new(test, r->size);
	w->race = r;
	w->id = r->n;
	w->flags = flags;
	w->use_ops = use_ops;
	w->cpu = r->cpu[cpu];
	w->stubs = r->stubs;
	r->w[r->n++] = w;
	ob_worker_start(test, w, fn, name);
	return w;
}

/* Stop and join every thread; add up the refusals they saw. */
void ob_race_join(struct kunit *test, struct ob_race *r, u64 *seen)
{
	int i, v;

	WRITE_ONCE(r->stop, true);
	for (i = 0; i < r->n; i++) {
		ob_worker_join(test, r->w[i]);
		KUNIT_EXPECT_EQ(test, r->w[i]->ret, 0);
		for (v = 0; v < OWNBUF_NR_VIOLATIONS; v++)
			seen[v] += r->w[i]->seen[v];
	}
}

bool ob_done_within(struct ob_worker *w, unsigned long timeout)
{
	return wait_for_completion_timeout(&w->done, timeout);
}

/* Is @w still at work (blocked) OB_BLOCKED_MS from now? */
bool ob_still_blocked(struct ob_worker *w)
{
	return !ob_done_within(w, msecs_to_jiffies(OB_BLOCKED_MS));
}

/*
 * Release @ref, the last borrow in the way of the waiter @w: @w is woken,
 * and its thread got its borrow, looked at it and gave it back (w->ret,
 * w->ret2 zero).
 */
void ob_expect_granted_on_release(struct kunit *test, struct ob_worker *w,
				  struct ownbuf_ref *ref)
{
	KUNIT_EXPECT_EQ(test, ownbuf_release(ref), 0);
	KUNIT_EXPECT_TRUE_MSG(test, ob_done_within(w, OB_TIMEOUT),
			      "the waiter was not woken");
	ob_worker_join(test, w);
	KUNIT_EXPECT_EQ(test, w->ret, 0);
	KUNIT_EXPECT_EQ(test, w->ret2, 0);
}

int ob_unsafe_try(struct ownbuf_ref *ref, size_t *len)
{
	void *p = ownbuf_unsafe_begin(ref, len);

	if (IS_ERR(p))
		return PTR_ERR(p);
	ownbuf_unsafe_end(ref);
	return 0;
}

void ob_complete(void *arg)
{
	complete(arg);
}

/* --- the suite --- */

/*
 * The last action to run, after every cleanup of the test: each buffer
 * the test created has been dropped or revoked and, once its last borrow
 * went, freed.  A leak is blamed on the test that leaked.
 */
static void ob_check_leaks(void *arg)
{
	struct kunit *test = arg;
	struct ob_priv *priv = test->priv;

	KUNIT_EXPECT_EQ_MSG(test, ownbuf_count_buffers(), priv->buffers,
			    "buffers the test left behind");
}

int ownbuf_test_init(struct kunit *test)
{
	struct ob_priv *priv = kunit_kzalloc(test, sizeof(*priv), GFP_KERNEL);
	int ret;

	if (!priv)
		return -ENOMEM;
	priv->splats = ob_splats();
	priv->buffers = ownbuf_count_buffers();
	test->priv = priv;
	/* The first actions registered are the last to run. */
	ret = kunit_add_action_or_reset(test, ob_check_leaks, test);
	if (ret)
		return ret;
	return kunit_add_action_or_reset(test, ob_check_splats, test);
}

int ownbuf_suite_init(struct kunit_suite *suite)
{
	int ret;

	ret = ob_sysfs_mount();
	if (ret)
		return ret;
	ret = register_trace_console(ob_probe_console, NULL);
	if (ret)
		ob_sysfs_unmount();
	return ret;
}

void ownbuf_suite_exit(struct kunit_suite *suite)
{
	unregister_trace_console(ob_probe_console, NULL);
	tracepoint_synchronize_unregister();
	ob_sysfs_unmount();
}

/* Watch the console for a line containing @want (NULL: stop watching). */
void ob_console_watch(const char *want)
{
	unsigned long flags;

	spin_lock_irqsave(&ob_console.lock, flags);
	ob_console.line[0] = '\0';
	ob_console.want = want;
	spin_unlock_irqrestore(&ob_console.lock, flags);
}

/* The first line ob_console_watch() caught, "" if none yet. */
void ob_console_line(char *buf, size_t len)
{
	unsigned long flags;

	spin_lock_irqsave(&ob_console.lock, flags);
	strscpy(buf, ob_console.line, len);
	spin_unlock_irqrestore(&ob_console.lock, flags);
}

