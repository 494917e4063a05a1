// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/ownbuf under random use: several processes (and children they fork)
 * open, borrow, release, drop, move, resize, read, write, seek, map, touch
 * mappings, unmap, dup and close at random for about 20 seconds.  Every
 * call must succeed or fail only with an errno that
 * Documentation/userspace-api/ownbuf.rst allows for it; touching a mapping
 * may only raise SIGBUS (revoked); every fd closes cleanly; no process
 * dies; and once all are gone the module holds no reference.
 *
 * Meanwhile one more process reads /sys/kernel/debug/ownbuf/buffers and the
 * /proc/PID/fdinfo of the workers' fds in a loop, in small reads, racing
 * every create, drop and revocation (KASAN and KCSAN watch).
 *
 * The seed is printed; OWNBUF_STRESS_SEED=<n> replays a run and
 * OWNBUF_STRESS_SECONDS=<n> changes its length.  With OWNBUF_STRESS_FAULTS=1
 * (a run under failslab/fail_page_alloc) a call may also fail for want of
 * memory: -ENOMEM (-EAGAIN for fork), and nothing else more.
 */
#include <dirent.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/time.h>
#include <sys/uio.h>

#include "ownbuf_util.h"

#define STRESS_PROCS		4
#define STRESS_SECONDS		20
#define STRESS_SLOTS		16
#define STRESS_MAPS		8

enum slot_kind { SLOT_FREE, SLOT_OWNER, SLOT_SHARED, SLOT_MUT };

struct slot {
	enum slot_kind kind;
	int fd;
};

struct map {
	char *p;
	size_t len;
	bool writable;
	bool mut;	/* of a mut borrow: not inherited by fork() */
};

struct worker {
	unsigned int seed;
	int id;
	bool child;		/* a forked child: no more forks */
	double until;
	struct slot slots[STRESS_SLOTS];
	struct map maps[STRESS_MAPS];
	pid_t kids[8];
	int nkids;
	long ops;
	long long max_size;
};

/* Under fault injection: allocations fail on purpose. */
static bool stress_faults;

/*
 * Did the call fail only because fault injection made an allocation fail?
 * -ENOMEM, -EAGAIN (fork), or -EFAULT (a page table for the user buffer).
 */
static bool stress_nomem(int err)
{
	return stress_faults && (err == ENOMEM || err == EAGAIN || err == EFAULT);
}

/* Report a call that ended in a way ownbuf.rst does not allow, and stop. */
static void stress_fail(struct worker *w, const char *op, long ret, int err)
{
	fprintf(stderr,
		"# worker %d%s (seed %u, op %ld): %s returned %ld, errno %d (%s)\n",
		w->id, w->child ? " child" : "", w->seed, w->ops, op, ret, err,
		strerror(err));
	_exit(1);
}

/* Is @err one of the @n errnos that follow? */
static bool errno_in(int err, int n, ...)
{
	va_list ap;
	bool found = false;

	va_start(ap, n);
	while (n--)
		if (va_arg(ap, int) == err)
			found = true;
	va_end(ap);
	return found;
}

static unsigned int rnd(struct worker *w, unsigned int n)
{
	return rand_r(&w->seed) % n;
}

static struct slot *pick(struct worker *w)
{
	struct slot *s = &w->slots[rnd(w, STRESS_SLOTS)];

	return s->kind == SLOT_FREE ? NULL : s;
}

static struct slot *free_slot(struct worker *w)
{
	int i;

	for (i = 0; i < STRESS_SLOTS; i++)
		if (w->slots[i].kind == SLOT_FREE)
			return &w->slots[i];
	return NULL;
}

static void add_fd(struct worker *w, int fd, enum slot_kind kind)
{
	struct slot *s = free_slot(w);

	if (!s) {
		if (close(fd))
			stress_fail(w, "close (table full)", -1, errno);
		return;
	}
	s->kind = kind;
	s->fd = fd;
}

static void op_open(struct worker *w)
{
	int fd = ownbuf_open();

	if (fd < 0) {
		if (!stress_nomem(errno))
			stress_fail(w, "open", fd, errno);
		return;
	}
	add_fd(w, fd, SLOT_OWNER);
}

static void on_alarm(int sig)
{
	(void)sig;
}

