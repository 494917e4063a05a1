// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite of the ownbuf engine, driven through the in-kernel API of
 * include/linux/ownbuf.h.
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
	KUNIT_EXPECT_NOT_NULL_MSG(test, strstr(line, "[ownbuf_kunit]"), "%s",
				  line);
}

static void ownbuf_test_violation_names(struct kunit *test)
{
	static const char * const names[OWNBUF_NR_VIOLATIONS] = {
		[OWNBUF_USE_AFTER_FREE] = "use_after_free",
		[OWNBUF_DOUBLE_FREE] = "double_free",
		[OWNBUF_DATA_RACE] = "data_race",
		[OWNBUF_NULL_DEREF] = "null_deref",
		[OWNBUF_OUT_OF_BOUNDS] = "out_of_bounds",
		[OWNBUF_DANGLING_BORROW] = "dangling_borrow",
	};
	int v;

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

/* --- the misuse table: one refused call, one errno, one count --- */

enum ob_setup {
	OB_S_NONE,		/* *h is the NULL handle */
	OB_S_LIVE,		/* *h owns a buffer of OB_BYTE; copy = *h */
	OB_S_DROPPED,		/* ... dropped */
	OB_S_MOVED,		/* ... moved to *h2 */
	OB_S_REVOKED,		/* ... revoked while nothing was lent */
	OB_S_SHARED,		/* *ref is a shared borrow of *h */
	OB_S_MUT,		/* *ref is the mut borrow of *h */
	OB_S_SHARED_PINNED,	/* ... inside an unsafe section */
	OB_S_MUT_PINNED,
	OB_S_RELEASED,		/* *ref was a shared borrow, released */
	OB_S_MUT_RELEASED,	/* *ref was the mut borrow, released */
	OB_S_REF_REVOKED,	/* *ref is a shared borrow; *h was revoked */
	OB_S_REF_REVOKED_RELEASED, /* ... and *ref released since */
	OB_S_COPIED_SHARED,	/* *bad is a copy of the shared borrow *ref */
	OB_S_COPIED_MUT,	/* *bad is a copy of the mut borrow *ref */
	OB_S_GARBAGE,		/* *bad is garbage; *ref a shared borrow */
	OB_S_ZEROED,		/* *bad is a zeroed token; *h live */
	OB_S_FORGED_DROPPED,	/* copy = *h with the "dropped" poison */
	OB_S_FORGED_MOVED,	/* copy = *h with the "moved" poison */
	OB_S_FORGED_LOW,	/* copy = *h with bit 0 flipped */
	OB_S_FORGED_HIGH,	/* copy = *h with bit 61 flipped */
	OB_S_FORGED_RANDOM,	/* copy = random, never poisoned, never 0 */
};

enum ob_do {
	OB_DO_DROP, OB_DO_DROP_COPY, OB_DO_DROP_NULL,
	OB_DO_REVOKE, OB_DO_REVOKE_NULL,
	OB_DO_MOVE, OB_DO_MOVE_COPY, OB_DO_MOVE_TO_NULL,
	OB_DO_RESIZE, OB_DO_RESIZE_ZERO, OB_DO_RESIZE_HUGE,
	OB_DO_SIZE, OB_DO_SIZE_NULL, OB_DO_STAT, OB_DO_STAT_NULL,
	OB_DO_OREAD, OB_DO_OREAD_COPY, OB_DO_OWRITE, OB_DO_OWRITE_COPY,
	OB_DO_OREAD_AT_END, OB_DO_OREAD_PAST_END, OB_DO_OWRITE_OFF_MAX,
	OB_DO_OWRITE_LEN_MAX, OB_DO_OREAD_WRAP, OB_DO_OREAD_NULL_DST,
	OB_DO_OREAD_EMPTY_OOB,
	OB_DO_BORROW_SHARED, OB_DO_BORROW_MUT, OB_DO_BORROW_SHARED_COPY,
	OB_DO_BORROW_MUT_COPY, OB_DO_BORROW_NULL_REF, OB_DO_BORROW_BOTH,
	OB_DO_BORROW_NO_KIND, OB_DO_BORROW_UNKNOWN_FLAG, OB_DO_BORROW_LIVE,
	OB_DO_BORROW_OPS_NO_REVOKE,
	OB_DO_RELEASE, OB_DO_RELEASE_BAD, OB_DO_RELEASE_NULL,
	OB_DO_READ, OB_DO_READ_BAD, OB_DO_READ_NULL, OB_DO_WRITE,
	OB_DO_WRITE_BAD,
	OB_DO_READ_AT_END, OB_DO_READ_PAST_END, OB_DO_WRITE_PAST_END,
	OB_DO_READ_OFF_MAX, OB_DO_READ_LEN_MAX, OB_DO_READ_WRAP,
	OB_DO_READ_NULL_DST, OB_DO_READ_EMPTY_OOB,
	OB_DO_UNSAFE, OB_DO_UNSAFE_BAD, OB_DO_UNSAFE_NULL_LEN,
	OB_DO_UNSAFE_END, OB_DO_UNSAFE_END_BAD,
	OB_DO_REF_STAT, OB_DO_REF_STAT_NULL,
	OB_DO_CREATE_NULL, OB_DO_CREATE_ZERO, OB_DO_CREATE_ATOMIC,
	OB_DO_CREATE_HUGE, OB_DO_OWRITE_NULL_SRC,
};

struct ob_misuse {
	const char *name;
	enum ob_setup setup;
	enum ob_do op;
	int err;
	int class;
};

#define UAF	OWNBUF_USE_AFTER_FREE
#define DFREE	OWNBUF_DOUBLE_FREE
#define RACE	OWNBUF_DATA_RACE
#define NULLD	OWNBUF_NULL_DEREF
#define OOB	OWNBUF_OUT_OF_BOUNDS
#define DANG	OWNBUF_DANGLING_BORROW

static const struct ob_misuse ob_misuses[] = {
	/* rule 1: a consumed handle, and copies of it */
	{ "drop_twice", OB_S_DROPPED, OB_DO_DROP, -ESTALE, DFREE },
	{ "drop_copy_of_dropped", OB_S_DROPPED, OB_DO_DROP_COPY, -ESTALE, UAF },
	{ "read_copy_of_dropped", OB_S_DROPPED, OB_DO_OREAD_COPY, -ESTALE, UAF },
	{ "borrow_after_drop", OB_S_DROPPED, OB_DO_BORROW_SHARED, -ESTALE, UAF },
	{ "size_after_drop", OB_S_DROPPED, OB_DO_SIZE, -ESTALE, UAF },
	{ "stat_after_drop", OB_S_DROPPED, OB_DO_STAT, -ESTALE, UAF },
	{ "resize_after_drop", OB_S_DROPPED, OB_DO_RESIZE, -ESTALE, UAF },
	{ "move_after_drop", OB_S_DROPPED, OB_DO_MOVE, -ESTALE, UAF },
	{ "write_after_drop", OB_S_DROPPED, OB_DO_OWRITE, -ESTALE, UAF },
	{ "revoke_after_drop", OB_S_DROPPED, OB_DO_REVOKE, -ESTALE, DFREE },
	{ "drop_after_move", OB_S_MOVED, OB_DO_DROP, -ESTALE, UAF },
	{ "drop_copy_after_move", OB_S_MOVED, OB_DO_DROP_COPY, -ESTALE, UAF },
	{ "write_copy_after_move", OB_S_MOVED, OB_DO_OWRITE_COPY, -ESTALE, UAF },
	{ "borrow_copy_after_move", OB_S_MOVED, OB_DO_BORROW_MUT_COPY, -ESTALE,
	  UAF },
	{ "move_after_move", OB_S_MOVED, OB_DO_MOVE, -ESTALE, UAF },
	{ "move_copy_after_move", OB_S_MOVED, OB_DO_MOVE_COPY, -ESTALE, UAF },
	{ "revoke_after_move", OB_S_MOVED, OB_DO_REVOKE, -ESTALE, UAF },
	{ "drop_after_revoke", OB_S_REVOKED, OB_DO_DROP, -ESTALE, DFREE },
	{ "revoke_twice", OB_S_REVOKED, OB_DO_REVOKE, -ESTALE, DFREE },
	{ "read_copy_after_revoke", OB_S_REVOKED, OB_DO_OREAD_COPY, -ESTALE,
	  UAF },
	/* NULL handles and pointers */
	{ "drop_null_handle", OB_S_NONE, OB_DO_DROP, -EINVAL, NULLD },
	{ "drop_null_pointer", OB_S_LIVE, OB_DO_DROP_NULL, -EINVAL, NULLD },
	{ "revoke_null_handle", OB_S_NONE, OB_DO_REVOKE, -EINVAL, NULLD },
	{ "revoke_null_pointer", OB_S_LIVE, OB_DO_REVOKE_NULL, -EINVAL, NULLD },
	{ "move_null_handle", OB_S_NONE, OB_DO_MOVE, -EINVAL, NULLD },
	{ "move_to_null", OB_S_LIVE, OB_DO_MOVE_TO_NULL, -EINVAL, NULLD },
	{ "borrow_null_handle", OB_S_NONE, OB_DO_BORROW_SHARED, -EINVAL, NULLD },
	{ "read_null_handle", OB_S_NONE, OB_DO_OREAD, -EINVAL, NULLD },
	{ "write_null_handle", OB_S_NONE, OB_DO_OWRITE, -EINVAL, NULLD },
	{ "size_null_handle", OB_S_NONE, OB_DO_SIZE, -EINVAL, NULLD },
	{ "stat_null_handle", OB_S_NONE, OB_DO_STAT, -EINVAL, NULLD },
	{ "resize_null_handle", OB_S_NONE, OB_DO_RESIZE, -EINVAL, NULLD },
	{ "create_null_out", OB_S_NONE, OB_DO_CREATE_NULL, -EINVAL, NULLD },
	{ "size_null_out", OB_S_LIVE, OB_DO_SIZE_NULL, -EINVAL, NULLD },
	{ "stat_null_out", OB_S_LIVE, OB_DO_STAT_NULL, -EINVAL, NULLD },
	/* forged handles */
	/* Looks dropped, but is not this variable's poisoning: never issued. */
	{ "forged_dropped_drop", OB_S_FORGED_DROPPED, OB_DO_DROP_COPY, -ESTALE,
	  UAF },
	{ "forged_dropped_read", OB_S_FORGED_DROPPED, OB_DO_OREAD_COPY, -ESTALE,
	  UAF },
	{ "forged_moved_drop", OB_S_FORGED_MOVED, OB_DO_DROP_COPY, -ESTALE,
	  UAF },
	{ "forged_low_bit_write", OB_S_FORGED_LOW, OB_DO_OWRITE_COPY, -ESTALE,
	  UAF },
	{ "forged_high_bit_drop", OB_S_FORGED_HIGH, OB_DO_DROP_COPY, -ESTALE,
	  UAF },
	{ "forged_random_borrow", OB_S_FORGED_RANDOM, OB_DO_BORROW_SHARED_COPY,
	  -ESTALE, UAF },
	/*
	 * One order of checks for every entry point: a NULL or dead subject
	 * first, then NULL pointers, invalid arguments, conflicts, the cap,
	 * the bounds.
	 */
	{ "borrow_no_kind_after_drop", OB_S_DROPPED, OB_DO_BORROW_NO_KIND,
	  -ESTALE, UAF },
	{ "borrow_null_ref_after_drop", OB_S_DROPPED, OB_DO_BORROW_NULL_REF,
	  -ESTALE, UAF },
	{ "borrow_ops_no_revoke_after_drop", OB_S_DROPPED,
	  OB_DO_BORROW_OPS_NO_REVOKE, -ESTALE, UAF },
	{ "move_to_null_after_drop", OB_S_DROPPED, OB_DO_MOVE_TO_NULL, -ESTALE,
	  UAF },
	{ "size_null_out_after_drop", OB_S_DROPPED, OB_DO_SIZE_NULL, -ESTALE,
	  UAF },
	{ "stat_null_out_after_drop", OB_S_DROPPED, OB_DO_STAT_NULL, -ESTALE,
	  UAF },
	{ "resize_zero_after_drop", OB_S_DROPPED, OB_DO_RESIZE_ZERO, -ESTALE,
	  UAF },
	{ "resize_huge_after_move", OB_S_MOVED, OB_DO_RESIZE_HUGE, -ESTALE,
	  UAF },
	{ "owner_read_null_dst_after_drop", OB_S_DROPPED, OB_DO_OREAD_NULL_DST,
	  -ESTALE, UAF },
	{ "ref_stat_null_out_after_release", OB_S_RELEASED,
	  OB_DO_REF_STAT_NULL, -ESTALE, UAF },
	{ "unsafe_null_len_after_revoke", OB_S_REF_REVOKED,
	  OB_DO_UNSAFE_NULL_LEN, -ESTALE, UAF },
	{ "read_null_dst_after_release", OB_S_RELEASED, OB_DO_READ_NULL_DST,
	  -ESTALE, UAF },
	{ "write_through_released_shared", OB_S_RELEASED, OB_DO_WRITE, -EPERM,
	  OB_NONE },
	{ "resize_huge_while_shared", OB_S_SHARED, OB_DO_RESIZE_HUGE, -EFBIG,
	  OB_NONE },
	{ "resize_zero_while_mut", OB_S_MUT, OB_DO_RESIZE_ZERO, -EINVAL,
	  OB_NONE },
	{ "borrow_no_kind_while_mut", OB_S_MUT, OB_DO_BORROW_NO_KIND, -EINVAL,
	  OB_NONE },
	{ "owner_read_past_end_while_mut", OB_S_MUT, OB_DO_OREAD_PAST_END,
	  -EBUSY, RACE },
	{ "owner_write_null_while_shared", OB_S_SHARED, OB_DO_OWRITE_NULL_SRC,
	  -EINVAL, NULLD },
	/* rule 2: conflicts */
	{ "shared_while_mut", OB_S_MUT, OB_DO_BORROW_SHARED, -EBUSY, RACE },
	{ "mut_while_mut", OB_S_MUT, OB_DO_BORROW_MUT, -EBUSY, RACE },
	{ "mut_while_shared", OB_S_SHARED, OB_DO_BORROW_MUT, -EBUSY, RACE },
	{ "mut_while_pinned", OB_S_SHARED_PINNED, OB_DO_BORROW_MUT, -EBUSY,
	  RACE },
	{ "owner_read_while_mut", OB_S_MUT, OB_DO_OREAD, -EBUSY, RACE },
	{ "owner_write_while_shared", OB_S_SHARED, OB_DO_OWRITE, -EBUSY, RACE },
	{ "owner_write_while_mut", OB_S_MUT, OB_DO_OWRITE, -EBUSY, RACE },
	{ "release_in_unsafe", OB_S_SHARED_PINNED, OB_DO_RELEASE, -EBUSY, RACE },
	{ "release_mut_in_unsafe", OB_S_MUT_PINNED, OB_DO_RELEASE, -EBUSY,
	  RACE },
	/* rule 3: nothing that is lent out goes away */
	{ "drop_while_shared", OB_S_SHARED, OB_DO_DROP, -EBUSY, DANG },
	{ "drop_while_mut", OB_S_MUT, OB_DO_DROP, -EBUSY, DANG },
	{ "move_while_shared", OB_S_SHARED, OB_DO_MOVE, -EBUSY, DANG },
	{ "move_while_mut", OB_S_MUT, OB_DO_MOVE, -EBUSY, DANG },
	{ "resize_while_shared", OB_S_SHARED, OB_DO_RESIZE, -EBUSY, DANG },
	{ "resize_while_mut", OB_S_MUT, OB_DO_RESIZE, -EBUSY, DANG },
	{ "drop_while_lent_and_pinned", OB_S_SHARED_PINNED, OB_DO_DROP, -EBUSY,
	  DANG },
	{ "move_while_lent_and_pinned", OB_S_MUT_PINNED, OB_DO_MOVE, -EBUSY,
	  DANG },
	{ "resize_while_lent_and_pinned", OB_S_SHARED_PINNED, OB_DO_RESIZE,
	  -EBUSY, DANG },
	/* borrow tokens */
	{ "release_twice", OB_S_RELEASED, OB_DO_RELEASE, -ESTALE, DFREE },
	{ "release_mut_twice", OB_S_MUT_RELEASED, OB_DO_RELEASE, -ESTALE,
	  DFREE },
	{ "read_after_release", OB_S_RELEASED, OB_DO_READ, -ESTALE, UAF },
	{ "write_after_release", OB_S_MUT_RELEASED, OB_DO_WRITE, -ESTALE, UAF },
	{ "unsafe_after_release", OB_S_RELEASED, OB_DO_UNSAFE, -ESTALE, UAF },
	{ "unsafe_end_after_release", OB_S_RELEASED, OB_DO_UNSAFE_END, 0, UAF },
	{ "stat_after_release", OB_S_RELEASED, OB_DO_REF_STAT, -ESTALE, UAF },
	{ "read_after_revoke", OB_S_REF_REVOKED, OB_DO_READ, -ESTALE, UAF },
	{ "unsafe_after_revoke", OB_S_REF_REVOKED, OB_DO_UNSAFE, -ESTALE, UAF },
	{ "stat_after_revoke", OB_S_REF_REVOKED, OB_DO_REF_STAT, -ESTALE, UAF },
	{ "release_after_revoke", OB_S_REF_REVOKED, OB_DO_RELEASE, -ESTALE,
	  UAF },
	{ "release_revoked_twice", OB_S_REF_REVOKED_RELEASED, OB_DO_RELEASE,
	  -ESTALE, UAF },
	{ "read_copied_token", OB_S_COPIED_SHARED, OB_DO_READ_BAD, -ESTALE,
	  UAF },
	{ "release_copied_token", OB_S_COPIED_SHARED, OB_DO_RELEASE_BAD,
	  -ESTALE, UAF },
	{ "write_copied_mut_token", OB_S_COPIED_MUT, OB_DO_WRITE_BAD, -ESTALE,
	  UAF },
	{ "read_garbage_token", OB_S_GARBAGE, OB_DO_READ_BAD, -ESTALE, UAF },
	{ "write_garbage_token", OB_S_GARBAGE, OB_DO_WRITE_BAD, -ESTALE, UAF },
	{ "release_garbage_token", OB_S_GARBAGE, OB_DO_RELEASE_BAD, -ESTALE,
	  UAF },
	{ "unsafe_garbage_token", OB_S_GARBAGE, OB_DO_UNSAFE_BAD, -ESTALE, UAF },
	{ "read_zeroed_token", OB_S_ZEROED, OB_DO_READ_BAD, -EINVAL, NULLD },
	{ "write_zeroed_token", OB_S_ZEROED, OB_DO_WRITE_BAD, -EINVAL, NULLD },
	{ "release_zeroed_token", OB_S_ZEROED, OB_DO_RELEASE_BAD, -EINVAL,
	  NULLD },
	{ "unsafe_zeroed_token", OB_S_ZEROED, OB_DO_UNSAFE_BAD, -EINVAL, NULLD },
	{ "unsafe_end_zeroed_token", OB_S_ZEROED, OB_DO_UNSAFE_END_BAD, 0,
	  NULLD },
	{ "read_null_ref", OB_S_LIVE, OB_DO_READ_NULL, -EINVAL, NULLD },
	{ "release_null_ref", OB_S_LIVE, OB_DO_RELEASE_NULL, -EINVAL, NULLD },
	{ "borrow_null_ref", OB_S_LIVE, OB_DO_BORROW_NULL_REF, -EINVAL, NULLD },
	{ "unsafe_null_len", OB_S_SHARED, OB_DO_UNSAFE_NULL_LEN, -EINVAL,
	  NULLD },
	{ "unsafe_end_unopened", OB_S_SHARED, OB_DO_UNSAFE_END, 0, DFREE },
	{ "ref_stat_null_out", OB_S_SHARED, OB_DO_REF_STAT_NULL, -EINVAL,
	  NULLD },
	/* bounds */
	{ "read_at_end", OB_S_SHARED, OB_DO_READ_AT_END, -ERANGE, OOB },
	{ "read_past_end", OB_S_SHARED, OB_DO_READ_PAST_END, -ERANGE, OOB },
	{ "write_past_end", OB_S_MUT, OB_DO_WRITE_PAST_END, -ERANGE, OOB },
	{ "read_offset_max", OB_S_SHARED, OB_DO_READ_OFF_MAX, -ERANGE, OOB },
	{ "read_length_max", OB_S_MUT, OB_DO_READ_LEN_MAX, -ERANGE, OOB },
	{ "read_wrapping", OB_S_SHARED, OB_DO_READ_WRAP, -ERANGE, OOB },
	{ "owner_read_at_end", OB_S_LIVE, OB_DO_OREAD_AT_END, -ERANGE, OOB },
	{ "owner_read_past_end", OB_S_SHARED, OB_DO_OREAD_PAST_END, -ERANGE,
	  OOB },
	{ "owner_write_offset_max", OB_S_LIVE, OB_DO_OWRITE_OFF_MAX, -ERANGE,
	  OOB },
	{ "owner_write_length_max", OB_S_LIVE, OB_DO_OWRITE_LEN_MAX, -ERANGE,
	  OOB },
	{ "owner_read_wrapping", OB_S_LIVE, OB_DO_OREAD_WRAP, -ERANGE, OOB },
	{ "read_null_dst", OB_S_SHARED, OB_DO_READ_NULL_DST, -EINVAL, NULLD },
	{ "owner_read_null_dst", OB_S_LIVE, OB_DO_OREAD_NULL_DST, -EINVAL,
	  NULLD },
	/* refused or allowed, but never counted */
	{ "write_through_shared", OB_S_SHARED, OB_DO_WRITE, -EPERM, OB_NONE },
	{ "borrow_both_kinds", OB_S_LIVE, OB_DO_BORROW_BOTH, -EINVAL, OB_NONE },
	{ "borrow_no_kind", OB_S_LIVE, OB_DO_BORROW_NO_KIND, -EINVAL, OB_NONE },
	{ "borrow_unknown_flag", OB_S_LIVE, OB_DO_BORROW_UNKNOWN_FLAG, -EINVAL,
	  OB_NONE },
	{ "borrow_into_live_token", OB_S_SHARED, OB_DO_BORROW_LIVE, -EINVAL,
	  OB_NONE },
	{ "borrow_ops_without_revoke", OB_S_LIVE, OB_DO_BORROW_OPS_NO_REVOKE,
	  -EINVAL, OB_NONE },
	{ "create_zero", OB_S_NONE, OB_DO_CREATE_ZERO, -EINVAL, OB_NONE },
	{ "create_atomic", OB_S_NONE, OB_DO_CREATE_ATOMIC, -EINVAL, OB_NONE },
	{ "create_too_big", OB_S_NONE, OB_DO_CREATE_HUGE, -EFBIG, OB_NONE },
	{ "resize_zero", OB_S_LIVE, OB_DO_RESIZE_ZERO, -EINVAL, OB_NONE },
	{ "resize_too_big", OB_S_LIVE, OB_DO_RESIZE_HUGE, -EFBIG, OB_NONE },
	{ "read_empty_out_of_bounds", OB_S_SHARED, OB_DO_READ_EMPTY_OOB, 0,
	  OB_NONE },
	{ "owner_read_empty_out_of_bounds", OB_S_LIVE, OB_DO_OREAD_EMPTY_OOB, 0,
	  OB_NONE },
	{ "read_empty_after_release", OB_S_RELEASED, OB_DO_READ_EMPTY_OOB,
	  -ESTALE, UAF },
	{ "shared_while_shared", OB_S_SHARED, OB_DO_BORROW_SHARED, 0, OB_NONE },
	{ "owner_read_while_shared", OB_S_SHARED, OB_DO_OREAD, 0, OB_NONE },
	{ "owner_read_while_pinned", OB_S_SHARED_PINNED, OB_DO_OREAD, 0,
	  OB_NONE },
	{ "read_through_mut", OB_S_MUT, OB_DO_READ, 0, OB_NONE },
};

#undef UAF
#undef DFREE
#undef RACE
#undef NULLD
#undef OOB
#undef DANG

KUNIT_ARRAY_PARAM_DESC(ob_misuse, ob_misuses, name);

struct ob_ctx {
	struct kunit *test;
	struct ownbuf_handle *h;	/* registered */
	struct ownbuf_handle *h2;	/* registered */
	struct ownbuf_handle copy;
	struct ownbuf_handle *live;	/* what owns after the setup */
	struct ownbuf_ref *ref;		/* registered */
	struct ownbuf_ref *ref2;	/* registered */
	struct ownbuf_ref *bad;		/* copies, garbage: never registered */
	u8 *buf;
	size_t size;
};

static struct ob_ctx *ob_ctx_new(struct kunit *test, size_t size)
{
	struct ob_ctx *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, c);
	c->test = test;
	c->size = size;
	c->h = ob_handle(test);
	c->h2 = ob_handle(test);
	c->ref = ob_ref(test);
	c->ref2 = ob_ref(test);
	c->bad = kunit_kzalloc(test, sizeof(*c->bad), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, c->bad);
	c->buf = ob_scratch(test, 2 * size);
	return c;
}

