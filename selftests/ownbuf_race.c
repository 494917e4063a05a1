// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/ownbuf under concurrent use (Documentation/userspace-api/ownbuf.rst
 * section 1 rule 2 and section 4): writers through a mut borrow and
 * through the owner, readers through the owner and through shared borrows,
 * all at once for a few seconds.  Every write fills the whole buffer with
 * one byte value, so a read that sees two values saw a half-applied
 * write.  Conflicts must be refused with -EBUSY, not serialised: there
 * must be some, and the data_race counter must have moved by exactly the
 * number of -EBUSY the threads saw.
 *
 * Then the owner's end under concurrent use (section 3): threads DROP (one
 * of them MOVEs) one owner fd at once, round after round.
 */
#include <pthread.h>

#include "ownbuf_util.h"

#define RACE_SECONDS	4

enum racer_kind {
	OWNER_WRITER,
	MUT_WRITER,
	OWNER_READER,
	SHARED_READER,
};

struct racer {
	enum racer_kind kind;
	int owner;
	size_t size;
	unsigned char first;	/* first byte value this writer writes */
	bool *stop;
	/* results */
	long ok;		/* successful reads or writes */
	long ebusy;		/* -EBUSY from any call */
	long torn;		/* reads that saw more than one value */
	long bad;		/* anything else that went wrong */
	int bad_errno;
	const char *bad_what;
};

static bool racer_stopped(struct racer *r)
{
	return __atomic_load_n(r->stop, __ATOMIC_RELAXED);
}

static void racer_bad(struct racer *r, const char *what, int err)
{
	if (!r->bad++) {
		r->bad_what = what;
		r->bad_errno = err;
	}
}

/* A call that may be refused with -EBUSY and nothing else. */
static bool racer_ok(struct racer *r, long ret, long want, const char *what)
{
	if (ret == want)
		return true;
	if (ret == -1 && errno == EBUSY)
		r->ebusy++;
	else
		racer_bad(r, what, ret == -1 ? errno : 0);
	return false;
}

static void racer_read(struct racer *r, int fd, unsigned char *buf)
{
	if (!racer_ok(r, pread(fd, buf, r->size, 0), r->size, "pread"))
		return;
	r->ok++;
	if (!ownbuf_mem_is(buf, r->size, buf[0]))
		r->torn++;
}

static void racer_write(struct racer *r, int fd, unsigned char *buf,
			unsigned char *v)
{
	memset(buf, *v, r->size);
	if (!racer_ok(r, pwrite(fd, buf, r->size, 0), r->size, "pwrite"))
		return;
	r->ok++;
	*v += 4;
}

/*
 * Every racer rests three times as long as its last turn took (at most
 * 50 ms), so that each kind finds the buffer free now and then even when
 * copies are slow: two mut writers that never rest hand the borrow to
 * each other the moment it comes back, and the readers starve (seen on a
 * 1 MiB buffer: 0 reads in 4 s).  A refused turn is short, so its rest is
 * too, and the contention stays.
 */
static void racer_rest(double since)
{
	double t = 3 * (ownbuf_now() - since);

	ownbuf_msleep(t > 0.05 ? 50 : (unsigned int)(t * 1000) + 1);
}

static void *racer_thread(void *arg)
{
	struct racer *r = arg;
	unsigned char *buf = malloc(r->size);
	unsigned char v = r->first;
	double t0;
	int fd, i;

	if (!buf) {
		racer_bad(r, "malloc", ENOMEM);
		return NULL;
	}
	while (!racer_stopped(r)) {
		t0 = ownbuf_now();
		switch (r->kind) {
		case OWNER_WRITER:
			racer_write(r, r->owner, buf, &v);
			break;
		case OWNER_READER:
			racer_read(r, r->owner, buf);
			break;
		case MUT_WRITER:
			fd = ownbuf_borrow(r->owner, OWNBUF_BORROW_MUT |
					   OWNBUF_BORROW_CLOEXEC);
			if (!racer_ok(r, fd < 0 ? -1 : 0, 0, "borrow mut"))
				break;
			for (i = 0; i < 3; i++) {
				racer_write(r, fd, buf, &v);
				racer_read(r, fd, buf);
			}
			/* Return it both ways, in turn. */
			if ((v & 4) && ownbuf_release(fd))
				racer_bad(r, "release", errno);
			if (close(fd))
				racer_bad(r, "close", errno);
			break;
		case SHARED_READER:
			fd = ownbuf_borrow(r->owner, OWNBUF_BORROW_SHARED |
					   OWNBUF_BORROW_CLOEXEC);
			if (!racer_ok(r, fd < 0 ? -1 : 0, 0, "borrow shared"))
				break;
			for (i = 0; i < 3; i++)
				racer_read(r, fd, buf);
			if (close(fd))
				racer_bad(r, "close", errno);
			break;
		}
		racer_rest(t0);
	}
	free(buf);
	return NULL;
}

