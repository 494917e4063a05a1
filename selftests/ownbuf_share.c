// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/ownbuf: sharing and waiting.  dup(), fork() and SCM_RIGHTS share
 * the same open file, so the same owner or borrow
 * (Documentation/userspace-api/ownbuf.rst section 4); MOVE across
 * processes; the owner's process dying revokes borrows held elsewhere;
 * OWNBUF_BORROW_WAIT blocks until the conflicting borrow comes back and is
 * interruptible; poll() reports what would not get -EBUSY and wakes up
 * when a borrow is returned.
 */
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/time.h>

#include "ownbuf_util.h"

static int sync_wait(int fd)
{
	char c;

	return read(fd, &c, 1) == 1 ? 0 : -1;
}

static int sync_post(int fd)
{
	return write(fd, "s", 1) == 1 ? 0 : -1;
}

/* fork(): the child's pid in the parent, 0 in the child. */
static pid_t fork_child(struct __test_metadata *_metadata)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	return pid;
}

/*
 * fork() with @fd, the borrow or owner the test just took for the child to
 * share, open in both.
 */
static pid_t fork_sharing(struct __test_metadata *_metadata, int fd)
{
	ASSERT_LE(0, fd);
	return fork_child(_metadata);
}

FIXTURE(share)
{
	int owner;
	int sv[2];	/* a unix socket pair, for SCM_RIGHTS */
	struct ownbuf_counts snap;
};

FIXTURE_SETUP(share)
{
	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	self->owner = ownbuf_open();
	ASSERT_LE(0, self->owner);
	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				self->sv));
	SNAPSHOT(&self->snap);
}

FIXTURE_TEARDOWN(share)
{
	if (self->owner >= 0)
		close(self->owner);
	close(self->sv[0]);
	close(self->sv[1]);
}

/* --- dup() --- */

TEST_F(share, dup_shares_the_owner)
{
	int d = dup(self->owner);

	ASSERT_LE(0, d);
	EXPECT_EQ(ownbuf_id(self->owner), ownbuf_id(d));
	ASSERT_EQ(0, ownbuf_drop(d));
	EXPECT_EQ(OWNBUF_STATE_DROPPED, ownbuf_state(self->owner));
	/* The same owner: dropping it through the other fd is the 2nd drop. */
	EXPECT_ERRNO(ESTALE, ownbuf_drop(self->owner));
	close(d);
	EXPECT_DELTA(&self->snap, [V_DOUBLE_FREE] = 1);
}

TEST_F(share, dup_shares_a_borrow)
{
	int s = ownbuf_shared(self->owner);
	int d;

	ASSERT_LE(0, s);
	d = dup(s);
	ASSERT_LE(0, d);
	ASSERT_EQ(0, ownbuf_release(d));
	EXPECT_EQ(OWNBUF_STATE_RELEASED, ownbuf_state(s));
	EXPECT_ERRNO(ESTALE, ownbuf_release(s));
	close(s);
	close(d);
	EXPECT_DELTA(&self->snap, [V_DOUBLE_FREE] = 1);
}

TEST_F(share, dup_of_a_borrow_is_one_borrow)
{
	struct ob_info info;
	int s = ownbuf_shared(self->owner);
	int d;

	ASSERT_LE(0, s);
	d = dup(s);
	ASSERT_LE(0, d);
	ASSERT_EQ(0, ownbuf_info(self->owner, &info));
	EXPECT_EQ(1, info.shared);
	close(s);
	/* The borrow lives on in the dup. */
	ASSERT_EQ(0, ownbuf_info(self->owner, &info));
	EXPECT_EQ(1, info.shared);
	close(d);
	ASSERT_EQ(0, ownbuf_info(self->owner, &info));
	EXPECT_EQ(0, info.shared);
	EXPECT_DELTA(&self->snap);
}

TEST_F(share, dup_shares_the_position)
{
	int d = dup(self->owner);

	ASSERT_LE(0, d);
	ASSERT_EQ(10, lseek(d, 10, SEEK_SET));
	EXPECT_EQ(10, lseek(self->owner, 0, SEEK_CUR));
	close(d);
	EXPECT_DELTA(&self->snap);
}