static void ob_setup(struct ob_ctx *c, enum ob_setup s)
{
	struct kunit *test = c->test;
	size_t len;

	if (s == OB_S_NONE)
		return;
	KUNIT_ASSERT_EQ(test, ownbuf_create(c->size, GFP_KERNEL, c->h), 0);
	ob_fill(test, *c->h, OB_BYTE);
	c->copy = *c->h;
	c->live = c->h;

	switch (s) {
	case OB_S_SHARED:
	case OB_S_SHARED_PINNED:
	case OB_S_RELEASED:
	case OB_S_REF_REVOKED:
	case OB_S_REF_REVOKED_RELEASED:
	case OB_S_COPIED_SHARED:
	case OB_S_GARBAGE:
		KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*c->h, c->ref), 0);
		break;
	case OB_S_MUT:
	case OB_S_MUT_PINNED:
	case OB_S_MUT_RELEASED:
	case OB_S_COPIED_MUT:
		KUNIT_ASSERT_EQ(test, ownbuf_borrow_mut(*c->h, c->ref), 0);
		break;
	default:
		break;
	}

	switch (s) {
	case OB_S_DROPPED:
		KUNIT_ASSERT_EQ(test, ownbuf_drop(c->h), 0);
		c->live = NULL;
		break;
	case OB_S_MOVED:
		KUNIT_ASSERT_EQ(test, ownbuf_move(c->h, c->h2), 0);
		c->live = c->h2;
		break;
	case OB_S_REVOKED:
		KUNIT_ASSERT_EQ(test, ownbuf_revoke(c->h), 0);
		c->live = NULL;
		break;
	case OB_S_SHARED_PINNED:
	case OB_S_MUT_PINNED:
		ob_unsafe_begin(test, c->ref, &len);
		break;
	case OB_S_RELEASED:
	case OB_S_MUT_RELEASED:
		KUNIT_ASSERT_EQ(test, ownbuf_release(c->ref), 0);
		break;
	case OB_S_REF_REVOKED:
		KUNIT_ASSERT_EQ(test, ownbuf_revoke(c->h), 1);
		c->live = NULL;
		break;
	case OB_S_REF_REVOKED_RELEASED:
		KUNIT_ASSERT_EQ(test, ownbuf_revoke(c->h), 1);
		KUNIT_ASSERT_EQ(test, ownbuf_release(c->ref), -ESTALE);
		c->live = NULL;
		break;
	case OB_S_COPIED_SHARED:
	case OB_S_COPIED_MUT:
		memcpy(c->bad, c->ref, sizeof(*c->ref));
		break;
	case OB_S_GARBAGE:
		memset(c->bad, 0xa5, sizeof(*c->bad));
		break;
	case OB_S_FORGED_DROPPED:
		c->copy.val |= OB_POISON;
		break;
	case OB_S_FORGED_MOVED:
		c->copy.val |= OB_POISON | OB_POISON_MOVED;
		break;
	case OB_S_FORGED_LOW:
		c->copy.val ^= BIT_ULL(0);
		break;
	case OB_S_FORGED_HIGH:
		c->copy.val ^= BIT_ULL(61);
		break;
	case OB_S_FORGED_RANDOM:
		do {
			c->copy.val = get_random_u64() & ~OB_POISON;
		} while (!c->copy.val || c->copy.val == c->h->val);
		break;
	default:
		break;
	}
}

