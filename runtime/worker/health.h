/*
 * health.h - the built-in fitness checks serverless mode runs before the
 * first job, after the script's own checks, as the Python SDK does: free
 * memory (MemAvailable of /proc/meminfo), free space of "/", and a TCP
 * connection to a network target; then, when `nvidia-smi` runs and says
 * "NVIDIA-SMI", a GPU test (a test binary, else `nvidia-smi --list-gpus`)
 * first, and last the CUDA version (nvcc --version, else nvidia-smi's
 * "CUDA Version:") and the initialisation of every device with a small
 * allocation, and a timed 64 MiB allocation and copy, through the CUDA
 * driver API loaded at run time
 * (dlopen("libcuda.so.1"): nothing CUDA at build time). Plain C: no Lua,
 * no curl; each check
 * logs one INFO line when it passes. Names and messages are the Python
 * SDK's (check "_memory_check", reason "RuntimeError: Insufficient
 * memory: ...").
 */
#ifndef RP_HEALTH_H
#define RP_HEALTH_H

#include <stddef.h>

struct rp_health_options {
  double min_memory_gb;       /* RUNPOD_MIN_MEMORY_GB */
  double min_disk_percent;    /* RUNPOD_MIN_DISK_PERCENT */
  double network_timeout;     /* RUNPOD_NETWORK_CHECK_TIMEOUT, seconds for
                                 the name lookup and the connection */
  const char *network_target; /* RUNPOD_NETWORK_CHECK_HOST, "host:port" */
  const char *min_cuda_version; /* RUNPOD_MIN_CUDA_VERSION, "11.8" */
  int skip_gpu;               /* RUNPOD_SKIP_GPU_CHECK */
  const char *gpu_test_path;  /* RUNPOD_BINARY_GPU_TEST_PATH or NULL */
  double gpu_test_timeout;    /* RUNPOD_GPU_TEST_TIMEOUT, seconds */
  int gpu_max_errors;         /* RUNPOD_GPU_MAX_ERROR_MESSAGES */
  double gpu_benchmark_timeout; /* RUNPOD_GPU_BENCHMARK_TIMEOUT, seconds */
  const char *meminfo;        /* NULL: /proc/meminfo */
  const char *disk_path;      /* NULL: / */
};

/* The default network target, as the Python SDK. */
#define RP_HEALTH_NETWORK_TARGET "8.8.8.8:53"
#define RP_HEALTH_MIN_CUDA "11.8"

/* Runs the checks in the Python SDK's order and stops at the first
 * failure. Returns RP_OK, or RP_EIO with the failing check's name in
 * check[0..checklen) and "RuntimeError: <message>" in
 * reason[0..reasonlen). */
int rp_health_run(const struct rp_health_options *o, char *check,
                  size_t checklen, char *reason, size_t reasonlen);

#endif
