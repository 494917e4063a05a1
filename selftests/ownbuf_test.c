// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/ownbuf: the ownership rules and the ioctl contract
 * (Documentation/userspace-api/ownbuf.rst sections 1, 3 and 6).  Every test
 * breaks one rule on purpose and checks the errno and the exact delta of
 * all six violation counters.
 */
#include <stddef.h>
#include <sys/resource.h>
#include <sys/uio.h>

#include "ownbuf_owner.h"

TEST_F(owner, info_of_a_new_buffer)
{
	struct ob_info info;

	ASSERT_RET(0, ownbuf_info(self->fd, &info));
	EXPECT_EQ(OWNBUF_DEFAULT_SIZE, info.size);
	EXPECT_NE(0, info.id);
	EXPECT_EQ(OWNBUF_ROLE_OWNER, info.role);
	EXPECT_EQ(OWNBUF_STATE_LIVE, info.state);
	EXPECT_EQ(0, info.shared);
	EXPECT_EQ(0, info.mut);
	/* ownbuf.rst section 3: the id is never a kernel address. */
	EXPECT_EQ(0, info.id >> 47);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, new_buffer_reads_zero)
{
	EXPECT_EQ(1, ownbuf_check(self->fd, 0, OWNBUF_DEFAULT_SIZE, 0));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, every_open_is_a_new_buffer)
{
	long long ids[4];
	int fds[4], i, j;

	ASSERT_EQ(0, ownbuf_fill(self->fd, 0, 16, 'x'));
	for (i = 0; i < 4; i++) {
		fds[i] = ownbuf_open();
		ASSERT_LE(0, fds[i]);
		ids[i] = ownbuf_id(fds[i]);
		EXPECT_NE(0, ids[i]);
		EXPECT_NE(ownbuf_id(self->fd), ids[i]);
		/* Not the data of another buffer: a new one, zero-filled. */
		EXPECT_EQ(1, ownbuf_check(fds[i], 0, 16, 0));
	}
	for (i = 0; i < 4; i++)
		for (j = i + 1; j < 4; j++)
			EXPECT_NE(ids[i], ids[j]);
	for (i = 0; i < 4; i++)
		close(fds[i]);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, freed_memory_is_zeroed_for_the_next_buffer)
{
	int i, fd;

	ASSERT_EQ(0, ownbuf_resize(self->fd, 64 << 10));
	ASSERT_EQ(0, ownbuf_fill(self->fd, 0, 64 << 10, 0xff));
	ASSERT_EQ(0, ownbuf_drop(self->fd));
	for (i = 0; i < 4; i++) {
		fd = ownbuf_open();
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, ownbuf_resize(fd, 64 << 10));
		EXPECT_EQ(1, ownbuf_check(fd, 0, 64 << 10, 0));
		close(fd);
	}
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, ids_are_not_reused)
{
	long long first, second;
	int fd;

	fd = ownbuf_open();
	ASSERT_LE(0, fd);
	first = ownbuf_id(fd);
	close(fd);
	fd = ownbuf_open();
	ASSERT_LE(0, fd);
	second = ownbuf_id(fd);
	close(fd);
	EXPECT_NE(first, second);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, info_null_is_null_deref)
{
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, OWNBUF_IOC_INFO, NULL));
	EXPECT_DELTA(&self->snap, [V_NULL_DEREF] = 1);
}

TEST_F(owner, info_bad_pointer_is_efault_uncounted)
{
	void *ro = ownbuf_page(PROT_READ);

	ASSERT_NE(NULL, ro);
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, OWNBUF_IOC_INFO, ro));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, unknown_nr_is_enotty)
{
	struct ob_info info;

	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO(OWNBUF_IOC_MAGIC, 0x06)));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IOR(OWNBUF_IOC_MAGIC, 0x06,
						  struct ownbuf_info), &info));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO(OWNBUF_IOC_MAGIC, 0xff)));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, unknown_magic_is_enotty)
{
	int n;

