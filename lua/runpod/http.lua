-- runpod.http: an HTTP client for handlers.
--
--   local res, err = runpod.http.get("http://127.0.0.1:8080/health")
--   local res = runpod.http.post(url, body, { headers = {...}, timeout = 30 })
--   res.status, res.headers["content-type"], res.body
--
-- With { stream = true } the body is read as it arrives:
--   for chunk in res:chunks() do ... end
--   for event in res:events() do ... event.data ... end   -- server-sent events
-- Leaving such a loop early (break, return, an error) closes the stream.
--
-- Inside runpod-worker a request yields the job's coroutine to its
-- executor, so many jobs wait on HTTP at once; under plain lua5.4 it blocks.
-- Failures to connect or time-outs return nil and a message; HTTP error
-- statuses are ordinary responses.
local core = require "runpod.core"

local http = {}

local Stream = {}
Stream.__index = Stream

-- chunks() -> iterator over the body's pieces as they arrive. The handle
-- is the generic for's closing value: a loop left by break, return or an
-- error closes the transfer at once, not when the response is collected.
function Stream:chunks()
  local handle = self.handle
  return function()
    return core.http_read(handle)
  end, nil, nil, handle
end

-- events() -> iterator over server-sent events: { event = name or nil,
-- data = text (lines joined with "\n"), id = id or nil }; closes the
-- transfer when the loop is left, as chunks() does.
function Stream:events()
  local next_chunk = self:chunks()
  local pending = ""
  local event = {}
  local data = {}
  local finished = false
  return function()
    while true do
      local nl = pending:find("\n", 1, true)
      if nl then
        local line = pending:sub(1, nl - 1):gsub("\r$", "")
        pending = pending:sub(nl + 1)
        if line == "" then
          if #data > 0 then
            event.data = table.concat(data, "\n")
            local out = event
            event, data = {}, {}
            return out
          end
        elseif line:sub(1, 1) ~= ":" then
          local field, value = line:match("^([^:]*):? ?(.*)$")
          if field == "data" then
            data[#data + 1] = value
          elseif field == "event" or field == "id" then
            event[field] = value
          end
        end
      elseif finished then
        return nil
      else
        local chunk = next_chunk()
        if chunk then
          pending = pending .. chunk
        else
          finished = true
          pending = pending .. "\n\n"
        end
      end
    end
  end, nil, nil, self.handle
end

-- close(): drops the rest of a streamed body.
function Stream:close()
  getmetatable(self.handle).__close(self.handle)
end

-- request{ url = ..., method = "GET", headers = {}, body = s, timeout = 60,
-- stream = false } -> response | nil, message
function http.request(opts)
  if type(opts) ~= "table" then
    error("bad argument #1 to 'request' (table expected, got " .. type(opts) .. ")", 2)
  end
  if type(opts.url) ~= "string" then
    error("bad argument #1 to 'request' (url must be a string, got " .. type(opts.url) .. ")", 2)
  end
  local body = opts.body
  if body ~= nil and type(body) ~= "string" then
    body = tostring(body)              -- a runpod.buffer gives its bytes
  end
  local method = opts.method or (body and "POST" or "GET")
  local status, headers, rest = core.http_request(method:upper(), opts.url, opts.headers, body,
    opts.timeout, opts.stream)
  if not status then
    return nil, headers
  end
  if opts.stream then
    return setmetatable({ status = status, headers = headers, handle = rest }, Stream)
  end
  return { status = status, headers = headers, body = rest }
end

function http.get(url, opts)
  local o = {}
  for k, v in pairs(opts or {}) do
    o[k] = v
  end
  o.url, o.method = url, o.method or "GET"
  return http.request(o)
end

function http.post(url, body, opts)
  local o = {}
  for k, v in pairs(opts or {}) do
    o[k] = v
  end
  o.url, o.body, o.method = url, body, o.method or "POST"
  return http.request(o)
end

return http
