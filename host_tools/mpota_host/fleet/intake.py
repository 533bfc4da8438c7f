# SPDX-License-Identifier: MIT
"""Group commit for device reports: the reports that arrive while one
batch is being written wait together and are written as the next batch,
one transaction for all (reports.ingest_many). Under light load a batch
is one report and nothing waits for a timer; under heavy load the batch
grows and the cost per report falls. A device has its answer only after
its report is committed."""

import asyncio

from starlette.concurrency import run_in_threadpool

from . import reports

# Enough to take the per-transaction cost out of the figure; small enough
# that one batch stays a short transaction holding few row locks.
BATCH = 64


class Intake:
    """One per service process: batches are written one at a time."""

    def __init__(self, eng, batch=BATCH):
        self.eng = eng
        self.batch = batch
        self._waiting = []
        self._writer = None

    async def take(self, device_id, seq, tag_hex, body):
        """The ack for one report, or raise reports.Refused."""
        got = asyncio.get_running_loop().create_future()
        self._waiting.append(((device_id, seq, tag_hex, body), got))
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._write_all())
        result = await got
        if isinstance(result, reports.Refused):
            raise result
        return result

    async def _write_all(self):
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:self.batch], self._waiting[self.batch:]
                try:
                    results = await run_in_threadpool(
                        reports.ingest_many, self.eng, [item for item, _ in batch])
                except Exception as e:  # the database failed the batch
                    # Each report is tried alone, so one report the
                    # database refuses fails no other.
                    results = [e] if len(batch) == 1 else \
                        [await self._alone(item) for item, _ in batch]
                for (_, got), result in zip(batch, results):
                    if got.done():  # the client has gone away
                        continue
                    if isinstance(result, Exception) and not isinstance(result, reports.Refused):
                        got.set_exception(result)
                    else:
                        got.set_result(result)
        finally:
            self._writer = None

    async def _alone(self, item):
        try:
            return (await run_in_threadpool(reports.ingest_many, self.eng, [item]))[0]
        except Exception as e:  # answered as the request's failure (500)
            return e