TEST_F(share, dup_of_a_moved_owner_is_moved)
{
	int d = dup(self->owner);
	int n;

	ASSERT_LE(0, d);
	n = ownbuf_move(self->owner, OWNBUF_MOVE_CLOEXEC);
	ASSERT_LE(0, n);
	EXPECT_EQ(OWNBUF_STATE_MOVED, ownbuf_state(d));
	EXPECT_ERRNO(ESTALE, ownbuf_move(d, 0));
	close(d);
	close(n);
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

/* --- fork() --- */

TEST_F(share, fork_shares_the_owner)
{
	pid_t pid = fork_child(_metadata);

	if (!pid)
		_exit(ownbuf_drop(self->owner) ? 1 : 0);
	ASSERT_EQ(0, ownbuf_wait(pid));
	EXPECT_EQ(OWNBUF_STATE_DROPPED, ownbuf_state(self->owner));
	EXPECT_ERRNO(ESTALE, ownbuf_drop(self->owner));
	EXPECT_DELTA(&self->snap, [V_DOUBLE_FREE] = 1);
}

TEST_F(share, forked_child_exit_keeps_the_buffer)
{
	int s = ownbuf_shared(self->owner);
	pid_t pid = fork_sharing(_metadata, s);

	if (!pid)
		_exit(0);
	ASSERT_EQ(0, ownbuf_wait(pid));
	/* The child's copies closed; the open files live on here. */
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(self->owner));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(s));
	close(s);
	EXPECT_DELTA(&self->snap);
}

TEST_F(share, forked_child_borrow_is_returned_at_exit)
{
	struct ob_info info;
	pid_t pid = fork_child(_metadata);

	if (!pid)
		_exit(ownbuf_mut(self->owner) < 0);
	ASSERT_EQ(0, ownbuf_wait(pid));
	ASSERT_EQ(0, ownbuf_info(self->owner, &info));
	EXPECT_EQ(0, info.mut);
	EXPECT_EQ(0, ownbuf_fill(self->owner, 0, 8, 'p'));
	EXPECT_DELTA(&self->snap);
}

TEST_F(share, forked_child_writes_through_the_parents_borrow)
{
	int m = ownbuf_mut(self->owner);
	pid_t pid = fork_sharing(_metadata, m);

	if (!pid)
		_exit(ownbuf_fill(m, 0, 32, 'c') ? 1 : 0);
	ASSERT_EQ(0, ownbuf_wait(pid));
	EXPECT_EQ(1, ownbuf_check(m, 0, 32, 'c'));
	close(m);
	EXPECT_EQ(1, ownbuf_check(self->owner, 0, 32, 'c'));
	EXPECT_DELTA(&self->snap);
}

