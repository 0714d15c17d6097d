"""The environment that turns `host_resources`' thresholds off: a test asserting a whole
report healthy must not depend on the disk and memory of the machine it runs on (a CI
runner can have < 15 % disk free). host_resources' own tests force its verdicts."""

from __future__ import annotations

import os

OFF = {"ATP_CHECK_DISK_WARN_PCT": "0", "ATP_CHECK_DISK_CRIT_PCT": "0",
       "ATP_CHECK_DISK_CRIT_GB": "0", "ATP_CHECK_MEM_WARN_PCT": "0",
       "ATP_CHECK_MEM_CRIT_PCT": "0", "ATP_CHECK_SWAP_WARN_PCT": "100"}


def env() -> dict[str, str]:
    return {**os.environ, **OFF}
