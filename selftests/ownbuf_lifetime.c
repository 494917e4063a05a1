// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/ownbuf: the rules of contract v1.2 and the races behind them.
 *
 *  - The owner fd's access mode: BORROW SHARED needs it open for reading,
 *    BORROW MUT for reading and writing, RESIZE for writing; otherwise
 *    -EBADF, not counted, checked right after the role.
 *  - Revocation never waits for another process: the owner's close()
 *    returns while a borrower's read is stalled on a userfaultfd page; the
 *    read then completes, later accesses are refused.
 *  - A refused attempt is invisible: reads through a held shared borrow
 *    are never refused because the owner keeps trying to write.
 *  - INFO is one snapshot: LIVE always comes with the size the buffer had.
 *
 * Each race test asserts that the interleaving it is named for happened.
 */
#include <poll.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <linux/userfaultfd.h>

#include "ownbuf_util.h"

FIXTURE(mode)
{
	struct ownbuf_counts snap;
};

FIXTURE_SETUP(mode)
{
	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device (module not loaded)",
		     OWNBUF_DEV);
	SNAPSHOT(&self->snap);
}

FIXTURE_TEARDOWN(mode)
{
}

static int ownbuf_open_mode(int mode)
{
	return open(OWNBUF_DEV, mode | O_CLOEXEC);
}

TEST_F(mode, read_only_owner_lends_shared_only)
{
	int fd = ownbuf_open_mode(O_RDONLY), b;

	ASSERT_LE(0, fd);
	EXPECT_ERRNO(EBADF, ownbuf_mut(fd));
	EXPECT_ERRNO(EBADF, ownbuf_borrow(fd, OWNBUF_BORROW_MUT |
					  OWNBUF_BORROW_WAIT));
	EXPECT_ERRNO(EBADF, ownbuf_resize(fd, 2 * OWNBUF_PAGE));
	EXPECT_EQ(OWNBUF_DEFAULT_SIZE, ownbuf_size(fd));
	b = ownbuf_shared(fd);
	ASSERT_LE(0, b);
	EXPECT_EQ(OWNBUF_ROLE_SHARED, ownbuf_role(b));
	close(b);
	EXPECT_DELTA(&self->snap);
	/* DROP and INFO work in any mode. */
	EXPECT_RET(0, ownbuf_drop(fd));
	EXPECT_EQ(OWNBUF_STATE_DROPPED, ownbuf_state(fd));
	close(fd);
}

TEST_F(mode, write_only_owner_lends_nothing)
{
	int fd = ownbuf_open_mode(O_WRONLY);
	char c = 'x';

	ASSERT_LE(0, fd);
	EXPECT_ERRNO(EBADF, ownbuf_shared(fd));
	EXPECT_ERRNO(EBADF, ownbuf_mut(fd));
	/* A NULL argument: which borrow is unknown, both need reading. */
	EXPECT_ERRNO(EBADF, ioctl(fd, OWNBUF_IOC_BORROW, NULLPTR));
	EXPECT_RET(0, ownbuf_resize(fd, 2 * OWNBUF_PAGE));
	EXPECT_RET(1, pwrite(fd, &c, 1, 0));
	EXPECT_ERRNO(EBADF, pread(fd, &c, 1, 0));
	EXPECT_EQ(2 * OWNBUF_PAGE, ownbuf_size(fd));
	EXPECT_DELTA(&self->snap);
	close(fd);
}

TEST_F(mode, read_write_owner_lends_both)
{
	int fd = ownbuf_open_mode(O_RDWR), b;

	ASSERT_LE(0, fd);
	b = ownbuf_mut(fd);
	ASSERT_LE(0, b);
	close(b);
	b = ownbuf_shared(fd);
	ASSERT_LE(0, b);
	close(b);
	EXPECT_RET(0, ownbuf_resize(fd, OWNBUF_PAGE + 1));
	EXPECT_DELTA(&self->snap);
	close(fd);
}

