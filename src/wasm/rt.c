/* SPDX-License-Identifier: Apache-2.0 */
/* ipvm's own implementation of the wasm-rt.h interface that wasm2c 1.0.32's output calls
 * (Debian's wasm-rt-impl.c was the reference for behaviour only). Differences that matter:
 * trap state and the jump buffer are per thread; every thread that runs guest code gets its
 * own signal stack; a memory's whole reservation is unmapped when it is freed; failures to map
 * memory or tables trap (IPVM__TRAP_NOMEM) instead of calling abort(); the function-type
 * registry is locked; and the SIGSEGV handler claims only faults inside the reservation of the
 * instance running on the faulting thread or in that thread's stack guard, passing any other
 * fault on. Symbols the generated code calls have default visibility: the programs export
 * them (-rdynamic) for the dlopened gcc tier, and libtcc gets them from ipvm__rt_symbols(). */
#define _GNU_SOURCE
#include "wasm/core_int.h"

#include <wasm-rt.h>

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#define RT_API __attribute__((visibility("default")))
#define TLS_IE __attribute__((tls_model("initial-exec")))

#if WASM_RT_MEMCHECK_SIGNAL_HANDLER != IPVM__RT_GUARD_PAGES
#error "wasm-rt.h's default bounds mode differs from the runtime's"
#endif

#define WASM_PAGE 65536u
/* Each memory is mapped as [header: HDR bytes][data ... reservation]. In guard-page mode the
 * data part is 8 GiB: any u32 address plus any u32 offset lands inside it, so every
 * out-of-bounds access hits PROT_NONE pages. The header, below the data, is out of the guest's
 * reach (addresses are unsigned). */
#define HDR 65536u
#define GUARD_RESERVE (8ull << 30)
#define MEM_MAGIC 0x69707674u

typedef struct mem_hdr_s {
    uint32_t magic;
    uint32_t cap_pages;     /* the memory limit of the instance, in pages */
    uint64_t map_len;       /* the whole mapping, header included */
    uint32_t initial_pages; /* read-write when handed out */
    ipvm__wasm_instance_t *inst;
    ipvm__mem_pool_t *pool; /* where the memory goes when freed, or NULL */
} mem_hdr_t;

#define POOL_MAX_PAGES 1024u /* memories larger than 64 MiB initially are not kept */

/* The fuel counter of gcc-compiled code: initial-exec TLS, defined here in the program so the
 * .so reaches it with one %fs-relative instruction. */
RT_API _Thread_local int64_t ipvm_rt_fuel TLS_IE;
RT_API _Thread_local int64_t ipvm_rt_fuel_floor TLS_IE;

static _Thread_local ipvm__rt_thread_t rt_tls TLS_IE;
static pthread_once_t rt_once = PTHREAD_ONCE_INIT;
static int rt_init_errno;
static bool rt_initialized;
static struct sigaction old_segv, old_bus;
static pthread_key_t rt_key;
static size_t page_size;

ipvm__rt_thread_t *ipvm__rt_thread(void)
{
    return &rt_tls;
}

/* ---- traps -------------------------------------------------------------------------------- */
RT_API void wasm_rt_trap(wasm_rt_trap_t code)
{
    ipvm__rt_thread_t *t = &rt_tls;
    if (t->jmp == NULL) {
        /* generated code only runs inside ipvm__wasm_invoke / instantiate */
        fprintf(stderr, "ipvm: Wasm trap %d outside of guest code\n", (int)code);
        abort();
    }
    siglongjmp(*t->jmp, code == WASM_RT_TRAP_NONE ? IPVM__TRAP_HOST : (int)code);
}

RT_API void ipvm_rt_fuel_trap(void)
{
    wasm_rt_trap((wasm_rt_trap_t)IPVM__TRAP_FUEL);
}

RT_API void ipvm_rt_stack_trap(void)
{
    wasm_rt_trap(WASM_RT_TRAP_EXHAUSTION);
}

