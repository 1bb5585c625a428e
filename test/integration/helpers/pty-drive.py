#!/usr/bin/env python3
"""Drive a program on a real terminal (a pty), as a person would: wait for each prompt, then type.

usage: pty-drive.py STEPS_JSON CMD [ARGS...]
STEPS_JSON is a list of [regex, answer]: wait (up to 60 s) until the output since the last step
matches regex, then type answer and Enter (a lone control character, such as Ctrl-C, goes alone). After the last step, read until the program ends.
Prints the whole transcript; exits with the program's status, or 99 if a prompt never came.
"""
import json
import os
import pty
import re
import select
import sys
import time

steps = json.loads(sys.argv[1])
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])

transcript = b''
seen = 0


def read(timeout):
    global transcript
    r, _, _ = select.select([fd], [], [], timeout)
    if not r:
        return True
    try:
        data = os.read(fd, 4096)
    except OSError:  # EIO: the program closed the terminal
        return False
    if not data:
        return False
    transcript += data
    return True


for pattern, answer in steps:
    deadline = time.time() + 60
    rx = re.compile(pattern.encode())
    while not rx.search(transcript, seen):
        if time.time() > deadline or not read(0.2):
            sys.stdout.write(transcript.decode(errors='replace'))
            sys.stderr.write('pty-drive: no prompt matching %r\n' % pattern)
            os.kill(pid, 9)
            sys.exit(99)
    seen = len(transcript)
    # a control character alone (Ctrl-C is "\u0003") is a key, not a line
    os.write(fd, answer.encode() if len(answer) == 1 and ord(answer) < 32 else answer.encode() + b'\r')

deadline = time.time() + 180
while time.time() < deadline and read(0.5):
    pass
_, status = os.waitpid(pid, 0)
sys.stdout.write(transcript.decode(errors='replace'))
sys.exit(os.waitstatus_to_exitcode(status) if hasattr(os, 'waitstatus_to_exitcode') else status >> 8)
