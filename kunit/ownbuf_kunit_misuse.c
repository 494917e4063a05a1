// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite "ownbuf" (its case list is in ownbuf_kunit_api.c): the misuse
 * table, one refused call per row with its errno and its one count, and
 * forged handles and tokens.
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

/* For the case list in ownbuf_kunit_api.c. */
const void *ob_misuse_params(const void *prev, char *desc)
{
	return ob_misuse_gen_params(prev, desc);
}

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
		c->copy.val |= OWNBUF_POISON;
		break;
	case OB_S_FORGED_MOVED:
		c->copy.val |= OWNBUF_POISON | OWNBUF_POISON_MOVED;
		break;
	case OB_S_FORGED_LOW:
		c->copy.val ^= BIT_ULL(0);
		break;
	case OB_S_FORGED_HIGH:
		c->copy.val ^= BIT_ULL(61);
		break;
	case OB_S_FORGED_RANDOM:
		do {
			c->copy.val = get_random_u64() & ~OWNBUF_POISON;
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
void ownbuf_test_misuse(struct kunit *test)
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
void ownbuf_test_forged_random_handles(struct kunit *test)
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
			h.val |= OWNBUF_POISON;
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
void ownbuf_test_forged_bitflip_handles(struct kunit *test)
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
void ownbuf_test_garbage_tokens(struct kunit *test)
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
