// The board API client. Authentication is by the HttpOnly cookies the API sets at sign-in: the page never sees a
// token. A 401 is answered by one refresh (one at a time, also across tabs) and one retry; when the session cannot
// be refreshed, the `reauthenticate` hook may ask the user to sign in again so the request, and the work on the
// page, survive.

const PREFIX = "/api/v1";

/** An RFC 9457 problem answered by the API (or a transport failure dressed as one). */
export class Problem extends Error {
    constructor(status, body = {}, headers = new Headers()) {
        super(body.detail ?? `HTTP ${status}`);
        this.status = status;
        this.code = body.code ?? `http_${status}`;
        this.detail = body.detail ?? null;
        this.field = body.field ?? null;
        this.body = body;
        const retry = Number(headers.get("Retry-After") ?? body.retry_after);
        this.retryAfter = Number.isFinite(retry) && retry > 0 ? retry : null;
        this.currentVersion = body.current_version ?? null;
        this.currentTask = body.current_task ?? null;
    }
}

/** The server could not be reached (or an intermediary said it is unavailable). */
export class NetworkError extends Problem {
    constructor() {
        super(0, { code: "network" });
    }
}

const hooks = {
    reauthenticate: null, // async () => boolean
    connectionChanged: null, // (online: boolean) => void
};

export function configure(newHooks) {
    Object.assign(hooks, newHooks);
}

// MARK: Connection state

let offline = false;
let recovery = null;

function markOffline() {
    if (!offline) {
        offline = true;
        hooks.connectionChanged?.(false);
    }
    if (!recovery) recovery = waitForServer();
    return recovery;
}

function markOnline() {
    if (offline) {
        offline = false;
        hooks.connectionChanged?.(true);
    }
}

/** Polls a cheap unauthenticated endpoint until the server answers again, backing off to 10 s. */
function waitForServer() {
    return new Promise((resolve) => {
        let delay = 1000;
        let timer = null;
        const probe = async () => {
            clearTimeout(timer);
            try {
                const response = await fetch(`${PREFIX}/auth/public-key`, { cache: "no-store" });
                if (response.ok) {
                    window.removeEventListener("online", probe);
                    recovery = null;
                    markOnline();
                    resolve();
                    return;
                }
            } catch {
                // still unreachable
            }
            delay = Math.min(delay * 2, 10000);
            timer = setTimeout(probe, delay);
        };
        window.addEventListener("online", probe);
        timer = setTimeout(probe, delay);
    });
}

export function isOffline() {
    return offline;
}

// MARK: Requests

const UNAVAILABLE = new Set([502, 503, 504]);

/** One HTTP exchange; GETs wait out a lost connection and retry, changes fail with NetworkError at once. */
async function send(method, path, body, extraHeaders = {}) {
    const headers = { Accept: "application/json", ...extraHeaders };
    const init = { method, headers, credentials: "same-origin", cache: "no-store" };
    if (body !== undefined) {
        headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
    }
    for (;;) {
        let response;
        try {
            response = await fetch(PREFIX + path, init);
        } catch {
            response = null;
        }
        const unavailable = response === null || (UNAVAILABLE.has(response.status) && !isProblem(response));
        if (!unavailable) {
            markOnline();
            return response;
        }
        const recovered = markOffline();
        if (method !== "GET") throw new NetworkError();
        await recovered;
    }
}

function isProblem(response) {
    return (response.headers.get("Content-Type") ?? "").includes("problem+json");
}

async function parse(response) {
    if (response.status === 204) return null;
    const type = response.headers.get("Content-Type") ?? "";
    let data = null;
    if (type.includes("json")) {
        try {
            data = await response.json();
        } catch {
            data = null;
        }
    }
    if (!response.ok) throw new Problem(response.status, data ?? {}, response.headers);
    return data;
}

let refreshing = null;

/** Refreshes the session once for everyone waiting; true when the session is usable again. */
export function refreshSession() {
    if (!refreshing) {
        const run = async () => {
            // Another tab may have refreshed already while this one waited for the lock.
            const probe = await send("GET", "/me");
            if (probe.ok) return true;
            const response = await send("POST", "/auth/refresh");
            return response.ok;
        };
        const locked = navigator.locks ? navigator.locks.request("pier-session-refresh", run) : run();
        refreshing = locked.finally(() => {
            refreshing = null;
        });
    }
    return refreshing;
}

/**
 * Calls the API and returns the parsed JSON (null for 204). Throws Problem for error answers and NetworkError
 * when a change could not be sent.
 */
export async function request(method, path, { body, headers, auth = true } = {}) {
    let response = await send(method, path, body, headers);
    if (response.status === 401 && auth) {
        let again = await refreshSession();
        if (!again && hooks.reauthenticate) again = await hooks.reauthenticate();
        if (again) response = await send(method, path, body, headers);
    }
    return parse(response);
}

export const get = (path) => request("GET", path);
export const post = (path, body) => request("POST", path, { body });
export const patch = (path, body, headers) => request("PATCH", path, { body, headers });
export const del = (path) => request("DELETE", path);

// MARK: Endpoints

export function signIn(email, password) {
    return request("POST", "/auth/login", { body: { email, password }, auth: false });
}

export async function signOut() {
    try {
        await request("POST", "/auth/logout", { auth: false });
    } catch {
        // The cookies are cleared by the answer; a failed sign-out still leaves the page signed out.
    }
}

/** The signed-in user, or null when there is no session (after one refresh attempt). */
export async function currentUser() {
    let response = await send("GET", "/me");
    if (response.status === 401) {
        if (!(await refreshSession())) return null;
        response = await send("GET", "/me");
        if (response.status === 401) return null;
    }
    return parse(response);
}

/** Every task of a board that matches `query` (all pages). */
export async function allTasks(boardID, query = {}) {
    const tasks = [];
    let cursor = null;
    do {
        const parameters = { ...query, limit: "200" };
        if (cursor) parameters.cursor = cursor;
        const page = await get(`/boards/${encodeURIComponent(boardID)}/tasks?${queryString(parameters)}`);
        tasks.push(...page.tasks);
        cursor = page.next_cursor;
    } while (cursor);
    return tasks;
}

export const id = encodeURIComponent;

/** A query string with every value percent-encoded: the API reads "+" as a plus sign, not as a space. */
export function queryString(parameters) {
    return Object.entries(parameters)
        .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
        .join("&");
}
