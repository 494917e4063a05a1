/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Private to the engine's files (ownbuf_engine.c, ownbuf_record.c,
 * ownbuf_buffer.c, ownbuf_access.c, ownbuf_table.c, ownbuf_report.c): the
 * buffer object, its ownership state word, the borrow records and the
 * handle table.
 *
 * Three rules hold in every file of the engine:
 *  - Nothing waits for another caller.  Conflicts are refused at once;
 *    the only waits are spins over a few instructions that another CPU
 *    runs with preemption off (CLAIM, PENDING records) or interrupts off
 *    (the lock).  Where waiting for CLAIM or a PENDING record could
 *    deadlock (in interrupt context, with interrupts off), the attempt
 *    is refused instead: see ownbuf_may_wait_pending().
 *    Revocation never waits for an access in flight: the last one out
 *    frees the memory.
 *  - Whoever gives something back touches the object only inside an RCU
 *    read-side section (or holding a reference), because once the claim
 *    is given back another CPU may finish the buffer.
 *  - An attempt that is refused changes nothing anybody else can see:
 *    no count, no bit that refuses somebody else.
 */
#ifndef _OWNBUF_CORE_H
#define _OWNBUF_CORE_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/cpumask.h>
#include <linux/jiffies.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#include "ownbuf_internal.h"

/*
 * The ownership state of a buffer: one 64-bit word, changed only by atomic
 * operations, so that each check-and-take is one step.  Shared borrows are
 * not in it: each is a record of its own (struct ownbuf_slot), most of them
 * in per-CPU cells, so that readers on different CPUs never write a common
 * cache line.
 *
 * READERS, PINS, WRITER: accesses in flight (reads; unsafe sections; a write,
 *	resize, move or drop).  Together with REVOKING they are BUSY: the
 *	memory stays while anything is BUSY, even once the buffer is DEAD.
 * MUT: the mut borrow is out (its record is struct ownbuf.mut).
 * CLAIM: an exclusive attempt (mut borrow, owner write, drop, move, resize)
 *	is checking the shared borrows, with preemption off.  Nobody is
 *	refused because of it: a shared borrow that finds it sets YIELD and
 *	goes ahead, reads go ahead, and the attempt gives way to a shared
 *	borrow it finds half-taken.  So an attempt that is refused is
 *	invisible.  Another exclusive attempt waits the few instructions it
 *	lasts (in interrupt context or with interrupts off, where that wait
 *	could deadlock, it is refused instead).
 * YIELD: only with CLAIM: a shared borrow was taken while the attempt was
 *	checking, which must not commit now (its cmpxchg fails, or it sees
 *	YIELD) and looks again.  Cleared with CLAIM.
 * DEAD: dropped or revoked; final.  Nothing new is taken; what is in
 *	flight completes; the last access out frees the memory.
 * OVER: shared borrows are counted exactly (under the lock), because the
 *	per-CPU cells alone could overshoot max_shared.
 * REVOKING: the revoker runs ->revoke callbacks; the memory stays.
 * FINISHED: dead and nothing refers to it any more; the object goes back
 *	to the pool after a grace period.
 * ENDING: with WRITER, held by a drop or a move: an operation that ends
 *	the handle it was given (see ownbuf_take_owner_excl()).
 */
#define OWNBUF_S_READER_ONE	BIT_ULL(0)
#define OWNBUF_S_READERS	GENMASK_ULL(15, 0)
#define OWNBUF_S_PIN_ONE	BIT_ULL(16)
#define OWNBUF_S_PINS		GENMASK_ULL(31, 16)
#define OWNBUF_S_WRITER		BIT_ULL(32)
#define OWNBUF_S_MUT		BIT_ULL(33)
#define OWNBUF_S_CLAIM		BIT_ULL(34)
#define OWNBUF_S_DEAD		BIT_ULL(35)
#define OWNBUF_S_OVER		BIT_ULL(36)
#define OWNBUF_S_REVOKING	BIT_ULL(37)
#define OWNBUF_S_FINISHED	BIT_ULL(38)
#define OWNBUF_S_ENDING		BIT_ULL(39)
#define OWNBUF_S_YIELD		BIT_ULL(40)
#define OWNBUF_S_BUSY		(OWNBUF_S_READERS | OWNBUF_S_PINS | \
				 OWNBUF_S_WRITER | OWNBUF_S_REVOKING)
