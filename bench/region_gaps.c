// LD_PRELOAD shim for bench/region_gaps.sh: counts the process's OpenMP parallel regions
// (libgomp's GOMP_parallel, which LibTorch's, oneDNN's and moedil's parallel loops all open) and
// how long the calling thread ran alone before each, since the end of the previous one. With
// moedil's short spin (GOMP_SPINCOUNT=1000, ~40 us on a 2-core Zen 5 VM) a region after a pause
// longer than the spin finds the workers asleep and waits ~25 us to wake them. Printed at exit
// on stderr: the histogram of those pauses and, per region body (library + offset; addr2line
// -f -C -e LIBRARY OFFSET names moedil's own), its calls and how many came after >= 40 us.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

enum { kSites = 4096, kBins = 8 };
static void* site[kSites];
static long calls[kSites], cold[kSites];
static double cold_gap_us[kSites];
static int used;
static long bins[kBins], total;
static double last_end_us;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

typedef void (*parallel_fn)(void (*)(void*), void*, unsigned, unsigned);

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

void GOMP_parallel(void (*fn)(void*), void* data, unsigned threads, unsigned flags) {
  static parallel_fn real;
  if (!real) real = (parallel_fn)dlsym(RTLD_NEXT, "GOMP_parallel");
  const double start = now_us();
  pthread_mutex_lock(&lock);
  const double gap = last_end_us > 0 ? start - last_end_us : -1;
  int i = 0;
  while (i < used && site[i] != (void*)fn) ++i;
  if (i == used && used < kSites) site[used++] = (void*)fn;
  if (i < kSites) {
    ++calls[i];
    if (gap >= 40) {
      ++cold[i];
      cold_gap_us[i] += gap;
    }
  }
  if (gap >= 0) {
    const double edges[kBins - 1] = {10, 20, 40, 80, 160, 1000, 10000};
    int b = 0;
    while (b < kBins - 1 && gap >= edges[b]) ++b;
    ++bins[b];
  }
  ++total;
  pthread_mutex_unlock(&lock);
  real(fn, data, threads, flags);
  const double end = now_us();
  pthread_mutex_lock(&lock);
  last_end_us = end;
  pthread_mutex_unlock(&lock);
}

__attribute__((destructor)) static void report(void) {
  static const char* labels[kBins] = {"< 10 us",     "10-20 us",    "20-40 us", "40-80 us",
                                      "80-160 us",   "160-1000 us", "1-10 ms",  ">= 10 ms"};
  fprintf(stderr, "region_gaps: %ld parallel regions; pause before each (since the previous one "
                  "ended):\n", total);
  for (int b = 0; b < kBins; ++b) {
    fprintf(stderr, "region_gaps:   %-12s %8ld\n", labels[b], bins[b]);
  }
  fprintf(stderr, "region_gaps: calls, after >= 40 us (mean pause), region body:\n");
  for (int i = 0; i < used; ++i) {
    if (calls[i] < 50) continue;
    Dl_info info;
    const char* lib = "?";
    unsigned long offset = 0;
    if (dladdr(site[i], &info) && info.dli_fname) {
      lib = info.dli_fname;
      offset = (unsigned long)((char*)site[i] - (char*)info.dli_fbase);
    }
    fprintf(stderr, "region_gaps: %8ld %8ld (%5.0f us) %s 0x%lx\n", calls[i], cold[i],
            cold[i] ? cold_gap_us[i] / (double)cold[i] : 0.0, lib, offset);
  }
}
