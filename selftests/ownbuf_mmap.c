// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/ownbuf: mappings of borrows (Documentation/userspace-api/ownbuf.rst
 * section 4).  MAP_SHARED only, on borrows only, inside
 * [0, PAGE_ALIGN(size)); revoked by RELEASE and by the owner going away
 * (SIGBUS), kept alive past close(); the tail of the last page reads as
 * zero and what a mut mapping writes there is thrown away; mut mappings
 * are not inherited and do not grow; no page pin.
 */
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/io_uring.h>

#include "ownbuf_util.h"

static unsigned char pattern(long long i)
{
	return (i * 13 + 5) ^ (i >> 9);
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

/* errno of a syscall this kernel does not have. */
static int no_such_syscall_errno(void)
{
	syscall(-1L);
	return errno;
}

/* ------------------------------------------------------------------ */

/*
 * A borrow of a buffer filled with pattern(), for three fixtures: map
 * (shared and mut borrows), shmap (shared only) and mutmap (mut only);
 * the fixture tail keeps its mapped mut borrow here too.
 */
struct map_ctx {
	int owner;
	int fd;
	long long size;
	long long len;		/* PAGE_ALIGN(size) */
	int prot;
	char *p;		/* a mapping of [0, len), if the test made one */
	struct ownbuf_counts snap;
};

struct map_variant {
	long long size;
	bool mut;
};

static void mctx_setup(struct __test_metadata *_metadata,
		       struct map_ctx *c, const struct map_variant *v)
{
	long long size = v->size;
	bool mut = v->mut;
	unsigned char *pat;
	long long i;

	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	c->size = size;
	c->len = OWNBUF_PAGE_ALIGN(size);
	c->prot = mut ? PROT_READ | PROT_WRITE : PROT_READ;
	c->p = MAP_FAILED;
	c->owner = ownbuf_open();
	ASSERT_LE(0, c->owner);
	if (size != OWNBUF_DEFAULT_SIZE)
		ASSERT_EQ(0, ownbuf_resize(c->owner, size));
	pat = malloc(size);
	ASSERT_NE(NULL, pat);
	for (i = 0; i < size; i++)
		pat[i] = pattern(i);
	ASSERT_EQ(size, pwrite(c->owner, pat, size, 0));
	free(pat);
	c->fd = mut ? ownbuf_mut(c->owner) : ownbuf_shared(c->owner);
	ASSERT_LE(0, c->fd);
	SNAPSHOT(&c->snap);
}

static void mctx_teardown(struct map_ctx *c)
{
	if (c->p != MAP_FAILED)
		munmap(c->p, c->len);
	if (c->fd >= 0)
		close(c->fd);
	if (c->owner >= 0)
		close(c->owner);
}

/*
 * The three fixtures differ only in their names and their variants: map
 * runs a test on every kind of borrow, shmap on shared, mutmap on mut.
 */
FIXTURE(map)
{
	struct map_ctx c;
};

FIXTURE(shmap)
{
	struct map_ctx c;
};

FIXTURE(mutmap)
{
	struct map_ctx c;
};

FIXTURE_VARIANT(map)
{
	struct map_variant v;
};

FIXTURE_VARIANT(shmap)
{
	struct map_variant v;
};

FIXTURE_VARIANT(mutmap)
{
	struct map_variant v;
};

FIXTURE_SETUP(map)
{
	mctx_setup(_metadata, &self->c, &variant->v);
}

FIXTURE_SETUP(shmap)
{
	mctx_setup(_metadata, &self->c, &variant->v);
}

FIXTURE_SETUP(mutmap)
{
	mctx_setup(_metadata, &self->c, &variant->v);
}

FIXTURE_TEARDOWN(map)
{
	mctx_teardown(&self->c);
}

FIXTURE_TEARDOWN(shmap)
{
	mctx_teardown(&self->c);
}

FIXTURE_TEARDOWN(mutmap)
{
	mctx_teardown(&self->c);
}

FIXTURE_VARIANT_ADD(map, shared_4096) { .v = { .size = 4096 } };
FIXTURE_VARIANT_ADD(map, shared_1) { .v = { .size = 1 } };
FIXTURE_VARIANT_ADD(map, shared_5000) { .v = { .size = 5000 } };
FIXTURE_VARIANT_ADD(map, shared_1m) { .v = { .size = 1 << 20 } };
FIXTURE_VARIANT_ADD(map, mut_4096) { .v = { .size = 4096, .mut = true } };
FIXTURE_VARIANT_ADD(map, mut_1) { .v = { .size = 1, .mut = true } };
FIXTURE_VARIANT_ADD(map, mut_5000) { .v = { .size = 5000, .mut = true } };
FIXTURE_VARIANT_ADD(map, mut_1m) { .v = { .size = 1 << 20, .mut = true } };
FIXTURE_VARIANT_ADD(shmap, shared_4096) { .v = { .size = 4096 } };
FIXTURE_VARIANT_ADD(shmap, shared_1) { .v = { .size = 1 } };
FIXTURE_VARIANT_ADD(shmap, shared_5000) { .v = { .size = 5000 } };
FIXTURE_VARIANT_ADD(shmap, shared_1m) { .v = { .size = 1 << 20 } };
FIXTURE_VARIANT_ADD(mutmap, mut_4096) { .v = { .size = 4096, .mut = true } };
FIXTURE_VARIANT_ADD(mutmap, mut_1) { .v = { .size = 1, .mut = true } };
FIXTURE_VARIANT_ADD(mutmap, mut_5000) { .v = { .size = 5000, .mut = true } };
FIXTURE_VARIANT_ADD(mutmap, mut_1m) { .v = { .size = 1 << 20, .mut = true } };

static char *map_all(int fd, long long len, int prot)
{
	return mmap(NULL, len, prot, MAP_SHARED, fd, 0);
}

/* Map all of the borrow, as it may be mapped, at c->p. */
static void mctx_map(struct __test_metadata *_metadata, struct map_ctx *c)
{
	c->p = map_all(c->fd, c->len, c->prot);
	ASSERT_NE(MAP_FAILED, c->p);
}

/* Close the borrow fd of @c: the borrow lives on while a mapping does. */
static void mctx_close_fd(struct __test_metadata *_metadata, struct map_ctx *c)
{
	ASSERT_EQ(0, close(c->fd));
	c->fd = -1;
}

TEST_F(map, maps_the_data)
{
	struct map_ctx *c = &self->c;

	mctx_map(_metadata, c);
	EXPECT_TRUE(is_pattern(c->p, 0, c->size));
	EXPECT_DELTA(&c->snap);
}

TEST_F(map, tail_of_last_page_reads_zero)
{
	struct map_ctx *c = &self->c;

	mctx_map(_metadata, c);
	EXPECT_TRUE(ownbuf_mem_is(c->p + c->size,
				  c->len - c->size, 0));
	EXPECT_DELTA(&c->snap);
}

TEST_F(map, map_shared_validate_works)
{
	struct map_ctx *c = &self->c;

	c->p = mmap(NULL, c->len, c->prot, MAP_SHARED_VALIDATE, c->fd, 0);
	ASSERT_NE(MAP_FAILED, c->p);
	EXPECT_TRUE(is_pattern(c->p, 0, c->size));
	EXPECT_DELTA(&c->snap);
}

TEST_F(map, map_private_is_einval_uncounted)
{
	struct map_ctx *c = &self->c;

	EXPECT_ERRNO(EINVAL, mmap(NULL, c->len, PROT_READ, MAP_PRIVATE,
				  c->fd, 0));
	EXPECT_DELTA(&c->snap);
}

TEST_F(map, map_zero_length_is_vfs_einval)
{
	struct map_ctx *c = &self->c;

	EXPECT_ERRNO(EINVAL, mmap(NULL, 0, PROT_READ, MAP_SHARED, c->fd,
				  0));
	EXPECT_DELTA(&c->snap);
}

TEST_F(map, map_past_page_align_is_out_of_bounds)
{
	struct map_ctx *c = &self->c;

	EXPECT_ERRNO(EINVAL, mmap(NULL, c->len + OWNBUF_PAGE, c->prot,
				  MAP_SHARED, c->fd, 0));
	EXPECT_DELTA(&c->snap, [V_OUT_OF_BOUNDS] = 1);
}

TEST_F(map, map_offset_at_page_align_is_out_of_bounds)
{
	struct map_ctx *c = &self->c;

	EXPECT_ERRNO(EINVAL, mmap(NULL, OWNBUF_PAGE, c->prot, MAP_SHARED,
				  c->fd, c->len));
	EXPECT_DELTA(&c->snap, [V_OUT_OF_BOUNDS] = 1);
}

TEST_F(map, map_straddling_the_end_is_out_of_bounds)
{
	struct map_ctx *c = &self->c;

	EXPECT_ERRNO(EINVAL, mmap(NULL, 2 * OWNBUF_PAGE, c->prot,
				  MAP_SHARED, c->fd,
				  c->len - OWNBUF_PAGE));
	EXPECT_DELTA(&c->snap, [V_OUT_OF_BOUNDS] = 1);
}

TEST_F(map, map_huge_offset_is_out_of_bounds)
{
	struct map_ctx *c = &self->c;

	EXPECT_ERRNO(EINVAL, mmap(NULL, OWNBUF_PAGE, c->prot, MAP_SHARED,
				  c->fd, 1LL << 40));
	EXPECT_DELTA(&c->snap, [V_OUT_OF_BOUNDS] = 1);
}

TEST_F(map, map_last_page_alone)
{
	struct map_ctx *c = &self->c;
	char *p = mmap(NULL, OWNBUF_PAGE, c->prot, MAP_SHARED, c->fd,
		       c->len - OWNBUF_PAGE);
	long long in = c->size - (c->len - OWNBUF_PAGE);

	ASSERT_NE(MAP_FAILED, p);
	EXPECT_TRUE(is_pattern(p, c->len - OWNBUF_PAGE, in));
	EXPECT_TRUE(ownbuf_mem_is(p + in, OWNBUF_PAGE - in, 0));
	munmap(p, OWNBUF_PAGE);
	EXPECT_DELTA(&c->snap);
}

TEST_F(map, prot_write)
{
	struct map_ctx *c = &self->c;
	char *p = map_all(c->fd, c->len, PROT_READ | PROT_WRITE);

	if (!variant->v.mut) {
		/* ownbuf.rst section 4: -EACCES from the VFS, not counted. */
		EXPECT_EQ(MAP_FAILED, p);
		EXPECT_EQ(EACCES, errno);
		EXPECT_DELTA(&c->snap);
		return;
	}
	ASSERT_NE(MAP_FAILED, p);
	p[0] = 'w';
	EXPECT_EQ(1, ownbuf_check(c->fd, 0, 1, 'w'));
	munmap(p, c->len);
	EXPECT_DELTA(&c->snap);
}

TEST_F(map, mprotect_cannot_add_write_to_shared)
{
	struct map_ctx *c = &self->c;

	c->p = map_all(c->fd, c->len, PROT_READ);
	ASSERT_NE(MAP_FAILED, c->p);
	if (!variant->v.mut) {
		EXPECT_ERRNO(EACCES, mprotect(c->p, c->len,
					      PROT_READ | PROT_WRITE));
		EXPECT_DELTA(&c->snap);
		return;
	}
	/* A mut borrow may write: adding PROT_WRITE is fine. */
	EXPECT_EQ(0, mprotect(c->p, c->len, PROT_READ | PROT_WRITE));
	EXPECT_DELTA(&c->snap);
}

TEST_F(shmap, shared_mapping_is_never_writable)
{
	struct map_ctx *c = &self->c;
	char ch = 'x';

	c->p = map_all(c->fd, c->len, PROT_READ);
	ASSERT_NE(MAP_FAILED, c->p);
	EXPECT_EQ(SIGSEGV, ownbuf_touch(c->p, true, &ch));
	EXPECT_TRUE(is_pattern(c->p, 0, c->size));
	EXPECT_DELTA(&c->snap);
}

TEST_F(mutmap, mut_mapping_writes_reach_the_buffer)
{
	struct map_ctx *c = &self->c;

	mctx_map(_metadata, c);
	memset(c->p, 'M', c->size);
	EXPECT_EQ(1, ownbuf_check(c->fd, 0, c->size, 'M'));
	ASSERT_EQ(0, ownbuf_release(c->fd));
	EXPECT_EQ(1, ownbuf_check(c->owner, 0, c->size, 'M'));
	EXPECT_DELTA(&c->snap);
}

TEST_F(mutmap, mapping_sees_writes_through_the_fd)
{
	struct map_ctx *c = &self->c;
	char ch = 'F';

	mctx_map(_metadata, c);
	ASSERT_EQ(1, pwrite(c->fd, &ch, 1, c->size - 1));
	EXPECT_EQ('F', c->p[c->size - 1]);
	EXPECT_DELTA(&c->snap);
}

/* --- revocation of mappings --- */

TEST_F(map, release_zaps_the_mapping)
{
	struct map_ctx *c = &self->c;
	char ch;

	mctx_map(_metadata, c);
	ASSERT_EQ(0, ownbuf_touch(c->p, false, &ch));
	ASSERT_EQ(0, ownbuf_release(c->fd));
	EXPECT_EQ(SIGBUS, ownbuf_touch(c->p, false, &ch));
	EXPECT_EQ(SIGBUS, ownbuf_touch(c->p + c->len - 1, false, &ch));
	/* Faults on revoked mappings are not counted. */
	EXPECT_DELTA(&c->snap);
}

TEST_F(map, release_zaps_pages_never_touched)
{
	struct map_ctx *c = &self->c;
	char ch;

	mctx_map(_metadata, c);
	ASSERT_EQ(0, ownbuf_release(c->fd));
	EXPECT_EQ(SIGBUS, ownbuf_touch(c->p, false, &ch));
	EXPECT_DELTA(&c->snap);
}

TEST_F(mutmap, released_mut_mapping_cannot_write)
{
	struct map_ctx *c = &self->c;
	char ch = 'z';

	mctx_map(_metadata, c);
	c->p[0] = 'a';
	ASSERT_EQ(0, ownbuf_release(c->fd));
	EXPECT_EQ(SIGBUS, ownbuf_touch(c->p, true, &ch));
	EXPECT_EQ(1, ownbuf_check(c->owner, 0, 1, 'a'));
	EXPECT_DELTA(&c->snap);
}

TEST_F(map, release_zaps_every_mapping_of_the_borrow)
{
	struct map_ctx *c = &self->c;
	char *q, ch;

	mctx_map(_metadata, c);
	q = map_all(c->fd, c->len, c->prot);
	ASSERT_NE(MAP_FAILED, q);
	ASSERT_EQ(0, ownbuf_touch(q, false, &ch));
	ASSERT_EQ(0, ownbuf_release(c->fd));
	EXPECT_EQ(SIGBUS, ownbuf_touch(c->p, false, &ch));
	EXPECT_EQ(SIGBUS, ownbuf_touch(q, false, &ch));
	munmap(q, c->len);
	EXPECT_DELTA(&c->snap);
}

TEST_F(shmap, release_spares_other_borrows_mappings)
{
	struct map_ctx *c = &self->c;
	char *q, ch;
	int other;

	other = ownbuf_shared(c->owner);
	ASSERT_LE(0, other);
	c->p = map_all(c->fd, c->len, PROT_READ);
	ASSERT_NE(MAP_FAILED, c->p);
	q = map_all(other, c->len, PROT_READ);
	ASSERT_NE(MAP_FAILED, q);
	ASSERT_EQ(0, ownbuf_release(c->fd));
	EXPECT_EQ(SIGBUS, ownbuf_touch(c->p, false, &ch));
	EXPECT_EQ(0, ownbuf_touch(q, false, &ch));
	EXPECT_TRUE(is_pattern(q, 0, c->size));
	munmap(q, c->len);
	close(other);
	EXPECT_DELTA(&c->snap);
}

TEST_F(map, owner_close_revokes_the_mapping)
{
	struct map_ctx *c = &self->c;
	char ch;

	mctx_map(_metadata, c);
	ASSERT_EQ(0, ownbuf_touch(c->p, false, &ch));
	ASSERT_EQ(0, close(c->owner));
	c->owner = -1;
	EXPECT_EQ(OWNBUF_STATE_REVOKED, ownbuf_state(c->fd));
	EXPECT_EQ(SIGBUS, ownbuf_touch(c->p, false, &ch));
	EXPECT_DELTA(&c->snap, [V_DANGLING_BORROW] = 1);
}

TEST_F(map, mremap_move_is_still_revoked)
{
	struct map_ctx *c = &self->c;
	char *q, *hole, ch;

	mctx_map(_metadata, c);
	hole = mmap(NULL, c->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		    0);
	ASSERT_NE(MAP_FAILED, hole);
	q = mremap(c->p, c->len, c->len, MREMAP_MAYMOVE | MREMAP_FIXED, hole);
	if (q == MAP_FAILED) {
		/* Moving is not part of the contract: only growing is. */
		TH_LOG("mremap move refused: %s", strerror(errno));
		EXPECT_DELTA(&c->snap);
		return;
	}
	c->p = q;
	EXPECT_TRUE(is_pattern(q, 0, c->size));
	ASSERT_EQ(0, ownbuf_release(c->fd));
	EXPECT_EQ(SIGBUS, ownbuf_touch(q, false, &ch));
	EXPECT_DELTA(&c->snap);
}

TEST_F_SIGNAL(map, touch_after_release_dies_of_sigbus, SIGBUS)
{
	struct map_ctx *c = &self->c;

	mctx_map(_metadata, c);
	ASSERT_EQ(0, ownbuf_release(c->fd));
	/* Not caught: the harness expects this test to die of SIGBUS. */
	__atomic_load_n(c->p, __ATOMIC_RELAXED);
}

TEST_F_SIGNAL(map, touch_after_owner_close_dies_of_sigbus, SIGBUS)
{
	struct map_ctx *c = &self->c;

	mctx_map(_metadata, c);
	ASSERT_EQ(0, close(c->owner));
	c->owner = -1;
	__atomic_load_n(c->p + c->len - 1, __ATOMIC_RELAXED);
}

/* --- a mapping keeps its borrow alive after close() --- */

TEST_F(map, mapping_outlives_close)
{
	struct map_ctx *c = &self->c;
	struct ob_info info;

	mctx_map(_metadata, c);
	mctx_close_fd(_metadata, c);
	EXPECT_TRUE(is_pattern(c->p, 0, c->size));
	ASSERT_EQ(0, ownbuf_info(c->owner, &info));
	EXPECT_EQ(variant->v.mut ? 1 : 0, info.mut);
	EXPECT_EQ(variant->v.mut ? 0 : 1, info.shared);
	EXPECT_DELTA(&c->snap);
}

TEST_F(map, resize_with_mapping_after_close_is_dangling_borrow)
{
	struct map_ctx *c = &self->c;

	mctx_map(_metadata, c);
	mctx_close_fd(_metadata, c);
	EXPECT_ERRNO(EBUSY, ownbuf_resize(c->owner, c->size + 1));
	EXPECT_EQ(c->size, ownbuf_size(c->owner));
	EXPECT_DELTA(&c->snap, [V_DANGLING_BORROW] = 1);
}

TEST_F(map, drop_with_mapping_after_close_is_dangling_borrow)
{
	struct map_ctx *c = &self->c;

	mctx_map(_metadata, c);
	mctx_close_fd(_metadata, c);
	EXPECT_ERRNO(EBUSY, ownbuf_drop(c->owner));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(c->owner));
	EXPECT_DELTA(&c->snap, [V_DANGLING_BORROW] = 1);
}

