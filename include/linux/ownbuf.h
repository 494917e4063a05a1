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
#include <linux/bits.h>
#include <linux/cleanup.h>
#include <linux/gfp.h>
#include <linux/list.h>
#include <linux/lockdep_types.h>
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

/* Set in a handle variable that ownbuf consumed; in no handle it issued. */
#define OWNBUF_HANDLE_CONSUMED BIT_ULL(63)

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

/*
 * __must_check: a caller that ignores the result of these leaks a buffer or
 * a borrow, or goes on as if it had bytes, a size or a pointer it has not.
 * Giving things back (release, discard, revoke) is reported and counted by
 * ownbuf itself when it goes wrong.
 */
int __must_check ownbuf_create(size_t size, gfp_t gfp,
			       struct ownbuf_handle *out);
int __must_check ownbuf_create_key(size_t size, gfp_t gfp,
				   struct ownbuf_handle *out,
				   struct lock_class_key *key,
				   const char *name);
int __must_check ownbuf_drop(struct ownbuf_handle *h);
int ownbuf_revoke(struct ownbuf_handle *h);
int __must_check ownbuf_move(struct ownbuf_handle *h,
			     struct ownbuf_handle *to);
int __must_check ownbuf_resize(struct ownbuf_handle h, size_t size);
int __must_check ownbuf_size(struct ownbuf_handle h, size_t *size);
int __must_check ownbuf_stat(struct ownbuf_handle h, struct ownbuf_stat *st);

int __must_check ownbuf_owner_read(struct ownbuf_handle h, size_t off,
				   void *dst, size_t len);
int __must_check ownbuf_owner_write(struct ownbuf_handle h, size_t off,
				    const void *src, size_t len);

int __must_check ownbuf_borrow_ops(struct ownbuf_handle h, unsigned int flags,
				   const struct ownbuf_ref_ops *ops,
				   struct ownbuf_ref *ref);
int ownbuf_release(struct ownbuf_ref *ref);
void ownbuf_ref_discard(struct ownbuf_ref *ref);
int ownbuf_ref_state(const struct ownbuf_ref *ref);
int __must_check ownbuf_ref_stat(struct ownbuf_ref *ref,
				 struct ownbuf_stat *st);

int __must_check ownbuf_read(struct ownbuf_ref *ref, size_t off, void *dst,
			     size_t len);
int __must_check ownbuf_write(struct ownbuf_ref *ref, size_t off,
			      const void *src, size_t len);

void * __must_check ownbuf_unsafe_begin(struct ownbuf_ref *ref, size_t *len);
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
static inline __must_check int
ownbuf_borrow(struct ownbuf_handle h, unsigned int flags, struct ownbuf_ref *ref)
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
static inline __must_check int
ownbuf_borrow_shared(struct ownbuf_handle h, struct ownbuf_ref *ref)
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
static inline __must_check int
ownbuf_borrow_mut(struct ownbuf_handle h, struct ownbuf_ref *ref)
{
	return ownbuf_borrow_ops(h, OWNBUF_MUT, NULL, ref);
}

/*
 * lockdep sees borrows (with CONFIG_DEBUG_LOCK_ALLOC; nothing without):
 * every buffer is a lock whose class is the place that created it, as
 * mutex_init() does, so that its rules are learnt once for all the buffers
 * made there.  A scoped borrow (the classes below) is held for its scope,
 * a shared one as a recursive read, the mut one as a write, those that do
 * not wait as a trylock.  A borrow with %OWNBUF_WAIT is taken (and let go)
 * around its sleep, so lockdep learns what it waited for while holding
 * what, and reports an AB-BA order between two buffers, or waiting for a
 * buffer the waiter itself holds.  Long-lived borrows (a device's, an
 * fd's) are not held: they outlive the task's context.
 */
