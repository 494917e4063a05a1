// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/ownbuf: every data access is itself a borrow for its duration
 * (Documentation/userspace-api/ownbuf.rst section 4).  With userfaultfd
 * holding a read or write in flight, whatever conflicts with it is
 * refused, and revocation does not wait for it.
 */
#include <limits.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/userfaultfd.h>

#include "ownbuf_util.h"

/* ------------------------------------------------------------------ */
/*
 * An access held in flight: the user buffer of a read or write straddles
 * a page that userfaultfd keeps missing, so the copy stops in the middle
 * until the test lets it go.  Meanwhile, everything that conflicts with
 * the access must be refused with -EBUSY (ownbuf.rst section 4: "every
 * data operation is itself a borrow for its duration").
 */

struct held {
	int uffd;
	char *area;		/* two pages: present, then missing */
	pthread_t thread;
	bool running;
	int fd;
	bool write;
	bool vec;		/* two segments, the second one missing */
	size_t len;
	off_t off;
	ssize_t ret;
	int err;
};

static void *held_thread(void *arg)
{
	struct held *h = arg;
	/* The copy starts on the present page and runs into the missing one. */
	char *p = h->area + OWNBUF_PAGE - h->len / 2;
	struct iovec iov[2] = {
		{ p, h->len / 2 }, { p + h->len / 2, h->len - h->len / 2 },
	};

	if (h->vec && h->write)
		h->ret = pwritev(h->fd, iov, 2, h->off);
	else if (h->vec)
		h->ret = preadv(h->fd, iov, 2, h->off);
	else if (h->write)
		h->ret = pwrite(h->fd, p, h->len, h->off);
	else
		h->ret = pread(h->fd, p, h->len, h->off);
	h->err = errno;
	return NULL;
}

/* 0, or -errno of the userfaultfd setup (ENOSYS: not in this kernel). */
static int held_init(struct held *h)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { 0 };

	memset(h, 0, sizeof(*h));
	h->uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (h->uffd < 0)
		return -errno;
	if (ioctl(h->uffd, UFFDIO_API, &api))
		return -errno;
	h->area = mmap(NULL, 2 * OWNBUF_PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h->area == MAP_FAILED)
		return -errno;
	memset(h->area, 'h', OWNBUF_PAGE);
	reg.range.start = (unsigned long)h->area + OWNBUF_PAGE;
	reg.range.len = OWNBUF_PAGE;
	reg.mode = UFFDIO_REGISTER_MODE_MISSING;
	if (ioctl(h->uffd, UFFDIO_REGISTER, &reg))
		return -errno;
	return 0;
}

/* Start a pread/pwrite of @len bytes and wait until it is stuck: 0 or -1. */
static int held_start(struct held *h, int fd, bool write, size_t len,
		      off_t off)
{
	struct pollfd p = { .fd = h->uffd, .events = POLLIN };
	struct uffd_msg msg;

	h->fd = fd;
	h->write = write;
	h->len = len;
	h->off = off;
	if (pthread_create(&h->thread, NULL, held_thread, h))
		return -1;
	h->running = true;
	if (poll(&p, 1, 20000) != 1)
		return -1;
	if (read(h->uffd, &msg, sizeof(msg)) != sizeof(msg))
		return -1;
	return msg.event == UFFD_EVENT_PAGEFAULT ? 0 : -1;
}

/* Let the access go on; its result. */
static ssize_t held_finish(struct held *h)
{
	struct uffdio_copy copy = { 0 };
	char *src;

	if (!h->running)
		return -1;
	src = malloc(OWNBUF_PAGE);
	if (!src)
		return -1;
	memset(src, 'H', OWNBUF_PAGE);
	copy.dst = (unsigned long)h->area + OWNBUF_PAGE;
	copy.src = (unsigned long)src;
	copy.len = OWNBUF_PAGE;
	ioctl(h->uffd, UFFDIO_COPY, &copy);
	free(src);
	pthread_join(h->thread, NULL);
	h->running = false;
	errno = h->err;
	return h->ret;
}

FIXTURE(held)
{
	int owner;
	struct held h;
	struct ownbuf_counts snap;
};

FIXTURE_SETUP(held)
{
	int ret;

	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	ret = held_init(&self->h);
	/* The sysctl exists exactly when the kernel has userfaultfd. */
	if (ret && access("/proc/sys/vm/unprivileged_userfaultfd", F_OK))
		SKIP(return, "CONFIG_USERFAULTFD=n: no way to hold an access");
	ASSERT_EQ(0, ret);
	self->owner = ownbuf_open();
	ASSERT_LE(0, self->owner);
	ASSERT_EQ(0, ownbuf_resize(self->owner, 4 * OWNBUF_PAGE));
	ASSERT_EQ(0, ownbuf_fill(self->owner, 0, 4 * OWNBUF_PAGE, 'o'));
	SNAPSHOT(&self->snap);
}

