/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Between the ownbuf engine (ownbuf_engine.c) and its userspace face, the
 * character device (ownbuf_dev.c).  Not exported: in-kernel users have
 * include/linux/ownbuf.h.
 */
#ifndef _OWNBUF_INTERNAL_H
#define _OWNBUF_INTERNAL_H

#include <linux/bits.h>
#include <linux/ownbuf.h>
#include <linux/sched.h>
#include <linux/uio.h>
#include <linux/wait.h>

/*
 * Callers pass the address that is blamed for a violation.  In-kernel
 * callers are blamed by their return address (%pS, ratelimited warning);
 * OWNBUF_IP_USER means the call came from userspace through /dev/ownbuf,
 * which is only logged at debug level.
 */
#define OWNBUF_IP_USER	0UL

/*
 * ownbuf_drop(), ownbuf_revoke() and ownbuf_move() poison the handle
 * variable they consume: bit 63 (never set in a handle; public, for
 * __free(ownbuf)), and bit 62 after a move (see ownbuf_poison() in
 * ownbuf_table.c for the other bits).
 */
#define OWNBUF_POISON		OWNBUF_HANDLE_CONSUMED
#define OWNBUF_POISON_MOVED	BIT_ULL(62)

/* What the caller is about to do; decides how a refusal is classified. */
enum ownbuf_op {
	OWNBUF_OP_USE,		/* anything but ending the owner or borrow */
	OWNBUF_OP_DROP,		/* DROP/revoke: on a dropped owner, a double free */
	OWNBUF_OP_RELEASE,	/* RELEASE: on a released borrow, a double free */
};

/* ownbuf_owner_rw() and ownbuf_ref_rw() flags */
#define OWNBUF_RW_WRITE	BIT(0)	/* write, else read */
#define OWNBUF_RW_FILE	BIT(1)	/* file semantics, see ownbuf_owner_rw() */
#define OWNBUF_RW_NULL	BIT(2)	/* the other side has a NULL segment */

/* ownbuf_owner_mask() and ownbuf_ref_mask() results */
#define OWNBUF_CAN_READ		BIT(0)
#define OWNBUF_CAN_WRITE	BIT(1)

/* Module parameters that are sizes in bytes. */
extern const struct kernel_param_ops ownbuf_size_param_ops;

void ownbuf_report(enum ownbuf_violation v, u64 id, unsigned long ip,
		   const char *what);

/*
 * __ownbuf_drop() and __ownbuf_move() flags.  OWNBUF_END_WAIT: the caller
 * may sleep, and a drop or move of the same handle in flight is to be
 * waited for and then answered as after it (a double_free or a
 * use_after_free), not refused as a data_race.
 */
#define OWNBUF_END_WAIT	BIT(0)

int __ownbuf_create(size_t size, gfp_t gfp, struct ownbuf_handle *out,
		    unsigned long ip);
int __ownbuf_create_key(size_t size, gfp_t gfp, struct ownbuf_handle *out,
			unsigned long ip, struct lock_class_key *key,
			const char *name);
int __ownbuf_drop(struct ownbuf_handle *h, unsigned int flags,
		  unsigned long ip);
int __ownbuf_revoke(struct ownbuf_handle *h, unsigned long ip);
int __ownbuf_move(struct ownbuf_handle *h, struct ownbuf_handle *to,
		  unsigned int flags, unsigned long ip);
int __ownbuf_resize(struct ownbuf_handle *h, size_t size, unsigned long ip);
int __ownbuf_borrow(struct ownbuf_handle *h, unsigned int flags,
		    const struct ownbuf_ref_ops *ops, struct ownbuf_ref *ref,
		    unsigned long ip);
int __ownbuf_release(struct ownbuf_ref *ref, unsigned long ip);

int ownbuf_handle_check(struct ownbuf_handle *h, enum ownbuf_op op,
			unsigned long ip);
int ownbuf_handle_state(const struct ownbuf_handle *h);
int ownbuf_ref_check(struct ownbuf_ref *ref, enum ownbuf_op op,
		     unsigned long ip);

/*
 * The data path, one call per operation, owner or borrow: each applies the
 * contract's order of checks itself, with one handle lookup.
 */
ssize_t ownbuf_owner_rw(struct ownbuf_handle *hp, u64 pos, struct iov_iter *it,
			unsigned int flags, unsigned long ip);
ssize_t ownbuf_ref_rw(struct ownbuf_ref *ref, u64 pos, struct iov_iter *it,
		      unsigned int flags, unsigned long ip);
loff_t ownbuf_owner_seek(struct ownbuf_handle *hp, loff_t cur, loff_t off,
			 int whence, loff_t *size, unsigned long ip);
