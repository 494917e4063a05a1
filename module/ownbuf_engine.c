// SPDX-License-Identifier: GPL-2.0
/*
 * ownbuf engine: one owner per buffer, many readers XOR one writer, and no
 * borrow outliving its buffer, checked at run time.
 *
 * All the ownership logic of the module lives here (with the handle table
 * and the object pool in ownbuf_table.c and the reporting in
 * ownbuf_report.c); /dev/ownbuf (ownbuf_dev.c) only translates files and
 * user memory into these calls.  The state of a buffer is described at
 * OWNBUF_S_* in ownbuf_core.h.
 *
 * Three rules hold everywhere below:
 *  - Nothing waits for another caller.  Conflicts are refused at once;
 *    the only waits are spins over a few instructions that another CPU
 *    runs with interrupts off (CLAIM, PENDING records, the lock).
 *    Revocation never waits for an access in flight: the last one out
 *    frees the memory.
 *  - Whoever gives something back touches the object only inside an RCU
 *    read-side section (or holding a reference), because once the claim
 *    is given back another CPU may finish the buffer.
 *  - An attempt that is refused changes nothing anybody else can see:
 *    no count, no bit that refuses somebody else.
 */

#include <linux/atomic.h>
#include <linux/err.h>
#include <linux/export.h>
#include <linux/hash.h>
#include <linux/kcsan-checks.h>
#include <linux/kernel.h>
#include <linux/llist.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/overflow.h>
#include <linux/percpu.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/vmalloc.h>
#include <linux/wait_bit.h>
#include <linux/workqueue.h>

#include "ownbuf_compat.h"
#include "ownbuf_core.h"

/* struct ownbuf_ref.state: OWNBUF_STATE_* and the open unsafe sections. */
#define OWNBUF_REF_STATE	GENMASK(7, 0)
#define OWNBUF_REF_PIN_ONE	BIT(8)
/* struct ownbuf_ref.kind: OWNBUF_SHARED or OWNBUF_MUT, and where it is. */
#define OWNBUF_REF_KIND		(OWNBUF_SHARED | OWNBUF_MUT)
#define OWNBUF_REF_IN_BLOCK	BIT(8)
/* ownbuf_share()'s generation of a record in a block: never a real bit. */
#define OWNBUF_GEN_IN_BLOCK	OWNBUF_SLOT_PENDING

/* What the accesses that are not exclusive conflict with. */
#define OWNBUF_OWNER_READ_CONFLICT	(OWNBUF_S_MUT | OWNBUF_S_WRITER)
#define OWNBUF_REF_READ_CONFLICT	OWNBUF_S_WRITER
#define OWNBUF_REF_WRITE_CONFLICT	(OWNBUF_S_READERS | OWNBUF_S_WRITER)

/* Limits, read at the moment they apply. */
unsigned long ownbuf_max_size = SZ_64M;
static unsigned int ownbuf_max_shared = 1024;
/* Shared borrows a CPU records without counting the others. */
static unsigned int ownbuf_fast_cap __read_mostly;
/* Mixed into struct ownbuf_ref.check so that garbage is not trusted. */
static unsigned long ownbuf_ref_key __read_mostly;
static atomic64_t ownbuf_next_id = ATOMIC64_INIT(0);
static atomic_long_t ownbuf_data_count;

/* Largest max_size: offsets fit in loff_t, PAGE_ALIGN() never wraps. */
#define OWNBUF_MAX_SIZE_LIMIT \
	((unsigned long)min_t(u64, MAX_LFS_FILESIZE, SIZE_MAX >> 1) & PAGE_MASK)

static int ownbuf_param_set_max_size(const char *val,
				     const struct kernel_param *kp)
{
	unsigned long v;
	int ret;

	ret = kstrtoul(val, 0, &v);
	if (ret)
		return ret;
	if (!v || v > OWNBUF_MAX_SIZE_LIMIT)
		return -EINVAL;
	WRITE_ONCE(ownbuf_max_size, v);
	return 0;
}

static const struct kernel_param_ops ownbuf_max_size_ops = {
	.set = ownbuf_param_set_max_size,
	.get = param_get_ulong,
};
module_param_cb(max_size, &ownbuf_max_size_ops, &ownbuf_max_size, 0644);
MODULE_PARM_DESC(max_size, "Largest buffer in bytes (default 64 MiB)");

static void ownbuf_set_over(struct ownbuf *b)
{
	atomic64_or(OWNBUF_S_OVER, &b->state);
}

static void ownbuf_set_fast_cap(unsigned int max_shared)
{
	WRITE_ONCE(ownbuf_fast_cap,
		   min_t(unsigned int, OWNBUF_CELL_SLOTS,
			 max_shared / num_possible_cpus()));
}

#define OWNBUF_MAX_SHARED_LIMIT	(BIT(22) - 1)

static int ownbuf_param_set_max_shared(const char *val,
				       const struct kernel_param *kp)
{
	unsigned int v;
	int ret;

	ret = kstrtouint(val, 0, &v);
	if (ret)
		return ret;
	if (v > OWNBUF_MAX_SHARED_LIMIT)
		return -EINVAL;
	WRITE_ONCE(ownbuf_max_shared, v);
	ownbuf_set_fast_cap(v);
	/*
	 * Borrows already recorded per CPU may now exceed the cap: every
	 * buffer counts exactly from here, until it is next lent to nobody.
	 */
	smp_mb();
	ownbuf_table_for_each(ownbuf_set_over);
	return 0;
}

static const struct kernel_param_ops ownbuf_max_shared_ops = {
	.set = ownbuf_param_set_max_shared,
	.get = param_get_uint,
};
module_param_cb(max_shared, &ownbuf_max_shared_ops, &ownbuf_max_shared, 0644);
MODULE_PARM_DESC(max_shared, "Shared borrows per buffer (default 1024)");

/* --- the memory of a buffer --- */

/*
 * Allocation points, each a function so the KUnit suite can make it fail.
 * Buffers are whole pages because /dev/ownbuf maps them into userspace.
 */
VISIBLE_IF_KUNIT void *ownbuf_alloc_data(size_t size, gfp_t gfp)
{
	struct page *page;
	void *p;

	KUNIT_STATIC_STUB_REDIRECT(ownbuf_alloc_data, size, gfp);

	gfp |= __GFP_ZERO | __GFP_NOWARN;
	if (size > PAGE_SIZE) {
		p = __vmalloc(PAGE_ALIGN(size), gfp);
	} else {
		page = alloc_page(gfp);
		p = page ? page_address(page) : NULL;
	}
	if (p)
		atomic_long_inc(&ownbuf_data_count);
	return p;
}
EXPORT_SYMBOL_IF_KUNIT(ownbuf_alloc_data);

/*
 * vfree() may sleep, and the last access out of a dead buffer may be in
 * any context; vfree_atomic() is not exported.  So, as vfree_atomic()
 * does, queue the area on a list kept in its own first bytes and free it
 * from a work item.
 */
static LLIST_HEAD(ownbuf_vfree_list);

static void ownbuf_vfree_work_fn(struct work_struct *work)
{
	struct llist_node *n, *next;

	llist_for_each_safe(n, next, llist_del_all(&ownbuf_vfree_list))
		vfree(n);
}

static DECLARE_WORK(ownbuf_vfree_work, ownbuf_vfree_work_fn);

/* From any context: the last access out may be in an interrupt. */
void ownbuf_free_data(void *data, size_t size)
{
	if (!data)
		return;
	atomic_long_dec(&ownbuf_data_count);
	if (!is_vmalloc_addr(data)) {
		free_page((unsigned long)data);
	} else if (preemptible()) {
		vfree(data);
	} else {
		if (llist_add(data, &ownbuf_vfree_list))
			schedule_work(&ownbuf_vfree_work);
	}
}

/* --- records of borrows --- */

static struct ownbuf_slot *ownbuf_cell_slot(struct ownbuf *b, int cpu, int i)
{
	return &per_cpu_ptr(b->cells, cpu)->slot[i];
}

/**
 * struct ownbuf_scan - what the records of a buffer say
 * @live: borrows out (LIVE).
 * @pending: borrows being taken (PENDING), to wait for.
 * @other: records neither FREE, LIVE nor PENDING (REVOKED).
 * @ip: where one of the @live was taken.
 */
struct ownbuf_scan {
	unsigned int live;
	unsigned int pending;
	unsigned int other;
	unsigned long ip;
};

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
static void ownbuf_scan(struct ownbuf *b, bool blocks, struct ownbuf_scan *sc)
{
	struct ownbuf_block *blk;
	int cpu, i;

	memset(sc, 0, sizeof(*sc));
	for_each_possible_cpu(cpu)
		for (i = 0; i < OWNBUF_CELL_SLOTS; i++)
			ownbuf_scan_slot(ownbuf_cell_slot(b, cpu, i), sc);
	if (!blocks)
		return;
	/* Acquire (both): pairs with the release that appends a block. */
	for (blk = smp_load_acquire(&b->blocks); blk;
	     blk = smp_load_acquire(&blk->next)) /* see above */
		for (i = 0; i < OWNBUF_BLOCK_SLOTS; i++)
			ownbuf_scan_slot(&blk->slot[i], sc);
}

