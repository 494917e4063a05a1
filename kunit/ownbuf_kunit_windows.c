// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite "ownbuf_windows": the races of the engine, each opened on
 * purpose.
 *
 * A static stub on ownbuf_window() stops a thread between two steps of the
 * engine (enum ownbuf_window) while another thread, an "agent", does what
 * the race is named for.  Every test asserts that the interleaving really
 * happened (the window was reached, the agent acted inside it), so none can
 * pass because the race was missed.  A window may sit where the engine
 * cannot sleep (interrupts off, an RCU read-side section), so the stopped
 * thread only ever spins, with a time limit, never sleeps.
 */

#include <linux/delay.h>
#include <linux/err.h>
#include <linux/irq_work.h>
#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/slab.h>

#include "ownbuf_kunit.h"

/* How long a stopped thread waits for the agent before it goes on. */
#define OBW_SPIN_MS	1000

struct obw;

/* Spin (never sleep) until *@v >= @want or @ms passed; true if reached. */
static bool obw_spin_until(atomic_t *v, int want, unsigned int ms)
{
	u64 deadline = ktime_get_ns() + (u64)ms * NSEC_PER_MSEC;

	while (atomic_read(v) < want) {
		if (ktime_get_ns() > deadline)
			return false;
		cpu_relax();
	}
	return true;
}

/**
 * struct obw_win - a window to stop at
 * @which: the window.
 * @hits: times it was reached so far, by any thread of the test.
 * @inside: what the stopped thread does the first time; must not sleep.
 */
struct obw_win {
	enum ownbuf_window which;
	atomic_t hits;
	void (*inside)(struct obw *x);
};

/**
 * struct obw - one window test
 * @test: the test.
 * @win: the windows to stop at, up to three.
 * @step: progress of the script between the threads.
 * @mark: set by one thread for another to see.
 * @b: the buffer the window was reached on.
 * @agent: the other thread.
 * @go: starts the agent.
 * @act: what the agent does.
 * @agent_ret: what @act returned.
 * @h: the buffer's owner variable.
 * @copy: a copy of it.
 * @to: a second owner variable.
 * @ref: borrow tokens.
 * @buf: scratch memory.
 * @n: a count the test keeps.
 * @flag: a flag the test keeps.
 */
struct obw {
	struct kunit *test;
	struct obw_win win[3];
	atomic_t step;
	atomic_t mark;
	struct ownbuf *b;
	struct ob_worker *agent;
	struct completion go;
	int (*act)(struct obw *x);
	int agent_ret;
	struct ownbuf_handle *h;
	struct ownbuf_handle copy;
	struct ownbuf_handle *to;
	struct ownbuf_ref *ref[4];
	u8 *buf;
	int n;
	bool flag;
};

static struct obw *obw_cur;	/* the test's, for the stub */

static void obw_stub(enum ownbuf_window w, struct ownbuf *b)
{
	struct obw *x = obw_cur;
	int i;

	if (!x)
		return;
	for (i = 0; i < ARRAY_SIZE(x->win); i++) {
		if (!x->win[i].inside || x->win[i].which != w)
			continue;
		if (atomic_inc_return(&x->win[i].hits) == 1) {
			x->b = b;
			x->win[i].inside(x);
		}
		return;
	}
}

/* Also stop at @which, with @inside. */
static void obw_also(struct obw *x, enum ownbuf_window which,
		     void (*inside)(struct obw *x))
{
	int i;

	for (i = 0; i < ARRAY_SIZE(x->win); i++) {
		if (x->win[i].inside)
			continue;
		x->win[i].which = which;
		x->win[i].inside = inside;
		return;
	}
}

static int obw_hits(struct obw *x, enum ownbuf_window which)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(x->win); i++)
		if (x->win[i].inside && x->win[i].which == which)
			return atomic_read(&x->win[i].hits);
	return 0;
}

static void obw_reset(void *arg)
{
	obw_cur = NULL;
}

/*
 * Keep the test's thread on the CPU it runs on: the agent runs on the
 * other one, so that the test thread spinning with preemption off in a
 * window never keeps the agent from running.  Nothing undoes it: KUnit
 * runs each case in a kthread of its own, which exits before the case's
 * cleanup runs (in another kthread), so a cleanup action given current
 * would touch a task that may be gone.
 */
static int obw_pin(struct kunit *test)
{
	int cpu = raw_smp_processor_id();

	KUNIT_ASSERT_EQ(test, set_cpus_allowed_ptr(current, cpumask_of(cpu)),
			0);
	return cpu;
}

static int obw_agent_main(struct ob_worker *w)
{
	struct obw *x = w->arg;
	unsigned long deadline = jiffies + OB_TIMEOUT;

	/* The agent's own windows reach the stub too. */
	current->kunit_test = x->test;
	/*
	 * Poll, do not sleep: the go comes from a thread spinning where it
	 * cannot sleep, and a wakeup of an idle vCPU may not arrive before
	 * that thread gives up.
	 */
	while (!try_wait_for_completion(&x->go)) {
		if (time_after(jiffies, deadline) || kthread_should_stop()) {
			current->kunit_test = NULL;
			return -ETIMEDOUT;
		}
		cpu_relax();
	}
	x->agent_ret = x->act(x);
	current->kunit_test = NULL;
	atomic_inc(&x->step);
	return 0;
}

