-- runpod.upload against a real S3-compatible server on 127.0.0.1 (s3rver,
-- from `make s3-deps`, with spec/s3/server.js checking SigV4 signatures):
-- the PUT libcurl signs, the presigned GET URL runtime/net/sigv4.c signs
-- (fetched back with curl), bad credentials, expiry, the local fallback,
-- and the example handler inside runpod-worker.
local runpod = require "runpod"
local helpers = require "helpers.emulator"
local proc = require "helpers.proc"

local build = os.getenv("RP_BUILD") or "build"
local have_s3rver = os.execute("test -d " .. proc.quote(proc.root .. "/spec/s3/node_modules/s3rver")
  .. " && command -v node >/dev/null") == true

local function start_s3(dir)
  return helpers.listening({ "node", proc.root .. "/spec/s3/server.js", dir, "outputs",
    "outputs.localhost" },
    "s3rver")
end

-- GETs url with curl; returns the status and the body. Without the
-- sanitizer preload of `make check`, under which curl hangs. The path goes
-- as it is ('.' and '..' segments of a key included), as a presigned URL
-- is signed.
local function fetch(url)
  local out = os.tmpname()
  local p = assert(io.popen(("env -u LD_PRELOAD timeout 20 curl -s --path-as-is --max-time 10 "
    .. "-o %s -w '%%{http_code}' %s"):format(
    proc.quote(out), proc.quote(url))))
  local status = tonumber(p:read("a"))
  p:close()
  local body = proc.read_file(out)
  os.remove(out)
  return status, body
end

local function random_bytes(n)
  local t = {}
  for i = 1, n do
    t[i] = string.char((i * 7919 + 13) % 256)
  end
  return table.concat(t)
end