static void op_borrow(struct worker *w, bool mut)
{
	struct itimerval it = {
		.it_value = { 0, 20000 }, .it_interval = { 0, 20000 },
	};
	struct slot *s = pick(w);
	__u32 flags = mut ? OWNBUF_BORROW_MUT : OWNBUF_BORROW_SHARED;
	bool wait = !rnd(w, 4);
	int fd, err;

	if (!s)
		return;
	if (rnd(w, 2))
		flags |= OWNBUF_BORROW_CLOEXEC;
	if (wait) {
		/*
		 * Never wait forever, e.g. for a borrow this process holds:
		 * the timer repeats in case a tick comes before the wait.
		 */
		flags |= OWNBUF_BORROW_WAIT;
		setitimer(ITIMER_REAL, &it, NULL);
	}
	fd = ownbuf_borrow(s->fd, flags);
	err = errno;
	if (wait) {
		memset(&it, 0, sizeof(it));
		setitimer(ITIMER_REAL, &it, NULL);
	}
	if (fd >= 0) {
		if (s->kind != SLOT_OWNER)
			stress_fail(w, "borrow from a borrow", fd, 0);
		add_fd(w, fd, mut ? SLOT_MUT : SLOT_SHARED);
		return;
	}
	if (s->kind != SLOT_OWNER) {
		if (err != EPERM)
			stress_fail(w, "borrow on a borrow", fd, err);
		return;
	}
	if (stress_nomem(err))
		return;
	if (!errno_in(err, 4, EBUSY, ESTALE, EOVERFLOW, EINTR) ||
	    (err == EINTR && !wait))
		stress_fail(w, mut ? "borrow mut" : "borrow shared", fd, err);
}

static void op_release(struct worker *w)
{
	struct slot *s = pick(w);
	int ret;

	if (!s)
		return;
	ret = ownbuf_release(s->fd);
	if (s->kind == SLOT_OWNER) {
		if (ret != -1 || errno != EPERM)
			stress_fail(w, "release on an owner", ret, errno);
	} else if (ret && errno != ESTALE) {
		stress_fail(w, "release", ret, errno);
	}
}

static void op_drop(struct worker *w)
{
	struct slot *s = pick(w);
	int ret;

	if (!s)
		return;
	ret = ownbuf_drop(s->fd);
	if (s->kind != SLOT_OWNER) {
		if (ret != -1 || errno != EPERM)
			stress_fail(w, "drop on a borrow", ret, errno);
	} else if (ret && !errno_in(errno, 2, EBUSY, ESTALE)) {
		stress_fail(w, "drop", ret, errno);
	}
}

static void op_move(struct worker *w)
{
	struct slot *s = pick(w);
	int fd;

	if (!s)
		return;
	fd = ownbuf_move(s->fd, rnd(w, 2) ? OWNBUF_MOVE_CLOEXEC : 0);
	if (fd >= 0) {
		if (s->kind != SLOT_OWNER)
			stress_fail(w, "move of a borrow", fd, 0);
		add_fd(w, fd, SLOT_OWNER);
		return;
	}
	if (s->kind != SLOT_OWNER) {
		if (errno != EPERM)
			stress_fail(w, "move on a borrow", fd, errno);
	} else if (!errno_in(errno, 2, EBUSY, ESTALE) && !stress_nomem(errno)) {
		stress_fail(w, "move", fd, errno);
	}
}

static void op_resize(struct worker *w)
{
	struct slot *s = pick(w);
	__u64 size;
	int ret, err;

	if (!s)
		return;
	switch (rnd(w, 8)) {
	case 0:
		size = 0;
		break;
	case 1:
		size = w->max_size + 1;
		break;
	default:
		size = 1 + rnd(w, 3 * OWNBUF_PAGE);
		break;
	}
	ret = ownbuf_resize(s->fd, size);
	err = errno;
	if (!ret) {
		if (s->kind != SLOT_OWNER || !size || size > (__u64)w->max_size)
			stress_fail(w, "resize accepted", ret, 0);
		return;
	}
	if (s->kind != SLOT_OWNER) {
		if (err != EPERM)
			stress_fail(w, "resize on a borrow", ret, err);
		return;
	}
	/* -EINVAL/-EFBIG only for a bad size; -ESTALE comes first. */
	if (err == ESTALE || err == EBUSY || stress_nomem(err))
		return;
	if ((err == EINVAL && !size) ||
	    (err == EFBIG && size > (__u64)w->max_size))
		return;
	stress_fail(w, "resize", ret, err);
}

