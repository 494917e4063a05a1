// SPDX-License-Identifier: GPL-2.0
/*
 * ownbuf engine: one owner per buffer, many readers XOR one writer, and no
 * borrow outliving its buffer, checked at run time.
 *
 * This file is the state word machine and what runs on it most: the
 * records of borrows, taking and giving back accesses and claims, and
 * borrows (their tokens, taking and releasing them), so that a borrow and
 * its release are one call each.  Scanning the records as a whole, shared
 * borrows the slow way, the end of a buffer and the states of tokens are
 * ownbuf_record.c.  The life of a buffer (create, drop, revoke, move,
 * resize, stat, its memory and the module parameters) is ownbuf_buffer.c;
 * the data path and accesses through a borrow ownbuf_access.c; the handle
 * table and finding a buffer by handle ownbuf_table.c; counting
 * violations ownbuf_report.c.  /dev/ownbuf (ownbuf_dev.c) only translates
 * files and user memory into these calls.  The state of a buffer, and the
 * three rules every file of the engine keeps, are in ownbuf_core.h.
 */

#include <linux/atomic.h>
#include <linux/export.h>
#include <linux/hash.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/percpu.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/wait_bit.h>

#include "ownbuf_compat.h"
#include "ownbuf_core.h"
#include "ownbuf_trace.h"

/* Mixed into struct ownbuf_ref.check so that garbage is not trusted. */
static unsigned long ownbuf_ref_key __read_mostly;

/* The rare end of ownbuf_give(), under RCU: dead, or somebody waits. */
static noinline void *ownbuf_give_rare(struct ownbuf *b, u64 one, u64 s)
{
	void *data = NULL;

	if (s & OWNBUF_S_DEAD) {
		/* The last access out frees the memory (the caller). */
		if ((one & OWNBUF_S_BUSY) && !(s & OWNBUF_S_BUSY))
			data = ownbuf_data_take(b);
		ownbuf_maybe_finish(b);
	}
	/* The atomic was a full barrier, pairing with prepare_to_wait(). */
	if (waitqueue_active(&b->wq))
		wake_up_all(&b->wq);
	return data;
}

/*
 * Give back @one inside the caller's RCU section: the state it left in
 * *@sp, and nonzero if the rare end is due (dead, or somebody waits):
 * then ownbuf_give_end().  One test for the rare cases.
 */
static __always_inline u64 ownbuf_give_try(struct ownbuf *b, u64 one, u64 *sp)
{
	u64 s = atomic64_sub_return(one, &b->state);

	ownbuf_window(OWNBUF_WIN_UNTRY, b);
	*sp = s;
	/* The atomic was a full barrier, pairing with prepare_to_wait(). */
	return (s & OWNBUF_S_DEAD) | waitqueue_active(&b->wq);
}

/* The rare end of ownbuf_give_try(), which ends the caller's section. */
static noinline void ownbuf_give_end(struct ownbuf *b, u64 one, u64 s)
	__releases(RCU_SCHED)
{
	void *data = ownbuf_give_rare(b, one, s);

	rcu_read_unlock_sched();
	/* Outside the section: a sleeping caller frees at once. */
	if (data)
		ownbuf_free_data(data, 0);
}

/*
 * Give back @one (an access in flight, a pin, the mut borrow, REVOKING)
 * and wake whoever waits for it.  Returns the state it left.
 */
__always_inline u64 ownbuf_give(struct ownbuf *b, u64 one)
{
	u64 s;

	/* Once given back, a dead buffer may be finished by another CPU. */
	rcu_read_lock_sched();
	if (unlikely(ownbuf_give_try(b, one, &s)))
		ownbuf_give_end(b, one, s);
	else
		rcu_read_unlock_sched();
	return s;
}

/* --- taking accesses and borrows --- */

/* Finish @b if it died while we held something (out of the fast paths). */
static noinline void ownbuf_finish_dead(struct ownbuf *b)
{
	rcu_read_lock_sched();
	ownbuf_maybe_finish(b);
	rcu_read_unlock_sched();
}

/*
 * The common case of ownbuf_take_excl() in few branches (each costs under
 * emulation about as much as an atomic): nothing in the way, nothing lent
 * out, nothing changing meanwhile, and (if @named) @b still named by @h.
 * Preemption is off.  Returns 0 having taken it (a mut borrow's
 * generation in *@genp), else nonzero having left no trace, but that the
 * caller must ownbuf_finish_dead() @b if the result has OWNBUF_S_DEAD
 * (and no call here, for a fast path that makes none): the full way then
 * decides again.
 */
static __always_inline u64
ownbuf_take_excl_try(struct ownbuf *b, u64 commit, bool named, u64 h,
		     u64 *genp)
{
	u64 gen = 0, bad;
	s64 s;

	s = atomic64_read(&b->state);
	if (unlikely(s & (OWNBUF_S_DEAD | OWNBUF_S_MUT | OWNBUF_S_CLAIM |
			  OWNBUF_S_BUSY)) ||
	    unlikely(!atomic64_try_cmpxchg(&b->state, &s,
					   s | OWNBUF_S_CLAIM)))
		return 1;
	ownbuf_window(OWNBUF_WIN_CLAIM, b);
	s |= OWNBUF_S_CLAIM;
	/*
	 * A move changes the handle holding WRITER, so not while CLAIM is
	 * ours; the cmpxchg above is a full barrier before these reads.
	 */
	bad = !ownbuf_cells_free(b);
	bad |= (unsigned long)READ_ONCE(b->blocks);
	if (named)
		bad |= READ_ONCE(b->handle) ^ h;
	if (likely(!bad)) {
		if (commit == OWNBUF_S_MUT) {
			gen = (atomic64_read(&b->mut.word) &
			       ~OWNBUF_SLOT_STATE) + OWNBUF_SLOT_GEN_ONE;
			atomic64_set(&b->mut.word, gen | OWNBUF_SLOT_PENDING);
		}
		if (likely(atomic64_try_cmpxchg(&b->state, &s,
						(s & ~(OWNBUF_S_CLAIM |
						       OWNBUF_S_OVER)) |
						commit))) {
			if (commit == OWNBUF_S_MUT)
				atomic64_set_release(&b->mut.word,
						     gen | OWNBUF_SLOT_LIVE);
			*genp = gen;
			return 0;
		}
		if (commit == OWNBUF_S_MUT)
			atomic64_set(&b->mut.word, gen | OWNBUF_SLOT_FREE);
	}
	/* Leaves no trace: the full way decides again. */
	s = atomic64_fetch_andnot(OWNBUF_S_CLAIM | OWNBUF_S_YIELD, &b->state);
	/* Its finishing waited for CLAIM to go: the caller's. */
	return (s & OWNBUF_S_DEAD) | 1;
}

