/**
 * The shell steps of the process runtime, run by the static busybox of the busybox image (so they work
 * the same on any host, and inside a container's mount namespace where the host's tools are out of
 * reach). Why shell and not a native helper: each step is one well-known command (mount, hostname,
 * util-linux unshare), the sequence is short, and a person can read and replay it. util-linux tools
 * are called by absolute path: busybox's shell would otherwise prefer its own applets.
 */

/**
 * `sh -c JOIN join <cgroup.procs>... -- <command>`: moves itself into each cgroup (so everything the
 * command starts is accounted and limited there), then becomes the command.
 */
export const JOIN = `
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do echo 0 > "$1" || exit 125; shift; done
shift
unset PWD OLDPWD
exec "$@"
`;

/**
 * `sh -c PAUSE pause <hostname> <group dir> [<fifo name>]... -- [<dir> <size>]...`, run in fresh
 * network, UTS, IPC and mount namespaces — the group's sandbox:
 * - names the host;
 * - makes the group's /dev (a tmpfs with the usual devices, a devpts and a /dev/shm shared by the
 *   group, as a pod's IPC namespace is) that its containers bind;
 * - makes a FIFO pair (stdout, stderr) per container, which every run of the container writes to;
 * - mounts the memory-backed emptyDirs (tmpfs of their size limit);
 * - says "ready", reads `<address/prefix> [<on-link route>]` for eth0 once the emulator has given
 *   the namespace its veth end, configures it, says "up", and holds the namespaces.
 */
export const PAUSE = `
hostname "$1" || exit 1
_evn_g=$2
shift 2
_evn_d=$_evn_g/dev
mkdir -p "$_evn_d" "$_evn_g/fifo" || exit 1
mount -t tmpfs -o nosuid,mode=755,size=65536k tmpfs "$_evn_d" || exit 1
mknod -m 666 "$_evn_d/null" c 1 3 && mknod -m 666 "$_evn_d/zero" c 1 5 && mknod -m 666 "$_evn_d/full" c 1 7 &&
  mknod -m 666 "$_evn_d/random" c 1 8 && mknod -m 666 "$_evn_d/urandom" c 1 9 && mknod -m 666 "$_evn_d/tty" c 5 0 || exit 1
mkdir "$_evn_d/pts" "$_evn_d/shm" "$_evn_d/mqueue"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$_evn_d/pts" || exit 1
mount -t tmpfs -o nosuid,nodev,size=65536k shm "$_evn_d/shm" || exit 1
ln -s pts/ptmx "$_evn_d/ptmx" && ln -s /proc/self/fd "$_evn_d/fd" && ln -s /proc/self/fd/0 "$_evn_d/stdin" &&
  ln -s /proc/self/fd/1 "$_evn_d/stdout" && ln -s /proc/self/fd/2 "$_evn_d/stderr" || exit 1
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
  mkfifo -m 600 "$_evn_g/fifo/$1.out" "$_evn_g/fifo/$1.err" || exit 1
  shift
done
shift
while [ "$#" -gt 1 ]; do mount -t tmpfs -o "size=$2,mode=1777" tmpfs "$1" || exit 1; shift 2; done
echo ready
read -r _evn_addr _evn_route || exit 1
ip link set lo up && ip addr add "$_evn_addr" dev eth0 && ip link set eth0 up || exit 1
if [ -n "$_evn_route" ]; then ip route add "$_evn_route" dev eth0 || exit 1; fi
echo up
exec sleep 2147483647 <&- >&-
`;

/**
 * `sh CONTAINER_INIT <image rootfs> <container dir> <group /dev> <workdir> <uid> <gid> <readonly 0|1>
 * <unshare> [<source> <target> <readonly 0|1>]... -- <argv>`, run in a fresh mount namespace copied
 * from the group's: assembles the container's root (overlay of the image, the group's /dev, /sys, the
 * group's files and volumes), then util-linux unshare makes a PID namespace, mounts its /proc, changes
 * root, directory and user, and executes the entrypoint as PID 1. A failed step exits 128 with the
 * step on stderr. Each step is a busybox applet run (a fork and exec), so they are kept few: a start
 * costs about a dozen.
 */
export const CONTAINER_INIT = `
fail() { echo "eci-emulator: container setup failed: $*" >&2; exit 128; }
_evn_lower=$1 _evn_dir=$2 _evn_dev=$3 _evn_wd=$4 _evn_uid=$5 _evn_gid=$6 _evn_ro=$7 _evn_unshare=$8
shift 8
_evn_r=$_evn_dir/rootfs
mkdir -p "$_evn_dir/upper" "$_evn_dir/work" "$_evn_r" || fail "mkdir $_evn_dir"
mount -t overlay overlay -o "lowerdir=$_evn_lower,upperdir=$_evn_dir/upper,workdir=$_evn_dir/work" "$_evn_r" || fail "overlay root filesystem"
mkdir -p "$_evn_r/proc" "$_evn_r/dev" "$_evn_r/sys" "$_evn_r/tmp" "$_evn_r$_evn_wd" || fail "mount points"
mount --rbind "$_evn_dev" "$_evn_r/dev" || fail "/dev"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$_evn_r/sys" || fail "/sys"
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
  _evn_src=$1 _evn_dst=$_evn_r$2 _evn_mro=$3
  shift 3
  if [ ! -e "$_evn_dst" ]; then
    if [ -d "$_evn_src" ]; then
      mkdir -p "$_evn_dst" || fail "mount point $2"
    else
      mkdir -p "\${_evn_dst%/*}" && touch "$_evn_dst" || fail "mount point $2"
    fi
  fi
  mount --bind "$_evn_src" "$_evn_dst" || fail "volume at $2"
  if [ "$_evn_mro" = 1 ]; then mount -o remount,bind,ro "$_evn_dst" || fail "read-only volume at $2"; fi
done
shift
if [ "$_evn_ro" = 1 ]; then mount -o remount,bind,ro "$_evn_r" || fail "read-only root filesystem"; fi
unset PWD OLDPWD
if [ -n "$_evn_uid" ]; then
  exec "$_evn_unshare" --pid --fork --kill-child --mount-proc=/proc --root="$_evn_r" --wd="$_evn_wd" --setuid "$_evn_uid" --setgid "$_evn_gid" -- "$@"
fi
exec "$_evn_unshare" --pid --fork --kill-child --mount-proc=/proc --root="$_evn_r" --wd="$_evn_wd" -- "$@"
`;