static void op_read(struct worker *w)
{
	struct slot *s = pick(w);
	char buf[3 * 4096 + 64];
	bool null = !rnd(w, 16);
	size_t len = rnd(w, sizeof(buf));
	off_t off = rnd(w, 4 * OWNBUF_PAGE);
	struct iovec iov[2] = {
		{ buf, len / 2 }, { buf + len / 2, len - len / 2 },
	};
	ssize_t ret;

	if (!s)
		return;
	if (null)
		ret = pread(s->fd, NULLPTR, len, off);
	else if (rnd(w, 2))
		ret = preadv(s->fd, iov, 2, off);
	else
		ret = pread(s->fd, buf, len, off);
	if (ret >= 0) {
		if ((size_t)ret > len || (null && ret))
			stress_fail(w, "read too much", ret, 0);
		return;
	}
	if (errno_in(errno, 2, EBUSY, ESTALE))
		return;
	if ((null && errno == EFAULT) || stress_nomem(errno))
		return;
	stress_fail(w, "read", ret, errno);
}

static void op_write(struct worker *w)
{
	struct slot *s = pick(w);
	char buf[3 * 4096 + 64];
	bool null = !rnd(w, 16);
	size_t len = rnd(w, sizeof(buf));
	off_t off = rnd(w, 4 * OWNBUF_PAGE);
	ssize_t ret;

	if (!s)
		return;
	memset(buf, 'a' + rnd(w, 26), len);
	if (null)
		ret = pwrite(s->fd, NULLPTR, len, off);
	else
		ret = pwrite(s->fd, buf, len, off);
	if (ret >= 0) {
		if (s->kind == SLOT_SHARED || (size_t)ret > len ||
		    (null && ret))
			stress_fail(w, "write", ret, 0);
		return;
	}
	if (s->kind == SLOT_SHARED) {
		if (errno != EBADF)
			stress_fail(w, "write to a shared borrow", ret, errno);
		return;
	}
	if (errno_in(errno, 3, EBUSY, ESTALE, ENOSPC))
		return;
	if ((null && errno == EFAULT) || stress_nomem(errno))
		return;
	stress_fail(w, "write", ret, errno);
}

static void op_lseek(struct worker *w)
{
	static const int whence[] = { SEEK_SET, SEEK_CUR, SEEK_END };
	struct slot *s = pick(w);
	off_t ret, off = (off_t)rnd(w, 6 * OWNBUF_PAGE) - 3 * OWNBUF_PAGE;

	if (!s)
		return;
	if (!rnd(w, 16))
		off = rnd(w, 2) ? LLONG_MAX : LLONG_MIN;
	ret = lseek(s->fd, off, whence[rnd(w, 3)]);
	if (ret >= 0 || errno_in(errno, 2, EINVAL, ESTALE))
		return;
	stress_fail(w, "lseek", ret, errno);
}

static void op_mmap(struct worker *w)
{
	struct slot *s = pick(w);
	size_t len = (1 + rnd(w, 3)) * OWNBUF_PAGE;
	off_t off = rnd(w, 3) * OWNBUF_PAGE;
	bool write = s && s->kind == SLOT_MUT ? rnd(w, 4) : !rnd(w, 8);
	int prot = PROT_READ | (write ? PROT_WRITE : 0);
	struct map *m = NULL;
	char *p;
	int i;

	if (!s)
		return;
	for (i = 0; i < STRESS_MAPS; i++)
		if (!w->maps[i].p)
			m = &w->maps[i];
	if (!m)
		return;
	p = mmap(NULL, len, prot, rnd(w, 16) ? MAP_SHARED : MAP_PRIVATE,
		 s->fd, off);
	if (p != MAP_FAILED) {
		if (s->kind == SLOT_OWNER || (write && s->kind == SLOT_SHARED))
			stress_fail(w, "mmap accepted", 0, 0);
		m->p = p;
		m->len = len;
		m->writable = write;
		m->mut = s->kind == SLOT_MUT;
		return;
	}
	if (s->kind == SLOT_OWNER) {
		if (errno != EPERM && !stress_nomem(errno))
			stress_fail(w, "mmap of an owner", -1, errno);
		return;
	}
	if (errno_in(errno, 3, ESTALE, EINVAL, EACCES) || stress_nomem(errno))
		return;
	stress_fail(w, "mmap", -1, errno);
}

