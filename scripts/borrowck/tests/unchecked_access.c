// SPDX-License-Identifier: GPL-2.0
/* Planted mistakes for scripts/borrowck: bounds-checked accesses ignored. */

#include <linux/ownbuf.h>

static void ignored(struct ownbuf_handle h, struct ownbuf_ref *r, char *buf)
{
	ownbuf_read(r, 0, buf, 8);	/* borrowck: unchecked-access */
	(void)ownbuf_write(r, 0, buf, 8);	/* borrowck: unchecked-access */
	ownbuf_owner_read(h, 0, buf, 8);	/* borrowck: unchecked-access */
	ownbuf_owner_write(h, 0, buf, 8);	/* borrowck: unchecked-access */
}