RT_API const char *wasm_rt_strerror(wasm_rt_trap_t trap)
{
    switch ((int)trap) {
    case WASM_RT_TRAP_NONE: return "no error";
    case WASM_RT_TRAP_OOB: return "out of bounds memory access";
    case WASM_RT_TRAP_INT_OVERFLOW: return "integer overflow";
    case WASM_RT_TRAP_DIV_BY_ZERO: return "integer divide by zero";
    case WASM_RT_TRAP_INVALID_CONVERSION: return "invalid conversion to integer";
    case WASM_RT_TRAP_UNREACHABLE: return "unreachable executed";
    case WASM_RT_TRAP_CALL_INDIRECT: return "indirect call signature mismatch or null";
    case WASM_RT_TRAP_UNCAUGHT_EXCEPTION: return "uncaught exception";
    case WASM_RT_TRAP_EXHAUSTION: return "call stack exhausted";
    case IPVM__TRAP_FUEL: return "out of fuel";
    case IPVM__TRAP_MEMLIMIT: return "memory limit reached";
    case IPVM__TRAP_NOMEM: return "host out of memory";
    case IPVM__TRAP_EXIT: return "guest exited";
    default: return "trap";
    }
}

/* ---- the fault handler -------------------------------------------------------------------- */
static void pass_on(int sig, siginfo_t *si, void *uc)
{
    struct sigaction *old = sig == SIGSEGV ? &old_segv : &old_bus;
    if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
        old->sa_sigaction(sig, si, uc);
        return;
    }
    if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN && old->sa_handler) {
        old->sa_handler(sig);
        return;
    }
    /* default action: restore it, return, and the faulting instruction faults again */
    signal(sig, SIG_DFL);
}

/* gcc-tier code keeps the fuel counter in r15 (see translate.c's prelude): take it from the
 * interrupted context before jumping out. */
static void save_fuel_register(void *uc)
{
#if defined(__x86_64__)
    const ipvm__wasm_instance_t *i = rt_tls.cur;
    if (i && i->code && i->code->glue->fuel_kind == IPVM__FUEL_TLS)
        ipvm_rt_fuel = (int64_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_R15];
#else
    (void)uc;
#endif
}

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    ipvm__rt_thread_t *t = &rt_tls;
    uintptr_t a = (uintptr_t)si->si_addr;
    int trap = 0;
    if (t->jmp != NULL && a >= t->res_lo && a < t->res_hi)
        trap = WASM_RT_TRAP_OOB;
    /* the stack guard: just below the lowest address of this thread's stack */
    else if (t->jmp != NULL && t->stack_lo && a < t->stack_lo + 65536 &&
             a + (1u << 20) >= t->stack_lo)
        trap = WASM_RT_TRAP_EXHAUSTION;
    if (trap) {
        save_fuel_register(uc);
        siglongjmp(*t->jmp, trap);
    }
    pass_on(sig, si, uc);
}

/* Lets the timer's stop signal reach the calling thread (async-signal-safe). */
static void unblock_stop_signal(void)
{
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, IPVM__RT_STOP_SIGNAL);
    pthread_sigmask(SIG_UNBLOCK, &stop, NULL);
}

/* The timer's stop signal (instance.c, expire): it ends the running call as a fuel trap when
 * it interrupts the machine code of the instance's own .so, which is a safe point to leave
 * from as a fault there is (no lock or allocation of the host is in progress; the jump
 * restores the registers of the try, r15 included). Anywhere else (a host function, a runtime
 * helper such as memory.grow or memcpy, our code around the call) it does nothing, and the
 * timer sends it again a moment later. A signal meant for an instance that has ended finds
 * another instance or none running here, and that one has not timed out. */
