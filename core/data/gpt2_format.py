"""OpenAI's GPT-2 tokenizer files (encoder.json + vocab.bpe) read into byte-level BPE ranks.

The same reading as tiktoken's `data_gym_to_mergeable_bpe_ranks`, done here so that the files
are size-checked first and every flaw is a TokenizerError naming the file and the line or token
(tiktoken's version asserts, and caches local files in a temporary folder by path).
"""

from __future__ import annotations

import json
from pathlib import Path

from ..fileio import FileFormatError, check_size
from .tokenizer import TokenizerError

MAX_BYTES = 64 << 20
SPECIAL_TOKENS = ("<|endoftext|>", "<|startoftext|>")  # in encoder.json, but not made by merges


def byte_alphabet() -> dict[str, int]:
    """The character GPT-2's files write for each byte: printable ones as themselves, the 68
    others (space, controls, ...) as chr(256), chr(257), ... in byte order. Listed in the
    order of the byte tokens' ranks."""
    printable = [b for b in range(256) if chr(b).isprintable() and chr(b) != " "]
    alphabet = {chr(b): b for b in printable}
    others = [b for b in range(256) if b not in alphabet.values()]
    alphabet.update({chr(256 + n): b for n, b in enumerate(others)})
    return alphabet


def _read_text(path: Path) -> str:
    try:
        check_size(path, MAX_BYTES)
        return path.read_bytes().decode("utf-8")
    except FileFormatError as e:
        raise TokenizerError(str(e)) from None
    except OSError as e:
        raise TokenizerError(f"{path}: cannot read ({e.strerror or e})") from None
    except UnicodeDecodeError as e:
        raise TokenizerError(f"{path}: not UTF-8 text (byte {e.start})") from None


def _to_bytes(token: str, alphabet: dict[str, int]) -> bytes | None:
    try:
        return bytes(alphabet[c] for c in token)
    except KeyError:
        return None


def read_merges(path: Path, alphabet: dict[str, int]) -> dict[bytes, int]:
    """The 256 byte tokens, then one token per merge line, ranked in file order."""
    lines = _read_text(path).split("\n")
    first_line = 1
    if lines[0].startswith("#version"):
        lines, first_line = lines[1:], 2
    while lines and not lines[-1]:
        lines.pop()
    ranks = {bytes([b]): i for i, b in enumerate(alphabet.values())}
    for number, line in enumerate(lines, start=first_line):
        parts = line.split(" ")
        if len(parts) != 2 or not all(parts):
            raise TokenizerError(f"{path}: line {number}: malformed merges line {line!r} (expected 'A B')")
        first, second = (_to_bytes(p, alphabet) for p in parts)
        for part, value in zip(parts, (first, second)):
            if value is None or value not in ranks:
                raise TokenizerError(f"{path}: line {number}: merges unknown token {part!r}")
        merged = first + second
        if merged in ranks:
            raise TokenizerError(f"{path}: line {number}: token {line.replace(' ', '')!r} is made twice")
        ranks[merged] = len(ranks)
    return ranks


def read_encoder(path: Path, alphabet: dict[str, int]) -> dict[str, int]:
    """encoder.json: a JSON object from token (in the byte alphabet) to id."""
    try:
        data = json.loads(_read_text(path))
    except json.JSONDecodeError as e:
        raise TokenizerError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise TokenizerError(f"{path}: expected a JSON object mapping tokens to ids")
    for token, token_id in data.items():
        if isinstance(token_id, bool) or not isinstance(token_id, int) or token_id < 0:
            raise TokenizerError(f"{path}: field {token!r}: expected an id >= 0 (got {token_id!r})")
        if token not in SPECIAL_TOKENS and _to_bytes(token, alphabet) is None:
            raise TokenizerError(f"{path}: field {token!r}: not a token of GPT-2's byte alphabet")
    return data


def read_gpt2_format(encoder_json: Path, vocab_bpe: Path) -> tuple[dict[bytes, int], dict[str, int]]:
    """(mergeable ranks, special tokens). The ids of encoder.json must be the merge order of
    vocab.bpe, which is what tiktoken's encoder assumes."""
    encoder_json, vocab_bpe = Path(encoder_json), Path(vocab_bpe)
    alphabet = byte_alphabet()
    ranks = read_merges(vocab_bpe, alphabet)
    encoder = read_encoder(encoder_json, alphabet)
    specials = {t: encoder.pop(t) for t in SPECIAL_TOKENS if t in encoder}
    for token, token_id in encoder.items():
        made = ranks.get(_to_bytes(token, alphabet))
        if made is None:
            raise TokenizerError(f"{encoder_json}: field {token!r}: no merge in {vocab_bpe.name} makes it")
        if made != token_id:
            raise TokenizerError(
                f"{encoder_json}: field {token!r}: id {token_id}, but {vocab_bpe.name} ranks it {made}"
            )
    if len(ranks) != len(encoder):
        listed = {_to_bytes(t, alphabet) for t in encoder}
        missing = next(t for t in ranks if t not in listed)
        spelled = "".join(next(c for c, b in alphabet.items() if b == byte) for byte in missing)
        raise TokenizerError(f"{encoder_json}: no id for {spelled!r}, which {vocab_bpe.name} makes")
    for token, token_id in specials.items():
        if token_id < len(ranks) or list(specials.values()).count(token_id) > 1:
            raise TokenizerError(f"{encoder_json}: field {token!r}: id {token_id} is another token's")
    return ranks, specials
