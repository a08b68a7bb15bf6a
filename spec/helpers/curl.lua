-- spec/helpers/curl.lua: HTTP requests from the specs through the curl
-- command line, each bounded by curl's --max-time. Under `make check`
-- lua5.4 runs with the sanitizers preloaded; curl must not inherit that
-- (it can deadlock in its resolver thread), hence `env -u LD_PRELOAD`.
local proc = require "helpers.proc"

local quote = proc.quote
local curl = {}

function curl.shell(cmd)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return out
end

-- A port no TCP socket uses, below the kernel's ephemeral range (where
-- the client side of connections takes its ports). Racy only against other
-- processes picking the same port in the same instant: a caller retries
-- with another when the server reports the port taken.
function curl.free_port()
  local used = curl.shell("ss -tanH 2>/dev/null")
  local low = tonumber(proc.read_file("/proc/sys/net/ipv4/ip_local_port_range"):match("%d+"))
  low = math.max(low or 32768, 20100)
  for _ = 1, 100 do
    local port = math.random(20000, low - 1)
    if not used:find(":" .. port .. " ", 1, true) then
      return port
    end
  end
  error("no free port")
end

-- The command line for one request; the body goes through a temporary
-- file, returned second so that the caller removes it after the run.
local function command(method, url, body, headers, max_time)
  local parts = { "env -u LD_PRELOAD curl -s -X", method, "--max-time", tostring(max_time or 20),
    "-w '\\n%{http_code} %{time_total}'" }
  for _, h in ipairs(headers or {}) do
    parts[#parts + 1] = "-H " .. quote(h)
  end
  local file
  if body then
    file = os.tmpname()
    proc.write_file(file, body)
    parts[#parts + 1] = "--data-binary @" .. quote(file)
  end
  parts[#parts + 1] = quote(url)
  return table.concat(parts, " "), file
end

-- curl's output is the body, then a line "code seconds".
local function parse(out)
  local body, code, t = out:match("^(.*)\n(%d+) ([%d.]+)$")
  return tonumber(code), body, tonumber(t)
end

-- request(method, url[, body[, headers[, max_time]]]) -> code, body, seconds
-- code is nil when curl got no answer at all.
function curl.request(method, url, body, headers, max_time)
  local cmd, file = command(method, url, body, headers, max_time)
  local out = curl.shell(cmd)
  if file then
    os.remove(file)
  end
  return parse(out)
end

-- Starts a request in the background; :wait() -> code, body, seconds.
function curl.background(method, url, body, headers, max_time)
  local cmd, file = command(method, url, body, headers, max_time)
  local p = assert(io.popen(cmd))
  return { wait = function()
    local out = p:read("a")
    p:close()
    if file then
      os.remove(file)
    end
    return parse(out)
  end }
end

return curl