/* A moved owner keeps the mode of the fd it was moved from. */
TEST_F(mode, moved_owner_keeps_its_mode)
{
	int fd = ownbuf_open_mode(O_RDONLY), to;

	ASSERT_LE(0, fd);
	to = ownbuf_move(fd, OWNBUF_MOVE_CLOEXEC);
	ASSERT_LE(0, to);
	EXPECT_EQ(O_RDONLY, fcntl(to, F_GETFL) & O_ACCMODE);
	EXPECT_ERRNO(EBADF, ownbuf_mut(to));
	EXPECT_ERRNO(EBADF, ownbuf_resize(to, 2 * OWNBUF_PAGE));
	EXPECT_DELTA(&self->snap);
	close(to);
	close(fd);

	fd = ownbuf_open_mode(O_WRONLY);
	ASSERT_LE(0, fd);
	to = ownbuf_move(fd, OWNBUF_MOVE_CLOEXEC);
	ASSERT_LE(0, to);
	EXPECT_EQ(O_WRONLY, fcntl(to, F_GETFL) & O_ACCMODE);
	EXPECT_ERRNO(EBADF, ownbuf_shared(to));
	EXPECT_RET(0, ownbuf_resize(to, 2 * OWNBUF_PAGE));
	EXPECT_DELTA(&self->snap);
	close(to);
	close(fd);
}

/*
 * The order: unknown command, role, access mode, state.  A read-only fd
 * that is not LIVE still answers -EBADF for what it may never do.
 */
TEST_F(mode, order_of_checks)
{
	int fd = ownbuf_open_mode(O_RDONLY), b, dead;

	ASSERT_LE(0, fd);
	b = ownbuf_shared(fd);
	ASSERT_LE(0, b);
	EXPECT_ERRNO(ENOTTY, ioctl(fd, _IO(OWNBUF_IOC_MAGIC, 0x7f)));
	/* A shared borrow fd is read-only too: the role decides first. */
	EXPECT_ERRNO(EPERM, ownbuf_resize(b, OWNBUF_PAGE));
	EXPECT_ERRNO(EPERM, ownbuf_mut(b));
	EXPECT_DELTA(&self->snap);
	close(b);

	dead = ownbuf_open_mode(O_RDONLY);
	ASSERT_LE(0, dead);
	ASSERT_RET(0, ownbuf_drop(dead));
	SNAPSHOT(&self->snap);
	EXPECT_ERRNO(EBADF, ownbuf_mut(dead));
	EXPECT_ERRNO(EBADF, ownbuf_resize(dead, OWNBUF_PAGE));
	EXPECT_DELTA(&self->snap);
	/* What the mode allows meets the state check: a use after free. */
	EXPECT_ERRNO(ESTALE, ownbuf_shared(dead));
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
	close(dead);
	close(fd);
}

/* ------------------------------------------------------------------ */
/* Revocation never waits for another process.                        */

