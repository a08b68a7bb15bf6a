#!/usr/bin/env bash
# bench/heartbeat_lag.sh: how long a delivered job stays in the ping's
# job_id list. A scripted job server on loopback (python3, below) hands
# out LAG_JOBS jobs one at a time, notes when each job-done arrives and
# what each ping lists; runpod-worker (handlers/echo.lua, concurrency 1)
# pings every LAG_PING_MS ms. Each job-take is held LAG_HOLD_MS ms, as a
# job server holds it until a job comes: a worker whose loop does not
# wake when a job-done is answered keeps listing that job until then.
# For each job, the lag is the time from the answer to its job-done to
# the arrival of the last ping that still listed it (0 when none did);
# prints the jobs, the pings, p50/p99/max of the lag.
set -euo pipefail
cd "$(dirname "$0")/.."
WORKER=${WORKER:-bin/runpod-worker}
LAG_JOBS=${LAG_JOBS:-2000}
LAG_PING_MS=${LAG_PING_MS:-2}
LAG_HOLD_MS=${LAG_HOLD_MS:-20}

if ! command -v python3 >/dev/null; then
  echo "heartbeat_lag: python3 not found, skipped"
  exit 0
fi
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT

python3 - "$LAG_JOBS" "$LAG_HOLD_MS" "$tmp/port" "$tmp/result" <<'PY' 2>/dev/null &
# One thread, asyncio: a ping is read as soon as it arrives.
import asyncio, json, sys, time
from urllib.parse import urlsplit, parse_qs, unquote

jobs, hold = int(sys.argv[1]), float(sys.argv[2]) / 1e3
port_file, result_file = sys.argv[3], sys.argv[4]
given = 0
done = {}          # job id -> when its job-done was answered
pings = []         # (when it arrived, [ids])


def finish():
    lag = []
    for jid, t in done.items():
        last = max((p for p, ids in pings if jid in ids), default=t)
        lag.append(max(0.0, last - t) * 1e3)
    lag.sort()
    pick = lambda q: lag[min(len(lag) - 1, int(q * len(lag)))]
    with open(result_file, "w") as f:
        f.write("heartbeat_lag jobs %d pings %d p50_ms %.2f p99_ms %.2f max_ms %.2f\n"
                % (len(lag), len(pings), pick(0.5), pick(0.99), lag[-1]))


async def serve(reader, writer):
    global given
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            t = time.monotonic()
            lines = head.decode("latin-1").split("\r\n")
            method, target = lines[0].split(" ")[:2]
            size = 0
            for h in lines[1:]:
                if h.lower().startswith("content-length:"):
                    size = int(h.split(":", 1)[1])
            if size:
                await reader.readexactly(size)
            url = urlsplit(target)
            status, body, finished = 204, b"", False
            if "/ping/" in url.path:
                raw = parse_qs(url.query).get("job_id", [""])[0]
                pings.append((t, [unquote(i) for i in raw.split(",") if i]))
                status = 200
            elif "/job-take/" in url.path:
                await asyncio.sleep(hold)
                if given < jobs:
                    body = json.dumps({"id": "job-%d" % given, "input": {"x": 1}}).encode()
                    given += 1
                    status = 200
            elif method == "POST":
                status = 200
            writer.write(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s"
                         % (status, len(body), body))
            await writer.drain()
            if method == "POST":
                done[unquote(url.path.rsplit("/", 1)[-1])] = time.monotonic()
                finished = len(done) == jobs
            if finished:
                await asyncio.sleep(0.3)    # the pings after the last delivery
                finish()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


async def main():
    srv = await asyncio.start_server(serve, "127.0.0.1", 0)
    with open(port_file, "w") as f:
        f.write(str(srv.sockets[0].getsockname()[1]))
    await srv.serve_forever()

asyncio.run(main())
PY
server=$!
for _ in $(seq 100); do
  [ -s "$tmp/port" ] && break
  sleep 0.05
done
base="http://127.0.0.1:$(cat "$tmp/port")/v2/lag"
RUNPOD_WEBHOOK_GET_JOB="$base/job-take/\$RUNPOD_POD_ID" \
  RUNPOD_WEBHOOK_POST_OUTPUT="$base/job-done/\$RUNPOD_POD_ID/\$ID" \
  RUNPOD_WEBHOOK_PING="$base/ping/\$RUNPOD_POD_ID" RUNPOD_PING_INTERVAL=$LAG_PING_MS \
  RUNPOD_AI_API_KEY=lag-key RUNPOD_POD_ID=lag-worker RUNPOD_SKIP_AUTO_SYSTEM_CHECKS=true \
  RUNPOD_LOG_LEVEL=ERROR "$WORKER" handlers/echo.lua &
w=$!
for _ in $(seq 12000); do
  [ -s "$tmp/result" ] && break
  sleep 0.05
done
kill -TERM $w; wait $w || true
kill "$server"; wait "$server" 2>/dev/null || true
cat "$tmp/result"
