// SPDX-License-Identifier: GPL-2.0
/*
 * rmmod racing the last close of a borrow file: ownbuf must stay loaded
 * until nothing of it can run any more.
 *
 * The test module ownbuf_test_fput.ko stops the close inside __fput(), in
 * the window between the file's module reference going (fops_put()) and
 * its dentry being put; a child tries to unload ownbuf right there.  The
 * unload must be refused, and succeed once the close has finished.
 *
 * The harness (make check) passes the modules' paths: OWNBUF_KO (ownbuf.ko,
 * reloaded at the end) and OWNBUF_TEST_MODULES (the directory of
 * ownbuf_test_fput.ko).
 */
#include <sched.h>
#include <sys/syscall.h>

#include "ownbuf_util.h"

#define OBF_DIR	"/sys/kernel/debug/ownbuf_test_fput/"

static int ob_module_load(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret;

	if (fd < 0)
		return -1;
	ret = syscall(__NR_finit_module, fd, "", 0);
	close(fd);
	return ret;
}

/* Run on @cpu only: 0 or -1. */
static int ob_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

static int ob_module_unload(const char *name)
{
	return syscall(__NR_delete_module, name, O_NONBLOCK);
}

static long long ob_obf(const char *file)
{
	char path[128];

	snprintf(path, sizeof(path), OBF_DIR "%s", file);
	return ownbuf_read_num(path);
}

static int ob_obf_set(const char *file)
{
	char path[128];

	snprintf(path, sizeof(path), OBF_DIR "%s", file);
	return ownbuf_write_str(path, "1");
}

TEST(rmmod_during_the_last_close_is_refused)
{
	const char *ko = getenv("OWNBUF_KO");
	const char *dir = getenv("OWNBUF_TEST_MODULES");
	int owner, b, status, i, unloaded = 0, sync[2];
	long long verdict;
	char c;
	char path[256];
	pid_t pid;

	if (!ko || !dir)
		SKIP(return, "OWNBUF_KO and OWNBUF_TEST_MODULES are not set");
	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs two CPUs");
	snprintf(path, sizeof(path), "%s/ownbuf_test_fput.ko", dir);
	ASSERT_EQ(0, ob_module_load(path))
		TH_LOG("insmod %s: %s", path, strerror(errno));

	/* A borrow file whose owner is gone: its close is the last one. */
	owner = ownbuf_open();
	ASSERT_LE(0, owner);
	b = ownbuf_shared(owner);
	ASSERT_LE(0, b);
	close(owner);
	ASSERT_EQ(0, ob_obf_set("arm"));

	/*
	 * The parent's close stops in the kernel with preemption off: the
	 * child must run on the other CPU meanwhile.
	 */
	ASSERT_EQ(0, ob_pin(0));
	ASSERT_EQ(0, pipe(sync));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		double until;
		int ret, err;

		if (ob_pin(1))
			_exit(2);
		/* The parent's close must be the last one. */
		close(b);
		close(sync[0]);
		if (write(sync[1], "r", 1) != 1)
			_exit(2);
		until = ownbuf_now() + 5;
		while (ob_obf("inside") != 1 && ob_obf("verdict") != 4 &&
		       ownbuf_now() < until)
			usleep(100);
		if (ob_obf("verdict") == 4)
			_exit(4);	/* nothing of ownbuf in the close */
		if (ob_obf("inside") != 1)
			_exit(3);
		/* Inside the window: ownbuf must be pinned. */
		ret = ob_module_unload("ownbuf");
		err = errno;
		ob_obf_set("release");
		_exit(!ret ? 1 : err == EWOULDBLOCK || err == EBUSY ? 0 : 2);
	}
	close(sync[1]);
	ASSERT_EQ(1, read(sync[0], &c, 1));
	close(sync[0]);
	close(b);
	status = ownbuf_wait(pid);
	verdict = ob_obf("verdict");
	TH_LOG("child %d (0 refused, 1 unloaded, 4 nothing to try), verdict %lld",
	       status, verdict);
	/*
	 * On ownbuf's own filesystem the unload must have been refused; on
	 * the anon_inode one nothing of ownbuf follows the file's module
	 * reference, so there is no window to try.
	 */
	EXPECT_TRUE((verdict == 2 && status == 0) ||
		    (verdict == 4 && status == 4))
		TH_LOG("verdict 1: ownbuf went while closing its file; %s",
		       "child 2: error, 3: never stopped");

	/* Closed: now it unloads (and comes back for the tests after). */
	for (i = 0; i < 50 && status != 1 && !unloaded; i++) {
		unloaded = !ob_module_unload("ownbuf");
		if (!unloaded)
			usleep(100000);
	}
	if (status != 1)
		EXPECT_TRUE(unloaded) TH_LOG("rmmod ownbuf after the close: %s",
					     strerror(errno));
	ASSERT_EQ(0, ob_module_unload("ownbuf_test_fput"));
	if (access(OWNBUF_DEV, F_OK))
		ASSERT_EQ(0, ob_module_load(ko))
			TH_LOG("insmod %s: %s", ko, strerror(errno));
}

TEST_HARNESS_MAIN