/* A window test on a buffer of @size bytes, with an agent doing @act. */
static struct obw *obw_new(struct kunit *test, size_t size,
			   enum ownbuf_window which,
			   void (*inside)(struct obw *x),
			   int (*act)(struct obw *x))
{
	struct obw *x = kunit_kzalloc(test, sizeof(*x), GFP_KERNEL);
	int i, cpu;

	KUNIT_ASSERT_NOT_NULL(test, x);
	/*
	 * A kernel without SMP (UML) cannot run these; an SMP kernel booted
	 * with one CPU is a broken setup, which must not pass as a skip.
	 */
	if (!IS_ENABLED(CONFIG_SMP))
		kunit_skip(test, "a window test needs two CPUs: no CONFIG_SMP");
	cpu = obw_pin(test);
	if (num_online_cpus() < 2)
		KUNIT_FAIL(test, "a window test needs two CPUs, %u online",
			   num_online_cpus());
	x->test = test;
	x->act = act;
	atomic_set(&x->step, 0);
	atomic_set(&x->mark, 0);
	if (inside)
		obw_also(x, which, inside);
	init_completion(&x->go);
	x->h = ob_create(test, size);
	x->copy = *x->h;
	x->to = ob_handle(test);
	for (i = 0; i < ARRAY_SIZE(x->ref); i++)
		x->ref[i] = ob_ref(test);
	x->buf = ob_scratch(test, size);
	ob_fill(test, *x->h, OB_BYTE);
	if (act) {
		x->agent = ob_worker_new(test, 0);
		x->agent->arg = x;
		/* The agent's CPU is not the test's: a spin never stalls it. */
		x->agent->cpu = cpumask_any_but(cpu_online_mask, cpu);
		if (x->agent->cpu >= nr_cpu_ids)
			x->agent->cpu = -1;
		ob_worker_start(test, x->agent, obw_agent_main, "agent");
	}
	obw_cur = x;
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, obw_reset, x), 0);
	kunit_activate_static_stub(test, ownbuf_window, obw_stub);
	return x;
}

/* No more windows for this test. */
static void obw_quiet(struct obw *x)
{
	if (obw_cur == x)
		kunit_deactivate_static_stub(x->test, ownbuf_window);
	obw_cur = NULL;
}

/* Run the agent now (from a window: never sleeps), and wait for it. */
static bool obw_run_agent(struct obw *x, unsigned int ms)
{
	int step = atomic_read(&x->step);

	complete(&x->go);
	return obw_spin_until(&x->step, step + 1, ms);
}

/*
 * Wait for the agent to finish, then stop it.  Stopping it first could
 * stop an agent that has not yet seen the go: it would never act.
 */
static void obw_join(struct obw *x)
{
	if (x->agent) {
		KUNIT_EXPECT_TRUE_MSG(x->test,
				      ob_done_within(x->agent, OB_TIMEOUT),
				      "the agent did not finish");
		ob_worker_join(x->test, x->agent);
		KUNIT_EXPECT_EQ_MSG(x->test, x->agent->ret, 0,
				    "the agent never acted");
	}
	obw_quiet(x);
}

/* --- a give-back never touches a buffer freed under it (defect 1) --- */

static int obw_drop_and_wait(struct obw *x)
{
	int ret = ownbuf_drop(x->h);

	/* Dropped: tell the stopped reader, then wait out every grace period. */
	x->n = ret;
	WRITE_ONCE(x->flag, true);
	rcu_barrier();
	return ret;
}

static void obw_inside_untry(struct obw *x)
{
	/* Our read gave its claim back: the drop can succeed now. */
	x->n = -1;
	if (obw_run_agent(x, OBW_SPIN_MS))
		atomic_set(&x->step, 100);	/* freed while we were inside */
	/* Did the drop go through while we were inside? */
	atomic_set(&x->mark, READ_ONCE(x->flag));
}

/*
 * An owner read gives its claim back and is stopped before it wakes up
 * waiters; meanwhile the agent drops the buffer and waits for every RCU
 * grace period.  The buffer must not be freed until the reader has left:
 * the drop succeeds inside the window, its memory goes only afterwards.
 */
static void ownbuf_win_untry_after_last_claim(struct kunit *test)
{
	struct obw *x = obw_new(test, OB_SIZE, OWNBUF_WIN_UNTRY,
				obw_inside_untry, obw_drop_and_wait);
	int ret;

	ret = ownbuf_owner_read(*x->h, 0, x->buf, OB_SIZE);
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_GE(test, obw_hits(x, OWNBUF_WIN_UNTRY), 1);
	/* The race happened: the drop went through while we were inside. */
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&x->mark), 1,
			    "the drop did not run inside the window");
	KUNIT_EXPECT_EQ(test, x->n, 0);
	KUNIT_EXPECT_NE_MSG(test, atomic_read(&x->step), 100,
			    "the buffer was freed while a give-back was still using it");
	obw_join(x);
	KUNIT_EXPECT_EQ(test, x->agent_ret, 0);
}

/* --- a refused attempt is invisible to everybody else (defect 6) --- */

enum obw_excl { OBW_OWNER_WRITE, OBW_BORROW_MUT, OBW_RESIZE, OBW_DROP };

