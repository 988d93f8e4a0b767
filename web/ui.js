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
    if (code === "too_many_attempts" || code === "rate_limited") {
        // Refused by the board's throttle of failed sign-ins, or by the edge's rate limit; both say when to retry.
        return t(`error.${code}`, { seconds: Math.ceil(problem.retryAfter ?? 30) });
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

const pad = (value) => String(value).padStart(2, "0");

/** An RFC 3339 time as a date field shows it, YYYY-MM-DD HH:MM in the browser's time zone ("" for none). */
export function toLocalInput(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

// Year, month and day separated by -, . or / (2025-12-24, 2025. 12. 24.), then the time after a space or T.
const LOCAL_DATE_TIME = /^(\d{4}) ?[-./] ?(\d{1,2}) ?[-./] ?(\d{1,2})\.?(?: +|T)(\d{1,2}):(\d{2})$/;

/**
 * What a date field holds: `{ valid: true, iso: null }` when empty, `{ valid: true, iso }` for a date and time
 * in the browser's time zone, `{ valid: false }` for anything else (a day that does not exist included).
 */
export function parseLocalInput(text) {
    const value = String(text ?? "").trim().replace(/\s+/g, " ");
    if (!value) return { valid: true, iso: null };
    const match = LOCAL_DATE_TIME.exec(value);
    if (!match) return { valid: false };
    const [year, month, day, hour, minute] = match.slice(1).map(Number);
    const date = new Date(year, month - 1, day, hour, minute);
    const exists = date.getFullYear() === year && date.getMonth() === month - 1 && date.getDate() === day;
    if (!exists || hour > 23 || minute > 59) return { valid: false };
    return { valid: true, iso: date.toISOString() };
}

/**
 * A date-and-time field in the page's language. The browser's own datetime-local control formats and labels
 * itself in the browser's language whatever the page's (an English browser shows "mm/dd/yyyy, --:-- --" in
 * the Korean board), so this is a text field in one format both languages read, YYYY-MM-DD HH:MM, with a
 * translated placeholder, and a button that opens the browser's date picker where it has one. Returns the text
 * input (the form's control, named `name`); `input.picker` is the button, or null.
 */
export function dateTimeInput({ name, value, disabled = false }) {
    const input = h("input", {
        type: "text",
        name,
        value: toLocalInput(value),
        placeholder: t("date.placeholder"),
        autocomplete: "off",
        spellcheck: "false",
        maxlength: "25",
        disabled,
    });
    input.picker = null;
    if (disabled || typeof HTMLInputElement.prototype.showPicker !== "function") return input;
    // The browser's picker belongs to a datetime-local input: an unlabelled one out of sight and out of the tab
    // order, whose choice is copied into the text field.
    const native = h("input", { type: "datetime-local", class: "picker-source", tabindex: "-1", "aria-hidden": "true" });
    native.addEventListener("change", () => {
        if (!native.value) return;
        input.value = native.value.replace("T", " ");
        input.dispatchEvent(new Event("input", { bubbles: true }));
        input.focus();
    });
    const button = h("button", {
        type: "button",
        class: "icon-button field-button picker-button",
        "aria-label": t("date.pick"),
        title: t("date.pick"),
        onClick: () => {
            // The picker starts at the field's date, else at the next full hour: with a time already set,
            // choosing a day is enough to give it a value.
            const current = parseLocalInput(input.value);
            const start = current.valid && current.iso ? new Date(current.iso) : new Date();
            if (!(current.valid && current.iso)) start.setMinutes(60, 0, 0);
            native.value = toLocalInput(start.toISOString()).replace(" ", "T");
            try {
                native.showPicker();
            } catch {
                input.focus();
            }
        },
    });
    button.append(calendarIcon());
    input.picker = h("span", { class: "picker" }, button, native);
    return input;
}

/** A calendar drawn in SVG (an emoji would need a font many systems lack). */
function calendarIcon() {
    const namespace = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(namespace, "svg");
    const attributes = { viewBox: "0 0 20 20", width: "20", height: "20", fill: "none", stroke: "currentColor", "stroke-width": "1.6", "aria-hidden": "true", focusable: "false" };
    for (const [name, value] of Object.entries(attributes)) svg.setAttribute(name, value);
    const path = document.createElementNS(namespace, "path");
    path.setAttribute("d", "M3.5 5.5h13v11h-13z M3.5 9h13 M7 3v4 M13 3v4");
    svg.append(path);
    return svg;
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

/** How many avatar colours styles.css defines (.avatar-color-0 …): distinct from each other, all readable. */
export const AVATAR_COLORS = 10;

/** A person's own avatar colour, 0 ..< AVATAR_COLORS (FNV-1a of the id). */
export function avatarColor(id) {
    let hash = 0x811c9dc5;
    for (const char of String(id)) hash = Math.imul(hash ^ char.codePointAt(0), 0x01000193) >>> 0;
    return hash % AVATAR_COLORS;
}

// The colours of the board on show. Ten colours shared out by a hash often give two members the same one, so on
// a board each member whose colour is taken moves to the next free one, in the order of their ids (every view of
// the board agrees). With more members than colours, some share.
const boardColors = new Map();

/** Gives the members of the board on show avatar colours that differ from each other. */
export function assignAvatarColors(members) {
    boardColors.clear();
    const taken = new Set();
    for (const id of members.map((member) => member.id).sort()) {
        let color = avatarColor(id);
        for (let step = 0; step < AVATAR_COLORS && taken.has(color); step += 1) color = (color + 1) % AVATAR_COLORS;
        taken.add(color);
        boardColors.set(id, color);
    }
}

export function avatar(user, { size = "small" } = {}) {
    if (!user) return null;
    const color = boardColors.get(user.id) ?? avatarColor(user.id);
    // A class, not a style attribute: the Content-Security-Policy allows no inline styles.
    return h("span", {
        class: `avatar avatar-${size} avatar-color-${color}`,
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
