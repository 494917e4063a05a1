// SPDX-License-Identifier: GPL-2.0
/*
 * ownbuf engine: one owner per buffer, many readers XOR one writer, and no
 * borrow outliving its buffer, checked at run time.
 *
 * All the ownership logic of the module lives here; /dev/ownbuf
 * (ownbuf_dev.c) only translates files and user memory into these calls.
 */

#include <linux/atomic.h>
#include <linux/err.h>
#include <linux/export.h>
#include <linux/idr.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/overflow.h>
#include <linux/random.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/sched.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <linux/vmalloc.h>
#include <linux/wait_bit.h>

#include "ownbuf_compat.h"
#include "ownbuf_internal.h"

#define CREATE_TRACE_POINTS
#include "ownbuf_trace.h"
EXPORT_TRACEPOINT_SYMBOL_GPL(ownbuf_violation);

/*
 * The ownership state of a buffer is one 64-bit word, changed only by
 * cmpxchg: every check-and-take is a single atomic step, and a request
 * that conflicts is refused at once instead of waiting.
 *
 * Shared borrows are the exception.  So that readers on different CPUs
 * never write a common cache line, each CPU counts the shared borrows it
 * grants (struct ownbuf_pcpu), Dekker-style against the word: a shared
 * borrow increments its CPU's count, then (a full barrier later) reads the
 * word and backs off on a mut borrow or a write; a mut borrow, a write,
 * drop, move and resize set their bit in the word, then sum the counts and
 * back off if they are not zero.  One of the two always sees the other.
 * Each CPU grants at most max_shared / nr_cpu_ids without looking further;
 * past that, OVER sends every shared borrow through an exact check of the
 * sum until an exclusive access finds the sum zero.  Revocation moves the
 * counts into SHARED for good (CENTRAL), see __ownbuf_revoke().
 */
#define OWNBUF_S_SHARED_ONE	BIT_ULL(0)
#define OWNBUF_S_SHARED		GENMASK_ULL(23, 0)	/* CENTRAL only */
#define OWNBUF_S_MUT		BIT_ULL(24)		/* the mut borrow */
#define OWNBUF_S_READER_ONE	BIT_ULL(25)
#define OWNBUF_S_READERS	GENMASK_ULL(40, 25)	/* reads in flight */
#define OWNBUF_S_WRITER		BIT_ULL(41)	/* write/resize/move/drop */
#define OWNBUF_S_PIN_ONE	BIT_ULL(42)
#define OWNBUF_S_PINS		GENMASK_ULL(57, 42)	/* unsafe sections */
#define OWNBUF_S_DEAD		BIT_ULL(58)	/* dropped or revoked */
#define OWNBUF_S_REVOKING	BIT_ULL(59)	/* revoker waits for BUSY */
#define OWNBUF_S_OVER		BIT_ULL(60)	/* a CPU is past its share */
#define OWNBUF_S_CENTRAL	BIT_ULL(61)	/* shared counted in SHARED */
#define OWNBUF_S_LENT		(OWNBUF_S_SHARED | OWNBUF_S_MUT)
#define OWNBUF_S_BUSY		(OWNBUF_S_READERS | OWNBUF_S_WRITER | \
				 OWNBUF_S_PINS)
/* Lifts SHARED while revocation folds the per-CPU counts into it. */
#define OWNBUF_S_FOLD_BIAS	(BIT_ULL(23) * OWNBUF_S_SHARED_ONE)
/* max_shared stays below the bias, so the fold cannot underflow. */
#define OWNBUF_MAX_SHARED_LIMIT	(BIT(22) - 1)

/*
 * A handle is (seq << OWNBUF_IDX_BITS | idx): idx finds the buffer in the
 * table, seq (never reused) tells its current handle from every earlier
 * one.  ownbuf_drop/revoke/move overwrite the caller's variable with a
 * poisoned value that keeps the buffer id for reports.
 *
 * The table is two levels of plain arrays, so that a lookup is two loads
 * and a compare under rcu_read_lock_sched() (an inline preempt_disable();
 * buffers are freed after a grace period).  Slots come from an IDA; a chunk of
 * slots, once allocated, stays until the module goes.
 */
#define OWNBUF_IDX_BITS		20
#define OWNBUF_IDX_MASK		GENMASK_ULL(OWNBUF_IDX_BITS - 1, 0)
#define OWNBUF_CHUNK_BITS	9
#define OWNBUF_CHUNK_SIZE	BIT(OWNBUF_CHUNK_BITS)
#define OWNBUF_NR_CHUNKS	BIT(OWNBUF_IDX_BITS - OWNBUF_CHUNK_BITS)
#define OWNBUF_SEQ_MAX		(GENMASK_ULL(61, 0) >> OWNBUF_IDX_BITS)
#define OWNBUF_POISON		BIT_ULL(63)
#define OWNBUF_POISON_MOVED	BIT_ULL(62)
#define OWNBUF_POISON_ID	GENMASK_ULL(61, 0)

/**
 * struct ownbuf_pcpu - one CPU's share of a buffer's shared borrows
 * @shared: shared borrows this CPU granted and that are not returned yet
 *	(returned on the CPU that granted them, so it never goes negative).
 * @lent_at: where the latest of them was taken (0: from userspace).
 */
struct ownbuf_pcpu {
	atomic_long_t shared;
	unsigned long lent_at;
};

/**
 * struct ownbuf - one buffer
 * @state: the ownership state, see OWNBUF_S_*.
 * @pcpu: the per-CPU counts of shared borrows, see OWNBUF_S_*.
 * @handle: the owner's current handle.  Changed by move while holding
 *	OWNBUF_S_WRITER, so a lookup that took anything rechecks it after.
 * @data: PAGE_ALIGN(@size) zeroed bytes; the bytes past @size always read
 *	as zero.  Valid while a borrow or an access is held; replaced by
 *	resize while holding OWNBUF_S_WRITER; freed once OWNBUF_S_DEAD is set
 *	and nothing is in flight.
 * @size: size in bytes; changed like @data.
 * @lent_at: where the latest mut borrow was taken (0: from userspace).
 * @busy_at: where the latest access started (0: from userspace).
 * @id: the buffer's id: never reused, kept across moves.
 * @gfp: allocation flags given at creation, reused by resize.
 * @created_at: who created the buffer, for the report at module unload.
 * @users: references to this struct: one held by the ownership state until
 *	@state becomes exactly OWNBUF_S_DEAD (the last borrow went), one per
 *	observer (ownbuf_get()).
 * @wq: borrowers waiting (OWNBUF_WAIT) and pollers; woken when anything
 *	is given back.
 * @hook_lock: protects @hooks, and makes taking a borrow with callbacks
 *	atomic against revocation.
 * @hooks: live borrows that have ->revoke callbacks.
 * @rcu: the struct is freed after a grace period: lookups find it under
 *	rcu_read_lock_sched() only.
 */
struct ownbuf {
	atomic64_t state;
	struct ownbuf_pcpu __percpu *pcpu;
	u64 handle;
	void *data;
	size_t size;
	unsigned long lent_at;
	unsigned long busy_at;
	u64 id;
	gfp_t gfp;
	unsigned long created_at;
	refcount_t users;
	wait_queue_head_t wq;
	struct mutex hook_lock;	/* see above */
	struct list_head hooks;
	struct rcu_head rcu;
};

/*
 * struct ownbuf_ref.state: OWNBUF_STATE_* in the low byte, and the number
 * of open unsafe sections above it, so that releasing the borrow and
 * opening a section are one cmpxchg apart, never both.
 */
#define OWNBUF_REF_STATE	GENMASK(7, 0)
#define OWNBUF_REF_PIN_ONE	BIT(8)

/* Each kind of access: what it conflicts with, and what it adds. */
enum ownbuf_acc {
	OWNBUF_ACC_SHARED,	/* take a shared borrow */
	OWNBUF_ACC_MUT,		/* take the mut borrow */
	OWNBUF_ACC_OWNER_READ,	/* owner reads */
	OWNBUF_ACC_OWNER_WRITE,	/* owner writes */
	OWNBUF_ACC_REF_READ,	/* read through a borrow */
	OWNBUF_ACC_REF_WRITE,	/* write through the mut borrow */
	OWNBUF_ACC_PIN,		/* unsafe section of a borrow */
	OWNBUF_ACC_EXCL,	/* drop, move, resize */
};