static int ownbuf_uffd(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd;

	fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -1;
	if (ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A page whose first touch stalls until someone resolves it. */
static char *ownbuf_uffd_page(int uffd)
{
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	char *p = mmap(NULL, OWNBUF_PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	reg.range.start = (unsigned long)p;
	reg.range.len = OWNBUF_PAGE;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		return NULL;
	return p;
}

struct ob_stall {
	int uffd;
	char *page;
	int to_parent;		/* "stalled" goes here */
	int from_parent;	/* "resolve" comes from here */
	bool resolved;
};

/* In the child: wait for the fault, tell the parent, resolve on demand. */
static void *ob_stall_monitor(void *arg)
{
	struct ob_stall *st = arg;
	struct pollfd pfd = { .fd = st->uffd, .events = POLLIN };
	struct uffdio_zeropage zp = { .range.len = OWNBUF_PAGE };
	struct uffd_msg msg;
	char c = 's';

	/* The read is in flight inside ownbuf once its copy faults. */
	if (poll(&pfd, 1, 10000) != 1 ||
	    read(st->uffd, &msg, sizeof(msg)) != sizeof(msg) ||
	    msg.event != UFFD_EVENT_PAGEFAULT)
		c = 'f';
	if (write(st->to_parent, &c, 1) != 1)
		return NULL;
	/* Resolve when told to, or after 5 s so that nothing hangs. */
	pfd.fd = st->from_parent;
	poll(&pfd, 1, 5000);
	zp.range.start = (unsigned long)st->page;
	ioctl(st->uffd, UFFDIO_ZEROPAGE, &zp);
	return NULL;
}

/*
 * A borrower (another process) reads through its shared borrow into a
 * userfaultfd page: the read stalls inside ownbuf's copy.  The owner's
 * close() returns at once; the stalled read completes with the bytes it
 * was reading; the next read through the borrow is refused; the buffer's
 * memory goes when the read leaves.
 */
TEST(close_while_a_read_is_stalled)
{
	int owner, b, up[2], down[2], status, uffd;
	struct ownbuf_counts snap;
	struct ob_stall st;
	double t0, closed;
	pthread_t mon;
	pid_t pid;
	char c;

	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	uffd = ownbuf_uffd();
	if (uffd < 0)
		SKIP(return, "userfaultfd: %s (CONFIG_USERFAULTFD?)",
		     strerror(errno));
	close(uffd);
	owner = ownbuf_open();
	ASSERT_LE(0, owner);
	ASSERT_RET(0, ownbuf_fill(owner, 0, OWNBUF_DEFAULT_SIZE, 'r'));
	b = ownbuf_shared(owner);
	ASSERT_LE(0, b);
	ASSERT_RET(0, pipe(up));
	ASSERT_RET(0, pipe(down));
	SNAPSHOT(&snap);

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		ssize_t n, again;

		close(owner);
		close(up[0]);
		close(down[1]);
		st.uffd = ownbuf_uffd();
		st.page = st.uffd < 0 ? NULL : ownbuf_uffd_page(st.uffd);
		if (!st.page)
			_exit(10);
		st.to_parent = up[1];
		st.from_parent = down[0];
		if (pthread_create(&mon, NULL, ob_stall_monitor, &st))
			_exit(11);
		n = pread(b, st.page, OWNBUF_PAGE, 0);
		if (n != OWNBUF_DEFAULT_SIZE)
			_exit(12);
		if (!ownbuf_mem_is(st.page, n, 'r'))
			_exit(13);
		again = pread(b, st.page, 1, 0);
		if (again != -1 || errno != ESTALE)
			_exit(14);
		pthread_join(mon, NULL);
		_exit(0);
	}
	close(b);
	close(up[1]);
	close(down[0]);
	/* The child's read is stalled in ownbuf's copy. */
	ASSERT_EQ(1, read(up[0], &c, 1));
	ASSERT_EQ('s', c) TH_LOG("the child's read never faulted");
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(owner));

	t0 = ownbuf_now();
	close(owner);
	closed = ownbuf_now() - t0;
	EXPECT_LT(closed, 1.0)
		TH_LOG("close() of the owner took %.3f s: it waited for the read",
		       closed);
	/* Revoked, not yet freed: the read still holds the memory. */
	EXPECT_DELTA(&snap, [V_DANGLING_BORROW] = 1);

	c = 'r';
	ASSERT_EQ(1, write(down[1], &c, 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status))
		TH_LOG("child: 12 short read, 13 wrong bytes, 14 next read not ESTALE");
	EXPECT_DELTA(&snap, [V_DANGLING_BORROW] = 1, [V_USE_AFTER_FREE] = 1);
	close(up[0]);
	close(down[1]);
}

/*
 * Closing owners with a shared borrow out each: every close returns
 * without waiting for anything (no grace period either); what the borrows
 * see is REVOKED at once.
 */
TEST(close_with_borrows_out_is_prompt)
{
	enum { N = 64 };
	int owner[N], b[N], i;
	double t0, total;

	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	for (i = 0; i < N; i++) {
		owner[i] = ownbuf_open();
		ASSERT_LE(0, owner[i]);
		b[i] = ownbuf_shared(owner[i]);
		ASSERT_LE(0, b[i]);
	}
	t0 = ownbuf_now();
	for (i = 0; i < N; i++) {
		close(owner[i]);
		EXPECT_EQ(OWNBUF_STATE_REVOKED, ownbuf_state(b[i]));
	}
	total = ownbuf_now() - t0;
	TH_LOG("%d owners closed with a borrow out in %.3f s", N, total);
	for (i = 0; i < N; i++)
		close(b[i]);
}

/* ------------------------------------------------------------------ */
/* A refused attempt is invisible to everybody else.                  */

struct ob_shared_page {
	bool go;
	bool writing;		/* the writer process is in its loop */
	bool stop;
	long reads;
	long reads_while_writing;
	long read_errors;
	int first_errno;
	long writes;
	long write_ok;
	long write_other;
};

/*
 * One process reads through a shared borrow it holds, as fast as it can;
 * another keeps trying to write as the owner, on the other CPU.  Every
 * write is refused (a borrow is out): one data_race each.  No read is
 * ever refused because of them.  The two loops overlapped: reads happened
 * while the writer was inside its loop.
 */
TEST(reads_through_a_held_borrow_are_never_refused)
{
	struct ob_shared_page *sp;
	struct ownbuf_counts snap;
	int owner, b, status[2];
	char buf[256];
	pid_t pid[2];
	double end;

	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "a race needs two CPUs");
	sp = mmap(NULL, sizeof(*sp), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, sp);
	memset(sp, 0, sizeof(*sp));
	owner = ownbuf_open();
	ASSERT_LE(0, owner);
	b = ownbuf_shared(owner);
	ASSERT_LE(0, b);
	SNAPSHOT(&snap);

	pid[0] = fork();
	ASSERT_LE(0, pid[0]);
	if (!pid[0]) {
		while (!__atomic_load_n(&sp->go, __ATOMIC_ACQUIRE))
			;
		while (!__atomic_load_n(&sp->stop, __ATOMIC_ACQUIRE)) {
			bool w = __atomic_load_n(&sp->writing,
						 __ATOMIC_ACQUIRE);

			if (pread(b, buf, sizeof(buf), 0) != sizeof(buf)) {
				if (!sp->read_errors++)
					sp->first_errno = errno;
			}
			sp->reads++;
			if (w && __atomic_load_n(&sp->writing,
						 __ATOMIC_ACQUIRE))
				sp->reads_while_writing++;
		}
		_exit(0);
	}
	pid[1] = fork();
	ASSERT_LE(0, pid[1]);
	if (!pid[1]) {
		memset(buf, 'w', sizeof(buf));
		while (!__atomic_load_n(&sp->go, __ATOMIC_ACQUIRE))
			;
		__atomic_store_n(&sp->writing, true, __ATOMIC_RELEASE);
		while (!__atomic_load_n(&sp->stop, __ATOMIC_ACQUIRE)) {
			ssize_t n = pwrite(owner, buf, sizeof(buf), 0);

			sp->writes++;
			if (n >= 0)
				sp->write_ok++;
			else if (errno != EBUSY)
				sp->write_other++;
		}
		__atomic_store_n(&sp->writing, false, __ATOMIC_RELEASE);
		_exit(0);
	}
	__atomic_store_n(&sp->go, true, __ATOMIC_RELEASE);
	end = ownbuf_now() + 2.0;
	while (ownbuf_now() < end)
		ownbuf_msleep(50);
	__atomic_store_n(&sp->stop, true, __ATOMIC_RELEASE);
	status[0] = ownbuf_wait(pid[0]);
	status[1] = ownbuf_wait(pid[1]);
	EXPECT_EQ(0, status[0]);
	EXPECT_EQ(0, status[1]);

	TH_LOG("%ld reads (%ld while the owner was writing), %ld writes refused",
	       sp->reads, sp->reads_while_writing, sp->writes);
	EXPECT_EQ(0, sp->read_errors)
		TH_LOG("a read through the held borrow failed: %s",
		       strerror(sp->first_errno));
	EXPECT_EQ(0, sp->write_ok);
	EXPECT_EQ(0, sp->write_other);
	/* The race happened: many reads while the writes went on. */
	EXPECT_LT(100, sp->reads_while_writing);
	EXPECT_LT(100, sp->writes);
	EXPECT_DELTA(&snap, [V_DATA_RACE] = sp->writes);
	close(b);
	close(owner);
	munmap(sp, sizeof(*sp));
}

