// SPDX-License-Identifier: GPL-2.0
/*
 * Using ownbuf from a driver: create a buffer, lend it out, break a rule on
 * purpose and get an error code instead of corruption, give everything
 * back.  Built and loaded by `make check`; README.md quotes this file.
 */

#include <linux/module.h>
#include <linux/ownbuf.h>

static int __init ownbuf_sample_init(void)
{
	struct ownbuf_ref reader = { }, writer = { };
	struct ownbuf_handle h;
	char msg[6];
	int ret;

	ret = ownbuf_create(4096, GFP_KERNEL, &h);
	if (ret)
		return ret;

	/* The owner writes while nothing is lent out. */
	ret = ownbuf_owner_write(h, 0, "hello", 6);
	if (ret)
		goto out_drop;

	/* Many readers... */
	ret = ownbuf_borrow_shared(h, &reader);
	if (ret)
		goto out_drop;
	ret = ownbuf_read(&reader, 0, msg, sizeof(msg));
	if (ret)
		goto out_release;
	pr_info("read back \"%s\"\n", msg);

	/* ...XOR one writer: refused, counted, nothing corrupted. */
	ret = ownbuf_borrow_mut(h, &writer);
	pr_info("mut borrow while shared: %d (expected %d)\n", ret, -EBUSY);

	/* A buffer that is lent out cannot be dropped. */
	ret = ownbuf_drop(&h);
	pr_info("drop while lent: %d (expected %d)\n", ret, -EBUSY);

	ret = 0;
out_release:
	ownbuf_release(&reader);
out_drop:
	ownbuf_drop(&h);
	return ret;
}

static void __exit ownbuf_sample_exit(void)
{
}

module_init(ownbuf_sample_init);
module_exit(ownbuf_sample_exit);

MODULE_DESCRIPTION("Sample driver using the ownbuf in-kernel API");
MODULE_LICENSE("GPL");
