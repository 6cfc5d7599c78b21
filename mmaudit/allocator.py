"""How a stage's memory is handed out: glibc's allocator set for the towers' large, short-lived buffers, and
transparent huge pages turned off where large arrays are filled once each (`no_huge_pages`).

By default glibc maps each buffer over 32 MiB (a batch's activations in the photo tower) fresh from the kernel and
unmaps it when freed, and returns freed memory at the heap's top to the kernel: every call then faults all those pages
in anew. On the 2-core machine a quarter of `make-negatives`' CPU time went to the kernel that way. Keeping buffers up to
`KEPT_BYTES` in the heap, and up to as much freed memory for reuse, let the photo tower run 2.0x as many photos/s
as its package builds it and 1.4x in its inference form, for 2-6% more peak memory there and about a tenth more in
`make-negatives` (bench/tower_forms.py, bench/audit_speed.py). `train` sets it too: the claim heads' steps take and
free buffers of tens of MB; on the whole shared catalog's pairs `train` took 0.94x and 0.98x the time in two
side-by-side runs (bench/train_allocator.py; each of five runs kept faster than the run as started just before it),
its peak 1,504 -> 1,633 MiB in the whole catalog's audit (bench/audit_speed.py).
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (malloc.h)
PR_SET_THP_DISABLE = 41  # prctl's option (linux/prctl.h)
KEPT_BYTES = 256 << 20
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def keep_freed_buffers() -> bool:
    """Have glibc reuse freed buffers instead of returning them to the kernel; once per process, before the towers run.
    False, changing nothing, where the C library is not glibc (macOS, musl) or the user set glibc's own variables."""
    if platform.libc_ver()[0] != "glibc" or any(name in os.environ for name in USER_SETTINGS):
        return False
    libc = ctypes.CDLL(None)
    done = libc.mallopt(M_MMAP_THRESHOLD, KEPT_BYTES) == 1 and libc.mallopt(M_TRIM_THRESHOLD, KEPT_BYTES) == 1
    log.debug("glibc keeps freed buffers up to %d MiB: %s", KEPT_BYTES >> 20, done)
    return done


def no_huge_pages() -> bool:
    """Have Linux back this process's memory with ordinary pages only, not transparent huge pages (which numpy asks
    for, for every array of 4 MB or more). Where a fresh huge page is costly to find (memory handed back to a virtual
    machine's host, or fragmented), filling a fresh 1 GB array took 3.7-10 s in huge pages against 0.5 s in ordinary
    ones; once a process has used its pages, either kind is fast. With them off `train` took 0.85-0.89x the time,
    `score` 0.91-0.94x, `make-negatives` beside its towers 0.68-0.80x
    (docs/decisions/2026-12-05-huge-pages-off-in-three-stages.md). False, changing nothing, off Linux or where the user
    set numpy's own `NUMPY_MADVISE_HUGEPAGE`."""
    if platform.system() != "Linux" or "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return False
    done = ctypes.CDLL(None).prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) == 0
    log.debug("no transparent huge pages: %s", done)
    return done
