// SPDX-License-Identifier: GPL-2.0
/* Planted mistakes for scripts/borrowck: raw pointers outliving sections. */

#include <linux/ownbuf.h>

struct planted_dev {
	u8 *cached;
};

static u8 *planted_global;

static int used_after_end(struct ownbuf_ref *r)
{
	size_t len;
	u8 *p;

	p = ownbuf_unsafe_begin(r, &len);
	if (IS_ERR(p))
		return PTR_ERR(p);
	ownbuf_unsafe_end(r);
	return p[0];	/* borrowck: unsafe-escape */
}

static void declared_used_after_end(struct ownbuf_ref *r)
{
	size_t len;
	char *p = ownbuf_unsafe_begin(r, &len);

	if (IS_ERR(p))
		return;
	ownbuf_unsafe_end(r);
	memset(p, 0, len);	/* borrowck: unsafe-escape */
}

static void stored_in_device(struct planted_dev *dev, struct ownbuf_ref *r)
{
	size_t len;
	u8 *p = ownbuf_unsafe_begin(r, &len);

	if (IS_ERR(p))
		return;
	dev->cached = p;	/* borrowck: unsafe-escape */
	ownbuf_unsafe_end(r);
}

static void stored_directly(struct ownbuf_ref *r)
{
	size_t len;

	planted_global = ownbuf_unsafe_begin(r, &len);	/* borrowck: unsafe-escape */
}

static u8 *returned(struct ownbuf_ref *r)
{
	size_t len;
	u8 *p;

	p = ownbuf_unsafe_begin(r, &len);
	return p;	/* borrowck: unsafe-escape */
}
