"""Reading a request body with a hard size cap, before any parsing happens."""

from __future__ import annotations

from starlette.requests import Request

from cimhub.errors import MessageTooLargeError


async def read_capped(request: Request, limit: int) -> bytes:
    """The whole body, or MessageTooLargeError as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise MessageTooLargeError(f"body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:  # stop reading: a streamed 1 GB body never sits in memory
            raise MessageTooLargeError(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
