-- runpod.model_cache_path: the Python SDK's
-- resolve_model_cache_path_from_hugginface_repository, case by case.
local runpod = require "runpod"

describe("runpod.model_cache_path", function()
  local level
  setup(function()
    level = runpod.log.get_level()
    runpod.log.set_level("ERROR")
  end)
  teardown(function() runpod.log.set_level(level) end)

  it("maps org/model:revision to /runpod/cache/org/model/revision", function()
    assert.are.equal("/runpod/cache/runwayml/stable-diffusion-v1-5/experimental",
      runpod.model_cache_path("runwayml/stable-diffusion-v1-5:experimental"))
  end)

  it("uses the revision main when there is none", function()
    assert.are.equal("/runpod/cache/runwayml/stable-diffusion-v1-5/main",
      runpod.model_cache_path("runwayml/stable-diffusion-v1-5"))
    assert.are.equal("/runpod/cache/stable-diffusion-v1-5/main",
      runpod.model_cache_path("stable-diffusion-v1-5:main"))
  end)

  it("splits at the last ':' as Python's rsplit(':', 1)", function()
    assert.are.equal("/runpod/cache/a:b/c", runpod.model_cache_path("a:b:c"))
    assert.are.equal("/runpod/cache/m/", runpod.model_cache_path("m:"))
  end)

  it("returns nil when the model part is empty", function()
    assert.is_nil(runpod.model_cache_path(":experimental"))
    assert.is_nil(runpod.model_cache_path(""))
  end)

  it("takes a path template with {model} and {revision}", function()
    assert.are.equal("/models/org/m@v1", runpod.model_cache_path("org/m:v1",
      "/models/{model}@{revision}"))
  end)

  it("raises on a repository that is not a string", function()
    assert.has_error(function() runpod.model_cache_path(1) end,
      "bad argument #1 to 'model_cache_path' (string expected, got number)")
  end)
end)
