// The bell in the header: in-app notifications (assignments, moves, due dates, reminders), unread first, each a link
// to its task. The unread count is fetched when the page is drawn and every minute.

import * as api from "../api.js";
import { clear, h, openDialog } from "../dom.js";
import { t } from "../i18n.js";
import { navigate } from "../router.js";
import { session } from "../session.js";
import { notify, problemMessage, relativeTime } from "../ui.js";

let unread = 0;
const buttons = new Set();

function update(button) {
    button.setAttribute("aria-label", t("inbox.button_label", { count: unread }));
    const badge = button.querySelector(".inbox-count");
    badge.textContent = unread > 99 ? "99+" : String(unread);
    badge.hidden = unread === 0;
}

/** Shows the count on the buttons in the page (a header drawn again drops its old one). */
function showCount() {
    for (const button of buttons) {
        if (button.isConnected) update(button);
        else buttons.delete(button);
    }
}

async function refreshCount() {
    if (!session.user) return;
    try {
        const inbox = await api.request("GET", "/me/notifications?unread=true&limit=1", { auth: false });
        unread = inbox.unread_count;
        showCount();
    } catch {
        // Offline or signed out: the badge keeps its last count.
    }
}

setInterval(refreshCount, 60_000);

/** A bell, drawn (an emoji would depend on the fonts installed). */
function bell() {
    const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "20");
    svg.setAttribute("height", "20");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.classList.add("inbox-bell");
    const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
    path.setAttribute("d", "M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1z");
    path.setAttribute("fill", "currentColor");
    svg.append(path);
    return svg;
}

/** The header's notifications button. */
export function inboxButton() {
    const button = h(
        "button",
        { type: "button", class: "inbox-button", onClick: () => openInbox() },
        bell(),
        h("span", { class: "inbox-count", "aria-hidden": "true", hidden: true }),
    );
    update(button);
    // Counted once it is in the page.
    queueMicrotask(() => {
        buttons.add(button);
        refreshCount();
    });
    return button;
}

/** What an item says, in the current language. */
export function describe(item) {
    const actor = item.actor_name ?? t("inbox.someone");
    const title = item.title ?? "";
    const mine = item.assignee_name === session.user?.name;
    switch (item.event) {
        case "task.assigned":
            return mine ? t("inbox.assigned_you", { actor, title }) : t("inbox.assigned", { actor, title, assignee: item.assignee_name ?? "" });
        case "task.status_changed":
            return t("inbox.moved", { actor, title, from: item.from_column ?? "", to: item.to_column ?? "" });
        case "task.due_changed":
            return t("inbox.due_changed", { actor, title });
        case "task.commented":
            return t("inbox.commented", { actor, title });
        case "task.unassigned":
            return t("inbox.unassigned", { actor, title });
        case "task.due_soon":
            return t("inbox.due_soon", { title });
        case "task.overdue":
            return t("inbox.overdue", { title });
        default:
            return t("inbox.changed", { title });
    }
}

function openInbox() {
    const list = h("ul", { class: "inbox-list" });
    const status = h("p", { class: "muted", role: "status", text: t("common.loading") });
    const readAll = h("button", {
        type: "button",
        text: t("inbox.read_all"),
        onClick: async () => {
            try {
                await api.post("/me/notifications/read-all");
                await load();
            } catch (problem) {
                notify(problemMessage(problem), "error");
            }
        },
    });
    const closeButton = h("button", { type: "button", class: "primary", text: t("action.close"), onClick: () => dialog.close() });
    const dialog = openDialog({
        title: t("inbox.title"),
        className: "inbox-dialog",
        body: [status, list, h("div", { class: "actions" }, readAll, closeButton)],
    });
    const load = async () => {
        try {
            const inbox = await api.get("/me/notifications?limit=50");
            unread = inbox.unread_count;
            showCount();
            clear(list);
            status.textContent = inbox.items.length ? "" : t("inbox.empty");
            status.hidden = inbox.items.length > 0;
            readAll.disabled = unread === 0;
            for (const item of inbox.items) list.append(entry(item, dialog));
        } catch (problem) {
            status.hidden = false;
            status.textContent = problemMessage(problem);
        }
    };
    load();
}

function entry(item, dialog) {
    const href = item.board_id && item.task_id ? `/boards/${encodeURIComponent(item.board_id)}/tasks/${encodeURIComponent(item.task_id)}` : null;
    const open = async (event) => {
        event.preventDefault();
        if (!item.read_at) {
            try {
                await api.post(`/me/notifications/${encodeURIComponent(item.id)}/read`);
                unread = Math.max(0, unread - 1);
                showCount();
            } catch {
                // Still opened; it stays unread.
            }
        }
        dialog.close();
        if (href) navigate(href);
    };
    return h(
        "li",
        { class: item.read_at ? "inbox-item" : "inbox-item unread" },
        h(
            "a",
            { href: href ?? "#", onClick: open },
            item.read_at ? null : h("span", { class: "visually-hidden", text: t("inbox.unread") + ": " }),
            h("span", { class: "inbox-text", text: describe(item) }),
        ),
        h("span", { class: "muted small inbox-meta" }, item.board_name ? h("span", { text: item.board_name + " · " }) : null, relativeTime(item.created_at)),
    );
}
