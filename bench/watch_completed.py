"""bench/watch_completed.py - watches the emulator's job counts for the
serverless benchmarks, on one keep-alive connection, so that what watches
a run costs next to nothing beside it (a curl process every 10 ms cost a
share of this 2-core machine's CPU, taken from the run being measured).

    python3 bench/watch_completed.py BASE N

BASE is the emulator's URL (endpoint "bench", key "bench-key"). Prints
"ready" once it has read the counts, then polls every millisecond until
N jobs are completed (600 s at most) and prints
"seconds S" - from the first poll that saw a job beyond those completed at
the start (taken or done) to the first that saw N completed - the same
clock for every program measured. Exits 1 on timeout.
"""
import http.client
import json
import sys
import time
from urllib.parse import urlsplit

base, target = urlsplit(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection(base.hostname, base.port, timeout=10)


def counts():
    for attempt in (1, 2):
        try:
            conn.request("GET", "/v2/bench/health",
                         headers={"Authorization": "Bearer bench-key"})
            jobs = json.loads(conn.getresponse().read())["jobs"]
            return jobs["completed"], jobs["inProgress"]
        except (http.client.HTTPException, ConnectionError):
            conn.close()            # closed by the server: connect again
            if attempt == 2:
                raise


done0, _ = counts()
print("ready", flush=True)
deadline = time.monotonic() + 600
t0 = None
while time.monotonic() < deadline:
    done, running = counts()
    now = time.monotonic()
    if t0 is None and (done + running > done0 or done >= target):
        t0 = now
    if done >= target:
        print("seconds %.3f" % (now - t0))
        sys.exit(0)
    time.sleep(0.001)
print("timed out waiting for %d completed jobs" % target, file=sys.stderr)
sys.exit(1)
