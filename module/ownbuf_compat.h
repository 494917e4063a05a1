/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Differences between the kernels ownbuf builds against (Debian's 6.1 and
 * 6.12 and the debug 6.12), in one place.
 */
#ifndef _OWNBUF_COMPAT_H
#define _OWNBUF_COMPAT_H

#include <linux/mm.h>
#include <linux/uio.h>
#include <linux/version.h>

/* vm_flags became read-only with accessors in 6.3. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
static inline void ownbuf_vm_flags_set(struct vm_area_struct *vma,
				       unsigned long flags)
{
	vma->vm_flags |= flags;
}
#else
static inline void ownbuf_vm_flags_set(struct vm_area_struct *vma,
				       vm_flags_t flags)
{
	vm_flags_set(vma, flags);
}
#endif

/* The iovec array of an ITER_IOVEC was renamed and wrapped in 6.4. */
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 4, 0)
static inline const struct iovec *ownbuf_iter_iov(const struct iov_iter *it)
{
	return it->iov;
}
#else
static inline const struct iovec *ownbuf_iter_iov(const struct iov_iter *it)
{
	return iter_iov(it);
}
#endif

/*
 * Static stubs (6.3+) let the KUnit suite make our allocations fail.  Where
 * KUnit is off (Debian's kernels) they compile to nothing.
 */
#if IS_ENABLED(CONFIG_KUNIT)
#include <kunit/static_stub.h>
#include <kunit/visibility.h>
#define OWNBUF_KUNIT_VISIBLE
#else
#define KUNIT_STATIC_STUB_REDIRECT(real_fn_name, args...) do { } while (0)
#define EXPORT_SYMBOL_IF_KUNIT(symbol)
#define OWNBUF_KUNIT_VISIBLE static
#endif

#endif /* _OWNBUF_COMPAT_H */
