// SPDX-License-Identifier: GPL-2.0
/*
 * ownbuf: the life of a buffer.  Creating, dropping, revoking, moving and
 * resizing it, what ownbuf_stat() sees of it, its memory, the module
 * parameters that limit it, and what is left of buffers at unload.  Each
 * operation takes the buffer through the state machine of
 * ownbuf_engine.c (the rules are at the top of ownbuf_core.h).
 */

#include <linux/atomic.h>
#include <linux/cpumask.h>
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
#include "ownbuf_trace.h"
/* Limits, read at the moment they apply. */
static unsigned long ownbuf_max_size = SZ_64M;
unsigned int ownbuf_max_shared = 1024;
/* Shared borrows a CPU records without counting the others. */
unsigned int ownbuf_fast_cap __read_mostly;
static atomic64_t ownbuf_next_id = ATOMIC64_INIT(0);
static atomic_long_t ownbuf_data_count;

/* Largest max_size: offsets fit in loff_t, PAGE_ALIGN() never wraps. */
#define OWNBUF_MAX_SIZE_LIMIT \
	((unsigned long)min_t(u64, MAX_LFS_FILESIZE, SIZE_MAX >> 1) & PAGE_MASK)

/* A size in bytes, 1 to OWNBUF_MAX_SIZE_LIMIT: max_size and default_size. */
static int ownbuf_param_set_size(const char *val, const struct kernel_param *kp)
{
	unsigned long v;
	int ret;

	ret = kstrtoul(val, 0, &v);
	if (ret)
		return ret;
	if (!v || v > OWNBUF_MAX_SIZE_LIMIT)
		return -EINVAL;
	WRITE_ONCE(*(unsigned long *)kp->arg, v);
	return 0;
}

const struct kernel_param_ops ownbuf_size_param_ops = {
	.set = ownbuf_param_set_size,
	.get = param_get_ulong,
};
module_param_cb(max_size, &ownbuf_size_param_ops, &ownbuf_max_size, 0644);
MODULE_PARM_DESC(max_size, "Largest buffer, in bytes (default 67108864: 64 MiB)");

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
MODULE_PARM_DESC(max_shared, "Shared borrows out at once per buffer, a count (default 1024)");

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

/*
 * Take @b (found under RCU, which the caller holds, by handle @hv)
 * exclusively for drop, move or resize: WRITER, and @ending (ENDING for
 * drop and move, else 0).  Reports a refusal, except -EAGAIN.
 *
 * Two drops or moves of one owner at once (two threads issuing DROP on one
 * fd): the second finds the first holding WRITER, a conflict, and would be
 * refused as a data_race.  Yet the buffer is busy with nothing but the
 * first, and what the second should see is what it leaves: the handle
 * variable consumed (a double_free after a drop, a use_after_free after a
 * move).  So, for a caller that may sleep and says so (OWNBUF_END_WAIT:
 * /dev/ownbuf's DROP and MOVE), a conflict with a drop or move in flight
 * (ENDING) is not refused but returned as -EAGAIN, reported to nobody: the
 * caller waits for it to end (ownbuf_owner_wait()) and starts again from
 * the lookup of its handle.  So does one that finds the buffer ended since
 * its lookup (-ESTALE), with nothing to wait for.  Only for drop and move:
 * they consume the handle, so what comes after them is decided by the
 * poison.  A resize does not, and waiting for it would serialise silently
 * what the contract refuses.  The in-kernel API (ownbuf_drop(),
 * ownbuf_move(): "Context: any") never waits: its callers order the uses
 * of one handle variable as they order any other variable they share.
 */
static int ownbuf_take_owner_excl(struct ownbuf *b, u64 hv, u64 ending,
				  unsigned int flags, unsigned long ip)
{
	enum ownbuf_violation v;
	u64 seen = 0;
	int ret;

	ret = ownbuf_take_excl(b, OWNBUF_S_WRITER | ending, &seen);
	if (!ret && unlikely(READ_ONCE(b->handle) != hv)) {
		/* Moved between the lookup and now. */
		ownbuf_give(b, OWNBUF_S_WRITER | ending);
		ret = -ESTALE;
	}
	if (!ret) {
		WRITE_ONCE(b->busy_at, ip);
		return 0;
	}
	/*
	 * Ending, or ended since the lookup: a caller that waits starts
	 * again from the lookup, where the poison of its variable tells
	 * what ended it (see __ownbuf_drop() for the order).
	 */
	if (ending && (flags & OWNBUF_END_WAIT) &&
	    (ret == -ESTALE || (seen & OWNBUF_S_ENDING)))
		return -EAGAIN;
	if (ret == -ESTALE) {
		ownbuf_report_stale(b->id, ip);
	} else {
		v = ownbuf_excl_class(seen);
		ownbuf_report_busy(b, v, seen, ip,
				   v == OWNBUF_DANGLING_BORROW ?
				   "buffer is lent out" :
				   "conflicts with an access in flight");
	}
	return ret;
}

