// SPDX-License-Identifier: MIT
/* sw_sync_glue.c - what drivers/dma-buf/sw_sync.c needs to load as an out-of-tree module. */
#include <linux/module.h>
#include <linux/string.h>
#include <linux/sync_file.h>

/*
 * The debugfs "info" file of sync_debug.c names sync_files through a helper the kernel keeps
 * private.  Nothing registers sync_files on that list in this build, so a plain copy of the
 * user-given name is all it ever needs.
 */
char *sync_file_get_name(struct sync_file *sync_file, char *buf, int len)
{
	strscpy(buf, sync_file->user_name[0] ? sync_file->user_name : "sync_file", len);
	return buf;
}

MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("sw_sync test timelines (CONFIG_SW_SYNC) as a loadable module");
