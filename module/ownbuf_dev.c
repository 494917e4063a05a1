// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/ownbuf: the userspace face of the ownbuf engine.
 *
 * Every open() of /dev/ownbuf creates a buffer owned by that open file.
 * Borrows are new files of their own, one inode each, so that returning a
 * borrow can zap exactly its mappings.  This file holds no ownership logic:
 * it translates files, file descriptors and user memory into engine calls.
 */

#include <linux/atomic.h>
#include <linux/device.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/overflow.h>
#include <linux/poll.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/wait_bit.h>

#include "ownbuf_compat.h"
#include "ownbuf_internal.h"

/**
 * struct ownbuf_file - an open ownbuf file: the owner or a borrow
 * @obj: observer reference on the engine's object, for its wait queue;
 *	NULL until the file is set up.
 * @id: the buffer's id, for INFO in any state.
 * @role: OWNBUF_ROLE_*; never changes.
 * @h: (owner) the handle; poisoned by the engine on DROP and MOVE, which is
 *	also where the file's state comes from.  A DROP or MOVE that meets
 *	another one of this file in flight waits for it in the engine
 *	(OWNBUF_END_WAIT), then sees its poison.
 * @pinned: (owner) bit 0: this owner pins the pseudo filesystem (from its
 *	first BORROW or MOVE to its close), see ownbuf_compat.c.
 * @ref: (borrow) the borrow token; its state is the file's state.
 * @mapping: (borrow) the address space of this file's own inode.
 * @faults: (borrow) mmap faults in flight.
 * @unmapped: (borrow) set once the borrow ends; faults then give SIGBUS.
 * @mapped: (borrow) set by the first mmap(2): before it no page can be
 *	mapped, and the end of the borrow has nothing to zap.
 */
struct ownbuf_file {
	struct ownbuf *obj;
	u64 id;
	u32 role;
	union {
		struct {
			struct ownbuf_handle h;
			unsigned long pinned;
		};
		struct {
			struct ownbuf_ref ref;
			struct address_space *mapping;
			atomic_t faults;
			bool unmapped;
			bool mapped;
		};
	};
};

static unsigned long ownbuf_default_size = 4096;
static ushort ownbuf_dev_mode = 0600;
module_param_cb(default_size, &ownbuf_size_param_ops, &ownbuf_default_size,
		0644);
MODULE_PARM_DESC(default_size, "Size of the buffer open() creates, in bytes (default 4096)");
module_param_named(dev_mode, ownbuf_dev_mode, ushort, 0444);
MODULE_PARM_DESC(dev_mode, "Mode of /dev/ownbuf, e.g. 0660 (default 0600; a udev rule overrides it)");

static bool ownbuf_is_owner(const struct ownbuf_file *f)
{
	return f->role == OWNBUF_ROLE_OWNER;
}

/* The file's state, and what INFO reports with it if LIVE. */
static int ownbuf_file_info(struct ownbuf_file *f, struct ownbuf_stat *st)
{
	if (ownbuf_is_owner(f))
		return ownbuf_owner_info(&f->h, st);
	return ownbuf_ref_info(&f->ref, st);
}

static int ownbuf_file_state(struct ownbuf_file *f)
{
	struct ownbuf_stat st;

	return ownbuf_file_info(f, &st);
}

/* Refuse (and count) any use of a file that is not LIVE. */
static int ownbuf_file_check(struct ownbuf_file *f, enum ownbuf_op op)
{
	if (ownbuf_is_owner(f))
		return ownbuf_handle_check(&f->h, op, OWNBUF_IP_USER);
	return ownbuf_ref_check(&f->ref, op, OWNBUF_IP_USER);
}

static int ownbuf_null_user(struct ownbuf_file *f)
{
	ownbuf_report(OWNBUF_NULL_DEREF, f->id, OWNBUF_IP_USER,
		      "NULL user pointer");
	return -EFAULT;
}