loff_t ownbuf_ref_seek(struct ownbuf_ref *ref, loff_t cur, loff_t off,
		       int whence, loff_t *size, unsigned long ip);
int ownbuf_ref_map(struct ownbuf_ref *ref, unsigned long pgoff,
		   unsigned long pages, bool shared, unsigned long ip);
unsigned long ownbuf_ref_pfn(struct ownbuf_ref *ref, pgoff_t pgoff);
int ownbuf_owner_info(struct ownbuf_handle *hp, struct ownbuf_stat *st);
int ownbuf_ref_info(struct ownbuf_ref *ref, struct ownbuf_stat *st);
unsigned int ownbuf_owner_mask(struct ownbuf_handle *hp);
unsigned int ownbuf_ref_mask(struct ownbuf_ref *ref);

/* struct ownbuf_holder.kind when nothing is known. */
#define OWNBUF_HOLDER_NONE	U32_MAX

/**
 * struct ownbuf_holder - a snapshot of who holds a buffer, in a report
 * @kind: OWNBUF_SHARED or OWNBUF_MUT for a borrow, 0 for an access in
 *	flight, OWNBUF_HOLDER_NONE if nothing is known.
 * @mapped: the borrow was mmap()ed.
 * @pid: the borrower's task, 0 if unknown (a fast in-kernel borrow).
 * @ip: where it was taken: the in-kernel caller, or OWNBUF_IP_USER.
 * @since: when (jiffies).
 * @comm: the borrower's name, if @pid.
 */
struct ownbuf_holder {
	u32 kind;
	bool mapped;
	pid_t pid;
	unsigned long ip;
	unsigned long since;
	char comm[TASK_COMM_LEN];
};

bool ownbuf_ref_holder(struct ownbuf_ref *ref, struct ownbuf_holder *hd);

/* Observer references: keep the engine's object (not the data) alive. */
struct ownbuf *ownbuf_owner_get(struct ownbuf_handle *hp);
struct ownbuf *ownbuf_ref_get(struct ownbuf_ref *ref);
void ownbuf_put(struct ownbuf *b);
wait_queue_head_t *ownbuf_waitqueue(struct ownbuf *b);

int ownbuf_engine_init(void);
void ownbuf_engine_exit(void);
int ownbuf_dev_init(void);
void ownbuf_dev_exit(void);
void ownbuf_debugfs_init(void);
void ownbuf_debugfs_exit(void);

/*
 * Race windows: points between two steps of the engine where another
 * caller's interleaving matters.  The KUnit suite opens them on purpose
 * with a static stub on ownbuf_window(), so that each race it is named for
 * provably happens.  Without KUnit they compile to nothing.
 */
enum ownbuf_window {
	OWNBUF_WIN_UNTRY,	/* a claim given back, wakeup not done yet */
	OWNBUF_WIN_CLAIM,	/* an exclusive attempt is visible, undecided */
	OWNBUF_WIN_DROP,	/* drop holds the buffer, not dead yet */
	OWNBUF_WIN_REF,		/* a borrow checked, its access not taken */
	OWNBUF_WIN_REF_TAKEN,	/* an access through a borrow taken, unchecked */
	OWNBUF_WIN_MOVE,	/* move holds the buffer, new handle unpublished */
	OWNBUF_WIN_SHARED_CAP,	/* shared borrow: cap checked, not counted */
	OWNBUF_WIN_SHARED_UNDECIDED, /* shared borrow counted, undecided */
	OWNBUF_WIN_INFO,	/* INFO read the owner's state, not the rest */
};

#if IS_ENABLED(CONFIG_KUNIT)
void ownbuf_window(enum ownbuf_window w, struct ownbuf *b);
bool ownbuf_kunit_dead(struct ownbuf *b);
void ownbuf_kunit_hold(struct ownbuf *b);
void ownbuf_kunit_spend_generations(u64 n);
unsigned long ownbuf_kunit_data_count(void);
u64 ownbuf_kunit_same_slot(u64 hv, u64 rnd);
#else
static inline void ownbuf_window(enum ownbuf_window w, struct ownbuf *b)
{
}
#endif

#if IS_ENABLED(CONFIG_KUNIT)
/* Allocation points the KUnit suite fails on purpose with static stubs. */
void *ownbuf_alloc_data(size_t size, gfp_t gfp);
struct ownbuf *ownbuf_alloc_core(gfp_t gfp);
int ownbuf_table_insert(struct ownbuf *b, u32 *idx, gfp_t gfp);
size_t ownbuf_copy(void *p, size_t len, struct iov_iter *it, bool write);
unsigned long ownbuf_count_buffers(void);
#endif

#endif /* _OWNBUF_INTERNAL_H */
