// SPDX-License-Identifier: GPL-2.0
/*
 * ownbuf: the handle table, the pool of buffer objects, poisoned handle
 * variables, and finding the buffer a caller's handle names (at the end:
 * ownbuf_find(), which tells a consumed handle from one never issued).
 *
 * The table is two levels of plain arrays, so that a lookup is two loads
 * and a compare under rcu_read_lock_sched() (see ownbuf_lookup()).  An
 * xarray would do the same job with a tree walk per lookup, and measured
 * so (xa_load() in ownbuf_lookup_any(), the same module otherwise, both
 * loaded in turn into one stock 6.12 guest under TCG, median of seven
 * rounds, ratio to a refcount_t inc + dec_and_test): handle lookup 0.94
 * -> 4.26, shared borrow + release 4.76 -> 8.01, mut borrow + release
 * 5.63 -> 8.95.  The borrow fast path is one lookup, so the plainer
 * structure stays.  Slot numbers
 * come from an IDA; every slot keeps a generation of its own, bumped by
 * every create and move that uses it, so no amount of use exhausts the
 * table: a slot is free as soon as its buffer is dead, and a slot whose
 * generation reached the maximum is retired (kept allocated) instead of
 * being reused with a generation it had before.
 */

#include <linux/bitfield.h>
#include <linux/export.h>
#include <linux/idr.h>
#include <linux/percpu.h>
#include <linux/random.h>
#include <linux/siphash.h>
#include <linux/slab.h>

#include "ownbuf_compat.h"
#include "ownbuf_core.h"

struct ownbuf_entry __rcu *ownbuf_chunks[OWNBUF_NR_CHUNKS];
static DEFINE_SPINLOCK(ownbuf_chunks_lock);	/* publishes chunks */
static DEFINE_IDA(ownbuf_ida);
static atomic_long_t ownbuf_table_used = ATOMIC_LONG_INIT(0);
/* Generation new chunks start from: 0, but for the KUnit suite. */
static u64 ownbuf_gen_floor;

/*
 * A chunk not allocated yet is this one, never written, rather than NULL:
 * the lookup of every borrow then tests one thing fewer (a test costs a
 * translation block under emulation, about an atomic; see
 * ownbuf_lookup_any()).  Its objects are all NULL.
 */
struct ownbuf_entry ownbuf_no_chunk[OWNBUF_CHUNK_SIZE];

/* Chunk @c, or NULL if it is not allocated. */
static struct ownbuf_entry *ownbuf_chunk(unsigned int c)
{
	struct ownbuf_entry *chunk;

	/* Also called without RCU: chunks are never freed before unload. */
	chunk = rcu_dereference_raw(ownbuf_chunks[c]);
	return chunk == ownbuf_no_chunk ? NULL : chunk;
}

static struct ownbuf_entry *ownbuf_entry(u32 idx)
{
	struct ownbuf_entry *chunk = ownbuf_chunk(idx >> OWNBUF_CHUNK_BITS);

	return chunk ? &chunk[idx & (OWNBUF_CHUNK_SIZE - 1)] : NULL;
}

/* A free slot number with its chunk allocated, or a negative errno. */
static int ownbuf_slot_alloc(gfp_t gfp)
{
	struct ownbuf_entry *chunk;
	unsigned int i;
	int idx;

	idx = ida_alloc_range(&ownbuf_ida, 1, OWNBUF_IDX_MASK, gfp);
	if (idx < 0 || ownbuf_entry(idx))
		return idx;
	/* Shared by every buffer: nobody's memcg pays for it. */
	chunk = kcalloc(OWNBUF_CHUNK_SIZE, sizeof(*chunk),
			gfp & ~__GFP_ACCOUNT);
	if (!chunk) {
		ida_free(&ownbuf_ida, idx);
		return -ENOMEM;
	}
	/* A move may get here in atomic context: a spinlock, not a mutex. */
	spin_lock(&ownbuf_chunks_lock);
	if (!ownbuf_entry(idx)) {
		for (i = 0; i < OWNBUF_CHUNK_SIZE; i++)
			chunk[i].gen = ownbuf_gen_floor;
		rcu_assign_pointer(ownbuf_chunks[idx >> OWNBUF_CHUNK_BITS],
				   chunk);
		chunk = NULL;
	}
	spin_unlock(&ownbuf_chunks_lock);
	kfree(chunk);
	return idx;
}

