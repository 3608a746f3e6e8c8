// SPDX-License-Identifier: GPL-2.0
/*
 * tsm_dmabuf - shared and private DMABUFs of a bound interface on the
 * series' kernel, proven with real DMA: edu, the DMA master, sits
 * in the same IOAS as ivshmem, whose 4 GiB BAR2 (RAM behind it) is bound
 * with two shared holes (its first 2 MiB and the page at 4 MiB).
 *
 * Before the bind a shared DMABUF of soon-private pages (A) and one of the
 * first hole (B) are mapped into the IOAS and edu's DMA lands through both.
 * The bind revokes A for good (a new map is ENODEV, edu's DMA no longer
 * reaches the page) and leaves B working. While bound: VFIO_DMA_BUF_PRIVATE
 * exports private pages only (EPERM for shared pages or a range across
 * both; a shared export over private pages is EPERM too); a private DMABUF
 * is never mapped into an IOAS (EPERM) nor mmap()ed; memory decode off is
 * EBUSY. UNBIND revokes the private DMABUFs (their map turns from EPERM to
 * ENODEV) and private exports are EPERM again; memory decode off and on
 * then brings back B (mapped anew) but not what the TSM transitions
 * revoked. A thread that exports and maps soon-private pages against
 * BIND/UNBIND never gets a mapping while bound. Every DMABUF is gone from
 * dma_buf/bufinfo once its fd is closed.
 *
 * tsm_dmabuf broken-revoke plays the broken kernel for tsmtrace: with
 * vfio_pci_dmabuf_skip_notify armed, the bind revokes A without telling
 * iommufd, whose mapping of it survives while its pages turn private. It
 * prints the device and exits 0; the verdict is tsmtrace's to give.
 */
#include <sys/mman.h>

#include "edu.h"
#include "tsm_vmm.h"

#define BAR		2
#define PAGE		0x1000UL
#define MiB		0x100000UL
#define HOLES		"2:0x0+0x200000 2:0x400000+0x1000"
#define IOVA_A		0x1000000UL	/* below edu's 28-bit DMA mask */
#define IOVA_B		0x2000000UL
#define IOVA_C		0x3000000UL
#define MEM_ON		(PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER)

static volatile uint8_t *edu_bar, *iv_bar;
static int dmabufs_before;

static int export(uint64_t off, uint64_t len, uint32_t flags)
{
	return vfio_dmabuf_export(iv.fd, BAR, off, len, flags);
}

static int map_file(int fd, uint64_t len, uint64_t iova)
{
	return iommufd_map_file(iommufd, ioas, fd, len, iova);
}

static long unmap(uint64_t iova, uint64_t len)
{
	return iommufd_ioas_unmap(iommufd, ioas, iova, len);
}

/* edu copies EDU_XFER bytes of pattern @seed from RAM to @iova */
static int dma_to(uint64_t iova, uint8_t seed)
{
	edu_pattern(vmm_ram, seed);
	return edu_copy(edu_bar, VMM_RAM_IOVA, iova);
}

/* Does a DMA to @iova land at @bar_off of BAR2 (a shared page)? */
static int dma_lands(uint64_t iova, uint64_t bar_off, uint8_t seed)
{
	memset((void *)(iv_bar + bar_off), 0xa5, EDU_XFER);
	if (dma_to(iova, seed))
		return 0;
	return edu_same(iv_bar + bar_off, vmm_ram);
}

static int setup_dma(void)
{
	int ret = dev_open(&edu, EDU_VENDOR, EDU_DEVICE, 0);

	if (!ret)
		ret = vfio_config_cmd(edu.fd, MEM_ON);
	if (!ret)
		ret = vfio_config_cmd(iv.fd, MEM_ON);
	if (ret)
		return ret;
	edu_bar = vfio_region_mmap(edu.fd, VFIO_PCI_BAR0_REGION_INDEX, PAGE, NULL);
	iv_bar = vfio_region_mmap(iv.fd, BAR, 8 * MiB, NULL);
	dmabufs_before = lab_dmabuf_count();
	return edu_bar && iv_bar ? 0 : -errno;
}

