-- The example handlers, tested the way users test theirs: load the script
-- with runpod.serverless.load and run jobs through run_job, which returns
-- exactly what the worker would post.
local runpod = require "runpod"
local runner = require "runpod.internal.runner"
local json = runpod.json

local function load(name)
  return runpod.serverless.load("handlers/" .. name .. ".lua")
end

describe("example handlers", function()
  local level
  setup(function()
    level = runpod.log.get_level()
    runpod.log.set_level("ERROR")
  end)
  teardown(function() runpod.log.set_level(level) end)

  it("echo returns its input", function()
    local echo = load("echo")
    assert.are.same({ output = { echo = { x = 1 } } },
      runpod.serverless.run_job(echo.handler, { id = "1", input = { x = 1 } }))
  end)

  it("failing fails the job with the error JSON", function()
    local failing = load("failing")
    local res = runpod.serverless.run_job(failing.handler, { id = "1", input = {} })
    local info = assert(json.decode(res.error))
    assert.matches("input.prompt must be a string, got nil", info.error_message, 1, true)
  end)

  it("custom_error reports an error and keeps its output", function()
    local h = load("custom_error").handler
    assert.are.same({ output = { factorial = 120 } },
      runpod.serverless.run_job(h, { id = "1", input = { n = 5 } }))
    assert.are.same(
      { error = "input.n must be a non-negative integer", output = { received = 1.5 } },
      runpod.serverless.run_job(h, { id = "1", input = { n = 1.5 } }))
  end)

  it("streaming yields one partial per word", function()
    local config = load("streaming")
    local partials = {}
    local job = { id = "1", input = { words = { "a", "b" } } }
    local res = runpod.serverless.run_job(config.handler, job,
      { return_aggregate_stream = config.return_aggregate_stream,
        on_partial = function(p) partials[#partials + 1] = p.token end })
    assert.are.same({ "a", "b" }, partials)
    assert.are.same({ output = { { index = 1, token = "a" }, { index = 2, token = "b" } } }, res)
  end)

  it("refresh asks for a refresh only when told to", function()
    local h = load("refresh").handler
    local _, info = runner.run(h, { id = "1", input = { refresh = true } })
    assert.is_true(info.refresh)
    _, info = runner.run(h, { id = "2", input = {} })
    assert.is_false(info.refresh)
  end)
end)
