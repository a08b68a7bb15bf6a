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
        function() return "8" end,
      } do
        with_modifier(bad)
        assert.are.equal(3, worker.concurrency(3))
      end
    end)

    it("answers 0 for 0 or less: no new job is taken, as in the Python SDK", function()
      with_modifier(function() return 0 end)
      assert.are.equal(0, worker.concurrency(3))
      with_modifier(function() return -2 end)
      assert.are.equal(0, worker.concurrency(3))
    end)

    it("keeps the value without a modifier", function()
      runpod.serverless.start { handler = print }
      assert.are.equal(7, worker.concurrency(7))
    end)
  end)

  -- Fresh runpod modules, so that each test sees only its own checks.
  local function fresh()
    for name in pairs(package.loaded) do
      if name:match("^runpod") and name ~= "runpod.core" then
        package.loaded[name] = nil
      end
    end
    return require("runpod").serverless, require("runpod.internal.worker")
  end

  describe("fitness()", function()
    insulate("", function()
      it("reports the first failing check as \"<error_type>: <message>\"", function()
        local serverless, w = fresh()
        serverless.register_fitness_check(function() end)
        serverless.register_fitness_check(function() error("disk full", 0) end)
        local ok, err = w.fitness()
        assert.is_nil(ok)
        assert.are.equal("LuaError: disk full", err)
      end)
    end)

    insulate("", function()
      it("takes the error_type of a table error", function()
        local serverless, w = fresh()
        serverless.register_fitness_check(function()
          error({ error_type = "GPUError", message = "no device" })
        end)
        assert.are.same({ nil, "GPUError: no device" }, { w.fitness() })
      end)
    end)
  end)

  describe("fitness_failed()", function()
    insulate("", function()
      it("names a check by the caller's local variable, as Python's func.__name__", function()
        local serverless, w = fresh()
        local function check_disk() error("full") end
        serverless.register_fitness_check(check_disk)
        assert.is_nil(w.fitness())
        assert.are.equal("check_disk", w.fitness_failed())
      end)
    end)

    insulate("", function()
      it("names a check held in a global by that global", function()
        local serverless, w = fresh()
        rawset(_G, "check_global_gpu", function() error("no GPU") end)
        finally(function() rawset(_G, "check_global_gpu", nil) end)
        serverless.register_fitness_check(rawget(_G, "check_global_gpu"))
        assert.is_nil(w.fitness())
        assert.are.equal("check_global_gpu", w.fitness_failed())
      end)
    end)

    insulate("", function()
      it("names an anonymous check by its file and line", function()
        local serverless, w = fresh()
        local line = debug.getinfo(1, "l").currentline + 1
        serverless.register_fitness_check(function() error("no") end)
        assert.is_nil(w.fitness())
        assert.are.equal("worker_module_spec.lua:" .. line, w.fitness_failed())
      end)
    end)

    insulate("", function()
      it("takes a name given, and is nil when every check passed", function()
        local serverless, w = fresh()
        serverless.register_fitness_check(function() end, "models_present")
        assert.is_true(w.fitness())
        assert.is_nil(w.fitness_failed())
        serverless.register_fitness_check(function() error("x") end, "gpu_ready")
        assert.is_nil(w.fitness())
        assert.are.equal("gpu_ready", w.fitness_failed())
        assert.has_error(function() serverless.register_fitness_check(print, 5) end,
          "bad argument #2 to 'register_fitness_check' (non-empty string expected, got number)")
        assert.has_error(function() serverless.register_fitness_check(print, "") end,
          "bad argument #2 to 'register_fitness_check' (non-empty string expected, got empty "
          .. "string)")
      end)
    end)
  end)
end)