	/* TCGETS and FIONREAD-style commands of other drivers. */
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO('T', 0x01), &n));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO(OWNBUF_IOC_MAGIC + 1, 0x02)));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, borrow_with_wrong_size_is_enotty)
{
	struct ob_info big = { 0 };

	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IOWR(OWNBUF_IOC_MAGIC, 0x00,
						   struct ownbuf_info), &big));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IOWR(OWNBUF_IOC_MAGIC, 0x00,
						   __u32), &big));
	EXPECT_EQ(0, ownbuf_info(self->fd, &big));
	EXPECT_EQ(0, big.shared + big.mut);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, borrow_with_wrong_direction_is_enotty)
{
	struct ownbuf_borrow arg = { .flags = OWNBUF_BORROW_SHARED };

	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IOR(OWNBUF_IOC_MAGIC, 0x00,
						  struct ownbuf_borrow), &arg));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IOW(OWNBUF_IOC_MAGIC, 0x00,
						  struct ownbuf_borrow), &arg));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO(OWNBUF_IOC_MAGIC, 0x00)));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, drop_with_an_argument_size_is_enotty)
{
	__u64 v = 0;

	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IOW(OWNBUF_IOC_MAGIC, 0x02,
						  __u64), &v));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(self->fd));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, resize_with_wrong_size_is_enotty)
{
	__u32 v = 8192;

	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IOW(OWNBUF_IOC_MAGIC, 0x04,
						  __u32), &v));
	EXPECT_EQ(OWNBUF_DEFAULT_SIZE, ownbuf_size(self->fd));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, release_on_owner_is_eperm)
{
	EXPECT_ERRNO(EPERM, ownbuf_release(self->fd));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(self->fd));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, mmap_of_owner_is_eperm)
{
	EXPECT_ERRNO(EPERM, mmap(NULL, OWNBUF_PAGE, PROT_READ, MAP_SHARED,
				 self->fd, 0));
	EXPECT_ERRNO(EPERM, mmap(NULL, OWNBUF_PAGE, PROT_READ | PROT_WRITE,
				 MAP_SHARED, self->fd, 0));
	EXPECT_DELTA(&self->snap);
}

/* --- BORROW argument validation --- */

TEST_F(owner, borrow_null_is_null_deref)
{
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, OWNBUF_IOC_BORROW, NULL));
	EXPECT_DELTA(&self->snap, [V_NULL_DEREF] = 1);
}

TEST_F(owner, borrow_unmapped_pointer_is_efault_uncounted)
{
	void *none = ownbuf_page(PROT_NONE);

	ASSERT_NE(NULL, none);
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, OWNBUF_IOC_BORROW, none));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, borrow_into_readonly_arg_lends_nothing)
{
	struct ownbuf_borrow *ro = ownbuf_page(PROT_READ | PROT_WRITE);
	struct ob_info info;
	int next = ownbuf_next_fd();

	ASSERT_NE(NULL, ro);
	ro->flags = OWNBUF_BORROW_MUT;
	ASSERT_EQ(0, mprotect(ro, OWNBUF_PAGE, PROT_READ));
	/* The fd cannot be returned: no borrow, no fd may be left behind. */
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, OWNBUF_IOC_BORROW, ro));
	ASSERT_EQ(0, ownbuf_info(self->fd, &info));
	EXPECT_EQ(0, info.mut);
	EXPECT_EQ(0, info.shared);
	EXPECT_EQ(next, ownbuf_next_fd());
	EXPECT_EQ(0, ownbuf_drop(self->fd));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, borrow_without_kind_is_einval)
{
	EXPECT_ERRNO(EINVAL, ownbuf_borrow(self->fd, 0));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, borrow_shared_and_mut_is_einval)
{
	EXPECT_ERRNO(EINVAL, ownbuf_borrow(self->fd, OWNBUF_BORROW_SHARED |
					   OWNBUF_BORROW_MUT));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, borrow_wait_without_kind_is_einval)
{
	EXPECT_ERRNO(EINVAL, ownbuf_borrow(self->fd, OWNBUF_BORROW_WAIT));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, borrow_cloexec_without_kind_is_einval)
{
	EXPECT_ERRNO(EINVAL, ownbuf_borrow(self->fd, OWNBUF_BORROW_CLOEXEC));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, borrow_all_flags_is_einval)
{
	EXPECT_ERRNO(EINVAL, ownbuf_borrow(self->fd, ~0U));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, borrow_bad_flags_before_conflict)
{
	int m = ownbuf_mut(self->fd);

	ASSERT_LE(0, m);
	/*
	 * ownbuf.rst section 3: invalid arguments are refused before
	 * conflicts.
	 */
	EXPECT_ERRNO(EINVAL, ownbuf_borrow(self->fd, OWNBUF_BORROW_SHARED |
					   1U << 31));
	EXPECT_ERRNO(EINVAL, ownbuf_borrow(self->fd, 0));
	close(m);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, borrow_ignores_the_input_fd)
{
	struct ownbuf_borrow arg = { .flags = OWNBUF_BORROW_SHARED,
				     .fd = 12345 };

	ASSERT_EQ(0, ioctl(self->fd, OWNBUF_IOC_BORROW, &arg));
	EXPECT_LE(0, arg.fd);
	EXPECT_NE(12345, arg.fd);
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(arg.fd));
	close(arg.fd);
	EXPECT_DELTA(&self->snap);
}