/* Wait out the shared borrows being taken (each takes a few instructions). */
static void ownbuf_wait_pending(struct ownbuf *b, bool blocks)
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
static unsigned int ownbuf_count_shared(struct ownbuf *b)
{
	struct ownbuf_scan sc;

	ownbuf_scan(b, false, &sc);
	return sc.live + atomic_read(&b->over_live);
}

/* --- the end of a buffer --- */

/*
 * @b became DEAD and nothing is BUSY: its memory is the caller's to free
 * (ownbuf_free_data()), once.
 */
static void *ownbuf_data_take(struct ownbuf *b)
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
static void ownbuf_maybe_finish(struct ownbuf *b)
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

/*
 * Give back @one (an access in flight, a pin, the mut borrow, REVOKING)
 * and wake whoever waits for it.
 */
static __always_inline void ownbuf_give(struct ownbuf *b, u64 one)
{
	void *data = NULL;
	u64 s;

	/* Once given back, a dead buffer may be finished by another CPU. */
	rcu_read_lock_sched();
	s = atomic64_sub_return(one, &b->state);
	ownbuf_window(OWNBUF_WIN_UNTRY, b);
	if (unlikely(s & OWNBUF_S_DEAD)) {
		/* The last access out frees the memory (below). */
		if ((one & OWNBUF_S_BUSY) && !(s & OWNBUF_S_BUSY))
			data = ownbuf_data_take(b);
		ownbuf_maybe_finish(b);
	}
	/* The atomic is a full barrier, pairing with prepare_to_wait(). */
	if (unlikely(waitqueue_active(&b->wq)))
		wake_up_all(&b->wq);
	rcu_read_unlock_sched();
	/* Outside the section: a sleeping caller frees at once. */
	if (unlikely(data))
		ownbuf_free_data(data, 0);
}

/* --- taking accesses and borrows --- */

/*
 * Take an access that is not exclusive: @one, unless the state has DEAD,
 * something in @conflict, or @field is full.  Returns 0, -ESTALE, or
 * -EBUSY with the conflicting state in *@seen.
 */
static __always_inline int
ownbuf_take(struct ownbuf *b, u64 conflict, u64 one, u64 field, u64 *seen)
{
	s64 s = atomic64_read(&b->state);

	do {
		if (unlikely(s & OWNBUF_S_DEAD))
			return -ESTALE;
		if (unlikely((s & conflict) || (s & field) == field)) {
			*seen = s;
			return -EBUSY;
		}
	} while (!atomic64_try_cmpxchg(&b->state, &s, s + one));
	return 0;
}

/*
 * Take @b exclusively: @commit (MUT or WRITER) if nothing is lent out and
 * nothing is in flight.  CLAIM makes the attempt visible to shared
 * borrows being taken while the records are checked, with interrupts off
 * so that it lasts a few instructions: they wait for it, and it gives way
 * to them (a record half-taken), so neither is refused because of the
 * other.  Returns 0, -ESTALE, or -EBUSY with what conflicted in *@seen
 * (OWNBUF_S_MUT or OWNBUF_S_SHARED_SEEN if something is lent out).
 */
static int ownbuf_take_excl(struct ownbuf *b, u64 commit, u64 *seen)
{
	struct ownbuf_scan sc;
	unsigned long flags;
	u64 gen = 0;
	s64 s;
	int ret;

	for (;;) {
		local_irq_save(flags);
		s = atomic64_read(&b->state);
		for (;;) {
			if (s & OWNBUF_S_DEAD) {
				local_irq_restore(flags);
				return -ESTALE;
			}
			if (s & OWNBUF_S_MUT) {
				/* Lent out, to the mut borrow. */
				local_irq_restore(flags);
				*seen = s;
				return -EBUSY;
			}
			if (s & OWNBUF_S_CLAIM) {
				/* Another attempt: over in a few instructions. */
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
		 * While CLAIM is set no shared borrow can be granted: what
		 * the records say now stays true or gets better, so if
		 * none is out, an access in flight below is not one of a
		 * borrow (a data_race, not a dangling_borrow).
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
				local_irq_restore(flags);
				return 0;
			}
		}
		/* Refused, or giving way: the attempt leaves no trace. */
		s = atomic64_fetch_andnot(OWNBUF_S_CLAIM, &b->state) &
		    ~OWNBUF_S_CLAIM;
		local_irq_restore(flags);
		if (s & OWNBUF_S_DEAD) {
			rcu_read_lock_sched();
			ownbuf_maybe_finish(b);
			rcu_read_unlock_sched();
			return -ESTALE;
		}
		if (ret) {
			*seen = s | (sc.live ? OWNBUF_S_SHARED_SEEN : 0);
			return ret;
		}
		ownbuf_wait_pending(b, true);
	}
}

/*
 * Record a shared borrow of @b, which handle @h named, in @slot: it is
 * PENDING; make it LIVE or give it up.  Interrupts are off.  Returns 0,
 * -ESTALE, -EBUSY (*@seen), or -EAGAIN if the exact count must decide.
 */
static __always_inline int
ownbuf_share_settle(struct ownbuf *b, u64 h, struct ownbuf_slot *slot, u64 gen,
		    bool exact, unsigned long ip, u64 *seen)
{
	s64 s;

	ownbuf_window(OWNBUF_WIN_SHARED_UNDECIDED, b);
	/* The cmpxchg that made the record PENDING was a full barrier. */
	s = atomic64_read_acquire(&b->state);
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
		/* An exclusive attempt is deciding: it gives way or wins. */
		cpu_relax();
		s = atomic64_read_acquire(&b->state);
	}
	WRITE_ONCE(slot->ip, ip);
	atomic64_set_release(&slot->word, gen | OWNBUF_SLOT_LIVE);
	return 0;
stale:
	atomic64_set(&slot->word, gen | OWNBUF_SLOT_FREE);
	return -ESTALE;
}

/* Fill in the token of a borrow just taken. */
static __always_inline void
ownbuf_ref_fill(struct ownbuf_ref *ref, struct ownbuf *b,
		struct ownbuf_slot *slot, u64 gen, unsigned int kind);

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
	struct ownbuf_slot *slot;
	unsigned long flags;
	u64 w = 0;
	int i, ret;

again:
	spin_lock_irqsave(&b->lock, flags);
	if (!(atomic64_read(&b->state) & OWNBUF_S_OVER))
		/* Fully ordered: CPUs still taking borrows fast see it. */
		atomic64_fetch_or(OWNBUF_S_OVER, &b->state);
	ownbuf_wait_pending(b, false);
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
		/* Conflicts first, then the cap (the contract's order). */
		if (ownbuf_count_shared(b) >= READ_ONCE(ownbuf_max_shared)) {
			atomic64_set(&slot->word, w | OWNBUF_SLOT_FREE);
			ret = -EOVERFLOW;
		} else {
			atomic_inc(&b->over_live);
			*slotp = slot;
			*genp = w | OWNBUF_GEN_IN_BLOCK;
		}
	}
	spin_unlock_irqrestore(&b->lock, flags);
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
static __always_inline int
ownbuf_share(struct ownbuf *b, u64 h, gfp_t gfp, unsigned long ip,
	     struct ownbuf_slot **slotp, u64 *genp, u64 *seen)
{
	struct ownbuf_slot *slot = NULL;
	struct ownbuf_cell *cell;
	unsigned int used = 0;
	unsigned long flags;
	u64 w = 0, cur;
	int i, ret;

