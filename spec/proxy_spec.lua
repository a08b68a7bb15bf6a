-- spec/proxy_spec.lua: runpod.proxy under plain lua5.4 (blocking HTTP)
-- against build/spec/fake_inference: the input shapes, model defaulting,
-- the error shape; the same handler runs under runpod-worker in
-- spec/backend_spec.lua and spec/openai/.
local runpod = require "runpod"
local helpers = require "helpers.emulator"

local json = runpod.json
local proxy = runpod.proxy

describe("runpod.proxy", function()
  describe("normalize()", function()
    it("takes the OpenAI passthrough, with and without a body", function()
      assert.are.same({ "/v1/completions", "POST", { prompt = "a" } },
        { proxy.normalize({ openai_route = "/v1/completions", openai_input = { prompt = "a" } }) })
      assert.are.same({ "/v1/models", "GET" }, { proxy.normalize({ openai_route = "/v1/models" }) })
      assert.are.same({ "/v1/chat/completions", "POST", { x = 1 } },
        { proxy.normalize({ openai_input = { x = 1 } }) })
    end)

    it("takes a generic route; the method follows the body", function()
      assert.are.same({ "/v1/completions", "POST", { prompt = "a" } },
        { proxy.normalize({ route = "/v1/completions", body = { prompt = "a" } }) })
      assert.are.same({ "/health", "GET" }, { proxy.normalize({ route = "/health" }) })
      assert.are.same({ "/tokenize", "PUT", { a = 1 } },
        { proxy.normalize({ route = "/tokenize", body = { a = 1 }, method = "put" }) })
    end)

    it("maps the legacy shorthand", function()
      assert.are.same({ "/v1/completions", "POST",
        { prompt = "p", max_tokens = 5, stream = false } },
        { proxy.normalize({ prompt = "p", sampling_params = { max_tokens = 5 } }) })
      local messages = { { role = "user", content = "hi" } }
      assert.are.same({ "/v1/chat/completions", "POST", { messages = messages, stream = true } },
        { proxy.normalize({ messages = messages, stream = true }) })
    end)

    it("reads the input as Python does: empty values are false", function()
      assert.are.same({ "/v1/models", "GET" },
        { proxy.normalize({ openai_route = "/v1/models", openai_input = {} }) })
      assert.are.same({ "/health", "GET" }, { proxy.normalize({ route = "/health", body = {} }) })
      assert.are.same({ "/v1/completions", "POST", { prompt = "", stream = false } },
        { proxy.normalize({ prompt = "", stream = 0 }) })
    end)

    it("refuses a route that is not a path and a method that is not a name", function()
      -- base_url .. "@host/x" would send the request to another host, and
      -- a method with a line break would forge the request's header.
      assert.are.same({ nil, [[route must be a path beginning with '/', got "@10.0.0.1/x"]] },
        { proxy.normalize({ route = "@10.0.0.1/x" }) })
      assert.are.same({ nil, "route must be a path beginning with '/', got table" },
        { proxy.normalize({ openai_route = { "x" }, openai_input = { a = 1 } }) })
      assert.are.same({ nil, [[route must be a path beginning with '/', got "/v1\nX: y"]] },
        { proxy.normalize({ openai_route = "/v1\nX: y" }) })
      assert.are.same(
        { nil, [[method must be an HTTP method name such as "POST", got "GET /x\13"]] },
        { proxy.normalize({ route = "/v1/models", method = "GET /x\r" }) })
      assert.are.same({ nil, [[method must be an HTTP method name such as "POST", got number]] },
        { proxy.normalize({ route = "/v1/models", method = 5 }) })
    end)

    it("names the shapes when none is given", function()
      assert.are.same({ nil, "Job input must contain one of: openai_input (+openai_route), "
        .. "route (+body), or prompt/messages." }, { proxy.normalize({ x = 1 }) })
      assert.are.same({ nil, "job input must be an object, got string" },
        { proxy.normalize("hi") })
    end)
  end)

  describe("handler()", function()
    local server, base

    setup(function()
      server, base = helpers.fake_inference()
    end)

    teardown(function()
      server.kill()
    end)

    it("raises on bad options", function()
      assert.has_error(function() proxy.handler("x") end,
        "bad argument #1 to 'handler' (table expected, got string)")
      assert.has_error(function() proxy.handler({}) end,
        "bad argument #1 to 'handler' (base_url must be a string, got nil)")
    end)

    it("yields the decoded answer, filling in the model from /v1/models", function()
      local handler = proxy.handler { base_url = base }
      local result = runpod.serverless.run_job(handler, { id = "j", input = {
        messages = { { role = "user", content = "a b" } } } },
        { return_aggregate_stream = true })
      assert.are.equal("2 words", result.output[1].choices[1].message.content)
      assert.are.equal("fake-model", result.output[1].model)
    end)

    it("yields raw SSE text when the body streams", function()
      local handler = proxy.handler { base_url = base, model = "mine" }
      local result = runpod.serverless.run_job(handler, { id = "j", input = {
        prompt = "x y", stream = true } }, { return_aggregate_stream = true })
      local text = table.concat(result.output)
      assert.matches('"model":"mine"', text, 1, true)
      assert.matches('"text":"x"', text, 1, true)
      assert.matches("data: [DONE]", text, 1, true)
    end)

    it("never yields a partial that ends inside a UTF-8 character", function()
      -- The backend's write of SPLIT's event stops inside an emoji, and
      -- the rest comes 1.5 s later.
      local handler = proxy.handler { base_url = base }
      local result = runpod.serverless.run_job(handler, { id = "j", input = {
        messages = { { role = "user", content = "a SPLIT b" } }, stream = true } },
        { return_aggregate_stream = true })
      for _, partial in ipairs(result.output) do
        assert.is_truthy(utf8.len(partial), ("%q"):format(partial))
      end
      assert.matches('"content":"\u{fc}\u{1F600}"', table.concat(result.output), 1, true)
    end)

    it("fails the job with the worker_error shape on an HTTP error", function()
      local handler = proxy.handler { base_url = base, name = "fake" }
      local result = runpod.serverless.run_job(handler, { id = "j", input = {
        openai_route = "/v1/completions", openai_input = { model = "missing", prompt = "a" } } })
      local err = json.decode(result.error)
      assert.are.equal("worker_error", err.type)
      assert.are.equal(json.null, err.code)
      assert.matches("^fake returned HTTP 404: ", err.message)
    end)

    it("fails a job whose route is not a path with the worker_error shape", function()
      local handler = proxy.handler { base_url = base }
      local result = runpod.serverless.run_job(handler, { id = "j", input = {
        route = { a = 1 } } })
      local err = json.decode(result.error)
      assert.are.equal("worker_error", err.type)
      assert.are.equal("route must be a path beginning with '/', got table", err.message)
    end)

    it("fails the job when the backend cannot be reached", function()
      local handler = proxy.handler { base_url = "http://127.0.0.1:1", name = "gone" }
      local result = runpod.serverless.run_job(handler, { id = "j", input = { prompt = "a" } })
      assert.matches("^Request to gone failed: ", json.decode(result.error).message)
    end)
  end)
end)
