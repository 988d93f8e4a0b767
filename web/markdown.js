// A small Markdown renderer that builds DOM nodes. Every piece of the source ends up in a text node or in an
// attribute the renderer chose (link targets are limited to http, https, mailto and same-site paths), so no
// markup in a task's text can run or inject anything. Raw HTML in the source is shown as text.
//
// Blocks: paragraphs (a single newline is a line break), ATX headings, fenced and indented code, block quotes,
// bullet, numbered and task lists (one level of nesting by indentation), thematic breaks.
// Inline: `code`, **strong**, *emphasis* / _emphasis_, ~~strike~~, [links](url), <autolinks> and bare URLs.

import { h } from "./dom.js";

/** Renders `source` into a DocumentFragment. */
export function renderMarkdown(source) {
    const fragment = document.createDocumentFragment();
    const lines = String(source ?? "").replace(/\r\n?/g, "\n").split("\n");
    renderBlocks(lines, fragment);
    return fragment;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+-]*)\s*$/;
const HEADING = /^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const BULLET = /^( {0,3})([-*+])[ \t]+(.*)$/;
const ORDERED = /^( {0,3})(\d{1,9})[.)][ \t]+(.*)$/;
const INDENTED_CODE = /^(?: {4}|\t)(.*)$/;

function renderBlocks(lines, parent) {
    let index = 0;
    let paragraph = [];
    const flush = () => {
        if (paragraph.length) {
            const p = h("p");
            paragraph.forEach((line, position) => {
                if (position > 0) p.append(h("br"));
                renderInline(line.trim(), p);
            });
            parent.append(p);
            paragraph = [];
        }
    };
    while (index < lines.length) {
        const line = lines[index];
        let match;
        if (line.trim() === "") {
            flush();
            index += 1;
        } else if ((match = FENCE.exec(line))) {
            flush();
            const fence = match[1];
            const body = [];
            index += 1;
            while (index < lines.length && !lines[index].trim().startsWith(fence)) {
                body.push(lines[index]);
                index += 1;
            }
            index += 1;
            const code = h("code", { text: body.join("\n") });
            if (match[2]) code.dataset.language = match[2];
            parent.append(h("pre", {}, code));
        } else if (paragraph.length === 0 && (match = INDENTED_CODE.exec(line))) {
            const body = [];
            while (index < lines.length && (INDENTED_CODE.test(lines[index]) || lines[index].trim() === "")) {
                body.push(lines[index].replace(/^(?: {4}|\t)/, ""));
                index += 1;
            }
            while (body.length && body[body.length - 1].trim() === "") body.pop();
            parent.append(h("pre", {}, h("code", { text: body.join("\n") })));
        } else if ((match = HEADING.exec(line))) {
            flush();
            // Task headings start at h3: the page and the dialog own h1 and h2.
            const level = Math.min(6, match[1].length + 2);
            const heading = h(`h${level}`);
            renderInline(match[2], heading);
            parent.append(heading);
            index += 1;
        } else if (RULE.test(line)) {
            flush();
            parent.append(h("hr"));
            index += 1;
        } else if (QUOTE.test(line)) {
            flush();
            const body = [];
            while (index < lines.length && (match = QUOTE.exec(lines[index]))) {
                body.push(match[1]);
                index += 1;
            }
            const quote = h("blockquote");
            renderBlocks(body, quote);
            parent.append(quote);
        } else if (BULLET.test(line) || ORDERED.test(line)) {
            flush();
            index = renderList(lines, index, parent);
        } else {
            paragraph.push(line);
            index += 1;
        }
    }
    flush();
}

function listItem(line) {
    let match = BULLET.exec(line);
    if (match) return { indent: match[1].length, ordered: false, text: match[3] };
    match = ORDERED.exec(line);
    if (match) return { indent: match[1].length, ordered: true, start: Number(match[2]), text: match[3] };
    return null;
}