	ownbuf_window(OWNBUF_WIN_SHARED_CAP, b);
	/* Interrupts off: a record is PENDING for a few instructions only. */
	local_irq_save(flags);
	cell = this_cpu_ptr(b->cells);
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
	if (likely(slot && used < READ_ONCE(ownbuf_fast_cap))) {
		w += OWNBUF_SLOT_GEN_ONE;
		/* Only this CPU takes records of its cell: fully ordered. */
		atomic64_xchg(&slot->word, w | OWNBUF_SLOT_PENDING);
		ret = ownbuf_share_settle(b, h, slot, w, false, ip, seen);
	}
	local_irq_restore(flags);
	if (likely(!ret)) {
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

/* --- handles --- */

/*
 * The value of a handle the caller passed, or an error after reporting why
 * it names no buffer: NULL, consumed by drop/revoke/move, or a value
 * ownbuf never issued with the poison bit.
 */
static __always_inline int
ownbuf_handle_value(struct ownbuf_handle *hp, enum ownbuf_op op,
		    unsigned long ip, u64 *val)
{
	u64 h, id;

	if (!hp) {
		ownbuf_report(OWNBUF_NULL_DEREF, 0, ip, "NULL handle pointer");
		return -EINVAL;
	}
	h = READ_ONCE(hp->val);
	if (!h) {
		ownbuf_report(OWNBUF_NULL_DEREF, 0, ip, "NULL handle");
		return -EINVAL;
	}
	if (unlikely(h & OWNBUF_POISON)) {
		if (!ownbuf_poison_mine(hp, h, &id))
			ownbuf_report(OWNBUF_USE_AFTER_FREE, 0, ip,
				      "not a handle ownbuf issued");
		else if (h & OWNBUF_POISON_MOVED)
			ownbuf_report(OWNBUF_USE_AFTER_FREE, id, ip,
				      "owner used after it was moved");
		else if (op == OWNBUF_OP_DROP)
			ownbuf_report(OWNBUF_DOUBLE_FREE, id, ip,
				      "owner dropped twice");
		else
			ownbuf_report(OWNBUF_USE_AFTER_FREE, id, ip,
				      "owner used after it was dropped");
		return -ESTALE;
	}
	*val = h;
	return 0;
}

static void ownbuf_report_stale(u64 id, unsigned long ip)
{
	ownbuf_report(OWNBUF_USE_AFTER_FREE, id, ip,
		      "stale handle: the buffer was dropped, moved or revoked");
}

/*
 * The live buffer *@hp names, or NULL and *@err after reporting why not.
 * The caller holds rcu_read_lock_sched().
 */
static __always_inline struct ownbuf *
ownbuf_find(struct ownbuf_handle *hp, enum ownbuf_op op, unsigned long ip,
	    u64 *hv, int *err)
{
	struct ownbuf *b;
	int ret;

	ret = ownbuf_handle_value(hp, op, ip, hv);
	if (ret) {
		*err = ret;
		return NULL;
	}
	b = ownbuf_lookup(*hv);
	if (likely(b && !(atomic64_read(&b->state) & OWNBUF_S_DEAD)))
		return b;
	ownbuf_report_stale(b ? b->id : ownbuf_table_stale_id(*hv), ip);
	*err = -ESTALE;
	return NULL;
}

/* Report a refused access or borrow of @b, of class @v. */
static void ownbuf_report_busy(struct ownbuf *b, enum ownbuf_violation v,
			       u64 seen, unsigned long ip, const char *what)
{
	struct ownbuf_scan sc;
	unsigned long other;

	if (seen & OWNBUF_S_MUT) {
		other = READ_ONCE(b->mut.ip);
	} else if (seen & OWNBUF_S_SHARED_SEEN) {
		ownbuf_scan(b, true, &sc);
		other = sc.ip;
	} else {
		other = READ_ONCE(b->busy_at);
	}
	ownbuf_report_n(v, b->id, ip, what, other, 1);
}

/* Refused because lent out (a dangling borrow) or busy (a data race)? */
static enum ownbuf_violation ownbuf_excl_class(u64 seen)
{
	return (seen & (OWNBUF_S_MUT | OWNBUF_S_SHARED_SEEN)) ?
	       OWNBUF_DANGLING_BORROW : OWNBUF_DATA_RACE;
}

/*
 * Take @b (found under RCU, which the caller holds) exclusively for drop,
 * move or resize, reporting a refusal.
 */
static int ownbuf_take_owner_excl(struct ownbuf *b, u64 hv, unsigned long ip)
{
	enum ownbuf_violation v;
	u64 seen = 0;
	int ret;

	ret = ownbuf_take_excl(b, OWNBUF_S_WRITER, &seen);
	if (!ret && unlikely(READ_ONCE(b->handle) != hv)) {
		/* Moved between the lookup and now. */
		ownbuf_give(b, OWNBUF_S_WRITER);
		ret = -ESTALE;
	}
	if (ret == -ESTALE) {
		ownbuf_report_stale(b->id, ip);
	} else if (ret == -EBUSY) {
		v = ownbuf_excl_class(seen);
		ownbuf_report_busy(b, v, seen, ip,
				   v == OWNBUF_DANGLING_BORROW ?
				   "buffer is lent out" :
				   "conflicts with an access in flight");
	} else {
		WRITE_ONCE(b->busy_at, ip);
	}
	return ret;
}

/**
 * ownbuf_handle_check() - refuse a dead handle the way a use would
 * @h: the handle.
 * @op: what the caller is about to do with it.
 * @ip: who is blamed.
 *
 * Return: 0 if @h names a live buffer, else -EINVAL or -ESTALE, reported.
 */
int ownbuf_handle_check(struct ownbuf_handle *h, enum ownbuf_op op,
			unsigned long ip)
{
	struct ownbuf *b;
	u64 hv;
	int ret;

	rcu_read_lock_sched();
	b = ownbuf_find(h, op, ip, &hv, &ret);
	if (!b) {
		rcu_read_unlock_sched();
		return ret;
	}
	rcu_read_unlock_sched();
	return 0;
}

/**
 * ownbuf_handle_state() - what became of the owner a handle variable held
 * @h: the handle.
 *
 * Return: OWNBUF_STATE_DROPPED or OWNBUF_STATE_MOVED if drop/revoke or
 * move consumed it, 0 for the NULL handle, else OWNBUF_STATE_LIVE.
 */
int ownbuf_handle_state(const struct ownbuf_handle *h)
{
	u64 hv = READ_ONCE(h->val), id;

	if (!hv)
		return 0;
	if (!ownbuf_poison_mine(h, hv, &id))
		return OWNBUF_STATE_LIVE;
	return (hv & OWNBUF_POISON_MOVED) ? OWNBUF_STATE_MOVED :
					    OWNBUF_STATE_DROPPED;
}
EXPORT_SYMBOL_IF_KUNIT(ownbuf_handle_state);

int __ownbuf_create(size_t size, gfp_t gfp, struct ownbuf_handle *out,
		    unsigned long ip)
{
	struct ownbuf *b;
	int ret;

	if (!out) {
		ownbuf_report(OWNBUF_NULL_DEREF, 0, ip, "NULL handle pointer");
		return -EINVAL;
	}
	if (!size || !gfpflags_allow_blocking(gfp))
		return -EINVAL;
	if (size > READ_ONCE(ownbuf_max_size))
		return -EFBIG;

	b = ownbuf_alloc_core(gfp);
	if (!b)
		return -ENOMEM;
	b->data = ownbuf_alloc_data(size, gfp);
	if (!b->data) {
		ret = -ENOMEM;
		goto err_put;
	}
	b->size = size;
	b->gfp = gfp;
	b->created_at = ip;
	b->id = atomic64_inc_return(&ownbuf_next_id);
	ret = ownbuf_table_add(b, gfp);
	if (ret)
		goto err_free_data;
	out->val = b->handle;
	return 0;

err_free_data:
	ownbuf_free_data(b->data, size);
	b->data = NULL;
err_put:
	ownbuf_obj_put(b);
	return ret;
}

/**
 * ownbuf_create() - create a buffer
 * @size: its size in bytes, 1 to the max_size module parameter.
 * @gfp: allocation flags; must allow sleeping (GFP_KERNEL, or
 *	GFP_KERNEL_ACCOUNT to charge the memory to the current memcg).
 * @out: the owner's handle, on success.
 *
 * The buffer is zero-filled.  Context: may sleep.
 *
 * Return: 0, -EINVAL (@size 0, @gfp atomic, @out NULL: a null_deref),
 * -EFBIG (@size over max_size), -ENOMEM, or -ENOSPC (2^20 - 1 buffers
 * exist at once).
 */
int ownbuf_create(size_t size, gfp_t gfp, struct ownbuf_handle *out)
{
	return __ownbuf_create(size, gfp, out, _RET_IP_);
}
EXPORT_SYMBOL_GPL(ownbuf_create);

int __ownbuf_drop(struct ownbuf_handle *hp, unsigned long ip)
{
	unsigned long flags;
	struct ownbuf *b;
	u64 hv;
	s64 s;
	int ret;

	rcu_read_lock_sched();
	b = ownbuf_find(hp, OWNBUF_OP_DROP, ip, &hv, &ret);
	if (!b) {
		rcu_read_unlock_sched();
		return ret;
	}
	ret = ownbuf_take_owner_excl(b, hv, ip);
	rcu_read_unlock_sched();
	if (ret)
		return ret;
	/* Held: WRITER keeps it from being finished, and so does this. */
	refcount_inc(&b->users);
	ownbuf_window(OWNBUF_WIN_DROP, b);

	spin_lock_irqsave(&b->lock, flags);
	s = atomic64_read(&b->state);
	do {
		if (s & OWNBUF_S_DEAD)
			break;
	} while (!atomic64_try_cmpxchg(&b->state, &s,
				       (s - OWNBUF_S_WRITER) | OWNBUF_S_DEAD));
	if (!(s & OWNBUF_S_DEAD)) {
		ownbuf_table_remove(b);
		/* The variable dies with the buffer, in one step for INFO. */
		WRITE_ONCE(hp->val, ownbuf_poison(hp, b->id, false));
	}
	spin_unlock_irqrestore(&b->lock, flags);

	if (s & OWNBUF_S_DEAD) {
		/* Revoked meanwhile, through a copy of the handle. */
		ownbuf_report_stale(b->id, ip);
		ownbuf_give(b, OWNBUF_S_WRITER);
		ret = -ESTALE;
	} else {
		if (!((s - OWNBUF_S_WRITER) & OWNBUF_S_BUSY))
			ownbuf_free_data(ownbuf_data_take(b), 0);
		wake_up_all(&b->wq);
		ownbuf_maybe_finish(b);
	}
	ownbuf_obj_put(b);
	return ret;
}

/**
 * ownbuf_drop() - drop a buffer
 * @h: the owner's handle; consumed (poisoned) on success.
 *
 * Refused while the buffer is lent out or an access is in flight: Rust's
 * "cannot move out of a borrowed value".  Context: any.
 *
 * Return: 0; -EINVAL for a NULL handle; -ESTALE if @h was already dropped
 * (double_free) or moved or is stale (use_after_free); -EBUSY if lent out
 * (dangling_borrow) or an access is in flight (data_race).
 */
int ownbuf_drop(struct ownbuf_handle *h)
{
	return __ownbuf_drop(h, _RET_IP_);
}
EXPORT_SYMBOL_GPL(ownbuf_drop);

/* Mark every borrow of dead @b revoked; returns how many, one's site. */
static unsigned long ownbuf_revoke_records(struct ownbuf *b,
					   unsigned long *site)
{
	struct ownbuf_block *blk;
	unsigned long n = 0;
	int cpu, i;
	u64 w;

	*site = 0;
	/* Borrows being taken saw DEAD, or will be LIVE in a moment. */
	ownbuf_wait_pending(b, true);
	for_each_possible_cpu(cpu) {
		for (i = 0; i < OWNBUF_CELL_SLOTS; i++) {
			struct ownbuf_slot *slot = ownbuf_cell_slot(b, cpu, i);

			w = atomic64_read(&slot->word);
			if ((w & OWNBUF_SLOT_STATE) == OWNBUF_SLOT_LIVE &&
			    atomic64_try_cmpxchg(&slot->word, &w,
						 w | OWNBUF_SLOT_REVOKED) &&
			    !n++)
				*site = READ_ONCE(slot->ip);
		}
	}
	/* Acquire: pairs with the release that appends a block. */
	for (blk = smp_load_acquire(&b->blocks); blk; blk = blk->next) {
		for (i = 0; i < OWNBUF_BLOCK_SLOTS; i++) {
			w = atomic64_read(&blk->slot[i].word);
			if ((w & OWNBUF_SLOT_STATE) == OWNBUF_SLOT_LIVE &&
			    atomic64_try_cmpxchg(&blk->slot[i].word, &w,
						 w | OWNBUF_SLOT_REVOKED) &&
			    !n++)
				*site = READ_ONCE(blk->slot[i].ip);
		}
	}
	/* The mut borrow: its record is LIVE a moment after MUT is set. */
	if (atomic64_read(&b->state) & OWNBUF_S_MUT) {
		w = atomic64_read(&b->mut.word);
		while ((w & OWNBUF_SLOT_STATE) == OWNBUF_SLOT_PENDING) {
			cpu_relax();
			w = atomic64_read(&b->mut.word);
		}
		if ((w & OWNBUF_SLOT_STATE) == OWNBUF_SLOT_LIVE &&
		    atomic64_try_cmpxchg(&b->mut.word, &w,
					 w | OWNBUF_SLOT_REVOKED) && !n++)
			*site = READ_ONCE(b->mut.ip);
	}
	return n;
}

int __ownbuf_revoke(struct ownbuf_handle *hp, unsigned long ip)
{
	struct ownbuf_ref *ref, *tmp;
	unsigned long n, site, flags;
	LIST_HEAD(hooks);
	struct ownbuf *b;
	u64 hv;
	s64 s;
	int ret;

	might_sleep();
	rcu_read_lock_sched();
	b = ownbuf_find(hp, OWNBUF_OP_DROP, ip, &hv, &ret);
	if (!b) {
		rcu_read_unlock_sched();
		return ret;
	}
	if (!refcount_inc_not_zero(&b->users))
		b = NULL;
	rcu_read_unlock_sched();
	if (!b) {
		ownbuf_report_stale(0, ip);
		return -ESTALE;
	}

	/* Under hook_lock: a borrow with callbacks is listed or refused. */
	mutex_lock(&b->hook_lock);
	spin_lock_irqsave(&b->lock, flags);
	s = atomic64_read(&b->state);
	do {
		if ((s & OWNBUF_S_DEAD) || b->handle != hv)
			break;
	} while (!atomic64_try_cmpxchg(&b->state, &s,
				       s | OWNBUF_S_DEAD | OWNBUF_S_REVOKING));
	if ((s & OWNBUF_S_DEAD) || b->handle != hv) {
		spin_unlock_irqrestore(&b->lock, flags);
		mutex_unlock(&b->hook_lock);
		ownbuf_report_stale(b->id, ip);
		ownbuf_obj_put(b);
		return -ESTALE;
	}
	ownbuf_table_remove(b);
	WRITE_ONCE(hp->val, ownbuf_poison(hp, b->id, false));
	spin_unlock_irqrestore(&b->lock, flags);
	list_splice_init(&b->hooks, &hooks);
	list_for_each_entry(ref, &hooks, node)
		WRITE_ONCE(ref->hook, OWNBUF_HOOK_REVOKING);
	WRITE_ONCE(b->revoker, current);
	mutex_unlock(&b->hook_lock);

	n = ownbuf_revoke_records(b, &site);
	if (n)
		ownbuf_report_n(OWNBUF_DANGLING_BORROW, b->id, ip,
				"owner went away while lent out: borrows revoked",
				site, n);
	wake_up_all(&b->wq);

	/*
	 * No lock held: a callback may release, discard or use its borrow,
	 * or borrow again.  The memory stays until the last one returned
	 * (REVOKING), so that what they tear down never maps freed pages.
	 */
	list_for_each_entry_safe(ref, tmp, &hooks, node) {
		list_del_init(&ref->node);
		ref->ops->revoke(ref);
		/* A release of this borrow waits for this store, then frees. */
		smp_store_release(&ref->hook, OWNBUF_HOOK_DONE);
		wake_up_var(&ref->hook);
	}
	WRITE_ONCE(b->revoker, NULL);
	ownbuf_give(b, OWNBUF_S_REVOKING);
	ownbuf_obj_put(b);
	return n;
}

/**
 * ownbuf_revoke() - drop a buffer even if it is lent out
 * @h: the owner's handle; consumed (poisoned) on success.
 *
 * What happens when an owner goes away for good (its file is closed, its
 * device unplugged).  Every outstanding borrow is revoked: its ->revoke
 * callback runs and every later use of it fails with -ESTALE.  It never
 * waits for another caller: accesses already in flight (and unsafe
 * sections already open) complete, and the memory goes when the last of
 * them does.  Each revoked borrow counts one dangling_borrow.
 * Context: may sleep (the callbacks may).
 *
 * Return: the number of borrows revoked (>= 0), or the errors of
 * ownbuf_drop() for a bad handle.
 */
int ownbuf_revoke(struct ownbuf_handle *h)
{
	return __ownbuf_revoke(h, _RET_IP_);
}
EXPORT_SYMBOL_GPL(ownbuf_revoke);

int __ownbuf_move(struct ownbuf_handle *hp, struct ownbuf_handle *to,
		  unsigned long ip)
{
	unsigned long flags;
	struct ownbuf *b;
	u64 hv, nh = 0;
	int ret;

	rcu_read_lock_sched();
	b = ownbuf_find(hp, OWNBUF_OP_USE, ip, &hv, &ret);
	if (!b) {
		rcu_read_unlock_sched();
		return ret;
	}
	if (!to) {
		rcu_read_unlock_sched();
		ownbuf_report(OWNBUF_NULL_DEREF, 0, ip, "NULL handle pointer");
		return -EINVAL;
	}
	ret = ownbuf_take_owner_excl(b, hv, ip);
	rcu_read_unlock_sched();
	if (ret)
		return ret;
	ownbuf_window(OWNBUF_WIN_MOVE, b);

	spin_lock_irqsave(&b->lock, flags);
	if (atomic64_read(&b->state) & OWNBUF_S_DEAD) {
		/* Revoked meanwhile: the revocation won. */
		ret = -ESTALE;
	} else {
		ret = ownbuf_table_next(b, &nh);
		if (!ret) {
			/* The old handle dies first: @to may be @hp. */
			WRITE_ONCE(hp->val, ownbuf_poison(hp, b->id, true));
			WRITE_ONCE(to->val, nh);
		}
	}
	spin_unlock_irqrestore(&b->lock, flags);
	if (ret == -ESTALE)
		ownbuf_report_stale(b->id, ip);
	ownbuf_give(b, OWNBUF_S_WRITER);
	return ret;
}

/**
 * ownbuf_move() - move ownership to a new handle
 * @h: the owner's handle; consumed (poisoned) on success.
 * @to: receives the new handle.
 *
 * After a move every copy of the old handle is stale.  Refused like
 * ownbuf_drop() while lent out or accessed.  Context: any.
 *
 * Return: 0, or the errors of ownbuf_drop() (a moved handle is a
 * use_after_free), -EINVAL if @to is NULL, -ENOMEM in the rare case that
 * the buffer needs a new table slot and none can be had without sleeping.
 */
int ownbuf_move(struct ownbuf_handle *h, struct ownbuf_handle *to)
{
	return __ownbuf_move(h, to, _RET_IP_);
}
EXPORT_SYMBOL_GPL(ownbuf_move);

int __ownbuf_resize(struct ownbuf_handle *hp, size_t size, unsigned long ip)
{
	struct ownbuf *b;
	void *data, *old;
	size_t old_size;
	u64 hv;
	int ret;

	might_sleep();
	rcu_read_lock_sched();
	b = ownbuf_find(hp, OWNBUF_OP_USE, ip, &hv, &ret);
	if (!b) {
		rcu_read_unlock_sched();
		return ret;
	}
	if (!size || size > READ_ONCE(ownbuf_max_size)) {
		rcu_read_unlock_sched();
		return size ? -EFBIG : -EINVAL;
	}
	ret = ownbuf_take_owner_excl(b, hv, ip);
	rcu_read_unlock_sched();
	if (ret)
		return ret;

	/* WRITER: no access, no borrow, no other resize. */
	ASSERT_EXCLUSIVE_WRITER(b->data);
	old = b->data;
	old_size = b->size;
	if (PAGE_ALIGN(size) == PAGE_ALIGN(old_size)) {
		/* Keep the bytes past the size zero: they are mapped. */
		if (size < old_size)
			memset(old + size, 0, old_size - size);
	} else {
		data = ownbuf_alloc_data(size, b->gfp);
		if (!data) {
			ret = -ENOMEM;
			goto out;
		}
		memcpy(data, old, min(size, old_size));
		WRITE_ONCE(b->data, data);
		ownbuf_free_data(old, old_size);
	}
	WRITE_ONCE(b->size, size);
out:
	ownbuf_give(b, OWNBUF_S_WRITER);
	return ret;
}

/**
 * ownbuf_resize() - change the size of a buffer
 * @h: the owner's handle.
 * @size: the new size, 1 to max_size.  New bytes read as zero.
 *
 * Refused like ownbuf_drop() while lent out or accessed: a borrow must not
 * see its buffer change under it.  Context: may sleep.
 *
 * Return: 0, -ESTALE for a dead handle, -EINVAL for @size 0, -EFBIG over
 * max_size, -EBUSY like ownbuf_drop(), -ENOMEM (the buffer is unchanged).
 */
int ownbuf_resize(struct ownbuf_handle h, size_t size)
{
	return __ownbuf_resize(&h, size, _RET_IP_);
}
EXPORT_SYMBOL_GPL(ownbuf_resize);

/*
 * What @b looks like now: 0 and *@st if it is live throughout, -ESTALE if
 * dead.  The caller holds it by RCU or a reference.
 */
static int ownbuf_snapshot(struct ownbuf *b, struct ownbuf_stat *st)
{
	u64 s = atomic64_read_acquire(&b->state);

	if (s & OWNBUF_S_DEAD)
		return -ESTALE;
	st->size = READ_ONCE(b->size);
	st->id = b->id;
	st->shared_borrows = ownbuf_count_shared(b);
	st->mut_borrows = (atomic64_read(&b->mut.word) & OWNBUF_SLOT_STATE) ==
			  OWNBUF_SLOT_LIVE;
	/* DEAD is final: live before and after, live in between. */
	smp_rmb();
	if (atomic64_read(&b->state) & OWNBUF_S_DEAD)
		return -ESTALE;
	return 0;
}

/**
 * ownbuf_stat() - size, id and borrow counts of a buffer
 * @h: the owner's handle.
 * @st: filled in on success.
 *
 * Context: any.
 *
 * Return: 0, or -EINVAL/-ESTALE for a NULL or dead handle, then -EINVAL
 * for a NULL @st.
 */
int ownbuf_stat(struct ownbuf_handle h, struct ownbuf_stat *st)
{
	unsigned long ip = _RET_IP_;
	struct ownbuf *b;
	u64 hv;
	int ret;

	rcu_read_lock_sched();
	b = ownbuf_find(&h, OWNBUF_OP_USE, ip, &hv, &ret);
	if (!b) {
		rcu_read_unlock_sched();
		return ret;
	}
	if (!st) {
		rcu_read_unlock_sched();
		ownbuf_report(OWNBUF_NULL_DEREF, b->id, ip, "NULL stat pointer");
		return -EINVAL;
	}
	ret = ownbuf_snapshot(b, st);
	rcu_read_unlock_sched();
	if (ret)
		ownbuf_report_stale(0, ip);
	return ret;
}
EXPORT_SYMBOL_GPL(ownbuf_stat);

/**
 * ownbuf_size() - size of a buffer
 * @h: the owner's handle.
 * @size: receives the size.
 *
 * The cheapest checked use of a handle.  Context: any.
 *
 * Return: 0, or -EINVAL/-ESTALE for a NULL or dead handle, then -EINVAL
 * for a NULL @size.
 */
int ownbuf_size(struct ownbuf_handle h, size_t *size)
{
	unsigned long ip = _RET_IP_;
	struct ownbuf *b;
	size_t sz = 0;
	u64 hv;
	int ret;

	rcu_read_lock_sched();
	b = ownbuf_find(&h, OWNBUF_OP_USE, ip, &hv, &ret);
	if (!b) {
		rcu_read_unlock_sched();
		return ret;
	}
	if (likely(size))
		sz = READ_ONCE(b->size);
	rcu_read_unlock_sched();
	if (unlikely(!size)) {
		ownbuf_report(OWNBUF_NULL_DEREF, 0, ip, "NULL size pointer");
		return -EINVAL;
	}
	*size = sz;
	return 0;
}
EXPORT_SYMBOL_GPL(ownbuf_size);

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
static __always_inline bool ownbuf_ref_genuine(const struct ownbuf_ref *ref)
{
	return READ_ONCE(ref->check) ==
	       ownbuf_ref_mac(ref, READ_ONCE(ref->buf), READ_ONCE(ref->slot),
			      READ_ONCE(ref->gen), READ_ONCE(ref->kind));
}

/* The word of @ref's record while the borrow is out; 0 if not genuine. */
static __always_inline u64 ownbuf_ref_word(const struct ownbuf_ref *ref)
{
	return ownbuf_ref_genuine(ref) ? atomic64_read(&ref->slot->word) : 0;
}

/*
 * Is @ref a borrow ownbuf handed out and not yet ended?  Refuses (and
 * reports) the NULL borrow, an ended or revoked one, and garbage, copies
 * and replays: only a token whose record still carries its generation
 * passes.  With @any_record a revoked borrow passes too.
 */
static __always_inline int
ownbuf_ref_validate(struct ownbuf_ref *ref, enum ownbuf_op op, bool any_record,
		    unsigned long ip)
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

/*
 * Take an access through the borrow @ref (validated): @one unless
 * @conflict.  On success the access holds the buffer.
 */
static struct ownbuf *ownbuf_ref_take(struct ownbuf_ref *ref, u64 conflict,
				      u64 one, u64 field, unsigned long ip,
				      int *err)
{
	struct ownbuf *b = ref->buf;
	u64 seen = 0;
	int ret;

	ownbuf_window(OWNBUF_WIN_REF, b);
	/* The borrow may end under us: @b is only safe under RCU. */
	rcu_read_lock_sched();
	ret = ownbuf_take(b, conflict, one, field, &seen);
	if (!ret) {
		ownbuf_window(OWNBUF_WIN_REF_TAKEN, b);
		if (unlikely(atomic64_read(&ref->slot->word) !=
			     (ref->gen | OWNBUF_SLOT_LIVE))) {
			/* Released or revoked between the check and now. */
			rcu_read_unlock_sched();
			ownbuf_give(b, one);
			ret = -ESTALE;
			goto report;
		}
	}
	rcu_read_unlock_sched();
	if (!ret) {
		WRITE_ONCE(b->busy_at, ip);
		return b;
	}
report:
	if (ret == -ESTALE)
		ownbuf_report(OWNBUF_USE_AFTER_FREE, ref->id, ip,
			      "borrow released or revoked");
	else
		ownbuf_report_busy(b, OWNBUF_DATA_RACE, seen, ip,
				   "conflicts with an access in flight");
	*err = ret;
	return NULL;
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
		WRITE_ONCE(slot->ip, ip);
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
	ownbuf_ref_fill(ref, b, slot, gen, kind);
	return 0;
}

static void ownbuf_report_borrow(struct ownbuf *b, int ret, u64 seen,
				 unsigned long ip)
{
	if (ret == -EBUSY)
		ownbuf_report_busy(b, OWNBUF_DATA_RACE, seen, ip,
				   "already borrowed");
	else if (ret == -ESTALE)
		ownbuf_report_stale(b->id, ip);
}

/* Publish a token just filled in: its fields before its state. */
static __always_inline void
ownbuf_ref_publish(struct ownbuf_ref *ref, const struct ownbuf_ref_ops *ops)
{
	ref->ops = ops;
	if (!ops)
		INIT_LIST_HEAD(&ref->node);
	atomic_set_release(&ref->state, OWNBUF_STATE_LIVE);
}

static __always_inline int
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
			ownbuf_ref_publish(ref, NULL);
		return ret;
	}
	if (!refcount_inc_not_zero(&b->users))
		b = NULL;
	rcu_read_unlock_sched();
	if (!b) {
		ownbuf_report_stale(0, ip);
		return -ESTALE;
	}

