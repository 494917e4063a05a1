// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit suite "ownbuf" (its case list is in ownbuf_kunit_api.c): calling
 * context; races between CPUs, each asserting that the overlap it is
 * named for happened; and what no amount of use may exhaust or confuse
 * (generations, slots, replayed tokens, poisoned handles).
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

/* --- context --- */

static DEFINE_SPINLOCK(ob_atomic_lock);

/* Everything documented "Context: any" works with interrupts off. */
void ownbuf_test_atomic_context(struct kunit *test)
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

/*
 * Look through the unsafe view of w->ref: the whole buffer, one byte value
 * all over.  @ok: the refusals that may come instead (OB_TALLY()).
 */
static void ob_check_unsafe_view(struct ob_worker *w, unsigned int ok)
{
	size_t len;
	u8 *p;

	p = ownbuf_unsafe_begin(&w->ref, &len);
	if (!IS_ERR(p)) {
		if (len != w->race->size)
			OB_BAD(w, -ERANGE);
		else
			ob_check_uniform(w, p, len);
		ownbuf_unsafe_end(&w->ref);
	} else {
		OB_TALLY(w, PTR_ERR(p), ok);
	}
}

/* Shared borrows: read, look through the unsafe view, give back. */
static int ob_reader(struct ob_worker *w)
{
	struct ob_race *r = w->race;
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
		ob_check_unsafe_view(w, 0);
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
void ownbuf_test_race_borrows(struct kunit *test)
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
	int ret;

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
		ob_check_unsafe_view(w, OB_OK_STALE);
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
void ownbuf_test_race_ownership(struct kunit *test)
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
void ownbuf_test_race_revoke_churn(struct kunit *test)
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

/* For the case list in ownbuf_kunit_api.c. */
const void *ob_excl_params(const void *prev, char *desc)
{
	return ob_excl_gen_params(prev, desc);
}

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

/* For the case list in ownbuf_kunit_api.c. */
const void *ob_inside_params(const void *prev, char *desc)
{
	return ob_inside_gen_params(prev, desc);
}

/*
 * An access that conflicts with one in flight is refused with -EBUSY and
 * one data_race, never waited for; one that does not conflict goes ahead.
 * The outer access is the test's own, held open by a static stub on the
 * engine's copy, so this does not depend on how threads interleave.
 */
void ownbuf_test_access_in_flight(struct kunit *test)
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
void ownbuf_test_excl_while_accessed(struct kunit *test)
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

void ownbuf_test_aba(struct kunit *test)
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

/* For the case list in ownbuf_kunit_api.c. */
const void *ob_replay_params(const void *prev, char *desc)
{
	return ob_replay_gen_params(prev, desc);
}

/*
 * saved = *ref; release(ref); *ref = saved; release(ref): the second
 * release is a double_free and gives back nothing; another borrow still
 * out keeps the buffer from being dropped.
 */
void ownbuf_test_token_replay(struct kunit *test)
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

void ownbuf_test_forged_poison(struct kunit *test)
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
void ownbuf_test_generations_never_run_out(struct kunit *test)
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
void ownbuf_test_revoked_frees_slot(struct kunit *test)
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
void ownbuf_test_max_shared_across_cpus(struct kunit *test)
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
