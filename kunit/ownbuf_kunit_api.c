// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suites of the ownbuf engine, driven through the in-kernel API of
 * include/linux/ownbuf.h; this file holds the case lists of all but
 * "ownbuf_windows" (ownbuf_kunit_windows.c).
 *
 * Every test breaks a rule of the contract on purpose, or races the engine,
 * and checks three things: the error code, the change of all six violation
 * counters (zeros included), and that nothing else changed.  Everything a
 * test creates (buffers, borrows, unsafe sections, threads, stubs, module
 * parameters) is undone by a kunit action, so a failed assertion leaves
 * nothing behind.  A console probe fails any test during which the kernel
 * printed a splat (BUG, WARNING, UBSAN, refcount_t, lockdep INFO).
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

/* In-kernel misuse is a ratelimited warning naming the caller (%pS). */
static void ownbuf_test_warning_names_caller(struct kunit *test)
{
	struct ownbuf_handle null = OWNBUF_HANDLE_NULL;
	unsigned long deadline = jiffies + 7 * HZ;
	char line[192];
	char byte;

	ob_console_watch(__func__);
	/* Earlier floods may have used up the ratelimit: it lasts 5 s. */
	do {
		KUNIT_ASSERT_EQ(test, ownbuf_owner_read(null, 0, &byte, 1),
				-EINVAL);
		ob_console_line(line, sizeof(line));
		if (line[0])
			break;
		msleep(250);
	} while (time_before(jiffies, deadline));
	ob_console_watch(NULL);

	KUNIT_ASSERT_TRUE_MSG(test, line[0], "no warning named %s", __func__);
	KUNIT_EXPECT_NOT_NULL_MSG(test, strstr(line, "null_deref"), "%s", line);
#ifdef MODULE
	/* %pS names a module's code with the module; built-in code has none. */
	KUNIT_EXPECT_NOT_NULL_MSG(test, strstr(line, "[" KBUILD_MODNAME "]"),
				  "%s", line);
#endif
}

static void ownbuf_test_violation_names(struct kunit *test)
{
	/* The ABI: the kernel's list (OWNBUF_VIOLATIONS) must match it. */
	static const char * const names[] = { OWNBUF_VIOLATION_NAMES };
	int v;

	KUNIT_ASSERT_EQ(test, ARRAY_SIZE(names), OWNBUF_NR_VIOLATIONS);
	for (v = 0; v < OWNBUF_NR_VIOLATIONS; v++)
		KUNIT_EXPECT_STREQ(test, ownbuf_violation_name(v), names[v]);
	KUNIT_EXPECT_STREQ(test, ownbuf_violation_name(OWNBUF_NR_VIOLATIONS),
			   "unknown");
	KUNIT_EXPECT_STREQ(test, ownbuf_violation_name(-1), "unknown");
	KUNIT_EXPECT_EQ(test, ownbuf_violations(OWNBUF_NR_VIOLATIONS), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_violations(-1), 0);
}

/* --- rule 1: one owner --- */

static void ownbuf_test_create_zeroed(struct kunit *test)
{
	static const size_t sizes[] = {
		1, OB_SIZE, PAGE_SIZE - 1, PAGE_SIZE, PAGE_SIZE + 1, OB_BIG,
	};
	struct ownbuf_handle *h[ARRAY_SIZE(sizes)];
	struct ownbuf_stat st[ARRAY_SIZE(sizes)];
	struct ob_counts before;
	size_t i, j, size;

	ob_snap(&before);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		h[i] = ob_handle(test);
		KUNIT_ASSERT_EQ(test, ownbuf_create(sizes[i],
						    i & 1 ? GFP_KERNEL_ACCOUNT :
							    GFP_KERNEL,
						    h[i]), 0);
		KUNIT_EXPECT_EQ(test, ownbuf_size(*h[i], &size), 0);
		KUNIT_EXPECT_EQ(test, size, sizes[i]);
		st[i] = ob_stat(test, *h[i]);
		KUNIT_EXPECT_EQ(test, st[i].size, sizes[i]);
		KUNIT_EXPECT_NE(test, st[i].id, 0);
		KUNIT_EXPECT_EQ(test, st[i].shared_borrows, 0);
		KUNIT_EXPECT_EQ(test, st[i].mut_borrows, 0);
		OB_EXPECT_OWNER_BYTES(test, *h[i], 0, sizes[i], 0);
		for (j = 0; j < i; j++) {
			KUNIT_EXPECT_NE(test, h[i]->val, h[j]->val);
			KUNIT_EXPECT_NE(test, st[i].id, st[j].id);
		}
	}
	for (i = 0; i < ARRAY_SIZE(sizes); i++)
		KUNIT_EXPECT_EQ(test, ownbuf_drop(h[i]), 0);
	OB_EXPECT_NONE(test, &before);
}

static void ownbuf_test_drop_poisons_handle(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_handle copy = *h;
	struct ob_counts before;
	size_t size = 0;

	ob_snap(&before);
	KUNIT_ASSERT_EQ(test, ownbuf_drop(h), 0);
	/* The variable was consumed: neither the old value nor NULL. */
	KUNIT_EXPECT_NE(test, h->val, copy.val);
	KUNIT_EXPECT_NE(test, h->val, 0);
	OB_EXPECT_NONE(test, &before);

	KUNIT_EXPECT_EQ(test, ownbuf_size(*h, &size), -ESTALE);
	OB_EXPECT_DELTAS(test, &before, 1, 0, 0, 0, 0, 0);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(h), -ESTALE);
	OB_EXPECT_DELTAS(test, &before, 1, 1, 0, 0, 0, 0);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(&copy), -ESTALE);
	OB_EXPECT_DELTAS(test, &before, 2, 1, 0, 0, 0, 0);
	KUNIT_EXPECT_EQ(test, ownbuf_size(copy, &size), -ESTALE);
	OB_EXPECT_DELTAS(test, &before, 3, 1, 0, 0, 0, 0);
	KUNIT_EXPECT_EQ(test, size, 0);
}