TEST_F(map, move_with_mapping_after_close_is_dangling_borrow)
{
	struct map_ctx *c = &self->c;

	mctx_map(_metadata, c);
	mctx_close_fd(_metadata, c);
	EXPECT_ERRNO(EBUSY, ownbuf_move(c->owner, 0));
	EXPECT_DELTA(&c->snap, [V_DANGLING_BORROW] = 1);
}

TEST_F(map, conflicting_borrow_with_mapping_after_close_is_data_race)
{
	struct map_ctx *c = &self->c;

	mctx_map(_metadata, c);
	mctx_close_fd(_metadata, c);
	EXPECT_ERRNO(EBUSY, ownbuf_mut(c->owner));
	EXPECT_DELTA(&c->snap, [V_DATA_RACE] = 1);
}

TEST_F(map, munmap_returns_a_closed_borrow)
{
	struct map_ctx *c = &self->c;
	struct ob_info info;

	mctx_map(_metadata, c);
	mctx_close_fd(_metadata, c);
	ASSERT_EQ(0, munmap(c->p, c->len));
	c->p = MAP_FAILED;
	ASSERT_EQ(0, ownbuf_info(c->owner, &info));
	EXPECT_EQ(0, info.mut);
	EXPECT_EQ(0, info.shared);
	EXPECT_EQ(0, ownbuf_resize(c->owner, c->size + 1));
	EXPECT_EQ(0, ownbuf_drop(c->owner));
	EXPECT_DELTA(&c->snap);
}