/* ownbuf_take_excl_try() that finishes a dead @b itself: true if taken. */
static __always_inline bool
ownbuf_take_excl_fast(struct ownbuf *b, u64 commit, bool named, u64 h)
{
	u64 gen, r = ownbuf_take_excl_try(b, commit, named, h, &gen);

	if (likely(!r))
		return true;
	if (unlikely(r & OWNBUF_S_DEAD))
		ownbuf_finish_dead(b);
	return false;
}

/*
 * Take @b exclusively: @commit (MUT or WRITER) if nothing is lent out and
 * nothing is in flight.  CLAIM makes the attempt visible to shared
 * borrows being taken while the records are checked, with preemption off
 * so that it lasts a few instructions: one that finds it sets YIELD and is
 * taken, and the attempt gives way to them (a record half-taken, or
 * YIELD), so neither is refused because of the other.  Like a PENDING
 * record, CLAIM may be interrupted: where waiting for another attempt's
 * or a record could deadlock (ownbuf_may_wait_pending()), the attempt
 * that would wait is refused instead, a real conflict.  Returns 0,
 * -ESTALE, or -EBUSY with what conflicted in *@seen (OWNBUF_S_MUT or
 * OWNBUF_S_SHARED_SEEN if something is lent out).
 */
__always_inline int
ownbuf_take_excl(struct ownbuf *b, u64 commit, u64 *seen)
{
	struct ownbuf_scan sc;
	u64 gen = 0;
	bool ok;
	s64 s;
	int ret;

	preempt_disable();
	ok = ownbuf_take_excl_fast(b, commit, false, 0);
	preempt_enable();
	if (likely(ok))
		return 0;
	for (;;) {
		/*
		 * A shared borrow out refuses the attempt: refused on what the
		 * records say before any CLAIM, the attempt does not send the
		 * shared borrows being taken meanwhile the slow way.  DEAD is
		 * final: not DEAD after the scan, the borrow was out while
		 * the buffer lived (else the full way says -ESTALE).
		 */
		s = atomic64_read(&b->state);
		if (!(s & (OWNBUF_S_DEAD | OWNBUF_S_MUT))) {
			ownbuf_scan(b, true, &sc);
			/* The records before the state read again. */
			smp_rmb();
			if (sc.live &&
			    !(atomic64_read(&b->state) & OWNBUF_S_DEAD)) {
				*seen = (s & ~OWNBUF_S_CLAIM) |
					OWNBUF_S_SHARED_SEEN;
				return -EBUSY;
			}
		}
		preempt_disable();
		s = atomic64_read(&b->state);
		for (;;) {
			if (s & OWNBUF_S_DEAD) {
				preempt_enable();
				return -ESTALE;
			}
			if (s & OWNBUF_S_MUT) {
				/* Lent out, to the mut borrow. */
				preempt_enable();
				*seen = s;
				return -EBUSY;
			}
			if (s & OWNBUF_S_CLAIM) {
				/* Another attempt: over in a few instructions. */
				if (!ownbuf_may_wait_pending()) {
					preempt_enable();
					*seen = s;
					return -EBUSY;
				}
				cpu_relax();
				s = atomic64_read(&b->state);
				continue;
			}
			if (atomic64_try_cmpxchg(&b->state, &s,
						 s | OWNBUF_S_CLAIM))
				break;
		}
		ownbuf_window(OWNBUF_WIN_CLAIM, b);
		/*
		 * The cmpxchg above is a full barrier before these reads.
		 * While CLAIM is set a shared borrow is granted only with
		 * YIELD, which stops the commit below: what the records say
		 * now stays true or gets better, so if none is out and no
		 * YIELD, an access in flight below is not one of a borrow
		 * (a data_race, not a dangling_borrow).
		 */
		ownbuf_scan(b, true, &sc);
		ret = sc.live ? -EBUSY : 0;
		if (!sc.live && !sc.pending) {
			if (commit == OWNBUF_S_MUT) {
				/* Its record is PENDING until MUT is set. */
				gen = (atomic64_read(&b->mut.word) &
				       ~OWNBUF_SLOT_STATE) + OWNBUF_SLOT_GEN_ONE;
				atomic64_set(&b->mut.word,
					     gen | OWNBUF_SLOT_PENDING);
			}
			s = atomic64_read(&b->state);
			do {
				/* Before BUSY: a shared borrow came, then its accesses. */
				if (s & OWNBUF_S_YIELD) {
					ret = -EAGAIN;
					break;
				}
				if (s & (OWNBUF_S_DEAD | OWNBUF_S_BUSY)) {
					ret = (s & OWNBUF_S_DEAD) ? -ESTALE :
								   -EBUSY;
					break;
				}
			} while (!atomic64_try_cmpxchg(&b->state, &s,
						       (s & ~(OWNBUF_S_CLAIM |
							      OWNBUF_S_OVER)) |
						       commit));
			if (commit == OWNBUF_S_MUT)
				atomic64_set_release(&b->mut.word, gen |
						     (ret ? OWNBUF_SLOT_FREE :
							    OWNBUF_SLOT_LIVE));
			if (!ret) {
				preempt_enable();
				return 0;
			}
		}
		/* Refused, or giving way: the attempt leaves no trace. */
		s = atomic64_fetch_andnot(OWNBUF_S_CLAIM | OWNBUF_S_YIELD,
					  &b->state) &
		    ~(OWNBUF_S_CLAIM | OWNBUF_S_YIELD);
		preempt_enable();
		if (s & OWNBUF_S_DEAD) {
			ownbuf_finish_dead(b);
			return -ESTALE;
		}
		if (ret && ret != -EAGAIN) {
			*seen = s | (sc.live ? OWNBUF_S_SHARED_SEEN : 0);
			return ret;
		}
		if (!ownbuf_may_wait_pending()) {
			/* A shared borrow is being taken: a real conflict. */
			*seen = s | OWNBUF_S_SHARED_SEEN;
			return -EBUSY;
		}
		ownbuf_wait_pending(b, true);
	}
}