static void ownbuf_test_move_stales_copies(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_handle *h2 = ob_handle(test), *h3 = ob_handle(test);
	struct ownbuf_handle c1 = *h, c2 = *h, c3;
	struct ownbuf_ref *ref = ob_ref(test);
	struct ownbuf_stat st0, st;
	struct ob_counts before;
	u8 byte = 0;

	ob_fill(test, *h, OB_BYTE);
	st0 = ob_stat(test, *h);

	ob_snap(&before);
	KUNIT_ASSERT_EQ(test, ownbuf_move(h, h2), 0);
	KUNIT_EXPECT_NE(test, h->val, c1.val);
	KUNIT_EXPECT_NE(test, h->val, 0);
	KUNIT_EXPECT_NE(test, h2->val, c1.val);
	KUNIT_EXPECT_NE(test, h2->val, 0);
	OB_EXPECT_NONE(test, &before);

	/* Same buffer, same id, same contents, new owner. */
	st = ob_stat(test, *h2);
	KUNIT_EXPECT_EQ(test, st.id, st0.id);
	KUNIT_EXPECT_EQ(test, st.size, st0.size);
	OB_EXPECT_OWNER_BYTES(test, *h2, 0, OB_SIZE, OB_BYTE);

	/* Every copy of the old handle is dead. */
	KUNIT_EXPECT_EQ(test, ownbuf_owner_read(c1, 0, &byte, 1), -ESTALE);
	KUNIT_EXPECT_EQ(test, byte, 0);
	KUNIT_EXPECT_EQ(test, ownbuf_borrow_shared(c2, ref), -ESTALE);
	KUNIT_EXPECT_EQ(test, ownbuf_ref_state(ref), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_owner_write(c2, 0, &byte, 1), -ESTALE);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(h), -ESTALE);
	KUNIT_EXPECT_EQ(test, ownbuf_move(&c1, h3), -ESTALE);
	KUNIT_EXPECT_EQ(test, h3->val, 0);
	OB_EXPECT_DELTAS(test, &before, 5, 0, 0, 0, 0, 0);
	OB_EXPECT_OWNER_BYTES(test, *h2, 0, OB_SIZE, OB_BYTE);

	/* Moving on again stales the second owner too. */
	c3 = *h2;
	KUNIT_ASSERT_EQ(test, ownbuf_move(h2, h3), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_stat(c3, &st), -ESTALE);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h3).id, st0.id);
	OB_EXPECT_DELTAS(test, &before, 6, 0, 0, 0, 0, 0);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(h3), 0);
}

/* ownbuf_move(&h, &h): the buffer must keep an owner. */
static void ownbuf_test_move_to_itself(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_handle orig = *h;
	struct ownbuf_stat st0 = ob_stat(test, *h), st = { };
	struct ob_counts before;
	int ret, stat;

	ob_snap(&before);
	ret = ownbuf_move(h, h);
	stat = ownbuf_stat(*h, &st);
	if (stat) {
		/*
		 * Orphaned.  Give it back for the cleanup: with nothing else
		 * creating or moving buffers, the move took the next
		 * generation of the same slot (the handle scheme of
		 * ownbuf_engine.c).
		 */
		h->val = orig.val + BIT_ULL(20);
		if (ownbuf_stat(*h, &st))
			KUNIT_FAIL(test, "buffer %llu orphaned until rmmod",
				   st0.id);
	}
	KUNIT_EXPECT_EQ_MSG(test, stat, 0,
			    "move(&h, &h) returned %d and left no owner", ret);
	KUNIT_EXPECT_EQ(test, st.id, st0.id);
	if (ret)
		KUNIT_EXPECT_EQ(test, h->val, orig.val);
}

static void ownbuf_test_ids_and_stat(struct kunit *test)
{
	struct ownbuf_handle *a = ob_create(test, OB_SIZE);
	struct ownbuf_handle *b = ob_create(test, OB_BIG);
	struct ownbuf_handle *a2 = ob_handle(test);
	struct ownbuf_ref *r1 = ob_ref(test), *r2 = ob_ref(test);
	struct ownbuf_stat sa = ob_stat(test, *a), sb = ob_stat(test, *b);
	struct ownbuf_stat st;
	struct ob_counts before;

	KUNIT_EXPECT_NE(test, sa.id, sb.id);
	KUNIT_EXPECT_EQ(test, sb.size, OB_BIG);

	ob_snap(&before);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*a, r1), 0);
	KUNIT_ASSERT_EQ(test, ownbuf_ref_stat(r1, &st), 0);
	KUNIT_EXPECT_EQ(test, st.id, sa.id);
	KUNIT_EXPECT_EQ(test, st.size, OB_SIZE);
	KUNIT_EXPECT_EQ(test, st.shared_borrows, 1);
	KUNIT_EXPECT_EQ(test, st.mut_borrows, 0);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*a, r2), 0);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *a).shared_borrows, 2);
	KUNIT_EXPECT_EQ(test, ownbuf_release(r1), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_release(r2), 0);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *a).shared_borrows, 0);

	KUNIT_ASSERT_EQ(test, ownbuf_borrow_mut(*a, r1), 0);
	st = ob_stat(test, *a);
	KUNIT_EXPECT_EQ(test, st.mut_borrows, 1);
	KUNIT_EXPECT_EQ(test, st.shared_borrows, 0);
	KUNIT_EXPECT_EQ(test, ownbuf_release(r1), 0);

	/* The id survives a move; the other buffer is untouched. */
	KUNIT_ASSERT_EQ(test, ownbuf_move(a, a2), 0);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *a2).id, sa.id);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*a2, r2), 0);
	KUNIT_ASSERT_EQ(test, ownbuf_ref_stat(r2, &st), 0);
	KUNIT_EXPECT_EQ(test, st.id, sa.id);
	KUNIT_EXPECT_EQ(test, ownbuf_release(r2), 0);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *b).id, sb.id);
	OB_EXPECT_NONE(test, &before);
}

