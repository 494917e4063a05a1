// SPDX-License-Identifier: GPL-2.0
/*
 * Scope-bound ownership (the <linux/cleanup.h> classes of
 * include/linux/ownbuf.h): a scoped borrow ends, and a scoped owner is
 * revoked, on every path out of its scope; a scoped borrow that was refused
 * runs no body and gives back nothing it did not take.
 *
 * Each case checks what is lent out afterwards (ownbuf_stat()), how many
 * buffers exist, and all six violation counters.
 */

#include <linux/err.h>
#include <linux/debug_locks.h>
#include <linux/jiffies.h>
#include <linux/sched.h>

#include "ownbuf_kunit.h"

/* --- borrows --- */

enum ob_exit {
	OB_EXIT_END,		/* the end of the block, every iteration */
	OB_EXIT_CONTINUE,
	OB_EXIT_BREAK,
	OB_EXIT_GOTO,
	OB_EXIT_RETURN,
	OB_EXIT_ERROR,		/* return of a refused call's error */
	OB_NR_EXITS,
};

static const char * const ob_exit_names[] = {
	"end", "continue", "break", "goto", "return", "error",
};

static const unsigned int ob_scope_flags[] = {
	OWNBUF_SHARED, OWNBUF_MUT,
	OWNBUF_SHARED | OWNBUF_WAIT, OWNBUF_MUT | OWNBUF_WAIT,
};

#define OB_SCOPE_PARAMS	(OB_NR_EXITS * ARRAY_SIZE(ob_scope_flags))

const void *ob_scope_params(const void *prev, char *desc)
{
	static unsigned int params[OB_SCOPE_PARAMS];
	unsigned int i = prev ? (const unsigned int *)prev - params + 1 : 0;
	unsigned int flags;

	if (i >= OB_SCOPE_PARAMS)
		return NULL;
	params[i] = i;
	flags = ob_scope_flags[i % ARRAY_SIZE(ob_scope_flags)];
	snprintf(desc, KUNIT_PARAM_DESC_SIZE, "%s%s-%s",
		 flags & OWNBUF_MUT ? "mut" : "shared",
		 flags & OWNBUF_WAIT ? "_wait" : "",
		 ob_exit_names[i / ARRAY_SIZE(ob_scope_flags)]);
	return &params[i];
}

/*
 * Two iterations, each taking a scoped borrow and leaving its scope by
 * @how; what the borrow looked like from inside goes to @st.  A mut borrow
 * not ended by the first iteration would make the second one fail.
 */
static int ob_scope_leave(struct ownbuf_handle h, unsigned int flags,
			  enum ob_exit how, struct ownbuf_stat *st, int *iters)
{
	char byte;
	int i, ret;

	for (i = 0; i < 2; i++) {
		CLASS(ownbuf_borrow, r)(h, flags);

		if (IS_ERR(r))
			return PTR_ERR(r);
		++*iters;
		ret = ownbuf_ref_stat(r, st);
		if (ret)
			return ret;
		if (how == OB_EXIT_CONTINUE)
			continue;
		if (how == OB_EXIT_BREAK)
			break;
		if (how == OB_EXIT_GOTO)
			goto out;
		if (how == OB_EXIT_RETURN)
			return 0;
		if (how == OB_EXIT_ERROR) {
			/* The error path of a caller: out of bounds, counted. */
			ret = ownbuf_read(r, OB_SIZE, &byte, 1);
			if (ret)
				return ret;
		}
	}
out:
	return 0;
}

/* A scoped borrow ends however its scope is left. */
void ownbuf_test_scope_exits(struct kunit *test)
{
	unsigned int i = *(const unsigned int *)test->param_value;
	unsigned int flags = ob_scope_flags[i % ARRAY_SIZE(ob_scope_flags)];
	enum ob_exit how = i / ARRAY_SIZE(ob_scope_flags);
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_stat inside = { }, after;
	struct ob_counts before;
	int iters = 0, ret;

	ob_snap(&before);
	ret = ob_scope_leave(*h, flags, how, &inside, &iters);
	KUNIT_EXPECT_EQ(test, ret, how == OB_EXIT_ERROR ? -ERANGE : 0);
	KUNIT_EXPECT_EQ(test, iters,
			how == OB_EXIT_END || how == OB_EXIT_CONTINUE ? 2 : 1);
	/* Held inside... */
	KUNIT_EXPECT_EQ(test, inside.shared_borrows, !(flags & OWNBUF_MUT));
	KUNIT_EXPECT_EQ(test, inside.mut_borrows, !!(flags & OWNBUF_MUT));
	/* ...ended outside, counting nothing but the error path's mistake. */
	after = ob_stat(test, *h);
	KUNIT_EXPECT_EQ(test, after.shared_borrows, 0);
	KUNIT_EXPECT_EQ(test, after.mut_borrows, 0);
	if (how == OB_EXIT_ERROR)
		OB_EXPECT_ONE(test, &before, OWNBUF_OUT_OF_BOUNDS);
	else
		OB_EXPECT_NONE(test, &before);
	/* Nothing lent: the owner may drop it now. */
	KUNIT_EXPECT_EQ(test, ownbuf_drop(h), 0);
}