	/* Sleeping: with callbacks (hook_lock) or waiting to be granted. */
	might_sleep();
	gfp = GFP_KERNEL_ACCOUNT;
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
	if (!ret)
		ownbuf_ref_publish(ref, ops);
	else
		ownbuf_report_borrow(b, ret, seen, ip);
	ownbuf_obj_put(b);
	return ret;
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
 * otherwise may sleep.
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
	return ownbuf_do_borrow(&h, flags, ops, ref, _RET_IP_);
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
 * Give the record of a borrow back; *@revoked tells if it had been
 * revoked.  Returns false for a record that is not the token's any more
 * (the token was restored from a copy): then nothing was given back.
 */
static __always_inline bool
ownbuf_ref_untake(struct ownbuf_ref *ref, bool *revoked)
{
	struct ownbuf *b = ref->buf;
	u64 w = ref->gen | OWNBUF_SLOT_LIVE;
	bool given = true;

	*revoked = false;
	if ((ref->kind & OWNBUF_REF_KIND) == OWNBUF_MUT) {
		/* MUT keeps the object until it is given back. */
		if (!atomic64_try_cmpxchg(&ref->slot->word, &w,
					  ref->gen | OWNBUF_SLOT_FREE)) {
			w = ref->gen | OWNBUF_SLOT_REVOKED;
			if (!atomic64_try_cmpxchg(&ref->slot->word, &w,
						  ref->gen | OWNBUF_SLOT_FREE))
				return false;
			*revoked = true;
		}
		ownbuf_give(b, OWNBUF_S_MUT);
		return true;
	}
	/* Once the record is free, a dead buffer may be finished: RCU first. */
	rcu_read_lock_sched();
	if (!atomic64_try_cmpxchg(&ref->slot->word, &w,
				  ref->gen | OWNBUF_SLOT_FREE)) {
		w = ref->gen | OWNBUF_SLOT_REVOKED;
		given = atomic64_try_cmpxchg(&ref->slot->word, &w,
					     ref->gen | OWNBUF_SLOT_FREE);
		*revoked = given;
	}
	if (given) {
		if (ref->kind & OWNBUF_REF_IN_BLOCK)
			atomic_dec(&b->over_live);
		/* The cmpxchg above was a full barrier before this read. */
		ownbuf_window(OWNBUF_WIN_UNTRY, b);
		if (unlikely(atomic64_read(&b->state) & OWNBUF_S_DEAD))
			ownbuf_maybe_finish(b);
		/* After a full barrier, pairing with prepare_to_wait(). */
		else if (unlikely(waitqueue_active(&b->wq)))
			wake_up_all(&b->wq);
	}
	rcu_read_unlock_sched();
	return given;
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
	bool revoked, call = false;

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
	if (!ownbuf_ref_untake(ref, &revoked))
		return -ENOENT;
	return revoked ? -ESTALE : 0;
}

/* Claim the ending of a live borrow: LIVE with no unsafe section open. */
static __always_inline bool ownbuf_ref_claim(struct ownbuf_ref *ref)
{
	int s = OWNBUF_STATE_LIVE;

	return atomic_try_cmpxchg(&ref->state, &s, OWNBUF_STATE_RELEASED);
}

static __always_inline int
ownbuf_do_release(struct ownbuf_ref *ref, unsigned long ip)
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
	if (ret == -ESTALE) {
		/* The first release of a revoked borrow still ends it. */
		atomic_set(&ref->state, OWNBUF_STATE_REVOKED);
		ownbuf_report(OWNBUF_USE_AFTER_FREE, ref->id, ip,
			      "borrow revoked: its owner went away");
	} else if (ret) {
		ownbuf_report(OWNBUF_DOUBLE_FREE, ref->id, ip,
			      "borrow already released (a restored token)");
		ret = -ESTALE;
	}
	return ret;
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
	return ownbuf_do_release(ref, _RET_IP_);
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
		ownbuf_ref_end(ref);
		return;
	}
	/* In-kernel misuse: ending a borrow whose raw memory is in use. */
	WARN_ON_ONCE(atomic_read(&ref->state) & ~OWNBUF_REF_STATE);
}
EXPORT_SYMBOL_GPL(ownbuf_ref_discard);

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

