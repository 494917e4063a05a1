// SPDX-License-Identifier: GPL-2.0
/*
 * Correct code next to every mistake scripts/borrowck looks for: nothing
 * here may be reported.
 */

#include <linux/err.h>
#include <linux/ownbuf.h>

struct near_dev {
	struct ownbuf_handle h;
	struct ownbuf_ref ref;
};

void near_register(struct ownbuf_ref *ref);

/* Every path out ends the borrow: a goto ladder. */
static int released_everywhere(struct ownbuf_handle h, char *dst)
{
	struct ownbuf_ref r = { };
	int ret;

	ret = ownbuf_borrow_shared(h, &r);
	if (ret)
		return ret;
	ret = ownbuf_read(&r, 0, dst, 1);
	if (ret)
		goto out_release;
	ret = ownbuf_read(&r, 1, dst, 1);
out_release:
	ownbuf_release(&r);
	return ret;
}

/* Stored in something that outlives the function. */
static int kept_in_device(struct near_dev *dev)
{
	return ownbuf_borrow_mut(dev->h, &dev->ref);
}

/* Handed to somebody who ends it. */
static int handed_on(struct ownbuf_handle h)
{
	struct ownbuf_ref r = { };

	if (ownbuf_borrow_shared(h, &r))
		return -EBUSY;
	near_register(&r);
	return 0;
}

/* Scope-bound: ended by the compiler. */
static int scoped(struct ownbuf_handle h, char *dst)
{
	CLASS(ownbuf_shared, r)(h);

	if (IS_ERR(r))
		return PTR_ERR(r);
	ownbuf_scoped(mut, return PTR_ERR(scope), h) {
		if (ownbuf_write(scope, 0, dst, 1))
			return -EIO;
	}
	return ownbuf_read(r, 0, dst, 1);
}

/* A refused drop consumed nothing: the failure path may revoke. */
static int drop_or_revoke(struct ownbuf_handle h)
{
	int ret;

	ret = ownbuf_drop(&h);
	if (ret) {
		pr_warn("drop: %d\n", ret);
		return ownbuf_revoke(&h);
	}
	return 0;
}

/* A consumed variable given a new handle is live again. */
static int recreated(struct ownbuf_handle h, struct ownbuf_stat *st)
{
	int ret;

	ret = ownbuf_drop(&h);
	if (ret)
		return ret;
	ret = ownbuf_create(64, GFP_KERNEL, &h);
	if (ret)
		return ret;
	ret = ownbuf_stat(h, st);
	ownbuf_revoke(&h);
	return ret;
}

/* Moved, then only the new handle is used. */
static int moved(struct ownbuf_handle h, struct ownbuf_handle *to)
{
	struct ownbuf_stat st;
	int ret;

	ret = ownbuf_move(&h, to);
	if (ret)
		return ret;
	return ownbuf_stat(*to, &st);
}

/* The raw pointer is used inside the section only, once per section. */
static int sections(struct ownbuf_ref *r)
{
	size_t len;
	int i, sum = 0;
	u8 *p;

	for (i = 0; i < 2; i++) {
		p = ownbuf_unsafe_begin(r, &len);
		if (IS_ERR(p))
			return PTR_ERR(p);
		sum += p[0];
		ownbuf_unsafe_end(r);
	}
	return sum;
}

/* A local alias inside the section is fine. */
static int alias_inside(struct ownbuf_ref *r)
{
	size_t len;
	u8 *p = ownbuf_unsafe_begin(r, &len);
	u8 *q;
	int v;

	if (IS_ERR(p))
		return PTR_ERR(p);
	q = p;
	v = q[0];
	ownbuf_unsafe_end(r);
	return v;
}

/* Results of bounds-checked accesses, checked. */
static int checked(struct ownbuf_handle h, struct ownbuf_ref *r, char *buf)
{
	int ret;

	ret = ownbuf_owner_read(h, 0, buf, 8);
	if (ret)
		return ret;
	if (ownbuf_write(r, 0, buf, 8))
		return -EIO;
	WARN_ON(ownbuf_owner_write(h, 0, buf, 8) < 0);
	return ownbuf_read(r, 0, buf, 8);
}