static void op_munmap(struct worker *w)
{
	struct map *m = &w->maps[rnd(w, STRESS_MAPS)];

	if (!m->p)
		return;
	if (munmap(m->p, m->len)) {
		if (!stress_nomem(errno))
			stress_fail(w, "munmap", -1, errno);
		return;
	}
	m->p = NULL;
}

static void op_touch(struct worker *w)
{
	struct map *m = &w->maps[rnd(w, STRESS_MAPS)];
	bool write = m->writable && rnd(w, 2);
	char c = 't';
	int sig;

	if (!m->p)
		return;
	sig = ownbuf_touch(m->p + rnd(w, m->len), write, &c);
	/* SIGBUS: the borrow was released or revoked.  Nothing else. */
	if (sig && sig != SIGBUS)
		stress_fail(w, "touching a mapping raised a signal", sig, 0);
}

static void op_close(struct worker *w)
{
	struct slot *s = pick(w);

	if (!s)
		return;
	if (close(s->fd))
		stress_fail(w, "close", -1, errno);
	s->kind = SLOT_FREE;
}

static void op_dup(struct worker *w)
{
	struct slot *s = pick(w);
	int fd;

	if (!s || !free_slot(w))
		return;
	fd = dup(s->fd);
	if (fd < 0) {
		if (!stress_nomem(errno))
			stress_fail(w, "dup", fd, errno);
		return;
	}
	add_fd(w, fd, s->kind);
}

static void op_info(struct worker *w)
{
	struct slot *s = pick(w);
	static const int role[] = {
		[SLOT_OWNER] = OWNBUF_ROLE_OWNER,
		[SLOT_SHARED] = OWNBUF_ROLE_SHARED,
		[SLOT_MUT] = OWNBUF_ROLE_MUT,
	};
	struct ob_info info;

	if (!s)
		return;
	if (ownbuf_info(s->fd, &info))
		stress_fail(w, "info", -1, errno);
	if (info.role != role[s->kind] || info.state < OWNBUF_STATE_LIVE ||
	    info.state > OWNBUF_STATE_REVOKED || info.id <= 0)
		stress_fail(w, "info: bad role, state or id", info.state, 0);
	if (info.state != OWNBUF_STATE_LIVE &&
	    (info.size || info.shared || info.mut))
		stress_fail(w, "info: sizes of a dead fd", info.size, 0);
	/* One snapshot: LIVE comes with the size the buffer had then. */
	if (info.state == OWNBUF_STATE_LIVE && info.size <= 0)
		stress_fail(w, "info: live with no size", info.size, 0);
	/* Dead fds pile up; let most of them go, to keep buffers live. */
	if (info.state != OWNBUF_STATE_LIVE && rnd(w, 4)) {
		if (close(s->fd))
			stress_fail(w, "close of a dead fd", -1, errno);
		s->kind = SLOT_FREE;
	}
}

static void op_poll(struct worker *w)
{
	struct slot *s = pick(w);
	short ev;

	if (!s)
		return;
	ev = ownbuf_poll_now(s->fd, POLLIN | POLLOUT);
	if (ev < 0)
		stress_fail(w, "poll", ev, errno);
	if (s->kind == SLOT_SHARED && (ev & POLLOUT))
		stress_fail(w, "poll: POLLOUT on a shared borrow", ev, 0);
}

static void worker_loop(struct worker *w);

static void op_fork(struct worker *w)
{
	pid_t pid;
	int i;

	if (w->child || w->nkids >= (int)ARRAY_SIZE(w->kids))
		return;
	pid = fork();
	if (pid < 0) {
		if (!stress_nomem(errno))
			stress_fail(w, "fork", pid, errno);
		return;
	}
	if (pid) {
		w->kids[w->nkids++] = pid;
		return;
	}
	/*
	 * The child: same fds, no mut mappings (ownbuf.rst section 4), a
	 * short life.
	 */
	w->child = true;
	w->nkids = 0;
	w->seed ^= getpid();
	for (i = 0; i < STRESS_MAPS; i++)
		if (w->maps[i].mut)
			w->maps[i].p = NULL;
	if (w->until > ownbuf_now() + 2)
		w->until = ownbuf_now() + 2;
	worker_loop(w);
	_exit(0);
}