/* What ownbuf_share_try() did, when it did not take a borrow. */
#define OWNBUF_TRY_NOT		1	/* nothing */
#define OWNBUF_TRY_UNDECIDED	2	/* left a PENDING record to decide */

/*
 * The common case of ownbuf_share() in few branches (each costs under
 * emulation about as much as an atomic) and no call: a free record in
 * this CPU's cell, a cell of which all records may be used (the usual
 * max_shared), nothing in the way.  Preemption is off.  Returns 0 having
 * taken it, OWNBUF_TRY_NOT having left no trace, or OWNBUF_TRY_UNDECIDED
 * having left the record *@slotp PENDING with generation *@genp, for the
 * caller to decide (ownbuf_share_redo()).
 */
static __always_inline int
ownbuf_share_try(struct ownbuf *b, u64 h, unsigned long ip,
		 struct ownbuf_slot **slotp, u64 *genp)
{
	struct ownbuf_slot *slot;
	struct ownbuf_cell *cell;
	u64 w, gen, bad, s;
	bool taken;

	BUILD_BUG_ON(OWNBUF_CELL_SLOTS != 2);
	ownbuf_window(OWNBUF_WIN_SHARED_CAP, b);
	cell = this_cpu_ptr(b->cells);
	/* The first record is free unless this CPU holds a shared borrow. */
	slot = &cell->slot[0];
	w = atomic64_read(&slot->word);
	if (unlikely(w & OWNBUF_SLOT_STATE)) {
		slot = &cell->slot[1];
		w = atomic64_read(&slot->word);
	}
	/* With the cap at the cell's size, a free record is all it takes. */
	bad = w & OWNBUF_SLOT_STATE;
	bad |= READ_ONCE(ownbuf_fast_cap) ^ OWNBUF_CELL_SLOTS;
	if (unlikely(bad))
		return OWNBUF_TRY_NOT;
	/*
	 * Fully ordered, before the state is read.  The new generation is
	 * of the word read (FREE: no state bits), not of what a failed
	 * cmpxchg leaves in @w: nothing of it depends on the result.
	 */
	gen = w + OWNBUF_SLOT_GEN_ONE;
	taken = atomic64_try_cmpxchg(&slot->word, &w,
				     gen | OWNBUF_SLOT_PENDING);
	/* A test of the flags the cmpxchg left: cheaper than merging it. */
	if (unlikely(!taken))
		return OWNBUF_TRY_NOT;
	ownbuf_window(OWNBUF_WIN_SHARED_UNDECIDED, b);
	s = atomic64_read_acquire(&b->state);
	bad = s & (OWNBUF_S_DEAD | OWNBUF_S_MUT | OWNBUF_S_WRITER |
		   OWNBUF_S_OVER | OWNBUF_S_CLAIM);
	bad |= READ_ONCE(b->handle) ^ h;
	*slotp = slot;
	*genp = gen;
	if (unlikely(bad))
		return OWNBUF_TRY_UNDECIDED;
	ownbuf_slot_note(slot, ip);
	atomic64_set_release(&slot->word, gen | OWNBUF_SLOT_LIVE);
	return 0;
}

/*
 * ownbuf_share_try() that decides a record itself: 0 if taken, -EBUSY
 * (*@seen) if refused, -EAGAIN for the full way to decide.
 */
static __always_inline int
ownbuf_share_fast(struct ownbuf *b, u64 h, unsigned long ip,
		  struct ownbuf_slot **slotp, u64 *genp, u64 *seen)
{
	int r = ownbuf_share_try(b, h, ip, slotp, genp);

	if (likely(!r))
		return 0;
	if (r == OWNBUF_TRY_UNDECIDED)
		r = ownbuf_share_redo(b, h, *slotp, *genp, ip, seen);
	return (!r || r == -EBUSY) ? r : -EAGAIN;
}

/*
 * Take a shared borrow of @b, which handle @h named: a record in this
 * CPU's cell while the CPU has fewer than its share, otherwise the exact
 * count.  The caller holds @b by RCU (preemption off: the fast path, here)
 * or a reference.  Returns 0 (the record in *@slotp, *@genp), -ESTALE,
 * -EBUSY (*@seen), -EOVERFLOW or -ENOMEM.
 */
static __always_inline int
ownbuf_share(struct ownbuf *b, u64 h, gfp_t gfp, unsigned long ip,
	     struct ownbuf_slot **slotp, u64 *genp, u64 *seen)
{
	int ret;

	if (!gfpflags_allow_blocking(gfp)) {
		ret = ownbuf_share_fast(b, h, ip, slotp, genp, seen);
	} else {
		/* Held by a reference: the fast path wants this CPU's cell. */
		preempt_disable();
		ret = ownbuf_share_fast(b, h, ip, slotp, genp, seen);
		preempt_enable();
	}
	if (likely(ret != -EAGAIN))
		return ret;
	return ownbuf_share_slow(b, h, gfp, ip, slotp, genp, seen);
}

/* --- borrows --- */

/*
 * Binds a token to its address, buffer, record, generation and kind, with
 * a key: garbage and copies at other addresses do not match (nothing a
 * token holds is followed before this matches).
 */
static __always_inline unsigned long
ownbuf_ref_mac(const struct ownbuf_ref *ref, const struct ownbuf *b,
	       const struct ownbuf_slot *slot, u64 gen, u32 kind)
{
	return ((unsigned long)ref ^ ownbuf_ref_key ^ (unsigned long)b ^
		((unsigned long)slot << 1) ^ (unsigned long)gen ^ kind) *
	       GOLDEN_RATIO_PRIME;
}

/* Fill in the token of a borrow just taken. */
static __always_inline void
ownbuf_ref_fill(struct ownbuf_ref *ref, struct ownbuf *b,
		struct ownbuf_slot *slot, u64 gen, unsigned int kind)
{
	ref->buf = b;
	ref->slot = slot;
	ref->gen = gen;
	ref->kind = kind;
	ref->check = ownbuf_ref_mac(ref, b, slot, gen, kind);
	ref->id = b->id;
}

