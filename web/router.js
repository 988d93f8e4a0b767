// Client-side routes. The edge answers every navigation whose last segment has no extension with index.html, so
// each of these URLs can be reloaded or shared.

let onChange = () => {};

export function startRouter(handler) {
    onChange = handler;
    window.addEventListener("popstate", () => onChange(currentRoute(), { pop: true }));
    document.addEventListener("click", (event) => {
        const anchor = event.target instanceof Element ? event.target.closest("a[href]") : null;
        if (!anchor || anchor.target || anchor.hasAttribute("download")) return;
        if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        const url = new URL(anchor.href, location.href);
        if (url.origin !== location.origin || url.pathname.startsWith("/api/")) return;
        // A path that starts with "//" would be read as another host by pushState; the browser loads it itself.
        if (url.pathname.startsWith("//")) return;
        // A link to a place on this page (a Markdown #fragment) is the browser's to follow.
        if (url.hash && url.pathname === location.pathname && url.search === location.search) return;
        event.preventDefault();
        navigate(url.pathname + url.search);
    });
}

export function navigate(path, { replace = false } = {}) {
    if (path === location.pathname + location.search) {
        onChange(currentRoute(), { same: true });
        return;
    }
    if (replace) history.replaceState(null, "", path);
    else history.pushState(null, "", path);
    onChange(currentRoute(), {});
}

/** Changes the URL without rendering again (filters, an opened task). */
export function setURL(path, { replace = false } = {}) {
    if (path === location.pathname + location.search) return;
    if (replace) history.replaceState(null, "", path);
    else history.pushState(null, "", path);
}

export function currentRoute() {
    const parts = location.pathname.split("/").filter(Boolean).map((part) => {
        try {
            return decodeURIComponent(part);
        } catch {
            return part;
        }
    });
    const query = new URLSearchParams(location.search);
    if (parts.length === 0) return { name: "boards", query };
    if (parts.length === 1 && parts[0] === "sign-in") return { name: "sign-in", query };
    if (parts.length === 1 && parts[0] === "users") return { name: "users", query };
    if (parts[0] === "boards" && parts.length === 2) return { name: "board", boardID: parts[1], query };
    if (parts[0] === "boards" && parts.length === 4 && parts[2] === "tasks") {
        return { name: "board", boardID: parts[1], taskID: parts[3], query };
    }
    return { name: "not-found", query };
}

export function boardPath(boardID, taskID, search = "") {
    const base = `/boards/${encodeURIComponent(boardID)}`;
    return (taskID ? `${base}/tasks/${encodeURIComponent(taskID)}` : base) + search;
}