/* --- data --- */

/*
 * Clamp [pos, pos + *len) to the buffer.  File semantics (read(2)): a read
 * at or after the end is 0 bytes, a write there is -ENOSPC, and either is
 * short across the end.  Otherwise (the kernel API) anything outside
 * [0, size) is -ERANGE.  Both count out_of_bounds, never wrapping.
 */
static ssize_t ownbuf_bounds(struct ownbuf *b, loff_t pos, size_t *len,
			     unsigned int flags, unsigned long ip)
{
	size_t size = b->size;
	size_t end;

	if (pos < 0)
		return -EINVAL;
	if (flags & OWNBUF_RW_FILE) {
		if ((u64)pos < size) {
			*len = min_t(size_t, *len, size - (size_t)pos);
			return *len;
		}
		if (!(flags & OWNBUF_RW_WRITE))
			return 0;
		ownbuf_report(OWNBUF_OUT_OF_BOUNDS, b->id, ip,
			      "write at or after the end");
		return -ENOSPC;
	}
	if ((u64)pos > SIZE_MAX || check_add_overflow((size_t)pos, *len, &end) ||
	    end > size) {
		ownbuf_report(OWNBUF_OUT_OF_BOUNDS, b->id, ip,
			      "access outside [0, size)");
		return -ERANGE;
	}
	return *len;
}