struct obw_excl_case {
	const char *name;
	enum obw_excl op;
	int class;		/* what the attempt itself counts */
};

static const struct obw_excl_case obw_excl_cases[] = {
	{ "owner_write", OBW_OWNER_WRITE, OWNBUF_DATA_RACE },
	{ "borrow_mut", OBW_BORROW_MUT, OWNBUF_DATA_RACE },
	{ "resize", OBW_RESIZE, OWNBUF_DANGLING_BORROW },
	{ "drop", OBW_DROP, OWNBUF_DANGLING_BORROW },
};

KUNIT_ARRAY_PARAM_DESC(obw_excl, obw_excl_cases, name);

/* The holder of a shared borrow reads through it, and borrows again. */
static int obw_holder(struct obw *x)
{
	int ret = ownbuf_read(x->ref[0], 0, x->buf, OB_SIZE);

	x->n = ret;
	atomic_set(&x->mark, 1);
	/* Inside the window still: the attempt is undecided. */
	return ownbuf_borrow_shared(*x->h, x->ref[1]);
}

static void obw_inside_claim(struct obw *x)
{
	int step = atomic_read(&x->step);

	complete(&x->go);
	/* Wait for the read only: the second borrow may wait for us. */
	if (!obw_spin_until(&x->mark, 1, OBW_SPIN_MS))
		obw_spin_until(&x->step, step + 1, OBW_SPIN_MS);
	/* The holder read while we were inside. */
	x->flag = atomic_read(&x->mark) == 1;
}

/*
 * An exclusive attempt is stopped after it made itself visible, before it
 * has looked at the shared borrows; the holder of a shared borrow reads
 * through it and takes a second one meanwhile.  Both succeed: only the
 * attempt is refused, and it alone is counted.
 */
static void ownbuf_win_attempt_is_invisible(struct kunit *test)
{
	const struct obw_excl_case *p = test->param_value;
	struct obw *x = obw_new(test, OB_SIZE, OWNBUF_WIN_CLAIM,
				obw_inside_claim, obw_holder);
	struct ob_counts before;
	struct ownbuf_stat st;
	int ret;

	KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*x->h, x->ref[0]), 0);
	ob_snap(&before);
	switch (p->op) {
	case OBW_OWNER_WRITE:
		ret = ownbuf_owner_write(*x->h, 0, x->buf, OB_SIZE);
		break;
	case OBW_BORROW_MUT:
		ret = ownbuf_borrow_mut(*x->h, x->ref[2]);
		break;
	case OBW_RESIZE:
		ret = ownbuf_resize(*x->h, 2 * OB_SIZE);
		break;
	default:
		ret = ownbuf_drop(x->h);
		break;
	}
	obw_join(x);
	KUNIT_EXPECT_EQ(test, ret, -EBUSY);
	KUNIT_EXPECT_GE(test, obw_hits(x, OWNBUF_WIN_CLAIM), 1);
	KUNIT_EXPECT_TRUE_MSG(test, x->flag,
			      "the holder did not read inside the window");
	KUNIT_EXPECT_EQ_MSG(test, x->n, 0, "read through a held borrow");
	KUNIT_EXPECT_EQ_MSG(test, x->agent_ret, 0, "a second shared borrow");
	ob_expect_one(test, &before, p->class, __LINE__);
	KUNIT_ASSERT_EQ(test, ownbuf_stat(*x->h, &st), 0);
	KUNIT_EXPECT_EQ(test, st.shared_borrows, 2);
	KUNIT_EXPECT_EQ(test, st.size, OB_SIZE);
}

/* --- a give-back racing DROP never un-kills the buffer (defect 7) --- */

/*
 * The script: the test thread checks its borrow (window REF: step 1), the
 * agent releases it and starts a drop (window DROP: step 2), the test
 * thread takes its access if the engine has one to take (window
 * REF_TAKEN: step 3) and holds it until the drop made the buffer dead
 * (the agent's end: step 4), then gives back.
 */
static void obw_inside_ref(struct obw *x)
{
	atomic_set(&x->step, 1);
	complete(&x->go);
	/* The agent released our borrow and its drop holds the buffer. */
	atomic_set(&x->mark, obw_spin_until(&x->step, 2, OBW_SPIN_MS));
}

static void obw_inside_drop(struct obw *x)
{
	ownbuf_kunit_hold(x->b);
	x->flag = true;
	atomic_set(&x->step, 2);
	obw_spin_until(&x->step, 3, OBW_SPIN_MS);
}

static void obw_inside_taken(struct obw *x)
{
	atomic_set(&x->step, 3);
	obw_spin_until(&x->step, 4, OBW_SPIN_MS);
}

static int obw_release_and_drop(struct obw *x)
{
	int ret = ownbuf_release(x->ref[0]);

	return ret ?: ownbuf_drop(x->h);
}

