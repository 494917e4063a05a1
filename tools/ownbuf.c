// SPDX-License-Identifier: GPL-2.0
/*
 * ownbuf - look at and play with /dev/ownbuf from the command line
 *
 *   ownbuf demo                     the ownership rules, tried for real
 *   ownbuf info FD|/proc/PID/fd/N   what an ownbuf file descriptor is
 *   ownbuf ls [--id N] [--json]     who holds which buffer (ownbuf_ls.c)
 *   ownbuf violations [--watch]     the violation counters
 *
 * The demo does not script its output: every misuse it narrates is made
 * against the device, and the errno and the counter it prints are what the
 * kernel returned and what sysfs says.  When either differs from the
 * contract, Documentation/userspace-api/ownbuf.rst, the demo says so and
 * exits 1.
 *
 * Exit status: 0 ok, 1 failure, 2 bad usage.
 */

#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <linux/ownbuf.h>

#include "ownbuf.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

#define OWNBUF_DEV	"/dev/ownbuf"
#define OWNBUF_SYSFS	"/sys/class/misc/ownbuf"
#define OWNBUF_LOAD_HINT "is ownbuf.ko loaded? try: sudo insmod module/ownbuf.ko"

#define OWNBUF_ROOT_HINT \
	"/dev/ownbuf is root-only unless ownbuf.ko is loaded with dev_mode=0666"

/* The violation classes, in the order of ownbuf.rst section 1. */
enum ownbuf_class {
	OB_NONE = -1,
	OB_USE_AFTER_FREE,
	OB_DOUBLE_FREE,
	OB_DATA_RACE,
	OB_NULL_DEREF,
	OB_OUT_OF_BOUNDS,
	OB_DANGLING_BORROW,
	OB_NR_CLASSES,
};

static const char * const ownbuf_class_names[] = { OWNBUF_VIOLATION_NAMES };
static_assert(ARRAY_SIZE(ownbuf_class_names) == OB_NR_CLASSES,
	      "enum ownbuf_class follows the UAPI's OWNBUF_VIOLATION_NAMES");

static const char * const ownbuf_class_help[OB_NR_CLASSES] = {
	"used a buffer after it was dropped, moved or revoked",
	"dropped or released the same thing twice",
	"wanted access that conflicts with a borrow",
	"passed a NULL pointer",
	"touched bytes outside the buffer",
	"let a borrow outlive its buffer",
};

struct ownbuf_counts {
	unsigned long long v[OB_NR_CLASSES];
};

const char *ownbuf_prog = "ownbuf";

static const struct {
	int err;
	const char *name;
} ownbuf_errnos[] = {
	{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { EINTR, "EINTR" },
	{ ENXIO, "ENXIO" }, { EBADF, "EBADF" }, { ENOMEM, "ENOMEM" },
	{ EACCES, "EACCES" }, { EFAULT, "EFAULT" }, { EBUSY, "EBUSY" },
	{ ENODEV, "ENODEV" }, { EINVAL, "EINVAL" }, { ENOTTY, "ENOTTY" },
	{ EFBIG, "EFBIG" }, { ENOSPC, "ENOSPC" }, { ESPIPE, "ESPIPE" },
	{ EOVERFLOW, "EOVERFLOW" }, { ESTALE, "ESTALE" },
};

static const char *errno_name(int err)
{
	static char buf[16];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ownbuf_errnos); i++)
		if (ownbuf_errnos[i].err == err)
			return ownbuf_errnos[i].name;
	snprintf(buf, sizeof(buf), "errno %d", err);
	return buf;
}

/* One line on stderr, prefixed with the program name; returns 1. */
int errorf(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", ownbuf_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAILURE;
}

/*
 * What a subcommand's getopt_long() loop did not handle: option @c (-h, or
 * one it does not know), or with @c 0 arguments left over.  Returns the
 * exit status.
 */
int opt_other(int c, const char *cmd, void (*usage)(FILE *f),
	      char *const argv[])
{
	if (c == 'h') {
		usage(stdout);
		return EXIT_SUCCESS;
	}
	if (c)
		errorf("%s: unknown option %s", cmd, argv[optind - 1]);
	else
		errorf("%s: unexpected argument %s", cmd, argv[optind]);
	usage(stderr);
	return EXIT_USAGE;
}

/* Why /dev/ownbuf or its sysfs files could not be used, in one line. */
static int ownbuf_access_error(const char *path, int err)
{
	switch (err) {
	case ENOENT:
	case ENODEV:
	case ENXIO:
		return errorf("%s: %s: %s", path, strerror(err),
			      OWNBUF_LOAD_HINT);
	case EACCES:
	case EPERM:
		return errorf("%s: permission denied: %s; try: sudo %s", path,
			      OWNBUF_ROOT_HINT, ownbuf_prog);
	default:
		return errorf("%s: %s", path, strerror(err));
	}
}

