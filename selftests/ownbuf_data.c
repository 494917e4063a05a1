// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/ownbuf: the data path (Documentation/userspace-api/ownbuf.rst
 * section 4).  read/write/pread/pwrite, readv/writev, lseek and the bounds
 * of [0, size), through the owner and through borrows, for several buffer
 * sizes; NULL and bad user pointers.  (An access held in flight by
 * userfaultfd is ownbuf_held.c.)
 */
#include <limits.h>
#include <sys/uio.h>

#include "ownbuf_util.h"

static unsigned char pattern(long long i)
{
	return (i * 7 + 3) ^ (i >> 8);
}

static void *pattern_buf(long long off, size_t len)
{
	unsigned char *p = malloc(len ? len : 1);
	size_t i;

	if (p)
		for (i = 0; i < len; i++)
			p[i] = pattern(off + i);
	return p;
}

static bool is_pattern(const void *buf, long long off, size_t len)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != pattern(off + i))
			return false;
	return true;
}

static void *page_with(int prot)
{
	void *p = mmap(NULL, OWNBUF_PAGE, prot, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * The fixtures' buffer: @size bytes filled with pattern(), its owner in
 * *@owner; and in *@buf, @size bytes and two pages of scratch memory.
 */
static void open_pattern(struct __test_metadata *_metadata, long long size,
			 int *owner, unsigned char **buf)
{
	void *pat;

	*buf = malloc(size + 2 * OWNBUF_PAGE);
	ASSERT_NE(NULL, *buf);
	*owner = ownbuf_open();
	ASSERT_LE(0, *owner);
	if (size != OWNBUF_DEFAULT_SIZE)
		ASSERT_EQ(0, ownbuf_resize(*owner, size));
	pat = pattern_buf(0, size);
	ASSERT_NE(NULL, pat);
	ASSERT_EQ(size, pwrite(*owner, pat, size, 0));
	free(pat);
}

/* ------------------------------------------------------------------ */
/*
 * A writable fd (the owner, or a mut borrow with the owner kept open) on a
 * buffer of a given size, filled with pattern().
 */

FIXTURE(rw)
{
	int owner;
	int fd;
	long long size;
	unsigned char *buf;	/* size + 2 pages of scratch */
	struct ownbuf_counts snap;
};

FIXTURE_VARIANT(rw)
{
	long long size;
	bool mut;
};

FIXTURE_VARIANT_ADD(rw, owner_4096) { .size = 4096 };
FIXTURE_VARIANT_ADD(rw, owner_1) { .size = 1 };
FIXTURE_VARIANT_ADD(rw, owner_5000) { .size = 5000 };
FIXTURE_VARIANT_ADD(rw, owner_1m) { .size = 1 << 20 };
FIXTURE_VARIANT_ADD(rw, mut_4096) { .size = 4096, .mut = true };
FIXTURE_VARIANT_ADD(rw, mut_1) { .size = 1, .mut = true };
FIXTURE_VARIANT_ADD(rw, mut_5000) { .size = 5000, .mut = true };
FIXTURE_VARIANT_ADD(rw, mut_1m) { .size = 1 << 20, .mut = true };

FIXTURE_SETUP(rw)
{
	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	self->size = variant->size;
	open_pattern(_metadata, self->size, &self->owner, &self->buf);
	self->fd = self->owner;
	if (variant->mut) {
		self->fd = ownbuf_mut(self->owner);
		ASSERT_LE(0, self->fd);
	}
	SNAPSHOT(&self->snap);
}

FIXTURE_TEARDOWN(rw)
{
	if (self->fd != self->owner)
		close(self->fd);
	close(self->owner);
	free(self->buf);
}

/* Does the buffer still hold pattern() everywhere? */
static bool rw_untouched(int fd, long long size)
{
	unsigned char *p = malloc(size);
	bool ok;

	if (!p)
		return false;
	ok = pread(fd, p, size, 0) == size && is_pattern(p, 0, size);
	free(p);
	return ok;
}

TEST_F(rw, read_whole_buffer)
{
	EXPECT_EQ(self->size, read(self->fd, self->buf, self->size + 100));
	EXPECT_TRUE(is_pattern(self->buf, 0, self->size));
	EXPECT_EQ(self->size, lseek(self->fd, 0, SEEK_CUR));
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, read_at_end_is_zero_uncounted)
{
	EXPECT_EQ(self->size, read(self->fd, self->buf, self->size));
	EXPECT_EQ(0, read(self->fd, self->buf, 16));
	EXPECT_EQ(0, pread(self->fd, self->buf, 16, self->size));
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, read_after_end_is_zero_uncounted)
{
	EXPECT_EQ(0, pread(self->fd, self->buf, 16, self->size + 1));
	EXPECT_EQ(0, pread(self->fd, self->buf, 16, self->size + 5000));
	EXPECT_EQ(0, pread(self->fd, self->buf, 16, 1LL << 62));
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, read_across_end_is_short)
{
	long long k = self->size < 3 ? self->size : 3;

	EXPECT_EQ(k, pread(self->fd, self->buf, 10, self->size - k));
	EXPECT_TRUE(is_pattern(self->buf, self->size - k, k));
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, read_across_end_advances_to_end)
{
	long long k = self->size < 3 ? self->size : 3;

	ASSERT_EQ(self->size - k, lseek(self->fd, self->size - k, SEEK_SET));
	EXPECT_EQ(k, read(self->fd, self->buf, 4096));
	EXPECT_EQ(self->size, lseek(self->fd, 0, SEEK_CUR));
	EXPECT_EQ(0, read(self->fd, self->buf, 4096));
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, write_whole_buffer)
{
	memset(self->buf, 0x11, self->size);
	EXPECT_EQ(self->size, write(self->fd, self->buf, self->size));
	EXPECT_EQ(self->size, lseek(self->fd, 0, SEEK_CUR));
	EXPECT_EQ(1, ownbuf_check(self->fd, 0, self->size, 0x11));
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, write_across_end_is_short)
{
	long long k = self->size < 3 ? self->size : 3;

	memset(self->buf, 0x22, 10);
	EXPECT_EQ(k, pwrite(self->fd, self->buf, 10, self->size - k));
	EXPECT_EQ(1, ownbuf_check(self->fd, self->size - k, k, 0x22));
	EXPECT_EQ(self->size, ownbuf_size(self->owner));
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, write_across_end_advances_to_end)
{
	long long k = self->size < 3 ? self->size : 3;

	ASSERT_EQ(self->size - k, lseek(self->fd, -k, SEEK_END));
	EXPECT_EQ(k, write(self->fd, self->buf, 4096));
	EXPECT_EQ(self->size, lseek(self->fd, 0, SEEK_CUR));
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, write_at_end_is_out_of_bounds)
{
	EXPECT_ERRNO(ENOSPC, pwrite(self->fd, self->buf, 1, self->size));
	EXPECT_TRUE(rw_untouched(self->fd, self->size));
	EXPECT_DELTA(&self->snap, [V_OUT_OF_BOUNDS] = 1);
}

TEST_F(rw, write_after_end_is_out_of_bounds)
{
	EXPECT_ERRNO(ENOSPC, pwrite(self->fd, self->buf, 16,
				    self->size + 4096));
	EXPECT_DELTA(&self->snap, [V_OUT_OF_BOUNDS] = 1);
}

TEST_F(rw, write_far_after_end_is_out_of_bounds)
{
	EXPECT_ERRNO(ENOSPC, pwrite(self->fd, self->buf, 16, 1LL << 62));
	EXPECT_ERRNO(ENOSPC, pwrite(self->fd, self->buf, 1, LLONG_MAX - 1));
	EXPECT_DELTA(&self->snap, [V_OUT_OF_BOUNDS] = 2);
}

TEST_F(rw, write_at_end_position_is_out_of_bounds)
{
	ASSERT_EQ(self->size, lseek(self->fd, 0, SEEK_END));
	EXPECT_ERRNO(ENOSPC, write(self->fd, self->buf, 8));
	EXPECT_EQ(self->size, lseek(self->fd, 0, SEEK_CUR));
	EXPECT_DELTA(&self->snap, [V_OUT_OF_BOUNDS] = 1);
}

TEST_F(rw, sequential_writes_then_out_of_bounds)
{
	memset(self->buf, 0x33, self->size);
	EXPECT_EQ(self->size, write(self->fd, self->buf, self->size));
	EXPECT_ERRNO(ENOSPC, write(self->fd, self->buf, 1));
	EXPECT_EQ(1, ownbuf_check(self->fd, 0, self->size, 0x33));
	EXPECT_DELTA(&self->snap, [V_OUT_OF_BOUNDS] = 1);
}

TEST_F(rw, zero_length_access_is_zero)
{
	EXPECT_EQ(0, read(self->fd, self->buf, 0));
	EXPECT_EQ(0, write(self->fd, self->buf, 0));
	EXPECT_EQ(0, pread(self->fd, self->buf, 0, 0));
	EXPECT_EQ(0, pwrite(self->fd, self->buf, 0, 0));
	EXPECT_EQ(0, lseek(self->fd, 0, SEEK_CUR));
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, zero_length_write_at_end_is_zero)
{
	/*
	 * ownbuf.rst section 3: zero-length I/O returns 0 before any bounds
	 * check.
	 */
	EXPECT_EQ(0, pwrite(self->fd, self->buf, 0, self->size));
	EXPECT_EQ(0, pwrite(self->fd, self->buf, 0, self->size + 4096));
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, zero_length_null_is_zero)
{
	/*
	 * ownbuf.rst section 3: zero-length I/O returns 0 before the NULL
	 * check.
	 */
	EXPECT_EQ(0, read(self->fd, NULLPTR, 0));
	EXPECT_EQ(0, write(self->fd, NULLPTR, 0));
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, pread_pwrite_keep_the_position)
{
	unsigned char c = 0x44;

	ASSERT_EQ(0, lseek(self->fd, 0, SEEK_SET));
	EXPECT_EQ(1, pwrite(self->fd, &c, 1, self->size - 1));
	c = 0;
	EXPECT_EQ(1, pread(self->fd, &c, 1, self->size - 1));
	EXPECT_EQ(0x44, c);
	EXPECT_EQ(0, lseek(self->fd, 0, SEEK_CUR));
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, write_then_read_back)
{
	void *pat = pattern_buf(1000, self->size);

	ASSERT_NE(NULL, pat);
	ASSERT_EQ(self->size, pwrite(self->fd, pat, self->size, 0));
	ASSERT_EQ(self->size, pread(self->fd, self->buf, self->size, 0));
	EXPECT_EQ(0, memcmp(pat, self->buf, self->size));
	free(pat);
	EXPECT_DELTA(&self->snap);
}

/* --- lseek: [0, size] only (ownbuf.rst section 4) --- */

TEST_F(rw, lseek_to_size_is_allowed)
{
	EXPECT_EQ(self->size, lseek(self->fd, self->size, SEEK_SET));
	EXPECT_EQ(0, lseek(self->fd, 0, SEEK_SET));
	EXPECT_EQ(self->size, lseek(self->fd, 0, SEEK_END));
	EXPECT_EQ(0, lseek(self->fd, -self->size, SEEK_END));
	EXPECT_EQ(self->size, lseek(self->fd, self->size, SEEK_CUR));
	EXPECT_EQ(0, lseek(self->fd, -self->size, SEEK_CUR));
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, lseek_past_size_is_out_of_bounds)
{
	ASSERT_EQ(self->size / 2, lseek(self->fd, self->size / 2, SEEK_SET));
	EXPECT_ERRNO(EINVAL, lseek(self->fd, self->size + 1, SEEK_SET));
	EXPECT_EQ(self->size / 2, lseek(self->fd, 0, SEEK_CUR));
	EXPECT_DELTA(&self->snap, [V_OUT_OF_BOUNDS] = 1);
}

TEST_F(rw, lseek_negative_is_out_of_bounds)
{
	EXPECT_ERRNO(EINVAL, lseek(self->fd, -1, SEEK_SET));
	EXPECT_EQ(0, lseek(self->fd, 0, SEEK_CUR));
	EXPECT_DELTA(&self->snap, [V_OUT_OF_BOUNDS] = 1);
}

TEST_F(rw, lseek_llong_min_is_out_of_bounds)
{
	EXPECT_ERRNO(EINVAL, lseek(self->fd, LLONG_MIN, SEEK_SET));
	EXPECT_DELTA(&self->snap, [V_OUT_OF_BOUNDS] = 1);
}

TEST_F(rw, lseek_cur_past_size_is_out_of_bounds)
{
	ASSERT_EQ(self->size, lseek(self->fd, 0, SEEK_END));
	EXPECT_ERRNO(EINVAL, lseek(self->fd, 1, SEEK_CUR));
	EXPECT_EQ(self->size, lseek(self->fd, 0, SEEK_CUR));
	EXPECT_DELTA(&self->snap, [V_OUT_OF_BOUNDS] = 1);
}

TEST_F(rw, lseek_cur_before_start_is_out_of_bounds)
{
	EXPECT_ERRNO(EINVAL, lseek(self->fd, -1, SEEK_CUR));
	EXPECT_EQ(0, lseek(self->fd, 0, SEEK_CUR));
	EXPECT_DELTA(&self->snap, [V_OUT_OF_BOUNDS] = 1);
}

TEST_F(rw, lseek_cur_overflow_is_out_of_bounds)
{
	ASSERT_EQ(self->size, lseek(self->fd, 0, SEEK_END));
	/* size + LLONG_MAX overflows: refused, never wrapped. */
	EXPECT_ERRNO(EINVAL, lseek(self->fd, LLONG_MAX, SEEK_CUR));
	EXPECT_EQ(self->size, lseek(self->fd, 0, SEEK_CUR));
	EXPECT_DELTA(&self->snap, [V_OUT_OF_BOUNDS] = 1);
}

TEST_F(rw, lseek_cur_underflow_is_out_of_bounds)
{
	ASSERT_EQ(self->size, lseek(self->fd, 0, SEEK_END));
	EXPECT_ERRNO(EINVAL, lseek(self->fd, LLONG_MIN, SEEK_CUR));
	EXPECT_EQ(self->size, lseek(self->fd, 0, SEEK_CUR));
	EXPECT_DELTA(&self->snap, [V_OUT_OF_BOUNDS] = 1);
}

TEST_F(rw, lseek_end_past_size_is_out_of_bounds)
{
	EXPECT_ERRNO(EINVAL, lseek(self->fd, 1, SEEK_END));
	EXPECT_DELTA(&self->snap, [V_OUT_OF_BOUNDS] = 1);
}

TEST_F(rw, lseek_end_before_start_is_out_of_bounds)
{
	EXPECT_ERRNO(EINVAL, lseek(self->fd, -self->size - 1, SEEK_END));
	EXPECT_DELTA(&self->snap, [V_OUT_OF_BOUNDS] = 1);
}

TEST_F(rw, lseek_end_overflow_is_out_of_bounds)
{
	EXPECT_ERRNO(EINVAL, lseek(self->fd, LLONG_MAX, SEEK_END));
	EXPECT_EQ(0, lseek(self->fd, 0, SEEK_CUR));
	EXPECT_DELTA(&self->snap, [V_OUT_OF_BOUNDS] = 1);
}

TEST_F(rw, lseek_end_underflow_is_out_of_bounds)
{
	EXPECT_ERRNO(EINVAL, lseek(self->fd, LLONG_MIN, SEEK_END));
	EXPECT_DELTA(&self->snap, [V_OUT_OF_BOUNDS] = 1);
}

TEST_F(rw, lseek_bad_whence_is_einval_uncounted)
{
	/* Refused by the VFS before ownbuf is called. */
	EXPECT_ERRNO(EINVAL, lseek(self->fd, 0, 99));
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, lseek_data_hole_is_einval_uncounted)
{
	/*
	 * ownbuf.rst is silent on SEEK_DATA/SEEK_HOLE; a device that does
	 * not implement them refuses them as an invalid argument, not as a
	 * violation.
	 */
	EXPECT_ERRNO(EINVAL, lseek(self->fd, 0, SEEK_DATA));
	EXPECT_ERRNO(EINVAL, lseek(self->fd, 0, SEEK_HOLE));
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, read_follows_lseek)
{
	long long off = self->size / 3;

	ASSERT_EQ(off, lseek(self->fd, off, SEEK_SET));
	EXPECT_EQ(self->size - off, read(self->fd, self->buf, self->size));
	EXPECT_TRUE(is_pattern(self->buf, off, self->size - off));
	EXPECT_DELTA(&self->snap);
}

/* --- offsets the VFS refuses before ownbuf is called (uncounted) --- */

TEST_F(rw, pread_negative_offset_is_vfs_einval)
{
	EXPECT_ERRNO(EINVAL, pread(self->fd, self->buf, 1, -1));
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, pwrite_negative_offset_is_vfs_einval)
{
	EXPECT_ERRNO(EINVAL, pwrite(self->fd, self->buf, 1, -1));
	EXPECT_TRUE(rw_untouched(self->fd, self->size));
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, pread_overflowing_offset_is_vfs_einval)
{
	EXPECT_ERRNO(EINVAL, pread(self->fd, self->buf, 16, LLONG_MAX - 4));
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, pwrite_overflowing_offset_is_vfs_einval)
{
	EXPECT_ERRNO(EINVAL, pwrite(self->fd, self->buf, 16, LLONG_MAX - 4));
	EXPECT_DELTA(&self->snap);
}

/* --- user pointers --- */

TEST_F(rw, null_read_is_null_deref)
{
	EXPECT_ERRNO(EFAULT, read(self->fd, NULLPTR, 16));
	EXPECT_EQ(0, lseek(self->fd, 0, SEEK_CUR));
	EXPECT_DELTA(&self->snap, [V_NULL_DEREF] = 1);
}

TEST_F(rw, null_pread_is_null_deref)
{
	EXPECT_ERRNO(EFAULT, pread(self->fd, NULLPTR, 16, 0));
	EXPECT_DELTA(&self->snap, [V_NULL_DEREF] = 1);
}

TEST_F(rw, null_write_is_null_deref_and_changes_nothing)
{
	EXPECT_ERRNO(EFAULT, write(self->fd, NULLPTR, 16));
	EXPECT_EQ(0, lseek(self->fd, 0, SEEK_CUR));
	EXPECT_TRUE(rw_untouched(self->fd, self->size));
	EXPECT_DELTA(&self->snap, [V_NULL_DEREF] = 1);
}

TEST_F(rw, null_pwrite_is_null_deref_and_changes_nothing)
{
	EXPECT_ERRNO(EFAULT, pwrite(self->fd, NULLPTR, self->size, 0));
	EXPECT_TRUE(rw_untouched(self->fd, self->size));
	EXPECT_DELTA(&self->snap, [V_NULL_DEREF] = 1);
}

TEST_F(rw, null_read_at_end_is_null_deref)
{
	/*
	 * ownbuf.rst section 3: the NULL pointer is refused before the
	 * bounds.
	 */
	EXPECT_ERRNO(EFAULT, pread(self->fd, NULLPTR, 16, self->size));
	EXPECT_DELTA(&self->snap, [V_NULL_DEREF] = 1);
}

TEST_F(rw, null_write_at_end_is_null_deref)
{
	EXPECT_ERRNO(EFAULT, pwrite(self->fd, NULLPTR, 16, self->size));
	EXPECT_DELTA(&self->snap, [V_NULL_DEREF] = 1);
}

TEST_F(rw, bad_pointer_read_is_efault_uncounted)
{
	char *ro = page_with(PROT_READ);

	ASSERT_NE(NULL, ro);
	EXPECT_ERRNO(EFAULT, read(self->fd, ro, 16));
	EXPECT_EQ(0, lseek(self->fd, 0, SEEK_CUR));
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, bad_pointer_write_is_efault_uncounted)
{
	char *none = page_with(PROT_NONE);

	ASSERT_NE(NULL, none);
	EXPECT_ERRNO(EFAULT, write(self->fd, none, 16));
	EXPECT_EQ(0, lseek(self->fd, 0, SEEK_CUR));
	EXPECT_TRUE(rw_untouched(self->fd, self->size));
	EXPECT_DELTA(&self->snap);
}

/* --- vectors: one access each --- */

TEST_F(rw, writev_gathers)
{
	long long a = self->size / 3, b = self->size / 3;
	long long c = self->size - a - b;
	unsigned char *pat = pattern_buf(77, self->size);
	struct iovec iov[3] = {
		{ pat, a }, { pat + a, b }, { pat + a + b, c },
	};

	ASSERT_NE(NULL, pat);
	EXPECT_EQ(self->size, writev(self->fd, iov, 3));
	EXPECT_EQ(self->size, pread(self->fd, self->buf, self->size, 0));
	EXPECT_EQ(0, memcmp(self->buf, pat, self->size));
	free(pat);
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, readv_scatters)
{
	long long a = self->size / 2, b = self->size - a;
	unsigned char *x = malloc(a + 1), *y = malloc(b + 1);
	struct iovec iov[2] = { { x, a }, { y, b + 1 } };

	ASSERT_NE(NULL, x);
	ASSERT_NE(NULL, y);
	EXPECT_EQ(self->size, readv(self->fd, iov, 2));
	EXPECT_TRUE(is_pattern(x, 0, a));
	EXPECT_TRUE(is_pattern(y, a, b));
	free(x);
	free(y);
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, writev_across_end_is_short)
{
	char a[3] = "abc", b[8] = "defghij";
	struct iovec iov[2] = { { a, 3 }, { b, 8 } };
	long long k = self->size < 5 ? self->size : 5;

	EXPECT_EQ(k, pwritev(self->fd, iov, 2, self->size - k));
	EXPECT_EQ(k, pread(self->fd, self->buf, 16, self->size - k));
	EXPECT_EQ(0, memcmp(self->buf, "abcde", k));
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, writev_at_end_is_one_out_of_bounds)
{
	char a[4], b[4], c[4];
	struct iovec iov[3] = { { a, 4 }, { b, 4 }, { c, 4 } };

	EXPECT_ERRNO(ENOSPC, pwritev(self->fd, iov, 3, self->size));
	EXPECT_DELTA(&self->snap, [V_OUT_OF_BOUNDS] = 1);
}

TEST_F(rw, readv_at_end_is_zero)
{
	char a[4], b[4];
	struct iovec iov[2] = { { a, 4 }, { b, 4 } };

	EXPECT_EQ(0, preadv(self->fd, iov, 2, self->size));
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, writev_null_segment_changes_nothing)
{
	char a[4] = "abc", c[4] = "ghi";
	struct iovec iov[3] = { { a, 4 }, { NULLPTR, 4 }, { c, 4 } };

	/* One access: the valid segment before the NULL is not written. */
	EXPECT_ERRNO(EFAULT, writev(self->fd, iov, 3));
	EXPECT_EQ(0, lseek(self->fd, 0, SEEK_CUR));
	EXPECT_TRUE(rw_untouched(self->fd, self->size));
	EXPECT_DELTA(&self->snap, [V_NULL_DEREF] = 1);
}

TEST_F(rw, readv_null_segment_is_null_deref)
{
	char a[4], c[4];
	struct iovec iov[3] = { { a, 4 }, { NULLPTR, 4 }, { c, 4 } };

	EXPECT_ERRNO(EFAULT, readv(self->fd, iov, 3));
	EXPECT_EQ(0, lseek(self->fd, 0, SEEK_CUR));
	EXPECT_DELTA(&self->snap, [V_NULL_DEREF] = 1);
}

TEST_F(rw, empty_null_segment_is_not_a_null_deref)
{
	char a[1] = "a";
	struct iovec iov[2] = { { NULLPTR, 0 }, { a, 1 } };

	/*
	 * ownbuf.rst is silent: a zero-length segment is no buffer at all,
	 * so a NULL base there is not a NULL dereference.
	 */
	EXPECT_EQ(1, writev(self->fd, iov, 2));
	EXPECT_DELTA(&self->snap);
}

TEST_F(rw, empty_vectors_are_answered_by_the_vfs)
{
	char a[1];
	struct iovec iov[2] = { { a, 0 }, { NULLPTR, 0 } };

	EXPECT_EQ(0, readv(self->fd, iov, 2));
	EXPECT_EQ(0, writev(self->fd, iov, 2));
	EXPECT_EQ(0, pwritev(self->fd, iov, 2, self->size + 10));
	EXPECT_DELTA(&self->snap);
}

/* ------------------------------------------------------------------ */
/* A shared borrow: the read side of the data path.                   */

FIXTURE(ro)
{
	int owner;
	int fd;
	long long size;
	unsigned char *buf;
	struct ownbuf_counts snap;
};

FIXTURE_VARIANT(ro)
{
	long long size;
};

FIXTURE_VARIANT_ADD(ro, shared_4096) { .size = 4096 };
FIXTURE_VARIANT_ADD(ro, shared_1) { .size = 1 };
FIXTURE_VARIANT_ADD(ro, shared_5000) { .size = 5000 };
FIXTURE_VARIANT_ADD(ro, shared_1m) { .size = 1 << 20 };

FIXTURE_SETUP(ro)
{
	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	self->size = variant->size;
	open_pattern(_metadata, self->size, &self->owner, &self->buf);
	self->fd = ownbuf_shared(self->owner);
	ASSERT_LE(0, self->fd);
	SNAPSHOT(&self->snap);
}

FIXTURE_TEARDOWN(ro)
{
	close(self->fd);
	close(self->owner);
	free(self->buf);
}

TEST_F(ro, read_whole_buffer)
{
	EXPECT_EQ(self->size, read(self->fd, self->buf, self->size + 1));
	EXPECT_TRUE(is_pattern(self->buf, 0, self->size));
	EXPECT_EQ(0, read(self->fd, self->buf, 1));
	EXPECT_DELTA(&self->snap);
}

TEST_F(ro, borrow_and_owner_have_their_own_positions)
{
	ASSERT_EQ(self->size, lseek(self->fd, 0, SEEK_END));
	EXPECT_EQ(0, lseek(self->owner, 0, SEEK_CUR));
	EXPECT_EQ(self->size, read(self->owner, self->buf, self->size));
	EXPECT_DELTA(&self->snap);
}

TEST_F(ro, read_across_end_is_short)
{
	long long k = self->size < 2 ? self->size : 2;

	EXPECT_EQ(k, pread(self->fd, self->buf, 64, self->size - k));
	EXPECT_TRUE(is_pattern(self->buf, self->size - k, k));
	EXPECT_DELTA(&self->snap);
}

TEST_F(ro, read_at_end_is_zero_uncounted)
{
	EXPECT_EQ(0, pread(self->fd, self->buf, 64, self->size));
	EXPECT_DELTA(&self->snap);
}

TEST_F(ro, write_is_vfs_ebadf)
{
	EXPECT_ERRNO(EBADF, write(self->fd, self->buf, 1));
	EXPECT_ERRNO(EBADF, pwrite(self->fd, self->buf, 1, self->size));
	EXPECT_DELTA(&self->snap);
}

TEST_F(ro, lseek_past_size_is_out_of_bounds)
{
	EXPECT_ERRNO(EINVAL, lseek(self->fd, self->size + 1, SEEK_SET));
	EXPECT_DELTA(&self->snap, [V_OUT_OF_BOUNDS] = 1);
}

TEST_F(ro, lseek_end_overflow_is_out_of_bounds)
{
	EXPECT_ERRNO(EINVAL, lseek(self->fd, LLONG_MAX, SEEK_END));
	EXPECT_DELTA(&self->snap, [V_OUT_OF_BOUNDS] = 1);
}

TEST_F(ro, null_read_is_null_deref)
{
	EXPECT_ERRNO(EFAULT, read(self->fd, NULLPTR, 8));
	EXPECT_DELTA(&self->snap, [V_NULL_DEREF] = 1);
}

TEST_F(ro, readv_scatters)
{
	unsigned char *x = malloc(self->size);
	char y[8];
	struct iovec iov[2] = { { y, 1 }, { x, self->size } };

	ASSERT_NE(NULL, x);
	EXPECT_EQ(self->size, readv(self->fd, iov, 2));
	EXPECT_TRUE(is_pattern(y, 0, 1));
	EXPECT_TRUE(is_pattern(x, 1, self->size - 1));
	free(x);
	EXPECT_DELTA(&self->snap);
}

TEST_F(ro, owner_and_borrow_read_together)
{
	EXPECT_EQ(self->size, pread(self->owner, self->buf, self->size, 0));
	EXPECT_EQ(self->size, pread(self->fd, self->buf, self->size, 0));
	EXPECT_TRUE(is_pattern(self->buf, 0, self->size));
	EXPECT_DELTA(&self->snap);
}

TEST_HARNESS_MAIN
