// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite "ownbuf" (its case list is in ownbuf_kunit_api.c): what
 * surrounds the three rules: ->revoke callbacks, OWNBUF_WAIT, the limits
 * (module parameters), allocation failures and the tracepoint.
 */

#include <linux/delay.h>
#include <linux/err.h>
#include <linux/jiffies.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/sched/signal.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/tracepoint.h>
#include <linux/vmalloc.h>

#include "ownbuf_kunit.h"
#include "ownbuf_trace.h"

/* --- the ->revoke callback --- */

struct ob_cb {
	struct ownbuf_ref ref;
	atomic_t calls;
	const void *data;	/* an address of the buffer, never followed */
	int page_refs;		/* its page's refcount when ->revoke ran */
};

static struct page *ob_page_of(const void *p)
{
	return is_vmalloc_addr(p) ? vmalloc_to_page(p) : virt_to_page(p);
}

static void ob_cb_revoke(struct ownbuf_ref *ref)
{
	struct ob_cb *cb = container_of(ref, struct ob_cb, ref);
	struct page *page;

	atomic_inc(&cb->calls);
	if (cb->data) {
		page = ob_page_of(cb->data);
		cb->page_refs = page ? page_ref_count(page) : 0;
	}
}

static const struct ownbuf_ref_ops ob_cb_ops = {
	.revoke = ob_cb_revoke,
};

static struct ob_cb *ob_cb_new(struct kunit *test)
{
	struct ob_cb *cb = kunit_kzalloc(test, sizeof(*cb), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, cb);
	atomic_set(&cb->calls, 0);
	KUNIT_ASSERT_EQ(test,
			kunit_add_action_or_reset(test, ob_ref_cleanup,
						  &cb->ref), 0);
	return cb;
}

void ownbuf_test_callback_on_release(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ob_cb *cb = ob_cb_new(test);
	struct ob_counts before;

	ob_snap(&before);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_ops(*h, OWNBUF_MUT, &ob_cb_ops,
						&cb->ref), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&cb->calls), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_release(&cb->ref), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&cb->calls), 1);
	KUNIT_EXPECT_EQ(test, ownbuf_release(&cb->ref), -ESTALE);
	KUNIT_EXPECT_EQ(test, atomic_read(&cb->calls), 1);
	OB_EXPECT_DELTAS(test, &before, 0, 1, 0, 0, 0, 0);

	/* The token serves again, with or without OWNBUF_WAIT. */
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_ops(*h, OWNBUF_SHARED, &ob_cb_ops,
						&cb->ref), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_release(&cb->ref), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&cb->calls), 2);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_ops(*h, OWNBUF_SHARED | OWNBUF_WAIT,
						&ob_cb_ops, &cb->ref), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&cb->calls), 2);
	KUNIT_EXPECT_EQ(test, ownbuf_release(&cb->ref), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&cb->calls), 3);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).shared_borrows, 0);
	OB_EXPECT_DELTAS(test, &before, 0, 1, 0, 0, 0, 0);
}

void ownbuf_test_callback_on_discard(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ob_cb *cb = ob_cb_new(test);
	struct ob_counts before;

	ob_snap(&before);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_ops(*h, OWNBUF_SHARED, &ob_cb_ops,
						&cb->ref), 0);
	ownbuf_ref_discard(&cb->ref);
	KUNIT_EXPECT_EQ(test, atomic_read(&cb->calls), 1);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).shared_borrows, 0);
	ownbuf_ref_discard(&cb->ref);
	KUNIT_EXPECT_EQ(test, atomic_read(&cb->calls), 1);
	OB_EXPECT_NONE(test, &before);
	/* Discarded is released: releasing again is a double free. */
	KUNIT_EXPECT_EQ(test, ownbuf_release(&cb->ref), -ESTALE);
	KUNIT_EXPECT_EQ(test, atomic_read(&cb->calls), 1);
	OB_EXPECT_DELTAS(test, &before, 0, 1, 0, 0, 0, 0);
}