FIXTURE_TEARDOWN(held)
{
	held_finish(&self->h);
	if (self->owner >= 0)
		close(self->owner);
}

/*
 * @call fails with EBUSY while a read (with @write, a write) of @len bytes
 * of @fd is in flight; then that access ends, whole.
 */
#define EXPECT_EBUSY_DURING(fd, write, len, call) do {			\
	ssize_t __len = (len);						\
									\
	ASSERT_EQ(0, held_start(&self->h, fd, write, __len, 0));	\
	EXPECT_ERRNO(EBUSY, call);					\
	EXPECT_EQ(__len, held_finish(&self->h));			\
} while (0)

/*
 * With a shared borrow out, @call during a read of the owner is refused:
 * ownbuf.rst section 3, lent out and an access in flight, is one
 * dangling_borrow.
 */
#define EXPECT_DANGLING_DURING_A_READ(call) do {			\
	int __s = ownbuf_shared(self->owner);				\
									\
	ASSERT_LE(0, __s);						\
	EXPECT_EBUSY_DURING(self->owner, false, 100, call);		\
	close(__s);							\
	EXPECT_DELTA(&self->snap, [V_DANGLING_BORROW] = 1);		\
} while (0)

TEST_F(held, drop_during_read_is_data_race)
{
	EXPECT_EBUSY_DURING(self->owner, false, 100, ownbuf_drop(self->owner));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(self->owner));
	EXPECT_DELTA(&self->snap, [V_DATA_RACE] = 1);
}

TEST_F(held, move_during_read_is_data_race)
{
	EXPECT_EBUSY_DURING(self->owner, false, 100,
			    ownbuf_move(self->owner, 0));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(self->owner));
	EXPECT_DELTA(&self->snap, [V_DATA_RACE] = 1);
}

TEST_F(held, resize_during_read_is_data_race)
{
	EXPECT_EBUSY_DURING(self->owner, false, 100,
			    ownbuf_resize(self->owner, OWNBUF_PAGE));
	EXPECT_EQ(4 * OWNBUF_PAGE, ownbuf_size(self->owner));
	EXPECT_DELTA(&self->snap, [V_DATA_RACE] = 1);
}

TEST_F(held, drop_during_read_while_lent_is_one_dangling_borrow)
{
	EXPECT_DANGLING_DURING_A_READ(ownbuf_drop(self->owner));
}

TEST_F(held, write_during_read_is_data_race)
{
	char c = 'x';

	EXPECT_EBUSY_DURING(self->owner, false, 100,
			    pwrite(self->owner, &c, 1, 2000));
	EXPECT_EQ(1, ownbuf_check(self->owner, 2000, 1, 'o'));
	EXPECT_DELTA(&self->snap, [V_DATA_RACE] = 1);
}

TEST_F(held, reads_share_with_a_read)
{
	char buf[64];

	ASSERT_EQ(0, held_start(&self->h, self->owner, false, 100, 0));
	EXPECT_EQ(64, pread(self->owner, buf, 64, 0));
	EXPECT_EQ(100, held_finish(&self->h));
	EXPECT_DELTA(&self->snap);
}

TEST_F(held, shared_borrow_during_read_is_granted)
{
	int s;

	ASSERT_EQ(0, held_start(&self->h, self->owner, false, 100, 0));
	s = ownbuf_shared(self->owner);
	EXPECT_LE(0, s);
	EXPECT_EQ(100, held_finish(&self->h));
	close(s);
	EXPECT_DELTA(&self->snap);
}

TEST_F(held, mut_borrow_during_read_is_data_race)
{
	EXPECT_EBUSY_DURING(self->owner, false, 100, ownbuf_mut(self->owner));
	EXPECT_DELTA(&self->snap, [V_DATA_RACE] = 1);
}

/*
 * A read during a write of 200 bytes ('h', then 'H') is refused, and reads
 * all of it once it is over.
 */
static void expect_write_read_whole(struct __test_metadata *_metadata,
				    struct _test_data_held *self)
{
	char buf[200];

	EXPECT_EBUSY_DURING(self->owner, true, 200,
			    pread(self->owner, buf, sizeof(buf), 0));
	EXPECT_EQ(200, pread(self->owner, buf, sizeof(buf), 0));
	EXPECT_TRUE(ownbuf_mem_is(buf, 100, 'h'));
	EXPECT_TRUE(ownbuf_mem_is(buf + 100, 100, 'H'));
	EXPECT_DELTA(&self->snap, [V_DATA_RACE] = 1);
}