static int fd_a = -1, fd_b = -1, fd_p = -1, fd_big = -1;

static void test_before_bind(void)
{
	fd_a = export(2 * MiB, 2 * MiB, 0);
	fd_b = export(0, 2 * MiB, 0);
	if (!lab_expect(fd_a < 0 ? fd_a : 0, 0, "tsm-dmabuf-export-shared-a") ||
	    !lab_expect(fd_b < 0 ? fd_b : 0, 0, "tsm-dmabuf-export-shared-b"))
		return;
	lab_expect(map_file(fd_a, 2 * MiB, IOVA_A), 0, "tsm-dmabuf-map-a");
	lab_expect(map_file(fd_b, 2 * MiB, IOVA_B), 0, "tsm-dmabuf-map-b");
	LAB_CHECK(dma_lands(IOVA_A + PAGE, 2 * MiB + PAGE, 1), "tsm-dmabuf-dma-a-before-bind",
		  "edu's DMA through A does not reach the BAR");
	LAB_CHECK(dma_lands(IOVA_B + PAGE, PAGE, 2), "tsm-dmabuf-dma-b-before-bind",
		  "edu's DMA through B does not reach the BAR");
	lab_expect(export(2 * MiB, PAGE, VFIO_DMA_BUF_PRIVATE), EPERM,
		   "tsm-dmabuf-private-unbound-eperm");
	lab_expect(export(0, PAGE, 2), EINVAL, "tsm-dmabuf-unknown-flag-einval");
}

static void test_bound(void)
{
	int fd;

	/* A covered pages that turned private: revoked, for good */
	lab_expect(map_file(fd_a, 2 * MiB, IOVA_C), ENODEV, "tsm-dmabuf-bind-revokes-a");
	/* edu's DMA through A: the IOMMU must stop it (checked after unbind) */
	dma_to(IOVA_A + 2 * PAGE, 3);
	LAB_CHECK(dma_lands(IOVA_B + PAGE, PAGE, 4), "tsm-dmabuf-b-survives-bind",
		  "edu's DMA through B (shared pages) does not reach the BAR");

	/* what each kind may cover */
	lab_expect(export(2 * MiB, PAGE, 0), EPERM, "tsm-dmabuf-shared-over-private-eperm");
	lab_expect(export(MiB, 2 * MiB, 0), EPERM, "tsm-dmabuf-shared-across-eperm");
	fd = export(4 * MiB, PAGE, 0);
	LAB_CHECK(fd >= 0, "tsm-dmabuf-shared-of-hole-page", "%s", lab_errname(-fd));
	if (fd >= 0)
		close(fd);
	lab_expect(export(0, PAGE, VFIO_DMA_BUF_PRIVATE), EPERM,
		   "tsm-dmabuf-private-over-shared-eperm");
	lab_expect(export(4 * MiB, 2 * PAGE, VFIO_DMA_BUF_PRIVATE), EPERM,
		   "tsm-dmabuf-private-across-eperm");
	fd_p = export(2 * MiB, 2 * MiB, VFIO_DMA_BUF_PRIVATE);
	LAB_CHECK(fd_p >= 0, "tsm-dmabuf-private-export", "%s", lab_errname(-fd_p));
	/* the whole private part above the hole page: 4 GiB less 4 MiB and a page */
	fd_big = export(4 * MiB + PAGE, 0x100000000UL - 4 * MiB - PAGE, VFIO_DMA_BUF_PRIVATE);
	LAB_CHECK(fd_big >= 0, "tsm-dmabuf-private-export-large", "%s", lab_errname(-fd_big));
	if (fd_p < 0)
		return;

	/* never into a host IOMMU domain, never CPU-mapped */
	lab_expect(map_file(fd_p, 2 * MiB, IOVA_C), EPERM, "tsm-dmabuf-private-map-file-eperm");
	LAB_CHECK(mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd_p, 0) == MAP_FAILED,
		  "tsm-dmabuf-private-mmap-refused", "a private DMABUF was mmap()ed");

	/* memory decode off would pull the VM's MMIO away: refused */
	lab_expect(vfio_config_cmd(iv.fd, PCI_COMMAND_MASTER), EBUSY, "tsm-dmabuf-mem-off-ebusy");
	lab_expect(map_file(fd_p, 2 * MiB, IOVA_C), EPERM, "tsm-dmabuf-private-still-eperm");
}

