/* SPDX-License-Identifier: GPL-2.0 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM ownbuf

#if !defined(_OWNBUF_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _OWNBUF_TRACE_H

#include <linux/ownbuf.h>
#include <linux/sched.h>
#include <linux/tracepoint.h>

#include "ownbuf_core.h"

/*
 * A refused misuse.  For a conflict (-EBUSY) the holder fields name what
 * holds the buffer: a borrow (its kind, its task if known, where it was
 * taken) or an access in flight ("access"); else "none".
 */
TRACE_EVENT(ownbuf_violation,
	    TP_PROTO(unsigned int class, u64 id,
		     const struct ownbuf_holder *hd),
	    TP_ARGS(class, id, hd),
	    TP_STRUCT__entry(__field(unsigned int, class)
			     /* the longest name, "dangling_borrow", fits */
			     __array(char, name, 16)
			     __field(u64, id)
			     __field(pid_t, pid)
			     __array(char, comm, TASK_COMM_LEN)
			     __field(u32, holder)
			     __field(pid_t, holder_pid)
			     __array(char, holder_comm, TASK_COMM_LEN)
			     __field(unsigned long, holder_ip)),
	    TP_fast_assign(__entry->class = class;
			   strscpy(__entry->name, ownbuf_violation_name(class),
				   sizeof(__entry->name));
			   __entry->id = id;
			   __entry->pid = task_pid_nr(current);
			   memcpy(__entry->comm, current->comm, TASK_COMM_LEN);
			   __entry->holder = hd ? hd->kind : OWNBUF_HOLDER_NONE;
			   __entry->holder_pid = hd ? hd->pid : 0;
			   /* Its comm is "" unless its pid is known. */
			   strscpy(__entry->holder_comm, hd ? hd->comm : "",
				   TASK_COMM_LEN);
			   __entry->holder_ip = hd ? hd->ip : 0;),
	    TP_printk("class=%s id=%llu pid=%d comm=%s holder=%s holder_pid=%d holder_comm=%s holder_caller=%pS",
		      __entry->name, __entry->id,
		      __entry->pid, __entry->comm,
		      __print_symbolic(__entry->holder, { 0, "access" },
				       { OWNBUF_SHARED, "shared" },
				       { OWNBUF_MUT, "mut" },
				       { OWNBUF_HOLDER_NONE, "none" }),
		      __entry->holder_pid, __entry->holder_comm,
		      (void *)__entry->holder_ip)
);

/*
 * The hand-offs of a buffer: who (pid, comm; caller 0 for userspace
 * through /dev/ownbuf, else the in-kernel caller) did what to which
 * buffer.  Fired after the hand-off succeeded, so in the order they
 * happened for one buffer.
 */
DECLARE_EVENT_CLASS(ownbuf_handoff,
		    TP_PROTO(u64 id, unsigned int kind, unsigned long ip),
		    TP_ARGS(id, kind, ip),
		    TP_STRUCT__entry(__field(u64, id)
				     __field(unsigned int, kind)
				     __field(pid_t, pid)
				     __array(char, comm, TASK_COMM_LEN)
				     __field(unsigned long, ip)),
		    TP_fast_assign(__entry->id = id;
				   __entry->kind = kind;
				   __entry->pid = task_pid_nr(current);
				   memcpy(__entry->comm, current->comm,
					  TASK_COMM_LEN);
				   __entry->ip = ip;),
		    TP_printk("id=%llu kind=%s pid=%d comm=%s caller=%pS",
			      __entry->id,
			      __print_symbolic(__entry->kind, { 0, "owner" },
					       { OWNBUF_SHARED, "shared" },
					       { OWNBUF_MUT, "mut" }),
			      __entry->pid, __entry->comm,
			      (void *)__entry->ip)
);

#define DEFINE_OWNBUF_HANDOFF(name)					\
	DEFINE_EVENT(ownbuf_handoff, name,				\
		     TP_PROTO(u64 id, unsigned int kind, unsigned long ip),	\
		     TP_ARGS(id, kind, ip))

/* A buffer created (kind owner). */
DEFINE_OWNBUF_HANDOFF(ownbuf_create);

/* A buffer dropped by its owner (kind owner). */
DEFINE_OWNBUF_HANDOFF(ownbuf_drop);

/* Ownership moved to a new owner (kind owner). */
DEFINE_OWNBUF_HANDOFF(ownbuf_move);

/* The owner went away; its borrows (counted as violations) revoked. */
DEFINE_OWNBUF_HANDOFF(ownbuf_revoke);

/* A borrow taken (kind shared or mut). */
DEFINE_OWNBUF_HANDOFF(ownbuf_borrow);

/* A borrow given back (RELEASE, or its file closed). */
DEFINE_OWNBUF_HANDOFF(ownbuf_release);

#endif /* _OWNBUF_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE ownbuf_trace
#include <trace/define_trace.h>
