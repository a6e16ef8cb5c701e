// SPDX-License-Identifier: MIT
/*
 * frame.c - what the demo's frames hold: a picture derived from (client, frame number), its
 * checksum in a header page, the compositor's check, and the PPM of the scanout.
 *
 * Client 0 draws a gradient with a square bouncing across it, client 1 rings around a moving
 * centre: every frame differs from the three before it (the other buffers of the pool), so a
 * frame read too early (stale), too late (already overwritten) or half-written (torn) does not
 * pass the check.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "demo.h"

#define FNV_OFFSET	0xcbf29ce484222325ULL
#define FNV_PRIME	0x100000001b3ULL
#define SQUARE		56

/* A position going 0 → @range → 0 with @t. */
static uint32_t bounce(uint32_t t, uint32_t range)
{
	uint32_t v = t % (2 * range);

	return v < range ? v : 2 * range - v;
}

static uint32_t rgb(uint32_t r, uint32_t g, uint32_t b)
{
	return (r & 255) << 16 | (g & 255) << 8 | (b & 255);
}

static uint32_t pixel_gradient(uint32_t frame, uint32_t x, uint32_t y)
{
	uint32_t sx = bounce(frame * 4, DEMO_WIDTH - SQUARE);
	uint32_t sy = bounce(frame * 3, DEMO_HEIGHT - SQUARE);

	if (x >= sx && x < sx + SQUARE && y >= sy && y < sy + SQUARE) {
		if (x < sx + 3 || x >= sx + SQUARE - 3 || y < sy + 3 || y >= sy + SQUARE - 3)
			return rgb(32, 32, 32);
		return rgb(255, 255, 255);
	}
	uint32_t g = bounce(y + 2 * frame, DEMO_HEIGHT) * 255 / DEMO_HEIGHT;

	return rgb(x * 255 / (DEMO_WIDTH - 1), g, 96 + bounce(x + y + frame, 64));
}

static uint32_t pixel_rings(uint32_t frame, uint32_t x, uint32_t y)
{
	int32_t cx = DEMO_WIDTH / 2 - 60 + (int32_t)bounce(frame * 2, 120);
	int32_t dx = (int32_t)x - cx, dy = (int32_t)y - DEMO_HEIGHT / 2;
	uint32_t d2 = (uint32_t)(dx * dx + dy * dy);
	uint32_t v = ((d2 >> 7) + 2 * frame) & 63;

	return rgb(v * 4, 255 - v * 4, 128 + bounce(x, 127));
}

void demo_render(uint32_t client, uint32_t frame, void *map, bool corrupt)
{
	uint32_t *pixels = (uint32_t *)((char *)map + DEMO_HDR_SIZE);
	struct demo_frame_hdr hdr = {
		.magic = DEMO_MAGIC,
		.client = client,
		.frame = frame,
		.width = DEMO_WIDTH,
		.height = DEMO_HEIGHT,
	};
	uint64_t h = FNV_OFFSET;
	uint32_t x, y, p;

	for (y = 0; y < DEMO_HEIGHT; y++) {
		for (x = 0; x < DEMO_WIDTH; x++) {
			p = client ? pixel_rings(frame, x, y) : pixel_gradient(frame, x, y);
			pixels[y * DEMO_WIDTH + x] = p;
			h = (h ^ p) * FNV_PRIME;
		}
	}
	hdr.checksum = corrupt ? h ^ 1 : h;
	memcpy(map, &hdr, sizeof(hdr));
}

int demo_check_copy(const void *map, uint32_t client, uint32_t frame, uint32_t *dst,
		    char *why, size_t len)
{
	const uint32_t *src = (const uint32_t *)((const char *)map + DEMO_HDR_SIZE);
	struct demo_frame_hdr hdr;
	uint64_t h = FNV_OFFSET;
	uint32_t x, y, p;

	memcpy(&hdr, map, sizeof(hdr));
	if (hdr.magic != DEMO_MAGIC || hdr.client != client || hdr.width != DEMO_WIDTH ||
	    hdr.height != DEMO_HEIGHT) {
		snprintf(why, len, "client %u frame %u: no frame of this client in the buffer "
			 "(magic %#x, client %u)", client, frame, hdr.magic, hdr.client);
		return -1;
	}
	if (hdr.frame != frame) {
		snprintf(why, len, "client %u frame %u: %s: the buffer holds frame %u", client,
			 frame, hdr.frame < frame ? "stale" : "overwritten before it was read",
			 hdr.frame);
		return -1;
	}
	for (y = 0; y < DEMO_HEIGHT; y++) {
		for (x = 0; x < DEMO_WIDTH; x++) {
			p = src[y * DEMO_WIDTH + x];
			dst[y * DEMO_OUT_WIDTH + x] = p;
			h = (h ^ p) * FNV_PRIME;
		}
	}
	if (h != hdr.checksum) {
		snprintf(why, len, "client %u frame %u: torn: the pixels' checksum is %#llx, "
			 "the header says %#llx", client, frame, (unsigned long long)h,
			 (unsigned long long)hdr.checksum);
		return -1;
	}
	return 0;
}

int demo_write_ppm(const char *path, const uint32_t *pixels, unsigned int width,
		   unsigned int height)
{
	unsigned char row[DEMO_OUT_WIDTH * 3];
	FILE *f = fopen(path, "we");
	unsigned int x, y;
	int err = 0;

	if (!f)
		return -errno;
	if (width > DEMO_OUT_WIDTH) {
		fclose(f);
		return -EINVAL;
	}
	fprintf(f, "P6\n%u %u\n255\n", width, height);
	for (y = 0; y < height && !err; y++) {
		for (x = 0; x < width; x++) {
			uint32_t p = pixels[y * width + x];

			row[x * 3] = (unsigned char)(p >> 16);
			row[x * 3 + 1] = (unsigned char)(p >> 8);
			row[x * 3 + 2] = (unsigned char)p;
		}
		if (fwrite(row, 3, width, f) != width)
			err = -EIO;
	}
	if (fclose(f) && !err)
		err = -errno;
	return err;
}