static const struct {
	u64 conflict;	/* refused with -EBUSY if any of these is set */
	u64 one;	/* added on success */
	u64 field;	/* the counter @one counts in: refused when full */
	bool excl;	/* also refused while shared borrows are out */
} ownbuf_accs[] = {
	[OWNBUF_ACC_SHARED] = {
		OWNBUF_S_MUT | OWNBUF_S_WRITER,
		OWNBUF_S_SHARED_ONE, OWNBUF_S_SHARED },
	[OWNBUF_ACC_MUT] = {
		OWNBUF_S_LENT | OWNBUF_S_BUSY,
		OWNBUF_S_MUT, OWNBUF_S_MUT, true },
	[OWNBUF_ACC_OWNER_READ] = {
		OWNBUF_S_MUT | OWNBUF_S_WRITER,
		OWNBUF_S_READER_ONE, OWNBUF_S_READERS },
	[OWNBUF_ACC_OWNER_WRITE] = {
		OWNBUF_S_LENT | OWNBUF_S_BUSY,
		OWNBUF_S_WRITER, OWNBUF_S_WRITER, true },
	[OWNBUF_ACC_REF_READ] = {
		OWNBUF_S_WRITER,
		OWNBUF_S_READER_ONE, OWNBUF_S_READERS },
	[OWNBUF_ACC_REF_WRITE] = {
		OWNBUF_S_READERS | OWNBUF_S_WRITER,
		OWNBUF_S_WRITER, OWNBUF_S_WRITER },
	[OWNBUF_ACC_PIN] = {
		0,
		OWNBUF_S_PIN_ONE, OWNBUF_S_PINS },
	[OWNBUF_ACC_EXCL] = {
		OWNBUF_S_LENT | OWNBUF_S_BUSY,
		OWNBUF_S_WRITER, OWNBUF_S_WRITER, true },
};

/* Every buffer not yet freed, by the idx of its handle; see above. */
static struct ownbuf __rcu **ownbuf_chunks[OWNBUF_NR_CHUNKS];
static DEFINE_MUTEX(ownbuf_chunks_lock);	/* serialises chunk allocation */
static DEFINE_IDA(ownbuf_ida);
static atomic64_t ownbuf_seq = ATOMIC64_INIT(0);
static atomic64_t ownbuf_next_id = ATOMIC64_INIT(0);
/* Mixed into struct ownbuf_ref.check so a garbage token is not trusted. */
static unsigned long ownbuf_ref_key __read_mostly;
static atomic_long_t ownbuf_counts[OWNBUF_NR_VIOLATIONS];
static atomic_long_t ownbuf_data_count;

static const char * const ownbuf_violation_names[OWNBUF_NR_VIOLATIONS] = {
	[OWNBUF_USE_AFTER_FREE] = "use_after_free",
	[OWNBUF_DOUBLE_FREE] = "double_free",
	[OWNBUF_DATA_RACE] = "data_race",
	[OWNBUF_NULL_DEREF] = "null_deref",
	[OWNBUF_OUT_OF_BOUNDS] = "out_of_bounds",
	[OWNBUF_DANGLING_BORROW] = "dangling_borrow",
};

/* Limits, read at the moment they apply. */
unsigned long ownbuf_max_size = SZ_64M;
static unsigned int ownbuf_max_shared = 1024;
/* max_shared / nr_cpu_ids: what a CPU grants without an exact check. */
static unsigned int ownbuf_cpu_share __read_mostly;

static int ownbuf_param_set_max_size(const char *val,
				     const struct kernel_param *kp)
{
	unsigned long v;
	int ret;

	ret = kstrtoul(val, 0, &v);
	if (ret)
		return ret;
	if (!v || v > MAX_LFS_FILESIZE - PAGE_SIZE)
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
	WRITE_ONCE(ownbuf_cpu_share, v / nr_cpu_ids);
	return 0;
}

static const struct kernel_param_ops ownbuf_max_shared_ops = {
	.set = ownbuf_param_set_max_shared,
	.get = param_get_uint,
};
module_param_cb(max_shared, &ownbuf_max_shared_ops, &ownbuf_max_shared, 0644);
MODULE_PARM_DESC(max_shared, "Shared borrows per buffer (default 1024)");

/**
 * ownbuf_violation_name() - name of a violation class
 * @v: the class.
 *
 * Return: "use_after_free", "double_free", ... as in sysfs, or "unknown".
 */
const char *ownbuf_violation_name(enum ownbuf_violation v)
{
	if ((unsigned int)v >= OWNBUF_NR_VIOLATIONS)
		return "unknown";
	return ownbuf_violation_names[v];
}
EXPORT_SYMBOL_GPL(ownbuf_violation_name);

/**
 * ownbuf_violations() - how many violations of one class were refused
 * @v: the class.
 *
 * Counts every refused misuse since the module was loaded, from the
 * in-kernel API and from /dev/ownbuf alike.  Safe in any context.
 *
 * Return: the count, 0 for an unknown class.
 */
u64 ownbuf_violations(enum ownbuf_violation v)
{
	if ((unsigned int)v >= OWNBUF_NR_VIOLATIONS)
		return 0;
	return atomic_long_read(&ownbuf_counts[v]);
}
EXPORT_SYMBOL_GPL(ownbuf_violations);

static void ownbuf_report_n(enum ownbuf_violation v, u64 id,
			    unsigned long ip, const char *what,
			    unsigned long other, unsigned long n)
{
	unsigned long i;

	atomic_long_add(n, &ownbuf_counts[v]);
	for (i = 0; i < n; i++)
		trace_ownbuf_violation(v, id);

	if (ip == OWNBUF_IP_USER) {
		pr_debug("%s[%d]: %s: %s (buffer %llu)\n", current->comm,
			 task_pid_nr(current), ownbuf_violation_names[v], what,
			 id);
	} else if (other) {
		pr_warn_ratelimited("%pS: %s: %s (buffer %llu); the conflicting borrow or access was taken at %pS\n",
				    (void *)ip, ownbuf_violation_names[v], what,
				    id, (void *)other);
	} else {
		pr_warn_ratelimited("%pS: %s: %s (buffer %llu)\n", (void *)ip,
				    ownbuf_violation_names[v], what, id);
	}
}

/**
 * ownbuf_report() - count and report one refused misuse
 * @v: its class.
 * @id: the buffer's id, 0 if unknown.
 * @ip: who is blamed: a return address, or OWNBUF_IP_USER.
 * @what: what was refused, for the log.
 */
void ownbuf_report(enum ownbuf_violation v, u64 id, unsigned long ip,
		   const char *what)
{
	ownbuf_report_n(v, id, ip, what, 0, 1);
}

/* Shared borrows outstanding, while they are counted per CPU. */
static unsigned long ownbuf_shared_sum(struct ownbuf *b)
{
	unsigned long sum = 0;
	unsigned int cpu;

	/* Not for_each_possible_cpu(): no calls on the way to a borrow. */
	for (cpu = 0; cpu < nr_cpu_ids; cpu++)
		if (cpu_possible(cpu))
			sum += atomic_long_read(&per_cpu_ptr(b->pcpu,
							     cpu)->shared);
	return sum;
}

/* Where a borrow that is still out was taken, for "first borrow here". */
static unsigned long ownbuf_lent_at(struct ownbuf *b, u64 seen)
{
	struct ownbuf_pcpu *pc;
	int cpu;

	if (seen & OWNBUF_S_MUT)
		return READ_ONCE(b->lent_at);
	for_each_possible_cpu(cpu) {
		pc = per_cpu_ptr(b->pcpu, cpu);
		if (atomic_long_read(&pc->shared))
			return READ_ONCE(pc->lent_at);
	}
	return 0;
}

/* Report a conflict, naming where the conflicting borrow or access began. */
static void ownbuf_report_conflict(struct ownbuf *b, enum ownbuf_violation v,
				   u64 seen, unsigned long ip,
				   const char *what)
{
	unsigned long other;

	other = (seen & OWNBUF_S_LENT) ? ownbuf_lent_at(b, seen) :
					  READ_ONCE(b->busy_at);
	ownbuf_report_n(v, b->id, ip, what, other, 1);
}

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

static void ownbuf_free_data(void *data)
{
	if (data)
		atomic_long_dec(&ownbuf_data_count);
	if (is_vmalloc_addr(data))
		vfree(data);
	else if (data)
		free_page((unsigned long)data);
}

VISIBLE_IF_KUNIT struct ownbuf *ownbuf_alloc_core(gfp_t gfp)
{
	struct ownbuf *b;

	KUNIT_STATIC_STUB_REDIRECT(ownbuf_alloc_core, gfp);

	b = kzalloc(sizeof(*b), gfp);
	if (!b)
		return NULL;
	b->pcpu = alloc_percpu_gfp(struct ownbuf_pcpu, gfp | __GFP_ZERO);
	if (!b->pcpu) {
		kfree(b);
		return NULL;
	}
	return b;
}
EXPORT_SYMBOL_IF_KUNIT(ownbuf_alloc_core);