static const struct ownbuf_ref_ops ob_no_revoke_ops = { };

static int ob_do(struct ob_ctx *c, enum ob_do op)
{
	struct ownbuf_handle *h = c->h;
	struct ownbuf_stat st;
	size_t n = c->size, len;

	switch (op) {
	case OB_DO_DROP:
		return ownbuf_drop(h);
	case OB_DO_DROP_COPY:
		return ownbuf_drop(&c->copy);
	case OB_DO_DROP_NULL:
		return ownbuf_drop(NULL);
	case OB_DO_REVOKE:
		return ownbuf_revoke(h);
	case OB_DO_REVOKE_NULL:
		return ownbuf_revoke(NULL);
	case OB_DO_MOVE:
		return ownbuf_move(h, c->h2);
	case OB_DO_MOVE_COPY:
		return ownbuf_move(&c->copy, c->h2);
	case OB_DO_MOVE_TO_NULL:
		return ownbuf_move(h, NULL);
	case OB_DO_RESIZE:
		return ownbuf_resize(*h, 2 * PAGE_SIZE);
	case OB_DO_RESIZE_ZERO:
		return ownbuf_resize(*h, 0);
	case OB_DO_RESIZE_HUGE:
		return ownbuf_resize(*h, SIZE_MAX);
	case OB_DO_SIZE:
		return ownbuf_size(*h, &len);
	case OB_DO_SIZE_NULL:
		return ownbuf_size(*h, NULL);
	case OB_DO_STAT:
		return ownbuf_stat(*h, &st);
	case OB_DO_STAT_NULL:
		return ownbuf_stat(*h, NULL);
	case OB_DO_OREAD:
		return ownbuf_owner_read(*h, 0, c->buf, n);
	case OB_DO_OREAD_COPY:
		return ownbuf_owner_read(c->copy, 0, c->buf, n);
	case OB_DO_OWRITE:
		return ownbuf_owner_write(*h, 0, c->buf, n);
	case OB_DO_OWRITE_COPY:
		return ownbuf_owner_write(c->copy, 0, c->buf, n);
	case OB_DO_OREAD_AT_END:
		return ownbuf_owner_read(*h, n, c->buf, 1);
	case OB_DO_OREAD_PAST_END:
		return ownbuf_owner_read(*h, 0, c->buf, n + 1);
	case OB_DO_OWRITE_OFF_MAX:
		return ownbuf_owner_write(*h, SIZE_MAX, c->buf, 1);
	case OB_DO_OWRITE_LEN_MAX:
		return ownbuf_owner_write(*h, 1, c->buf, SIZE_MAX);
	case OB_DO_OREAD_WRAP:
		return ownbuf_owner_read(*h, 16, c->buf, SIZE_MAX - 15);
	case OB_DO_OREAD_NULL_DST:
		return ownbuf_owner_read(*h, 0, NULL, 1);
	case OB_DO_OREAD_EMPTY_OOB:
		return ownbuf_owner_read(*h, n + 1, c->buf, 0);
	case OB_DO_BORROW_SHARED:
		return ownbuf_borrow_shared(*h, c->ref2);
	case OB_DO_BORROW_MUT:
		return ownbuf_borrow_mut(*h, c->ref2);
	case OB_DO_BORROW_SHARED_COPY:
		return ownbuf_borrow_shared(c->copy, c->ref2);
	case OB_DO_BORROW_MUT_COPY:
		return ownbuf_borrow_mut(c->copy, c->ref2);
	case OB_DO_BORROW_NULL_REF:
		return ownbuf_borrow_shared(*h, NULL);
	case OB_DO_BORROW_BOTH:
		return ownbuf_borrow(*h, OWNBUF_SHARED | OWNBUF_MUT, c->ref2);
	case OB_DO_BORROW_NO_KIND:
		return ownbuf_borrow(*h, 0, c->ref2);
	case OB_DO_BORROW_UNKNOWN_FLAG:
		return ownbuf_borrow(*h, OWNBUF_SHARED | BIT(7), c->ref2);
	case OB_DO_BORROW_LIVE:
		return ownbuf_borrow_shared(*h, c->ref);
	case OB_DO_BORROW_OPS_NO_REVOKE:
		return ownbuf_borrow_ops(*h, OWNBUF_SHARED, &ob_no_revoke_ops,
					 c->ref2);
	case OB_DO_RELEASE:
		return ownbuf_release(c->ref);
	case OB_DO_RELEASE_BAD:
		return ownbuf_release(c->bad);
	case OB_DO_RELEASE_NULL:
		return ownbuf_release(NULL);
	case OB_DO_READ:
		return ownbuf_read(c->ref, 0, c->buf, n);
	case OB_DO_READ_BAD:
		return ownbuf_read(c->bad, 0, c->buf, n);
	case OB_DO_READ_NULL:
		return ownbuf_read(NULL, 0, c->buf, n);
	case OB_DO_WRITE:
		return ownbuf_write(c->ref, 0, c->buf, n);
	case OB_DO_WRITE_BAD:
		return ownbuf_write(c->bad, 0, c->buf, n);
	case OB_DO_READ_AT_END:
		return ownbuf_read(c->ref, n, c->buf, 1);
	case OB_DO_READ_PAST_END:
		return ownbuf_read(c->ref, 0, c->buf, n + 1);
	case OB_DO_WRITE_PAST_END:
		return ownbuf_write(c->ref, n - 1, c->buf, 2);
	case OB_DO_READ_OFF_MAX:
		return ownbuf_read(c->ref, SIZE_MAX, c->buf, 1);
	case OB_DO_READ_LEN_MAX:
		return ownbuf_read(c->ref, 1, c->buf, SIZE_MAX);
	case OB_DO_READ_WRAP:
		return ownbuf_read(c->ref, 16, c->buf, SIZE_MAX - 15);
	case OB_DO_READ_NULL_DST:
		return ownbuf_read(c->ref, 0, NULL, 1);
	case OB_DO_READ_EMPTY_OOB:
		return ownbuf_read(c->ref, n + 1, c->buf, 0);
	case OB_DO_UNSAFE:
		return ob_unsafe_try(c->ref, &len);
	case OB_DO_UNSAFE_BAD:
		return ob_unsafe_try(c->bad, &len);
	case OB_DO_UNSAFE_NULL_LEN:
		return PTR_ERR_OR_ZERO(ownbuf_unsafe_begin(c->ref, NULL));
	case OB_DO_UNSAFE_END:
		ownbuf_unsafe_end(c->ref);
		return 0;
	case OB_DO_UNSAFE_END_BAD:
		ownbuf_unsafe_end(c->bad);
		return 0;
	case OB_DO_REF_STAT:
		return ownbuf_ref_stat(c->ref, &st);
	case OB_DO_REF_STAT_NULL:
		return ownbuf_ref_stat(c->ref, NULL);
	case OB_DO_CREATE_NULL:
		return ownbuf_create(n, GFP_KERNEL, NULL);
	case OB_DO_CREATE_ZERO:
		return ownbuf_create(0, GFP_KERNEL, c->h2);
	case OB_DO_CREATE_ATOMIC:
		return ownbuf_create(n, GFP_ATOMIC, c->h2);
	case OB_DO_CREATE_HUGE:
		return ownbuf_create(SIZE_MAX, GFP_KERNEL, c->h2);
	case OB_DO_OWRITE_NULL_SRC:
		return ownbuf_owner_write(*h, 0, NULL, 1);
	}
	return -EOPNOTSUPP;
}

