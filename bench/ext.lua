-- bench/ext.lua: the same pixel loop (invert RGB, keep alpha) in pure Lua
-- on a runpod.Buffer and in C (handlers/ext/invert.so) on the same buffer:
--   LUA_PATH='lua/?.lua;lua/?/init.lua' LUA_CPATH='handlers/?.so;build/lib/?.so' \
--     lua5.4 bench/ext.lua
local runpod = require "runpod"
local core = require "runpod.core"
local invert = require "ext.invert"

local W, H = 1024, 1024         -- one RGBA image, 4 MiB
local ROUNDS = 3

local function best(fn)
  local t = math.huge
  for _ = 1, ROUNDS do
    local t0 = core.monotonic()
    fn()
    t = math.min(t, core.monotonic() - t0)
  end
  return t
end

local img = runpod.buffer.new(W * H * 4)
for i = 0, W * H - 1 do
  img:append(string.char(i % 256, (i >> 8) % 256, (i * 3) % 256, 255))
end
local n = #img

-- Pure Lua over the buffer, byte by byte through :byte/:set_byte.
local function lua_buffer()
  for i = 1, n, 4 do
    img:set_byte(i, 255 - img:byte(i))
    img:set_byte(i + 1, 255 - img:byte(i + 1))
    img:set_byte(i + 2, 255 - img:byte(i + 2))
  end
end

-- Pure Lua the idiomatic way: string.byte over the bytes, string.char into
-- a table of chunks, concatenated.
local function lua_string()
  local s = img:tostring()
  local out = {}
  for i = 1, n, 4 do
    local r, g, b, a = s:byte(i, i + 3)
    out[#out + 1] = string.char(255 - r, 255 - g, 255 - b, a)
  end
  return table.concat(out)
end

local function c_ext()
  invert.rgb(img, 4)
end

local before = img:tostring()
c_ext()
local by_c = img:tostring()
c_ext()
lua_buffer()
assert(img:tostring() == by_c, "the Lua loop and the C loop disagree")
lua_buffer()
assert(img:tostring() == before)
assert(lua_string() == by_c)

local t_c = best(c_ext)
local t_lb = best(lua_buffer)
local t_ls = best(lua_string)
local mb = n / 1e6
print(("image %dx%d RGBA, %.1f MB, best of %d"):format(W, H, mb, ROUNDS))
print(("C ext (invert.rgb)        %9.2f ms  %8.1f MB/s"):format(t_c * 1e3, mb / t_c))
print(("Lua, buffer byte/set_byte %9.2f ms  %8.1f MB/s  (%.0fx the C time)"):format(
  t_lb * 1e3, mb / t_lb, t_lb / t_c))
print(("Lua, string.byte/char     %9.2f ms  %8.1f MB/s  (%.0fx the C time)"):format(
  t_ls * 1e3, mb / t_ls, t_ls / t_c))