TEST_F(map, last_of_two_mappings_returns_the_borrow)
{
	struct map_ctx *c = &self->c;
	char *q;

	mctx_map(_metadata, c);
	q = map_all(c->fd, c->len, c->prot);
	ASSERT_NE(MAP_FAILED, q);
	mctx_close_fd(_metadata, c);
	ASSERT_EQ(0, munmap(q, c->len));
	EXPECT_ERRNO(EBUSY, ownbuf_drop(c->owner));
	ASSERT_EQ(0, munmap(c->p, c->len));
	c->p = MAP_FAILED;
	EXPECT_EQ(0, ownbuf_drop(c->owner));
	EXPECT_DELTA(&c->snap, [V_DANGLING_BORROW] = 1);
}

TEST_F(map, closed_borrow_mapping_is_revoked_with_its_owner)
{
	struct map_ctx *c = &self->c;
	char ch;

	mctx_map(_metadata, c);
	mctx_close_fd(_metadata, c);
	ASSERT_EQ(0, close(c->owner));
	c->owner = -1;
	EXPECT_EQ(SIGBUS, ownbuf_touch(c->p, false, &ch));
	EXPECT_DELTA(&c->snap, [V_DANGLING_BORROW] = 1);
}

TEST_F(map, unmapped_borrow_fd_still_holds_the_borrow)
{
	struct map_ctx *c = &self->c;

	mctx_map(_metadata, c);
	ASSERT_EQ(0, munmap(c->p, c->len));
	c->p = MAP_FAILED;
	EXPECT_ERRNO(EBUSY, ownbuf_drop(c->owner));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(c->fd));
	EXPECT_DELTA(&c->snap, [V_DANGLING_BORROW] = 1);
}