FIXTURE(race)
{
	int owner;
	struct ownbuf_counts snap;
};

FIXTURE_VARIANT(race)
{
	size_t size;
};

FIXTURE_VARIANT_ADD(race, page) { .size = 4096 };
FIXTURE_VARIANT_ADD(race, big) { .size = 1 << 20 };

FIXTURE_SETUP(race)
{
	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	self->owner = ownbuf_open();
	ASSERT_LE(0, self->owner);
	if (variant->size != OWNBUF_DEFAULT_SIZE)
		ASSERT_EQ(0, ownbuf_resize(self->owner, variant->size));
	SNAPSHOT(&self->snap);
}

FIXTURE_TEARDOWN(race)
{
	close(self->owner);
}

static const char * const racer_names[] = {
	[OWNER_WRITER] = "owner writer",
	[MUT_WRITER] = "mut writer",
	[OWNER_READER] = "owner reader",
	[SHARED_READER] = "shared reader",
};

TEST_F_TIMEOUT(race, no_torn_reads_and_every_conflict_counted,
	       RACE_SECONDS * 10)
{
	static const enum racer_kind kinds[] = {
		OWNER_WRITER, MUT_WRITER, MUT_WRITER, OWNER_READER,
		OWNER_READER, SHARED_READER, SHARED_READER,
	};
	struct racer r[ARRAY_SIZE(kinds)];
	pthread_t t[ARRAY_SIZE(kinds)];
	long ebusy = 0, ok = 0, writes = 0, reads = 0;
	bool stop = false;
	struct ownbuf_counts now;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(kinds); i++) {
		r[i] = (struct racer){
			.kind = kinds[i],
			.owner = self->owner,
			.size = variant->size,
			.first = 1 + i,
			.stop = &stop,
		};
		ASSERT_EQ(0, pthread_create(&t[i], NULL, racer_thread, &r[i]));
	}
	ownbuf_msleep(RACE_SECONDS * 1000);
	__atomic_store_n(&stop, true, __ATOMIC_RELAXED);
	for (i = 0; i < ARRAY_SIZE(kinds); i++)
		pthread_join(t[i], NULL);

	for (i = 0; i < ARRAY_SIZE(kinds); i++) {
		TH_LOG("%-13s ok %6ld ebusy %6ld torn %ld", racer_names[r[i].kind],
		       r[i].ok, r[i].ebusy, r[i].torn);
		EXPECT_EQ(0, r[i].torn);
		EXPECT_EQ(0, r[i].bad)
			TH_LOG("%s: %s failed: %s", racer_names[r[i].kind],
			       r[i].bad_what, strerror(r[i].bad_errno));
		ebusy += r[i].ebusy;
		ok += r[i].ok;
		if (r[i].kind == OWNER_WRITER || r[i].kind == MUT_WRITER)
			writes += r[i].ok;
		else
			reads += r[i].ok;
	}
	EXPECT_LT(0, writes);
	EXPECT_LT(0, reads);
	/* Conflicts happen, and they are refused rather than serialised. */
	EXPECT_LT(0, ebusy);
	ASSERT_EQ(0, ownbuf_counts_read(&now));
	EXPECT_EQ(ebusy, now.v[V_DATA_RACE] - self->snap.v[V_DATA_RACE]);
	EXPECT_DELTA(&self->snap, [V_DATA_RACE] = ebusy);
	/* Nothing is lent out any more, and the buffer is whole. */
	EXPECT_EQ(OWNBUF_STATE_LIVE, ownbuf_state(self->owner));
	EXPECT_EQ(0, ownbuf_drop(self->owner));
}

/*
 * Threads released at once each DROP the same owner fd (one of them MOVEs
 * it, in the second variant).  Whatever the interleaving, exactly one call
 * succeeds and every other one answers as it would after it: -ESTALE, a
 * double_free for a DROP after a DROP, a use_after_free for anything after
 * a MOVE and for a MOVE after a DROP (section 3).  Never -EBUSY and a
 * data_race: the buffer is busy only with the call that won.  The calls
 * must really overlap: some loser must have started before the winner's
 * call returned.
 */
#define ENDERS		4
/*
 * At least this many rounds, then more until as many losing calls have
 * overlapped a winner, or ENDER_SECONDS have passed: on a kernel without
 * preemption the woken threads often run one after the other.
 */
