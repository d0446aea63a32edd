#!/usr/bin/env python3
"""Writes the README's sample images (before.png, after.png, source.png) with nothing but the standard library.

The exemplar pair shows an edit -- a grey square turns red -- and the source has a grey disc to apply it to.
Run from anywhere: python3 samples/make.py
"""
import os, struct, zlib

W, H = 256, 192
HERE = os.path.dirname(os.path.abspath(__file__))


def png(path, pixel):
    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(W)) for y in range(H))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def sky(x, y):
    return (70 + y // 4, 120 + y // 4, 200)


def square(colour):
    return lambda x, y: colour if 88 <= x < 168 and 56 <= y < 136 else sky(x, y)


def disc(x, y):
    return (128, 128, 128) if (x - 128) ** 2 + (y - 96) ** 2 < 50 ** 2 else (60, 150 + y // 5, 80)


png(os.path.join(HERE, "before.png"), square((128, 128, 128)))
png(os.path.join(HERE, "after.png"), square((210, 40, 40)))
png(os.path.join(HERE, "source.png"), disc)
