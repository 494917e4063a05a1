/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ownbuf - run-time ownership checking for kernel buffers
 *
 * Userspace ABI of /dev/ownbuf.  Every open() of /dev/ownbuf creates one
 * zero-filled buffer owned by that open file.  Borrows of the buffer are
 * handed out as new file descriptors.  The contract:
 * Documentation/userspace-api/ownbuf.rst.
 */
#ifndef _UAPI_LINUX_OWNBUF_H
#define _UAPI_LINUX_OWNBUF_H

#include <linux/ioctl.h>
#include <linux/types.h>

/* Role of an ownbuf file descriptor, reported by OWNBUF_IOC_INFO. */
#define OWNBUF_ROLE_OWNER	1	/* the owner: the fd open() returned */
#define OWNBUF_ROLE_SHARED	2	/* a shared (read-only) borrow */
#define OWNBUF_ROLE_MUT		3	/* a mut (exclusive, read-write) borrow */

/* State of an ownbuf file descriptor, reported by OWNBUF_IOC_INFO. */
#define OWNBUF_STATE_LIVE	1	/* usable */
#define OWNBUF_STATE_DROPPED	2	/* owner after OWNBUF_IOC_DROP */
#define OWNBUF_STATE_MOVED	3	/* owner after OWNBUF_IOC_MOVE */
#define OWNBUF_STATE_RELEASED	4	/* borrow after OWNBUF_IOC_RELEASE */
#define OWNBUF_STATE_REVOKED	5	/* borrow whose owner went away */

/* struct ownbuf_borrow.flags */
#define OWNBUF_BORROW_SHARED	(1U << 0)	/* many readers */
#define OWNBUF_BORROW_MUT	(1U << 1)	/* one writer */
#define OWNBUF_BORROW_WAIT	(1U << 2)	/* sleep until grantable */
#define OWNBUF_BORROW_CLOEXEC	(1U << 3)	/* O_CLOEXEC on the new fd */
#define OWNBUF_BORROW_VALID_FLAGS					\
	(OWNBUF_BORROW_SHARED | OWNBUF_BORROW_MUT | OWNBUF_BORROW_WAIT |	\
	 OWNBUF_BORROW_CLOEXEC)

/**
 * struct ownbuf_borrow - argument of OWNBUF_IOC_BORROW
 * @flags: exactly one of OWNBUF_BORROW_SHARED and OWNBUF_BORROW_MUT,
 *	optionally ORed with OWNBUF_BORROW_WAIT and OWNBUF_BORROW_CLOEXEC.
 * @fd: out: the new borrow file descriptor.  Ignored on input.
 */
struct ownbuf_borrow {
	__u32 flags;
	__s32 fd;
};

/* struct ownbuf_move.flags */
#define OWNBUF_MOVE_CLOEXEC	(1U << 0)	/* O_CLOEXEC on the new fd */
#define OWNBUF_MOVE_VALID_FLAGS	OWNBUF_MOVE_CLOEXEC

/**
 * struct ownbuf_move - argument of OWNBUF_IOC_MOVE
 * @flags: 0 or OWNBUF_MOVE_CLOEXEC.
 * @fd: out: the new owner file descriptor.  Ignored on input.
 */
struct ownbuf_move {
	__u32 flags;
	__s32 fd;
};

/*
 * The violation classes, in the kernel's order (enum ownbuf_violation).
 * Each is a counter, /sys/module/ownbuf/violations/<name>, and the class=
 * of the ownbuf:ownbuf_violation tracepoint.  For an array:
 *	static const char * const names[] = { OWNBUF_VIOLATION_NAMES };
 */
#define OWNBUF_VIOLATION_NAMES						\
	"use_after_free", "double_free", "data_race",			\
	"null_deref", "out_of_bounds", "dangling_borrow"

/**
 * struct ownbuf_info - result of OWNBUF_IOC_INFO
 * @size: size of the buffer in bytes; 0 unless the fd is LIVE.
 * @id: identifies the buffer: the same for the owner and its borrows, kept
 *	across OWNBUF_IOC_MOVE, never reused while the module is loaded and
 *	never a kernel address.
 * @role: one of OWNBUF_ROLE_*.
 * @state: one of OWNBUF_STATE_*.
 * @shared_borrows: shared borrows outstanding; 0 unless the fd is LIVE.
 * @mut_borrows: mut borrows outstanding (0 or 1); 0 unless the fd is LIVE.
 */
struct ownbuf_info {
	__u64 size;
	__u64 id;
	__u32 role;
	__u32 state;
	__u32 shared_borrows;
	__u32 mut_borrows;
};

#define OWNBUF_IOC_MAGIC	0xB9

/* On the owner: lend the buffer out; the borrow fd comes back in fd. */
#define OWNBUF_IOC_BORROW	_IOWR(OWNBUF_IOC_MAGIC, 0x00, struct ownbuf_borrow)
/* On a borrow: give it back now; the fd stays open, state RELEASED. */
#define OWNBUF_IOC_RELEASE	_IO(OWNBUF_IOC_MAGIC, 0x01)
/* On the owner: drop the buffer now; the fd stays open, state DROPPED. */
#define OWNBUF_IOC_DROP		_IO(OWNBUF_IOC_MAGIC, 0x02)
/* On the owner: move ownership to a new fd; the old one becomes MOVED. */
#define OWNBUF_IOC_MOVE		_IOWR(OWNBUF_IOC_MAGIC, 0x03, struct ownbuf_move)
/* On the owner: change the size; new bytes read as zero. */
#define OWNBUF_IOC_RESIZE	_IOW(OWNBUF_IOC_MAGIC, 0x04, __u64)
/* On any ownbuf fd, in any state. */
#define OWNBUF_IOC_INFO		_IOR(OWNBUF_IOC_MAGIC, 0x05, struct ownbuf_info)

#endif /* _UAPI_LINUX_OWNBUF_H */
