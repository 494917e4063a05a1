// SPDX-License-Identifier: GPL-2.0
/*
 * Using ownbuf from a driver: create a buffer, lend it out, break a rule on
 * purpose and get an error code instead of corruption.  Every buffer and
 * borrow is bound to a scope (<linux/cleanup.h>) and given back wherever
 * that scope is left, error paths included.  Built and loaded by
 * `make check`; README.md quotes this file.
 */

#include <linux/err.h>
#include <linux/module.h>
#include <linux/ownbuf.h>

/* A buffer holding @msg: ownership leaves through @out. */
static int ownbuf_sample_create(const void *msg, size_t len,
				struct ownbuf_handle *out)
{
	struct ownbuf_handle h __free(ownbuf) = OWNBUF_HANDLE_NULL;
	int ret;

	ret = ownbuf_create(4096, GFP_KERNEL, &h);
	if (ret)
		return ret;

	/* The mut borrow, for one statement. */
	ownbuf_scoped(mut, return PTR_ERR(scope), h) {
		ret = ownbuf_write(scope, 0, msg, len);
		if (ret)
			return ret;	/* scope is released, h revoked */
	}

	/* Handed on: not revoked when this scope ends. */
	*out = ownbuf_no_free(h);
	return 0;
}

static int __init ownbuf_sample_init(void)
{
	struct ownbuf_handle h __free(ownbuf) = OWNBUF_HANDLE_NULL;
	char msg[6];
	int ret;

	ret = ownbuf_sample_create("hello", 6, &h);
	if (ret)
		return ret;

	/* Many readers, until this function returns, whichever way... */
	CLASS(ownbuf_shared, reader)(h);
	if (IS_ERR(reader))
		return PTR_ERR(reader);
	ret = ownbuf_read(reader, 0, msg, sizeof(msg));
	if (ret)
		return ret;
	pr_info("read back \"%s\"\n", msg);

	/* ...XOR one writer: refused, counted, nothing corrupted. */
	CLASS(ownbuf_mut, writer)(h);
	pr_info("mut borrow while shared: %d (expected %d)\n",
		PTR_ERR_OR_ZERO(writer), -EBUSY);

	/* A buffer that is lent out cannot be dropped. */
	ret = ownbuf_drop(&h);
	pr_info("drop while lent: %d (expected %d)\n", ret, -EBUSY);

	/* Here the borrows end, then the buffer goes: in reverse order. */
	return 0;
}

static void __exit ownbuf_sample_exit(void)
{
}

module_init(ownbuf_sample_init);
module_exit(ownbuf_sample_exit);

MODULE_DESCRIPTION("Sample driver using the ownbuf in-kernel API");
MODULE_LICENSE("GPL");