/* --- borrows --- */

TEST_F(owner, shared_borrow_info)
{
	struct ob_info oi, bi;
	int s;

	s = ownbuf_shared(self->fd);
	ASSERT_LE(0, s);
	ASSERT_EQ(0, ownbuf_info(self->fd, &oi));
	ASSERT_EQ(0, ownbuf_info(s, &bi));
	EXPECT_EQ(oi.id, bi.id);
	EXPECT_EQ(OWNBUF_DEFAULT_SIZE, bi.size);
	EXPECT_EQ(OWNBUF_ROLE_SHARED, bi.role);
	EXPECT_EQ(OWNBUF_STATE_LIVE, bi.state);
	EXPECT_EQ(1, oi.shared);
	EXPECT_EQ(0, oi.mut);
	EXPECT_EQ(1, bi.shared);
	EXPECT_EQ(0, bi.mut);
	close(s);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, mut_borrow_info)
{
	struct ob_info oi, bi;
	int m;

	m = ownbuf_mut(self->fd);
	ASSERT_LE(0, m);
	ASSERT_EQ(0, ownbuf_info(self->fd, &oi));
	ASSERT_EQ(0, ownbuf_info(m, &bi));
	EXPECT_EQ(oi.id, bi.id);
	EXPECT_EQ(OWNBUF_DEFAULT_SIZE, bi.size);
	EXPECT_EQ(OWNBUF_ROLE_MUT, bi.role);
	EXPECT_EQ(OWNBUF_STATE_LIVE, bi.state);
	EXPECT_EQ(0, oi.shared);
	EXPECT_EQ(1, oi.mut);
	EXPECT_EQ(1, bi.mut);
	close(m);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, many_shared_borrows)
{
	struct ob_info info;
	int s[8], i;

	for (i = 0; i < 8; i++) {
		s[i] = ownbuf_shared(self->fd);
		ASSERT_LE(0, s[i]);
	}
	ASSERT_EQ(0, ownbuf_info(self->fd, &info));
	EXPECT_EQ(8, info.shared);
	for (i = 0; i < 8; i++)
		close(s[i]);
	ASSERT_EQ(0, ownbuf_info(self->fd, &info));
	EXPECT_EQ(0, info.shared);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, borrow_returns_zero_and_fd)
{
	struct ownbuf_borrow arg = { .flags = OWNBUF_BORROW_MUT };

	EXPECT_EQ(0, ioctl(self->fd, OWNBUF_IOC_BORROW, &arg));
	EXPECT_LE(0, arg.fd);
	EXPECT_EQ(0, fcntl(arg.fd, F_GETFD) & FD_CLOEXEC);
	close(arg.fd);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, borrow_cloexec_sets_fd_cloexec)
{
	struct ownbuf_borrow arg = {
		.flags = OWNBUF_BORROW_SHARED | OWNBUF_BORROW_CLOEXEC,
	};

	ASSERT_EQ(0, ioctl(self->fd, OWNBUF_IOC_BORROW, &arg));
	EXPECT_EQ(FD_CLOEXEC, fcntl(arg.fd, F_GETFD) & FD_CLOEXEC);
	close(arg.fd);
	arg.flags = OWNBUF_BORROW_MUT | OWNBUF_BORROW_CLOEXEC;
	ASSERT_EQ(0, ioctl(self->fd, OWNBUF_IOC_BORROW, &arg));
	EXPECT_EQ(FD_CLOEXEC, fcntl(arg.fd, F_GETFD) & FD_CLOEXEC);
	close(arg.fd);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, shared_borrow_is_read_only)
{
	char c = 'x';
	int s;

	s = ownbuf_shared(self->fd);
	ASSERT_LE(0, s);
	EXPECT_EQ(O_RDONLY, fcntl(s, F_GETFL) & O_ACCMODE);
	/* ownbuf.rst section 4: -EBADF from the VFS, not counted. */
	EXPECT_ERRNO(EBADF, write(s, &c, 1));
	EXPECT_ERRNO(EBADF, pwrite(s, &c, 1, 0));
	close(s);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, mut_borrow_is_read_write)
{
	int m;

	m = ownbuf_mut(self->fd);
	ASSERT_LE(0, m);
	EXPECT_EQ(O_RDWR, fcntl(m, F_GETFL) & O_ACCMODE);
	EXPECT_EQ(0, ownbuf_fill(m, 0, 100, 'm'));
	EXPECT_EQ(1, ownbuf_check(m, 0, 100, 'm'));
	close(m);
	EXPECT_EQ(1, ownbuf_check(self->fd, 0, 100, 'm'));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, shared_while_mut_is_data_race)
{
	int m = ownbuf_mut(self->fd);

	ASSERT_LE(0, m);
	EXPECT_ERRNO(EBUSY, ownbuf_shared(self->fd));
	close(m);
	EXPECT_DELTA(&self->snap, [V_DATA_RACE] = 1);
}

