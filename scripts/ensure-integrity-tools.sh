#!/usr/bin/env bash
# What the integrity tests need installed: OpenSSH's server and Docker's engine with a
# static busybox (to build test images FROM scratch, offline), docker-compose and debootstrap
# (tests/e2e/test_compose.py). The tests start their own
# loopback sshd and dockerd (own config, keys, sockets in temp dirs) and stop them;
# nothing is left running.
set -euo pipefail
need=()
[ -x /usr/sbin/sshd ] && command -v ssh-keygen >/dev/null || need+=(openssh-server openssh-client)
command -v dockerd >/dev/null || need+=(docker.io)
# The compose test: docker-compose (1.29, the v1 CLI) and debootstrap for the offline base.
command -v docker-compose >/dev/null || need+=(docker-compose)
command -v debootstrap >/dev/null || need+=(debootstrap)
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing for the integrity tests (apt-get): ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  # Packages may start system daemons where an init system runs; the tests use their own.
  for svc in ssh docker containerd; do
    command -v service >/dev/null && service "$svc" stop >/dev/null 2>&1 || true
  done
fi
