// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/ownbuf and the rest of the system
 * (Documentation/userspace-api/ownbuf.rst sections 5 and 6): the module
 * parameters and when they apply, who may open the device, that no global
 * name (/proc/<pid>/fd) reaches a buffer, that the module cannot be
 * removed while an fd or a mapping lives, and the ownbuf:ownbuf_violation
 * tracepoint.  Parameters are always restored by the parent process, even
 * when a test dies.
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "ownbuf_util.h"

static const char * const param_names[] = {
	"default_size", "max_size", "max_shared",
};

#define NR_PARAMS ARRAY_SIZE(param_names)

/* The module's reference count, or -1. */
static long long module_refcnt(void)
{
	return ownbuf_read_num("/sys/module/ownbuf/refcnt");
}

static int ownbuf_delete_module(const char *name, unsigned int flags)
{
	return syscall(SYS_delete_module, name, flags);
}

static bool has_fs(const char *name)
{
	char line[256], want[64];
	bool found = false;
	FILE *f = fopen("/proc/filesystems", "re");

	if (!f)
		return false;
	snprintf(want, sizeof(want), "\t%s\n", name);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, want);
	fclose(f);
	return found;
}

/* ------------------------------------------------------------------ */
/* Module parameters: read at the moment they apply.                  */

FIXTURE(params)
{
	long long saved[NR_PARAMS];
	int fd;
	struct ownbuf_counts snap;
};

FIXTURE_SETUP(params)
{
	unsigned int i;

	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	for (i = 0; i < NR_PARAMS; i++) {
		self->saved[i] = ownbuf_param_get(param_names[i]);
		ASSERT_LT(0, self->saved[i])
			TH_LOG("cannot read parameter %s", param_names[i]);
	}
	self->fd = ownbuf_open();
	ASSERT_LE(0, self->fd);
	SNAPSHOT(&self->snap);
}

/* In the parent: the limits come back even if the test died. */
FIXTURE_TEARDOWN_PARENT(params)
{
	unsigned int i;

	for (i = 0; i < NR_PARAMS; i++) {
		EXPECT_EQ(0, ownbuf_param_set(param_names[i], self->saved[i]))
			TH_LOG("cannot restore parameter %s", param_names[i]);
	}
}

TEST_F(params, defaults)
{
	EXPECT_EQ(OWNBUF_DEFAULT_SIZE, ownbuf_param_get("default_size"));
	EXPECT_EQ(OWNBUF_DEFAULT_MAX_SIZE, ownbuf_param_get("max_size"));
	EXPECT_EQ(OWNBUF_DEFAULT_MAX_SHARED, ownbuf_param_get("max_shared"));
}

TEST_F(params, files_are_root_writable_only)
{
	char path[128];
	struct stat st;
	unsigned int i;

	for (i = 0; i < NR_PARAMS; i++) {
		snprintf(path, sizeof(path), "%s%s", OWNBUF_PARAMS,
			 param_names[i]);
		ASSERT_EQ(0, stat(path, &st));
		EXPECT_EQ(0, (int)st.st_uid);
		EXPECT_EQ(0200, (int)(st.st_mode & 0222))
			TH_LOG("%s mode %o", path, st.st_mode & 07777);
	}
}

TEST_F(params, default_size_zero_is_einval)
{
	EXPECT_ERRNO(EINVAL, ownbuf_param_set("default_size", 0));
	EXPECT_EQ(self->saved[0], ownbuf_param_get("default_size"));
}

TEST_F(params, max_size_zero_is_einval)
{
	EXPECT_ERRNO(EINVAL, ownbuf_param_set("max_size", 0));
	EXPECT_EQ(self->saved[1], ownbuf_param_get("max_size"));
}

TEST_F(params, default_size_garbage_is_einval)
{
	EXPECT_ERRNO(EINVAL, ownbuf_write_str(OWNBUF_PARAMS "default_size",
					      "lots"));
	EXPECT_EQ(self->saved[0], ownbuf_param_get("default_size"));
}

TEST_F(params, default_size_applies_to_later_opens)
{
	int fd;

	ASSERT_EQ(0, ownbuf_param_set("default_size", 5000));
	fd = ownbuf_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(5000, ownbuf_size(fd));
	EXPECT_EQ(1, ownbuf_check(fd, 0, 5000, 0));
	/* A buffer that already exists keeps its size. */
	EXPECT_EQ(OWNBUF_DEFAULT_SIZE, ownbuf_size(self->fd));
	close(fd);
	EXPECT_DELTA(&self->snap);
}

TEST_F(params, open_with_default_size_over_max_size_is_einval)
{
	ASSERT_EQ(0, ownbuf_param_set("max_size", 8192));
	ASSERT_EQ(0, ownbuf_param_set("default_size", 8193));
	EXPECT_ERRNO(EINVAL, ownbuf_open());
	EXPECT_DELTA(&self->snap);
}

