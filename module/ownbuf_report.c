// SPDX-License-Identifier: GPL-2.0
/*
 * ownbuf: counting and reporting refused misuse.
 *
 * Every refusal of the contract's table increments exactly one counter of
 * one class, fires the ownbuf_violation tracepoint once, and is logged: a
 * ratelimited warning naming the in-kernel caller (%pS), or a debug-level
 * line for userspace.  A conflict (-EBUSY) also names what holds the
 * buffer: the borrow's kind, its task, its age and where it was taken.
 * The hand-off tracepoints (create, drop, move, revoke, borrow, release)
 * are defined here too, and fired by the engine.
 */

#include <linux/atomic.h>
#include <linux/export.h>
#include <linux/jiffies.h>
#include <linux/kernel.h>
#include <linux/sched.h>

#include "ownbuf_core.h"

#define CREATE_TRACE_POINTS
#include "ownbuf_trace.h"
EXPORT_TRACEPOINT_SYMBOL_GPL(ownbuf_violation);
EXPORT_TRACEPOINT_SYMBOL_GPL(ownbuf_create);
EXPORT_TRACEPOINT_SYMBOL_GPL(ownbuf_drop);
EXPORT_TRACEPOINT_SYMBOL_GPL(ownbuf_move);
EXPORT_TRACEPOINT_SYMBOL_GPL(ownbuf_revoke);
EXPORT_TRACEPOINT_SYMBOL_GPL(ownbuf_borrow);
EXPORT_TRACEPOINT_SYMBOL_GPL(ownbuf_release);

static atomic_long_t ownbuf_counts[OWNBUF_NR_VIOLATIONS];

/* The one list of the names: the ABI (sysfs, the tracepoint, the log). */
static const char * const ownbuf_violation_names[] = { OWNBUF_VIOLATION_NAMES };
static_assert(ARRAY_SIZE(ownbuf_violation_names) == OWNBUF_NR_VIOLATIONS);

/**
 * ownbuf_violation_name() - name of a violation class
 * @v: the class.
 *
 * Return: "use_after_free", "double_free", ... as in sysfs, or "unknown".
 */
const char *ownbuf_violation_name(enum ownbuf_violation v)
{
	if ((unsigned int)v >= OWNBUF_NR_VIOLATIONS)
		return "unknown";
	return ownbuf_violation_names[v];
}
EXPORT_SYMBOL_GPL(ownbuf_violation_name);

/**
 * ownbuf_violations() - how many violations of one class were refused
 * @v: the class.
 *
 * Counts every refused misuse since the module was loaded, from the
 * in-kernel API and from /dev/ownbuf alike.  Safe in any context.
 *
 * Return: the count, 0 for an unknown class.
 */
u64 ownbuf_violations(enum ownbuf_violation v)
{
	if ((unsigned int)v >= OWNBUF_NR_VIOLATIONS)
		return 0;
	return atomic_long_read(&ownbuf_counts[v]);
}
EXPORT_SYMBOL_GPL(ownbuf_violations);

/*
 * What holds the buffer, for the log line of a refusal: "; mut borrow held
 * by pid 123 (worker) since 2.300 s, taken at userspace".  Empty if unknown.
 */
static const char *ownbuf_holder_str(char *buf, size_t len,
				     const struct ownbuf_holder *hd)
{
	unsigned int ms;
	size_t n;

	if (!hd || hd->kind == OWNBUF_HOLDER_NONE)
		return "";
	if (!hd->kind) {
		if (!hd->ip)
			return "; an access in flight";
		snprintf(buf, len, "; an access in flight, started at %pS",
			 (void *)hd->ip);
		return buf;
	}
	ms = jiffies_to_msecs(jiffies - hd->since);
	n = scnprintf(buf, len, "; %s borrow held",
		      hd->kind == OWNBUF_MUT ? "mut" : "shared");
	if (hd->pid)
		n += scnprintf(buf + n, len - n, " by pid %d (%s)", hd->pid,
			       hd->comm);
	n += scnprintf(buf + n, len - n, " since %u.%03u s", ms / 1000,
		       ms % 1000);
	if (hd->ip)
		scnprintf(buf + n, len - n, ", taken at %pS", (void *)hd->ip);
	else
		scnprintf(buf + n, len - n, ", taken from userspace");
	return buf;
}

/*
 * Count @n refusals of class @v on buffer @id (0: unknown) and log them,
 * blaming @ip (OWNBUF_IP_USER: userspace); @hd is what holds the buffer,
 * if the refusal is a conflict (NULL otherwise).  The line is only
 * formatted if it is printed.
 */
