# usage: mount_fill.py LEFT CMD...   (root, inside a private mount namespace)
# Add mounts until only LEFT more fit under fs.mount-max (read, never
# changed), then exec CMD. A tree doubled with --rbind onto itself gets
# near the limit in a few dozen mount calls; single binds, each on its own
# directory (stacking on one is quadratic), do the rest. tests/faults.rs.
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
MS_BIND, MS_REC, MS_PRIVATE = 4096, 16384, 1 << 18
def mnt(src, dst, fstype=None, flags=0, data=None):
    if libc.mount(src.encode(), dst.encode(), fstype and fstype.encode(), flags, data and data.encode()) != 0:
        sys.exit("fill: mount %s %s: %s" % (src, dst, os.strerror(ctypes.get_errno())))
def count():
    with open("/proc/self/mountinfo", "rb") as f:
        return f.read().count(b"\n")
left = int(sys.argv[1])
mx = int(open("/proc/sys/fs/mount-max").read())
base = "/tmp/fill"
os.makedirs(base, exist_ok=True)
mnt("none", base, "tmpfs", 0, "size=64k")
mnt("none", base, None, MS_PRIVATE)
os.mkdir(base + "/m")
mnt("none", base + "/m", "tmpfs", 0, "size=64k")
n = count()
size = 1  # mounts in the tree at m
d = 0
while n + size <= mx - left:
    dst = base + "/m" + "/c" * (d + 1)
    os.makedirs(dst, exist_ok=True)
    mnt(base + "/m", dst, None, MS_BIND | MS_REC)
    d += 1
    n2 = count()
    size = n2 - n + size  # the copy just added is the tree's old size
    n = n2
    if n + size > mx - left:
        break
# The rest one by one, each on its own directory (stacking is quadratic).
i = 0
while n < mx - left:
    i += 1
    p = base + "/s%d" % i
    os.mkdir(p)
    mnt(base + "/m", p, None, MS_BIND)
    n += 1
n = count()
if n != mx - left:
    sys.exit("fill: %d mounts, wanted %d" % (n, mx - left))
os.execvp(sys.argv[2], sys.argv[2:])