/* --- fork, madvise, mremap --- */

TEST_F(map, fork_inherits_only_shared_mappings)
{
	struct map_ctx *c = &self->c;
	pid_t pid;
	char ch;

	mctx_map(_metadata, c);
	ASSERT_EQ(0, ownbuf_touch(c->p, false, &ch));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int sig = ownbuf_touch(c->p, false, &ch);

		/*
		 * ownbuf.rst section 4: a mut mapping is not inherited (the
		 * address is not mapped in the child).  A shared mapping is an
		 * ordinary MAP_SHARED mapping and is.
		 */
		if (variant->v.mut)
			_exit(sig == SIGSEGV ? 0 : 1);
		_exit(!sig && is_pattern(c->p, 0, c->size) ? 0 : 2);
	}
	EXPECT_EQ(0, ownbuf_wait(pid));
	EXPECT_DELTA(&c->snap);
}

/*
 * Two pipes to keep a child in step with its parent: the child writes to
 * done[1] once it is ready, and reads go[0] to wait for the parent.
 */
struct in_step {
	int go[2];
	int done[2];
};

/* Map the borrow of @c, then fork() a child kept in step through @s. */
static pid_t fork_in_step(struct __test_metadata *_metadata,
			  struct map_ctx *c, struct in_step *s)
{
	pid_t pid;