/* What the engine cannot see in an iov_iter: a NULL user segment. */
static unsigned int ownbuf_iter_null(const struct iov_iter *it)
{
	const struct iovec *iov;
	unsigned long i;

	if (iter_is_ubuf(it))
		return it->ubuf ? 0 : OWNBUF_RW_NULL;
	if (!iter_is_iovec(it))
		return 0;
	iov = ownbuf_iter_iov(it);
	for (i = 0; i < it->nr_segs; i++)
		if (!iov[i].iov_base && iov[i].iov_len)
			return OWNBUF_RW_NULL;
	return 0;
}

static ssize_t ownbuf_rw_iter(struct kiocb *iocb, struct iov_iter *it,
			      unsigned int flags)
{
	struct ownbuf_file *f = iocb->ki_filp->private_data;
	ssize_t ret;

	flags |= OWNBUF_RW_FILE | ownbuf_iter_null(it);
	if (ownbuf_is_owner(f))
		ret = ownbuf_owner_rw(&f->h, iocb->ki_pos, it, flags,
				      OWNBUF_IP_USER);
	else
		ret = ownbuf_ref_rw(&f->ref, iocb->ki_pos, it, flags,
				    OWNBUF_IP_USER);
	if (ret > 0)
		iocb->ki_pos += ret;
	return ret;
}

static ssize_t ownbuf_read_iter(struct kiocb *iocb, struct iov_iter *to)
{
	return ownbuf_rw_iter(iocb, to, 0);
}

static ssize_t ownbuf_write_iter(struct kiocb *iocb, struct iov_iter *from)
{
	return ownbuf_rw_iter(iocb, from, OWNBUF_RW_WRITE);
}

static loff_t ownbuf_llseek(struct file *file, loff_t off, int whence)
{
	struct ownbuf_file *f = file->private_data;
	loff_t pos, size;

	if (ownbuf_is_owner(f))
		pos = ownbuf_owner_seek(&f->h, file->f_pos, off, whence, &size,
					OWNBUF_IP_USER);
	else
		pos = ownbuf_ref_seek(&f->ref, file->f_pos, off, whence, &size,
				      OWNBUF_IP_USER);
	if (pos < 0)
		return pos;
	return vfs_setpos(file, pos, size);
}

static __poll_t ownbuf_poll(struct file *file, poll_table *pt)
{
	struct ownbuf_file *f = file->private_data;
	unsigned int mask;
	__poll_t events = 0;

	if (ownbuf_file_state(f) != OWNBUF_STATE_LIVE)
		return EPOLLERR | EPOLLHUP;
	poll_wait(file, ownbuf_waitqueue(f->obj), pt);
	/* Pairs with the barrier before waitqueue_active() in the engine. */
	smp_mb();
	mask = ownbuf_is_owner(f) ? ownbuf_owner_mask(&f->h) :
				    ownbuf_ref_mask(&f->ref);
	if (ownbuf_file_state(f) != OWNBUF_STATE_LIVE)
		return EPOLLERR | EPOLLHUP;
	if (mask & OWNBUF_CAN_READ)
		events |= EPOLLIN | EPOLLRDNORM;
	if ((mask & OWNBUF_CAN_WRITE) && f->role != OWNBUF_ROLE_SHARED)
		events |= EPOLLOUT | EPOLLWRNORM;
	return events;
}

static vm_fault_t ownbuf_vm_fault(struct vm_fault *vmf)
{
	struct ownbuf_file *f = vmf->vma->vm_file->private_data;
	vm_fault_t ret = VM_FAULT_SIGBUS;
	unsigned long pfn;

	atomic_inc(&f->faults);
	/* Pairs with smp_mb() in ownbuf_borrow_revoke(). */
	smp_mb__after_atomic();
	if (!READ_ONCE(f->unmapped)) {
		pfn = ownbuf_ref_pfn(&f->ref, vmf->pgoff);
		if (pfn)
			ret = vmf_insert_pfn(vmf->vma, vmf->address, pfn);
	}
	if (atomic_dec_and_test(&f->faults))
		wake_up_var(&f->faults);
	return ret;
}

