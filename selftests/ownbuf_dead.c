// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/ownbuf: an fd that is not LIVE (Documentation/userspace-api/ownbuf.rst
 * sections 1 rule 3, 3 and 6): closing an owner revokes its borrows, and
 * every call on a dropped, moved, released or revoked fd is refused, its
 * checks in the contract's order.
 */
#include <stddef.h>
#include <sys/resource.h>
#include <sys/uio.h>

#include "ownbuf_owner.h"

/* ------------------------------------------------------------------ */
/*
 * An fd that is not LIVE: every operation but INFO and close is refused
 * with -ESTALE (use_after_free), except DROP on a DROPPED owner and
 * RELEASE on a RELEASED borrow (double_free); the checks come in the
 * order of ownbuf.rst section 3, so the role and unknown commands come
 * first and a NULL pointer or a bad argument comes after the state.
 */

enum dead_how {
	DEAD_DROPPED,
	DEAD_MOVED,
	DEAD_RELEASED,
	DEAD_REVOKED,
};

FIXTURE(dead)
{
	int owner;	/* the live owner, if any */
	int fd;		/* the fd under test */
	long long id;
	struct ownbuf_counts snap;
};

FIXTURE_VARIANT(dead)
{
	enum dead_how how;
	__u32 flags;	/* borrow kind, 0 for the owner */
	int role;
	int state;
	int again;	/* class of a second DROP/RELEASE */
};

FIXTURE_VARIANT_ADD(dead, dropped)
{
	.how = DEAD_DROPPED,
	.role = OWNBUF_ROLE_OWNER,
	.state = OWNBUF_STATE_DROPPED,
	.again = V_DOUBLE_FREE,
};

FIXTURE_VARIANT_ADD(dead, moved)
{
	.how = DEAD_MOVED,
	.role = OWNBUF_ROLE_OWNER,
	.state = OWNBUF_STATE_MOVED,
	.again = V_USE_AFTER_FREE,
};

FIXTURE_VARIANT_ADD(dead, released_shared)
{
	.how = DEAD_RELEASED,
	.flags = OWNBUF_BORROW_SHARED,
	.role = OWNBUF_ROLE_SHARED,
	.state = OWNBUF_STATE_RELEASED,
	.again = V_DOUBLE_FREE,
};

FIXTURE_VARIANT_ADD(dead, released_mut)
{
	.how = DEAD_RELEASED,
	.flags = OWNBUF_BORROW_MUT,
	.role = OWNBUF_ROLE_MUT,
	.state = OWNBUF_STATE_RELEASED,
	.again = V_DOUBLE_FREE,
};

FIXTURE_VARIANT_ADD(dead, revoked_shared)
{
	.how = DEAD_REVOKED,
	.flags = OWNBUF_BORROW_SHARED,
	.role = OWNBUF_ROLE_SHARED,
	.state = OWNBUF_STATE_REVOKED,
	.again = V_USE_AFTER_FREE,
};

FIXTURE_VARIANT_ADD(dead, revoked_mut)
{
	.how = DEAD_REVOKED,
	.flags = OWNBUF_BORROW_MUT,
	.role = OWNBUF_ROLE_MUT,
	.state = OWNBUF_STATE_REVOKED,
	.again = V_USE_AFTER_FREE,
};

FIXTURE_SETUP(dead)
{
	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	self->owner = ownbuf_open();
	ASSERT_LE(0, self->owner);
	self->id = ownbuf_id(self->owner);
	ASSERT_NE(0, self->id);
	switch (variant->how) {
	case DEAD_DROPPED:
		self->fd = self->owner;
		self->owner = -1;
		ASSERT_EQ(0, ownbuf_drop(self->fd));
		break;
	case DEAD_MOVED:
		self->fd = self->owner;
		self->owner = ownbuf_move(self->fd, OWNBUF_MOVE_CLOEXEC);
		ASSERT_LE(0, self->owner);
		break;
	case DEAD_RELEASED:
		self->fd = ownbuf_borrow(self->owner, variant->flags);
		ASSERT_LE(0, self->fd);
		ASSERT_EQ(0, ownbuf_release(self->fd));
		break;
	case DEAD_REVOKED:
		self->fd = ownbuf_borrow(self->owner, variant->flags);
		ASSERT_LE(0, self->fd);
		ASSERT_EQ(0, close(self->owner));
		self->owner = -1;
		break;
	}
	ASSERT_EQ(variant->state, ownbuf_state(self->fd));
	SNAPSHOT(&self->snap);
}