/* Revocation calls ->revoke once per borrow, before the memory goes. */
void ownbuf_test_callback_on_revoke(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ob_cb *cb1 = ob_cb_new(test), *cb2 = ob_cb_new(test);
	struct ownbuf_ref *plain = ob_ref(test);
	struct ob_counts before;
	size_t len;
	void *p;

	KUNIT_ASSERT_EQ(test, ownbuf_borrow_ops(*h, OWNBUF_SHARED, &ob_cb_ops,
						&cb1->ref), 0);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_ops(*h, OWNBUF_SHARED, &ob_cb_ops,
						&cb2->ref), 0);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, plain), 0);
	/* Keep the address (not the right to use it) to check its page. */
	p = ob_unsafe_begin(test, &cb1->ref, &len);
	ob_unsafe_end(test, &cb1->ref);
	cb1->data = p;
	cb2->data = p;

	ob_snap(&before);
	KUNIT_EXPECT_EQ(test, ownbuf_revoke(h), 3);
	KUNIT_EXPECT_EQ(test, atomic_read(&cb1->calls), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&cb2->calls), 1);
	KUNIT_EXPECT_GT_MSG(test, cb1->page_refs, 0,
			    "->revoke ran after the data was freed");
	KUNIT_EXPECT_GT_MSG(test, cb2->page_refs, 0,
			    "->revoke ran after the data was freed");
	OB_EXPECT_DELTAS(test, &before, 0, 0, 0, 0, 0, 3);

	KUNIT_EXPECT_EQ(test, ownbuf_release(&cb1->ref), -ESTALE);
	ownbuf_ref_discard(&cb2->ref);
	KUNIT_EXPECT_EQ(test, ownbuf_release(plain), -ESTALE);
	KUNIT_EXPECT_EQ(test, atomic_read(&cb1->calls), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&cb2->calls), 1);
	OB_EXPECT_DELTAS(test, &before, 2, 0, 0, 0, 0, 3);
}

/* After revocation no borrow with callbacks is granted, nor run. */
void ownbuf_test_callback_borrow_after_revoke(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_handle copy = *h;
	struct ob_cb *keep = ob_cb_new(test), *late = ob_cb_new(test);
	struct ob_counts before;

	/* An outstanding borrow keeps the revoked buffer known. */
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_ops(*h, OWNBUF_SHARED, &ob_cb_ops,
						&keep->ref), 0);
	KUNIT_ASSERT_EQ(test, ownbuf_revoke(h), 1);
	KUNIT_EXPECT_EQ(test, atomic_read(&keep->calls), 1);

	ob_snap(&before);
	KUNIT_EXPECT_EQ(test, ownbuf_borrow_ops(copy, OWNBUF_SHARED, &ob_cb_ops,
						&late->ref), -ESTALE);
	KUNIT_EXPECT_EQ(test, ownbuf_borrow_ops(*h, OWNBUF_MUT, &ob_cb_ops,
						&late->ref), -ESTALE);
	KUNIT_EXPECT_EQ(test, ownbuf_borrow_ops(copy, OWNBUF_MUT | OWNBUF_WAIT,
						&ob_cb_ops, &late->ref),
			-ESTALE);
	KUNIT_EXPECT_EQ(test, ownbuf_ref_state(&late->ref), 0);
	OB_EXPECT_DELTAS(test, &before, 3, 0, 0, 0, 0, 0);

	KUNIT_EXPECT_EQ(test, ownbuf_release(&keep->ref), -ESTALE);
	KUNIT_EXPECT_EQ(test, ownbuf_borrow_ops(copy, OWNBUF_SHARED, &ob_cb_ops,
						&late->ref), -ESTALE);
	KUNIT_EXPECT_EQ(test, atomic_read(&late->calls), 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&keep->calls), 1);
	OB_EXPECT_DELTAS(test, &before, 5, 0, 0, 0, 0, 0);
}

struct ob_slow {
	struct ownbuf_ref ref;
	struct completion in_cb;
	struct completion go;
	atomic_t calls;
};

static void ob_slow_revoke(struct ownbuf_ref *ref)
{
	struct ob_slow *s = container_of(ref, struct ob_slow, ref);

	atomic_inc(&s->calls);
	complete(&s->in_cb);
	wait_for_completion_timeout(&s->go, OB_TIMEOUT);
}

static const struct ownbuf_ref_ops ob_slow_ops = {
	.revoke = ob_slow_revoke,
};