TEST_F(held, read_during_write_is_data_race)
{
	/* The half-applied write must never be seen. */
	expect_write_read_whole(_metadata, self);
}

TEST_F(held, write_during_write_is_data_race)
{
	char buf[10] = "xxxxxxxxx";

	EXPECT_EBUSY_DURING(self->owner, true, 200,
			    pwrite(self->owner, buf, sizeof(buf), 3000));
	EXPECT_EQ(1, ownbuf_check(self->owner, 3000, 10, 'o'));
	EXPECT_DELTA(&self->snap, [V_DATA_RACE] = 1);
}

TEST_F(held, shared_borrow_during_write_is_data_race)
{
	EXPECT_EBUSY_DURING(self->owner, true, 200, ownbuf_shared(self->owner));
	EXPECT_DELTA(&self->snap, [V_DATA_RACE] = 1);
}

TEST_F(held, drop_during_write_is_data_race)
{
	EXPECT_EBUSY_DURING(self->owner, true, 200, ownbuf_drop(self->owner));
	EXPECT_DELTA(&self->snap, [V_DATA_RACE] = 1);
}

TEST_F(held, read_through_mut_during_its_write_is_data_race)
{
	char buf[16];
	int m = ownbuf_mut(self->owner);

	ASSERT_LE(0, m);
	EXPECT_EBUSY_DURING(m, true, 200, pread(m, buf, sizeof(buf), 0));
	close(m);
	EXPECT_DELTA(&self->snap, [V_DATA_RACE] = 1);
}

TEST_F(held, write_through_mut_during_its_read_is_data_race)
{
	char buf[4] = "xxx";
	int m = ownbuf_mut(self->owner);

	ASSERT_LE(0, m);
	EXPECT_EBUSY_DURING(m, false, 200, pwrite(m, buf, sizeof(buf), 1000));
	close(m);
	EXPECT_DELTA(&self->snap, [V_DATA_RACE] = 1);
}

TEST_F(held, release_during_access_waits_or_refuses)
{
	int s = ownbuf_shared(self->owner);
	int ret, err;

	ASSERT_LE(0, s);
	ASSERT_EQ(0, held_start(&self->h, s, false, 100, 0));
	/*
	 * ownbuf.rst is silent on RELEASE during the borrow's own access;
	 * what a caller may expect is either a refusal (-EBUSY, data_race) or
	 * that the access completes whole.  Never a torn or failed read.
	 */
	ret = ownbuf_release(s);
	err = errno;
	EXPECT_EQ(100, held_finish(&self->h));
	if (ret) {
		EXPECT_EQ(EBUSY, err);
		EXPECT_DELTA(&self->snap, [V_DATA_RACE] = 1);
	} else {
		EXPECT_DELTA(&self->snap);
	}
	close(s);
}

TEST_F(held, move_during_read_while_lent_is_one_dangling_borrow)
{
	EXPECT_DANGLING_DURING_A_READ(ownbuf_move(self->owner, 0));
}

TEST_F(held, resize_during_read_while_lent_is_one_dangling_borrow)
{
	EXPECT_DANGLING_DURING_A_READ(ownbuf_resize(self->owner, 100));
}

TEST_F(held, writev_is_one_access)
{
	self->h.vec = true;
	/* The first segment is copied; the access is not over. */
	expect_write_read_whole(_metadata, self);
}

TEST_F(held, readv_is_one_access)
{
	char c = 'x';

	self->h.vec = true;
	EXPECT_EBUSY_DURING(self->owner, false, 200,
			    pwrite(self->owner, &c, 1, 0));
	EXPECT_DELTA(&self->snap, [V_DATA_RACE] = 1);
}

TEST_F(held, poll_during_write_is_not_ready)
{
	ASSERT_EQ(0, held_start(&self->h, self->owner, true, 200, 0));
	EXPECT_EQ(0, ownbuf_poll_now(self->owner, POLLIN | POLLOUT));
	EXPECT_EQ(200, held_finish(&self->h));
	EXPECT_EQ(POLLIN | POLLOUT,
		  ownbuf_poll_now(self->owner, POLLIN | POLLOUT));
	EXPECT_DELTA(&self->snap);
}

TEST_F(held, poll_during_read_reads_only)
{
	ASSERT_EQ(0, held_start(&self->h, self->owner, false, 200, 0));
	EXPECT_EQ(POLLIN, ownbuf_poll_now(self->owner, POLLIN | POLLOUT));
	EXPECT_EQ(200, held_finish(&self->h));
	EXPECT_DELTA(&self->snap);
}

