// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/ownbuf: the ioctl arguments (Documentation/userspace-api/ownbuf.rst
 * section 3): the UAPI layout, every undefined BORROW and MOVE flag bit,
 * and what each role may ask for.  Every test breaks one rule on purpose
 * and checks the errno and the exact delta of all six counters.
 */
#include <stddef.h>
#include <sys/resource.h>
#include <sys/uio.h>

#include "ownbuf_util.h"

/* ------------------------------------------------------------------ */
/* The UAPI header itself (ownbuf.rst section 3).                     */

FIXTURE(uapi)
{
};

FIXTURE_SETUP(uapi)
{
}

FIXTURE_TEARDOWN(uapi)
{
}

TEST_F(uapi, structs_are_padded_to_8_bytes)
{
	EXPECT_EQ(8, (int)sizeof(struct ownbuf_borrow));
	EXPECT_EQ(8, (int)sizeof(struct ownbuf_move));
	EXPECT_EQ(32, (int)sizeof(struct ownbuf_info));
	EXPECT_EQ(0, (int)offsetof(struct ownbuf_info, size));
	EXPECT_EQ(8, (int)offsetof(struct ownbuf_info, id));
	EXPECT_EQ(16, (int)offsetof(struct ownbuf_info, role));
	EXPECT_EQ(20, (int)offsetof(struct ownbuf_info, state));
	EXPECT_EQ(24, (int)offsetof(struct ownbuf_info, shared_borrows));
	EXPECT_EQ(28, (int)offsetof(struct ownbuf_info, mut_borrows));
}

TEST_F(uapi, ioctl_numbers_encode_their_arguments)
{
	EXPECT_EQ((int)(_IOC_READ | _IOC_WRITE), (int)_IOC_DIR(OWNBUF_IOC_BORROW));
	EXPECT_EQ((int)sizeof(struct ownbuf_borrow),
		  (int)_IOC_SIZE(OWNBUF_IOC_BORROW));
	EXPECT_EQ((int)_IOC_NONE, (int)_IOC_DIR(OWNBUF_IOC_RELEASE));
	EXPECT_EQ((int)_IOC_NONE, (int)_IOC_DIR(OWNBUF_IOC_DROP));
	EXPECT_EQ((int)(_IOC_READ | _IOC_WRITE), (int)_IOC_DIR(OWNBUF_IOC_MOVE));
	EXPECT_EQ((int)sizeof(struct ownbuf_move),
		  (int)_IOC_SIZE(OWNBUF_IOC_MOVE));
	EXPECT_EQ((int)_IOC_WRITE, (int)_IOC_DIR(OWNBUF_IOC_RESIZE));
	EXPECT_EQ(8, (int)_IOC_SIZE(OWNBUF_IOC_RESIZE));
	EXPECT_EQ((int)_IOC_READ, (int)_IOC_DIR(OWNBUF_IOC_INFO));
	EXPECT_EQ((int)sizeof(struct ownbuf_info),
		  (int)_IOC_SIZE(OWNBUF_IOC_INFO));
}

TEST_F(uapi, flag_masks)
{
	EXPECT_EQ(0xf, (int)OWNBUF_BORROW_VALID_FLAGS);
	EXPECT_EQ(1, (int)OWNBUF_MOVE_VALID_FLAGS);
	EXPECT_EQ(0, (int)(OWNBUF_BORROW_SHARED & OWNBUF_BORROW_MUT));
}

/* ------------------------------------------------------------------ */
/* Each unknown flag bit of BORROW, one test per bit.                 */

FIXTURE(borrow_flag)
{
	int fd;
	struct ownbuf_counts snap;
};

FIXTURE_VARIANT(borrow_flag)
{
	unsigned int bit;
};

