-- runpod.internal.worker under plain lua5.4: the concurrency_modifier
-- rules and fitness checks, which runpod-worker's serverless mode calls.
local runpod = require "runpod"
local worker = require "runpod.internal.worker"

describe("runpod.internal.worker", function()
  local level
  before_each(function()
    level = runpod.log.get_level()
    runpod.log.set_level("NOTSET")
  end)
  after_each(function() runpod.log.set_level(level) end)

  local function with_modifier(fn)
    runpod.serverless.start { handler = print, concurrency_modifier = fn }
  end

  describe("concurrency()", function()
    it("returns the modifier's integer", function()
      with_modifier(function(current) return current + 3 end)
      assert.are.equal(5, worker.concurrency(2))
    end)

    it("accepts an integral float", function()
      with_modifier(function() return 4.0 end)
      assert.are.equal(4, worker.concurrency(1))
      assert.are.equal("integer", math.type(worker.concurrency(1)))
    end)

    it("keeps the current value when the modifier raises or misbehaves", function()
      for _, bad in ipairs {
        function() error("boom") end,
        function() return nil end,
        function() return 2.5 end,
        function() return 0 end,
        function() return "8" end,
      } do
        with_modifier(bad)
        assert.are.equal(3, worker.concurrency(3))
      end
    end)

    it("keeps the value without a modifier", function()
      runpod.serverless.start { handler = print }
      assert.are.equal(7, worker.concurrency(7))
    end)
  end)

  describe("fitness()", function()
    it("reports the first failing check", function()
      runpod.serverless.register_fitness_check(function() end)
      runpod.serverless.register_fitness_check(function() error("disk full", 0) end)
      local ok, err = worker.fitness()
      assert.is_nil(ok)
      assert.are.equal("fitness check 2 failed: disk full", err)
    end)
  end)
end)
