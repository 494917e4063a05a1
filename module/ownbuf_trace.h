/* SPDX-License-Identifier: GPL-2.0 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM ownbuf

#if !defined(_OWNBUF_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _OWNBUF_TRACE_H

#include <linux/ownbuf.h>
#include <linux/sched.h>
#include <linux/tracepoint.h>

TRACE_DEFINE_ENUM(OWNBUF_USE_AFTER_FREE);
TRACE_DEFINE_ENUM(OWNBUF_DOUBLE_FREE);
TRACE_DEFINE_ENUM(OWNBUF_DATA_RACE);
TRACE_DEFINE_ENUM(OWNBUF_NULL_DEREF);
TRACE_DEFINE_ENUM(OWNBUF_OUT_OF_BOUNDS);
TRACE_DEFINE_ENUM(OWNBUF_DANGLING_BORROW);

#define ownbuf_show_class(class)					\
	__print_symbolic(class,						\
			 { OWNBUF_USE_AFTER_FREE, "use_after_free" },	\
			 { OWNBUF_DOUBLE_FREE, "double_free" },		\
			 { OWNBUF_DATA_RACE, "data_race" },		\
			 { OWNBUF_NULL_DEREF, "null_deref" },		\
			 { OWNBUF_OUT_OF_BOUNDS, "out_of_bounds" },	\
			 { OWNBUF_DANGLING_BORROW, "dangling_borrow" })

TRACE_EVENT(ownbuf_violation,
	    TP_PROTO(unsigned int class, u64 id),
	    TP_ARGS(class, id),
	    TP_STRUCT__entry(__field(unsigned int, class)
			     __field(u64, id)
			     __field(pid_t, pid)
			     __array(char, comm, TASK_COMM_LEN)),
	    TP_fast_assign(__entry->class = class;
			   __entry->id = id;
			   __entry->pid = task_pid_nr(current);
			   memcpy(__entry->comm, current->comm, TASK_COMM_LEN);),
	    TP_printk("class=%s id=%llu pid=%d comm=%s",
		      ownbuf_show_class(__entry->class), __entry->id,
		      __entry->pid, __entry->comm)
);

#endif /* _OWNBUF_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE ownbuf_trace
#include <trace/define_trace.h>