static const struct vm_operations_struct ownbuf_vm_ops = {
	.fault = ownbuf_vm_fault,
};

/*
 * The borrow ends (RELEASE, close, or the owner went away): no fault may
 * map its pages from now on, and the ones mapped are zapped, before the
 * engine lets anybody else have the memory.
 */
static void ownbuf_borrow_revoke(struct ownbuf_ref *ref)
{
	struct ownbuf_file *f = container_of(ref, struct ownbuf_file, ref);

	WRITE_ONCE(f->unmapped, true);
	/* Pairs with smp_mb__after_atomic() in ownbuf_vm_fault(). */
	smp_mb();
	wait_var_event(&f->faults, !atomic_read(&f->faults));
	/*
	 * Each mapped page came from a fault after an mmap(2) of this file,
	 * and every fault is over: never mapped, nothing to zap (a close or a
	 * RELEASE without mmap skips the i_mmap lock).  An mmap(2) racing us
	 * maps nothing: its faults see ->unmapped.
	 */
	smp_rmb();	/* ->faults before ->mapped */
	if (READ_ONCE(f->mapped))
		unmap_mapping_range(f->mapping, 0, 0, 1);
}

static const struct ownbuf_ref_ops ownbuf_file_ref_ops = {
	.revoke = ownbuf_borrow_revoke,
};

static int ownbuf_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct ownbuf_file *f = file->private_data;
	vm_flags_t flags = VM_IO | VM_PFNMAP | VM_DONTEXPAND | VM_DONTDUMP;
	int ret;

	if (ownbuf_is_owner(f))
		return -EPERM;
	ret = ownbuf_ref_map(&f->ref, vma->vm_pgoff, vma_pages(vma),
			     vma->vm_flags & VM_MAYSHARE, OWNBUF_IP_USER);
	if (ret)
		return ret;
	/*
	 * VM_IO keeps get_user_pages() off the pages (no pin can outlive a
	 * revocation) and makes MADV_DOFORK fail; a mut mapping is not
	 * inherited, so a child cannot keep writing after the parent's
	 * borrow is returned.
	 */
	if (f->role == OWNBUF_ROLE_MUT)
		flags |= VM_DONTCOPY;
	ownbuf_vm_flags_set(vma, flags);
	vma->vm_ops = &ownbuf_vm_ops;
	/* Before any fault can map a page: see ownbuf_borrow_revoke(). */
	WRITE_ONCE(f->mapped, true);
	return 0;
}

/* Inline: it is on BORROW's path (see ownbuf_ioctl_file()). */
static __always_inline struct ownbuf_file *ownbuf_file_alloc(u32 role)
{
	struct ownbuf_file *f;

	f = kzalloc(sizeof(*f), GFP_KERNEL_ACCOUNT);
	if (!f)
		return NULL;
	f->role = role;
	return f;
}

static void ownbuf_file_free(struct ownbuf_file *f)
{
	if (f->obj)
		ownbuf_put(f->obj);
	kfree(f);
}

static const struct file_operations ownbuf_fops;

/*
 * A new file for a borrow or a moved owner, on its own inode (see
 * ownbuf_compat.c).  On success the file owns @f (freed by ->release); on
 * failure the caller still does.
 */
static struct file *ownbuf_file_create(struct ownbuf_file *f, int flags,
				       const char *name)
{
	struct file *file;

	file = ownbuf_file_pseudo(name, &ownbuf_fops, f, flags);
	if (IS_ERR(file))
		return file;
	file->f_mode |= FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE;
	if (f->role != OWNBUF_ROLE_OWNER)
		f->mapping = file_inode(file)->i_mapping;
	return file;
}

/*
 * The start of an ioctl on an owner that reads an argument at @uarg, which
 * the caller copied already (@copied: the copy worked; no copy of NULL):
 * the owner must be live, then the pointer not NULL, then the argument
 * readable.  The copy comes first so that BORROW makes it only once: it
 * needs the flags before the state check, for the access mode.  Inline:
 * it is on BORROW's path, and each call costs under emulation.
 */
