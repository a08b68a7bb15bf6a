-- runpod.download: the Python SDK's download_files_from_urls.
--
--   local paths, errors = runpod.download(job.id, job.input.urls)
--   -- paths[i]: absolute path of the i-th file, or nil when it failed
--   -- (errors[i] says why)
--
-- Files land in jobs/<job_id>/downloaded_files/ under the current directory,
-- named <uuid><extension> like Python: the extension of the
-- Content-Disposition file name, else of the URL's path (letters and digits
-- only, at most 16 of them); nothing from the server or the URL becomes a
-- path component. Each file is created 0600 with O_EXCL as <uuid>.part and
-- renamed into place when complete; a failed download leaves nothing.
--
-- Guarded (download.h, netguard.h): http and https only, at most 5
-- redirects, connections only to public addresses (checked on the address
-- actually connected to, every redirect hop included), no proxy, at most
-- RUNPOD_MAX_DOWNLOAD_BYTES bytes. Inside runpod-worker the transfer yields
-- the job's coroutine like runpod.http; under plain lua5.4 it blocks.
local core = require "runpod.core"
local log = require "runpod.log"

local download = {}

download.DEFAULT_MAX_BYTES = 5 * 1024 * 1024 * 1024   -- 5 GiB, as Python's
download.MAX_EXTENSION = 16

local function truthy(s)
  s = (s or ""):lower():match("^%s*(.-)%s*$")
  return s == "1" or s == "true" or s == "yes"
end

local function max_bytes()
  local n = math.tointeger(tonumber(os.getenv("RUNPOD_MAX_DOWNLOAD_BYTES") or ""))
  if n and n > 0 then
    return n
  end
  return download.DEFAULT_MAX_BYTES
end

-- check_job_id(id) -> id | nil, message. A job id becomes a directory
-- name: no separators, "..", control characters, or more than 128 bytes.
function download.check_job_id(id)
  if type(id) ~= "string" or id == "" then
    return nil, "job id must be a non-empty string"
  end
  if #id > 128 or id:find("[/\\%c]") or id:find("..", 1, true) or id == "." then
    return nil, ("invalid job id %q (no '/', '\\', '..' or control characters, "
      .. "at most 128 bytes)"):format(id)
  end
  return id
end

-- extension(name) -> ".ext" or "": the part after the last dot of the
-- last path component, when it is 1..16 letters and digits.
function download.extension(name)
  local base = (name or ""):match("([^/\\]*)$")
  local ext = base:match("^.+%.(%w+)$")
  if ext and #ext <= download.MAX_EXTENSION then
    return "." .. ext
  end
  return ""
end

-- The file name a Content-Disposition header gives, or nil.
local function disposition_name(value)
  if not value then
    return nil
  end
  for part in value:gmatch("[^;]+") do
    local key, v = part:match("^%s*([^=%s]+)%s*=%s*(.-)%s*$")
    if key and key:lower() == "filename*" then
      return (v:gsub("^[^']*'[^']*'", ""):gsub("%%(%x%x)", function(h)
        return string.char(tonumber(h, 16))
      end))
    elseif key and key:lower() == "filename" then
      return (v:gsub('^"(.*)"$', "%1"))
    end
  end
  return nil
end

local function url_path(url)
  local rest = url:gsub("[?#].*$", "")
  return rest:match("^%a[%w+.-]*://[^/]*(/.*)$") or ""
end

local function uuid4()
  local id, err = core.uuid4()
  if not id then
    error("no random bytes for a file name: " .. err, 0)
  end
  return id
end

-- One URL with retries: returns path | nil, message.
local function fetch(url, dir, o, job_id)
  local name = uuid4()
  local part = dir .. "/" .. name .. ".part"
  local status, headers, err
  for attempt = 1, o.tries do
    local retry
    status, headers, retry = core.http_download(url, part, o.timeout, o.connect_timeout,
      o.max_bytes, o.allow_private, o.allow_cidrs)
    if status then
      break
    end
    err = headers
    if not retry or attempt == o.tries then
      return nil, err
    end
    log.warn(("download %s: %s; trying again (%d of %d)"):format(url, err, attempt + 1, o.tries),
      job_id)
    core.sleep(o.backoff * 2 ^ (attempt - 1))
  end
  local ext = download.extension(disposition_name(headers["content-disposition"]))
  if ext == "" then
    ext = download.extension(url_path(url))
  end
  local final = dir .. "/" .. name .. ext
  local ok, rerr = os.rename(part, final)
  if not ok then
    os.remove(part)
    return nil, rerr
  end
  return final
end

local function number_opt(opts, key, default, fname)
  local v = opts[key]
  if v == nil then
    return default
  end
  if type(v) ~= "number" or v < 0 then
    error(("bad argument #3 to '%s' (%s must be a number >= 0)"):format(fname, key), 3)
  end
  return v
end

-- download(job_id, url_or_urls[, opts]) -> paths, errors
-- paths and errors are lists as long as the URLs: paths[i] is the file's
-- absolute path or nil; errors[i] is nil or "<url>: <message>". opts:
-- timeout (seconds, whole transfer, default 300), connect_timeout (10),
-- tries (3, on connection errors, time-outs, HTTP 5xx/429), backoff (0.5 s,
-- doubled each try), max_bytes (default RUNPOD_MAX_DOWNLOAD_BYTES or 5 GiB).
-- Raises on bad arguments and when the folder cannot be created.
function download.download(job_id, urls, opts)
  local id, why = download.check_job_id(job_id)
  if not id then
    error("bad argument #1 to 'download' (" .. why .. ")", 2)
  end
  if type(urls) == "string" then
    urls = { urls }
  elseif type(urls) ~= "table" then
    error(("bad argument #2 to 'download' (string or table expected, got %s)"):format(
      type(urls)), 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #3 to 'download' (table expected, got %s)"):format(type(opts)), 2)
  end
  opts = opts or {}
  local o = {
    timeout = number_opt(opts, "timeout", 300, "download"),
    connect_timeout = number_opt(opts, "connect_timeout", 10, "download"),
    tries = math.max(1, math.floor(number_opt(opts, "tries", 3, "download"))),
    backoff = number_opt(opts, "backoff", 0.5, "download"),
    max_bytes = math.tointeger(opts.max_bytes) or max_bytes(),
    allow_private = truthy(os.getenv("RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS")),
    allow_cidrs = os.getenv("RUNPOD_DOWNLOAD_ALLOW_CIDRS"),
  }
  local cwd = assert(core.cwd())
  local dir = cwd .. "/jobs/" .. id .. "/downloaded_files"
  local ok, err = core.make_dirs(dir)
  if not ok then
    error("download: " .. err, 2)
  end
  local paths, errors = {}, {}
  local n = #urls
  for i = 1, n do
    local url = urls[i]
    if type(url) ~= "string" then
      errors[i] = ("%s: not a URL"):format(tostring(url))
    else
      local path, ferr = fetch(url, dir, o, id)
      paths[i] = path
      if not path then
        errors[i] = url .. ": " .. ferr
        log.error("failed to download " .. errors[i], id)
      end
    end
  end
  return setmetatable(paths, { __len = function() return n end }), errors
end

return download
