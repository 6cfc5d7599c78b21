"""mmaudit: find the products in a catalog whose photo does not match their text."""

import os

# numpy asks Linux for transparent huge pages for every array of 4 MB or more, a setting it reads once, at its import
# (which comes after this: the `mmaudit` command imports this package first). On a virtual machine whose host takes
# back freed memory, each fresh huge page is then faulted in from the host: about 110 MB/s on this workplace's machines,
# against 2.1-2.5 GB/s for ordinary pages, so `train` and `score` spent seconds first touching their arrays
# (docs/decisions/2026-12-05-numpy-without-huge-pages.md). A user's own setting wins: NUMPY_MADVISE_HUGEPAGE=1.
os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

__version__ = "0.1.0"