/*
 * After ownbuf_take_owner_excl() returned -EAGAIN: wait until the drop or
 * move of @b in flight has given WRITER back or consumed *@hp (@hv no
 * more).  Its end wakes @b->wq (ownbuf_give() or the drop itself).  @b is
 * held by an observer reference, which this ends, or NULL: it was finished
 * meanwhile, nothing is in flight.
 */
static void ownbuf_owner_wait(struct ownbuf *b, struct ownbuf_handle *hp,
			      u64 hv)
{
	if (!b)
		return;
	wait_event(b->wq, READ_ONCE(hp->val) != hv ||
		   !(atomic64_read(&b->state) & OWNBUF_S_ENDING));
	ownbuf_obj_put(b);
}

/*
 * The start of a drop or a move of *@hp: its lookup for @op, then its
 * owner taken (WRITER and ENDING), after waiting for another drop or move
 * of it with OWNBUF_END_WAIT.  @null_to: a move's destination is NULL,
 * refused once the handle is known good.  Returns the buffer, which WRITER
 * holds, or NULL and the error in *@err; *@hv is the handle's value.
 */
static struct ownbuf *ownbuf_end_begin(struct ownbuf_handle *hp,
				       enum ownbuf_op op, bool null_to,
				       unsigned int flags, unsigned long ip,
				       u64 *hv, int *err)
{
	struct ownbuf *b;

	for (;;) {
		rcu_read_lock_sched();
		b = ownbuf_find(hp, op, ip, hv, err);
		if (b && null_to) {
			rcu_read_unlock_sched();
			ownbuf_report(OWNBUF_NULL_DEREF, 0, ip,
				      "NULL handle pointer");
			*err = -EINVAL;
			return NULL;
		}
		if (b)
			*err = ownbuf_take_owner_excl(b, *hv, OWNBUF_S_ENDING,
						      flags, ip);
		if (likely(!b || *err != -EAGAIN)) {
			rcu_read_unlock_sched();
			return *err ? NULL : b;
		}
		b = ownbuf_observe(b);
		rcu_read_unlock_sched();
		/* Another drop or move of *@hp: answer as after it. */
		ownbuf_owner_wait(b, hp, *hv);
	}
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
	return ownbuf_handle_peek(h, op, ip, NULL, NULL);
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

int __ownbuf_create_key(size_t size, gfp_t gfp, struct ownbuf_handle *out,
			unsigned long ip, struct lock_class_key *key,
			const char *name)
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
	ownbuf_who_note(&b->created, ip);
	b->holder = b->created;
	b->id = atomic64_inc_return(&ownbuf_next_id);
#ifdef CONFIG_DEBUG_LOCK_ALLOC
	lockdep_init_map(&b->dep_map, name, key, 0);
#endif
	ret = ownbuf_table_add(b, gfp);
	if (ret)
		goto err_free_data;
	out->val = b->handle;
	trace_ownbuf_create(b->id, 0, ip);
	return 0;

err_free_data:
	ownbuf_free_data(b->data, size);
	b->data = NULL;
err_put:
	ownbuf_obj_put(b);
	return ret;
}

/* The buffers of /dev/ownbuf, and of callers without a class of their own. */
int __ownbuf_create(size_t size, gfp_t gfp, struct ownbuf_handle *out,
		    unsigned long ip)
{
	static struct lock_class_key key;

	return __ownbuf_create_key(size, gfp, out, ip, &key, "ownbuf");
}

/* The function, for callers that do not see ownbuf.h's lockdep macro. */
#undef ownbuf_create

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

/**
 * ownbuf_create_key() - create a buffer of a lockdep class
 * @size: as ownbuf_create().
 * @gfp: as ownbuf_create().
 * @out: as ownbuf_create().
 * @key: the lockdep class of its borrows.
 * @name: the name of @key.
 *
 * What ownbuf_create() is with CONFIG_DEBUG_LOCK_ALLOC: one @key per place
 * that creates buffers.  Context: may sleep.
 *
 * Return: as ownbuf_create().
 */
int ownbuf_create_key(size_t size, gfp_t gfp, struct ownbuf_handle *out,
		      struct lock_class_key *key, const char *name)
{
	return __ownbuf_create_key(size, gfp, out, _RET_IP_, key, name);
}
EXPORT_SYMBOL_GPL(ownbuf_create_key);