/* --- rule 2: many readers XOR one writer --- */

static void ownbuf_test_many_shared(struct kunit *test)
{
	const unsigned int n = 16;
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_ref *refs = ob_refs(test, n), *mut = ob_ref(test);
	struct ob_counts before;
	u8 byte = 0;
	unsigned int i;

	ob_fill(test, *h, OB_BYTE);
	ob_snap(&before);
	for (i = 0; i < n; i++)
		KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, &refs[i]), 0);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).shared_borrows, n);
	for (i = 0; i < n; i++)
		OB_EXPECT_REF_BYTES(test, &refs[i], 0, OB_SIZE, OB_BYTE);
	/* The owner may read while shared borrows are out, not write. */
	OB_EXPECT_OWNER_BYTES(test, *h, 0, OB_SIZE, OB_BYTE);
	OB_EXPECT_NONE(test, &before);
	KUNIT_EXPECT_EQ(test, ownbuf_owner_write(*h, 0, &byte, 1), -EBUSY);
	KUNIT_EXPECT_EQ(test, ownbuf_borrow_mut(*h, mut), -EBUSY);
	OB_EXPECT_DELTAS(test, &before, 0, 0, 2, 0, 0, 0);
	OB_EXPECT_OWNER_BYTES(test, *h, 0, OB_SIZE, OB_BYTE);

	for (i = 0; i < n; i++)
		KUNIT_EXPECT_EQ(test, ownbuf_release(&refs[i]), 0);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).shared_borrows, 0);
	KUNIT_EXPECT_EQ(test, ownbuf_borrow_mut(*h, mut), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_release(mut), 0);
	OB_EXPECT_DELTAS(test, &before, 0, 0, 2, 0, 0, 0);
}

static void ownbuf_test_mut_is_exclusive(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_ref *mut = ob_ref(test), *other = ob_ref(test);
	u8 *data = ob_scratch(test, OB_SIZE);
	struct ob_counts before;

	ob_fill(test, *h, OB_BYTE);
	ob_snap(&before);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_mut(*h, mut), 0);
	memset(data, 0x77, OB_SIZE);
	KUNIT_EXPECT_EQ(test, ownbuf_write(mut, 0, data, OB_SIZE), 0);
	OB_EXPECT_REF_BYTES(test, mut, 0, OB_SIZE, 0x77);
	OB_EXPECT_NONE(test, &before);

	memset(data, 0xee, OB_SIZE);
	KUNIT_EXPECT_EQ(test, ownbuf_owner_read(*h, 0, data, OB_SIZE), -EBUSY);
	OB_EXPECT_BYTES(test, data, OB_SIZE, 0xee);
	KUNIT_EXPECT_EQ(test, ownbuf_owner_write(*h, 0, data, OB_SIZE), -EBUSY);
	KUNIT_EXPECT_EQ(test, ownbuf_borrow_shared(*h, other), -EBUSY);
	KUNIT_EXPECT_EQ(test, ownbuf_borrow_mut(*h, other), -EBUSY);
	KUNIT_EXPECT_EQ(test, ownbuf_ref_state(other), 0);
	OB_EXPECT_DELTAS(test, &before, 0, 0, 4, 0, 0, 0);
	OB_EXPECT_REF_BYTES(test, mut, 0, OB_SIZE, 0x77);

	KUNIT_EXPECT_EQ(test, ownbuf_release(mut), 0);
	OB_EXPECT_OWNER_BYTES(test, *h, 0, OB_SIZE, 0x77);
	OB_EXPECT_DELTAS(test, &before, 0, 0, 4, 0, 0, 0);
}

/* --- borrow tokens --- */

static void ownbuf_test_ref_state(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_handle *h2 = ob_create(test, OB_SIZE);
	struct ownbuf_ref *ref = ob_ref(test);
	struct ob_counts before;

	ob_snap(&before);
	KUNIT_EXPECT_EQ(test, ownbuf_ref_state(NULL), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_ref_state(ref), 0);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, ref), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_ref_state(ref), OWNBUF_STATE_LIVE);
	KUNIT_EXPECT_EQ(test, ownbuf_release(ref), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_ref_state(ref), OWNBUF_STATE_RELEASED);
	OB_EXPECT_NONE(test, &before);

	/* A released token can be used again, for any buffer. */
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_mut(*h2, ref), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_ref_state(ref), OWNBUF_STATE_LIVE);
	KUNIT_EXPECT_EQ(test, ownbuf_revoke(h2), 1);
	KUNIT_EXPECT_EQ(test, ownbuf_ref_state(ref), OWNBUF_STATE_REVOKED);
	OB_EXPECT_DELTAS(test, &before, 0, 0, 0, 0, 0, 1);

	/* Releasing a revoked borrow fails, but frees the token. */
	KUNIT_EXPECT_EQ(test, ownbuf_release(ref), -ESTALE);
	KUNIT_EXPECT_EQ(test, ownbuf_ref_state(ref), OWNBUF_STATE_REVOKED);
	OB_EXPECT_DELTAS(test, &before, 1, 0, 0, 0, 0, 1);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, ref), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_ref_state(ref), OWNBUF_STATE_LIVE);
	KUNIT_EXPECT_EQ(test, ownbuf_release(ref), 0);
	OB_EXPECT_DELTAS(test, &before, 1, 0, 0, 0, 0, 1);
}