/*
 * Was @ref filled in by ownbuf (not garbage, not a copy at another
 * address)?  Then its pointers lead to memory that stays an ownbuf object
 * and a record while the module is loaded; nothing else is followed.
 */
static __always_inline unsigned long
ownbuf_ref_forged(const struct ownbuf_ref *ref)
{
	return READ_ONCE(ref->check) ^
	       ownbuf_ref_mac(ref, READ_ONCE(ref->buf), READ_ONCE(ref->slot),
			      READ_ONCE(ref->gen), READ_ONCE(ref->kind));
}

__always_inline bool ownbuf_ref_genuine(const struct ownbuf_ref *ref)
{
	return !ownbuf_ref_forged(ref);
}

/* The word of @ref's record while the borrow is out; 0 if not genuine. */
__always_inline u64 ownbuf_ref_word(const struct ownbuf_ref *ref)
{
	return ownbuf_ref_genuine(ref) ? atomic64_read(&ref->slot->word) : 0;
}

/*
 * Is @ref (not NULL) a live borrow: LIVE, and genuine with its record
 * still carrying its generation?  The test of every use of a borrow.
 */
static __always_inline bool ownbuf_ref_live(const struct ownbuf_ref *ref)
{
	return (atomic_read(&ref->state) & OWNBUF_REF_STATE) ==
	       OWNBUF_STATE_LIVE &&
	       ownbuf_ref_word(ref) == (ref->gen | OWNBUF_SLOT_LIVE);
}

/*
 * Is @ref a borrow ownbuf handed out and not yet ended?  Refuses (and
 * reports) the NULL borrow, an ended or revoked one, and garbage, copies
 * and replays: only a token whose record still carries its generation
 * passes.  With @any_record a revoked borrow passes too.
 */
__always_inline int
ownbuf_ref_validate(struct ownbuf_ref *ref, enum ownbuf_op op, bool any_record,
		    unsigned long ip)
{
	if (likely(ref && ownbuf_ref_live(ref)))
		return 0;
	return ownbuf_ref_refuse(ref, op, any_record, ip);
}

/**
 * ownbuf_ref_get() - keep the engine's object of a borrowed buffer alive
 * @ref: the borrow.
 *
 * Return: as ownbuf_owner_get().
 */
struct ownbuf *ownbuf_ref_get(struct ownbuf_ref *ref)
{
	struct ownbuf *b;

	rcu_read_lock_sched();
	/* LIVE records keep the object from being finished. */
	b = ownbuf_observe(ownbuf_ref_live(ref) ? ref->buf : NULL);
	rcu_read_unlock_sched();
	return b;
}

/* Could a borrow of @kind be taken now?  (For OWNBUF_WAIT; true once dead.) */
static bool ownbuf_grantable(struct ownbuf *b, u64 h, unsigned int kind)
{
	u64 s = atomic64_read(&b->state);
	struct ownbuf_scan sc;

	if ((s & OWNBUF_S_DEAD) || READ_ONCE(b->handle) != h)
		return true;
	if (kind == OWNBUF_SHARED)
		return !(s & (OWNBUF_S_MUT | OWNBUF_S_WRITER));
	if (s & (OWNBUF_S_MUT | OWNBUF_S_BUSY))
		return false;
	ownbuf_scan(b, true, &sc);
	return !sc.live;
}

/*
 * Take a borrow of @b, which handle @h named, into @ref: the caller holds
 * @b by RCU (@gfp not blocking) or a reference.
 */
static __always_inline int
ownbuf_borrow_once(struct ownbuf *b, u64 h, unsigned int kind, gfp_t gfp,
		   struct ownbuf_ref *ref, unsigned long ip, u64 *seen)
{
	struct ownbuf_slot *slot;
	u64 gen;
	int ret;

	if (kind == OWNBUF_MUT) {
		ret = ownbuf_take_excl(b, OWNBUF_S_MUT, seen);
		if (!ret && unlikely(READ_ONCE(b->handle) != h)) {
			/* Moved between the lookup and now. */
			atomic64_set(&b->mut.word, (atomic64_read(&b->mut.word) &
						   ~OWNBUF_SLOT_STATE));
			ownbuf_give(b, OWNBUF_S_MUT);
			ret = -ESTALE;
		}
		if (ret)
			return ret;
		slot = &b->mut;
		gen = atomic64_read(&slot->word) & ~OWNBUF_SLOT_STATE;
		ownbuf_slot_note(slot, ip);
	} else {
		ret = ownbuf_share(b, h, gfp, ip, &slot, &gen, seen);
		if (ret)
			return ret;
		/* The exact count records in blocks (and marks the generation). */
		if (gen & OWNBUF_GEN_IN_BLOCK) {
			gen &= ~OWNBUF_GEN_IN_BLOCK;
			kind |= OWNBUF_REF_IN_BLOCK;
		}
	}
	ownbuf_slot_note_task(slot, gen);
	ownbuf_ref_fill(ref, b, slot, gen, kind);
	return 0;
}

/* Publish a token just filled in: its fields before its state. */
static __always_inline void
ownbuf_ref_publish(struct ownbuf_ref *ref, const struct ownbuf_ref_ops *ops,
		   unsigned long ip)
{
	/* ->node is only used with callbacks (on ->hooks by then). */
	ref->ops = ops;
	atomic_set_release(&ref->state, OWNBUF_STATE_LIVE);
	trace_ownbuf_borrow(ref->id, ref->kind & OWNBUF_REF_KIND, ip);
}