TEST_F(params, open_with_default_size_equal_to_max_size_works)
{
	int fd;

	ASSERT_EQ(0, ownbuf_param_set("max_size", 8192));
	ASSERT_EQ(0, ownbuf_param_set("default_size", 8192));
	fd = ownbuf_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(8192, ownbuf_size(fd));
	close(fd);
	EXPECT_DELTA(&self->snap);
}

TEST_F(params, resize_to_max_size_works)
{
	ASSERT_EQ(0, ownbuf_param_set("max_size", 65536));
	EXPECT_EQ(0, ownbuf_resize(self->fd, 65536));
	EXPECT_EQ(65536, ownbuf_size(self->fd));
	EXPECT_DELTA(&self->snap);
}

TEST_F(params, resize_over_max_size_is_efbig)
{
	ASSERT_EQ(0, ownbuf_param_set("max_size", 65536));
	EXPECT_ERRNO(EFBIG, ownbuf_resize(self->fd, 65537));
	EXPECT_EQ(OWNBUF_DEFAULT_SIZE, ownbuf_size(self->fd));
	EXPECT_DELTA(&self->snap);
}

TEST_F(params, lowered_max_size_affects_only_later_calls)
{
	ASSERT_EQ(0, ownbuf_resize(self->fd, 1 << 20));
	ASSERT_EQ(0, ownbuf_fill(self->fd, 0, 1 << 20, 'b'));
	ASSERT_EQ(0, ownbuf_param_set("max_size", 65536));
	/* The big buffer stays as it is and works... */
	EXPECT_EQ(1 << 20, ownbuf_size(self->fd));
	EXPECT_EQ(1, ownbuf_check(self->fd, 0, 1 << 20, 'b'));
	EXPECT_EQ(0, ownbuf_fill(self->fd, (1 << 20) - 1, 1, 'e'));
	/* ...but cannot grow, and once shrunk cannot come back. */
	EXPECT_ERRNO(EFBIG, ownbuf_resize(self->fd, 2 << 20));
	EXPECT_EQ(0, ownbuf_resize(self->fd, 65536));
	EXPECT_ERRNO(EFBIG, ownbuf_resize(self->fd, 1 << 20));
	EXPECT_DELTA(&self->snap);
}

TEST_F(params, raised_max_size_applies_at_once)
{
	ASSERT_EQ(0, ownbuf_param_set("max_size", 8192));
	EXPECT_ERRNO(EFBIG, ownbuf_resize(self->fd, 16384));
	ASSERT_EQ(0, ownbuf_param_set("max_size", 16384));
	EXPECT_EQ(0, ownbuf_resize(self->fd, 16384));
	EXPECT_DELTA(&self->snap);
}

TEST_F(params, max_shared_cap_is_eoverflow)
{
	struct ob_info info;
	int a, b, next;

	ASSERT_EQ(0, ownbuf_param_set("max_shared", 2));
	a = ownbuf_shared(self->fd);
	b = ownbuf_shared(self->fd);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	next = ownbuf_next_fd();
	EXPECT_ERRNO(EOVERFLOW, ownbuf_shared(self->fd));
	EXPECT_EQ(next, ownbuf_next_fd());
	ASSERT_EQ(0, ownbuf_info(self->fd, &info));
	EXPECT_EQ(2, info.shared);
	close(a);
	close(b);
	/* Not a violation: the cap is a limit, like -EFBIG. */
	EXPECT_DELTA(&self->snap);
}

TEST_F(params, default_max_shared_is_1024)
{
	struct rlimit old, rl;
	int s[1024], i, n;

	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
	rl = old;
	if (rl.rlim_max < 1200)
		rl.rlim_max = 1200;
	rl.rlim_cur = rl.rlim_max;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	for (n = 0; n < 1024; n++) {
		s[n] = ownbuf_shared(self->fd);
		if (s[n] < 0)
			break;
	}
	EXPECT_EQ(1024, n)
		TH_LOG("borrow %d: %s", n, strerror(errno));
	EXPECT_ERRNO(EOVERFLOW, ownbuf_shared(self->fd));
	for (i = 0; i < n; i++)
		close(s[i]);
	setrlimit(RLIMIT_NOFILE, &old);
	EXPECT_DELTA(&self->snap);
}

TEST_F(params, max_shared_cap_with_wait_is_eoverflow_at_once)
{
	double t0;
	int a;

	ASSERT_EQ(0, ownbuf_param_set("max_shared", 1));
	a = ownbuf_shared(self->fd);
	ASSERT_LE(0, a);
	t0 = ownbuf_now();
	alarm(10);	/* a wait here would be the bug: do not hang on it */
	EXPECT_ERRNO(EOVERFLOW, ownbuf_borrow(self->fd, OWNBUF_BORROW_SHARED |
					      OWNBUF_BORROW_WAIT));
	alarm(0);
	EXPECT_GT(1.0, ownbuf_now() - t0);
	close(a);
	EXPECT_DELTA(&self->snap);
}