/*
 * A slot and the first unused generation of it, as a handle; retired slots
 * stay allocated.  Returns 0 or a negative errno.
 */
static int ownbuf_handle_alloc(gfp_t gfp, u64 *handle)
{
	struct ownbuf_entry *e;
	u64 gen;
	int idx;

	for (;;) {
		idx = ownbuf_slot_alloc(gfp);
		if (idx < 0)
			return idx == -ENOSPC ? -ENOSPC : -ENOMEM;
		e = ownbuf_entry(idx);
		gen = READ_ONCE(e->gen);
		if (gen < OWNBUF_GEN_MAX)
			break;
		/* Every generation of this slot was used: retire it. */
	}
	WRITE_ONCE(e->gen, gen + 1);
	*handle = (gen + 1) << OWNBUF_IDX_BITS | idx;
	return 0;
}

/* Give @idx back, unless its generations are all used. */
static void ownbuf_slot_free(u32 idx, u64 id)
{
	struct ownbuf_entry *e = ownbuf_entry(idx);

	WRITE_ONCE(e->last_id, id);
	rcu_assign_pointer(e->b, NULL);
	atomic_long_dec(&ownbuf_table_used);
	if (READ_ONCE(e->gen) < OWNBUF_GEN_MAX)
		ida_free(&ownbuf_ida, idx);
}

/*
 * Give @b a handle and publish it: lookups find it from here.  Until then
 * nobody knows the handle.  Returns 0, -ENOSPC or -ENOMEM.
 */