FIXTURE_VARIANT_ADD(borrow_flag, bit4) { .bit = 4 };
FIXTURE_VARIANT_ADD(borrow_flag, bit5) { .bit = 5 };
FIXTURE_VARIANT_ADD(borrow_flag, bit6) { .bit = 6 };
FIXTURE_VARIANT_ADD(borrow_flag, bit7) { .bit = 7 };
FIXTURE_VARIANT_ADD(borrow_flag, bit8) { .bit = 8 };
FIXTURE_VARIANT_ADD(borrow_flag, bit9) { .bit = 9 };
FIXTURE_VARIANT_ADD(borrow_flag, bit10) { .bit = 10 };
FIXTURE_VARIANT_ADD(borrow_flag, bit11) { .bit = 11 };
FIXTURE_VARIANT_ADD(borrow_flag, bit12) { .bit = 12 };
FIXTURE_VARIANT_ADD(borrow_flag, bit13) { .bit = 13 };
FIXTURE_VARIANT_ADD(borrow_flag, bit14) { .bit = 14 };
FIXTURE_VARIANT_ADD(borrow_flag, bit15) { .bit = 15 };
FIXTURE_VARIANT_ADD(borrow_flag, bit16) { .bit = 16 };
FIXTURE_VARIANT_ADD(borrow_flag, bit17) { .bit = 17 };
FIXTURE_VARIANT_ADD(borrow_flag, bit18) { .bit = 18 };
FIXTURE_VARIANT_ADD(borrow_flag, bit19) { .bit = 19 };
FIXTURE_VARIANT_ADD(borrow_flag, bit20) { .bit = 20 };
FIXTURE_VARIANT_ADD(borrow_flag, bit21) { .bit = 21 };
FIXTURE_VARIANT_ADD(borrow_flag, bit22) { .bit = 22 };
FIXTURE_VARIANT_ADD(borrow_flag, bit23) { .bit = 23 };
FIXTURE_VARIANT_ADD(borrow_flag, bit24) { .bit = 24 };
FIXTURE_VARIANT_ADD(borrow_flag, bit25) { .bit = 25 };
FIXTURE_VARIANT_ADD(borrow_flag, bit26) { .bit = 26 };
FIXTURE_VARIANT_ADD(borrow_flag, bit27) { .bit = 27 };
FIXTURE_VARIANT_ADD(borrow_flag, bit28) { .bit = 28 };
FIXTURE_VARIANT_ADD(borrow_flag, bit29) { .bit = 29 };
FIXTURE_VARIANT_ADD(borrow_flag, bit30) { .bit = 30 };
FIXTURE_VARIANT_ADD(borrow_flag, bit31) { .bit = 31 };

FIXTURE_SETUP(borrow_flag)
{
	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	self->fd = ownbuf_open();
	ASSERT_LE(0, self->fd);
	SNAPSHOT(&self->snap);
}

FIXTURE_TEARDOWN(borrow_flag)
{
	close(self->fd);
}

TEST_F(borrow_flag, shared_is_einval)
{
	struct ob_info info;
	int next = ownbuf_next_fd();

	EXPECT_ERRNO(EINVAL, ownbuf_borrow(self->fd, OWNBUF_BORROW_SHARED |
					   1U << variant->bit));
	EXPECT_EQ(next, ownbuf_next_fd());
	ASSERT_EQ(0, ownbuf_info(self->fd, &info));
	EXPECT_EQ(0, info.shared);
	EXPECT_DELTA(&self->snap);
}

TEST_F(borrow_flag, mut_wait_cloexec_is_einval)
{
	struct ob_info info;

	EXPECT_ERRNO(EINVAL, ownbuf_borrow(self->fd, OWNBUF_BORROW_MUT |
					   OWNBUF_BORROW_WAIT |
					   OWNBUF_BORROW_CLOEXEC |
					   1U << variant->bit));
	ASSERT_EQ(0, ownbuf_info(self->fd, &info));
	EXPECT_EQ(0, info.mut);
	EXPECT_DELTA(&self->snap);
}

/* ------------------------------------------------------------------ */
/* Each unknown flag bit of MOVE, one test per bit.                   */

FIXTURE(move_flag)
{
	int fd;
	struct ownbuf_counts snap;
};

