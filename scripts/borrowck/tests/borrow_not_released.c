// SPDX-License-Identifier: GPL-2.0
/* Planted mistakes for scripts/borrowck: borrows not ended on every path. */

#include <linux/ownbuf.h>

static int early_return(struct ownbuf_handle h, char *dst)
{
	struct ownbuf_ref r = { };
	int ret;

	ret = ownbuf_borrow_shared(h, &r);	/* borrowck: borrow-not-released */
	if (ret)
		return ret;
	ret = ownbuf_read(&r, 0, dst, 1);
	if (ret)
		return ret;
	ownbuf_release(&r);
	return 0;
}

static void falls_off_the_end(struct ownbuf_handle h)
{
	struct ownbuf_ref r = { };

	if (ownbuf_borrow_mut(h, &r))	/* borrowck: borrow-not-released */
		return;
	pr_info("borrowed\n");
}

static int goto_skips_release(struct ownbuf_handle h, char *dst)
{
	struct ownbuf_ref r = { };
	int ret;

	ret = ownbuf_borrow(h, OWNBUF_SHARED | OWNBUF_WAIT, &r);	/* borrowck: borrow-not-released */
	if (ret < 0)
		goto out;
	ret = ownbuf_read(&r, 0, dst, 1);
	if (ret)
		goto out;
	ownbuf_ref_discard(&r);
out:
	return ret;
}
