// SPDX-License-Identifier: GPL-2.0
/*
 * ownbuf engine: the records of borrows as a whole (scanning them, waiting
 * out the ones being taken), shared borrows the way that tells every case
 * apart (the exact count, blocks of records), the end of a buffer, who
 * holds a borrow (for the debugfs file and the reports of conflicts), what
 * a borrow token says when it is not simply live, and ownbuf_ref_stat().
 * The fast paths that take and give back records are ownbuf_engine.c; its
 * rules hold here too.
 */

#include <linux/atomic.h>
#include <linux/export.h>
#include <linux/gfp.h>
#include <linux/kcsan-checks.h>
#include <linux/kernel.h>
#include <linux/percpu.h>
#include <linux/preempt.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "ownbuf_compat.h"
#include "ownbuf_core.h"

/* --- records of borrows --- */

static void ownbuf_scan_slot(struct ownbuf_slot *slot, struct ownbuf_scan *sc)
{
	switch (atomic64_read(&slot->word) & OWNBUF_SLOT_STATE) {
	case OWNBUF_SLOT_FREE:
		break;
	case OWNBUF_SLOT_LIVE:
		if (!sc->live++)
			sc->ip = READ_ONCE(slot->ip);
		break;
	case OWNBUF_SLOT_PENDING:
		sc->pending++;
		break;
	default:
		sc->other++;
		break;
	}
}

/* What the shared borrow records of @b say; @blocks: those too. */
void ownbuf_scan(struct ownbuf *b, bool blocks, struct ownbuf_scan *sc)
{
	struct ownbuf_block *blk;
	int cpu, i;

	memset(sc, 0, sizeof(*sc));
	/* The common case: nothing lent out, no block of records. */
	if (ownbuf_cells_free(b) && (!blocks || !READ_ONCE(b->blocks)))
		return;
	/* Not for_each_possible_cpu(): no out-of-line call per CPU. */
	for (cpu = 0; cpu < nr_cpu_ids; cpu++) {
		if (!cpu_possible(cpu))
			continue;
		for (i = 0; i < OWNBUF_CELL_SLOTS; i++)
			ownbuf_scan_slot(ownbuf_cell_slot(b, cpu, i), sc);
	}
	if (!blocks)
		return;
	/* Acquire (both): pairs with the release that appends a block. */
	for (blk = smp_load_acquire(&b->blocks); blk;
	     blk = smp_load_acquire(&blk->next)) /* see above */
		for (i = 0; i < OWNBUF_BLOCK_SLOTS; i++)
			ownbuf_scan_slot(&blk->slot[i], sc);
}

/*
 * May the caller wait for a PENDING record or another CLAIM?  Either lasts
 * a few instructions that run with preemption off but interrupts on, so an
 * interrupt may stop them: whoever waits must not be such an interrupt
 * (or a softirq it runs on its way out) of that CPU, nor hold anything one
 * may want on another CPU (an irq- or bh-safe lock is held with interrupts
 * or bottom halves off).  Callers that may not wait refuse instead.
 */
bool ownbuf_may_wait_pending(void)
{
	return !in_interrupt() && !irqs_disabled();
}

/*
 * Wait out the shared borrows being taken (each takes a few instructions);
 * the caller holds nothing and ownbuf_may_wait_pending().
 */
void ownbuf_wait_pending(struct ownbuf *b, bool blocks)
{
	struct ownbuf_scan sc;

	for (;;) {
		ownbuf_scan(b, blocks, &sc);
		if (!sc.pending)
			return;
		cpu_relax();
	}
}

/* Borrows out: shared ones, and the mut one. */
unsigned int ownbuf_count_shared(struct ownbuf *b)
{
	struct ownbuf_scan sc;

	ownbuf_scan(b, false, &sc);
	return sc.live + atomic_read(&b->over_live);
}

/* --- shared borrows the way that tells the cases apart --- */

/*
 * Decide a shared borrow of @b, which handle @h named, recorded PENDING in
 * @slot: make it LIVE or give it up.  Preemption is off.  Returns 0,
 * -ESTALE, -EBUSY (*@seen), or -EAGAIN if the exact count must decide.
 */