/* Read the six counters from sysfs; 0 or a negative errno. */
static int ownbuf_read_counts(struct ownbuf_counts *c)
{
	char path[128];
	FILE *f;
	int i, n;

	for (i = 0; i < OB_NR_CLASSES; i++) {
		snprintf(path, sizeof(path), "%s/violations/%s", OWNBUF_SYSFS,
			 ownbuf_class_names[i]);
		f = fopen(path, "re");
		if (!f)
			return -errno;
		n = fscanf(f, "%llu", &c->v[i]);
		fclose(f);
		if (n != 1)
			return -EIO;
	}
	return 0;
}

static int ownbuf_counts_or_die(struct ownbuf_counts *c)
{
	int ret = ownbuf_read_counts(c);

	if (ret)
		ownbuf_access_error(OWNBUF_SYSFS "/violations", -ret);
	return ret;
}

const char *ownbuf_role_name(__u32 role)
{
	switch (role) {
	case OWNBUF_ROLE_OWNER:
		return "owner";
	case OWNBUF_ROLE_SHARED:
		return "shared borrow";
	case OWNBUF_ROLE_MUT:
		return "mut borrow";
	default:
		return NULL;
	}
}

const char *ownbuf_state_name(__u32 state)
{
	switch (state) {
	case OWNBUF_STATE_LIVE:
		return "LIVE";
	case OWNBUF_STATE_DROPPED:
		return "DROPPED";
	case OWNBUF_STATE_MOVED:
		return "MOVED";
	case OWNBUF_STATE_RELEASED:
		return "RELEASED";
	case OWNBUF_STATE_REVOKED:
		return "REVOKED";
	default:
		return NULL;
	}
}

static const char *ownbuf_state_help(__u32 state)
{
	switch (state) {
	case OWNBUF_STATE_LIVE:
		return "usable";
	case OWNBUF_STATE_DROPPED:
		return "the owner dropped the buffer; every use of this fd fails with ESTALE";
	case OWNBUF_STATE_MOVED:
		return "ownership moved to another fd; every use of this one fails with ESTALE";
	case OWNBUF_STATE_RELEASED:
		return "the borrow was given back; every use of this fd fails with ESTALE";
	case OWNBUF_STATE_REVOKED:
		return "the owner went away; every use fails with ESTALE, mappings SIGBUS";
	default:
		return "";
	}
}

/* ------------------------------------------------------------------------
 * ownbuf demo
 */

struct demo {
	struct ownbuf_counts start;	/* when the demo began */
	struct ownbuf_counts before;	/* before the current step */
	int steps;
	int failed;
};

static sigjmp_buf demo_sigbus_jmp;

static void demo_sigbus(int sig)
{
	siglongjmp(demo_sigbus_jmp, sig);
}

static void demo_say(const char *text)
{
	fputs(text, stdout);
}

static __printf(2, 3) void demo_fail(struct demo *d, const char *fmt, ...);

