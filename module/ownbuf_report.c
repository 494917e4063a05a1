// SPDX-License-Identifier: GPL-2.0
/*
 * ownbuf: counting and reporting refused misuse.
 *
 * Every refusal of the contract's table increments exactly one counter of
 * one class, fires the ownbuf_violation tracepoint once, and is logged: a
 * ratelimited warning naming the in-kernel caller (%pS), or a debug-level
 * line for userspace.
 */

#include <linux/atomic.h>
#include <linux/export.h>
#include <linux/kernel.h>
#include <linux/sched.h>

#include "ownbuf_core.h"

#define CREATE_TRACE_POINTS
#include "ownbuf_trace.h"
EXPORT_TRACEPOINT_SYMBOL_GPL(ownbuf_violation);

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
 * Count @n refusals of class @v on buffer @id (0: unknown) and log them,
 * blaming @ip (OWNBUF_IP_USER: userspace); @other is where the conflicting
 * borrow or access was taken, if known.
 */
void ownbuf_report_n(enum ownbuf_violation v, u64 id, unsigned long ip,
		     const char *what, unsigned long other, unsigned long n)
{
	unsigned long i;

	atomic_long_add(n, &ownbuf_counts[v]);
	for (i = 0; i < n; i++)
		trace_ownbuf_violation(v, id);

	if (ip == OWNBUF_IP_USER) {
		pr_debug("%s[%d]: %s: %s (buffer %llu)\n", current->comm,
			 task_pid_nr(current), ownbuf_violation_names[v], what,
			 id);
	} else if (other) {
		pr_warn_ratelimited("%pS: %s: %s (buffer %llu); the conflicting borrow or access was taken at %pS\n",
				    (void *)ip, ownbuf_violation_names[v], what,
				    id, (void *)other);
	} else {
		pr_warn_ratelimited("%pS: %s: %s (buffer %llu)\n", (void *)ip,
				    ownbuf_violation_names[v], what, id);
	}
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
	ownbuf_report_n(v, id, ip, what, 0, 1);
}

/* --- the reports of refusals, for the engine's files --- */

/* A handle or borrow that names a buffer no more: a use after free. */
void ownbuf_report_stale(u64 id, unsigned long ip)
{
	ownbuf_report(OWNBUF_USE_AFTER_FREE, id, ip,
		      "stale handle: the buffer was dropped, moved or revoked");
}

/* Report a refused access or borrow of @b, of class @v. */
void ownbuf_report_busy(struct ownbuf *b, enum ownbuf_violation v,
			u64 seen, unsigned long ip, const char *what)
{
	struct ownbuf_scan sc;
	unsigned long other;

	if (seen & OWNBUF_S_MUT) {
		other = READ_ONCE(b->mut.ip);
	} else if (seen & OWNBUF_S_SHARED_SEEN) {
		ownbuf_scan(b, true, &sc);
		other = sc.ip;
	} else {
		other = READ_ONCE(b->busy_at);
	}
	ownbuf_report_n(v, b->id, ip, what, other, 1);
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
