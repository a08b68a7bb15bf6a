-- splice_docs.lua FILE: replaces the lines between FILE's "BEGIN GENERATED"
-- and "END GENERATED" marker lines with standard input (make docs).
local path = assert(arg[1], "usage: splice_docs.lua FILE < generated")
local f = assert(io.open(path, "rb"))
local text = f:read("a")
f:close()
local head, tail = text:match("^(.-BEGIN GENERATED[^\n]*\n).-(\n?[^\n]*END GENERATED.*)$")
assert(head, path .. ": no BEGIN GENERATED ... END GENERATED lines")
local body = io.read("a")
if tail:sub(1, 1) == "\n" then
  tail = tail:sub(2)
end
f = assert(io.open(path, "wb"))
f:write(head, body, tail)
f:close()