TEST_F(share, forked_child_release_ends_the_parents_borrow)
{
	char c;
	int s = ownbuf_shared(self->owner);
	pid_t pid = fork_sharing(_metadata, s);

	if (!pid)
		_exit(ownbuf_release(s) ? 1 : 0);
	ASSERT_EQ(0, ownbuf_wait(pid));
	EXPECT_EQ(OWNBUF_STATE_RELEASED, ownbuf_state(s));
	EXPECT_ERRNO(ESTALE, pread(s, &c, 1, 0));
	close(s);
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

/* --- SCM_RIGHTS --- */

TEST_F(share, scm_rights_shares_the_owner)
{
	pid_t pid = fork_child(_metadata);

	if (!pid) {
		int fd = ownbuf_recv_fd(self->sv[1]);

		if (fd < 0 || ownbuf_drop(fd))
			_exit(1);
		_exit(sync_post(self->sv[1]) ? 2 : 0);
	}
	ASSERT_EQ(0, ownbuf_send_fd(self->sv[0], self->owner));
	ASSERT_EQ(0, sync_wait(self->sv[0]));
	ASSERT_EQ(0, ownbuf_wait(pid));
	EXPECT_EQ(OWNBUF_STATE_DROPPED, ownbuf_state(self->owner));
	EXPECT_DELTA(&self->snap);
}

TEST_F(share, scm_rights_move_across_processes)
{
	long long id = ownbuf_id(self->owner);
	char c;
	int back;
	pid_t pid = fork_child(_metadata);

	if (!pid) {
		int fd = ownbuf_recv_fd(self->sv[1]);
		int n = fd < 0 ? -1 : ownbuf_move(fd, OWNBUF_MOVE_CLOEXEC);

		/* The receiver moves it, writes, and hands the new owner back. */
		if (n < 0 || ownbuf_fill(n, 0, 16, 'r'))
			_exit(1);
		if (ownbuf_state(fd) != OWNBUF_STATE_MOVED)
			_exit(2);
		_exit(ownbuf_send_fd(self->sv[1], n) ? 3 : 0);
	}
	ASSERT_EQ(0, ownbuf_send_fd(self->sv[0], self->owner));
	back = ownbuf_recv_fd(self->sv[0]);
	ASSERT_LE(0, back);
	ASSERT_EQ(0, ownbuf_wait(pid));
	/* The sender's fd is the moved-from owner now. */
	EXPECT_EQ(OWNBUF_STATE_MOVED, ownbuf_state(self->owner));
	EXPECT_ERRNO(ESTALE, pread(self->owner, &c, 1, 0));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(back));
	EXPECT_EQ(id, ownbuf_id(back));
	EXPECT_EQ(1, ownbuf_check(back, 0, 16, 'r'));
	close(back);
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(share, scm_rights_moved_owner_dies_with_the_receiver)
{
	int s;
	pid_t pid = fork_child(_metadata);

	if (!pid) {
		int fd = ownbuf_recv_fd(self->sv[1]);
		int n = fd < 0 ? -1 : ownbuf_move(fd, OWNBUF_MOVE_CLOEXEC);
		int b = n < 0 ? -1 : ownbuf_shared(n);

		if (b < 0 || ownbuf_send_fd(self->sv[1], b))
			_exit(1);
		/* Exit holding the only owner: its borrow elsewhere is revoked. */
		_exit(sync_wait(self->sv[1]) ? 2 : 0);
	}
	ASSERT_EQ(0, ownbuf_send_fd(self->sv[0], self->owner));
	s = ownbuf_recv_fd(self->sv[0]);
	ASSERT_LE(0, s);
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(s));
	ASSERT_EQ(0, sync_post(self->sv[0]));
	ASSERT_EQ(0, ownbuf_wait(pid));
	EXPECT_EQ(OWNBUF_STATE_REVOKED, ownbuf_state(s));
	close(s);
	EXPECT_DELTA(&self->snap, [V_DANGLING_BORROW] = 1);
}

TEST_F(share, scm_rights_shares_a_borrow)
{
	int s = ownbuf_shared(self->owner);
	pid_t pid = fork_sharing(_metadata, s);

	if (!pid) {
		int fd = ownbuf_recv_fd(self->sv[1]);
		char c;

		if (fd < 0 || pread(fd, &c, 1, 0) != 1)
			_exit(1);
		if (sync_post(self->sv[1]) || sync_wait(self->sv[1]))
			_exit(2);
		/* The sender released it: this is the same borrow. */
		if (pread(fd, &c, 1, 0) != -1 || errno != ESTALE)
			_exit(3);
		_exit(0);
	}
	ASSERT_EQ(0, ownbuf_send_fd(self->sv[0], s));
	ASSERT_EQ(0, sync_wait(self->sv[0]));
	ASSERT_EQ(0, ownbuf_release(s));
	ASSERT_EQ(0, sync_post(self->sv[0]));
	EXPECT_EQ(0, ownbuf_wait(pid));
	close(s);
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

TEST_F(share, scm_rights_of_a_moved_owner_stays_moved)
{
	int n = ownbuf_move(self->owner, OWNBUF_MOVE_CLOEXEC);
	pid_t pid = fork_sharing(_metadata, n);

	if (!pid) {
		int fd = ownbuf_recv_fd(self->sv[1]);

		if (ownbuf_state(fd) != OWNBUF_STATE_MOVED)
			_exit(1);
		_exit(ownbuf_shared(fd) == -1 && errno == ESTALE ? 0 : 2);
	}
	ASSERT_EQ(0, ownbuf_send_fd(self->sv[0], self->owner));
	EXPECT_EQ(0, ownbuf_wait(pid));
	close(n);
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1);
}