static void demo_fail(struct demo *d, const char *fmt, ...)
{
	va_list ap;

	d->failed++;
	printf("      ^^^ FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

static void demo_snapshot(struct demo *d)
{
	if (ownbuf_read_counts(&d->before))
		memset(&d->before, 0, sizeof(d->before));
}

/*
 * Compare the counters with the snapshot: exactly @cls must have moved, by
 * one (nothing if @cls is OB_NONE).  Appends what moved to @out.
 */
static int demo_counters_moved(struct demo *d, int cls, char *out,
			       size_t len)
{
	struct ownbuf_counts now;
	unsigned long long delta;
	int i, ok = 1;
	size_t n = 0;

	out[0] = '\0';
	if (ownbuf_read_counts(&now)) {
		snprintf(out, len, "(cannot read the counters)");
		return 0;
	}
	for (i = 0; i < OB_NR_CLASSES; i++) {
		delta = now.v[i] - d->before.v[i];
		if (delta && n < len)
			n += snprintf(out + n, len - n, "%s%s +%llu",
				      n ? ", " : "", ownbuf_class_names[i],
				      delta);
		if (delta != (i == cls ? 1 : 0))
			ok = 0;
	}
	return ok;
}

/*
 * One call of the demo, already made: print it, what it returned and the
 * counter that moved, and check them against ownbuf.rst.
 * @want_err: 0 if the call must succeed, else the errno it must fail with.
 * @want_ret: on success, the value it must return; -1 for any value >= 0.
 * @cls: the counter that must move by one, or OB_NONE.
 * Return: true if it behaved as specified.
 */
static int demo_check(struct demo *d, const char *call, long ret, int err,
		      long want_ret, int want_err, int cls)
{
	char result[32], moved[128];
	int ok_ret, ok_cnt;

	d->steps++;
	if (ret < 0)
		snprintf(result, sizeof(result), "= -1 %s", errno_name(err));
	else
		snprintf(result, sizeof(result), "= %ld", ret);
	ok_cnt = demo_counters_moved(d, cls, moved, sizeof(moved));
	if (!moved[0] && want_err)
		snprintf(moved, sizeof(moved), "(not counted)");
	if (moved[0])
		printf("    %-46s %-12s %s\n", call, result, moved);
	else
		printf("    %-46s %s\n", call, result);

	if (want_err)
		ok_ret = ret == -1 && err == want_err;
	else
		ok_ret = ret >= 0 && (want_ret < 0 || ret == want_ret);
	if (ok_ret && ok_cnt)
		return 1;

	if (want_err)
		snprintf(result, sizeof(result), "-1 %s", errno_name(want_err));
	else if (want_ret >= 0)
		snprintf(result, sizeof(result), "%ld", want_ret);
	else
		snprintf(result, sizeof(result), "success");
	demo_fail(d, "the contract says %s and %s%s", result,
		  cls == OB_NONE ? "no counter moves" : ownbuf_class_names[cls],
		  cls == OB_NONE ? "" : " +1");
	return 0;
}

/*
 * Make @call, then check it with demo_check().  The call is printed as
 * written in this file (stringified before any macro in it is expanded),
 * so what the reader sees is what ran.
 */
#define DEMO(d, text, call, want_ret, want_err, cls)			\
	({								\
		struct demo *__d = (d);					\
		long __ret;						\
		int __err;						\
									\
		demo_snapshot(__d);					\
		errno = 0;						\
		__ret = (long)(call);					\
		__err = errno;						\
		demo_check(__d, text, __ret, __err, want_ret, want_err,	\
			   cls);					\
	})

#define DEMO_OK(d, call, want_ret)					\
	DEMO(d, #call, call, want_ret, 0, OB_NONE)
#define DEMO_ERR(d, call, err, cls)					\
	DEMO(d, #call, call, -1, err, cls)
/* Succeeds, and counts: the owner vanishing revokes its borrows. */
#define DEMO_OK_COUNTED(d, call, cls)					\
	DEMO(d, #call, call, 0, 0, cls)

/* Not a call: show a value the program now holds. */
static void demo_show(const char *what, long val)
{
	printf("    %-46s = %ld\n", what, val);
}

/* INFO on @fd must report @state; print it. */
static void demo_state(struct demo *d, int fd, const char *name, __u32 state)
{
	struct ownbuf_info info = { 0 };
	char call[64], moved[128];
	int ret, err;

	d->steps++;
	snprintf(call, sizeof(call), "ioctl(%s, OWNBUF_IOC_INFO, &info)", name);
	demo_snapshot(d);
	ret = ioctl(fd, OWNBUF_IOC_INFO, &info);
	err = errno;
	if (!demo_counters_moved(d, OB_NONE, moved, sizeof(moved)))
		demo_fail(d, "INFO counted a violation: %s", moved);
	if (ret) {
		printf("    %-46s = -1 %s\n", call, errno_name(err));
		demo_fail(d, "INFO must succeed on any ownbuf fd");
		return;
	}
	printf("    %-46s %-12s state %s, role %s\n", call, "= 0",
	       ownbuf_state_name(info.state) ?: "?",
	       ownbuf_role_name(info.role) ?: "?");
	if (info.state != state)
		demo_fail(d, "the contract says state %s",
			  ownbuf_state_name(state));
}

/* @buf (just read, named @name) must hold @want. */
static void demo_data(struct demo *d, const char *name, const char *buf,
		      const char *want)
{
	size_t n = strlen(want);
	char what[32];

	d->steps++;
	snprintf(what, sizeof(what), "%s now holds", name);
	printf("    %-46s \"%.*s\"\n", what, (int)n, buf);
	if (memcmp(buf, want, n))
		demo_fail(d, "expected \"%s\"", want);
}

/* Read *@p into *@c; SIGBUS if that faulted. */
static int demo_read_byte(const char *p, char *c)
{
	if (sigsetjmp(demo_sigbus_jmp, 1))
		return SIGBUS;
	*c = __atomic_load_n(p, __ATOMIC_RELAXED);
	return 0;
}

/* Touch a revoked mapping: it must raise SIGBUS, which is caught. */
static void demo_touch(struct demo *d, const char *map)
{
	struct sigaction sa = { .sa_handler = demo_sigbus }, old;
	char c = 0, moved[128];
	int sig;

	d->steps++;
	demo_snapshot(d);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old);
	sig = demo_read_byte(map, &c);
	sigaction(SIGBUS, &old, NULL);
	if (sig == SIGBUS) {
		printf("    %-46s SIGBUS (caught; faults are not counted)\n",
		       "c = map[0]");
		if (!demo_counters_moved(d, OB_NONE, moved, sizeof(moved)))
			demo_fail(d, "the fault counted a violation: %s", moved);
		return;
	}
	printf("    %-46s = '%c'\n", "c = map[0]", c ? c : '0');
	demo_fail(d, "the contract says a revoked mapping faults with SIGBUS");
}

/* A read-only mapping of the shared borrow @fd. */
static char *demo_map(struct demo *d, int fd, size_t len)
{
	char moved[128], res[32];
	char *map;
	int ok;

	d->steps++;
	demo_snapshot(d);
	map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	ok = demo_counters_moved(d, OB_NONE, moved, sizeof(moved));
	if (map == MAP_FAILED)
		snprintf(res, sizeof(res), "= -1 %s", errno_name(errno));
	else
		snprintf(res, sizeof(res), "= %p", map);
	printf("    %s\n    %-46s %s%s%s\n",
	       "map = mmap(NULL, len, PROT_READ, MAP_SHARED, reader, 0)",
	       "", res, moved[0] ? "  " : "", moved);
	if (map == MAP_FAILED || !ok)
		demo_fail(d, "the contract says a shared borrow maps read-only");
	return map;
}

static int demo_open(struct demo *d)
{
	int owner = -1;

	DEMO_OK(d, owner = open("/dev/ownbuf", O_RDWR), -1);
	return owner;
}

static void demo_close(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void demo_rule1(struct demo *d)
{
	struct ownbuf_move move = { .flags = 0 };
	int owner, new_owner = -1;
	char buf[16] = "";

	demo_say("\nRule 1: one owner.\n"
		 "  Every buffer has exactly one owner.  When the owner drops it, it\n"
		 "  is gone, and ownership can be moved, after which the old owner\n"
		 "  is dead.  In C these are the double free and the use after free.\n\n");
	owner = demo_open(d);
	if (owner < 0)
		return;
	DEMO_OK(d, write(owner, "hello", 5), 5);
	DEMO_OK(d, ioctl(owner, OWNBUF_IOC_DROP), 0);
	demo_say("  The buffer is freed, but the fd stays open so that the kernel can\n"
		 "  recognise what comes next.  Dropping it again is a double free:\n");
	DEMO_ERR(d, ioctl(owner, OWNBUF_IOC_DROP), ESTALE, OB_DOUBLE_FREE);
	demo_say("  Reading from it is a use after free:\n");
	DEMO_ERR(d, read(owner, buf, 5), ESTALE, OB_USE_AFTER_FREE);
	demo_state(d, owner, "owner", OWNBUF_STATE_DROPPED);
	demo_close(&owner);

	demo_say("\n  Moving ownership hands the buffer, bytes and all, to a new fd:\n");
	owner = demo_open(d);
	if (owner < 0)
		return;
	DEMO_OK(d, write(owner, "hello", 5), 5);
	if (DEMO_OK(d, ioctl(owner, OWNBUF_IOC_MOVE, &move), 0))
		new_owner = move.fd;
	demo_show("new_owner = move.fd", new_owner);
	demo_say("  The old owner is dead: using it is a use after free.\n");
	DEMO_ERR(d, pread(owner, buf, 5, 0), ESTALE, OB_USE_AFTER_FREE);
	demo_state(d, owner, "owner", OWNBUF_STATE_MOVED);
	demo_say("  The new owner has the bytes:\n");
	if (new_owner >= 0 &&
	    DEMO_OK(d, pread(new_owner, buf, 5, 0), 5))
		demo_data(d, "buf", buf, "hello");
	demo_close(&new_owner);
	demo_close(&owner);
}

static void demo_rule2(struct demo *d)
{
	struct ownbuf_borrow shared = { .flags = OWNBUF_BORROW_SHARED };
	struct ownbuf_borrow mut = { .flags = OWNBUF_BORROW_MUT };
	int owner, reader1 = -1, reader2 = -1, writer = -1;
	char buf[16] = "";

	demo_say("\nRule 2: many readers XOR one writer.\n"
		 "  The owner lends the buffer out as borrows, new fds: any number of\n"
		 "  SHARED (read-only) borrows, or exactly one MUT (read-write) one,\n"
		 "  never both.  Nobody ever writes while somebody else reads: in C,\n"
		 "  that is a data race.  Below, shared and mut are the requests\n"
		 "  { .flags = OWNBUF_BORROW_SHARED } and { .flags = OWNBUF_BORROW_MUT }.\n\n");
	owner = demo_open(d);
	if (owner < 0)
		return;
	DEMO_OK(d, write(owner, "hello", 5), 5);
	if (DEMO_OK(d, ioctl(owner, OWNBUF_IOC_BORROW, &shared), 0))
		reader1 = shared.fd;
	demo_show("reader1 = shared.fd", reader1);
	if (DEMO_OK(d, ioctl(owner, OWNBUF_IOC_BORROW, &shared), 0))
		reader2 = shared.fd;
	demo_show("reader2 = shared.fd", reader2);
	demo_say("  Two readers and the owner all read at the same time:\n");
	DEMO_OK(d, pread(reader1, buf, 5, 0), 5);
	DEMO_OK(d, pread(reader2, buf, 5, 0), 5);
	DEMO_OK(d, pread(owner, buf, 5, 0), 5);
	demo_say("  A writer while they read is a data race, refused:\n");
	DEMO_ERR(d, ioctl(owner, OWNBUF_IOC_BORROW, &mut), EBUSY,
		 OB_DATA_RACE);
	demo_say("  Not even the owner may write while the buffer is lent out:\n");
	DEMO_ERR(d, pwrite(owner, "HELLO", 5, 0), EBUSY, OB_DATA_RACE);
	demo_say("  A shared borrow is a read-only fd (the VFS refuses; not counted):\n");
	DEMO_ERR(d, write(reader1, "HELLO", 5), EBADF, OB_NONE);
	demo_say("  The readers give their borrows back; now one writer may borrow:\n");
	DEMO_OK(d, ioctl(reader1, OWNBUF_IOC_RELEASE), 0);
	DEMO_OK(d, ioctl(reader2, OWNBUF_IOC_RELEASE), 0);
	if (DEMO_OK(d, ioctl(owner, OWNBUF_IOC_BORROW, &mut), 0))
		writer = mut.fd;
	demo_show("writer = mut.fd", writer);
	DEMO_OK(d, pwrite(writer, "HELLO", 5, 0), 5);
	demo_say("  While the writer holds it, not even the owner may read:\n");
	DEMO_ERR(d, pread(owner, buf, 5, 0), EBUSY, OB_DATA_RACE);
	DEMO_OK(d, ioctl(writer, OWNBUF_IOC_RELEASE), 0);
	demo_say("  Giving a borrow back twice is a double free:\n");
	DEMO_ERR(d, ioctl(writer, OWNBUF_IOC_RELEASE), ESTALE, OB_DOUBLE_FREE);
	demo_say("  The owner reads what the writer wrote:\n");
	if (DEMO_OK(d, pread(owner, buf, 5, 0), 5))
		demo_data(d, "buf", buf, "HELLO");
	demo_close(&writer);
	demo_close(&reader2);
	demo_close(&reader1);
	demo_close(&owner);
}

static void demo_rule3(struct demo *d)
{
	struct ownbuf_borrow shared = { .flags = OWNBUF_BORROW_SHARED };
	int owner, reader = -1;
	char buf[16] = "";
	char *map = MAP_FAILED;
	size_t len = (size_t)sysconf(_SC_PAGESIZE);

	demo_say("\nRule 3: a borrow cannot outlive its buffer.\n"
		 "  While the buffer is lent out it cannot be dropped: in C, the\n"
		 "  borrower would be left with a dangling pointer.\n\n");
	owner = demo_open(d);
	if (owner < 0)
		return;
	DEMO_OK(d, write(owner, "hello", 5), 5);
	if (DEMO_OK(d, ioctl(owner, OWNBUF_IOC_BORROW, &shared), 0))
		reader = shared.fd;
	demo_show("reader = shared.fd", reader);
	demo_say("  Dropping the buffer now would leave the reader dangling:\n");
	DEMO_ERR(d, ioctl(owner, OWNBUF_IOC_DROP), EBUSY, OB_DANGLING_BORROW);
	demo_say("  The reader maps the buffer into its memory:\n");
	map = demo_map(d, reader, len);
	if (map != MAP_FAILED)
		demo_data(d, "map", map, "hello");
	demo_say("  Now the owner goes away anyway (close, or its process dies).  The\n"
		 "  kernel revokes every borrow, and counts each one:\n");
	DEMO_OK_COUNTED(d, close(owner), OB_DANGLING_BORROW);
	owner = -1;
	demo_state(d, reader, "reader", OWNBUF_STATE_REVOKED);
	demo_say("  The borrow is still an open fd, but every use of it fails...\n");
	DEMO_ERR(d, pread(reader, buf, 5, 0), ESTALE, OB_USE_AFTER_FREE);
	if (map != MAP_FAILED) {
		demo_say("  ...and its mapping is gone: touching it raises SIGBUS.\n");
		demo_touch(d, map);
		munmap(map, len);
	}
	demo_close(&reader);
}

static void demo_classes(struct demo *d)
{
	struct ownbuf_info info = { 0 };
	__u64 size = 0;
	char buf[16] = "";
	int owner;

	demo_say("\nThe other two classes: NULL pointers and out-of-bounds access.\n"
		 "  A NULL buffer is refused before anything is touched:\n\n");
	owner = demo_open(d);
	if (owner < 0)
		return;
	/* The point is to pass NULL: the compiler must not refuse to. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnonnull"
	DEMO_ERR(d, read(owner, NULL, 5), EFAULT, OB_NULL_DEREF);
#pragma GCC diagnostic pop
	DEMO_ERR(d, ioctl(owner, OWNBUF_IOC_INFO, NULL), EFAULT,
		 OB_NULL_DEREF);
	if (DEMO_OK(d, ioctl(owner, OWNBUF_IOC_INFO, &info), 0))
		size = info.size;
	demo_show("size = info.size", (long)size);
	demo_say("  Writing at the end is refused; seeking past it too:\n");
	DEMO_ERR(d, pwrite(owner, "!", 1, size), ENOSPC, OB_OUT_OF_BOUNDS);
	DEMO_ERR(d, lseek(owner, size + 1, SEEK_SET), EINVAL,
		 OB_OUT_OF_BOUNDS);
	demo_say("  A write that crosses the end is cut short, and reading at the end\n"
		 "  is end-of-file, as with any file (neither is a violation):\n");
	DEMO_OK(d, pwrite(owner, "abc", 3, size - 1), 1);
	DEMO_OK(d, pread(owner, buf, 5, size), 0);
	demo_close(&owner);
}

/* The counters table that ends the demo; 1 if every class was caught. */
static int demo_table(struct demo *d)
{
	struct ownbuf_counts now;
	unsigned long long delta;
	int i, all = 1;

	if (ownbuf_counts_or_die(&now))
		return 0;
	printf("\nViolation counters (%s/violations/):\n\n", OWNBUF_SYSFS);
	printf("  %-16s %-52s %5s %6s\n", "class", "what the caller did",
	       "demo", "total");
	for (i = 0; i < OB_NR_CLASSES; i++) {
		delta = now.v[i] - d->start.v[i];
		printf("  %-16s %-52s %5llu %6llu\n", ownbuf_class_names[i],
		       ownbuf_class_help[i], delta, now.v[i]);
		if (!delta)
			all = 0;
	}
	return all;
}

static int cmd_demo(void)
{
	struct demo d = { 0 };
	int fd, caught;

	/* Fail early, with a hint, when the device is not there. */
	fd = open(OWNBUF_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return ownbuf_access_error(OWNBUF_DEV, errno);
	close(fd);
	if (ownbuf_counts_or_die(&d.start))
		return EXIT_FAILURE;
	setvbuf(stdout, NULL, _IOLBF, 0);

	demo_say("ownbuf demo: Rust's ownership rules, enforced by the kernel at run time\n\n"
		 "In C a buffer can be freed twice, used after it was freed, written\n"
		 "by one thread while another reads it, or indexed past its end, and\n"
		 "nothing stops you.  ownbuf hands out kernel buffers that refuse all of\n"
		 "that.  Every open() of /dev/ownbuf creates one zero-filled buffer,\n"
		 "and that open file is its OWNER; lending the buffer out creates a\n"
		 "BORROW, a new file descriptor.\n\n"
		 "Every call below is really made.  The middle column is what it\n"
		 "returned (for a refusal, the errno); the last one is the violation\n"
		 "counter that moved in sysfs as a result.\n");
	demo_rule1(&d);
	demo_rule2(&d);
	demo_rule3(&d);
	demo_classes(&d);
	caught = demo_table(&d);

	if (!caught) {
		d.failed++;
		printf("\nFAIL: not every class was caught.\n");
	}
	if (d.failed) {
		printf("\nownbuf demo: %d of %d steps broke ownbuf's contract (FAIL above).\n",
		       d.failed, d.steps);
		printf("(Another program using /dev/ownbuf meanwhile moves the counters too.)\n");
		return EXIT_FAILURE;
	}
	printf("\nownbuf demo: all %d steps behaved as ownbuf's contract says; each of\n"
	       "the six classes was caught, refused with an error code, and counted.\n",
	       d.steps);
	return EXIT_SUCCESS;
}

/* ------------------------------------------------------------------------
 * ownbuf info
 */

/* /dev/ownbuf's device number, or 0 if it cannot be known. */
static dev_t ownbuf_devt(void)
{
	unsigned int maj, min;
	FILE *f;
	int n;

	f = fopen(OWNBUF_SYSFS "/dev", "re");
	if (!f)
		return 0;
	n = fscanf(f, "%u:%u", &maj, &min);
	fclose(f);
	return n == 2 ? makedev(maj, min) : 0;
}

/*
 * An fd for @arg: a file descriptor of this process, or one of another
 * process taken with pidfd_getfd(), which duplicates the open file itself.
 * Opening /proc/PID/fd/N instead would open /dev/ownbuf anew (a new buffer)
 * or be refused for a borrow.  Returns the fd, -1 after an error message,
 * -2 on bad usage.
 */
static int info_get_fd(const char *arg, int *own)
{
	int pid, fd, pidfd, n = -1;
	char *end;
	long v;

	*own = 1;
	errno = 0;
	v = strtol(arg, &end, 10);
	if (end != arg && !*end && !errno && v >= 0 && v <= 0x7fffffff) {
		fd = (int)v;
		if (fcntl(fd, F_GETFD) < 0)
			return errorf("fd %d is not open in this process (%s)",
				      fd, "another process's: /proc/PID/fd/N"),
			       -1;
		return fd;
	}
	if (sscanf(arg, "/proc/self/fd/%d%n", &fd, &n) == 1 &&
	    n == (int)strlen(arg))
		return info_get_fd(arg + strlen("/proc/self/fd/"), own);
	n = -1;
	if (sscanf(arg, "/proc/%d/fd/%d%n", &pid, &fd, &n) != 2 ||
	    n != (int)strlen(arg) || pid <= 0 || fd < 0)
		return -2;
	if (pid == getpid()) {
		char self[32];

		snprintf(self, sizeof(self), "%d", fd);
		return info_get_fd(self, own);
	}

	*own = 0;
	pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0) {
		if (errno == ESRCH)
			return errorf("%s: no process %d", arg, pid), -1;
		return errorf("%s: pidfd_open: %s", arg, strerror(errno)), -1;
	}
	fd = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	n = errno;
	close(pidfd);
	if (fd >= 0)
		return fd;
	switch (n) {
	case EBADF:
		return errorf("%s: process %d has no such fd", arg, pid), -1;
	case EPERM:
	case EACCES:
		return errorf("%s: permission denied: %s; try: sudo %s info %s",
			      arg, "taking another process's fd needs ptrace rights",
			      ownbuf_prog, arg), -1;
	case ESRCH:
		return errorf("%s: process %d has exited", arg, pid), -1;
	default:
		return errorf("%s: pidfd_getfd: %s", arg, strerror(n)), -1;
	}
}

static void usage_info(FILE *f)
{
	fprintf(f,
		"usage: %s info FD|/proc/PID/fd/N\n"
		"\n"
		"Describe an ownbuf file descriptor: its role (owner, shared or mut\n"
		"borrow), its state (LIVE, DROPPED, MOVED, RELEASED, REVOKED), the size\n"
		"of its buffer and the borrows outstanding, from OWNBUF_IOC_INFO.\n"
		"\n"
		"  FD               a file descriptor of this process, e.g. one the\n"
		"                   shell opened: %s info 3 3<>/dev/ownbuf\n"
		"  /proc/PID/fd/N   fd N of process PID, duplicated with pidfd_getfd(2)\n"
		"                   (needs ptrace rights over PID, e.g. root)\n"
		"\n"
		"Exit status: 0 ok, 1 not an ownbuf fd or an error, 2 bad usage.\n",
		ownbuf_prog, ownbuf_prog);
}

static int cmd_info(int argc, char **argv)
{
	struct ownbuf_info info = { 0 };
	char link[256] = "", path[64];
	const char *role, *state;
	struct stat st;
	int fd, own;
	dev_t devt;
	ssize_t n;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage_info(stdout);
		return EXIT_SUCCESS;
	}
	if (argc != 2 || argv[1][0] == '-') {
		usage_info(stderr);
		return EXIT_USAGE;
	}
	fd = info_get_fd(argv[1], &own);
	if (fd == -2) {
		errorf("%s: not a file descriptor number or /proc/PID/fd/N",
		       argv[1]);
		usage_info(stderr);
		return EXIT_USAGE;
	}
	if (fd < 0)
		return EXIT_FAILURE;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = '\0';

	/* Never send our ioctl to somebody else's character device. */
	devt = ownbuf_devt();
	if (!fstat(fd, &st) && S_ISCHR(st.st_mode) &&
	    (!devt || st.st_rdev != devt))
		goto not_ownbuf;
	if (ioctl(fd, OWNBUF_IOC_INFO, &info))
		goto not_ownbuf;
	role = ownbuf_role_name(info.role);
	state = ownbuf_state_name(info.state);
	if (!role || !state)
		goto not_ownbuf;

	printf("%s: ownbuf %s of buffer %llu (%s)\n", argv[1], role, info.id,
	       link);
	printf("  role     %s\n", role);
	printf("  state    %s: %s\n", state, ownbuf_state_help(info.state));
	if (info.state == OWNBUF_STATE_LIVE) {
		printf("  size     %llu bytes\n", info.size);
		printf("  borrows  %u shared, %u mut\n", info.shared_borrows,
		       info.mut_borrows);
	}
	if (!own)
		close(fd);
	return EXIT_SUCCESS;

not_ownbuf:
	if (!own)
		close(fd);
	return errorf("%s: not an ownbuf file descriptor (%s)", argv[1],
		      link[0] ? link : "unknown file");
}

/* ------------------------------------------------------------------------
 * ownbuf violations
 */

static void usage_violations(FILE *f)
{
	fprintf(f,
		"usage: %s violations [--watch] [--interval SECONDS]\n"
		"\n"
		"Print the violation counters of ownbuf, one line per class, from\n"
		"%s/violations/.  Each refused misuse counts once,\n"
		"from userspace and from kernel code alike, since the module was loaded.\n"
		"\n"
		"  -w, --watch             then keep printing a line for every change,\n"
		"                          until interrupted (Ctrl-C)\n"
		"  -n, --interval SECONDS  how often --watch looks (default 1)\n"
		"\n"
		"Exit status: 0 ok, 1 the counters cannot be read, 2 bad usage.\n",
		ownbuf_prog, OWNBUF_SYSFS);
}

static int cmd_violations(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "watch", no_argument, NULL, 'w' },
		{ "interval", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct ownbuf_counts old, now;
	struct timespec ts;
	sigset_t stop;
	double interval = 1;
	int c, i, watch = 0;
	char *end, stamp[16];
	time_t t;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+wn:h", opts, NULL)) != -1) {
		switch (c) {
		case 'w':
			watch = 1;
			break;
		case 'n':
			interval = strtod(optarg, &end);
			if (*end || end == optarg || !(interval >= 0.01) ||
			    interval > 86400) {
				errorf("--interval: not a number of seconds: %s",
				       optarg);
				return EXIT_USAGE;
			}
			break;
		default:
			return opt_other(c, "violations", usage_violations,
					 argv);
		}
	}
	if (optind != argc)
		return opt_other(0, "violations", usage_violations, argv);

	if (ownbuf_counts_or_die(&now))
		return EXIT_FAILURE;
	for (i = 0; i < OB_NR_CLASSES; i++)
		printf("%-16s %llu\n", ownbuf_class_names[i], now.v[i]);
	if (!watch)
		return EXIT_SUCCESS;

	/* Sleep in sigtimedwait(): Ctrl-C ends the watch, cleanly. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	ts.tv_sec = (time_t)interval;
	ts.tv_nsec = (long)((interval - (double)ts.tv_sec) * 1e9);
	while (sigtimedwait(&stop, NULL, &ts) < 0) {
		if (errno != EAGAIN && errno != EINTR)
			return errorf("sigtimedwait: %s", strerror(errno));
		old = now;
		if (ownbuf_counts_or_die(&now))
			return EXIT_FAILURE;
		t = time(NULL);
		strftime(stamp, sizeof(stamp), "%H:%M:%S", localtime(&t));
		for (i = 0; i < OB_NR_CLASSES; i++)
			if (now.v[i] != old.v[i])
				printf("%s %-16s +%llu (total %llu)\n", stamp,
				       ownbuf_class_names[i],
				       now.v[i] - old.v[i], now.v[i]);
	}
	return EXIT_SUCCESS;
}

/* ------------------------------------------------------------------------ */

static void usage_demo(FILE *f)
{
	fprintf(f,
		"usage: %s demo\n"
		"\n"
		"A narrated walk through ownbuf's three rules and the bug classes they\n"
		"catch, against /dev/ownbuf.  Every misuse is made for real; the errno\n"
		"and the counter printed are what the kernel returned and counted.\n"
		"Needs ownbuf.ko loaded and access to /dev/ownbuf (root by default).\n"
		"\n"
		"Exit status: 0 everything behaved as ownbuf's contract\n"
		"(Documentation/userspace-api/ownbuf.rst) says and all six classes\n"
		"were caught, 1 otherwise, 2 bad usage.\n",
		ownbuf_prog);
}

static void ownbuf_usage(FILE *f)
{
	fprintf(f,
		"usage: %s COMMAND [ARGS]\n"
		"\n"
		"Commands:\n"
		"  demo                     walk through the ownership rules, for real\n"
		"  info FD|/proc/PID/fd/N   describe an ownbuf file descriptor\n"
		"  ls [--id N] [--json]     who holds which buffer, borrow and fd\n"
		"  violations [--watch]     print the violation counters\n"
		"  help [COMMAND]           this text, or a command's\n"
		"\n"
		"\"%s COMMAND --help\" describes a command.\n"
		"Exit status: 0 ok, 1 failure, 2 bad usage.\n",
		ownbuf_prog, ownbuf_prog);
}

static int ownbuf_help(const char *cmd, FILE *f)
{
	if (!cmd)
		ownbuf_usage(f);
	else if (!strcmp(cmd, "demo"))
		usage_demo(f);
	else if (!strcmp(cmd, "info"))
		usage_info(f);
	else if (!strcmp(cmd, "ls"))
		usage_ls(f);
	else if (!strcmp(cmd, "violations"))
		usage_violations(f);
	else
		return errorf("no command \"%s\"; try: %s --help", cmd,
			      ownbuf_prog), EXIT_USAGE;
	return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd) {
		ownbuf_usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h"))
		return ownbuf_help(NULL, stdout);
	if (!strcmp(cmd, "help")) {
		if (argc > 3) {
			ownbuf_usage(stderr);
			return EXIT_USAGE;
		}
		return ownbuf_help(argc == 3 ? argv[2] : NULL, stdout);
	}
	if (!strcmp(cmd, "demo")) {
		if (argc == 3 && (!strcmp(argv[2], "--help") ||
				  !strcmp(argv[2], "-h")))
			return ownbuf_help("demo", stdout);
		if (argc != 2) {
			usage_demo(stderr);
			return EXIT_USAGE;
		}
		return cmd_demo();
	}
	if (!strcmp(cmd, "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(cmd, "ls"))
		return cmd_ls(argc - 1, argv + 1);
	if (!strcmp(cmd, "violations"))
		return cmd_violations(argc - 1, argv + 1);
	errorf("unknown command \"%s\"", cmd);
	ownbuf_usage(stderr);
	return EXIT_USAGE;
}
