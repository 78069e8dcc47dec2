// The parallel-region policy of the CPU kernels: one region per op, split into contiguous
// ranges, one per thread, inside which a plain (restrict-qualified, vectorisable) loop runs.
// OpenMP's outlined loop bodies lose `restrict`, which keeps GCC from vectorising loops over
// several arrays; a range handed to an inlined function keeps it.
#ifndef DS_CPU_PAR_H
#define DS_CPU_PAR_H

#include <stdint.h>

#include <omp.h>

// Threads worth using for `work` units of per-element work (elements times a rough cost): a
// region costs a few microseconds to start and join on a loaded machine, so small ops run on
// one thread. `grain` is the least work one thread should get.
static inline int ds_par_threads(int64_t work, int64_t grain) {
    const int max = omp_get_max_threads();
    if (grain < 1) grain = 1;
    const int64_t want = work / grain;
    return want < 1 ? 1 : want < max ? (int)want : max;
}

// The contiguous range [*lo, *hi) of n items for thread t of `threads`, multiples of `align`
// items except the last (so that vector loops start aligned to one another): the first ranges
// are one `align` larger when the blocks do not divide evenly.
static inline void ds_par_range(int64_t n, int64_t align, int t, int threads, int64_t *lo, int64_t *hi) {
    const int64_t blocks = (n + align - 1) / align, per = blocks / threads, extra = blocks % threads;
    const int64_t b0 = t * per + (t < extra ? t : extra), b1 = b0 + per + (t < extra ? 1 : 0);
    *lo = b0 * align < n ? b0 * align : n;
    *hi = b1 * align < n ? b1 * align : n;
}

#endif