static __always_inline int ownbuf_ioctl_arg(struct ownbuf_file *f,
					    const void __user *uarg,
					    bool copied)
{
	int ret = ownbuf_file_check(f, OWNBUF_OP_USE);

	if (ret)
		return ret;
	if (!uarg)
		return ownbuf_null_user(f);
	if (!copied)
		return -EFAULT;
	return 0;
}

/*
 * A new file for what BORROW or MOVE hands out, in *@filep, and an fd
 * reserved for it (returned).  On failure nothing is left.  Inline: it is
 * most of a BORROW, and each call costs under emulation.
 */
static __always_inline int
ownbuf_ioctl_file(struct ownbuf_file *f, u32 role, int mode, bool cloexec,
		  struct ownbuf_file **nfp, struct file **filep)
{
	static const char * const names[] = {
		[OWNBUF_ROLE_OWNER] = "ownbuf:[owner]",
		[OWNBUF_ROLE_SHARED] = "ownbuf:[shared]",
		[OWNBUF_ROLE_MUT] = "ownbuf:[mut]",
	};
	struct ownbuf_file *nf;
	struct file *file;
	int fd, ret;

	ret = ownbuf_owner_pin(&f->pinned);
	if (ret)
		return ret;
	fd = get_unused_fd_flags(cloexec ? O_CLOEXEC : 0);
	if (fd < 0)
		return fd;
	nf = ownbuf_file_alloc(role);
	if (!nf) {
		put_unused_fd(fd);
		return -ENOMEM;
	}
	nf->id = f->id;
	file = ownbuf_file_create(nf, mode, names[role]);
	if (IS_ERR(file)) {
		ownbuf_file_free(nf);
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	*nfp = nf;
	*filep = file;
	return fd;
}

/* The end of BORROW and MOVE: hand the new file out, or undo it. */
static int ownbuf_ioctl_done(int fd, struct file *file, int ret)
{
	if (ret) {
		fput(file);
		put_unused_fd(fd);
		return ret;
	}
	fd_install(fd, file);
	return 0;
}

static long ownbuf_ioctl_borrow(struct ownbuf_file *f, struct file *owner,
				struct ownbuf_borrow __user *uarg)
{
	struct ownbuf_borrow arg;
	struct ownbuf_file *bf;
	unsigned int kind, flags;
	fmode_t need = FMODE_READ;
	struct file *file;
	int fd, ret;
	bool mut, ok;

	/*
	 * The access a borrow needs on its owner's file, as read(2) and
	 * write(2) need it on theirs: read for a shared borrow, read and
	 * write for the mut one.  Before the state check (the contract's
	 * order), but the flags can only be known from the argument: one
	 * that cannot be read asks for read only, and fails after the state
	 * check, as ownbuf_ioctl_arg() orders it.
	 */
	ok = uarg && !copy_from_user(&arg, uarg, sizeof(arg));
	if (ok && (arg.flags & OWNBUF_BORROW_MUT))
		need |= FMODE_WRITE;
	if ((owner->f_mode & need) != need)
		return -EBADF;
	ret = ownbuf_ioctl_arg(f, uarg, ok);
	if (ret)
		return ret;
	kind = arg.flags & (OWNBUF_BORROW_SHARED | OWNBUF_BORROW_MUT);
	if ((arg.flags & ~OWNBUF_BORROW_VALID_FLAGS) ||
	    (kind != OWNBUF_BORROW_SHARED && kind != OWNBUF_BORROW_MUT))
		return -EINVAL;

	mut = kind == OWNBUF_BORROW_MUT;
	fd = ownbuf_ioctl_file(f, mut ? OWNBUF_ROLE_MUT : OWNBUF_ROLE_SHARED,
			       mut ? O_RDWR : O_RDONLY,
			       arg.flags & OWNBUF_BORROW_CLOEXEC, &bf, &file);
	if (fd < 0)
		return fd;