/* A token copied by value is refused; the original is unaffected. */
static void ownbuf_test_copied_token(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_ref *ref = ob_ref(test);
	struct ownbuf_ref *copy = kunit_kzalloc(test, sizeof(*copy),
						GFP_KERNEL);
	u8 *data = ob_scratch(test, OB_SIZE);
	struct ob_counts before;
	size_t len;
	void *p;

	KUNIT_ASSERT_NOT_NULL(test, copy);
	ob_fill(test, *h, OB_BYTE);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_mut(*h, ref), 0);
	memcpy(copy, ref, sizeof(*ref));

	ob_snap(&before);
	KUNIT_EXPECT_EQ(test, ownbuf_read(copy, 0, data, OB_SIZE), -ESTALE);
	OB_EXPECT_BYTES(test, data, OB_SIZE, 0);
	KUNIT_EXPECT_EQ(test, ownbuf_write(copy, 0, data, OB_SIZE), -ESTALE);
	p = ownbuf_unsafe_begin(copy, &len);
	KUNIT_EXPECT_EQ(test, PTR_ERR_OR_ZERO(p), -ESTALE);
	KUNIT_EXPECT_EQ(test, ownbuf_release(copy), -ESTALE);
	KUNIT_EXPECT_EQ(test, ownbuf_ref_state(copy), 0);
	OB_EXPECT_DELTAS(test, &before, 4, 0, 0, 0, 0, 0);

	/* The original still holds the mut borrow, contents intact. */
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).mut_borrows, 1);
	OB_EXPECT_REF_BYTES(test, ref, 0, OB_SIZE, OB_BYTE);
	KUNIT_EXPECT_EQ(test, ownbuf_release(ref), 0);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).mut_borrows, 0);
	OB_EXPECT_DELTAS(test, &before, 4, 0, 0, 0, 0, 0);
}

/* ownbuf_ref_discard() ends whatever there is, silently. */
static void ownbuf_test_discard_is_silent(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_handle *h2 = ob_create(test, OB_SIZE);
	struct ownbuf_ref *ref = ob_ref(test), *r2 = ob_ref(test);
	struct ob_counts before;

	ob_snap(&before);
	ownbuf_ref_discard(NULL);
	ownbuf_ref_discard(ref);
	KUNIT_EXPECT_EQ(test, ownbuf_ref_state(ref), 0);

	KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, ref), 0);
	ownbuf_ref_discard(ref);
	KUNIT_EXPECT_EQ(test, ownbuf_ref_state(ref), OWNBUF_STATE_RELEASED);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).shared_borrows, 0);
	ownbuf_ref_discard(ref);
	OB_EXPECT_NONE(test, &before);

	/* A revoked borrow: the revocation counts, the discard does not. */
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_mut(*h2, r2), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_revoke(h2), 1);
	ownbuf_ref_discard(r2);
	ownbuf_ref_discard(r2);
	OB_EXPECT_DELTAS(test, &before, 0, 0, 0, 0, 0, 1);
	/* Both tokens are free again. */
	KUNIT_EXPECT_EQ(test, ownbuf_borrow_mut(*h, r2), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_release(r2), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_borrow_mut(*h, ref), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_release(ref), 0);
	OB_EXPECT_DELTAS(test, &before, 0, 0, 0, 0, 0, 1);
}

/* --- bounds --- */

static void ownbuf_test_bounds_exact_fit(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_BIG);
	struct ownbuf_ref *ref = ob_ref(test);
	u8 *data = ob_scratch(test, OB_BIG);
	struct ob_counts before;

	ob_snap(&before);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_mut(*h, ref), 0);
	memset(data, 0x11, OB_BIG);
	KUNIT_EXPECT_EQ(test, ownbuf_write(ref, 0, data, OB_BIG), 0);
	data[0] = 0x22;
	KUNIT_EXPECT_EQ(test, ownbuf_write(ref, OB_BIG - 1, data, 1), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_read(ref, OB_BIG - 1, data + 1, 1), 0);
	KUNIT_EXPECT_EQ(test, data[1], 0x22);
	KUNIT_EXPECT_EQ(test, ownbuf_write(ref, OB_BIG, data, 0), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_write(ref, SIZE_MAX, NULL, 0), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_read(ref, OB_BIG + 1, NULL, 0), 0);
	OB_EXPECT_REF_BYTES(test, ref, 0, OB_BIG - 1, 0x11);
	KUNIT_EXPECT_EQ(test, ownbuf_release(ref), 0);

	KUNIT_EXPECT_EQ(test, ownbuf_owner_write(*h, PAGE_SIZE - 1, data, 2), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_owner_read(*h, 0, data, OB_BIG), 0);
	KUNIT_EXPECT_EQ(test, data[PAGE_SIZE - 1], 0x22);
	KUNIT_EXPECT_EQ(test, data[PAGE_SIZE], 0x22);
	KUNIT_EXPECT_EQ(test, data[OB_BIG - 1], 0x22);
	KUNIT_EXPECT_EQ(test, ownbuf_owner_read(*h, SIZE_MAX, NULL, 0), 0);
	OB_EXPECT_NONE(test, &before);
}

