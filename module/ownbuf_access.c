// SPDX-License-Identifier: GPL-2.0
/*
 * ownbuf: the data path.  Reads and writes by the owner and through
 * borrows (ownbuf_ref_take(), at the end), unsafe sections, and what
 * /dev/ownbuf needs to look at and map a buffer.  Each access is taken and
 * given back through the state machine of ownbuf_engine.c (the rules are
 * at the top of ownbuf_core.h).
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
 * What is wrong with the arguments of an access, in the contract's order
 * after "not live": nothing to copy (0), a NULL pointer (the caller says
 * so with OWNBUF_RW_NULL), an offset no loff_t can hold.  Returns 1 to go
 * on, 0, or a negative errno.
 */
static ssize_t ownbuf_rw_args(u64 id, u64 pos, size_t len, unsigned int flags,
			      unsigned long ip)
{
	bool file = flags & OWNBUF_RW_FILE;

	if (!len)
		return 0;
	if (flags & OWNBUF_RW_NULL) {
		ownbuf_report(OWNBUF_NULL_DEREF, id, ip,
			      file ? "NULL user pointer" : "NULL data pointer");
		return file ? -EFAULT : -EINVAL;
	}
	if (pos > LLONG_MAX) {
		ownbuf_report(OWNBUF_OUT_OF_BOUNDS, id, ip,
			      "offset does not fit in loff_t");
		return file ? -EINVAL : -ERANGE;
	}
	return 1;
}

/*
 * Clamp [pos, pos + *len) to the buffer.  File semantics (read(2)): a read
 * at or after the end is 0 bytes, a write there is -ENOSPC, and either is
 * short across the end.  Otherwise (the kernel API) anything outside
 * [0, size) is -ERANGE.  Both count out_of_bounds, never wrapping.
 */
