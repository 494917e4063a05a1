// SPDX-License-Identifier: GPL-2.0
/*
 * For selftests/ownbuf_unload: stop the last close of an ownbuf borrow file
 * inside __fput(), after the file's own module reference was dropped
 * (fops_put()) and before its dentry is put (dput()), so that the test can
 * try "rmmod ownbuf" right there.  On ownbuf's own pseudo filesystem (the
 * kernels without anon_inode_create_getfile()), the dentry operations and
 * the superblock teardown that follow are ownbuf's, so ownbuf must still be
 * pinned; on the anon_inode filesystem nothing of ownbuf follows, and the
 * unload may go through.
 *
 * /sys/kernel/debug/ownbuf_test_fput/:
 *   arm      write 1: stop the next dput() of an ownbuf pseudo dentry
 *   inside   1 while a close is stopped there
 *   release  write 1: let the stopped close go on
 *   verdict  1 ownbuf began unloading while stopped on its own filesystem
 *            (the bug), 2 released by the test, 3 gave up after 3 s,
 *            4 not stopped: nothing of ownbuf follows (the anon_inode
 *            filesystem)
 */

#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/kprobes.h>
#include <linux/ktime.h>
#include <linux/magic.h>
#include <linux/module.h>
#include <linux/string.h>

#define OWNBUF_FS_MAGIC		0x6f776e62	/* module/ownbuf_compat.c */

static atomic_t obf_arm, obf_inside, obf_release, obf_verdict;
static struct dentry *obf_dir;

static int obf_pre(struct kprobe *p, struct pt_regs *regs)
{
	struct dentry *d = (struct dentry *)regs_get_kernel_argument(regs, 0);
	const struct file_operations *fop;
	struct module *mod = NULL;
	bool own_fs;
	u64 deadline;

	if (!atomic_read(&obf_arm) || !d || !d->d_sb || !d->d_inode)
		return 0;
	own_fs = d->d_sb->s_magic == OWNBUF_FS_MAGIC;
	if (!own_fs && (d->d_sb->s_magic != ANON_INODE_FS_MAGIC ||
			strncmp(d->d_name.name, "ownbuf:[", 8)))
		return 0;
	if (atomic_cmpxchg(&obf_arm, 1, 0) != 1)
		return 0;
	if (!own_fs) {
		/* The kernel's own filesystem: nothing of ownbuf follows. */
		atomic_set(&obf_verdict, 4);
		return 0;
	}
	/* On ownbuf's filesystem the inode's operations name ownbuf. */
	fop = own_fs ? READ_ONCE(d->d_inode->i_fop) : NULL;
	if (fop)
		mod = fop->owner;
	atomic_set(&obf_verdict, 0);
	atomic_set(&obf_inside, 1);
	/* A kprobe handler runs in int3 context: the NMI-safe clock only. */
	deadline = ktime_get_mono_fast_ns() + 3 * NSEC_PER_SEC;
	while (ktime_get_mono_fast_ns() < deadline) {
		if (mod && READ_ONCE(mod->state) == MODULE_STATE_GOING) {
			atomic_set(&obf_verdict, 1);
			break;
		}
		if (atomic_read(&obf_release)) {
			atomic_set(&obf_verdict, 2);
			break;
		}
		cpu_relax();
	}
	if (!atomic_read(&obf_verdict))
		atomic_set(&obf_verdict, 3);
	atomic_set(&obf_release, 0);
	atomic_set(&obf_inside, 0);
	return 0;
}

static struct kprobe obf_kp = {
	.symbol_name = "dput",
	.pre_handler = obf_pre,
};

static int __init obf_init(void)
{
	int ret;

	obf_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_atomic_t("arm", 0600, obf_dir, &obf_arm);
	debugfs_create_atomic_t("inside", 0400, obf_dir, &obf_inside);
	debugfs_create_atomic_t("release", 0600, obf_dir, &obf_release);
	debugfs_create_atomic_t("verdict", 0400, obf_dir, &obf_verdict);
	ret = register_kprobe(&obf_kp);
	if (ret)
		debugfs_remove_recursive(obf_dir);
	return ret;
}

static void __exit obf_exit(void)
{
	unregister_kprobe(&obf_kp);
	debugfs_remove_recursive(obf_dir);
}

module_init(obf_init);
module_exit(obf_exit);

MODULE_DESCRIPTION("ownbuf selftest: stop the last close of a borrow file in __fput()");
MODULE_LICENSE("GPL");
