"""/static/ as a CDN would serve it (labplatform/static.py): the precompressed variant the browser accepts, hashed
assets cached for a year as immutable, everything else revalidated with 304s; and the build step that writes the
variants (frontend/scripts/compress.mjs), run for real with node."""

from __future__ import annotations

import gzip
import shutil
import subprocess
from pathlib import Path

import pytest
from django.http import Http404
from django.test import RequestFactory

from labplatform.static import IMMUTABLE, accepted_encodings, static_response

HASHED = "assets/app-Ab3_x-9Z.js"
SOURCE = b"export const answer = 42;\n" * 200


@pytest.fixture
def dist(tmp_path, settings) -> Path:
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / HASHED).write_bytes(SOURCE)
    (root / (HASHED + ".gz")).write_bytes(gzip.compress(SOURCE))
    (root / (HASHED + ".br")).write_bytes(b"brotli bytes stand here")
    (root / "assets" / "plain.css").write_bytes(b"body { color: red }\n")
    settings.STATICFILES_DIRS = [root]
    return root


def get(path: str, **headers: str):
    request = RequestFactory().get("/static/" + path, headers=headers)
    return static_response(request, path)


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_brotli_is_sent_to_a_browser_that_accepts_it(dist):
    response = get(HASHED, accept_encoding="gzip, deflate, br, zstd")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "br"
    assert response["Content-Type"] == "text/javascript"  # the original's type, not the variant's
    assert response["Vary"] == "Accept-Encoding"
    assert "Content-Disposition" not in response
    assert body(response) == b"brotli bytes stand here"


def test_gzip_when_brotli_is_not_accepted_and_identity_when_nothing_is(dist):
    gz = get(HASHED, accept_encoding="gzip")
    assert gz["Content-Encoding"] == "gzip"
    assert gzip.decompress(body(gz)) == SOURCE
    plain = get(HASHED)
    assert "Content-Encoding" not in plain
    assert plain["Vary"] == "Accept-Encoding"
    assert body(plain) == SOURCE
    assert int(plain["Content-Length"]) == len(SOURCE)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("br;q=0, gzip", {"gzip"}),
        ("*", {"br", "gzip"}),
        ("*, br;q=0", {"gzip"}),
        ("gzip;q=0.5, br;q=bogus", {"gzip"}),
        ("", set()),
        (" , identity", {"identity"}),
    ],
)
def test_accept_encoding_is_read_with_its_qualities(header, expected):
    assert accepted_encodings(header) & {"br", "gzip", "identity"} == expected


def test_a_refused_encoding_is_never_sent(dist):
    assert get(HASHED, accept_encoding="br;q=0, gzip")["Content-Encoding"] == "gzip"


def test_hashed_assets_are_immutable_for_a_year_and_the_rest_revalidate(dist):
    assert get(HASHED)["Cache-Control"] == IMMUTABLE == "public, max-age=31536000, immutable"
    plain = get("assets/plain.css")
    assert plain["Cache-Control"] == "no-cache"
    assert "Vary" not in plain  # no variants on disk: the response never depends on the header
    assert "Content-Encoding" not in plain


def test_a_revalidation_with_the_same_etag_or_date_is_a_304(dist):
    first = get("assets/plain.css")
    again = get("assets/plain.css", if_none_match=first["ETag"])
    assert again.status_code == 304
    assert again["ETag"] == first["ETag"]
    assert again["Cache-Control"] == "no-cache"
    by_date = get("assets/plain.css", if_modified_since=first["Last-Modified"])
    assert by_date.status_code == 304
    (dist / "assets" / "plain.css").write_bytes(b"body { color: blue }\n")
    changed = get("assets/plain.css", if_none_match=first["ETag"])
    assert changed.status_code == 200
    assert body(changed) == b"body { color: blue }\n"


def test_each_encoding_has_its_own_etag(dist):
    etags = {get(HASHED, accept_encoding=enc)["ETag"] for enc in ("br", "gzip", "")}
    assert len(etags) == 3


@pytest.mark.parametrize("path", ["assets/missing.js", "../settings.py", "assets/../../x", "a\x00b"])
def test_missing_and_escaping_paths_are_404(dist, path):
    with pytest.raises(Http404):
        get(path)


NODE = shutil.which("node")


@pytest.mark.skipif(NODE is None, reason="node is installed by make install (frontend build)")
def test_the_build_step_writes_smaller_variants_that_decode_to_the_original(tmp_path, repo_root):
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    text = ("function f(x) { return x * 2; }\n" * 4000).encode()
    (root / "assets" / "big-12345678.js").write_bytes(text)
    (root / "assets" / "tiny.js").write_bytes(b"x=1\n")  # below 1 KiB: not worth a variant
    (root / "assets" / "font-12345678.woff2").write_bytes(bytes(range(256)) * 40)  # compressed already
    (root / "assets" / "stale.js.br").write_bytes(b"left over from an earlier build")
    done = subprocess.run(
        [NODE, str(repo_root / "frontend" / "scripts" / "compress.mjs"), str(root)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "compress: 1 files" in done.stdout
    names = sorted(p.name for p in (root / "assets").iterdir())
    assert names == [
        "big-12345678.js",
        "big-12345678.js.br",
        "big-12345678.js.gz",
        "font-12345678.woff2",
        "tiny.js",
    ]
    assert gzip.decompress((root / "assets" / "big-12345678.js.gz").read_bytes()) == text
    brotli = root / "assets" / "big-12345678.js.br"
    assert brotli.stat().st_size < len(text) // 20
    decoded = subprocess.run(
        [
            NODE,
            "-e",
            f"process.stdout.write(require('zlib').brotliDecompressSync(require('fs').readFileSync('{brotli}')))",
        ],
        capture_output=True,
        check=True,
    )
    assert decoded.stdout == text