/* Refused out-of-bounds accesses copy nothing, in either direction. */
static void ownbuf_test_bounds_refusal_changes_nothing(struct kunit *test)
{
	static const struct {
		size_t off, len;
	} cases[] = {
		{ OB_SIZE, 1 }, { OB_SIZE - 1, 2 }, { 0, OB_SIZE + 1 },
		{ SIZE_MAX, 1 }, { 1, SIZE_MAX }, { OB_SIZE / 2, SIZE_MAX },
		{ (size_t)LLONG_MAX + 1, 1 }, { 16, SIZE_MAX - 15 },
	};
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_ref *ref = ob_ref(test);
	u8 *src = ob_scratch(test, 2 * OB_SIZE);
	u8 *dst = ob_scratch(test, 2 * OB_SIZE);
	const unsigned int n = ARRAY_SIZE(cases);
	struct ob_counts before;
	unsigned int i;

	ob_fill(test, *h, OB_BYTE);
	memset(src, 0xee, 2 * OB_SIZE);
	memset(dst, 0xdd, 2 * OB_SIZE);
	ob_snap(&before);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_mut(*h, ref), 0);
	for (i = 0; i < n; i++) {
		KUNIT_EXPECT_EQ_MSG(test, ownbuf_write(ref, cases[i].off, src,
						       cases[i].len),
				    -ERANGE, "case %u", i);
		KUNIT_EXPECT_EQ_MSG(test, ownbuf_read(ref, cases[i].off, dst,
						      cases[i].len),
				    -ERANGE, "case %u", i);
	}
	OB_EXPECT_DELTAS(test, &before, 0, 0, 0, 0, 2 * n, 0);
	OB_EXPECT_BYTES(test, dst, 2 * OB_SIZE, 0xdd);
	OB_EXPECT_REF_BYTES(test, ref, 0, OB_SIZE, OB_BYTE);
	KUNIT_EXPECT_EQ(test, ownbuf_release(ref), 0);

	for (i = 0; i < n; i++) {
		KUNIT_EXPECT_EQ_MSG(test, ownbuf_owner_write(*h, cases[i].off,
							     src, cases[i].len),
				    -ERANGE, "case %u", i);
		KUNIT_EXPECT_EQ_MSG(test, ownbuf_owner_read(*h, cases[i].off,
							    dst, cases[i].len),
				    -ERANGE, "case %u", i);
	}
	OB_EXPECT_DELTAS(test, &before, 0, 0, 0, 0, 4 * n, 0);
	OB_EXPECT_BYTES(test, dst, 2 * OB_SIZE, 0xdd);
	OB_EXPECT_OWNER_BYTES(test, *h, 0, OB_SIZE, OB_BYTE);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).size, OB_SIZE);
}

/* --- resizing --- */

static void ownbuf_test_resize_keeps_contents(struct kunit *test)
{
	static const size_t sizes[] = {
		5000, OB_BIG, 3 * PAGE_SIZE, PAGE_SIZE, 10, PAGE_SIZE - 1,
		2 * PAGE_SIZE + 1, 1,
	};
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ob_counts before;
	size_t i, kept = OB_SIZE, size;

	ob_fill(test, *h, OB_BYTE);
	ob_snap(&before);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		size = sizes[i];
		KUNIT_ASSERT_EQ(test, ownbuf_resize(*h, size), 0);
		KUNIT_EXPECT_EQ(test, ob_stat(test, *h).size, size);
		kept = min(kept, size);
		/* The prefix survives; everything new reads as zero. */
		OB_EXPECT_OWNER_BYTES(test, *h, 0, kept, OB_BYTE);
		if (size > kept)
			OB_EXPECT_OWNER_BYTES(test, *h, kept, size - kept, 0);
	}
	OB_EXPECT_NONE(test, &before);
}

/* Bytes cut off by a shrink read as zero when the buffer grows back. */
static void ownbuf_test_resize_tail_zero(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, PAGE_SIZE);
	struct ownbuf_handle *v = ob_create(test, 2 * PAGE_SIZE + 100);
	struct ownbuf_ref *ref = ob_ref(test);
	struct ob_counts before;

	ob_fill(test, *h, 0xff);
	ob_fill(test, *v, 0xff);
	ob_snap(&before);
	KUNIT_ASSERT_EQ(test, ownbuf_resize(*h, OB_SIZE), 0);
	KUNIT_ASSERT_EQ(test, ownbuf_resize(*h, PAGE_SIZE), 0);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, ref), 0);
	OB_EXPECT_REF_BYTES(test, ref, 0, OB_SIZE, 0xff);
	OB_EXPECT_REF_BYTES(test, ref, OB_SIZE, PAGE_SIZE - OB_SIZE, 0);
	KUNIT_EXPECT_EQ(test, ownbuf_release(ref), 0);

	/* The same within the last page of a larger buffer. */
	KUNIT_ASSERT_EQ(test, ownbuf_resize(*v, 2 * PAGE_SIZE + 10), 0);
	KUNIT_ASSERT_EQ(test, ownbuf_resize(*v, 3 * PAGE_SIZE), 0);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*v, ref), 0);
	OB_EXPECT_REF_BYTES(test, ref, 0, 2 * PAGE_SIZE + 10, 0xff);
	OB_EXPECT_REF_BYTES(test, ref, 2 * PAGE_SIZE + 10, PAGE_SIZE - 10, 0);
	KUNIT_EXPECT_EQ(test, ownbuf_release(ref), 0);
	OB_EXPECT_NONE(test, &before);
}