/* Not a state bit: "a shared borrow is out", in reports of a conflict. */
#define OWNBUF_S_SHARED_SEEN	BIT_ULL(63)

/*
 * A borrow record: a generation and a state in one word, and where the
 * borrow was taken.  The generation grows with every borrow the record
 * serves and the memory of a record is never freed while the module is
 * loaded (struct ownbuf objects are pooled), so a token restored from a
 * saved copy, or kept past its buffer, names a record whose word no longer
 * matches: it can neither release a borrow twice nor reach a buffer.
 */
#define OWNBUF_SLOT_FREE	0ULL
#define OWNBUF_SLOT_PENDING	1ULL	/* being taken, preemption off */
#define OWNBUF_SLOT_LIVE	2ULL
#define OWNBUF_SLOT_REVOKED	3ULL
#define OWNBUF_SLOT_STATE	3ULL
#define OWNBUF_SLOT_GEN_ONE	4ULL

/*
 * Who holds a borrow, for the debugfs file and the reports of conflicts.
 * @ip and @since are written by every borrow before its record is LIVE.
 * Borrows taken the slow way (every one from userspace) also name their
 * task: @pid and @comm, then @task, the generation they describe (a
 * release store), with OWNBUF_TASK_MAPPED once the borrow is mmap()ed.
 */
#define OWNBUF_TASK_MAPPED	1ULL

struct ownbuf_slot {
	atomic64_t word;
	unsigned long ip;	/* where the borrow was taken, 0: userspace */
	unsigned long since;	/* when (jiffies) */
	atomic64_t task;	/* see above */
	pid_t pid;
	char comm[TASK_COMM_LEN];
};

/* A borrow's record becomes LIVE: where and when, for who asks. */
static __always_inline void ownbuf_slot_note(struct ownbuf_slot *slot,
					     unsigned long ip)
{
	WRITE_ONCE(slot->ip, ip);
	WRITE_ONCE(slot->since, jiffies);
}

/**
 * struct ownbuf_who - who created a buffer, or holds its owner
 * @ip: the in-kernel caller, or OWNBUF_IP_USER.
 * @since: when (jiffies).
 * @pid: the task (its pid in the initial namespace).
 * @moves: (the owner's holder) how many moves made it the holder.
 * @comm: its name then.
 */
struct ownbuf_who {
	unsigned long ip;
	unsigned long since;
	pid_t pid;
	u32 moves;
	char comm[TASK_COMM_LEN];
};

/* One CPU's records of shared borrows of one buffer. */
#define OWNBUF_CELL_SLOTS	2
struct ownbuf_cell {
	struct ownbuf_slot slot[OWNBUF_CELL_SLOTS];
};

/* More records, taken under the lock, once a CPU's cell is full. */
#define OWNBUF_BLOCK_SLOTS	64
struct ownbuf_block {
	struct ownbuf_block *next;
	struct ownbuf_slot slot[OWNBUF_BLOCK_SLOTS];
};

/**
 * struct ownbuf - one buffer
 * @state: the ownership state, see OWNBUF_S_*.
 * @handle: the owner's current handle; changed under @lock.
 * @data: PAGE_ALIGN(@size) zeroed bytes, the bytes past @size always zero.
 *	Replaced by resize while it holds WRITER; freed by whoever leaves it
 *	DEAD and not BUSY.
 * @size: size in bytes; changed like @data.
 * @cells: the per-CPU records of shared borrows.
 * @blocks: more records, appended under @lock, kept for the object's life.
 * @mut: the record of the mut borrow.
 * @over_live: shared borrows recorded in @blocks.
 * @busy_at: where the latest access started (a hint for reports).
 * @id: the buffer's id: never reused, kept across moves.
 * @gfp: allocation flags given at creation, reused by resize.
 * @created: who created the buffer (for the debugfs file and the report
 *	at module unload); written before the buffer is published.
 * @holder: who holds the owner: its creator, or whoever moved it last;
 *	changed under @lock.
 * @users: references: one held by the ownership state until FINISHED, one
 *	per observer (ownbuf_owner_get()).  At zero the object goes back to the
 *	pool after a grace period: RCU lookups never see it change identity.
 * @lock: serialises the changes of @handle and @holder and the transition
 *	to DEAD (so that drop, move and revoke of one buffer have one order),
 *	and the exact counting of shared borrows under OVER.
 * @wq: borrowers waiting (OWNBUF_WAIT) and pollers; woken when anything
 *	is given back and when the buffer dies.
 * @hook_lock: protects @hooks and the hook state of their borrows.
 * @hooks: live borrows with ->revoke callbacks.
 * @revoker: the task running ->revoke callbacks, while it does.
 * @node: on the list of all objects (ownbuf_objects) for its whole life.
 * @pool: on the free pool, while unused.
 * @rcu: the object returns to the pool after a grace period.
 * @dep_map: its borrows, as a lock for lockdep, of the class of the place
 *	that created it (see ownbuf.h).
 *
 * Every borrow reads @handle, @cells and @id and the state; an exclusive
 * borrow writes the state and @mut.  The three are on lines of their own,
 * so that a CPU taking and giving back the mut borrow costs one that reads
 * the buffer one cache miss (the state), not three.
 */