/*
 * Fork a process that owns a buffer of its own, sends a borrow of it
 * (@flags: OWNBUF_BORROW_SHARED or OWNBUF_BORROW_MUT) over @sv[1], and
 * exits, taking the only owner with it, once told to by sync_post().
 * The child's pid; the borrow, received on @sv[0], in *@borrow.
 */
static pid_t fork_remote_owner(struct __test_metadata *_metadata, int sv[2],
			       __u32 flags, int *borrow)
{
	pid_t pid = fork_child(_metadata);

	if (!pid) {
		int o = ownbuf_open();
		int b = o < 0 ? -1 :
			ownbuf_borrow(o, flags | OWNBUF_BORROW_CLOEXEC);

		if (b < 0 || ownbuf_send_fd(sv[1], b))
			_exit(1);
		_exit(sync_wait(sv[1]) ? 2 : 0);
	}
	*borrow = ownbuf_recv_fd(sv[0]);
	ASSERT_LE(0, *borrow);
	return pid;
}

TEST_F(share, owner_process_death_revokes_borrows_elsewhere)
{
	char c;
	int s;
	pid_t pid;

	pid = fork_remote_owner(_metadata, self->sv, OWNBUF_BORROW_SHARED, &s);
	ASSERT_EQ(1, pread(s, &c, 1, 0));
	ASSERT_EQ(0, sync_post(self->sv[0]));
	ASSERT_EQ(0, ownbuf_wait(pid));
	EXPECT_EQ(OWNBUF_STATE_REVOKED, ownbuf_state(s));
	EXPECT_ERRNO(ESTALE, pread(s, &c, 1, 0));
	close(s);
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1,
		     [V_DANGLING_BORROW] = 1);
}

TEST_F(share, owner_process_death_revokes_mappings_elsewhere)
{
	char *p, c;
	int s;
	pid_t pid;

	pid = fork_remote_owner(_metadata, self->sv, OWNBUF_BORROW_MUT, &s);
	p = mmap(NULL, OWNBUF_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, s, 0);
	ASSERT_NE(MAP_FAILED, p);
	close(s);
	p[0] = 'x';
	ASSERT_EQ(0, sync_post(self->sv[0]));
	ASSERT_EQ(0, ownbuf_wait(pid));
	EXPECT_EQ(SIGBUS, ownbuf_touch(p, false, &c));
	munmap(p, OWNBUF_PAGE);
	EXPECT_DELTA(&self->snap, [V_DANGLING_BORROW] = 1);
}

TEST_F(share, owner_killed_revokes_borrows_elsewhere)
{
	int s;
	pid_t pid = fork_child(_metadata);

	if (!pid) {
		int o = ownbuf_open();
		int a = o < 0 ? -1 : ownbuf_shared(o);

		if (a < 0 || ownbuf_send_fd(self->sv[1], a))
			_exit(1);
		close(a);
		pause();
		_exit(2);
	}
	s = ownbuf_recv_fd(self->sv[0]);
	ASSERT_LE(0, s);
	kill(pid, SIGKILL);
	EXPECT_EQ(128 + SIGKILL, ownbuf_wait(pid));
	EXPECT_EQ(OWNBUF_STATE_REVOKED, ownbuf_state(s));
	close(s);
	EXPECT_DELTA(&self->snap, [V_DANGLING_BORROW] = 1);
}

/*
 * A thread that blocks in one call: it sets @started right before the
 * call and @done once the call has returned.
 */
struct blocker {
	pthread_t thread;
	bool started;
	bool done;
};

static bool blocker_done(struct blocker *b)
{
	return __atomic_load_n(&b->done, __ATOMIC_ACQUIRE);
}

/*
 * Start @fn(@arg), the thread of @b, and see it still blocked @ms
 * milliseconds after it started.
 */
static void blocker_start(struct __test_metadata *_metadata,
			  struct blocker *b, void *(*fn)(void *), void *arg,
			  unsigned int ms)
{
	ASSERT_EQ(0, pthread_create(&b->thread, NULL, fn, arg));
	ASSERT_TRUE(ownbuf_wait_flag(&b->started, 10000));
	ownbuf_msleep(ms);
	EXPECT_FALSE(blocker_done(b));
}

