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
-- URLs are path-style: <endpoint>/<bucket>/<key>.
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

-- upload(job_id, path_or_buffer[, opts]) -> url | nil, message
-- opts: bucket (default the month, "%m-%y", as Python), prefix (default
-- job_id), name (default 8 random hex digits + the file's extension),
-- content_type (default from the extension, else application/octet-stream),
-- expires (seconds, default 604800), timeout (seconds, default 300), region
-- (default from the endpoint, else us-east-1), endpoint, access_key_id,
-- secret_access_key. Raises on bad arguments.
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
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument #3 to 'upload' (table expected, got %s)"):format(type(opts)), 2)
  end
  opts = opts or {}
  local ext = is_buffer and "" or download.extension(source)
  local name = opts.name or (core.hex.encode(core.random_bytes(4)) .. ext)
  if type(name) ~= "string" or name == "" or name:find("[/\\%c]") or name == "."
      or name == ".." then
    error(("bad argument #3 to 'upload' (invalid name %q)"):format(tostring(name)), 2)
  end
  local data, err
  if is_buffer then
    data = source:tostring()
  else
    data, err = read_all(source)
    if not data then
      return nil, err
    end
  end
  local endpoint = opts.endpoint or os.getenv("BUCKET_ENDPOINT_URL")
  local access = opts.access_key_id or os.getenv("BUCKET_ACCESS_KEY_ID")
  local secret = opts.secret_access_key or os.getenv("BUCKET_SECRET_ACCESS_KEY")
  if not (endpoint and endpoint ~= "" and access and access ~= "" and secret and secret ~= "") then
    return save_locally(name, data, id)
  end
  endpoint = endpoint:gsub("/+$", "")
  local bucket = opts.bucket or os.date("%m-%y")
  local prefix = opts.prefix or id
  local key = prefix ~= "" and (prefix .. "/" .. name) or name
  local region = opts.region or upload.region_of(endpoint) or "us-east-1"
  local ctype = opts.content_type or CONTENT_TYPES[(ext:sub(2)):lower()]
    or CONTENT_TYPES[(download.extension(name):sub(2)):lower()] or "application/octet-stream"
  local url = endpoint .. "/" .. escape(bucket, false) .. "/" .. escape(key, true)
  local status, headers, body = core.http_request("PUT", url,
    { ["Content-Type"] = ctype, ["x-amz-content-sha256"] = core.sha256_hex(data) }, data,
    opts.timeout or 300, false, "aws:amz:" .. region .. ":s3", access .. ":" .. secret)
  if not status then
    return nil, headers
  end
  if status ~= 200 then
    local detail = s3_error(body)
    return nil, ("PUT %s: HTTP %d%s"):format(url, status, detail and (": " .. detail) or "")
  end
  return core.s3_presign(endpoint, bucket, key, region, access, secret,
    opts.expires or upload.DEFAULT_EXPIRES)
end

return upload