int __ownbuf_drop(struct ownbuf_handle *hp, unsigned int flags,
		  unsigned long ip)
{
	const u64 held = OWNBUF_S_WRITER | OWNBUF_S_ENDING;
	unsigned long irqflags;
	struct ownbuf *b;
	u64 hv;
	s64 s;
	int ret;

	b = ownbuf_end_begin(hp, OWNBUF_OP_DROP, false, flags, ip, &hv, &ret);
	if (!b)
		return ret;
	/* Held: WRITER keeps it from being finished, and so does this. */
	refcount_inc(&b->users);
	ownbuf_window(OWNBUF_WIN_DROP, b);

	spin_lock_irqsave(&b->lock, irqflags);
	s = atomic64_read(&b->state);
	if (!(s & OWNBUF_S_DEAD)) {
		/*
		 * Nothing but a revocation, under this lock, makes it dead:
		 * the drop happens.  The variable dies first (one step for
		 * INFO): whoever finds the buffer dead or out of the table
		 * then finds the variable poisoned too (ownbuf_find()), so
		 * that a second drop of it is told a double_free.
		 */
		WRITE_ONCE(hp->val, ownbuf_poison(hp, b->id, false));
		/* We hold WRITER and ENDING, DEAD is not set: one add. */
		s = atomic64_fetch_add(OWNBUF_S_DEAD - held, &b->state);
		ownbuf_table_remove(b);
	}
	spin_unlock_irqrestore(&b->lock, irqflags);

	if (s & OWNBUF_S_DEAD) {
		/* Revoked meanwhile, through a copy of the handle. */
		ownbuf_report_stale(b->id, ip);
		ownbuf_give(b, held);
		ret = -ESTALE;
	} else {
		trace_ownbuf_drop(b->id, 0, ip);
		if (!((s - held) & OWNBUF_S_BUSY))
			ownbuf_free_data(ownbuf_data_take(b), 0);
		/* Borrowers, pollers, and a drop or move waiting for ours. */
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
 * "cannot move out of a borrowed value".  A drop or move of the same
 * handle still in flight on another CPU is such an access: it never waits
 * for one, so callers order the uses of one handle variable themselves.
 * Context: any.
 *
 * Return: 0; -EINVAL for a NULL handle; -ESTALE if @h was already dropped
 * (double_free) or moved or is stale (use_after_free); -EBUSY if lent out
 * (dangling_borrow) or an access is in flight (data_race).
 */
int ownbuf_drop(struct ownbuf_handle *h)
{
	return __ownbuf_drop(h, 0, _RET_IP_);
}
EXPORT_SYMBOL_GPL(ownbuf_drop);
EXPORT_SYMBOL_IF_KUNIT(__ownbuf_drop);

/*
 * Mark every borrow of dead @b revoked; returns how many, one's site.
 * @mut: MUT was held when DEAD was set (the state word decides it).
 */
static unsigned long ownbuf_revoke_records(struct ownbuf *b, bool mut,
					   struct ownbuf_holder *site)
{
	struct ownbuf_block *blk;
	unsigned long n = 0;
	int cpu, i;
	u64 w;

	memset(site, 0, sizeof(*site));
	site->kind = OWNBUF_HOLDER_NONE;
	/* Borrows being taken saw DEAD, or will be LIVE in a moment. */
	ownbuf_wait_pending(b, true);
	for_each_possible_cpu(cpu) {
		for (i = 0; i < OWNBUF_CELL_SLOTS; i++) {
			struct ownbuf_slot *slot = ownbuf_cell_slot(b, cpu, i);

			if (!n)
				ownbuf_slot_holder(slot, OWNBUF_SHARED, site);
			w = atomic64_read(&slot->word);
			if ((w & OWNBUF_SLOT_STATE) == OWNBUF_SLOT_LIVE &&
			    atomic64_try_cmpxchg(&slot->word, &w,
						 w | OWNBUF_SLOT_REVOKED))
				n++;
		}
	}
	/* Acquire: pairs with the release that appends a block. */
	for (blk = smp_load_acquire(&b->blocks); blk; blk = blk->next) {
		for (i = 0; i < OWNBUF_BLOCK_SLOTS; i++) {
			if (!n)
				ownbuf_slot_holder(&blk->slot[i], OWNBUF_SHARED,
						   site);
			w = atomic64_read(&blk->slot[i].word);
			if ((w & OWNBUF_SLOT_STATE) == OWNBUF_SLOT_LIVE &&
			    atomic64_try_cmpxchg(&blk->slot[i].word, &w,
						 w | OWNBUF_SLOT_REVOKED))
				n++;
		}
	}
	/*
	 * The mut borrow, if it was out when DEAD was set: its release sees
	 * DEAD, and is told it was revoked.  Its record is LIVE a moment
	 * after MUT is set; marking it REVOKED is for ownbuf_ref_state()
	 * (the release overwrites it).
	 */
	if (mut) {
		w = atomic64_read(&b->mut.word);
		while ((w & OWNBUF_SLOT_STATE) == OWNBUF_SLOT_PENDING) {
			cpu_relax();
			w = atomic64_read(&b->mut.word);
		}
		if (!n)
			ownbuf_slot_holder(&b->mut, OWNBUF_MUT, site);
		if ((w & OWNBUF_SLOT_STATE) == OWNBUF_SLOT_LIVE)
			atomic64_try_cmpxchg(&b->mut.word, &w,
					     w | OWNBUF_SLOT_REVOKED);
		n++;
	}
	return n;
}

int __ownbuf_revoke(struct ownbuf_handle *hp, unsigned long ip)
{
	struct ownbuf_holder site;
	struct ownbuf_ref *ref, *tmp;
	unsigned long n, flags;
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
	b = ownbuf_observe_unlock(b, ip);
	if (!b)
		return -ESTALE;

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

	trace_ownbuf_revoke(b->id, 0, ip);
	n = ownbuf_revoke_records(b, s & OWNBUF_S_MUT, &site);
	if (n)
		ownbuf_report_n(OWNBUF_DANGLING_BORROW, b->id, ip,
				"owner went away while lent out: borrows revoked",
				&site, n);
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
		  unsigned int flags, unsigned long ip)
{
	unsigned long irqflags;
	struct ownbuf *b;
	u64 hv, nh = 0;
	int ret;

	b = ownbuf_end_begin(hp, OWNBUF_OP_USE, !to, flags, ip, &hv, &ret);
	if (!b)
		return ret;
	ownbuf_window(OWNBUF_WIN_MOVE, b);

	spin_lock_irqsave(&b->lock, irqflags);
	if (atomic64_read(&b->state) & OWNBUF_S_DEAD) {
		/* Revoked meanwhile: the revocation won. */
		ret = -ESTALE;
	} else {
		ret = ownbuf_table_next(b, &nh);
		if (!ret) {
			/* The old handle dies first: @to may be @hp. */
			WRITE_ONCE(hp->val, ownbuf_poison(hp, b->id, true));
			WRITE_ONCE(to->val, nh);
			ownbuf_who_note(&b->holder, ip);
			b->holder.moves++;
		}
	}
	spin_unlock_irqrestore(&b->lock, irqflags);
	if (!ret)
		trace_ownbuf_move(b->id, 0, ip);
	else if (ret == -ESTALE)
		ownbuf_report_stale(b->id, ip);
	/* Wakes a drop or move waiting for ours (ownbuf_owner_wait()). */
	ownbuf_give(b, OWNBUF_S_WRITER | OWNBUF_S_ENDING);
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
	return __ownbuf_move(h, to, 0, _RET_IP_);
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
	ret = ownbuf_take_owner_excl(b, hv, 0, 0, ip);
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

static noinline int ownbuf_size_slow(u64 h, size_t *size, unsigned long ip)
{
	struct ownbuf_handle hv = { .val = h };
	size_t sz;
	int ret;

	ret = ownbuf_handle_peek(&hv, OWNBUF_OP_USE, ip, &sz, NULL);
	if (ret)
		return ret;
	if (unlikely(!size)) {
		ownbuf_report(OWNBUF_NULL_DEREF, 0, ip, "NULL size pointer");
		return -EINVAL;
	}
	*size = sz;
	return 0;
}

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
	struct ownbuf *b;
	u64 bad = 1;
	size_t sz;

	/* The common case in one test, as ownbuf_borrow_fast(). */
	rcu_read_lock_sched();
	b = ownbuf_lookup_any(h.val);
	if (likely(b)) {
		bad = READ_ONCE(b->handle) ^ h.val;
		bad |= atomic64_read(&b->state) & OWNBUF_S_DEAD;
		bad |= !size;
		sz = READ_ONCE(b->size);
	}
	rcu_read_unlock_sched();
	if (likely(!bad)) {
		*size = sz;
		return 0;
	}
	return ownbuf_size_slow(h.val, size, _RET_IP_);
}
EXPORT_SYMBOL_GPL(ownbuf_size);

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
 * ownbuf_waitqueue() - where to wait for a buffer's borrows to come back
 * @b: from ownbuf_owner_get() or ownbuf_ref_get().
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

bool ownbuf_cpus_dense __read_mostly;

int ownbuf_engine_init(void)
{
	ownbuf_cpus_dense = cpumask_weight(cpu_possible_mask) == nr_cpu_ids;
	ownbuf_ref_init();
	ownbuf_set_fast_cap(READ_ONCE(ownbuf_max_shared));
	ownbuf_table_init();
	return 0;
}

/* Report (and free) what a caller left behind at unload. */
static void ownbuf_report_leak(struct ownbuf *b)
{
	pr_warn("buffer %llu (%zu bytes) created by %pS was never dropped; freeing it\n",
		b->id, b->size, (void *)b->created.ip);
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