FIXTURE_TEARDOWN(dead)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->owner >= 0)
		close(self->owner);
}

static bool is_owner(int role)
{
	return role == OWNBUF_ROLE_OWNER;
}

TEST_F(dead, info_keeps_id_role_and_state)
{
	struct ob_info info;

	ASSERT_EQ(0, ownbuf_info(self->fd, &info));
	EXPECT_EQ(self->id, info.id);
	EXPECT_EQ(variant->role, info.role);
	EXPECT_EQ(variant->state, info.state);
	EXPECT_EQ(0, info.size);
	EXPECT_EQ(0, info.shared);
	EXPECT_EQ(0, info.mut);
	EXPECT_DELTA(&self->snap);
}

TEST_F(dead, info_null_is_null_deref)
{
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, OWNBUF_IOC_INFO, NULL));
	EXPECT_DELTA(&self->snap, [V_NULL_DEREF] = 1);
}

TEST_F(dead, info_bad_pointer_is_efault_uncounted)
{
	void *ro = ownbuf_page(PROT_READ);

	ASSERT_NE(NULL, ro);
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, OWNBUF_IOC_INFO, ro));
	EXPECT_DELTA(&self->snap);
}

TEST_F(dead, unknown_ioctl_is_enotty)
{
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO(OWNBUF_IOC_MAGIC, 0x06)));
	EXPECT_DELTA(&self->snap);
}