static int
ownbuf_do_borrow(struct ownbuf_handle *hp, unsigned int flags,
		 const struct ownbuf_ref_ops *ops, struct ownbuf_ref *ref,
		 unsigned long ip)
{
	unsigned int kind = flags & (OWNBUF_SHARED | OWNBUF_MUT);
	gfp_t gfp = GFP_NOWAIT;
	struct ownbuf *b;
	u64 h, seen = 0;
	int ret;

	rcu_read_lock_sched();
	b = ownbuf_find(hp, OWNBUF_OP_USE, ip, &h, &ret);
	if (!b) {
		rcu_read_unlock_sched();
		return ret;
	}
	if (!ref) {
		rcu_read_unlock_sched();
		ownbuf_report(OWNBUF_NULL_DEREF, b->id, ip,
			      "NULL borrow pointer");
		return -EINVAL;
	}
	if ((flags & ~(OWNBUF_SHARED | OWNBUF_MUT | OWNBUF_WAIT)) ||
	    (kind != OWNBUF_SHARED && kind != OWNBUF_MUT) ||
	    (ops && !ops->revoke) ||
	    (atomic_read(&ref->state) & OWNBUF_REF_STATE) == OWNBUF_STATE_LIVE) {
		rcu_read_unlock_sched();
		return -EINVAL;
	}
	if (!ops && !(flags & OWNBUF_WAIT)) {
		ret = ownbuf_borrow_once(b, h, kind, gfp, ref, ip, &seen);
		if (ret)
			ownbuf_report_borrow(b, ret, seen, ip);
		rcu_read_unlock_sched();
		if (!ret)
			ownbuf_ref_publish(ref, NULL, ip);
		return ret;
	}
	b = ownbuf_observe_unlock(b, ip);
	if (!b)
		return -ESTALE;

	/* Sleeping: with callbacks (hook_lock) or waiting to be granted. */
	might_sleep();
	gfp = GFP_KERNEL_ACCOUNT;
	/* What this waits for, while holding what: see ownbuf.h. */
	if (flags & OWNBUF_WAIT)
		ownbuf_lock_acquire(b, kind, false, ip);
	for (;;) {
		if (ops)
			mutex_lock(&b->hook_lock);
		ret = ownbuf_borrow_once(b, h, kind, gfp, ref, ip, &seen);
		if (!ret && ops) {
			list_add_tail(&ref->node, &b->hooks);
			ref->hook = OWNBUF_HOOK_LISTED;
		}
		if (ops)
			mutex_unlock(&b->hook_lock);
		if (ret != -EBUSY || !(flags & OWNBUF_WAIT))
			break;
		if (wait_event_interruptible(b->wq,
					     ownbuf_grantable(b, h, kind))) {
			ret = -EINTR;
			break;
		}
	}
	if (flags & OWNBUF_WAIT)
		ownbuf_lock_release(b, ip);
	if (!ret)
		ownbuf_ref_publish(ref, ops, ip);
	else
		ownbuf_report_borrow(b, ret, seen, ip);
	ownbuf_obj_put(b);
	return ret;
}

static noinline int
ownbuf_borrow_slow(u64 h, unsigned int flags, const struct ownbuf_ref_ops *ops,
		   struct ownbuf_ref *ref, unsigned long ip)
{
	struct ownbuf_handle hv = { .val = h };

	return ownbuf_do_borrow(&hv, flags, ops, ref, ip);
}

/*
 * The ends of ownbuf_borrow_ops() that make calls, each called last (a
 * jump) so that its fast path saves no register: the caller holds @b by
 * RCU, which these end.
 */

/* The fast mut attempt found @b dead: finish it, then the full way. */
static noinline int
ownbuf_borrow_finish(struct ownbuf *b, u64 h, struct ownbuf_ref *ref,
		     unsigned long ip)
	__releases(RCU_SCHED)
{
	ownbuf_maybe_finish(b);
	rcu_read_unlock_sched();
	return ownbuf_borrow_slow(h, OWNBUF_MUT, NULL, ref, ip);
}

/* The tracepoint of a borrow taken the fast way, when it is on. */
static noinline int ownbuf_borrow_traced(struct ownbuf_ref *ref,
					 unsigned long ip)
{
	trace_ownbuf_borrow(ref->id, ref->kind & OWNBUF_REF_KIND, ip);
	return 0;
}

/*
 * Publish a token filled in by a fast path (as ownbuf_ref_publish(): its
 * fields before its state), leave RCU, and fire the tracepoint if on.
 */
static __always_inline int ownbuf_borrow_publish(struct ownbuf_ref *ref,
						 unsigned long ip)
	__releases(RCU_SCHED)
{
	ref->ops = NULL;
	atomic_set_release(&ref->state, OWNBUF_STATE_LIVE);
	rcu_read_unlock_sched();
	if (trace_ownbuf_borrow_enabled())
		return ownbuf_borrow_traced(ref, ip);
	return 0;
}

/* A record the fast path left PENDING: decided as the full way would. */
static noinline int
ownbuf_borrow_decide(struct ownbuf *b, struct ownbuf_slot *slot, u64 gen,
		     u64 h, struct ownbuf_ref *ref, unsigned long ip)
	__releases(RCU_SCHED)
{
	int ret;
	u64 seen;

	ret = ownbuf_share_redo(b, h, slot, gen, ip, &seen);
	if (!ret) {
		ownbuf_ref_fill(ref, b, slot, gen, OWNBUF_SHARED);
		return ownbuf_borrow_publish(ref, ip);
	}
	if (ret == -EBUSY) {
		ownbuf_report_borrow(b, ret, seen, ip);
		rcu_read_unlock_sched();
		return ret;
	}
	rcu_read_unlock_sched();
	return ownbuf_borrow_slow(h, OWNBUF_SHARED, NULL, ref, ip);
}

/*
 * The fast mut borrow of ownbuf_borrow_ops(), which checked the call and
 * found @b in @h's table slot: the caller holds @b by RCU, which this
 * ends.
 */
static noinline int ownbuf_borrow_mut_fast(struct ownbuf *b, u64 h,
					   struct ownbuf_ref *ref,
					   unsigned long ip)
	__releases(RCU_SCHED)
{
	u64 gen, bad;

	bad = ownbuf_take_excl_try(b, OWNBUF_S_MUT, true, h, &gen);
	if (unlikely(bad)) {
		if (unlikely(bad & OWNBUF_S_DEAD))
			return ownbuf_borrow_finish(b, h, ref, ip);
		rcu_read_unlock_sched();
		return ownbuf_borrow_slow(h, OWNBUF_MUT, NULL, ref, ip);
	}
	ownbuf_slot_note(&b->mut, ip);
	ownbuf_ref_fill(ref, b, &b->mut, gen, OWNBUF_MUT);
	return ownbuf_borrow_publish(ref, ip);
}