/*
 * One misuse: the errno, exactly one count of the right class (or none),
 * and a refused call changes neither the handle variables, nor the borrow
 * counts, nor a byte of the buffer.
 */
static void ownbuf_test_misuse(struct kunit *test)
{
	const struct ob_misuse *m = test->param_value;
	struct ob_ctx *c = ob_ctx_new(test, OB_SIZE);
	struct ownbuf_stat st0 = { }, st1 = { };
	struct ob_counts before;
	u64 hv, h2v, cv;
	int ret;

	ob_setup(c, m->setup);
	if (c->live)
		st0 = ob_stat(test, *c->live);
	hv = c->h->val;
	h2v = c->h2->val;
	cv = c->copy.val;

	ob_snap(&before);
	ret = ob_do(c, m->op);
	KUNIT_EXPECT_EQ(test, ret, m->err);
	OB_EXPECT_ONE(test, &before, m->class);
	if (!m->err)
		return;

	KUNIT_EXPECT_EQ(test, c->h->val, hv);
	KUNIT_EXPECT_EQ(test, c->h2->val, h2v);
	KUNIT_EXPECT_EQ(test, c->copy.val, cv);
	if (!c->live)
		return;
	st1 = ob_stat(test, *c->live);
	KUNIT_EXPECT_EQ(test, st1.id, st0.id);
	KUNIT_EXPECT_EQ(test, st1.size, st0.size);
	KUNIT_EXPECT_EQ(test, st1.shared_borrows, st0.shared_borrows);
	KUNIT_EXPECT_EQ(test, st1.mut_borrows, st0.mut_borrows);
	if (st1.mut_borrows)
		OB_EXPECT_REF_BYTES(test, c->ref, 0, c->size, OB_BYTE);
	else
		OB_EXPECT_OWNER_BYTES(test, *c->live, 0, c->size, OB_BYTE);
}

/* --- forged handles and tokens --- */

/*
 * Random values are refused, never dereferenced, and counted once each.
 * Two in three name the table slot of a live buffer with a generation it
 * never had (the lookup reaches the buffer and must tell it is not theirs);
 * half of the others look poisoned.  A value ownbuf never issued is a
 * use_after_free, whatever its bits say.
 */
static void ownbuf_test_forged_random_handles(struct kunit *test)
{
	const unsigned int n = 2048, nlive = 16;
	struct ownbuf_handle *live[16];
	struct ownbuf_ref *ref = ob_ref(test);
	u64 want[OWNBUF_NR_VIOLATIONS] = { };
	struct ownbuf_handle h;
	struct ob_counts before;
	unsigned int i, j, bad = 0, same_slot = 0;
	size_t size;
	u8 byte;

	/* Something in the table for forged values to run into. */
	for (j = 0; j < nlive; j++) {
		live[j] = ob_create(test, OB_SIZE);
		ob_fill(test, *live[j], OB_BYTE);
	}

	ob_snap(&before);
	for (i = 0; i < n; i++) {
		h.val = get_random_u64();
		if (i == 0) {
			h.val = 0;
		} else if (i % 3) {
			h.val = ownbuf_kunit_same_slot(live[i % nlive]->val,
						       h.val);
			same_slot++;
		} else if (i % 2) {
			h.val |= OB_POISON;
		}
		for (j = 0; j < nlive; j++)
			if (h.val == live[j]->val)
				bad++;

		byte = 0xdd;
		if (ownbuf_owner_read(h, 0, &byte, 1) != (h.val ? -ESTALE :
							  -EINVAL) ||
		    byte != 0xdd)
			bad++;
		if (ownbuf_borrow_shared(h, ref) != (h.val ? -ESTALE : -EINVAL))
			bad++;
		size = 0;
		if (ownbuf_size(h, &size) != (h.val ? -ESTALE : -EINVAL) ||
		    size)
			bad++;
		if (ownbuf_ref_state(ref))
			ownbuf_ref_discard(ref);
		if (ownbuf_drop(&h) != (h.val ? -ESTALE : -EINVAL))
			bad++;
		if (!h.val)
			want[OWNBUF_NULL_DEREF] += 4;
		else
			want[OWNBUF_USE_AFTER_FREE] += 4;
	}
	KUNIT_EXPECT_EQ(test, bad, 0);
	KUNIT_EXPECT_GT(test, same_slot, n / 2);
	ob_expect_deltas(test, &before, want, __LINE__);

	for (j = 0; j < nlive; j++) {
		struct ownbuf_stat st = ob_stat(test, *live[j]);

		KUNIT_EXPECT_EQ(test, st.shared_borrows, 0);
		OB_EXPECT_OWNER_BYTES(test, *live[j], 0, OB_SIZE, OB_BYTE);
	}
}

/* No single bit flipped in a live handle reaches its buffer. */
static void ownbuf_test_forged_bitflip_handles(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	u64 want[OWNBUF_NR_VIOLATIONS] = { };
	struct ownbuf_stat st;
	struct ownbuf_handle f;
	struct ob_counts before;
	size_t size = 0;
	u8 byte = 0xee;
	int bit;

	ob_fill(test, *h, OB_BYTE);
	ob_snap(&before);
	for (bit = 0; bit < 64; bit++) {
		f.val = h->val ^ BIT_ULL(bit);
		KUNIT_EXPECT_EQ_MSG(test, ownbuf_size(f, &size), -ESTALE,
				    "bit %d", bit);
		KUNIT_EXPECT_EQ_MSG(test, ownbuf_stat(f, &st), -ESTALE,
				    "bit %d", bit);
		KUNIT_EXPECT_EQ_MSG(test, ownbuf_owner_write(f, 0, &byte, 1),
				    -ESTALE, "bit %d", bit);
		KUNIT_EXPECT_EQ_MSG(test, ownbuf_drop(&f), -ESTALE, "bit %d",
				    bit);
		KUNIT_EXPECT_EQ(test, f.val, h->val ^ BIT_ULL(bit));
		/* Bit 63 looks dropped, but this variable never was. */
		want[OWNBUF_USE_AFTER_FREE] += 4;
	}
	ob_expect_deltas(test, &before, want, __LINE__);
	OB_EXPECT_OWNER_BYTES(test, *h, 0, OB_SIZE, OB_BYTE);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(h), 0);
}

/*
 * Tokens full of random bytes: refused, counted once, never followed.  A
 * garbage token may happen to look released, so -ESTALE may count as a
 * double_free as well as a use_after_free.
 */
static void ownbuf_test_garbage_tokens(struct kunit *test)
{
	const unsigned int n = 512;
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_ref *live = ob_ref(test);
	struct ownbuf_ref *tok = kunit_kzalloc(test, sizeof(*tok), GFP_KERNEL);
	unsigned long nul = 0, stale = 0, bad = 0;
	struct ob_counts before, after;
	unsigned int i;
	size_t len;
	u8 byte;
	int ret, k;

	KUNIT_ASSERT_NOT_NULL(test, tok);
	ob_fill(test, *h, OB_BYTE);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, live), 0);

	ob_snap(&before);
	for (i = 0; i < n; i++) {
		for (k = 0; k < 3; k++) {
			get_random_bytes(tok, sizeof(*tok));
			byte = 0xdd;
			if (k == 0)
				ret = ownbuf_read(tok, 0, &byte, 1);
			else if (k == 1)
				ret = ownbuf_release(tok);
			else
				ret = ob_unsafe_try(tok, &len);
			if (ret == -EINVAL)
				nul++;
			else if (ret == -ESTALE)
				stale++;
			else
				bad++;
			if (byte != 0xdd)
				bad++;
		}
	}
	KUNIT_EXPECT_EQ(test, bad, 0);
	ob_snap(&after);
	KUNIT_EXPECT_EQ(test, after.n[OWNBUF_NULL_DEREF] -
			before.n[OWNBUF_NULL_DEREF], nul);
	KUNIT_EXPECT_EQ(test, after.n[OWNBUF_USE_AFTER_FREE] -
			before.n[OWNBUF_USE_AFTER_FREE] +
			after.n[OWNBUF_DOUBLE_FREE] -
			before.n[OWNBUF_DOUBLE_FREE], stale);
	KUNIT_EXPECT_EQ(test, after.n[OWNBUF_DATA_RACE] -
			before.n[OWNBUF_DATA_RACE] +
			after.n[OWNBUF_OUT_OF_BOUNDS] -
			before.n[OWNBUF_OUT_OF_BOUNDS] +
			after.n[OWNBUF_DANGLING_BORROW] -
			before.n[OWNBUF_DANGLING_BORROW], 0);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).shared_borrows, 1);
	OB_EXPECT_REF_BYTES(test, live, 0, OB_SIZE, OB_BYTE);
	KUNIT_EXPECT_EQ(test, ownbuf_release(live), 0);
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

static void ownbuf_test_callback_on_release(struct kunit *test)
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

static void ownbuf_test_callback_on_discard(struct kunit *test)
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
static void ownbuf_test_callback_on_revoke(struct kunit *test)
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
static void ownbuf_test_callback_borrow_after_revoke(struct kunit *test)
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
static void ownbuf_test_release_during_release(struct kunit *test)
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

static void ownbuf_test_wait_wakes_on_release(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_ref *mut = ob_ref(test);
	struct ob_counts before;
	struct ob_worker *w;

	KUNIT_ASSERT_EQ(test, ownbuf_borrow_mut(*h, mut), 0);
	ob_snap(&before);
	w = ob_waiter(test, h, OWNBUF_SHARED | OWNBUF_WAIT);
	KUNIT_EXPECT_FALSE_MSG(test,
			       ob_done_within(w, msecs_to_jiffies(OB_BLOCKED_MS)),
			       "granted while the mut borrow was out: %d", w->ret);
	KUNIT_EXPECT_EQ(test, ownbuf_release(mut), 0);
	KUNIT_EXPECT_TRUE_MSG(test, ob_done_within(w, OB_TIMEOUT),
			      "the waiter was not woken");
	ob_worker_join(test, w);
	KUNIT_EXPECT_EQ(test, w->ret, 0);
	KUNIT_EXPECT_EQ(test, w->ret2, 0);
	KUNIT_EXPECT_EQ(test, w->st.shared_borrows, 1);
	KUNIT_EXPECT_EQ(test, w->st.mut_borrows, 0);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).shared_borrows, 0);
	OB_EXPECT_NONE(test, &before);
}

static void ownbuf_test_wait_mut_for_all_shared(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_ref *r1 = ob_ref(test), *r2 = ob_ref(test);
	struct ob_counts before;
	struct ob_worker *w;

	KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, r1), 0);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, r2), 0);
	ob_snap(&before);
	w = ob_waiter(test, h, OWNBUF_MUT | OWNBUF_WAIT);
	KUNIT_EXPECT_FALSE(test, ob_done_within(w,
						msecs_to_jiffies(OB_BLOCKED_MS)));
	KUNIT_EXPECT_EQ(test, ownbuf_release(r1), 0);
	KUNIT_EXPECT_FALSE_MSG(test,
			       ob_done_within(w, msecs_to_jiffies(OB_BLOCKED_MS)),
			       "mut granted while a shared borrow was out: %d",
			       w->ret);
	KUNIT_EXPECT_EQ(test, ownbuf_release(r2), 0);
	KUNIT_EXPECT_TRUE(test, ob_done_within(w, OB_TIMEOUT));
	ob_worker_join(test, w);
	KUNIT_EXPECT_EQ(test, w->ret, 0);
	KUNIT_EXPECT_EQ(test, w->ret2, 0);
	KUNIT_EXPECT_EQ(test, w->st.mut_borrows, 1);
	KUNIT_EXPECT_EQ(test, w->st.shared_borrows, 0);
	OB_EXPECT_NONE(test, &before);
}