struct ownbuf {
	u64 handle;
	struct ownbuf_cell __percpu *cells;
	u64 id;
	void *data;
	size_t size;
	struct ownbuf_block *blocks;
	gfp_t gfp;
	/* Lines of their own: see above. */
	atomic64_t state ____cacheline_aligned_in_smp;
	atomic_t over_live;
	unsigned long busy_at;
	struct ownbuf_slot mut ____cacheline_aligned_in_smp;
	struct ownbuf_who created;
	struct ownbuf_who holder;
	refcount_t users;
	spinlock_t lock;	/* see above */
	wait_queue_head_t wq;
	struct mutex hook_lock;	/* see above */
	struct list_head hooks;
	struct task_struct *revoker;
	struct list_head node;
	struct list_head pool;
	struct rcu_head rcu;
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	struct lockdep_map dep_map;
#endif
};

/*
 * A borrow of @b as a lock, for lockdep (see ownbuf.h): shared ones as
 * recursive reads, since shared borrows never wait for each other.
 */
static inline void ownbuf_lock_acquire(struct ownbuf *b, unsigned int kind,
				       bool try, unsigned long ip)
{
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	lock_acquire(&b->dep_map, 0, try, kind == OWNBUF_SHARED ? 2 : 0, 1,
		     NULL, ip);
#endif
}

static inline void ownbuf_lock_release(struct ownbuf *b, unsigned long ip)
{
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	lock_release(&b->dep_map, ip);
#endif
}

/* struct ownbuf_ref.hook, for borrows with callbacks. */
#define OWNBUF_HOOK_LISTED	1	/* on ->hooks */
#define OWNBUF_HOOK_REVOKING	2	/* the revoker calls ->revoke */
#define OWNBUF_HOOK_DONE	3	/* ->revoke has returned */

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

/* --- the state word machine: ownbuf_engine.c --- */

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

static inline struct ownbuf_slot *ownbuf_cell_slot(struct ownbuf *b, int cpu,
						   int i)
{
	return &per_cpu_ptr(b->cells, cpu)->slot[i];
}

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

/* Is every CPU below nr_cpu_ids possible?  Set once, at module init. */
extern bool ownbuf_cpus_dense;

/* Are all the per-CPU records of @b free?  One pass, no classification. */
static __always_inline u64 ownbuf_cell_words(struct ownbuf *b, int cpu)
{
	struct ownbuf_cell *cell = per_cpu_ptr(b->cells, cpu);
	u64 any = 0;
	int i;

	for (i = 0; i < OWNBUF_CELL_SLOTS; i++)
		any |= atomic64_read(&cell->slot[i].word);
	return any;
}

static __always_inline bool ownbuf_cells_free(struct ownbuf *b)
{
	u64 any = 0;
	int cpu = 0;

	if (likely(ownbuf_cpus_dense)) {
		/* No test per CPU; CPU 0 is always there: none before it. */
		do {
			any |= ownbuf_cell_words(b, cpu);
		} while (++cpu < nr_cpu_ids);
	} else {
		/* Not for_each_possible_cpu(): no call in the fast paths. */
		for (; cpu < nr_cpu_ids; cpu++)
			if (cpu_possible(cpu))
				any |= ownbuf_cell_words(b, cpu);
	}
	return !(any & OWNBUF_SLOT_STATE);
}

/*
 * Defined in ownbuf_engine.c and ownbuf_record.c (ownbuf_find() and
 * ownbuf_handle_peek() in ownbuf_table.c, ownbuf_ref_take() in
 * ownbuf_access.c); a file inlines those marked __always_inline into its
 * own fast paths (a borrow and its release are one call each) and gives
 * the other files of the engine an ordinary function.
 */
