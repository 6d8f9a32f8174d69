#!/usr/bin/env bash
# Builds the lab micro-VM from Debian's registry only: the cloud kernel's uncompressed vmlinux and a busybox
# initramfs whose guest runs a root shell on ttyS0, a bind-shell listener on tcp/4444 and a beacon to its gateway.
#
# Usage: scripts/microvm/build.sh [--force]         (root, no stdin; CI runs it as is)
#   CORDON_MICROVM_OUT=DIR   output folder (default: dist/microvm in the repository)
# Outputs: vmlinux, initramfs.cpio.gz, manifest.json (kernel package and version, sha256 of both files, build time).
# A second run with the same inputs and intact outputs does nothing but check them.
set -euo pipefail
export LC_ALL=C DEBIAN_FRONTEND=noninteractive

started=$(date +%s%N)
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo_root=$(cd "$script_dir/../.." && pwd)
out=${CORDON_MICROVM_OUT:-$repo_root/dist/microvm}
force=0
[[ "${1:-}" == "--force" ]] && force=1

say() { printf 'microvm: %s\n' "$*" >&2; }
die() { printf 'microvm: error: %s\n' "$*" >&2; exit 1; }
elapsed() { local ms=$(( ($(date +%s%N) - started) / 1000000 )); printf '%d.%03d s' $((ms / 1000)) $((ms % 1000)); }

# Everything on the host comes from Debian's packages: QEMU for the tests, busybox-static for the guest's
# userland (static, so the initramfs needs no libraries), lz4/xz/zstd to unpack the kernel's compressed payload,
# GNU cpio for a reproducible archive (busybox's cpio writes real inode numbers).
packages=(qemu-system-x86 qemu-utils busybox-static iproute2 lz4 xz-utils zstd gzip cpio)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  [[ $(id -u) -eq 0 ]] || die "missing packages (${missing[*]}); run this script as root, or: sudo apt-get install -y --no-install-recommends ${missing[*]}"
  say "installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
busybox=/bin/busybox
[[ -x $busybox ]] || die "$busybox is missing although busybox-static is installed"