#ifdef CONFIG_DEBUG_LOCK_ALLOC
#define ownbuf_create(size, gfp, out)					\
({									\
	static struct lock_class_key __ownbuf_key;			\
									\
	ownbuf_create_key(size, gfp, out, &__ownbuf_key, "ownbuf:" #out); \
})

void ownbuf_ref_lock_acquire(struct ownbuf_ref *ref, unsigned int flags,
			     unsigned long ip);
void ownbuf_ref_lock_release(struct ownbuf_ref *ref, unsigned long ip);
#else
static inline void ownbuf_ref_lock_acquire(struct ownbuf_ref *ref,
					   unsigned int flags,
					   unsigned long ip)
{
}

static inline void ownbuf_ref_lock_release(struct ownbuf_ref *ref,
					   unsigned long ip)
{
}
#endif

/*
 * Scope-bound ownership, with <linux/cleanup.h>: borrows that end, and
 * buffers that are revoked, where the variable naming them goes out of
 * scope, on every path out (return, goto, break, continue).
 *
 * A borrow for the rest of the scope; the variable is the struct ownbuf_ref
 * pointer to pass to ownbuf_read() and the rest, or an ERR_PTR() (the
 * error ownbuf_borrow() gave), so a refusal cannot go unnoticed:
 *
 *	CLASS(ownbuf_shared, r)(h);
 *	if (IS_ERR(r))
 *		return PTR_ERR(r);
 *	ret = ownbuf_read(r, 0, dst, len);
 *
 * Classes: ownbuf_shared and ownbuf_mut (never sleep), ownbuf_shared_wait
 * and ownbuf_mut_wait (%OWNBUF_WAIT: sleep until grantable, -EINTR on a
 * signal), all taking the handle; ownbuf_borrow taking (handle, flags).
 * The token lives in the scope's own storage, unnamed.  At the end of the
 * scope the borrow ends as with ownbuf_ref_discard(): released if still
 * live, nothing if it was released (or revoked) meanwhile; ending it inside
 * an unsafe section is a bug (a WARN).
 *
 * ownbuf_scoped() bounds a borrow to one statement, and makes the caller
 * say what happens when it is refused.  Not scoped_guard(): that would run
 * the statement with an ERR_PTR() (6.1) or silently skip it (conditional
 * guards, 6.12), and does not build for these classes on 6.12.
 *
 * An owner for the rest of the scope: the buffer is revoked (dropped, and
 * any borrow still out ended and counted as a dangling_borrow) at the end,
 * unless the variable was consumed meanwhile (dropped, moved, revoked
 * through it) or handed on with ownbuf_no_free():
 *
 *	struct ownbuf_handle h __free(ownbuf) = OWNBUF_HANDLE_NULL;
 *
 *	ret = ownbuf_create(size, GFP_KERNEL, &h);
 *	if (ret)
 *		return ret;
 *	...
 *	dev->h = ownbuf_no_free(h);
 *
 * The macros are tested for, not the kernel version: Debian's 6.1 has
 * DEFINE_CLASS() and DEFINE_FREE() (backported) but not DEFINE_GUARD_COND()
 * and scoped_cond_guard(), which none of this needs.
 */
#if defined(DEFINE_CLASS) && defined(DEFINE_FREE)
#include <linux/err.h>

/*
 * Revoke what a handle variable leaving its scope still owns, as far as its
 * value tells: nothing if NULL or consumed through it.
 */
static inline void __ownbuf_handle_free(struct ownbuf_handle *h)
{
	if (h->val && !(h->val & OWNBUF_HANDLE_CONSUMED))
		ownbuf_revoke(h);
}

DEFINE_FREE(ownbuf, struct ownbuf_handle, __ownbuf_handle_free(&_T))

static inline __must_check struct ownbuf_handle
__ownbuf_no_free(struct ownbuf_handle *h)
{
	struct ownbuf_handle ret = *h;

	*h = OWNBUF_HANDLE_NULL;
	return ret;
}

/**
 * ownbuf_no_free() - hand a scoped handle on
 * @h: a handle variable declared __free(ownbuf).
 *
 * no_free_ptr() for handles: the scope no longer revokes the buffer.
 *
 * Return: the handle, which the caller must keep; @h becomes NULL.
 */
#define ownbuf_no_free(h)	__ownbuf_no_free(&(h))

static inline struct ownbuf_ref *
__ownbuf_scope_borrow(struct ownbuf_handle h, unsigned int flags,
		      struct ownbuf_ref *ref)
{
	int ret = ownbuf_borrow_ops(h, flags, NULL, ref);

	if (ret)
		return ERR_PTR(ret);
	ownbuf_ref_lock_acquire(ref, flags, _THIS_IP_);
	return ref;
}

static inline void __ownbuf_scope_end(struct ownbuf_ref *ref)
{
	if (IS_ERR(ref))
		return;
	ownbuf_ref_lock_release(ref, _THIS_IP_);
	ownbuf_ref_discard(ref);
}

/*
 * The class behind them all, with explicit token storage: a token is bound
 * to its address, so it cannot be built in the constructor and returned.
 * The named classes pass a compound literal, which lives as long as the
 * block that declares the variable.
 */
DEFINE_CLASS(ownbuf_ref_at, struct ownbuf_ref *, __ownbuf_scope_end(_T),
	     __ownbuf_scope_borrow(h, flags, ref),
	     struct ownbuf_handle h, unsigned int flags, struct ownbuf_ref *ref)

#define __OWNBUF_SCOPE_TOKEN	(&(struct ownbuf_ref){ })

#define class_ownbuf_borrow_t			class_ownbuf_ref_at_t
#define class_ownbuf_borrow_destructor		class_ownbuf_ref_at_destructor
#define class_ownbuf_borrow_constructor(h, flags)			\
	class_ownbuf_ref_at_constructor(h, flags, __OWNBUF_SCOPE_TOKEN)

#define class_ownbuf_shared_t			class_ownbuf_ref_at_t
#define class_ownbuf_shared_destructor		class_ownbuf_ref_at_destructor
#define class_ownbuf_shared_constructor(h)				\
	class_ownbuf_ref_at_constructor(h, OWNBUF_SHARED, __OWNBUF_SCOPE_TOKEN)

#define class_ownbuf_mut_t			class_ownbuf_ref_at_t
#define class_ownbuf_mut_destructor		class_ownbuf_ref_at_destructor
#define class_ownbuf_mut_constructor(h)					\
	class_ownbuf_ref_at_constructor(h, OWNBUF_MUT, __OWNBUF_SCOPE_TOKEN)

#define class_ownbuf_shared_wait_t		class_ownbuf_ref_at_t
#define class_ownbuf_shared_wait_destructor	class_ownbuf_ref_at_destructor
#define class_ownbuf_shared_wait_constructor(h)				\
	class_ownbuf_ref_at_constructor(h, OWNBUF_SHARED | OWNBUF_WAIT,	\
					__OWNBUF_SCOPE_TOKEN)

#define class_ownbuf_mut_wait_t			class_ownbuf_ref_at_t
#define class_ownbuf_mut_wait_destructor	class_ownbuf_ref_at_destructor
#define class_ownbuf_mut_wait_constructor(h)				\
	class_ownbuf_ref_at_constructor(h, OWNBUF_MUT | OWNBUF_WAIT,	\
					__OWNBUF_SCOPE_TOKEN)

/**
 * ownbuf_scoped() - a borrow for the next statement
 * @kind: shared, mut, shared_wait, mut_wait or borrow (the class without
 *	"ownbuf_").
 * @fail: runs instead of the statement if the borrow was refused; should
 *	leave the function (return, goto), as in scoped_cond_guard().
 * @args: the handle, and for borrow the flags.
 *
 * In the statement and in @fail the borrow is named scope, as in
 * scoped_guard(): a struct ownbuf_ref *, in @fail the ERR_PTR().  As in
 * scoped_guard(), break and continue in the statement leave only it.  For
 * two borrows at once, use CLASS().
 *
 *	ownbuf_scoped(shared, return PTR_ERR(scope), h)
 *		ret = ownbuf_read(scope, 0, dst, len);
 */
#define ownbuf_scoped(kind, fail, args...)				\
	for (CLASS(ownbuf_##kind, scope)(args), *__ownbuf_done = NULL;	\
	     !__ownbuf_done && (!IS_ERR(scope) || ({ fail; false; }));	\
	     __ownbuf_done = (void *)1)

#endif /* DEFINE_CLASS && DEFINE_FREE */

#endif /* _LINUX_OWNBUF_H */