static void ownbuf_test_wait_interrupted(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_ref *mut = ob_ref(test);
	struct ownbuf_stat st;
	struct ob_counts before;
	struct ob_worker *w;

	KUNIT_ASSERT_EQ(test, ownbuf_borrow_mut(*h, mut), 0);
	ob_snap(&before);
	w = ob_waiter(test, h, OWNBUF_SHARED | OWNBUF_WAIT);
	KUNIT_EXPECT_FALSE(test, ob_done_within(w,
						msecs_to_jiffies(OB_BLOCKED_MS)));
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

static void ownbuf_test_wait_revoked(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_ref *mut = ob_ref(test);
	struct ob_counts before;
	struct ob_worker *w;

	KUNIT_ASSERT_EQ(test, ownbuf_borrow_mut(*h, mut), 0);
	ob_snap(&before);
	w = ob_waiter(test, h, OWNBUF_MUT | OWNBUF_WAIT);
	KUNIT_EXPECT_FALSE(test, ob_done_within(w,
						msecs_to_jiffies(OB_BLOCKED_MS)));
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
static void ownbuf_test_max_shared(struct kunit *test)
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
static void ownbuf_test_max_shared_lowered(struct kunit *test)
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

static void ownbuf_test_max_size(struct kunit *test)
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
static void ownbuf_test_max_size_lowered(struct kunit *test)
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

static void ownbuf_test_fail_alloc_core(struct kunit *test)
{
	struct ob_priv *priv = test->priv;
	struct ownbuf_handle *out = ob_handle(test);
	struct ob_counts before;

	kunit_activate_static_stub(test, ownbuf_alloc_core, ob_fail_alloc_core);
	ob_snap(&before);
	KUNIT_EXPECT_EQ(test, ownbuf_create(OB_SIZE, GFP_KERNEL, out), -ENOMEM);
	KUNIT_EXPECT_EQ(test, priv->stub_calls, 1);
	KUNIT_EXPECT_EQ(test, out->val, 0);
	OB_EXPECT_NONE(test, &before);

	kunit_deactivate_static_stub(test, ownbuf_alloc_core);
	KUNIT_EXPECT_EQ(test, ownbuf_create(OB_SIZE, GFP_KERNEL, out), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(out), 0);
	OB_EXPECT_NONE(test, &before);
}

static void ownbuf_test_fail_alloc_data(struct kunit *test)
{
	struct ob_priv *priv = test->priv;
	struct ownbuf_handle *out = ob_handle(test);
	struct ob_counts before;

	kunit_activate_static_stub(test, ownbuf_alloc_data, ob_fail_alloc_data);
	ob_snap(&before);
	KUNIT_EXPECT_EQ(test, ownbuf_create(OB_SIZE, GFP_KERNEL, out), -ENOMEM);
	KUNIT_EXPECT_EQ(test, ownbuf_create(OB_BIG, GFP_KERNEL, out), -ENOMEM);
	KUNIT_EXPECT_EQ(test, priv->stub_calls, 2);
	KUNIT_EXPECT_EQ(test, out->val, 0);
	OB_EXPECT_NONE(test, &before);

	kunit_deactivate_static_stub(test, ownbuf_alloc_data);
	KUNIT_EXPECT_EQ(test, ownbuf_create(OB_BIG, GFP_KERNEL, out), 0);
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

/* A failed table insert frees what was allocated (kmemleak checks). */
static void ownbuf_test_fail_table_insert(struct kunit *test)
{
	const struct ob_insert_case *p = test->param_value;
	struct ob_priv *priv = test->priv;
	struct ownbuf_handle *out = ob_handle(test);
	struct ob_counts before;

	priv->stub_ret = p->insert_ret;
	kunit_activate_static_stub(test, ownbuf_table_insert,
				   ob_fail_table_insert);
	ob_snap(&before);
	KUNIT_EXPECT_EQ(test, ownbuf_create(p->size, GFP_KERNEL, out), p->want);
	KUNIT_EXPECT_EQ(test, priv->stub_calls, 1);
	KUNIT_EXPECT_EQ(test, out->val, 0);
	OB_EXPECT_NONE(test, &before);

	kunit_deactivate_static_stub(test, ownbuf_table_insert);
	KUNIT_EXPECT_EQ(test, ownbuf_create(p->size, GFP_KERNEL, out), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(out), 0);
	OB_EXPECT_NONE(test, &before);
}

/* A resize that cannot allocate keeps the size and every byte. */
static void ownbuf_test_fail_resize(struct kunit *test)
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
	} ev[32], want[32];
};

static void ob_probe_violation(void *data, unsigned int class, u64 id)
{
	struct ob_tp *tp = data;
	unsigned long flags;

	if (current != tp->task)
		return;
	spin_lock_irqsave(&tp->lock, flags);
	if (tp->n < ARRAY_SIZE(tp->ev)) {
		tp->ev[tp->n].class = class;
		tp->ev[tp->n].id = id;
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

/* Each counted refusal fires ownbuf:ownbuf_violation once, class and id. */
static void ownbuf_test_tracepoint(struct kunit *test)
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
	}
}

/* --- context --- */

static DEFINE_SPINLOCK(ob_atomic_lock);

/* Everything documented "Context: any" works with interrupts off. */
static void ownbuf_test_atomic_context(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_handle *h2 = ob_handle(test);
	struct ownbuf_ref *r1 = ob_ref(test), *r2 = ob_ref(test);
	u8 *buf = ob_scratch(test, OB_SIZE);
	struct ownbuf_stat st = { }, st2 = { };
	struct ob_counts before;
	size_t size = 0, len = 0;
	unsigned long flags;
	int ret[16];
	void *p;

	ob_fill(test, *h, OB_BYTE);
	ob_snap(&before);
	spin_lock_irqsave(&ob_atomic_lock, flags);
	ret[0] = ownbuf_borrow_shared(*h, r1);
	ret[1] = ownbuf_borrow_mut(*h, r2);
	ret[2] = ownbuf_read(r1, 0, buf, OB_SIZE);
	ret[3] = ownbuf_owner_read(*h, 0, buf, OB_SIZE);
	ret[4] = ownbuf_ref_stat(r1, &st);
	p = ownbuf_unsafe_begin(r1, &len);
	ret[5] = PTR_ERR_OR_ZERO(p);
	if (!IS_ERR(p))
		ownbuf_unsafe_end(r1);
	ret[6] = ownbuf_size(*h, &size);
	ret[7] = ownbuf_stat(*h, &st2);
	ret[8] = ownbuf_release(r1);
	ret[9] = ownbuf_release(r1);
	ret[10] = ownbuf_borrow_mut(*h, r2);
	ret[11] = ownbuf_write(r2, 0, buf, OB_SIZE);
	ret[12] = ownbuf_release(r2);
	ret[13] = ownbuf_owner_write(*h, 0, buf, OB_SIZE);
	ret[14] = ownbuf_move(h, h2);
	ret[15] = ownbuf_ref_state(r2);
	spin_unlock_irqrestore(&ob_atomic_lock, flags);

	KUNIT_EXPECT_EQ(test, ret[0], 0);
	KUNIT_EXPECT_EQ(test, ret[1], -EBUSY);
	KUNIT_EXPECT_EQ(test, ret[2], 0);
	KUNIT_EXPECT_EQ(test, ret[3], 0);
	KUNIT_EXPECT_EQ(test, ret[4], 0);
	KUNIT_EXPECT_EQ(test, ret[5], 0);
	KUNIT_EXPECT_EQ(test, ret[6], 0);
	KUNIT_EXPECT_EQ(test, ret[7], 0);
	KUNIT_EXPECT_EQ(test, ret[8], 0);
	KUNIT_EXPECT_EQ(test, ret[9], -ESTALE);
	KUNIT_EXPECT_EQ(test, ret[10], 0);
	KUNIT_EXPECT_EQ(test, ret[11], 0);
	KUNIT_EXPECT_EQ(test, ret[12], 0);
	KUNIT_EXPECT_EQ(test, ret[13], 0);
	KUNIT_EXPECT_EQ(test, ret[14], 0);
	KUNIT_EXPECT_EQ(test, ret[15], OWNBUF_STATE_RELEASED);
	KUNIT_EXPECT_EQ(test, size, OB_SIZE);
	KUNIT_EXPECT_EQ(test, st.shared_borrows, 1);
	KUNIT_EXPECT_EQ(test, st2.id, st.id);
	OB_EXPECT_BYTES(test, buf, OB_SIZE, OB_BYTE);
	OB_EXPECT_DELTAS(test, &before, 0, 1, 1, 0, 0, 0);
	OB_EXPECT_OWNER_BYTES(test, *h2, 0, OB_SIZE, OB_BYTE);
}

/* Shared borrows: read, look through the unsafe view, give back. */
static int ob_reader(struct ob_worker *w)
{
	struct ob_race *r = w->race;
	size_t len;
	u8 *p;
	int ret;

	while (ob_running(w)) {
		cond_resched();
		ret = ownbuf_borrow_shared(ob_slot(r), &w->ref);
		if (OB_TALLY(w, ret, OB_OK_BUSY))
			continue;
		w->borrows++;
		/* Nothing can write while this borrow is out. */
		ret = ownbuf_read(&w->ref, 0, w->buf, r->size);
		if (!OB_TALLY(w, ret, 0)) {
			w->reads++;
			ob_check_uniform(w, w->buf, r->size);
		}
		p = ownbuf_unsafe_begin(&w->ref, &len);
		if (!IS_ERR(p)) {
			if (len != r->size)
				OB_BAD(w, -ERANGE);
			else
				ob_check_uniform(w, p, len);
			ownbuf_unsafe_end(&w->ref);
		} else {
			OB_TALLY(w, PTR_ERR(p), 0);
		}
		OB_TALLY(w, ownbuf_release(&w->ref), 0);
		/* Leave the writers a gap now and then. */
		if (!(w->borrows % 4))
			usleep_range(100, 200);
	}
	return 0;
}

/* The mut borrow: write one byte value all over, read it back. */
static int ob_writer(struct ob_worker *w)
{
	struct ob_race *r = w->race;
	u8 v = 0;
	int ret;

	while (ob_running(w)) {
		cond_resched();
		ret = ownbuf_borrow_mut(ob_slot(r), &w->ref);
		if (OB_TALLY(w, ret, OB_OK_BUSY))
			continue;
		w->borrows++;
		v = v % 0x7f + 1;
		memset(w->buf, v, r->size);
		if (!OB_TALLY(w, ownbuf_write(&w->ref, 0, w->buf, r->size), 0))
			w->writes++;
		if (!OB_TALLY(w, ownbuf_read(&w->ref, 0, w->buf2, r->size), 0) &&
		    memchr_inv(w->buf2, v, r->size))
			w->torn++;
		OB_TALLY(w, ownbuf_release(&w->ref), 0);
	}
	return 0;
}

/* The owner: write one byte value all over, read the whole buffer. */
static int ob_owner(struct ob_worker *w)
{
	struct ob_race *r = w->race;
	u8 v = 0x80;
	int ret;

	while (ob_running(w)) {
		cond_resched();
		v = v == 0xff ? 0x80 : v + 1;
		memset(w->buf, v, r->size);
		ret = ownbuf_owner_write(ob_slot(r), 0, w->buf, r->size);
		if (!OB_TALLY(w, ret, OB_OK_BUSY))
			w->writes++;
		ret = ownbuf_owner_read(ob_slot(r), 0, w->buf2, r->size);
		if (!OB_TALLY(w, ret, OB_OK_BUSY)) {
			w->reads++;
			ob_check_uniform(w, w->buf2, r->size);
		}
	}
	return 0;
}

/*
 * Readers, a writer and the owner hammer one buffer: no torn data, every
 * refusal a data_race, counted exactly once, and nothing left lent out.
 */
static void ownbuf_test_race_borrows(struct kunit *test)
{
	struct ob_race *r = ob_race_new(test, 2 * PAGE_SIZE);
	u64 seen[OWNBUF_NR_VIOLATIONS] = { };
	unsigned long reads = 0, writes = 0;
	struct ob_counts before;
	struct ownbuf_stat st;
	int i;

	r->owner = ob_create(test, r->size);
	ob_publish(r);

	ob_snap(&before);
	ob_race_add(test, r, ob_reader, "reader", 0, false, 0);
	ob_race_add(test, r, ob_reader, "reader", 0, false, 1);
	ob_race_add(test, r, ob_writer, "writer", 0, false, 0);
	ob_race_add(test, r, ob_owner, "owner", 0, false, 1);
	msleep(OB_RACE_MS);
	ob_race_join(test, r, seen);
	ob_expect_deltas(test, &before, seen, __LINE__);
	KUNIT_EXPECT_EQ(test, seen[OWNBUF_USE_AFTER_FREE] +
			seen[OWNBUF_DANGLING_BORROW], 0);

	for (i = 0; i < r->n; i++) {
		reads += r->w[i]->reads;
		writes += r->w[i]->writes;
	}
	kunit_info(test, "%lu reads, %lu writes, %llu refused\n", reads,
		   writes, seen[OWNBUF_DATA_RACE]);
	KUNIT_EXPECT_GT(test, reads, 0);
	KUNIT_EXPECT_GT(test, writes, 0);

	st = ob_stat(test, *r->owner);
	KUNIT_EXPECT_EQ(test, st.shared_borrows, 0);
	KUNIT_EXPECT_EQ(test, st.mut_borrows, 0);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(r->owner), 0);
}

