/* SPDX-License-Identifier: MIT */
/*
 * private_dir.h - a directory of a test program's own under /tmp, removed with what it holds
 * at exit, and a private broker socket in it (header only: static functions).
 */
#ifndef DMABUF_TESTS_PRIVATE_DIR_H
#define DMABUF_TESTS_PRIVATE_DIR_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"

static char private_dir[64];

/* Remove what the program, the broker and the library left there (the broker exits itself). */
static void private_dir_cleanup(void)
{
	struct dirent *de;
	DIR *d;

	if (!private_dir[0])
		return;
	d = opendir(private_dir);
	if (!d)
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
	rmdir(private_dir);
}

/* Make the directory (once). */
static void private_dir_make(void)
{
	if (private_dir[0])
		return;
	strcpy(private_dir, "/tmp/dmabuf-test-XXXXXX");
	if (!mkdtemp(private_dir))
		bail_out("mkdtemp: %s", strerror(errno));
	atexit(private_dir_cleanup);
}

/* A private broker for this program (and the children it runs), unless one is configured. */
static inline void private_broker_setup(void)
{
	char path[128];

	if (getenv("DMABUFD_SOCKET"))
		return;
	private_dir_make();
	snprintf(path, sizeof(path), "%s/dmabufd.sock", private_dir);
	setenv("DMABUFD_SOCKET", path, 1);
}

#endif /* DMABUF_TESTS_PRIVATE_DIR_H */
