"""Hostile input: raw HTTP/1.1 framing and smuggling probes and a traversal corpus against the edge, oversized
heads and bodies, malformed and forged PASETO tokens, and injection strings in every text field."""

import re
import socket
import time
import urllib.parse
import uuid
from datetime import datetime, timedelta, timezone

from . import paseto

STATUS = re.compile(rb"(?:^|\r?\n)HTTP/1\.[01] (\d{3})")


def raw_exchange(port, data, idle=1.0, total=8):
    """Sends `data` on a new connection; returns (statuses, closed, raw). `closed` is true when the edge closed the
    connection within the time we waited after its last byte."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=total)
    raw = b""
    closed = False
    try:
        try:
            sock.sendall(data)
        except OSError:
            pass
        sock.settimeout(idle)
        deadline = time.monotonic() + total
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                break
            except OSError:
                closed = True
                break
            if not chunk:
                closed = True
                break
            raw += chunk
    finally:
        sock.close()
    return [int(m) for m in STATUS.findall(raw)], closed, raw


def head(target="/stub/p", host="127.0.0.1", method="GET", version="HTTP/1.1", extra=""):
    return f"{method} {target} {version}\r\nHost: {host}\r\n{extra}".encode()


SMUGGLED = b"GET /stub/smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def framing_probes():
    """(name, bytes, expectation). Expectations: ('refuse', {statuses}) — one answer from the set and the
    connection closed, and the stub saw nothing smuggled; ('accept', {statuses}); or a callable check name."""
    body49 = SMUGGLED + b"x" * (49 - len(SMUGGLED))
    assert len(body49) == 49
    probes = [
        ("chunk size 0x31 (issue 20.11)", head("/stub/front", method="POST", extra="Transfer-Encoding: chunked\r\n\r\n")
         + b"0x31\r\n" + body49 + b"\r\n0\r\n\r\n", ("refuse", {400})),
        ("chunk size 5g (issue 20.11)", head("/stub/p", method="POST", extra="Transfer-Encoding: chunked\r\n\r\n")
         + b"5g\r\nhello\r\n0\r\n\r\n", ("refuse", {400})),
        ("chunk size with space before ext", head("/stub/p", method="POST", extra="Transfer-Encoding: chunked\r\n\r\n")
         + b"5 x\r\nhello\r\n0\r\n\r\n", ("refuse", {400})),
        ("chunk size overflow", head("/stub/p", method="POST", extra="Transfer-Encoding: chunked\r\n\r\n")
         + b"ffffffffffffffffffff\r\nhello\r\n0\r\n\r\n", ("refuse", {400, 413})),
        ("chunk data longer than size", head("/stub/p", method="POST", extra="Transfer-Encoding: chunked\r\n\r\n")
         + b"3\r\nhello\r\n0\r\n\r\n", ("refuse", {400})),
        ("trailer line that is not a field (issue 20.18)",
         head("/stub/p", method="POST", extra="Transfer-Encoding: chunked\r\n\r\n") + b"5\r\nhello\r\n0\r\nnot a field\r\n\r\n",
         ("refuse", {400})),
        ("chunk extension accepted", head("/stub/p", method="POST", extra="Transfer-Encoding: chunked\r\n\r\n")
         + b"5;name=value\r\nhello\r\n0\r\n\r\n", ("accept", {200})),
        ("Content-Length and Transfer-Encoding",
         head("/stub/p", method="POST", extra="Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n")
         + b"0\r\n\r\n" + SMUGGLED, ("refuse", {400})),
        ("differing duplicate Content-Length",
         head("/stub/p", method="POST", extra="Content-Length: 5\r\nContent-Length: 6\r\n\r\n") + b"hello!",
         ("refuse", {400})),
        ("Content-Length list 5, 6", head("/stub/p", method="POST", extra="Content-Length: 5, 6\r\n\r\n") + b"hello!",
         ("refuse", {400})),
        ("Content-Length +5", head("/stub/p", method="POST", extra="Content-Length: +5\r\n\r\n") + b"hello",
         ("refuse", {400})),
        ("Content-Length not a number", head("/stub/p", method="POST", extra="Content-Length: abc\r\n\r\n"),
         ("refuse", {400})),
        ("Transfer-Encoding chunked not final", head("/stub/p", method="POST",
         extra="Transfer-Encoding: chunked, gzip\r\n\r\n") + b"0\r\n\r\n", ("refuse", {400})),
        ("unknown transfer coding", head("/stub/p", method="POST", extra="Transfer-Encoding: gzip\r\n\r\n"),
         ("refuse", {400, 501})),
        ("Transfer-Encoding on HTTP/1.0", head("/stub/p", method="POST", version="HTTP/1.0",
         extra="Transfer-Encoding: chunked\r\n\r\n") + b"0\r\n\r\n" + SMUGGLED, ("refuse", {400})),
        ("obs-fold", head(extra="X-Folded: a\r\n b\r\n\r\n"), ("refuse", {400})),
        ("whitespace before colon", head(extra="Transfer-Encoding : chunked\r\n\r\n"), ("refuse", {400})),
        ("bare LF line endings (Pier refuses, README)", b"GET /stub/p HTTP/1.1\nHost: 127.0.0.1\n\n", ("refuse", {400})),
        # RFC 9112 §2.2 / RFC 9110 §5.5: reject, or replace the CR / NUL with SP before forwarding.
        ("bare CR in a header value", head("/stub/cr", extra="X-A: a\rb\r\n\r\n"), ("reject-or-clean", {400})),
        ("NUL in a header value", head("/stub/nul", extra="X-A: a\x00b\r\n\r\n"), ("reject-or-clean", {400})),
        ("missing Host on HTTP/1.1", b"GET /stub/p HTTP/1.1\r\n\r\n", ("refuse", {400})),
        ("two Host fields", head(extra="Host: other.example\r\n\r\n"), ("refuse", {400})),
        ("HTTP/2.0 in an HTTP/1 request line", head(version="HTTP/2.0", extra="\r\n"), ("refuse", {505, 400})),
        ("HTTP/1.2 served as 1.1 (RFC 9112 §2.3)", head(version="HTTP/1.2", extra="\r\n"), ("accept", {200})),
        # RFC 9112 §3 lets a recipient parse on whitespace boundaries: either answer is allowed, not a 5xx or a hang.
        ("request line with two spaces", b"GET  /stub/p HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", ("accept", {200, 400})),
        ("Upgrade h2c not tunnelled (issue 20.12)", head("/stub/101", extra="Connection: Upgrade, HTTP2-Settings\r\n"
         "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"), ("no-upgrade", None)),
        ("Upgrade foo/1 not tunnelled (issue 20.12)", head("/stub/101", extra="Connection: Upgrade\r\n"
         "Upgrade: foo/1\r\n\r\n"), ("no-upgrade", None)),
        ("absolute-form target with other Host (issue 20.15)",
         b"GET http://other.example/stub/abs HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", ("absolute", None)),
        ("underscore header names dropped (issue 20.16)",
         head("/stub/underscore", extra="X_Forwarded_For: 6.6.6.6\r\nTransfer_Encoding: chunked\r\n\r\n"),
         ("underscore", None)),
        ("field named in Connection removed (issue 20.18)",
         head("/stub/connection", extra="Connection: keep-alive, X-Secret, X-Forwarded-For\r\nX-Secret: 1\r\n"
              "X-Forwarded-For: 6.6.6.6\r\n\r\n"), ("connection", None)),
        ("encoded slash with dot segment on a proxy route", head("/stub/..%2Fadmin", extra="\r\n"),
         ("refuse-open", {400})),
    ]
    return probes


def run_framing(results, edge, stub):
    failures = []
    probes = framing_probes()
    for name, data, (kind, allowed) in probes:
        before = stub.count()
        statuses, closed, raw = raw_exchange(edge.port, data)
        time.sleep(0.05)
        forwarded = stub.seen(before)
        smuggled = [r for r in forwarded if "smuggled" in r["target"]]
        first = statuses[0] if statuses else None
        problem = None
        if smuggled:
            problem = f"the upstream received a smuggled request {smuggled[0]['target']}"
        elif kind == "refuse":
            if first not in allowed:
                problem = f"expected {sorted(allowed)} and close, got {first} ({raw[:120]!r})"
            elif not closed:
                problem = f"answered {first} but kept the connection open"
            elif first == 400 and b"problem+json" not in raw:
                problem = "400 without a problem document"
        elif kind == "refuse-open":
            if first not in allowed:
                problem = f"expected {sorted(allowed)}, got {first} ({raw[:120]!r})"
        elif kind == "accept":
            if first not in allowed:
                problem = f"expected {sorted(allowed)}, got {first} ({raw[:120]!r})"
        elif kind == "no-upgrade":
            upgraded = [r for r in forwarded if any(k.lower() == "upgrade" for k, _ in r["headers"])]
            if first == 101:
                problem = "the client got 101: a tunnel was opened"
            elif upgraded:
                problem = f"Upgrade was forwarded: {dict(upgraded[0]['headers']).get('Upgrade')}"
            elif len(statuses) > 1:
                problem = f"more than one answer on one exchange: {statuses}"
        elif kind == "absolute":
            hosts = [v for r in forwarded for k, v in r["headers"] if k.lower() == "host"]
            if first == 400:
                pass
            elif hosts != ["other.example"]:
                problem = f"forwarded with Host {hosts} instead of other.example (status {first})"
        elif kind == "reject-or-clean":
            values = [v for r in forwarded for k, v in r["headers"] if k.lower() == "x-a"]
            if first in allowed:
                pass
            elif first == 200 and all("\r" not in v and "\x00" not in v for v in values):
                pass
            else:
                problem = f"got {first}, forwarded X-A {values!r}"
        elif kind == "underscore":
            names = [k for r in forwarded for k, _ in r["headers"] if "_" in k]
            if names:
                problem = f"forwarded {names}"
        elif kind == "connection":
            fields = {k.lower(): v for r in forwarded for k, v in r["headers"]}
            if "x-secret" in fields:
                problem = "X-Secret (named in Connection) was forwarded"
            elif "6.6.6.6" in fields.get("x-forwarded-for", ""):
                problem = f"X-Forwarded-For named in Connection was continued: {fields['x-forwarded-for']}"
        if problem:
            failures.append(f"{name}: {problem}")
    results.add("hostile", "HTTP/1.1 framing and smuggling probes", len(probes), len(failures), "; ".join(failures))
    return failures


TRAVERSAL = [
    "/../edge.yaml", "/..%2fedge.yaml", "/%2e%2e/edge.yaml", "/%2e%2e%2fedge.yaml", "/.%2e/edge.yaml",
    "/%2E%2E/edge.yaml", "/..%5cedge.yaml", "/..\\edge.yaml", "/%252e%252e/edge.yaml", "/%252e%252e%252fedge.yaml",
    "/..%252fedge.yaml", "/x/../../edge.yaml", "/x/%2e%2e/%2e%2e/edge.yaml", "/%c0%ae%c0%ae/edge.yaml",
    "/%c0%ae%c0%ae%c0%afedge.yaml", "/%e0%80%ae%e0%80%ae/edge.yaml", "/..;/edge.yaml", "/.../edge.yaml",
    "/1k.txt%00.html", "/1k.txt%00", "/%00/../edge.yaml", "/./../edge.yaml", "//../edge.yaml", "/x/..%00/edge.yaml",
    "/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/../../../../../../etc/passwd", "/..%2f..%2f..%2fetc%2fpasswd",
    "/%u002e%u002e/edge.yaml", "/.env", "/.git/config", "/x/.%2e/.%2e/edge.yaml", "/%2e/%2e%2e/edge.yaml",
    "/api/../edge.yaml", "/api/..%2fedge.yaml", "/api/%2e%2e/edge.yaml", "/stub/../../edge.yaml",
]


def run_traversal(results, edge):
    (edge.dir / "site" / ".env").write_text("SECRET=chaos-dotfile\n")
    failures = []
    for path in TRAVERSAL:
        data = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\nConnection: close\r\n\r\n".encode("latin-1")
        statuses, _closed, raw = raw_exchange(edge.port, data)
        first = statuses[0] if statuses else None
        if b"written by scripts/chaos" in raw or b"root:x:" in raw or b"chaos-dotfile" in raw:
            failures.append(f"{path}: served a file outside the root or a dotfile ({first})")
        elif first is None or first >= 500:
            failures.append(f"{path}: {first}")
    results.add("hostile", "traversal corpus (static and proxy routes)", len(TRAVERSAL), len(failures),
                "; ".join(failures) or "every one 400/404 or a file inside the root")


def run_oversized(results, edge, token):
    failures = []
    tried = 0

    def expect(name, data, allowed, total=10):
        nonlocal tried
        tried += 1
        statuses, closed, raw = raw_exchange(edge.port, data, total=total)
        first = statuses[0] if statuses else None
        if first not in allowed:
            failures.append(f"{name}: expected {sorted(allowed)}, got {first} ({raw[:100]!r})")

    expect("17 KiB header", head("/1k.txt", extra="X-Big: " + "a" * 17000 + "\r\n\r\n"), {431})
    expect("200 headers of 100 bytes", head("/1k.txt", extra="".join(f"X-H{i}: {'b' * 90}\r\n" for i in range(200))
                                             + "\r\n"), {431})
    expect("9 KiB URI", f"GET /{'u' * 9000} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode(), {414})
    expect("Content-Length 20 MB (limit 10 MiB)",
           head("/stub/big", method="POST", extra="Content-Length: 20000000\r\n\r\n") + b"x" * 1000, {413})
    chunk = b"100000\r\n" + b"z" * 0x100000 + b"\r\n"
    expect("chunked body past 10 MiB", head("/stub/big", method="POST", extra="Transfer-Encoding: chunked\r\n\r\n")
           + chunk * 11 + b"0\r\n\r\n", {413}, total=20)
    # The board's own limit (256 KiB) through the edge.
    big = b'{"name":"' + b"n" * 300000 + b'"}'
    expect("300 KB JSON to the board", head("/api/v1/boards", method="POST",
           extra=f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {len(big)}\r\n\r\n")
           + big, {413})
    results.add("floods", "oversized headers, URIs and bodies (431/414/413)", tried, len(failures),
                "; ".join(failures))


def run_tokens(results, http_port, api, key_file, other_token):
    """Malformed and forged tokens against GET /api/v1/me must all be 401; a control token we sign ourselves with
    the real key must be 200 (otherwise the forged-with-the-real-key cases prove nothing and are skipped)."""
    from .harness import HTTP

    client = HTTP(http_port)
    good = api.token
    prefix, body = good[:len("v4.public.")], good[len("v4.public."):]
    flipped_sig = good[:-3] + ("A" if good[-3] != "A" else "B") + good[-2:]
    flipped_body = prefix + ("A" if body[0] != "A" else "B") + body[1:]
    claims = paseto.claims_of(good)
    cases = [
        ("no Authorization", None, {}),
        ("empty Bearer", "", {"Authorization": "Bearer "}),
        ("Basic scheme", None, {"Authorization": "Basic YWRtaW46YWRtaW4="}),
        ("garbage", "garbage", {}),
        ("v4.public. only", "v4.public.", {}),
        ("v4.local token", "v4.local." + paseto.b64url(b"\0" * 80), {}),
        ("v3.public prefix", "v3.public." + body, {}),
        ("v2.public prefix", "v2.public." + body, {}),
        ("upper-case header", "V4.PUBLIC." + body, {}),
        ("signature bit flipped", flipped_sig, {}),
        ("payload byte flipped", flipped_body, {}),
        ("truncated", good[:-10], {}),
        ("signature removed", prefix + paseto.b64url(paseto.unb64url(body)[:-64]), {}),
        ("footer appended", good + "." + paseto.b64url(b'{"kid":"x"}'), {}),
        ("padding added", good + "==", {}),
        ("bad base64", prefix + body[:-5] + "!!!!!", {}),
        ("another Pier's key", other_token, {}),
        ("two tokens", None, {"Authorization": f"Bearer {good} {good}"}),
        ("long token (8 KB, under the edge's header limit)", "v4.public." + "A" * 8000, {}),
    ]
    now = datetime.now(timezone.utc).replace(microsecond=0)

    def stamp(t):
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")

    seed = paseto.seed_from_paserk(open(key_file).read())
    implicit = b"pier.access.v1"
    base = dict(claims)
    base.update({"iat": stamp(now), "exp": stamp(now + timedelta(minutes=10)), "jti": str(uuid.uuid4())})
    control = paseto.sign_v4_public(seed, base, implicit)
    forged = [
        ("expired (exp an hour ago)", {**base, "iat": stamp(now - timedelta(hours=2)),
                                       "exp": stamp(now - timedelta(hours=1))}, implicit),
        ("iat an hour ahead", {**base, "iat": stamp(now + timedelta(hours=1)),
                               "exp": stamp(now + timedelta(hours=1, minutes=10))}, implicit),
        ("no implicit assertion", base, b""),
        ("other implicit assertion", base, b"pier.refresh.v1"),
        ("unknown user", {**base, "sub": "00000000-0000-0000-0000-000000000000"}, implicit),
        ("no exp", {k: v for k, v in base.items() if k != "exp"}, implicit),
        ("exp not a time", {**base, "exp": "tomorrow"}, implicit),
    ]
    failures = []
    for name, token, headers in cases:
        r = client.request("GET", "/api/v1/me", token=token or "", headers=headers)
        if r.status != 401:
            failures.append(f"{name}: {r.status}")
    control_status = client.request("GET", "/api/v1/me", token=control).status
    results.add("hostile", "malformed and foreign PASETO tokens (401)", len(cases), len(failures), "; ".join(failures))
    if control_status != 200:
        results.add("hostile", "forged tokens with the real signing key (401)", len(forged), 0,
                    skip=f"a token we signed with the real key and the current claims got {control_status}, not 200 "
                         "(the token format changed?): these cases would prove nothing")
        return
    failures = []
    for name, payload, assertion in forged:
        r = client.request("GET", "/api/v1/me", token=paseto.sign_v4_public(seed, payload, assertion))
        if r.status != 401:
            failures.append(f"{name}: GET /api/v1/me answered {r.status}, expected 401")
    results.add("hostile", "forged tokens with the real signing key (401)", len(forged), len(failures),
                "; ".join(failures) or "control token 200")
    # Its own row, so a known failure here cannot hide one of the cases above.
    r = client.request("GET", "/api/v1/me", token=paseto.sign_v4_public(
        seed, {**base, "nbf": stamp(now + timedelta(days=365))}, implicit))
    results.add("hostile", "token with nbf a year ahead (401)", 1, 0 if r.status == 401 else 1,
                f"GET /api/v1/me answered {r.status}, expected 401 (issue 20 item 3)" if r.status != 401 else "")


INJECTION = [
    "'; DROP TABLE tasks; --", "\" OR 1=1 --", "' OR ''='", "1; SELECT pg_sleep(5)--", "$(reboot)", "`id`",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "\"><svg/onload=alert(1)>", "javascript:alert(1)",
    "{{7*7}}", "${7*7}", "<%= 7*7 %>", "%s%s%s%n", "../../../../etc/passwd", "\\u0000", "nul\u0000byte?",
    "\u202eevil\u202c", "한국어 텍스트 ✓", "😀👍🏽🇰🇷", "a\r\nX-Injected: 1", "\t\ttabs\t", "  leading and trailing  ",
    "\\\"escaped\\\"", "{\"json\": true}", "null", "[]", "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM "
    "\"file:///etc/passwd\">]><x>&e;</x>", "' UNION SELECT password_hash FROM users --", "\U0010ffff",
    "\ufeffbom", "a" * 190,
]


def run_injection(results, api, board):
    """Each string goes into every text field of board, task, comment, column and user; stored and returned
    verbatim, or refused with a 4xx problem document; never a 5xx."""
    tried = 0
    failures = []
    refused = 0
    columns = board["columns"]

    def note(what, r, sent, got):
        nonlocal tried, refused
        tried += 1
        if r.status >= 500:
            failures.append(f"{what} {sent!r}: {r.status}")
        elif r.status >= 400:
            refused += 1
            if not r.is_problem():
                failures.append(f"{what} {sent!r}: {r.status} without a problem document")
        elif got != sent:
            failures.append(f"{what} {sent!r}: returned {got!r}")

    for i, text in enumerate(INJECTION):
        r = api.call("POST", "/boards", {"name": text[:100]})
        note("board name", r, text[:100], (r.json() or {}).get("name"))
        label = text[:40]
        r = api.call("POST", f"/boards/{board['id']}/tasks",
                     {"title": text, "content": text, "labels": [label], "column_id": columns[0]["id"]})
        body = r.json() or {}
        note("task title", r, text, body.get("title"))
        if r.status == 201:
            note("task content", r, text, body.get("content"))
            # Labels are trimmed by design (BoardAPI.labels); everything else must come back byte for byte.
            note("task label", r, [label.strip()], body.get("labels"))
            task = body
            again = api.call("GET", f"/tasks/{task['id']}")
            note("task title read back", again, text, (again.json() or {}).get("title"))
            r = api.call("PATCH", f"/tasks/{task['id']}", {"content": text + "!", "version": task["version"]})
            note("task content edited", r, text + "!", (r.json() or {}).get("content"))
            r = api.call("POST", f"/tasks/{task['id']}/comments", {"body": text})
            note("comment", r, text, (r.json() or {}).get("body"))
            r = api.call("GET", f"/boards/{board['id']}/tasks?q=" + urllib.parse.quote(text[:200]))
            found = [t["id"] for t in (r.json() or {}).get("tasks", [])] if r.status == 200 else None
            note("search q", r, True, True if found is None or task["id"] in found or r.status >= 400 else found)
        r = api.call("POST", "/users", {"email": f"inj{i}.{uuid.uuid4().hex[:6]}@example.com", "name": text[:100],
                                        "role": "pic"})
        note("user name", r, text[:100], ((r.json() or {}).get("user") or {}).get("name"))
    r = api.call("POST", f"/boards/{board['id']}/columns", {"name": "'; DROP TABLE board_columns; --"})
    note("column name", r, "'; DROP TABLE board_columns; --", (r.json() or {}).get("name"))
    results.add("hostile", "injection strings in every text field", tried, len(failures),
                "; ".join(failures[:10]) or f"all stored verbatim or refused with a 4xx problem ({refused} refused)")