TEST_F(dead, read_is_use_after_free)
{
	char buf[16];

	EXPECT_ERRNO(ESTALE, read(self->fd, buf, sizeof(buf)));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(dead, zero_length_read_is_use_after_free)
{
	char buf[1];

	EXPECT_ERRNO(ESTALE, read(self->fd, buf, 0));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(dead, null_read_is_use_after_free)
{
	/* ownbuf.rst section 3: the state is checked before the pointer. */
	EXPECT_ERRNO(ESTALE, read(self->fd, NULLPTR, 16));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(dead, pread_is_use_after_free)
{
	char buf[16];

	EXPECT_ERRNO(ESTALE, pread(self->fd, buf, sizeof(buf), 0));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(dead, readv_is_use_after_free)
{
	char a[4], b[4];
	struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };

	EXPECT_ERRNO(ESTALE, readv(self->fd, iov, 2));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(dead, empty_readv_is_answered_by_the_vfs)
{
	char a[4];
	struct iovec iov[1] = { { a, 0 } };

	/* ownbuf.rst section 1: zero-length vector I/O never reaches ownbuf. */
	EXPECT_EQ(0, readv(self->fd, iov, 1));
	EXPECT_DELTA(&self->snap);
}

TEST_F(dead, write_is_use_after_free)
{
	char buf[16] = "data";

	if (variant->role == OWNBUF_ROLE_SHARED) {
		EXPECT_ERRNO(EBADF, write(self->fd, buf, sizeof(buf)));
		EXPECT_DELTA(&self->snap);
		return;
	}
	EXPECT_ERRNO(ESTALE, write(self->fd, buf, sizeof(buf)));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(dead, zero_length_write_is_use_after_free)
{
	char buf[1] = "";

	if (variant->role == OWNBUF_ROLE_SHARED) {
		EXPECT_ERRNO(EBADF, write(self->fd, buf, 0));
		EXPECT_DELTA(&self->snap);
		return;
	}
	EXPECT_ERRNO(ESTALE, write(self->fd, buf, 0));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(dead, null_write_is_use_after_free)
{
	if (variant->role == OWNBUF_ROLE_SHARED) {
		EXPECT_ERRNO(EBADF, write(self->fd, NULLPTR, 16));
		EXPECT_DELTA(&self->snap);
		return;
	}
	EXPECT_ERRNO(ESTALE, write(self->fd, NULLPTR, 16));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(dead, pwrite_is_use_after_free)
{
	char buf[16] = "data";

	if (variant->role == OWNBUF_ROLE_SHARED) {
		EXPECT_ERRNO(EBADF, pwrite(self->fd, buf, sizeof(buf), 0));
		EXPECT_DELTA(&self->snap);
		return;
	}
	EXPECT_ERRNO(ESTALE, pwrite(self->fd, buf, sizeof(buf), 0));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(dead, writev_is_use_after_free)
{
	char a[4] = "abc", b[4] = "def";
	struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };

	if (variant->role == OWNBUF_ROLE_SHARED) {
		EXPECT_ERRNO(EBADF, writev(self->fd, iov, 2));
		EXPECT_DELTA(&self->snap);
		return;
	}
	EXPECT_ERRNO(ESTALE, writev(self->fd, iov, 2));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(dead, lseek_is_use_after_free)
{
	EXPECT_ERRNO(ESTALE, lseek(self->fd, 0, SEEK_SET));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(dead, lseek_out_of_range_is_use_after_free)
{
	/* ownbuf.rst section 3: the state comes before the bounds. */
	EXPECT_ERRNO(ESTALE, lseek(self->fd, 1 << 30, SEEK_SET));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(dead, mmap_is_use_after_free)
{
	int prot = variant->role == OWNBUF_ROLE_MUT ?
		   PROT_READ | PROT_WRITE : PROT_READ;

	if (is_owner(variant->role)) {
		/* The role is checked before the state. */
		EXPECT_ERRNO(EPERM, mmap(NULL, OWNBUF_PAGE, prot, MAP_SHARED,
					 self->fd, 0));
		EXPECT_DELTA(&self->snap);
		return;
	}
	EXPECT_ERRNO(ESTALE, mmap(NULL, OWNBUF_PAGE, prot, MAP_SHARED,
				  self->fd, 0));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(dead, poll_is_err_hup)
{
	EXPECT_EQ(POLLERR | POLLHUP,
		  ownbuf_poll_now(self->fd, POLLIN | POLLOUT));
	EXPECT_EQ(POLLERR | POLLHUP, ownbuf_poll_now(self->fd, 0));
	EXPECT_DELTA(&self->snap);
}

TEST_F(dead, borrow_is_use_after_free)
{
	if (!is_owner(variant->role)) {
		EXPECT_ERRNO(EPERM, ownbuf_shared(self->fd));
		EXPECT_DELTA(&self->snap);
		return;
	}
	EXPECT_ERRNO(ESTALE, ownbuf_shared(self->fd));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(dead, borrow_null_is_use_after_free)
{
	if (!is_owner(variant->role)) {
		EXPECT_ERRNO(EPERM, ioctl(self->fd, OWNBUF_IOC_BORROW, NULL));
		EXPECT_DELTA(&self->snap);
		return;
	}
	/*
	 * ownbuf.rst section 3: a NULL pointer on a dead owner is ESTALE,
	 * not EFAULT.
	 */
	EXPECT_ERRNO(ESTALE, ioctl(self->fd, OWNBUF_IOC_BORROW, NULL));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(dead, borrow_bad_flags_is_use_after_free)
{
	if (!is_owner(variant->role)) {
		EXPECT_ERRNO(EPERM, ownbuf_borrow(self->fd, 0));
		EXPECT_DELTA(&self->snap);
		return;
	}
	EXPECT_ERRNO(ESTALE, ownbuf_borrow(self->fd, 0));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(dead, move_is_use_after_free)
{
	int next = ownbuf_next_fd();

	if (!is_owner(variant->role)) {
		EXPECT_ERRNO(EPERM, ownbuf_move(self->fd, 0));
		EXPECT_DELTA(&self->snap);
		return;
	}
	EXPECT_ERRNO(ESTALE, ownbuf_move(self->fd, 0));
	EXPECT_EQ(next, ownbuf_next_fd());
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(dead, move_null_is_use_after_free)
{
	if (!is_owner(variant->role)) {
		EXPECT_ERRNO(EPERM, ioctl(self->fd, OWNBUF_IOC_MOVE, NULL));
		EXPECT_DELTA(&self->snap);
		return;
	}
	EXPECT_ERRNO(ESTALE, ioctl(self->fd, OWNBUF_IOC_MOVE, NULL));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(dead, move_bad_flags_is_use_after_free)
{
	if (!is_owner(variant->role)) {
		EXPECT_ERRNO(EPERM, ownbuf_move(self->fd, ~0U));
		EXPECT_DELTA(&self->snap);
		return;
	}
	EXPECT_ERRNO(ESTALE, ownbuf_move(self->fd, ~0U));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(dead, resize_is_use_after_free)
{
	if (!is_owner(variant->role)) {
		EXPECT_ERRNO(EPERM, ownbuf_resize(self->fd, 8192));
		EXPECT_DELTA(&self->snap);
		return;
	}
	EXPECT_ERRNO(ESTALE, ownbuf_resize(self->fd, 8192));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(dead, resize_null_is_use_after_free)
{
	if (!is_owner(variant->role)) {
		EXPECT_ERRNO(EPERM, ioctl(self->fd, OWNBUF_IOC_RESIZE, NULL));
		EXPECT_DELTA(&self->snap);
		return;
	}
	EXPECT_ERRNO(ESTALE, ioctl(self->fd, OWNBUF_IOC_RESIZE, NULL));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(dead, resize_zero_is_use_after_free)
{
	if (!is_owner(variant->role)) {
		EXPECT_ERRNO(EPERM, ownbuf_resize(self->fd, 0));
		EXPECT_DELTA(&self->snap);
		return;
	}
	/* ownbuf.rst section 3: the state comes before -EINVAL. */
	EXPECT_ERRNO(ESTALE, ownbuf_resize(self->fd, 0));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(dead, resize_huge_is_use_after_free)
{
	if (!is_owner(variant->role)) {
		EXPECT_ERRNO(EPERM, ownbuf_resize(self->fd, ~0ULL));
		EXPECT_DELTA(&self->snap);
		return;
	}
	/* ownbuf.rst section 3: the state comes before -EFBIG. */
	EXPECT_ERRNO(ESTALE, ownbuf_resize(self->fd, ~0ULL));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(dead, drop_again)
{
	if (!is_owner(variant->role)) {
		EXPECT_ERRNO(EPERM, ownbuf_drop(self->fd));
		EXPECT_DELTA(&self->snap);
		return;
	}
	EXPECT_ERRNO(ESTALE, ownbuf_drop(self->fd));
	if (variant->again == V_DOUBLE_FREE)
		EXPECT_DELTA(&self->snap, [V_DOUBLE_FREE] = 1);
	else
		EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
	EXPECT_EQ(variant->state, ownbuf_state(self->fd));
}

TEST_F(dead, release_again)
{
	if (is_owner(variant->role)) {
		EXPECT_ERRNO(EPERM, ownbuf_release(self->fd));
		EXPECT_DELTA(&self->snap);
		return;
	}
	EXPECT_ERRNO(ESTALE, ownbuf_release(self->fd));
	if (variant->again == V_DOUBLE_FREE)
		EXPECT_DELTA(&self->snap, [V_DOUBLE_FREE] = 1);
	else
		EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
	EXPECT_EQ(variant->state, ownbuf_state(self->fd));
}

TEST_F(dead, release_twice_more_counts_twice)
{
	int cls = is_owner(variant->role) ? -1 : variant->again;

	if (cls < 0) {
		EXPECT_ERRNO(EPERM, ownbuf_release(self->fd));
		EXPECT_ERRNO(EPERM, ownbuf_release(self->fd));
		EXPECT_DELTA(&self->snap);
		return;
	}
	EXPECT_ERRNO(ESTALE, ownbuf_release(self->fd));
	EXPECT_ERRNO(ESTALE, ownbuf_release(self->fd));
	if (cls == V_DOUBLE_FREE)
		EXPECT_DELTA(&self->snap, [V_DOUBLE_FREE] = 2);
	else
		EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 2);
}

TEST_F(dead, close_is_clean)
{
	EXPECT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_DELTA(&self->snap);
}

TEST_F(dead, fstat_and_fcntl_still_work)
{
	struct stat st;

	/*
	 * Not ownbuf operations: the fd itself stays valid (ownbuf.rst
	 * section 1 rule 3).
	 */
	EXPECT_EQ(0, fstat(self->fd, &st));
	EXPECT_LE(0, fcntl(self->fd, F_GETFL));
	EXPECT_DELTA(&self->snap);
}

/* --- closing the owner revokes borrows (ownbuf.rst section 1 rule 3) --- */

TEST_F(owner, close_without_borrows_counts_nothing)
{
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, close_revokes_a_shared_borrow)
{
	struct ob_info info;
	char c;
	int s = ownbuf_shared(self->fd);

	ASSERT_LE(0, s);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	ASSERT_EQ(0, ownbuf_info(s, &info));
	EXPECT_EQ(OWNBUF_STATE_REVOKED, info.state);
	EXPECT_EQ(0, info.size);
	EXPECT_EQ(0, info.shared);
	EXPECT_EQ(0, info.mut);
	EXPECT_ERRNO(ESTALE, pread(s, &c, 1, 0));
	EXPECT_EQ(0, close(s));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1,
		     [V_DANGLING_BORROW] = 1);
}

TEST_F(owner, close_revokes_a_mut_borrow)
{
	char c = 'x';
	int m = ownbuf_mut(self->fd);

	ASSERT_LE(0, m);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(OWNBUF_STATE_REVOKED, ownbuf_state(m));
	EXPECT_ERRNO(ESTALE, pwrite(m, &c, 1, 0));
	EXPECT_EQ(0, close(m));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1,
		     [V_DANGLING_BORROW] = 1);
}

TEST_F(owner, close_revokes_each_borrow_once)
{
	int s[3], d, i;

	for (i = 0; i < 3; i++) {
		s[i] = ownbuf_shared(self->fd);
		ASSERT_LE(0, s[i]);
	}
	/* A dup shares the open file: still three borrows, not four. */
	d = dup(s[0]);
	ASSERT_LE(0, d);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	for (i = 0; i < 3; i++)
		EXPECT_EQ(OWNBUF_STATE_REVOKED, ownbuf_state(s[i]));
	EXPECT_EQ(OWNBUF_STATE_REVOKED, ownbuf_state(d));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(0, close(s[i]));
	EXPECT_EQ(0, close(d));
	EXPECT_DELTA(&self->snap, [V_DANGLING_BORROW] = 3);
}

TEST_F(owner, close_does_not_count_released_borrows)
{
	int a = ownbuf_shared(self->fd);
	int b = ownbuf_shared(self->fd);

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, ownbuf_release(a));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(OWNBUF_STATE_RELEASED, ownbuf_state(a));
	EXPECT_EQ(OWNBUF_STATE_REVOKED, ownbuf_state(b));
	close(a);
	close(b);
	EXPECT_DELTA(&self->snap, [V_DANGLING_BORROW] = 1);
}

TEST_F(owner, close_of_a_dropped_owner_counts_nothing)
{
	ASSERT_EQ(0, ownbuf_drop(self->fd));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, closing_a_borrow_first_counts_nothing)
{
	int s = ownbuf_shared(self->fd);
	int m;

	ASSERT_LE(0, s);
	ASSERT_EQ(0, close(s));
	m = ownbuf_mut(self->fd);
	ASSERT_LE(0, m);
	ASSERT_EQ(0, close(m));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, dup_of_owner_keeps_the_buffer)
{
	int d = dup(self->fd);
	int s;

	ASSERT_LE(0, d);
	s = ownbuf_shared(self->fd);
	ASSERT_LE(0, s);
	/* The open file lives on in the dup: nothing is revoked. */
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(s));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(d));
	ASSERT_EQ(0, close(d));
	EXPECT_EQ(OWNBUF_STATE_REVOKED, ownbuf_state(s));
	close(s);
	EXPECT_DELTA(&self->snap, [V_DANGLING_BORROW] = 1);
}

TEST_F(owner, lseek_while_mut_is_allowed)
{
	int m = ownbuf_mut(self->fd);

	ASSERT_LE(0, m);
	/*
	 * ownbuf.rst is silent: lseek touches no data, so a mut borrow does
	 * not stop the owner from moving its own file position.
	 */
	EXPECT_EQ(100, lseek(self->fd, 100, SEEK_SET));
	close(m);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, shrink_leaves_the_position_past_the_end)
{
	char c = 'x';

	ASSERT_EQ(3000, lseek(self->fd, 3000, SEEK_SET));
	ASSERT_EQ(0, ownbuf_resize(self->fd, 1000));
	EXPECT_EQ(0, read(self->fd, &c, 1));
	EXPECT_ERRNO(ENOSPC, write(self->fd, &c, 1));
	EXPECT_EQ(1000, lseek(self->fd, 0, SEEK_END));
	EXPECT_DELTA(&self->snap, [V_OUT_OF_BOUNDS] = 1);
}

TEST_F(owner, info_while_lent_out_works)
{
	struct ob_info info;
	int m = ownbuf_mut(self->fd);

	ASSERT_LE(0, m);
	EXPECT_EQ(0, ownbuf_info(self->fd, &info));
	EXPECT_EQ(OWNBUF_DEFAULT_SIZE, info.size);
	close(m);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, release_after_revocation_of_a_released_borrow_is_double_free)
{
	int s = ownbuf_shared(self->fd);

	ASSERT_LE(0, s);
	ASSERT_EQ(0, ownbuf_release(s));
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	/* It was returned before the owner went: still RELEASED. */
	EXPECT_EQ(OWNBUF_STATE_RELEASED, ownbuf_state(s));
	EXPECT_ERRNO(ESTALE, ownbuf_release(s));
	close(s);
	EXPECT_DELTA(&self->snap, [V_DOUBLE_FREE] = 1);
}

TEST_F(owner, borrow_with_no_free_fd_lends_nothing)
{
	struct rlimit old, rl;
	struct ob_info info;
	int next = ownbuf_next_fd();

	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
	rl = old;
	rl.rlim_cur = next;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	/* ownbuf.rst is silent: the VFS's -EMFILE, and no side effect. */
	EXPECT_ERRNO(EMFILE, ownbuf_mut(self->fd));
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &old));
	ASSERT_EQ(0, ownbuf_info(self->fd, &info));
	EXPECT_EQ(0, info.mut);
	EXPECT_EQ(0, info.shared);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, move_with_no_free_fd_moves_nothing)
{
	struct rlimit old, rl;
	int next = ownbuf_next_fd();

	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
	rl = old;
	rl.rlim_cur = next;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	EXPECT_ERRNO(EMFILE, ownbuf_move(self->fd, 0));
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &old));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(self->fd));
	EXPECT_DELTA(&self->snap);
}

TEST_HARNESS_MAIN
