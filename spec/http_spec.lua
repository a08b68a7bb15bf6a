-- runpod.http against a real HTTP server on 127.0.0.1 (build/spec/
-- fake_inference): blocking under plain lua5.4, yielding inside the
-- runtime, and the forwarding handler end to end.
local runpod = require "runpod"
local helpers = require "helpers.emulator"
local proc = require "helpers.proc"
local core = require "runpod.core"
local http = runpod.http

describe("runpod.http", function()
  local server, base

  setup(function()
    server, base = helpers.fake_inference()
  end)

  teardown(function()
    server.stop()
  end)

  describe("get()", function()
    it("returns status, headers and body", function()
      local res = assert(http.get(base .. "/hello"))
      assert.are.equal(200, res.status)
      assert.are.equal("hello", res.body)
      assert.are.equal("text/plain", res.headers["content-type"])
    end)

    it("treats an HTTP error status as a response", function()
      local res = assert(http.get(base .. "/status/503"))
      assert.are.equal(503, res.status)
    end)

    it("returns nil and a message when nothing listens", function()
      local res, err = http.get("http://127.0.0.1:1/nothing", { timeout = 5 })
      assert.is_nil(res)
      assert.matches("^GET http://127.0.0.1:1/nothing: ", err)
    end)

    it("returns nil and a message on a timeout", function()
      local res, err = http.get(base .. "/slow?ms=3000", { timeout = 0.3 })
      assert.is_nil(res)
      assert.matches("timed out", err)
    end)
  end)

  describe("post()", function()
    it("sends the body and the headers", function()
      local res = assert(http.post(base .. "/echo", "payload", { headers = { ["X-Test"] = "t1" } }))
      assert.are.same({ method = "POST", body = "payload", x_test = "t1" },
        runpod.json.decode(res.body))
    end)
  end)

  describe("request()", function()
    it("raises on bad arguments", function()
      assert.has_error(function() http.request("x") end,
        "bad argument #1 to 'request' (table expected, got string)")
      assert.has_error(function() http.request({}) end,
        "bad argument #1 to 'request' (url must be a string, got nil)")
    end)

    it("streams chunks and server-sent events", function()
      local body = '{"messages":[{"content":"alpha beta gamma"}],"stream":true}'
      local res = assert(http.post(base .. "/v1/chat/completions", body, { stream = true }))
      assert.are.equal(200, res.status)
      local words = {}
      for event in res:events() do
        if event.data == "[DONE]" then
          break
        end
        words[#words + 1] = runpod.json.decode(event.data).choices[1].delta.content
      end
      assert.are.same({ "alpha", "beta", "gamma" }, words)
      local all = {}
      res = assert(http.post(base .. "/v1/chat/completions", body, { stream = true }))
      for chunk in res:chunks() do
        all[#all + 1] = chunk
      end
      assert.matches("data: %[DONE%]", table.concat(all))
    end)
  end)

  -- A loop over a stream that is left early (break, return or an error)
  -- closes the transfer then, not when the response is collected: the
  -- server sees the request end before its response was sent.
  describe("a stream loop left early", function()
    local long = {}
    for i = 1, 60 do
      long[i] = "w" .. i
    end
    local body = '{"messages":[{"content":"' .. table.concat(long, " ")
      .. '"}],"stream":true}'

    local function aborted()
      return tonumber(assert(http.get(base .. "/aborted")).body)
    end

    local exits = {
      ["break"] = function(iterate)
        for _ in iterate() do -- luacheck: ignore 512 (leaves at the first item)
          break
        end
      end,
      ["return"] = function(iterate)
        for _ in iterate() do -- luacheck: ignore 512 (leaves at the first item)
          return
        end
      end,
      ["an error"] = function(iterate)
        local ok = pcall(function()
          for _ in iterate() do
            error("stop here")
          end
        end)
        assert.is_false(ok)
      end,
    }

    for _, method in ipairs { "chunks", "events" } do
      for how, leave in pairs(exits) do
        it(method .. "() closes the transfer on " .. how, function()
          local before = aborted()
          local res = assert(http.post(base .. "/v1/chat/completions", body, { stream = true }))
          leave(function() return res[method](res) end)
          -- The stream lasts over a second; waiting longer than that tells
          -- a closed transfer from one the server finished.
          local seen = helpers.eventually(5, function() return aborted() > before end, 0.02)
          assert.is_true(seen, "the server never saw the request end early")
          -- res is still referenced here, so nothing but the loop closed it.
          assert.has_error(function() core.http_read(res.handle) end,
            "attempt to use a closed HTTP stream")
        end)
      end
    end
  end)

  describe("in runpod-worker", function()
    it("streams the forwarding handler's tokens in local test mode", function()
      local r = proc.worker_run({ "handlers/forward.lua", "--test_input",
        '{"input": {"prompt": "one two three four"}}' }, { env = { INFERENCE_URL = base } })
      assert.are.equal(0, r.code, r.stdout)
      local tokens = {}
      for t in r.stdout:gmatch('Stream partial: {"output":"(%w+)"}') do
        tokens[#tokens + 1] = t
      end
      assert.are.same({ "one", "two", "three", "four" }, tokens)
      assert.matches('Job result: {"output":["one","two","three","four"]}', r.stdout, 1, true)
    end)

    it("skips a chunk without choices and fails on an error event in forward.lua", function()
      local r = proc.worker_run({ "handlers/forward.lua", "--test_input",
        '{"input": {"prompt": "one USAGE two"}}' }, { env = { INFERENCE_URL = base } })
      assert.are.equal(0, r.code, r.stdout)
      assert.matches('Job result: {"output":["one","two"]}', r.stdout, 1, true)
      r = proc.worker_run({ "handlers/forward.lua", "--test_input",
        '{"input": {"prompt": "one OOPS two"}}' }, { env = { INFERENCE_URL = base } })
      assert.matches("inference server: engine overloaded", r.stdout .. r.stderr, 1, true)
      assert.is_nil(r.stdout:find('Job result: {"output":["one"]}', 1, true), r.stdout)
    end)

    it("closes a stream when a handler leaves its loop early", function()
      for _, method in ipairs { "chunks", "events" } do
        local r = proc.worker_run({ "spec/fixtures/stream_leaver.lua", "--test_input",
          '{"input": {"method": "' .. method .. '"}}' }, { env = { FETCH_URL = base } })
        assert.are.equal(0, r.code, r.stdout)
        assert.matches('Job result: {"output":{"closed":true}}', r.stdout, 1, true)
      end
    end)

    it("lets many jobs of one VM wait on HTTP at once", function()
      local emu = helpers.start()
      local ids = {}
      for i = 1, 16 do
        ids[i] = emu.submit({ path = "/slow?ms=1500" })
      end
      local worker = helpers.worker(emu, "spec/fixtures/fetcher.lua", { FETCH_URL = base,
        RUNPOD_PING_INTERVAL = "100" })
      for _, id in ipairs(ids) do
        local view = emu.wait_done(id, 60)
        assert.are.equal("COMPLETED", view.status, worker.output())
        assert.are.same({ status = 200, body = "slept" }, view.output)
      end
      local most = 0
      for _, e in ipairs(emu.log()) do
        if e.path:find("/ping/") and e.query:find("job_id=", 1, true) then
          local ids_in = e.query:match("job_id=([^&]*)")
          most = math.max(most, select(2, ids_in:gsub(",", "")) + 1)
        end
      end
      helpers.stop(emu, worker)
      assert.is_true(most >= 8, "at most " .. most .. " jobs were in flight at once")
    end)
  end)
end)