/* Each named class takes the borrow its name says, for its scope only. */
void ownbuf_test_scope_classes(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_stat st = { };
	struct ob_counts before;

	ob_snap(&before);
	{
		CLASS(ownbuf_shared, r1)(*h);
		CLASS(ownbuf_shared_wait, r2)(*h);

		KUNIT_ASSERT_FALSE(test, IS_ERR(r1));
		KUNIT_ASSERT_FALSE(test, IS_ERR(r2));
		KUNIT_EXPECT_PTR_NE(test, r1, r2);
		KUNIT_EXPECT_EQ(test, ownbuf_ref_stat(r2, &st), 0);
		KUNIT_EXPECT_EQ(test, st.shared_borrows, 2);
		KUNIT_EXPECT_EQ(test, ownbuf_ref_state(r1), OWNBUF_STATE_LIVE);
	}
	{
		CLASS(ownbuf_mut, w)(*h);

		KUNIT_ASSERT_FALSE(test, IS_ERR(w));
		KUNIT_EXPECT_EQ(test, ownbuf_write(w, 0, "x", 1), 0);
		KUNIT_EXPECT_EQ(test, ob_stat(test, *h).mut_borrows, 1);
	}
	{
		CLASS(ownbuf_mut_wait, w)(*h);

		KUNIT_ASSERT_FALSE(test, IS_ERR(w));
		KUNIT_EXPECT_EQ(test, ob_stat(test, *h).mut_borrows, 1);
	}
	st = ob_stat(test, *h);
	KUNIT_EXPECT_EQ(test, st.shared_borrows, 0);
	KUNIT_EXPECT_EQ(test, st.mut_borrows, 0);
	OB_EXPECT_NONE(test, &before);
}

/*
 * Released by hand before the scope ends: the scope then ends nothing, and
 * counts no double free (Rust's drop(r)).
 */
void ownbuf_test_scope_released_early(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ob_counts before;

	ob_snap(&before);
	{
		CLASS(ownbuf_mut, w)(*h);

		KUNIT_ASSERT_FALSE(test, IS_ERR(w));
		KUNIT_EXPECT_EQ(test, ownbuf_release(w), 0);
		KUNIT_EXPECT_EQ(test, ob_stat(test, *h).mut_borrows, 0);
	}
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).mut_borrows, 0);
	OB_EXPECT_NONE(test, &before);
}

static int ob_scoped_shared(struct ownbuf_handle h, bool *ran)
{
	ownbuf_scoped(shared, return PTR_ERR(scope), h) {
		*ran = true;
	}
	return 0;
}

/* A refused scoped borrow runs no body and ends nothing it did not take. */
void ownbuf_test_scope_refused(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_ref *mut = ob_ref(test);
	struct ob_counts before;
	bool ran = false;
	int failed = 0;

	KUNIT_ASSERT_EQ(test, ownbuf_borrow_mut(*h, mut), 0);

	ob_snap(&before);
	{
		CLASS(ownbuf_shared, r)(*h);

		KUNIT_EXPECT_TRUE(test, IS_ERR(r));
		KUNIT_EXPECT_EQ(test, PTR_ERR(r), -EBUSY);
	}
	OB_EXPECT_ONE(test, &before, OWNBUF_DATA_RACE);

	ob_snap(&before);
	KUNIT_EXPECT_EQ(test, ob_scoped_shared(*h, &ran), -EBUSY);
	KUNIT_EXPECT_FALSE(test, ran);
	OB_EXPECT_ONE(test, &before, OWNBUF_DATA_RACE);

	/* A @fail that does not leave: still no body. */
	ob_snap(&before);
	ownbuf_scoped(mut, failed = PTR_ERR(scope), *h)
		ran = true;
	KUNIT_EXPECT_EQ(test, failed, -EBUSY);
	KUNIT_EXPECT_FALSE(test, ran);
	OB_EXPECT_ONE(test, &before, OWNBUF_DATA_RACE);

	/* The borrow that was out is still out, and only it. */
	KUNIT_EXPECT_EQ(test, ownbuf_ref_state(mut), OWNBUF_STATE_LIVE);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).mut_borrows, 1);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).shared_borrows, 0);
	ob_snap(&before);
	KUNIT_EXPECT_EQ(test, ownbuf_release(mut), 0);
	KUNIT_EXPECT_EQ(test, ob_scoped_shared(*h, &ran), 0);
	KUNIT_EXPECT_TRUE(test, ran);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).shared_borrows, 0);
	OB_EXPECT_NONE(test, &before);
}

