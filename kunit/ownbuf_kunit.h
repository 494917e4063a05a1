/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the KUnit suites of ownbuf share (kunit/ownbuf_kunit_util.c): buffers,
 * borrows and threads that clean up after themselves, exact checks of the
 * six violation counters, and a console probe that fails a test during
 * which the kernel printed a splat.
 */
#ifndef _OWNBUF_KUNIT_H
#define _OWNBUF_KUNIT_H

#include <kunit/static_stub.h>
#include <kunit/test.h>
#include <linux/completion.h>
#include <linux/ownbuf.h>

#include "ownbuf_internal.h"

#define OB_SIZE		100		/* less than a page: the tail matters */
#define OB_BIG		(3 * PAGE_SIZE + 17)
#define OB_BYTE		0x5a
#define OB_RACE_MS	1500		/* each race, under TCG with KASAN */
#define OB_BLOCKED_MS	200		/* a blocked waiter stays blocked this long */
#define OB_TIMEOUT	(10 * HZ)	/* nothing legitimate takes this long */
#define OB_NONE		(-1)		/* no violation class: not counted */

/**
 * struct ob_priv - per-test state, in test->priv
 * @splats: console splats seen before the test began.
 * @buffers: buffers in ownbuf's table when the test began.
 * @stub_calls: calls that reached a fault-injection stub.
 * @stub_ret: what ob_fail_table_insert() returns.
 * @inside: what ob_copy_inside() does while an access is in flight.
 * @inside_ret: what @inside returned.
 */
struct ob_priv {
	unsigned long splats;
	unsigned long buffers;
	int stub_calls;
	int stub_ret;
	int (*inside)(struct kunit *test);
	int inside_ret;
};

struct ob_counts {
	u64 n[OWNBUF_NR_VIOLATIONS];
};

#define OB_EXPECT_DELTAS(test, before, uaf, dfree, race, null, oob, dang) \
	ob_expect_deltas(test, before, (const u64 [OWNBUF_NR_VIOLATIONS]) { \
		[OWNBUF_USE_AFTER_FREE] = (uaf),			\
		[OWNBUF_DOUBLE_FREE] = (dfree),				\
		[OWNBUF_DATA_RACE] = (race),				\
		[OWNBUF_NULL_DEREF] = (null),				\
		[OWNBUF_OUT_OF_BOUNDS] = (oob),				\
		[OWNBUF_DANGLING_BORROW] = (dang) }, __LINE__)

#define OB_EXPECT_ONE(test, before, class) \
	ob_expect_one(test, before, class, __LINE__)
#define OB_EXPECT_NONE(test, before) \
	ob_expect_one(test, before, OB_NONE, __LINE__)

struct ob_ref_array {
	unsigned int n;
	struct ownbuf_ref refs[];
};