TEST_F(params, max_shared_does_not_limit_mut)
{
	int m;

	ASSERT_EQ(0, ownbuf_param_set("max_shared", 1));
	m = ownbuf_mut(self->fd);
	EXPECT_LE(0, m);
	close(m);
	EXPECT_DELTA(&self->snap);
}

TEST_F(params, conflict_comes_before_the_cap)
{
	int m;

	/*
	 * ownbuf.rst section 5 forbids 0 only for the two sizes: max_shared 0
	 * means no shared borrow at all.  With a mut borrow out a shared
	 * request is both a conflict and over the cap: ownbuf.rst section 3
	 * says -EBUSY first.
	 */
	ASSERT_EQ(0, ownbuf_param_set("max_shared", 0));
	m = ownbuf_mut(self->fd);
	ASSERT_LE(0, m);
	EXPECT_ERRNO(EBUSY, ownbuf_shared(self->fd));
	close(m);
	EXPECT_ERRNO(EOVERFLOW, ownbuf_shared(self->fd));
	EXPECT_DELTA(&self->snap, [V_DATA_RACE] = 1);
}

TEST_F(params, lowered_max_shared_keeps_existing_borrows)
{
	int s[3], t, i;

	for (i = 0; i < 3; i++) {
		s[i] = ownbuf_shared(self->fd);
		ASSERT_LE(0, s[i]);
	}
	ASSERT_EQ(0, ownbuf_param_set("max_shared", 1));
	for (i = 0; i < 3; i++)
		EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(s[i]));
	EXPECT_ERRNO(EOVERFLOW, ownbuf_shared(self->fd));
	close(s[0]);
	close(s[1]);
	/* One is still out: the cap of 1 is reached. */
	EXPECT_ERRNO(EOVERFLOW, ownbuf_shared(self->fd));
	close(s[2]);
	t = ownbuf_shared(self->fd);
	EXPECT_LE(0, t);
	close(t);
	EXPECT_DELTA(&self->snap);
}

TEST_F(params, raised_max_shared_applies_at_once)
{
	int a, b;

	ASSERT_EQ(0, ownbuf_param_set("max_shared", 1));
	a = ownbuf_shared(self->fd);
	ASSERT_LE(0, a);
	EXPECT_ERRNO(EOVERFLOW, ownbuf_shared(self->fd));
	ASSERT_EQ(0, ownbuf_param_set("max_shared", 2));
	b = ownbuf_shared(self->fd);
	EXPECT_LE(0, b);
	close(a);
	close(b);
	EXPECT_DELTA(&self->snap);
}

TEST_F(params, nonroot_cannot_write_parameters)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		if (setgid(65534) || setuid(65534))
			_exit(10);
		if (ownbuf_param_set("max_size", 4096) != -1)
			_exit(1);
		_exit(errno == EACCES ? 0 : 2);
	}
	EXPECT_EQ(0, ownbuf_wait(pid));
	EXPECT_EQ(self->saved[1], ownbuf_param_get("max_size"));
}

/* ------------------------------------------------------------------ */
/* Who can reach a buffer (ownbuf.rst section 5).                     */

FIXTURE(reach)
{
	int owner;
	struct ownbuf_counts snap;
};

FIXTURE_SETUP(reach)
{
	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	self->owner = ownbuf_open();
	ASSERT_LE(0, self->owner);
	SNAPSHOT(&self->snap);
}

FIXTURE_TEARDOWN(reach)
{
	if (self->owner >= 0)
		close(self->owner);
}

TEST_F(reach, device_is_root_only)
{
	struct stat st;

	ASSERT_EQ(0, stat(OWNBUF_DEV, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0600, (int)(st.st_mode & 07777));
	EXPECT_EQ(0, (int)st.st_uid);
}

TEST_F(reach, counters_are_read_only)
{
	char path[128];
	struct stat st;
	int i;

	for (i = 0; i < V_NR; i++) {
		snprintf(path, sizeof(path), "%s%s", OWNBUF_VIOLATIONS,
			 ownbuf_class_names[i]);
		ASSERT_EQ(0, stat(path, &st));
		EXPECT_EQ(0444, (int)(st.st_mode & 07777));
		EXPECT_ERRNO(EACCES, ownbuf_write_str(path, "0"));
	}
	EXPECT_DELTA(&self->snap);
}

TEST_F(reach, nonroot_open_is_eacces)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		if (setgid(65534) || setuid(65534))
			_exit(10);
		if (open(OWNBUF_DEV, O_RDWR) != -1)
			_exit(1);
		if (errno != EACCES)
			_exit(2);
		if (open(OWNBUF_DEV, O_RDONLY) != -1 || errno != EACCES)
			_exit(3);
		_exit(0);
	}
	EXPECT_EQ(0, ownbuf_wait(pid));
	EXPECT_DELTA(&self->snap);
}

