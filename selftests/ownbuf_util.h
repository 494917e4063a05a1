/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the /dev/ownbuf selftests: ioctl wrappers, the
 * violation counters of /sys/class/misc/ownbuf/violations, the module
 * parameters, and catching SIGBUS/SIGSEGV while touching a mapping.
 *
 * The harness runs the tests of one program one at a time, so a counter
 * delta taken inside a test is exactly what that test caused.
 */
#ifndef __OWNBUF_UTIL_H
#define __OWNBUF_UTIL_H

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <linux/ownbuf.h>

/*
 * The harness does not build warning-free with -Wextra by itself: unused
 * parameters in its SIGALRM handler and in the wrapper every TEST() expands
 * to, and -Wclobbered on the "child" variable of the setjmp() in the
 * wrapper of TEST_F(), which GCC reports in our files whenever it inlines
 * a test body into it.  Nothing in these tests reads a local after a
 * longjmp.
 */
#pragma GCC diagnostic ignored "-Wclobbered"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"

/*
 * stdout one line per write(), whatever it is.  "make check" points it at
 * /dev/kmsg, which makes each write() one record of the kernel log (at
 * most 1 KiB), so that the harness's "RUN" line of a test is in the log
 * before anything the test makes the kernel say.
 */
static void __attribute__((constructor)) ownbuf_stdout_by_line(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
}

#define OWNBUF_DEV		"/dev/ownbuf"
#define OWNBUF_VIOLATIONS	"/sys/class/misc/ownbuf/violations/"
#define OWNBUF_PARAMS		"/sys/module/ownbuf/parameters/"

#define OWNBUF_DEFAULT_SIZE	4096LL
#define OWNBUF_DEFAULT_MAX_SIZE	(64LL << 20)
#define OWNBUF_DEFAULT_MAX_SHARED 1024LL

#define OWNBUF_PAGE		4096L
#define OWNBUF_PAGE_ALIGN(x)	(((x) + OWNBUF_PAGE - 1) & ~(OWNBUF_PAGE - 1))

/*
 * The violation classes of Documentation/userspace-api/ownbuf.rst
 * section 1, in sysfs order.
 */
enum ownbuf_class {
	V_USE_AFTER_FREE,
	V_DOUBLE_FREE,
	V_DATA_RACE,
	V_NULL_DEREF,
	V_OUT_OF_BOUNDS,
	V_DANGLING_BORROW,
	V_NR
};

static const char * const ownbuf_class_names[] = { OWNBUF_VIOLATION_NAMES };
static_assert(ARRAY_SIZE(ownbuf_class_names) == V_NR,
	      "enum ownbuf_class follows the UAPI's OWNBUF_VIOLATION_NAMES");

struct ownbuf_counts {
	long long v[V_NR];
};

/* A decimal number from a sysfs file, or -1. */
static inline long long ownbuf_read_num(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtoll(buf, NULL, 0);
}

/* Write a string to a sysfs file: 0, or -1 with errno set. */
static inline int ownbuf_write_str(const char *path, const char *val)
{
	ssize_t n;
	int fd, err;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	err = errno;
	close(fd);
	if (n < 0) {
		errno = err;
		return -1;
	}
	return 0;
}

/* Read all six counters: 0, or -1 if one is missing. */
static inline int ownbuf_counts_read(struct ownbuf_counts *c)
{
	char path[128];
	int i;

	for (i = 0; i < V_NR; i++) {
		snprintf(path, sizeof(path), "%s%s", OWNBUF_VIOLATIONS,
			 ownbuf_class_names[i]);
		c->v[i] = ownbuf_read_num(path);
		if (c->v[i] < 0)
			return -1;
	}
	return 0;
}

/*
 * EXPECT_DELTA(snap, [V_DOUBLE_FREE] = 1): every counter moved since @snap
 * by exactly the amount given, and the ones not named did not move at all.
 */
#define EXPECT_DELTA(snap, ...) do {					\
	const long long __want[V_NR] = { __VA_ARGS__ };			\
	const struct ownbuf_counts *__snap = (snap);			\
	struct ownbuf_counts __now;					\
	long long __d;							\
	int __i;							\
									\
	ASSERT_EQ(0, ownbuf_counts_read(&__now));			\
	for (__i = 0; __i < V_NR; __i++) {				\
		__d = __now.v[__i] - __snap->v[__i];			\
		EXPECT_EQ(__want[__i], __d)				\
			TH_LOG("violations/%s moved by %lld, want %lld", \
			       ownbuf_class_names[__i], __d, __want[__i]); \
	}								\
} while (0)

#define SNAPSHOT(snap) ASSERT_EQ(0, ownbuf_counts_read(snap))

/* The call fails with -1 and errno @expected. */
#define EXPECT_ERRNO(expected, call) do {				\
	int __want = (expected);					\
	long __ret;							\
	int __err;							\
									\
	errno = 0;							\
	__ret = (long)(call);						\
	__err = errno;							\
	ASSERT_EQ(-1L, __ret)						\
		TH_LOG("%s succeeded, want errno %d", #call, __want);	\
	EXPECT_EQ(__want, __err)					\
		TH_LOG("%s: errno %d (%s), want %d (%s)", #call, __err,	\
		       strerror(__err), __want, strerror(__want));	\
} while (0)