	/* The engine's flags are the ioctl's: CLOEXEC is the file's. */
	flags = arg.flags & ~OWNBUF_BORROW_CLOEXEC;
	ret = __ownbuf_borrow(&f->h, flags, &ownbuf_file_ref_ops, &bf->ref,
			      OWNBUF_IP_USER);
	if (!ret) {
		bf->obj = ownbuf_ref_get(&bf->ref);
		arg.fd = fd;
		if (copy_to_user(uarg, &arg, sizeof(arg)))
			ret = -EFAULT;
	}
	/* Once installed, the file holds the borrow. */
	return ownbuf_ioctl_done(fd, file, ret);
}

static long ownbuf_ioctl_move(struct ownbuf_file *f, struct file *from,
			      struct ownbuf_move __user *uarg)
{
	struct ownbuf_move arg;
	struct ownbuf_file *nf;
	struct file *file;
	int fd, ret;

	ret = ownbuf_ioctl_arg(f, uarg,
			       uarg && !copy_from_user(&arg, uarg, sizeof(arg)));
	if (ret)
		return ret;
	if (arg.flags & ~OWNBUF_MOVE_VALID_FLAGS)
		return -EINVAL;

	/* The new owner may do what the old one could: same access mode. */
	fd = ownbuf_ioctl_file(f, OWNBUF_ROLE_OWNER, from->f_flags & O_ACCMODE,
			       arg.flags & OWNBUF_MOVE_CLOEXEC, &nf, &file);
	if (fd < 0)
		return fd;
	/* Before the move: once moved, a failed copy could not undo it. */
	arg.fd = fd;
	ret = copy_to_user(uarg, &arg, sizeof(arg)) ? -EFAULT : 0;
	if (!ret)
		ret = __ownbuf_move(&f->h, &nf->h, OWNBUF_END_WAIT,
				    OWNBUF_IP_USER);
	if (!ret)
		nf->obj = ownbuf_owner_get(&nf->h);
	/* Once installed, the file holds the buffer. */
	return ownbuf_ioctl_done(fd, file, ret);
}

static long ownbuf_ioctl_drop(struct ownbuf_file *f)
{
	return __ownbuf_drop(&f->h, OWNBUF_END_WAIT, OWNBUF_IP_USER);
}

static long ownbuf_ioctl_release(struct ownbuf_file *f)
{
	return __ownbuf_release(&f->ref, OWNBUF_IP_USER);
}

static long ownbuf_ioctl_resize(struct ownbuf_file *f, u64 __user *uarg)
{
	u64 size;
	int ret;

	ret = ownbuf_ioctl_arg(f, uarg, uarg && !get_user(size, uarg));
	if (ret)
		return ret;
	if (size > SIZE_MAX)
		return -EFBIG;
	return __ownbuf_resize(&f->h, size, OWNBUF_IP_USER);
}

static long ownbuf_ioctl_info(struct ownbuf_file *f,
			      struct ownbuf_info __user *uarg)
{
	struct ownbuf_stat st;
	u32 state;