TEST_F(reach, nonroot_can_use_an_fd_passed_on)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		int s;

		if (setgid(65534) || setuid(65534))
			_exit(10);
		if (ownbuf_fill(self->owner, 0, 4, 'u'))
			_exit(1);
		s = ownbuf_shared(self->owner);
		if (s < 0 || ownbuf_check(s, 0, 4, 'u') != 1)
			_exit(2);
		_exit(0);
	}
	EXPECT_EQ(0, ownbuf_wait(pid));
	EXPECT_EQ(1, ownbuf_check(self->owner, 0, 4, 'u'));
	EXPECT_DELTA(&self->snap);
}

static int reopen(pid_t pid, int fd, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	return open(path, flags | O_CLOEXEC);
}

TEST_F(reach, proc_fd_of_a_shared_borrow_is_enxio)
{
	int s = ownbuf_shared(self->owner);

	ASSERT_LE(0, s);
	EXPECT_ERRNO(ENXIO, reopen(getpid(), s, O_RDONLY));
	close(s);
	EXPECT_DELTA(&self->snap);
}

TEST_F(reach, proc_fd_of_a_mut_borrow_is_enxio)
{
	int m = ownbuf_mut(self->owner);

	ASSERT_LE(0, m);
	EXPECT_ERRNO(ENXIO, reopen(getpid(), m, O_RDWR));
	EXPECT_ERRNO(ENXIO, reopen(getpid(), m, O_RDONLY));
	close(m);
	EXPECT_DELTA(&self->snap);
}

TEST_F(reach, proc_fd_of_a_released_borrow_is_enxio)
{
	int s = ownbuf_shared(self->owner);

	ASSERT_LE(0, s);
	ASSERT_EQ(0, ownbuf_release(s));
	EXPECT_ERRNO(ENXIO, reopen(getpid(), s, O_RDONLY));
	close(s);
	EXPECT_DELTA(&self->snap);
}

TEST_F(reach, proc_fd_of_another_process_borrow_is_enxio)
{
	int pfd[2];
	char c;
	int s;
	pid_t pid;

	ASSERT_EQ(0, pipe(pfd));
	s = ownbuf_shared(self->owner);
	ASSERT_LE(0, s);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(self->owner);
		read(pfd[0], &c, 1);
		_exit(0);
	}
	close(s);
	EXPECT_ERRNO(ENXIO, reopen(pid, s, O_RDONLY));
	EXPECT_EQ(1, write(pfd[1], "x", 1));
	EXPECT_EQ(0, ownbuf_wait(pid));
	EXPECT_DELTA(&self->snap);
}

TEST_F(reach, proc_fd_of_the_owner_is_a_new_buffer)
{
	struct ob_info info;
	int fd;

	ASSERT_EQ(0, ownbuf_fill(self->owner, 0, OWNBUF_DEFAULT_SIZE, 's'));
	fd = reopen(getpid(), self->owner, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ownbuf_info(fd, &info));
	EXPECT_NE(ownbuf_id(self->owner), info.id);
	EXPECT_EQ(OWNBUF_ROLE_OWNER, info.role);
	EXPECT_EQ(OWNBUF_STATE_LIVE, info.state);
	EXPECT_EQ(OWNBUF_DEFAULT_SIZE, info.size);
	EXPECT_EQ(1, ownbuf_check(fd, 0, OWNBUF_DEFAULT_SIZE, 0));
	close(fd);
	EXPECT_EQ(1, ownbuf_check(self->owner, 0, OWNBUF_DEFAULT_SIZE, 's'));
	EXPECT_DELTA(&self->snap);
}

TEST_F(reach, proc_fd_of_a_moved_owner_reaches_no_buffer)
{
	long long id = ownbuf_id(self->owner);
	int n = ownbuf_move(self->owner, OWNBUF_MOVE_CLOEXEC);
	int fd, err;

	ASSERT_LE(0, n);
	/*
	 * The new owner has no /dev/ownbuf inode behind it.  ownbuf.rst
	 * section 5 only says no global name reaches the buffer: either the
	 * reopen is refused like a borrow's, or it makes a new, different
	 * buffer.
	 */
	fd = reopen(getpid(), n, O_RDWR);
	err = errno;
	if (fd < 0) {
		EXPECT_EQ(ENXIO, err);
	} else {
		EXPECT_NE(id, ownbuf_id(fd));
		close(fd);
	}
	close(n);
	EXPECT_DELTA(&self->snap);
}