/**
 * ownbuf_borrow_ops() - lend a buffer out, with callbacks
 * @h: the owner's handle.
 * @flags: %OWNBUF_SHARED or %OWNBUF_MUT, optionally | %OWNBUF_WAIT.
 * @ops: callbacks, or NULL.  @ops->revoke is called once when the borrow
 *	ends, whatever ends it.
 * @ref: token storage, zeroed or holding an ended borrow; filled in on
 *	success.
 *
 * A shared borrow is refused while the mut borrow is out or a write is in
 * flight; the mut borrow while anything is lent out or accessed.  With
 * %OWNBUF_WAIT the call sleeps until the borrow can be granted instead.
 *
 * Context: without @ops and %OWNBUF_WAIT, any but NMI (no lock, no sleep);
 * otherwise may sleep.  In interrupt context or with interrupts off, a
 * borrow that races another one being taken of the same buffer may be
 * refused (-EBUSY) rather than wait for it: such a wait could deadlock.
 *
 * Return: 0; -EINVAL/-ESTALE for a NULL or dead handle; then -EINVAL for
 * a NULL @ref, bad @flags or a @ref holding a live borrow; -EBUSY on a
 * conflict (data_race); -EOVERFLOW if the buffer has max_shared shared
 * borrows (at once, even with %OWNBUF_WAIT); -EINTR if a signal
 * interrupted the wait; -ENOMEM if a buffer with many shared borrows
 * needed room to record one more.
 */
int ownbuf_borrow_ops(struct ownbuf_handle h, unsigned int flags,
		      const struct ownbuf_ref_ops *ops, struct ownbuf_ref *ref)
{
	unsigned long ip = _RET_IP_;
	struct ownbuf_slot *slot;
	struct ownbuf *b;
	u64 gen, bad;
	int r;

	/*
	 * The common borrow in few branches, no call and no stack canary
	 * (nothing of its frame escapes): no callbacks, no waiting, a token
	 * that holds nothing, a buffer with nothing in the way.  Anything
	 * else leaves no trace (no report, nothing anybody waits for) and
	 * the full way, ownbuf_do_borrow(), decides again from scratch.
	 */
	if (unlikely(!ref))
		goto slow;
	rcu_read_lock_sched();
	/* Which buffer @h names is checked once the borrow is recorded. */
	b = ownbuf_lookup_any(h.val);
	/* One test: no callbacks, one kind, an unused token, an object. */
	bad = (unsigned long)ops | ((flags - 1) >> 1);
	bad |= (atomic_read(&ref->state) & OWNBUF_REF_STATE) ==
	       OWNBUF_STATE_LIVE;
	bad |= !b;
	if (unlikely(bad))
		goto slow_unlock;
	/* Its own function: the shared borrow's then saves no register. */
	if (flags == OWNBUF_MUT)
		return ownbuf_borrow_mut_fast(b, h.val, ref, ip);
	r = ownbuf_share_try(b, h.val, ip, &slot, &gen);
	if (unlikely(r)) {
		if (r == OWNBUF_TRY_UNDECIDED)
			return ownbuf_borrow_decide(b, slot, gen, h.val, ref,
						    ip);
		rcu_read_unlock_sched();
		/* Known by now: fewer registers kept for this. */
		return ownbuf_borrow_slow(h.val, OWNBUF_SHARED, NULL, ref, ip);
	}
	/* The kind a constant: one register less. */
	ownbuf_ref_fill(ref, b, slot, gen, OWNBUF_SHARED);
	return ownbuf_borrow_publish(ref, ip);

slow_unlock:
	rcu_read_unlock_sched();
slow:
	return ownbuf_borrow_slow(h.val, flags, ops, ref, ip);
}
EXPORT_SYMBOL_GPL(ownbuf_borrow_ops);

/* For /dev/ownbuf; the in-kernel API saves itself the call. */
int __ownbuf_borrow(struct ownbuf_handle *hp, unsigned int flags,
		    const struct ownbuf_ref_ops *ops, struct ownbuf_ref *ref,
		    unsigned long ip)
{
	return ownbuf_do_borrow(hp, flags, ops, ref, ip);
}

/*
 * The rest of giving a shared record back, under RCU: the record was not
 * freed as LIVE (@freed false: revoked, or not the token's any more), or
 * it was in a block, or the buffer is dead, or somebody waits.
 */
static noinline int ownbuf_ref_untake_rare(struct ownbuf_ref *ref, bool freed)
{
	u64 w = ref->gen | OWNBUF_SLOT_REVOKED;
	struct ownbuf *b = ref->buf;
	int ret = 0;

	if (!freed) {
		if (!atomic64_try_cmpxchg(&ref->slot->word, &w,
					  ref->gen | OWNBUF_SLOT_FREE))
			return -ENOENT;
		ret = -ESTALE;
	}
	if (ref->kind & OWNBUF_REF_IN_BLOCK)
		atomic_dec(&b->over_live);
	/* The cmpxchg that freed it was a full barrier before this read. */
	if (unlikely(atomic64_read(&b->state) & OWNBUF_S_DEAD))
		ownbuf_maybe_finish(b);
	/* After a full barrier, pairing with prepare_to_wait(). */
	else if (unlikely(waitqueue_active(&b->wq)))
		wake_up_all(&b->wq);
	return ret;
}

/*
 * Free the shared record of @ref inside the caller's RCU section: whether
 * it was the token's in *@freedp, and true if the rare end is due (not
 * freed, in a block, dead, or somebody waits): ownbuf_ref_untake_rare().
 */
static __always_inline bool
ownbuf_ref_untake_shared_try(struct ownbuf_ref *ref, bool *freedp)
{
	struct ownbuf *b = ref->buf;
	u64 w = ref->gen | OWNBUF_SLOT_LIVE, rare;

	/*
	 * A cmpxchg from the token's LIVE word, which fails for a record
	 * that is not the token's any more: no need to read it first.
	 */
	*freedp = atomic64_try_cmpxchg(&ref->slot->word, &w,
				       ref->gen | OWNBUF_SLOT_FREE);
	ownbuf_window(OWNBUF_WIN_UNTRY, b);
	/* A test of the flags the cmpxchg left: cheaper than merging it. */
	if (unlikely(!*freedp))
		return true;
	rare = ref->kind & OWNBUF_REF_IN_BLOCK;
	rare |= atomic64_read(&b->state) & OWNBUF_S_DEAD;
	/* After the cmpxchg's full barrier, pairing with prepare_to_wait(). */
	rare |= waitqueue_active(&b->wq);
	return rare;
}