TEST_F(owner, mut_while_shared_is_data_race)
{
	int s = ownbuf_shared(self->fd);

	ASSERT_LE(0, s);
	EXPECT_ERRNO(EBUSY, ownbuf_mut(self->fd));
	close(s);
	EXPECT_DELTA(&self->snap, [V_DATA_RACE] = 1);
}

TEST_F(owner, mut_while_mut_is_data_race)
{
	int m = ownbuf_mut(self->fd);

	ASSERT_LE(0, m);
	EXPECT_ERRNO(EBUSY, ownbuf_mut(self->fd));
	close(m);
	EXPECT_DELTA(&self->snap, [V_DATA_RACE] = 1);
}

TEST_F(owner, refused_borrow_leaves_no_fd)
{
	int m = ownbuf_mut(self->fd);
	int next = ownbuf_next_fd();
	struct ob_info info;

	ASSERT_LE(0, m);
	EXPECT_ERRNO(EBUSY, ownbuf_mut(self->fd));
	EXPECT_EQ(next, ownbuf_next_fd());
	ASSERT_EQ(0, ownbuf_info(self->fd, &info));
	EXPECT_EQ(1, info.mut);
	EXPECT_EQ(0, info.shared);
	close(m);
	EXPECT_DELTA(&self->snap, [V_DATA_RACE] = 1);
}

TEST_F(owner, borrow_after_release_is_granted)
{
	int s = ownbuf_shared(self->fd);
	int m;

	ASSERT_LE(0, s);
	ASSERT_EQ(0, ownbuf_release(s));
	m = ownbuf_mut(self->fd);
	EXPECT_LE(0, m);
	close(m);
	close(s);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, borrow_after_close_is_granted)
{
	int m = ownbuf_mut(self->fd);
	int s;

	ASSERT_LE(0, m);
	close(m);
	s = ownbuf_shared(self->fd);
	EXPECT_LE(0, s);
	close(s);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, release_returns_the_borrow)
{
	struct ob_info info;
	int m = ownbuf_mut(self->fd);

	ASSERT_LE(0, m);
	EXPECT_EQ(0, ownbuf_release(m));
	ASSERT_EQ(0, ownbuf_info(m, &info));
	EXPECT_EQ(OWNBUF_STATE_RELEASED, info.state);
	EXPECT_EQ(OWNBUF_ROLE_MUT, info.role);
	EXPECT_EQ(0, info.size);
	ASSERT_EQ(0, ownbuf_info(self->fd, &info));
	EXPECT_EQ(0, info.mut);
	close(m);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, release_twice_is_double_free)
{
	int s = ownbuf_shared(self->fd);

	ASSERT_LE(0, s);
	EXPECT_EQ(0, ownbuf_release(s));
	EXPECT_ERRNO(ESTALE, ownbuf_release(s));
	close(s);
	EXPECT_DELTA(&self->snap, [V_DOUBLE_FREE] = 1);
}

TEST_F(owner, release_one_shared_keeps_the_others)
{
	struct ob_info info;
	int a = ownbuf_shared(self->fd);
	int b = ownbuf_shared(self->fd);
	char c;

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	EXPECT_EQ(0, ownbuf_release(a));
	ASSERT_EQ(0, ownbuf_info(self->fd, &info));
	EXPECT_EQ(1, info.shared);
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(b));
	EXPECT_EQ(1, pread(b, &c, 1, 0));
	close(a);
	close(b);
	EXPECT_DELTA(&self->snap);
}

/* --- owner access while lent (ownbuf.rst section 1 rule 2, section 4) --- */