static int ownbuf_share_decide(struct ownbuf *b, u64 h,
			       struct ownbuf_slot *slot, u64 gen, bool exact,
			       unsigned long ip, u64 *seen)
{
	/* The cmpxchg that made the record PENDING was a full barrier. */
	u64 s = atomic64_read_acquire(&b->state);

	for (;;) {
		if (unlikely(s & OWNBUF_S_DEAD) ||
		    unlikely(READ_ONCE(b->handle) != h))
			goto stale;
		if (unlikely(s & (OWNBUF_S_MUT | OWNBUF_S_WRITER))) {
			*seen = s;
			atomic64_set(&slot->word, gen | OWNBUF_SLOT_FREE);
			return -EBUSY;
		}
		if (unlikely(!exact && (s & OWNBUF_S_OVER))) {
			atomic64_set(&slot->word, gen | OWNBUF_SLOT_FREE);
			return -EAGAIN;
		}
		if (likely(!(s & OWNBUF_S_CLAIM)))
			break;
		/*
		 * An exclusive attempt is deciding: rather than wait for it,
		 * stop it committing (it looks again, and finds this record).
		 * A failed cmpxchg read the state again: decide again.
		 */
		if ((s & OWNBUF_S_YIELD) ||
		    atomic64_try_cmpxchg(&b->state, &s, s | OWNBUF_S_YIELD))
			break;
	}
	ownbuf_slot_note(slot, ip);
	atomic64_set_release(&slot->word, gen | OWNBUF_SLOT_LIVE);
	return 0;
stale:
	atomic64_set(&slot->word, gen | OWNBUF_SLOT_FREE);
	return -ESTALE;
}

/* ownbuf_share_decide() of a record just made PENDING. */
static __always_inline int
ownbuf_share_settle(struct ownbuf *b, u64 h, struct ownbuf_slot *slot, u64 gen,
		    bool exact, unsigned long ip, u64 *seen)
{
	ownbuf_window(OWNBUF_WIN_SHARED_UNDECIDED, b);
	return ownbuf_share_decide(b, h, slot, gen, exact, ip, seen);
}

/*
 * A record that the fast path (ownbuf_share_try()) left PENDING, decided
 * as the full way decides (an exclusive attempt deciding is made to give
 * way), not with a second record taken from scratch.  Returns 0
 * (taken), -EBUSY (*@seen: a conflict then), or -ESTALE or -EAGAIN, for
 * which the full way decides again.  Unless taken, the record was given
 * up, and the buffer finished if it died meanwhile.
 */
int ownbuf_share_redo(struct ownbuf *b, u64 h, struct ownbuf_slot *slot,
		      u64 gen, unsigned long ip, u64 *seen)
{
	int ret = ownbuf_share_decide(b, h, slot, gen, false, ip, seen);

	if (ret && (atomic64_read(&b->state) & OWNBUF_S_DEAD))
		ownbuf_maybe_finish(b);
	return ret;
}

/*
 * Take a shared borrow of @b through its exact count, under the lock.  The
 * caller holds @b by RCU or a reference; @gfp decides whether a block of
 * records may be allocated (and slept for).
 */