/*
 * Give the record of a borrow back.  Returns 0, -ESTALE if it had been
 * revoked, or -ENOENT for a record that is not the token's any more (the
 * token was restored from a copy): then nothing was given back.
 */
static __always_inline int ownbuf_ref_untake_shared(struct ownbuf_ref *ref)
{
	bool freed;
	int ret = 0;

	/* Once the record is free, a dead buffer may be finished: RCU first. */
	rcu_read_lock_sched();
	if (unlikely(ownbuf_ref_untake_shared_try(ref, &freed)))
		ret = ownbuf_ref_untake_rare(ref, freed);
	rcu_read_unlock_sched();
	return ret;
}

/*
 * The same for the mut borrow, whose record the caller saw LIVE with the
 * token's generation.  While MUT is held (it keeps the object) only this
 * borrow writes its record, but for the revoker marking it REVOKED, which
 * this overwrites: a plain store, before MUT is given back, so that a
 * restored token finds the record FREE.  Whether it was revoked is decided
 * on the state word: the revoker counts it if MUT was held when it set
 * DEAD, and then DEAD is set when MUT is given back.
 */
static __always_inline int ownbuf_ref_untake_mut(struct ownbuf_ref *ref)
{
	atomic64_set(&ref->slot->word, ref->gen | OWNBUF_SLOT_FREE);
	if (unlikely(ownbuf_give(ref->buf, OWNBUF_S_MUT) & OWNBUF_S_DEAD))
		return -ESTALE;
	return 0;
}

static __always_inline int ownbuf_ref_untake(struct ownbuf_ref *ref)
{
	if ((ref->kind & OWNBUF_REF_KIND) == OWNBUF_MUT)
		return ownbuf_ref_untake_mut(ref);
	return ownbuf_ref_untake_shared(ref);
}

/*
 * End the borrow of @ref, whose ending we own (its state went LIVE ->
 * RELEASED): run its callback if the revoker does not, then give its
 * record back.  Returns -ESTALE if it had been revoked, -ENOENT if the
 * record was not the token's (a restored token), else 0.
 */
static __always_inline int ownbuf_ref_end(struct ownbuf_ref *ref)
{
	struct ownbuf *b = ref->buf;
	bool call = false;

	if (ref->ops) {
		mutex_lock(&b->hook_lock);
		if (READ_ONCE(ref->hook) == OWNBUF_HOOK_LISTED) {
			list_del_init(&ref->node);
			ref->hook = OWNBUF_HOOK_DONE;
			/* Not dead (revoke unlists first): keep the memory. */
			atomic64_add(OWNBUF_S_PIN_ONE, &b->state);
			call = true;
		}
		mutex_unlock(&b->hook_lock);
		if (call) {
			ref->ops->revoke(ref);
			/*
			 * A mut borrow with callbacks may have been mapped:
			 * what the mapping wrote past the size is discarded.
			 */
			if ((ref->kind & OWNBUF_REF_KIND) == OWNBUF_MUT &&
			    !(atomic64_read(&b->state) & OWNBUF_S_DEAD))
				memset(b->data + b->size, 0,
				       PAGE_ALIGN(b->size) - b->size);
			ownbuf_give(b, OWNBUF_S_PIN_ONE);
		} else if (READ_ONCE(b->revoker) != current) {
			/* The revoker calls it: our token must outlive that. */
			wait_var_event(&ref->hook, smp_load_acquire(&ref->hook) ==
				       OWNBUF_HOOK_DONE);
		}
	}
	return ownbuf_ref_untake(ref);
}

/* Claim the ending of a live borrow: LIVE with no unsafe section open. */
static __always_inline bool ownbuf_ref_claim(struct ownbuf_ref *ref)
{
	int s = OWNBUF_STATE_LIVE;

	return atomic_try_cmpxchg(&ref->state, &s, OWNBUF_STATE_RELEASED);
}

/* A borrow ended that had been revoked (-ESTALE) or restored (-ENOENT). */
static noinline int ownbuf_release_ended(struct ownbuf_ref *ref, int ret,
					 unsigned long ip)
{
	if (ret == -ESTALE) {
		/* The first release of a revoked borrow still ends it. */
		atomic_set(&ref->state, OWNBUF_STATE_REVOKED);
		ownbuf_report(OWNBUF_USE_AFTER_FREE, ref->id, ip,
			      "borrow revoked: its owner went away");
	} else {
		ownbuf_report(OWNBUF_DOUBLE_FREE, ref->id, ip,
			      "borrow already released (a restored token)");
		ret = -ESTALE;
	}
	return ret;
}

/* The tracepoint of a borrow ended, or the error of an ended one. */
static int ownbuf_release_done(struct ownbuf_ref *ref, int ret,
			       unsigned long ip)
{
	if (likely(!ret)) {
		trace_ownbuf_release(ref->id, ref->kind & OWNBUF_REF_KIND, ip);
		return 0;
	}
	return ownbuf_release_ended(ref, ret, ip);
}

/*
 * The ends of ownbuf_release() that make calls, each called last (a jump)
 * so that its fast path saves no register; the caller holds RCU, which
 * these end.
 */

/* A shared record not freed as LIVE, in a block, or dead, or waited for. */
static noinline int ownbuf_release_shared_rare(struct ownbuf_ref *ref,
					       bool freed, unsigned long ip)
	__releases(RCU_SCHED)
{
	int ret = ownbuf_ref_untake_rare(ref, freed);

	rcu_read_unlock_sched();
	return ownbuf_release_done(ref, ret, ip);
}

/* MUT given back (leaving state @s) of a dead buffer, or one waited for. */
static noinline int ownbuf_release_mut_rare(struct ownbuf_ref *ref,
					    struct ownbuf *b, u64 s,
					    unsigned long ip)
	__releases(RCU_SCHED)
{
	ownbuf_give_end(b, OWNBUF_S_MUT, s);
	return ownbuf_release_done(ref, (s & OWNBUF_S_DEAD) ? -ESTALE : 0, ip);
}