static int ob_release_thread(struct ob_worker *w)
{
	return ownbuf_release(w->arg);
}

/* A second release while the first is still in progress: double free. */
void ownbuf_test_release_during_release(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ob_slow *s = kunit_kzalloc(test, sizeof(*s), GFP_KERNEL);
	struct ob_counts before;
	struct ob_worker *w;
	int ret;

	KUNIT_ASSERT_NOT_NULL(test, s);
	init_completion(&s->in_cb);
	init_completion(&s->go);
	atomic_set(&s->calls, 0);
	KUNIT_ASSERT_EQ(test,
			kunit_add_action_or_reset(test, ob_ref_cleanup, &s->ref),
			0);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_ops(*h, OWNBUF_SHARED, &ob_slow_ops,
						&s->ref), 0);
	w = ob_worker_new(test, 0);
	w->arg = &s->ref;
	ob_worker_start(test, w, ob_release_thread, "release");
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, ob_complete,
							&s->go), 0);
	KUNIT_ASSERT_NE(test, wait_for_completion_timeout(&s->in_cb,
							  OB_TIMEOUT), 0);

	ob_snap(&before);
	ret = ownbuf_release(&s->ref);
	kunit_release_action(test, ob_complete, &s->go);
	ob_worker_join(test, w);
	KUNIT_EXPECT_EQ(test, ret, -ESTALE);
	KUNIT_EXPECT_EQ(test, w->ret, 0);
	KUNIT_EXPECT_EQ(test, atomic_read(&s->calls), 1);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).shared_borrows, 0);
	OB_EXPECT_DELTAS(test, &before, 0, 1, 0, 0, 0, 0);
}

/* --- OWNBUF_WAIT --- */

static int ob_wait_thread(struct ob_worker *w)
{
	struct ownbuf_handle *h = w->arg;
	int ret;

	ret = ownbuf_borrow(*h, w->flags, &w->ref);
	if (ret)
		return ret;
	/* Granted: note what that looked like, and give it back. */
	w->ret2 = ownbuf_ref_stat(&w->ref, &w->st);
	if (!w->ret2)
		w->ret2 = ownbuf_release(&w->ref);
	return 0;
}

static struct ob_worker *ob_waiter(struct kunit *test, struct ownbuf_handle *h,
				   unsigned int flags)
{
	struct ob_worker *w = ob_worker_new(test, 0);

	w->arg = h;
	w->flags = flags;
	ob_worker_start(test, w, ob_wait_thread, "wait");
	return w;
}

/*
 * A waiter for a borrow (@flags, and OWNBUF_WAIT), started (after *@before)
 * once @mut is lent out.
 */
static struct ob_worker *ob_waiter_behind_mut(struct kunit *test,
					      struct ownbuf_handle *h,
					      struct ownbuf_ref *mut,
					      unsigned int flags,
					      struct ob_counts *before)
{
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_mut(*h, mut), 0);
	ob_snap(before);
	return ob_waiter(test, h, flags | OWNBUF_WAIT);
}

void ownbuf_test_wait_wakes_on_release(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_ref *mut = ob_ref(test);
	struct ob_counts before;
	struct ob_worker *w;

	w = ob_waiter_behind_mut(test, h, mut, OWNBUF_SHARED, &before);
	KUNIT_EXPECT_TRUE_MSG(test, ob_still_blocked(w),
			      "granted while the mut borrow was out: %d", w->ret);
	ob_expect_granted_on_release(test, w, mut);
	KUNIT_EXPECT_EQ(test, w->st.shared_borrows, 1);
	KUNIT_EXPECT_EQ(test, w->st.mut_borrows, 0);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).shared_borrows, 0);
	OB_EXPECT_NONE(test, &before);
}