static int ownbuf_share_exact(struct ownbuf *b, u64 h, gfp_t gfp,
			      unsigned long ip, struct ownbuf_slot **slotp,
			      u64 *genp, u64 *seen)
{
	struct ownbuf_block *blk, *spare = NULL;
	bool may_wait = ownbuf_may_wait_pending();
	struct ownbuf_slot *slot;
	struct ownbuf_scan sc;
	unsigned long flags;
	u64 w = 0;
	int i, ret;

again:
	if (!(atomic64_read(&b->state) & OWNBUF_S_OVER))
		/* Fully ordered: records taken from now on see it. */
		atomic64_fetch_or(OWNBUF_S_OVER, &b->state);
	/* Those taken before: LIVE or given up in a few instructions. */
	if (may_wait)
		ownbuf_wait_pending(b, false);
	spin_lock_irqsave(&b->lock, flags);
	slot = NULL;
	for (blk = b->blocks; blk && !slot; blk = blk->next) {
		for (i = 0; i < OWNBUF_BLOCK_SLOTS; i++) {
			w = atomic64_read(&blk->slot[i].word);
			if ((w & OWNBUF_SLOT_STATE) == OWNBUF_SLOT_FREE) {
				slot = &blk->slot[i];
				break;
			}
		}
	}
	if (!slot && spare) {
		spare->next = b->blocks;
		/* Release: scanners without the lock see a whole block. */
		smp_store_release(&b->blocks, spare);
		slot = &spare->slot[0];
		w = 0;
		spare = NULL;
	}
	if (!slot) {
		spin_unlock_irqrestore(&b->lock, flags);
		spare = kzalloc(sizeof(*spare), gfp | __GFP_NOWARN);
		if (!spare)
			return -ENOMEM;
		goto again;
	}
	w = (w & ~OWNBUF_SLOT_STATE) + OWNBUF_SLOT_GEN_ONE;
	/* Fully ordered, like the fast path's. */
	atomic64_xchg(&slot->word, w | OWNBUF_SLOT_PENDING);
	ret = ownbuf_share_settle(b, h, slot, w, true, ip, seen);
	if (!ret) {
		/*
		 * Conflicts first, then the cap (the contract's order).  A
		 * record still PENDING in a cell may yet be LIVE: if it
		 * decides, wait for it (without the lock) where we may.
		 * OVER may have been reset since (an exclusive borrow came
		 * and went): set again, fully ordered before the scan, it
		 * stays while our record is out, so no record taken after
		 * the scan is LIVE.
		 */
		if (!(atomic64_read(&b->state) & OWNBUF_S_OVER))
			atomic64_fetch_or(OWNBUF_S_OVER, &b->state);
		/* OVER seen or set, then the records (Dekker, as above). */
		smp_mb();
		ownbuf_scan(b, false, &sc);
		sc.live += atomic_read(&b->over_live);
		if (sc.live + sc.pending < READ_ONCE(ownbuf_max_shared)) {
			atomic_inc(&b->over_live);
			*slotp = slot;
			*genp = w | OWNBUF_GEN_IN_BLOCK;
		} else {
			atomic64_set(&slot->word, w | OWNBUF_SLOT_FREE);
			ret = -EOVERFLOW;
			if (may_wait && sc.live < READ_ONCE(ownbuf_max_shared))
				ret = -EAGAIN;
		}
	}
	spin_unlock_irqrestore(&b->lock, flags);
	if (ret == -EAGAIN) {
		cpu_relax();
		goto again;
	}
	kfree(spare);
	return ret;
}

/*
 * Take a shared borrow of @b, which handle @h named: a record in this
 * CPU's cell while the CPU has fewer than its share, otherwise the exact
 * count.  The caller holds @b by RCU or a reference.  Returns 0 (the
 * record in *@slotp, *@genp), -ESTALE, -EBUSY (*@seen), -EOVERFLOW or
 * -ENOMEM.
 */
int ownbuf_share_slow(struct ownbuf *b, u64 h, gfp_t gfp, unsigned long ip,
		      struct ownbuf_slot **slotp, u64 *genp, u64 *seen)
{
	bool preempt = gfpflags_allow_blocking(gfp);
	struct ownbuf_slot *slot;
	struct ownbuf_cell *cell;
	unsigned int used;
	u64 w = 0, cur;
	int i, ret;

