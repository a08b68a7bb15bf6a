-- runpod.validator: runpod.validate(input, schema), the Python SDK's
-- rp_validator.validate in Lua form.
--
--   local schema = {
--     prompt = { type = "string", required = true },
--     steps = { type = "integer", required = false, default = 20,
--               constraints = function(n) return n >= 1 and n <= 100 end },
--   }
--   local v = runpod.validate(job.input, schema)
--   if v.errors then return { error = v.errors } end
--   local input = v.validated_input
--
-- Rules, in the Python SDK's order (its messages, word for word):
-- 1. each input key not in the schema: "Unexpected input. K is not a valid
--    input option.";
-- 2. a rule that is not a table is decoded as JSON text when it is a string,
--    else (or when that fails) "Schema error, K is not a dictionary.";
-- 3. per schema key: no type -> "Schema error, missing type for K.";
--    no required field, or required and missing -> "K is a required
--    input."; optional and missing -> the default is used, and without one
--    "Schema error, missing default value for K.";
-- 4. per present value: a "number" (float) rule turns an integer (a big
--    integer too) into a float; a value of the wrong type -> "K should be
--    T type, not U." (json.null, Python's None, passes only a rule whose
--    default is json.null; a table is an array with json.array_mt or when
--    a non-empty sequence, else a table, so a decoded {} is no array);
-- 5. constraints(value) (nil when absent) must return true, else "K does not
--    meet the constraints." A constraint that raises counts as not met.
-- Keys are visited in sorted order, so errors come in a stable order.
-- The result is { errors = { msg, ... } } or { validated_input = copy },
-- where copy is a shallow copy of input with the defaults filled in.
local core = require "runpod.core"

local json = core.json
local null = json.null
local array_mt = json.array_mt

local validator = {}

-- Whether a table is a JSON array, as the encoder writes it: one with the
-- array metatable (every array the decoder made, json.array), or a
-- non-empty sequence. An empty table without it is an object, as {} is
-- when decoded, so that isinstance's dict and list stay apart.
local function is_array(v)
  if getmetatable(v) == array_mt then
    return true
  end
  if next(v) == nil then
    return false
  end
  local n = #v
  for k in pairs(v) do
    if math.type(k) ~= "integer" or k < 1 or k > n then
      return false
    end
  end
  return true
end

-- Whether v is an integer beyond 64 bits, as the decoder gives one (a
-- Python int all the same).
local function is_bigint(v)
  return type(v) == "userdata" and getmetatable(v) == "bigint"
end

-- Checks per type name; Python's names are accepted as aliases.
local CHECKS = {
  string = function(v) return type(v) == "string" end,
  integer = function(v) return math.type(v) == "integer" or is_bigint(v) end,
  number = function(v) return type(v) == "number" end,
  boolean = function(v) return type(v) == "boolean" end,
  table = function(v) return type(v) == "table" and not is_array(v) end,
  array = function(v) return type(v) == "table" and is_array(v) end,
}
local ALIASES = {
  str = "string", int = "integer", float = "number", bool = "boolean",
  dict = "table", object = "table", list = "array",
}

-- The type name of a value as the messages show it.
local function type_of(v)
  if type(v) == "number" then
    return math.type(v)
  end
  if type(v) == "table" then
    return is_array(v) and "array" or "table"
  end
  if v == null then
    return "null"
  end
  if is_bigint(v) then
    return "integer"
  end
  return type(v)
end

-- The list of canonical type names of a rule's type, or nil and the
-- offending name.
local function type_names(t)
  local list = type(t) == "table" and t or { t }
  local names = {}
  for i, name in ipairs(list) do
    local canonical = type(name) == "string" and (ALIASES[name] or name)
    if not canonical or not CHECKS[canonical] then
      return nil, tostring(name)
    end
    names[i] = canonical
  end
  if #names == 0 then
    return nil, tostring(t)
  end
  return names
end

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do
    keys[#keys + 1] = k
  end
  table.sort(keys, function(a, b)
    if type(a) == type(b) and (type(a) == "string" or type(a) == "number") then
      return a < b
    end
    return type(a) < type(b)
  end)
  return keys
end

-- validate(input, schema) -> { errors = {...} } | { validated_input = {...} }
-- Raises only on arguments that are not tables.
function validator.validate(input, schema)
  if type(input) ~= "table" then
    error(("bad argument #1 to 'validate' (table expected, got %s)"):format(type(input)), 2)
  end
  if type(schema) ~= "table" then
    error(("bad argument #2 to 'validate' (table expected, got %s)"):format(type(schema)), 2)
  end
  local errors = {}
  local function add(fmt, ...)
    errors[#errors + 1] = fmt:format(...)
  end
  local validated = {}
  for k, v in pairs(input) do
    validated[k] = v
  end
  local keys = sorted_keys(schema)

  for _, key in ipairs(sorted_keys(input)) do
    if schema[key] == nil then
      add("Unexpected input. %s is not a valid input option.", tostring(key))
    end
  end

  local rules = {}
  for _, key in ipairs(keys) do
    local r = schema[key]
    if type(r) == "string" then
      r = json.decode(r)
    end
    if type(r) ~= "table" then
      add("Schema error, %s is not a dictionary.", tostring(key))
      r = nil
    end
    rules[key] = r
  end

  for _, key in ipairs(keys) do
    local r = rules[key]
    if r then
      if r.type == nil then
        add("Schema error, missing type for %s.", tostring(key))
      end
      if r.required == nil then
        add("%s is a required input.", tostring(key))
      elseif r.required and input[key] == nil then
        add("%s is a required input.", tostring(key))
      elseif not r.required and input[key] == nil then
        if r.default ~= nil then
          validated[key] = r.default
        else
          add("Schema error, missing default value for %s.", tostring(key))
        end
      end
    end
  end

  for _, key in ipairs(keys) do
    local r = rules[key]
    local v = validated[key]
    if r and r.type ~= nil and v ~= nil then
      local names, bad = type_names(r.type)
      if not names then
        add("Schema error, unknown type %s for %s.", bad, tostring(key))
      else
        if names[1] == "number" and #names == 1 and (math.type(v) == "integer"
            or is_bigint(v)) then
          v = v + 0.0                 -- Python: float(int) for a float rule
          validated[key] = v
        end
        -- Python skips the check when the value has the default's type:
        -- so None passes only a rule whose default is None.
        local ok = v == null and r.default == null
        for _, name in ipairs(names) do
          ok = ok or CHECKS[name](v)
        end
        if not ok then
          add("%s should be %s type, not %s.", tostring(key), table.concat(names, " or "),
            type_of(v))
        end
      end
    end
    if r and r.constraints ~= nil then
      local ok, met = pcall(r.constraints, validated[key])
      if not ok or not met then
        add("%s does not meet the constraints.", tostring(key))
      end
    end
  end

  if #errors > 0 then
    return { errors = errors }
  end
  return { validated_input = validated }
end

return validator
