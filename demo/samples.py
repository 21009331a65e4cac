"""Small, generated sample files of every type the helper registers, plus awkward cases.

Everything is made here from the standard library (no binary fixtures in the repository):
real PNG images and WAV audio, a minimal PDF, a tiny MP4 container, DICOM Part 10 files.
`SAMPLES` lists what the demo seeds into the data bucket and why each object is there.
"""

from __future__ import annotations

import io
import json
import math
import struct
import wave
import zlib
from collections.abc import Iterator
from dataclasses import dataclass


def png(width: int = 32, height: int = 24, seed: int = 0) -> bytes:
    """A valid RGB PNG with a gradient (different per `seed`)."""
    raw = b"".join(
        b"\x00"
        + b"".join(
            bytes(((x * 8 + seed * 40) % 256, (y * 10) % 256, (seed * 70) % 256))
            for x in range(width)
        )
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def wav(seconds: float = 0.25, frequency: float = 440.0, rate: int = 8000) -> bytes:
    """A valid mono 16-bit WAV tone."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        frames = int(seconds * rate)
        out.writeframes(
            b"".join(
                struct.pack("<h", int(12000 * math.sin(2 * math.pi * frequency * i / rate)))
                for i in range(frames)
            )
        )
    return buffer.getvalue()


def pdf(text: str = "Encord demo document") -> bytes:
    """A minimal one-page PDF with a line of text."""
    stream = f"BT /F1 18 Tf 40 100 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 144] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def mp4() -> bytes:
    """A tiny ISO-BMFF file (ftyp + moov/mvhd, no tracks): recognised as MP4, plays nothing."""

    def box(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", 8 + len(payload)) + kind + payload

    ftyp = box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2mp41")
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = box(
        b"mvhd",
        bytes(4)  # version 0, flags
        + struct.pack(">IIII", 0, 0, 1000, 0)  # created, modified, timescale, duration
        + struct.pack(">IH", 0x10000, 0x100)  # rate 1.0, volume 1.0
        + bytes(10)
        + matrix
        + bytes(24)
        + struct.pack(">I", 1),  # next track ID
    )
    return ftyp + box(b"moov", mvhd)


def dicom(instance: int, series: str = "1.2.826.0.1.3680043.9999.1") -> bytes:
    """A small DICOM Part 10 file (preamble, DICM, a few explicit-VR elements)."""

    def element(group: int, elem: int, vr: bytes, value: bytes) -> bytes:
        if len(value) % 2:
            value += b" " if vr in (b"UI", b"LO", b"PN", b"CS", b"IS") else b"\x00"
        return struct.pack("<HH", group, elem) + vr + struct.pack("<H", len(value)) + value

    body = (
        element(0x0002, 0x0010, b"UI", b"1.2.840.10008.1.2.1")
        + element(0x0010, 0x0010, b"PN", b"DEMO^PATIENT")
        + element(0x0020, 0x000E, b"UI", series.encode())
        + element(0x0020, 0x0013, b"IS", str(instance).encode())
    )
    return bytes(128) + b"DICM" + body


@dataclass(frozen=True)
class Sample:
    """One object the demo puts into the data bucket."""

    key: str
    body: bytes
    why: str
    storage_class: str = "STANDARD"


def samples() -> Iterator[Sample]:
    """Every object the demo seeds, in key order within each folder."""
    yield Sample("media/audio/tone 440Hz.wav", wav(), "audio")
    yield Sample("media/docs/notes.txt", b"Plain text, registered as a text item.\n", "text")
    yield Sample("media/docs/report.pdf", pdf(), "PDF")
    yield Sample("media/images/cat.png", png(seed=1), "image")
    yield Sample(
        "media/images/cat.png.json",
        json.dumps({"source": "demo", "split": "train", "score": 0.93}).encode(),
        "sidecar metadata: becomes the cat's clientMetadata, not an item",
    )
    yield Sample(
        "media/images/café + 100% #1?.png", png(seed=2), "awkward key: unicode, space, + % # ?"
    )
    yield Sample("media/images/empty.png", b"", "empty object: skipped with its reason")
    yield Sample("media/images/thumbs.db", b"\x00" * 16, "unknown type: skipped with its reason")
    for i in (1, 2, 10):
        yield Sample(
            f"media/sequences/drone-flight/frame{i}.png", png(seed=i + 3), "image sequence frame"
        )
    yield Sample("media/videos/clip.mp4", mp4(), "video")
    yield Sample(
        "media/videos/clip.mp4.json",
        json.dumps({"keyframes": [0, 12], "camera": "front"}).encode(),
        "video sidecar with key frames",
    )
    yield Sample(
        "media/videos/zz-2019-archive.mp4",
        mp4(),
        "in Glacier and not restored: skipped (Encord would get 403 InvalidObjectState)",
        storage_class="GLACIER",
    )
    for i in (1, 2, 3):
        yield Sample(f"scans/patient-001/series-1/{i}.dcm", dicom(i), "DICOM series slice")
    yield Sample(
        "private/payroll.csv", b"name,salary\n", "outside the granted prefixes: never listed"
    )
