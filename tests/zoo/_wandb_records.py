"""Reading an offline W&B run log (``offline-run-*/run-*.wandb``) without a server."""

from __future__ import annotations

import struct
from pathlib import Path


def read_wandb_records(path: Path) -> list:
    """Parse a W&B run log: a 7-byte header, then LevelDB-log blocks of 32 KiB whose chunks
    (crc32 u32, length u16, type u8: 1 full, 2 first, 3 middle, 4 last) carry protobuf Records."""
    from wandb.proto import wandb_internal_pb2

    data, pos, block, records, pending = path.read_bytes(), 7, 32768, [], b""
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        if block - pos % block < 7:
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        payload, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind == 0:
            break
        pending = payload if kind in (1, 2) else pending + payload
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records