describe("runpod.upload", function()
  local s3, endpoint, data_dir, dir, creds

  setup(function()
    if not have_s3rver then
      return
    end
    data_dir = proc.tmpdir()
    s3, endpoint = start_s3(data_dir)
    creds = { endpoint = endpoint, access_key_id = "S3RVER", secret_access_key = "S3RVER",
      bucket = "outputs" }
  end)

  teardown(function()
    if s3 then
      s3.stop()
      os.execute("rm -rf " .. proc.quote(data_dir))
    end
  end)

  before_each(function()
    dir = proc.tmpdir()
  end)

  after_each(function()
    os.execute("rm -rf " .. proc.quote(dir))
  end)

  local function with(extra)
    local o = {}
    for k, v in pairs(creds) do
      o[k] = v
    end
    for k, v in pairs(extra or {}) do
      o[k] = v
    end
    return o
  end

  local function s3_it(name, fn)
    if have_s3rver then
      it(name, fn)
    else
      pending(name .. " (run 'make s3-deps' first)")
    end
  end

  -- GETs url with curl and returns the status and the response headers.
  local function head_of(url)
    local p = assert(io.popen(("env -u LD_PRELOAD timeout 20 curl -s --max-time 10 -D - "
      .. "-o /dev/null %s"):format(proc.quote(url))))
    local text = p:read("a")
    p:close()
    return tonumber(text:match("^HTTP/[%d.]+ (%d+)")), text:lower()
  end

  -- A count spec/s3/server.js answers as plain text at path.
  local function server_count(path)
    local p = assert(io.popen(("env -u LD_PRELOAD curl -s --max-time 10 %s"):format(
      proc.quote(endpoint .. path))))
    local n = tonumber(p:read("a"))
    p:close()
    return n
  end
  -- UploadPart requests seen; multipart uploads of bucket still holding parts.
  local function parts_seen() return server_count("/_parts") end
  local function open_uploads(bucket) return server_count("/" .. bucket .. "?uploads") end

  describe("multipart upload", function()
    local SMALL = { multipart_threshold = 5 * 1024 * 1024, part_size = 5 * 1024 * 1024 }

    s3_it("sends a file above the threshold in parts, read back whole", function()
      local bytes = random_bytes(5 * 1024 * 1024) .. random_bytes(3 * 1024 * 1024) .. "end"
      proc.write_file(dir .. "/big.bin", bytes)
      local before = parts_seen()
      local url = assert(runpod.upload("job-m1", dir .. "/big.bin", with(SMALL)))
      assert.are.equal(before + 2, parts_seen())
      local status, body = fetch(url)
      assert.are.equal(200, status)
      assert.are.equal(#bytes, #body)
      assert.are.equal(bytes, body)
      assert.are.equal(0, open_uploads("outputs"))
    end)

    -- A three-part upload of name, whose part 2 the stand-in answers
    -- with a fault: nil, message.
    local function faulty_upload(job, name)
      proc.write_file(dir .. "/" .. name, random_bytes(11 * 1024 * 1024))
      return runpod.upload(job, dir .. "/" .. name, with {
        multipart_threshold = SMALL.multipart_threshold, part_size = SMALL.part_size,
        name = name })
    end

    s3_it("aborts the upload when a part fails, leaving no parts behind", function()
      local url, err = faulty_upload("job-m2", "fail-part.bin")
      assert.is_nil(url)
      assert.matches("HTTP 400: InvalidRequest: part 2 refused by the test server", err)
      -- No upload keeps parts (a part still being written when the abort
      -- came is cleared by the server's second look, as S3 advises).
      assert.are.equal(0, helpers.eventually(5, function()
        return open_uploads("outputs") == 0 and 0
      end))
      -- and nothing was assembled under the key
      local status = fetch(endpoint .. "/outputs/job-m2/fail-part.bin")
      assert.are_not.equal(200, status)
    end)

    s3_it("says so when a part is answered without an ETag", function()
      local url, err = faulty_upload("job-m6", "no-etag.bin")
      assert.is_nil(url)
      assert.are.equal("PUT " .. endpoint .. "/outputs/job-m6/no-etag.bin part 2: no ETag in the "
        .. "answer", err)
      assert.are.equal(0, helpers.eventually(5, function()
        return open_uploads("outputs") == 0 and 0
      end))
    end)

    s3_it("sends extra_args as headers the object keeps", function()
      proc.write_file(dir .. "/meta.bin", random_bytes(6 * 1024 * 1024))
      local url = assert(runpod.upload("job-m3", dir .. "/meta.bin", with {
        multipart_threshold = SMALL.multipart_threshold, part_size = SMALL.part_size,
        extra_args = { ContentType = "application/x-model", CacheControl = "max-age=60",
          Metadata = { revision = "abc123" } } }))
      local status, head = head_of(url)
      assert.are.equal(200, status)
      assert.matches("content%-type: application/x%-model", head)
      assert.matches("cache%-control: max%-age=60", head)
      assert.matches("x%-amz%-meta%-revision: abc123", head)
    end)

    s3_it("addresses the bucket by host name with addressing_style = \"virtual\"", function()
      -- outputs.localhost reaches 127.0.0.1; s3rver takes the host as the bucket
      local port = endpoint:match(":(%d+)$")
      local url = assert(runpod.upload("job-m4", runpod.buffer.new():append("vhost"), with {
        endpoint = "http://localhost:" .. port, addressing_style = "virtual", name = "v.txt" }))
      assert.matches("^http://outputs%.localhost:" .. port .. "/job%-m4/v%.txt%?X%-Amz", url)
      local status, body = fetch(url)
      assert.are.equal(200, status)
      assert.are.equal("vhost", body)
    end)

    s3_it("refuses a part size below S3's 5 MiB and unknown extra_args", function()
      assert.has_error(function()
        runpod.upload("job-m5", runpod.buffer.new():append("x"), with { part_size = 1000 })
      end, "bad argument #3 to 'upload' (part_size must be at least 5242880)")
      assert.has_error(function()
        runpod.upload("job-m5", runpod.buffer.new():append("x"),
          with { extra_args = { Foo = "x" } })
      end, "bad argument #3 to 'upload' (unsupported extra_args key \"Foo\" or value)")
    end)
  end)

  describe("upload_files() and bucket_upload()", function()
    s3_it("uploads several files in one call", function()
      proc.write_file(dir .. "/a.txt", "A")
      proc.write_file(dir .. "/b.txt", "B")
      local urls, errs = runpod.upload_files("job-f1", { dir .. "/a.txt", dir .. "/missing",
        dir .. "/b.txt" }, creds)
      assert.are.equal(3, #urls)
      assert.are.equal("A", select(2, fetch(urls[1])))
      assert.is_nil(urls[2])
      assert.matches("missing", errs[2])
      assert.are.equal("B", select(2, fetch(urls[3])))
    end)

    s3_it("puts files at <job_id>/<path> and returns plain object URLs, as Python", function()
      proc.write_file(dir .. "/c.txt", "C")
      local urls = runpod.bucket_upload("job-f2", { "c.txt" }, { endpointUrl = endpoint,
        accessId = "S3RVER", accessSecret = "S3RVER", bucketName = "outputs" })
      -- relative to the current directory, like Python's open()
      assert.is_nil(urls[1])
      local r = proc.lua_run({ "-e", ([[
        local runpod = require "runpod"
        local urls, errs = runpod.bucket_upload("job-f2", { "c.txt" }, { endpointUrl = %q,
          accessId = "S3RVER", accessSecret = "S3RVER", bucketName = "outputs" })
        io.write(tostring(urls[1]), "|", tostring(errs[1]))]]):format(endpoint) },
        { cwd = dir, env = { LUA_PATH = proc.root .. "/lua/?.lua;" .. proc.root
          .. "/lua/?/init.lua", LUA_CPATH = os.getenv("LUA_CPATH")
          or (proc.root .. "/" .. build .. "/lib/?.so;;") } })
      assert.are.equal(endpoint .. "/outputs/job-f2/c.txt|nil", r.stdout:match("[^\n]*$"))
    end)
  end)

  describe("keys with '.' and '..' segments", function()
    -- The request lines spec/s3/server.js saw, latest last.
    local function requests()
      local p = assert(io.popen(("env -u LD_PRELOAD curl -s --max-time 10 %s"):format(
        proc.quote(endpoint .. "/_requests"))))
      local lines = proc.lines(p:read("a"))
      p:close()
      return lines
    end

    local function seen(line)
      for _, l in ipairs(requests()) do
        if l == line then
          return true
        end
      end
      return false
    end

    -- Keys are data, as boto3 sends them: the PUT goes to the path the key
    -- names, the object stays in its bucket under that very key, and the
    -- presigned URL returned is that same path.
    local function check_literal_key(job, source, opts, bytes)
      local url = assert(runpod.upload(job, source, with(opts)))
      local key = opts.prefix .. "/" .. opts.name
      local path = "/outputs/" .. key
      assert.are.equal(endpoint .. path, url:match("^[^?]*"))
      assert.is_true(seen("PUT " .. path), table.concat(requests(), "\n"))
      local status, body = fetch(url)
      assert.are.equal(200, status)
      assert.are.equal(bytes, body)
      status, body = fetch(endpoint .. "/outputs?prefix=" .. job)
      assert.are.equal(200, status)
      assert.matches("<Key>" .. key:gsub("%p", "%%%0") .. "</Key>", body)
    end

    s3_it("sends them as they are in a PUT", function()
      check_literal_key("job-d1", runpod.buffer.new():append("dots"),
        { prefix = "job-d1/../other/.", name = "x.bin" }, "dots")
    end)

    s3_it("sends them as they are in a multipart upload's parts", function()
      local bytes = random_bytes(6 * 1024 * 1024)
      proc.write_file(dir .. "/big.bin", bytes)
      check_literal_key("job-d2", dir .. "/big.bin", { prefix = "job-d2/./..", name = "y.bin",
        multipart_threshold = 5 * 1024 * 1024, part_size = 5 * 1024 * 1024 }, bytes)
      assert.is_true(seen("PUT /outputs/job-d2/./../y.bin"))
    end)
  end)

  describe("upload()", function()
    s3_it("puts a file and returns a presigned URL that fetches it back", function()
      local bytes = random_bytes(300000)
      proc.write_file(dir .. "/out.png", bytes)
      local url = assert(runpod.upload("job-1", dir .. "/out.png", creds))
      assert.matches("^" .. endpoint:gsub("%p", "%%%0") .. "/outputs/job%-1/%x%x%x%x%x%x%x%x%.png%?"
        .. "X%-Amz%-Algorithm=AWS4%-HMAC%-SHA256&X%-Amz%-Credential=S3RVER%%2F%d+%%2Fus%-east%-1"
        .. "%%2Fs3%%2Faws4_request&X%-Amz%-Date=%d+T%d+Z&X%-Amz%-Expires=604800&", url)
      local status, body = fetch(url)
      assert.are.equal(200, status)
      assert.are.equal(bytes, body)
    end)

    s3_it("puts a buffer's bytes under the name and prefix given", function()
      local buf = runpod.buffer.new():append("alpha ", "beta\0gamma")
      local url = assert(runpod.upload("job-2", buf, with { name = "r 1+2.txt", prefix = "a/b" }))
      assert.matches("/outputs/a/b/r%%201%%2B2%.txt%?", url)
      local status, body = fetch(url)
      assert.are.equal(200, status)
      assert.are.equal("alpha beta\0gamma", body)
    end)

    s3_it("refuses a URL whose signature was altered", function()
      local url = assert(runpod.upload("job-3", runpod.buffer.new():append("x"), creds))
      local altered = url:gsub("(X%-Amz%-Signature=)(%x)", function(k, c)
        return k .. (c == "0" and "1" or "0")  -- a different first digit
      end)
      assert.are_not.equal(url, altered)
      local status, body = fetch(altered)
      assert.are.equal(403, status)
      assert.matches("<Code>SignatureDoesNotMatch</Code>", body)
    end)

    s3_it("returns nil and S3's reason for a wrong secret or access key", function()
      local url, err = runpod.upload("job-4", runpod.buffer.new():append("x"),
        with { secret_access_key = "wrong", name = "k.bin" })
      assert.is_nil(url)
      assert.are.equal("PUT " .. endpoint .. "/outputs/job-4/k.bin: HTTP 403: "
        .. "SignatureDoesNotMatch: The request signature we calculated does not match the "
        .. "signature you provided. Check your key and signing method.", err)
      url, err = runpod.upload("job-4", runpod.buffer.new():append("x"),
        with { access_key_id = "NOBODY", name = "k.bin" })
      assert.is_nil(url)
      assert.matches("^PUT .*: HTTP 403: InvalidAccessKeyId: ", err)
    end)

    s3_it("returns nil and a message for a bucket that does not exist", function()
      local url, err = runpod.upload("job-5", runpod.buffer.new():append("x"),
        with { bucket = "missing", name = "k.bin" })
      assert.is_nil(url)
      assert.matches("^PUT .*/missing/job%-5/k%.bin: HTTP 404: NoSuchBucket", err)
    end)

    s3_it("makes URLs that expire", function()
      local url = assert(runpod.upload("job-6", runpod.buffer.new():append("x"),
        with { expires = 1 }))
      -- S3 judges expiry by its own clock: poll until it refuses the URL.
      local status, body
      assert.is_truthy(helpers.eventually(20, function()
        status, body = fetch(url)
        return status ~= 200
      end), "the URL still works")
      assert.are.equal(403, status)
      assert.matches("<Code>AccessDenied</Code>", body)
      assert.matches("Request has expired", body)
    end)

    it("saves to simulated_uploaded/ without a bucket, as Python does", function()
      proc.write_file(dir .. "/in.jpg", "local bytes")
      local code = [[
        local runpod = require "runpod"
        local path, err = runpod.upload("job-7", "in.jpg")
        io.write("R:", tostring(path), "|", tostring(err), "\n")]]
      local r = proc.lua_run({ "-e", code }, { cwd = dir, env = {
        LUA_PATH = proc.root .. "/lua/?.lua;" .. proc.root .. "/lua/?/init.lua",
        LUA_CPATH = os.getenv("LUA_CPATH") or proc.root .. "/" .. build .. "/lib/?.so;;" } })
      assert.are.equal(0, r.code, r.stderr)
      local path = r.stdout:match("R:(simulated_uploaded/%x+%.jpg)|nil")
      assert.is_truthy(path, r.stdout)
      assert.are.equal("local bytes", proc.read_file(dir .. "/" .. path))
      assert.matches("WARN.-no bucket configured", r.stdout .. r.stderr)
    end)

    it("returns nil and a message for a file that cannot be read", function()
      local url, err = runpod.upload("job-8", dir .. "/missing.bin", creds)
      assert.is_nil(url)
      assert.matches("missing%.bin: No such file or directory", err)
    end)

    it("raises on bad arguments", function()
      assert.has_error(function() runpod.upload("../x", "f") end,
        "bad argument #1 to 'upload' (invalid job id \"../x\" (no '/', '\\', '..' or "
        .. "control characters, at most 128 bytes))")
      assert.has_error(function() runpod.upload("j", 5) end,
        "bad argument #2 to 'upload' (path or runpod.buffer expected, got number)")
      assert.has_error(function() runpod.upload("j", "f", { name = "../x" }) end,
        "bad argument #3 to 'upload' (invalid name \"../x\")")
      assert.has_error(function() runpod.upload("j", "f", { prefix = {} }) end,
        "bad argument #3 to 'upload' (prefix must be a string, got table)")
    end)
  end)

  describe("in runpod-worker", function()
    s3_it("uploads the example handler's output", function()
      local worker = proc.worker_abs
      local r = proc.run({ worker, proc.root .. "/handlers/upload.lua", "--test_input",
        '{"input": {"text": "uploaded from a job"}}' }, { cwd = dir, env = {
          BUCKET_ENDPOINT_URL = endpoint, BUCKET_ACCESS_KEY_ID = "S3RVER",
          BUCKET_SECRET_ACCESS_KEY = "S3RVER", UPLOAD_BUCKET = "outputs" } })
      assert.are.equal(0, r.code, r.stdout .. r.stderr)
      local result = r.stdout:match("Job result: (%b{})")
      assert.is_truthy(result, r.stdout)
      local out = runpod.json.decode(result).output
      local status, body = fetch(out.url)
      assert.are.equal(200, status)
      assert.are.equal("uploaded from a job", body)
    end)
  end)
end)