static void ownbuf_win_giveback_vs_drop(struct kunit *test)
{
	struct obw *x = obw_new(test, OB_SIZE, OWNBUF_WIN_REF, obw_inside_ref,
				obw_release_and_drop);
	struct ownbuf_stat st;
	int ret;

	obw_also(x, OWNBUF_WIN_DROP, obw_inside_drop);
	obw_also(x, OWNBUF_WIN_REF_TAKEN, obw_inside_taken);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*x->h, x->ref[0]), 0);
	ret = ownbuf_ref_stat(x->ref[0], &st);
	/* Without an access to hold, the drop may complete now. */
	if (atomic_read(&x->step) < 3)
		atomic_set(&x->step, 3);
	obw_join(x);
	KUNIT_EXPECT_EQ(test, x->agent_ret, 0);
	KUNIT_EXPECT_GE(test, obw_hits(x, OWNBUF_WIN_REF), 1);
	KUNIT_EXPECT_EQ_MSG(test, atomic_read(&x->mark), 1,
			    "the drop did not reach its window while we were in ours");
	KUNIT_EXPECT_EQ(test, ret, -ESTALE);
	if (x->flag) {
		KUNIT_EXPECT_TRUE_MSG(test, ownbuf_kunit_dead(x->b),
				      "a dropped buffer is alive again");
		ownbuf_put(x->b);
	}
}

/* --- MOVE racing REVOKE on one handle (defect 11) --- */

static int obw_revoke_copy(struct obw *x)
{
	return ownbuf_revoke(&x->copy);
}

static void obw_inside_move(struct obw *x)
{
	x->flag = obw_run_agent(x, OBW_SPIN_MS);
}

/*
 * A move is stopped before it publishes the new handle; the agent revokes
 * through a copy of the old one.  Exactly one of them wins; a move that
 * returns 0 returns a live handle.
 */
static void ownbuf_win_move_vs_revoke(struct kunit *test)
{
	struct obw *x = obw_new(test, OB_SIZE, OWNBUF_WIN_MOVE,
				obw_inside_move, obw_revoke_copy);
	size_t size = 0;
	int ret;

	ret = ownbuf_move(x->h, x->to);
	obw_join(x);
	KUNIT_EXPECT_GE(test, obw_hits(x, OWNBUF_WIN_MOVE), 1);
	KUNIT_EXPECT_TRUE_MSG(test, x->flag,
			      "the revocation did not run inside the window");
	KUNIT_EXPECT_TRUE_MSG(test, !ret != (x->agent_ret >= 0),
			      "move %d and revoke %d", ret, x->agent_ret);
	if (!ret) {
		KUNIT_EXPECT_EQ_MSG(test, ownbuf_size(*x->to, &size), 0,
				    "move returned a handle to a revoked buffer");
	} else {
		KUNIT_EXPECT_EQ(test, ret, -ESTALE);
		KUNIT_EXPECT_EQ(test, x->to->val, 0);
	}
}

/* --- two DROPs of one owner fd at once (issue #13) --- */

/*
 * A DROP as /dev/ownbuf's ioctl makes it: a caller that may sleep and says
 * so.  Through the engine, not the device: a built-in suite runs at boot,
 * before there is a /dev to open (kunit.py).
 */
static int obw_drop_waiting(struct obw *x)
{
	return __ownbuf_drop(x->h, OWNBUF_END_WAIT, _THIS_IP_);
}

static int obw_second_drop(struct obw *x)
{
	atomic_set(&x->mark, 1);
	return obw_drop_waiting(x);
}

/*
 * The first DROP holds the buffer; the agent's DROP of the same fd starts.
 * Stay until it has returned, or until it sleeps (waiting for ours to end).
 * Sleep meanwhile, so that a waiter spinning on our CPU's task goes to
 * sleep too: this window is in process context (the test's own ioctl).
 */
static void obw_inside_first_drop(struct obw *x)
{
	struct task_struct *t = x->agent->task;
	int step = atomic_read(&x->step), i;
	bool asleep = false;

	complete(&x->go);
	if (!obw_spin_until(&x->mark, 1, OBW_SPIN_MS))
		return;
	for (i = 0; i < OBW_SPIN_MS && atomic_read(&x->step) == step; i++) {
		asleep = !task_is_running(t);
		/* A sleep seen before the agent's step was counted. */
		smp_rmb();
		if (asleep && atomic_read(&x->step) == step)
			break;
		asleep = false;
		usleep_range(500, 1000);
	}
	/* The agent's DROP entered, and slept in it, while ours was inside. */
	x->flag = asleep;
	/* It returned while ours was inside: it did not wait for ours. */
	x->n = atomic_read(&x->step) - step;
}

static int obw_drop_h(struct obw *x)
{
	return ownbuf_drop(x->h);
}

/*
 * The first of two DROPs at once: @drop of x->h, inside which the window
 * OWNBUF_WIN_DROP lets the second one run.  What @drop returned; *@before
 * is the counters before it.
 */
static int obw_first_drop(struct kunit *test, struct obw *x,
			  int (*drop)(struct obw *x), struct ob_counts *before)
{
	int ret;

	ob_snap(before);
	ret = drop(x);
	obw_join(x);
	KUNIT_EXPECT_EQ(test, obw_hits(x, OWNBUF_WIN_DROP), 1);
	return ret;
}

/*
 * Two threads DROP one owner fd at once (one handle variable, each with
 * the fd's OWNBUF_END_WAIT): the second DROP starts while the first is
 * inside the engine, holding the buffer.  The second must answer
 * as it would after the first: -ESTALE and one double_free, never -EBUSY
 * and a data_race (the buffer is busy only with the first DROP).
 */