/*
 * The copy of an access, made while the access is held: a function of its
 * own so that the KUnit suite can act from the middle of one.
 */
VISIBLE_IF_KUNIT size_t ownbuf_copy(void *p, size_t len, struct iov_iter *it,
				    bool write)
{
	KUNIT_STATIC_STUB_REDIRECT(ownbuf_copy, p, len, it, write);

	return write ? copy_from_iter(p, len, it) : copy_to_iter(p, len, it);
}
EXPORT_SYMBOL_IF_KUNIT(ownbuf_copy);

/* Take the owner's access to the buffer @hp names. */
static struct ownbuf *ownbuf_owner_take(struct ownbuf_handle *hp, bool write,
					unsigned long ip, u64 *one, int *err)
{
	struct ownbuf *b;
	u64 hv, seen = 0;
	int ret;

	rcu_read_lock_sched();
	b = ownbuf_find(hp, OWNBUF_OP_USE, ip, &hv, err);
	if (!b) {
		rcu_read_unlock_sched();
		return NULL;
	}
	if (write) {
		*one = OWNBUF_S_WRITER;
		ret = ownbuf_take_excl(b, OWNBUF_S_WRITER, &seen);
	} else {
		*one = OWNBUF_S_READER_ONE;
		ret = ownbuf_take(b, OWNBUF_OWNER_READ_CONFLICT,
				  OWNBUF_S_READER_ONE, OWNBUF_S_READERS, &seen);
	}
	if (!ret && unlikely(READ_ONCE(b->handle) != hv)) {
		rcu_read_unlock_sched();
		ownbuf_give(b, *one);
		ownbuf_report_stale(0, ip);
		*err = -ESTALE;
		return NULL;
	}
	if (ret == -ESTALE)
		ownbuf_report_stale(b->id, ip);
	else if (ret)
		ownbuf_report_busy(b, OWNBUF_DATA_RACE, seen, ip,
				   "conflicts with a borrow or an access in flight");
	else
		WRITE_ONCE(b->busy_at, ip);
	rcu_read_unlock_sched();
	*err = ret;
	return ret ? NULL : b;
}

/**
 * ownbuf_rw() - read or write a buffer, as its owner or through a borrow
 * @h: the owner's handle, if @ref is NULL.
 * @ref: the borrow to go through, or NULL.
 * @pos: offset in the buffer.
 * @it: the other side of the copy.
 * @flags: OWNBUF_RW_WRITE to write; OWNBUF_RW_FILE for read(2) semantics
 *	(short at the end, -ENOSPC writing past it) instead of all-or-
 *	nothing -ERANGE.
 * @ip: who is blamed for a violation.
 *
 * The access is itself a borrow for its duration: a conflicting access in
 * flight gets -EBUSY, never a wait.  The caller has handled @h/@ref being
 * dead, a zero length and NULL pointers, in that order.
 *
 * Return: bytes copied, or a negative errno.
 */
