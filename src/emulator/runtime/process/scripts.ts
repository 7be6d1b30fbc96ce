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
 * `sh -c PAUSE pause <hostname> [<dir> <size>]...`, run in fresh network, UTS, IPC and mount
 * namespaces: names the host, mounts the group's memory-backed emptyDirs (tmpfs, shared by its
 * containers, which start from this mount namespace), says "ready" and holds the namespaces.
 */
export const PAUSE = `
hostname "$1" || exit 1
shift
while [ "$#" -gt 1 ]; do mount -t tmpfs -o "size=$2,mode=1777" tmpfs "$1" || exit 1; shift 2; done
echo ready
exec sleep 2147483647
`;

/**
 * `sh CONTAINER_INIT <image rootfs> <container dir> <workdir> <uid> <gid> <readonly 0|1> <unshare>
 * [<source> <target> <readonly 0|1>]... -- <argv>`, run in a fresh mount namespace copied from the
 * group's: assembles the container's root (overlay of the image, /dev, /sys, the group's files and
 * volumes), then util-linux unshare makes a PID namespace, mounts its /proc, changes root, directory
 * and user, and executes the entrypoint as PID 1. A failed step exits 128 with the step on stderr.
 */
export const CONTAINER_INIT = `
fail() { echo "eci-emulator: container setup failed: $*" >&2; exit 128; }
_evn_lower=$1 _evn_dir=$2 _evn_wd=$3 _evn_uid=$4 _evn_gid=$5 _evn_ro=$6 _evn_unshare=$7
shift 7
_evn_r=$_evn_dir/rootfs
mkdir -p "$_evn_dir/upper" "$_evn_dir/work" "$_evn_r" || fail "mkdir $_evn_dir"
mount -t overlay overlay -o "lowerdir=$_evn_lower,upperdir=$_evn_dir/upper,workdir=$_evn_dir/work" "$_evn_r" || fail "overlay root filesystem"
mkdir -p "$_evn_r/proc" "$_evn_r/dev" "$_evn_r/sys" "$_evn_r/tmp" "$_evn_r/etc" || fail "mount points"
mount -t tmpfs -o nosuid,mode=755,size=65536k tmpfs "$_evn_r/dev" || fail "/dev"
for _evn_n in null zero full random urandom tty; do
  touch "$_evn_r/dev/$_evn_n" && mount --bind "/dev/$_evn_n" "$_evn_r/dev/$_evn_n" || fail "/dev/$_evn_n"
done
mkdir -p "$_evn_r/dev/pts" "$_evn_r/dev/shm" "$_evn_r/dev/mqueue"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$_evn_r/dev/pts" || fail "/dev/pts"
ln -s pts/ptmx "$_evn_r/dev/ptmx"
ln -s /proc/self/fd "$_evn_r/dev/fd"
ln -s /proc/self/fd/0 "$_evn_r/dev/stdin"
ln -s /proc/self/fd/1 "$_evn_r/dev/stdout"
ln -s /proc/self/fd/2 "$_evn_r/dev/stderr"
mount -t tmpfs -o nosuid,nodev,noexec,size=65536k shm "$_evn_r/dev/shm" || fail "/dev/shm"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$_evn_r/sys" || fail "/sys"
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do
  _evn_src=$1 _evn_dst=$_evn_r$2 _evn_mro=$3
  shift 3
  if [ -d "$_evn_src" ]; then
    mkdir -p "$_evn_dst" || fail "mount point $_evn_dst"
  else
    mkdir -p "$(dirname "$_evn_dst")" && { [ -e "$_evn_dst" ] || touch "$_evn_dst"; } || fail "mount point $_evn_dst"
  fi
  mount --bind "$_evn_src" "$_evn_dst" || fail "volume at \${_evn_dst#$_evn_r}"
  if [ "$_evn_mro" = 1 ]; then mount -o remount,bind,ro "$_evn_dst" || fail "read-only volume"; fi
done
shift
mkdir -p "$_evn_r$_evn_wd" || fail "working directory $_evn_wd"
if [ "$_evn_ro" = 1 ]; then mount -o remount,bind,ro "$_evn_r" || fail "read-only root filesystem"; fi
unset PWD OLDPWD
if [ -n "$_evn_uid" ]; then
  exec "$_evn_unshare" --pid --fork --kill-child --mount-proc=/proc --root="$_evn_r" --wd="$_evn_wd" --setuid "$_evn_uid" --setgid "$_evn_gid" -- "$@"
fi
exec "$_evn_unshare" --pid --fork --kill-child --mount-proc=/proc --root="$_evn_r" --wd="$_evn_wd" -- "$@"
`;