static void worker_finish(struct worker *w)
{
	int i, ret;

	for (i = 0; i < STRESS_SLOTS; i++) {
		if (w->slots[i].kind == SLOT_FREE)
			continue;
		if (close(w->slots[i].fd))
			stress_fail(w, "final close", -1, errno);
		w->slots[i].kind = SLOT_FREE;
	}
	for (i = 0; i < STRESS_MAPS; i++)
		if (w->maps[i].p && munmap(w->maps[i].p, w->maps[i].len))
			stress_fail(w, "final munmap", -1, errno);
	for (i = 0; i < w->nkids; i++) {
		ret = ownbuf_wait(w->kids[i]);
		if (ret)
			stress_fail(w, "a forked child failed", ret, 0);
	}
}

static void worker_loop(struct worker *w)
{
	while (ownbuf_now() < w->until) {
		w->ops++;
		switch (rnd(w, 22)) {
		case 0:
		case 20:
			op_open(w);
			break;
		case 21:
			op_info(w);
			break;
		case 1:
		case 2:
			op_borrow(w, false);
			break;
		case 3:
			op_borrow(w, true);
			break;
		case 4:
			op_release(w);
			break;
		case 5:
			op_drop(w);
			break;
		case 6:
			op_move(w);
			break;
		case 7:
			op_resize(w);
			break;
		case 8:
		case 9:
			op_read(w);
			break;
		case 10:
			op_write(w);
			break;
		case 11:
			op_lseek(w);
			break;
		case 12:
			op_mmap(w);
			break;
		case 13:
			op_munmap(w);
			break;
		case 14:
			op_touch(w);
			break;
		case 15:
			op_close(w);
			break;
		case 16:
			op_dup(w);
			break;
		case 17:
			op_info(w);
			break;
		case 18:
			op_poll(w);
			break;
		case 19:
			if (!rnd(w, 20))
				op_fork(w);
			break;
		}
	}
	worker_finish(w);
}

static void worker_main(int id, unsigned int seed, double seconds,
			long long max_size)
{
	struct sigaction sa = { .sa_handler = on_alarm };	/* no SA_RESTART */
	struct worker *w = calloc(1, sizeof(*w));

	if (!w)
		_exit(2);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	w->id = id;
	w->seed = seed + id;
	w->until = ownbuf_now() + seconds;
	w->max_size = max_size;
	/* failslab and fail_page_alloc act on this worker and its children. */
	if (stress_faults &&
	    ownbuf_write_str("/proc/self/make-it-fail", "1"))
		_exit(3);
	worker_loop(w);
	fprintf(stderr, "# worker %d: %ld operations\n", id, w->ops);
	_exit(0);
}

#define OWNBUF_DEBUGFS_BUFFERS	"/sys/kernel/debug/ownbuf/buffers"

/* Keep the last @len - 1 bytes of a text read piece by piece in @tail. */
static void keep_tail(char *tail, size_t len, const char *buf, size_t n)
{
	size_t have = strlen(tail), room = len - 1;

	if (n >= room) {
		memcpy(tail, buf + n - room, room);
		tail[room] = '\0';
		return;
	}
	if (have + n > room) {
		memmove(tail, tail + have + n - room, room - n);
		have = room - n;
	}
	memcpy(tail + have, buf, n);
	tail[have + n] = '\0';
}

/*
 * Read @path to its end in reads of @chunk bytes, keeping its end in
 * @tail if not NULL: the bytes read, or -1.
 */
static long read_all(const char *path, size_t chunk, char *tail, size_t len)
{
	char buf[4096];
	long total = 0;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (tail)
		tail[0] = '\0';
	while ((n = read(fd, buf, chunk)) > 0) {
		total += n;
		if (tail)
			keep_tail(tail, len, buf, n);
	}
	close(fd);
	return n < 0 ? -1 : total;
}

