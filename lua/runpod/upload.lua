-- runpod.upload: the Python SDK's rp_upload (upload_image,
-- upload_file_to_bucket, upload_in_memory_object) in one call.
--
--   local url = assert(runpod.upload(job.id, "output/image.png"))
--   local url = assert(runpod.upload(job.id, buf, { name = "out.txt" }))
--
-- Puts a file (a path) or the bytes of a runpod.buffer into an
-- S3-compatible bucket and returns a presigned GET URL (7 days by
-- default). The credentials come from BUCKET_ENDPOINT_URL,
-- BUCKET_ACCESS_KEY_ID and BUCKET_SECRET_ACCESS_KEY, or from opts
-- (endpoint, access_key_id, secret_access_key, like Python's bucket_creds).
-- The PUT is signed by libcurl (AWS SigV4); the link by runtime/net/sigv4.c.
-- URLs are path-style: <endpoint>/<bucket>/<key>. A key is data: its '.'
-- and '..' segments are sent and signed as they are (as boto3 sends them),
-- never resolved into another key or bucket.
--
-- Without all three settings, the file is copied to simulated_uploaded/
-- and that local path is returned, with a warning in the log, as the
-- Python SDK does.
local core = require "runpod.core"
local log = require "runpod.log"
local download = require "runpod.download"

local upload = {}

upload.DEFAULT_EXPIRES = 604800         -- 7 days, SigV4's longest
upload.LOCAL_DIR = "simulated_uploaded"
upload.MULTIPART_THRESHOLD = 16 * 1024 * 1024
upload.PART_SIZE = 8 * 1024 * 1024
upload.MIN_PART_SIZE = 5 * 1024 * 1024    -- S3's smallest part but the last
upload.PARALLEL = 4
upload.MAX_PARTS = 10000                  -- S3's limit per upload

local CONTENT_TYPES = {
  png = "image/png", jpg = "image/jpeg", jpeg = "image/jpeg", gif = "image/gif",
  webp = "image/webp", bmp = "image/bmp", tif = "image/tiff", tiff = "image/tiff",
  txt = "text/plain", json = "application/json", mp4 = "video/mp4", wav = "audio/wav",
  mp3 = "audio/mpeg", zip = "application/zip",
}

local function escape(s, keep_slash)
  local pattern = keep_slash and "[^%w%-%._~/]" or "[^%w%-%._~]"
  return (s:gsub(pattern, function(c)
    return ("%%%02X"):format(c:byte())
  end))
end

-- The region of an endpoint URL, as Python's extract_region_from_url:
-- "<x>.s3.<region>.<...>" (AWS, Backblaze) or "<region>.digitaloceanspaces.com".
function upload.region_of(endpoint)
  local region = endpoint:match("%.s3[%.%-]([%w%-]+)%.")
  if region and region ~= "amazonaws" then
    return region
  end
  local host = endpoint:match("^%a[%w+.-]*://([^/:]+)") or ""
  return host:match("^[^.]*%.?([%w%-]+)%.digitaloceanspaces%.com$")
end

local function read_all(path)
  local f, err = io.open(path, "rb")
  if not f then
    return nil, err
  end
  local data = f:read("a")
  f:close()
  if not data then
    return nil, path .. ": read failed"
  end
  return data
end

-- The bytes of a runpod.buffer or of the file at a path: data | nil, message.
local function source_bytes(source, is_buffer)
  if is_buffer then
    return source:tostring()
  end
  return read_all(source)
end

-- The S3 error code and message of an XML error body, when there is one.
local function s3_error(body)
  local code = body:match("<Code>(.-)</Code>")
  local message = body:match("<Message>(.-)</Message>")
  if code and message then
    return code .. ": " .. message
  end
  return code
end

local function save_locally(name, data, job_id)
  log.warn(("no bucket configured (BUCKET_ENDPOINT_URL, BUCKET_ACCESS_KEY_ID, "
    .. "BUCKET_SECRET_ACCESS_KEY): saving to %s/ instead"):format(upload.LOCAL_DIR), job_id)
  local ok, err = core.make_dirs(upload.LOCAL_DIR)
  if not ok then
    return nil, err
  end
  local path = upload.LOCAL_DIR .. "/" .. name
  local f
  f, err = io.open(path, "wb")
  if not f then
    return nil, err
  end
  ok, err = f:write(data)
  f:close()
  if not ok then
    os.remove(path)
    return nil, err
  end
  return path
end

-- extra_args as Python's boto3 ExtraArgs: the headers they become.
local EXTRA_HEADERS = {
  ContentType = "Content-Type", CacheControl = "Cache-Control",
  ContentDisposition = "Content-Disposition", ContentEncoding = "Content-Encoding",
  ContentLanguage = "Content-Language", ACL = "x-amz-acl",
}

-- The request headers of extra_args (nil: none); raises on a key it
-- does not know or a value that is not a string.
local function extra_headers(extra, fname)
  local h = {}
  if extra == nil then
    return h
  end
  if type(extra) ~= "table" then
    error(("bad argument #3 to '%s' (extra_args must be a table)"):format(fname), 3)
  end
  for k, v in pairs(extra) do
    if k == "Metadata" then
      if type(v) ~= "table" then
        error(("bad argument #3 to '%s' (extra_args.Metadata must be a table)"):format(fname), 3)
      end
      for mk, mv in pairs(v) do
        if type(mk) ~= "string" or not mk:match("^[%w%-_]+$") or type(mv) ~= "string"
            or mv:find("[%c]") then
          error(("bad argument #3 to '%s' (invalid extra_args.Metadata entry %q)"):format(
            fname, tostring(mk)), 3)
        end
        h["x-amz-meta-" .. mk:lower()] = mv
      end
    elseif EXTRA_HEADERS[k] and type(v) == "string" and not v:find("[%c]") then
      h[EXTRA_HEADERS[k]] = v
    else
      error(("bad argument #3 to '%s' (unsupported extra_args key %q or value)"):format(
        fname, tostring(k)), 3)
    end
  end
  return h
end

local function file_size(path)
  local f, err = io.open(path, "rb")
  if not f then
    return nil, err
  end
  local size, serr = f:seek("end")
  f:close()
  if not size then
    return nil, serr
  end
  return size
end

-- One signed S3 request (yields inside runpod-worker like runpod.http):
-- status, body | nil, message.
local function s3_request(c, method, url, headers, body)
  local h = { ["x-amz-content-sha256"] = core.sha256_hex(body or "") }
  for k, v in pairs(headers or {}) do
    h[k] = v
  end
  local status, _, rbody = core.http_request(method, url, h, body or "", c.timeout, false,
    c.provider, c.userpwd)
  if not status then
    return nil, _
  end
  return status, rbody
end

local function failure(method, url, status, body)
  local detail = s3_error(body or "")
  return ("%s %s: HTTP %d%s"):format(method, url, status, detail and (": " .. detail) or "")
end

-- Waits for the part uploads of 'parts', at most c.parallel at a time,
-- with retries: true | nil, message. etags[i] is filled in.
local function put_parts(c, base, path, size, etags)
  -- S3 takes at most 10,000 parts: larger files get larger parts.
  c.part_size = math.max(c.part_size, (size + upload.MAX_PARTS - 1) // upload.MAX_PARTS)
  local n = math.ceil(size / c.part_size)
  local queue, active = {}, {}
  for i = n, 1, -1 do
    queue[#queue + 1] = { i = i, attempt = 0 }
  end
  local pause = 0.002
  local failed
  while not failed and (#queue > 0 or #active > 0) do
    while #active < c.parallel and #queue > 0 do
      local t = table.remove(queue)
      t.attempt = t.attempt + 1
      local offset = (t.i - 1) * c.part_size
      local len = math.min(c.part_size, size - offset)
      local part, err = core.s3_put_part(("%s?partNumber=%d&uploadId=%s"):format(base, t.i,
        c.upload_id), path, offset, len, c.provider, c.userpwd, c.stall_timeout, c.timeout)
      if not part then
        failed = err
        break
      end
      t.part = part
      active[#active + 1] = t
    end
    local progressed = false
    for k = #active, 1, -1 do
      local t = active[k]
      local status, etag, body = t.part:poll()
      if status ~= nil or etag ~= nil then
        progressed = true
        table.remove(active, k)
        t.part = nil
        if status == 200 and etag then
          etags[t.i] = etag
        else
          local why
          if status == 200 then         -- without the ETag, Complete cannot name the part
            why = ("PUT %s part %d: no ETag in the answer"):format(base, t.i)
          else
            why = status and failure("PUT", base .. " part " .. t.i, status, body) or etag
          end
          local again = (status == nil and body) or (status and (status >= 500 or status == 429))
          if again and t.attempt < c.tries then
            log.warn(("upload part %d: %s; trying again (%d of %d)"):format(t.i, why,
              t.attempt + 1, c.tries), c.job_id)
            queue[#queue + 1] = t
          else
            failed = why
          end
        end
      end
    end
    if not progressed and not failed then
      core.sleep(pause)
      pause = math.min(pause * 2, 0.05)
    else
      pause = 0.002
    end
  end
  -- stop the parts still running before the caller aborts the upload
  for _, t in ipairs(active) do
    t.part:close()
  end
  if failed then
    return nil, failed
  end
  return true
end

-- A multipart upload of the file at path (size bytes): Create, the parts
-- in parallel from disk, Complete; on any failure AbortMultipartUpload,
-- so no orphan parts stay billed. true | nil, message.
local function multipart(c, url, path, size, headers)
  local status, body = s3_request(c, "POST", url .. "?uploads=", headers)
  if not status then
    return nil, body
  end
  if status ~= 200 then
    return nil, failure("POST", url .. "?uploads", status, body)
  end
  local id = body:match("<UploadId>(.-)</UploadId>")
  if not id then
    return nil, "POST " .. url .. "?uploads: no UploadId in the answer"
  end
  c.upload_id = escape(id, false)
  local etags = {}
  local ok, err = put_parts(c, url, path, size, etags)
  if ok then
    local xml = { "<CompleteMultipartUpload>" }
    for i = 1, #etags do
      xml[#xml + 1] = ("<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>"):format(i,
        etags[i])
    end
    xml[#xml + 1] = "</CompleteMultipartUpload>"
    local done = url .. "?uploadId=" .. c.upload_id
    status, body = s3_request(c, "POST", done, { ["Content-Type"] = "application/xml" },
      table.concat(xml))
    -- S3 may answer 200 with an error document when Complete fails late.
    if status == 200 and not body:find("<Error>", 1, true) then
      return true
    end
    err = status and failure("POST", done, status, body) or body
  end
  local astatus, abody = s3_request(c, "DELETE", url .. "?uploadId=" .. c.upload_id)
  if astatus ~= 204 and astatus ~= 200 then
    log.error(("could not abort multipart upload %s: %s"):format(id,
      astatus and failure("DELETE", url, astatus, abody) or abody), c.job_id)
  end
  return nil, err
end

-- The bucket settings of opts: c (or nil when no bucket is configured).
local function connection(opts, job_id)
  local endpoint = opts.endpoint or os.getenv("BUCKET_ENDPOINT_URL")
  local access = opts.access_key_id or os.getenv("BUCKET_ACCESS_KEY_ID")
  local secret = opts.secret_access_key or os.getenv("BUCKET_SECRET_ACCESS_KEY")
  if not (endpoint and endpoint ~= "" and access and access ~= "" and secret and secret ~= "") then
    return nil
  end
  endpoint = endpoint:gsub("/+$", "")
  local region = opts.region or upload.region_of(endpoint) or "us-east-1"
  local style = opts.addressing_style or "path"
  if style ~= "path" and style ~= "virtual" then
    error(("bad argument #3 to 'upload' (addressing_style must be \"path\" or \"virtual\", "
      .. "got %q)"):format(tostring(style)), 3)
  end
  local part_size = math.tointeger(opts.part_size) or upload.PART_SIZE
  if part_size < upload.MIN_PART_SIZE then
    error(("bad argument #3 to 'upload' (part_size must be at least %d)"):format(
      upload.MIN_PART_SIZE), 3)
  end
  return {
    endpoint = endpoint, access = access, secret = secret, region = region, style = style,
    provider = "aws:amz:" .. region .. ":s3", userpwd = access .. ":" .. secret,
    timeout = opts.timeout or 300, stall_timeout = opts.stall_timeout or 60,
    part_size = part_size,
    threshold = math.tointeger(opts.multipart_threshold) or upload.MULTIPART_THRESHOLD,
    parallel = math.min(32, math.max(1, math.tointeger(opts.parallel) or upload.PARALLEL)),
    tries = math.max(1, math.tointeger(opts.tries) or 3), job_id = job_id,
  }
end

-- The object URL and the presign arguments (endpoint, bucket) of c's
-- addressing style: path <endpoint>/<bucket>/<key>, virtual
-- <scheme>://<bucket>.<host>/<key>.
local function object_url(c, bucket, key)
  if c.style == "virtual" then
    local scheme, rest = c.endpoint:match("^(%a[%w+.-]*://)(.*)$")
    local vhost = scheme .. bucket .. "." .. rest
    return vhost .. "/" .. escape(key, true), vhost, ""
  end
  return c.endpoint .. "/" .. escape(bucket, false) .. "/" .. escape(key, true), c.endpoint,
    bucket
end

-- Puts source (a path or a runpod.buffer) at bucket/key: true | nil, message.
local function put_object(c, source, is_buffer, bucket, key, headers)
  local url = object_url(c, bucket, key)
  if not is_buffer then
    local size, err = file_size(source)
    if not size then
      return nil, err
    end
    if size >= c.threshold and size > 0 then
      return multipart(c, url, source, size, headers)
    end
  end
  local data, err = source_bytes(source, is_buffer)
  if not data then
    return nil, err
  end
  local status, body = s3_request(c, "PUT", url, headers, data)
  if not status then
    return nil, body
  end
  if status ~= 200 then
    return nil, failure("PUT", url, status, body)
  end
  return true
end

local function check_opts(opts, fname)
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #3 to '%s' (table expected, got %s)"):format(fname, type(opts)), 3)
  end
  return opts or {}
end

-- upload(job_id, path_or_buffer[, opts]) -> url | nil, message
-- opts: bucket (default the month, "%m-%y", as Python), prefix (default
-- job_id), name (default 8 random hex digits + the file's extension),
-- content_type (default from the extension, else application/octet-stream),
-- extra_args (boto3's ExtraArgs: ContentType, CacheControl,
-- ContentDisposition, ContentEncoding, ContentLanguage, ACL, Metadata),
-- addressing_style ("path" or "virtual"), expires (seconds, default
-- 604800), timeout (seconds per request, default 300), stall_timeout
-- (60), region (default from the endpoint, else us-east-1), endpoint,
-- access_key_id, secret_access_key; files from multipart_threshold bytes
-- (16 MiB) go as a multipart upload of part_size parts (8 MiB), parallel
-- (4) at a time, each tried `tries` (3) times. Raises on bad arguments.
function upload.upload(job_id, source, opts)
  local id, why = download.check_job_id(job_id)
  if not id then
    error("bad argument #1 to 'upload' (" .. why .. ")", 2)
  end
  local is_buffer = core.buffer.is(source)
  if type(source) ~= "string" and not is_buffer then
    error(("bad argument #2 to 'upload' (path or runpod.buffer expected, got %s)"):format(
      type(source)), 2)
  end
  opts = check_opts(opts, "upload")
  local ext = is_buffer and "" or download.extension(source)
  local name = opts.name or (core.hex.encode(core.random_bytes(4)) .. ext)
  if type(name) ~= "string" or name == "" or name:find("[/\\%c]") or name == "."
      or name == ".." then
    error(("bad argument #3 to 'upload' (invalid name %q)"):format(tostring(name)), 2)
  end
  local prefix = opts.prefix or id
  if type(prefix) ~= "string" then
    error(("bad argument #3 to 'upload' (prefix must be a string, got %s)"):format(
      type(prefix)), 2)
  end
  local headers = extra_headers(opts.extra_args, "upload")
  local c = connection(opts, id)
  if not c then
    local data, err = source_bytes(source, is_buffer)
    if not data then
      return nil, err
    end
    return save_locally(name, data, id)
  end
  local bucket = opts.bucket or os.date("%m-%y")
  local key = prefix ~= "" and (prefix .. "/" .. name) or name
  headers["Content-Type"] = headers["Content-Type"] or opts.content_type
    or CONTENT_TYPES[(ext:sub(2)):lower()]
    or CONTENT_TYPES[(download.extension(name):sub(2)):lower()] or "application/octet-stream"
  local ok, err = put_object(c, source, is_buffer, bucket, key, headers)
  if not ok then
    return nil, err
  end
  local _, pendpoint, pbucket = object_url(c, bucket, key)
  return core.s3_presign(pendpoint, pbucket, key, c.region, c.access, c.secret,
    opts.expires or upload.DEFAULT_EXPIRES)
end

-- files(job_id, paths[, opts]) -> urls, errors: Python's rp_upload.files,
-- upload() of each path (one after another; each file's parts go in
-- parallel). Lists as long as paths, like runpod.download's.
function upload.files(job_id, paths, opts)
  if type(paths) ~= "table" then
    error(("bad argument #2 to 'files' (table expected, got %s)"):format(type(paths)), 2)
  end
  local urls, errors = {}, {}
  local n = #paths
  for i = 1, n do
    urls[i], errors[i] = upload.upload(job_id, paths[i], opts)
    if not urls[i] then
      log.error(("failed to upload %s: %s"):format(tostring(paths[i]), errors[i]), job_id)
    end
  end
  return setmetatable(urls, { __len = function() return n end }), errors
end

-- bucket_upload(job_id, paths, creds[, opts]) -> urls, errors: Python's
-- rp_upload.bucket_upload. creds = { endpointUrl, accessId, accessSecret,
-- bucketName }; each file goes to "<job_id>/<path as given>" and its URL
-- is the plain object URL (not presigned), as Python's.
function upload.bucket_upload(job_id, paths, creds, opts)
  local id, why = download.check_job_id(job_id)
  if not id then
    error("bad argument #1 to 'bucket_upload' (" .. why .. ")", 2)
  end
  if type(paths) ~= "table" then
    error(("bad argument #2 to 'bucket_upload' (table expected, got %s)"):format(type(paths)), 2)
  end
  if type(creds) ~= "table" then
    error(("bad argument #3 to 'bucket_upload' (table expected, got %s)"):format(type(creds)), 2)
  end
  for _, k in ipairs { "endpointUrl", "accessId", "accessSecret", "bucketName" } do
    if type(creds[k]) ~= "string" or creds[k] == "" then
      error(("bad argument #3 to 'bucket_upload' (creds.%s must be a non-empty string)"):format(
        k), 2)
    end
  end
  opts = check_opts(opts, "bucket_upload")
  local o = {}
  for k, v in pairs(opts) do
    o[k] = v
  end
  o.endpoint, o.access_key_id, o.secret_access_key = creds.endpointUrl, creds.accessId,
    creds.accessSecret
  local c = connection(o, id)
  local headers = extra_headers(opts.extra_args, "bucket_upload")
  local urls, errors = {}, {}
  local n = #paths
  for i = 1, n do
    local path = paths[i]
    if type(path) ~= "string" then
      errors[i] = tostring(path) .. ": not a path"
    else
      local key = id .. "/" .. path
      local ok, err = put_object(c, path, false, creds.bucketName, key, headers)
      if ok then
        urls[i] = (object_url(c, creds.bucketName, key))
      else
        errors[i] = err
        log.error(("failed to upload %s: %s"):format(path, err), id)
      end
    end
  end
  return setmetatable(urls, { __len = function() return n end }), errors
end

return upload
