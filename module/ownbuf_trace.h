/* SPDX-License-Identifier: GPL-2.0 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM ownbuf

#if !defined(_OWNBUF_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _OWNBUF_TRACE_H

#include <linux/ownbuf.h>
#include <linux/sched.h>
#include <linux/tracepoint.h>

TRACE_EVENT(ownbuf_violation,
	    TP_PROTO(unsigned int class, u64 id),
	    TP_ARGS(class, id),
	    TP_STRUCT__entry(__field(unsigned int, class)
			     /* the longest name, "dangling_borrow", fits */
			     __array(char, name, 16)
			     __field(u64, id)
			     __field(pid_t, pid)
			     __array(char, comm, TASK_COMM_LEN)),
	    TP_fast_assign(__entry->class = class;
			   strscpy(__entry->name, ownbuf_violation_name(class),
				   sizeof(__entry->name));
			   __entry->id = id;
			   __entry->pid = task_pid_nr(current);
			   memcpy(__entry->comm, current->comm, TASK_COMM_LEN);),
	    TP_printk("class=%s id=%llu pid=%d comm=%s",
		      __entry->name, __entry->id,
		      __entry->pid, __entry->comm)
);

#endif /* _OWNBUF_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE ownbuf_trace
#include <trace/define_trace.h>
