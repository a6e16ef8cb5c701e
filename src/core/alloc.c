// SPDX-License-Identifier: MIT
/*
 * alloc.c - the core's allocator, with per-thread failure injection.
 */
#include <stdlib.h>
#include <unistd.h>

#include <dmabuf/fault.h>

#include "internal.h"

static __thread unsigned int fault_skip;
static __thread unsigned int fault_count;
static __thread unsigned int fault_hits;

void dmabuf_fault_inject_alloc(unsigned int skip, unsigned int count)
{
	fault_skip = skip;
	fault_count = count;
	fault_hits = 0;
}

unsigned int dmabuf_fault_injected(void)
{
	return fault_hits;
}

static bool should_fail(void)
{
	if (!fault_count)
		return false;
	if (fault_skip) {
		fault_skip--;
		return false;
	}
	fault_count--;
	fault_hits++;
	return true;
}

void *dmabuf_malloc(size_t size)
{
	if (should_fail())
		return NULL;
	return malloc(size);
}

void *dmabuf_calloc(size_t nmemb, size_t size)
{
	if (should_fail())
		return NULL;
	return calloc(nmemb, size);
}

void *dmabuf_realloc_array(void *ptr, size_t nmemb, size_t size)
{
	if (size && nmemb > SIZE_MAX / size)
		return NULL;
	if (should_fail())
		return NULL;
	return realloc(ptr, nmemb * size);
}

void dmabuf_free(void *ptr)
{
	free(ptr);
}

uint64_t dmabuf_page_size(void)
{
	return (uint64_t)sysconf(_SC_PAGESIZE);
}

bool dmabuf_len_too_large(uint64_t len)
{
	long pages = sysconf(_SC_PHYS_PAGES);

	if (len > (uint64_t)INT64_MAX)
		return true;
	return pages > 0 && len / dmabuf_page_size() > (uint64_t)pages;
}