void ownbuf_test_wait_mut_for_all_shared(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_ref *r1 = ob_ref(test), *r2 = ob_ref(test);
	struct ob_counts before;
	struct ob_worker *w;

	KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, r1), 0);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, r2), 0);
	ob_snap(&before);
	w = ob_waiter(test, h, OWNBUF_MUT | OWNBUF_WAIT);
	KUNIT_EXPECT_TRUE(test, ob_still_blocked(w));
	KUNIT_EXPECT_EQ(test, ownbuf_release(r1), 0);
	KUNIT_EXPECT_TRUE_MSG(test, ob_still_blocked(w),
			      "mut granted while a shared borrow was out: %d",
			      w->ret);
	ob_expect_granted_on_release(test, w, r2);
	KUNIT_EXPECT_EQ(test, w->st.mut_borrows, 1);
	KUNIT_EXPECT_EQ(test, w->st.shared_borrows, 0);
	OB_EXPECT_NONE(test, &before);
}

void ownbuf_test_wait_interrupted(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_ref *mut = ob_ref(test);
	struct ownbuf_stat st;
	struct ob_counts before;
	struct ob_worker *w;

	w = ob_waiter_behind_mut(test, h, mut, OWNBUF_SHARED, &before);
	KUNIT_EXPECT_TRUE(test, ob_still_blocked(w));
	send_sig(SIGINT, w->task, 1);
	KUNIT_EXPECT_TRUE_MSG(test, ob_done_within(w, OB_TIMEOUT),
			      "a signal did not interrupt OWNBUF_WAIT");
	ob_worker_join(test, w);
	KUNIT_EXPECT_EQ(test, w->ret, -EINTR);
	KUNIT_EXPECT_EQ(test, ownbuf_ref_state(&w->ref), 0);
	st = ob_stat(test, *h);
	KUNIT_EXPECT_EQ(test, st.shared_borrows, 0);
	KUNIT_EXPECT_EQ(test, st.mut_borrows, 1);
	OB_EXPECT_NONE(test, &before);
	KUNIT_EXPECT_EQ(test, ownbuf_release(mut), 0);
}

void ownbuf_test_wait_revoked(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_ref *mut = ob_ref(test);
	struct ob_counts before;
	struct ob_worker *w;

	w = ob_waiter_behind_mut(test, h, mut, OWNBUF_MUT, &before);
	KUNIT_EXPECT_TRUE(test, ob_still_blocked(w));
	KUNIT_EXPECT_EQ(test, ownbuf_revoke(h), 1);
	KUNIT_EXPECT_TRUE_MSG(test, ob_done_within(w, OB_TIMEOUT),
			      "revocation did not wake the waiter");
	ob_worker_join(test, w);
	KUNIT_EXPECT_EQ(test, w->ret, -ESTALE);
	KUNIT_EXPECT_EQ(test, ownbuf_ref_state(&w->ref), 0);
	OB_EXPECT_DELTAS(test, &before, 1, 0, 0, 0, 0, 1);
	KUNIT_EXPECT_EQ(test, ownbuf_release(mut), -ESTALE);
	OB_EXPECT_DELTAS(test, &before, 2, 0, 0, 0, 0, 1);
}

/* --- limits (module parameters) --- */

/* At max_shared, one more shared borrow is -EOVERFLOW, even with WAIT. */
void ownbuf_test_max_shared(struct kunit *test)
{
	unsigned long cap = ob_param_get("max_shared", 1024);
	struct ownbuf_handle *h;
	struct ownbuf_ref *refs;
	struct ob_counts before;
	struct ob_worker *w;
	unsigned long i;

	if (cap > 4096)
		kunit_skip(test, "max_shared is %lu", cap);
	h = ob_create(test, OB_SIZE);
	ob_fill(test, *h, OB_BYTE);
	refs = ob_refs(test, cap + 1);
	for (i = 0; i < cap; i++)
		KUNIT_ASSERT_EQ_MSG(test, ownbuf_borrow_shared(*h, &refs[i]), 0,
				    "borrow %lu of %lu", i, cap);

	ob_snap(&before);
	KUNIT_EXPECT_EQ(test, ownbuf_borrow_shared(*h, &refs[cap]), -EOVERFLOW);
	KUNIT_EXPECT_EQ(test, ownbuf_ref_state(&refs[cap]), 0);
	w = ob_waiter(test, h, OWNBUF_SHARED | OWNBUF_WAIT);
	KUNIT_EXPECT_TRUE_MSG(test, ob_done_within(w, OB_TIMEOUT),
			      "OWNBUF_WAIT slept at max_shared");
	ob_worker_join(test, w);
	KUNIT_EXPECT_EQ(test, w->ret, -EOVERFLOW);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).shared_borrows, cap);
	OB_EXPECT_OWNER_BYTES(test, *h, 0, OB_SIZE, OB_BYTE);
	if (cap)
		OB_EXPECT_REF_BYTES(test, &refs[cap - 1], 0, OB_SIZE, OB_BYTE);
	OB_EXPECT_NONE(test, &before);

	if (!cap)
		return;
	KUNIT_EXPECT_EQ(test, ownbuf_release(&refs[0]), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_borrow_shared(*h, &refs[cap]), 0);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).shared_borrows, cap);
	OB_EXPECT_NONE(test, &before);
}

