/* SPDX-License-Identifier: Apache-2.0 */
/* Memory for SQLite's page cache: its 4 KiB pages come from 2 MiB slabs mapped as transparent
 * huge pages, not one malloc each. On the 2-core VMs this project runs on, the first touch of a
 * 4 KiB page costs ~25 us; a replay of 10,000 receipts faulted 1,500 of them into its page
 * cache (a fifth of its time) and a fresh run 2,400. One huge page maps 455 slots at once.
 * Slots are recycled through a free list, never unmapped (a page cache shrinks and grows back);
 * the slabs are as many as the caches' peak, rounded up to 2 MiB. Other sizes, and everything
 * once PAGEMEM_MAX_SLABS are mapped, go to ipvm_malloc as before. */
#define _GNU_SOURCE
#include "store_int.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>

#define SLAB ((uintptr_t)2 << 20)
#define SLOT 4608                /* a 4 KiB page with SQLite's headers (~4.3 KiB) */
#define SLOT_MIN 4096            /* requests in [SLOT_MIN, SLOT] are page-cache pages */
#define PAGEMEM_MAX_SLABS 512    /* 1 GiB of page cache at most from slabs */
#define TABLE 2048               /* open-addressing set of slab bases (>= 2 * max slabs) */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void *free_list;          /* slots, linked through their first word */
static uint8_t *bump, *bump_end; /* the rest of the newest slab */
static size_t nslabs;
static uintptr_t table[TABLE];   /* slab base >> 21, +1 (0 = empty); written under lock */

static size_t slot_of(uintptr_t key)
{
    return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 53) & (TABLE - 1);
}

bool ipvm__pagemem_owns(const void *p)
{
    uintptr_t key = ((uintptr_t)p >> 21) + 1;
    for (size_t i = slot_of(key);; i = (i + 1) & (TABLE - 1)) {
        uintptr_t v = __atomic_load_n(&table[i], __ATOMIC_ACQUIRE);
        if (v == key)
            return true;
        if (v == 0)
            return false;
    }
}

static bool new_slab(void)
{
    if (nslabs >= PAGEMEM_MAX_SLABS)
        return false;
    uint8_t *raw = mmap(NULL, 2 * SLAB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                        -1, 0);
    if (raw == MAP_FAILED)
        return false;
    uint8_t *base = (uint8_t *)(((uintptr_t)raw + SLAB - 1) & ~(SLAB - 1));
    if (base > raw)
        munmap(raw, (size_t)(base - raw));
    munmap(base + SLAB, (size_t)(raw + 2 * SLAB - (base + SLAB)));
#ifdef MADV_HUGEPAGE
    (void)madvise(base, SLAB, MADV_HUGEPAGE); /* a hint: without THP, ordinary pages */
#endif
    uintptr_t key = ((uintptr_t)base >> 21) + 1;
    size_t i = slot_of(key);
    while (table[i] != 0)
        i = (i + 1) & (TABLE - 1);
    __atomic_store_n(&table[i], key, __ATOMIC_RELEASE);
    nslabs++;
    bump = base;
    bump_end = base + (SLAB / SLOT) * SLOT;
    return true;
}

void *ipvm__pagemem_alloc(size_t n)
{
    if (n < SLOT_MIN || n > SLOT)
        return NULL;
    pthread_mutex_lock(&lock);
    void *p = free_list;
    if (p != NULL) {
        free_list = *(void **)p;
    } else if (bump < bump_end || new_slab()) {
        p = bump;
        bump += SLOT;
    }
    pthread_mutex_unlock(&lock);
    return p;
}

void ipvm__pagemem_free(void *p)
{
    pthread_mutex_lock(&lock);
    *(void **)p = free_list;
    free_list = p;
    pthread_mutex_unlock(&lock);
}

size_t ipvm__pagemem_size(void)
{
    return SLOT;
}
