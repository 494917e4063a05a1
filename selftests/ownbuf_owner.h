/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fixture "owner" of the selftest programs that test a live owner fd
 * (ownbuf_test, ownbuf_dead): one program each, so each includes it.
 */
#ifndef _OWNBUF_OWNER_H
#define _OWNBUF_OWNER_H

#include "ownbuf_util.h"

/* ------------------------------------------------------------------ */
/* A live owner and what it may and may not do.                       */

FIXTURE(owner)
{
	int fd;
	struct ownbuf_counts snap;
};

FIXTURE_SETUP(owner)
{
	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device (module not loaded)",
		     OWNBUF_DEV);
	self->fd = ownbuf_open();
	ASSERT_LE(0, self->fd);
	SNAPSHOT(&self->snap);
}

FIXTURE_TEARDOWN(owner)
{
	if (self->fd >= 0)
		close(self->fd);
}

#endif /* _OWNBUF_OWNER_H */