static void test_after_unbind(void)
{
	/* the DMA to A while bound must not have reached the page */
	edu_pattern(vmm_ram, 3);
	LAB_CHECK(!edu_same(iv_bar + 2 * MiB + 2 * PAGE, vmm_ram),
		  "tsm-dmabuf-revoked-dma-never-landed", "the page holds what edu sent through A");
	if (fd_p >= 0)
		lab_expect(map_file(fd_p, 2 * MiB, IOVA_C), ENODEV, "tsm-dmabuf-unbind-revokes-p");
	lab_expect(map_file(fd_a, 2 * MiB, IOVA_C), ENODEV, "tsm-dmabuf-a-revoked-after-unbind");
	LAB_CHECK(dma_lands(IOVA_B + PAGE, PAGE, 6), "tsm-dmabuf-b-after-unbind",
		  "edu's DMA through B does not reach the BAR");
	lab_expect(export(2 * MiB, PAGE, VFIO_DMA_BUF_PRIVATE), EPERM,
		   "tsm-dmabuf-private-after-unbind-eperm");

	/*
	 * Memory decode off and on: mainline revokes and restores B; A and P,
	 * revoked by the TSM transitions, stay revoked. As in mainline, the
	 * IOAS area of a revoked DMABUF stays dead: B maps anew.
	 */
	lab_expect(vfio_config_cmd(iv.fd, PCI_COMMAND_MASTER), 0, "tsm-dmabuf-mem-off");
	lab_expect(vfio_config_cmd(iv.fd, MEM_ON), 0, "tsm-dmabuf-mem-on");
	lab_expect(map_file(fd_a, 2 * MiB, IOVA_C), ENODEV, "tsm-dmabuf-a-stays-revoked");
	if (fd_p >= 0)
		lab_expect(map_file(fd_p, 2 * MiB, IOVA_C), ENODEV,
			   "tsm-dmabuf-private-stays-revoked");
	LAB_CHECK(unmap(IOVA_B, 2 * MiB) == (long)(2 * MiB), "tsm-dmabuf-b-unmaps-after-revoke",
		  "%s", strerror(errno));
	lab_expect(map_file(fd_b, 2 * MiB, IOVA_B), 0, "tsm-dmabuf-b-maps-again-after-mem-on");
	LAB_CHECK(dma_lands(IOVA_B + PAGE, PAGE, 5), "tsm-dmabuf-b-back-after-mem-on",
		  "edu's DMA through B does not reach the BAR");
	LAB_CHECK(unmap(IOVA_A, 2 * MiB) == (long)(2 * MiB), "tsm-dmabuf-revoked-area-unmaps",
		  "%s", strerror(errno));
	LAB_CHECK(unmap(IOVA_B, 2 * MiB) == (long)(2 * MiB), "tsm-dmabuf-b-unmaps", "%s",
		  strerror(errno));
	close(fd_a);
	close(fd_b);
	if (fd_p >= 0)
		close(fd_p);
	if (fd_big >= 0)
		close(fd_big);
	LAB_CHECK(lab_dmabuf_count() == dmabufs_before, "tsm-dmabuf-all-released",
		  "dma_buf/bufinfo has %d objects, %d before", lab_dmabuf_count(), dmabufs_before);
}

