// SPDX-License-Identifier: GPL-2.0
/*
 * ownbuf: /sys/kernel/debug/ownbuf/buffers, who holds which buffer.
 *
 * One block per live buffer: its id, size and accesses in flight, who
 * created it, who holds its owner, and one line per outstanding borrow
 * (kind, age, who took it and where, whether it is mapped); then a line
 * of totals.  Like dma-buf's bufinfo, for root only.
 *
 * Nothing is held across the walk: each buffer is found in the handle
 * table under RCU and kept by an observer reference (the object, not its
 * memory) while it is printed, and its borrows are read from their
 * records without a lock (ownbuf_slot_holder()), so a reader never stalls
 * a borrower, nor a borrower a reader.  Each record is a snapshot; the
 * whole is not: what is taken or given back during the walk may or may
 * not show.  Userspace borrowers are named by the task that took the
 * borrow; which processes hold the file descriptors now (they move by
 * fork() and SCM_RIGHTS) is for "ownbuf ls", which joins this with /proc.
 */

#include <linux/debugfs.h>
#include <linux/jiffies.h>
#include <linux/percpu.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>

#include "ownbuf_core.h"

/**
 * struct ownbuf_debugfs_totals - the last line of the file
 * @last: the table slot of the last buffer counted: seq_file shows a
 *	buffer again when its block did not fit, and it counts once.
 * @buffers: buffers listed.
 * @bytes: their sizes.
 * @shared: shared borrows listed.
 * @mut: mut borrows listed.
 */
struct ownbuf_debugfs_totals {
	u32 last;
	unsigned long buffers;
	unsigned long bytes;
	unsigned long shared;
	unsigned long mut;
};

/* After the last buffer: the position of the totals line. */
#define OWNBUF_DEBUGFS_TOTALS	((loff_t)OWNBUF_IDX_MASK + 1)

static struct dentry *ownbuf_debugfs_dir;

/* "12.345 s ago" */
static void ownbuf_show_age(struct seq_file *m, unsigned long since)
{
	unsigned int ms = jiffies_to_msecs(jiffies - since);

	seq_printf(m, "%6u.%03u s ago  ", ms / 1000, ms % 1000);
}

/* A task and a caller: "pid 123 (comm)", "func+0x1/0x2 [mod] (pid ...)". */
static void ownbuf_show_task(struct seq_file *m, unsigned long ip, pid_t pid,
			     const char *comm)
{
	if (!ip) {
		if (pid)
			seq_printf(m, "pid %d (%s)", pid, comm);
		else
			seq_puts(m, "userspace");
		return;
	}
	seq_printf(m, "%pS", (void *)ip);
	if (pid)
		seq_printf(m, " (pid %d, %s)", pid, comm);
}

static void ownbuf_show_who(struct seq_file *m, const char *what,
			    const struct ownbuf_who *who)
{
	seq_printf(m, "  %-8s", what);
	ownbuf_show_age(m, who->since);
	ownbuf_show_task(m, who->ip, who->pid, who->comm);
}

/* One line per LIVE record of @slots; counts them in @t. */
static void ownbuf_show_slots(struct seq_file *m, struct ownbuf_slot *slots,
			      unsigned int n, u32 kind,
			      struct ownbuf_debugfs_totals *t, bool count)
{
	struct ownbuf_holder hd;
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (!ownbuf_slot_holder(&slots[i], kind, &hd))
			continue;
		seq_printf(m, "  %-8s", kind == OWNBUF_MUT ? "mut" : "shared");
		ownbuf_show_age(m, hd.since);
		ownbuf_show_task(m, hd.ip, hd.pid, hd.comm);
		seq_puts(m, hd.mapped ? ", mapped\n" : "\n");
		if (!count)
			continue;
		if (kind == OWNBUF_MUT)
			t->mut++;
		else
			t->shared++;
	}
}