static void on_stop(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
#if defined(__x86_64__)
    ipvm__rt_thread_t *t = &rt_tls;
    const ipvm__wasm_instance_t *i = t->cur;
    atomic_store(&t->stop_pending, false); /* the timer may send the next one */
    if (t->jmp == NULL || i == NULL || i->code == NULL || !IPVM__STOP_BY_SIGNAL(i->code) ||
        !atomic_load(&i->timed_out))
        return;
    uintptr_t pc = (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
    if (pc < i->code->text_lo || pc >= i->code->text_hi)
        return;
    save_fuel_register(uc);
    /* the handler runs with the signal blocked (no SA_NODEFER: queued signals would nest on
     * the signal stack until it overflowed) and the jump restores no mask: unblock it */
    unblock_stop_signal();
    siglongjmp(*t->jmp, IPVM__TRAP_FUEL);
#else
    (void)uc;
#endif
}

static void thread_exit(void *arg)
{
    ipvm__rt_thread_t *t = arg;
    if (t->altstack) {
        stack_t ss = {.ss_flags = SS_DISABLE};
        sigaltstack(&ss, NULL);
        munmap((char *)t->altstack - page_size, t->altstack_size + page_size);
        t->altstack = NULL;
    }
    t->ready = false;
}

static void rt_setup(void)
{
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    if ((rt_init_errno = pthread_key_create(&rt_key, thread_exit)) != 0)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &old_segv) != 0 || sigaction(SIGBUS, &sa, &old_bus) != 0) {
        rt_init_errno = errno;
        return;
    }
    /* SA_RESTART: the signal may land in a host function's system call */
    sa.sa_sigaction = on_stop;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    if (sigaction(IPVM__RT_STOP_SIGNAL, &sa, NULL) != 0) {
        rt_init_errno = errno;
        return;
    }
    rt_initialized = true;
}

int ipvm__rt_init(ipvm_error_t *err)
{
    pthread_once(&rt_once, rt_setup);
    if (!rt_initialized)
        return ipvm_error_set(err, IPVM_EINTERNAL, IPVM_NO_OFFSET,
                              "cannot install the Wasm trap handler: %s", strerror(rt_init_errno));
    return 0;
}

RT_API void wasm_rt_init(void)
{
    pthread_once(&rt_once, rt_setup);
}

RT_API bool wasm_rt_is_initialized(void)
{
    return rt_initialized;
}

RT_API void wasm_rt_free(void)
{
    /* the handler stays installed for the life of the process: other engines may run */
}

/* Gives this thread a signal stack (unless it has one) and records its stack bounds. */
int ipvm__rt_thread_init(ipvm_error_t *err)
{
    ipvm__rt_thread_t *t = &rt_tls;
    if (t->ready)
        return 0;
    int rc = ipvm__rt_init(err);
    if (rc)
        return rc;
    stack_t cur;
    if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE) && cur.ss_size >= 32768) {
        t->altstack = NULL; /* keep the one the thread has */
    } else {
        size_t size = 128 * 1024;
        char *m = mmap(NULL, size + page_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED)
            return ipvm_error_set(err, IPVM_ENOMEM, IPVM_NO_OFFSET,
                                  "cannot map a signal stack: %s", strerror(errno));
        mprotect(m, page_size, PROT_NONE); /* guard page below it */
        stack_t ss = {.ss_sp = m + page_size, .ss_size = size, .ss_flags = 0};
        if (sigaltstack(&ss, NULL) != 0) {
            munmap(m, size + page_size);
            return ipvm_error_set(err, IPVM_EINTERNAL, IPVM_NO_OFFSET, "sigaltstack: %s",
                                  strerror(errno));
        }
        t->altstack = m + page_size;
        t->altstack_size = size;
    }
    pthread_attr_t attr;
    void *addr = NULL;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
        pthread_attr_getstack(&attr, &addr, &size);
        pthread_attr_destroy(&attr);
    }
    t->stack_lo = (uintptr_t)addr;
    t->stack_hi = (uintptr_t)addr + size;
    /* The timer's stop signal must reach this thread: one made with every signal blocked
     * (as thread pools often are) would otherwise run an endless guest loop for ever. */
    unblock_stop_signal();
    pthread_setspecific(rt_key, t); /* so thread_exit runs when this thread ends */
    t->ready = true;
    return 0;
}

/* ---- function types ------------------------------------------------------------------------ */
typedef struct ftype_s {
    uint32_t nparams, nresults;
    wasm_rt_type_t *types;
} ftype_t;