/* The call returns @expected (a syscall result). */
#define EXPECT_RET(expected, call) do {					\
	long __ret;							\
	int __err;							\
									\
	errno = 0;							\
	__ret = (long)(call);						\
	__err = errno;							\
	EXPECT_EQ((long)(expected), __ret)				\
		TH_LOG("%s: errno %d (%s)", #call, __err, strerror(__err)); \
} while (0)

#define ASSERT_RET(expected, call) do {					\
	long __ret;							\
	int __err;							\
									\
	errno = 0;							\
	__ret = (long)(call);						\
	__err = errno;							\
	ASSERT_EQ((long)(expected), __ret)				\
		TH_LOG("%s: errno %d (%s)", #call, __err, strerror(__err)); \
} while (0)

/*
 * A NULL user pointer the compiler cannot see through: passing a literal
 * NULL to read() and friends trips glibc's nonnull checks at build time.
 */
static inline void *ownbuf_null(void)
{
	void *p = NULL;

	__asm__ ("" : "+r" (p));
	return p;
}

#define NULLPTR ownbuf_null()

static inline int ownbuf_open(void)
{
	return open(OWNBUF_DEV, O_RDWR | O_CLOEXEC);
}

/* OWNBUF_IOC_BORROW: the new fd, or -1 with errno. */
static inline int ownbuf_borrow(int fd, __u32 flags)
{
	struct ownbuf_borrow arg = { .flags = flags, .fd = -1 };
	int ret;

	ret = ioctl(fd, OWNBUF_IOC_BORROW, &arg);
	if (ret)
		return ret < 0 ? -1 : -2;
	return arg.fd;
}

static inline int ownbuf_shared(int fd)
{
	return ownbuf_borrow(fd, OWNBUF_BORROW_SHARED | OWNBUF_BORROW_CLOEXEC);
}

static inline int ownbuf_mut(int fd)
{
	return ownbuf_borrow(fd, OWNBUF_BORROW_MUT | OWNBUF_BORROW_CLOEXEC);
}

/* OWNBUF_IOC_MOVE: the new owner fd, or -1 with errno. */
static inline int ownbuf_move(int fd, __u32 flags)
{
	struct ownbuf_move arg = { .flags = flags, .fd = -1 };
	int ret;

	ret = ioctl(fd, OWNBUF_IOC_MOVE, &arg);
	if (ret)
		return ret < 0 ? -1 : -2;
	return arg.fd;
}

static inline int ownbuf_resize(int fd, __u64 size)
{
	return ioctl(fd, OWNBUF_IOC_RESIZE, &size);
}

static inline int ownbuf_drop(int fd)
{
	return ioctl(fd, OWNBUF_IOC_DROP);
}

static inline int ownbuf_release(int fd)
{
	return ioctl(fd, OWNBUF_IOC_RELEASE);
}

/*
 * What OWNBUF_IOC_INFO reports, in signed types so that the harness can
 * compare it with plain constants.
 */
struct ob_info {
	long long size;
	long long id;
	int role;
	int state;
	int shared;
	int mut;
};

static inline int ownbuf_info(int fd, struct ob_info *info)
{
	struct ownbuf_info raw;
	int ret;

	memset(&raw, 0xa5, sizeof(raw));
	memset(info, 0, sizeof(*info));
	ret = ioctl(fd, OWNBUF_IOC_INFO, &raw);
	if (ret)
		return ret;
	info->size = raw.size;
	info->id = raw.id;
	info->role = raw.role;
	info->state = raw.state;
	info->shared = raw.shared_borrows;
	info->mut = raw.mut_borrows;
	return 0;
}

/* The state of an ownbuf fd, or -1 if INFO fails. */
static inline int ownbuf_state(int fd)
{
	struct ob_info info;

	return ownbuf_info(fd, &info) ? -1 : info.state;
}

/* The size of a buffer, or -1 if INFO fails. */
static inline long long ownbuf_size(int fd)
{
	struct ob_info info;

	return ownbuf_info(fd, &info) ? -1 : info.size;
}

/* The role of an ownbuf fd, or -1 if INFO fails. */
static inline int ownbuf_role(int fd)
{
	struct ob_info info;

	return ownbuf_info(fd, &info) ? -1 : info.role;
}

static inline long long ownbuf_id(int fd)
{
	struct ob_info info;

	return ownbuf_info(fd, &info) ? -1 : info.id;
}

/* revents of an fd right now (poll with a zero timeout). */
static inline short ownbuf_poll_now(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	if (poll(&p, 1, 0) < 0)
		return -1;
	return p.revents;
}

/* Fill @len bytes at @off of the buffer @fd with @c: 0 or -1. */
static inline int ownbuf_fill(int fd, off_t off, size_t len, int c)
{
	char *buf = malloc(len ? len : 1);
	ssize_t n;

	if (!buf)
		return -1;
	memset(buf, c, len);
	n = pwrite(fd, buf, len, off);
	free(buf);
	return n == (ssize_t)len ? 0 : -1;
}