static void ownbuf_show_buffer(struct seq_file *m, struct ownbuf *b,
			       bool count)
{
	struct ownbuf_debugfs_totals *t = m->private;
	struct ownbuf_who holder;
	struct ownbuf_block *blk;
	unsigned long flags;
	size_t size;
	int cpu;
	u64 s;

	s = atomic64_read(&b->state);
	size = READ_ONCE(b->size);
	if (s & OWNBUF_S_DEAD)
		return;
	spin_lock_irqsave(&b->lock, flags);
	holder = b->holder;
	spin_unlock_irqrestore(&b->lock, flags);

	seq_printf(m, "buffer %llu  size %zu  in flight: %llu reads, %llu unsafe, %s\n",
		   b->id, size, s & OWNBUF_S_READERS,
		   (s & OWNBUF_S_PINS) / OWNBUF_S_PIN_ONE,
		   (s & OWNBUF_S_WRITER) ? "a write" : "no write");
	/* Written before the buffer was published, never after. */
	ownbuf_show_who(m, "created", &b->created);
	seq_puts(m, "\n");
	ownbuf_show_who(m, "owner", &holder);
	if (holder.moves)
		seq_printf(m, ", after %u move%s\n", holder.moves,
			   holder.moves == 1 ? "" : "s");
	else
		seq_puts(m, ", its creator\n");

	for_each_possible_cpu(cpu)
		ownbuf_show_slots(m, per_cpu_ptr(b->cells, cpu)->slot,
				  OWNBUF_CELL_SLOTS, OWNBUF_SHARED, t, count);
	/* Acquire: pairs with the release that appends a block. */
	for (blk = smp_load_acquire(&b->blocks); blk;
	     blk = smp_load_acquire(&blk->next)) /* see above */
		ownbuf_show_slots(m, blk->slot, OWNBUF_BLOCK_SLOTS,
				  OWNBUF_SHARED, t, count);
	ownbuf_show_slots(m, &b->mut, 1, OWNBUF_MUT, t, count);
	if (count) {
		t->buffers++;
		t->bytes += size;
	}
}

/* The buffer in the first used table slot at or after *@pos, or NULL. */
static void *ownbuf_debugfs_find(loff_t *pos)
{
	struct ownbuf *b;
	u32 idx;

	if (*pos > OWNBUF_DEBUGFS_TOTALS)
		return NULL;
	if (*pos == OWNBUF_DEBUGFS_TOTALS)
		return SEQ_START_TOKEN;
	idx = *pos;
	b = ownbuf_table_get_next(&idx);
	if (!b) {
		*pos = OWNBUF_DEBUGFS_TOTALS;
		return SEQ_START_TOKEN;
	}
	*pos = idx;
	return b;
}

static void *ownbuf_debugfs_start(struct seq_file *m, loff_t *pos)
{
	struct ownbuf_debugfs_totals *t = m->private;

	if (!*pos)
		memset(t, 0, sizeof(*t));
	return ownbuf_debugfs_find(pos);
}

static void *ownbuf_debugfs_next(struct seq_file *m, void *v, loff_t *pos)
{
	if (v != SEQ_START_TOKEN)
		ownbuf_obj_put(v);
	++*pos;
	/* Between buffers nothing is held: a long walk may yield. */
	cond_resched();
	return ownbuf_debugfs_find(pos);
}

static void ownbuf_debugfs_stop(struct seq_file *m, void *v)
{
	if (v && v != SEQ_START_TOKEN)
		ownbuf_obj_put(v);
}

static int ownbuf_debugfs_show(struct seq_file *m, void *v)
{
	struct ownbuf_debugfs_totals *t = m->private;
	u32 idx = m->index;
	bool count;

	if (v == SEQ_START_TOKEN) {
		seq_printf(m, "total  %lu buffers, %lu bytes, %lu borrows (%lu shared, %lu mut)\n",
			   t->buffers, t->bytes, t->shared + t->mut,
			   t->shared, t->mut);
		return 0;
	}
	count = idx > t->last;
	if (count)
		t->last = idx;
	ownbuf_show_buffer(m, v, count);
	return 0;
}

static const struct seq_operations ownbuf_debugfs_sops = {
	.start = ownbuf_debugfs_start,
	.next = ownbuf_debugfs_next,
	.stop = ownbuf_debugfs_stop,
	.show = ownbuf_debugfs_show,
};

static int ownbuf_debugfs_open(struct inode *inode, struct file *file)
{
	return seq_open_private(file, &ownbuf_debugfs_sops,
				sizeof(struct ownbuf_debugfs_totals));
}

static const struct file_operations ownbuf_debugfs_fops = {
	.owner = THIS_MODULE,
	.open = ownbuf_debugfs_open,
	.read = seq_read,
	.llseek = seq_lseek,
	.release = seq_release_private,
};

/* Without debugfs there is no file; ownbuf works the same. */
void ownbuf_debugfs_init(void)
{
	ownbuf_debugfs_dir = debugfs_create_dir("ownbuf", NULL);
	debugfs_create_file("buffers", 0400, ownbuf_debugfs_dir, NULL,
			    &ownbuf_debugfs_fops);
}

void ownbuf_debugfs_exit(void)
{
	debugfs_remove_recursive(ownbuf_debugfs_dir);
}
