-- runpod.model_cache_path: the Python SDK's
-- resolve_model_cache_path_from_hugginface_repository.
--
--   runpod.model_cache_path("runwayml/stable-diffusion-v1-5:experimental")
--   --> "/runpod/cache/runwayml/stable-diffusion-v1-5/experimental"
--   runpod.model_cache_path("runwayml/stable-diffusion-v1-5")   --> ".../main"
--   runpod.model_cache_path(":experimental")                    --> nil
local log = require "runpod.log"

local model_cache = {}

model_cache.DEFAULT_TEMPLATE = "/runpod/cache/{model}/{revision}"

-- path(repo[, template]) -> path | nil. As Python: the revision is what
-- follows the last ':' ("main" without one), the model what precedes it;
-- nil (with a warning) when the model part is empty. template holds
-- {model} and {revision}.
function model_cache.path(repo, template)
  if type(repo) ~= "string" then
    error(("bad argument #1 to 'model_cache_path' (string expected, got %s)"):format(
      type(repo)), 2)
  end
  if template ~= nil and type(template) ~= "string" then
    error(("bad argument #2 to 'model_cache_path' (string expected, got %s)"):format(
      type(template)), 2)
  end
  local model, revision = repo:match("^(.*):([^:]*)$")
  if not model then
    model, revision = repo, "main"
  end
  if model == "" then
    log.warn(('Unable to resolve the model-cache path for "%s"'):format(repo))
    return nil
  end
  local out = (template or model_cache.DEFAULT_TEMPLATE):gsub("{(%a+)}", function(k)
    if k == "model" then
      return model
    elseif k == "revision" then
      return revision
    end
  end)
  return out
end

return model_cache
