# runpod-lua worker image: runpod-worker + one handler on debian:bookworm-slim.
#
#   docker build -t my-worker .                                   # handlers/echo.lua
#   docker build -t my-worker --build-arg HANDLER=handlers/streaming.lua .
#   docker run --rm my-worker runpod-worker /app/handler.lua --test_input '{"input": {"x": 1}}'
#
# The build stage runs the make targets CI runs (.ci/run: make deps, then the
# build `make test` runs, `make all`) and installs into /out. The
# runtime stage gets /out and only the shared libraries the binary links
# (vendor/runtime-packages.txt, checked by spec/docker_spec.lua).

FROM debian:bookworm-slim AS build
WORKDIR /src
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends make \
 && rm -rf /var/lib/apt/lists/*
COPY Makefile ./
COPY vendor/ vendor/
RUN make deps && rm -rf /var/lib/apt/lists/*
COPY runtime/ runtime/
COPY lua/ lua/
COPY docs/runpod-worker.1 docs/
COPY handlers/ handlers/
RUN make all
RUN make install PREFIX=/usr/local DESTDIR=/out

FROM debian:bookworm-slim
COPY vendor/runtime-packages.txt /tmp/runtime-packages.txt
# The packages' files minus their documentation, manuals and translations
# (copyright files stay), and none of apt's lists, caches (pkgcache.bin and
# srcpkgcache.bin alone are ~80 MB) or logs: debian:bookworm-slim's own apt
# and dpkg settings do much of this, a plain minbase root file system does
# none of it (spec/image_spec.lua builds on one).
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      -o 'Dpkg::Options::=--path-exclude=/usr/share/doc/*' \
      -o 'Dpkg::Options::=--path-include=/usr/share/doc/*/copyright' \
      -o 'Dpkg::Options::=--path-exclude=/usr/share/man/*' \
      -o 'Dpkg::Options::=--path-exclude=/usr/share/info/*' \
      -o 'Dpkg::Options::=--path-exclude=/usr/share/locale/*' \
      $(grep -v '^#' /tmp/runtime-packages.txt | awk 'NF {print $1}') \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt/* /var/log/dpkg.log \
      /var/cache/debconf/*-old /tmp/runtime-packages.txt
COPY --from=build /out/ /
ARG HANDLER=handlers/echo.lua
COPY ${HANDLER} /app/handler.lua
ENV HANDLER=/app/handler.lua
WORKDIR /app
# runpod-worker is safe as PID 1: it forks a small reaper that forwards
# SIGTERM/SIGINT to the worker and reaps orphans (runtime/worker/reaper.h).
STOPSIGNAL SIGTERM
CMD ["sh", "-c", "exec runpod-worker \"$HANDLER\""]