TEST_F(owner, owner_reads_while_shared)
{
	int s = ownbuf_shared(self->fd);

	ASSERT_LE(0, s);
	EXPECT_EQ(1, ownbuf_check(self->fd, 0, OWNBUF_DEFAULT_SIZE, 0));
	close(s);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, owner_write_while_shared_is_data_race)
{
	char c = 'w';
	int s = ownbuf_shared(self->fd);

	ASSERT_LE(0, s);
	EXPECT_ERRNO(EBUSY, pwrite(self->fd, &c, 1, 0));
	EXPECT_EQ(1, ownbuf_check(s, 0, 1, 0));
	close(s);
	EXPECT_DELTA(&self->snap, [V_DATA_RACE] = 1);
}

TEST_F(owner, owner_read_while_mut_is_data_race)
{
	char c;
	int m = ownbuf_mut(self->fd);

	ASSERT_LE(0, m);
	EXPECT_ERRNO(EBUSY, pread(self->fd, &c, 1, 0));
	close(m);
	EXPECT_DELTA(&self->snap, [V_DATA_RACE] = 1);
}

TEST_F(owner, owner_write_while_mut_is_data_race)
{
	char c = 'w';
	int m = ownbuf_mut(self->fd);

	ASSERT_LE(0, m);
	EXPECT_ERRNO(EBUSY, write(self->fd, &c, 1));
	/* Nothing was written, and the file position did not move. */
	EXPECT_EQ(0, lseek(self->fd, 0, SEEK_CUR));
	EXPECT_EQ(1, ownbuf_check(m, 0, 1, 0));
	close(m);
	EXPECT_DELTA(&self->snap, [V_DATA_RACE] = 1);
}

TEST_F(owner, owner_zero_length_access_while_mut_is_zero)
{
	char c = 0;
	int m = ownbuf_mut(self->fd);

	ASSERT_LE(0, m);
	/*
	 * ownbuf.rst section 3: a zero-length access returns 0 once the state
	 * check passed.
	 */
	EXPECT_EQ(0, write(self->fd, &c, 0));
	EXPECT_EQ(0, read(self->fd, &c, 0));
	close(m);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, owner_writes_again_after_borrows_end)
{
	int s = ownbuf_shared(self->fd);

	ASSERT_LE(0, s);
	close(s);
	EXPECT_EQ(0, ownbuf_fill(self->fd, 0, 10, 'o'));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, shared_borrow_sees_owner_data)
{
	int s;

	ASSERT_EQ(0, ownbuf_fill(self->fd, 0, OWNBUF_DEFAULT_SIZE, 'q'));
	s = ownbuf_shared(self->fd);
	ASSERT_LE(0, s);
	EXPECT_EQ(1, ownbuf_check(s, 0, OWNBUF_DEFAULT_SIZE, 'q'));
	close(s);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, mut_borrow_writes_reach_the_owner)
{
	int m = ownbuf_mut(self->fd);

	ASSERT_LE(0, m);
	ASSERT_EQ(0, ownbuf_fill(m, 10, 20, 'z'));
	ASSERT_EQ(0, ownbuf_release(m));
	EXPECT_EQ(1, ownbuf_check(self->fd, 0, 10, 0));
	EXPECT_EQ(1, ownbuf_check(self->fd, 10, 20, 'z'));
	EXPECT_EQ(1, ownbuf_check(self->fd, 30, 100, 0));
	close(m);
	EXPECT_DELTA(&self->snap);
}

/* --- DROP --- */

TEST_F(owner, drop_leaves_a_dropped_fd)
{
	struct ob_info before, after;

	ASSERT_EQ(0, ownbuf_info(self->fd, &before));
	EXPECT_EQ(0, ownbuf_drop(self->fd));
	ASSERT_EQ(0, ownbuf_info(self->fd, &after));
	EXPECT_EQ(before.id, after.id);
	EXPECT_EQ(OWNBUF_ROLE_OWNER, after.role);
	EXPECT_EQ(OWNBUF_STATE_DROPPED, after.state);
	EXPECT_EQ(0, after.size);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, drop_twice_is_double_free)
{
	EXPECT_EQ(0, ownbuf_drop(self->fd));
	EXPECT_ERRNO(ESTALE, ownbuf_drop(self->fd));
	EXPECT_DELTA(&self->snap, [V_DOUBLE_FREE] = 1);
}

TEST_F(owner, drop_while_shared_is_dangling_borrow)
{
	int s = ownbuf_shared(self->fd);

	ASSERT_LE(0, s);
	EXPECT_ERRNO(EBUSY, ownbuf_drop(self->fd));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(self->fd));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(s));
	EXPECT_EQ(1, ownbuf_check(s, 0, 16, 0));
	close(s);
	EXPECT_DELTA(&self->snap, [V_DANGLING_BORROW] = 1);
}