struct ob_map {
	struct ownbuf_ref ref;
	u8 *page;	/* the "mapping": the buffer's first page */
	bool dirty;	/* ->revoke ran with the tail still dirty */
};

static void ob_map_revoke(struct ownbuf_ref *ref)
{
	struct ob_map *m = container_of(ref, struct ob_map, ref);

	/* A mapping is torn down here: this is its last chance to write. */
	m->dirty = m->page && m->page[PAGE_SIZE - 1] == 0xee;
}

static const struct ownbuf_ref_ops ob_map_ops = {
	.revoke = ob_map_revoke,
};

/*
 * What a mut mapping writes past the size in the last page is discarded
 * when its borrow ends: a later borrow never sees it.  A borrow with
 * ->revoke plays /dev/ownbuf's mapping, which writes there through the
 * page (the unsafe length stops at the size; the page does not).
 */
static void ownbuf_test_mut_tail_discarded(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ob_map *m = kunit_kzalloc(test, sizeof(*m), GFP_KERNEL);
	struct ownbuf_ref *ref = ob_ref(test);
	struct ob_counts before;
	int i, ret;
	size_t len;

	KUNIT_ASSERT_NOT_NULL(test, m);
	KUNIT_ASSERT_EQ(test,
			kunit_add_action_or_reset(test, ob_ref_cleanup, &m->ref),
			0);
	ob_fill(test, *h, OB_BYTE);
	ob_snap(&before);
	/* Released once, discarded once: both end the borrow. */
	for (i = 0; i < 2; i++) {
		KUNIT_ASSERT_EQ(test, ownbuf_borrow_ops(*h, OWNBUF_MUT,
							&ob_map_ops, &m->ref),
				0);
		m->page = ob_unsafe_begin(test, &m->ref, &len);
		KUNIT_ASSERT_EQ(test, len, OB_SIZE);
		KUNIT_ASSERT_EQ(test, offset_in_page(m->page), 0);
		memset(m->page + OB_SIZE, 0xee, PAGE_SIZE - OB_SIZE);
		ob_unsafe_end(test, &m->ref);
		if (i) {
			ownbuf_ref_discard(&m->ref);
		} else {
			ret = ownbuf_release(&m->ref);
			KUNIT_EXPECT_EQ(test, ret, 0);
		}
		KUNIT_EXPECT_TRUE(test, m->dirty);
		m->page = NULL;

		KUNIT_ASSERT_EQ(test, ownbuf_resize(*h, PAGE_SIZE), 0);
		KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, ref), 0);
		OB_EXPECT_REF_BYTES(test, ref, 0, OB_SIZE, OB_BYTE);
		OB_EXPECT_REF_BYTES(test, ref, OB_SIZE, PAGE_SIZE - OB_SIZE, 0);
		KUNIT_EXPECT_EQ(test, ownbuf_release(ref), 0);
		KUNIT_ASSERT_EQ(test, ownbuf_resize(*h, OB_SIZE), 0);
	}
	OB_EXPECT_NONE(test, &before);
}

/* --- the escape hatch --- */

static void ownbuf_test_unsafe_view(struct kunit *test)
{
	static const size_t sizes[] = { 1, OB_SIZE, PAGE_SIZE, OB_BIG };
	struct ownbuf_ref *ref = ob_ref(test);
	struct ob_counts before;
	struct ownbuf_handle *h;
	size_t i, len;
	u8 *p, *q;

	ob_snap(&before);
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		h = ob_create(test, sizes[i]);
		ob_fill(test, *h, OB_BYTE);

		/* Shared: the right bytes, the right length. */
		KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, ref), 0);
		len = 0;
		p = ob_unsafe_begin(test, ref, &len);
		KUNIT_EXPECT_EQ(test, len, sizes[i]);
		OB_EXPECT_BYTES(test, p, len, OB_BYTE);
		ob_unsafe_end(test, ref);
		KUNIT_EXPECT_EQ(test, ownbuf_release(ref), 0);

		/* Mut: what is written through the pointer is the buffer. */
		KUNIT_ASSERT_EQ(test, ownbuf_borrow_mut(*h, ref), 0);
		p = ob_unsafe_begin(test, ref, &len);
		KUNIT_EXPECT_EQ(test, len, sizes[i]);
		memset(p, 0x3c, len);
		q = ob_unsafe_begin(test, ref, &len);
		KUNIT_EXPECT_PTR_EQ(test, q, p);
		ob_unsafe_end(test, ref);
		ob_unsafe_end(test, ref);
		KUNIT_EXPECT_EQ(test, ownbuf_release(ref), 0);
		OB_EXPECT_OWNER_BYTES(test, *h, 0, sizes[i], 0x3c);
		KUNIT_EXPECT_EQ(test, ownbuf_drop(h), 0);
	}
	OB_EXPECT_NONE(test, &before);
}

