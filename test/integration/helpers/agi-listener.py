#!/usr/bin/python3
# The lab's stand-in for tm3-callin.socket (systemd, Accept=yes): listen on 127.0.0.1:PORT and
# run the command once per connection with the accepted TCP socket itself as its stdin and
# stdout, as systemd does, so tm3 sees the same kind of socket (and the peer's uid) as on a box.
# Usage: agi-listener.py PORT CMD [ARG...]; prints "ready" once listening.
import os, socket, subprocess, sys

port = int(sys.argv[1])
cmd = sys.argv[2:]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', port))
s.listen(8)
print('ready', flush=True)
while True:
    conn, _ = s.accept()
    subprocess.Popen(cmd, stdin=conn.fileno(), stdout=conn.fileno(), close_fds=True)
    conn.close()
    # reap finished dialogs
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
