#!/usr/bin/env bash
# Installs the Debian packages the test suite drives as oracles and real clients (scripts/test.mjs).
# `--editor`: only what `npm start -- --editor` needs to install code-server (scripts/e2e-host.mjs:
# kerberos' native build needs libkrb5-dev, its ripgrep download is seeded from Debian's rg).
# Idempotent: packages already present are skipped, so a warm machine pays ~0.1 s.
set -euo pipefail
if [ "${1:-}" = "--editor" ]; then
  PKGS=(libkrb5-dev ripgrep)
  NORECOMMENDS=()
else
  PKGS=(qemu-utils cryptsetup-bin libvirt-clients libxml2-utils neovim chromium libkrb5-dev ripgrep openssl)
  NORECOMMENDS=(emacs-nox elpa-eglot libvirt-daemon qemu-system-x86 openssh-server)
fi
missing=()
for p in "${PKGS[@]}" "${NORECOMMENDS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "setup-debian: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${PKGS[@]}" >/dev/null
[ ${#NORECOMMENDS[@]} -eq 0 ] || $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${NORECOMMENDS[@]}" >/dev/null
