// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace benchmarks of /dev/ownbuf, each against a baseline measured in
 * the same run (memfd, dup(), getppid()).  Prints one line per metric:
 *   metric=<name> value=<ns/op> baseline=<ns/op> ratio=<value/baseline>
 * Each figure is the median of --reps repetitions (at least 5); the two
 * sides of a pair alternate so that drift hits both, and the ratio is the
 * median of the repetitions' own ratios.  -v also prints every
 * repetition's pair of times to stderr, as "# name rep N: value baseline".
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/ownbuf.h>

#define MAX_REPS 101

/*
 * PLACEMENT.  Under QEMU's TCG a copy's speed depends on where its pages
 * are: the emulated TLB is direct-mapped, so a user buffer whose page
 * shares a slot with the kernel page it is copied to or from misses on
 * every access, 5-10x slower.  One placement for a whole run made one side
 * of a pair that much slower for the whole run.  So every repetition of a
 * copy benchmark gets new files (new kernel pages) and its user buffer on
 * another of POOL_PAGES pages: a bad placement spoils one repetition, which
 * the median drops.  The buffer sits BUF_OFFSET bytes into its page, as
 * one from malloc() does.
 */
#define PAGE 4096
#define POOL_PAGES 64
#define BUF_OFFSET 16
#define POOL_SIZE(len) ((len) + (POOL_PAGES + 1) * PAGE)

static int reps = 7;
static double scale = 1.0;
static int verbose;