static pthread_mutex_t ft_lock = PTHREAD_MUTEX_INITIALIZER;
static ftype_t *ft_list;
static uint32_t ft_len, ft_cap;

/* Returns the same index (>= 1) for the same signature, from any thread. */
RT_API uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...)
{
    uint64_t n = (uint64_t)params + results;
    wasm_rt_type_t stackbuf[64];
    wasm_rt_type_t *types = n <= 64 ? stackbuf : malloc(n * sizeof *types);
    if (types == NULL)
        wasm_rt_trap((wasm_rt_trap_t)IPVM__TRAP_NOMEM);
    va_list ap;
    va_start(ap, results);
    for (uint64_t k = 0; k < n; k++)
        types[k] = (wasm_rt_type_t)va_arg(ap, int);
    va_end(ap);
    uint32_t idx = 0;
    pthread_mutex_lock(&ft_lock);
    for (uint32_t i = 0; i < ft_len && idx == 0; i++)
        if (ft_list[i].nparams == params && ft_list[i].nresults == results &&
            (n == 0 || memcmp(ft_list[i].types, types, n * sizeof *types) == 0))
            idx = i + 1;
    if (idx == 0) {
        wasm_rt_type_t *copy = malloc((n ? n : 1) * sizeof *types);
        if (copy && ft_len == ft_cap) {
            uint32_t cap = ft_cap ? 2 * ft_cap : 64;
            ftype_t *bigger = realloc(ft_list, cap * sizeof *bigger);
            if (bigger) {
                ft_list = bigger;
                ft_cap = cap;
            }
        }
        if (copy && ft_len < ft_cap) {
            memcpy(copy, types, n * sizeof *types);
            ft_list[ft_len] = (ftype_t){params, results, copy};
            idx = ++ft_len;
        } else {
            free(copy);
        }
    }
    pthread_mutex_unlock(&ft_lock);
    if (types != stackbuf)
        free(types);
    if (idx == 0)
        wasm_rt_trap((wasm_rt_trap_t)IPVM__TRAP_NOMEM);
    return idx;
}

/* ---- exceptions (wasm2c emits calls only for modules using them; ipvm refuses those, but
 * the interface is complete) ----------------------------------------------------------------- */
static _Thread_local WASM_RT_UNWIND_TARGET *unwind_target;
static _Thread_local uint32_t exc_tag, exc_size;
static _Thread_local unsigned char exc_data[256];
static atomic_uint tag_next;

RT_API uint32_t wasm_rt_register_tag(uint32_t size)
{
    (void)size;
    return atomic_fetch_add(&tag_next, 1);
}

RT_API void wasm_rt_load_exception(uint32_t tag, uint32_t size, const void *values)
{
    if (size > sizeof exc_data)
        wasm_rt_trap((wasm_rt_trap_t)IPVM__TRAP_HOST);
    exc_tag = tag;
    exc_size = size;
    if (size)
        memcpy(exc_data, values, size);
}

RT_API void wasm_rt_throw(void)
{
    if (unwind_target == NULL)
        wasm_rt_trap(WASM_RT_TRAP_UNCAUGHT_EXCEPTION);
    siglongjmp(*unwind_target, 1);
}

RT_API WASM_RT_UNWIND_TARGET *wasm_rt_get_unwind_target(void)
{
    return unwind_target;
}

RT_API void wasm_rt_set_unwind_target(WASM_RT_UNWIND_TARGET *target)
{
    unwind_target = target;
}

RT_API uint32_t wasm_rt_exception_tag(void)
{
    return exc_tag;
}

RT_API uint32_t wasm_rt_exception_size(void)
{
    return exc_size;
}

RT_API void *wasm_rt_exception(void)
{
    return exc_data;
}

/* ---- linear memory ------------------------------------------------------------------------- */
static mem_hdr_t *hdr_of(const wasm_rt_memory_t *m)
{
    return (mem_hdr_t *)(m->data - HDR);
}

uint64_t ipvm__rt_memory_reserved(const void *mem)
{
    const wasm_rt_memory_t *m = mem;
    return m->data ? hdr_of(m)->map_len - HDR : 0;
}

