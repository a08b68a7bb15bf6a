-- handlers/vllm.lua: RunPod's worker-vllm (main.py + handler.py) as one Lua
-- script, with the same environment variables.
--
-- It starts `vllm serve --host 127.0.0.1 --port $VLLM_PORT <flags>` (flags
-- built from the environment as worker-vllm's args_builder.py does), waits
-- for GET /health before the first job (a fitness check: a vLLM that exits
-- or is not ready within VLLM_STARTUP_TIMEOUT seconds fails it), then
-- proxies every job to vLLM's OpenAI server with runpod.proxy, up to
-- MAX_CONCURRENCY (30) jobs at once, streaming raw SSE chunks.
--
--   VLLM_PORT (8000), VLLM_STARTUP_TIMEOUT (1200 s), MAX_CONCURRENCY (30),
--   REQUEST_TIMEOUT (3600 s), VLLM_BASE_URL (a running server: nothing is
--   spawned), MODEL_NAME, MODEL_REVISION, TOKENIZER_NAME, SERVED_MODEL_NAME,
--   OPENAI_SERVED_MODEL_NAME_OVERRIDE, CUSTOM_CHAT_TEMPLATE, VLLM_CONFIG_FILE,
--   VLLM_EXTRA_ARGS, and any vLLM flag in UPPER_SNAKE_CASE (MAX_MODEL_LEN=4096
--   -> --max-model-len 4096).
--
-- The wait for /health is bounded by VLLM_STARTUP_TIMEOUT alone (its
-- wait_ready may run past RUNPOD_FITNESS_TIMEOUT).
local runpod = require "runpod"

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then
    return default
  end
  return v
end

local function set(list)
  local s = {}
  for _, v in ipairs(list) do
    s[v] = true
  end
  return s
end

local VALUE_FLAGS = set {
  "additional-config", "allowed-headers", "allowed-local-media-path", "allowed-media-domains",
  "allowed-methods", "allowed-origins", "api-server-count", "attention-backend", "block-size",
  "chat-template", "chat-template-content-format", "code-revision", "collect-detailed-traces",
  "compilation-config", "config-format", "convert", "cpu-offload-gb", "data-parallel-address",
  "data-parallel-backend", "data-parallel-rank", "data-parallel-rpc-port", "data-parallel-size",
  "data-parallel-size-local", "data-parallel-start-rank", "dbo-decode-token-threshold",
  "dbo-prefill-token-threshold", "decode-context-parallel-size", "default-mm-loras",
  "distributed-executor-backend", "download-dir", "dtype", "eplb-config",
  "expert-placement-strategy", "generation-config", "gpu-memory-utilization",
  "h11-max-header-count", "h11-max-incomplete-event-size", "hf-config-path", "hf-overrides",
  "hf-token", "ignore-patterns", "io-processor-plugin", "kv-cache-dtype",
  "kv-cache-memory-bytes", "kv-events-config", "kv-offloading-backend", "kv-offloading-size",
  "kv-transfer-config", "limit-mm-per-prompt", "load-format", "log-config-file",
  "logits-processors", "logprobs-mode", "long-prefill-token-threshold", "lora-dtype",
  "lora-modules", "mamba-cache-dtype", "mamba-ssm-cache-dtype", "max-cpu-loras", "max-log-len",
  "max-logprobs", "max-lora-rank", "max-loras", "max-model-len", "max-num-batched-tokens",
  "max-num-seqs", "max-parallel-loading-workers", "media-io-kwargs", "middleware",
  "mm-encoder-tp-mode", "mm-processor-cache-gb", "mm-processor-cache-type",
  "mm-processor-kwargs", "mm-shm-cache-max-object-size-mb", "model", "model-impl",
  "model-loader-extra-config", "num-gpu-blocks-override", "otlp-traces-endpoint",
  "override-attention-dtype", "override-generation-config", "pipeline-parallel-size",
  "pooler-config", "prefix-caching-hash-algo", "pt-load-map-location", "quantization",
  "reasoning-parser", "response-role", "revision", "root-path", "runner",
  "safetensors-load-strategy", "scheduler-cls", "scheduling-policy", "seed", "served-model-name",
  "show-hidden-metrics-for-version", "speculative-config", "ssl-ca-certs", "ssl-cert-reqs",
  "ssl-certfile", "ssl-keyfile", "structured-outputs-config", "tensor-parallel-size",
  "tokenizer", "tokenizer-mode", "tokenizer-revision", "tool-call-parser", "tool-parser-plugin",
  "tool-server", "uds", "uvicorn-log-level", "video-pruning-rate", "worker-cls",
  "worker-extension-cls",
}

local PAIRED_BOOL_FLAGS = set {
  "allow-credentials", "async-scheduling", "calculate-kv-scales", "data-parallel-hybrid-lb",
  "disable-cascade-attn", "disable-chunked-mm-input", "disable-custom-all-reduce",
  "disable-fastapi-docs", "disable-hybrid-kv-cache-manager", "disable-sliding-window",
  "disable-uvicorn-access-log", "enable-auto-tool-choice", "enable-chunked-prefill",
  "enable-dbo", "enable-eplb", "enable-expert-parallel", "enable-force-include-usage",
  "enable-log-outputs", "enable-log-requests", "enable-lora", "enable-prefix-caching",
  "enable-prompt-embeds", "enable-prompt-tokens-details", "enable-request-id-headers",
  "enable-server-load-tracking", "enable-sleep-mode", "enable-ssl-refresh",
  "enable-tokenizer-info-endpoint", "enforce-eager", "exclude-tools-when-tool-choice-none",
  "fully-sharded-loras", "interleave-mm-strings", "kv-sharing-fast-prefill", "log-error-stack",
  "ray-workers-use-nsight", "return-tokens-as-token-ids", "skip-mm-profiling",
  "skip-tokenizer-init", "trust-remote-code", "trust-request-chat-template", "use-tqdm-on-load",
}

local BOOL_FLAGS = set {
  "disable-log-stats",
}

local ZERO_MEANS_UNSET = set {
  "max-num-batched-tokens",
}

local REMOVED_FLAGS = {
  ["cuda-graph-sizes"] = "moved into COMPILATION_CONFIG as cudagraph_capture_sizes",
  ["disable-frontend-multiprocessing"] = "no replacement",
  ["disable-log-requests"] = "inverted upstream; use ENABLE_LOG_REQUESTS=false",
  ["disable-mm-preprocessor-cache"] = "no replacement; tune via MM_PROCESSOR_CACHE_GB",
  ["enable-lora-bias"] = "no replacement",
  ["enable-multimodal-encoder-data-parallel"] = "no replacement",
  ["eplb-log-balancedness"] = "now a field of EPLB_CONFIG (--eplb-config)",
  ["eplb-step-interval"] = "now a field of EPLB_CONFIG (--eplb-config)",
  ["eplb-window-size"] = "now a field of EPLB_CONFIG (--eplb-config)",
  ["guided-decoding-backend"] = "use STRUCTURED_OUTPUTS_CONFIG (--structured-outputs-config)",
  ["guided-decoding-disable-additional-properties"] = "use STRUCTURED_OUTPUTS_CONFIG",
  ["guided-decoding-disable-any-whitespace"] = "use STRUCTURED_OUTPUTS_CONFIG",
  ["guided-decoding-disable-fallback"] = "use STRUCTURED_OUTPUTS_CONFIG",
  ["logits-processor-pattern"] = "use LOGITS_PROCESSORS (--logits-processors)",
  ["lora-extra-vocab-size"] = "no replacement",
  ["max-long-partial-prefills"] = "removed in v0.27.0; no replacement",
  ["max-num-partial-prefills"] = "removed in v0.27.0; no replacement",
  ["num-lookahead-slots"] = "speculative decoding is configured via SPECULATIVE_CONFIG",
  ["num-redundant-experts"] = "now a field of EPLB_CONFIG (--eplb-config)",
  ["override-pooler-config"] = "use POOLER_CONFIG (--pooler-config)",
  ["rope-scaling"] = "pass rope_scaling via HF_OVERRIDES (--hf-overrides)",
  ["rope-theta"] = "pass rope_theta via HF_OVERRIDES (--hf-overrides)",
  ["swap-space"] = "V1 has no swap space; no replacement",
  ["task"] = "use RUNNER (--runner) / CONVERT (--convert)",
}

local ENV_ALIASES = {
  { "MODEL_NAME", "model" }, { "MODEL_REVISION", "revision" }, { "TOKENIZER_NAME", "tokenizer" },
  { "OPENAI_SERVED_MODEL_NAME_OVERRIDE", "served-model-name" },
  { "CUSTOM_CHAT_TEMPLATE", "chat-template" }, { "VLLM_CONFIG_FILE", "config" },
}
local RESERVED = set { "HOST", "PORT", "API_KEY", "MODEL", "CONFIG", "HELP" }
local TRUE_VALUES = set { "true", "1", "yes", "on" }
local FALSE_VALUES = set { "false", "0", "no", "off" }

local function env_name(flag)
  return (flag:gsub("-", "_"):upper())
end

-- Splits a shell-like string: words, '...' and "..." quoting, \ escapes.
local function shell_split(s)
  local words, word, quote, i = {}, nil, nil, 1
  while i <= #s do
    local c = s:sub(i, i)
    if quote then
      if c == quote then
        quote = nil
      elseif c == "\\" and quote == '"' and i < #s then
        i = i + 1
        word = word .. s:sub(i, i)
      else
        word = word .. c
      end
    elseif c == "'" or c == '"' then
      quote, word = c, word or ""
    elseif c == "\\" and i < #s then
      i = i + 1
      word = (word or "") .. s:sub(i, i)
    elseif c:match("%s") then
      if word then
        words[#words + 1], word = word, nil
      end
    else
      word = (word or "") .. c
    end
    i = i + 1
  end
  if quote then
    error("VLLM_EXTRA_ARGS: no closing quotation")
  end
  if word then
    words[#words + 1] = word
  end
  return words
end

-- The `vllm serve` flags from the environment (args_builder.py's rules).
local function build_vllm_args()
  local order, values = {}, {}
  local function put(flag, value)
    if values[flag] == nil then
      order[#order + 1] = flag
    end
    values[flag] = value
  end
  local function apply(flag, raw)
    local value = raw:match("^%s*(.-)%s*$")
    if value == "" then
      return
    end
    if PAIRED_BOOL_FLAGS[flag] or BOOL_FLAGS[flag] then
      local low = value:lower()
      if not TRUE_VALUES[low] and not FALSE_VALUES[low] then
        error(("invalid boolean value '%s' for --%s"):format(raw, flag))
      end
      local on = TRUE_VALUES[low] ~= nil
      if PAIRED_BOOL_FLAGS[flag] then
        values[on and "no-" .. flag or flag] = nil
        put(on and flag or "no-" .. flag, false)
      elseif on then
        put(flag, false)
      else
        values[flag] = nil
      end
    elseif ZERO_MEANS_UNSET[flag] and value == "0" then
      runpod.log.warn(("--%s=0 is invalid for vLLM; treating it as unset"):format(flag))
    else
      put(flag, value)
    end
  end
  for flag, note in pairs(REMOVED_FLAGS) do
    if env(env_name(flag)) then
      runpod.log.warn(("%s is set but vLLM no longer supports --%s; ignoring it (%s)."):format(
        env_name(flag), flag, note))
    end
  end
  local all = {}
  for _, s in ipairs { VALUE_FLAGS, PAIRED_BOOL_FLAGS, BOOL_FLAGS } do
    for flag in pairs(s) do
      all[#all + 1] = flag
    end
  end
  table.sort(all)
  for _, flag in ipairs(all) do
    local value = os.getenv(env_name(flag))
    if value and not RESERVED[env_name(flag)] then
      apply(flag, value)
    end
  end
  for _, alias in ipairs(ENV_ALIASES) do
    local value = os.getenv(alias[1])
    if value then
      apply(alias[2], value)
    end
  end
  local argv = {}
  for _, flag in ipairs(order) do
    local value = values[flag]
    if value ~= nil then
      argv[#argv + 1] = "--" .. flag
      if value then
        argv[#argv + 1] = value
      end
    end
  end
  for _, word in ipairs(shell_split(env("VLLM_EXTRA_ARGS", ""))) do
    argv[#argv + 1] = word
  end
  return argv
end

local VLLM_HOST = "127.0.0.1"
local VLLM_PORT = env("VLLM_PORT", "8000")
local BASE_URL = env("VLLM_BASE_URL", ("http://%s:%s"):format(VLLM_HOST, VLLM_PORT))
local STARTUP_TIMEOUT = tonumber(env("VLLM_STARTUP_TIMEOUT", "1200"))
local MAX_CONCURRENCY = math.tointeger(tonumber(env("MAX_CONCURRENCY", "30"))) or 30

local vllm
if not os.getenv("VLLM_BASE_URL") then
  if not (env("MODEL_NAME") or env("VLLM_CONFIG_FILE") or env("MODEL")) then
    runpod.log.warn("MODEL_NAME is not set; `vllm serve` will fail without a --model argument")
  end
  local argv = { "vllm", "serve", "--host", VLLM_HOST, "--port", VLLM_PORT }
  for _, a in ipairs(build_vllm_args()) do
    argv[#argv + 1] = a
  end
  vllm = assert(runpod.backend.start { name = "vllm", argv = argv })
  runpod.serverless.register_fitness_check(function()
    assert(vllm:wait_ready { url = BASE_URL .. "/health", timeout = STARTUP_TIMEOUT,
      interval = 2 })
  end)
end

-- The model for a body without one: the served name, else the first id of
-- GET /v1/models, else MODEL_NAME.
local served = env("SERVED_MODEL_NAME") or env("OPENAI_SERVED_MODEL_NAME_OVERRIDE")

runpod.serverless.start {
  handler = runpod.proxy.handler {
    base_url = BASE_URL,
    backend = vllm,
    name = "vLLM",
    model = served and served:match("^%s*([^,]-)%s*,") or (served and served:match("^%s*(.-)%s*$")),
    fallback_model = env("MODEL_NAME"),
    timeout = tonumber(env("REQUEST_TIMEOUT", "3600")),
    ready_url = vllm and BASE_URL .. "/health",
    ready_timeout = STARTUP_TIMEOUT,
  },
  concurrency_modifier = function()
    return MAX_CONCURRENCY
  end,
  return_aggregate_stream = true,
}
