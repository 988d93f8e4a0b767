// Shared pieces of the interface: announcements, notices, translated error messages, dates and initials.

import { h } from "./dom.js";
import { has, intlLocale, t } from "./i18n.js";

/** Says `text` to screen readers without showing it. */
export function announce(text) {
    const live = document.getElementById("live");
    if (!live) return;
    live.textContent = "";
    // A fresh text node after a tick makes repeated identical messages heard again.
    setTimeout(() => {
        live.textContent = text;
    }, 30);
}

/** A short notice in the corner; errors are alerts, the rest polite status messages. */
export function notify(text, kind = "info") {
    const region = document.getElementById(kind === "error" ? "notices-alert" : "notices-status");
    if (!region) return;
    const dismiss = () => notice.remove();
    const notice = h(
        "div",
        { class: `notice notice-${kind}` },
        h("span", { text }),
        h("button", { type: "button", class: "icon-button", "aria-label": t("action.dismiss"), text: "×", onClick: dismiss }),
    );
    region.append(notice);
    setTimeout(dismiss, kind === "error" ? 10000 : 5000);
}

/** The translated message for an API problem (or any error). */
export function problemMessage(problem) {
    const code = problem?.code ?? "unknown";
    if (code === "too_many_attempts") {
        return t("error.too_many_attempts", { seconds: Math.ceil(problem.retryAfter ?? 30) });
    }
    if (code === "invalid_field" || code === "missing_field") {
        const specific = `error.${code}.${problem.field}`;
        if (has(specific)) return t(specific);
        const name = has(`field.${problem.field}`) ? t(`field.${problem.field}`) : problem.field ?? "";
        return t(`error.${code}`, { field: name });
    }
    if (has(`error.${code}`)) return t(`error.${code}`);
    if (problem?.status >= 500) return t("error.internal_error");
    return t("error.unknown", { status: String(problem?.status ?? "?") });
}

// MARK: Dates

export function formatDateTime(iso) {
    if (!iso) return "";
    return new Intl.DateTimeFormat(intlLocale(), { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));
}

export function formatShortDate(iso) {
    const date = new Date(iso);
    const sameYear = date.getFullYear() === new Date().getFullYear();
    return new Intl.DateTimeFormat(intlLocale(), {
        month: "short",
        day: "numeric",
        year: sameYear ? undefined : "numeric",
        hour: "numeric",
        minute: "2-digit",
    }).format(date);
}

export function formatRelative(iso) {
    const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
    if (Math.abs(seconds) < 60) return t("time.just_now");
    const format = new Intl.RelativeTimeFormat(intlLocale(), { numeric: "auto" });
    const units = [
        ["year", 31536000],
        ["month", 2592000],
        ["week", 604800],
        ["day", 86400],
        ["hour", 3600],
        ["minute", 60],
    ];
    for (const [unit, size] of units) {
        if (Math.abs(seconds) >= size) return format.format(Math.round(seconds / size), unit);
    }
    return t("time.just_now");
}

/** A `<time>` showing a relative time, with the full date as its tooltip. */
export function relativeTime(iso) {
    return h("time", { datetime: iso, title: formatDateTime(iso), text: formatRelative(iso) });
}

export const DUE_SOON_HOURS = 48;

/** "overdue", "soon" or null, for a task in a column that is (or is not) a done column. */
export function dueState(task, isDone, now = Date.now()) {
    if (!task.due_at || isDone) return null;
    const due = new Date(task.due_at).getTime();
    if (due < now) return "overdue";
    if (due - now <= DUE_SOON_HOURS * 3600 * 1000) return "soon";
    return null;
}

/** The value of a datetime-local input for an RFC 3339 time, in the browser's time zone. */
export function toLocalInput(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    const pad = (value) => String(value).padStart(2, "0");
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

export function fromLocalInput(value) {
    if (!value) return null;
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** The browser's IANA time zone when the API accepts it (Region/City or UTC). */
export function browserTimeZone() {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    return zone && (zone.includes("/") || zone === "UTC") ? zone : null;
}

// MARK: People

const HANGUL = /[\u3131-\uD79D]/;

export function initials(name) {
    const words = String(name ?? "").trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) return "?";
    if (words.length === 1) {
        const word = [...words[0]];
        // Korean names: the given name (the last two syllables) is what people call each other by.
        if (HANGUL.test(words[0])) return word.length >= 3 ? word.slice(-2).join("") : word.join("");
        return word.slice(0, 2).join("").toUpperCase();
    }
    return ([...words[0]][0] + [...words[words.length - 1]][0]).toUpperCase();
}

/** A stable hue for a person's avatar. */
export function hue(text) {
    let value = 0;
    for (const char of String(text)) value = (value * 31 + char.codePointAt(0)) % 360;
    return value;
}

export function avatar(user, { size = "small" } = {}) {
    if (!user) return null;
    return h("span", {
        class: `avatar avatar-${size}`,
        style: `--avatar-hue: ${hue(user.id)}`,
        title: user.name,
        "aria-hidden": "true",
        text: initials(user.name),
    });
}

// The columns every new board starts with are named by the server in English; they are shown in the reader's
// language. Columns with any other name are shown as named.
const DEFAULT_COLUMNS = {
    "To do": "column.todo",
    "In progress": "column.in_progress",
    Review: "column.review",
    Done: "column.done",
};

export function columnName(column) {
    const key = DEFAULT_COLUMNS[column?.name];
    return key ? t(key) : column?.name ?? "";
}

export function roleName(role) {
    return t(role === "supervisor" ? "role.supervisor" : "role.pic");
}