static void ownbuf_free_core(struct ownbuf *b)
{
	free_percpu(b->pcpu);
	kfree(b);
}

static void ownbuf_free_core_rcu(struct rcu_head *rcu)
{
	ownbuf_free_core(container_of(rcu, struct ownbuf, rcu));
}

static struct ownbuf __rcu **ownbuf_chunk(u32 idx)
{
	return READ_ONCE(ownbuf_chunks[idx >> OWNBUF_CHUNK_BITS]);
}

/* A free idx, with its chunk allocated, or a negative errno. */
static int ownbuf_table_alloc(gfp_t gfp)
{
	struct ownbuf __rcu **chunk;
	int idx;

	idx = ida_alloc_range(&ownbuf_ida, 1, OWNBUF_IDX_MASK, gfp);
	if (idx < 0 || ownbuf_chunk(idx))
		return idx;
	/* Shared by every buffer: nobody's memcg pays for it. */
	chunk = kcalloc(OWNBUF_CHUNK_SIZE, sizeof(*chunk),
			gfp & ~__GFP_ACCOUNT);
	if (!chunk) {
		ida_free(&ownbuf_ida, idx);
		return -ENOMEM;
	}
	mutex_lock(&ownbuf_chunks_lock);
	if (!ownbuf_chunk(idx)) {
		/* Pairs with the address dependency in ownbuf_lookup(). */
		smp_store_release(&ownbuf_chunks[idx >> OWNBUF_CHUNK_BITS],
				  chunk);
		chunk = NULL;
	}
	mutex_unlock(&ownbuf_chunks_lock);
	kfree(chunk);
	return idx;
}

/* Publish @b under the idx of b->handle, which is already set. */
VISIBLE_IF_KUNIT int ownbuf_table_insert(struct ownbuf *b, u32 *idx,
					 gfp_t gfp)
{
	int ret;

	KUNIT_STATIC_STUB_REDIRECT(ownbuf_table_insert, b, idx, gfp);

	ret = ownbuf_table_alloc(gfp);
	if (ret < 0)
		return ret;
	*idx = ret;
	return 0;
}
EXPORT_SYMBOL_IF_KUNIT(ownbuf_table_insert);

static void ownbuf_table_set(u32 idx, struct ownbuf *b)
{
	rcu_assign_pointer(ownbuf_chunk(idx)[idx & (OWNBUF_CHUNK_SIZE - 1)],
			   b);
}

/* Caller holds rcu_read_lock_sched(). */
static __always_inline struct ownbuf *ownbuf_lookup(u64 h)
{
	struct ownbuf __rcu **chunk = ownbuf_chunk(h & OWNBUF_IDX_MASK);
	struct ownbuf *b;

	if (unlikely(!chunk))
		return NULL;
	b = rcu_dereference_sched(chunk[h & (OWNBUF_CHUNK_SIZE - 1)]);
	if (likely(b && READ_ONCE(b->handle) == h))
		return b;
	return NULL;
}

/**
 * ownbuf_put() - drop an observer reference
 * @b: from ownbuf_get().
 */
void ownbuf_put(struct ownbuf *b)
{
	if (refcount_dec_and_test(&b->users))
		call_rcu(&b->rcu, ownbuf_free_core_rcu);
}
EXPORT_SYMBOL_IF_KUNIT(ownbuf_put);

/**
 * ownbuf_get() - keep the engine's object of a buffer alive
 * @h: the owner's handle, or NULL.
 * @ref: a borrow of it, used if @h is NULL.
 *
 * The object outlives the buffer's data: it only carries the wait queue
 * that /dev/ownbuf polls on, for as long as a file may be polled.
 *
 * Return: the object, or NULL if the buffer is gone.
 */
struct ownbuf *ownbuf_get(struct ownbuf_handle *h, struct ownbuf_ref *ref)
{
	struct ownbuf *b;
	u64 hv;

