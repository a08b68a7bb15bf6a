-- luacheck: std +busted
-- Tests of handler.lua, run from the worker's folder:
--   lua5.4 /usr/bin/busted spec/
-- runpod.serverless.load runs the script without starting a worker;
-- run_job returns exactly what the worker would post for a job.
local runpod = require "runpod"

describe("handler", function()
  local handler

  setup(function()
    handler = runpod.serverless.load("handler.lua").handler
  end)

  local function run(input)
    return runpod.serverless.run_job(handler, { id = "test", input = input })
  end

  it("keeps the first max_words words", function()
    assert.are.same({ output = { text = "a b", words = 2 } },
      run { prompt = "a b c", max_words = 2 })
  end)

  it("fills in the defaults", function()
    assert.are.same({ output = { text = "A B C", words = 3 } },
      run { prompt = "a b c", uppercase = true })
  end)

  it("fails the job on invalid input", function()
    assert.are.same({ error = "prompt must be a non-empty string" }, run { prompt = "" })
    assert.are.same({ error = "max_words must be an integer from 1 to 256" },
      run { prompt = "x", max_words = 2.5 })
    assert.are.same({ error = "unknown input key 'temperature'" },
      run { prompt = "x", temperature = 1 })
    assert.are.same({ error = "input must be an object" }, run("text"))
  end)

  it("runs test_input.json", function()
    local f = assert(io.open("test_input.json"))
    local job = runpod.json.decode(f:read("a"))
    f:close()
    assert.are.same({ output = { text = "hello from a", words = 3 } }, run(job.input))
  end)
end)