static ssize_t ownbuf_bounds(struct ownbuf *b, u64 pos, size_t *len,
			     unsigned int flags, unsigned long ip)
{
	size_t size = b->size;
	size_t end;

	if (flags & OWNBUF_RW_FILE) {
		if (pos < size) {
			*len = min_t(size_t, *len, size - (size_t)pos);
			return *len;
		}
		if (!(flags & OWNBUF_RW_WRITE))
			return 0;
		ownbuf_report(OWNBUF_OUT_OF_BOUNDS, b->id, ip,
			      "write at or after the end");
		return -ENOSPC;
	}
	if (pos > SIZE_MAX || check_add_overflow((size_t)pos, *len, &end) ||
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

/* The last of an access: bounds, the copy, and giving @one back. */
static ssize_t ownbuf_rw_copy(struct ownbuf *b, u64 one, u64 pos,
			      struct iov_iter *it, unsigned int flags,
			      unsigned long ip)
{
	size_t len = iov_iter_count(it);
	size_t copied;
	ssize_t ret;

	ret = ownbuf_bounds(b, pos, &len, flags, ip);
	if (ret > 0) {
		copied = ownbuf_copy(b->data + pos, len, it,
				     flags & OWNBUF_RW_WRITE);
		if (!copied || (copied != len && !(flags & OWNBUF_RW_FILE)))
			ret = -EFAULT;
		else
			ret = copied;
	}
	ownbuf_give(b, one);
	return ret;
}

/**
 * ownbuf_owner_rw() - read or write a buffer as its owner
 * @hp: the owner's handle variable.
 * @pos: offset in the buffer.
 * @it: the other side of the copy.
 * @flags: OWNBUF_RW_WRITE to write; OWNBUF_RW_FILE for read(2) semantics
 *	(short at the end, -ENOSPC writing past it, -EFAULT for a NULL
 *	pointer) instead of all-or-nothing -ERANGE; OWNBUF_RW_NULL if @it
 *	has a NULL segment.
 * @ip: who is blamed for a violation.
 *
 * One lookup, then the contract's order: not live, nothing to copy, NULL,
 * conflict (the access is itself a borrow for its duration: -EBUSY, never
 * a wait), bounds.
 *
 * Return: bytes copied, or a negative errno.
 */
ssize_t ownbuf_owner_rw(struct ownbuf_handle *hp, u64 pos, struct iov_iter *it,
			unsigned int flags, unsigned long ip)
{
	bool write = flags & OWNBUF_RW_WRITE;
	struct ownbuf *b;
	u64 hv, one, seen = 0;
	ssize_t ret;
	int err;

	rcu_read_lock_sched();
	b = ownbuf_find(hp, OWNBUF_OP_USE, ip, &hv, &err);
	if (!b) {
		rcu_read_unlock_sched();
		return err;
	}
	ret = ownbuf_rw_args(b->id, pos, iov_iter_count(it), flags, ip);
	if (ret <= 0) {
		rcu_read_unlock_sched();
		return ret;
	}
	if (write) {
		one = OWNBUF_S_WRITER;
		err = ownbuf_take_excl(b, OWNBUF_S_WRITER, &seen);
	} else {
		one = OWNBUF_S_READER_ONE;
		err = ownbuf_take(b, OWNBUF_OWNER_READ_CONFLICT,
				  OWNBUF_S_READER_ONE, OWNBUF_S_READERS, &seen);
	}
	if (!err && unlikely(READ_ONCE(b->handle) != hv)) {
		/* Moved between the lookup and now. */
		rcu_read_unlock_sched();
		ownbuf_give(b, one);
		ownbuf_report_stale(0, ip);
		return -ESTALE;
	}
	if (err == -ESTALE)
		ownbuf_report_stale(b->id, ip);
	else if (err)
		ownbuf_report_busy(b, OWNBUF_DATA_RACE, seen, ip,
				   "conflicts with a borrow or an access in flight");
	else
		WRITE_ONCE(b->busy_at, ip);
	rcu_read_unlock_sched();
	if (err)
		return err;
	return ownbuf_rw_copy(b, one, pos, it, flags, ip);
}

/**
 * ownbuf_ref_rw() - read or write a buffer through a borrow
 * @ref: the borrow.
 * @pos: offset in the buffer.
 * @it: the other side of the copy.
 * @flags: as ownbuf_owner_rw().
 * @ip: who is blamed for a violation.
 *
 * The order is ownbuf_owner_rw()'s, after -EPERM for a write through a
 * shared borrow (its role is known even once it ended).
 *
 * Return: bytes copied, or a negative errno.
 */
ssize_t ownbuf_ref_rw(struct ownbuf_ref *ref, u64 pos, struct iov_iter *it,
		      unsigned int flags, unsigned long ip)
{
	bool write = flags & OWNBUF_RW_WRITE;
	struct ownbuf *b;
	ssize_t ret;
	u64 one;
	int err;

	if (write && ref && atomic_read(&ref->state) &&
	    ownbuf_ref_genuine(ref) &&
	    (ref->kind & OWNBUF_REF_KIND) != OWNBUF_MUT)
		return -EPERM;
	err = ownbuf_ref_check(ref, OWNBUF_OP_USE, ip);
	if (err)
		return err;
	ret = ownbuf_rw_args(ref->id, pos, iov_iter_count(it), flags, ip);
	if (ret <= 0)
		return ret;
	if (write) {
		one = OWNBUF_S_WRITER;
		b = ownbuf_ref_take(ref, OWNBUF_REF_WRITE_CONFLICT, one, one,
				    ip, &err);
	} else {
		one = OWNBUF_S_READER_ONE;
		b = ownbuf_ref_take(ref, OWNBUF_REF_READ_CONFLICT, one,
				    OWNBUF_S_READERS, ip, &err);
	}
	if (!b)
		return err;
	return ownbuf_rw_copy(b, one, pos, it, flags, ip);
}

/* A kernel caller's buffer as the other side of a copy. */
static unsigned int ownbuf_kvec(struct iov_iter *it, struct kvec *kv,
				void *buf, size_t len, bool write)
{
	kv->iov_base = buf;
	kv->iov_len = len;
	iov_iter_kvec(it, write ? ITER_SOURCE : ITER_DEST, kv, 1, len);
	return (write ? OWNBUF_RW_WRITE : 0) | (buf ? 0 : OWNBUF_RW_NULL);
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
	struct iov_iter it;
	struct kvec kv;
	ssize_t ret;

	ret = ownbuf_ref_rw(ref, off, &it, ownbuf_kvec(&it, &kv, dst, len, false),
			    _RET_IP_);
	return ret < 0 ? ret : 0;
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
	struct iov_iter it;
	struct kvec kv;
	ssize_t ret;

	ret = ownbuf_ref_rw(ref, off, &it,
			    ownbuf_kvec(&it, &kv, (void *)src, len, true),
			    _RET_IP_);
	return ret < 0 ? ret : 0;
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
	struct iov_iter it;
	struct kvec kv;
	ssize_t ret;

	ret = ownbuf_owner_rw(&h, off, &it,
			      ownbuf_kvec(&it, &kv, dst, len, false), _RET_IP_);
	return ret < 0 ? ret : 0;
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
	struct iov_iter it;
	struct kvec kv;
	ssize_t ret;

	ret = ownbuf_owner_rw(&h, off, &it,
			      ownbuf_kvec(&it, &kv, (void *)src, len, true),
			      _RET_IP_);
	return ret < 0 ? ret : 0;
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

/* --- what /dev/ownbuf asks about a file's buffer --- */

/* What would not be refused now on @b, through @ref or (NULL) as owner. */
static unsigned int ownbuf_mask(struct ownbuf *b, struct ownbuf_ref *ref)
{
	unsigned int mask = 0;
	struct ownbuf_scan sc;
	u64 s;

	if (!b)
		return 0;
	s = atomic64_read(&b->state);
	if (s & OWNBUF_S_DEAD)
		return 0;
	if (ref) {
		if (!(s & OWNBUF_S_WRITER))
			mask |= OWNBUF_CAN_READ;
		if ((ref->kind & OWNBUF_REF_KIND) == OWNBUF_MUT &&
		    !(s & (OWNBUF_S_READERS | OWNBUF_S_WRITER)))
			mask |= OWNBUF_CAN_WRITE;
		return mask;
	}
	if (!(s & (OWNBUF_S_MUT | OWNBUF_S_WRITER)))
		mask |= OWNBUF_CAN_READ;
	if (!(s & (OWNBUF_S_MUT | OWNBUF_S_BUSY))) {
		ownbuf_scan(b, true, &sc);
		if (!sc.live)
			mask |= OWNBUF_CAN_WRITE;
	}
	return mask;
}

/**
 * ownbuf_owner_mask() - would the owner's read or write be refused now?
 * @hp: the owner's handle variable.
 *
 * Return: OWNBUF_CAN_READ and/or OWNBUF_CAN_WRITE; 0 once dead.
 */
unsigned int ownbuf_owner_mask(struct ownbuf_handle *hp)
{
	unsigned int mask;

	rcu_read_lock_sched();
	mask = ownbuf_mask(ownbuf_lookup(READ_ONCE(hp->val)), NULL);
	rcu_read_unlock_sched();
	return mask;
}

/**
 * ownbuf_ref_mask() - would a read or write through a borrow be refused now?
 * @ref: the borrow.
 *
 * Return: as ownbuf_owner_mask().
 */
unsigned int ownbuf_ref_mask(struct ownbuf_ref *ref)
{
	unsigned int mask;

	rcu_read_lock_sched();
	mask = ownbuf_mask(ownbuf_ref_state(ref) == OWNBUF_STATE_LIVE ?
			   ref->buf : NULL, ref);
	rcu_read_unlock_sched();
	return mask;
}

/**
 * ownbuf_ref_info() - what INFO reports on a borrow: a state and, if LIVE,
 * one snapshot
 * @ref: the borrow.
 * @st: filled in if LIVE.
 *
 * Counts nothing.  A LIVE answer carries the size and counts the buffer
 * had at one moment while it was live.
 *
 * Return: OWNBUF_STATE_*.
 */
int ownbuf_ref_info(struct ownbuf_ref *ref, struct ownbuf_stat *st)
{
	int state;
	u64 w;

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

/* ownbuf_owner_info() when not simply live: decide from scratch. */
static noinline int ownbuf_owner_info_slow(struct ownbuf_handle *hp,
					   struct ownbuf_stat *st)
{
	unsigned int tries;
	struct ownbuf *b;
	int state;
	u64 v;

	for (tries = 0;; tries++) {
		v = READ_ONCE(hp->val);
		state = ownbuf_handle_state(hp);
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

/**
 * ownbuf_owner_info() - what INFO reports on an owner
 * @hp: the owner's handle variable.
 * @st: filled in if LIVE.
 *
 * Return: as ownbuf_ref_info().
 */
int ownbuf_owner_info(struct ownbuf_handle *hp, struct ownbuf_stat *st)
{
	u64 v = READ_ONCE(hp->val);
	struct ownbuf *b;
	int ret = -ESTALE;

	/* The common case, in no call: a live variable and buffer. */
	if (likely(v && !(v & OWNBUF_POISON))) {
		ownbuf_window(OWNBUF_WIN_INFO, NULL);
		rcu_read_lock_sched();
		b = ownbuf_lookup(v);
		if (b)
			ret = ownbuf_snapshot(b, st);
		rcu_read_unlock_sched();
		if (!ret)
			return OWNBUF_STATE_LIVE;
	}
	return ownbuf_owner_info_slow(hp, st);
}
EXPORT_SYMBOL_IF_KUNIT(ownbuf_owner_info);

/*
 * The position llseek(2) asks for: in [0, @size], or refused (-EINVAL, an
 * out_of_bounds if it is outside).
 */
static loff_t ownbuf_seek_pos(u64 id, loff_t size, loff_t cur, loff_t off,
			      int whence, unsigned long ip)
{
	loff_t base, pos;

	switch (whence) {
	case SEEK_SET:
		base = 0;
		break;
	case SEEK_CUR:
		base = cur;
		break;
	case SEEK_END:
		base = size;
		break;
	default:
		return -EINVAL;
	}
	if (check_add_overflow(base, off, &pos) || pos < 0 || pos > size) {
		ownbuf_report(OWNBUF_OUT_OF_BOUNDS, id, ip,
			      "seek outside [0, size]");
		return -EINVAL;
	}
	return pos;
}

/**
 * ownbuf_owner_seek() - where llseek(2) on an owner goes
 * @hp: the owner's handle variable.
 * @cur: the file's position.
 * @off: llseek()'s offset.
 * @whence: SEEK_SET, SEEK_CUR or SEEK_END.
 * @size: receives the size, the largest position.
 * @ip: who is blamed for a violation.
 *
 * Return: the new position, or -EINVAL/-ESTALE for a dead handle, then
 * -EINVAL for a bad @whence or a position outside [0, size].
 */
loff_t ownbuf_owner_seek(struct ownbuf_handle *hp, loff_t cur, loff_t off,
			 int whence, loff_t *size, unsigned long ip)
{
	size_t sz;
	u64 id;
	int ret;

	ret = ownbuf_handle_peek(hp, OWNBUF_OP_USE, ip, &sz, &id);
	if (ret)
		return ret;
	*size = sz;
	return ownbuf_seek_pos(id, sz, cur, off, whence, ip);
}

/* The size of the buffer behind a live borrow, or an error (reported). */
static int ownbuf_ref_size(struct ownbuf_ref *ref, unsigned long ip,
			   size_t *size)
{
	int ret = ownbuf_ref_check(ref, OWNBUF_OP_USE, ip);

	/* The object of a genuine token is never freed, only pooled. */
	if (!ret)
		*size = READ_ONCE(ref->buf->size);
	return ret;
}

/**
 * ownbuf_ref_seek() - where llseek(2) on a borrow goes
 * @ref: the borrow.
 * @cur: the file's position.
 * @off: llseek()'s offset.
 * @whence: SEEK_SET, SEEK_CUR or SEEK_END.
 * @size: receives the size, the largest position.
 * @ip: who is blamed for a violation.
 *
 * Return: as ownbuf_owner_seek().
 */
loff_t ownbuf_ref_seek(struct ownbuf_ref *ref, loff_t cur, loff_t off,
		       int whence, loff_t *size, unsigned long ip)
{
	size_t sz;
	int ret;

	ret = ownbuf_ref_size(ref, ip, &sz);
	if (ret)
		return ret;
	*size = sz;
	return ownbuf_seek_pos(ref->id, sz, cur, off, whence, ip);
}

/**
 * ownbuf_ref_map() - may these pages of a borrowed buffer be mapped?
 * @ref: the borrow.
 * @pgoff: the first page.
 * @pages: how many pages.
 * @shared: the mapping is shared (a private one is never allowed).
 * @ip: who is blamed for a violation.
 *
 * Return: 0; -EINVAL/-ESTALE for a dead borrow; then -EINVAL for a private
 * mapping, or pages outside [0, PAGE_ALIGN(size)) (out_of_bounds).
 */
int ownbuf_ref_map(struct ownbuf_ref *ref, unsigned long pgoff,
		   unsigned long pages, bool shared, unsigned long ip)
{
	unsigned long all;
	size_t size;
	int ret;

	ret = ownbuf_ref_size(ref, ip, &size);
	if (ret)
		return ret;
	if (!shared)
		return -EINVAL;
	all = PAGE_ALIGN(size) >> PAGE_SHIFT;
	if (pgoff >= all || pages > all - pgoff) {
		ownbuf_report(OWNBUF_OUT_OF_BOUNDS, ref->id, ip,
			      "mapping outside [0, PAGE_ALIGN(size))");
		return -EINVAL;
	}
	/* For the debugfs file: this borrow is (about to be) mapped. */
	ownbuf_slot_note_mapped(ref->slot, ref->gen);
	return 0;
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
 * @b: from ownbuf_owner_get() or ownbuf_ref_get().
 */
void ownbuf_put(struct ownbuf *b)
{
	ownbuf_obj_put(b);
}
EXPORT_SYMBOL_IF_KUNIT(ownbuf_put);

/**
 * ownbuf_owner_get() - keep the engine's object of an owner's buffer alive
 * @hp: the owner's handle variable.
 *
 * The object outlives the buffer's memory: it only carries the wait queue
 * that /dev/ownbuf polls on, for as long as a file may be polled.
 *
 * Return: the object, or NULL if the buffer is gone.
 */
struct ownbuf *ownbuf_owner_get(struct ownbuf_handle *hp)
{
	struct ownbuf *b;

	rcu_read_lock_sched();
	b = ownbuf_observe(ownbuf_lookup(READ_ONCE(hp->val)));
	rcu_read_unlock_sched();
	return b;
}

#ifdef CONFIG_DEBUG_LOCK_ALLOC
/**
 * ownbuf_ref_lock_acquire() - tell lockdep a borrow is held
 * @ref: a borrow just taken.
 * @flags: what it was taken with.
 * @ip: where.
 *
 * For the scope-bound classes of ownbuf.h: from here to
 * ownbuf_ref_lock_release() lockdep sees the borrow as a held lock of its
 * buffer's class.
 */
void ownbuf_ref_lock_acquire(struct ownbuf_ref *ref, unsigned int flags,
			     unsigned long ip)
{
	ownbuf_lock_acquire(ref->buf, flags & OWNBUF_REF_KIND,
			    !(flags & OWNBUF_WAIT), ip);
}
EXPORT_SYMBOL_GPL(ownbuf_ref_lock_acquire);

/**
 * ownbuf_ref_lock_release() - tell lockdep a borrow is no longer held
 * @ref: the borrow of ownbuf_ref_lock_acquire(), before it ends.
 * @ip: where.
 */
void ownbuf_ref_lock_release(struct ownbuf_ref *ref, unsigned long ip)
{
	ownbuf_lock_release(ref->buf, ip);
}
EXPORT_SYMBOL_GPL(ownbuf_ref_lock_release);
#endif

/*
 * Take an access through the borrow @ref (validated): @one unless
 * @conflict.  On success the access holds the buffer.
 */
struct ownbuf *ownbuf_ref_take(struct ownbuf_ref *ref, u64 conflict,
			       u64 one, u64 field, unsigned long ip, int *err)
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