TEST_F(owner, drop_while_mut_is_dangling_borrow)
{
	int m = ownbuf_mut(self->fd);

	ASSERT_LE(0, m);
	EXPECT_ERRNO(EBUSY, ownbuf_drop(self->fd));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(self->fd));
	EXPECT_EQ(0, ownbuf_fill(m, 0, 16, 'm'));
	close(m);
	EXPECT_DELTA(&self->snap, [V_DANGLING_BORROW] = 1);
}

TEST_F(owner, drop_after_release_succeeds)
{
	int s = ownbuf_shared(self->fd);

	ASSERT_LE(0, s);
	ASSERT_EQ(0, ownbuf_release(s));
	EXPECT_EQ(0, ownbuf_drop(self->fd));
	close(s);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, drop_with_a_released_borrow_open_succeeds)
{
	int m = ownbuf_mut(self->fd);

	ASSERT_LE(0, m);
	ASSERT_EQ(0, ownbuf_release(m));
	EXPECT_EQ(0, ownbuf_drop(self->fd));
	/* The released borrow stays released, not revoked. */
	EXPECT_EQ(OWNBUF_STATE_RELEASED, ownbuf_state(m));
	close(m);
	EXPECT_DELTA(&self->snap);
}

/* --- MOVE --- */

TEST_F(owner, move_gives_a_new_live_owner)
{
	struct ob_info old, new;
	int n;

	ASSERT_EQ(0, ownbuf_fill(self->fd, 0, 64, 'v'));
	ASSERT_EQ(0, ownbuf_info(self->fd, &old));
	n = ownbuf_move(self->fd, 0);
	ASSERT_LE(0, n);
	EXPECT_NE(self->fd, n);
	ASSERT_EQ(0, ownbuf_info(n, &new));
	EXPECT_EQ(old.id, new.id);
	EXPECT_EQ(old.size, new.size);
	EXPECT_EQ(OWNBUF_ROLE_OWNER, new.role);
	EXPECT_EQ(OWNBUF_STATE_LIVE, new.state);
	ASSERT_EQ(0, ownbuf_info(self->fd, &old));
	EXPECT_EQ(new.id, old.id);
	EXPECT_EQ(OWNBUF_ROLE_OWNER, old.role);
	EXPECT_EQ(OWNBUF_STATE_MOVED, old.state);
	EXPECT_EQ(0, old.size);
	EXPECT_EQ(1, ownbuf_check(n, 0, 64, 'v'));
	close(n);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, move_returns_zero_and_fd)
{
	struct ownbuf_move arg = { .flags = 0, .fd = -1 };

	EXPECT_EQ(0, ioctl(self->fd, OWNBUF_IOC_MOVE, &arg));
	EXPECT_LE(0, arg.fd);
	EXPECT_EQ(0, fcntl(arg.fd, F_GETFD) & FD_CLOEXEC);
	close(arg.fd);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, move_cloexec_sets_fd_cloexec)
{
	int n = ownbuf_move(self->fd, OWNBUF_MOVE_CLOEXEC);

	ASSERT_LE(0, n);
	EXPECT_EQ(FD_CLOEXEC, fcntl(n, F_GETFD) & FD_CLOEXEC);
	close(n);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, move_keeps_the_access_mode)
{
	int n = ownbuf_move(self->fd, 0);

	ASSERT_LE(0, n);
	EXPECT_EQ(O_RDWR, fcntl(n, F_GETFL) & O_ACCMODE);
	EXPECT_EQ(0, ownbuf_fill(n, 0, 1, 'a'));
	close(n);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, move_chain_keeps_the_id)
{
	long long id = ownbuf_id(self->fd);
	int a, b, c;

	a = ownbuf_move(self->fd, OWNBUF_MOVE_CLOEXEC);
	ASSERT_LE(0, a);
	b = ownbuf_move(a, OWNBUF_MOVE_CLOEXEC);
	ASSERT_LE(0, b);
	c = ownbuf_move(b, OWNBUF_MOVE_CLOEXEC);
	ASSERT_LE(0, c);
	EXPECT_EQ(id, ownbuf_id(c));
	EXPECT_EQ(OWNBUF_STATE_MOVED, ownbuf_state(a));
	EXPECT_EQ(OWNBUF_STATE_MOVED, ownbuf_state(b));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(c));
	close(a);
	close(b);
	close(c);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, moved_owner_lends_and_drops)
{
	int n = ownbuf_move(self->fd, OWNBUF_MOVE_CLOEXEC);
	int s;

	ASSERT_LE(0, n);
	s = ownbuf_shared(n);
	ASSERT_LE(0, s);
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(s));
	close(s);
	EXPECT_EQ(0, ownbuf_drop(n));
	close(n);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, closing_the_moved_fd_keeps_the_buffer)
{
	int n = ownbuf_move(self->fd, OWNBUF_MOVE_CLOEXEC);
	int s;

	ASSERT_LE(0, n);
	s = ownbuf_shared(n);
	ASSERT_LE(0, s);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(n));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(s));
	close(s);
	close(n);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, move_while_shared_is_dangling_borrow)
{
	int s = ownbuf_shared(self->fd);

	ASSERT_LE(0, s);
	EXPECT_ERRNO(EBUSY, ownbuf_move(self->fd, 0));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(self->fd));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(s));
	close(s);
	EXPECT_DELTA(&self->snap, [V_DANGLING_BORROW] = 1);
}

