"""Make small, deterministic pretraining shards from text that ships with the machine (no downloads).

    python -m nanochat_ref.scripts.make_shards                      # -> <base_dir>/base_data, a few MB
    python -m nanochat_ref.scripts.make_shards --rows_per_group 32 --row_groups_per_shard 2 --num_shards 3

Design choices:
- Sources, read in a fixed order: Python's own documentation prose (``pydoc_data.topics``), the English Debian
  fortune files (``fortunes``), the Chinese ones (``fortunes-zh``: ``chinese``, ``tang300``, ``song100``; ANSI
  colour escapes stripped) and a few "dictionary page" documents from ``/usr/share/dict/words`` (``wamerican``).
  A missing source is skipped with a warning, so the script still works on a bare machine (with fewer documents).
- Long texts are cut at paragraph boundaries into documents of at most ``--max_doc_chars`` characters: nanochat's
  shards hold 1024 documents per row group, and this is how a few MB still yields several full row groups.
- Documents are shuffled with a fixed seed and written exactly like nanochat's repackaging: one ``text`` column,
  ``row_group_size=rows_per_group``, zstd level 3, no dictionary, no statistics. Every shard holds
  ``row_groups_per_shard`` full row groups; documents beyond the last full shard are dropped.
- Same inputs and flags give byte-identical files (fixed seed, sorted sources, no timestamps in parquet), and
  files are written through ``.tmp`` + rename.
- File names follow ``dataset.index_to_filename`` (``shard_00000.parquet``...); the LAST shard is the val split.
"""

from __future__ import annotations

import argparse
import os
import random
import re
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.parquet as pq

from ..common import get_base_dir
from ..dataset import index_to_filename

FORTUNE_DIR = "/usr/share/games/fortunes"
ENGLISH_FORTUNES = (
    "computers cookie definitions education food fortunes goedel humorists kids law linux linuxcookie literature "
    "love magic medicine men-women miscellaneous news people pets platitudes politics pratchett riddles science "
    "songs-poems sports startrek tao wisdom work zippy"
).split()
CHINESE_FORTUNES = ["chinese", "tang300", "song100"]
WORDS_FILE = "/usr/share/dict/words"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def split_paragraphs(text: str, max_chars: int) -> Iterator[str]:
    """Cut ``text`` at blank lines into pieces of at most ``max_chars`` (a single longer paragraph is hard-cut)."""
    piece = ""
    for para in re.split(r"\n\s*\n", text.strip()):
        para = para.strip()
        if not para:
            continue
        while len(para) > max_chars:
            if piece:
                yield piece
                piece = ""
            yield para[:max_chars]
            para = para[max_chars:]
        if piece and len(piece) + 2 + len(para) > max_chars:
            yield piece
            piece = ""
        piece = f"{piece}\n\n{para}" if piece else para
    if piece:
        yield piece


