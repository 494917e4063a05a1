/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Differences between the kernels ownbuf builds against (Debian's 6.1 and
 * 6.12 and the debug 6.12), in one place.  The OWNBUF_HAVE_* macros come
 * from probes of the kernel's headers in module/Kbuild.
 */
#ifndef _OWNBUF_COMPAT_H
#define _OWNBUF_COMPAT_H

#include <kunit/visibility.h>
#include <linux/mm.h>
#include <linux/uio.h>

/* vm_flags became read-only with accessors in 6.3. */
#ifdef OWNBUF_HAVE_VM_FLAGS_SET
static inline void ownbuf_vm_flags_set(struct vm_area_struct *vma,
				       vm_flags_t flags)
{
	vm_flags_set(vma, flags);
}
#else
static inline void ownbuf_vm_flags_set(struct vm_area_struct *vma,
				       unsigned long flags)
{
	vma->vm_flags |= flags;
}
#endif

/* The iovec array of an ITER_IOVEC was renamed and wrapped in 6.4. */
#ifdef OWNBUF_HAVE_ITER_IOV
static inline const struct iovec *ownbuf_iter_iov(const struct iov_iter *it)
{
	return iter_iov(it);
}
#else
static inline const struct iovec *ownbuf_iter_iov(const struct iov_iter *it)
{
	return it->iov;
}
#endif

/*
 * Static stubs (6.3+) let the KUnit suite make allocations fail.  Before
 * that there are none; Debian's 6.1 has no KUnit anyway.
 */
#ifdef OWNBUF_HAVE_STATIC_STUB
#include <kunit/static_stub.h>
#else
#define KUNIT_STATIC_STUB_REDIRECT(...) do { } while (0)
#endif

/*
 * Files of borrows and moved owners, named @name ("ownbuf:[shared]" and so
 * on): see ownbuf_compat.c.  Since 6.7 the kernel's anon_inode filesystem
 * does it all, and these are inline: a BORROW makes no call for them.
 */
#ifdef OWNBUF_HAVE_ANON_INODE_CREATE
#include <linux/anon_inodes.h>

static inline struct file *
ownbuf_file_pseudo(const char *name, const struct file_operations *fops,
		   void *priv, int flags)
{
	return anon_inode_create_getfile(name, fops, priv, flags, NULL);
}

static inline void ownbuf_file_pseudo_put(struct inode *inode)
{
}

static inline int ownbuf_owner_pin(unsigned long *pinned)
{
	return 0;
}

static inline void ownbuf_owner_unpin(unsigned long *pinned)
{
}

/* Anon inodes cannot be opened again (no_open_fops): never ours. */
static inline bool ownbuf_inode_is_pseudo(const struct inode *inode)
{
	return false;
}
#else
struct file *ownbuf_file_pseudo(const char *name,
				const struct file_operations *fops,
				void *priv, int flags);
void ownbuf_file_pseudo_put(struct inode *inode);
int ownbuf_owner_pin(unsigned long *pinned);
void ownbuf_owner_unpin(unsigned long *pinned);
bool ownbuf_inode_is_pseudo(const struct inode *inode);
#endif

#endif /* _OWNBUF_COMPAT_H */