/* n and bytes change under the pool's lock; wasm_rt_free_memory also reads them without it,
 * to skip the scrub of a memory that a full pool would not keep: atomic stores and loads
 * (relaxed: the locked check decides) make that read no data race. */
static void pool_count(ipvm__mem_pool_t *pool, int dn, int64_t dbytes)
{
    __atomic_store_n(&pool->n, pool->n + dn, __ATOMIC_RELAXED);
    __atomic_store_n(&pool->bytes, pool->bytes + (uint64_t)dbytes, __ATOMIC_RELAXED);
}

static bool pool_room(ipvm__mem_pool_t *pool, uint64_t bytes)
{
    return __atomic_load_n(&pool->n, __ATOMIC_RELAXED) < IPVM__POOL_MAX &&
           __atomic_load_n(&pool->bytes, __ATOMIC_RELAXED) + bytes <= IPVM__POOL_BYTES;
}

static mem_hdr_t *pool_take(ipvm__mem_pool_t *pool, uint32_t initial)
{
    mem_hdr_t *h = NULL;
    pthread_mutex_lock(&pool->lock);
    for (int k = pool->n - 1; k >= 0 && h == NULL; k--) {
        mem_hdr_t *c = pool->items[k];
        if (c->initial_pages == initial) {
            h = c;
            pool->items[k] = pool->items[pool->n - 1];
            pool_count(pool, -1, -(int64_t)initial * WASM_PAGE);
        }
    }
    pthread_mutex_unlock(&pool->lock);
    if (h)
        atomic_fetch_add(&ipvm__wasm_stats.mem_reused, 1);
    return h;
}

RT_API void wasm_rt_allocate_memory(wasm_rt_memory_t *m, uint32_t initial, uint32_t max)
{
    ipvm__rt_thread_t *t = &rt_tls;
    ipvm__wasm_instance_t *inst = t->cur;
    uint32_t cap = inst ? inst->mem_cap_pages : IPVM__WASM_MAX_PAGES;
    memset(m, 0, sizeof *m);
    if (initial > cap || initial > IPVM__WASM_MAX_PAGES)
        wasm_rt_trap((wasm_rt_trap_t)IPVM__TRAP_MEMLIMIT);
    uint64_t limit = max < cap ? max : cap;
    if (limit > IPVM__WASM_MAX_PAGES)
        limit = IPVM__WASM_MAX_PAGES;
    uint64_t data_len = IPVM__RT_GUARD_PAGES ? GUARD_RESERVE : (limit ? limit : 1) * WASM_PAGE;
    uint64_t initial_len = (uint64_t)initial * WASM_PAGE;
    /* bounds-check mode sizes the mapping by the limit: only guard-page memories are shared */
    ipvm__mem_pool_t *pool = inst && IPVM__RT_GUARD_PAGES ? inst->pool : NULL;
    mem_hdr_t *h = pool ? pool_take(pool, initial) : NULL;
    if (h == NULL) {
        uint64_t map_len = HDR + data_len;
        char *p = mmap(NULL, map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
                       0);
        if (p == MAP_FAILED)
            wasm_rt_trap((wasm_rt_trap_t)IPVM__TRAP_NOMEM);
        if (mprotect(p, HDR + initial_len, PROT_READ | PROT_WRITE) != 0) {
            munmap(p, map_len);
            wasm_rt_trap((wasm_rt_trap_t)IPVM__TRAP_NOMEM);
        }
        h = (mem_hdr_t *)p;
        h->map_len = map_len;
    }
    h->magic = MEM_MAGIC;
    h->cap_pages = (uint32_t)limit;
    h->initial_pages = initial;
    h->inst = inst;
    h->pool = initial <= POOL_MAX_PAGES ? pool : NULL;
    m->data = (uint8_t *)h + HDR;
    m->pages = initial;
    m->max_pages = max;
    m->size = (uint32_t)initial_len;
    if (inst) {
        t->res_lo = (uintptr_t)m->data;
        t->res_hi = (uintptr_t)m->data + data_len;
    }
}