struct sleeper {
	int fd;
	bool borrow;		/* BORROW_WAIT | MUT, else poll POLLOUT */
	int ret;
	short revents;
	bool started;
	bool done;
};

static void *sleeper_thread(void *arg)
{
	struct sleeper *z = arg;
	struct pollfd p = { .fd = z->fd, .events = POLLOUT };

	ownbuf_set_flag(&z->started);
	if (z->borrow) {
		z->ret = ownbuf_borrow(z->fd, OWNBUF_BORROW_MUT |
				       OWNBUF_BORROW_WAIT |
				       OWNBUF_BORROW_CLOEXEC);
	} else {
		z->ret = poll(&p, 1, 20000);
		z->revents = p.revents;
	}
	ownbuf_set_flag(&z->done);
	return NULL;
}

/*
 * A read of 200 bytes of @z->fd held in @h, @z asleep in another thread
 * behind it, still asleep after 300 ms; then the read ends and @z with it.
 */
static void sleep_through_a_read(struct __test_metadata *_metadata,
				 struct held *h, struct sleeper *z)
{
	pthread_t t;

	ASSERT_EQ(0, held_start(h, z->fd, false, 200, 0));
	ASSERT_EQ(0, pthread_create(&t, NULL, sleeper_thread, z));
	ASSERT_TRUE(ownbuf_wait_flag(&z->started, 10000));
	ownbuf_msleep(300);
	EXPECT_FALSE(__atomic_load_n(&z->done, __ATOMIC_ACQUIRE));
	EXPECT_EQ(200, held_finish(h));
	pthread_join(t, NULL);
}

TEST_F(held, end_of_a_read_wakes_a_poller)
{
	struct sleeper z = { .fd = self->owner };

	/*
	 * ownbuf.rst section 4: the access is a borrow; returning it wakes
	 * waiters.
	 */
	sleep_through_a_read(_metadata, &self->h, &z);
	EXPECT_EQ(1, z.ret);
	EXPECT_EQ(POLLOUT, z.revents);
	EXPECT_DELTA(&self->snap);
}

TEST_F(held, end_of_a_read_grants_a_waiting_mut_borrow)
{
	struct sleeper z = { .fd = self->owner, .borrow = true };

	sleep_through_a_read(_metadata, &self->h, &z);
	EXPECT_LE(0, z.ret);
	EXPECT_EQ(OWNBUF_ROLE_MUT, ownbuf_role(z.ret));
	close(z.ret);
	EXPECT_DELTA(&self->snap);
}

/* The owner's close runs in another thread: revocation waits there. */
struct closer {
	int fd;
	bool done;
	int ret;
};

static void *closer_thread(void *arg)
{
	struct closer *c = arg;

	c->ret = close(c->fd);
	ownbuf_set_flag(&c->done);
	return NULL;
}

/*
 * Revocation never waits for another process (contract v1.2): the owner's
 * close() returns while a write through the mut borrow is held in flight;
 * that write completes whole, every later access is refused.
 */
TEST_F(held, revocation_does_not_wait_for_the_access_in_flight)
{
	struct closer c = { 0 };
	pthread_t t;
	char buf[16];
	int m = ownbuf_mut(self->owner);
	int i;

	ASSERT_LE(0, m);
	ASSERT_EQ(0, held_start(&self->h, m, true, 200, 0));
	c.fd = self->owner;
	self->owner = -1;
	ASSERT_EQ(0, pthread_create(&t, NULL, closer_thread, &c));
	/* The close returns while the write is still held. */
	for (i = 0; i < 2000 && !__atomic_load_n(&c.done, __ATOMIC_ACQUIRE);
	     i++)
		ownbuf_msleep(1);
	EXPECT_TRUE(__atomic_load_n(&c.done, __ATOMIC_ACQUIRE))
		TH_LOG("close() of the owner waited for the write in flight");
	EXPECT_EQ(OWNBUF_STATE_REVOKED, ownbuf_state(m));
	EXPECT_ERRNO(ESTALE, pread(m, buf, sizeof(buf), 0));
	/* The write in flight completes whole. */
	EXPECT_EQ(200, held_finish(&self->h));
	pthread_join(t, NULL);
	EXPECT_EQ(0, c.ret);
	EXPECT_EQ(OWNBUF_STATE_REVOKED, ownbuf_state(m));
	close(m);
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1,
		     [V_DANGLING_BORROW] = 1);
}

TEST_HARNESS_MAIN