#define ENDER_ROUNDS	400
#define ENDER_OVERLAPS	16
#define ENDER_SECONDS	60

struct ender {
	pthread_barrier_t *start;
	pthread_barrier_t *end;
	int *fd;		/* the round's owner, -1: no more rounds */
	bool move;		/* MOVE, else DROP */
	/* this round's: 0 or -errno, the moved-to fd, when the call ran */
	int ret;
	int newfd;
	long long t0;
	long long t1;
};

static long long ender_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *ender_thread(void *arg)
{
	struct ender *e = arg;

	for (;;) {
		pthread_barrier_wait(e->start);
		if (*e->fd < 0)
			break;
		e->t0 = ender_ns();
		if (e->move) {
			e->newfd = ownbuf_move(*e->fd, OWNBUF_MOVE_CLOEXEC);
			e->ret = e->newfd >= 0 ? 0 : e->newfd == -1 ? -errno : -EIO;
		} else {
			e->newfd = -1;
			e->ret = ownbuf_drop(*e->fd) ? -errno : 0;
		}
		e->t1 = ender_ns();
		pthread_barrier_wait(e->end);
	}
	return NULL;
}

FIXTURE(enders)
{
	struct ownbuf_counts snap;
};

FIXTURE_VARIANT(enders)
{
	int movers;
};

FIXTURE_VARIANT_ADD(enders, drops) { .movers = 0 };
FIXTURE_VARIANT_ADD(enders, move_and_drops) { .movers = 1 };

FIXTURE_SETUP(enders)
{
	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	SNAPSHOT(&self->snap);
}

FIXTURE_TEARDOWN(enders)
{
}

TEST_F_TIMEOUT(enders, one_wins_the_others_see_it_gone, 120)
{
	static struct ender e[ENDERS];
	pthread_barrier_t start, end;
	pthread_t t[ENDERS];
	long long uaf = 0, dfree = 0, overlaps = 0, deadline;
	int fd = 0, r, i, w, winners, bad = 0, moves_won = 0;

	ASSERT_EQ(0, pthread_barrier_init(&start, NULL, ENDERS + 1));
	ASSERT_EQ(0, pthread_barrier_init(&end, NULL, ENDERS + 1));
	for (i = 0; i < ENDERS; i++) {
		e[i] = (struct ender){
			.start = &start,
			.end = &end,
			.fd = &fd,
			.move = i < variant->movers,
		};
		ASSERT_EQ(0, pthread_create(&t[i], NULL, ender_thread, &e[i]));
	}
	deadline = ender_ns() + ENDER_SECONDS * 1000000000LL;
	for (r = 0; r < ENDER_ROUNDS ||
	     (overlaps < ENDER_OVERLAPS && ender_ns() < deadline); r++) {
		fd = ownbuf_open();
		ASSERT_LE(0, fd);
		pthread_barrier_wait(&start);
		pthread_barrier_wait(&end);
		winners = 0;
		w = -1;
		for (i = 0; i < ENDERS; i++) {
			if (e[i].newfd >= 0)
				close(e[i].newfd);
			if (!e[i].ret) {
				winners++;
				w = i;
			}
		}
		close(fd);
		if (winners != 1) {
			if (!bad++)
				TH_LOG("round %d: %d calls succeeded", r, winners);
			continue;
		}
		moves_won += e[w].move;
		for (i = 0; i < ENDERS; i++) {
			if (i == w)
				continue;
			if (e[i].ret != -ESTALE) {
				if (!bad++)
					TH_LOG("round %d: %s lost with %s", r,
					       e[i].move ? "MOVE" : "DROP",
					       strerror(-e[i].ret));
				continue;
			}
			if (e[w].move || e[i].move)
				uaf++;
			else
				dfree++;
			/* Started before the winner's call had returned. */
			overlaps += e[i].t0 < e[w].t1;
		}
	}
	/* No more rounds. */
	fd = -1;
	pthread_barrier_wait(&start);
	for (i = 0; i < ENDERS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start);
	pthread_barrier_destroy(&end);

	TH_LOG("%d rounds: %lld losing calls overlapped the winner's, MOVE won %d",
	       r, overlaps, moves_won);
	EXPECT_EQ(0, bad);
	/* The race was run: calls did overlap. */
	EXPECT_LT(0, overlaps);
	EXPECT_DELTA(&self->snap, [V_USE_AFTER_FREE] = uaf,
		     [V_DOUBLE_FREE] = dfree);
}

TEST_HARNESS_MAIN