RT_API uint32_t wasm_rt_grow_memory(wasm_rt_memory_t *m, uint32_t delta)
{
    uint32_t old = m->pages;
    if (delta == 0)
        return old;
    mem_hdr_t *h = hdr_of(m);
    uint64_t want = (uint64_t)old + delta;
    if (want > m->max_pages || want > IPVM__WASM_MAX_PAGES)
        return UINT32_MAX;
    if (want > h->cap_pages) {
        if (h->inst)
            h->inst->mem_refused = true;
        return UINT32_MAX;
    }
    if (!IPVM__RT_GUARD_PAGES && HDR + want * WASM_PAGE > h->map_len)
        return UINT32_MAX;
    if (mprotect(m->data + (uint64_t)old * WASM_PAGE, (uint64_t)delta * WASM_PAGE,
                 PROT_READ | PROT_WRITE) != 0)
        return UINT32_MAX; /* the host is out of memory: memory.grow fails, no abort */
    m->pages = (uint32_t)want;
    m->size = (uint32_t)(want * WASM_PAGE);
    return old;
}

/* Makes a used memory like new: pages beyond the initial size inaccessible again and given
 * back, and every page of the initial size that holds anything zeroed. Returns false when the
 * memory cannot be reused (then the caller unmaps it). */
static bool scrub(wasm_rt_memory_t *m, mem_hdr_t *h)
{
    uint64_t keep = (uint64_t)h->initial_pages * WASM_PAGE;
    if (m->pages > h->initial_pages) {
        uint64_t extra = (uint64_t)(m->pages - h->initial_pages) * WASM_PAGE;
        if (mprotect(m->data + keep, extra, PROT_NONE) != 0 ||
            madvise(m->data + keep, extra, MADV_DONTNEED) != 0)
            return false;
    }
    /* only pages the guest touched are resident; clear those that are not already zero (a
     * write to a page that was only read would make the kernel copy it); mincore 4 MiB at a
     * time */
    unsigned char vec[1024];
    for (uint64_t off = 0; off < keep; off += sizeof vec * page_size) {
        uint64_t len = keep - off < sizeof vec * page_size ? keep - off : sizeof vec * page_size;
        if (mincore(m->data + off, len, vec) != 0)
            return false;
        for (size_t k = 0; k < len / page_size; k++) {
            if (!(vec[k] & 1))
                continue;
            uint64_t *w = (uint64_t *)(m->data + off + k * page_size);
            size_t n = page_size / 8, j = 0;
            while (j < n && w[j] == 0)
                j++;
            if (j < n)
                memset(w + j, 0, (n - j) * 8);
        }
    }
    return true;
}

RT_API void wasm_rt_free_memory(wasm_rt_memory_t *m)
{
    if (m->data == NULL)
        return;
    mem_hdr_t *h = hdr_of(m);
    ipvm__mem_pool_t *pool = h->pool;
    uint64_t bytes = (uint64_t)h->initial_pages * WASM_PAGE;
    if (pool && pool_room(pool, bytes) && scrub(m, h)) {
        h->inst = NULL;
        pthread_mutex_lock(&pool->lock);
        bool kept = pool_room(pool, bytes);
        if (kept) {
            pool->items[pool->n] = h;
            pool_count(pool, 1, (int64_t)bytes);
        }
        pthread_mutex_unlock(&pool->lock);
        if (kept) {
            memset(m, 0, sizeof *m);
            return;
        }
    }
    /* the whole reservation, not just the pages in use */
    munmap(h, h->map_len);
    memset(m, 0, sizeof *m);
}

void ipvm__rt_pool_init(ipvm__mem_pool_t *p)
{
    memset(p, 0, sizeof *p);
    pthread_mutex_init(&p->lock, NULL);
}

void ipvm__rt_pool_dispose(ipvm__mem_pool_t *p)
{
    for (int k = 0; k < p->n; k++) {
        mem_hdr_t *h = p->items[k];
        munmap(h, h->map_len);
    }
    p->n = 0;
    p->bytes = 0;
    pthread_mutex_destroy(&p->lock);
}