VISIBLE_IF_KUNIT int ownbuf_table_insert(struct ownbuf *b, u32 *idx,
					 gfp_t gfp)
{
	u64 handle;
	int ret;

	KUNIT_STATIC_STUB_REDIRECT(ownbuf_table_insert, b, idx, gfp);

	ret = ownbuf_handle_alloc(gfp, &handle);
	if (ret)
		return ret;
	*idx = handle & OWNBUF_IDX_MASK;
	WRITE_ONCE(b->handle, handle);
	atomic_long_inc(&ownbuf_table_used);
	/* Ownership of b is held by the table (and the handle) from here. */
	rcu_assign_pointer(ownbuf_entry(*idx)->b, b);
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(ownbuf_table_insert);

int ownbuf_table_add(struct ownbuf *b, gfp_t gfp)
{
	u32 idx;

	return ownbuf_table_insert(b, &idx, gfp);
}

/* @b is dead: its handle names nothing any more.  Caller holds b->lock. */
void ownbuf_table_remove(struct ownbuf *b)
{
	lockdep_assert_held(&b->lock);
	ownbuf_slot_free(b->handle & OWNBUF_IDX_MASK, b->id);
}

/*
 * Move: give @b its next handle and publish it; the old one is stale from
 * here.  The slot stays the same unless its generations are used up.
 * Caller holds b->lock.  Returns 0 or -ENOMEM/-ENOSPC (nothing changed).
 */
int ownbuf_table_next(struct ownbuf *b, u64 *handle)
{
	u32 idx = b->handle & OWNBUF_IDX_MASK;
	struct ownbuf_entry *e = ownbuf_entry(idx);
	u64 gen;
	int ret;

	lockdep_assert_held(&b->lock);
	gen = READ_ONCE(e->gen);
	if (gen < OWNBUF_GEN_MAX) {
		WRITE_ONCE(e->gen, gen + 1);
		*handle = (gen + 1) << OWNBUF_IDX_BITS | idx;
		WRITE_ONCE(b->handle, *handle);
		return 0;
	}
	ret = ownbuf_handle_alloc(GFP_NOWAIT | __GFP_NOWARN, handle);
	if (ret)
		return ret;
	WRITE_ONCE(b->handle, *handle);
	atomic_long_inc(&ownbuf_table_used);
	rcu_assign_pointer(ownbuf_entry(*handle & OWNBUF_IDX_MASK)->b, b);
	ownbuf_slot_free(idx, 0);
	return 0;
}

/*
 * The id of the buffer a stale handle named, if it was the last handle of
 * its slot (for reports); 0 if unknown.
 */
u64 ownbuf_table_stale_id(u64 h)
{
	struct ownbuf_entry *e = ownbuf_entry(h & OWNBUF_IDX_MASK);

	if (!e || READ_ONCE(e->gen) != h >> OWNBUF_IDX_BITS ||
	    rcu_access_pointer(e->b))
		return 0;
	return READ_ONCE(e->last_id);
}

/* Buffers in the table (live, not dead). */
unsigned long ownbuf_table_count(void)
{
	return atomic_long_read(&ownbuf_table_used);
}

/* Call @fn on every live buffer, under rcu_read_lock_sched(). */
void ownbuf_table_for_each(void (*fn)(struct ownbuf *b))
{
	struct ownbuf_entry *chunk;
	struct ownbuf *b;
	unsigned int c, i;

	rcu_read_lock_sched();
	for (c = 0; c < OWNBUF_NR_CHUNKS; c++) {
		chunk = ownbuf_chunk(c);
		for (i = 0; chunk && i < OWNBUF_CHUNK_SIZE; i++) {
			b = rcu_dereference_sched(chunk[i].b);
			if (b)
				fn(b);
		}
	}
	rcu_read_unlock_sched();
}

/*
 * The live buffer in the first used slot at or after *@idx, with an
 * observer reference (ownbuf_obj_put() ends it), and its slot in *@idx; or
 * NULL.  For walks that may sleep between buffers (the debugfs file):
 * nothing is held from one call to the next.
 */
struct ownbuf *ownbuf_table_get_next(u32 *idx)
{
	struct ownbuf_entry *chunk;
	struct ownbuf *b = NULL;
	u32 i;

	rcu_read_lock_sched();
	for (i = max(*idx, 1U); i <= OWNBUF_IDX_MASK && !b; i++) {
		chunk = ownbuf_chunk(i >> OWNBUF_CHUNK_BITS);
		if (!chunk) {
			/* Nothing in this chunk: on to the next one. */
			i |= OWNBUF_CHUNK_SIZE - 1;
			continue;
		}
		b = rcu_dereference_sched(chunk[i & (OWNBUF_CHUNK_SIZE - 1)].b);
		b = ownbuf_observe(b);
		if (b)
			*idx = i;
	}
	rcu_read_unlock_sched();
	return b;
}

void ownbuf_table_exit(void)
{
	unsigned int c;

	for (c = 0; c < OWNBUF_NR_CHUNKS; c++)
		kfree(ownbuf_chunk(c));
	ida_destroy(&ownbuf_ida);
}

#if IS_ENABLED(CONFIG_KUNIT)
/* Pretend @n generations of every slot were used (saturating).  For KUnit. */
void ownbuf_kunit_spend_generations(u64 n)
{
	struct ownbuf_entry *chunk;
	unsigned int c, i;
	u64 gen;

	spin_lock(&ownbuf_chunks_lock);
	ownbuf_gen_floor = min(n, OWNBUF_GEN_MAX - 1);
	for (c = 0; c < OWNBUF_NR_CHUNKS; c++) {
		chunk = ownbuf_chunk(c);
		for (i = 0; chunk && i < OWNBUF_CHUNK_SIZE; i++) {
			gen = READ_ONCE(chunk[i].gen);
			WRITE_ONCE(chunk[i].gen,
				   n > OWNBUF_GEN_MAX - 1 - gen ?
				   OWNBUF_GEN_MAX - 1 : gen + n);
		}
	}
	spin_unlock(&ownbuf_chunks_lock);
}
EXPORT_SYMBOL_IF_KUNIT(ownbuf_kunit_spend_generations);

/* A value naming @hv's table slot with another generation.  For KUnit. */
u64 ownbuf_kunit_same_slot(u64 hv, u64 rnd)
{
	u64 v = (rnd & GENMASK_ULL(62, OWNBUF_IDX_BITS)) |
		(hv & OWNBUF_IDX_MASK);

	return v == hv ? v ^ BIT_ULL(OWNBUF_IDX_BITS) : v;
}
EXPORT_SYMBOL_IF_KUNIT(ownbuf_kunit_same_slot);

/* Buffers in the table, for the KUnit suites' leak checks. */
unsigned long ownbuf_count_buffers(void)
{
	return ownbuf_table_count();
}
EXPORT_SYMBOL_IF_KUNIT(ownbuf_count_buffers);
#endif

/* --- poisoned handle variables --- */

/*
 * A poisoned variable (OWNBUF_POISON in ownbuf_internal.h) also holds the
 * low 30 bits of the buffer id for reports, and 32 bits of a keyed hash of
 * all that and the variable's address.  So a second drop through the same
 * variable is told from any other value: a poisoned value copied
 * elsewhere, or a value with bit 63 that ownbuf never wrote, names nothing
 * and is a use after free.
 */
#define OWNBUF_POISON_ID	GENMASK_ULL(61, 32)
#define OWNBUF_POISON_MAC	GENMASK_ULL(31, 0)

static siphash_key_t ownbuf_poison_key __read_mostly;

static u64 ownbuf_poison_mac(const struct ownbuf_handle *hp, u64 head)
{
	return siphash_2u64((unsigned long)hp, head, &ownbuf_poison_key) &
	       OWNBUF_POISON_MAC;
}

u64 ownbuf_poison(const struct ownbuf_handle *hp, u64 id, bool moved)
{
	u64 head = OWNBUF_POISON | (moved ? OWNBUF_POISON_MOVED : 0) |
		   FIELD_PREP(OWNBUF_POISON_ID, id);

	return head | ownbuf_poison_mac(hp, head);
}

/*
 * Is @v what ownbuf wrote into *@hp when it consumed it?  Then *@id is (the
 * low bits of) the buffer's id.
 */
bool ownbuf_poison_mine(const struct ownbuf_handle *hp, u64 v, u64 *id)
{
	u64 head = v & ~OWNBUF_POISON_MAC;

	if (!(v & OWNBUF_POISON) ||
	    (v & OWNBUF_POISON_MAC) != ownbuf_poison_mac(hp, head))
		return false;
	*id = FIELD_GET(OWNBUF_POISON_ID, v);
	return true;
}

/* --- the pool of buffer objects --- */

/*
 * Buffer objects are never freed while the module is loaded: a dead one
 * goes back to a pool after a grace period and serves the next create.
 * Their borrow records keep counting generations across lives, so a token
 * that outlived its borrow, or a copy of one, always points at memory that
 * is a record, whose generation tells it is not the token's any more.
 * The memory of the buffers themselves is freed as soon as they are dead.
 */
static LIST_HEAD(ownbuf_objects);	/* every object, live or pooled */
static LIST_HEAD(ownbuf_pool);		/* pooled objects */
static DEFINE_SPINLOCK(ownbuf_pool_lock);	/* protects both lists, from RCU callbacks too */

struct ownbuf *ownbuf_alloc_core(gfp_t gfp)
{
	struct ownbuf *b = NULL;
	unsigned long flags;

	KUNIT_STATIC_STUB_REDIRECT(ownbuf_alloc_core, gfp);

	spin_lock_irqsave(&ownbuf_pool_lock, flags);
	if (!list_empty(&ownbuf_pool)) {
		b = list_first_entry(&ownbuf_pool, struct ownbuf, pool);
		list_del_init(&b->pool);
	}
	spin_unlock_irqrestore(&ownbuf_pool_lock, flags);
	if (!b) {
		/* Shared by every buffer over time: nobody's memcg pays. */
		gfp &= ~__GFP_ACCOUNT;
		b = kzalloc(sizeof(*b), gfp);
		if (!b)
			return NULL;
		b->cells = alloc_percpu_gfp(struct ownbuf_cell,
					    gfp | __GFP_ZERO);
		if (!b->cells) {
			kfree(b);
			return NULL;
		}
		INIT_LIST_HEAD(&b->pool);
		spin_lock_irqsave(&ownbuf_pool_lock, flags);
		list_add(&b->node, &ownbuf_objects);
		spin_unlock_irqrestore(&ownbuf_pool_lock, flags);
	}
	/* Everything but the borrow records, whose generations go on. */
	atomic64_set(&b->state, 0);
	b->handle = 0;
	b->data = NULL;
	b->size = 0;
	atomic_set(&b->over_live, 0);
	b->busy_at = 0;
	b->id = 0;
	memset(&b->created, 0, sizeof(b->created));
	memset(&b->holder, 0, sizeof(b->holder));
	refcount_set(&b->users, 1);
	spin_lock_init(&b->lock);
	init_waitqueue_head(&b->wq);
	mutex_init(&b->hook_lock);
	INIT_LIST_HEAD(&b->hooks);
	b->revoker = NULL;
	return b;
}
EXPORT_SYMBOL_IF_KUNIT(ownbuf_alloc_core);

static void ownbuf_obj_recycle(struct rcu_head *rcu)
{
	struct ownbuf *b = container_of(rcu, struct ownbuf, rcu);
	unsigned long flags;

	spin_lock_irqsave(&ownbuf_pool_lock, flags);
	list_add(&b->pool, &ownbuf_pool);
	spin_unlock_irqrestore(&ownbuf_pool_lock, flags);
}

/* Drop a reference; the last one sends @b back to the pool. */
void ownbuf_obj_put(struct ownbuf *b)
{
	if (refcount_dec_and_test(&b->users))
		call_rcu(&b->rcu, ownbuf_obj_recycle);
}

/*
 * Unload: nothing refers to any object any more (modules using the API
 * hold a reference on this one, and so do open files).  Free them all.
 */
void ownbuf_obj_exit(void)
{
	struct ownbuf_block *blk;
	struct ownbuf *b, *tmp;

	/* The last objects put are recycled by RCU callbacks. */
	rcu_barrier();
	list_for_each_entry_safe(b, tmp, &ownbuf_objects, node) {
		while (b->blocks) {
			blk = b->blocks;
			b->blocks = blk->next;
			kfree(blk);
		}
		free_percpu(b->cells);
		list_del(&b->node);
		kfree(b);
	}
	INIT_LIST_HEAD(&ownbuf_pool);
}

void ownbuf_table_init(void)
{
	unsigned int c;

	for (c = 0; c < OWNBUF_NR_CHUNKS; c++)
		RCU_INIT_POINTER(ownbuf_chunks[c], ownbuf_no_chunk);
	get_random_bytes(&ownbuf_poison_key, sizeof(ownbuf_poison_key));
}

/* --- looking a handle up for an operation --- */

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

/*
 * The live buffer *@hp names, or NULL and *@err after reporting why not.
 * The caller holds rcu_read_lock_sched().
 */
__always_inline struct ownbuf *
ownbuf_find(struct ownbuf_handle *hp, enum ownbuf_op op, unsigned long ip,
	    u64 *hv, int *err)
{
	struct ownbuf *b;
	int ret;

	/*
	 * The NULL handle and a poisoned one name no buffer (no handle is
	 * 0 or has the poison bit): look up first, tell why only if not.
	 */
	if (likely(hp)) {
		*hv = READ_ONCE(hp->val);
		b = ownbuf_lookup(*hv);
		if (likely(b && !(atomic64_read(&b->state) & OWNBUF_S_DEAD)))
			return b;
	}
	/*
	 * A drop poisons the variable before the buffer dies and leaves the
	 * table: found dead or gone, it is found poisoned if it was dropped.
	 */
	smp_rmb();
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

/* Size and id of the buffer *@hp names (either may be NULL), or why none. */
__always_inline int ownbuf_handle_peek(struct ownbuf_handle *hp,
				       enum ownbuf_op op, unsigned long ip,
				       size_t *size, u64 *id)
{
	struct ownbuf *b;
	int ret = 0;
	u64 hv;

	rcu_read_lock_sched();
	b = ownbuf_find(hp, op, ip, &hv, &ret);
	if (likely(b)) {
		if (size)
			*size = READ_ONCE(b->size);
		if (id)
			*id = b->id;
	}
	rcu_read_unlock_sched();
	return ret;
}