/* --- OWNBUF_BORROW_WAIT --- */

struct waiter {
	struct blocker b;
	int owner;
	__u32 flags;
	int fd;
	int err;
	double took;
};

static void *waiter_thread(void *arg)
{
	struct waiter *w = arg;
	double t0 = ownbuf_now();

	ownbuf_set_flag(&w->b.started);
	w->fd = ownbuf_borrow(w->owner, w->flags);
	w->err = errno;
	w->took = ownbuf_now() - t0;
	ownbuf_set_flag(&w->b.done);
	return NULL;
}

/*
 * Start a thread asking @owner for a borrow (@flags, and
 * OWNBUF_BORROW_WAIT), and see it still waiting @ms milliseconds after it
 * started.
 */
static void waiter_start(struct __test_metadata *_metadata,
			 struct waiter *w, int owner, __u32 flags,
			 unsigned int ms)
{
	memset(w, 0, sizeof(*w));
	w->owner = owner;
	w->flags = flags | OWNBUF_BORROW_WAIT;
	blocker_start(_metadata, &w->b, waiter_thread, w, ms);
}

/* Wait for the thread of @w to end: the borrow it got, or -1. */
static int waiter_join(struct waiter *w)
{
	pthread_join(w->b.thread, NULL);
	return w->fd;
}

TEST_F(share, wait_is_granted_at_once_when_free)
{
	double t0 = ownbuf_now();
	int m = ownbuf_borrow(self->owner, OWNBUF_BORROW_MUT |
			      OWNBUF_BORROW_WAIT);

	EXPECT_LE(0, m);
	EXPECT_GT(1.0, ownbuf_now() - t0);
	close(m);
	EXPECT_DELTA(&self->snap);
}

TEST_F(share, wait_shared_blocks_until_mut_is_released)
{
	struct waiter w;
	int m = ownbuf_mut(self->owner);

	ASSERT_LE(0, m);
	waiter_start(_metadata, &w, self->owner, OWNBUF_BORROW_SHARED, 300);
	ASSERT_EQ(0, ownbuf_release(m));
	EXPECT_LE(0, waiter_join(&w));
	EXPECT_LE(0.25, w.took);
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(w.fd));
	close(w.fd);
	close(m);
	/* A borrow that waited and was granted refused nothing. */
	EXPECT_DELTA(&self->snap);
}

TEST_F(share, wait_mut_blocks_until_every_shared_is_back)
{
	struct waiter w;
	int a = ownbuf_shared(self->owner);
	int b = ownbuf_shared(self->owner);

	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	waiter_start(_metadata, &w, self->owner, OWNBUF_BORROW_MUT, 200);
	ASSERT_EQ(0, ownbuf_release(a));
	ownbuf_msleep(200);
	EXPECT_FALSE(blocker_done(&w.b));
	ASSERT_EQ(0, close(b));
	EXPECT_LE(0, waiter_join(&w));
	EXPECT_EQ(OWNBUF_ROLE_MUT, ownbuf_role(w.fd));
	close(w.fd);
	close(a);
	EXPECT_DELTA(&self->snap);
}

TEST_F(share, wait_is_granted_when_the_last_mapping_goes)
{
	struct waiter w;
	int m = ownbuf_mut(self->owner);
	char *p;

	ASSERT_LE(0, m);
	p = mmap(NULL, OWNBUF_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, close(m));
	waiter_start(_metadata, &w, self->owner, OWNBUF_BORROW_SHARED, 300);
	ASSERT_EQ(0, munmap(p, OWNBUF_PAGE));
	EXPECT_LE(0, waiter_join(&w));
	close(w.fd);
	EXPECT_DELTA(&self->snap);
}