/*
 * Does [off, off + len) of the buffer @fd hold only the byte @c?
 * 1 yes, 0 no, -1 the read failed or was short.
 */
static inline int ownbuf_check(int fd, off_t off, size_t len, int c)
{
	unsigned char *buf = malloc(len ? len : 1);
	ssize_t n;
	size_t i;
	int ret = 1;

	if (!buf)
		return -1;
	n = pread(fd, buf, len, off);
	if (n != (ssize_t)len)
		ret = -1;
	for (i = 0; ret == 1 && i < len; i++)
		if (buf[i] != (unsigned char)c)
			ret = 0;
	free(buf);
	return ret;
}

/* Does memory [p, p + len) hold only the byte @c? */
static inline bool ownbuf_mem_is(const void *p, size_t len, int c)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		if (b[i] != (unsigned char)c)
			return false;
	return true;
}

/* The lowest free file descriptor: a failed call must not leak one. */
static inline int ownbuf_next_fd(void)
{
	int fd = dup(0);

	if (fd >= 0)
		close(fd);
	return fd;
}

/* --- touching mappings that may fault --- */

static inline sigjmp_buf *ownbuf_fault_env(void)
{
	static sigjmp_buf env;

	return &env;
}

static inline void ownbuf_fault_handler(int sig)
{
	siglongjmp(*ownbuf_fault_env(), sig);
}

/*
 * Read (or with @write, write @val to) the byte at @p, catching SIGBUS and
 * SIGSEGV.  Returns 0, or the signal the access raised; the byte read goes
 * to *@val.
 */
static inline int ownbuf_touch(char *p, bool write, char *val)
{
	struct sigaction sa = { .sa_handler = ownbuf_fault_handler };
	struct sigaction obus, osegv;
	int sig;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &obus);
	sigaction(SIGSEGV, &sa, &osegv);
	sig = sigsetjmp(*ownbuf_fault_env(), 1);
	if (!sig) {
		if (write)
			__atomic_store_n(p, *val, __ATOMIC_RELAXED);
		else
			*val = __atomic_load_n(p, __ATOMIC_RELAXED);
	}
	sigaction(SIGBUS, &obus, NULL);
	sigaction(SIGSEGV, &osegv, NULL);
	return sig;
}

/* --- passing fds over a unix socket (SCM_RIGHTS) --- */

/* One byte of data and room for one fd. */
struct ownbuf_fd_msg {
	struct msghdr msg;
	struct iovec iov;
	char byte;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cbuf;
};

static inline void ownbuf_fd_msg_init(struct ownbuf_fd_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->byte = 'f';
	m->iov.iov_base = &m->byte;
	m->iov.iov_len = 1;
	m->msg.msg_iov = &m->iov;
	m->msg.msg_iovlen = 1;
	m->msg.msg_control = m->cbuf.buf;
	m->msg.msg_controllen = sizeof(m->cbuf.buf);
}

/* Pass @fd over the unix socket @sock: 0 or -1. */
static inline int ownbuf_send_fd(int sock, int fd)
{
	struct ownbuf_fd_msg m;
	struct cmsghdr *cm;

	ownbuf_fd_msg_init(&m);
	cm = CMSG_FIRSTHDR(&m.msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	return sendmsg(sock, &m.msg, 0) == 1 ? 0 : -1;
}

/* Receive an fd (close-on-exec) from the unix socket @sock, or -1. */
static inline int ownbuf_recv_fd(int sock)
{
	struct ownbuf_fd_msg m;
	struct cmsghdr *cm;
	int fd;

	ownbuf_fd_msg_init(&m);
	if (recvmsg(sock, &m.msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&m.msg);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* --- module parameters --- */

static inline long long ownbuf_param_get(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "%s%s", OWNBUF_PARAMS, name);
	return ownbuf_read_num(path);
}

static inline int ownbuf_param_set(const char *name, unsigned long long v)
{
	char path[128], val[32];

	snprintf(path, sizeof(path), "%s%s", OWNBUF_PARAMS, name);
	snprintf(val, sizeof(val), "%llu", v);
	return ownbuf_write_str(path, val);
}

/* --- time --- */

/* A page no access may touch, and a page that can only be read. */
static inline void *ownbuf_page(int prot)
{
	void *p = mmap(NULL, OWNBUF_PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0, OWNBUF_PAGE);
	if (mprotect(p, OWNBUF_PAGE, prot)) {
		munmap(p, OWNBUF_PAGE);
		return NULL;
	}
	return p;
}

static inline double ownbuf_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void ownbuf_msleep(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Wait up to @ms milliseconds for another thread to set *@flag. */
static inline bool ownbuf_wait_flag(bool *flag, unsigned int ms)
{
	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE) && ms--)
		ownbuf_msleep(1);
	return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
}

static inline void ownbuf_set_flag(bool *flag)
{
	__atomic_store_n(flag, true, __ATOMIC_RELEASE);
}

/* Wait for a child: its exit code, 128 + its signal, or -1. */
static inline int ownbuf_wait(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

#endif /* __OWNBUF_UTIL_H */
