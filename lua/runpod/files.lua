-- runpod.files: runpod.cleanup(), the Python SDK's rp_cleanup.clean.
--
--   runpod.cleanup()                     -- the default folders
--   runpod.cleanup { "tmp/frames" }      -- those, then tmp/frames
--
-- Like the Python SDK, the defaults (input_objects, output_objects,
-- job_files and output.zip, relative to the current directory) are always
-- removed, then the folders given. Each path may be a directory tree, a
-- file or a symbolic link; symbolic links are removed themselves and never
-- followed, so nothing outside the named trees is touched. Paths that do
-- not exist are skipped. "", ".", ".." and "/" are refused.
local core = require "runpod.core"

local files = {}

files.DEFAULT_FOLDERS = { "input_objects", "output_objects", "job_files", "output.zip" }

-- cleanup([folders]) -> true | nil, message
-- Tries every path; failures do not raise: the message lists them all,
-- joined with "; ". Raises only on a bad argument.
function files.cleanup(folders)
  if folders ~= nil and type(folders) ~= "table" then
    error(("bad argument #1 to 'cleanup' (table expected, got %s)"):format(type(folders)), 2)
  end
  local paths = {}
  for _, p in ipairs(files.DEFAULT_FOLDERS) do
    paths[#paths + 1] = p
  end
  for i, p in ipairs(folders or {}) do
    if type(p) ~= "string" then
      error(("bad argument #1 to 'cleanup' (folders[%d] must be a string, got %s)"):format(
        i, type(p)), 2)
    end
    paths[#paths + 1] = p
  end
  local errors = {}
  for _, p in ipairs(paths) do
    local ok, err = core.remove_tree(p)
    if not ok then
      errors[#errors + 1] = err
    end
  end
  if #errors > 0 then
    return nil, table.concat(errors, "; ")
  end
  return true
end

return files