/* A lowered max_shared applies to later borrows only. */
void ownbuf_test_max_shared_lowered(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_ref *refs = ob_refs(test, 4);
	struct ob_counts before;
	int i;

	ob_fill(test, *h, OB_BYTE);
	for (i = 0; i < 3; i++)
		KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, &refs[i]), 0);
	ob_param_set(test, "max_shared", 2);

	ob_snap(&before);
	KUNIT_EXPECT_EQ(test, ownbuf_borrow_shared(*h, &refs[3]), -EOVERFLOW);
	for (i = 0; i < 3; i++)
		OB_EXPECT_REF_BYTES(test, &refs[i], 0, OB_SIZE, OB_BYTE);
	KUNIT_EXPECT_EQ(test, ownbuf_release(&refs[0]), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_borrow_shared(*h, &refs[3]), -EOVERFLOW);
	KUNIT_EXPECT_EQ(test, ownbuf_release(&refs[1]), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_borrow_shared(*h, &refs[3]), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_borrow_shared(*h, &refs[0]), -EOVERFLOW);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).shared_borrows, 2);
	OB_EXPECT_NONE(test, &before);
}

void ownbuf_test_max_size(struct kunit *test)
{
	unsigned long max = ob_param_get("max_size", SZ_64M);
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_handle *out = ob_handle(test);
	struct ob_counts before;

	ob_fill(test, *h, OB_BYTE);
	ob_snap(&before);
	KUNIT_EXPECT_EQ(test, ownbuf_create(max + 1, GFP_KERNEL, out), -EFBIG);
	KUNIT_EXPECT_EQ(test, out->val, 0);
	KUNIT_EXPECT_EQ(test, ownbuf_resize(*h, max + 1), -EFBIG);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).size, OB_SIZE);
	OB_EXPECT_OWNER_BYTES(test, *h, 0, OB_SIZE, OB_BYTE);
	OB_EXPECT_NONE(test, &before);
}

/* A lowered max_size refuses later creates and resizes, nothing else. */
void ownbuf_test_max_size_lowered(struct kunit *test)
{
	const size_t max = 2 * PAGE_SIZE;
	struct ownbuf_handle *big = ob_create(test, 3 * PAGE_SIZE);
	struct ownbuf_handle *out = ob_handle(test);
	struct ob_counts before;

	ob_fill(test, *big, OB_BYTE);
	ob_param_set(test, "max_size", max);

	ob_snap(&before);
	KUNIT_EXPECT_EQ(test, ownbuf_create(max + 1, GFP_KERNEL, out), -EFBIG);
	KUNIT_EXPECT_EQ(test, out->val, 0);
	KUNIT_EXPECT_EQ(test, ownbuf_create(max, GFP_KERNEL, out), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_resize(*big, 3 * PAGE_SIZE + 1), -EFBIG);
	OB_EXPECT_OWNER_BYTES(test, *big, 0, 3 * PAGE_SIZE, OB_BYTE);
	KUNIT_EXPECT_EQ(test, ownbuf_resize(*big, PAGE_SIZE), 0);
	OB_EXPECT_OWNER_BYTES(test, *big, 0, PAGE_SIZE, OB_BYTE);
	OB_EXPECT_NONE(test, &before);
}

/* --- allocation failures leave everything as it was --- */

static void *ob_fail_alloc_data(size_t size, gfp_t gfp)
{
	struct ob_priv *priv = kunit_get_current_test()->priv;

	priv->stub_calls++;
	return NULL;
}

