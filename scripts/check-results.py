#!/usr/bin/env python3
"""Checks that every artefact in a results folder reads whole: JSON parses, CSVs have a header and
rows of equal width, safetensors headers are consistent with the file size. Used by
scripts/kill-resume-test.sh after every kill. Leftover NAME.tmp-PID files are ignored (the file
they were replacing is intact; canopy removes them at its next start)."""
import csv, json, os, struct, sys

def check_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, stop = entry["data_offsets"]
        end = max(end, stop)
    assert 8 + length + end == len(data), f"{path}: size {len(data)} != header's {8 + length + end}"

def check(folder):
    """Reads every artefact under folder; raises on the first that does not read whole."""
    checked = 0
    for root, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            if ".tmp-" in name:
                continue
            if name.endswith(".json"):
                json.load(open(path))
            elif name.endswith(".csv"):
                rows = list(csv.reader(open(path)))
                assert rows, f"{path}: empty"
                assert all(len(r) == len(rows[0]) for r in rows), f"{path}: ragged rows"
            elif name.endswith(".safetensors"):
                check_safetensors(path)
            else:
                continue
            checked += 1
    return f"{checked} files read whole"

if __name__ == "__main__":
    print(f"{check(sys.argv[1])} in {sys.argv[1]}")