	/*
	 * Preemption off: a record is PENDING for a few instructions.  An
	 * interrupt may take records of this cell meanwhile, so a record is
	 * picked by cmpxchg, and the cell counted again once it is ours.
	 */
	if (preempt)
		preempt_disable();
	cell = this_cpu_ptr(b->cells);
again:
	slot = NULL;
	used = 0;
	for (i = 0; i < OWNBUF_CELL_SLOTS; i++) {
		cur = atomic64_read(&cell->slot[i].word);
		if (cur & OWNBUF_SLOT_STATE) {
			used++;
		} else if (!slot) {
			slot = &cell->slot[i];
			w = cur;
		}
	}
	ret = -EAGAIN;
	if (slot && used < READ_ONCE(ownbuf_fast_cap)) {
		/* Fully ordered, before the state is read. */
		if (!atomic64_try_cmpxchg(&slot->word, &w,
					  (w + OWNBUF_SLOT_GEN_ONE) |
					  OWNBUF_SLOT_PENDING))
			goto again;
		w += OWNBUF_SLOT_GEN_ONE;
		used = 0;
		for (i = 0; i < OWNBUF_CELL_SLOTS; i++)
			if (&cell->slot[i] != slot &&
			    (atomic64_read(&cell->slot[i].word) &
			     OWNBUF_SLOT_STATE))
				used++;
		if (used < READ_ONCE(ownbuf_fast_cap))
			ret = ownbuf_share_settle(b, h, slot, w, false, ip,
						  seen);
		else
			atomic64_set(&slot->word, w | OWNBUF_SLOT_FREE);
	}
	if (preempt)
		preempt_enable();
	if (!ret) {
		*slotp = slot;
		*genp = w;
		return 0;
	}
	if (ret == -EAGAIN)
		ret = ownbuf_share_exact(b, h, gfp, ip, slotp, genp, seen);
	if (ret == -ESTALE && (atomic64_read(&b->state) & OWNBUF_S_DEAD))
		ownbuf_maybe_finish(b);
	return ret;
}

/* --- the end of a buffer --- */

/*
 * @b became DEAD and nothing is BUSY: its memory is the caller's to free
 * (ownbuf_free_data()), once.
 */
void *ownbuf_data_take(struct ownbuf *b)
{
	void *data = b->data;

	/* Nobody else touches it any more: DEAD, and nothing in flight. */
	ASSERT_EXCLUSIVE_ACCESS(b->data);
	WRITE_ONCE(b->data, NULL);
	return data;
}

/*
 * A dead buffer that nothing refers to any more (nothing BUSY, no borrow
 * record in use) is finished, once: the state lets go of the object.
 * Called by everybody who gave something back to a dead buffer, under RCU
 * or with a reference: of the last ones, at least one sees it all free.
 */
void ownbuf_maybe_finish(struct ownbuf *b)
{
	struct ownbuf_scan sc;
	s64 s = atomic64_read(&b->state);

	do {
		if (!(s & OWNBUF_S_DEAD) ||
		    (s & (OWNBUF_S_BUSY | OWNBUF_S_MUT | OWNBUF_S_CLAIM |
			  OWNBUF_S_FINISHED)))
			return;
		ownbuf_scan(b, true, &sc);
		if (sc.live || sc.pending || sc.other)
			return;
	} while (!atomic64_try_cmpxchg(&b->state, &s, s | OWNBUF_S_FINISHED));
	ownbuf_obj_put(b);
}

/* --- who holds what: for the debugfs file and the reports --- */

/*
 * The borrow of generation @gen, just taken the slow way, is the current
 * task's.  Nobody can end it yet (its token is not published), so nothing
 * else writes the record meanwhile.
 */
void ownbuf_slot_note_task(struct ownbuf_slot *slot, u64 gen)
{
	WRITE_ONCE(slot->pid, task_pid_nr(current));
	/* Read racily, and checked after, by ownbuf_slot_holder(). */
	memcpy(slot->comm, current->comm, sizeof(slot->comm));
	atomic64_set_release(&slot->task, gen);
}

/* The borrow of generation @gen was mmap()ed (if the record is still its). */
void ownbuf_slot_note_mapped(struct ownbuf_slot *slot, u64 gen)
{
	atomic64_cmpxchg(&slot->task, gen, gen | OWNBUF_TASK_MAPPED);
}

/*
 * Who holds the borrow of record @slot, of @kind, if it is LIVE: true and
 * *@hd, read without a lock.  A record that changed meanwhile is not
 * reported; the mut borrow's @ip and @since are written just after it is
 * LIVE, so they may be its predecessor's for a moment.
 */