/*
 * The reader: the debugfs file and the workers' fdinfo, until @until.
 * Exit 0, or 1 if the debugfs file could not be read whole.
 */
static void reader_main(const pid_t *pids, int n, double until)
{
	char path[64], last[256];
	unsigned long rounds = 0;
	struct dirent *e;
	int i, bad = 0;
	DIR *dir;

	while (ownbuf_now() < until && !bad) {
		/*
		 * Every fourth round in small reads: seq_file stops and
		 * starts again mid-file, at a buffer that may be gone.
		 */
		if (read_all(OWNBUF_DEBUGFS_BUFFERS, rounds % 4 ? 4096 : 100,
			     last, sizeof(last)) < 0 ||
		    !strstr(last, "total "))
			bad = 1;
		for (i = 0; i < n; i++) {
			snprintf(path, sizeof(path), "/proc/%d/fdinfo", pids[i]);
			dir = opendir(path);
			while (dir && (e = readdir(dir))) {
				if (e->d_name[0] == '.')
					continue;
				snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d",
					 pids[i], atoi(e->d_name));
				read_all(path, 4096, NULL, 0);
			}
			if (dir)
				closedir(dir);
		}
		rounds++;
	}
	fprintf(stderr, "# reader: %lu rounds of %s and fdinfo%s\n", rounds,
		OWNBUF_DEBUGFS_BUFFERS, bad ? ": a read failed" : "");
	_exit(bad);
}

FIXTURE(stress)
{
	long long refcnt;
	struct ownbuf_counts snap;
};

FIXTURE_SETUP(stress)
{
	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	self->refcnt = ownbuf_read_num("/sys/module/ownbuf/refcnt");
	SNAPSHOT(&self->snap);
}

FIXTURE_TEARDOWN(stress)
{
}

TEST_F_TIMEOUT(stress, random_operations, 4 * STRESS_SECONDS + 60)
{
	const char *env_seed = getenv("OWNBUF_STRESS_SEED");
	const char *env_secs = getenv("OWNBUF_STRESS_SECONDS");
	const char *env_faults = getenv("OWNBUF_STRESS_FAULTS");
	double seconds = env_secs ? atof(env_secs) : STRESS_SECONDS;
	unsigned int seed = env_seed ? strtoul(env_seed, NULL, 0) :
				       (unsigned int)time(NULL) ^ getpid();
	long long max_size = ownbuf_param_get("max_size");
	struct ownbuf_counts now;
	pid_t pids[STRESS_PROCS], reader = -1;
	int i;

	ASSERT_LT(0, max_size);
	stress_faults = env_faults && atoi(env_faults);
	TH_LOG("seed %u (OWNBUF_STRESS_SEED=%u replays it), %.0f s, %d procs%s",
	       seed, seed, seconds, STRESS_PROCS,
	       stress_faults ? ", allocations failing on purpose" : "");
	for (i = 0; i < STRESS_PROCS; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (!pids[i])
			worker_main(i, seed, seconds, max_size);
	}
	if (!access(OWNBUF_DEBUGFS_BUFFERS, R_OK)) {
		reader = fork();
		ASSERT_LE(0, reader);
		if (!reader)
			reader_main(pids, STRESS_PROCS, ownbuf_now() + seconds);
	}
	for (i = 0; i < STRESS_PROCS; i++) {
		EXPECT_EQ(0, ownbuf_wait(pids[i]))
			TH_LOG("worker %d failed (seed %u)", i, seed);
	}
	if (reader > 0)
		EXPECT_EQ(0, ownbuf_wait(reader))
			TH_LOG("reading %s failed", OWNBUF_DEBUGFS_BUFFERS);

	/* Every fd and mapping is gone: the module holds nothing more. */
	if (self->refcnt >= 0)
		EXPECT_EQ(self->refcnt,
			  ownbuf_read_num("/sys/module/ownbuf/refcnt"));
	ASSERT_EQ(0, ownbuf_counts_read(&now));
	for (i = 0; i < V_NR; i++)
		TH_LOG("%-16s +%lld", ownbuf_class_names[i],
		       now.v[i] - self->snap.v[i]);
	/* Counters never go backwards. */
	for (i = 0; i < V_NR; i++)
		EXPECT_LE(self->snap.v[i], now.v[i]);
}

TEST_HARNESS_MAIN