FIXTURE_VARIANT(move_flag)
{
	unsigned int bit;
};

FIXTURE_VARIANT_ADD(move_flag, bit1) { .bit = 1 };
FIXTURE_VARIANT_ADD(move_flag, bit2) { .bit = 2 };
FIXTURE_VARIANT_ADD(move_flag, bit3) { .bit = 3 };
FIXTURE_VARIANT_ADD(move_flag, bit4) { .bit = 4 };
FIXTURE_VARIANT_ADD(move_flag, bit5) { .bit = 5 };
FIXTURE_VARIANT_ADD(move_flag, bit6) { .bit = 6 };
FIXTURE_VARIANT_ADD(move_flag, bit7) { .bit = 7 };
FIXTURE_VARIANT_ADD(move_flag, bit8) { .bit = 8 };
FIXTURE_VARIANT_ADD(move_flag, bit9) { .bit = 9 };
FIXTURE_VARIANT_ADD(move_flag, bit10) { .bit = 10 };
FIXTURE_VARIANT_ADD(move_flag, bit11) { .bit = 11 };
FIXTURE_VARIANT_ADD(move_flag, bit12) { .bit = 12 };
FIXTURE_VARIANT_ADD(move_flag, bit13) { .bit = 13 };
FIXTURE_VARIANT_ADD(move_flag, bit14) { .bit = 14 };
FIXTURE_VARIANT_ADD(move_flag, bit15) { .bit = 15 };
FIXTURE_VARIANT_ADD(move_flag, bit16) { .bit = 16 };
FIXTURE_VARIANT_ADD(move_flag, bit17) { .bit = 17 };
FIXTURE_VARIANT_ADD(move_flag, bit18) { .bit = 18 };
FIXTURE_VARIANT_ADD(move_flag, bit19) { .bit = 19 };
FIXTURE_VARIANT_ADD(move_flag, bit20) { .bit = 20 };
FIXTURE_VARIANT_ADD(move_flag, bit21) { .bit = 21 };
FIXTURE_VARIANT_ADD(move_flag, bit22) { .bit = 22 };
FIXTURE_VARIANT_ADD(move_flag, bit23) { .bit = 23 };
FIXTURE_VARIANT_ADD(move_flag, bit24) { .bit = 24 };
FIXTURE_VARIANT_ADD(move_flag, bit25) { .bit = 25 };
FIXTURE_VARIANT_ADD(move_flag, bit26) { .bit = 26 };
FIXTURE_VARIANT_ADD(move_flag, bit27) { .bit = 27 };
FIXTURE_VARIANT_ADD(move_flag, bit28) { .bit = 28 };
FIXTURE_VARIANT_ADD(move_flag, bit29) { .bit = 29 };
FIXTURE_VARIANT_ADD(move_flag, bit30) { .bit = 30 };
FIXTURE_VARIANT_ADD(move_flag, bit31) { .bit = 31 };

FIXTURE_SETUP(move_flag)
{
	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	self->fd = ownbuf_open();
	ASSERT_LE(0, self->fd);
	SNAPSHOT(&self->snap);
}

FIXTURE_TEARDOWN(move_flag)
{
	close(self->fd);
}

TEST_F(move_flag, is_einval)
{
	int next = ownbuf_next_fd();

	EXPECT_ERRNO(EINVAL, ownbuf_move(self->fd, 1U << variant->bit));
	EXPECT_EQ(next, ownbuf_next_fd());
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(self->fd));
	EXPECT_DELTA(&self->snap);
}

TEST_F(move_flag, with_cloexec_is_einval)
{
	EXPECT_ERRNO(EINVAL, ownbuf_move(self->fd, OWNBUF_MOVE_CLOEXEC |
					 1U << variant->bit));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(self->fd));
	EXPECT_DELTA(&self->snap);
}

/* ------------------------------------------------------------------ */
/* The owner-only ioctls on a live borrow: -EPERM, uncounted.         */