/* The tracepoint of a borrow ended the fast way, when it is on. */
static noinline int ownbuf_release_traced(struct ownbuf_ref *ref,
					  unsigned long ip)
{
	trace_ownbuf_release(ref->id, ref->kind & OWNBUF_REF_KIND, ip);
	return 0;
}

static noinline int ownbuf_do_release(struct ownbuf_ref *ref, unsigned long ip)
{
	int ret;

	ret = ownbuf_ref_validate(ref, OWNBUF_OP_RELEASE, true, ip);
	if (ret)
		return ret;
	if (ref->ops)
		might_sleep();
	if (!ownbuf_ref_claim(ref)) {
		if (atomic_read(&ref->state) & ~OWNBUF_REF_STATE) {
			ownbuf_report(OWNBUF_DATA_RACE, ref->id, ip,
				      "borrow released inside an unsafe section");
			return -EBUSY;
		}
		/* Lost a race with another release of the same token. */
		return ownbuf_ref_validate(ref, OWNBUF_OP_RELEASE, true, ip) ?:
		       -ESTALE;
	}
	ret = ownbuf_ref_end(ref);
	if (ret)
		return ownbuf_release_ended(ref, ret, ip);
	trace_ownbuf_release(ref->id, ref->kind & OWNBUF_REF_KIND, ip);
	return 0;
}

/**
 * ownbuf_release() - give a borrow back
 * @ref: the token.
 *
 * Releasing twice is a double_free, whatever was written into the token
 * meanwhile.  Releasing a borrow that was revoked fails with -ESTALE (a
 * use_after_free), so that the borrower learns its borrow ended early; the
 * first such release still ends the borrow.  Either way the token can
 * then be used for another borrow.
 *
 * Context: any but NMI without ->revoke callbacks; otherwise may sleep.
 *
 * Return: 0; -EINVAL for the NULL borrow; -ESTALE if already released or
 * revoked; -EBUSY inside an unsafe section (data_race).
 */
int ownbuf_release(struct ownbuf_ref *ref)
{
	int st = OWNBUF_STATE_LIVE;
	unsigned long ip = _RET_IP_;
	struct ownbuf *b;
	u64 bad, w;
	bool freed;

	/*
	 * The common release in few branches, no call and no stack canary:
	 * a genuine live token without callbacks or an unsafe section,
	 * whose record is its own.  If it is not that, nothing is changed
	 * and the full way, ownbuf_do_release(), decides.  Otherwise the
	 * claim of the token is its last check and the borrow is ended: 0,
	 * or the error of a borrow revoked meanwhile.
	 */
	if (unlikely(!ref))
		goto slow;
	bad = ownbuf_ref_forged(ref);
	bad |= (unsigned long)READ_ONCE(ref->ops);
	if (unlikely(bad))
		goto slow;
	/*
	 * No callbacks: the end of the borrow is its record's.  What the
	 * token names is read again once claimed, as ownbuf_ref_end() does:
	 * a racing release and borrow into the same token in between make
	 * the claim end that borrow, not the one checked.
	 */
	if ((ref->kind & OWNBUF_REF_KIND) == OWNBUF_MUT) {
		/* Its record is freed by a plain store: the token's first. */
		if (unlikely(atomic64_read(&ref->slot->word) !=
			     (ref->gen | OWNBUF_SLOT_LIVE)) ||
		    unlikely(!atomic_try_cmpxchg(&ref->state, &st,
						 OWNBUF_STATE_RELEASED)))
			goto slow;
		b = ref->buf;
		/* As ownbuf_ref_untake_mut(), the rare end a jump. */
		atomic64_set(&ref->slot->word, ref->gen | OWNBUF_SLOT_FREE);
		rcu_read_lock_sched();
		if (unlikely(ownbuf_give_try(b, OWNBUF_S_MUT, &w)))
			return ownbuf_release_mut_rare(ref, b, w, ip);
	} else {
		if (unlikely(!atomic_try_cmpxchg(&ref->state, &st,
						 OWNBUF_STATE_RELEASED)))
			goto slow;
		/* As ownbuf_ref_untake_shared(), the rare end a jump. */
		rcu_read_lock_sched();
		if (unlikely(ownbuf_ref_untake_shared_try(ref, &freed)))
			return ownbuf_release_shared_rare(ref, freed, ip);
	}
	rcu_read_unlock_sched();
	if (trace_ownbuf_release_enabled())
		return ownbuf_release_traced(ref, ip);
	return 0;

slow:
	return ownbuf_do_release(ref, ip);
}
EXPORT_SYMBOL_GPL(ownbuf_release);

/* For /dev/ownbuf; the in-kernel API saves itself the call. */
int __ownbuf_release(struct ownbuf_ref *ref, unsigned long ip)
{
	return ownbuf_do_release(ref, ip);
}

/**
 * ownbuf_ref_discard() - end a borrow, whatever became of it, silently
 * @ref: the token.
 *
 * For teardown paths (a file being closed, a device going away) that must
 * end a borrow without caring whether it is still live: never fails,
 * never counts a violation, does nothing for a token that holds nothing.
 * Must not be called inside an unsafe section.
 *
 * Context: as ownbuf_release().
 */
void ownbuf_ref_discard(struct ownbuf_ref *ref)
{
	u64 w;

	if (!ref || (atomic_read(&ref->state) & OWNBUF_REF_STATE) !=
		    OWNBUF_STATE_LIVE)
		return;
	w = ownbuf_ref_word(ref);
	if (w != (ref->gen | OWNBUF_SLOT_LIVE) &&
	    w != (ref->gen | OWNBUF_SLOT_REVOKED))
		return;
	if (ownbuf_ref_claim(ref)) {
		if (!ownbuf_ref_end(ref))
			trace_ownbuf_release(ref->id, ref->kind & OWNBUF_REF_KIND,
					     _RET_IP_);
		return;
	}
	/* In-kernel misuse: ending a borrow whose raw memory is in use. */
	WARN_ON_ONCE(atomic_read(&ref->state) & ~OWNBUF_REF_STATE);
}
EXPORT_SYMBOL_GPL(ownbuf_ref_discard);

void ownbuf_ref_init(void)
{
	ownbuf_ref_key = get_random_long();
}