TEST_F(share, wait_is_granted_to_a_waiting_process)
{
	int m = ownbuf_mut(self->owner);
	pid_t pid = fork_sharing(_metadata, m);

	if (!pid) {
		int s;

		close(m);
		if (sync_post(self->sv[1]))
			_exit(1);
		s = ownbuf_borrow(self->owner, OWNBUF_BORROW_SHARED |
				  OWNBUF_BORROW_WAIT);
		_exit(s < 0 ? 2 : 0);
	}
	ASSERT_EQ(0, sync_wait(self->sv[0]));
	ownbuf_msleep(300);
	EXPECT_EQ(0, waitpid(pid, NULL, WNOHANG));
	ASSERT_EQ(0, ownbuf_release(m));
	EXPECT_EQ(0, ownbuf_wait(pid));
	close(m);
	EXPECT_DELTA(&self->snap);
}

static void on_alarm(int sig)
{
	(void)sig;
}

TEST_F(share, wait_interrupted_by_a_signal_is_eintr)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct itimerval it = { .it_value = { 0, 300000 } };
	struct ob_info info;
	int m = ownbuf_mut(self->owner);
	int next;

	ASSERT_LE(0, m);
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGALRM, &sa, NULL));
	next = ownbuf_next_fd();
	ASSERT_EQ(0, setitimer(ITIMER_REAL, &it, NULL));
	EXPECT_ERRNO(EINTR, ownbuf_borrow(self->owner, OWNBUF_BORROW_SHARED |
					  OWNBUF_BORROW_WAIT));
	EXPECT_EQ(next, ownbuf_next_fd());
	ASSERT_EQ(0, ownbuf_info(self->owner, &info));
	EXPECT_EQ(0, info.shared);
	EXPECT_EQ(1, info.mut);
	close(m);
	EXPECT_DELTA(&self->snap);
}

TEST_F(share, wait_killed_leaves_nothing_behind)
{
	struct ob_info info;
	int m = ownbuf_mut(self->owner);
	pid_t pid = fork_sharing(_metadata, m);

	if (!pid) {
		sync_post(self->sv[1]);
		ownbuf_borrow(self->owner, OWNBUF_BORROW_MUT |
			      OWNBUF_BORROW_WAIT);
		_exit(1);
	}
	ASSERT_EQ(0, sync_wait(self->sv[0]));
	ownbuf_msleep(200);
	kill(pid, SIGKILL);
	EXPECT_EQ(128 + SIGKILL, ownbuf_wait(pid));
	ASSERT_EQ(0, ownbuf_info(self->owner, &info));
	EXPECT_EQ(1, info.mut);
	close(m);
	EXPECT_EQ(0, ownbuf_drop(self->owner));
	EXPECT_DELTA(&self->snap);
}

/* --- poll --- */

TEST_F(share, poll_idle_owner_reads_and_writes)
{
	EXPECT_EQ(POLLIN | POLLOUT,
		  ownbuf_poll_now(self->owner, POLLIN | POLLOUT));
	EXPECT_DELTA(&self->snap);
}

TEST_F(share, poll_owner_with_shared_out_reads_only)
{
	int s = ownbuf_shared(self->owner);

	ASSERT_LE(0, s);
	EXPECT_EQ(POLLIN, ownbuf_poll_now(self->owner, POLLIN | POLLOUT));
	close(s);
	EXPECT_DELTA(&self->snap);
}

TEST_F(share, poll_owner_with_mut_out_is_not_ready)
{
	int m = ownbuf_mut(self->owner);

	ASSERT_LE(0, m);
	EXPECT_EQ(0, ownbuf_poll_now(self->owner, POLLIN | POLLOUT));
	close(m);
	EXPECT_DELTA(&self->snap);
}

TEST_F(share, poll_shared_borrow_never_writes)
{
	int s = ownbuf_shared(self->owner);

	ASSERT_LE(0, s);
	EXPECT_EQ(POLLIN, ownbuf_poll_now(s, POLLIN | POLLOUT));
	close(s);
	EXPECT_DELTA(&self->snap);
}

TEST_F(share, poll_mut_borrow_reads_and_writes)
{
	int m = ownbuf_mut(self->owner);

	ASSERT_LE(0, m);
	EXPECT_EQ(POLLIN | POLLOUT, ownbuf_poll_now(m, POLLIN | POLLOUT));
	close(m);
	EXPECT_DELTA(&self->snap);
}

