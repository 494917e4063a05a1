// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace benchmarks of /dev/ownbuf, each against a baseline measured in
 * the same run (memfd, dup(), getppid()).  Prints one line per metric:
 *   metric=<name> value=<ns/op> baseline=<ns/op> ratio=<value/baseline>
 * Each figure is the median of --reps repetitions (at least 5); the two
 * sides of a pair alternate so that drift hits both, and the ratio is the
 * median of the repetitions' own ratios.  -v also prints every
 * repetition's pair of times to stderr, as "# name rep N: value baseline".
 *
 * Besides the pairs:
 *  - the tail: rounds of an empty clock pair, a 4 KiB pwrite+pread on the
 *    owner and one on a memfd (the floor), each timed on its own with
 *    clock_gettime() on CPU 0, alone and while a thread on CPU 1 takes
 *    and gives back shared and mut borrows of the same buffer and opens
 *    and closes another: percentiles against the p50 of the same pass,
 *    and histograms ("hist=<series> ns=<bucket's lower bound>
 *    count=<operations>");
 *  - the curves: the owner's close() with 1, 10, 100 and 1000 shared
 *    borrows out (and with each of them mapped and touched) against one,
 *    INFO and a (refused) mut BORROW with max_shared shared borrows out,
 *    spread over CPUs 0 and 1, against one, and open+close of a 4 KiB to
 *    64 MiB buffer against memfd_create()+ftruncate()+close() of the same
 *    size (and, from 1 MiB, + fallocate(): its memory made at once).
 * Lines starting "note: " say what a figure needs to be read right.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/ownbuf.h>

#define MAX_REPS 101
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

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
static int extras = 1;

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

/* With -v, how long the part that ends here took (from the last call). */
static void section(const char *name)
{
	static uint64_t t0;
	uint64_t t = now_ns();

	if (verbose && t0)
		fprintf(stderr, "# %s took %.1f s\n", name, (t - t0) / 1e9);
	t0 = t;
}

/* --- the tail --- */

/* Run the calling thread on @cpu only (-1: on any). */
static void pin(int cpu)
{
	cpu_set_t set;
	int i;

	CPU_ZERO(&set);
	for (i = 0; i < CPU_SETSIZE; i++)
		if (cpu < 0 ? i < 2 : i == cpu)
			CPU_SET(i, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		die("sched_setaffinity");
}

/* What the thread on CPU 1 does during the tail's "load" series. */
struct load {
	int owner;		/* the measured buffer's owner */
	int stop;
	long rounds;		/* loops done */
	long mut;		/* mut borrows granted */
	pthread_t thread;
};

/*
 * A shared borrow (refuses the owner's pwrite, not its pread) and a mut
 * borrow (refuses both, and is refused while either runs) of the measured
 * buffer, each given back at once, and another buffer created and dropped.
 */
static void *load_thread(void *arg)
{
	struct load *l = arg;
	struct ownbuf_borrow b;
	int fd;

	pin(1);
	while (!__atomic_load_n(&l->stop, __ATOMIC_RELAXED)) {
		b.flags = OWNBUF_BORROW_SHARED;
		if (!ioctl(l->owner, OWNBUF_IOC_BORROW, &b))
			close(b.fd);
		b.flags = OWNBUF_BORROW_MUT;
		if (!ioctl(l->owner, OWNBUF_IOC_BORROW, &b)) {
			close(b.fd);
			l->mut++;
		}
		fd = open("/dev/ownbuf", O_RDWR);
		if (fd < 0)
			die("open /dev/ownbuf (load)");
		close(fd);
		__atomic_store_n(&l->rounds, l->rounds + 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void load_start(struct load *l, int owner)
{
	memset(l, 0, sizeof(*l));
	l->owner = owner;
	errno = pthread_create(&l->thread, NULL, load_thread, l);
	if (errno)
		die("pthread_create");
	while (__atomic_load_n(&l->rounds, __ATOMIC_RELAXED) < 10)
		usleep(1000);
}

static void load_stop(struct load *l)
{
	__atomic_store_n(&l->stop, 1, __ATOMIC_RELAXED);
	pthread_join(l->thread, NULL);
}

enum { T_CLOCK, T_OWNER, T_MEMFD, T_NR };

/* One pass: per kind, each operation's time; refusals counted apart. */
struct tail {
	uint32_t *ns[T_NR];	/* sorted once done */
	long got[T_NR];
	long refused;		/* the owner's pairs refused with EBUSY */
	uint64_t refused_max;
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void tail_add(struct tail *t, int kind, uint64_t ns)
{
	t->ns[kind][t->got[kind]++] = ns > UINT32_MAX ? UINT32_MAX : ns;
}

/* 4 KiB pwrite+pread on @fd; 0, or -1 and errno. */
static int rw_once(int fd, char *buf)
{
	if (pwrite(fd, buf, 4096, 0) != 4096)
		return -1;
	return pread(fd, buf, 4096, 0) == 4096 ? 0 : -1;
}

/*
 * @n rounds of: an empty clock pair, a pwrite+pread on @owner, the same on
 * @memfd, each timed on its own, so that whatever happens to the CPU (an
 * interrupt, the host taking the vCPU away) happens to all three alike.
 */
static void tail_run(struct tail *t, int owner, int memfd, char *buf, long n)
{
	uint64_t t0, t1;
	long i;
	int k;

	memset(t->got, 0, sizeof(t->got));
	t->refused = 0;
	t->refused_max = 0;
	for (i = 0; i < n; i++) {
		t0 = now_ns();
		t1 = now_ns();
		tail_add(t, T_CLOCK, t1 - t0);

		t0 = now_ns();
		k = rw_once(owner, buf);
		t1 = now_ns();
		if (!k) {
			tail_add(t, T_OWNER, t1 - t0);
		} else if (errno == EBUSY) {
			t->refused++;
			if (t1 - t0 > t->refused_max)
				t->refused_max = t1 - t0;
		} else {
			die("pwrite/pread on the owner");
		}

		t0 = now_ns();
		if (rw_once(memfd, buf))
			die("pwrite/pread on the memfd");
		t1 = now_ns();
		tail_add(t, T_MEMFD, t1 - t0);
	}
	for (k = 0; k < T_NR; k++)
		qsort(t->ns[k], t->got[k], sizeof(uint32_t), cmp_u32);
}

static double pct(const struct tail *t, int kind, int permille)
{
	long i = t->got[kind] * permille / 1000;

	if (!t->got[kind])
		return 0;
	return t->ns[kind][i < t->got[kind] ? i : t->got[kind] - 1];
}

static void print_metric(const char *name, double value, double base)
{
	printf("metric=%s value=%.1f baseline=%.1f ratio=%.3f\n", name, value,
	       base, base > 0 ? value / base : 0);
}

/* p99, p99.9 and max of the owner's pairs against their p50. */
static void tail_print(const char *sfx, const struct tail *t)
{
	static const int pm[] = { 990, 999, 1000 };
	static const char *const pname[] = { "p99", "p999", "max" };
	char name[64];
	int i;

	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "rw_4k_tail_%s_%s", pname[i], sfx);
		print_metric(name, pct(t, T_OWNER, pm[i]), pct(t, T_OWNER, 500));
	}
}

/* Quarter-octave buckets, as the kernel bench's. */
static unsigned int bucket(uint32_t v)
{
	unsigned int b;

	if (v < 4)
		return v;
	b = 31 - __builtin_clz(v);
	return b * 4 + ((v >> (b - 2)) & 3);
}

static unsigned long long bucket_lo(unsigned int i)
{
	if (i < 4)
		return i;
	return ((4ull + i % 4) << (i / 4)) >> 2;
}

static void print_hist(const char *name, const struct tail *t, int kind)
{
	unsigned int b;
	long i = 0, count;

	while (i < t->got[kind]) {
		b = bucket(t->ns[kind][i]);
		for (count = 0; i < t->got[kind] &&
		     bucket(t->ns[kind][i]) == b; count++)
			i++;
		printf("hist=%s ns=%llu count=%ld\n", name, bucket_lo(b), count);
	}
}

static void bench_tail(long n)
{
	struct tail t[2];	/* alone, under load */
	struct load l;
	int owner = open_owner(4096), memfd = open_memfd(4096), i, k;
	char *pool = pool_alloc(4096), *buf = pool_buf(pool, 1);
	long rounds, mut;

	/*
	 * One placement for every pass (see PLACEMENT): a bad one then slows
	 * a pass's p50 as much as its tail, and the ratios stand.
	 */
	for (i = 0; i < 2; i++)
		for (k = 0; k < T_NR; k++) {
			t[i].ns[k] = calloc(n, sizeof(uint32_t));
			if (!t[i].ns[k])
				die("calloc");
		}
	pin(0);
	tail_run(&t[0], owner, memfd, buf, n / 10);	/* warm-up */
	tail_run(&t[0], owner, memfd, buf, n);
	load_start(&l, owner);
	rounds = __atomic_load_n(&l.rounds, __ATOMIC_RELAXED);
	mut = __atomic_load_n(&l.mut, __ATOMIC_RELAXED);
	tail_run(&t[1], owner, memfd, buf, n);
	rounds = __atomic_load_n(&l.rounds, __ATOMIC_RELAXED) - rounds;
	mut = __atomic_load_n(&l.mut, __ATOMIC_RELAXED) - mut;
	load_stop(&l);
	pin(-1);
	if (t[1].got[T_OWNER] < n / 20) {
		fprintf(stderr, "ownbuf_bench: tail: only %ld of %ld owner pairs done under load\n",
			t[1].got[T_OWNER], n);
		exit(1);
	}

	print_metric("user_tail_clock", pct(&t[0], T_CLOCK, 500),
		     pct(&t[0], T_OWNER, 500));
	print_metric("rw_4k_tail_p50_load", pct(&t[1], T_OWNER, 500),
		     pct(&t[0], T_OWNER, 500));
	tail_print("alone", &t[0]);
	tail_print("load", &t[1]);
	print_metric("memfd_rw_4k_tail_p999_alone", pct(&t[0], T_MEMFD, 999),
		     pct(&t[0], T_MEMFD, 500));
	print_metric("memfd_rw_4k_tail_p999_load", pct(&t[1], T_MEMFD, 999),
		     pct(&t[1], T_MEMFD, 500));
	print_hist("user_rw_4k_alone", &t[0], T_OWNER);
	print_hist("user_rw_4k_load", &t[1], T_OWNER);
	print_hist("user_memfd_rw_4k_alone", &t[0], T_MEMFD);
	print_hist("user_memfd_rw_4k_load", &t[1], T_MEMFD);
	/* One line each, printed in parts. */
	printf("note: user tail: %ld rounds per pass on CPU 0 of ", n);
	printf("an empty clock pair, a 4 KiB pwrite+pread on the owner and ");
	printf("one on a memfd, each timed with clock_gettime(); ");
	printf("the empty pair (inside every time): p50 %.0f ns, ",
	       pct(&t[0], T_CLOCK, 500));
	printf("p99.9 %.0f ns, max %.0f ns alone, max %.0f ns under load\n",
	       pct(&t[0], T_CLOCK, 999), pct(&t[0], T_CLOCK, 1000),
	       pct(&t[1], T_CLOCK, 1000));
	printf("note: user tail under load: %ld of %ld owner pairs refused ",
	       t[1].refused, n);
	printf("(EBUSY: a borrow of CPU 1 was out; the longest refusal %.0f ns); ",
	       (double)t[1].refused_max);
	printf("meanwhile CPU 1 did %ld rounds, %ld mut borrows granted; ",
	       rounds, mut);
	printf("memfd pair max %.0f ns alone, %.0f ns under load\n",
	       pct(&t[0], T_MEMFD, 1000), pct(&t[1], T_MEMFD, 1000));
	fflush(stdout);
	for (i = 0; i < 2; i++)
		for (k = 0; k < T_NR; k++)
			free(t[i].ns[k]);
	pool_free(pool, 4096);
	close(owner);
	close(memfd);
}

/* --- the curves --- */

/* Revoking: close() of an owner with @nb shared borrows out. */
static double revoke_once(int nb, int mapped, int *fds, char **maps)
{
	struct ownbuf_borrow b = { .flags = OWNBUF_BORROW_SHARED };
	struct ownbuf_info info;
	int owner = open_owner(4096), i;
	uint64_t t0, t1;

	for (i = 0; i < nb; i++) {
		if (ioctl(owner, OWNBUF_IOC_BORROW, &b))
			die("OWNBUF_IOC_BORROW");
		fds[i] = b.fd;
		if (!mapped)
			continue;
		maps[i] = mmap(NULL, 4096, PROT_READ, MAP_SHARED, b.fd, 0);
		if (maps[i] == MAP_FAILED)
			die("mmap");
		/* Touched: a page table entry for the revocation to zap. */
		asm volatile("" : : "r" (maps[i][0]) : "memory");
	}
	/*
	 * Let the work that the last round's teardown left (files and
	 * inodes freed after an RCU grace period) finish first: it would
	 * land on whichever point comes next.
	 */
	usleep(20000);
	/* And run a little first: the first call after a sleep is slow. */
	for (i = 0; i < 100; i++)
		if (ioctl(owner, OWNBUF_IOC_INFO, &info))
			die("OWNBUF_IOC_INFO");
	t0 = now_ns();
	close(owner);
	t1 = now_ns();
	/* That close() did revoke them, before it returned. */
	if (ioctl(fds[nb - 1], OWNBUF_IOC_INFO, &info) ||
	    info.state != OWNBUF_STATE_REVOKED) {
		fprintf(stderr, "ownbuf_bench: a borrow not revoked by close()\n");
		exit(1);
	}
	for (i = 0; i < nb; i++) {
		if (mapped)
			munmap(maps[i], 4096);
		close(fds[i]);
	}
	return t1 - t0;
}

static void bench_revoke(void)
{
	static const int nbs[] = { 1, 10, 100, 1000 };
	static const char *const names[2][4] = {
		{ NULL, "revoke_borrows_10", "revoke_borrows_100",
		  "revoke_borrows_1000" },
		{ NULL, "revoke_mapped_10", "revoke_mapped_100",
		  "revoke_mapped_1000" },
	};
	double t[2][4][MAX_REPS], q[MAX_REPS], med[4], s1, s2;
	int fds[1000], mapped, k, r;
	char *maps[1000];

	for (r = -1; r < reps; r++)	/* the first round warms up */
		for (mapped = 0; mapped < 2; mapped++)
			for (k = 0; k < 4; k++)
				t[mapped][k][r < 0 ? 0 : r] =
					revoke_once(nbs[k], mapped, fds, maps);
	for (mapped = 0; mapped < 2; mapped++) {
		for (k = 0; k < 4; k++)
			med[k] = median(t[mapped][k]);
		for (k = 1; k < 4; k++) {
			for (r = 0; r < reps; r++)
				q[r] = t[mapped][k][r] / t[mapped][0][r];
			printf("metric=%s value=%.1f baseline=%.1f ratio=%.3f\n",
			       names[mapped][k], med[k], med[0], median(q));
		}
		/*
		 * Linear if the cost of one more borrow is the same with 100
		 * to 1000 out as with 1 to 100, within a factor of 1.5 (the
		 * times at 1 and 100 are a few tens of microseconds apart, as
		 * much as the noise of the host allows).
		 */
		s1 = (med[2] - med[0]) / 99;
		s2 = (med[3] - med[2]) / 900;
		printf("note: revocation%s: %.0f ns per borrow from 1 to 1000 ",
		       mapped ? " of mapped borrows" : "",
		       (med[3] - med[0]) / 999);
		printf("borrows out (%.0f from 1 to 100, %.0f from 100 to 1000: %s)\n",
		       s1, s2,
		       s2 < 1.5 * s1 && s1 < 1.5 * s2 ? "linear" :
		       s2 >= 1.5 * s1 ? "worse than linear" :
		       "better than linear");
	}
	fflush(stdout);
}

/* A mut BORROW of a lent-out buffer: refused, after counting the shares. */
static void mut_try_loop(struct bench *b)
{
	struct ownbuf_borrow arg;
	long i;

	for (i = 0; i < b->n; i++) {
		arg.flags = OWNBUF_BORROW_MUT;
		if (ioctl(b->fd, OWNBUF_IOC_BORROW, &arg) != -1 ||
		    errno != EBUSY)
			die("a mut BORROW not refused with EBUSY");
	}
}

struct take {
	int owner, *fds, from, to, got, err;
};

/* Shared borrows of @tk->owner from @tk->from on, until refused. */
static void *take_thread(void *arg)
{
	struct take *tk = arg;
	struct ownbuf_borrow b = { .flags = OWNBUF_BORROW_SHARED };

	pin(1);
	for (tk->got = tk->from; tk->got < tk->to; tk->got++) {
		if (ioctl(tk->owner, OWNBUF_IOC_BORROW, &b)) {
			tk->err = errno;
			break;
		}
		tk->fds[tk->got] = b.fd;
	}
	return NULL;
}

static long read_param(const char *name)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/ownbuf/parameters/%s", name);
	f = fopen(path, "r");
	if (!f || fscanf(f, "%ld", &v) != 1)
		die(path);
	fclose(f);
	return v;
}

static void write_param(const char *name, long v)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/ownbuf/parameters/%s", name);
	f = fopen(path, "w");
	if (!f || fprintf(f, "%ld\n", v) < 0 || fclose(f))
		die(path);
}

/* INFO and a mut BORROW with max_shared borrows out vs with one. */
static void bench_many_shared(void)
{
	struct bench o = { }, m = { };
	struct ownbuf_borrow b = { .flags = OWNBUF_BORROW_SHARED };
	struct ownbuf_info info;
	long max = read_param("max_shared");
	struct take tk = { };
	pthread_t th;
	int one, i;

	tk.fds = calloc(max + 1, sizeof(int));
	if (!tk.fds)
		die("calloc");
	one = open_owner(4096);
	tk.owner = open_owner(4096);
	pin(0);
	if (ioctl(one, OWNBUF_IOC_BORROW, &b))
		die("OWNBUF_IOC_BORROW");
	tk.to = max / 2;
	errno = pthread_create(&th, NULL, take_thread, &tk);
	if (errno)
		die("pthread_create");
	pthread_join(th, NULL);
	if (tk.err)
		die("a shared BORROW on CPU 1");
	i = tk.got;
	/* On CPU 0 now, the rest, until the cap refuses one. */
	tk.from = tk.got;
	tk.to = max + 1;
	for (tk.got = tk.from; tk.got < tk.to; tk.got++) {
		if (ioctl(tk.owner, OWNBUF_IOC_BORROW, &b))
			break;
		tk.fds[tk.got] = b.fd;
	}
	if (tk.got != max || errno != EOVERFLOW)
		die("the shared BORROWs did not stop at max_shared with EOVERFLOW");
	pin(-1);
	printf("note: max_shared: %d shared borrows out ", tk.got);
	printf("(%d taken on CPU 1, %d on CPU 0) against 1\n", i, tk.got - i);
	o.fd = tk.owner;
	m.fd = one;
	o.buf = (char *)&info;
	m.buf = (char *)&info;
	o.n = ops(20000);
	m.n = ops(20000);
	pair("info_shared_max", info_loop, &o, info_loop, &m);
	o.n = ops(2000);
	m.n = ops(2000);
	pair("borrow_mut_refused_shared_max", mut_try_loop, &o, mut_try_loop,
	     &m);
	for (i = 0; i < tk.got; i++)
		close(tk.fds[i]);
	close(b.fd);
	close(tk.owner);
	close(one);
	free(tk.fds);
}

/* open() + close() of /dev/ownbuf: a buffer of default_size made and dropped. */
static void create_loop(struct bench *b)
{
	long i;
	int fd;

	for (i = 0; i < b->n; i++) {
		fd = open("/dev/ownbuf", O_RDWR);
		if (fd < 0)
			die("open /dev/ownbuf");
		close(fd);
	}
}

static void memfd_size_loop(struct bench *b)
{
	long i;

	for (i = 0; i < b->n; i++)
		close(open_memfd(b->len));
}

/* A memfd whose pages are all there and zeroed, as a buffer's are. */
static void memfd_fallocate_loop(struct bench *b)
{
	long i;
	int fd;

	for (i = 0; i < b->n; i++) {
		fd = open_memfd(b->len);
		if (fallocate(fd, 0, 0, b->len))
			die("fallocate");
		close(fd);
	}
}

static void bench_create(void)
{
	static const struct { size_t len; long n; const char *name; } sz[] = {
		{ 4096, 2000, "create_drop_4k" },
		{ 65536, 1000, "create_drop_64k" },
		{ 1 << 20, 100, "create_drop_1m" },
		{ 64 << 20, 2, "create_drop_64m" },
	};
	long def = read_param("default_size");
	struct bench o = { }, m = { };
	unsigned int k;
	char name[64];

	for (k = 0; k < ARRAY_SIZE(sz); k++) {
		write_param("default_size", sz[k].len);
		o.n = ops(sz[k].n);
		m.n = ops(sz[k].n);
		m.len = sz[k].len;
		pair(sz[k].name, create_loop, &o, memfd_size_loop, &m);
		if (sz[k].len < (1 << 20))
			continue;
		/* What a memfd costs with its memory made at once. */
		snprintf(name, sizeof(name), "%s_vs_fallocate", sz[k].name);
		pair(name, create_loop, &o, memfd_fallocate_loop, &m);
	}
	write_param("default_size", def);
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
		} else if (!strcmp(argv[i], "--no-extras")) {
			extras = 0;
		} else {
			fprintf(stderr, "usage: %s [--reps N] [--scale F] [-v] [--no-extras]\n",
				argv[0]);
			return 2;
		}
	}
	if (reps < 5)
		reps = 5;
	if (reps > MAX_REPS)
		reps = MAX_REPS;
	section("start");

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

	if (extras) {
		struct rlimit rl = { .rlim_cur = 8192, .rlim_max = 8192 };

		/* The borrows of the curves are file descriptors. */
		if (setrlimit(RLIMIT_NOFILE, &rl))
			die("setrlimit(RLIMIT_NOFILE)");
		section("pairs");
		bench_tail(ops(20000));
		section("tail");
		bench_revoke();
		section("revocation");
		bench_many_shared();
		section("max_shared");
		bench_create();
		section("create");
	}
	return 0;
}
