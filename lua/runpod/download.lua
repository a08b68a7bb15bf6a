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
-- RUNPOD_MAX_DOWNLOAD_BYTES bytes. The URLs of one call are fetched in
-- parallel (opts.parallel at a time), each on a thread of the C part;
-- inside runpod-worker the job's coroutine yields while it waits, under
-- plain lua5.4 the call blocks.
local core = require "runpod.core"
local log = require "runpod.log"

local download = {}

download.DEFAULT_MAX_BYTES = 5 * 1024 * 1024 * 1024   -- 5 GiB, as Python's
download.MAX_EXTENSION = 16
download.DEFAULT_STALL_TIMEOUT = 30                   -- seconds without progress
download.DEFAULT_PARALLEL = 4
download.MAX_PARALLEL = 32                            -- threads per call, at most

-- The waits between looks at an extraction running on its thread: short
-- for a small archive, growing to the longest for a model-sized one.
local UNZIP_FIRST_POLL_S = 0.002
local UNZIP_MAX_POLL_S = 0.05

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

-- redact_url(url) -> url as log lines and messages show it: a user name
-- and password become "***" ("https://***@host/f"), and the query and
-- fragment "?<redacted>", where presigned URLs carry their signature
-- and APIs their tokens. Scheme, host and path stay, to tell URLs apart.
function download.redact_url(url)
  local scheme, rest = url:match("^(%a[%w+.-]*://)(.*)$")
  if not scheme then
    scheme, rest = "", url
  end
  local authority, path, tail = rest:match("^([^/?#]*)([^?#]*)(.*)$")
  return scheme .. authority:gsub("^.*@", "***@") .. path .. (tail ~= "" and "?<redacted>" or "")
end

local function uuid4()
  local id, err = core.uuid4()
  if not id then
    error("no random bytes for a file name: " .. err, 0)
  end
  return id
end

-- Renames the finished part file after the name the response gives:
-- path | nil, message.
local function finish(t, headers)
  local ext = download.extension(disposition_name(headers["content-disposition"]))
  if ext == "" then
    ext = download.extension(url_path(t.url))
  end
  local final = t.dir .. "/" .. t.name .. ext
  t.headers = headers
  local ok, rerr = os.rename(t.part, final)
  if not ok then
    os.remove(t.part)
    return nil, rerr
  end
  return final
end

-- Starts (or restarts) the transfer of task t: true | false (t.err set).
local function start(t, o)
  local dl, err = core.http_download(t.url, t.part, o.timeout, o.connect_timeout,
    o.max_bytes, o.allow_private, o.allow_cidrs, o.stall_timeout, o.low_speed_limit)
  t.dl = dl
  t.err = err
  return dl ~= nil
end

