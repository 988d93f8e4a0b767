"""Integrity: N clients × T seconds of creates, edits and moves on one board, then the final board checked against
what every client was told: every 2xx accounted for, no lost update, positions consistent."""

import random
import threading
import time
import uuid
from collections import Counter, defaultdict

from .harness import HTTP, Load, TransportError


def run_integrity(results, label, port, api, clients, seconds, seed_tasks=12):
    board = api.create_board(f"integrity {label}")
    columns = [c["id"] for c in board["columns"]]
    lock = threading.Lock()
    initial = {}  # task id -> (version, column, content) when created
    mutations = defaultdict(list)  # task id -> [(version, kind, value)]
    created = []
    statuses = Counter()
    unexpected = []
    known = {}  # task id -> last version a client saw (shared hint; 409 corrects it)
    for i in range(seed_tasks):
        t = api.call("POST", f"/boards/{board['id']}/tasks",
                     {"title": f"seed {i}", "content": "seed", "column_id": columns[i % len(columns)]}, want=201).json()
        initial[t["id"]] = (t["version"], t["column_id"], t["content"])
        known[t["id"]] = t["version"]
    rng = random.Random(20)

    def note(kind, r, expected):
        with lock:
            statuses[f"{kind} {r.status}"] += 1
            if r.status >= 500 or (r.status not in expected):
                unexpected.append(f"{kind} {r.status} {r.body[:120]!r}")
                return False
        return True

    def operation(index, client):
        roll = rng.random()
        with lock:
            ids = list(known)
        if roll < 0.15:
            title = f"c{index}-{uuid.uuid4().hex[:8]}"
            column = rng.choice(columns)
            r = client.request("POST", f"/api/v1/boards/{board['id']}/tasks",
                               {"title": title, "content": "new", "column_id": column})
            ok = note("create", r, {201})
            if r.status == 201:
                t = r.json()
                with lock:
                    initial[t["id"]] = (t["version"], t["column_id"], t["content"])
                    known[t["id"]] = t["version"]
                    created.append(t["id"])
            return "create", ok, str(r.status)
        task_id = rng.choice(ids)
        with lock:
            version = known[task_id]
        if roll < 0.55:
            content = f"edit {index} {uuid.uuid4().hex}"
            r = client.request("PATCH", f"/api/v1/tasks/{task_id}", {"content": content, "version": version})
            kind, value = "edit", content
        else:
            column = rng.choice(columns)
            body = {"column_id": column, "version": version}
            with lock:
                others = [i for i in ids if i != task_id]
            if others and rng.random() < 0.5:
                body["after_id"] = rng.choice(others)  # may be in another column: then a 4xx, which is fine
            r = client.request("POST", f"/api/v1/tasks/{task_id}/move", body)
            kind, value = "move", column
        ok = note(kind, r, {200, 409, 400, 422})
        if r.status == 200:
            t = r.json()
            with lock:
                mutations[task_id].append((t["version"], kind, value, t))
                known[task_id] = max(known[task_id], t["version"])
        elif r.status == 409:
            current = (r.json() or {}).get("current_version")
            if current is not None:
                with lock:
                    known[task_id] = max(known[task_id], int(current))
        return kind, ok, str(r.status)

    load = Load(port, clients, operation, token=api.token).start()
    time.sleep(seconds)
    records = load.stop()
    transport = [r for r in records if r[2] in ("transport", "exception")]

    final = {t["id"]: t for t in api.all_tasks(board["id"])}
    problems = []
    for task_id in created:
        if task_id not in final:
            problems.append(f"created task {task_id} (201) is missing")
    history_checked = 0
    for task_id, (version0, column0, content0) in initial.items():
        task = final.get(task_id)
        if task is None:
            continue
        done = sorted(mutations.get(task_id, []), key=lambda m: m[0])
        versions = [m[0] for m in done]
        if len(set(versions)) != len(versions):
            problems.append(f"{task_id}: two 2xx answers with the same version {versions}")
        if task["version"] != version0 + len(done):
            problems.append(f"{task_id}: version {task['version']}, expected {version0} + {len(done)} 2xx changes "
                            "(lost or phantom update)")
        edits = [m for m in done if m[1] == "edit"]
        moves = [m for m in done if m[1] == "move"]
        want_content = edits[-1][2] if edits else content0
        want_column = moves[-1][3]["column_id"] if moves else column0
        if task["content"] != want_content:
            problems.append(f"{task_id}: content {task['content']!r} is not the last acknowledged edit {want_content!r}")
        if task["column_id"] != want_column:
            problems.append(f"{task_id}: column {task['column_id']} is not the last acknowledged move's {want_column}")
        if done:
            history = api.call("GET", f"/tasks/{task_id}/history").json() or []
            changes = [e for e in history if e.get("action") not in ("task.created",)]
            history_checked += 1
            if len(changes) != len(done):
                actions = Counter(e.get("action") for e in history)
                problems.append(f"{task_id}: {len(done)} acknowledged changes but {len(changes)} history events "
                                f"{dict(actions)}")
    by_column = defaultdict(list)
    for t in final.values():
        by_column[t["column_id"]].append(t["position"])
    for column, positions in by_column.items():
        if len(set(positions)) != len(positions):
            duplicates = [p for p, n in Counter(positions).items() if n > 1]
            problems.append(f"column {column}: positions not distinct {duplicates[:5]}")
    ok_changes = sum(len(v) for v in mutations.values())
    results.add("integrity", f"{label}: {clients} clients × {seconds}s, no error", len(records),
                len(unexpected) + len(transport),
                f"{dict(sorted(statuses.items()))}" + ("; " + "; ".join(unexpected[:3]) if unexpected else "")
                + ("; " + "; ".join(r[4][:100] for r in transport[:3]) if transport else ""))
    results.add("integrity", f"{label}: final board matches every 2xx", ok_changes + len(created), len(problems),
                "; ".join(problems[:5]) or f"{len(final)} tasks, {ok_changes} changes, {len(created)} creates, "
                                            f"history of {history_checked} tasks checked, positions distinct")