# The versioned kernel package changes with each security update; the meta package names the current one.
kernel_pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ { print $2; exit }' || true)
if [[ -z $kernel_pkg ]]; then
  [[ $(id -u) -eq 0 ]] && { apt-get update -qq; kernel_pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-[0-9]/ { print $2; exit }' || true); }
fi

# The cache key: this script (it holds the guest's init), busybox's version and the kernel package's name.
recipe=$( { sha256sum < "${BASH_SOURCE[0]}"; dpkg-query -W -f='${Version}' busybox-static; } | sha256sum | cut -d' ' -f1)
manifest=$out/manifest.json
field() { sed -n "s/.*\"$1\": *\"\\([^\"]*\\)\".*/\\1/p" "$manifest" | head -n1; }
if ((force == 0)) && [[ -f $manifest && -f $out/vmlinux && -f $out/initramfs.cpio.gz ]]; then
  if [[ $(field recipe) == "$recipe" && ( -z $kernel_pkg || $(field kernelPackage) == "$kernel_pkg" ) \
        && $(sha256sum < "$out/vmlinux" | cut -d' ' -f1) == "$(field vmlinuxSha256)" \
        && $(sha256sum < "$out/initramfs.cpio.gz" | cut -d' ' -f1) == "$(field initramfsSha256)" ]]; then
    say "up to date ($(field kernelPackage) $(field kernelVersion)); checked in $(elapsed)"
    exit 0
  fi
  say "outputs are stale or altered: rebuilding"
fi
[[ -n $kernel_pkg ]] || die "apt-cache does not know linux-image-cloud-amd64; run apt-get update (as root) and retry"

mkdir -p "$out"
work=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# apt-get download writes into the current directory; as root it warns that _apt cannot write there, harmlessly.
say "fetching $kernel_pkg"
(cd "$work" && apt-get download -qq "$kernel_pkg" 2>&1 | grep -v 'unsandboxed as root' >&2 || true)
deb=$(find "$work" -maxdepth 1 -name "${kernel_pkg}_*.deb" | head -n1)
[[ -n $deb ]] || die "apt-get download $kernel_pkg produced no .deb"
kernel_version=$(dpkg-deb -f "$deb" Version)
dpkg-deb -x "$deb" "$work/pkg"
kver=${kernel_pkg#linux-image-}
vmlinuz="$work/pkg/boot/vmlinuz-$kver"
moddir="$work/pkg/lib/modules/$kver"
[[ -f $vmlinuz && -d $moddir ]] || die "$kernel_pkg does not contain boot/vmlinuz-$kver and lib/modules/$kver"

# --- vmlinux: what scripts/extract-vmlinux does, but located by the boot header instead of a magic scan.
# The x86 boot protocol (>= 2.08) gives the compressed payload's offset and length relative to the start of the
# protected-mode code, which follows (setup_sects + 1) sectors of 512 bytes. The kernel's build appends the
# uncompressed size as a little-endian u32 to the payload, so the result can be checked exactly.
u8() { od -An -tu1 -j "$2" -N1 "$1" | tr -d ' '; }
u32() { od -An -tu4 -j "$2" -N4 "$1" | tr -d ' '; }
[[ $(od -An -c -j $((0x202)) -N4 "$vmlinuz" | tr -d ' ') == HdrS ]] || die "$vmlinuz is not a bzImage"
setup_sects=$(u8 "$vmlinuz" $((0x1f1))); ((setup_sects)) || setup_sects=4
payload_offset=$(u32 "$vmlinuz" $((0x248)))
payload_length=$(u32 "$vmlinuz" $((0x24c)))
start=$(( (setup_sects + 1) * 512 + payload_offset ))
dd if="$vmlinuz" of="$work/payload" iflag=skip_bytes,count_bytes skip="$start" count="$payload_length" bs=1M status=none
expected_size=$(u32 "$work/payload" $((payload_length - 4)))
magic=$(od -An -tx1 -N6 "$work/payload" | tr -d ' \n')
case $magic in
  1f8b*)         decompress=(gzip -dc) ;;
  fd377a585a00)  decompress=(xz -dc) ;;
  5d0000*)       decompress=(xz --format=lzma -dc) ;;
  02214c18*)     decompress=(lz4 -dc) ;;
  28b52ffd*)     decompress=(zstd -dc) ;;
  *)             die "unknown kernel compression (payload starts with $magic); add its decompressor here" ;;
esac
# The appended size trails the compressed stream, so the decompressor may complain about it after it has
# written everything: its status is ignored and the output is checked instead (as extract-vmlinux does).
"${decompress[@]}" < "$work/payload" > "$work/vmlinux" 2>/dev/null || true
[[ $(od -An -c -N4 "$work/vmlinux" | tr -d ' ') == '177ELF' ]] || die "the decompressed kernel is not an ELF file"
actual_size=$(stat -c %s "$work/vmlinux")
[[ $actual_size == "$expected_size" ]] || die "the decompressed kernel has $actual_size bytes, its header says $expected_size"

