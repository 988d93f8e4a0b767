"""Verifies a Pier access token with pyseto from the published public-key document alone.

Usage: paseto_verify.py  (standard input: {"document": <GET /api/v1/auth/public-key>, "token": "v4.public..."})
Prints the verified claims as JSON; exits non-zero when the token does not verify.
"""

import json
import sys

import pyseto

request = json.load(sys.stdin)
document = request["document"]
if (document["version"], document["purpose"]) != ("v4", "public"):
    sys.exit(f"unexpected version/purpose: {document}")
key = pyseto.Key.from_paserk(document["paserk"])
decoded = pyseto.decode(
    key,
    request["token"],
    implicit_assertion=document["implicit_assertion"].encode(),
    deserializer=json,
)
if decoded.footer not in (b"", None) or document["footer"] != "":
    sys.exit(f"unexpected footer: {decoded.footer!r}")
print(json.dumps(decoded.payload, sort_keys=True))