/* ---- export and map against BIND/UNBIND ----------------------------------- */

#define RACE_ROUNDS	100

/*
 * Export a shared DMABUF of a soon-private page and map it into the IOAS,
 * in a loop. A mapping made while the interface was bound throughout is an
 * IOMMU mapping of a private page.
 */
static void *race_exporter(void *arg)
{
	long *bad = arg;

	while (!tsm_race_stop) {
		unsigned long g1 = tsm_gen_now();
		int fd = export(2 * MiB, PAGE, 0), m = -1;

		if (fd >= 0) {
			m = map_file(fd, PAGE, IOVA_C);
			if (!m)
				unmap(IOVA_C, PAGE);
			close(fd);
		}
		if (tsm_bound_throughout(g1) && !m)
			bad[0]++;
		if ((fd < 0 && fd != -EPERM) || (fd >= 0 && m && m != -ENODEV))
			bad[1]++;
		bad[2]++;
	}
	return NULL;
}

static void test_race(void)
{
	long bad[3] = { 0 };

	tsm_race("tsm-dmabuf-race", race_exporter, bad, RACE_ROUNDS, 2000);
	printf("# %d bind/unbind rounds against %ld exports\n", RACE_ROUNDS, bad[2]);
	LAB_CHECK(!bad[0], "tsm-dmabuf-race-no-map-while-bound",
		  "%ld shared DMABUFs of a private page were mapped while bound", bad[0]);
	LAB_CHECK(!bad[1], "tsm-dmabuf-race-errnos", "%ld exports or maps failed otherwise",
		  bad[1]);
	LAB_CHECK(lab_dmabuf_count() == dmabufs_before, "tsm-dmabuf-race-all-released",
		  "dma_buf/bufinfo has %d objects, %d before", lab_dmabuf_count(), dmabufs_before);
}

/* the kernel that forgets to tell iommufd about a revoke */
static int broken_revoke(void)
{
	int ret;

	fd_a = export(2 * MiB, 2 * MiB, 0);
	if (fd_a < 0)
		return fd_a;
	ret = map_file(fd_a, 2 * MiB, IOVA_A);
	if (!ret)
		ret = lab_fault_arm("vfio_pci_dmabuf_skip_notify", -1, 0);
	if (!ret) {
		ret = bind(iv.vdev);
		lab_fault_arm("vfio_pci_dmabuf_skip_notify", 0, 0);
	}
	if (!ret)
		ret = unbind(iv.vdev);
	unmap(IOVA_A, 2 * MiB);
	close(fd_a);
	set_attr(&iv, "tsm_sw/shared", "default");
	set_attr(&iv, "tsm/disconnect", "tsm0");
	printf("dev %s\n", iv.bdf);
	return ret;
}

int main(int argc, char **argv)
{
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ret = tsm_setup_bindable(HOLES);
	if (!ret)
		ret = setup_dma();
	if (ret) {
		printf("FAIL: tsm-dmabuf-setup (%s)\n", lab_errname(-ret));
		return 1;
	}
	if (argc > 1 && !strcmp(argv[1], "broken-revoke")) {
		ret = broken_revoke();
		if (ret)
			fprintf(stderr, "tsm_dmabuf: broken-revoke: %s\n", lab_errname(-ret));
		return ret ? 1 : 0;
	}
	test_before_bind();
	if (lab_expect(bind(iv.vdev), 0, "tsm-dmabuf-bind")) {
		test_bound();
		lab_expect(unbind(iv.vdev), 0, "tsm-dmabuf-unbind");
	}
	test_after_unbind();
	test_race();
	set_attr(&iv, "tsm_sw/shared", "default");
	lab_expect(set_attr(&iv, "tsm/disconnect", "tsm0"), 0, "tsm-dmabuf-disconnect");
	return lab_failed;
}
