-- The built-in fitness checks of serverless mode (memory, disk, network),
-- run by the real bin/runpod-worker against the real bin/runpod-emulator.
-- The network check is always pointed at 127.0.0.1: the emulator's own
-- port (listening) or port 1 (closed); nothing leaves this machine. The
-- GPU checks run against a fake libcuda.so.1 (spec/fixtures/fake_cuda.c,
-- built here) and fake nvidia-smi and nvcc scripts.
local helpers = require "helpers.emulator"
local proc = require "helpers.proc"

local CLOSED = "127.0.0.1:1"

local function pings(emu)
  local found = {}
  for _, e in ipairs(emu.log()) do
    if e.path:find("/ping/") then
      found[#found + 1] = e
    end
  end
  return found
end

local function takes(emu)
  local n = 0
  for _, e in ipairs(emu.log()) do
    if e.path:find("/job%-take") then
      n = n + 1
    end
  end
  return n
end

-- The query's parameters, form-decoded.
local function params(query)
  local p = {}
  for k, v in query:gmatch("([^&=?]+)=([^&]*)") do
    v = v:gsub("+", " "):gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end)
    p[k] = v
  end
  return p
end

describe("built-in fitness checks", function()
  local emu, worker

  after_each(function()
    if worker then worker.kill() end
    if emu then emu.stop() end
    worker, emu = nil, nil
  end)

  -- env: the checks' settings on top of passing ones; a function value
  -- gets the emulator.
  local function start(env, handler)
    emu = helpers.start()
    local e = {
      RUNPOD_SKIP_AUTO_SYSTEM_CHECKS = "",
      RUNPOD_MIN_MEMORY_GB = "0",
      RUNPOD_MIN_DISK_PERCENT = "0",
      RUNPOD_NETWORK_CHECK_HOST = emu.url:match("//([^/]+)"),
      RUNPOD_NETWORK_CHECK_TIMEOUT = "2",
    }
    for k, v in pairs(env or {}) do
      e[k] = type(v) == "function" and v(emu) or v
    end
    worker = helpers.worker(emu, handler or "handlers/echo.lua", e)
    return worker
  end

  -- The worker exits 1 without taking a job, after one ERROR line naming
  -- the check and one unhealthy ping; returns the output and that ping's
  -- parameters.
  local function fails(check)
    assert.are.equal(1, worker.wait(20))
    local out = worker.output()
    local line = out:match("[^\n]*Fitness check failed: " .. check .. " |[^\n]*")
    assert.is_truthy(line, out)
    assert.matches("ERROR", line, 1, true)
    local list = pings(emu)
    assert.are.equal(1, #list)
    assert.matches("/ping/worker%-1", list[1].path)
    assert.are.equal(0, takes(emu))
    return out, params(list[1].query), line
  end

  it("pass: the worker takes and finishes a job", function()
    start()
    local id = emu.submit({ hello = "fit" })
    local view = emu.wait_done(id, 20)
    assert.are.equal("COMPLETED", view.status)
    local out = worker.output()
    assert.matches("Memory check passed: [%d.]+GB available %(of [%d.]+GB total%)", out)
    assert.matches("Disk space check passed: [%d.]+GB free %([%d.]+%% available%)", out)
    assert.matches("Network connectivity passed: Connected to 127.0.0.1", out, 1, true)
  end)

  it("memory: too little MemAvailable fails _memory_check", function()
    start({ RUNPOD_MIN_MEMORY_GB = "100000" })
    local _, q, line = fails("_memory_check")
    assert.matches("RuntimeError: Insufficient memory: %d+%.%d%dGB available, 100000%.0GB required",
      line)
    assert.are.equal("unhealthy", q.status)
    assert.are.equal("_memory_check", q.check)
    assert.matches("^RuntimeError: Insufficient memory: %d+%.%d%dGB available, "
      .. "100000%.0GB required$", q.reason)
    assert.matches("^%d+%.%d+%.%d+", q.runpod_version)
  end)

  it("disk: too little free space on / fails _disk_check", function()
    start({ RUNPOD_MIN_DISK_PERCENT = "100" })
    local _, q, line = fails("_disk_check")
    assert.matches("RuntimeError: Insufficient disk space: [%d.]+GB free %([%d.]+%%%), "
      .. "100%.0%% required", line)
    assert.are.equal("_disk_check", q.check)
    assert.matches("^RuntimeError: Insufficient disk space: ", q.reason)
  end)

  it("network: a refused connection fails _network_check", function()
    start({ RUNPOD_NETWORK_CHECK_HOST = CLOSED })
    local _, q, line = fails("_network_check")
    assert.matches("RuntimeError: Network connectivity failed: Connection refused to 127.0.0.1:1",
      line, 1, true)
    assert.are.equal("_network_check", q.check)
    assert.are.equal("RuntimeError: Network connectivity failed: Connection refused to 127.0.0.1:1",
      q.reason)
  end)

  it("network: resolves a host name within RUNPOD_NETWORK_CHECK_TIMEOUT", function()
    start({ RUNPOD_NETWORK_CHECK_HOST = function(e)
      return "localhost:" .. e.url:match(":(%d+)$")
    end })
    local id = emu.submit({ hello = "named" })
    assert.are.equal("COMPLETED", emu.wait_done(id, 20).status)
    assert.matches("Network connectivity passed: Connected to localhost", worker.output(), 1,
      true)
  end)

  -- A name server that never answers, on 127.0.0.1 of a network namespace
  -- of its own (with a mount namespace whose /etc/resolv.conf points at
  -- it, 30 s per try): the lookup blocks until the check gives up.
  it("network: a name lookup that hangs counts against the timeout", function()
    local probe = proc.run({ "env", "-u", "LD_PRELOAD", "unshare", "-rnm", "sh", "-c",
      "ip link set lo up && command -v python3" }, { timeout = 10 })
    if probe.code ~= 0 then
      pending("needs unprivileged user, network and mount namespaces, ip and python3: "
        .. probe.stderr)
      return
    end
    local dir = proc.tmpdir()
    finally(function() os.execute("rm -rf " .. proc.quote(dir)) end)
    proc.write_file(dir .. "/resolv.conf", "nameserver 127.0.0.1\noptions timeout:30 attempts:1\n")
    -- python3 holds UDP 127.0.0.1:53 open and reads nothing (30 s at most).
    local script = [[
ip link set lo up && mount --bind "$1/resolv.conf" /etc/resolv.conf || exit 97
python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
open(sys.argv[1], "w").close()
time.sleep(30)' "$1/bound" &
py=$!
i=0
while [ ! -e "$1/bound" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
"$2" handlers/echo.lua
rc=$?
kill $py
exit $rc
]]
    local env = {
      RUNPOD_WEBHOOK_GET_JOB = "http://127.0.0.1:1/v2/ep/job-take/$ID",
      RUNPOD_WEBHOOK_POST_OUTPUT = "http://127.0.0.1:1/v2/ep/job-done/$RUNPOD_POD_ID/$ID",
      RUNPOD_POD_ID = "worker-1",
      RUNPOD_SKIP_AUTO_SYSTEM_CHECKS = "",
      RUNPOD_SKIP_GPU_CHECK = "true",
      RUNPOD_MIN_MEMORY_GB = "0",
      RUNPOD_MIN_DISK_PERCENT = "0",
      RUNPOD_NETWORK_CHECK_HOST = "slow.example:53",
      RUNPOD_NETWORK_CHECK_TIMEOUT = "1",
    }
    if (os.getenv("RP_SANITIZE") or "") ~= "" then
      env.ASAN_OPTIONS = "detect_leaks=1"
    end
    -- Unbounded, the lookup would take 30 s: the run is cut at 20.
    local r = proc.run({ "env", "-u", "LD_PRELOAD", "unshare", "-rnm", "sh", "-c", script, "sh",
      dir, proc.worker_abs }, { env = env, timeout = 20 })
    local out = r.stdout .. r.stderr
    assert.are.equal(1, r.code, out)
    assert.matches("Fitness check failed: _network_check | RuntimeError: Network connectivity "
      .. "failed: Timeout connecting to slow.example:53 (1s)", out, 1, true)
  end)

  it("sends at most 256 characters of the reason", function()
    local long = ("h"):rep(400) .. ":53"
    start({ RUNPOD_NETWORK_CHECK_HOST = long })
    local _, q = fails("_network_check")
    assert.are.equal(256, #q.reason)
    assert.matches("^RuntimeError: Network connectivity check failed: bad target", q.reason)
  end)

  it("names a failing script check as the Python SDK names it (func.__name__)", function()
    start({}, "spec/fixtures/unfit.lua")
    local _, q, line = fails("check_gpu")
    assert.matches("Fitness check failed: check_gpu | LuaError: spec/fixtures/unfit.lua:6: "
      .. "no GPU found", line, 1, true)
    assert.are.equal("unhealthy", q.status)
    assert.are.equal("check_gpu", q.check)
    assert.are.equal("LuaError: spec/fixtures/unfit.lua:6: no GPU found", q.reason)
  end)

  it("names a failing check whole, however long its name", function()
    local name = "check_" .. ("that_the_model_weights_are_on_the_volume_"):rep(3)
    start({ UNFIT_NAME = name }, "spec/fixtures/unfit.lua")
    local _, q = fails(name)
    assert.are.equal(name, q.check)
  end)

  it("names a check cut short by RUNPOD_FITNESS_TIMEOUT, with a TimeoutError", function()
    start({ RUNPOD_FITNESS_TIMEOUT = "0.5" }, "spec/fixtures/slow_fitness.lua")
    local _, q = fails("slow_fitness.lua:3")
    assert.are.equal("slow_fitness.lua:3", q.check)
    assert.are.equal("TimeoutError: timed out after 0.5 seconds", q.reason)
  end)

  it("cuts a check sleeping in runpod.sleep at RUNPOD_FITNESS_TIMEOUT", function()
    start({ RUNPOD_FITNESS_TIMEOUT = "0.5", SLOW_FITNESS = "sleep" },
      "spec/fixtures/slow_fitness.lua")
    local _, q = fails("slow_fitness.lua:3")
    assert.are.equal("TimeoutError: timed out after 0.5 seconds", q.reason)
  end)

  it("gives up an unhealthy report after 2 s and exits 1 all the same", function()
    -- The emulator holds the report 30 s: the worker may not wait for it.
    emu = helpers.start({ "--fault", "ping=delay,ms=30000" })
    worker = helpers.worker(emu, "handlers/echo.lua", {
      RUNPOD_SKIP_AUTO_SYSTEM_CHECKS = "", RUNPOD_MIN_MEMORY_GB = "100000",
      RUNPOD_MIN_DISK_PERCENT = "0", RUNPOD_NETWORK_CHECK_HOST = CLOSED })
    assert.are.equal(1, worker.wait(15), worker.output())
    assert.matches("Fitness check failed: _memory_check", worker.output(), 1, true)
    assert.are.equal(0, takes(emu))
  end)

  it("exits 1 when the unhealthy report is refused", function()
    emu = helpers.start({ "--fault", "ping=500" })
    worker = helpers.worker(emu, "handlers/echo.lua", {
      RUNPOD_SKIP_AUTO_SYSTEM_CHECKS = "", RUNPOD_MIN_MEMORY_GB = "100000" })
    assert.are.equal(1, worker.wait(20), worker.output())
    local list = pings(emu)
    assert.are.equal(1, #list)
    assert.are.equal(500, list[1].status)
  end)

  it("runs the script's checks first", function()
    start({ RUNPOD_MIN_MEMORY_GB = "100000" }, "spec/fixtures/unfit.lua")
    assert.are.equal(1, worker.wait(20))
    local out = worker.output()
    assert.matches("no GPU found", out, 1, true)
    assert.is_nil(out:find("_memory_check", 1, true))
  end)

  it("RUNPOD_SKIP_AUTO_SYSTEM_CHECKS=true skips them all", function()
    start({ RUNPOD_SKIP_AUTO_SYSTEM_CHECKS = "true", RUNPOD_MIN_MEMORY_GB = "100000",
            RUNPOD_MIN_DISK_PERCENT = "100", RUNPOD_NETWORK_CHECK_HOST = CLOSED })
    local id = emu.submit({ hello = "skip" })
    assert.are.equal("COMPLETED", emu.wait_done(id, 20).status)
    assert.is_nil(worker.output():find("check failed", 1, true))
  end)

  it("the script's own checks still run when skipped", function()
    start({ RUNPOD_SKIP_AUTO_SYSTEM_CHECKS = "true" }, "spec/fixtures/unfit.lua")
    assert.are.equal(1, worker.wait(20))
    assert.matches("no GPU found", worker.output(), 1, true)
  end)

  describe("GPU", function()
    local dir

    local function write(path, text)
      local f = assert(io.open(path, "w"))
      f:write(text)
      f:close()
      os.execute("chmod +x " .. proc.quote(path))
    end

    setup(function()
      dir = proc.tmpdir()
      os.execute("mkdir -p " .. proc.quote(dir .. "/bin") .. " " .. proc.quote(dir .. "/lib")
        .. " " .. proc.quote(dir .. "/none"))
      assert(os.execute("cc -shared -fPIC -o " .. proc.quote(dir .. "/lib/libcuda.so.1") .. " "
        .. proc.quote(proc.root .. "/spec/fixtures/fake_cuda.c")))
      write(dir .. "/bin/nvidia-smi", [[#!/bin/sh
[ -z "$FAKE_SMI_EXIT" ] || { echo "NVIDIA-SMI has failed"; exit "$FAKE_SMI_EXIT"; }
if [ "$1" = --list-gpus ]; then [ -n "$FAKE_SMI_NO_GPUS" ] || echo "GPU 0: Fake GPU"; exit 0; fi
v=${FAKE_SMI_VERSION:+CUDA Version: $FAKE_SMI_VERSION}
echo "| NVIDIA-SMI 535.104.05   Driver Version: 535.104.05   $v |"
]])
      write(dir .. "/bin/nvcc", [[#!/bin/sh
[ -n "$FAKE_NVCC_VERSION" ] || exit 1
echo "nvcc: NVIDIA (R) Cuda compiler driver"
echo "Cuda compilation tools, release $FAKE_NVCC_VERSION, V$FAKE_NVCC_VERSION.1"
]])
      write(dir .. "/gpu_test_ok", [[#!/bin/sh
echo "CUDA Driver Version: 12.2"
echo "Found 2 GPUs:"
echo "GPU 0 memory allocation test passed."
echo "GPU 1 memory allocation test passed."
]])
      write(dir .. "/gpu_test_bad", [[#!/bin/sh
echo "Found 2 GPUs:"
echo "GPU 0: cudaMalloc failed: out of memory"
echo "GPU 1: error 2"
echo "GPU 1: cannot reset"
]])
      write(dir .. "/gpu_test_slow", "#!/bin/sh\nexec sleep 5\n")
    end)

    teardown(function()
      os.execute("rm -rf " .. proc.quote(dir))
    end)

    local function gpu(env)
      local e = {
        PATH = dir .. "/bin:" .. os.getenv("PATH"),
        LD_LIBRARY_PATH = dir .. "/lib",
        FAKE_SMI_VERSION = "12.2",
      }
      for k, v in pairs(env or {}) do
        e[k] = v
      end
      return start(e)
    end

    local function completes()
      local id = emu.submit({ hello = "gpu" })
      assert.are.equal("COMPLETED", emu.wait_done(id, 20).status, worker.output())
      return worker.output()
    end

    it("pass: nvidia-smi's CUDA version and every device initialise", function()
      gpu({ FAKE_CUDA_DEVICES = "2" })
      local out = completes()
      assert.matches("CUDA version check passed: 12.2 (minimum: 11.8)", out, 1, true)
      assert.matches("CUDA initialization passed: 2 device(s) initialized successfully", out,
        1, true)
      assert.matches("GPU compute benchmark passed: 64 MiB allocation and copy completed in", out,
        1, true)
    end)

    it("the GPU test falls back to nvidia-smi --list-gpus, first of the built-in checks",
        function()
      gpu({ FAKE_SMI_NO_GPUS = "1", RUNPOD_MIN_MEMORY_GB = "100000" })
      local _, q = fails("_gpu_health_check")
      assert.are.equal("RuntimeError: GPU health check failed (binary disabled/missing, "
        .. "fallback failed): No GPUs detected by nvidia-smi", q.reason)
    end)

    it("runs RUNPOD_BINARY_GPU_TEST_PATH and passes on its verdict", function()
      gpu({ FAKE_SMI_NO_GPUS = "1", RUNPOD_BINARY_GPU_TEST_PATH = dir .. "/gpu_test_ok" })
      local out = completes()
      assert.matches("GPU binary test passed: 2 GPU(s) healthy (CUDA 12.2)", out, 1, true)
    end)

    it("quotes at most RUNPOD_GPU_MAX_ERROR_MESSAGES lines of a failing GPU test", function()
      gpu({ FAKE_SMI_NO_GPUS = "1", RUNPOD_BINARY_GPU_TEST_PATH = dir .. "/gpu_test_bad",
            RUNPOD_GPU_MAX_ERROR_MESSAGES = "2" })
      local _, q = fails("_gpu_health_check")
      assert.are.equal("RuntimeError: GPU health check failed. Binary test: GPU memory "
        .. "allocation test failed: GPU 0: cudaMalloc failed: out of memory; GPU 1: error 2. "
        .. "Fallback test: No GPUs detected by nvidia-smi", q.reason)
    end)

    it("bounds the GPU test by RUNPOD_GPU_TEST_TIMEOUT", function()
      gpu({ FAKE_SMI_NO_GPUS = "1", RUNPOD_BINARY_GPU_TEST_PATH = dir .. "/gpu_test_slow",
            RUNPOD_GPU_TEST_TIMEOUT = "0.5" })
      local _, q = fails("_gpu_health_check")
      assert.matches("Binary test: GPU test binary timed out after 0.5s. Fallback test: No GPUs",
        q.reason, 1, true)
    end)

    it("a failing GPU test with a GPU listed only warns, as the Python SDK", function()
      gpu({ RUNPOD_BINARY_GPU_TEST_PATH = dir .. "/gpu_test_bad" })
      local out = completes()
      assert.matches("GPU binary check failed: GPU memory allocation test failed", out, 1, true)
      assert.matches("GPU fallback check passed: 1 GPU(s) detected", out, 1, true)
    end)

    it("takes nvcc's version before nvidia-smi's; too old fails _cuda_version_check", function()
      gpu({ FAKE_NVCC_VERSION = "11.2" })
      local _, q, line = fails("_cuda_version_check")
      assert.matches("RuntimeError: CUDA version too old: 11.2 found, 11.8 required", line, 1,
        true)
      assert.are.equal("RuntimeError: CUDA version too old: 11.2 found, 11.8 required", q.reason)
    end)

    it("honours RUNPOD_MIN_CUDA_VERSION", function()
      gpu({ RUNPOD_MIN_CUDA_VERSION = "12.4" })
      local _, q = fails("_cuda_version_check")
      assert.are.equal("RuntimeError: CUDA version too old: 12.2 found, 12.4 required", q.reason)
    end)

    it("an unknown CUDA version is a WARN, not a failure", function()
      gpu({ FAKE_SMI_VERSION = "" })
      local out = completes()
      assert.matches("Could not determine CUDA version, skipping check", out, 1, true)
    end)

    it("a failing cuInit fails _cuda_init_check", function()
      gpu({ FAKE_CUDA_FAIL = "init_unknown" })
      local _, q = fails("_cuda_init_check")
      assert.are.equal("RuntimeError: CUDA initialization failed: cuInit: unknown error",
        q.reason)
    end)

    -- CUDA_VISIBLE_DEVICES="" or "-1" hides every GPU from CUDA while
    -- nvidia-smi lists them; the Python SDK's torch finds CUDA
    -- unavailable and skips its CUDA checks, so a worker run without GPUs
    -- on a GPU host serves.
    for _, case in ipairs {
      { "cuInit finds no device", { FAKE_CUDA_FAIL = "init" } },
      { "no device is counted", { FAKE_CUDA_DEVICES = "0" } },
    } do
      it("skips the CUDA checks with a WARN when " .. case[1] .. ", as the Python SDK", function()
        gpu(case[2])
        local out = completes()
        for _, check in ipairs { "_cuda_init_check", "_benchmark_check" } do
          assert.matches("CUDA sees no GPU (CUDA_VISIBLE_DEVICES may hide them): skipping "
            .. check .. ", as the Python SDK does", out, 1, true)
        end
        assert.is_nil(out:find("Fitness check failed", 1, true), out)
      end)
    end

    it("a failing allocation names the device", function()
      gpu({ FAKE_CUDA_DEVICES = "2", FAKE_CUDA_FAIL = "alloc" })
      local _, q = fails("_cuda_init_check")
      assert.are.equal("RuntimeError: Failed to initialize GPU 0: cuMemAlloc: out of memory",
        q.reason)
    end)

    it("a driver that cannot load fails _cuda_init_check", function()
      gpu({ LD_LIBRARY_PATH = dir .. "/none" })
      local _, q = fails("_cuda_init_check")
      assert.matches("^RuntimeError: CUDA initialization failed: cannot load libcuda%.so%.1",
        q.reason)
    end)

    it("a benchmark slower than RUNPOD_GPU_BENCHMARK_TIMEOUT fails _benchmark_check", function()
      -- each fake copy takes 300 ms, three times the limit
      gpu({ FAKE_CUDA_COPY_MS = "300", RUNPOD_GPU_BENCHMARK_TIMEOUT = "0.1" })
      local _, q = fails("_benchmark_check")
      assert.matches("^RuntimeError: GPU compute too slow: 64 MiB allocation and copy took %d+ms "
        .. "%(max: 100ms%)$", q.reason)
    end)

    it("a failing copy fails _benchmark_check", function()
      gpu({ FAKE_CUDA_FAIL = "copy" })
      local _, q = fails("_benchmark_check")
      assert.are.equal("RuntimeError: GPU benchmark failed: cuMemcpyHtoD: out of memory", q.reason)
    end)

    it("runs no GPU check when nvidia-smi fails, as the Python SDK", function()
      gpu({ FAKE_SMI_EXIT = "9", FAKE_CUDA_FAIL = "init_unknown", FAKE_NVCC_VERSION = "9.0" })
      local out = completes()
      assert.is_nil(out:find("CUDA", 1, true))
      assert.is_nil(out:find("GPU", 1, true))
      assert.matches("Network connectivity passed", out, 1, true)
    end)

    it("RUNPOD_SKIP_GPU_CHECK=true skips the GPU checks only", function()
      gpu({ RUNPOD_SKIP_GPU_CHECK = "true", FAKE_CUDA_FAIL = "init_unknown",
        FAKE_NVCC_VERSION = "9.0" })
      local out = completes()
      assert.is_nil(out:find("CUDA", 1, true))
      assert.matches("Memory check passed", out, 1, true)
    end)

    it("RUNPOD_SKIP_AUTO_SYSTEM_CHECKS=true skips them too", function()
      gpu({ RUNPOD_SKIP_AUTO_SYSTEM_CHECKS = "true", FAKE_CUDA_FAIL = "init_unknown" })
      completes()
    end)
  end)
end)