TEST_F(reach, proc_fd_of_a_dropped_owner_is_a_new_buffer)
{
	long long id = ownbuf_id(self->owner);
	int fd;

	ASSERT_EQ(0, ownbuf_drop(self->owner));
	fd = reopen(getpid(), self->owner, O_RDWR);
	ASSERT_LE(0, fd);
	EXPECT_NE(id, ownbuf_id(fd));
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(fd));
	close(fd);
	EXPECT_DELTA(&self->snap);
}

/* ------------------------------------------------------------------ */
/* rmmod is refused while any ownbuf fd or mapping exists             */
/* (ownbuf.rst section 5).                                            */

FIXTURE(unload)
{
	long long refcnt;
	struct ownbuf_counts snap;
};

FIXTURE_SETUP(unload)
{
	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	self->refcnt = module_refcnt();
	ASSERT_LE(0, self->refcnt)
		TH_LOG("no /sys/module/ownbuf/refcnt: is ownbuf a module?");
	SNAPSHOT(&self->snap);
}

FIXTURE_TEARDOWN(unload)
{
}

static bool unload_refused(int err)
{
	return err == EWOULDBLOCK || err == EBUSY;
}

/* rmmod ownbuf now is refused: @what is still there and holds it. */
static void expect_unload_refused(struct __test_metadata *_metadata,
				  const char *what)
{
	int ret, err;

	ret = ownbuf_delete_module("ownbuf", O_NONBLOCK);
	err = errno;
	ASSERT_EQ(-1, ret)
		TH_LOG("ownbuf was unloaded with %s", what);
	EXPECT_TRUE(unload_refused(err))
		TH_LOG("delete_module: %s", strerror(err));
}

TEST_F(unload, refused_while_an_owner_is_open)
{
	int fd = ownbuf_open();

	ASSERT_LE(0, fd);
	EXPECT_LT(self->refcnt, module_refcnt());
	expect_unload_refused(_metadata, "an fd open");
	close(fd);
	EXPECT_EQ(self->refcnt, module_refcnt());
	EXPECT_DELTA(&self->snap);
}

TEST_F(unload, refused_while_a_dropped_owner_is_open)
{
	int fd = ownbuf_open();

	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ownbuf_drop(fd));
	expect_unload_refused(_metadata, "an fd open");
	close(fd);
	EXPECT_EQ(self->refcnt, module_refcnt());
}

TEST_F(unload, refused_while_only_a_borrow_is_open)
{
	int fd = ownbuf_open();
	int n, s;

	ASSERT_LE(0, fd);
	n = ownbuf_move(fd, OWNBUF_MOVE_CLOEXEC);
	ASSERT_LE(0, n);
	s = ownbuf_shared(n);
	ASSERT_LE(0, s);
	close(fd);
	close(n);
	expect_unload_refused(_metadata, "a revoked borrow open");
	close(s);
	EXPECT_EQ(self->refcnt, module_refcnt());
	EXPECT_DELTA(&self->snap, [V_DANGLING_BORROW] = 1);
}

TEST_F(unload, refused_while_only_a_mapping_remains)
{
	int fd = ownbuf_open();
	int m;
	char *p, c;

	ASSERT_LE(0, fd);
	m = ownbuf_mut(fd);
	ASSERT_LE(0, m);
	p = mmap(NULL, OWNBUF_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, m, 0);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = 'm';
	close(m);
	close(fd);
	/* No fd is left: only the mapping of a closed, revoked borrow. */
	expect_unload_refused(_metadata, "a mapping alive");
	EXPECT_EQ(SIGBUS, ownbuf_touch(p, false, &c));
	munmap(p, OWNBUF_PAGE);
	EXPECT_EQ(self->refcnt, module_refcnt());
	EXPECT_DELTA(&self->snap, [V_DANGLING_BORROW] = 1);
}

TEST_F(unload, refused_while_a_live_borrow_is_only_mapped)
{
	int fd = ownbuf_open();
	int s;
	char *p;

	ASSERT_LE(0, fd);
	s = ownbuf_shared(fd);
	ASSERT_LE(0, s);
	p = mmap(NULL, OWNBUF_PAGE, PROT_READ, MAP_SHARED, s, 0);
	ASSERT_NE(MAP_FAILED, p);
	close(s);
	expect_unload_refused(_metadata, "a live borrow only mapped");
	munmap(p, OWNBUF_PAGE);
	close(fd);
	EXPECT_EQ(self->refcnt, module_refcnt());
	EXPECT_DELTA(&self->snap);
}