bool ownbuf_slot_holder(struct ownbuf_slot *slot, u32 kind,
			struct ownbuf_holder *hd)
{
	u64 w = atomic64_read_acquire(&slot->word), t;

	if ((w & OWNBUF_SLOT_STATE) != OWNBUF_SLOT_LIVE)
		return false;
	hd->kind = kind;
	hd->ip = READ_ONCE(slot->ip);
	hd->since = READ_ONCE(slot->since);
	hd->pid = 0;
	hd->mapped = false;
	hd->comm[0] = '\0';
	t = atomic64_read_acquire(&slot->task);
	if ((t & ~OWNBUF_TASK_MAPPED) == (w & ~OWNBUF_SLOT_STATE)) {
		hd->pid = READ_ONCE(slot->pid);
		/* Torn only if the record moved on: checked below. */
		data_race(memcpy(hd->comm, slot->comm, sizeof(hd->comm)));
		hd->comm[sizeof(hd->comm) - 1] = '\0';
		hd->mapped = t & OWNBUF_TASK_MAPPED;
	}
	smp_rmb();	/* what the record says, before the word again */
	if (atomic64_read(&slot->word) != w) {
		hd->kind = OWNBUF_HOLDER_NONE;
		return false;
	}
	return true;
}

/**
 * ownbuf_ref_holder() - who took a borrow, when, and whether it is mapped
 * @ref: the borrow.
 * @hd: filled in if it is live.
 *
 * For /proc/PID/fdinfo of a borrow's file.
 *
 * Return: true if @ref is a live borrow, false otherwise.
 */
bool ownbuf_ref_holder(struct ownbuf_ref *ref, struct ownbuf_holder *hd)
{
	u64 w;

	if ((atomic_read(&ref->state) & OWNBUF_REF_STATE) != OWNBUF_STATE_LIVE)
		return false;
	w = ref->gen | OWNBUF_SLOT_LIVE;
	return ownbuf_ref_word(ref) == w &&
	       ownbuf_slot_holder(ref->slot, ref->kind & OWNBUF_REF_KIND, hd) &&
	       atomic64_read(&ref->slot->word) == w;
}

/* The current task, called from @ip, did something to a buffer now. */
void ownbuf_who_note(struct ownbuf_who *who, unsigned long ip)
{
	who->ip = ip;
	who->since = jiffies;
	who->pid = task_pid_nr(current);
	memcpy(who->comm, current->comm, sizeof(who->comm));
}

/* --- tokens --- */

/*
 * The rest of ownbuf_ref_validate(), out of the fast path: why @ref is
 * refused (reported), or 0 if it passes after all.
 */
int ownbuf_ref_refuse(struct ownbuf_ref *ref, enum ownbuf_op op,
		      bool any_record, unsigned long ip)
{
	enum ownbuf_violation v;
	u64 w;

	if (!ref) {
		ownbuf_report(OWNBUF_NULL_DEREF, 0, ip, "NULL borrow pointer");
		return -EINVAL;
	}
	switch (atomic_read(&ref->state) & OWNBUF_REF_STATE) {
	case 0:
		ownbuf_report(OWNBUF_NULL_DEREF, 0, ip,
			      "NULL borrow (token never borrowed)");
		return -EINVAL;
	case OWNBUF_STATE_RELEASED:
		v = op == OWNBUF_OP_RELEASE ? OWNBUF_DOUBLE_FREE :
					      OWNBUF_USE_AFTER_FREE;
		ownbuf_report(v, ref->id, ip, "borrow already released");
		return -ESTALE;
	case OWNBUF_STATE_REVOKED:
		ownbuf_report(OWNBUF_USE_AFTER_FREE, ref->id, ip,
			      "borrow revoked: its owner went away");
		return -ESTALE;
	case OWNBUF_STATE_LIVE:
		w = ownbuf_ref_word(ref);
		if (likely(w == (ref->gen | OWNBUF_SLOT_LIVE)))
			return 0;
		if (w == (ref->gen | OWNBUF_SLOT_REVOKED)) {
			if (any_record)
				return 0;
			ownbuf_report(OWNBUF_USE_AFTER_FREE, ref->id, ip,
				      "borrow revoked: its owner went away");
			return -ESTALE;
		}
		if (w && op == OWNBUF_OP_RELEASE) {
			/* Its record moved on: this token was restored. */
			ownbuf_report(OWNBUF_DOUBLE_FREE, ref->id, ip,
				      "borrow already released (a restored token)");
			return -ESTALE;
		}
		break;
	}
	ownbuf_report(OWNBUF_USE_AFTER_FREE, 0, ip,
		      "not a live borrow (garbage, a copy or a restored token)");
	return -ESTALE;
}