ssize_t ownbuf_rw(struct ownbuf_handle *h, struct ownbuf_ref *ref,
		  loff_t pos, struct iov_iter *it, unsigned int flags,
		  unsigned long ip)
{
	bool write = flags & OWNBUF_RW_WRITE;
	size_t len = iov_iter_count(it);
	struct ownbuf *b;
	size_t copied;
	ssize_t ret;
	u64 one;
	int err;

	if (ref) {
		err = ownbuf_ref_validate(ref, OWNBUF_OP_USE, false, ip);
		if (err)
			return err;
		if (write) {
			one = OWNBUF_S_WRITER;
			b = ownbuf_ref_take(ref, OWNBUF_REF_WRITE_CONFLICT, one,
					    one, ip, &err);
		} else {
			one = OWNBUF_S_READER_ONE;
			b = ownbuf_ref_take(ref, OWNBUF_REF_READ_CONFLICT, one,
					    OWNBUF_S_READERS, ip, &err);
		}
	} else {
		b = ownbuf_owner_take(h, write, ip, &one, &err);
	}
	if (!b)
		return err;

	ret = ownbuf_bounds(b, pos, &len, flags, ip);
	if (ret > 0) {
		copied = ownbuf_copy(b->data + pos, len, it, write);
		if (!copied || (copied != len && !(flags & OWNBUF_RW_FILE)))
			ret = -EFAULT;
		else
			ret = copied;
	}
	ownbuf_give(b, one);
	return ret;
}

static int ownbuf_kernel_rw(struct ownbuf_handle *h, struct ownbuf_ref *ref,
			    size_t off, void *buf, size_t len, bool write,
			    unsigned long ip)
{
	struct kvec kv = { .iov_base = buf, .iov_len = len };
	struct iov_iter it;
	ssize_t ret;
	u64 id;

	if (ref) {
		/* The role of a borrow ownbuf handed out, even if it ended. */
		if (write && atomic_read(&ref->state) &&
		    ownbuf_ref_genuine(ref) && (ref->kind & OWNBUF_REF_KIND) != OWNBUF_MUT)
			return -EPERM;
		ret = ownbuf_ref_check(ref, OWNBUF_OP_USE, ip);
		id = ref->id;
	} else {
		ret = ownbuf_handle_check(h, OWNBUF_OP_USE, ip);
		id = 0;
	}
	if (ret || !len)
		return ret;
	if (!buf) {
		ownbuf_report(OWNBUF_NULL_DEREF, id, ip, "NULL data pointer");
		return -EINVAL;
	}
	if (off > LLONG_MAX) {
		ownbuf_report(OWNBUF_OUT_OF_BOUNDS, id, ip,
			      "offset does not fit in loff_t");
		return -ERANGE;
	}
	iov_iter_kvec(&it, write ? ITER_SOURCE : ITER_DEST, &kv, 1, len);
	ret = ownbuf_rw(h, ref, off, &it, write ? OWNBUF_RW_WRITE : 0, ip);
	return ret < 0 ? ret : 0;
}

/**
 * ownbuf_read() - read through a borrow
 * @ref: a shared or mut borrow.
 * @off: offset in the buffer.
 * @dst: where to copy to.
 * @len: bytes to copy; all of [@off, @off + @len) must be inside the buffer.
 *
 * Context: any.
 *
 * Return: 0; -EINVAL/-ESTALE for a NULL, released or revoked borrow; then
 * -EINVAL for a NULL @dst; -EBUSY if a write through the mut borrow is in
 * flight; -ERANGE out of bounds.
 */
int ownbuf_read(struct ownbuf_ref *ref, size_t off, void *dst, size_t len)
{
	if (!ref)
		return ownbuf_ref_check(ref, OWNBUF_OP_USE, _RET_IP_);
	return ownbuf_kernel_rw(NULL, ref, off, dst, len, false, _RET_IP_);
}
EXPORT_SYMBOL_GPL(ownbuf_read);

/**
 * ownbuf_write() - write through the mut borrow
 * @ref: a mut borrow.
 * @off: offset in the buffer.
 * @src: where to copy from.
 * @len: bytes to copy; all of [@off, @off + @len) must be inside the buffer.
 *
 * Context: any.
 *
 * Return: 0; -EPERM through a shared borrow (even an ended one); otherwise
 * as ownbuf_read(), with -EBUSY if any other access through the borrow is
 * in flight.
 */
int ownbuf_write(struct ownbuf_ref *ref, size_t off, const void *src,
		 size_t len)
{
	if (!ref)
		return ownbuf_ref_check(ref, OWNBUF_OP_USE, _RET_IP_);
	return ownbuf_kernel_rw(NULL, ref, off, (void *)src, len, true,
				_RET_IP_);
}
EXPORT_SYMBOL_GPL(ownbuf_write);

/**
 * ownbuf_owner_read() - read as the owner
 * @h: the owner's handle.
 * @off: offset in the buffer.
 * @dst: where to copy to.
 * @len: bytes to copy; all of [@off, @off + @len) must be inside the buffer.
 *
 * The owner may read while shared borrows are out, not while the mut
 * borrow is.  Context: any.
 *
 * Return: 0, -EINVAL/-ESTALE (handle), -EINVAL (@dst NULL), -EBUSY
 * (data_race) or -ERANGE, in that order.
 */
int ownbuf_owner_read(struct ownbuf_handle h, size_t off, void *dst,
		      size_t len)
{
	return ownbuf_kernel_rw(&h, NULL, off, dst, len, false, _RET_IP_);
}
EXPORT_SYMBOL_GPL(ownbuf_owner_read);

/**
 * ownbuf_owner_write() - write as the owner
 * @h: the owner's handle.
 * @off: offset in the buffer.
 * @src: where to copy from.
 * @len: bytes to copy; all of [@off, @off + @len) must be inside the buffer.
 *
 * The owner may write only while nothing is lent out.  Context: any.
 *
 * Return: as ownbuf_owner_read().
 */
int ownbuf_owner_write(struct ownbuf_handle h, size_t off, const void *src,
		       size_t len)
{
	return ownbuf_kernel_rw(&h, NULL, off, (void *)src, len, true,
				_RET_IP_);
}
EXPORT_SYMBOL_GPL(ownbuf_owner_write);

/**
 * ownbuf_unsafe_begin() - the raw memory behind a borrow: the unsafe of ownbuf
 * @ref: a live borrow.
 * @len: receives the number of valid bytes.
 *
 * This is the one way to get a pointer into a buffer, for code that cannot
 * go through ownbuf_read()/ownbuf_write() (DMA setup, a library that wants
 * a pointer).  Nothing checks what is done with it.  It is valid from here
 * to ownbuf_unsafe_end(), for [0, *@len) only, and only for what the borrow
 * allows: read-only through a shared borrow.  While the section is open the
 * borrow cannot be released; a revocation does not wait for the section,
 * but the memory stays until it ends.  Sections nest.  Context: any.
 *
 * Return: the pointer, or ERR_PTR(-EINVAL/-ESTALE/-EBUSY).
 */
void *ownbuf_unsafe_begin(struct ownbuf_ref *ref, size_t *len)
{
	unsigned long ip = _RET_IP_;
	struct ownbuf *b;
	int ret, s;

	ret = ownbuf_ref_validate(ref, OWNBUF_OP_USE, false, ip);
	if (ret)
		return ERR_PTR(ret);
	if (!len) {
		ownbuf_report(OWNBUF_NULL_DEREF, ref->id, ip,
			      "NULL length pointer");
		return ERR_PTR(-EINVAL);
	}
	/* Open the section on the token: a release now sees it. */
	s = atomic_read(&ref->state);
	do {
		if ((s & OWNBUF_REF_STATE) != OWNBUF_STATE_LIVE)
			return ERR_PTR(ownbuf_ref_validate(ref, OWNBUF_OP_USE,
							   false, ip) ?: -ESTALE);
	} while (!atomic_try_cmpxchg(&ref->state, &s, s + OWNBUF_REF_PIN_ONE));
	/* And on the buffer: the memory stays until the section ends. */
	b = ownbuf_ref_take(ref, 0, OWNBUF_S_PIN_ONE, OWNBUF_S_PINS, ip, &ret);
	if (!b) {
		atomic_sub(OWNBUF_REF_PIN_ONE, &ref->state);
		return ERR_PTR(ret);
	}
	*len = b->size;
	return b->data;
}
EXPORT_SYMBOL_GPL(ownbuf_unsafe_begin);

/**
 * ownbuf_unsafe_end() - end an unsafe section
 * @ref: the borrow ownbuf_unsafe_begin() succeeded on.
 *
 * Ending a section that is not open is refused as a double_free.  The
 * section ends even if the borrow was revoked meanwhile; the memory may
 * go then.  Context: any.
 */
void ownbuf_unsafe_end(struct ownbuf_ref *ref)
{
	unsigned long ip = _RET_IP_;
	int s;

	if (ownbuf_ref_validate(ref, OWNBUF_OP_USE, true, ip))
		return;
	s = atomic_read(&ref->state);
	do {
		if (!(s & ~OWNBUF_REF_STATE)) {
			ownbuf_report(OWNBUF_DOUBLE_FREE, ref->id, ip,
				      "unsafe section ended twice");
			return;
		}
	} while (!atomic_try_cmpxchg(&ref->state, &s, s - OWNBUF_REF_PIN_ONE));
	/* The borrow cannot end while the section was open: @buf is ours. */
	ownbuf_give(ref->buf, OWNBUF_S_PIN_ONE);
}
EXPORT_SYMBOL_GPL(ownbuf_unsafe_end);