static void ownbuf_win_drop_twice_at_once(struct kunit *test)
{
	struct obw *x = obw_new(test, OB_SIZE, OWNBUF_WIN_DROP,
				obw_inside_first_drop, obw_second_drop);
	struct ob_counts before;
	long ret = obw_first_drop(test, x, obw_drop_waiting, &before);

	KUNIT_EXPECT_EQ(test, atomic_read(&x->mark), 1);
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_EQ_MSG(test, x->n, 0,
			    "the second DROP returned %d while the first was inside",
			    x->agent_ret);
	KUNIT_EXPECT_TRUE_MSG(test, x->flag,
			      "the second DROP did not wait inside the first");
	KUNIT_EXPECT_EQ(test, x->agent_ret, -ESTALE);
	OB_EXPECT_DELTAS(test, &before, 0, 1, 0, 0, 0, 0);
}

static void obw_inside_run_agent(struct obw *x)
{
	x->flag = obw_run_agent(x, OBW_SPIN_MS);
}

/*
 * The in-kernel API never waits ("Context: any"): a second ownbuf_drop() of
 * the same variable, while the first is inside, is refused at once as any
 * conflict with an access in flight is: -EBUSY, one data_race.  Only
 * /dev/ownbuf's DROP and MOVE, which may sleep, wait (the test above).
 */
static void ownbuf_win_kernel_drop_never_waits(struct kunit *test)
{
	struct obw *x = obw_new(test, OB_SIZE, OWNBUF_WIN_DROP,
				obw_inside_run_agent, obw_drop_h);
	struct ob_counts before;
	int ret = obw_first_drop(test, x, obw_drop_h, &before);

	KUNIT_EXPECT_TRUE_MSG(test, x->flag,
			      "the second ownbuf_drop() did not return inside the first");
	KUNIT_EXPECT_EQ(test, ret, 0);
	KUNIT_EXPECT_EQ(test, x->agent_ret, -EBUSY);
	OB_EXPECT_DELTAS(test, &before, 0, 0, 1, 0, 0, 0);
}

/* --- hardirq nesting never overshoots max_shared (defect 16) --- */

struct obw_irq {
	struct irq_work work;
	struct obw *x;
	int ret;
	atomic_t done;
};

static void obw_irq_borrow(struct irq_work *work)
{
	struct obw_irq *w = container_of(work, struct obw_irq, work);

	w->ret = ownbuf_borrow_shared(*w->x->h, w->x->ref[1]);
	atomic_set(&w->done, 1);
}

static void obw_inside_cap(struct obw *x)
{
	struct obw_irq *w = (struct obw_irq *)x->buf;

	/* A hardirq on this CPU takes a shared borrow in the middle of ours. */
	irq_work_queue(&w->work);
	x->flag = obw_spin_until(&w->done, 1, OBW_SPIN_MS);
}

static int obw_borrow_other_cpu(struct obw *x)
{
	return ownbuf_borrow_shared(*x->h, x->ref[2]);
}

/*
 * max_shared is 2.  A shared borrow is stopped between its check of the cap
 * and counting itself, and a hardirq on the same CPU takes one meanwhile;
 * then the agent, on the other CPU, asks for a third.  At most two exist.
 */
static void ownbuf_win_hardirq_cap(struct kunit *test)
{
	struct obw *x;
	struct obw_irq *w;
	struct ownbuf_stat st;
	int ret, granted;

	ob_param_set(test, "max_shared", 2);
	/* Our borrows on this CPU (obw_new pins us), the agent's on the other. */
	x = obw_new(test, OB_SIZE, OWNBUF_WIN_SHARED_CAP, obw_inside_cap,
		    obw_borrow_other_cpu);
	/* The irq_work lives in the scratch buffer: nothing to free. */
	x->buf = ob_scratch(test, sizeof(*w));
	w = (struct obw_irq *)x->buf;
	w->x = x;
	atomic_set(&w->done, 0);
	init_irq_work(&w->work, obw_irq_borrow);

	ret = ownbuf_borrow_shared(*x->h, x->ref[0]);
	irq_work_sync(&w->work);
	KUNIT_EXPECT_GE(test, obw_hits(x, OWNBUF_WIN_SHARED_CAP), 1);
	KUNIT_EXPECT_TRUE_MSG(test, x->flag,
			      "the hardirq borrow did not run inside the window");
	complete(&x->go);
	obw_join(x);
	granted = !ret + !w->ret + !x->agent_ret;
	KUNIT_EXPECT_EQ(test, ownbuf_stat(*x->h, &st), 0);
	KUNIT_EXPECT_LE_MSG(test, granted, 2,
			    "borrows %d (in the irq %d), other CPU %d",
			    ret, w->ret, x->agent_ret);
	KUNIT_EXPECT_EQ(test, st.shared_borrows, granted);
}

/* --- a shared borrow never waits for an exclusive attempt --- */

static int obw_take_shared(struct obw *x)
{
	return ownbuf_borrow_shared(*x->h, x->ref[1]);
}

/*
 * A mut borrow that nothing refuses is stopped after it made itself
 * visible (CLAIM), before it decided; meanwhile the agent takes a shared
 * borrow.  The shared borrow is granted inside the window, without waiting
 * for the attempt, and the attempt, going on, finds it and is refused.
 */