-- Fetches every task, at most o.parallel at a time, with retries. Each
-- transfer runs on a thread of the C part; between polls core.sleep
-- yields the job's coroutine inside runpod-worker (plain lua5.4 blocks).
local function fetch_all(tasks, o, job_id)
  local queue, active = {}, {}
  for i = #tasks, 1, -1 do
    queue[#queue + 1] = tasks[i]
  end
  local pause = 0.002
  while #queue > 0 or #active > 0 do
    local now = core.monotonic()
    -- start what the bound allows and whose back-off has passed
    for i = #queue, 1, -1 do
      if #active >= o.parallel then
        break
      end
      local t = queue[i]
      if (t.not_before or 0) <= now then
        table.remove(queue, i)
        t.attempt = (t.attempt or 0) + 1
        if start(t, o) then
          active[#active + 1] = t
        end
      end
    end
    local progressed = false
    for i = #active, 1, -1 do
      local t = active[i]
      local status, headers, retry = t.dl:poll()
      if status ~= nil or headers ~= nil then
        progressed = true
        table.remove(active, i)
        t.dl = nil
        if status then
          t.path, t.err = finish(t, headers)
        elseif retry and t.attempt < o.tries then
          log.warn(("download %s: %s; trying again (%d of %d)"):format(
            download.redact_url(t.url), headers,
            t.attempt + 1, o.tries), job_id)
          t.not_before = core.monotonic() + o.backoff * 2 ^ (t.attempt - 1)
          queue[#queue + 1] = t
        else
          t.err = headers
        end
      end
    end
    if progressed then
      pause = 0.002
    elseif #queue > 0 or #active > 0 then
      core.sleep(pause)
      pause = math.min(pause * 2, 0.05)
    end
  end
end

-- opts[key], a number >= 0, or default; raises blaming the caller of the
-- caller of transfer_opts.
local function number_opt(opts, key, default, fname)
  local v = opts[key]
  if v == nil then
    return default
  end
  if type(v) ~= "number" or v < 0 then
    error(("bad argument #%d to '%s' (%s must be a number >= 0)"):format(
      fname == "file" and 2 or 3, fname, key), 4)
  end
  return v
end

-- opts[key], a whole number > 0, or default; raises as number_opt.
local function count_opt(opts, key, default, fname)
  local v = opts[key]
  if v == nil then
    return default
  end
  local n = type(v) == "number" and math.tointeger(v)
  if not n or n <= 0 then
    error(("bad argument #%d to '%s' (%s must be a positive integer)"):format(
      fname == "file" and 2 or 3, fname, key), 4)
  end
  return n
end

-- The transfer settings of download()'s and file()'s opts.
local function transfer_opts(opts, fname)
  return {
    timeout = number_opt(opts, "timeout", 0, fname),
    stall_timeout = number_opt(opts, "stall_timeout", download.DEFAULT_STALL_TIMEOUT, fname),
    low_speed_limit = math.floor(number_opt(opts, "low_speed_limit", 1, fname)),
    parallel = math.min(download.MAX_PARALLEL, math.max(1, math.floor(number_opt(opts,
      "parallel", download.DEFAULT_PARALLEL, fname)))),
    connect_timeout = number_opt(opts, "connect_timeout", 10, fname),
    tries = math.max(1, math.floor(number_opt(opts, "tries", 3, fname))),
    backoff = number_opt(opts, "backoff", 0.5, fname),
    max_bytes = count_opt(opts, "max_bytes", max_bytes(), fname),
    allow_private = truthy(os.getenv("RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS")),
    allow_cidrs = os.getenv("RUNPOD_DOWNLOAD_ALLOW_CIDRS"),
  }
end

-- download(job_id, url_or_urls[, opts]) -> paths, errors
-- paths and errors are lists as long as the URLs: paths[i] is the file's
-- absolute path or nil; errors[i] is nil or "<url>: <message>", the URL
-- shown by redact_url (as in every log line). opts:
-- stall_timeout (seconds below low_speed_limit bytes/s that end a transfer,
-- default 30; 0 = never), low_speed_limit (1), connect_timeout (10),
-- timeout (the whole transfer, default 0 = no cap), parallel (transfers
-- at once, default 4), tries (3, on connection errors, time-outs, HTTP
-- 5xx/429), backoff (0.5 s, doubled each try), max_bytes (default
-- RUNPOD_MAX_DOWNLOAD_BYTES or 5 GiB).
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
  local o = transfer_opts(opts or {}, "download")
  local cwd = assert(core.cwd())
  local dir = cwd .. "/jobs/" .. id .. "/downloaded_files"
  local ok, err = core.make_dirs(dir)
  if not ok then
    error("download: " .. err, 2)
  end
  local paths, errors = {}, {}
  local n = #urls
  local tasks = {}
  for i = 1, n do
    local url = urls[i]
    if type(url) ~= "string" then
      errors[i] = ("%s: not a URL"):format(tostring(url))
    else
      local name = uuid4()
      tasks[#tasks + 1] = { i = i, url = url, dir = dir, name = name,
        part = dir .. "/" .. name .. ".part" }
    end
  end
  fetch_all(tasks, o, id)
  for _, t in ipairs(tasks) do
    paths[t.i] = t.path
    if not t.path then
      errors[t.i] = download.redact_url(t.url) .. ": " .. tostring(t.err)
      log.error("failed to download " .. errors[t.i], id)
    end
  end
  return setmetatable(paths, { __len = function() return n end }), errors
end

-- Extracts the zip archive at path into the folder into (opts as file()'s)
-- -> files | nil, message. In runpod-worker the extraction runs on a
-- thread of its own and the job waits for it in sleeps, so the other jobs
-- of the VM run meanwhile; a stop or the job's timeout ends the wait, and
-- closing the operation cancels the extraction (the folder is removed).
-- Under plain Lua it blocks.
local function unzip(path, into, opts)
  local cap = math.tointeger(opts.max_unzip_bytes)
  local entries = math.tointeger(opts.max_unzip_entries)
  if not core.in_runtime() then
    return core.unzip(path, into, cap, opts.max_unzip_ratio, entries)
  end
  local op <close>, err = core.unzip_start(path, into, cap, opts.max_unzip_ratio, entries)
  if not op then
    log.warn("unzip: " .. err .. "; extracting on the job's thread")
    return core.unzip(path, into, cap, opts.max_unzip_ratio, entries)
  end
  local pause = UNZIP_FIRST_POLL_S
  while true do
    local n
    n, err = op:poll()
    if n ~= nil or err ~= nil then
      return n, err
    end
    core.sleep(pause)
    pause = math.min(pause * 2, UNZIP_MAX_POLL_S)
  end
end

-- file(url[, opts]) -> { file_path, type, original_name, extracted_path }
-- | nil, message. Python's rp_download.file: downloads url into job_files/
-- (under the current directory) as <uuid>.<type>, type being the
-- extension of the Content-Disposition name, else of the URL's file name;
-- a "zip" is extracted into job_files/<uuid>/ (extracted_path), guarded
-- (unzip.h): entries that would leave the folder or nest deeper than
-- runpod.cleanup removes fail it, links are skipped, and
-- opts.max_unzip_bytes (10 GiB), opts.max_unzip_ratio (200) and
-- opts.max_unzip_entries (100000) cap it. The other opts are download()'s.
function download.file(url, opts)
  if type(url) ~= "string" then
    error(("bad argument #1 to 'file' (string expected, got %s)"):format(type(url)), 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #2 to 'file' (table expected, got %s)"):format(type(opts)), 2)
  end
  opts = opts or {}
  local o = transfer_opts(opts, "file")
  o.parallel = 1
  local dir = assert(core.cwd()) .. "/job_files"
  local ok, err = core.make_dirs(dir)
  if not ok then
    error("file: " .. err, 2)
  end
  local name = uuid4()
  local t = { url = url, dir = dir, name = name, part = dir .. "/" .. name .. ".part" }
  fetch_all({ t }, o)
  if not t.path then
    return nil, download.redact_url(url) .. ": " .. tostring(t.err)
  end
  local original = disposition_name(t.headers["content-disposition"])
  if not original or original == "" then
    original = url_path(url):match("([^/]*)$")
  end
  local result = {
    file_path = t.path,
    type = (download.extension(t.path):sub(2)),
    original_name = original,
  }
  if result.type == "zip" then
    -- A failed file() leaves nothing: the archive goes too when the
    -- extraction fails, or when the job ends (stopped, timed out) while it
    -- runs, as the extracted folder does.
    local archive <close> = setmetatable({ path = t.path }, { __close = function(a)
      if a.path then
        os.remove(a.path)
      end
    end })
    local into = dir .. "/" .. name
    local n, uerr = unzip(t.path, into, opts)
    if not n then
      return nil, download.redact_url(url) .. ": unzip: " .. uerr
    end
    archive.path = nil                  -- extracted: the archive stays
    result.extracted_path = into
  end
  return result
end

return download