TEST_F(owner, move_while_mut_is_dangling_borrow)
{
	int m = ownbuf_mut(self->fd);
	int next;

	ASSERT_LE(0, m);
	next = ownbuf_next_fd();
	EXPECT_ERRNO(EBUSY, ownbuf_move(self->fd, 0));
	EXPECT_EQ(next, ownbuf_next_fd());
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(self->fd));
	close(m);
	EXPECT_DELTA(&self->snap, [V_DANGLING_BORROW] = 1);
}

TEST_F(owner, move_null_is_null_deref)
{
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, OWNBUF_IOC_MOVE, NULL));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(self->fd));
	EXPECT_DELTA(&self->snap, [V_NULL_DEREF] = 1);
}

TEST_F(owner, move_unmapped_pointer_is_efault_uncounted)
{
	void *none = ownbuf_page(PROT_NONE);

	ASSERT_NE(NULL, none);
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, OWNBUF_IOC_MOVE, none));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(self->fd));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, move_into_readonly_arg_moves_nothing)
{
	struct ownbuf_move *ro = ownbuf_page(PROT_READ);
	int next = ownbuf_next_fd();

	ASSERT_NE(NULL, ro);
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, OWNBUF_IOC_MOVE, ro));
	/* The new fd could not be returned: the old owner must stay LIVE. */
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(self->fd));
	EXPECT_EQ(next, ownbuf_next_fd());
	EXPECT_EQ(0, ownbuf_fill(self->fd, 0, 1, 'l'));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, move_all_flags_is_einval)
{
	EXPECT_ERRNO(EINVAL, ownbuf_move(self->fd, ~0U));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(self->fd));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, move_bad_flags_before_conflict)
{
	int s = ownbuf_shared(self->fd);

	ASSERT_LE(0, s);
	EXPECT_ERRNO(EINVAL, ownbuf_move(self->fd, 1U << 1));
	close(s);
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, move_ignores_the_input_fd)
{
	struct ownbuf_move arg = { .flags = 0, .fd = 4321 };

	ASSERT_EQ(0, ioctl(self->fd, OWNBUF_IOC_MOVE, &arg));
	EXPECT_LE(0, arg.fd);
	EXPECT_NE(4321, arg.fd);
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(arg.fd));
	close(arg.fd);
	EXPECT_DELTA(&self->snap);
}

/* --- RESIZE --- */