static void ownbuf_win_shared_beats_claim(struct kunit *test)
{
	struct obw *x = obw_new(test, OB_SIZE, OWNBUF_WIN_CLAIM,
				obw_inside_run_agent, obw_take_shared);
	struct ob_counts before;
	struct ownbuf_stat st;
	int ret;

	ob_snap(&before);
	ret = ownbuf_borrow_mut(*x->h, x->ref[0]);
	obw_join(x);
	KUNIT_EXPECT_GE(test, obw_hits(x, OWNBUF_WIN_CLAIM), 1);
	KUNIT_EXPECT_TRUE_MSG(test, x->flag,
			      "the shared borrow waited for the attempt");
	KUNIT_EXPECT_EQ(test, x->agent_ret, 0);
	KUNIT_EXPECT_EQ(test, ret, -EBUSY);
	OB_EXPECT_DELTAS(test, &before, 0, 0, 1, 0, 0, 0);
	KUNIT_ASSERT_EQ(test, ownbuf_stat(*x->h, &st), 0);
	KUNIT_EXPECT_EQ(test, st.shared_borrows, 1);
	KUNIT_EXPECT_EQ(test, st.mut_borrows, 0);
	KUNIT_EXPECT_EQ(test, ownbuf_release(x->ref[1]), 0);
}

/* --- a refused shared attempt is not a borrow (defect 16) --- */

static void obw_inside_undecided(struct obw *x)
{
	struct ownbuf_stat st = { };

	x->n = ownbuf_stat(*x->h, &st);
	x->flag = st.shared_borrows == 0 && st.mut_borrows == 1;
}

/*
 * A shared borrow that the mut borrow will refuse is stopped after it made
 * itself visible, before it decided; ownbuf_stat() meanwhile reports no
 * shared borrow.
 */
static void ownbuf_win_attempt_not_counted(struct kunit *test)
{
	struct obw *x = obw_new(test, OB_SIZE, OWNBUF_WIN_SHARED_UNDECIDED,
				obw_inside_undecided, NULL);
	struct ob_counts before;

	KUNIT_ASSERT_EQ(test, ownbuf_borrow_mut(*x->h, x->ref[0]), 0);
	ob_snap(&before);
	KUNIT_EXPECT_EQ(test, ownbuf_borrow_shared(*x->h, x->ref[1]), -EBUSY);
	obw_join(x);
	KUNIT_EXPECT_GE(test, obw_hits(x, OWNBUF_WIN_SHARED_UNDECIDED), 1);
	KUNIT_EXPECT_EQ(test, x->n, 0);
	KUNIT_EXPECT_TRUE_MSG(test, x->flag,
			      "a refused attempt showed as a shared borrow");
	OB_EXPECT_DELTAS(test, &before, 0, 0, 1, 0, 0, 0);
}

/* --- revocation never waits for another thread (defects 3 and 14) --- */

struct obw_block {
	struct completion in_copy;
	struct completion release;
	bool released;
};

static struct obw_block *obw_blocker;

/* Stands in for the engine's copy: stalls, as a read into a userfaultfd page. */
static size_t obw_copy_blocked(void *p, size_t len, struct iov_iter *it,
			       bool write)
{
	struct obw_block *bl = obw_blocker;

	if (bl && !bl->released) {
		complete(&bl->in_copy);
		bl->released = wait_for_completion_timeout(&bl->release,
							   5 * HZ);
	}
	return write ? copy_from_iter(p, len, it) : copy_to_iter(p, len, it);
}

static int obw_stalled_read(struct obw *x)
{
	int ret;

	ret = ownbuf_read(x->ref[0], 0, x->buf, OB_SIZE);
	x->n = ret;
	WRITE_ONCE(x->flag, true);
	/* The access in flight completed; the next one is refused. */
	return ownbuf_read(x->ref[0], 0, x->buf, OB_SIZE);
}

static void obw_unblock(void *arg)
{
	struct obw_block *bl = arg;

	complete_all(&bl->release);
	obw_blocker = NULL;
}

/*
 * The agent reads through a shared borrow and its copy stalls; the owner
 * revokes meanwhile.  The revocation returns while the read is still in
 * flight; the read then completes with the bytes it was reading (its
 * memory is still there), the next access is refused, and the memory goes
 * when the last access leaves.
 */
static void ownbuf_win_revoke_does_not_wait(struct kunit *test)
{
	struct obw *x = obw_new(test, OB_SIZE, OWNBUF_WIN_UNTRY, NULL,
				obw_stalled_read);
	struct obw_block *bl = kunit_kzalloc(test, sizeof(*bl), GFP_KERNEL);
	unsigned long data_before;
	bool in_flight;
	int n;

	KUNIT_ASSERT_NOT_NULL(test, bl);
	obw_quiet(x);
	init_completion(&bl->in_copy);
	init_completion(&bl->release);
	obw_blocker = bl;
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, obw_unblock, bl),
			0);
	kunit_activate_static_stub(test, ownbuf_copy, obw_copy_blocked);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*x->h, x->ref[0]), 0);
	data_before = ownbuf_kunit_data_count();

	complete(&x->go);
	KUNIT_ASSERT_NE(test, wait_for_completion_timeout(&bl->in_copy,
							  OB_TIMEOUT), 0);
	n = ownbuf_revoke(x->h);
	in_flight = !READ_ONCE(x->flag);
	KUNIT_EXPECT_EQ(test, n, 1);
	KUNIT_EXPECT_TRUE_MSG(test, in_flight,
			      "ownbuf_revoke() waited for a read in flight");
	/* Still in flight: its memory must still be there. */
	KUNIT_EXPECT_EQ(test, ownbuf_kunit_data_count(), data_before);
	kunit_release_action(test, obw_unblock, bl);
	obw_join(x);
	KUNIT_EXPECT_TRUE(test, bl->released);
	KUNIT_EXPECT_EQ(test, x->n, 0);
	OB_EXPECT_BYTES(test, x->buf, OB_SIZE, OB_BYTE);
	KUNIT_EXPECT_EQ(test, x->agent_ret, -ESTALE);
	KUNIT_EXPECT_EQ(test, ownbuf_kunit_data_count(), data_before - 1);
	KUNIT_EXPECT_EQ(test, ownbuf_release(x->ref[0]), -ESTALE);
}

