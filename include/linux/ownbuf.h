/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ownbuf - run-time ownership checking for kernel buffers
 *
 * A buffer has exactly one owner, named by a struct ownbuf_handle.  It can be
 * lent out as any number of shared (read-only) borrows or as one mut
 * (read-write) borrow, never both; each borrow is a struct ownbuf_ref that
 * the borrower keeps.  Dropping, moving or resizing a lent-out buffer is
 * refused; revoking it (the owner went away) ends every borrow at once.
 *
 * Misuse never corrupts anything: every refused call returns an error code
 * and counts one violation of one class (enum ownbuf_violation).
 */
#ifndef _LINUX_OWNBUF_H
#define _LINUX_OWNBUF_H

#include <linux/atomic.h>
#include <linux/gfp.h>
#include <linux/list.h>
#include <linux/types.h>
#include <uapi/linux/ownbuf.h>

/**
 * enum ownbuf_violation - the bug classes ownbuf turns into error codes
 * @OWNBUF_USE_AFTER_FREE: used a dropped, moved, released or revoked buffer
 *	or borrow (-ESTALE).
 * @OWNBUF_DOUBLE_FREE: dropped an owner twice, released a borrow twice
 *	(-ESTALE).
 * @OWNBUF_DATA_RACE: asked for access that conflicts with an outstanding
 *	borrow or an access in flight (-EBUSY).
 * @OWNBUF_NULL_DEREF: passed a NULL handle or borrow (-EINVAL), or a NULL
 *	user pointer (-EFAULT).
 * @OWNBUF_OUT_OF_BOUNDS: touched bytes outside [0, size) or passed an offset
 *	whose arithmetic overflows (-ERANGE here; for the device, see section
 *	4 of Documentation/userspace-api/ownbuf.rst).
 * @OWNBUF_DANGLING_BORROW: tried to drop, move or resize a lent-out buffer
 *	(-EBUSY), or revoked a buffer that was lent out (one per borrow).
 * @OWNBUF_NR_VIOLATIONS: number of classes.
 *
 * In this order, the classes are named by the UAPI header's
 * OWNBUF_VIOLATION_NAMES (ownbuf_violation_name()).
 */
enum ownbuf_violation {
	OWNBUF_USE_AFTER_FREE,
	OWNBUF_DOUBLE_FREE,
	OWNBUF_DATA_RACE,
	OWNBUF_NULL_DEREF,
	OWNBUF_OUT_OF_BOUNDS,
	OWNBUF_DANGLING_BORROW,
	OWNBUF_NR_VIOLATIONS,
};

/**
 * struct ownbuf_handle - names the owner of a buffer
 * @val: opaque.  0 is the NULL handle.
 *
 * A handle is a value, not a pointer: it is looked up and checked (with a
 * generation) on every call, so a stale or forged handle is refused rather
 * than dereferenced.  ownbuf_drop(), ownbuf_revoke() and ownbuf_move()
 * consume the handle they are given: they poison the variable, so that
 * using it again is reported precisely (a second drop is a double free, a
 * drop after a move a use after free).  A *copy* of a handle that has since
 * been dropped or moved is reported as a use after free.
 */
struct ownbuf_handle {
	u64 val;
};

#define OWNBUF_HANDLE_NULL ((struct ownbuf_handle){ .val = 0 })

/*
 * Flags of ownbuf_borrow(): exactly one of SHARED and MUT, optionally WAIT.
 * They are the bits of OWNBUF_IOC_BORROW's flags: one encoding of a kind
 * of borrow, from userspace to the engine.
 */
#define OWNBUF_SHARED	OWNBUF_BORROW_SHARED
#define OWNBUF_MUT	OWNBUF_BORROW_MUT
#define OWNBUF_WAIT	OWNBUF_BORROW_WAIT /* sleep (interruptibly) until grantable */

struct ownbuf;
struct ownbuf_ref;
struct ownbuf_slot;

/**
 * struct ownbuf_ref_ops - optional callbacks of a borrow
 * @revoke: called when the borrow ends, by ownbuf_release() or
 *	ownbuf_ref_discard() or because the owner revoked the buffer, before
 *	its memory can be freed or lent to anybody else.  Use it to tear down
 *	what the raw memory was handed to (a user mapping, a DMA mapping).
 *	It may sleep, and it may call back into ownbuf (release, discard
 *	or use this borrow, borrow again); it must not free the token.
 */
struct ownbuf_ref_ops {
	void (*revoke)(struct ownbuf_ref *ref);
};

