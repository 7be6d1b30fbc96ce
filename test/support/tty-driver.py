"""Drives a command in a pseudo-terminal, as a person at a terminal would: types lines, answers the
terminal queries a shell sends, resizes the window, and prints everything the command wrote.

Node.js has no pseudo-terminal without a native module; Python's standard library has one. The e2e
tests use this to run `kubectl exec -it` for real.

Usage: tty-driver.py SCRIPT -- COMMAND...
SCRIPT is JSON: a list of steps, each {"wait": seconds} | {"type": text} | {"size": [rows, cols]}.
Prints the command's output, then a last line `EXIT <code>`.
"""
import fcntl, json, os, pty, select, signal, struct, sys, termios, time

script = json.loads(sys.argv[1])
argv = sys.argv[sys.argv.index('--') + 1:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)

out = bytearray()

def pump(seconds):
    end = time.time() + seconds
    while time.time() < end:
        ready, _, _ = select.select([fd], [], [], 0.05)
        if not ready:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:
            return
        if not data:
            return
        out.extend(data)
        # A terminal answers "where is the cursor?" (busybox ash asks before each prompt).
        for _ in range(data.count(b'\x1b[6n')):
            os.write(fd, b'\x1b[1;1R')

def resize(rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
    os.kill(pid, signal.SIGWINCH)

for step in script:
    if 'size' in step:
        resize(*step['size'])
    elif 'type' in step:
        os.write(fd, step['type'].encode())
    elif 'wait' in step:
        pump(step['wait'])
pump(10)
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors='replace'))
sys.stdout.write('\nEXIT %d\n' % os.waitstatus_to_exitcode(status))