void ownbuf_scan(struct ownbuf *b, bool blocks, struct ownbuf_scan *sc);
bool ownbuf_may_wait_pending(void);
void ownbuf_wait_pending(struct ownbuf *b, bool blocks);
unsigned int ownbuf_count_shared(struct ownbuf *b);
void *ownbuf_data_take(struct ownbuf *b);
void ownbuf_maybe_finish(struct ownbuf *b);
u64 ownbuf_give(struct ownbuf *b, u64 one);
int ownbuf_take_excl(struct ownbuf *b, u64 commit, u64 *seen);
int ownbuf_share_slow(struct ownbuf *b, u64 h, gfp_t gfp, unsigned long ip,
		      struct ownbuf_slot **slotp, u64 *genp, u64 *seen);
int ownbuf_share_redo(struct ownbuf *b, u64 h, struct ownbuf_slot *slot,
		      u64 gen, unsigned long ip, u64 *seen);
struct ownbuf *ownbuf_find(struct ownbuf_handle *hp, enum ownbuf_op op,
			   unsigned long ip, u64 *hv, int *err);
int ownbuf_handle_peek(struct ownbuf_handle *hp, enum ownbuf_op op,
		       unsigned long ip, size_t *size, u64 *id);
bool ownbuf_ref_genuine(const struct ownbuf_ref *ref);
u64 ownbuf_ref_word(const struct ownbuf_ref *ref);
int ownbuf_ref_validate(struct ownbuf_ref *ref, enum ownbuf_op op,
			bool any_record, unsigned long ip);
struct ownbuf *ownbuf_ref_take(struct ownbuf_ref *ref, u64 conflict, u64 one,
			       u64 field, unsigned long ip, int *err);
int ownbuf_ref_refuse(struct ownbuf_ref *ref, enum ownbuf_op op,
		      bool any_record, unsigned long ip);
void ownbuf_ref_init(void);
void ownbuf_slot_note_task(struct ownbuf_slot *slot, u64 gen);
void ownbuf_slot_note_mapped(struct ownbuf_slot *slot, u64 gen);
bool ownbuf_slot_holder(struct ownbuf_slot *slot, u32 kind,
			struct ownbuf_holder *hd);
void ownbuf_who_note(struct ownbuf_who *who, unsigned long ip);

/* --- the life of a buffer: ownbuf_buffer.c --- */

/* Limits (module parameters), read at the moment they apply. */
extern unsigned int ownbuf_max_shared;
/* Shared borrows a CPU records without counting the others. */
extern unsigned int ownbuf_fast_cap;

/* Shared borrows out: with nothing recorded per CPU, no scan and no call. */
static __always_inline unsigned int ownbuf_shared_out(struct ownbuf *b)
{
	if (likely(ownbuf_cells_free(b)))
		return atomic_read(&b->over_live);
	return ownbuf_count_shared(b);
}

/*
 * What @b looks like now: 0 and *@st if it is live throughout, -ESTALE if
 * dead.  The caller holds it by RCU or a reference.  Inline: INFO is
 * mostly this.
 */
static __always_inline int ownbuf_snapshot(struct ownbuf *b,
					   struct ownbuf_stat *st)
{
	u64 s = atomic64_read_acquire(&b->state);

	if (s & OWNBUF_S_DEAD)
		return -ESTALE;
	st->size = READ_ONCE(b->size);
	st->id = b->id;
	st->shared_borrows = ownbuf_shared_out(b);
	st->mut_borrows = (atomic64_read(&b->mut.word) & OWNBUF_SLOT_STATE) ==
			  OWNBUF_SLOT_LIVE;
	/* DEAD is final: live before and after, live in between. */
	smp_rmb();
	if (atomic64_read(&b->state) & OWNBUF_S_DEAD)
		return -ESTALE;
	return 0;
}

/* --- handle table: ownbuf_table.c --- */

/*
 * A handle is gen << OWNBUF_IDX_BITS | idx: idx finds the table slot, the
 * generation (one per slot, never reused for it) tells the slot's current
 * handle from every earlier one.  Bit 63 is never set in a handle: it
 * marks a consumed (poisoned) handle variable.
 */