/**
 * ownbuf_access_mask() - would a read or a write be refused right now?
 * @h: the owner's handle, if @ref is NULL.
 * @ref: a borrow, or NULL.
 *
 * Return: OWNBUF_CAN_READ and/or OWNBUF_CAN_WRITE; 0 once dead.
 */
unsigned int ownbuf_access_mask(struct ownbuf_handle *h,
				struct ownbuf_ref *ref)
{
	unsigned int mask = 0;
	struct ownbuf_scan sc;
	struct ownbuf *b;
	u64 s;

	rcu_read_lock_sched();
	if (ref)
		b = ownbuf_ref_state(ref) == OWNBUF_STATE_LIVE ? ref->buf :
								  NULL;
	else
		b = ownbuf_lookup(READ_ONCE(h->val));
	if (!b)
		goto out;
	s = atomic64_read(&b->state);
	if (s & OWNBUF_S_DEAD)
		goto out;
	if (ref) {
		if (!(s & OWNBUF_S_WRITER))
			mask |= OWNBUF_CAN_READ;
		if ((ref->kind & OWNBUF_REF_KIND) == OWNBUF_MUT &&
		    !(s & (OWNBUF_S_READERS | OWNBUF_S_WRITER)))
			mask |= OWNBUF_CAN_WRITE;
	} else {
		if (!(s & (OWNBUF_S_MUT | OWNBUF_S_WRITER)))
			mask |= OWNBUF_CAN_READ;
		if (!(s & (OWNBUF_S_MUT | OWNBUF_S_BUSY))) {
			ownbuf_scan(b, true, &sc);
			if (!sc.live)
				mask |= OWNBUF_CAN_WRITE;
		}
	}
out:
	rcu_read_unlock_sched();
	return mask;
}

/**
 * ownbuf_info() - what INFO reports: a state and, if LIVE, one snapshot
 * @h: the owner's handle variable, if @ref is NULL.
 * @ref: a borrow, or NULL.
 * @st: filled in if LIVE.
 *
 * Counts nothing.  A LIVE answer carries the size and counts the buffer
 * had at one moment while it was live.
 *
 * Return: OWNBUF_STATE_*.
 */
int ownbuf_info(struct ownbuf_handle *h, struct ownbuf_ref *ref,
		struct ownbuf_stat *st)
{
	unsigned int tries;
	struct ownbuf *b;
	int state;
	u64 v, w;

	if (ref) {
		state = atomic_read(&ref->state) & OWNBUF_REF_STATE;
		if (state != OWNBUF_STATE_LIVE)
			return state ?: OWNBUF_STATE_RELEASED;
		w = ownbuf_ref_word(ref);
		if (w == (ref->gen | OWNBUF_SLOT_REVOKED))
			return OWNBUF_STATE_REVOKED;
		if (w != (ref->gen | OWNBUF_SLOT_LIVE))
			return OWNBUF_STATE_RELEASED;
		rcu_read_lock_sched();
		state = ownbuf_snapshot(ref->buf, st) ? OWNBUF_STATE_REVOKED :
							OWNBUF_STATE_LIVE;
		rcu_read_unlock_sched();
		return state;
	}
	for (tries = 0;; tries++) {
		v = READ_ONCE(h->val);
		state = ownbuf_handle_state(h);
		if (state != OWNBUF_STATE_LIVE)
			return state;
		ownbuf_window(OWNBUF_WIN_INFO, NULL);
		rcu_read_lock_sched();
		b = ownbuf_lookup(v);
		state = b && !ownbuf_snapshot(b, st);
		rcu_read_unlock_sched();
		if (state)
			return OWNBUF_STATE_LIVE;
		/*
		 * Dead or moved, and the variable not yet poisoned: drop and
		 * move do both under the buffer's lock, with interrupts off,
		 * so this takes a few instructions.  (A variable whose buffer
		 * was revoked through a copy is never poisoned: dead.)
		 */
		if (tries > 1000)
			return OWNBUF_STATE_DROPPED;
		cpu_relax();
	}
}
EXPORT_SYMBOL_IF_KUNIT(ownbuf_info);

/**
 * ownbuf_peek() - what INFO reports, without counting anything
 * @h: the owner's handle, if @ref is NULL.
 * @ref: a borrow, or NULL.
 * @st: filled in on success.
 *
 * Return: 0, or -ESTALE if not live.
 */
int ownbuf_peek(struct ownbuf_handle *h, struct ownbuf_ref *ref,
		struct ownbuf_stat *st)
{
	return ownbuf_info(h, ref, st) == OWNBUF_STATE_LIVE ? 0 : -ESTALE;
}

/**
 * ownbuf_ref_pfn() - the page frame behind a page of a borrowed buffer
 * @ref: a live borrow.
 * @pgoff: page index in the buffer.
 *
 * For the mmap fault handler of /dev/ownbuf, which guarantees the borrow
 * is live: its ->revoke callback waits for faults in flight before it
 * returns, and the engine calls it before the memory can be freed.
 *
 * Return: the pfn, or 0 if @pgoff is past the buffer.
 */
unsigned long ownbuf_ref_pfn(struct ownbuf_ref *ref, pgoff_t pgoff)
{
	struct ownbuf *b = READ_ONCE(ref->buf);
	void *p;

	if (!b || pgoff >= PAGE_ALIGN(b->size) >> PAGE_SHIFT)
		return 0;
	p = b->data + (pgoff << PAGE_SHIFT);
	if (is_vmalloc_addr(p))
		return vmalloc_to_pfn(p);
	return page_to_pfn(virt_to_page(p));
}

/**
 * ownbuf_put() - drop an observer reference
 * @b: from ownbuf_get().
 */
void ownbuf_put(struct ownbuf *b)
{
	ownbuf_obj_put(b);
}
EXPORT_SYMBOL_IF_KUNIT(ownbuf_put);

/**
 * ownbuf_get() - keep the engine's object of a buffer alive
 * @h: the owner's handle, or NULL.
 * @ref: a borrow of it, used if @h is NULL.
 *
 * The object outlives the buffer's memory: it only carries the wait queue
 * that /dev/ownbuf polls on, for as long as a file may be polled.
 *
 * Return: the object, or NULL if the buffer is gone.
 */
struct ownbuf *ownbuf_get(struct ownbuf_handle *h, struct ownbuf_ref *ref)
{
	struct ownbuf *b;

	rcu_read_lock_sched();
	if (h)
		b = ownbuf_lookup(READ_ONCE(h->val));
	else
		b = ownbuf_ref_state(ref) == OWNBUF_STATE_LIVE ? ref->buf :
								  NULL;
	if (b && !refcount_inc_not_zero(&b->users))
		b = NULL;
	rcu_read_unlock_sched();
	return b;
}

/**
 * ownbuf_waitqueue() - where to wait for a buffer's borrows to come back
 * @b: from ownbuf_get().
 *
 * Return: the wait queue.
 */
wait_queue_head_t *ownbuf_waitqueue(struct ownbuf *b)
{
	return &b->wq;
}

#if IS_ENABLED(CONFIG_KUNIT)
/* See enum ownbuf_window: the KUnit suite stubs this to open a window. */
void ownbuf_window(enum ownbuf_window w, struct ownbuf *b)
{
	KUNIT_STATIC_STUB_REDIRECT(ownbuf_window, w, b);
}
EXPORT_SYMBOL_IF_KUNIT(ownbuf_window);

/* Has @b become dead (dropped or revoked)?  For the KUnit suite. */
bool ownbuf_kunit_dead(struct ownbuf *b)
{
	return atomic64_read(&b->state) & OWNBUF_S_DEAD;
}
EXPORT_SYMBOL_IF_KUNIT(ownbuf_kunit_dead);

/* An observer reference on @b (ownbuf_put() ends it).  For KUnit. */
void ownbuf_kunit_hold(struct ownbuf *b)
{
	refcount_inc(&b->users);
}
EXPORT_SYMBOL_IF_KUNIT(ownbuf_kunit_hold);

/* Buffers whose memory is allocated.  For KUnit. */
unsigned long ownbuf_kunit_data_count(void)
{
	return atomic_long_read(&ownbuf_data_count);
}
EXPORT_SYMBOL_IF_KUNIT(ownbuf_kunit_data_count);
#endif

int ownbuf_engine_init(void)
{
	ownbuf_ref_key = get_random_long();
	ownbuf_set_fast_cap(READ_ONCE(ownbuf_max_shared));
	ownbuf_table_init();
	return 0;
}

/* Report (and free) what a caller left behind at unload. */
static void ownbuf_report_leak(struct ownbuf *b)
{
	pr_warn("buffer %llu (%zu bytes) created by %pS was never dropped; freeing it\n",
		b->id, b->size, (void *)b->created_at);
	ownbuf_free_data(b->data, b->size);
	b->data = NULL;
}

/*
 * Nothing can call into the engine any more: modules that use its API
 * hold a reference on this one, and so do open files.  Whatever is left
 * was leaked by a caller that went away; report it and free it.
 */
void ownbuf_engine_exit(void)
{
	ownbuf_table_for_each(ownbuf_report_leak);
	ownbuf_obj_exit();
	ownbuf_table_exit();
	flush_work(&ownbuf_vfree_work);
}
