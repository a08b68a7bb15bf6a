#!/usr/bin/env bash
# bench/rss.sh PID: prints the process's resident set size in KiB.
awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