FIXTURE(role)
{
	int owner;
	int fd;
	struct ownbuf_counts snap;
};

FIXTURE_VARIANT(role)
{
	__u32 flags;
	int role;
};

FIXTURE_VARIANT_ADD(role, shared)
{
	.flags = OWNBUF_BORROW_SHARED,
	.role = OWNBUF_ROLE_SHARED,
};

FIXTURE_VARIANT_ADD(role, mut)
{
	.flags = OWNBUF_BORROW_MUT,
	.role = OWNBUF_ROLE_MUT,
};

FIXTURE_SETUP(role)
{
	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	self->owner = ownbuf_open();
	ASSERT_LE(0, self->owner);
	self->fd = ownbuf_borrow(self->owner, variant->flags);
	ASSERT_LE(0, self->fd);
	SNAPSHOT(&self->snap);
}

FIXTURE_TEARDOWN(role)
{
	close(self->fd);
	close(self->owner);
}

TEST_F(role, info_works)
{
	struct ob_info info;

	ASSERT_EQ(0, ownbuf_info(self->fd, &info));
	EXPECT_EQ(variant->role, info.role);
	EXPECT_EQ(OWNBUF_STATE_LIVE, info.state);
	EXPECT_EQ(ownbuf_id(self->owner), info.id);
	EXPECT_DELTA(&self->snap);
}

TEST_F(role, borrow_is_eperm)
{
	EXPECT_ERRNO(EPERM, ownbuf_borrow(self->fd, OWNBUF_BORROW_SHARED));
	EXPECT_ERRNO(EPERM, ownbuf_borrow(self->fd, OWNBUF_BORROW_MUT));
	EXPECT_DELTA(&self->snap);
}

TEST_F(role, borrow_null_is_eperm)
{
	EXPECT_ERRNO(EPERM, ioctl(self->fd, OWNBUF_IOC_BORROW, NULL));
	EXPECT_DELTA(&self->snap);
}

TEST_F(role, borrow_bad_flags_is_eperm)
{
	EXPECT_ERRNO(EPERM, ownbuf_borrow(self->fd, ~0U));
	EXPECT_DELTA(&self->snap);
}

TEST_F(role, drop_is_eperm)
{
	EXPECT_ERRNO(EPERM, ownbuf_drop(self->fd));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(self->fd));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(self->owner));
	EXPECT_DELTA(&self->snap);
}

TEST_F(role, move_is_eperm)
{
	EXPECT_ERRNO(EPERM, ownbuf_move(self->fd, 0));
	EXPECT_DELTA(&self->snap);
}

TEST_F(role, move_null_is_eperm)
{
	EXPECT_ERRNO(EPERM, ioctl(self->fd, OWNBUF_IOC_MOVE, NULL));
	EXPECT_DELTA(&self->snap);
}

TEST_F(role, resize_is_eperm)
{
	EXPECT_ERRNO(EPERM, ownbuf_resize(self->fd, 8192));
	EXPECT_EQ(OWNBUF_DEFAULT_SIZE, ownbuf_size(self->owner));
	EXPECT_DELTA(&self->snap);
}

TEST_F(role, resize_null_is_eperm)
{
	EXPECT_ERRNO(EPERM, ioctl(self->fd, OWNBUF_IOC_RESIZE, NULL));
	EXPECT_DELTA(&self->snap);
}

TEST_F(role, resize_zero_is_eperm)
{
	EXPECT_ERRNO(EPERM, ownbuf_resize(self->fd, 0));
	EXPECT_DELTA(&self->snap);
}

TEST_F(role, unknown_ioctl_is_enotty)
{
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO(OWNBUF_IOC_MAGIC, 0x06)));
	EXPECT_DELTA(&self->snap);
}

TEST_F(role, info_null_is_null_deref)
{
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, OWNBUF_IOC_INFO, NULL));
	EXPECT_DELTA(&self->snap, [V_NULL_DEREF] = 1);
}

TEST_HARNESS_MAIN
