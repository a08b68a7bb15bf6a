-- .gitignore: what the example handlers leave in the folder they run from
-- (handlers/upload.lua without a bucket: simulated_uploaded/;
-- handlers/download.lua: jobs/<id>/) never shows up in `git status`.
local proc = require "helpers.proc"

describe(".gitignore", function()
  it("hides the files the example handlers leave behind", function()
    if not os.execute("command -v git >/dev/null 2>&1") then
      pending("git is not installed")
      return
    end
    local dir = proc.tmpdir()
    assert.are.equal(0, proc.run({ "git", "init", "-q", dir }).code)
    assert.are.equal(0, proc.run({ "cp", proc.root .. "/.gitignore", dir }).code)
    local r = proc.worker_run({ proc.root .. "/handlers/upload.lua", "--test_input",
      '{"input": {"text": "hi"}}' }, { cwd = dir })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.is_truthy(io.open(dir .. "/simulated_uploaded/result.txt"))
    os.execute("mkdir -p " .. proc.quote(dir .. "/jobs/j1/downloaded_files") .. " && echo x >"
      .. proc.quote(dir .. "/jobs/j1/downloaded_files/f"))
    r = proc.run({ "git", "status", "--porcelain", "--untracked-files=all" }, { cwd = dir })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("?? .gitignore\n", r.stdout)
    os.execute("rm -rf " .. proc.quote(dir))
  end)
end)