/*
 * An unsafe section is open when the owner revokes: the revocation returns
 * at once, the raw pointer stays valid until ownbuf_unsafe_end(), and the
 * memory goes after that.
 */
static void ownbuf_win_revoke_during_unsafe(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_ref *ref = ob_ref(test);
	unsigned long data_before;
	size_t len = 0;
	u8 *p;

	ob_fill(test, *h, OB_BYTE);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_mut(*h, ref), 0);
	p = ob_unsafe_begin(test, ref, &len);
	data_before = ownbuf_kunit_data_count();
	/* Would wait forever for the section, in this very thread. */
	KUNIT_EXPECT_EQ(test, ownbuf_revoke(h), 1);
	KUNIT_EXPECT_EQ(test, ownbuf_ref_state(ref), OWNBUF_STATE_REVOKED);
	KUNIT_EXPECT_EQ(test, ownbuf_kunit_data_count(), data_before);
	/* KASAN watches these: the memory is still the buffer's. */
	KUNIT_ASSERT_EQ(test, len, OB_SIZE);
	OB_EXPECT_BYTES(test, p, len, OB_BYTE);
	memset(p, 0x11, len);
	ob_unsafe_end(test, ref);
	KUNIT_EXPECT_EQ(test, ownbuf_kunit_data_count(), data_before - 1);
	KUNIT_EXPECT_EQ(test, ownbuf_release(ref), -ESTALE);
}

/* Revocation with borrows out does not wait for an RCU grace period. */
static void ownbuf_win_revoke_no_grace_period(struct kunit *test)
{
	struct ownbuf_handle *h;
	struct ownbuf_ref *ref;
	unsigned long cookie;
	int i, waited = 0;

	for (i = 0; i < 3; i++) {
		h = ob_create(test, OB_SIZE);
		ref = ob_ref(test);
		KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, ref), 0);
		cookie = get_state_synchronize_rcu();
		KUNIT_EXPECT_EQ(test, ownbuf_revoke(h), 1);
		waited += poll_state_synchronize_rcu(cookie);
	}
	/* A grace period may end by chance once; not every time. */
	KUNIT_EXPECT_LT_MSG(test, waited, 3,
			    "every revocation waited for a grace period");
}

/* --- ->revoke may call back into ownbuf (defect 8) --- */

struct obw_cb {
	struct ownbuf_ref ref;
	struct ownbuf_ref other;
	struct ownbuf_handle h;
	int (*fn)(struct obw_cb *cb);
	int ret;
	int calls;
};

static int obw_cb_release(struct obw_cb *cb)
{
	return ownbuf_release(&cb->ref);
}

static int obw_cb_discard(struct obw_cb *cb)
{
	ownbuf_ref_discard(&cb->ref);
	return ownbuf_ref_state(&cb->ref);
}

static void obw_cb_nothing(struct ownbuf_ref *ref)
{
}

static const struct ownbuf_ref_ops obw_cb_other_ops = {
	.revoke = obw_cb_nothing,
};

static int obw_cb_borrow(struct obw_cb *cb)
{
	return ownbuf_borrow_ops(cb->h, OWNBUF_SHARED, &obw_cb_other_ops,
				 &cb->other);
}

static int obw_cb_stat(struct obw_cb *cb)
{
	struct ownbuf_stat st;

	return ownbuf_ref_stat(&cb->ref, &st);
}

static void obw_cb_revoke(struct ownbuf_ref *ref)
{
	struct obw_cb *cb = container_of(ref, struct obw_cb, ref);

	if (!cb->calls++)
		cb->ret = cb->fn(cb);
}

static const struct ownbuf_ref_ops obw_cb_ops = {
	.revoke = obw_cb_revoke,
};

struct obw_cb_case {
	const char *name;
	int (*fn)(struct obw_cb *cb);
	int want;
	int uaf;	/* use_after_free counts of the call */
};

static const struct obw_cb_case obw_cb_cases[] = {
	{ "release", obw_cb_release, -ESTALE, 1 },
	{ "discard", obw_cb_discard, OWNBUF_STATE_RELEASED, 0 },
	{ "borrow_again", obw_cb_borrow, -ESTALE, 1 },
	{ "stat", obw_cb_stat, -ESTALE, 1 },
};

KUNIT_ARRAY_PARAM_DESC(obw_cb, obw_cb_cases, name);

static int obw_revoke_h(struct obw *x)
{
	return ownbuf_revoke(x->h);
}

