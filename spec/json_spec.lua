-- runpod.json under plain lua5.4 (the codec itself has C tests in
-- runtime/tests/lua/test_json.c; these check the Lua face and lua-cjson
-- interplay).
local json = require("runpod").json

describe("runpod.json", function()
  describe("decode()", function()
    it("keeps integers exact and floats as floats", function()
      local v = json.decode('[9007199254740993, 1, 1.0, -0.5]')
      assert.are.equal(9007199254740993, v[1])
      assert.are.equal("integer", math.type(v[2]))
      assert.are.equal("float", math.type(v[3]))
      assert.are.equal(-0.5, v[4])
    end)

    it("marks arrays, so that [] and {} stay apart", function()
      local v = json.decode('{"a": [], "o": {}}')
      assert.are.equal(json.array_mt, getmetatable(v.a))
      assert.is_nil(getmetatable(v.o))
      assert.are.equal('[]', json.encode(v.a))
      assert.are.equal('{}', json.encode(v.o))
    end)

    it("decodes null to the sentinel lua-cjson uses", function()
      local cjson = require "cjson"
      assert.are.equal(cjson.null, json.decode("null"))
      assert.are.equal(json.null, cjson.null)
      assert.are.equal('{"a":null}', json.encode({ a = cjson.null }))
    end)

    it("returns nil and a message for invalid JSON", function()
      local v, err = json.decode('{"a": 1,}')
      assert.is_nil(v)
      assert.are.equal("invalid JSON at byte 8: expected string key", err)
    end)

    it("raises on a non-string argument", function()
      assert.has_error(function() json.decode(nil) end,
        "bad argument #1 to 'decode' (string expected, got nil)")
    end)
  end)

  describe("encode()", function()
    it("writes floats with a fraction and integers without", function()
      assert.are.equal('[5.0,5,0.1]', json.encode({ 5.0, 5, 0.1 }))
    end)

    it("writes an array marked with json.array even when empty", function()
      assert.are.equal('[]', json.encode(json.array {}))
      assert.are.equal('[]', json.encode(json.empty_array))
      assert.are.equal('{}', json.encode({}))
    end)

    it("names the key path of a value it cannot encode", function()
      local v, err = json.encode({ list = { 1, { f = print } } })
      assert.is_nil(v)
      assert.are.equal("cannot encode function at value.list[2].f", err)
    end)

    it("refuses an array key it would drop, naming it", function()
      local a = json.decode("[1,2]")
      a.k = "lost"
      assert.are.same({ nil, "cannot encode array member at value.k (the array's length is 2)" },
        { json.encode(a) })
      assert.are.same({ nil, "cannot encode array member at value.list.x (the array's length "
        .. "is 2)" }, { json.encode({ list = json.array { 1, 2, x = 3 } }) })
      local d = json.decode("[]")
      d[5] = 1
      assert.are.same({ nil, "cannot encode array member at value[5] (the array's length is 0)" },
        { json.encode(d) })
      assert.are.same({ nil, "cannot encode table key of type boolean at value" },
        { json.encode(json.array { 1, [true] = 2 }) })
      assert.are.equal("[1,null,3]", json.encode(json.array { 1, nil, 3 }))
    end)

    it("refuses an object that would name a member twice", function()
      assert.are.same({ nil, 'cannot encode table with both 1 and "1" as keys at value' },
        { json.encode({ ["1"] = 1, [1] = 2 }) })
      assert.are.same({ nil, 'cannot encode table with both 1.5 and "1.5" as keys at value.t' },
        { json.encode({ t = { ["1.5"] = 1, [1.5] = 2 } }) })
      assert.are.equal('{"1":1,"3":3}', json.encode({ [1] = 1, [3] = 3 }))
    end)

    it("refuses NaN and infinity", function()
      assert.are.equal("cannot encode NaN at value", select(2, json.encode(0 / 0)))
      assert.matches("cannot encode inf", select(2, json.encode(math.huge)))
    end)

    it("refuses cycles but accepts shared tables", function()
      local shared = { 1 }
      assert.are.equal('[[1],[1]]', json.encode({ shared, shared }))
      local t = {}
      t[1] = t
      assert.matches("cycle at value%[1%]", select(2, json.encode(t)))
    end)

    it("encodes a parent that a __tojson changes mid-encode", function()
      local parent = {}
      parent.a = setmetatable({}, { __tojson = function()
        parent.a = nil
        for i = 1, 100 do
          parent["added" .. i] = i
        end
        return 1
      end })
      assert.are.equal('{"a":1}', json.encode(parent))
    end)

    it("encodes an ancestor that a nested __tojson grows", function()
      local root = { x = { y = { z = true } } }
      root.x.y.z = setmetatable({}, { __tojson = function()
        for i = 1, 100 do
          root["added" .. i] = i
          root.x["added" .. i] = i
        end
        return "z"
      end })
      assert.are.equal('{"x":{"y":{"z":"z"}}}', json.encode(root))
    end)

    it("leaves out a member that a __tojson removes before its turn", function()
      local t = {}
      local function remove_other(name, other)
        return setmetatable({}, { __tojson = function()
          t[other] = nil
          return name
        end })
      end
      t.a, t.b = remove_other("a", "b"), remove_other("b", "a")
      local text = json.encode(t)
      assert.is_true(text == '{"a":"a"}' or text == '{"b":"b"}', text)
    end)

    it("encodes an object with more keys than the Lua stack holds, with a __tojson", function()
      -- A million keys do not fit in a stack snapshot; they go in a table.
      local t = {}
      for i = 2, 1000001 do
        t[i] = i
      end
      t[2] = setmetatable({}, { __tojson = function()
        t[3] = nil
        t[1000002] = 0
        return "h"
      end })
      local text = assert(json.encode(t))
      assert.is_truthy(text:find('"2":"h"', 1, true))
      assert.is_falsy(text:find('"3":', 1, true))
      assert.is_falsy(text:find('"1000002":', 1, true))
      assert.is_truthy(text:find('"1000001":1000001', 1, true))
    end)

    it("calls each __tojson once", function()
      local calls = 0
      local hook = setmetatable({}, { __tojson = function()
        calls = calls + 1
        return calls
      end })
      assert.are.equal('{"k":[1,{"x":1}]}', json.encode({ k = { 1, { x = hook } } }))
      assert.are.equal(1, calls)
    end)

    -- Each data problem: nil and a message naming the key, never a raise.
    local function fails(message, value)
      local ok, text, err = pcall(json.encode, value)
      assert.is_true(ok, text)
      assert.is_nil(text)
      assert.are.equal(message, err)
    end

    it("returns nil and a message for every value it cannot encode", function()
      local cycle = {}
      cycle.self = { cycle }
      fails("cannot encode table cycle at value.self[1]", cycle)
      fails("cannot encode function at value.f", { f = print })
      fails("cannot encode thread at value[1]", { coroutine.create(print) })
      fails("cannot encode userdata at value.out", { out = io.stdout })
      fails("cannot encode NaN at value.n", { n = 0 / 0 })
      fails("cannot encode inf at value", math.huge)
      fails("cannot encode -inf at value[2]", { 1, -math.huge })
      fails("cannot encode table key of type boolean at value", { [true] = 1 })
      fails("cannot encode table key inf at value", { [math.huge] = 1 })
    end)

    it("returns nil and a message for a __tojson that fails", function()
      local function hook(fn)
        return setmetatable({}, { __tojson = fn })
      end
      fails("__tojson failed at value.x: boom", { x = hook(function() error("boom", 0) end) })
      fails("__tojson failed at value.x: (no error message)",
        { x = hook(function() error({}) end) })
      fails("cannot encode function at value.x", { x = hook(function() return print end) })
      fails("__tojson failed at value.x[1]: inner",
        { x = hook(function() return { hook(function() error("inner", 0) end) } end) })
    end)

    it("returns nil and a message for nesting deeper than 1000", function()
      local root = {}
      local t = root
      for _ = 1, 1000 do
        t.a = {}
        t = t.a
      end
      fails("nesting deeper than 1000 at value" .. (".a"):rep(47) .. "...." .. ("a."):rep(48)
        .. "a", root)
    end)

    it("returns nil and a message when a __tojson recurses without end", function()
      local t = setmetatable({}, {})
      getmetatable(t).__tojson = function(x) return assert(json.encode(x)) end
      local text, err = json.encode({ t })
      assert.is_nil(text)
      assert.matches("^__tojson failed at value%[1%]: ", err)
    end)

    it("replaces invalid UTF-8 rather than refusing it", function()
      assert.are.equal('["a\\ufffdb","\\ufffd"]', json.encode({ "a\xffb", "\xc0" }))
    end)

    it("round-trips what it decodes", function()
      local text = '{"s":"\\u00e9\\n","n":[1,2.5,null,true],"e":[],"o":{}}'
      local v = json.decode(text)
      assert.are.same(v, json.decode(json.encode(v)))
    end)
  end)
end)