static void die(const char *what)
{
	fprintf(stderr, "ownbuf_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

struct bench {
	int fd;			/* what to run on */
	int aux;		/* a second fd, if the bench needs one */
	char *buf;		/* user memory */
	char *pool;		/* where @buf moves between repetitions */
	char *map;		/* a mapping */
	size_t len;
	long n;			/* operations per repetition */
	/* if set, called before repetition N (untimed), see PLACEMENT */
	void (*setup)(struct bench *b, int n);
	int (*reopen)(size_t len);	/* for setup: a new file */
};

typedef void (*bench_fn)(struct bench *b);

static void rw_loop(struct bench *b)
{
	long i;

	for (i = 0; i < b->n; i++) {
		if (pwrite(b->fd, b->buf, b->len, 0) != (ssize_t)b->len)
			die("pwrite");
		if (pread(b->fd, b->buf, b->len, 0) != (ssize_t)b->len)
			die("pread");
	}
}

static void map_read_loop(struct bench *b)
{
	uint64_t sum = 0;
	long i;
	size_t j;

	for (i = 0; i < b->n; i++) {
		for (j = 0; j < b->len; j += sizeof(uint64_t))
			sum += *(uint64_t *)(b->map + j);
		/* Each pass reads the mapping again: the sum is used. */
		asm volatile("" : "+r" (sum) : : "memory");
	}
}

static void borrow_close_loop(struct bench *b)
{
	struct ownbuf_borrow arg;
	long i;

	for (i = 0; i < b->n; i++) {
		arg.flags = OWNBUF_BORROW_SHARED;
		arg.fd = -1;
		if (ioctl(b->fd, OWNBUF_IOC_BORROW, &arg))
			die("OWNBUF_IOC_BORROW");
		close(arg.fd);
	}
}

static void memfd_close_loop(struct bench *b)
{
	long i;
	int fd;

	for (i = 0; i < b->n; i++) {
		fd = syscall(SYS_memfd_create, "bench", 0);
		if (fd < 0)
			die("memfd_create");
		close(fd);
	}
}

static void dup_close_loop(struct bench *b)
{
	long i;
	int fd;

	for (i = 0; i < b->n; i++) {
		fd = dup(b->aux);
		if (fd < 0)
			die("dup");
		close(fd);
	}
}

static void info_loop(struct bench *b)
{
	struct ownbuf_info *info = (struct ownbuf_info *)b->buf;
	long i;

	for (i = 0; i < b->n; i++)
		if (ioctl(b->fd, OWNBUF_IOC_INFO, info))
			die("OWNBUF_IOC_INFO");
}

/* The floor of any ioctl on this fd: a command nobody knows (ENOTTY). */
static void enotty_loop(struct bench *b)
{
	long i;

	for (i = 0; i < b->n; i++)
		if (ioctl(b->fd, _IO(OWNBUF_IOC_MAGIC, 0x7f), 0) != -1 ||
		    errno != ENOTTY)
			die("unknown ioctl did not fail with ENOTTY");
}

static void getppid_loop(struct bench *b)
{
	long i;

	for (i = 0; i < b->n; i++)
		syscall(SYS_getppid);
}

/* Room for a @len-byte buffer in any of POOL_PAGES pages, touched. */
static char *pool_alloc(size_t len)
{
	char *p = mmap(NULL, POOL_SIZE(len), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	memset(p, 1, POOL_SIZE(len));
	return p + BUF_OFFSET;
}

static void pool_free(char *pool, size_t len)
{
	munmap(pool - BUF_OFFSET, POOL_SIZE(len));
}

/* The user buffer of repetition @r: another page each time. */
static char *pool_buf(char *pool, int r)
{
	return pool + (size_t)(r * 37 % POOL_PAGES) * PAGE;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double once(bench_fn fn, struct bench *b)
{
	uint64_t t0 = now_ns();

	fn(b);
	return (double)(now_ns() - t0) / b->n;
}

static double median(double *v)
{
	uint64_t u[MAX_REPS];
	int i;

	for (i = 0; i < reps; i++)
		u[i] = v[i] * 1000;
	qsort(u, reps, sizeof(u[0]), cmp_u64);
	return u[reps / 2] / 1000.0;
}

/* One repetition of both sides, each prepared first (untimed). */
static void rep(bench_fn fn, struct bench *b, bench_fn base,
		struct bench *bb, int r, double res[2])
{
	if (b->setup)
		b->setup(b, r);
	if (bb->setup)
		bb->setup(bb, r);
	res[0] = once(fn, b);
	res[1] = once(base, bb);
}

static void pair(const char *name, bench_fn fn, struct bench *b,
		 bench_fn base, struct bench *bb)
{
	double v[MAX_REPS], w[MAX_REPS], q[MAX_REPS], res[2];
	int r;

	/* Warm up both: one repetition, not counted. */
	rep(fn, b, base, bb, reps, res);
	for (r = 0; r < reps; r++) {
		rep(fn, b, base, bb, r, res);
		v[r] = res[0];
		w[r] = res[1];
		q[r] = v[r] / w[r];
		if (verbose)
			fprintf(stderr, "# %s rep %d: %.1f %.1f\n", name, r,
				v[r], w[r]);
	}
	/*
	 * The ratio is the median of each repetition's own: its two sides
	 * ran back to back, so a slow stretch of the guest (an RCU batch, a
	 * busy host) weighs on both and cancels out.
	 */
	printf("metric=%s value=%.1f baseline=%.1f ratio=%.3f\n",
	       name, median(v), median(w), median(q));
	fflush(stdout);
}

static int open_owner(size_t size)
{
	uint64_t sz = size;
	int fd = open("/dev/ownbuf", O_RDWR);

	if (fd < 0)
		die("open /dev/ownbuf");
	if (ioctl(fd, OWNBUF_IOC_RESIZE, &sz))
		die("OWNBUF_IOC_RESIZE");
	return fd;
}

static int open_memfd(size_t size)
{
	int fd = syscall(SYS_memfd_create, "bench", 0);

	if (fd < 0)
		die("memfd_create");
	if (ftruncate(fd, size))
		die("ftruncate");
	return fd;
}

static long ops(long n)
{
	long v = n * scale;

	return v > 0 ? v : 1;
}

/* A new file, filled once, and the user buffer on another page. */
static void rw_setup(struct bench *b, int r)
{
	struct bench one;

	if (b->fd >= 0)
		close(b->fd);
	b->fd = b->reopen(b->len);
	b->buf = pool_buf(b->pool, r);
	one = *b;
	one.n = 1;
	rw_loop(&one);
}

static void bench_rw(size_t len, long n, const char *name)
{
	struct bench o = { .fd = -1, .len = len, .n = ops(n),
			   .setup = rw_setup, .reopen = open_owner };
	struct bench m = { .fd = -1, .len = len, .n = ops(n),
			   .setup = rw_setup, .reopen = open_memfd };

	o.pool = pool_alloc(len);
	m.pool = pool_alloc(len);
	pair(name, rw_loop, &o, rw_loop, &m);
	close(o.fd);
	close(m.fd);
	pool_free(o.pool, len);
	pool_free(m.pool, len);
}

static void buf_setup(struct bench *b, int r)
{
	b->buf = pool_buf(b->pool, r);
}

static void bench_mmap(size_t len, long n)
{
	struct bench o = { .len = len, .n = ops(n) };
	struct bench m = { .len = len, .n = ops(n) };
	struct ownbuf_borrow arg = { .flags = OWNBUF_BORROW_MUT };
	int owner = open_owner(len);

	if (ioctl(owner, OWNBUF_IOC_BORROW, &arg))
		die("OWNBUF_IOC_BORROW");
	o.map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, arg.fd, 0);
	m.fd = open_memfd(len);
	m.map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd, 0);
	if (o.map == MAP_FAILED || m.map == MAP_FAILED)
		die("mmap");
	memset(o.map, 1, len);	/* fault everything in on both sides */
	memset(m.map, 1, len);
	pair("mmap_read_1m", map_read_loop, &o, map_read_loop, &m);
	munmap(o.map, len);
	munmap(m.map, len);
	close(arg.fd);
	close(owner);
	close(m.fd);
}

int main(int argc, char **argv)
{
	struct bench o = { }, m = { };
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			reps = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--scale") && i + 1 < argc) {
			scale = atof(argv[++i]);
		} else if (!strcmp(argv[i], "-v")) {
			verbose = 1;
		} else {
			fprintf(stderr, "usage: %s [--reps N] [--scale F] [-v]\n",
				argv[0]);
			return 2;
		}
	}
	if (reps < 5)
		reps = 5;
	if (reps > MAX_REPS)
		reps = MAX_REPS;

	bench_rw(4096, 20000, "rw_4k");
	bench_rw(65536, 2000, "rw_64k");
	bench_rw(1 << 20, 100, "rw_1m");
	bench_mmap(1 << 20, 50);

	o.fd = open_owner(4096);
	o.n = ops(20000);
	m.n = ops(20000);
	pair("borrow_close_vs_memfd", borrow_close_loop, &o,
	     memfd_close_loop, &m);
	m.aux = o.fd;
	pair("borrow_close_vs_dup", borrow_close_loop, &o, dup_close_loop, &m);
	o.n = ops(100000);
	m.n = ops(100000);
	/* INFO copies to user memory: move it like the copy benchmarks. */
	o.pool = pool_alloc(sizeof(struct ownbuf_info));
	o.setup = buf_setup;
	pair("info_vs_getppid", info_loop, &o, getppid_loop, &m);
	/* What any ioctl costs here, and what INFO adds to it. */
	pair("ioctl_floor_vs_getppid", enotty_loop, &o, getppid_loop, &m);
	m.fd = o.fd;
	pair("info_vs_ioctl_floor", info_loop, &o, enotty_loop, &m);
	pool_free(o.pool, sizeof(struct ownbuf_info));
	close(o.fd);
	return 0;
}