def read_fortunes(path: str) -> Iterator[str]:
    """The fortunes of one strfile text file (entries separated by lines holding a single ``%``)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = ANSI_ESCAPE.sub("", f.read())
    for entry in re.split(r"^%\s*$", text, flags=re.MULTILINE):
        entry = entry.strip("\n")
        if entry.strip():
            yield entry


def iter_source_documents(sources: list[str], max_doc_chars: int) -> Iterator[str]:
    """Every document of the chosen sources, in a fixed order."""
    for source in sources:
        if source == "pydoc":
            from pydoc_data.topics import topics

            for key in sorted(topics):
                yield from split_paragraphs(topics[key], max_doc_chars)
        elif source in ("fortunes", "fortunes-zh"):
            names = ENGLISH_FORTUNES if source == "fortunes" else CHINESE_FORTUNES
            found = [n for n in names if os.path.isfile(os.path.join(FORTUNE_DIR, n))]
            if not found:
                print(f"warning: no {source} files under {FORTUNE_DIR}; skipping (apt-get install {source})")
            for name in found:
                for entry in read_fortunes(os.path.join(FORTUNE_DIR, name)):
                    yield from split_paragraphs(entry, max_doc_chars)
        elif source == "words":
            if not os.path.isfile(WORDS_FILE):
                print(f"warning: {WORDS_FILE} missing; skipping (apt-get install wamerican)")
                continue
            with open(WORDS_FILE, encoding="utf-8", errors="replace") as f:
                words = [w.strip() for w in f if w.strip()]
            page = 200  # one "dictionary page" document per 200 consecutive words, every 10th page
            for start in range(0, len(words), page * 10):
                chunk = words[start : start + page]
                yield f"Dictionary words from {chunk[0]} to {chunk[-1]}: " + ", ".join(chunk) + "."
        else:
            raise ValueError(f"unknown source: {source}")


def make_shards(
    output_dir: str,
    num_shards: int = 5,
    row_groups_per_shard: int = 4,
    rows_per_group: int = 1024,
    max_doc_chars: int = 600,
    sources: list[str] | None = None,
    seed: int = 42,
) -> list[str]:
    """Write ``num_shards`` shards into ``output_dir``; return their paths. Fails if the sources are too small."""
    sources = ["pydoc", "fortunes", "fortunes-zh", "words"] if sources is None else sources
    docs = list(iter_source_documents(sources, max_doc_chars))
    random.Random(seed).shuffle(docs)
    per_shard = row_groups_per_shard * rows_per_group
    needed = num_shards * per_shard
    if len(docs) < needed:
        raise SystemExit(
            f"only {len(docs)} documents from {sources}, need {needed}: lower --max_doc_chars, --rows_per_group, "
            "--row_groups_per_shard or --num_shards"
        )
    os.makedirs(output_dir, exist_ok=True)
    paths = []
    for shard_idx in range(num_shards):
        shard_docs = docs[shard_idx * per_shard : (shard_idx + 1) * per_shard]
        table = pa.Table.from_pydict({"text": shard_docs})
        path = os.path.join(output_dir, index_to_filename(shard_idx))
        tmp = path + ".tmp"
        pq.write_table(
            table,
            tmp,
            row_group_size=rows_per_group,
            use_dictionary=False,
            compression="zstd",
            compression_level=3,
            write_statistics=False,
        )
        os.replace(tmp, path)
        paths.append(path)
    chars = sum(len(d) for d in docs[:needed])
    print(f"Wrote {num_shards} shards ({needed} documents, {chars:,} characters) to {output_dir}")
    print(
        f"({len(docs) - needed} documents left over; the last shard, {index_to_filename(num_shards - 1)}, is val)"
    )
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Make small deterministic parquet shards from offline text")
    parser.add_argument(
        "--output_dir",
        type=str,
        default=None,
        help="Where to write the shards (default: <base_dir>/base_data)",
    )
    parser.add_argument(
        "--num_shards", type=int, default=5, help="Number of shards; the last one is the val split"
    )
    parser.add_argument("--row_groups_per_shard", type=int, default=4, help="Full row groups in each shard")
    parser.add_argument(
        "--rows_per_group", type=int, default=1024, help="Documents per row group (nanochat: 1024)"
    )
    parser.add_argument(
        "--max_doc_chars", type=int, default=600, help="Longer texts are cut into documents this long"
    )
    parser.add_argument(
        "--sources",
        type=str,
        default="pydoc,fortunes,fortunes-zh,words",
        help="Comma-separated sources, from: pydoc, fortunes, fortunes-zh, words",
    )
    parser.add_argument("--seed", type=int, default=42, help="Shuffle seed (same seed, same bytes)")
    args = parser.parse_args(argv)
    output_dir = args.output_dir or os.path.join(get_base_dir(), "base_data")
    make_shards(
        output_dir,
        num_shards=args.num_shards,
        row_groups_per_shard=args.row_groups_per_shard,
        rows_per_group=args.rows_per_group,
        max_doc_chars=args.max_doc_chars,
        sources=[s for s in args.sources.split(",") if s],
        seed=args.seed,
    )


if __name__ == "__main__":
    main()
