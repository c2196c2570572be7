"""Serve the Callwright API with the voice runtime off: calls are stored (``queued``) but never dialed.

`callwright serve` always starts the voice runtime, so the API benchmark runs this instead. Settings
come from the environment exactly as for `callwright serve` (``DATABASE_URL``, ``CALLWRIGHT_*``).

    python bench/api_server.py --host 127.0.0.1 --port 8000 --workers 1
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from callwright.app import create_app
from callwright.observability import configure_logging
from callwright.services.dispatch import NoDialer
from callwright.settings import get_settings


def app() -> FastAPI:
    """uvicorn factory (also called in each worker process when ``--workers`` > 1)."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)
    return create_app(settings, queue=NoDialer(), voice=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        "api_server:app", factory=True, app_dir=str(Path(__file__).resolve().parent),
        host=args.host, port=args.port, workers=args.workers,
        log_config=None, access_log=False, ws_ping_interval=None,
    )


if __name__ == "__main__":
    main()