TEST_F(share, poll_revoked_borrow_is_err_hup)
{
	int m = ownbuf_mut(self->owner);

	ASSERT_LE(0, m);
	ASSERT_EQ(0, close(self->owner));
	self->owner = -1;
	EXPECT_EQ(POLLERR | POLLHUP, ownbuf_poll_now(m, POLLIN | POLLOUT));
	close(m);
	EXPECT_DELTA(&self->snap, [V_DANGLING_BORROW] = 1);
}

struct poller {
	struct blocker b;
	int fd;
	short events;
	int timeout;
	short revents;
	int ret;
};

static void *poller_thread(void *arg)
{
	struct poller *p = arg;
	struct pollfd pfd = { .fd = p->fd, .events = p->events };

	ownbuf_set_flag(&p->b.started);
	p->ret = poll(&pfd, 1, p->timeout);
	p->revents = pfd.revents;
	ownbuf_set_flag(&p->b.done);
	return NULL;
}

/*
 * Start a thread polling @fd for @events (for 10 s at the most), and see
 * it still asleep 300 ms after it started.
 */
static void poller_start(struct __test_metadata *_metadata,
			 struct poller *p, int fd, short events)
{
	memset(p, 0, sizeof(*p));
	p->fd = fd;
	p->events = events;
	p->timeout = 10000;
	blocker_start(_metadata, &p->b, poller_thread, p, 300);
}

TEST_F(share, poll_wakes_when_a_shared_borrow_is_released)
{
	struct poller p;
	int s = ownbuf_shared(self->owner);
	double t0;

	ASSERT_LE(0, s);
	poller_start(_metadata, &p, self->owner, POLLOUT);
	t0 = ownbuf_now();
	ASSERT_EQ(0, ownbuf_release(s));
	pthread_join(p.b.thread, NULL);
	EXPECT_GT(5.0, ownbuf_now() - t0);
	EXPECT_EQ(1, p.ret);
	EXPECT_EQ(POLLOUT, p.revents);
	close(s);
	EXPECT_DELTA(&self->snap);
}

TEST_F(share, poll_wakes_when_a_mut_borrow_is_closed)
{
	struct poller p;
	int m = ownbuf_mut(self->owner);

	ASSERT_LE(0, m);
	poller_start(_metadata, &p, self->owner, POLLIN);
	ASSERT_EQ(0, close(m));
	pthread_join(p.b.thread, NULL);
	EXPECT_EQ(1, p.ret);
	EXPECT_EQ(POLLIN, p.revents);
	EXPECT_DELTA(&self->snap);
}

TEST_F(share, poll_of_a_borrow_wakes_when_it_is_revoked)
{
	struct poller p;
	int s = ownbuf_shared(self->owner);

	ASSERT_LE(0, s);
	/* A shared borrow never reports POLLOUT: the poller sleeps. */
	poller_start(_metadata, &p, s, POLLOUT);
	ASSERT_EQ(0, close(self->owner));
	self->owner = -1;
	pthread_join(p.b.thread, NULL);
	EXPECT_EQ(1, p.ret);
	EXPECT_EQ(POLLERR | POLLHUP, p.revents);
	close(s);
	EXPECT_DELTA(&self->snap, [V_DANGLING_BORROW] = 1);
}

TEST_F(share, epoll_wakes_when_a_borrow_is_returned)
{
	struct epoll_event ev = { .events = EPOLLOUT }, out;
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int m = ownbuf_mut(self->owner);
	pid_t pid;

	ASSERT_LE(0, ep);
	ASSERT_LE(0, m);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->owner, &ev));
	EXPECT_EQ(0, epoll_wait(ep, &out, 1, 0));
	pid = fork_child(_metadata);
	if (!pid) {
		ownbuf_msleep(300);
		_exit(ownbuf_release(m) ? 1 : 0);
	}
	EXPECT_EQ(1, epoll_wait(ep, &out, 1, 10000));
	EXPECT_EQ((unsigned int)EPOLLOUT, out.events);
	EXPECT_EQ(0, ownbuf_wait(pid));
	close(m);
	close(ep);
	EXPECT_DELTA(&self->snap);
}

TEST_HARNESS_MAIN