	if (!uarg)
		return ownbuf_null_user(f);
	/* One snapshot: a LIVE state comes with the size it had then. */
	state = ownbuf_file_info(f, &st);
	if (state != OWNBUF_STATE_LIVE)
		st = (struct ownbuf_stat){ };
	/* Six stores in one user access: no copy loop for 32 bytes. */
	if (!user_write_access_begin(uarg, sizeof(*uarg)))
		return -EFAULT;
	unsafe_put_user(st.size, &uarg->size, efault);
	unsafe_put_user(f->id, &uarg->id, efault);
	unsafe_put_user(f->role, &uarg->role, efault);
	unsafe_put_user(state, &uarg->state, efault);
	unsafe_put_user(st.shared_borrows, &uarg->shared_borrows, efault);
	unsafe_put_user(st.mut_borrows, &uarg->mut_borrows, efault);
	user_write_access_end();
	return 0;
efault:
	user_write_access_end();
	return -EFAULT;
}

static long ownbuf_ioctl(struct file *file, unsigned int cmd,
			 unsigned long arg)
{
	struct ownbuf_file *f = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case OWNBUF_IOC_BORROW:
		if (!ownbuf_is_owner(f))
			return -EPERM;
		return ownbuf_ioctl_borrow(f, file, argp);
	case OWNBUF_IOC_RELEASE:
		if (ownbuf_is_owner(f))
			return -EPERM;
		return ownbuf_ioctl_release(f);
	case OWNBUF_IOC_DROP:
		if (!ownbuf_is_owner(f))
			return -EPERM;
		return ownbuf_ioctl_drop(f);
	case OWNBUF_IOC_MOVE:
		if (!ownbuf_is_owner(f))
			return -EPERM;
		return ownbuf_ioctl_move(f, file, argp);
	case OWNBUF_IOC_RESIZE:
		if (!ownbuf_is_owner(f))
			return -EPERM;
		/* Changing the buffer needs write access, as write(2) does. */
		if (!(file->f_mode & FMODE_WRITE))
			return -EBADF;
		return ownbuf_ioctl_resize(f, argp);
	case OWNBUF_IOC_INFO:
		return ownbuf_ioctl_info(f, argp);
	default:
		return -ENOTTY;
	}
}

static int ownbuf_open(struct inode *inode, struct file *file)
{
	unsigned long size = READ_ONCE(ownbuf_default_size);
	struct ownbuf_file *f;
	struct ownbuf_stat st;
	int ret;

	/* Only /dev/ownbuf creates buffers; our pseudo inodes never reopen. */
	if (ownbuf_inode_is_pseudo(inode))
		return -ENXIO;
	f = ownbuf_file_alloc(OWNBUF_ROLE_OWNER);
	if (!f)
		return -ENOMEM;
	ret = __ownbuf_create(size, GFP_KERNEL_ACCOUNT, &f->h, OWNBUF_IP_USER);
	if (ret) {
		ownbuf_file_free(f);
		/* default_size over max_size: the parameters, not open()'s. */
		return ret == -EFBIG ? -EINVAL : ret;
	}
	/* Nobody else knows the handle yet: both succeed. */
	f->obj = ownbuf_owner_get(&f->h);
	ownbuf_owner_info(&f->h, &st);
	f->id = st.id;
	file->private_data = f;
	return 0;
}

static int ownbuf_file_release(struct inode *inode, struct file *file)
{
	struct ownbuf_file *f = file->private_data;
	unsigned long pinned = 0;

	if (!ownbuf_is_owner(f)) {
		ownbuf_ref_discard(&f->ref);
	} else {
		if (ownbuf_handle_state(&f->h) == OWNBUF_STATE_LIVE)
			/* The owner went away: revoke what is still lent out. */
			__ownbuf_revoke(&f->h, OWNBUF_IP_USER);
		pinned = f->pinned;
	}
	ownbuf_file_free(f);
	ownbuf_owner_unpin(&pinned);
	ownbuf_file_pseudo_put(inode);
	return 0;
}

/*
 * /proc/PID/fdinfo/N of an ownbuf fd: which buffer, in which role and
 * state.  "ownbuf ls" joins these with /sys/kernel/debug/ownbuf/buffers to
 * say which process holds which owner and borrow now.
 */