TEST_F(unload, every_reference_comes_back)
{
	int fds[16], i;
	char *p;

	/* Owners, borrows, moves, mappings: then everything goes. */
	for (i = 0; i < 16; i += 4) {
		fds[i] = ownbuf_open();
		ASSERT_LE(0, fds[i]);
		fds[i + 1] = ownbuf_move(fds[i], OWNBUF_MOVE_CLOEXEC);
		ASSERT_LE(0, fds[i + 1]);
		fds[i + 2] = ownbuf_shared(fds[i + 1]);
		ASSERT_LE(0, fds[i + 2]);
		fds[i + 3] = ownbuf_shared(fds[i + 1]);
		ASSERT_LE(0, fds[i + 3]);
	}
	p = mmap(NULL, OWNBUF_PAGE, PROT_READ, MAP_SHARED, fds[2], 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_LT(self->refcnt, module_refcnt());
	for (i = 0; i < 16; i++)
		close(fds[i]);
	munmap(p, OWNBUF_PAGE);
	EXPECT_EQ(self->refcnt, module_refcnt());
	EXPECT_DELTA(&self->snap, [V_DANGLING_BORROW] = 8);
}

/* ------------------------------------------------------------------ */
/* The tracepoint ownbuf:ownbuf_violation (ownbuf.rst section 6).     */

#define TRACE_COMM "ob-trace-test"

FIXTURE(trace)
{
	char dir[64];		/* tracefs mount point */
	long long tracing_on;
	int fd;
	long long id;
	struct ownbuf_counts snap;
};

FIXTURE_VARIANT(trace)
{
	int class;
};

FIXTURE_VARIANT_ADD(trace, use_after_free) { .class = V_USE_AFTER_FREE };
FIXTURE_VARIANT_ADD(trace, double_free) { .class = V_DOUBLE_FREE };
FIXTURE_VARIANT_ADD(trace, data_race) { .class = V_DATA_RACE };
FIXTURE_VARIANT_ADD(trace, null_deref) { .class = V_NULL_DEREF };
FIXTURE_VARIANT_ADD(trace, out_of_bounds) { .class = V_OUT_OF_BOUNDS };
FIXTURE_VARIANT_ADD(trace, dangling_borrow) { .class = V_DANGLING_BORROW };

static int trace_write(const char *dir, const char *file, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return ownbuf_write_str(path, val);
}

/* Empty the trace buffer: 0 or -1. */
static int trace_clear(const char *dir)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/trace", dir);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

/* Where tracefs is, mounting it if nobody did: 0, or -1. */
static int find_tracefs(char *dir, size_t len)
{
	static const char * const dirs[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char path[128];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(path, sizeof(path), "%s/events", dirs[i]);
		if (!access(path, F_OK)) {
			snprintf(dir, len, "%s", dirs[i]);
			return 0;
		}
	}
	if (mount("tracefs", dirs[0], "tracefs", 0, NULL))
		return -1;
	snprintf(dir, len, "%s", dirs[0]);
	return 0;
}

FIXTURE_SETUP(trace)
{
	char path[160];

	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	if (!has_fs("tracefs"))
		SKIP(return, "this kernel has no tracefs");
	ASSERT_EQ(0, find_tracefs(self->dir, sizeof(self->dir)))
		TH_LOG("cannot mount tracefs: %s", strerror(errno));
	snprintf(path, sizeof(path),
		 "%s/events/ownbuf/ownbuf_violation/enable", self->dir);
	ASSERT_EQ(0, access(path, W_OK))
		TH_LOG("no tracepoint ownbuf:ownbuf_violation (%s)", path);
	snprintf(path, sizeof(path), "%s/tracing_on", self->dir);
	self->tracing_on = ownbuf_read_num(path);
	ASSERT_LE(0, self->tracing_on);
	ASSERT_EQ(0, prctl(PR_SET_NAME, TRACE_COMM));
	self->fd = ownbuf_open();
	ASSERT_LE(0, self->fd);
	self->id = ownbuf_id(self->fd);
	ASSERT_EQ(0, trace_write(self->dir, "tracing_on", "1"));
	ASSERT_EQ(0, trace_clear(self->dir));
	ASSERT_EQ(0, trace_write(self->dir,
				 "events/ownbuf/ownbuf_violation/enable",
				 "1"));
	SNAPSHOT(&self->snap);
}

/* In the parent: the event is off again even if the test died. */
FIXTURE_TEARDOWN_PARENT(trace)
{
	char on[8];

	trace_write(self->dir, "events/ownbuf/ownbuf_violation/enable", "0");
	snprintf(on, sizeof(on), "%lld", self->tracing_on);
	trace_write(self->dir, "tracing_on", on);
	trace_clear(self->dir);
}

/* Count the ownbuf_violation lines that match, and all of them. */
static int trace_lines(const char *dir, const char *want, int *all)
{
	char path[128], line[512];
	int n = 0;
	FILE *f;

	*all = 0;
	snprintf(path, sizeof(path), "%s/trace", dir);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || !strstr(line, "ownbuf_violation:"))
			continue;
		(*all)++;
		if (strstr(line, want))
			n++;
		else
			fprintf(stderr, "# unexpected: %s", line);
	}
	fclose(f);
	return n;
}

