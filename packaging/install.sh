#!/bin/sh
# Installs Skiff from this bundle: the program (bin/skiff, lib/skiff) under
# a prefix, the skiff-agent systemd unit, and the agent's first-start flags;
# then enables and starts the agent when systemd runs.
#
#   sh install.sh [--server URL --token TOKEN | --env-file FILE] [--apt]
#                 [--prefix DIR] [--root DIR] [--no-start]
#
#   --server, --token  the cluster to join (`skiff token create` prints them),
#                      written to /etc/default/skiff-agent (mode 0600)
#   --env-file FILE    take /etc/default/skiff-agent from FILE, then delete FILE
#   --apt              install the Debian packages the agent needs (containerd,
#                      runc, CNI plugins, nftables, iproute2) with apt-get,
#                      waiting for the network for up to ten minutes
#   --prefix DIR       where bin/skiff and lib/skiff go (default /usr/local)
#   --root DIR         install into DIR as if it were / (builds an image; no
#                      architecture check, nothing started)
#   --no-start         install and enable nothing in systemd, only copy files
set -eu

here=$(cd "$(dirname "$0")" && pwd)
prefix=/usr/local
root=
server=
token=
env_file=
apt=no
start=yes
packages="containerd runc containernetworking-plugins nftables iproute2"

die() {
  echo "install.sh: $*" >&2
  exit 1
}

need_value() {
  [ "$#" -ge 2 ] || die "$1 needs a value: see the usage at the top of $0"
}

while [ "$#" -gt 0 ]; do
  case "$1" in
    --prefix) need_value "$@"; prefix=$2; shift 2 ;;
    --root) need_value "$@"; root=$2; start=no; shift 2 ;;
    --server) need_value "$@"; server=$2; shift 2 ;;
    --token) need_value "$@"; token=$2; shift 2 ;;
    --env-file) need_value "$@"; env_file=$2; shift 2 ;;
    --apt) apt=yes; shift ;;
    --no-start) start=no; shift ;;
    -h | --help) sed -n '2,20p' "$0"; exit 0 ;;
    *) die "unknown argument \"$1\": see the usage at the top of $0" ;;
  esac
done

case "$prefix" in
  /*) ;;
  *) die "--prefix \"$prefix\" is not an absolute path" ;;
esac
if [ -n "$server" ] || [ -n "$token" ]; then
  if [ -z "$server" ] || [ -z "$token" ]; then
    die "--server and --token go together: pass both (skiff token create prints them)"
  fi
  [ -z "$env_file" ] || die "--env-file and --server/--token exclude each other: pass one of them"
  case "$server" in
    https://*) ;;
    *) die "--server \"$server\" is not an https:// URL, e.g. https://192.168.1.10:6443" ;;
  esac
  case "$server$token" in
    *[[:space:]]* | *\"* | *\'* | *\\*) die "--server and --token must not contain spaces, quotes or backslashes" ;;
  esac
fi
if [ -n "$env_file" ] && [ ! -f "$env_file" ]; then
  die "--env-file \"$env_file\" does not exist"
fi

arch=$(cat "$here/lib/skiff/ARCH")
if [ -z "$root" ]; then
  machine=$(uname -m)
  case "$arch:$machine" in
    amd64:x86_64 | arm64:aarch64 | arm64:arm64) ;;
    *) die "this bundle is for linux-$arch but this machine is $machine: use the skiff-*-linux-$( [ "$machine" = x86_64 ] && echo amd64 || echo arm64).tar.gz bundle" ;;
  esac
  [ "$(id -u)" -eq 0 ] || die "run as root (sudo sh $0 ...): it writes $prefix, /etc/systemd/system and /etc/default"
fi

if [ "$apt" = yes ]; then
  missing=
  for package in $packages; do
    dpkg-query -W -f='${Status}\n' "$package" 2>/dev/null | grep -q "install ok installed" || missing="$missing $package"
  done
  if [ -n "$missing" ]; then
    echo "Installing Debian packages:$missing"
    tries=0
    until apt-get update -q; do
      tries=$((tries + 1))
      [ "$tries" -lt 60 ] || die "apt-get update kept failing for ten minutes: check the network, then run $0 --apt again"
      echo "apt-get update failed (no network yet?); retrying in 10 s"
      sleep 10
    done
    # shellcheck disable=SC2086 # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing || die "apt-get install$missing failed: see the messages above"
  fi
fi

echo "Installing skiff into $root$prefix"
install -d "$root$prefix/bin" "$root$prefix/lib/skiff" "$root/etc/systemd/system" "$root/etc/default"
for file in deno skiff.js ARCH VERSION; do
  install -m 0644 "$here/lib/skiff/$file" "$root$prefix/lib/skiff/$file.new"
  mv -f "$root$prefix/lib/skiff/$file.new" "$root$prefix/lib/skiff/$file"
done
chmod 0755 "$root$prefix/lib/skiff/deno"
install -m 0755 "$here/bin/skiff" "$root$prefix/bin/skiff"
sed "s|/usr/local/bin/skiff|$prefix/bin/skiff|" "$here/skiff-agent.service" >"$root/etc/systemd/system/skiff-agent.service"
chmod 0644 "$root/etc/systemd/system/skiff-agent.service"

defaults="$root/etc/default/skiff-agent"
if [ -n "$server" ]; then
  (umask 077 && printf 'SKIFF_AGENT_FLAGS=--server %s --token %s\n' "$server" "$token" >"$defaults")
  echo "Wrote the agent's first-start flags to $defaults"
elif [ -n "$env_file" ]; then
  (umask 077 && cat "$env_file" >"$defaults")
  rm -f "$env_file"
  echo "Moved $env_file to $defaults"
fi

if [ "$start" = yes ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload
  systemctl enable skiff-agent.service
  systemctl restart skiff-agent.service
  echo "skiff-agent is running: follow it with journalctl -u skiff-agent -f"
else
  echo "Installed. Start the agent with: systemctl enable --now skiff-agent (or $prefix/bin/skiff agent --server URL --token TOKEN)"
fi
