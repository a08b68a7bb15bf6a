#!/bin/sh
# runtime/layers.sh: fails when a file under runtime/<layer>/ (or
# runtime/tests/<layer>/) includes a header of a layer it may not use, a
# system header its layer must not see, or when two units include each
# other's headers (a private header <unit>_int.h counts as its unit). The
# exceptions are listed in runtime/layers.allow; a line there that no longer
# matches an include fails too, so the list only shrinks.
# Usage: sh runtime/layers.sh   (`make layers`, run by `make test`)
set -eu
cd "$(dirname "$0")"
files=$(find base net lua server worker include tests -name '*.[ch]' | LC_ALL=C sort)
[ -n "$files" ] || { echo "layers.sh: no files under runtime/<layer>/" >&2; exit 1; }
# shellcheck disable=SC2086
awk -v allowfile=layers.allow '
BEGIN {
  # what each layer may include (project headers, by folder)
  may["base"]    = " base "
  may["net"]     = " base net "
  may["lua"]     = " base net lua include "
  may["server"]  = " base net server "
  may["worker"]  = " base net lua worker include "
  may["include"] = " "
  # system headers a layer must not include
  nosys["base"]    = "^(lua|lauxlib|lualib)\\.h$|^curl/|^microhttpd\\.h$"
  nosys["net"]     = "^(lua|lauxlib|lualib)\\.h$|^microhttpd\\.h$"
  nosys["server"]  = "^(lua|lauxlib|lualib)\\.h$"
  nosys["include"] = "^curl/|^microhttpd\\.h$"
  # exceptions: "file header" per line, e.g. "lua/lcore.c worker/vm.h" or
  # "net/req.h <lua.h>"; "#" starts a comment
  while ((getline line < allowfile) > 0) {
    sub(/#.*/, "", line)
    if (split(line, w) >= 2) ok[w[1] " " w[2]] = 1
  }
}
FNR == 1 {
  n = split(FILENAME, p, "/")
  layer = p[1]
  test = 0
  if (layer == "tests") { test = 1; layer = (n > 2) ? p[2] : "base" }
  unit = FILENAME
  sub(/\.[ch]$/, "", unit)
  sub(/_int$/, "", unit)          # <unit>_int.h is private to <unit>
}
/^[ \t]*#[ \t]*include[ \t]*</ {
  if (test) next                  # a test may drive its unit through Lua
  h = $0; sub(/^[^<]*</, "", h); sub(/>.*/, "", h)
  if ((layer in nosys) && h ~ nosys[layer]) {
    k = FILENAME " <" h ">"
    if (k in ok) used[k] = 1
    else {
      printf "%s:%d: the %s layer may not include <%s>\n", FILENAME, FNR, layer, h
      bad = 1
    }
  }
  next
}
/^[ \t]*#[ \t]*include[ \t]*"/ {
  h = $0; sub(/^[^"]*"/, "", h); sub(/".*/, "", h)
  if (h == "runpod.h") dep = "include"
  else if (h == "tests/check.h" && test) next
  else if (h ~ /\//) { dep = h; sub(/\/.*/, "", dep) }
  else {
    printf "%s:%d: #include \"%s\": name its folder, e.g. \"base/%s\"\n", FILENAME, FNR, h, h
    bad = 1
    next
  }
  k = FILENAME " " h
  if (index(may[layer], " " dep " ") == 0) {
    if (k in ok) used[k] = 1
    else {
      printf "%s:%d: %s includes \"%s\": the %s layer may not use %s\n",
             FILENAME, FNR, FILENAME, h, layer, dep
      bad = 1
    }
  }
  hu = (h == "runpod.h") ? "include/runpod" : h
  sub(/\.[a-z]+$/, "", hu)
  sub(/_int$/, "", hu)
  if (!test && hu != unit && !((unit SUBSEP hu) in edge)) edge[unit SUBSEP hu] = k
}
END {
  for (e in edge) {
    split(e, u, SUBSEP)
    r = u[2] SUBSEP u[1]
    if (u[1] < u[2] && (r in edge)) {
      if ((edge[e] in ok) || (edge[r] in ok)) { used[edge[e]] = 1; used[edge[r]] = 1 }
      else {
        printf "%s and %s include each other: %s; %s\n", u[1], u[2], edge[e], edge[r]
        bad = 1
      }
    }
  }
  for (k in ok)
    if (!(k in used)) {
      printf "layers.allow: \"%s\" matches no exception any more: delete the line\n", k
      bad = 1
    }
  exit bad
}' $files