static struct ownbuf *ob_fail_alloc_core(gfp_t gfp)
{
	struct ob_priv *priv = kunit_get_current_test()->priv;

	priv->stub_calls++;
	return NULL;
}

static int ob_fail_table_insert(struct ownbuf *b, u32 *idx, gfp_t gfp)
{
	struct ob_priv *priv = kunit_get_current_test()->priv;

	priv->stub_calls++;
	return priv->stub_ret;
}

/*
 * With an allocation stubbed out (@real_fn), ownbuf_create() of each of
 * the @n @sizes fails with @want, one stub call each, leaving *@out NULL
 * and nothing counted since *@before (taken here).  Then, the stub gone,
 * ownbuf_create() of the last size works: *@out owns it.
 */
static void ob_expect_create_fails(struct kunit *test, void *real_fn,
				   const size_t *sizes, int n, int want,
				   struct ownbuf_handle *out,
				   struct ob_counts *before)
{
	struct ob_priv *priv = test->priv;
	int i;

	ob_snap(before);
	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ(test, ownbuf_create(sizes[i], GFP_KERNEL, out),
				want);
	KUNIT_EXPECT_EQ(test, priv->stub_calls, n);
	KUNIT_EXPECT_EQ(test, out->val, 0);
	OB_EXPECT_NONE(test, before);

	kunit_deactivate_static_stub(test, real_fn);
	KUNIT_EXPECT_EQ(test, ownbuf_create(sizes[n - 1], GFP_KERNEL, out), 0);
}

void ownbuf_test_fail_alloc_core(struct kunit *test)
{
	static const size_t sizes[] = { OB_SIZE };
	struct ownbuf_handle *out = ob_handle(test);
	struct ob_counts before;

	kunit_activate_static_stub(test, ownbuf_alloc_core, ob_fail_alloc_core);
	ob_expect_create_fails(test, ownbuf_alloc_core, sizes,
			       ARRAY_SIZE(sizes), -ENOMEM, out, &before);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(out), 0);
	OB_EXPECT_NONE(test, &before);
}

void ownbuf_test_fail_alloc_data(struct kunit *test)
{
	static const size_t sizes[] = { OB_SIZE, OB_BIG };
	struct ownbuf_handle *out = ob_handle(test);
	struct ob_counts before;

	kunit_activate_static_stub(test, ownbuf_alloc_data, ob_fail_alloc_data);
	ob_expect_create_fails(test, ownbuf_alloc_data, sizes,
			       ARRAY_SIZE(sizes), -ENOMEM, out, &before);
	OB_EXPECT_OWNER_BYTES(test, *out, 0, OB_BIG, 0);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(out), 0);
	OB_EXPECT_NONE(test, &before);
}

struct ob_insert_case {
	const char *name;
	size_t size;
	int insert_ret;
	int want;
};

static const struct ob_insert_case ob_insert_cases[] = {
	{ "nomem_page", OB_SIZE, -ENOMEM, -ENOMEM },
	{ "nomem_vmalloc", OB_BIG, -ENOMEM, -ENOMEM },
	{ "table_full", OB_SIZE, -ENOSPC, -ENOSPC },
};

KUNIT_ARRAY_PARAM_DESC(ob_insert, ob_insert_cases, name);

/* For the case list in ownbuf_kunit_api.c. */
const void *ob_insert_params(const void *prev, char *desc)
{
	return ob_insert_gen_params(prev, desc);
}

/* A failed table insert frees what was allocated (kmemleak checks). */
void ownbuf_test_fail_table_insert(struct kunit *test)
{
	const struct ob_insert_case *p = test->param_value;
	struct ob_priv *priv = test->priv;
	struct ownbuf_handle *out = ob_handle(test);
	struct ob_counts before;

	priv->stub_ret = p->insert_ret;
	kunit_activate_static_stub(test, ownbuf_table_insert,
				   ob_fail_table_insert);
	ob_expect_create_fails(test, ownbuf_table_insert, &p->size, 1,
			       p->want, out, &before);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(out), 0);
	OB_EXPECT_NONE(test, &before);
}