static void ownbuf_show_fdinfo(struct seq_file *m, struct file *file)
{
	static const char * const roles[] = {
		[OWNBUF_ROLE_OWNER] = "owner",
		[OWNBUF_ROLE_SHARED] = "shared",
		[OWNBUF_ROLE_MUT] = "mut",
	};
	static const char * const states[] = {
		[OWNBUF_STATE_LIVE] = "live",
		[OWNBUF_STATE_DROPPED] = "dropped",
		[OWNBUF_STATE_MOVED] = "moved",
		[OWNBUF_STATE_RELEASED] = "released",
		[OWNBUF_STATE_REVOKED] = "revoked",
	};
	struct ownbuf_file *f = file->private_data;
	struct ownbuf_holder hd;
	struct ownbuf_stat st;
	int state = ownbuf_file_info(f, &st);

	seq_printf(m, "ownbuf-id:\t%llu\n", f->id);
	seq_printf(m, "ownbuf-role:\t%s\n", roles[f->role]);
	seq_printf(m, "ownbuf-state:\t%s\n",
		   state > 0 && state < ARRAY_SIZE(states) ? states[state] :
							     "unknown");
	if (state == OWNBUF_STATE_LIVE) {
		seq_printf(m, "ownbuf-size:\t%zu\n", st.size);
		seq_printf(m, "ownbuf-borrows:\t%u shared, %u mut\n",
			   st.shared_borrows, st.mut_borrows);
	}
	if (ownbuf_is_owner(f))
		return;
	seq_printf(m, "ownbuf-mapped:\t%d\n", READ_ONCE(f->mapped));
	/* Who took the borrow, and when: fds move, this does not. */
	if (ownbuf_ref_holder(&f->ref, &hd)) {
		seq_printf(m, "ownbuf-taken-by:\t%d\t%s\n", hd.pid, hd.comm);
		seq_printf(m, "ownbuf-age-ms:\t%u\n",
			   jiffies_to_msecs(jiffies - hd.since));
	}
}

static const struct file_operations ownbuf_fops = {
	.owner = THIS_MODULE,
	.show_fdinfo = ownbuf_show_fdinfo,
	.open = ownbuf_open,
	.release = ownbuf_file_release,
	.read_iter = ownbuf_read_iter,
	.write_iter = ownbuf_write_iter,
	.llseek = ownbuf_llseek,
	.poll = ownbuf_poll,
	.mmap = ownbuf_mmap,
	.unlocked_ioctl = ownbuf_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

/* --- violation counters: /sys/class/misc/ownbuf/violations/<class> --- */

struct ownbuf_counter_attr {
	struct device_attribute attr;
	enum ownbuf_violation class;
};

static ssize_t ownbuf_counter_show(struct device *dev,
				   struct device_attribute *attr, char *buf)
{
	struct ownbuf_counter_attr *ca =
		container_of(attr, struct ownbuf_counter_attr, attr);

	return sysfs_emit(buf, "%llu\n", ownbuf_violations(ca->class));
}

/* One file per class, named by ownbuf_violation_name() (the ABI). */
static struct ownbuf_counter_attr ownbuf_counters[OWNBUF_NR_VIOLATIONS];
static struct attribute *ownbuf_counter_attrs[OWNBUF_NR_VIOLATIONS + 1];

static void ownbuf_counters_init(void)
{
	struct ownbuf_counter_attr *ca;
	int v;

	for (v = 0; v < OWNBUF_NR_VIOLATIONS; v++) {
		ca = &ownbuf_counters[v];
		sysfs_attr_init(&ca->attr.attr);
		ca->attr.attr.name = ownbuf_violation_name(v);
		ca->attr.attr.mode = 0444;
		ca->attr.show = ownbuf_counter_show;
		ca->class = v;
		ownbuf_counter_attrs[v] = &ca->attr.attr;
	}
}

static const struct attribute_group ownbuf_counter_group = {
	.name = "violations",
	.attrs = ownbuf_counter_attrs,
};

static const struct attribute_group *ownbuf_groups[] = {
	&ownbuf_counter_group,
	NULL
};

static struct miscdevice ownbuf_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "ownbuf",
	.fops = &ownbuf_fops,
	.groups = ownbuf_groups,
};

int ownbuf_dev_init(void)
{
	ownbuf_counters_init();
	ownbuf_misc.mode = ownbuf_dev_mode;
	return misc_register(&ownbuf_misc);
}

void ownbuf_dev_exit(void)
{
	misc_deregister(&ownbuf_misc);
}