#define OB_EXPECT_BYTES(test, p, len, byte) \
	ob_expect_bytes(test, p, len, byte, #p, __LINE__)

#define OB_EXPECT_OWNER_BYTES(test, h, off, len, byte) \
	ob_expect_owner_bytes(test, h, off, len, byte, __LINE__)

#define OB_EXPECT_REF_BYTES(test, ref, off, len, byte) \
	ob_expect_ref_bytes(test, ref, off, len, byte, __LINE__)

/* Relative to the root of sysfs: the suites mount it themselves. */
#define OB_PARAM_DIR "module/ownbuf/parameters/"

struct ob_param {
	const char *name;
	unsigned long old;
};

struct ob_race;

/*
 * A kthread of a test, and what it saw.
 *
 * Workers never use KUNIT_* macros: they count, and the test checks the
 * counts once it has joined them.
 */
struct ob_worker {
	struct kunit *test;
	bool stubs;
	struct task_struct *task;
	struct completion started;
	struct completion done;
	int (*fn)(struct ob_worker *w);
	struct ob_race *race;
	void *arg;
	unsigned int flags;
	bool use_ops;
	bool linger;
	bool joined;
	int cpu;
	int id;
	int ret;
	int ret2;
	struct ownbuf_stat st;
	struct ownbuf_ref ref;
	u8 *buf;
	u8 *buf2;
	atomic_long_t cb_calls;
	u64 seen[OWNBUF_NR_VIOLATIONS];
	unsigned long borrows;
	unsigned long reads;
	unsigned long writes;
	unsigned long torn;
	unsigned long bad;
	int bad_err;
	int bad_line;
};

#define OB_BAD(w, err) ob_bad(w, err, __LINE__)

#define OB_OK_BUSY	BIT(0)	/* -EBUSY, counted as a data_race */
#define OB_OK_LENT	BIT(1)	/* -EBUSY, counted as a dangling_borrow */
#define OB_OK_STALE	BIT(2)	/* -ESTALE, counted as a use_after_free */

#define OB_TALLY(w, ret, ok) ob_tally(w, ret, ok, __LINE__)

#define OB_RACE_MAX	6

/**
 * struct ob_race - what the threads of a race share
 * @owner: the registered owner variable; only one thread changes it.
 * @slot: a copy of *@owner for the others to borrow through.
 * @size: size of the buffer (of every buffer, in the churn race).
 * @stop: ends the race.
 * @pause: borrowers stand aside (hold nothing) while set.
 * @param: the test's parameter.
 * @cpu: two CPUs to spread the threads over.
 * @w: the threads.
 * @n: how many.
 * @stubs: threads added from now on see the test's static stubs.
 *
 * Without preemption (the debug kernel has none) threads on one CPU never
 * interleave inside a loop iteration; the races need two busy CPUs.
 */
struct ob_race {
	struct ownbuf_handle *owner;
	atomic64_t slot;
	size_t size;
	bool stop;
	bool pause;
	const void *param;
	int cpu[2];
	struct ob_worker *w[OB_RACE_MAX];
	int n;
	bool stubs;
};

unsigned long ob_splats(void);
void ob_snap(struct ob_counts *c);
void ob_expect_deltas(struct kunit *test, const struct ob_counts *before,
		      const u64 *want, int line);
void ob_expect_one(struct kunit *test, const struct ob_counts *before,
		   int class, int line);
u8 *ob_scratch(struct kunit *test, size_t size);
struct ownbuf_handle *ob_handle(struct kunit *test);
struct ownbuf_handle *ob_create(struct kunit *test, size_t size);
void ob_ref_cleanup(void *arg);
struct ownbuf_ref *ob_ref(struct kunit *test);
struct ownbuf_ref *ob_refs(struct kunit *test, unsigned int n);
void *ob_unsafe_begin(struct kunit *test, struct ownbuf_ref *ref,
		      size_t *len);
void ob_unsafe_end(struct kunit *test, struct ownbuf_ref *ref);
void ob_fill(struct kunit *test, struct ownbuf_handle h, u8 byte);
void ob_expect_bytes(struct kunit *test, const u8 *p, size_t len,
		     u8 byte, const char *what, int line);
void ob_expect_owner_bytes(struct kunit *test, struct ownbuf_handle h,
			   size_t off, size_t len, u8 byte, int line);
void ob_expect_ref_bytes(struct kunit *test, struct ownbuf_ref *ref,
			 size_t off, size_t len, u8 byte, int line);
struct ownbuf_stat ob_stat(struct kunit *test, struct ownbuf_handle h);
unsigned long ob_param_get(const char *name, unsigned long dflt);
void ob_param_set(struct kunit *test, const char *name,
		  unsigned long val);
struct ob_worker *ob_worker_new(struct kunit *test, size_t bufsize);
void ob_worker_start(struct kunit *test, struct ob_worker *w,
		     int (*fn)(struct ob_worker *w), const char *name);
void ob_worker_join(struct kunit *test, struct ob_worker *w);
void ob_bad(struct ob_worker *w, int err, int line);
int ob_tally(struct ob_worker *w, int ret, unsigned int ok, int line);
void ob_check_uniform(struct ob_worker *w, const u8 *p, size_t len);
extern const struct ownbuf_ref_ops ob_count_ops;
struct ob_race *ob_race_new(struct kunit *test, size_t size);
bool ob_running(struct ob_worker *w);
struct ownbuf_handle ob_slot(struct ob_race *r);
void ob_publish(struct ob_race *r);
struct ob_worker *ob_race_add(struct kunit *test, struct ob_race *r,
			      int (*fn)(struct ob_worker *w),
			      const char *name, unsigned int flags,
			      bool use_ops, int cpu);
void ob_race_join(struct kunit *test, struct ob_race *r, u64 *seen);
bool ob_done_within(struct ob_worker *w, unsigned long timeout);
bool ob_still_blocked(struct ob_worker *w);
void ob_expect_granted_on_release(struct kunit *test, struct ob_worker *w,
				  struct ownbuf_ref *ref);
int ob_unsafe_try(struct ownbuf_ref *ref, size_t *len);
void ob_complete(void *arg);
int ownbuf_test_init(struct kunit *test);
int ownbuf_suite_init(struct kunit_suite *suite);
void ownbuf_suite_exit(struct kunit_suite *suite);
void ob_console_watch(const char *want);
void ob_console_line(char *buf, size_t len);

/*
 * The cases kept outside ownbuf_kunit_api.c, which holds the case lists of
 * every suite but "ownbuf_windows".
 */
/* ownbuf_kunit_misuse.c */
void ownbuf_test_misuse(struct kunit *test);
const void *ob_misuse_params(const void *prev, char *desc);
void ownbuf_test_forged_random_handles(struct kunit *test);
void ownbuf_test_forged_bitflip_handles(struct kunit *test);
void ownbuf_test_garbage_tokens(struct kunit *test);

/* ownbuf_kunit_limits.c */
void ownbuf_test_callback_on_release(struct kunit *test);
void ownbuf_test_callback_on_discard(struct kunit *test);
void ownbuf_test_callback_on_revoke(struct kunit *test);
void ownbuf_test_callback_borrow_after_revoke(struct kunit *test);
void ownbuf_test_release_during_release(struct kunit *test);
void ownbuf_test_wait_wakes_on_release(struct kunit *test);
void ownbuf_test_wait_mut_for_all_shared(struct kunit *test);
void ownbuf_test_wait_interrupted(struct kunit *test);
void ownbuf_test_wait_revoked(struct kunit *test);
void ownbuf_test_max_shared(struct kunit *test);
void ownbuf_test_max_shared_lowered(struct kunit *test);
void ownbuf_test_max_size(struct kunit *test);
void ownbuf_test_max_size_lowered(struct kunit *test);
void ownbuf_test_fail_alloc_core(struct kunit *test);
void ownbuf_test_fail_alloc_data(struct kunit *test);
void ownbuf_test_fail_table_insert(struct kunit *test);
const void *ob_insert_params(const void *prev, char *desc);
void ownbuf_test_fail_resize(struct kunit *test);
void ownbuf_test_tracepoint(struct kunit *test);

/* ownbuf_kunit_race.c */
void ownbuf_test_atomic_context(struct kunit *test);
void ownbuf_test_race_borrows(struct kunit *test);
void ownbuf_test_race_ownership(struct kunit *test);
void ownbuf_test_race_revoke_churn(struct kunit *test);
void ownbuf_test_access_in_flight(struct kunit *test);
const void *ob_inside_params(const void *prev, char *desc);
void ownbuf_test_excl_while_accessed(struct kunit *test);
const void *ob_excl_params(const void *prev, char *desc);
void ownbuf_test_aba(struct kunit *test);
void ownbuf_test_token_replay(struct kunit *test);
const void *ob_replay_params(const void *prev, char *desc);
void ownbuf_test_forged_poison(struct kunit *test);
void ownbuf_test_generations_never_run_out(struct kunit *test);
void ownbuf_test_revoked_frees_slot(struct kunit *test);
void ownbuf_test_max_shared_across_cpus(struct kunit *test);

/* ownbuf_kunit_scope.c */
void ownbuf_test_scope_exits(struct kunit *test);
const void *ob_scope_params(const void *prev, char *desc);
void ownbuf_test_scope_classes(struct kunit *test);
void ownbuf_test_scope_released_early(struct kunit *test);
void ownbuf_test_scope_refused(struct kunit *test);
void ownbuf_test_scoped_exits(struct kunit *test);
void ownbuf_test_scope_wait(struct kunit *test);
void ownbuf_test_scope_owner(struct kunit *test);
void ownbuf_test_scope_lockdep(struct kunit *test);

#endif /* _OWNBUF_KUNIT_H */