-- A handler whose result hits a data problem, under the real worker: the
-- job fails with EncodeError (or encodes), the worker never aborts.
describe("runpod.json in runpod-worker", function()
  local proc = require "helpers.proc"
  local emulator = require "helpers.emulator"

  local HANDLER = [[
local runpod = require "runpod"
runpod.serverless.start {
  max_memory = "16M",
  handler = function(job)
    if job.input.kind == "mutating" then
      local out = {}
      out.a = setmetatable({}, { __tojson = function()
        out.a = nil
        for i = 1, 100 do
          out["added" .. i] = i
        end
        return 1
      end })
      return out
    elseif job.input.kind == "over_memory" then
      local s = ("x"):rep(6 * 1000 * 1000)
      return { s, s, s }
    end
    return { ok = true }
  end,
}
]]
  local OVER_MEMORY = "handler result cannot be encoded as JSON: out of memory encoding output"

  local dir, handler
  setup(function()
    dir = proc.tmpdir()
    handler = dir .. "/handler.lua"
    proc.write_file(handler, HANDLER)
  end)
  teardown(function()
    os.execute("rm -rf " .. proc.quote(dir))
  end)

  local function local_results(input)
    local r = proc.worker_run({ handler, "--test_input", input })
    local list = {}
    for body in r.stdout:gmatch("Job result: ([^\n]*)") do
      list[#list + 1] = assert(json.decode(body))
    end
    return r, list
  end

  it("encodes a result whose __tojson changes its parent", function()
    local r, list = local_results('{"input": {"kind": "mutating"}}')
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.are.same({ { output = { a = 1 } } }, list)
  end)

  it("fails the job with EncodeError when the result passes max_memory", function()
    local r, list = local_results('[{"input": {"kind": "over_memory"}}, {"input": {}}]')
    assert.are.equal(1, r.code, r.stdout .. r.stderr)
    assert.are.equal(2, #list, r.stdout .. r.stderr)
    local info = json.decode(list[1].error)
    assert.are.equal("EncodeError", info.error_type)
    assert.are.equal(OVER_MEMORY, info.error_message)
    assert.are.same({ output = { ok = true } }, list[2])
  end)

  it("keeps a serverless worker running after such results", function()
    local emu = emulator.start()
    local worker = emulator.worker(emu, handler)
    finally(function() emulator.stop(emu, worker) end)
    local over = emu.wait_done(emu.submit({ kind = "over_memory" }), 60)
    assert.are.equal("FAILED", over.status)
    local info = json.decode(over.error)
    assert.are.equal("EncodeError", info.error_type)
    assert.are.equal(OVER_MEMORY, info.error_message)
    local mutating = emu.wait_done(emu.submit({ kind = "mutating" }), 60)
    assert.are.equal("COMPLETED", mutating.status, json.encode(mutating))
    assert.are.same({ a = 1 }, mutating.output)
    local ok = emu.wait_done(emu.submit({}), 60)
    assert.are.equal("COMPLETED", ok.status)
    assert.is_nil(worker.wait(0), worker.output())
  end)

  it("keeps the local API server running after such results", function()
    local curl = require "helpers.curl"
    local server, url
    for _ = 1, 3 do
      local port = math.random(20000, 30000)
      server = emulator.spawn({ proc.worker, handler, "--rp_serve_api", "--rp_api_port",
        tostring(port) })
      url = "http://127.0.0.1:" .. port
      local up = emulator.eventually(30, function()
        local _, body = curl.request("GET", url .. "/health", nil, nil, 2)
        local v = body and json.decode(body)
        return (v and v.workers and v.workers.ready >= 1) or server.wait(0) ~= nil
      end)
      if up and server.wait(0) == nil then
        break
      end
      server.kill()
      server = nil
    end
    assert.is_table(server, "the API server did not start")
    finally(function() server.stop() end)
    local function runsync(input)
      local code, body = curl.request("POST", url .. "/runsync", json.encode({ input = input }),
        { "Content-Type: application/json" }, 60)
      assert.are.equal(200, code, body)
      return json.decode(body)
    end
    local over = runsync({ kind = "over_memory" })
    assert.are.equal("FAILED", over.status)
    assert.are.equal("EncodeError", json.decode(over.error).error_type)
    local mutating = runsync({ kind = "mutating" })
    assert.are.equal("COMPLETED", mutating.status)
    assert.are.same({ a = 1 }, mutating.output)
    assert.are.equal("COMPLETED", runsync({}).status)
    assert.is_nil(server.wait(0), server.output())
  end)
end)