/* A resize that cannot allocate keeps the size and every byte. */
void ownbuf_test_fail_resize(struct kunit *test)
{
	struct ob_priv *priv = test->priv;
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_handle *v = ob_create(test, OB_BIG);
	struct ownbuf_ref *ref = ob_ref(test);
	struct ob_counts before;

	ob_fill(test, *h, 0x3c);
	ob_fill(test, *v, 0x3d);
	kunit_activate_static_stub(test, ownbuf_alloc_data, ob_fail_alloc_data);
	ob_snap(&before);
	KUNIT_EXPECT_EQ(test, ownbuf_resize(*h, 2 * PAGE_SIZE), -ENOMEM);
	KUNIT_EXPECT_EQ(test, ownbuf_resize(*v, 2 * OB_BIG), -ENOMEM);
	KUNIT_EXPECT_EQ(test, priv->stub_calls, 2);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).size, OB_SIZE);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *v).size, OB_BIG);
	OB_EXPECT_OWNER_BYTES(test, *h, 0, OB_SIZE, 0x3c);
	OB_EXPECT_OWNER_BYTES(test, *v, 0, OB_BIG, 0x3d);
	/* Still fully usable. */
	KUNIT_EXPECT_EQ(test, ownbuf_borrow_mut(*h, ref), 0);
	OB_EXPECT_REF_BYTES(test, ref, 0, OB_SIZE, 0x3c);
	KUNIT_EXPECT_EQ(test, ownbuf_release(ref), 0);
	OB_EXPECT_NONE(test, &before);

	kunit_deactivate_static_stub(test, ownbuf_alloc_data);
	KUNIT_EXPECT_EQ(test, ownbuf_resize(*h, 2 * PAGE_SIZE), 0);
	OB_EXPECT_OWNER_BYTES(test, *h, 0, OB_SIZE, 0x3c);
	OB_EXPECT_OWNER_BYTES(test, *h, OB_SIZE, 2 * PAGE_SIZE - OB_SIZE, 0);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(h), 0);
	OB_EXPECT_NONE(test, &before);
}

/* --- the tracepoint --- */

struct ob_tp {
	spinlock_t lock;	/* protects the fields below */
	struct task_struct *task;
	unsigned int n, nwant;
	struct {
		unsigned int class;
		u64 id;
		u32 holder;
		unsigned long holder_ip;
	} ev[32], want[32];
};

static void ob_probe_violation(void *data, unsigned int class, u64 id,
			       const struct ownbuf_holder *hd)
{
	struct ob_tp *tp = data;
	unsigned long flags;

	if (current != tp->task)
		return;
	spin_lock_irqsave(&tp->lock, flags);
	if (tp->n < ARRAY_SIZE(tp->ev)) {
		tp->ev[tp->n].class = class;
		tp->ev[tp->n].id = id;
		tp->ev[tp->n].holder = hd ? hd->kind : OWNBUF_HOLDER_NONE;
		tp->ev[tp->n].holder_ip = hd ? hd->ip : 0;
	}
	tp->n++;
	spin_unlock_irqrestore(&tp->lock, flags);
}

static void ob_tp_unregister(void *arg)
{
	unregister_trace_ownbuf_violation(ob_probe_violation, arg);
	tracepoint_synchronize_unregister();
}

static void ob_tp_want(struct ob_tp *tp, unsigned int class, u64 id)
{
	if (tp->nwant < ARRAY_SIZE(tp->want)) {
		tp->want[tp->nwant].class = class;
		tp->want[tp->nwant].id = id;
	}
	tp->nwant++;
}

/*
 * Each counted refusal fires ownbuf:ownbuf_violation once, class and id;
 * a conflict names the borrow in the way (here always a shared one, taken
 * by this function) and nothing else names a holder.
 */
