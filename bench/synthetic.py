"""Synthetic S3 Inventory reports for benchmarks: mixed types, groups, sidecars, junk.

Keys are generated in lexicographic order (zero-padded numbers, categories in name
order), as real inventories usually are; the pipeline does not rely on it.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path

BUCKET = "bench-bucket"
ROWS_PER_FILE = 500_000
SCHEMA = "Bucket, Key, Size, StorageClass"

# share of objects per category (sums to 1)
MIX = (
    ("audio", 0.02),
    ("dicom", 0.08),
    ("docs", 0.03),
    ("groups", 0.15),
    ("images", 0.60),
    ("misc", 0.02),
    ("videos", 0.10),
)
FRAMES_PER_GROUP = 10
SLICES_PER_SERIES = 20
FILES_PER_FOLDER = 1000


def _keys(total: int) -> Iterator[tuple[str, int]]:
    for category, share in MIX:
        n = max(1, int(total * share))
        if category == "audio":
            for i in range(n):
                yield f"audio/rec_{i:09d}.wav", 2048
        elif category == "dicom":
            for i in range(n):
                s, k = divmod(i, SLICES_PER_SERIES)
                yield f"dicom/series_{s:08d}/slice_{k:04d}.dcm", 4096
        elif category == "docs":
            for i in range(n):
                ext = ("pdf", "txt", "html")[i % 3]
                yield f"docs/doc_{i:09d}.{ext}", 1000
        elif category == "groups":
            for i in range(n):
                g, k = divmod(i, FRAMES_PER_GROUP)
                yield f"groups/g_{g:08d}/frame_{k}.png", 5000
        elif category == "images":
            for i in range(n):
                d, k = divmod(i, FILES_PER_FOLDER)
                yield f"images/d_{d:06d}/img {k:05d}.jpg", 30000
        elif category == "misc":
            for i in range(n):
                if i % 3 == 0:
                    yield f"misc/m_{i:09d}/", 0
                elif i % 3 == 1:
                    yield f"misc/m_{i:09d}.bin", 10
                else:
                    yield f"misc/m_{i:09d}.jpg", 0
        else:
            i = 0
            emitted = 0
            while emitted < n:
                yield f"videos/clip_{i:09d}.mp4", 10**7
                emitted += 1
                if i % 2 == 0 and emitted < n:
                    yield f"videos/clip_{i:09d}.mp4.json", 60
                    emitted += 1
                i += 1


SIDECAR_BODY = json.dumps({"site": "bench", "keyframes": [0, 10, 20]}).encode()


def write_inventory(root: Path, total: int, *, unsorted: bool = False) -> Path:
    """Write an inventory report of about `total` objects under `root`; return manifest.json.

    With `unsorted` the data files are listed in reverse key order (each file is still
    sorted), so the reader has to merge its sort runs instead of chaining them.
    """
    data_dir = root / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    files = []
    rows = _keys(total)
    index = 0
    done = False
    while not done:
        name = f"data/part-{index:05d}.csv.gz"
        buffer = io.StringIO()
        out = csv.writer(buffer, lineterminator="\n")
        count = 0
        for key, size in rows:
            encoded = key.replace("%", "%25").replace("+", "%2B").replace(" ", "+")
            out.writerow((BUCKET, encoded, size, "STANDARD"))
            count += 1
            if count >= ROWS_PER_FILE:
                break
        else:
            done = True
        if count:
            with gzip.open(root / name, "wb", compresslevel=1) as fh:
                fh.write(buffer.getvalue().encode())
            files.append({"key": f"inv/{BUCKET}/cfg/{name}", "size": 0, "MD5checksum": ""})
        index += 1
    manifest = {
        "sourceBucket": BUCKET,
        "destinationBucket": "arn:aws:s3:::bench-inventory",
        "version": "2016-11-30",
        "fileFormat": "CSV",
        "fileSchema": SCHEMA,
        "files": files[::-1] if unsorted else files,
    }
    path = root / "manifest.json"
    path.write_text(json.dumps(manifest))
    return path
