// SPDX-License-Identifier: GPL-2.0
/* Planted mistakes for scripts/borrowck: handles used once consumed. */

#include <linux/ownbuf.h>

static int stat_after_drop(struct ownbuf_handle h)
{
	struct ownbuf_stat st;
	int ret;

	ret = ownbuf_drop(&h);
	if (ret)
		return ret;
	return ownbuf_stat(h, &st);	/* borrowck: use-after-consume */
}

static int borrow_after_move(struct ownbuf_handle h, struct ownbuf_handle *to)
{
	struct ownbuf_ref r = { };

	if (ownbuf_move(&h, to))
		return -EBUSY;
	if (ownbuf_borrow_shared(h, &r))	/* borrowck: use-after-consume */
		return -EBUSY;
	ownbuf_release(&r);
	return 0;
}

static void drop_after_revoke(struct ownbuf_handle *owner)
{
	ownbuf_revoke(owner);
	WARN_ON(ownbuf_drop(owner));	/* borrowck: use-after-consume */
}

static int read_after_revoke(struct ownbuf_handle h, char *dst)
{
	ownbuf_revoke(&h);
	return ownbuf_owner_read(h, 0, dst, 1);	/* borrowck: use-after-consume */
}