function renderList(lines, index, parent) {
    const first = listItem(lines[index]);
    const list = first.ordered ? h("ol") : h("ul");
    if (first.ordered && first.start !== 1) list.setAttribute("start", String(first.start));
    let current = null;
    while (index < lines.length) {
        const line = lines[index];
        const item = listItem(line);
        if (item && item.ordered === first.ordered && item.indent <= first.indent + 1) {
            current = h("li");
            const task = /^\[([ xX])\][ \t]+(.*)$/.exec(item.text);
            if (task) {
                current.classList.add("task-item");
                current.append(h("input", { type: "checkbox", disabled: true, checked: task[1] !== " " }), " ");
                renderInline(task[2], current);
            } else {
                renderInline(item.text, current);
            }
            list.append(current);
            index += 1;
        } else if (item && current && item.indent >= first.indent + 2) {
            index = renderList(lines, index, current);
        } else if (!item && current && line.trim() !== "" && /^\s+/.test(line)) {
            current.append(h("br"));
            renderInline(line.trim(), current);
            index += 1;
        } else {
            break;
        }
    }
    parent.append(list);
    return index;
}

/** A safe link target, or null: http(s), mailto, or a path on this site. */
export function safeURL(raw) {
    const text = raw.trim();
    if (/^\/(?!\/)/.test(text) || text.startsWith("#")) return text;
    try {
        const url = new URL(text);
        if (url.protocol === "http:" || url.protocol === "https:" || url.protocol === "mailto:") return url.href;
    } catch {
        return null;
    }
    return null;
}

function link(target, label, parent) {
    const href = safeURL(target);
    if (!href) {
        parent.append(document.createTextNode(label));
        return;
    }
    const anchor = h("a", { href });
    if (!href.startsWith("/") && !href.startsWith("#")) {
        anchor.target = "_blank";
        anchor.rel = "noopener noreferrer nofollow";
    }
    renderInline(label, anchor);
    parent.append(anchor);
}

// Tried in order at each position; the earliest match in the text wins.
const INLINE = [
    { pattern: /`([^`]+)`/, render: (m, parent) => parent.append(h("code", { text: m[1] })) },
    { pattern: /\\([\\`*_{}[\]()#+\-.!~<>])/, render: (m, parent) => parent.append(document.createTextNode(m[1])) },
    { pattern: /\[([^\]]+)\]\(([^()\s]+)\)/, render: (m, parent) => link(m[2], m[1], parent) },
    { pattern: /<((?:https?:\/\/|mailto:)[^\s<>]+)>/, render: (m, parent) => link(m[1], m[1], parent) },
    {
        pattern: /\bhttps?:\/\/[^\s<>()]*[^\s<>().,;:!?'"]/,
        render: (m, parent) => link(m[0], m[0], parent),
    },
    { pattern: /\*\*(?=\S)([\s\S]*?\S)\*\*/, render: (m, parent) => wrap("strong", m[1], parent) },
    { pattern: /__(?=\S)([\s\S]*?\S)__/, render: (m, parent) => wrap("strong", m[1], parent) },
    { pattern: /~~(?=\S)([\s\S]*?\S)~~/, render: (m, parent) => wrap("del", m[1], parent) },
    { pattern: /\*(?=[^\s*])([^*]*?[^\s*])\*/, render: (m, parent) => wrap("em", m[1], parent) },
    { pattern: /(?<![\w])_(?=[^\s_])([^_]*?[^\s_])_(?![\w])/, render: (m, parent) => wrap("em", m[1], parent) },
];

function wrap(tag, text, parent) {
    const element = h(tag);
    renderInline(text, element);
    parent.append(element);
}

function renderInline(text, parent) {
    let rest = text;
    while (rest.length) {
        let best = null;
        for (const rule of INLINE) {
            const match = rule.pattern.exec(rest);
            if (match && (best === null || match.index < best.match.index)) best = { rule, match };
        }
        if (!best) {
            parent.append(document.createTextNode(rest));
            return;
        }
        if (best.match.index > 0) parent.append(document.createTextNode(rest.slice(0, best.match.index)));
        best.rule.render(best.match, parent);
        rest = rest.slice(best.match.index + best.match[0].length);
    }
}
