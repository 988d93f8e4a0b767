"""Just enough PASETO v4.public to forge tokens: Ed25519 signing (RFC 8032's reference arithmetic, slow and fine
for a few tokens) and PAE. Used with the board's real signing key (read from its PASERK file), so the suite can send
tokens that are correctly signed but must still be refused (expired, not yet valid, wrong implicit assertion)."""

import base64
import hashlib
import json

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
I = pow(2, (P - 1) // 4, P)


def _inv(x):
    return pow(x, P - 2, P)


def _recover_x(y, sign):
    x2 = (y * y - 1) * _inv(D * y * y + 1)
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * I % P
    if x % 2 != sign:
        x = P - x
    return x


_BY = 4 * _inv(5) % P
_B = (_recover_x(_BY, 0), _BY, 1, _recover_x(_BY, 0) * _BY % P)


def _add(p, q):
    a = (p[1] - p[0]) * (q[1] - q[0]) % P
    b = (p[1] + p[0]) * (q[1] + q[0]) % P
    c = 2 * p[3] * q[3] * D % P
    d = 2 * p[2] * q[2] % P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(s, p):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, p)
        p = _add(p, p)
        s >>= 1
    return q


def _encode(p):
    zi = _inv(p[2])
    x, y = p[0] * zi % P, p[1] * zi % P
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def _h(data):
    return int.from_bytes(hashlib.sha512(data).digest(), "little")


def ed25519_sign(seed, message):
    digest = hashlib.sha512(seed).digest()
    a = int.from_bytes(digest[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    public = _encode(_mul(a, _B))
    r = _h(digest[32:] + message) % L
    big_r = _encode(_mul(r, _B))
    k = _h(big_r + public + message) % L
    s = (r + k * a) % L
    return big_r + int.to_bytes(s, 32, "little")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def pae(*pieces):
    out = len(pieces).to_bytes(8, "little")
    for piece in pieces:
        out += len(piece).to_bytes(8, "little") + piece
    return out


def seed_from_paserk(text):
    text = text.strip()
    if not text.startswith("k4.secret."):
        raise ValueError("not a k4.secret PASERK")
    return unb64url(text[len("k4.secret."):])[:32]


def sign_v4_public(seed, claims, implicit=b"", footer=b""):
    message = json.dumps(claims, separators=(",", ":")).encode()
    header = b"v4.public."
    signature = ed25519_sign(seed, pae(header, message, footer, implicit))
    token = header.decode() + b64url(message + signature)
    if footer:
        token += "." + b64url(footer)
    return token


def claims_of(token):
    """The claims of a v4.public token (not verified)."""
    body = unb64url(token.split(".")[2])
    return json.loads(body[:-64])
