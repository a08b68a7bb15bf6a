-- runpod.download against a real HTTP server on 127.0.0.1 (build/spec/
-- fake_inference), through real libcurl: naming, the SSRF guard (refused
-- before any connection is made), the size cap, retries, a failing disk
-- (RLIMIT_FSIZE), and the example handler inside runpod-worker.
local runpod = require "runpod"
local helpers = require "helpers.emulator"
local proc = require "helpers.proc"

local build = os.getenv("RP_BUILD") or "build"
local cwd = proc.root
local LUA_ENV = {
  LUA_PATH = cwd .. "/lua/?.lua;" .. cwd .. "/lua/?/init.lua",
  LUA_CPATH = os.getenv("LUA_CPATH") or cwd .. "/" .. build .. "/lib/?.so;;",
}

-- The bytes /bytes?n=N serves.
local function pattern(n)
  local t = {}
  for i = 0, n - 1 do
    t[#t + 1] = string.char(i % 251)
  end
  return table.concat(t)
end

local function files_in(dir)
  return proc.output_lines("cd " .. proc.quote(dir) .. " 2>/dev/null && ls -A")
end

describe("runpod.download", function()
  local server, base, dir

  setup(function()
    server, base = helpers.fake_inference()
  end)

  teardown(function()
    server.stop()
  end)

  before_each(function()
    dir = proc.tmpdir()
  end)

  after_each(function()
    os.execute("rm -rf " .. proc.quote(dir))
  end)

  -- Runs runpod.download(job_id, urls, opts) in a child lua5.4 whose
  -- current directory is dir; returns one { path, err } per URL and the
  -- run's result. env: extra variables; wrap: a shell prefix.
  local function download_in(job_id, urls, opts, env, wrap)
    local code = ([[
      local runpod = require "runpod"
      local urls = %s
      local paths, errs = runpod.download(%q, urls, %s)
      for i = 1, #urls do
        io.write("R:", tostring(paths[i]), "|", tostring(errs[i]), "\n")
      end]]):format(urls, job_id, opts or "nil")
    local e = {}
    for k, v in pairs(LUA_ENV) do
      e[k] = v
    end
    for k, v in pairs(env or {}) do
      e[k] = v
    end
    local r
    if wrap then
      r = proc.run({ "bash", "-c", wrap .. ' exec lua5.4 -e "$0"', code },
        { cwd = dir, env = e, timeout = 60 })
    else
      r = proc.lua_run({ "-e", code }, { cwd = dir, env = e, timeout = 60 })
    end
    assert.are.equal(0, r.code, r.stderr)
    local out = {}
    for _, line in ipairs(proc.lines(r.stdout)) do
      local path, err = line:match("^R:(.-)|(.*)$")
      if path then
        out[#out + 1] = { path = path ~= "nil" and path or nil,
          err = err ~= "nil" and err or nil }
      end
    end
    return out, r
  end

  local ALLOW = { RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS = "true" }
  local folder = function(id) return dir .. "/jobs/" .. id .. "/downloaded_files" end

  local redact_url = require("runpod.download").redact_url

  describe("redact_url()", function()

    it("hides the user, the password, the query and the fragment", function()
      assert.are.equal("https://***@h.example:8443/a/b.zip?<redacted>",
        redact_url("https://u:p%40ss@h.example:8443/a/b.zip?X-Amz-Signature=abc#f"))
      assert.are.equal("https://***@h.example/f", redact_url("https://token@h.example/f"))
      assert.are.equal("https://h.example/f?<redacted>", redact_url("https://h.example/f#x"))
      assert.are.equal("https://h.example/u@x/f", redact_url("https://h.example/u@x/f"))
      assert.are.equal("not a url?<redacted>", redact_url("not a url?k=v"))
    end)
  end)

  describe("download()", function()
    it("saves a file as <uuid><extension of the URL>, mode 0600", function()
      local out = download_in("job-1", ("{ %q }"):format(base .. "/bytes/photo.png?n=100000"),
        nil, ALLOW)
      assert.is_nil(out[1].err)
      local name = out[1].path:match("^" .. folder("job-1"):gsub("%p", "%%%0") .. "/(.*)$")
      assert.is_truthy(name, out[1].path)
      assert.matches("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x+%.png$", name)
      assert.are.equal(pattern(100000), proc.read_file(out[1].path))
      assert.are.same({ "-rw-------" }, proc.output_lines("stat -c %A " .. proc.quote(out[1].path)))
      assert.are.same({ name }, files_in(folder("job-1")))
    end)

    it("takes the extension of the Content-Disposition name, and only that", function()
      local urls = ("{ %q, %q, %q }"):format(
        base .. "/bytes/x.png?n=10&name=report.pdf",
        base .. "/bytes?n=10&name=../../../evil.sh",
        base .. "/bytes?n=10&name=..%2F..%2Fpasswd")
      local out = download_in("j2", urls, nil, ALLOW)
      assert.matches("/jobs/j2/downloaded_files/[%x%-]+%.pdf$", out[1].path)
      assert.matches("/jobs/j2/downloaded_files/[%x%-]+%.sh$", out[2].path)
      assert.matches("/jobs/j2/downloaded_files/[%x%-]+$", out[3].path)
      assert.are.equal(3, #files_in(folder("j2")))
      assert.are.same({ "jobs" }, files_in(dir))
    end)

    it("returns nil and a message for a failed URL among good ones", function()
      local urls = ("{ %q, %q, %q }"):format(base .. "/bytes?n=5", base .. "/status/404",
        base .. "/bytes?n=7")
      local out = download_in("j3", urls, nil, ALLOW)
      assert.are.equal(5, #proc.read_file(out[1].path))
      assert.is_nil(out[2].path)
      assert.are.equal(base .. "/status/404: HTTP 404", out[2].err)
      assert.are.equal(7, #proc.read_file(out[3].path))
      assert.are.equal(2, #files_in(folder("j3")))
    end)

    it("shows no password or query string of a URL in messages and log lines", function()
      local url = base:gsub("^http://", "http://user:secretpw@") .. "/status/500?token=tok123"
      local out, r = download_in("j3s", ("{ %q }"):format(url), "{ tries = 2, backoff = 0.01 }",
        ALLOW)
      local shown = base:gsub("^http://", "http://***@") .. "/status/500?<redacted>"
      assert.are.equal(shown .. ": HTTP 500", out[1].err)
      local output = r.stdout .. r.stderr
      assert.matches("download " .. shown:gsub("%p", "%%%0") .. ": HTTP 500; trying again",
        output)
      assert.matches("failed to download " .. shown:gsub("%p", "%%%0"), output)
      assert.is_nil(output:find("secretpw", 1, true))
      assert.is_nil(output:find("tok123", 1, true))
    end)

    it("retries HTTP 5xx with backoff, a bounded number of times", function()
      local urls = ("{ %q, %q }"):format(base .. "/flaky?key=" .. dir .. "a&fail=2",
        base .. "/flaky?key=" .. dir .. "b&fail=5")
      local out = download_in("j4", urls, "{ tries = 3, backoff = 0.05 }", ALLOW)
      assert.are.equal("ok", proc.read_file(out[1].path))
      assert.is_nil(out[2].path)
      assert.matches(": HTTP 503$", out[2].err)
      assert.are.equal(1, #files_in(folder("j4")))
    end)

    it("gives up after the time-out", function()
      local out = download_in("j5", ("{ %q }"):format(base .. "/slow?ms=3000"),
        "{ timeout = 0.3, tries = 1 }", ALLOW)
      assert.matches("timed out", out[1].err)
      assert.are.same({}, files_in(folder("j5")))
    end)

    it("ends a download that stops sending after stall_timeout seconds", function()
      -- The server sends 1000 bytes, then nothing for 30 s with the
      -- connection open; without a whole-transfer cap only the stall ends it.
      local out = download_in("j5s", ("{ %q }"):format(base .. "/stall?n=1000"),
        "{ stall_timeout = 1, tries = 1 }", ALLOW)
      assert.matches("too slow", out[1].err)
      assert.are.same({}, files_in(folder("j5s")))
    end)

    it("lets a slow but steady download run past stall_timeout", function()
      -- 3000 bytes at 100 bytes every 0.1 s: about 3 s, never stalled.
      local out = download_in("j5t", ("{ %q }"):format(base .. "/trickle?n=3000&ms=100"),
        "{ stall_timeout = 1, tries = 1 }", ALLOW)
      assert.is_nil(out[1].err)
      assert.are.equal(pattern(3000), proc.read_file(out[1].path))
    end)

    it("caps the whole transfer only when timeout is given", function()
      local out = download_in("j5u", ("{ %q }"):format(base .. "/trickle?n=3000&ms=100"),
        "{ timeout = 1, tries = 1 }", ALLOW)
      assert.matches("timed out", out[1].err)
    end)

    it("fetches the URLs of one call in parallel", function()
      -- Each request is answered only once both have arrived (else 504
      -- after 30 s): one after the other cannot pass.
      local url = base .. "/barrier?key=par&n=2"
      local out = download_in("j5p", ("{ %q, %q }"):format(url, url), "{ tries = 1 }", ALLOW)
      assert.is_nil(out[1].err)
      assert.is_nil(out[2].err)
      assert.are.equal("met", proc.read_file(out[1].path))
      assert.are.equal("met", proc.read_file(out[2].path))
    end)

    it("keeps to opts.parallel transfers at a time", function()
      local url = base .. "/barrier?key=par1&n=2"
      local out = download_in("j5q", ("{ %q, %q }"):format(url, url),
        "{ tries = 1, parallel = 1, stall_timeout = 1 }", ALLOW)
      assert.is_truthy(out[1].err)
    end)

    it("enforces RUNPOD_MAX_DOWNLOAD_BYTES with and without Content-Length", function()
      local urls = ("{ %q, %q, %q }"):format(base .. "/bytes?n=5000",
        base .. "/bytes?n=5000&chunked=1", base .. "/bytes?n=1000&chunked=1")
      local out = download_in("j6", urls, nil,
        { RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS = "1", RUNPOD_MAX_DOWNLOAD_BYTES = "1000" })
      local cap = ": larger than the download cap of 1000 bytes (RUNPOD_MAX_DOWNLOAD_BYTES)"
      assert.are.equal(base .. "/bytes?<redacted>" .. cap, out[1].err)
      assert.are.equal(base .. "/bytes?<redacted>" .. cap, out[2].err)
      assert.are.equal(pattern(1000), proc.read_file(out[3].path))
      assert.are.equal(1, #files_in(folder("j6")))
    end)

    it("saves a gzip-encoded body decoded, as Python, capped by its decoded size", function()
      -- Content-Encoding sent unasked too, as for an object stored with
      -- it (S3 ContentEncoding); a small body that decodes past the cap
      -- (a "gzip bomb") is refused by its decoded size.
      local src = proc.tmpdir()
      local text = ("runpod-lua decodes\n"):rep(20000)
      local f = assert(io.open(src .. "/plain", "wb"))
      f:write(text)
      f:close()
      assert.is_true(os.execute(("cd %s && gzip -c plain > text.gz"
        .. " && head -c 5000000 /dev/zero | gzip -c > bomb.gz"):format(proc.quote(src))))
      local function at(name)
        return base .. "/file?path=" .. src .. "/" .. name .. "&encoding=gzip"
      end
      local out = download_in("j6z", ("{ %q, %q }"):format(at("text.gz"), at("bomb.gz")),
        "{ tries = 1 }",
        { RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS = "1", RUNPOD_MAX_DOWNLOAD_BYTES = "1000000" })
      os.execute("rm -rf " .. proc.quote(src))
      assert.is_nil(out[1].err)
      assert.are.equal(text, proc.read_file(out[1].path))
      assert.is_nil(out[2].path)
      assert.matches(": larger than the download cap of 1000000 bytes", out[2].err, 1, true)
      assert.are.same({ out[1].path:match("[^/]+$") }, files_in(folder("j6z")))
    end)

    it("reports a failing disk and removes the partial file", function()
      -- RLIMIT_FSIZE of 64 KiB: write(2) fails with EFBIG once the file
      -- reaches it (SIGXFSZ ignored, as a full disk fails with ENOSPC).
      local out = download_in("j7", ("{ %q, %q }"):format(base .. "/bytes?n=1000000",
        base .. "/bytes?n=1000"), "{ tries = 1 }", ALLOW, "trap '' XFSZ; ulimit -f 64;")
      assert.matches("^" .. base:gsub("%p", "%%%0") .. "/bytes%?<redacted>: writing "
        .. ".-/jobs/j7/downloaded_files/[%x%-]+%.part: File too large$", out[1].err)
      assert.are.equal(1000, #proc.read_file(out[2].path))
      assert.are.equal(1, #files_in(folder("j7")))
    end)

    it("raises on a job id that is not a plain name", function()
      for _, id in ipairs { "../x", "a/b", "..", ".", "a\\b", "a\0b", "" } do
        assert.has_error(function() runpod.download(id, "http://127.0.0.1/") end)
      end
      assert.has_error(function() runpod.download("a/b", "http://127.0.0.1/") end,
        "bad argument #1 to 'download' (invalid job id \"a/b\" (no '/', '\\', '..' or "
        .. "control characters, at most 128 bytes))")
      assert.has_error(function() runpod.download("j", 5) end,
        "bad argument #2 to 'download' (string or table expected, got number)")
    end)

    it("raises on a max_bytes that is not a positive integer, as on any bad option", function()
      for _, v in ipairs { 0, -1, 1.5, "x", "100" } do
        assert.has_error(function()
          runpod.download("j", "http://127.0.0.1/", { max_bytes = v })
        end, "bad argument #3 to 'download' (max_bytes must be a positive integer)")
      end
      assert.has_error(function() runpod.file("http://127.0.0.1/", { max_bytes = 0 }) end,
        "bad argument #2 to 'file' (max_bytes must be a positive integer)")
    end)
  end)

  describe("the address guard", function()
    local function refused(addr)
      return ": refused to connect to " .. addr
        .. ": not a public address (see RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS)"
    end

    it("refuses loopback, private, link-local and metadata addresses by default", function()
      local urls = { base .. "/bytes?n=5", "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/", "http://192.168.1.1:8080/", "http://[::1]:9/",
        "http://[::ffff:127.0.0.1]:9/", "http://100.64.0.1/", "http://0.0.0.0:9/" }
      local list = {}
      for i, u in ipairs(urls) do
        list[i] = ("%q"):format(u)
      end
      local out = download_in("g1", "{ " .. table.concat(list, ", ") .. " }")
      -- No connection is attempted: each error is the guard's refusal, not
      -- a failed or timed-out connect.
      local want = { "127.0.0.1", "169.254.169.254", "10.0.0.1", "192.168.1.1", "::1",
        "::ffff:127.0.0.1", "100.64.0.1", "0.0.0.0" }
      for i, addr in ipairs(want) do
        assert.are.equal(redact_url(urls[i]) .. refused(addr), out[i].err)
      end
      assert.are.same({}, files_in(folder("g1")))
    end)

    it("judges a host name by the addresses it resolves to", function()
      -- localhost resolves to loopback (127.0.0.1, perhaps ::1 first).
      local out = download_in("g4", ("{ %q }"):format("http://localhost:9/x.bin"))
      assert.matches("^http://localhost:9/x%.bin: refused to connect to [%d.:]+: not a public "
        .. "address", out[1].err)
      assert.are.same({}, files_in(folder("g4")))
    end)

    it("checks every redirect hop against RUNPOD_DOWNLOAD_ALLOW_CIDRS", function()
      local port = base:match(":(%d+)$")
      local urls = ("{ %q, %q, %q }"):format(
        base .. "/redirect?to=http://169.254.169.254/latest/meta-data/",
        base .. "/redirect?to=http://127.0.0.1:" .. port .. "/bytes/ok.txt%3Fn%3D3",
        base .. "/redirect?to=file:///etc/passwd")
      urls = urls:sub(1, -3) .. (", %q }"):format(
        base .. "/redirect?to=http://[::1]:" .. port .. "/bytes%3Fn%3D3")
      local out = download_in("g2", urls, "{ tries = 1 }",
        { RUNPOD_DOWNLOAD_ALLOW_CIDRS = "127.0.0.1/32" })
      assert.are.equal(base .. "/redirect?<redacted>" .. refused("169.254.169.254"), out[1].err)
      assert.are.equal(3, #proc.read_file(out[2].path))
      -- the extension comes from the URL asked for, as in Python
      assert.matches("/[%x%-]+$", out[2].path)
      assert.matches("not supported or disabled", out[3].err)
      -- a redirect to another loopback address than the one allowed
      assert.are.equal(base .. "/redirect?<redacted>" .. refused("::1"), out[4].err)
      assert.are.equal(1, #files_in(folder("g2")))
    end)

    it("refuses a malformed RUNPOD_DOWNLOAD_ALLOW_CIDRS", function()
      local out = download_in("g3", ("{ %q }"):format(base .. "/bytes?n=5"), nil,
        { RUNPOD_DOWNLOAD_ALLOW_CIDRS = "127.0.0.1/40" })
      assert.are.equal(base .. "/bytes?<redacted>: RUNPOD_DOWNLOAD_ALLOW_CIDRS: invalid address "
        .. "range '127.0.0.1/40'", out[1].err)
    end)
  end)

  describe("file()", function()
    local HAVE_PYTHON = os.execute("command -v python3 >/dev/null 2>&1") == true

    -- it(), or pending() where python3 (make_zip's) is missing.
    local function python_it(name, fn)
      if HAVE_PYTHON then
        it(name, fn)
      else
        pending(name .. " (needs python3)")
      end
    end

    -- Writes a zip with python3's zipfile: entries is Python source for a
    -- list of (name, data[, external_attr]).
    local function make_zip(path, entries)
      local r = proc.run({ "python3", "-c", ([[
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for e in %s:
        zi = zipfile.ZipInfo(e[0])
        zi.compress_type = zipfile.ZIP_DEFLATED
        if len(e) > 2:
            zi.external_attr = e[2]
        z.writestr(zi, e[1])
]]):format(entries), path })
      assert.are.equal(0, r.code, r.stderr)
    end

    -- Runs runpod.file(url, opts) in a child lua5.4 in dir; returns the
    -- result table's fields as a string and the error.
    local function file_in(url, opts)
      local code = ([[
        local runpod = require "runpod"
        local r, err = runpod.file(%q, %s)
        if r then
          io.write("R:", r.type, "|", r.original_name, "|", tostring(r.extracted_path), "|",
            r.file_path, "\n")
        else
          io.write("E:", err, "\n")
        end]]):format(url, opts or "nil")
      local e = { RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS = "true" }
      for k, v in pairs(LUA_ENV) do
        e[k] = v
      end
      local r = proc.lua_run({ "-e", code }, { cwd = dir, env = e, timeout = 60 })
      assert.are.equal(0, r.code, r.stderr)
      local kind, rest = r.stdout:match("([RE]):([^\n]*)\n?$")
      return kind == "R" and rest or nil, kind == "E" and rest or nil
    end

    local function serve(path, name)
      return base .. "/file?path=" .. path .. (name and ("&name=" .. name) or "")
    end

    it("downloads a file named by Content-Disposition and does not extract it", function()
      proc.write_file(dir .. "/src.txt", "hello")
      local r = assert(file_in(serve(dir .. "/src.txt", "notes.txt")))
      local typ, orig, extracted, path = r:match("^(.-)|(.-)|(.-)|(.*)$")
      assert.are.equal("txt", typ)
      assert.are.equal("notes.txt", orig)
      assert.are.equal("nil", extracted)
      assert.matches("/job_files/[%x-]+%.txt$", path)
      assert.are.equal("hello", proc.read_file(path))
    end)

    it("shows no password or query string of the URL in its message", function()
      local url = base:gsub("^http://", "http://user:secretpw@") .. "/status/500?token=tok123"
      local r, err = file_in(url, "{ tries = 1 }")
      assert.is_nil(r)
      assert.are.equal(base:gsub("^http://", "http://***@") .. "/status/500?<redacted>: HTTP 500",
        err)
    end)

    python_it("extracts a zip into job_files/<uuid>/", function()
      make_zip(dir .. "/in.zip", '[("a.txt", "alpha"), ("sub/", ""), ("sub/b.txt", "beta")]')
      local r = assert(file_in(serve(dir .. "/in.zip", "inputs.zip")))
      local typ, orig, extracted = r:match("^(.-)|(.-)|(.-)|")
      assert.are.equal("zip", typ)
      assert.are.equal("inputs.zip", orig)
      assert.matches("/job_files/[%x-]+$", extracted)
      assert.are.equal("alpha", proc.read_file(extracted .. "/a.txt"))
      assert.are.equal("beta", proc.read_file(extracted .. "/sub/b.txt"))
    end)

    python_it("extracts on a thread with unzip_start; closing the operation cancels it", function()
      local core = require "runpod.core"
      make_zip(dir .. "/in.zip", '[("a.txt", "alpha"), ("sub/b.txt", "beta")]')
      local op = core.unzip_start(dir .. "/in.zip", dir .. "/out")
      local n, err
      for _ = 1, 5000 do
        n, err = op:poll()
        if n or err then
          break
        end
        core.sleep(0.002)
      end
      assert.are.equal(2, n, err)
      assert.are.equal("beta", proc.read_file(dir .. "/out/sub/b.txt"))
      assert.has_error(function() op:poll() end, "attempt to use a closed unzip operation")
      -- Closed while it runs: the extraction stops and its folder goes.
      make_zip(dir .. "/many.zip", '[("d%d/f%d.txt" % (i % 10, i), "x") for i in range(20000)]')
      local function exists(path)
        return os.execute("test -e " .. proc.quote(path)) == true
      end
      do
        local running <close> = core.unzip_start(dir .. "/many.zip", dir .. "/cut")
        assert.is_truthy(helpers.eventually(20, function()
          return exists(dir .. "/cut/d0")
        end, 0.002))
        assert.is_nil(running:poll())
      end
      assert.is_truthy(helpers.eventually(20, function()
        return not exists(dir .. "/cut")
      end))
    end)

    python_it("refuses zip entries that leave the folder, and writes nothing outside", function()
      for i, bad in ipairs { "../escape.txt", "/tmp/abs-escape-i15v.txt", "a/../../x.txt" } do
        make_zip(dir .. "/bad.zip", ('[("ok.txt", "ok"), (%q, "evil")]'):format(bad))
        local r, err = file_in(serve(dir .. "/bad.zip", "bad" .. i .. ".zip"))
        assert.is_nil(r)
        assert.matches("would leave the folder", err)
      end
      assert.is_false(os.execute("test -e " .. proc.quote(dir .. "/escape.txt")) == true)
      assert.is_false(os.execute("test -e /tmp/abs-escape-i15v.txt") == true)
      assert.is_false(os.execute("test -e " .. proc.quote(dir .. "/x.txt")) == true)
      -- the half-extracted folders are gone, and the downloaded archives
      assert.are.same({}, files_in(dir .. "/job_files"))
    end)

    it("leaves nothing behind when the archive cannot be extracted", function()
      proc.write_file(dir .. "/not-a-zip", "plain text, not a zip archive")
      local r, err = file_in(serve(dir .. "/not-a-zip", "x.zip"))
      assert.is_nil(r)
      assert.matches(": unzip: not a zip archive", err)
      assert.are.same({}, files_in(dir .. "/job_files"))
    end)

    python_it("normalises './' and '//' in entry names as Python; '\\' is a character", function()
      local core = require "runpod.core"
      -- libarchive reads a name with '\' but no '/' as a Windows one
      -- (x\y is x/y); a name with both keeps the '\'.
      make_zip(dir .. "/names.zip", [=[[("./a.txt", "A"), ("b//c.txt", "C"),
        ("./sub/./d.txt", "D"), ("e/x\\y.txt", "E"), ("dir/./", "")]]=])
      assert.are.equal(4, core.unzip(dir .. "/names.zip", dir .. "/n"))
      assert.are.equal("A", proc.read_file(dir .. "/n/a.txt"))
      assert.are.equal("C", proc.read_file(dir .. "/n/b/c.txt"))
      assert.are.equal("D", proc.read_file(dir .. "/n/sub/d.txt"))
      assert.are.equal("E", proc.read_file(dir .. "/n/e/x\\y.txt"))
      assert.is_true(os.execute("test -d " .. proc.quote(dir .. "/n/dir")) == true)
    end)

    python_it("says a zip entry's name is too long", function()
      local core = require "runpod.core"
      make_zip(dir .. "/long.zip", '[("a" * 300, "x")]')
      local n, err = core.unzip(dir .. "/long.zip", dir .. "/l")
      assert.is_nil(n)
      assert.are.equal("zip entry '" .. ("a"):rep(80) .. "...': name too long (a component over "
        .. "255 bytes)", err)
    end)

    python_it("refuses entries nested deeper than runpod.cleanup can remove", function()
      local core = require "runpod.core"
      local function nested(path, depth)
        make_zip(path, ('[("/".join(["d"] * %d) + "/f", "x")]'):format(depth))
      end
      nested(dir .. "/deep.zip", 2000)
      local n, err = core.unzip(dir .. "/deep.zip", dir .. "/out/x")
      assert.is_nil(n)
      assert.matches("^zip entry 'd/d/.-%.%.%.' is nested 2000 directories deep %(at most 100, "
        .. "so that runpod.cleanup can remove it%)$", err)
      assert.is_true(core.remove_tree(dir .. "/out"))
      -- at the limit: extracted, and removable from the folder above
      nested(dir .. "/ok.zip", 100)
      assert.are.equal(1, core.unzip(dir .. "/ok.zip", dir .. "/out/x"))
      assert.is_true(core.remove_tree(dir .. "/out"))
      nested(dir .. "/over.zip", 101)
      n, err = core.unzip(dir .. "/over.zip", dir .. "/out/x")
      assert.is_nil(n)
      assert.matches("is nested 101 directories deep", err)
    end)

    python_it("says when the folder of a failed extraction could not be removed", function()
      local core = require "runpod.core"
      -- a tree already there, deeper than the remover goes
      assert.is_true(os.execute("mkdir -p " .. proc.quote(dir .. "/out/" .. ("d/"):rep(130))))
      make_zip(dir .. "/bad.zip", '[("../escape.txt", "evil")]')
      local n, err = core.unzip(dir .. "/bad.zip", dir .. "/out")
      assert.is_nil(n)
      assert.matches("^zip entry '../escape.txt' would leave the folder %(a '..' component%) "
        .. "%(and the partly extracted folder could not be removed: .*directory tree too deep%)$",
        err)
    end)

    python_it("never creates symbolic links from a zip", function()
      -- external_attr 0o120777 << 16 marks a symbolic link to /etc/passwd
      make_zip(dir .. "/link.zip", '[("link", "/etc/passwd", 0o120777 << 16), ("f.txt", "x")]')
      local r = assert(file_in(serve(dir .. "/link.zip", "link.zip")))
      local extracted = r:match("^.-|.-|(.-)|")
      assert.is_false(os.execute("test -L " .. proc.quote(extracted .. "/link")) == true)
      assert.are.equal("x", proc.read_file(extracted .. "/f.txt"))
    end)

    python_it("stops a zip bomb by the expansion ratio and by the size cap", function()
      make_zip(dir .. "/bomb.zip", '[("zeros.bin", "\\0" * (64 * 1024 * 1024))]')
      local r, err = file_in(serve(dir .. "/bomb.zip", "bomb.zip"))
      assert.is_nil(r)
      assert.matches("zip bomb", err)
      make_zip(dir .. "/big.zip", '[("big.bin", bytes(range(256)) * 8192)]')
      r, err = file_in(serve(dir .. "/big.zip", "big.zip"), "{ max_unzip_bytes = 1000000 }")
      assert.is_nil(r)
      assert.matches("more than 1000000 bytes", err)
      assert.are.equal(0, #proc.output_lines("find " .. proc.quote(dir .. "/job_files")
        .. " -mindepth 1 -type d"))
    end)
  end)

  describe("in runpod-worker", function()
    it("downloads in the example handler", function()
      local worker = proc.worker_abs
      local r = proc.run({ worker, proc.root .. "/handlers/download.lua", "--test_input",
        runpod.json.encode { input = { urls = { base .. "/bytes/a.bin?n=3000",
          base .. "/status/500" } } } },
        { cwd = dir, env = { RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS = "true" } })
      assert.are.equal(0, r.code, r.stdout .. r.stderr)
      local result = r.stdout:match("Job result: (%b{})")
      assert.is_truthy(result, r.stdout)
      local out = runpod.json.decode(result).output
      assert.are.equal(3000, out.files[1].bytes)
      assert.matches("%.bin$", out.files[1].name)
      assert.matches("HTTP 500$", out.files[2].error)
      assert.are.same({}, files_in(dir .. "/jobs"))
    end)

    it("lets other jobs run while a zip is extracted, and a cancel ends the extraction", function()
      if os.execute("command -v python3 >/dev/null 2>&1") ~= true then
        pending("needs python3")
        return
      end
      -- 60,000 files of 4 KB: seconds of extraction. The second job waits
      -- for the first file extracted and ends; it can only while the
      -- extraction does not hold the VM.
      local r = proc.run({ "python3", "-c", [[
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for i in range(60000):
        z.writestr("d%d/f%d.txt" % (i % 100, i), "x" * 4096)
]], dir .. "/many.zip" })
      assert.are.equal(0, r.code, r.stderr)
      local files = proc.root .. "/job_files"
      local emu = helpers.start()
      local worker = helpers.worker(emu, "spec/fixtures/unzipper.lua",
        { RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS = "true" })
      finally(function()
        helpers.stop(emu, worker)
        os.execute("rm -rf " .. proc.quote(files))
      end)
      local url = base .. "/file?path=" .. dir .. "/many.zip&name=many.zip"
      local a = emu.submit({ url = url })
      local b = emu.submit({ wait_for = files .. "/*/d0/f0.txt" })
      local view = emu.wait_done(b, 60)
      assert.are.equal("COMPLETED", view.status, worker.output())
      assert.are.same({ seen = true }, view.output)
      assert.are.equal("IN_PROGRESS", emu.json("GET", "/v2/ep/status/" .. a).status)
      -- Cancelled, the first job ends at its wait, and the extraction stops
      -- and removes its folder; the downloaded archive goes too.
      emu.json("POST", "/v2/ep/cancel/" .. a)
      assert.is_truthy(helpers.eventually(20, function()
        return worker.output():find("Stopped on request", 1, true) ~= nil
      end), worker.output())
      assert.is_truthy(helpers.eventually(20, function()
        return #files_in(files) == 0
      end), table.concat(files_in(files), " "))
      assert.is_nil(worker.output():find("did not stop", 1, true))
    end)

    it("lets other jobs run while downloads wait", function()
      -- Each download is held by the server until all 16 are held at
      -- once: they complete only if no download blocks the other jobs.
      local emu = helpers.start()
      local ids = {}
      for i = 1, 16 do
        ids[i] = emu.submit({ path = "/barrier?key=dl&n=16" })
      end
      local worker = helpers.worker(emu, "spec/fixtures/downloader.lua", { FETCH_URL = base,
        RUNPOD_ALLOW_PRIVATE_DOWNLOAD_URLS = "true" })
      finally(function()
        helpers.stop(emu, worker)
        os.execute("rmdir " .. proc.quote(proc.root .. "/jobs") .. " 2>/dev/null")
      end)
      for _, id in ipairs(ids) do
        local view = emu.wait_done(id, 60)
        assert.are.equal("COMPLETED", view.status, worker.output())
        assert.are.same({ bytes = 3 }, view.output)
      end
    end)
  end)
end)