/* Borrow, use everything a borrow allows, give back; revocation allowed. */
static int ob_borrower(struct ob_worker *w)
{
	struct ob_race *r = w->race;
	bool mut = w->flags & OWNBUF_MUT;
	struct ownbuf_stat st;
	u8 v = 0x40 * w->id;
	size_t len;
	int ret;
	u8 *p;

	while (ob_running(w)) {
		cond_resched();
		if (READ_ONCE(r->pause)) {
			usleep_range(500, 1000);
			continue;
		}
		if (w->use_ops)
			ret = ownbuf_borrow_ops(ob_slot(r), w->flags,
						&ob_count_ops, &w->ref);
		else
			ret = ownbuf_borrow(ob_slot(r), w->flags, &w->ref);
		if (OB_TALLY(w, ret, OB_OK_BUSY | OB_OK_STALE))
			continue;
		w->borrows++;

		/* From here on only a revocation may refuse anything. */
		ret = ownbuf_ref_stat(&w->ref, &st);
		if (!OB_TALLY(w, ret, OB_OK_STALE) &&
		    (st.size != r->size || st.mut_borrows != mut ||
		     (mut && st.shared_borrows) || (!mut && !st.shared_borrows)))
			OB_BAD(w, -EPROTO);
		ret = ownbuf_read(&w->ref, 0, w->buf, r->size);
		if (!OB_TALLY(w, ret, OB_OK_STALE)) {
			w->reads++;
			ob_check_uniform(w, w->buf, r->size);
		}
		if (mut) {
			memset(w->buf, ++v, r->size);
			ret = ownbuf_write(&w->ref, 0, w->buf, r->size);
			if (!OB_TALLY(w, ret, OB_OK_STALE))
				w->writes++;
		}
		p = ownbuf_unsafe_begin(&w->ref, &len);
		if (!IS_ERR(p)) {
			if (len != r->size)
				OB_BAD(w, -ERANGE);
			else
				ob_check_uniform(w, p, len);
			ownbuf_unsafe_end(&w->ref);
		} else {
			OB_TALLY(w, PTR_ERR(p), OB_OK_STALE);
		}
		/* Hold the borrow a while, or leave the owner a gap. */
		if (w->linger && !(w->borrows % 4))
			usleep_range(200, 400);
		OB_TALLY(w, ownbuf_release(&w->ref), OB_OK_STALE);
		if (!w->linger && !(w->borrows % 4))
			usleep_range(100, 200);
	}
	return 0;
}

/* Move and resize the buffer under the borrowers' feet. */
static int ob_mover(struct ob_worker *w)
{
	struct ob_race *r = w->race;
	struct ownbuf_handle next;
	unsigned long n = 0;
	int ret;

	while (ob_running(w)) {
		cond_resched();
		if (n++ & 1) {
			ret = ownbuf_move(r->owner, &next);
			if (!ret) {
				WRITE_ONCE(r->owner->val, next.val);
				ob_publish(r);
				w->writes++;
			}
		} else {
			ret = ownbuf_resize(*r->owner, r->size);
			if (!ret)
				w->reads++;
		}
		/* Accesses happen only under borrows: always lent out. */
		OB_TALLY(w, ret, OB_OK_LENT);
	}
	return 0;
}

static void ob_expect_callbacks(struct kunit *test, struct ob_race *r)
{
	struct ob_worker *w;
	int i;

	for (i = 0; i < r->n; i++) {
		w = r->w[i];
		if (w->use_ops)
			KUNIT_EXPECT_EQ_MSG(test, atomic_long_read(&w->cb_calls),
					    w->borrows,
					    "->revoke calls of worker %d", i);
	}
}

/*
 * Move and resize against borrowers: refusals are dangling_borrow for the
 * owner, data_race or use_after_free for the borrowers, exactly counted;
 * at the end nothing is lent and the buffer drops.
 */
static void ownbuf_test_race_ownership(struct kunit *test)
{
	struct ob_race *r = ob_race_new(test, 2 * PAGE_SIZE);
	u64 seen[OWNBUF_NR_VIOLATIONS] = { };
	unsigned long borrows = 0;
	struct ob_counts before;
	struct ownbuf_stat st;
	struct ob_worker *mover, *w;
	int i;

	r->owner = ob_create(test, r->size);
	ob_publish(r);

	ob_snap(&before);
	for (i = 0; i < 3; i++) {
		w = ob_race_add(test, r, ob_borrower, i == 2 ? "mut" : "shared",
				i == 2 ? OWNBUF_MUT : OWNBUF_SHARED, i != 1, 0);
		w->linger = i != 1;
	}
	mover = ob_race_add(test, r, ob_mover, "mover", 0, false, 1);
	/* Borrowers in the way, then out of the way, and again. */
	for (i = 0; i < OB_RACE_MS / 100; i++) {
		WRITE_ONCE(r->pause, i & 1);
		msleep(100);
	}
	ob_race_join(test, r, seen);
	ob_expect_deltas(test, &before, seen, __LINE__);
	ob_expect_callbacks(test, r);
	for (i = 0; i < r->n; i++)
		borrows += r->w[i]->borrows;
	kunit_info(test, "%lu borrows, %lu moves, %lu resizes, %llu dangling, %llu races, %llu stale\n",
		   borrows, mover->writes, mover->reads,
		   seen[OWNBUF_DANGLING_BORROW], seen[OWNBUF_DATA_RACE],
		   seen[OWNBUF_USE_AFTER_FREE]);
	KUNIT_EXPECT_GT(test, borrows, 0);
	KUNIT_EXPECT_GT(test, mover->writes, 0);
	KUNIT_EXPECT_GT(test, seen[OWNBUF_DANGLING_BORROW], 0);

	st = ob_stat(test, *r->owner);
	KUNIT_EXPECT_EQ(test, st.shared_borrows, 0);
	KUNIT_EXPECT_EQ(test, st.mut_borrows, 0);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(r->owner), 0);
}

/*
 * Drop or revoke buffer after buffer while borrowers hammer them: every
 * revoked borrow counts one dangling_borrow, every later use one
 * use_after_free, and ->revoke runs once per borrow.
 */
static void ownbuf_test_race_revoke_churn(struct kunit *test)
{
	struct ob_race *r = ob_race_new(test, PAGE_SIZE);
	unsigned long deadline = jiffies + msecs_to_jiffies(OB_RACE_MS);
	u64 seen[OWNBUF_NR_VIOLATIONS] = { };
	unsigned long drops = 0, revokes = 0, revoked = 0;
	struct ob_counts before;
	struct ob_worker *w;
	int i, ret;

	r->owner = ob_create(test, r->size);
	ob_publish(r);

	ob_snap(&before);
	for (i = 0; i < 3; i++) {
		w = ob_race_add(test, r, ob_borrower, i ? "shared" : "mut",
				i ? OWNBUF_SHARED : OWNBUF_MUT, i != 1, i & 1);
		w->linger = true;
	}
	for (i = 0; time_before(jiffies, deadline); i++) {
		msleep(20);
		/* Every other buffer is dropped if it can be. */
		ret = (i & 1) ? ownbuf_drop(r->owner) : -EBUSY;
		if (!ret) {
			drops++;
		} else {
			KUNIT_ASSERT_EQ(test, ret, -EBUSY);
			if (i & 1)
				seen[OWNBUF_DANGLING_BORROW]++;
			ret = ownbuf_revoke(r->owner);
			KUNIT_ASSERT_GE(test, ret, 0);
			seen[OWNBUF_DANGLING_BORROW] += ret;
			revoked += ret;
			revokes++;
		}
		KUNIT_ASSERT_EQ(test, ownbuf_create(r->size, GFP_KERNEL,
						    r->owner), 0);
		ob_publish(r);
	}
	ob_race_join(test, r, seen);
	ob_expect_deltas(test, &before, seen, __LINE__);
	ob_expect_callbacks(test, r);
	kunit_info(test, "%lu drops, %lu revocations of %lu borrows, %llu stale\n",
		   drops, revokes, revoked, seen[OWNBUF_USE_AFTER_FREE]);
	KUNIT_EXPECT_GT(test, revoked, 0);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(r->owner), 0);
}

/* The owner reads a large buffer over and over. */
static int ob_owner_reader(struct ob_worker *w)
{
	struct ob_race *r = w->race;
	int ret;

	while (ob_running(w)) {
		cond_resched();
		ret = ownbuf_owner_read(ob_slot(r), 0, w->buf, r->size);
		if (!OB_TALLY(w, ret, OB_OK_BUSY | OB_OK_STALE)) {
			w->reads++;
			ob_check_uniform(w, w->buf, r->size);
		}
	}
	return 0;
}

enum ob_excl { OB_EXCL_DROP, OB_EXCL_MOVE, OB_EXCL_RESIZE };

struct ob_excl_case {
	const char *name;
	enum ob_excl op;
};

static const struct ob_excl_case ob_excl_cases[] = {
	{ "drop", OB_EXCL_DROP },
	{ "move", OB_EXCL_MOVE },
	{ "resize", OB_EXCL_RESIZE },
};

KUNIT_ARRAY_PARAM_DESC(ob_excl, ob_excl_cases, name);

/* Drop (and create anew), move or resize until three were refused. */
static int ob_excl(struct ob_worker *w)
{
	struct ob_race *r = w->race;
	const struct ob_excl_case *p = r->param;
	unsigned long deadline = jiffies + 2 * msecs_to_jiffies(OB_RACE_MS);
	struct ownbuf_handle next;
	int ret;

	while (ob_running(w) && w->seen[OWNBUF_DATA_RACE] < 3 &&
	       time_before(jiffies, deadline)) {
		cond_resched();
		switch (p->op) {
		case OB_EXCL_DROP:
			ret = ownbuf_drop(r->owner);
			if (!ret && ownbuf_create(r->size, GFP_KERNEL, r->owner)) {
				OB_BAD(w, -ENOMEM);
				return 0;
			}
			break;
		case OB_EXCL_MOVE:
			ret = ownbuf_move(r->owner, &next);
			if (!ret)
				WRITE_ONCE(r->owner->val, next.val);
			break;
		default:
			ret = ownbuf_resize(*r->owner, r->size);
			break;
		}
		if (!ret) {
			ob_publish(r);
			w->writes++;
		}
		/* Nothing is ever lent out: a refusal is a data_race. */
		OB_TALLY(w, ret, OB_OK_BUSY);
	}
	return 0;
}