static void ownbuf_test_unsafe_nesting(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_ref *ref = ob_ref(test);
	struct ownbuf_stat st;
	struct ob_counts before;
	size_t len;

	KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, ref), 0);
	ob_snap(&before);
	ob_unsafe_begin(test, ref, &len);
	ob_unsafe_begin(test, ref, &len);
	/* Inside a section: the borrow cannot end, but can be used. */
	KUNIT_EXPECT_EQ(test, ownbuf_release(ref), -EBUSY);
	KUNIT_EXPECT_EQ(test, ownbuf_ref_state(ref), OWNBUF_STATE_LIVE);
	KUNIT_EXPECT_EQ(test, ownbuf_ref_stat(ref, &st), 0);
	OB_EXPECT_REF_BYTES(test, ref, 0, OB_SIZE, 0);
	OB_EXPECT_DELTAS(test, &before, 0, 0, 1, 0, 0, 0);
	ob_unsafe_end(test, ref);
	KUNIT_EXPECT_EQ(test, ownbuf_release(ref), -EBUSY);
	OB_EXPECT_DELTAS(test, &before, 0, 0, 2, 0, 0, 0);
	ob_unsafe_end(test, ref);
	/* Ending a section that is not open is a double free. */
	ownbuf_unsafe_end(ref);
	OB_EXPECT_DELTAS(test, &before, 0, 1, 2, 0, 0, 0);
	KUNIT_EXPECT_EQ(test, ownbuf_release(ref), 0);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).shared_borrows, 0);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(h), 0);
	OB_EXPECT_DELTAS(test, &before, 0, 1, 2, 0, 0, 0);
}

/* --- rule 3: revocation --- */

/* Revoking a lent-out buffer ends every borrow; each later use is stale. */
static void ownbuf_test_revoke_lent(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_handle *h2 = ob_create(test, OB_SIZE);
	struct ownbuf_ref *refs = ob_refs(test, 3);
	struct ownbuf_stat st;
	struct ob_counts before;
	u8 byte = 0xdd;
	size_t len;
	int i;

	for (i = 0; i < 3; i++)
		KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, &refs[i]), 0);
	ob_snap(&before);
	KUNIT_EXPECT_EQ(test, ownbuf_revoke(h), 3);
	OB_EXPECT_DELTAS(test, &before, 0, 0, 0, 0, 0, 3);

	for (i = 0; i < 3; i++) {
		KUNIT_EXPECT_EQ(test, ownbuf_ref_state(&refs[i]),
				OWNBUF_STATE_REVOKED);
		KUNIT_EXPECT_EQ(test, ownbuf_read(&refs[i], 0, &byte, 1),
				-ESTALE);
	}
	KUNIT_EXPECT_EQ(test, byte, 0xdd);
	KUNIT_EXPECT_EQ(test, ob_unsafe_try(&refs[0], &len), -ESTALE);
	KUNIT_EXPECT_EQ(test, ownbuf_ref_stat(&refs[1], &st), -ESTALE);
	OB_EXPECT_DELTAS(test, &before, 5, 0, 0, 0, 0, 3);
	for (i = 0; i < 3; i++)
		KUNIT_EXPECT_EQ(test, ownbuf_release(&refs[i]), -ESTALE);
	KUNIT_EXPECT_EQ(test, ownbuf_release(&refs[0]), -ESTALE);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(h), -ESTALE);
	OB_EXPECT_DELTAS(test, &before, 9, 1, 0, 0, 0, 3);

	/* Released, the tokens serve again. */
	KUNIT_EXPECT_EQ(test, ownbuf_borrow_shared(*h2, &refs[0]), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_release(&refs[0]), 0);
	OB_EXPECT_DELTAS(test, &before, 9, 1, 0, 0, 0, 3);
}

/*
 * The suites, each selectable by kunit.py's filter glob ("ownbuf_race.*"):
 * "ownbuf" the rules through the API (one owner, borrows, bounds,
 * revocation), "ownbuf_misuse" forged and misused handles and tokens,
 * "ownbuf_limits" callbacks, waits and limits, "ownbuf_faults" allocation
 * failures, "ownbuf_race" threads racing on two CPUs (and the generations
 * running out, last); "ownbuf_windows"
 * (ownbuf_kunit_windows.c) races opened on purpose.  Every test checks that
 * it left no buffer behind (ownbuf_test_init()).
 */
static struct kunit_case ownbuf_test_cases[] = {
	KUNIT_CASE(ownbuf_test_warning_names_caller),
	KUNIT_CASE(ownbuf_test_violation_names),
	KUNIT_CASE(ownbuf_test_create_zeroed),
	KUNIT_CASE(ownbuf_test_drop_poisons_handle),
	KUNIT_CASE(ownbuf_test_move_stales_copies),
	KUNIT_CASE(ownbuf_test_move_to_itself),
	KUNIT_CASE(ownbuf_test_ids_and_stat),
	KUNIT_CASE(ownbuf_test_many_shared),
	KUNIT_CASE(ownbuf_test_mut_is_exclusive),
	KUNIT_CASE(ownbuf_test_ref_state),
	KUNIT_CASE(ownbuf_test_copied_token),
	KUNIT_CASE(ownbuf_test_discard_is_silent),
	KUNIT_CASE(ownbuf_test_bounds_exact_fit),
	KUNIT_CASE(ownbuf_test_bounds_refusal_changes_nothing),
	KUNIT_CASE(ownbuf_test_resize_keeps_contents),
	KUNIT_CASE(ownbuf_test_resize_tail_zero),
	KUNIT_CASE(ownbuf_test_mut_tail_discarded),
	KUNIT_CASE(ownbuf_test_unsafe_view),
	KUNIT_CASE(ownbuf_test_unsafe_nesting),
	KUNIT_CASE(ownbuf_test_revoke_lent),
	KUNIT_CASE(ownbuf_test_revoked_frees_slot),
	KUNIT_CASE(ownbuf_test_tracepoint),
	KUNIT_CASE_PARAM(ownbuf_test_scope_exits, ob_scope_params),
	KUNIT_CASE(ownbuf_test_scope_classes),
	KUNIT_CASE(ownbuf_test_scope_released_early),
	KUNIT_CASE(ownbuf_test_scope_refused),
	KUNIT_CASE(ownbuf_test_scoped_exits),
	KUNIT_CASE(ownbuf_test_scope_wait),
	KUNIT_CASE(ownbuf_test_scope_owner),
	KUNIT_CASE(ownbuf_test_scope_lockdep),
	{}
};