/*
 * The owner revokes a borrow whose ->revoke callback releases, discards or
 * uses the same borrow, or borrows the same buffer again: no deadlock, the
 * call gets what it gets after the revocation, counted once.
 */
static void ownbuf_win_callback_reenters(struct kunit *test)
{
	const struct obw_cb_case *p = test->param_value;
	struct obw *x = obw_new(test, OB_SIZE, OWNBUF_WIN_UNTRY, NULL,
				obw_revoke_h);
	struct obw_cb *cb = kunit_kzalloc(test, sizeof(*cb), GFP_KERNEL);
	struct ob_counts before;

	KUNIT_ASSERT_NOT_NULL(test, cb);
	obw_quiet(x);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, ob_ref_cleanup,
							&cb->ref), 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, ob_ref_cleanup,
							&cb->other), 0);
	cb->fn = p->fn;
	cb->h = *x->h;
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_ops(*x->h, OWNBUF_SHARED,
						&obw_cb_ops, &cb->ref), 0);
	ob_snap(&before);
	/* In the agent, so that a deadlock fails the test instead of hanging it. */
	complete(&x->go);
	KUNIT_ASSERT_TRUE_MSG(test, ob_done_within(x->agent, 5 * HZ),
			      "ownbuf_revoke() deadlocked in ->revoke");
	obw_join(x);
	KUNIT_EXPECT_EQ(test, x->agent_ret, 1);
	KUNIT_EXPECT_EQ(test, cb->calls, 1);
	KUNIT_EXPECT_EQ(test, cb->ret, p->want);
	OB_EXPECT_DELTAS(test, &before, p->uaf, 0, 0, 0, 0, 1);
}

/* --- INFO is one snapshot (defect 15) --- */

struct obw_info_case {
	const char *name;
	bool drop;		/* else resize */
};

static const struct obw_info_case obw_info_cases[] = {
	{ "drop", true },
	{ "resize", false },
};

KUNIT_ARRAY_PARAM_DESC(obw_info, obw_info_cases, name);

static int obw_drop_or_resize(struct obw *x)
{
	return x->flag ? ownbuf_drop(x->h) : ownbuf_resize(*x->h, 3 * OB_SIZE);
}

static void obw_inside_info(struct obw *x)
{
	x->n = obw_run_agent(x, OBW_SPIN_MS);
}

/*
 * INFO on an owner is stopped after it read the owner's state; the agent
 * drops or resizes the buffer meanwhile.  The answer is LIVE with a size
 * the buffer had, or DROPPED with zeros: never LIVE with a size of 0.
 */
static void ownbuf_win_info_snapshot(struct kunit *test)
{
	const struct obw_info_case *p = test->param_value;
	struct obw *x = obw_new(test, OB_SIZE, OWNBUF_WIN_INFO,
				obw_inside_info, obw_drop_or_resize);
	struct ownbuf_stat st = { };
	int state;

	x->flag = p->drop;
	state = ownbuf_owner_info(x->h, &st);
	obw_join(x);
	KUNIT_EXPECT_GE(test, obw_hits(x, OWNBUF_WIN_INFO), 1);
	KUNIT_EXPECT_EQ_MSG(test, x->n, 1, "the agent did not act inside INFO");
	KUNIT_EXPECT_EQ(test, x->agent_ret, 0);
	if (p->drop) {
		KUNIT_EXPECT_EQ(test, state, OWNBUF_STATE_DROPPED);
	} else {
		KUNIT_EXPECT_EQ(test, state, OWNBUF_STATE_LIVE);
		KUNIT_EXPECT_TRUE_MSG(test, st.size == OB_SIZE ||
				      st.size == 3 * OB_SIZE,
				      "LIVE with size %zu", st.size);
	}
}

/* --- suite --- */

static struct kunit_case ownbuf_windows_cases[] = {
	KUNIT_CASE(ownbuf_win_untry_after_last_claim),
	KUNIT_CASE_PARAM(ownbuf_win_attempt_is_invisible, obw_excl_gen_params),
	KUNIT_CASE(ownbuf_win_giveback_vs_drop),
	KUNIT_CASE(ownbuf_win_move_vs_revoke),
	KUNIT_CASE(ownbuf_win_drop_twice_at_once),
	KUNIT_CASE(ownbuf_win_kernel_drop_never_waits),
	KUNIT_CASE(ownbuf_win_hardirq_cap),
	KUNIT_CASE(ownbuf_win_attempt_not_counted),
	KUNIT_CASE(ownbuf_win_shared_beats_claim),
	KUNIT_CASE(ownbuf_win_revoke_does_not_wait),
	KUNIT_CASE(ownbuf_win_revoke_during_unsafe),
	KUNIT_CASE(ownbuf_win_revoke_no_grace_period),
	KUNIT_CASE_PARAM(ownbuf_win_callback_reenters, obw_cb_gen_params),
	KUNIT_CASE_PARAM(ownbuf_win_info_snapshot, obw_info_gen_params),
	{}
};

static struct kunit_suite ownbuf_windows_suite = {
	.name = "ownbuf_windows",
	.suite_init = ownbuf_suite_init,
	.suite_exit = ownbuf_suite_exit,
	.init = ownbuf_test_init,
	.test_cases = ownbuf_windows_cases,
};

kunit_test_suite(ownbuf_windows_suite);