static int ob_scoped_leave(struct ownbuf_handle h, enum ob_exit how,
			   int *ran)
{
	int i;

	for (i = 0; i < 2; i++) {
		ownbuf_scoped(mut, return PTR_ERR(scope), h) {
			++*ran;
			if (how == OB_EXIT_RETURN)
				return 0;
			if (how == OB_EXIT_GOTO)
				goto out;
			/* Leaves ownbuf_scoped() only. */
			if (how == OB_EXIT_BREAK)
				break;
			if (how == OB_EXIT_CONTINUE)
				continue;
		}
	}
out:
	return 0;
}

/* ownbuf_scoped() ends its borrow however its statement is left. */
void ownbuf_test_scoped_exits(struct kunit *test)
{
	static const enum ob_exit hows[] = {
		OB_EXIT_END, OB_EXIT_CONTINUE, OB_EXIT_BREAK, OB_EXIT_GOTO,
		OB_EXIT_RETURN,
	};
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ob_counts before;
	unsigned int i;
	int ran;

	ob_snap(&before);
	for (i = 0; i < ARRAY_SIZE(hows); i++) {
		ran = 0;
		KUNIT_EXPECT_EQ_MSG(test, ob_scoped_leave(*h, hows[i], &ran), 0,
				    "%s", ob_exit_names[hows[i]]);
		KUNIT_EXPECT_EQ_MSG(test, ran,
				    hows[i] == OB_EXIT_GOTO ||
				    hows[i] == OB_EXIT_RETURN ? 1 : 2,
				    "%s", ob_exit_names[hows[i]]);
		KUNIT_EXPECT_EQ_MSG(test, ob_stat(test, *h).mut_borrows, 0,
				    "%s", ob_exit_names[hows[i]]);
	}
	OB_EXPECT_NONE(test, &before);
}

static int ob_scope_wait_thread(struct ob_worker *w)
{
	struct ownbuf_handle *h = w->arg;

	CLASS(ownbuf_mut_wait, r)(*h);

	if (IS_ERR(r))
		return PTR_ERR(r);
	w->ret2 = ownbuf_ref_stat(r, &w->st);
	return 0;
}

/* ownbuf_mut_wait sleeps until granted, and ends the borrow all the same. */
void ownbuf_test_scope_wait(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_ref *shared = ob_ref(test);
	struct ob_worker *w = ob_worker_new(test, 0);
	struct ob_counts before;

	KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, shared), 0);
	ob_snap(&before);
	w->arg = h;
	ob_worker_start(test, w, ob_scope_wait_thread, "scope_wait");
	KUNIT_EXPECT_TRUE_MSG(test, ob_still_blocked(w),
			      "granted while a shared borrow was out: %d",
			      w->ret);
	ob_expect_granted_on_release(test, w, shared);
	KUNIT_EXPECT_EQ(test, w->st.mut_borrows, 1);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).mut_borrows, 0);
	OB_EXPECT_NONE(test, &before);
}

/* --- owners --- */

enum ob_owner_end {
	OB_OWNER_ERROR,		/* an error path: the buffer goes */
	OB_OWNER_NO_FREE,	/* handed on: the buffer stays */
	OB_OWNER_DROPPED,	/* dropped through the variable: nothing more */
	OB_OWNER_MOVED,		/* moved out: the buffer stays */
	OB_OWNER_BORROWED,	/* a scoped borrow too: it ends first */
	OB_OWNER_LENT,		/* a borrow kept elsewhere: revoked */
};

