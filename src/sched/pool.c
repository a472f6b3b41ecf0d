/* SPDX-License-Identifier: Apache-2.0 */
/* The scheduler's worker pool: a fixed set of pthreads taking jobs from one FIFO (why not
 * libuv's pool: see sched_int.h). A job's function runs on a worker and must hand its result
 * back itself (tasks post to their run's completion list). */
#include "sched_int.h"

static void *worker_main(void *arg)
{
    ipvm__pool_t *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        while (p->head == NULL && !p->stopping)
            pthread_cond_wait(&p->cond, &p->lock);
        if (p->head == NULL) /* stopping and drained */
            break;
        ipvm__job_t *job = p->head;
        p->head = job->next;
        if (p->head == NULL)
            p->tail = NULL;
        __atomic_sub_fetch(&p->queued, 1, __ATOMIC_RELAXED);
        job->next = NULL;
        pthread_mutex_unlock(&p->lock);
        job->fn(job);
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

int ipvm__pool_start(ipvm__pool_t *p, unsigned nthreads)
{
    p->head = p->tail = NULL;
    p->queued = 0;
    p->stopping = false;
    p->nthreads = 0;
    p->threads = ipvm_calloc(nthreads, sizeof *p->threads);
    if (p->threads == NULL)
        return IPVM_ENOMEM;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        ipvm_free(p->threads);
        return IPVM_ENOMEM;
    }
    if (pthread_cond_init(&p->cond, NULL) != 0) {
        pthread_mutex_destroy(&p->lock);
        ipvm_free(p->threads);
        return IPVM_ENOMEM;
    }
    for (unsigned i = 0; i < nthreads; i++) {
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        /* Wasm calls run on these threads: give them room (the engine's own stack checks trap
         * deep recursion long before this). */
        pthread_attr_setstacksize(&attr, 8u << 20);
        int rc = pthread_create(&p->threads[i], &attr, worker_main, p);
        pthread_attr_destroy(&attr);
        if (rc != 0) {
            ipvm__pool_stop(p);
            return IPVM_ENOMEM;
        }
        p->nthreads++;
    }
    return 0;
}

void ipvm__pool_stop(ipvm__pool_t *p)
{
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    for (unsigned i = 0; i < p->nthreads; i++)
        pthread_join(p->threads[i], NULL);
    ipvm_free(p->threads);
    p->threads = NULL;
    p->nthreads = 0;
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
}

void ipvm__pool_push(ipvm__pool_t *p, ipvm__job_t *job)
{
    job->next = NULL;
    ipvm__pool_push_many(p, job, job, 1);
}

void ipvm__pool_push_many(ipvm__pool_t *p, ipvm__job_t *first, ipvm__job_t *last, size_t n)
{
    if (n == 0)
        return;
    last->next = NULL;
    pthread_mutex_lock(&p->lock);
    if (p->tail)
        p->tail->next = first;
    else
        p->head = first;
    p->tail = last;
    __atomic_add_fetch(&p->queued, n, __ATOMIC_RELAXED);
    if (n == 1)
        pthread_cond_signal(&p->cond);
    else
        pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

size_t ipvm__pool_queued(ipvm__pool_t *p)
{
    return __atomic_load_n(&p->queued, __ATOMIC_RELAXED);
}

ipvm__job_t *ipvm__pool_take(ipvm__pool_t *p, bool (*match)(const ipvm__job_t *, void *),
                             void *arg)
{
    pthread_mutex_lock(&p->lock);
    ipvm__job_t *prev = NULL, *j = p->head;
    while (j && !match(j, arg)) {
        prev = j;
        j = j->next;
    }
    if (j) {
        if (prev)
            prev->next = j->next;
        else
            p->head = j->next;
        if (p->tail == j)
            p->tail = prev;
        j->next = NULL;
        __atomic_sub_fetch(&p->queued, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&p->lock);
    return j;
}

void ipvm__pool_push_front(ipvm__pool_t *p, ipvm__job_t *job)
{
    pthread_mutex_lock(&p->lock);
    job->next = p->head;
    p->head = job;
    if (p->tail == NULL)
        p->tail = job;
    __atomic_add_fetch(&p->queued, 1, __ATOMIC_RELAXED);
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}
