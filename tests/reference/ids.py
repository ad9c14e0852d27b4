"""Plain-Python twins of ``sysprims._kernels.ids`` and ``_kernels.base62``, and a
textbook Snowflake generator (with an injectable clock) as the naive baseline."""

from __future__ import annotations

import string

from .murmur3 import _fmix64

M64 = (1 << 64) - 1
ALPHABET = string.digits + string.ascii_lowercase + string.ascii_uppercase


def fill_consecutive(out: list[int], pos: int, count: int, first: int) -> None:
    for i in range(count):
        out[pos + i] = first + i


def decode_snowflake(v: int, ts_shift: int, machine_shift: int, machine_mask: int, seq_mask: int) -> tuple[int, int, int]:
    return v >> ts_shift, (v >> machine_shift) & machine_mask, v & seq_mask


def encode_base62(num: int, width: int = 0) -> str:
    """Textbook repeated division (the seed's loop), padded with '0'."""
    if num == 0:
        s = "0"
    else:
        out = []
        while num > 0:
            out.append(ALPHABET[num % 62])
            num //= 62
        s = "".join(reversed(out))
    return s.rjust(width, "0")


def decode_base62(code: str) -> int | None:
    """Horner's rule; None for invalid input or a value above 2**64 - 1."""
    if not code:
        return None
    num = 0
    for ch in code:
        idx = ALPHABET.find(ch)
        if idx < 0:
            return None
        num = num * 62 + idx
    return num if num <= M64 else None


def feistel(v: int, round_keys: list[int], half_bits: int, domain: int, inverse: bool) -> int:
    """Balanced Feistel network with an fmix64 round function, cycle-walked into [0, domain)."""
    mask = (1 << half_bits) - 1
    while True:
        left, right = v >> half_bits, v & mask
        if inverse:
            for k in reversed(round_keys):
                left, right = right ^ (_fmix64(left ^ k) & mask), left
        else:
            for k in round_keys:
                left, right = right, left ^ (_fmix64(right ^ k) & mask)
        v = (left << half_bits) | right
        if v < domain:
            return v


class TextbookSnowflake:
    """A Snowflake generator written from the textbook description, as a naive baseline.

    An ID is ``(ms since epoch) << (machine_bits + sequence_bits) | machine << sequence_bits
    | sequence``. IDs minted in the same millisecond are told apart by the sequence counter;
    when that counter runs out the generator spins on ``clock`` until the next millisecond.
    The machine number is truncated to ``machine_bits`` (the naive behaviour: an out-of-range
    machine silently aliases another one). ``clock`` returns integer milliseconds.
    """

    def __init__(self, machine_id: int, epoch: int = 1609459200000, clock=None,
                 machine_bits: int = 10, sequence_bits: int = 12):
        self.sequence_bits = sequence_bits
        self.machine_shift = sequence_bits
        self.time_shift = machine_bits + sequence_bits
        self.machine_id = machine_id % (1 << machine_bits)
        self.epoch = epoch
        self.clock = clock
        self.last_ms: int | None = None
        self.counter = 0

    def generate(self) -> int:
        now = self.clock()
        if self.last_ms is not None and now < self.last_ms:
            raise RuntimeError("clock went backwards")
        if now != self.last_ms:
            self.counter = 0
        elif self.counter + 1 < (1 << self.sequence_bits):
            self.counter += 1
        else:  # this millisecond is used up: wait for the next one
            while now == self.last_ms:
                now = self.clock()
            self.counter = 0
        self.last_ms = now
        return ((now - self.epoch) << self.time_shift) | (self.machine_id << self.machine_shift) | self.counter

