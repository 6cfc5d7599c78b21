"""Fetch photos given by URL into a cache keyed by URL: timeout, retries with back-off, size limit, content check."""

from __future__ import annotations

import hashlib
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from .files import atomic_path


class DownloadFailed(Exception):
    pass


class _NoRedirectLoops(urllib.request.HTTPRedirectHandler):
    max_redirections = 5


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_NoRedirectLoops())


def cache_path(cache_dir: Path, url: str) -> Path:
    return Path(cache_dir) / hashlib.sha256(url.encode("utf-8")).hexdigest()


def fetch(url: str, cache_dir: Path, timeout: float, retries: int, max_bytes: int) -> Path:
    """Download one URL into the cache (or reuse it); raise DownloadFailed with the reason."""
    target = cache_path(cache_dir, url)
    if target.exists():
        return target
    last = "unknown error"
    for attempt in range(retries + 1):
        if attempt:
            time.sleep(min(0.2 * 2 ** attempt, 5.0))
        try:
            with _opener().open(urllib.request.Request(url, headers={"User-Agent": "mmaudit"}), timeout=timeout) as response:
                kind = response.headers.get_content_type()
                if not kind.startswith("image/"):
                    raise DownloadFailed(f"{url}: content type {kind}, not an image")
                length = response.headers.get("Content-Length")
                if length and length.isdigit() and int(length) > max_bytes:
                    raise DownloadFailed(f"{url}: {length} bytes, over the limit of {max_bytes}")
                body = response.read(max_bytes + 1)
                if len(body) > max_bytes:
                    raise DownloadFailed(f"{url}: over the limit of {max_bytes} bytes")
            with atomic_path(target) as tmp:
                tmp.write_bytes(body)
            return target
        except DownloadFailed:
            raise
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
            if exc.code < 500 and exc.code != 429:
                break  # a client error will not change on retry
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            last = str(getattr(exc, "reason", exc))
    raise DownloadFailed(f"{url}: {last} after {attempt + 1} attempt(s)")


def fetch_all(urls: list[str], cache_dir: Path, timeout: float, retries: int, max_bytes: int,
              workers: int, advance: Callable[[], None] = lambda: None) -> dict[str, Path | DownloadFailed]:
    """Download many URLs concurrently; each maps to its cached path or its failure."""
    Path(cache_dir).mkdir(parents=True, exist_ok=True)

    def one(url: str) -> Path | DownloadFailed:
        try:
            return fetch(url, cache_dir, timeout, retries, max_bytes)
        except DownloadFailed as exc:
            return exc
        finally:
            advance()

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        return dict(zip(urls, pool.map(one, urls)))
