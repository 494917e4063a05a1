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
	int owner, b, status, i, unloaded = 0;
	char path[256];
	pid_t pid;

	if (!ko || !dir)
		SKIP(return, "OWNBUF_KO and OWNBUF_TEST_MODULES are not set");
	if (access(OWNBUF_DEV, F_OK))
		SKIP(return, "%s: no such device", OWNBUF_DEV);
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

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int ret, err;

		for (i = 0; i < 20000 && ob_obf("inside") != 1; i++)
			usleep(100);
		if (ob_obf("inside") != 1)
			_exit(3);
		/* Inside the window: ownbuf must be pinned. */
		ret = ob_module_unload("ownbuf");
		err = errno;
		ob_obf_set("release");
		_exit(!ret ? 1 : err == EWOULDBLOCK || err == EBUSY ? 0 : 2);
	}
	close(b);
	status = ownbuf_wait(pid);
	EXPECT_EQ(0, status)
		TH_LOG("child: 1 ownbuf unloaded inside the last close, 2 other error, 3 the close never stopped");
	EXPECT_EQ(2, ob_obf("verdict"))
		TH_LOG("verdict %lld: 1 is ownbuf going away under a close",
		       ob_obf("verdict"));

	/* Closed: now it unloads (and comes back for the tests after). */
	for (i = 0; i < 50 && !unloaded; i++) {
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