/* Break the rule of one class, once. */
static void break_one_rule(struct __test_metadata *_metadata, int fd,
			   int class)
{
	char c = 0;
	int b;

	switch (class) {
	case V_USE_AFTER_FREE:
		ASSERT_EQ(0, ownbuf_drop(fd));
		EXPECT_ERRNO(ESTALE, pread(fd, &c, 1, 0));
		break;
	case V_DOUBLE_FREE:
		ASSERT_EQ(0, ownbuf_drop(fd));
		EXPECT_ERRNO(ESTALE, ownbuf_drop(fd));
		break;
	case V_DATA_RACE:
		b = ownbuf_mut(fd);
		ASSERT_LE(0, b);
		EXPECT_ERRNO(EBUSY, ownbuf_shared(fd));
		close(b);
		break;
	case V_NULL_DEREF:
		EXPECT_ERRNO(EFAULT, pread(fd, NULLPTR, 1, 0));
		break;
	case V_OUT_OF_BOUNDS:
		EXPECT_ERRNO(ENOSPC, pwrite(fd, &c, 1, OWNBUF_DEFAULT_SIZE));
		break;
	case V_DANGLING_BORROW:
		b = ownbuf_shared(fd);
		ASSERT_LE(0, b);
		EXPECT_ERRNO(EBUSY, ownbuf_drop(fd));
		close(b);
		break;
	}
}

TEST_F(trace, one_violation_one_event)
{
	struct ownbuf_counts now;
	char want[192];
	int n, all, i;

	break_one_rule(_metadata, self->fd, variant->class);
	/* The event line: class, buffer id (from INFO), pid and comm. */
	snprintf(want, sizeof(want), "class=%s id=%lld pid=%d comm=%s",
		 ownbuf_class_names[variant->class], self->id, getpid(),
		 TRACE_COMM);
	n = trace_lines(self->dir, want, &all);
	EXPECT_EQ(1, n)
		TH_LOG("want one line with \"%s\"", want);
	EXPECT_EQ(1, all);
	ASSERT_EQ(0, ownbuf_counts_read(&now));
	for (i = 0; i < V_NR; i++) {
		EXPECT_EQ(i == variant->class, now.v[i] - self->snap.v[i])
			TH_LOG("violations/%s", ownbuf_class_names[i]);
	}
}

TEST_F(trace, revocation_traces_each_borrow)
{
	char want[192];
	int a, b, n, all;

	a = ownbuf_shared(self->fd);
	ASSERT_LE(0, a);
	b = ownbuf_shared(self->fd);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, close(self->fd));
	snprintf(want, sizeof(want), "class=dangling_borrow id=%lld pid=%d",
		 self->id, getpid());
	n = trace_lines(self->dir, want, &all);
	EXPECT_EQ(2, n);
	EXPECT_EQ(2, all);
	close(a);
	close(b);
	EXPECT_DELTA(&self->snap, [V_DANGLING_BORROW] = 2);
}

TEST_F(trace, refusals_that_are_not_violations_trace_nothing)
{
	int n, all;

	EXPECT_ERRNO(EINVAL, ownbuf_borrow(self->fd, 0));
	EXPECT_ERRNO(EPERM, ownbuf_release(self->fd));
	EXPECT_ERRNO(ENOTTY, ioctl(self->fd, _IO(OWNBUF_IOC_MAGIC, 0x7f)));
	EXPECT_ERRNO(EINVAL, ownbuf_resize(self->fd, 0));
	n = trace_lines(self->dir, "ownbuf_violation", &all);
	EXPECT_EQ(0, n);
	EXPECT_EQ(0, all);
	EXPECT_DELTA(&self->snap);
}

/* ------------------------------------------------------------------ */
/* Memory is charged to the opener (ownbuf.rst section 5:             */
/* __GFP_ACCOUNT).                                                    */

#define CG_ROOT "/sys/fs/cgroup"

FIXTURE(memcg)
{
	char dir[96];
	long long default_size;
	/* filled in by the child that runs inside the cgroup */
	long long before, after, closed;
	int err;
};

static bool file_has(const char *path, const char *word)
{
	char buf[512];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, word);
}

FIXTURE_SETUP(memcg)
{
	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	if (!has_fs("cgroup2"))
		SKIP(return, "this kernel has no cgroup2");
	if (access(CG_ROOT "/cgroup.controllers", F_OK))
		ASSERT_EQ(0, mount("cgroup2", CG_ROOT, "cgroup2", 0, NULL))
			TH_LOG("cannot mount cgroup2: %s", strerror(errno));
	if (!file_has(CG_ROOT "/cgroup.controllers", "memory"))
		SKIP(return, "this kernel has no memory controller");
	ownbuf_write_str(CG_ROOT "/cgroup.subtree_control", "+memory");
	ASSERT_TRUE(file_has(CG_ROOT "/cgroup.subtree_control", "memory"));
	snprintf(self->dir, sizeof(self->dir), CG_ROOT "/ownbuf-test-%d",
		 getpid());
	ASSERT_EQ(0, mkdir(self->dir, 0755));
	self->default_size = ownbuf_param_get("default_size");
	ASSERT_LT(0, self->default_size);
}

