"""The ``jobs`` role: fan events out, deliver webhooks, analyse calls. Each runs in its own
loop, woken at once by work committed in this process and by polling for work committed in
others."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from callwright.net import SafeHttpClient
from callwright.services.analysis import choose_analyzer
from callwright.services.analysis.runner import AnalysisRunner
from callwright.services.secrets import SecretBox
from callwright.services.webhooks.fanout import EventFanout
from callwright.services.webhooks.links import FileLinks
from callwright.services.webhooks.sender import WebhookSender
from callwright.settings import Settings
from callwright.store.db import Database

log = logging.getLogger("callwright.jobs")

FANOUT_BATCH = 500


def public_base_url(settings: Settings) -> str:
    return settings.public_url.rstrip("/") or f"http://{settings.host}:{settings.port}"


class BackgroundJobs:
    def __init__(self, settings: Settings, db: Database, http: SafeHttpClient, box: SecretBox) -> None:
        self.db = db
        self.poll_s = settings.jobs_poll_interval_s
        self.links = FileLinks(box, public_base_url(settings), settings.attachment_url_ttl_s)
        self.sender = WebhookSender(
            db, box, http, schedule=tuple(settings.webhook_retry_schedule_s), timeout_s=settings.webhook_timeout_s,
            poll_s=self.poll_s,
        )
        self.analysis = AnalysisRunner(
            db, choose_analyzer(settings.openai_base_url, settings.openai_api_key, settings.analysis_model),
            poll_s=self.poll_s,
        )
        self.fanout = EventFanout(
            db, self.links, on_deliveries=self.sender.wakeups.notify, on_analysis=self.analysis.wakeups.notify
        )
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._forever("event fan-out", self._fan_out), name="jobs-fanout"),
            asyncio.create_task(self._forever("webhook sender", self.sender.run), name="jobs-webhooks"),
            asyncio.create_task(self._forever("analysis", self.analysis.run), name="jobs-analysis"),
        ]

    async def _fan_out(self) -> None:
        while True:
            if await self.fanout.run_once(FANOUT_BATCH) < FANOUT_BATCH:
                await self.db.wakeups.wait(self.poll_s)

    async def _forever(self, name: str, loop: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed; restarting it", name)
                await asyncio.sleep(self.poll_s)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