	mctx_map(_metadata, c);
	ASSERT_EQ(0, pipe(s->go));
	ASSERT_EQ(0, pipe(s->done));
	pid = fork();
	ASSERT_LE(0, pid);
	return pid;
}

/* In the child: say it is ready, then wait for the parent's go. */
static bool in_step_child(struct in_step *s)
{
	char ch;

	return write(s->done[1], "r", 1) == 1 && read(s->go[0], &ch, 1) == 1;
}

/* In the parent: wait until the child is ready. */
static void in_step_ready(struct __test_metadata *_metadata,
			  struct in_step *s)
{
	char ch;

	ASSERT_EQ(1, read(s->done[0], &ch, 1));
}

/* In the parent: let the child go on. */
static void in_step_go(struct __test_metadata *_metadata, struct in_step *s)
{
	ASSERT_EQ(1, write(s->go[1], "g", 1));
}

TEST_F(shmap, mapping_in_a_child_keeps_a_closed_borrow)
{
	struct map_ctx *c = &self->c;
	struct in_step s;
	pid_t pid;

	pid = fork_in_step(_metadata, c, &s);
	if (!pid) {
		close(c->fd);
		close(c->owner);
		if (!in_step_child(&s))
			_exit(1);
		_exit(is_pattern(c->p, 0, c->size) ? 0 : 2);
	}
	in_step_ready(_metadata, &s);
	/* Only the child's inherited mapping holds the borrow now. */
	ASSERT_EQ(0, munmap(c->p, c->len));
	c->p = MAP_FAILED;
	mctx_close_fd(_metadata, c);
	EXPECT_ERRNO(EBUSY, ownbuf_resize(c->owner, c->size + 1));
	in_step_go(_metadata, &s);
	EXPECT_EQ(0, ownbuf_wait(pid));
	EXPECT_EQ(0, ownbuf_resize(c->owner, c->size + 1));
	EXPECT_DELTA(&c->snap, [V_DANGLING_BORROW] = 1);
}