/* ---- tables -------------------------------------------------------------------------------- */
#define DEFINE_TABLE(type, null_value)                                                         \
    RT_API void wasm_rt_allocate_##type##_table(wasm_rt_##type##_table_t *t, uint32_t elements, \
                                                uint32_t max)                                  \
    {                                                                                          \
        memset(t, 0, sizeof *t);                                                               \
        if (elements > IPVM__WASM_MAX_TABLE_SIZE)                                              \
            wasm_rt_trap((wasm_rt_trap_t)IPVM__TRAP_NOMEM);                                    \
        t->data = calloc(elements ? elements : 1, sizeof *t->data);                            \
        if (t->data == NULL)                                                                   \
            wasm_rt_trap((wasm_rt_trap_t)IPVM__TRAP_NOMEM);                                    \
        t->size = elements;                                                                    \
        t->max_size = max;                                                                     \
    }                                                                                          \
    RT_API void wasm_rt_free_##type##_table(wasm_rt_##type##_table_t *t)                       \
    {                                                                                          \
        free(t->data);                                                                         \
        memset(t, 0, sizeof *t);                                                               \
    }                                                                                          \
    RT_API uint32_t wasm_rt_grow_##type##_table(wasm_rt_##type##_table_t *t, uint32_t delta,   \
                                                wasm_rt_##type##_t init)                       \
    {                                                                                          \
        uint32_t old = t->size;                                                                \
        uint64_t want = (uint64_t)old + delta;                                                 \
        if (want > t->max_size || want > IPVM__WASM_MAX_TABLE_SIZE)                            \
            return UINT32_MAX;                                                                 \
        if (delta == 0)                                                                        \
            return old;                                                                        \
        wasm_rt_##type##_t *d = realloc(t->data, want * sizeof *d);                            \
        if (d == NULL)                                                                         \
            return UINT32_MAX;                                                                 \
        for (uint64_t k = old; k < want; k++)                                                  \
            d[k] = init;                                                                       \
        t->data = d;                                                                           \
        t->size = (uint32_t)want;                                                              \
        return old;                                                                            \
    }

DEFINE_TABLE(funcref, wasm_rt_funcref_null_value)
DEFINE_TABLE(externref, wasm_rt_externref_null_value)

/* ---- what libtcc links the generated code against ------------------------------------------ */
/* tcc cannot see the program's dynamic symbols reliably (the library is static and hidden), so
 * every function the generated C calls is handed to it by address. */
const ipvm__rt_sym_t *ipvm__rt_symbols(void)
{
    static const ipvm__rt_sym_t syms[] = {
#define S(f) {#f, (const void *)&f}
        S(wasm_rt_trap), S(wasm_rt_strerror), S(wasm_rt_init), S(wasm_rt_is_initialized),
        S(wasm_rt_register_func_type), S(wasm_rt_allocate_memory), S(wasm_rt_grow_memory),
        S(wasm_rt_free_memory), S(wasm_rt_allocate_funcref_table),
        S(wasm_rt_free_funcref_table), S(wasm_rt_grow_funcref_table),
        S(wasm_rt_allocate_externref_table), S(wasm_rt_free_externref_table),
        S(wasm_rt_grow_externref_table), S(wasm_rt_register_tag), S(wasm_rt_load_exception),
        S(wasm_rt_throw), S(wasm_rt_get_unwind_target), S(wasm_rt_set_unwind_target),
        S(wasm_rt_exception_tag), S(wasm_rt_exception_size), S(wasm_rt_exception),
        S(ipvm_rt_fuel_trap), S(ipvm_rt_stack_trap), S(ipvm_rt_host_call),
        S(memcpy), S(memmove), S(memset), S(memcmp), S(abort), S(__assert_fail),
        S(floor), S(floorf), S(ceil), S(ceilf), S(trunc), S(truncf), S(nearbyint),
        S(nearbyintf), S(fabs), S(fabsf), S(sqrt), S(sqrtf), S(copysign), S(copysignf),
        S(fmin), S(fminf), S(fmax), S(fmaxf), S(rint), S(rintf),
#undef S
        {NULL, NULL},
    };
    return syms;
}