static int ob_scope_owner(enum ob_owner_end how, struct ownbuf_handle *out,
			  struct ownbuf_ref *ref)
{
	struct ownbuf_handle h __free(ownbuf) = OWNBUF_HANDLE_NULL;
	int ret;

	ret = ownbuf_create(OB_SIZE, GFP_KERNEL, &h);
	if (ret)
		return ret;
	switch (how) {
	case OB_OWNER_ERROR:
		return -EIO;
	case OB_OWNER_NO_FREE:
		*out = ownbuf_no_free(h);
		return 0;
	case OB_OWNER_DROPPED:
		return ownbuf_drop(&h);
	case OB_OWNER_MOVED:
		return ownbuf_move(&h, out);
	case OB_OWNER_BORROWED: {
		CLASS(ownbuf_mut, w)(h);

		return PTR_ERR_OR_ZERO(w);
	}
	case OB_OWNER_LENT:
		return ownbuf_borrow_shared(h, ref);
	}
	return -EINVAL;
}

/* A scoped owner is revoked at the end of its scope unless handed on. */
void ownbuf_test_scope_owner(struct kunit *test)
{
	struct ownbuf_handle *kept = ob_handle(test);
	struct ownbuf_ref *ref = ob_ref(test);
	unsigned long n = ownbuf_count_buffers();
	struct ob_counts before;

	ob_snap(&before);
	KUNIT_EXPECT_EQ(test, ob_scope_owner(OB_OWNER_ERROR, kept, ref), -EIO);
	KUNIT_EXPECT_EQ(test, ownbuf_count_buffers(), n);
	KUNIT_EXPECT_EQ(test, ob_scope_owner(OB_OWNER_DROPPED, kept, ref), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_count_buffers(), n);
	KUNIT_EXPECT_EQ(test, ob_scope_owner(OB_OWNER_BORROWED, kept, ref), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_count_buffers(), n);
	OB_EXPECT_NONE(test, &before);

	KUNIT_EXPECT_EQ(test, ob_scope_owner(OB_OWNER_NO_FREE, kept, ref), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_count_buffers(), n + 1);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *kept).size, OB_SIZE);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(kept), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_count_buffers(), n);

	*kept = OWNBUF_HANDLE_NULL;
	KUNIT_EXPECT_EQ(test, ob_scope_owner(OB_OWNER_MOVED, kept, ref), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_count_buffers(), n + 1);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *kept).size, OB_SIZE);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(kept), 0);
	OB_EXPECT_NONE(test, &before);

	/* The owner went away while lent: the borrow is revoked, counted. */
	KUNIT_EXPECT_EQ(test, ob_scope_owner(OB_OWNER_LENT, kept, ref), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_ref_state(ref), OWNBUF_STATE_REVOKED);
	OB_EXPECT_ONE(test, &before, OWNBUF_DANGLING_BORROW);
	ownbuf_ref_discard(ref);
	KUNIT_EXPECT_EQ(test, ownbuf_count_buffers(), n);
}

/* lockdep sees a scoped borrow as a lock held for its scope, no longer. */
void ownbuf_test_scope_lockdep(struct kunit *test)
{
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	int depth = current->lockdep_depth;

	if (!debug_locks)
		kunit_skip(test, "lockdep is off (an earlier report?)");
	{
		CLASS(ownbuf_shared, r)(*h);

		KUNIT_ASSERT_FALSE(test, IS_ERR(r));
		KUNIT_EXPECT_EQ(test, current->lockdep_depth, depth + 1);
		{
			/* A shared borrow again, waiting: a recursive read. */
			CLASS(ownbuf_shared_wait, r2)(*h);

			KUNIT_ASSERT_FALSE(test, IS_ERR(r2));
			KUNIT_EXPECT_EQ(test, current->lockdep_depth,
					depth + 2);
		}
		KUNIT_EXPECT_EQ(test, current->lockdep_depth, depth + 1);
	}
	KUNIT_EXPECT_EQ(test, current->lockdep_depth, depth);
	{
		CLASS(ownbuf_mut_wait, w)(*h);

		KUNIT_ASSERT_FALSE(test, IS_ERR(w));
		KUNIT_EXPECT_EQ(test, current->lockdep_depth, depth + 1);
	}
	KUNIT_EXPECT_EQ(test, current->lockdep_depth, depth);
	KUNIT_EXPECT_TRUE(test, debug_locks);
#else
	kunit_skip(test, "no lockdep (CONFIG_DEBUG_LOCK_ALLOC)");
#endif
}