TEST_F(shmap, release_zaps_mappings_inherited_by_a_child)
{
	struct map_ctx *c = &self->c;
	struct in_step s;
	pid_t pid;
	char ch;

	pid = fork_in_step(_metadata, c, &s);
	if (!pid) {
		int ok = !ownbuf_touch(c->p, false, &ch);

		ok = ok && in_step_child(&s);
		_exit(ok && ownbuf_touch(c->p, false, &ch) == SIGBUS ?
		      0 : 1);
	}
	in_step_ready(_metadata, &s);
	ASSERT_EQ(0, ownbuf_release(c->fd));
	in_step_go(_metadata, &s);
	EXPECT_EQ(0, ownbuf_wait(pid));
	EXPECT_DELTA(&c->snap);
}

TEST_F(mutmap, madvise_dofork_on_mut_mapping_is_einval)
{
	struct map_ctx *c = &self->c;
	int ret, err;

	mctx_map(_metadata, c);
	ret = madvise(c->p, c->len, MADV_DOFORK);
	err = errno;
	if (ret && err == no_such_syscall_errno()) {
		/* No madvise() at all: nothing can undo the no-inherit. */
		TH_LOG("no madvise() in this kernel");
		return;
	}
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EINVAL, err);
	EXPECT_DELTA(&c->snap);
}

TEST_F(mutmap, mut_mapping_stays_uninherited_after_madvise)
{
	struct map_ctx *c = &self->c;
	pid_t pid;
	char ch;

	mctx_map(_metadata, c);
	madvise(c->p, c->len, MADV_DOFORK);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(ownbuf_touch(c->p, false, &ch) == SIGSEGV ? 0 : 1);
	EXPECT_EQ(0, ownbuf_wait(pid));
}

