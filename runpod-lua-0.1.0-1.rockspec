-- LuaRocks package of the runpod module for plain Lua 5.4 (and busted):
--   luarocks --lua-version=5.4 make runpod-lua-0.1.0-1.rockspec
-- On Debian the curl and OpenSSL libraries live in multiarch folders; add
--   CURL_INCDIR=/usr/include/$(gcc -print-multiarch) \
--   CURL_LIBDIR=/usr/lib/$(gcc -print-multiarch) CRYPTO_LIBDIR=<the same> \
--   ARCHIVE_LIBDIR=<the same>
-- installs require "runpod" (lua/runpod/*.lua) and its C part runpod.core
-- (the CORE_SRC list of the Makefile; needs libcurl's headers). The
-- runpod-worker binary is built and installed with `make install` instead.
-- spec/rockspec_spec.lua checks that every lua/runpod/*.lua and every
-- CORE_SRC file is listed here.
rockspec_format = "3.0"
package = "runpod-lua"
version = "0.1.0-1"
source = {
  url = "git+https://github.com/runpod-lua/runpod-lua.git",
  tag = "v0.1.0",
}
description = {
  summary = "RunPod serverless workers in Lua 5.4",
  detailed = [[
    The runpod module of runpod-lua: runpod.serverless (a drop-in for the
    Python SDK's serverless worker), runpod.json, runpod.http, runpod.buffer,
    runpod.base64, runpod.hex, runpod.validate, runpod.debugger,
    runpod.cleanup, runpod.download, runpod.upload and runpod.volume_cache. Under plain Lua, network calls block; bin/runpod-worker
    runs the same scripts with the full runtime.
  ]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
external_dependencies = {
  CURL = { header = "curl/curl.h", library = "curl" },
  CRYPTO = { header = "openssl/hmac.h", library = "crypto" },
  ARCHIVE = { header = "archive.h", library = "archive" },
}
build = {
  type = "builtin",
  modules = {
    ["runpod"] = "lua/runpod/init.lua",
    ["runpod.backend"] = "lua/runpod/backend.lua",
    ["runpod.debugger"] = "lua/runpod/debugger.lua",
    ["runpod.download"] = "lua/runpod/download.lua",
    ["runpod.files"] = "lua/runpod/files.lua",
    ["runpod.http"] = "lua/runpod/http.lua",
    ["runpod.log"] = "lua/runpod/log.lua",
    ["runpod.model_cache"] = "lua/runpod/model_cache.lua",
    ["runpod.proxy"] = "lua/runpod/proxy.lua",
    ["runpod.serverless"] = "lua/runpod/serverless.lua",
    ["runpod.upload"] = "lua/runpod/upload.lua",
    ["runpod.validator"] = "lua/runpod/validator.lua",
    ["runpod.volume_cache"] = "lua/runpod/volume_cache.lua",
    ["runpod.internal.local_test"] = "lua/runpod/internal/local_test.lua",
    ["runpod.internal.modes"] = "lua/runpod/internal/modes.lua",
    ["runpod.internal.runner"] = "lua/runpod/internal/runner.lua",
    ["runpod.internal.worker"] = "lua/runpod/internal/worker.lua",
    ["runpod.core"] = {
      sources = {
        "runtime/base/buf.c", "runtime/base/json.c", "runtime/base/log.c", "runtime/base/alloc.c", "runtime/base/args.c",
        "runtime/lua/ljson.c", "runtime/lua/json_decode.c",
        "runtime/lua/json_encode.c", "runtime/lua/lcore.c", "runtime/lua/host.c", "runtime/lua/lclass.c",
        "runtime/base/ident.c",
        "runtime/net/wire.c",
        "runtime/net/req.c", "runtime/net/http.c", "runtime/lua/lhttp.c",
        "runtime/base/codec.c", "runtime/lua/lbuffer.c", "runtime/base/files.c", "runtime/lua/lfiles.c",
        "runtime/lua/lsys.c", "runtime/lua/lproc.c", "runtime/base/proc.c",
        "runtime/net/netguard.c", "runtime/net/download.c",
        "runtime/net/sigv4.c", "runtime/base/settings.c", "runtime/base/clock.c",
        "runtime/base/volcache.c", "runtime/lua/lvolcache.c",
        "runtime/base/unzip.c", "runtime/lua/larchive.c",
        "runtime/net/s3part.c", "runtime/lua/ls3.c",
      },
      defines = { "_POSIX_C_SOURCE=200809L", "_DEFAULT_SOURCE" },
      incdirs = { "runtime", "runtime/include", "$(CURL_INCDIR)", "$(CRYPTO_INCDIR)",
                  "$(ARCHIVE_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)", "$(CRYPTO_LIBDIR)", "$(ARCHIVE_LIBDIR)" },
      libraries = { "curl", "crypto", "archive", "m", "pthread" },
    },
  },
  copy_directories = { "docs" },
}