FIXTURE_TEARDOWN_PARENT(memcg)
{
	ownbuf_param_set("default_size", self->default_size);
	rmdir(self->dir);
}

static long long memcg_current(const char *dir)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/memory.current", dir);
	return ownbuf_read_num(path);
}

/* In a child inside the cgroup: open (and resize to @size if not 0). */
static void memcg_measure(struct _test_data_memcg *self, long long size)
{
	char path[128], pid[16];
	int fd;

	snprintf(path, sizeof(path), "%s/cgroup.procs", self->dir);
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (ownbuf_write_str(path, pid))
		_exit(1);
	self->before = memcg_current(self->dir);
	fd = ownbuf_open();
	if (fd < 0 || (size && ownbuf_resize(fd, size))) {
		self->err = errno;
		_exit(2);
	}
	/* Touch nothing: the memory is the kernel's, charged at once. */
	self->after = memcg_current(self->dir);
	close(fd);
	self->closed = memcg_current(self->dir);
	_exit(0);
}

/* memcg_measure(@size) in a child, which must succeed. */
static void memcg_run(struct __test_metadata *_metadata,
		      struct _test_data_memcg *self, long long size)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid)
		memcg_measure(self, size);
	ASSERT_EQ(0, ownbuf_wait(pid))
		TH_LOG("child failed: %s", strerror(self->err));
	TH_LOG("memory.current %lld -> %lld -> %lld", self->before,
	       self->after, self->closed);
}

TEST_F(memcg, resize_is_charged_to_the_opener)
{
	memcg_run(_metadata, self, 16 << 20);
	EXPECT_LE(15 << 20, self->after - self->before);
	/* And uncharged when the buffer goes. */
	EXPECT_GT(1 << 20, self->closed - self->before);
}

TEST_F(memcg, open_is_charged_to_the_opener)
{
	ASSERT_EQ(0, ownbuf_param_set("default_size", 16 << 20));
	memcg_run(_metadata, self, 0);
	EXPECT_LE(15 << 20, self->after - self->before);
	EXPECT_GT(1 << 20, self->closed - self->before);
}

/* ------------------------------------------------------------------ */
/* Userspace misuse is logged at debug level only (ownbuf.rst         */
/* section 6).                                                        */

FIXTURE(kmsg)
{
	int kmsg;
	int fd;
	struct ownbuf_counts snap;
};

FIXTURE_SETUP(kmsg)
{
	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	self->kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ASSERT_LE(0, self->kmsg);
	ASSERT_LE(0, lseek(self->kmsg, 0, SEEK_END));
	self->fd = ownbuf_open();
	ASSERT_LE(0, self->fd);
	SNAPSHOT(&self->snap);
}

FIXTURE_TEARDOWN(kmsg)
{
	close(self->kmsg);
	if (self->fd >= 0)
		close(self->fd);
}

TEST_F(kmsg, misuse_from_userspace_logs_nothing_above_debug)
{
	char rec[2048];
	int i, loud = 0;
	ssize_t n;

	for (i = 0; i < V_NR; i++) {
		int fd = ownbuf_open();

		ASSERT_LE(0, fd);
		break_one_rule(_metadata, fd, i);
		close(fd);
	}
	/* And a revocation. */
	i = ownbuf_shared(self->fd);
	ASSERT_LE(0, i);
	ASSERT_EQ(0, close(self->fd));
	self->fd = -1;
	close(i);
	while ((n = read(self->kmsg, rec, sizeof(rec) - 1)) > 0 ||
	       (n < 0 && errno == EPIPE)) {
		if (n <= 0)
			continue;
		rec[n] = '\0';
		/*
		 * "<prefix>,<seq>,<usec>,<flags>;<message>", prefix being
		 * facility << 3 | level: the kernel's own messages only, not
		 * lines a program wrote to /dev/kmsg (the test's output, when
		 * the harness sends it there).
		 */
		if ((atoi(rec) >> 3) == 0 && (atoi(rec) & 7) < 7 &&
		    (strstr(rec, "ownbuf") || strstr(rec, "WARNING") ||
		     strstr(rec, "Call Trace"))) {
			TH_LOG("logged: %s", rec);
			loud++;
		}
	}
	EXPECT_EQ(0, loud);
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = 1,
		     [V_DOUBLE_FREE] = 1, [V_DATA_RACE] = 1,
		     [V_NULL_DEREF] = 1, [V_OUT_OF_BOUNDS] = 1,
		     [V_DANGLING_BORROW] = 2);
}

TEST_HARNESS_MAIN
