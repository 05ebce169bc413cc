#!/usr/bin/env python3
"""Time `oxldap serve --memory --ldif LDIF --print-url` to its URL line (issue 7), with the
server's CPU time (user + sys, from /proc) at that moment, which is steadier than wall
time on a shared machine.

Usage: scripts/bench-start-cpu.py LDIF RUNS BIN [BIN...]
Prints per binary the minimum and median of wall and CPU milliseconds over RUNS starts.
"""
import os
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    ldif, runs, bins = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    tick = os.sysconf("SC_CLK_TCK")
    for b in bins:
        walls, cpus = [], []
        for _ in range(runs):
            t = time.time()
            p = subprocess.Popen(
                [b, "serve", "--memory", "--ldif", ldif, "-h", "ldap://127.0.0.1:0/", "--print-url"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            line = p.stdout.readline()
            walls.append((time.time() - t) * 1000)
            fields = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()
            cpus.append((int(fields[11]) + int(fields[12])) * 1000 / tick)
            p.kill()
            p.wait()
            if not line.startswith(b"ldap://"):
                sys.exit(f"{b} printed no URL")
        walls.sort()
        cpus.sort()
        print(
            f"{b}: wall min/median {walls[0]:.0f}/{walls[len(walls) // 2]:.0f} ms, "
            f"cpu min/median {cpus[0]:.0f}/{cpus[len(cpus) // 2]:.0f} ms"
        )


if __name__ == "__main__":
    main()
