// A board's live stream (server-sent events): every committed change of the board, in order, resumed from the
// last event seen after any interruption. The browser reconnects a dropped stream by itself, sending the last
// event id; when the server refuses the stream (the session expired, the instance is shutting down), it is
// opened again here, after the session is refreshed, with back-off.

import * as api from "./api.js";

export const LIVE_KINDS = [
    "task.created",
    "task.updated",
    "task.moved",
    "task.deleted",
    "task.commented",
    "column.created",
    "column.updated",
    "column.deleted",
    "member.added",
    "member.removed",
];

/**
 * Opens the stream of `boardID` after event `after` (the board's `last_event_id` when it was loaded).
 * - `onEvent(kind, data)` for each event;
 * - `onReset()` when events were missed for good: reload the board and open a new stream;
 * - `onGone()` when the board can no longer be seen;
 * - `onStatus("live" | "reconnecting")` as the connection comes and goes (reconnecting only after a moment, so a
 *   quick reconnect shows nothing).
 * Returns `{ close() }`.
 */
export function openLiveStream(boardID, after, { onEvent, onReset, onGone, onStatus }) {
    let last = after ?? null;
    let source = null;
    let closed = false;
    let delay = 1000;
    let retryTimer = null;
    let statusTimer = null;
    let status = "live";

    const setStatus = (next) => {
        clearTimeout(statusTimer);
        statusTimer = null;
        if (status === next) return;
        status = next;
        onStatus?.(next);
    };
    const soonReconnecting = () => {
        if (status !== "reconnecting" && !statusTimer) statusTimer = setTimeout(() => setStatus("reconnecting"), 1500);
    };

    const stop = () => {
        source?.close();
        source = null;
    };

    const connect = () => {
        if (closed) return;
        const query = last !== null ? `?after=${encodeURIComponent(last)}` : "";
        source = new EventSource(`/api/v1/boards/${encodeURIComponent(boardID)}/events${query}`);
        source.onopen = () => {
            delay = 1000;
            setStatus("live");
        };
        for (const kind of LIVE_KINDS) {
            source.addEventListener(kind, (message) => {
                const id = Number(message.lastEventId);
                if (Number.isSafeInteger(id)) last = id;
                let data;
                try {
                    data = JSON.parse(message.data);
                } catch {
                    return;
                }
                onEvent(kind, data);
            });
        }
        source.addEventListener("reset", () => {
            stop();
            if (!closed) onReset();
        });
        source.onerror = () => {
            soonReconnecting();
            // CONNECTING: the browser retries by itself. CLOSED: the answer was not a stream (401, 404, 503).
            if (source?.readyState === EventSource.CLOSED) {
                stop();
                retry();
            }
        };
    };

    const retry = () => {
        clearTimeout(retryTimer);
        retryTimer = setTimeout(async () => {
            if (closed) return;
            try {
                // Refreshes the session when it expired, and tells a board that is gone from a server that is away.
                await api.get(`/boards/${api.id(boardID)}`);
            } catch (problem) {
                if (problem.code === "not_found") {
                    closed = true;
                    onGone?.();
                    return;
                }
                delay = Math.min(delay * 2, 30000);
                retry();
                return;
            }
            connect();
        }, delay);
        delay = Math.min(delay * 2, 30000);
    };

    // Back from sleep or a lost network: try at once instead of waiting out the back-off.
    const onOnline = () => {
        if (!source && !closed) {
            delay = 1000;
            retry();
        }
    };
    window.addEventListener("online", onOnline);

    connect();
    return {
        close() {
            closed = true;
            clearTimeout(retryTimer);
            clearTimeout(statusTimer);
            window.removeEventListener("online", onOnline);
            stop();
        },
    };
}