	rcu_read_lock_sched();
	if (h) {
		hv = READ_ONCE(h->val);
		b = ownbuf_lookup(hv);
	} else {
		b = ownbuf_ref_state(ref) == OWNBUF_STATE_LIVE ?
		    READ_ONCE(ref->buf) : NULL;
	}
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

/* @state became exactly OWNBUF_S_DEAD: the ownership state lets go. */
static void ownbuf_finish(struct ownbuf *b)
{
	u32 idx = b->handle & OWNBUF_IDX_MASK;

	ownbuf_table_set(idx, NULL);
	ida_free(&ownbuf_ida, idx);
	ownbuf_put(b);
}

static void ownbuf_untry_dead(struct ownbuf *b, u64 s)
{
	/* Nothing lent, nothing in flight, nobody revoking: the last one. */
	if ((s & ~(OWNBUF_S_CENTRAL | OWNBUF_S_OVER)) == OWNBUF_S_DEAD)
		ownbuf_finish(b);
	else if ((s & OWNBUF_S_REVOKING) && !(s & OWNBUF_S_BUSY))
		wake_up_var(&b->state);
}

/*
 * Give back what ownbuf_try() took, and wake whoever waits for it.
 * Returns true if the buffer is dead (and @b may be gone).
 */
static __always_inline bool ownbuf_untry(struct ownbuf *b, u64 one)
{
	u64 s = atomic64_sub_return(one, &b->state);

	ownbuf_window(OWNBUF_WIN_UNTRY, b);
	if (unlikely(s & OWNBUF_S_DEAD)) {
		ownbuf_untry_dead(b, s);
		return true;
	}
	/* The atomic above is a full barrier, pairing with prepare_to_wait. */
	if (unlikely(waitqueue_active(&b->wq)))
		wake_up_all(&b->wq);
	return false;
}

/*
 * Take @acc (anything but a shared borrow): one cmpxchg, and for an
 * exclusive access a look at the per-CPU shared counts.  Returns 0,
 * -ESTALE if the buffer is dead, or -EBUSY on a conflict (with the state
 * that conflicted in *seen; shared borrows show as OWNBUF_S_SHARED_ONE).
 */
static __always_inline int ownbuf_try(struct ownbuf *b, enum ownbuf_acc acc,
				      u64 *seen)
{
	u64 conflict = ownbuf_accs[acc].conflict;
	u64 field = ownbuf_accs[acc].field;
	s64 s = atomic64_read(&b->state);

	do {
		if (s & OWNBUF_S_DEAD)
			return -ESTALE;
		if ((s & conflict) || (s & field) == field)
			goto busy;
	} while (!atomic64_try_cmpxchg(&b->state, &s,
				       s + ownbuf_accs[acc].one));
	if (!ownbuf_accs[acc].excl)
		return 0;
	ownbuf_window(OWNBUF_WIN_CLAIM, b);
	/* The cmpxchg is a full barrier: see the comment at OWNBUF_S_*. */
	if (ownbuf_shared_sum(b)) {
		ownbuf_untry(b, ownbuf_accs[acc].one);
		*seen = s | OWNBUF_S_SHARED_ONE;
		return -EBUSY;
	}
	/* No shared borrow can start while we hold this: reset OVER. */
	if (unlikely(s & OWNBUF_S_OVER))
		atomic64_andnot(OWNBUF_S_OVER, &b->state);
	return 0;
busy:
	/* Being lent out decides the class, so count shared borrows too. */
	if (ownbuf_accs[acc].excl && ownbuf_shared_sum(b))
		s |= OWNBUF_S_SHARED_ONE;
	*seen = s;
	return -EBUSY;
}

/*
 * Take a shared borrow on this CPU (preemption is off).  Returns 0,
 * -ESTALE, -EBUSY (*seen as ownbuf_try()), -EOVERFLOW at max_shared, or,
 * if @fast, -EAGAIN where only the exact check can tell.
 */
static __always_inline int ownbuf_try_shared(struct ownbuf *b, bool fast,
					     unsigned long ip, u64 *seen)
{
	struct ownbuf_pcpu *pc = this_cpu_ptr(b->pcpu);
	bool exact = false;
	u64 s;
	int ret;

	/*
	 * Never count on a dead buffer: once a revocation's grace period has
	 * passed, nothing may touch the counts it folds (and the caller is
	 * in an RCU read-side section, which that grace period waits for).
	 */
	s = atomic64_read(&b->state);
	if (unlikely(s & OWNBUF_S_DEAD))
		return -ESTALE;
	if (atomic_long_read(&pc->shared) >= READ_ONCE(ownbuf_cpu_share)) {
		if (fast)
			return -EAGAIN;
		/* Before our count goes up: fast paths then go exact too. */
		atomic64_or(OWNBUF_S_OVER, &b->state);
		exact = true;
	}
	ownbuf_window(OWNBUF_WIN_SHARED_CAP, b);
	/* A full barrier between our count and the state we read. */
	atomic_long_inc_return(&pc->shared);
	ownbuf_window(OWNBUF_WIN_SHARED_UNDECIDED, b);
	s = atomic64_read(&b->state);
	if (unlikely(s & (OWNBUF_S_DEAD | OWNBUF_S_MUT | OWNBUF_S_WRITER |
			  OWNBUF_S_OVER))) {
		if (s & OWNBUF_S_DEAD) {
			ret = -ESTALE;
			goto undo;
		}
		if (s & (OWNBUF_S_MUT | OWNBUF_S_WRITER)) {
			*seen = s;
			ret = -EBUSY;
			goto undo;
		}
		if (fast) {
			ret = -EAGAIN;
			goto undo;
		}
		exact = true;
	}
	if (exact && ownbuf_shared_sum(b) > READ_ONCE(ownbuf_max_shared)) {
		ret = -EOVERFLOW;
		goto undo;
	}
	WRITE_ONCE(pc->lent_at, ip);
	return 0;
undo:
	atomic_long_dec_return(&pc->shared);
	/* A mut borrow may have failed on our count: let it retry. */
	if (unlikely(waitqueue_active(&b->wq)))
		wake_up_all(&b->wq);
	return ret;
}

/*
 * Give back a shared borrow granted on @cpu.  Returns true if the buffer
 * is dead (and @b may be gone).
 */
static __always_inline bool ownbuf_untry_shared(struct ownbuf *b,
						unsigned int cpu)
{
	bool central;

	/* A revocation folding the counts waits for this section. */
	rcu_read_lock_sched();
	central = atomic64_read(&b->state) & OWNBUF_S_CENTRAL;
	if (likely(!central)) {
		atomic_long_dec_return(&per_cpu_ptr(b->pcpu, cpu)->shared);
		/* The atomic is a full barrier, pairing with prepare_to_wait. */
		if (unlikely(waitqueue_active(&b->wq)))
			wake_up_all(&b->wq);
	}
	rcu_read_unlock_sched();
	return central ? ownbuf_untry(b, OWNBUF_S_SHARED_ONE) : false;
}

static u64 ownbuf_poison(u64 id, bool moved)
{
	return OWNBUF_POISON | (moved ? OWNBUF_POISON_MOVED : 0) |
	       (id & OWNBUF_POISON_ID);
}

/*
 * The value of a handle the caller passed, or an error after reporting why
 * it cannot name a buffer: NULL, or consumed by drop/revoke/move.
 */
static int ownbuf_handle_value(struct ownbuf_handle *hp, enum ownbuf_op op,
			       unsigned long ip, u64 *val)
{
	enum ownbuf_violation v;
	bool moved;
	u64 h;

	if (!hp) {
		ownbuf_report(OWNBUF_NULL_DEREF, 0, ip, "NULL handle pointer");
		return -EINVAL;
	}
	h = READ_ONCE(hp->val);
	if (!h) {
		ownbuf_report(OWNBUF_NULL_DEREF, 0, ip, "NULL handle");
		return -EINVAL;
	}
	if (h & OWNBUF_POISON) {
		moved = h & OWNBUF_POISON_MOVED;
		v = (op == OWNBUF_OP_DROP && !moved) ? OWNBUF_DOUBLE_FREE :
						       OWNBUF_USE_AFTER_FREE;
		ownbuf_report(v, h & OWNBUF_POISON_ID, ip,
			      moved ? "owner used after it was moved" :
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
 * Take @acc on the buffer @hp names.  On success the buffer stays alive
 * until ownbuf_untry(); on failure the refusal has been reported.
 */
static struct ownbuf *ownbuf_acquire(struct ownbuf_handle *hp,
				     enum ownbuf_acc acc, enum ownbuf_op op,
				     unsigned long ip, int *err)
{
	enum ownbuf_violation v;
	struct ownbuf *b;
	u64 h, seen;
	int ret;

	ret = ownbuf_handle_value(hp, op, ip, &h);
	if (ret)
		goto out;

	rcu_read_lock_sched();
	b = ownbuf_lookup(h);
	if (!b) {
		rcu_read_unlock_sched();
		ownbuf_report_stale(0, ip);
		ret = -ESTALE;
		goto out;
	}
	ret = ownbuf_try(b, acc, &seen);
	if (!ret && unlikely(READ_ONCE(b->handle) != h)) {
		/* Moved between the lookup and the cmpxchg. */
		ownbuf_untry(b, ownbuf_accs[acc].one);
		ret = -ESTALE;
	}
	if (ret == -ESTALE) {
		ownbuf_report_stale(b->id, ip);
	} else if (ret == -EBUSY) {
		v = (acc == OWNBUF_ACC_EXCL && (seen & OWNBUF_S_LENT)) ?
			OWNBUF_DANGLING_BORROW : OWNBUF_DATA_RACE;
		ownbuf_report_conflict(b, v, seen, ip,
				       v == OWNBUF_DANGLING_BORROW ?
				       "buffer is lent out" :
				       "conflicts with a borrow or an access in flight");
	}
	rcu_read_unlock_sched();
	if (!ret) {
		WRITE_ONCE(b->busy_at, ip);
		return b;
	}
out:
	*err = ret;
	return NULL;
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
	u64 hv, id = 0;
	int ret;

	ret = ownbuf_handle_value(h, op, ip, &hv);
	if (ret)
		return ret;
	rcu_read_lock_sched();
	b = ownbuf_lookup(hv);
	if (!b || (atomic64_read(&b->state) & OWNBUF_S_DEAD)) {
		id = b ? b->id : 0;
		ret = -ESTALE;
	}
	rcu_read_unlock_sched();
	if (ret)
		ownbuf_report_stale(id, ip);
	return ret;
}

/* The id of the buffer @h names, 0 if none: for reports. */
static u64 ownbuf_handle_id(struct ownbuf_handle *h)
{
	struct ownbuf *b;
	u64 id = 0;

	rcu_read_lock_sched();
	b = ownbuf_lookup(READ_ONCE(h->val));
	if (b)
		id = b->id;
	rcu_read_unlock_sched();
	return id;
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
	u64 hv = READ_ONCE(h->val);

	if (!hv)
		return 0;
	if (!(hv & OWNBUF_POISON))
		return OWNBUF_STATE_LIVE;
	return (hv & OWNBUF_POISON_MOVED) ? OWNBUF_STATE_MOVED :
					     OWNBUF_STATE_DROPPED;
}

int __ownbuf_create(size_t size, gfp_t gfp, struct ownbuf_handle *out,
		    unsigned long ip)
{
	struct ownbuf *b;
	u64 seq;
	u32 idx;
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
		goto err_free_core;
	}
	b->size = size;
	b->gfp = gfp;
	b->created_at = ip;
	atomic64_set(&b->state, 0);
	refcount_set(&b->users, 1);
	init_waitqueue_head(&b->wq);
	mutex_init(&b->hook_lock);
	INIT_LIST_HEAD(&b->hooks);

	/* 2^42 handles per module load: a seq is never reused. */
	seq = atomic64_inc_return(&ownbuf_seq);
	if (seq > OWNBUF_SEQ_MAX) {
		ret = -ENOSPC;
		goto err_free_data;
	}
	ret = ownbuf_table_insert(b, &idx, gfp);
	if (ret)
		goto err_free_data;
	b->id = atomic64_inc_return(&ownbuf_next_id);
	b->handle = seq << OWNBUF_IDX_BITS | idx;
	/* Ownership of b is held by the table (and the handle) from here. */
	ownbuf_table_set(idx, b);
	out->val = b->handle;
	return 0;

err_free_data:
	ownbuf_free_data(b->data);
err_free_core:
	ownbuf_free_core(b);
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
 * -EFBIG (@size over max_size), -ENOMEM, or -ENOSPC (too many buffers).
 */
int ownbuf_create(size_t size, gfp_t gfp, struct ownbuf_handle *out)
{
	return __ownbuf_create(size, gfp, out, _RET_IP_);
}
EXPORT_SYMBOL_GPL(ownbuf_create);

int __ownbuf_drop(struct ownbuf_handle *h, unsigned long ip)
{
	struct ownbuf *b;
	int ret;
	s64 s;

	b = ownbuf_acquire(h, OWNBUF_ACC_EXCL, OWNBUF_OP_DROP, ip, &ret);
	if (!b)
		return ret;
	/*
	 * Exclusive: nothing lent, nothing in flight.  Only a revocation can
	 * race, or a shared borrow setting OVER on its way to backing off.
	 */
	ownbuf_window(OWNBUF_WIN_DROP, b);
	s = atomic64_read(&b->state);
	do {
		if (s & OWNBUF_S_DEAD) {
			ownbuf_report_stale(b->id, ip);
			ownbuf_untry(b, OWNBUF_S_WRITER);
			return -ESTALE;
		}
	} while (!atomic64_try_cmpxchg(&b->state, &s, OWNBUF_S_DEAD));
	WRITE_ONCE(h->val, ownbuf_poison(b->id, false));
	ownbuf_free_data(b->data);
	b->data = NULL;
	wake_up_all(&b->wq);
	ownbuf_finish(b);
	return 0;
}

/**
 * ownbuf_drop() - drop a buffer
 * @h: the owner's handle; consumed (poisoned) on success.
 *
 * Refused while the buffer is lent out or an access is in flight: Rust's
 * "cannot move out of a borrowed value".  Context: may sleep.
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

int __ownbuf_revoke(struct ownbuf_handle *h, unsigned long ip)
{
	struct ownbuf_ref *ref, *tmp;
	unsigned long n, shared;
	struct ownbuf *b;
	u64 hv;
	s64 s;
	int ret;

	might_sleep();
	ret = ownbuf_handle_value(h, OWNBUF_OP_DROP, ip, &hv);
	if (ret)
		return ret;
	rcu_read_lock_sched();
	b = ownbuf_lookup(hv);
	if (b && !refcount_inc_not_zero(&b->users))
		b = NULL;
	rcu_read_unlock_sched();
	if (!b) {
		ownbuf_report_stale(0, ip);
		return -ESTALE;
	}

	/* Under hook_lock: a borrow with callbacks is either listed or fails. */
	mutex_lock(&b->hook_lock);
	s = atomic64_read(&b->state);
	do {
		if ((s & OWNBUF_S_DEAD) || READ_ONCE(b->handle) != hv) {
			mutex_unlock(&b->hook_lock);
			ownbuf_report_stale(b->id, ip);
			ownbuf_put(b);
			return -ESTALE;
		}
	} while (!atomic64_try_cmpxchg(&b->state, &s,
				       s | OWNBUF_S_DEAD | OWNBUF_S_REVOKING |
				       OWNBUF_S_CENTRAL | OWNBUF_S_FOLD_BIAS));
	mutex_unlock(&b->hook_lock);
	WRITE_ONCE(h->val, ownbuf_poison(b->id, false));

	/*
	 * Fold the per-CPU shared counts into SHARED, where the borrows'
	 * releases count from now on (CENTRAL).  The bias keeps SHARED from
	 * reaching zero before the fold.  Shared borrows and releases touch
	 * the counts only inside an RCU read-side section, and only if they
	 * did not see DEAD (CENTRAL): after a grace period the counts are
	 * exact and final.  With no count at all, no borrow can have been
	 * granted (it would have seen DEAD) and no release is pending.
	 */
	shared = ownbuf_shared_sum(b);
	if (shared) {
		synchronize_rcu();
		shared = ownbuf_shared_sum(b);
	}
	atomic64_sub(OWNBUF_S_FOLD_BIAS - shared * OWNBUF_S_SHARED_ONE,
		     &b->state);

	n = shared + !!(s & OWNBUF_S_MUT);
	if (n)
		ownbuf_report_n(OWNBUF_DANGLING_BORROW, b->id, ip,
				"owner went away while lent out: borrows revoked",
				ownbuf_lent_at(b, shared ? OWNBUF_S_SHARED_ONE : s),
				n);

	/* Accesses already in flight may complete; nothing new starts. */
	wait_var_event(&b->state,
		       !(atomic64_read(&b->state) & OWNBUF_S_BUSY));

	mutex_lock(&b->hook_lock);
	list_for_each_entry_safe(ref, tmp, &b->hooks, node) {
		list_del_init(&ref->node);
		ref->ops->revoke(ref);
	}
	mutex_unlock(&b->hook_lock);

	ownbuf_free_data(b->data);
	b->data = NULL;
	wake_up_all(&b->wq);
	ownbuf_untry(b, OWNBUF_S_REVOKING);
	ownbuf_put(b);
	return n;
}

/**
 * ownbuf_revoke() - drop a buffer even if it is lent out
 * @h: the owner's handle; consumed (poisoned) on success.
 *
 * What happens when an owner goes away for good (its file is closed, its
 * device unplugged).  Every outstanding borrow is revoked: its ->revoke
 * callback runs and every later use of it fails with -ESTALE.  Accesses
 * already in flight are waited for, so nothing is freed under them.
 * Each revoked borrow counts one dangling_borrow.  Context: may sleep.
 *
 * Return: the number of borrows revoked (>= 0), or the errors of
 * ownbuf_drop() for a bad handle.
 */
int ownbuf_revoke(struct ownbuf_handle *h)
{
	return __ownbuf_revoke(h, _RET_IP_);
}
EXPORT_SYMBOL_GPL(ownbuf_revoke);

int __ownbuf_move(struct ownbuf_handle *h, struct ownbuf_handle *to,
		  unsigned long ip)
{
	struct ownbuf *b;
	u64 seq, nh;
	int ret;

	if (!to) {
		ownbuf_report(OWNBUF_NULL_DEREF, 0, ip, "NULL handle pointer");
		return -EINVAL;
	}
	b = ownbuf_acquire(h, OWNBUF_ACC_EXCL, OWNBUF_OP_USE, ip, &ret);
	if (!b)
		return ret;
	seq = atomic64_inc_return(&ownbuf_seq);
	if (seq > OWNBUF_SEQ_MAX) {
		ownbuf_untry(b, OWNBUF_S_WRITER);
		return -ENOSPC;
	}
	nh = seq << OWNBUF_IDX_BITS | (b->handle & OWNBUF_IDX_MASK);
	ownbuf_window(OWNBUF_WIN_MOVE, b);
	WRITE_ONCE(b->handle, nh);
	/* The old handle dies first: @to may be @h ("let h = h;"). */
	WRITE_ONCE(h->val, ownbuf_poison(b->id, true));
	WRITE_ONCE(to->val, nh);
	ownbuf_untry(b, OWNBUF_S_WRITER);
	return 0;
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
 * use_after_free), -EINVAL if @to is NULL, -ENOSPC if handles ran out.
 */
int ownbuf_move(struct ownbuf_handle *h, struct ownbuf_handle *to)
{
	return __ownbuf_move(h, to, _RET_IP_);
}
EXPORT_SYMBOL_GPL(ownbuf_move);

int __ownbuf_resize(struct ownbuf_handle *h, size_t size, unsigned long ip)
{
	struct ownbuf *b;
	void *data;
	int ret;

	might_sleep();
	ret = ownbuf_handle_check(h, OWNBUF_OP_USE, ip);
	if (ret)
		return ret;
	if (!size)
		return -EINVAL;
	if (size > READ_ONCE(ownbuf_max_size))
		return -EFBIG;

	b = ownbuf_acquire(h, OWNBUF_ACC_EXCL, OWNBUF_OP_USE, ip, &ret);
	if (!b)
		return ret;
	if (PAGE_ALIGN(size) == PAGE_ALIGN(b->size)) {
		/* Keep the bytes past the size zero: they are mapped. */
		if (size < b->size)
			memset(b->data + size, 0, b->size - size);
	} else {
		data = ownbuf_alloc_data(size, b->gfp);
		if (!data) {
			ret = -ENOMEM;
			goto out;
		}
		memcpy(data, b->data, min(size, b->size));
		ownbuf_free_data(b->data);
		b->data = data;
	}
	b->size = size;
out:
	ownbuf_untry(b, OWNBUF_S_WRITER);
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
 * Return: 0, the errors of ownbuf_drop(), -EINVAL for @size 0, -EFBIG
 * over max_size, -ENOMEM (the buffer is unchanged).
 */
int ownbuf_resize(struct ownbuf_handle h, size_t size)
{
	return __ownbuf_resize(&h, size, _RET_IP_);
}
EXPORT_SYMBOL_GPL(ownbuf_resize);

static void ownbuf_fill_stat(struct ownbuf *b, struct ownbuf_stat *st)
{
	u64 s = atomic64_read(&b->state);

	st->size = READ_ONCE(b->size);
	st->id = b->id;
	st->shared_borrows = (s & OWNBUF_S_CENTRAL) ? s & OWNBUF_S_SHARED :
						      ownbuf_shared_sum(b);
	st->mut_borrows = !!(s & OWNBUF_S_MUT);
}

/**
 * ownbuf_stat() - size, id and borrow counts of a buffer
 * @h: the owner's handle.
 * @st: filled in on success.
 *
 * Context: any.
 *
 * Return: 0, or -EINVAL/-ESTALE for a NULL or dead handle.
 */
int ownbuf_stat(struct ownbuf_handle h, struct ownbuf_stat *st)
{
	unsigned long ip = _RET_IP_;
	int ret;

	ret = ownbuf_handle_check(&h, OWNBUF_OP_USE, ip);
	if (ret)
		return ret;
	if (!st) {
		ownbuf_report(OWNBUF_NULL_DEREF, 0, ip, "NULL stat pointer");
		return -EINVAL;
	}
	ret = ownbuf_peek(&h, NULL, st);
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
 * Return: 0, or -EINVAL/-ESTALE for a NULL or dead handle.
 */
int ownbuf_size(struct ownbuf_handle h, size_t *size)
{
	unsigned long ip = _RET_IP_;
	struct ownbuf *b;
	int ret = 0;

	if (unlikely(!size)) {
		ownbuf_report(OWNBUF_NULL_DEREF, 0, ip, "NULL size pointer");
		return -EINVAL;
	}
	rcu_read_lock_sched();
	b = ownbuf_lookup(h.val);
	if (likely(b && !(atomic64_read(&b->state) & OWNBUF_S_DEAD)))
		*size = READ_ONCE(b->size);
	else
		ret = -ESTALE;
	rcu_read_unlock_sched();
	if (unlikely(ret))
		ret = ownbuf_handle_check(&h, OWNBUF_OP_USE, ip) ?: -ESTALE;
	return ret;
}
EXPORT_SYMBOL_GPL(ownbuf_size);

/* --- borrows --- */

static unsigned long ownbuf_ref_check_value(const struct ownbuf_ref *ref,
					    const struct ownbuf *b)
{
	return (unsigned long)ref ^ (unsigned long)b ^ ownbuf_ref_key;
}

/* Give back what a token holds.  Returns true if the buffer is dead. */
static __always_inline bool ownbuf_ref_untry(struct ownbuf_ref *ref)
{
	if (ref->kind == OWNBUF_MUT)
		return ownbuf_untry(ref->buf, OWNBUF_S_MUT);
	return ownbuf_untry_shared(ref->buf, ref->cpu);
}

/* Was @ref filled in by ownbuf for its current borrow (not garbage, not a copy)? */
static bool ownbuf_ref_genuine(const struct ownbuf_ref *ref)
{
	return READ_ONCE(ref->check) ==
	       ownbuf_ref_check_value(ref, READ_ONCE(ref->buf));
}

/*
 * Is @ref a live borrow ownbuf handed out?  Refuses (and reports) the NULL
 * borrow, an ended one, and garbage or a copy (.check is bound to the
 * token's address).  A revoked borrow passes: only its buffer knows.
 */
static int ownbuf_ref_validate(struct ownbuf_ref *ref, enum ownbuf_op op,
			       unsigned long ip)
{
	enum ownbuf_violation v;

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
		if (ownbuf_ref_genuine(ref))
			return 0;
		break;
	}
	ownbuf_report(OWNBUF_USE_AFTER_FREE, 0, ip,
		      "not a live borrow (garbage or a copied token)");
	return -ESTALE;
}

/**
 * ownbuf_ref_state() - what became of a borrow
 * @ref: the token.
 *
 * Context: any.
 *
 * Return: OWNBUF_STATE_LIVE, OWNBUF_STATE_RELEASED, OWNBUF_STATE_REVOKED,
 * or 0 for the NULL borrow or a token ownbuf did not hand out.
 */
int ownbuf_ref_state(const struct ownbuf_ref *ref)
{
	struct ownbuf *b;
	int state;

	if (!ref)
		return 0;
	state = atomic_read(&ref->state) & OWNBUF_REF_STATE;
	if (state != OWNBUF_STATE_LIVE)
		return state;
	if (!ownbuf_ref_genuine(ref))
		return 0;
	/* Still live inside the RCU section: @b cannot be freed before its end. */
	rcu_read_lock_sched();
	b = READ_ONCE(ref->buf);
	state = atomic_read(&ref->state) & OWNBUF_REF_STATE;
	if (state == OWNBUF_STATE_LIVE &&
	    (atomic64_read(&b->state) & OWNBUF_S_DEAD))
		state = OWNBUF_STATE_REVOKED;
	rcu_read_unlock_sched();
	return state;
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
	int ret = ownbuf_ref_validate(ref, op, ip);

	if (ret)
		return ret;
	if (ownbuf_ref_state(ref) != OWNBUF_STATE_LIVE) {
		ownbuf_report(OWNBUF_USE_AFTER_FREE, ref->id, ip,
			      "borrow revoked: its owner went away");
		return -ESTALE;
	}
	return 0;
}

/* Take @acc through a borrow; like ownbuf_acquire(). */
static struct ownbuf *ownbuf_ref_acquire(struct ownbuf_ref *ref,
					 enum ownbuf_acc acc,
					 unsigned long ip, int *err)
{
	struct ownbuf *b;
	u64 seen;
	int ret;

	ret = ownbuf_ref_validate(ref, OWNBUF_OP_USE, ip);
	if (ret)
		goto out;
	/* The borrow may end under us: @b is only safe under RCU. */
	ownbuf_window(OWNBUF_WIN_REF, READ_ONCE(ref->buf));
	rcu_read_lock_sched();
	b = READ_ONCE(ref->buf);
	ret = ownbuf_try(b, acc, &seen);
	if (!ret)
		ownbuf_window(OWNBUF_WIN_REF_TAKEN, b);
	if (!ret && unlikely((atomic_read(&ref->state) & OWNBUF_REF_STATE) !=
			     OWNBUF_STATE_LIVE)) {
		ownbuf_untry(b, ownbuf_accs[acc].one);
		ret = -ESTALE;
	}
	if (ret == -ESTALE)
		ownbuf_report(OWNBUF_USE_AFTER_FREE, ref->id, ip,
			      "borrow released or revoked");
	else if (ret == -EBUSY)
		ownbuf_report_conflict(b, OWNBUF_DATA_RACE, seen, ip,
				       "conflicts with an access in flight");
	rcu_read_unlock_sched();
	if (!ret) {
		WRITE_ONCE(b->busy_at, ip);
		return b;
	}
out:
	*err = ret;
	return NULL;
}

/* Could the borrow be taken now?  (For OWNBUF_WAIT; true also once dead.) */
static bool ownbuf_grantable(struct ownbuf *b, u64 h, unsigned int kind)
{
	enum ownbuf_acc acc = kind == OWNBUF_MUT ? OWNBUF_ACC_MUT :
						   OWNBUF_ACC_SHARED;
	u64 s = atomic64_read(&b->state);

	if ((s & OWNBUF_S_DEAD) || READ_ONCE(b->handle) != h)
		return true;
	return !(s & ownbuf_accs[acc].conflict) &&
	       !(ownbuf_accs[acc].excl && ownbuf_shared_sum(b));
}

/*
 * Try to take the borrow once, without reporting; the caller holds @b (by
 * RCU or a reference).  The fast path of ownbuf_borrow_ops() is this.
 */
static __always_inline int ownbuf_borrow_once(struct ownbuf *b, u64 h,
					      unsigned int kind, bool fast,
					      const struct ownbuf_ref_ops *ops,
					      struct ownbuf_ref *ref,
					      unsigned long ip, u64 *seen)
{
	unsigned int cpu = 0;
	int ret;

	if (kind == OWNBUF_MUT) {
		ret = ownbuf_try(b, OWNBUF_ACC_MUT, seen);
	} else {
		/* The fast path runs under rcu_read_lock_sched() already. */
		if (!fast)
			preempt_disable();
		cpu = smp_processor_id();
		ret = ownbuf_try_shared(b, fast, ip, seen);
		if (!fast)
			preempt_enable();
	}
	if (!ret && unlikely(READ_ONCE(b->handle) != h)) {
		/* Moved between the lookup and taking the borrow. */
		if (kind == OWNBUF_MUT)
			ownbuf_untry(b, OWNBUF_S_MUT);
		else
			ownbuf_untry_shared(b, cpu);
		ret = -ESTALE;
	}
	if (ret)
		return ret;
	ref->buf = b;
	ref->cpu = cpu;
	ref->check = ownbuf_ref_check_value(ref, b);
	ref->ops = ops;
	ref->id = b->id;
	ref->kind = kind;
	if (ops)
		list_add_tail(&ref->node, &b->hooks);
	else
		INIT_LIST_HEAD(&ref->node);
	/* Publish the token: the fields above before its state. */
	atomic_set_release(&ref->state, OWNBUF_STATE_LIVE);
	if (kind == OWNBUF_MUT)
		WRITE_ONCE(b->lent_at, ip);
	return 0;
}

static void ownbuf_report_borrow(struct ownbuf *b, int ret, u64 seen,
				 unsigned long ip)
{
	if (ret == -EBUSY)
		ownbuf_report_conflict(b, OWNBUF_DATA_RACE, seen, ip,
				       "already borrowed");
	else if (ret == -ESTALE)
		ownbuf_report_stale(b->id, ip);
}

int __ownbuf_borrow(struct ownbuf_handle *hp, unsigned int flags,
		    const struct ownbuf_ref_ops *ops, struct ownbuf_ref *ref,
		    unsigned long ip)
{
	unsigned int kind = flags & (OWNBUF_SHARED | OWNBUF_MUT);
	struct ownbuf *b;
	u64 h, seen;
	int ret;

	if (!ref) {
		ownbuf_report(OWNBUF_NULL_DEREF, 0, ip, "NULL borrow pointer");
		return -EINVAL;
	}
	if ((flags & ~(OWNBUF_SHARED | OWNBUF_MUT | OWNBUF_WAIT)) ||
	    (kind != OWNBUF_SHARED && kind != OWNBUF_MUT) ||
	    (ops && !ops->revoke) ||
	    (atomic_read(&ref->state) & OWNBUF_REF_STATE) == OWNBUF_STATE_LIVE)
		return -EINVAL;
	ret = ownbuf_handle_value(hp, OWNBUF_OP_USE, ip, &h);
	if (ret)
		return ret;

	rcu_read_lock_sched();
	b = ownbuf_lookup(h);
	if (b && !ops && !(flags & OWNBUF_WAIT)) {
		ret = ownbuf_borrow_once(b, h, kind, false, NULL, ref, ip,
					 &seen);
		if (ret)
			ownbuf_report_borrow(b, ret, seen, ip);
		rcu_read_unlock_sched();
		return ret;
	}
	if (b && !refcount_inc_not_zero(&b->users))
		b = NULL;
	rcu_read_unlock_sched();
	if (!b) {
		ownbuf_report_stale(0, ip);
		return -ESTALE;
	}

	/* Sleeping: with callbacks (hook_lock) or waiting to be granted. */
	might_sleep();
	for (;;) {
		if (ops)
			mutex_lock(&b->hook_lock);
		ret = ownbuf_borrow_once(b, h, kind, false, ops, ref, ip,
					 &seen);
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
	if (ret)
		ownbuf_report_borrow(b, ret, seen, ip);
	ownbuf_put(b);
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
 * Context: without @ops and %OWNBUF_WAIT, any (one cmpxchg, no lock);
 * otherwise may sleep.
 *
 * Return: 0; -EINVAL for bad @flags, a @ref holding a live borrow, or a
 * NULL @h or @ref; -ESTALE for a dead handle; -EBUSY on a conflict
 * (data_race); -EOVERFLOW if the buffer has max_shared shared borrows (at
 * once, even with %OWNBUF_WAIT); -EINTR if a signal interrupted the wait.
 */
int ownbuf_borrow_ops(struct ownbuf_handle h, unsigned int flags,
		      const struct ownbuf_ref_ops *ops, struct ownbuf_ref *ref)
{
	struct ownbuf *b;
	u64 seen;
	int ret;

	/* Fast path: no reporting, no reference; anything odd goes slow. */
	if (likely(!ops && ref && (flags == OWNBUF_SHARED ||
				   flags == OWNBUF_MUT) &&
		   (atomic_read(&ref->state) & OWNBUF_REF_STATE) !=
		   OWNBUF_STATE_LIVE)) {
		rcu_read_lock_sched();
		b = ownbuf_lookup(h.val);
		ret = b ? ownbuf_borrow_once(b, h.val, flags, true, NULL, ref,
					     _RET_IP_, &seen) : -ESTALE;
		rcu_read_unlock_sched();
		if (likely(!ret))
			return 0;
	}
	return __ownbuf_borrow(&h, flags, ops, ref, _RET_IP_);
}
EXPORT_SYMBOL_GPL(ownbuf_borrow_ops);

/*
 * End a borrow we own the ending of (ref->state went LIVE -> RELEASED).
 * Returns true if it had been revoked: then @b may be gone.
 */
static bool ownbuf_ref_end(struct ownbuf_ref *ref, struct ownbuf *b)
{
	if (ref->ops) {
		mutex_lock(&b->hook_lock);
		if (!list_empty(&ref->node)) {
			list_del_init(&ref->node);
			ref->ops->revoke(ref);
			/*
			 * A mut borrow with callbacks may have been mapped:
			 * zero what the mapping wrote past the size.  The
			 * data cannot be freed under hook_lock.
			 */
			if (ref->kind == OWNBUF_MUT &&
			    !(atomic64_read(&b->state) & OWNBUF_S_DEAD))
				memset(b->data + b->size, 0,
				       PAGE_ALIGN(b->size) - b->size);
		}
		mutex_unlock(&b->hook_lock);
	}
	if (!ownbuf_ref_untry(ref))
		return false;
	atomic_set(&ref->state, OWNBUF_STATE_REVOKED);
	return true;
}

/* Claim the ending of a live borrow: LIVE with no unsafe section open. */
static __always_inline bool ownbuf_ref_claim(struct ownbuf_ref *ref)
{
	int s = OWNBUF_STATE_LIVE;

	return ownbuf_ref_genuine(ref) &&
	       atomic_try_cmpxchg(&ref->state, &s, OWNBUF_STATE_RELEASED);
}

int __ownbuf_release(struct ownbuf_ref *ref, unsigned long ip)
{
	int ret;

	ret = ownbuf_ref_validate(ref, OWNBUF_OP_RELEASE, ip);
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
		return ownbuf_ref_validate(ref, OWNBUF_OP_RELEASE, ip) ?:
		       -ESTALE;
	}
	if (ownbuf_ref_end(ref, ref->buf)) {
		ownbuf_report(OWNBUF_USE_AFTER_FREE, ref->id, ip,
			      "borrow revoked: its owner went away");
		return -ESTALE;
	}
	return 0;
}

/**
 * ownbuf_release() - give a borrow back
 * @ref: the token.
 *
 * Releasing twice is a double_free.  Releasing a borrow that was revoked
 * fails with -ESTALE (a use_after_free), so that the borrower learns its
 * borrow ended early; the first such release still ends the borrow.
 * Either way the token can then be used for another borrow.
 *
 * Context: any without ->revoke callbacks; otherwise may sleep.
 *
 * Return: 0; -EINVAL for the NULL borrow; -ESTALE if already released or
 * revoked; -EBUSY inside an unsafe section (data_race).
 */
int ownbuf_release(struct ownbuf_ref *ref)
{
	/* Fast path: a live borrow without callbacks. */
	if (likely(ref && !ref->ops && ownbuf_ref_claim(ref))) {
		if (likely(!ownbuf_ref_untry(ref)))
			return 0;
		atomic_set(&ref->state, OWNBUF_STATE_REVOKED);
		ownbuf_report(OWNBUF_USE_AFTER_FREE, ref->id, _RET_IP_,
			      "borrow revoked: its owner went away");
		return -ESTALE;
	}
	return __ownbuf_release(ref, _RET_IP_);
}
EXPORT_SYMBOL_GPL(ownbuf_release);

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
	if (!ref || !ownbuf_ref_genuine(ref))
		return;
	if (ownbuf_ref_claim(ref)) {
		ownbuf_ref_end(ref, ref->buf);
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
 * Return: 0, or -EINVAL/-ESTALE for a NULL or dead borrow.
 */
int ownbuf_ref_stat(struct ownbuf_ref *ref, struct ownbuf_stat *st)
{
	unsigned long ip = _RET_IP_;
	struct ownbuf *b;
	int ret;

	if (!st) {
		ownbuf_report(OWNBUF_NULL_DEREF, 0, ip, "NULL stat pointer");
		return -EINVAL;
	}
	b = ownbuf_ref_acquire(ref, OWNBUF_ACC_PIN, ip, &ret);
	if (!b)
		return ret;
	ownbuf_fill_stat(b, st);
	ownbuf_untry(b, OWNBUF_S_PIN_ONE);
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
	enum ownbuf_acc acc;
	struct ownbuf *b;
	size_t copied;
	ssize_t ret;
	int err;

	if (ref) {
		acc = write ? OWNBUF_ACC_REF_WRITE : OWNBUF_ACC_REF_READ;
		b = ownbuf_ref_acquire(ref, acc, ip, &err);
	} else {
		acc = write ? OWNBUF_ACC_OWNER_WRITE : OWNBUF_ACC_OWNER_READ;
		b = ownbuf_acquire(h, acc, OWNBUF_OP_USE, ip, &err);
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
	ownbuf_untry(b, ownbuf_accs[acc].one);
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
		    ownbuf_ref_genuine(ref) && ref->kind != OWNBUF_MUT)
			return -EPERM;
		ret = ownbuf_ref_check(ref, OWNBUF_OP_USE, ip);
		id = ref->id;
	} else {
		ret = ownbuf_handle_check(h, OWNBUF_OP_USE, ip);
		id = ownbuf_handle_id(h);
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
 * Return: 0; -EINVAL for a NULL @ref or @dst; -ESTALE for a released or
 * revoked borrow; -EBUSY if a write through the mut borrow is in flight;
 * -ERANGE out of bounds.
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
 * Return: 0; -EPERM through a shared borrow; otherwise as ownbuf_read(),
 * with -EBUSY if any other access through the borrow is in flight.
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
 * Return: 0, -EINVAL, -ESTALE, -EBUSY (data_race) or -ERANGE.
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
 * Return: 0, -EINVAL, -ESTALE, -EBUSY (data_race) or -ERANGE.
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
 * borrow cannot be released and a revocation waits for it to end, so keep
 * it short.  Sections nest.  Context: any.
 *
 * Return: the pointer, or ERR_PTR(-EINVAL/-ESTALE/-EBUSY).
 */
void *ownbuf_unsafe_begin(struct ownbuf_ref *ref, size_t *len)
{
	unsigned long ip = _RET_IP_;
	struct ownbuf *b;
	int ret, s;

	ret = ownbuf_ref_validate(ref, OWNBUF_OP_USE, ip);
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
							   ip) ?: -ESTALE);
	} while (!atomic_try_cmpxchg(&ref->state, &s, s + OWNBUF_REF_PIN_ONE));
	/* And on the buffer: a revocation waits for it. */
	b = ownbuf_ref_acquire(ref, OWNBUF_ACC_PIN, ip, &ret);
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
 * Ending a section that is not open is refused as a double_free.
 * Context: any.
 */
void ownbuf_unsafe_end(struct ownbuf_ref *ref)
{
	unsigned long ip = _RET_IP_;
	int s;

	if (ownbuf_ref_validate(ref, OWNBUF_OP_USE, ip))
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
	ownbuf_untry(ref->buf, OWNBUF_S_PIN_ONE);
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
	struct ownbuf *b;
	u64 s;

	rcu_read_lock_sched();
	if (ref)
		b = ownbuf_ref_state(ref) == OWNBUF_STATE_LIVE ?
		    READ_ONCE(ref->buf) : NULL;
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
		if (ref->kind == OWNBUF_MUT &&
		    !(s & (OWNBUF_S_READERS | OWNBUF_S_WRITER)))
			mask |= OWNBUF_CAN_WRITE;
	} else {
		if (!(s & (OWNBUF_S_MUT | OWNBUF_S_WRITER)))
			mask |= OWNBUF_CAN_READ;
		if (!(s & (OWNBUF_S_LENT | OWNBUF_S_BUSY)) &&
		    !ownbuf_shared_sum(b))
			mask |= OWNBUF_CAN_WRITE;
	}
out:
	rcu_read_unlock_sched();
	return mask;
}

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
	struct ownbuf *b;
	int ret = -ESTALE;

	rcu_read_lock_sched();
	if (ref)
		b = ownbuf_ref_state(ref) == OWNBUF_STATE_LIVE ?
		    READ_ONCE(ref->buf) : NULL;
	else
		b = ownbuf_lookup(READ_ONCE(h->val));
	if (b && !(atomic64_read(&b->state) & OWNBUF_S_DEAD)) {
		ownbuf_fill_stat(b, st);
		ret = 0;
	}
	rcu_read_unlock_sched();
	return ret;
}

/**
 * ownbuf_ref_pfn() - the page frame behind a page of a borrowed buffer
 * @ref: a live borrow.
 * @pgoff: page index in the buffer.
 *
 * For the mmap fault handler of /dev/ownbuf, which guarantees the borrow
 * is live: its ->revoke callback waits for faults in flight before it
 * returns, and the engine calls it before the data can be freed.
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

/* Buffers whose memory is allocated (approximately: failures count).  For KUnit. */
unsigned long ownbuf_kunit_data_count(void)
{
	return atomic_long_read(&ownbuf_data_count);
}
EXPORT_SYMBOL_IF_KUNIT(ownbuf_kunit_data_count);

/* Pretend @n handle generations were spent (saturating).  For KUnit. */
void ownbuf_kunit_spend_generations(u64 n)
{
	u64 seq = atomic64_read(&ownbuf_seq);

	atomic64_set(&ownbuf_seq, n > OWNBUF_SEQ_MAX - seq ? OWNBUF_SEQ_MAX :
							   seq + n);
}
EXPORT_SYMBOL_IF_KUNIT(ownbuf_kunit_spend_generations);

/* A value naming @hv's table slot with another generation.  For KUnit. */
u64 ownbuf_kunit_same_slot(u64 hv, u64 rnd)
{
	u64 v = (rnd & GENMASK_ULL(61, OWNBUF_IDX_BITS)) | (hv & OWNBUF_IDX_MASK);

	return v == hv ? v ^ BIT_ULL(OWNBUF_IDX_BITS) : v;
}
EXPORT_SYMBOL_IF_KUNIT(ownbuf_kunit_same_slot);

/* Buffers not freed yet, for the KUnit suite's check that none leaked. */
unsigned long ownbuf_count_buffers(void)
{
	struct ownbuf __rcu **chunk;
	unsigned long n = 0;
	unsigned int c, i;

	rcu_read_lock_sched();
	for (c = 0; c < OWNBUF_NR_CHUNKS; c++) {
		chunk = READ_ONCE(ownbuf_chunks[c]);
		for (i = 0; chunk && i < OWNBUF_CHUNK_SIZE; i++)
			n += !!rcu_access_pointer(chunk[i]);
	}
	rcu_read_unlock_sched();
	return n;
}
EXPORT_SYMBOL_IF_KUNIT(ownbuf_count_buffers);
#endif

int ownbuf_engine_init(void)
{
	ownbuf_ref_key = get_random_long();
	ownbuf_cpu_share = READ_ONCE(ownbuf_max_shared) / nr_cpu_ids;
	return 0;
}

/*
 * Nothing can call into the engine any more: modules that use its API
 * hold a reference on this one, and so do open files.  Whatever is left
 * was leaked by a caller that went away; report it and free it.
 */
void ownbuf_engine_exit(void)
{
	struct ownbuf __rcu **chunk;
	unsigned long n = 0;
	struct ownbuf *b;
	unsigned int c, i;

	for (c = 0; c < OWNBUF_NR_CHUNKS; c++) {
		chunk = ownbuf_chunks[c];
		for (i = 0; chunk && i < OWNBUF_CHUNK_SIZE; i++) {
			b = rcu_dereference_protected(chunk[i], true);
			if (!b)
				continue;
			if (!n++)
				pr_warn("buffers still owned at unload; freeing them:\n");
			pr_warn("buffer %llu (%zu bytes, %s, state %#llx) created by %pS\n",
				b->id, b->size,
				b->data ? "never dropped" :
					  "revoked, its borrows never released",
				(u64)atomic64_read(&b->state),
				(void *)b->created_at);
			ownbuf_free_data(b->data);
			ownbuf_free_core(b);
		}
		kfree(chunk);
	}
	if (n)
		pr_warn("%lu buffers were still owned at unload\n", n);
	ida_destroy(&ownbuf_ida);
	/* Buffers freed earlier are freed by our RCU callback. */
	rcu_barrier();
}
