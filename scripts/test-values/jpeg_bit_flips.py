#!/usr/bin/env python3
"""Expected outcome of each JPEG of the bit-flip corpus of Tests/ImageIOTests/CorruptFileTests.swift
(testRandomBitFlipsEndInTheirExpectedOutcome), printed as the Swift table that test holds.

The corpus: datasets/planet-sample/train-jpg/train_3.jpg with 1 to 8 random bits flipped (never in
the first 4 bytes), 150 mutants, drawn by the same SplitMix64 stream as the test (the JPEGs come
first in it). Each mutant is decoded by libjpeg-turbo's own djpeg (apt: libjpeg-turbo-progs), with
every warning printed (-verbose x3), and classified by the rule Canopy documents for its decoder
(Sources/CShims/jpeg_shim.c): a fatal error fails the decode (premature end of input: truncated;
otherwise corrupt); of the warnings, "Premature end of JPEG file" fails it as truncated, and those
that mean wrong pixels (premature end of data segment, bad Huffman or arithmetic code, a missing
restart marker, bad sequential SOS parameters, an inconsistent progression) fail it as corrupt;
other warnings are harmless. A mutant that decodes is described by its size and a hash (FNV-1a 64 over
little-endian 64-bit words) of djpeg's RGB samples (a 4-component file written as djpeg writes CMYK to PPM: r = c·k/255).

Then, as comments, the same classification of the other damaged copies of train_3.jpg that test
file checks: cut to its first N bytes, its last N bytes dropped, 512 bytes zeroed from a third in.

    .venv-torch/bin/python scripts/test-values/jpeg_bit_flips.py
"""
import os
import struct
import subprocess
import tempfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
MASK = (1 << 64) - 1


class SplitMix64:
    def __init__(self, seed):
        self.state = seed

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)


def fnv1a_words(data):
    """FNV-1a 64 taken over little-endian 64-bit words instead of bytes (8 times fewer steps for the
    test's debug build); `data` is a whole number of words."""
    assert len(data) % 8 == 0
    h = 0xCBF29CE484222325
    for (word,) in struct.iter_unpack("<Q", data):
        h = ((h ^ word) * 0x100000001B3) & MASK
    return h


# "Corrupt JPEG data: bad Huffman code" is left out: libjpeg-turbo warns of it only on its slow
# Huffman path, which djpeg's 4 KB stdio buffer takes near every buffer end; on the fast path (most
# of an in-memory source such as Canopy's) the same code is silently decoded as 0. The pixels are the
# same either way (djpeg writes its output after the warning), so a mutant whose only problem is a
# bad Huffman code is expected to decode, to djpeg's pixels: the test says so where it happens.
PIXEL_WARNINGS = ["Corrupt JPEG data: premature end of data segment",
                  "Corrupt JPEG data: bad arithmetic code", "instead of RST", "Invalid SOS parameters for sequential JPEG",
                  "Inconsistent progression sequence"]


def classify(path, folder):
    out = os.path.join(folder, "out.ppm")
    run = subprocess.run(["djpeg", "-verbose", "-verbose", "-verbose", "-pnm", "-outfile", out, path],
                         capture_output=True, text=True, errors="replace")
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    # djpeg exits 1 on a fatal error (its last message), 2 when it finished with warnings.
    fatal = lines.pop() if run.returncode == 1 else None
    for line in lines:
        if "Premature end of JPEG file" in line:
            return ("truncated",), line
        if any(w in line for w in PIXEL_WARNINGS):
            return ("corrupt",), line
    if fatal is not None:
        return ("truncated" if "Premature end of input file" in fatal or "Empty input file" in fatal else "corrupt",), fatal
    data = open(out, "rb").read()
    magic, width, height, maxval, pixels = data.split(maxsplit=4)
    assert magic == b"P6" and maxval == b"255", magic
    width, height = int(width), int(height)
    assert max(width, height) <= 16384, "the decode limits would refuse it: not handled here"
    assert len(pixels) == width * height * 3
    note = next((line for line in lines if "bad Huffman code" in line), "")
    return ("decoded", width, height, 3, fnv1a_words(pixels)), note


def classify_bytes(data, path, folder):
    open(path, "wb").write(data)
    return classify(path, folder)


def main():
    jpeg = open(os.path.join(ROOT, "datasets/planet-sample/train-jpg/train_3.jpg"), "rb").read()
    random = SplitMix64(17)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "mutant.jpg")
        for mutant in range(150):
            copy = bytearray(jpeg)
            for _ in range(1 + random.next() % 8):
                at = 4 + random.next() % (len(copy) - 4)
                copy[at] ^= 1 << (random.next() % 8)
            open(path, "wb").write(copy)
            outcome, why = classify(path, folder)
            rows.append((mutant, outcome, why))
        extras = [(f"cut at {cut}", jpeg[:cut]) for cut in
                  (3, 4, 7, 10, 50, 100, len(jpeg) // 4, len(jpeg) // 2, len(jpeg) * 3 // 4)]
        extras += [(f"last {n} bytes dropped", jpeg[:-n]) for n in range(1, 9)]
        zeroed = bytearray(jpeg)
        zeroed[len(jpeg) // 3:len(jpeg) // 3 + 512] = bytes(512)
        extras.append(("512 bytes zeroed", bytes(zeroed)))
        whole = classify_bytes(jpeg, path, folder)[0]
        described = []
        for label, data in extras:
            outcome, why = classify_bytes(data, path, folder)
            text = "the whole file's pixels" if outcome == whole else " ".join(map(str, outcome))
            described.append(f"// {label}: {text}" + (f" ({why.strip()})" if why else ""))
    for mutant, outcome, why in rows:
        if outcome[0] == "decoded":
            note = f": djpeg warns \"{why.strip()}\"" if why else ""
            print(f'        "{outcome[1]}x{outcome[2]}x{outcome[3]} {outcome[4]:016x}",  // {mutant}{note}')
        else:
            print(f'        "{outcome[0]}",  // {mutant}: {why.strip()}')
    print()
    print("\n".join(described))


if __name__ == "__main__":
    main()