/*
 * Stands in for the engine's copy: the first time, runs priv->inside while
 * the access that called it is held; then copies as the engine would.
 */
static size_t ob_copy_inside(void *p, size_t len, struct iov_iter *it,
			     bool write)
{
	struct kunit *test = kunit_get_current_test();
	struct ob_priv *priv = test->priv;

	if (!priv->stub_calls++)
		priv->inside_ret = priv->inside(test);
	return write ? copy_from_iter(p, len, it) : copy_to_iter(p, len, it);
}

/* The handle the access in flight is on, and a token, for priv->inside. */
static struct ownbuf_handle *ob_inside_handle;
static struct ownbuf_ref *ob_inside_ref;

static int ob_inside_drop(struct kunit *test)
{
	return ownbuf_drop(ob_inside_handle);
}

static int ob_inside_move(struct kunit *test)
{
	struct ownbuf_handle to;

	return ownbuf_move(ob_inside_handle, &to);
}

static int ob_inside_resize(struct kunit *test)
{
	return ownbuf_resize(*ob_inside_handle, 2 * OB_SIZE);
}

static int ob_inside_write(struct kunit *test)
{
	u8 byte = 0x5a;

	return ownbuf_owner_write(*ob_inside_handle, 0, &byte, 1);
}

static int ob_inside_borrow_mut(struct kunit *test)
{
	return ownbuf_borrow_mut(*ob_inside_handle, ob_inside_ref);
}

static int ob_inside_borrow_shared(struct kunit *test)
{
	return ownbuf_borrow_shared(*ob_inside_handle, ob_inside_ref);
}

static int ob_inside_read(struct kunit *test)
{
	u8 byte;

	return ownbuf_owner_read(*ob_inside_handle, 0, &byte, 1);
}

struct ob_inside_case {
	const char *name;
	bool outer_write;		/* the access in flight is a write */
	int (*inside)(struct kunit *test);
	int want;			/* what the inner call gets */
};

static const struct ob_inside_case ob_inside_cases[] = {
	{ "drop_during_read", false, ob_inside_drop, -EBUSY },
	{ "move_during_read", false, ob_inside_move, -EBUSY },
	{ "resize_during_read", false, ob_inside_resize, -EBUSY },
	{ "write_during_read", false, ob_inside_write, -EBUSY },
	{ "borrow_mut_during_read", false, ob_inside_borrow_mut, -EBUSY },
	{ "borrow_shared_during_read", false, ob_inside_borrow_shared, 0 },
	{ "read_during_read", false, ob_inside_read, 0 },
	{ "drop_during_write", true, ob_inside_drop, -EBUSY },
	{ "read_during_write", true, ob_inside_read, -EBUSY },
	{ "write_during_write", true, ob_inside_write, -EBUSY },
	{ "borrow_shared_during_write", true, ob_inside_borrow_shared, -EBUSY },
};

KUNIT_ARRAY_PARAM_DESC(ob_inside, ob_inside_cases, name);

/*
 * An access that conflicts with one in flight is refused with -EBUSY and
 * one data_race, never waited for; one that does not conflict goes ahead.
 * The outer access is the test's own, held open by a static stub on the
 * engine's copy, so this does not depend on how threads interleave.
 */
static void ownbuf_test_access_in_flight(struct kunit *test)
{
	const struct ob_inside_case *p = test->param_value;
	struct ob_priv *priv = test->priv;
	struct ownbuf_handle *h = ob_handle(test);
	struct ob_counts before;
	u8 buf[4] = { 1, 2, 3, 4 };
	int ret;

	KUNIT_ASSERT_EQ(test, ownbuf_create(OB_SIZE, GFP_KERNEL, h), 0);
	ob_inside_handle = h;
	ob_inside_ref = ob_ref(test);
	priv->inside = p->inside;
	kunit_activate_static_stub(test, ownbuf_copy, ob_copy_inside);

	ob_snap(&before);
	if (p->outer_write)
		ret = ownbuf_owner_write(*h, 0, buf, sizeof(buf));
	else
		ret = ownbuf_owner_read(*h, 0, buf, sizeof(buf));
	kunit_deactivate_static_stub(test, ownbuf_copy);

	KUNIT_EXPECT_EQ(test, ret, 0);
	/* Two copies if the inner call was a granted access. */
	KUNIT_EXPECT_EQ(test, priv->stub_calls,
			1 + (p->inside == ob_inside_read && !p->want));
	KUNIT_EXPECT_EQ(test, priv->inside_ret, p->want);
	OB_EXPECT_DELTAS(test, &before, 0, 0, p->want ? 1 : 0, 0, 0, 0);
	/* A granted borrow goes back; a refused call changed nothing. */
	if (ownbuf_ref_state(ob_inside_ref) == OWNBUF_STATE_LIVE)
		KUNIT_EXPECT_EQ(test, ownbuf_release(ob_inside_ref), 0);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *h).size, OB_SIZE);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(h), 0);
}

/* A copy that takes its time: the access stays in flight 20 ms. */
static size_t ob_copy_slow(void *p, size_t len, struct iov_iter *it,
			   bool write)
{
	mdelay(20);
	return write ? copy_from_iter(p, len, it) : copy_to_iter(p, len, it);
}

/*
 * Drop, move or resize while an owner read is in flight and nothing is
 * lent out: -EBUSY, a data_race and never a dangling_borrow.
 */
static void ownbuf_test_excl_while_accessed(struct kunit *test)
{
	const struct ob_excl_case *p = test->param_value;
	struct ob_race *r = ob_race_new(test, SZ_1M);
	u64 seen[OWNBUF_NR_VIOLATIONS] = { };
	struct ob_worker *reader, *excl;
	struct ob_counts before;

	r->param = p;
	r->owner = ob_create(test, r->size);
	ob_publish(r);

	/*
	 * The reader's copies take 20 ms each (a static stub), so that
	 * whenever the other CPU runs, a read is very likely in flight.
	 */
	kunit_activate_static_stub(test, ownbuf_copy, ob_copy_slow);
	ob_snap(&before);
	r->stubs = true;
	reader = ob_race_add(test, r, ob_owner_reader, "oread", 0, false, 1);
	r->stubs = false;
	excl = ob_race_add(test, r, ob_excl, p->name, 0, false, 0);
	KUNIT_EXPECT_TRUE(test, ob_done_within(excl, OB_TIMEOUT));
	ob_race_join(test, r, seen);
	ob_expect_deltas(test, &before, seen, __LINE__);
	kunit_info(test, "%llu refused, %lu done, %lu reads\n",
		   excl->seen[OWNBUF_DATA_RACE], excl->writes, reader->reads);
	/*
	 * The race this is named for: an exclusive call met a read in
	 * flight.  The reader spends nearly all its time copying 1 MiB, so
	 * in twice OB_RACE_MS the two overlap (ownbuf_test_access_in_flight
	 * is the deterministic check of each pair).
	 */
	KUNIT_EXPECT_GT_MSG(test, excl->seen[OWNBUF_DATA_RACE], 0,
			    "no %s ever met a read in flight", p->name);
	KUNIT_EXPECT_GT(test, reader->reads, 0);
}

/* --- ABA: a stale handle never reaches a new buffer in the same slot --- */

static void ownbuf_test_aba(struct kunit *test)
{
	unsigned long deadline = jiffies + msecs_to_jiffies(1000);
	struct ownbuf_handle *h = ob_handle(test);
	struct ownbuf_ref *ref = ob_ref(test);
	struct ownbuf_handle old;
	unsigned long iters = 0, bad = 0;
	struct ob_counts before;
	struct ownbuf_stat st;
	unsigned long reused = 0;
	u64 old_id, new_id;
	size_t size;
	u8 byte, got;
	int ret;

	ob_snap(&before);
	do {
		KUNIT_ASSERT_EQ(test, ownbuf_create(OB_SIZE, GFP_KERNEL, h), 0);
		old = *h;
		old_id = ob_stat(test, *h).id;
		KUNIT_ASSERT_EQ(test, ownbuf_drop(h), 0);
		KUNIT_ASSERT_EQ(test, ownbuf_create(OB_SIZE, GFP_KERNEL, h), 0);
		new_id = ob_stat(test, *h).id;
		if (new_id == old_id || h->val == old.val)
			bad++;
		/* The new buffer took the old one's slot: a real ABA. */
		if (ownbuf_kunit_same_slot(old.val, h->val) == h->val)
			reused++;
		byte = iters | 1;
		KUNIT_ASSERT_EQ(test, ownbuf_owner_write(*h, 0, &byte, 1), 0);

		got = 0;
		if (ownbuf_owner_read(old, 0, &got, 1) != -ESTALE || got)
			bad++;
		size = 0;
		if (ownbuf_size(old, &size) != -ESTALE || size)
			bad++;
		if (ownbuf_stat(old, &st) != -ESTALE)
			bad++;
		ret = ownbuf_borrow_shared(old, ref);
		if (ret != -ESTALE) {
			bad++;
			if (!ret)
				ownbuf_release(ref);
		}
		KUNIT_ASSERT_EQ(test, ownbuf_drop(h), 0);
		iters++;
	} while (time_before(jiffies, deadline));

	kunit_info(test, "%lu generations, %lu in the same slot\n", iters,
		   reused);
	KUNIT_EXPECT_EQ(test, bad, 0);
	KUNIT_EXPECT_GT(test, reused, 0);
	OB_EXPECT_DELTAS(test, &before, 4 * iters, 0, 0, 0, 0, 0);
}

/* --- nothing a caller writes into a token releases a borrow twice --- */

struct ob_replay_case {
	const char *name;
	unsigned int kind;
};

static const struct ob_replay_case ob_replay_cases[] = {
	{ "shared", OWNBUF_SHARED },
	{ "mut", OWNBUF_MUT },
};

KUNIT_ARRAY_PARAM_DESC(ob_replay, ob_replay_cases, name);

/*
 * saved = *ref; release(ref); *ref = saved; release(ref): the second
 * release is a double_free and gives back nothing; another borrow still
 * out keeps the buffer from being dropped.
 */
static void ownbuf_test_token_replay(struct kunit *test)
{
	const struct ob_replay_case *p = test->param_value;
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_ref *ref = ob_ref(test), *other = ob_ref(test);
	struct ownbuf_ref saved;
	struct ob_counts before;
	struct ownbuf_stat st;
	u8 byte;

	ob_fill(test, *h, OB_BYTE);
	KUNIT_ASSERT_EQ(test, ownbuf_borrow(*h, p->kind, ref), 0);
	if (p->kind == OWNBUF_SHARED)
		KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, other), 0);
	saved = *ref;
	KUNIT_ASSERT_EQ(test, ownbuf_release(ref), 0);
	if (p->kind == OWNBUF_MUT)
		KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, other), 0);

	ob_snap(&before);
	*ref = saved;
	KUNIT_EXPECT_EQ(test, ownbuf_read(ref, 0, &byte, 1), -ESTALE);
	KUNIT_EXPECT_EQ(test, ownbuf_release(ref), -ESTALE);
	*ref = saved;
	ownbuf_ref_discard(ref);
	*ref = saved;
	KUNIT_EXPECT_EQ(test, ownbuf_release(ref), -ESTALE);
	OB_EXPECT_DELTAS(test, &before, 1, 2, 0, 0, 0, 0);
	KUNIT_ASSERT_EQ(test, ownbuf_stat(*h, &st), 0);
	KUNIT_EXPECT_EQ(test, st.shared_borrows, 1);
	KUNIT_EXPECT_EQ(test, st.mut_borrows, 0);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(h), -EBUSY);
	OB_EXPECT_REF_BYTES(test, other, 0, OB_SIZE, OB_BYTE);
	KUNIT_EXPECT_EQ(test, ownbuf_release(other), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(h), 0);
}