/* ------------------------------------------------------------------ */
/* INFO is one snapshot.                                              */

struct ob_info_race {
	int fd;			/* the owner INFO looks at */
	int round;		/* which buffer it is: one per round */
	bool stop;
	long infos;
	long live;
	long dropped;
	long bad;
	long overlaps;		/* rounds in which INFO saw LIVE, then DROPPED */
	struct ob_info first_bad;
};

static void *ob_info_storm(void *arg)
{
	struct ob_info_race *r = arg;
	int round, last = -1;
	bool live = false;
	struct ob_info info;

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		round = __atomic_load_n(&r->round, __ATOMIC_ACQUIRE);
		if (round != last) {
			live = false;
			last = round;
		}
		if (ownbuf_info(__atomic_load_n(&r->fd, __ATOMIC_RELAXED),
				&info))
			continue;
		r->infos++;
		if (info.state == OWNBUF_STATE_LIVE &&
		    info.size == OWNBUF_DEFAULT_SIZE) {
			__atomic_store_n(&r->live, r->live + 1,
					 __ATOMIC_RELEASE);
			live = true;
		} else if (info.state == OWNBUF_STATE_DROPPED && !info.size &&
			   !info.shared && !info.mut) {
			r->dropped++;
			/* INFO saw this round's buffer live, then dropped. */
			if (live) {
				r->overlaps++;
				live = false;
			}
		} else if (!r->bad++) {
			r->first_bad = info;
		}
	}
	return NULL;
}

