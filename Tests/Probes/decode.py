"""Decodes a compressed body with the reference libraries, for the edge's compression tests.

Usage: decode.py CODING IN OUT, where CODING is gzip, br or zstd. Exits 1 with the reason when IN is not a valid
stream of that coding (a truncated or corrupt stream included)."""

import gzip
import sys

import brotli
import zstandard


def main():
    coding, source, target = sys.argv[1:4]
    data = open(source, "rb").read()
    try:
        if coding == "gzip":
            decoded = gzip.decompress(data)
        elif coding == "br":
            decoded = brotli.decompress(data)
        elif coding == "zstd":
            # One whole frame: a frame cut short, or bytes after it, are errors.
            decoder = zstandard.ZstdDecompressor().decompressobj()
            decoded = decoder.decompress(data)
            if not decoder.eof or decoder.unused_data:
                raise ValueError("the frame is cut short or followed by other bytes")
        else:
            raise ValueError(f"unknown coding {coding}")
    except Exception as error:  # noqa: BLE001 - every decoding failure is reported the same way
        print(f"cannot decode {coding}: {error}")
        sys.exit(1)
    open(target, "wb").write(decoded)


if __name__ == "__main__":
    main()
