#!/usr/bin/env bash
# Installs the Debian packages Canopy builds against, only those missing.
# apt-get runs as root, through sudo when not already root.
set -euo pipefail
packages=(libjpeg-dev libpng-dev libtiff-dev libopenblas-dev pkg-config libopenmpi-dev openmpi-bin)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
echo "installing: ${missing[*]}"
as_root apt-get update -qq
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