/*
 * One thread asks INFO over and over while another drops the buffer: every
 * answer is LIVE with the buffer's size, or DROPPED with zeros, never a
 * mix.  The two met: in some rounds INFO saw the same buffer live and
 * then dropped, so a drop came between two of its answers.
 */
TEST(info_is_one_snapshot_during_drop)
{
	struct ob_info_race r = { .fd = -1 };
	long seen;
	pthread_t t;
	int i, fd;

	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	/* One fd number for every round: INFO follows the round counter. */
	fd = ownbuf_open();
	ASSERT_LE(0, fd);
	r.fd = fd;
	ASSERT_EQ(0, pthread_create(&t, NULL, ob_info_storm, &r));
	for (i = 0; i < 300; i++) {
		/* Let INFO see it live, then drop it under its feet. */
		seen = __atomic_load_n(&r.live, __ATOMIC_ACQUIRE);
		while (__atomic_load_n(&r.live, __ATOMIC_ACQUIRE) == seen)
			sched_yield();
		ASSERT_RET(0, ownbuf_drop(fd));
		ownbuf_msleep(2);
		/* A new buffer on the same fd number, for the next round. */
		close(fd);
		ASSERT_EQ(fd, ownbuf_open());
		__atomic_store_n(&r.round, i + 1, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&r.stop, true, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	close(fd);
	TH_LOG("%ld INFO: %ld live, %ld dropped, %ld rounds saw both",
	       r.infos, r.live, r.dropped, r.overlaps);
	EXPECT_EQ(0, r.bad)
		TH_LOG("INFO said state %d size %lld shared %d mut %d",
		       r.first_bad.state, r.first_bad.size,
		       r.first_bad.shared, r.first_bad.mut);
	/* The race happened: drops came while INFO was being asked. */
	EXPECT_LT(0, r.overlaps);
}

TEST_HARNESS_MAIN
