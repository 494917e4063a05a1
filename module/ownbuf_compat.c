// SPDX-License-Identifier: GPL-2.0
/*
 * The files of borrows and moved owners, on the kernels ownbuf builds for.
 *
 * Each such file needs an inode of its own, so that returning a borrow can
 * zap exactly its mappings (unmap_mapping_range() on its address space),
 * and nothing of ownbuf may run in __fput() after the file's module
 * reference is dropped (fops_put() comes before dput() and mntput()).
 *
 * Since 6.7, anon_inode_create_getfile() gives both on the kernel's own
 * anon_inode filesystem: its dentry operations and superblock are the
 * kernel's, so the end of __fput() never touches ownbuf.
 *
 * Before that, a private pseudo filesystem: mounted (simple_pin_fs()) while
 * any of its files exists, its superblock holding the module through the
 * filesystem type's .owner until the last file's mntput() has torn it down
 * in the kernel's own code.  Owners pin it too from their first BORROW or
 * MOVE to their close, so that a loop of BORROW and close on a live owner
 * does not mount and unmount every time.
 */

#include <linux/file.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/mount.h>
#include <linux/pseudo_fs.h>

#include "ownbuf_compat.h"

/* Since 6.7: all inline, in ownbuf_compat.h. */
#ifndef OWNBUF_HAVE_ANON_INODE_CREATE

#define OWNBUF_FS_MAGIC		0x6f776e62	/* "ownb" */

static struct vfsmount *ownbuf_mnt;
static int ownbuf_mnt_count;

/* The name alone ("ownbuf:[shared]"), as the anon_inode filesystem's. */
static char *ownbuf_dname(struct dentry *dentry, char *buf, int len)
{
	int n = dentry->d_name.len;

	if (n + 1 > len)
		return ERR_PTR(-ENAMETOOLONG);
	return memcpy(buf + len - n - 1, dentry->d_name.name, n + 1);
}

static const struct dentry_operations ownbuf_dentry_ops = {
	.d_dname = ownbuf_dname,
};

static int ownbuf_init_fs_context(struct fs_context *fc)
{
	struct pseudo_fs_context *ctx = init_pseudo(fc, OWNBUF_FS_MAGIC);

	if (!ctx)
		return -ENOMEM;
	ctx->dops = &ownbuf_dentry_ops;
	return 0;
}

/*
 * Not registered: it cannot be mounted from userspace, so no path leads to
 * a buffer.  Mounted only while its files or a pin exist, so .owner pins
 * the module exactly as long as they do.
 */
static struct file_system_type ownbuf_fs_type = {
	.owner = THIS_MODULE,
	.name = "ownbuf",
	.init_fs_context = ownbuf_init_fs_context,
	.kill_sb = kill_anon_super,
};

struct file *ownbuf_file_pseudo(const char *name,
				const struct file_operations *fops,
				void *priv, int flags)
{
	struct inode *inode;
	struct file *file;
	int ret;

	/* Released by the file's ->release; its own mount reference stays. */
	ret = simple_pin_fs(&ownbuf_fs_type, &ownbuf_mnt, &ownbuf_mnt_count);
	if (ret)
		return ERR_PTR(ret);
	inode = alloc_anon_inode(ownbuf_mnt->mnt_sb);
	if (IS_ERR(inode)) {
		simple_release_fs(&ownbuf_mnt, &ownbuf_mnt_count);
		return ERR_CAST(inode);
	}
	/* Reopening through /proc/<pid>/fd must not create a second owner. */
	inode->i_fop = fops;
	/* Pinned by the file; we run inside one of our own files' ioctls. */
	__module_get(fops->owner);
	file = alloc_file_pseudo(inode, ownbuf_mnt, name, flags, fops);
	if (IS_ERR(file)) {
		module_put(fops->owner);
		iput(inode);
		simple_release_fs(&ownbuf_mnt, &ownbuf_mnt_count);
		return file;
	}
	file->private_data = priv;
	return file;
}

/* From the ->release of a file ownbuf_file_pseudo() made. */
void ownbuf_file_pseudo_put(struct inode *inode)
{
	/* The file's own mount reference keeps the superblock till __fput ends. */
	if (ownbuf_inode_is_pseudo(inode))
		simple_release_fs(&ownbuf_mnt, &ownbuf_mnt_count);
}

/* Pin the filesystem until ownbuf_owner_unpin(); *@pinned says if held. */
int ownbuf_owner_pin(unsigned long *pinned)
{
	int ret;

	if (test_bit(0, pinned))
		return 0;
	ret = simple_pin_fs(&ownbuf_fs_type, &ownbuf_mnt, &ownbuf_mnt_count);
	if (ret)
		return ret;
	if (test_and_set_bit(0, pinned))
		simple_release_fs(&ownbuf_mnt, &ownbuf_mnt_count);
	return 0;
}

void ownbuf_owner_unpin(unsigned long *pinned)
{
	if (test_bit(0, pinned))
		simple_release_fs(&ownbuf_mnt, &ownbuf_mnt_count);
}

bool ownbuf_inode_is_pseudo(const struct inode *inode)
{
	return inode->i_sb->s_type == &ownbuf_fs_type;
}

#endif /* !OWNBUF_HAVE_ANON_INODE_CREATE */
