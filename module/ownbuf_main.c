// SPDX-License-Identifier: GPL-2.0
/*
 * ownbuf - run-time ownership checking for kernel buffers
 *
 * The engine (ownbuf_engine.c) enforces the rules behind the in-kernel API
 * of include/linux/ownbuf.h; /dev/ownbuf (ownbuf_dev.c) is its userspace
 * face.  See README.md, and Documentation/ownbuf/design.rst for how the
 * parts fit together.
 */

#include <linux/init.h>
#include <linux/module.h>

#include "ownbuf_internal.h"

static int __init ownbuf_init(void)
{
	int ret;

	ret = ownbuf_engine_init();
	if (ret)
		return ret;
	ret = ownbuf_dev_init();
	if (ret) {
		ownbuf_engine_exit();
		return ret;
	}
	ownbuf_debugfs_init();
	return 0;
}

static void __exit ownbuf_exit(void)
{
	ownbuf_debugfs_exit();
	ownbuf_dev_exit();
	ownbuf_engine_exit();
}

module_init(ownbuf_init);
module_exit(ownbuf_exit);

MODULE_DESCRIPTION("Run-time ownership checking for kernel buffers");
MODULE_AUTHOR("The ownbuf developers");
MODULE_VERSION(OWNBUF_VERSION);
MODULE_LICENSE("GPL");