void ownbuf_test_tracepoint(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_handle copy = *h;
	struct ownbuf_ref *r1 = ob_ref(test), *r2 = ob_ref(test);
	struct ob_tp *tp = kunit_kzalloc(test, sizeof(*tp), GFP_KERNEL);
	struct ob_counts before;
	unsigned int i, n;
	u8 byte;
	u64 id;

	KUNIT_ASSERT_NOT_NULL(test, tp);
	spin_lock_init(&tp->lock);
	tp->task = current;
	id = ob_stat(test, *h).id;
	KUNIT_ASSERT_EQ(test, register_trace_ownbuf_violation(ob_probe_violation,
							      tp), 0);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, ob_tp_unregister,
							tp), 0);

	ob_snap(&before);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, r1), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_borrow_mut(*h, r2), -EBUSY);
	ob_tp_want(tp, OWNBUF_DATA_RACE, id);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(h), -EBUSY);
	ob_tp_want(tp, OWNBUF_DANGLING_BORROW, id);
	KUNIT_EXPECT_EQ(test, ownbuf_read(r1, OB_SIZE, &byte, 1), -ERANGE);
	ob_tp_want(tp, OWNBUF_OUT_OF_BOUNDS, id);
	KUNIT_EXPECT_EQ(test, ownbuf_read(r1, SIZE_MAX, &byte, 1), -ERANGE);
	ob_tp_want(tp, OWNBUF_OUT_OF_BOUNDS, id);
	KUNIT_EXPECT_EQ(test, ownbuf_read(r1, 0, NULL, 1), -EINVAL);
	ob_tp_want(tp, OWNBUF_NULL_DEREF, id);
	KUNIT_EXPECT_EQ(test, ownbuf_read(NULL, 0, &byte, 1), -EINVAL);
	ob_tp_want(tp, OWNBUF_NULL_DEREF, 0);
	KUNIT_EXPECT_EQ(test, ownbuf_release(r1), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_release(r1), -ESTALE);
	ob_tp_want(tp, OWNBUF_DOUBLE_FREE, id);
	KUNIT_EXPECT_EQ(test, ownbuf_read(r1, 0, &byte, 1), -ESTALE);
	ob_tp_want(tp, OWNBUF_USE_AFTER_FREE, id);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, r1), 0);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, r2), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_revoke(h), 2);
	ob_tp_want(tp, OWNBUF_DANGLING_BORROW, id);
	ob_tp_want(tp, OWNBUF_DANGLING_BORROW, id);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(h), -ESTALE);
	ob_tp_want(tp, OWNBUF_DOUBLE_FREE, id);
	KUNIT_EXPECT_EQ(test, ownbuf_read(r1, 0, &byte, 1), -ESTALE);
	ob_tp_want(tp, OWNBUF_USE_AFTER_FREE, id);
	KUNIT_EXPECT_EQ(test, ownbuf_release(r1), -ESTALE);
	ob_tp_want(tp, OWNBUF_USE_AFTER_FREE, id);
	/* r2 still holds the revoked buffer: its id is still known. */
	KUNIT_EXPECT_EQ(test, ownbuf_owner_read(copy, 0, &byte, 1), -ESTALE);
	ob_tp_want(tp, OWNBUF_USE_AFTER_FREE, id);
	ownbuf_ref_discard(r2);
	OB_EXPECT_DELTAS(test, &before, 4, 2, 1, 2, 2, 3);

	spin_lock_irq(&tp->lock);
	n = tp->n;
	spin_unlock_irq(&tp->lock);
	KUNIT_EXPECT_EQ(test, n, tp->nwant);
	n = min3(n, tp->nwant, (unsigned int)ARRAY_SIZE(tp->ev));
	for (i = 0; i < n; i++) {
		KUNIT_EXPECT_EQ_MSG(test, tp->ev[i].class, tp->want[i].class,
				    "event %u", i);
		KUNIT_EXPECT_EQ_MSG(test, tp->ev[i].id, tp->want[i].id,
				    "event %u (%s)", i,
				    ownbuf_violation_name(tp->want[i].class));
		if (tp->want[i].class == OWNBUF_DATA_RACE ||
		    tp->want[i].class == OWNBUF_DANGLING_BORROW) {
			KUNIT_EXPECT_EQ_MSG(test, tp->ev[i].holder,
					    OWNBUF_SHARED, "event %u", i);
			KUNIT_EXPECT_NE_MSG(test, tp->ev[i].holder_ip, 0,
					    "event %u", i);
		} else {
			KUNIT_EXPECT_EQ_MSG(test, tp->ev[i].holder,
					    OWNBUF_HOLDER_NONE, "event %u", i);
		}
	}
}
