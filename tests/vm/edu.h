/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The edu device's DMA engine (QEMU hw/misc/edu.c), driven through a user
 * mapping of its BAR0: registers 0x00 id (0x010000ed), 0x04 liveness (reads
 * back inverted); DMA 0x80 source, 0x88 destination, 0x90 count, 0x98
 * command (bit 0 start/busy, bit 1 direction: 1 = device -> RAM). The
 * device's own buffer sits at device address 0x40000, 4 KiB, and edu masks
 * DMA addresses to 28 bits, so IOVAs stay below 256 MiB. QEMU 7.2's edu
 * refuses (as a fatal hardware error) a transfer that ends exactly at the
 * end of its buffer: move at most EDU_XFER bytes from its start.
 */
#ifndef TSM_EDU_H
#define TSM_EDU_H

#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define EDU_VENDOR	0x1234
#define EDU_DEVICE	0x11e8
#define EDU_REG_ID	0x00
#define EDU_REG_LIVENESS 0x04
#define EDU_DMA_SRC	0x80
#define EDU_DMA_DST	0x88
#define EDU_DMA_CNT	0x90
#define EDU_DMA_CMD	0x98
#define EDU_CMD_START	0x1
#define EDU_CMD_TO_RAM	0x2
#define EDU_BUF		0x40000
#define EDU_XFER	2048U

static inline uint32_t edu_rd32(volatile uint8_t *bar0, unsigned int off)
{
	return *(volatile uint32_t *)(bar0 + off);
}

static inline void edu_wr32(volatile uint8_t *bar0, unsigned int off, uint32_t v)
{
	*(volatile uint32_t *)(bar0 + off) = v;
}

static inline void edu_wr64(volatile uint8_t *bar0, unsigned int off, uint64_t v)
{
	*(volatile uint64_t *)(bar0 + off) = v;
}

/*
 * Run one DMA of @len bytes from @src to @dst (one of them EDU_BUF; @to_ram
 * when the destination is the bus address) and wait for the engine: 0, or
 * -ETIMEDOUT after 20 s.
 */
static inline int edu_dma(volatile uint8_t *bar0, uint64_t src, uint64_t dst, uint32_t len,
			  int to_ram)
{
	struct timespec t0, t;

	edu_wr64(bar0, EDU_DMA_SRC, src);
	edu_wr64(bar0, EDU_DMA_DST, dst);
	edu_wr64(bar0, EDU_DMA_CNT, len);
	edu_wr64(bar0, EDU_DMA_CMD, EDU_CMD_START | (to_ram ? EDU_CMD_TO_RAM : 0));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (edu_rd32(bar0, EDU_DMA_CMD) & EDU_CMD_START) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 20)
			return -ETIMEDOUT;
		usleep(1000);
	}
	return 0;
}

/* Fill EDU_XFER bytes at @p with a pattern that depends on @seed. */
static inline void edu_pattern(volatile uint8_t *p, uint8_t seed)
{
	for (unsigned int i = 0; i < EDU_XFER; i++)
		p[i] = (uint8_t)(seed + i * 13);
}

/* Do the EDU_XFER bytes at @a and @b match? */
static inline int edu_same(volatile uint8_t *a, volatile uint8_t *b)
{
	for (unsigned int i = 0; i < EDU_XFER; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

/* Move EDU_XFER bytes from bus address @src to @dst through edu's buffer. */
static inline int edu_copy(volatile uint8_t *bar0, uint64_t src, uint64_t dst)
{
	int ret = edu_dma(bar0, src, EDU_BUF, EDU_XFER, 0);

	return ret ? ret : edu_dma(bar0, EDU_BUF, dst, EDU_XFER, 1);
}

#endif /* TSM_EDU_H */