/**
 * struct ownbuf_ref - a borrow, held by the borrower
 *
 * Storage for a borrow token: embed it in your own structure or put it on
 * the stack, zero it (a zeroed token is the NULL borrow), and pass its
 * address to ownbuf_borrow().  Its fields are private to ownbuf.  Do not
 * copy a live token: a copy is detected and refused.
 */
struct ownbuf_ref {
	/* private: */
	struct ownbuf *buf;
	struct ownbuf_slot *slot;
	u64 gen;
	unsigned long check;
	const struct ownbuf_ref_ops *ops;
	struct list_head node;
	u64 id;
	atomic_t state;
	u32 kind;
	u32 hook;
};

/**
 * struct ownbuf_stat - what ownbuf_stat() and ownbuf_ref_stat() report
 * @size: size in bytes.
 * @id: identifies the buffer; kept across ownbuf_move(), never reused.
 * @shared_borrows: shared borrows outstanding.
 * @mut_borrows: mut borrows outstanding (0 or 1).
 */
struct ownbuf_stat {
	size_t size;
	u64 id;
	u32 shared_borrows;
	u32 mut_borrows;
};

int ownbuf_create(size_t size, gfp_t gfp, struct ownbuf_handle *out);
int ownbuf_drop(struct ownbuf_handle *h);
int ownbuf_revoke(struct ownbuf_handle *h);
int ownbuf_move(struct ownbuf_handle *h, struct ownbuf_handle *to);
int ownbuf_resize(struct ownbuf_handle h, size_t size);
int ownbuf_size(struct ownbuf_handle h, size_t *size);
int ownbuf_stat(struct ownbuf_handle h, struct ownbuf_stat *st);

int ownbuf_owner_read(struct ownbuf_handle h, size_t off, void *dst,
		      size_t len);
int ownbuf_owner_write(struct ownbuf_handle h, size_t off, const void *src,
		       size_t len);

int ownbuf_borrow_ops(struct ownbuf_handle h, unsigned int flags,
		      const struct ownbuf_ref_ops *ops, struct ownbuf_ref *ref);
int ownbuf_release(struct ownbuf_ref *ref);
void ownbuf_ref_discard(struct ownbuf_ref *ref);
int ownbuf_ref_state(const struct ownbuf_ref *ref);
int ownbuf_ref_stat(struct ownbuf_ref *ref, struct ownbuf_stat *st);

int ownbuf_read(struct ownbuf_ref *ref, size_t off, void *dst, size_t len);
int ownbuf_write(struct ownbuf_ref *ref, size_t off, const void *src,
		 size_t len);

void *ownbuf_unsafe_begin(struct ownbuf_ref *ref, size_t *len);
void ownbuf_unsafe_end(struct ownbuf_ref *ref);

u64 ownbuf_violations(enum ownbuf_violation v);
const char *ownbuf_violation_name(enum ownbuf_violation v);

/**
 * ownbuf_borrow() - lend a buffer out
 * @h: the owner's handle.
 * @flags: %OWNBUF_SHARED or %OWNBUF_MUT, optionally | %OWNBUF_WAIT.
 * @ref: zeroed or released token storage; filled in on success.
 *
 * See ownbuf_borrow_ops(), of which this is the variant without callbacks.
 * Without %OWNBUF_WAIT it does not sleep and may be called in atomic
 * context.
 *
 * Return: 0 or a negative errno, see ownbuf_borrow_ops().
 */
static inline int ownbuf_borrow(struct ownbuf_handle h, unsigned int flags,
				struct ownbuf_ref *ref)
{
	return ownbuf_borrow_ops(h, flags, NULL, ref);
}

/**
 * ownbuf_borrow_shared() - take a shared (read-only) borrow, never sleeping
 * @h: the owner's handle.
 * @ref: token storage.
 *
 * Return: 0, or -EBUSY if a mut borrow or a write is outstanding, or an
 * error of ownbuf_borrow_ops().
 */
static inline int ownbuf_borrow_shared(struct ownbuf_handle h,
				       struct ownbuf_ref *ref)
{
	return ownbuf_borrow_ops(h, OWNBUF_SHARED, NULL, ref);
}

/**
 * ownbuf_borrow_mut() - take the mut (exclusive) borrow, never sleeping
 * @h: the owner's handle.
 * @ref: token storage.
 *
 * Return: 0, or -EBUSY if anything is lent out or an access is in flight,
 * or an error of ownbuf_borrow_ops().
 */
static inline int ownbuf_borrow_mut(struct ownbuf_handle h,
				    struct ownbuf_ref *ref)
{
	return ownbuf_borrow_ops(h, OWNBUF_MUT, NULL, ref);
}

#endif /* _LINUX_OWNBUF_H */