#define OWNBUF_IDX_BITS		20
#define OWNBUF_IDX_MASK		GENMASK_ULL(OWNBUF_IDX_BITS - 1, 0)
#define OWNBUF_GEN_MAX		(GENMASK_ULL(62, 0) >> OWNBUF_IDX_BITS)
#define OWNBUF_CHUNK_BITS	9
#define OWNBUF_CHUNK_SIZE	BIT(OWNBUF_CHUNK_BITS)
#define OWNBUF_NR_CHUNKS	BIT(OWNBUF_IDX_BITS - OWNBUF_CHUNK_BITS)

struct ownbuf_entry {
	struct ownbuf __rcu *b;
	u64 gen;	/* of the slot's current handle, or of its last one */
	u64 last_id;	/* the id of the slot's last buffer, for reports */
};

/* Every chunk is allocated or ownbuf_no_chunk: a lookup never tests. */
extern struct ownbuf_entry __rcu *ownbuf_chunks[OWNBUF_NR_CHUNKS];
extern struct ownbuf_entry ownbuf_no_chunk[OWNBUF_CHUNK_SIZE];

/*
 * The object in @h's table slot, or NULL; not necessarily the buffer @h
 * names (check ->handle).  Caller holds rcu_read_lock_sched().
 */
static __always_inline struct ownbuf *ownbuf_lookup_any(u64 h)
{
	struct ownbuf_entry *chunk;

	chunk = rcu_dereference_sched(ownbuf_chunks[(h & OWNBUF_IDX_MASK) >>
						    OWNBUF_CHUNK_BITS]);
	return rcu_dereference_sched(chunk[h & (OWNBUF_CHUNK_SIZE - 1)].b);
}

/* The buffer @h names, or NULL.  Caller holds rcu_read_lock_sched(). */
static __always_inline struct ownbuf *ownbuf_lookup(u64 h)
{
	struct ownbuf *b = ownbuf_lookup_any(h);

	/* A moved or recycled object has another handle. */
	if (likely(b && READ_ONCE(b->handle) == h))
		return b;
	return NULL;
}

/* An observer reference on @b, which the caller holds by RCU; or NULL. */
static __always_inline struct ownbuf *ownbuf_observe(struct ownbuf *b)
{
	return b && refcount_inc_not_zero(&b->users) ? b : NULL;
}

int ownbuf_table_add(struct ownbuf *b, gfp_t gfp);
void ownbuf_table_remove(struct ownbuf *b);
int ownbuf_table_next(struct ownbuf *b, u64 *handle);
void ownbuf_table_publish(struct ownbuf *b, u64 handle);
unsigned long ownbuf_table_count(void);
u64 ownbuf_table_stale_id(u64 h);
struct ownbuf *ownbuf_table_get_next(u32 *idx);
void ownbuf_table_for_each(void (*fn)(struct ownbuf *b));
void ownbuf_table_init(void);
void ownbuf_table_exit(void);

u64 ownbuf_poison(const struct ownbuf_handle *hp, u64 id, bool moved);
bool ownbuf_poison_mine(const struct ownbuf_handle *hp, u64 v, u64 *id);

struct ownbuf *ownbuf_alloc_core(gfp_t gfp);
void ownbuf_obj_put(struct ownbuf *b);
void ownbuf_obj_exit(void);
void ownbuf_free_data(void *data, size_t size);

/* --- reporting: ownbuf_report.c --- */

void ownbuf_report_n(enum ownbuf_violation v, u64 id, unsigned long ip,
		     const char *what, const struct ownbuf_holder *hd,
		     unsigned long n);
void ownbuf_report_stale(u64 id, unsigned long ip);
void ownbuf_report_busy(struct ownbuf *b, enum ownbuf_violation v,
			u64 seen, unsigned long ip, const char *what);
enum ownbuf_violation ownbuf_excl_class(u64 seen);
void ownbuf_report_borrow(struct ownbuf *b, int ret, u64 seen,
			  unsigned long ip);
void ownbuf_holder_of(struct ownbuf *b, u64 seen, struct ownbuf_holder *hd);

/*
 * Leave the RCU section in which @b was found, holding it by an observer
 * reference: @b, or NULL, reported stale (it was finished meanwhile).
 */
static inline struct ownbuf *ownbuf_observe_unlock(struct ownbuf *b,
						   unsigned long ip)
{
	b = ownbuf_observe(b);
	rcu_read_unlock_sched();
	if (!b)
		ownbuf_report_stale(0, ip);
	return b;
}

#endif /* _OWNBUF_CORE_H */
