// SPDX-License-Identifier: GPL-2.0
/*
 * ownbuf: the data path.  Reads and writes by the owner and through
 * borrows, unsafe sections, and what /dev/ownbuf needs to look at and map
 * a buffer.  Each access is taken and given back through the state
 * machine of ownbuf_engine.c (the rules are at the top of that file).
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