TEST_F(map, mremap_cannot_grow)
{
	struct map_ctx *c = &self->c;
	char *q;

	mctx_map(_metadata, c);
	/*
	 * ownbuf.rst section 4 says a mut mapping cannot grow; a shared one
	 * must not either, or it would reach past the borrowed range.  The
	 * errno is the kernel's (EFAULT for VM_DONTEXPAND), not ownbuf's.
	 */
	q = mremap(c->p, c->len, c->len + OWNBUF_PAGE,
		   MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	q = mremap(c->p, c->len, c->len + OWNBUF_PAGE, 0);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_TRUE(is_pattern(c->p, 0, c->size));
	EXPECT_DELTA(&c->snap);
}

TEST_F(map, mremap_of_a_partial_mapping_cannot_grow)
{
	struct map_ctx *c = &self->c;
	char *q;

	if (c->len < 2 * OWNBUF_PAGE)
		return;
	c->p = map_all(c->fd, OWNBUF_PAGE, c->prot);
	ASSERT_NE(MAP_FAILED, c->p);
	q = mremap(c->p, OWNBUF_PAGE, 2 * OWNBUF_PAGE, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	munmap(c->p, OWNBUF_PAGE);
	c->p = MAP_FAILED;
	EXPECT_DELTA(&c->snap);
}

/* --- no page pin (ownbuf.rst section 4: get_user_pages fails, -EFAULT) --- */

/* vmsplice() of [c->p, c->p + @len) fails: the pages cannot be pinned. */
static void expect_vmsplice_efault(struct __test_metadata *_metadata,
				   struct map_ctx *c, size_t len,
				   unsigned int flags)
{
	struct iovec iov = { .iov_len = len };
	int pfd[2];

	mctx_map(_metadata, c);
	iov.iov_base = c->p;
	ASSERT_EQ(0, pipe(pfd));
	EXPECT_ERRNO(EFAULT, vmsplice(pfd[1], &iov, 1, flags));
	close(pfd[0]);
	close(pfd[1]);
	EXPECT_DELTA(&c->snap);
}

TEST_F(map, vmsplice_cannot_pin)
{
	expect_vmsplice_efault(_metadata, &self->c, OWNBUF_PAGE, 0);
}

TEST_F(map, vmsplice_gift_cannot_pin)
{
	expect_vmsplice_efault(_metadata, &self->c, self->c.len,
			       SPLICE_F_GIFT);
}

/*
 * process_vm_readv() (with @write, process_vm_writev()) of @len bytes of
 * the mapping fails: the pages cannot be pinned.
 */
static void expect_process_vm_efault(struct __test_metadata *_metadata,
				     struct map_ctx *c, bool write,
				     size_t len)
{
	char buf[64] = "written from outside";
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote;
	ssize_t ret;
	int err;

	mctx_map(_metadata, c);
	remote.iov_base = c->p;
	remote.iov_len = len;
	if (write)
		ret = process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
	else
		ret = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	err = errno;
	if (ret < 0 && err == no_such_syscall_errno()) {
		TH_LOG("no process_vm_%sv() in this kernel: no pin either",
		       write ? "write" : "read");
		return;
	}
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EFAULT, err);
	EXPECT_DELTA(&c->snap);
}

TEST_F(map, process_vm_readv_cannot_pin)
{
	expect_process_vm_efault(_metadata, &self->c, false, 64);
}

TEST_F(mutmap, process_vm_writev_cannot_pin)
{
	expect_process_vm_efault(_metadata, &self->c, true, 1);
}

TEST_F(map, io_uring_cannot_register_the_mapping)
{
	struct map_ctx *c = &self->c;
	struct io_uring_params params = { 0 };
	struct iovec iov;
	int ring, ret;

	mctx_map(_metadata, c);
	ring = syscall(__NR_io_uring_setup, 4, &params);
	if (ring < 0) {
		TH_LOG("no io_uring here (%s): no pin either",
		       strerror(errno));
		return;
	}
	iov.iov_base = c->p;
	iov.iov_len = c->len;
	ret = syscall(__NR_io_uring_register, ring, IORING_REGISTER_BUFFERS,
		      &iov, 1);
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EFAULT, errno);
	close(ring);
	EXPECT_DELTA(&c->snap);
}

TEST_F(map, write_from_the_mapping_is_a_plain_copy)
{
	struct map_ctx *c = &self->c;
	int pfd[2];
	char buf[16];

	/* Copying from a mapping is fine; only pinning it is refused. */
	mctx_map(_metadata, c);
	ASSERT_EQ(0, pipe(pfd));
	EXPECT_EQ(1, write(pfd[1], c->p, 1));
	EXPECT_EQ(1, read(pfd[0], buf, sizeof(buf)));
	EXPECT_EQ(pattern(0), (unsigned char)buf[0]);
	close(pfd[0]);
	close(pfd[1]);
	EXPECT_DELTA(&c->snap);
}

/* ------------------------------------------------------------------ */
/*
 * Bytes of the last page past the size: a mut mapping may scribble there,
 * but ownbuf.rst section 4 says that is thrown away when the borrow is
 * returned and is never visible to read() or to a later borrow.
 */

FIXTURE(tail)
{
	struct map_ctx c;
};

FIXTURE_VARIANT(tail)
{
	long long size;
};

FIXTURE_VARIANT_ADD(tail, size_1) { .size = 1 };
FIXTURE_VARIANT_ADD(tail, size_100) { .size = 100 };
FIXTURE_VARIANT_ADD(tail, size_4095) { .size = 4095 };
FIXTURE_VARIANT_ADD(tail, size_5000) { .size = 5000 };