/**
 * ownbuf_ref_state() - what became of a borrow
 * @ref: the token.
 *
 * Context: any.
 *
 * Return: OWNBUF_STATE_LIVE, OWNBUF_STATE_RELEASED, OWNBUF_STATE_REVOKED,
 * or 0 for the NULL borrow or a token ownbuf did not hand out (garbage, a
 * copy, a token restored from a saved copy).
 */
int ownbuf_ref_state(const struct ownbuf_ref *ref)
{
	int state;
	u64 w;

	if (!ref)
		return 0;
	state = atomic_read(&ref->state) & OWNBUF_REF_STATE;
	if (state != OWNBUF_STATE_LIVE)
		return state;
	w = ownbuf_ref_word(ref);
	if (w == (ref->gen | OWNBUF_SLOT_REVOKED))
		return OWNBUF_STATE_REVOKED;
	if (w != (ref->gen | OWNBUF_SLOT_LIVE))
		return 0;
	/* LIVE records keep the object from being finished. */
	if (atomic64_read(&ref->buf->state) & OWNBUF_S_DEAD)
		return OWNBUF_STATE_REVOKED;
	return OWNBUF_STATE_LIVE;
}
EXPORT_SYMBOL_GPL(ownbuf_ref_state);

/**
 * ownbuf_ref_check() - refuse a dead borrow the way a use would
 * @ref: the token.
 * @op: what the caller is about to do with it.
 * @ip: who is blamed.
 *
 * Return: 0 if @ref is a live borrow, else -EINVAL or -ESTALE, reported.
 */
int ownbuf_ref_check(struct ownbuf_ref *ref, enum ownbuf_op op,
		     unsigned long ip)
{
	int ret = ownbuf_ref_validate(ref, op, false, ip);

	if (ret)
		return ret;
	if (ownbuf_ref_state(ref) != OWNBUF_STATE_LIVE) {
		ownbuf_report(OWNBUF_USE_AFTER_FREE, ref->id, ip,
			      "borrow revoked: its owner went away");
		return -ESTALE;
	}
	return 0;
}

/**
 * ownbuf_ref_stat() - size, id and borrow counts, through a borrow
 * @ref: the token.
 * @st: filled in on success.
 *
 * Context: any.
 *
 * Return: 0, or -EINVAL/-ESTALE for a NULL or dead borrow, then -EINVAL
 * for a NULL @st.
 */
int ownbuf_ref_stat(struct ownbuf_ref *ref, struct ownbuf_stat *st)
{
	unsigned long ip = _RET_IP_;
	struct ownbuf_stat tmp;
	int ret;

	ret = ownbuf_ref_validate(ref, OWNBUF_OP_USE, false, ip);
	if (ret)
		return ret;
	if (!st) {
		ownbuf_report(OWNBUF_NULL_DEREF, ref->id, ip,
			      "NULL stat pointer");
		return -EINVAL;
	}
	ownbuf_window(OWNBUF_WIN_REF, ref->buf);
	rcu_read_lock_sched();
	ret = -ESTALE;
	if (atomic64_read(&ref->slot->word) == (ref->gen | OWNBUF_SLOT_LIVE))
		ret = ownbuf_snapshot(ref->buf, &tmp);
	rcu_read_unlock_sched();
	if (ret) {
		ownbuf_report(OWNBUF_USE_AFTER_FREE, ref->id, ip,
			      "borrow released or revoked");
		return ret;
	}
	*st = tmp;
	return 0;
}
EXPORT_SYMBOL_GPL(ownbuf_ref_stat);