TEST_F(owner, resize_grow_reads_zero)
{
	ASSERT_EQ(0, ownbuf_fill(self->fd, 0, OWNBUF_DEFAULT_SIZE, 'g'));
	ASSERT_EQ(0, ownbuf_resize(self->fd, 3 * OWNBUF_DEFAULT_SIZE + 5));
	EXPECT_EQ(3 * OWNBUF_DEFAULT_SIZE + 5, ownbuf_size(self->fd));
	EXPECT_EQ(1, ownbuf_check(self->fd, 0, OWNBUF_DEFAULT_SIZE, 'g'));
	EXPECT_EQ(1, ownbuf_check(self->fd, OWNBUF_DEFAULT_SIZE,
				  2 * OWNBUF_DEFAULT_SIZE + 5, 0));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, resize_shrink_then_grow_reads_zero)
{
	ASSERT_EQ(0, ownbuf_fill(self->fd, 0, OWNBUF_DEFAULT_SIZE, 0xaa));
	ASSERT_EQ(0, ownbuf_resize(self->fd, 100));
	EXPECT_EQ(100, ownbuf_size(self->fd));
	ASSERT_EQ(0, ownbuf_resize(self->fd, OWNBUF_DEFAULT_SIZE));
	EXPECT_EQ(1, ownbuf_check(self->fd, 0, 100, 0xaa));
	EXPECT_EQ(1, ownbuf_check(self->fd, 100, OWNBUF_DEFAULT_SIZE - 100,
				  0));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, resize_across_pages_keeps_data)
{
	ASSERT_EQ(0, ownbuf_fill(self->fd, 0, OWNBUF_DEFAULT_SIZE, 0x5c));
	ASSERT_EQ(0, ownbuf_resize(self->fd, 1 << 20));
	ASSERT_EQ(0, ownbuf_resize(self->fd, 10));
	ASSERT_EQ(0, ownbuf_resize(self->fd, 3 << 20));
	EXPECT_EQ(1, ownbuf_check(self->fd, 0, 10, 0x5c));
	EXPECT_EQ(1, ownbuf_check(self->fd, 10, (3 << 20) - 10, 0));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, resize_to_one_byte)
{
	char c[2];

	ASSERT_EQ(0, ownbuf_resize(self->fd, 1));
	EXPECT_EQ(1, pread(self->fd, c, 2, 0));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, resize_zero_is_einval_uncounted)
{
	EXPECT_ERRNO(EINVAL, ownbuf_resize(self->fd, 0));
	EXPECT_EQ(OWNBUF_DEFAULT_SIZE, ownbuf_size(self->fd));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, resize_over_max_size_is_efbig_uncounted)
{
	long long max = ownbuf_param_get("max_size");

	ASSERT_LT(0, max);
	EXPECT_ERRNO(EFBIG, ownbuf_resize(self->fd, max + 1));
	EXPECT_EQ(OWNBUF_DEFAULT_SIZE, ownbuf_size(self->fd));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, resize_huge_is_efbig_uncounted)
{
	EXPECT_ERRNO(EFBIG, ownbuf_resize(self->fd, ~0ULL));
	EXPECT_ERRNO(EFBIG, ownbuf_resize(self->fd, 1ULL << 63));
	EXPECT_ERRNO(EFBIG, ownbuf_resize(self->fd, 1ULL << 40));
	EXPECT_EQ(OWNBUF_DEFAULT_SIZE, ownbuf_size(self->fd));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, resize_null_is_null_deref)
{
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, OWNBUF_IOC_RESIZE, NULL));
	EXPECT_DELTA(&self->snap, [V_NULL_DEREF] = 1);
}

TEST_F(owner, resize_unmapped_pointer_is_efault_uncounted)
{
	void *none = ownbuf_page(PROT_NONE);

	ASSERT_NE(NULL, none);
	EXPECT_ERRNO(EFAULT, ioctl(self->fd, OWNBUF_IOC_RESIZE, none));
	EXPECT_DELTA(&self->snap);
}

TEST_F(owner, resize_while_shared_is_dangling_borrow)
{
	int s = ownbuf_shared(self->fd);

	ASSERT_LE(0, s);
	EXPECT_ERRNO(EBUSY, ownbuf_resize(self->fd, 8192));
	EXPECT_EQ(OWNBUF_DEFAULT_SIZE, ownbuf_size(self->fd));
	close(s);
	EXPECT_DELTA(&self->snap, [V_DANGLING_BORROW] = 1);
}

TEST_F(owner, resize_while_mut_is_dangling_borrow)
{
	int m = ownbuf_mut(self->fd);

	ASSERT_LE(0, m);
	EXPECT_ERRNO(EBUSY, ownbuf_resize(self->fd, 100));
	EXPECT_EQ(OWNBUF_DEFAULT_SIZE, ownbuf_size(m));
	close(m);
	EXPECT_DELTA(&self->snap, [V_DANGLING_BORROW] = 1);
}

TEST_F(owner, resize_invalid_before_conflict)
{
	int s = ownbuf_shared(self->fd);

	ASSERT_LE(0, s);
	/* ownbuf.rst section 3: -EINVAL/-EFBIG come before -EBUSY. */
	EXPECT_ERRNO(EINVAL, ownbuf_resize(self->fd, 0));
	EXPECT_ERRNO(EFBIG, ownbuf_resize(self->fd, ~0ULL));
	close(s);
	EXPECT_DELTA(&self->snap);
}

TEST_HARNESS_MAIN