FIXTURE_SETUP(tail)
{
	struct map_ctx *c = &self->c;

	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	c->size = variant->size;
	c->len = OWNBUF_PAGE_ALIGN(c->size);
	c->owner = ownbuf_open();
	ASSERT_LE(0, c->owner);
	ASSERT_EQ(0, ownbuf_resize(c->owner, c->size));
	ASSERT_EQ(0, ownbuf_fill(c->owner, 0, c->size, 'd'));
	c->fd = ownbuf_mut(c->owner);
	ASSERT_LE(0, c->fd);
	c->p = map_all(c->fd, c->len, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, c->p);
	/* Scribble over the whole last page, inside the size and past it. */
	memset(c->p + c->len - OWNBUF_PAGE, 'T', OWNBUF_PAGE);
	SNAPSHOT(&c->snap);
}

FIXTURE_TEARDOWN(tail)
{
	mctx_teardown(&self->c);
}

/* Map the buffer again through a new shared borrow: is the tail zero? */
static int tail_is_zero(int owner, long long size, long long len)
{
	int s = ownbuf_shared(owner);
	char *q;
	int ret;

	if (s < 0)
		return -1;
	q = mmap(NULL, len, PROT_READ, MAP_SHARED, s, 0);
	if (q == MAP_FAILED) {
		close(s);
		return -1;
	}
	ret = ownbuf_mem_is(q + size, len - size, 0) &&
	      ownbuf_mem_is(q + len - OWNBUF_PAGE, size - (len - OWNBUF_PAGE),
			    'T');
	munmap(q, len);
	close(s);
	return ret;
}

TEST_F(tail, discarded_on_release)
{
	ASSERT_EQ(0, ownbuf_release(self->c.fd));
	EXPECT_EQ(1, tail_is_zero(self->c.owner, self->c.size, self->c.len));
	EXPECT_DELTA(&self->c.snap);
}

TEST_F(tail, discarded_when_the_last_mapping_goes)
{
	ASSERT_EQ(0, close(self->c.fd));
	self->c.fd = -1;
	ASSERT_EQ(0, munmap(self->c.p, self->c.len));
	self->c.p = MAP_FAILED;
	EXPECT_EQ(1, tail_is_zero(self->c.owner, self->c.size, self->c.len));
	EXPECT_DELTA(&self->c.snap);
}

TEST_F(tail, discarded_when_fd_and_mapping_go)
{
	ASSERT_EQ(0, munmap(self->c.p, self->c.len));
	self->c.p = MAP_FAILED;
	ASSERT_EQ(0, close(self->c.fd));
	self->c.fd = -1;
	EXPECT_EQ(1, tail_is_zero(self->c.owner, self->c.size, self->c.len));
	EXPECT_DELTA(&self->c.snap);
}

TEST_F(tail, never_read_by_the_owner)
{
	char buf[8];

	ASSERT_EQ(0, ownbuf_release(self->c.fd));
	EXPECT_EQ(0, pread(self->c.owner, buf, sizeof(buf), self->c.size));
	EXPECT_EQ(1, ownbuf_check(self->c.owner, self->c.len - OWNBUF_PAGE,
				  self->c.size - (self->c.len - OWNBUF_PAGE), 'T'));
	EXPECT_DELTA(&self->c.snap);
}

TEST_F(tail, never_seen_after_growing)
{
	ASSERT_EQ(0, ownbuf_release(self->c.fd));
	/*
	 * ownbuf.rst section 3: new bytes read as zero, including the old
	 * tail.
	 */
	ASSERT_EQ(0, ownbuf_resize(self->c.owner, self->c.len));
	EXPECT_EQ(1, ownbuf_check(self->c.owner, self->c.size,
				  self->c.len - self->c.size, 0));
	ASSERT_EQ(0, ownbuf_resize(self->c.owner, self->c.len + 3 * OWNBUF_PAGE));
	EXPECT_EQ(1, ownbuf_check(self->c.owner, self->c.size,
				  self->c.len + 3 * OWNBUF_PAGE - self->c.size, 0));
	EXPECT_DELTA(&self->c.snap);
}

TEST_F(tail, never_seen_by_a_later_mut_borrow)
{
	int m;
	char *q;

	ASSERT_EQ(0, ownbuf_release(self->c.fd));
	m = ownbuf_mut(self->c.owner);
	ASSERT_LE(0, m);
	q = mmap(NULL, self->c.len, PROT_READ, MAP_SHARED, m, 0);
	ASSERT_NE(MAP_FAILED, q);
	EXPECT_TRUE(ownbuf_mem_is(q + self->c.size, self->c.len - self->c.size, 0));
	munmap(q, self->c.len);
	close(m);
	EXPECT_DELTA(&self->c.snap);
}

TEST_HARNESS_MAIN