void ownbuf_report_n(enum ownbuf_violation v, u64 id, unsigned long ip,
		     const char *what, const struct ownbuf_holder *hd,
		     unsigned long n)
{
	char buf[160];
	unsigned long i;

	atomic_long_add(n, &ownbuf_counts[v]);
	for (i = 0; i < n; i++)
		trace_ownbuf_violation(v, id, hd);

	if (ip == OWNBUF_IP_USER)
		pr_debug("%s[%d]: %s: %s (buffer %llu)%s\n", current->comm,
			 task_pid_nr(current), ownbuf_violation_names[v], what,
			 id, ownbuf_holder_str(buf, sizeof(buf), hd));
	else
		pr_warn_ratelimited("%pS: %s: %s (buffer %llu)%s\n",
				    (void *)ip, ownbuf_violation_names[v], what,
				    id, ownbuf_holder_str(buf, sizeof(buf), hd));
}

/**
 * ownbuf_report() - count and report one refused misuse
 * @v: its class.
 * @id: the buffer's id, 0 if unknown.
 * @ip: who is blamed: a return address, or OWNBUF_IP_USER.
 * @what: what was refused, for the log.
 */
void ownbuf_report(enum ownbuf_violation v, u64 id, unsigned long ip,
		   const char *what)
{
	ownbuf_report_n(v, id, ip, what, NULL, 1);
}

/* --- the reports of refusals, for the engine's files --- */

/* A handle or borrow that names a buffer no more: a use after free. */
void ownbuf_report_stale(u64 id, unsigned long ip)
{
	ownbuf_report(OWNBUF_USE_AFTER_FREE, id, ip,
		      "stale handle: the buffer was dropped, moved or revoked");
}

/*
 * What holds @b, as far as @seen (the state that refused an attempt) and
 * the records tell: the mut borrow, a shared borrow, or an access.
 */
void ownbuf_holder_of(struct ownbuf *b, u64 seen, struct ownbuf_holder *hd)
{
	struct ownbuf_block *blk;
	int cpu, i;

	memset(hd, 0, sizeof(*hd));
	hd->kind = OWNBUF_HOLDER_NONE;
	if (seen & OWNBUF_S_MUT) {
		ownbuf_slot_holder(&b->mut, OWNBUF_MUT, hd);
		return;
	}
	if (!(seen & OWNBUF_S_SHARED_SEEN)) {
		/* An access in flight: only where the latest one started. */
		hd->kind = 0;
		hd->ip = READ_ONCE(b->busy_at);
		return;
	}
	for_each_possible_cpu(cpu)
		for (i = 0; i < OWNBUF_CELL_SLOTS; i++)
			if (ownbuf_slot_holder(ownbuf_cell_slot(b, cpu, i),
					       OWNBUF_SHARED, hd))
				return;
	/* Acquire: pairs with the release that appends a block. */
	for (blk = smp_load_acquire(&b->blocks); blk;
	     blk = smp_load_acquire(&blk->next)) /* see above */
		for (i = 0; i < OWNBUF_BLOCK_SLOTS; i++)
			if (ownbuf_slot_holder(&blk->slot[i], OWNBUF_SHARED,
					       hd))
				return;
}

/* Report a refused access or borrow of @b, of class @v. */
void ownbuf_report_busy(struct ownbuf *b, enum ownbuf_violation v,
			u64 seen, unsigned long ip, const char *what)
{
	struct ownbuf_holder hd;

	ownbuf_holder_of(b, seen, &hd);
	ownbuf_report_n(v, b->id, ip, what, &hd, 1);
}

/* Refused because lent out (a dangling borrow) or busy (a data race)? */
enum ownbuf_violation ownbuf_excl_class(u64 seen)
{
	return (seen & (OWNBUF_S_MUT | OWNBUF_S_SHARED_SEEN)) ?
	       OWNBUF_DANGLING_BORROW : OWNBUF_DATA_RACE;
}

/* Report a borrow refused: busy (a data race) or stale. */
void ownbuf_report_borrow(struct ownbuf *b, int ret, u64 seen,
			  unsigned long ip)
{
	if (ret == -EBUSY)
		ownbuf_report_busy(b, OWNBUF_DATA_RACE, seen, ip,
				   "already borrowed");
	else if (ret == -ESTALE)
		ownbuf_report_stale(b->id, ip);
}
