-- runpod.proxy: a ready-made handler that forwards jobs to an
-- OpenAI-compatible server (vLLM, SGLang, llama.cpp's llama-server, ...),
-- as RunPod's worker-vllm does.
--
--   local handler = runpod.proxy.handler {
--     base_url = "http://127.0.0.1:8000",
--     backend = vllm,                 -- a runpod.backend, optional
--     name = "vLLM",                  -- for messages
--   }
--   runpod.serverless.start { handler = handler, return_aggregate_stream = true,
--     concurrency_modifier = function() return 30 end }
--
-- Job inputs, in this order:
--   { openai_route = "/v1/chat/completions", openai_input = {...} }   POST
--   { openai_route = "/v1/models" }                                  GET
--   { route = "/v1/completions", body = {...}, method = "POST" }  (method
--       defaults to POST with a body, GET without)
--   { prompt = "..." | messages = {...}, sampling_params = {...}, stream = b }
--       to /v1/completions or /v1/chat/completions
-- With "stream": true in the body the handler yields the backend's raw
-- server-sent-event text as it arrives; otherwise it yields the decoded
-- JSON answer once. Failures yield {error = {message, type = "worker_error",
-- code = null}}, which fails the job. Every request runs in the job's
-- coroutine, so many jobs wait on the backend at once in one VM; a job that
-- is stopped or cancelled closes its backend connection.
local core = require "runpod.core"
local http = require "runpod.http"
local log = require "runpod.log"

local json = core.json

local proxy = {}

local DEFAULT_CHAT_ROUTE = "/v1/chat/completions"
local DEFAULT_COMPLETION_ROUTE = "/v1/completions"

-- split_utf8(s) -> whole, rest: s cut before a UTF-8 character its last
-- bytes begin but do not finish (rest: those bytes, "" when none). Bytes
-- that are not UTF-8 at all stay in whole.
local function split_utf8(s)
  local n = #s
  for i = n, math.max(1, n - 2), -1 do
    local b = s:byte(i)
    if b < 0x80 then
      return s, ""
    elseif b >= 0xC0 then
      local need = b >= 0xF0 and 4 or b >= 0xE0 and 3 or 2
      if n - i + 1 < need then
        return s:sub(1, i - 1), s:sub(i)
      end
      return s, ""
    end
  end
  return s, ""
end

-- error_output(message) -> the error shape worker-vllm yields.
function proxy.error_output(message)
  return { error = { message = message, type = "worker_error", code = json.null } }
end

-- Python's truth, as worker-vllm tests its input: None, False, 0, "" and
-- empty lists and objects are false.
local function truthy(v)
  if v == nil or v == false or v == json.null or v == 0 or v == "" then
    return false
  end
  return type(v) ~= "table" or next(v) ~= nil
end

local function shown(v)
  if type(v) ~= "string" then
    return type(v)
  end
  return (("%q"):format(v):gsub("\\\n", "\\n"))
end

-- A request the backend can be sent: the route is appended to base_url,
-- so it must be a path (a route such as "@host/x" would make the URL's
-- host another server's), and the method goes on the request line, so it
-- must be a name (no spaces or line breaks).
local function checked(route, method, body)
  if type(route) ~= "string" or route:sub(1, 1) ~= "/" or route:find("[%c%s]") then
    return nil, "route must be a path beginning with '/', got " .. shown(route)
  end
  if type(method) ~= "string" or not method:match("^%a+$") then
    return nil, 'method must be an HTTP method name such as "POST", got ' .. shown(method)
  end
  return route, method:upper(), body
end

-- normalize(input) -> route, method, body | nil, message
-- The three input shapes above as one request.
function proxy.normalize(input)
  if type(input) ~= "table" then
    return nil, "job input must be an object, got " .. type(input)
  end
  if truthy(input.openai_input) then
    local route = truthy(input.openai_route) and input.openai_route or DEFAULT_CHAT_ROUTE
    return checked(route, "POST", input.openai_input)
  end
  if truthy(input.openai_route) then
    return checked(input.openai_route, "GET", nil)
  end
  if truthy(input.route) then
    local body = truthy(input.body) and input.body or nil
    local method = truthy(input.method) and input.method or (body and "POST" or "GET")
    return checked(input.route, method, body)
  end
  local messages, prompt = input.messages, input.prompt
  if messages == json.null then
    messages = nil
  end
  if prompt == json.null then
    prompt = nil
  end
  if messages == nil and prompt == nil then
    return nil, "Job input must contain one of: openai_input (+openai_route), "
      .. "route (+body), or prompt/messages."
  end
  local body = {}
  if type(input.sampling_params) == "table" then
    for k, v in pairs(input.sampling_params) do
      body[k] = v
    end
  end
  body.stream = truthy(input.stream)
  if messages ~= nil then
    body.messages = messages
    return DEFAULT_CHAT_ROUTE, "POST", body
  end
  body.prompt = prompt
  return DEFAULT_COMPLETION_ROUTE, "POST", body
end

local function check_opts(opts)
  if type(opts) ~= "table" then
    error("bad argument #1 to 'handler' (table expected, got " .. type(opts) .. ")", 3)
  end
  if type(opts.base_url) ~= "string" then
    error("bad argument #1 to 'handler' (base_url must be a string, got "
      .. type(opts.base_url) .. ")", 3)
  end
end

-- handler{ base_url = ..., backend = runpod.backend or nil, name = "backend",
-- model = "id" (for a body without one; else the first id of GET
-- /v1/models, else fallback_model), fallback_model = nil, timeout = 3600,
-- ready_url = nil, ready_timeout = 600, headers = {} } -> handler function
-- With ready_url and a backend that no check saw ready yet (the local API
-- server runs no fitness checks), the first jobs wait for it.
function proxy.handler(opts)
  check_opts(opts)
  local base = opts.base_url:gsub("/+$", "")
  local name = opts.name or "backend"
  local timeout = opts.timeout or 3600
  local b = opts.backend
  local model_cache = opts.model

  local dead_message = name .. " server process is not running; worker is unhealthy"

  local function alive()
    return b == nil or b:alive()
  end

  local function headers()
    local h = { ["Content-Type"] = "application/json" }
    for k, v in pairs(opts.headers or {}) do
      h[k] = v
    end
    return h
  end

  local function default_model()
    if model_cache then
      return model_cache
    end
    local res, err = http.get(base .. "/v1/models", { headers = headers(), timeout = 30 })
    if res and res.status == 200 then
      local data = json.decode(res.body)
      local first = type(data) == "table" and type(data.data) == "table" and data.data[1]
      if type(first) == "table" and type(first.id) == "string" then
        model_cache = first.id
        return model_cache
      end
    end
    log.warn("Could not resolve the default model from /v1/models: "
      .. tostring(err or (res and ("HTTP " .. res.status))))
    return opts.fallback_model
  end

  -- A transfer that failed: the backend's death explains it best. Its
  -- connections close as it exits, a moment before it is reaped, so a
  -- failure gives the supervisor half a second to see the exit.
  local function failed(what)
    for _ = 1, 10 do
      if alive() == false or b == nil then
        break
      end
      core.sleep(0.05)
    end
    if not alive() then
      return proxy.error_output(dead_message .. " (" .. (b:exit_reason() or "exited") .. ")")
    end
    return proxy.error_output(("Request to %s failed: %s"):format(name, what))
  end

  return function(job)
    local route, method, body = proxy.normalize(job.input)
    if not route then
      coroutine.yield(proxy.error_output(method))
      return
    end
    if not alive() then
      coroutine.yield(proxy.error_output(dead_message))
      return
    end
    if b and opts.ready_url and not b:ready() then
      local ok, err = b:wait_ready { url = opts.ready_url, timeout = opts.ready_timeout or 600 }
      if not ok then
        coroutine.yield(proxy.error_output(err))
        return
      end
    end
    if method ~= "GET" and type(body) == "table" and body.model == nil then
      local model = default_model()
      if model then
        local copy = {}
        for k, v in pairs(body) do
          copy[k] = v
        end
        copy.model = model
        body = copy
      end
    end
    local text
    if body ~= nil then
      local err
      text, err = json.encode(body)
      if not text then
        coroutine.yield(proxy.error_output("request body cannot be encoded: " .. err))
        return
      end
    end
    local wants_stream = type(body) == "table" and body.stream == true
    local res, err = http.request {
      url = base .. route, method = method, body = text, headers = headers(),
      timeout = timeout, stream = true,
    }
    if not res then
      coroutine.yield(failed(err))
      return
    end
    local ok, why = pcall(function()
      if res.status >= 400 then
        local parts = {}
        for chunk in res:chunks() do
          parts[#parts + 1] = chunk
        end
        local detail = table.concat(parts)
        log.error(("%s %s %s returned HTTP %d: %s"):format(name, method, route, res.status,
          detail), job.id)
        coroutine.yield(proxy.error_output(("%s returned HTTP %d: %s"):format(name, res.status,
          detail)))
        return
      end
      if wants_stream then
        -- A read may end inside a UTF-8 character (a backend's write cut
        -- short): its first bytes wait for the rest, or a partial that is
        -- not valid UTF-8 would reach the client as U+FFFD.
        local held = ""
        for chunk in res:chunks() do
          local whole
          whole, held = split_utf8(held .. chunk)
          if whole ~= "" then
            coroutine.yield(whole)
          end
        end
        if held ~= "" then
          coroutine.yield(held)
        end
        return
      end
      local parts = {}
      for chunk in res:chunks() do
        parts[#parts + 1] = chunk
      end
      local value, derr = json.decode(table.concat(parts))
      if value == nil and derr then
        coroutine.yield(proxy.error_output(("%s answered with invalid JSON: %s"):format(name,
          derr)))
        return
      end
      coroutine.yield(value)
    end)
    if not ok then
      coroutine.yield(failed(tostring(why):gsub("^.-:%d+: ", "")))
    end
  end
end

return proxy