static struct kunit_case ownbuf_misuse_cases[] = {
	KUNIT_CASE_PARAM(ownbuf_test_misuse, ob_misuse_params),
	KUNIT_CASE(ownbuf_test_forged_random_handles),
	KUNIT_CASE(ownbuf_test_forged_bitflip_handles),
	KUNIT_CASE(ownbuf_test_forged_poison),
	KUNIT_CASE(ownbuf_test_garbage_tokens),
	KUNIT_CASE_PARAM(ownbuf_test_token_replay, ob_replay_params),
	{}
};

static struct kunit_case ownbuf_limits_cases[] = {
	KUNIT_CASE(ownbuf_test_callback_on_release),
	KUNIT_CASE(ownbuf_test_callback_on_discard),
	KUNIT_CASE(ownbuf_test_callback_on_revoke),
	KUNIT_CASE(ownbuf_test_callback_borrow_after_revoke),
	KUNIT_CASE(ownbuf_test_release_during_release),
	KUNIT_CASE(ownbuf_test_wait_wakes_on_release),
	KUNIT_CASE(ownbuf_test_wait_mut_for_all_shared),
	KUNIT_CASE(ownbuf_test_wait_interrupted),
	KUNIT_CASE(ownbuf_test_wait_revoked),
	KUNIT_CASE(ownbuf_test_max_shared),
	KUNIT_CASE(ownbuf_test_max_shared_lowered),
	KUNIT_CASE(ownbuf_test_max_size),
	KUNIT_CASE(ownbuf_test_max_size_lowered),
	{}
};

static struct kunit_case ownbuf_faults_cases[] = {
	KUNIT_CASE(ownbuf_test_fail_alloc_core),
	KUNIT_CASE(ownbuf_test_fail_alloc_data),
	KUNIT_CASE_PARAM(ownbuf_test_fail_table_insert, ob_insert_params),
	KUNIT_CASE(ownbuf_test_fail_resize),
	{}
};

static struct kunit_case ownbuf_race_cases[] = {
	KUNIT_CASE(ownbuf_test_atomic_context),
	KUNIT_CASE_SLOW(ownbuf_test_race_borrows),
	KUNIT_CASE_SLOW(ownbuf_test_race_ownership),
	KUNIT_CASE_SLOW(ownbuf_test_race_revoke_churn),
	KUNIT_CASE_PARAM(ownbuf_test_access_in_flight, ob_inside_params),
	KUNIT_CASE_PARAM_ATTR(ownbuf_test_excl_while_accessed,
			      ob_excl_params, { .speed = KUNIT_SPEED_SLOW }),
	KUNIT_CASE_SLOW(ownbuf_test_aba),
	KUNIT_CASE(ownbuf_test_max_shared_across_cpus),
	/*
	 * Last of the suites of this file: it spends every generation of
	 * every table slot for as long as ownbuf is loaded, and a slot is
	 * then retired after one use (ownbuf_test_aba needs reuse).
	 */
	KUNIT_CASE(ownbuf_test_generations_never_run_out),
	{}
};

static struct kunit_suite ownbuf_suite = {
	.name = "ownbuf",
	.suite_init = ownbuf_suite_init,
	.suite_exit = ownbuf_suite_exit,
	.init = ownbuf_test_init,
	.test_cases = ownbuf_test_cases,
};

static struct kunit_suite ownbuf_misuse_suite = {
	.name = "ownbuf_misuse",
	.suite_init = ownbuf_suite_init,
	.suite_exit = ownbuf_suite_exit,
	.init = ownbuf_test_init,
	.test_cases = ownbuf_misuse_cases,
};

static struct kunit_suite ownbuf_limits_suite = {
	.name = "ownbuf_limits",
	.suite_init = ownbuf_suite_init,
	.suite_exit = ownbuf_suite_exit,
	.init = ownbuf_test_init,
	.test_cases = ownbuf_limits_cases,
};

static struct kunit_suite ownbuf_faults_suite = {
	.name = "ownbuf_faults",
	.suite_init = ownbuf_suite_init,
	.suite_exit = ownbuf_suite_exit,
	.init = ownbuf_test_init,
	.test_cases = ownbuf_faults_cases,
};

static struct kunit_suite ownbuf_race_suite = {
	.name = "ownbuf_race",
	.suite_init = ownbuf_suite_init,
	.suite_exit = ownbuf_suite_exit,
	.init = ownbuf_test_init,
	.test_cases = ownbuf_race_cases,
};

kunit_test_suites(&ownbuf_suite, &ownbuf_misuse_suite, &ownbuf_limits_suite,
		  &ownbuf_faults_suite, &ownbuf_race_suite);

MODULE_DESCRIPTION("KUnit tests for the ownbuf engine");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