# --- modules. Debian builds virtio as modules and ships no modules.dep (depmod runs on install), so each
# module's dependencies are read from its .modinfo section and the load order is worked out here.
declare -A modpath=()
while IFS= read -r f; do
  name=$(basename "$f"); name=${name%%.ko*}; modpath[${name//-/_}]=$f
done < <(find "$moddir/kernel" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst')
declare -A loaded=()
order=()
add_module() {
  local name=${1//-/_} file deps dep
  [[ -n ${loaded[$name]:-} ]] && return 0
  file=${modpath[$name]:-}
  [[ -n $file ]] || die "module $name is not in $kernel_pkg (built in? then drop it from the list)"
  loaded[$name]=1
  case $file in
    *.ko.xz)  xz -dc "$file" > "$work/$name.ko" ;;
    *.ko.zst) zstd -qdc "$file" > "$work/$name.ko" ;;
    *)        cp "$file" "$work/$name.ko" ;;
  esac
  deps=$( { grep -ao 'depends=[a-z0-9_,-]*' "$work/$name.ko" || true; } | head -n1 | cut -d= -f2)
  for dep in ${deps//,/ }; do add_module "$dep"; done
  order+=("$name")
}
# virtio_mmio: microvm's devices (found through ACPI); virtio_net: eth0; virtio_blk: the evidence disk.
for m in virtio_mmio virtio_net virtio_blk; do add_module "$m"; done

# --- the initramfs
root=$work/root
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc/init.d,proc,sys,dev,run,tmp,root,lib/modules,var/log}
cp "$busybox" "$root/bin/busybox"
while IFS= read -r applet; do
  [[ -e $root/$applet ]] || ln -s /bin/busybox "$root/$applet"
done < <("$busybox" --list-full)
ln -sf /bin/busybox "$root/init"
for m in "${order[@]}"; do mv "$work/$m.ko" "$root/lib/modules/"; done
printf '%s.ko\n' "${order[@]}" > "$root/lib/modules/load-order"

cat > "$root/etc/inittab" <<'EOF'
::sysinit:/etc/init.d/rcS
ttyS0::respawn:-/bin/sh
::respawn:/usr/sbin/listener
::respawn:/usr/sbin/beacon
::respawn:/usr/sbin/cordon-winsize
::respawn:/usr/sbin/cordon-inspectd
::shutdown:/bin/sync
EOF

cat > "$root/etc/init.d/rcS" <<'EOF'
#!/bin/sh
# Brings the guest up: file systems, virtio modules, eth0 from the kernel command line
# (cordon.ip=ADDR/PREFIX cordon.gw=ADDR cordon.hostname=NAME cordon.beacon=SECONDS).
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
dmesg -n 1
while read -r m; do insmod "/lib/modules/$m" || echo "cordon: insmod $m failed"; done < /lib/modules/load-order
ip= gw= name=cordon-guest every=3
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    cordon.ip=*) ip=${arg#*=} ;;
    cordon.gw=*) gw=${arg#*=} ;;
    cordon.hostname=*) name=${arg#*=} ;;
    cordon.beacon=*) every=${arg#*=} ;;
  esac
done
hostname "$name"
ip link set lo up
if [ -n "$ip" ]; then
  n=0
  while [ ! -e /sys/class/net/eth0 ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
  ip addr add "$ip" dev eth0
  ip link set eth0 up
  [ -n "$gw" ] && ip route add default via "$gw"
fi
printf 'GW=%s\nEVERY=%s\n' "$gw" "$every" > /run/cordon.env
echo "cordon-guest: $name up in $(cut -d' ' -f1 /proc/uptime) s, eth0 ${ip:-unconfigured}"
EOF

# The listener: a bind shell on tcp/4444, what an intruder leaves behind. -ll keeps it listening after a client.
cat > "$root/usr/sbin/listener" <<'EOF'
#!/bin/sh
exec nc -ll -p 4444 -e /bin/sh
EOF

# The beacon: calls home to the gateway on tcp/8443 every few seconds, whatever the answer, and counts its tries
# in /run/beacon.count, so a frozen and resumed guest can be seen to carry on.
cat > "$root/usr/sbin/beacon" <<'EOF'
#!/bin/sh
. /run/cordon.env
n=0
while :; do
  n=$((n + 1))
  echo "$n" > /run/beacon.count
  [ -n "$GW" ] && echo "beacon $(hostname) $n" | nc -w 2 "$GW" 8443 >/dev/null 2>&1
  sleep "$EVERY"
done
EOF

# The console's window size from the host. A serial line has no TIOCSWINSZ, so Cordon's agent writes "ROWS COLS"
# lines on the console control line (ttyS1, a second UART only the agent talks to; agent/qemu/winsize.ts) and this
# sets them on ttyS0: stty makes the kernel send SIGWINCH to ttyS0's foreground job, so the shell or a full-screen
# program redraws at the new size. Nothing is typed into the console. It answers "ok ROWS COLS" once applied.
cat > "$root/usr/sbin/cordon-winsize" <<'EOF'
#!/bin/sh
# Off the console: init starts it with /dev/console (ttyS0) as stdio, and nothing of it must show there.
exec </dev/null >/dev/null 2>&1
[ -c /dev/ttyS1 ] || exec sleep 2147483647
stty -F /dev/ttyS1 clocal -echo -icrnl
while :; do
  while read -r rows cols; do
    case "$rows:$cols" in
      *[!0-9:]*|:*|*:) continue ;;
    esac
    stty -F /dev/ttyS0 rows "$rows" cols "$cols" && echo "ok $rows $cols"
  done < /dev/ttyS1 > /dev/ttyS1
  sleep 1
done
EOF

# The inspection line (ttyS2, a third UART only the agent talks to; agent/inspect/inspect-line.ts): each line the
# agent sends is a script of busybox commands (agent/inspect/guest-shell.ts) run by /bin/sh, its answer written back
# on the same line. It is how the cockpit's evaluation view reads processes and sockets without typing into the
# responder's console. Like qemu-ga's guest-exec, it is a root shell for whoever holds the host side of the socket.
cat > "$root/usr/sbin/cordon-inspectd" <<'EOF'
#!/bin/sh
exec </dev/null >/dev/null 2>&1
[ -c /dev/ttyS2 ] || exec sleep 2147483647
stty -F /dev/ttyS2 clocal -echo -icrnl
while :; do
  while read -r line; do
    sh -c "$line" 2>&1
  done < /dev/ttyS2 > /dev/ttyS2
  sleep 1
done
EOF

# A serial line has no window size (0x0, so `stty size` fails): start at 24x80 until a console sets its own.
cat > "$root/etc/profile" <<'EOF'
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
export PS1='\h:\w\$ '
[ "$(stty size 2>/dev/null)" = "" ] && stty rows 24 cols 80 2>/dev/null
EOF
printf 'root::0:0:root:/root:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\n' > "$root/etc/group"
chmod 0755 "$root/etc/init.d/rcS" "$root/usr/sbin/listener" "$root/usr/sbin/beacon" "$root/usr/sbin/cordon-winsize" "$root/usr/sbin/cordon-inspectd"

# Fixed timestamps, sorted names, renumbered inodes and gzip -n make the archive reproducible: the same inputs
# give the same sha256, so the manifest's hash identifies the guest.
find "$root" -exec touch -h -d @0 {} +
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -n -9 > "$work/initramfs.cpio.gz"

mv -f "$work/vmlinux" "$out/vmlinux"
mv -f "$work/initramfs.cpio.gz" "$out/initramfs.cpio.gz"
cat > "$manifest.tmp" <<EOF
{
  "kernelPackage": "$kernel_pkg",
  "kernelVersion": "$kernel_version",
  "kernelRelease": "$kver",
  "modules": "$(IFS=' '; echo "${order[*]}")",
  "busyboxVersion": "$(dpkg-query -W -f='${Version}' busybox-static)",
  "vmlinuxSha256": "$(sha256sum < "$out/vmlinux" | cut -d' ' -f1)",
  "initramfsSha256": "$(sha256sum < "$out/initramfs.cpio.gz" | cut -d' ' -f1)",
  "recipe": "$recipe",
  "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
EOF
mv -f "$manifest.tmp" "$manifest"
say "built $kernel_pkg $kernel_version (modules: ${order[*]}) in $(elapsed)"
