"""The HTTP API and dashboard (FastAPI), served by the same process as the monitor."""
