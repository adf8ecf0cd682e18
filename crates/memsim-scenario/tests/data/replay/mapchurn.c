/* Many mmap, mprotect, mremap, madvise and munmap calls that split and merge mappings. */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096

int main(void)
{
	char *regions[64];
	size_t sizes[64];
	for (int i = 0; i < 64; i++) {
		sizes[i] = 16 * PAGE;
		regions[i] = mmap(NULL, sizes[i], PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		memset(regions[i], i, PAGE);
	}
	for (int i = 0; i < 64; i++) {
		mprotect(regions[i] + PAGE, PAGE * (1 + i % 4), PROT_READ);
		mprotect(regions[i] + PAGE, PAGE * (1 + i % 4), PROT_READ | PROT_WRITE);
		if (i % 3 == 0)
			munmap(regions[i] + 15 * PAGE, PAGE);
	}
	for (int i = 0; i < 64; i += 2) {
		munmap(regions[i] + 4 * PAGE, 12 * PAGE);
		regions[i] = mremap(regions[i], 4 * PAGE, 32 * PAGE, MREMAP_MAYMOVE);
		sizes[i] = 32 * PAGE;
		madvise(regions[i], PAGE, MADV_DONTNEED);
	}
	for (int i = 0; i < 64; i++)
		munmap(regions[i], sizes[i]);
	return 0;
}