/* --- a poisoned variable is recognised as this variable's poisoning --- */

static void ownbuf_test_forged_poison(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_handle *m = ob_create(test, OB_SIZE);
	struct ownbuf_handle *to = ob_handle(test);
	struct ownbuf_handle f = { .val = 0x80000000deadbeefULL };
	struct ownbuf_handle copy;
	struct ob_counts before;

	ob_snap(&before);
	/* Values that were never anybody's handle: use_after_free. */
	KUNIT_EXPECT_EQ(test, ownbuf_drop(&f), -ESTALE);
	KUNIT_EXPECT_EQ(test, ownbuf_revoke(&f), -ESTALE);
	f.val = 0xc0000000deadbeefULL;
	KUNIT_EXPECT_EQ(test, ownbuf_drop(&f), -ESTALE);
	OB_EXPECT_DELTAS(test, &before, 3, 0, 0, 0, 0, 0);

	/* This variable, dropped: dropping it again is a double free. */
	KUNIT_ASSERT_EQ(test, ownbuf_drop(h), 0);
	copy = *h;
	KUNIT_EXPECT_EQ(test, ownbuf_drop(h), -ESTALE);
	KUNIT_EXPECT_EQ(test, ownbuf_revoke(h), -ESTALE);
	OB_EXPECT_DELTAS(test, &before, 3, 2, 0, 0, 0, 0);
	/* Its poison copied elsewhere: that variable never owned anything. */
	KUNIT_EXPECT_EQ(test, ownbuf_drop(&copy), -ESTALE);
	OB_EXPECT_DELTAS(test, &before, 4, 2, 0, 0, 0, 0);
	/* Moved: using it again is a use after free, dropping included. */
	KUNIT_ASSERT_EQ(test, ownbuf_move(m, to), 0);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(m), -ESTALE);
	OB_EXPECT_DELTAS(test, &before, 5, 2, 0, 0, 0, 0);
	KUNIT_EXPECT_EQ(test, ownbuf_drop(to), 0);
}

/* --- nothing is exhausted by use --- */

/*
 * However many generations were spent on the handle slots, creates and
 * moves go on, every new handle is live and every old one stale.
 */
static void ownbuf_test_generations_never_run_out(struct kunit *test)
{
	struct ownbuf_handle *h = ob_handle(test);
	struct ownbuf_handle *to = ob_handle(test);
	struct ownbuf_handle old[8];
	size_t size;
	int i, j;

	ownbuf_kunit_spend_generations(U64_MAX);
	for (i = 0; i < 8; i++) {
		KUNIT_ASSERT_EQ_MSG(test, ownbuf_create(OB_SIZE, GFP_KERNEL, h),
				    0, "create %d", i);
		old[i] = *h;
		for (j = 0; j < 4; j++) {
			KUNIT_ASSERT_EQ_MSG(test, ownbuf_move(h, to), 0,
					    "move %d of buffer %d", j, i);
			*h = *to;
			KUNIT_EXPECT_EQ(test, ownbuf_size(*h, &size), 0);
		}
		for (j = 0; j <= i; j++)
			KUNIT_EXPECT_EQ(test, ownbuf_size(old[j], &size),
					-ESTALE);
		KUNIT_EXPECT_EQ(test, ownbuf_drop(h), 0);
	}
}

/*
 * A revoked buffer gives its table slot and its memory back at once,
 * whatever borrows still name it; the borrows are refused and released
 * as always.
 */
static void ownbuf_test_revoked_frees_slot(struct kunit *test)
{
	struct ownbuf_handle *h = ob_create(test, OB_SIZE);
	struct ownbuf_ref *ref = ob_ref(test);
	unsigned long slots, data;

	KUNIT_ASSERT_EQ(test, ownbuf_borrow_shared(*h, ref), 0);
	slots = ownbuf_count_buffers();
	data = ownbuf_kunit_data_count();
	KUNIT_EXPECT_EQ(test, ownbuf_revoke(h), 1);
	KUNIT_EXPECT_EQ(test, ownbuf_count_buffers(), slots - 1);
	KUNIT_EXPECT_EQ(test, ownbuf_kunit_data_count(), data - 1);
	KUNIT_EXPECT_EQ(test, ownbuf_ref_state(ref), OWNBUF_STATE_REVOKED);
	KUNIT_EXPECT_EQ(test, ownbuf_release(ref), -ESTALE);
	KUNIT_EXPECT_EQ(test, ownbuf_count_buffers(), slots - 1);
}

/* --- max_shared across CPUs --- */

struct ob_cap {
	struct ownbuf_ref *refs[2];
	atomic_t turn;		/* whose borrow is next: turn % 2 */
	bool full;		/* one was refused: stop */
};

static int ob_cap_borrower(struct ob_worker *w)
{
	struct ob_race *r = w->race;
	struct ob_cap *c = (struct ob_cap *)r->param;
	unsigned long i = 0, deadline = jiffies + OB_TIMEOUT;
	int ret, t;

	/* The two threads take turns, each on its CPU, until the cap. */
	while (ob_running(w) && i < 256 && time_before(jiffies, deadline)) {
		t = atomic_read(&c->turn);
		if (READ_ONCE(c->full))
			break;
		if (t % 2 != w->id) {
			cpu_relax();
			continue;
		}
		ret = ownbuf_borrow_shared(ob_slot(r), &c->refs[w->id][i]);
		if (ret == -EOVERFLOW) {
			WRITE_ONCE(c->full, true);
		} else if (ret) {
			OB_BAD(w, ret);
			WRITE_ONCE(c->full, true);
		} else {
			i++;
			w->borrows++;
		}
		atomic_inc(&c->turn);
	}
	return 0;
}

/*
 * Two threads on two CPUs take shared borrows in turn: together they get
 * exactly max_shared, whatever CPU recorded them, and never more.
 */
static void ownbuf_test_max_shared_across_cpus(struct kunit *test)
{
	struct ob_race *r = ob_race_new(test, OB_SIZE);
	u64 seen[OWNBUF_NR_VIOLATIONS] = { };
	struct ob_cap *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	struct ob_worker *a, *b;
	unsigned long cap = 64;

	KUNIT_ASSERT_NOT_NULL(test, c);
	ob_param_set(test, "max_shared", cap);
	r->owner = ob_create(test, OB_SIZE);
	ob_publish(r);
	/* The tokens outlive the threads: registered before them. */
	c->refs[0] = ob_refs(test, 256);
	c->refs[1] = ob_refs(test, 256);
	atomic_set(&c->turn, 0);
	r->param = c;
	a = ob_race_add(test, r, ob_cap_borrower, "cap", 0, false, 0);
	b = ob_race_add(test, r, ob_cap_borrower, "cap", 0, false, 1);
	KUNIT_EXPECT_TRUE(test, ob_done_within(a, OB_TIMEOUT));
	KUNIT_EXPECT_TRUE(test, ob_done_within(b, OB_TIMEOUT));
	ob_race_join(test, r, seen);
	kunit_info(test, "%lu + %lu shared borrows\n", a->borrows, b->borrows);
	KUNIT_EXPECT_EQ(test, a->borrows + b->borrows, cap);
	KUNIT_EXPECT_EQ(test, ob_stat(test, *r->owner).shared_borrows, cap);
	/* The cap was reached from both CPUs, not by one alone. */
	KUNIT_EXPECT_GT(test, a->borrows, cap / 4);
	KUNIT_EXPECT_GT(test, b->borrows, cap / 4);
}

/*
 * Every buffer the cases before this one created has been dropped or
 * revoked and, once its last borrow went, freed: a revoked buffer whose
 * borrows were all returned must not linger until the module goes.
 */
static void ownbuf_test_nothing_left(struct kunit *test)
{
	KUNIT_EXPECT_EQ(test, ob_buffers_since_start(), 0);
}

static struct kunit_case ownbuf_test_cases[] = {
	KUNIT_CASE(ownbuf_test_warning_names_caller),
	KUNIT_CASE(ownbuf_test_violation_names),
	KUNIT_CASE(ownbuf_test_create_zeroed),
	KUNIT_CASE_PARAM(ownbuf_test_misuse, ob_misuse_gen_params),
	KUNIT_CASE(ownbuf_test_drop_poisons_handle),
	KUNIT_CASE(ownbuf_test_move_stales_copies),
	KUNIT_CASE(ownbuf_test_move_to_itself),
	KUNIT_CASE(ownbuf_test_ids_and_stat),
	KUNIT_CASE(ownbuf_test_many_shared),
	KUNIT_CASE(ownbuf_test_mut_is_exclusive),
	KUNIT_CASE(ownbuf_test_ref_state),
	KUNIT_CASE(ownbuf_test_copied_token),
	KUNIT_CASE(ownbuf_test_discard_is_silent),
	KUNIT_CASE(ownbuf_test_forged_random_handles),
	KUNIT_CASE(ownbuf_test_forged_bitflip_handles),
	KUNIT_CASE(ownbuf_test_garbage_tokens),
	KUNIT_CASE(ownbuf_test_bounds_exact_fit),
	KUNIT_CASE(ownbuf_test_bounds_refusal_changes_nothing),
	KUNIT_CASE(ownbuf_test_resize_keeps_contents),
	KUNIT_CASE(ownbuf_test_resize_tail_zero),
	KUNIT_CASE(ownbuf_test_mut_tail_discarded),
	KUNIT_CASE(ownbuf_test_unsafe_view),
	KUNIT_CASE(ownbuf_test_unsafe_nesting),
	KUNIT_CASE(ownbuf_test_revoke_lent),
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
	KUNIT_CASE(ownbuf_test_fail_alloc_core),
	KUNIT_CASE(ownbuf_test_fail_alloc_data),
	KUNIT_CASE_PARAM(ownbuf_test_fail_table_insert, ob_insert_gen_params),
	KUNIT_CASE(ownbuf_test_fail_resize),
	KUNIT_CASE(ownbuf_test_tracepoint),
	KUNIT_CASE(ownbuf_test_atomic_context),
	KUNIT_CASE_SLOW(ownbuf_test_race_borrows),
	KUNIT_CASE_SLOW(ownbuf_test_race_ownership),
	KUNIT_CASE_SLOW(ownbuf_test_race_revoke_churn),
	KUNIT_CASE_PARAM(ownbuf_test_access_in_flight, ob_inside_gen_params),
	KUNIT_CASE_PARAM_ATTR(ownbuf_test_excl_while_accessed,
			      ob_excl_gen_params, { .speed = KUNIT_SPEED_SLOW }),
	KUNIT_CASE_SLOW(ownbuf_test_aba),
	KUNIT_CASE_PARAM(ownbuf_test_token_replay, ob_replay_gen_params),
	KUNIT_CASE(ownbuf_test_forged_poison),
	KUNIT_CASE(ownbuf_test_generations_never_run_out),
	KUNIT_CASE(ownbuf_test_revoked_frees_slot),
	KUNIT_CASE(ownbuf_test_max_shared_across_cpus),
	/* Last: what every case above created is gone. */
	KUNIT_CASE(ownbuf_test_nothing_left),
	{}
};

static struct kunit_suite ownbuf_test_suite = {
	.name = "ownbuf",
	.suite_init = ownbuf_suite_init,
	.suite_exit = ownbuf_suite_exit,
	.init = ownbuf_test_init,
	.test_cases = ownbuf_test_cases,
};

kunit_test_suite(ownbuf_test_suite);

MODULE_DESCRIPTION("KUnit tests for the ownbuf engine");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(EXPORTED_FOR_KUNIT_TESTING);
