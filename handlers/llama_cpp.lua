-- handlers/llama_cpp.lua: a RunPod worker for llama.cpp's `llama-server`
-- (an image with no Python at all): starts the server on 127.0.0.1, waits
-- for GET /health before the first job, then forwards jobs to its
-- OpenAI-compatible routes with runpod.proxy (the same three input shapes
-- as worker-vllm; docs/proxy.md).
--
--   LLAMA_MODEL (path to the .gguf file; required unless LLAMA_BASE_URL),
--   LLAMA_PORT (8080), LLAMA_ARGS (more llama-server flags, split on
--   spaces), LLAMA_SERVER (the program, "llama-server"), LLAMA_BASE_URL (a
--   running server: nothing is spawned), LLAMA_STARTUP_TIMEOUT (600 s),
--   MAX_CONCURRENCY (8; give llama-server as many slots with --parallel).
local runpod = require "runpod"

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then
    return default
  end
  return v
end

local port = env("LLAMA_PORT", "8080")
local base_url = env("LLAMA_BASE_URL", "http://127.0.0.1:" .. port)
local startup_timeout = tonumber(env("LLAMA_STARTUP_TIMEOUT", "600"))
local concurrency = math.tointeger(tonumber(env("MAX_CONCURRENCY", "8"))) or 8

local server
if not env("LLAMA_BASE_URL") then
  local model = env("LLAMA_MODEL")
  if not model then
    error("LLAMA_MODEL is not set (the path of a .gguf file), nor LLAMA_BASE_URL")
  end
  local argv = { env("LLAMA_SERVER", "llama-server"), "--host", "127.0.0.1", "--port", port,
    "--model", model, "--parallel", tostring(concurrency) }
  for word in env("LLAMA_ARGS", ""):gmatch("%S+") do
    argv[#argv + 1] = word
  end
  server = assert(runpod.backend.start { name = "llama-server", argv = argv })
  runpod.serverless.register_fitness_check(function()
    assert(server:wait_ready { url = base_url .. "/health", timeout = startup_timeout })
  end)
end

runpod.serverless.start {
  handler = runpod.proxy.handler {
    base_url = base_url,
    backend = server,
    name = "llama-server",
    ready_url = server and base_url .. "/health",
    ready_timeout = startup_timeout,
  },
  concurrency_modifier = function()
    return concurrency
  end,
  return_aggregate_stream = true,
}
