// A small Markdown renderer that builds DOM nodes. Every piece of the source ends up in a text node or in an
// attribute the renderer chose (link targets are limited to http, https and mailto, resolved as the browser
// resolves them), so no markup in a task's text can run or inject anything. Raw HTML in the source is shown as
// text.
//
// Blocks: paragraphs (a single newline is a line break), ATX headings, fenced and indented code, block quotes,
// bullet, numbered and task lists (one level of nesting by indentation), thematic breaks.
// Inline: `code`, **strong**, *emphasis* / _emphasis_, ~~strike~~, [links](url), <autolinks> and bare URLs.
//
// Every input renders, in time linear in its length for all practical purposes: no pattern here backtracks
// over more than the text up to its next delimiter, each inline pattern is searched once per position it can
// still match at, and nesting (quotes in quotes, emphasis in emphasis) deeper than MAX_DEPTH is shown as text.

import { h } from "./dom.js";

/** Deepest nesting of block quotes, and of inline spans inside each other, that is rendered as such. */
export const MAX_DEPTH = 8;

/** Renders `source` into a DocumentFragment. */
export function renderMarkdown(source) {
    const fragment = document.createDocumentFragment();
    const lines = String(source ?? "").replace(/\r\n?/g, "\n").split("\n");
    renderBlocks(lines, fragment, 0);
    return fragment;
}

// Lines never contain "\n", but may contain other line terminators (U+2028): the `s` flag lets `.` take them,
// so `(.*)$` cannot fail and backtrack.
const FENCE = /^ {0,3}(`{3,}|~{3,})(.*)$/s;
const FENCE_INFO = /^[\w+-]*$/;
const HEADING = /^ {0,3}(#{1,6})[ \t](.*)$/s;
const RULE = /^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$/;
const QUOTE = /^ {0,3}> ?(.*)$/s;
const BULLET = /^( {0,3})([-*+])[ \t]+(.*)$/s;
const ORDERED = /^( {0,3})(\d{1,9})[.)][ \t]+(.*)$/s;
const INDENTED_CODE = /^(?: {4}|\t)(.*)$/s;
const TASK = /^\[([ xX])\][ \t]+(.*)$/s;

/** The opening fence of a code block, or null (an info string is one word, as a language name). */
function fenceOf(line) {
    const match = FENCE.exec(line);
    if (!match) return null;
    const info = match[2].trim();
    return FENCE_INFO.test(info) ? { fence: match[1], language: info } : null;
}

function isSpaceOrTab(character) {
    return character === " " || character === "\t";
}

// A loop, not /[ \t]+$/: that pattern retries from every space of a long run and takes quadratic time.
function trimSpaces(text) {
    let start = 0;
    let end = text.length;
    while (start < end && isSpaceOrTab(text[start])) start += 1;
    while (end > start && isSpaceOrTab(text[end - 1])) end -= 1;
    return text.slice(start, end);
}

/** A heading's text without its optional closing run of #. */
function headingText(raw) {
    const text = trimSpaces(raw);
    let end = text.length;
    while (end > 0 && text[end - 1] === "#") end -= 1;
    if (end === text.length) return text;
    if (end === 0) return "";
    return isSpaceOrTab(text[end - 1]) ? trimSpaces(text.slice(0, end)) : text;
}

function renderBlocks(lines, parent, depth) {
    let index = 0;
    let paragraph = [];
    const flush = () => {
        if (paragraph.length) {
            const p = h("p");
            paragraph.forEach((line, position) => {
                if (position > 0) p.append(h("br"));
                renderInline(line.trim(), p, 0);
            });
            parent.append(p);
            paragraph = [];
        }
    };
    while (index < lines.length) {
        const line = lines[index];
        let match;
        let fence;
        if (line.trim() === "") {
            flush();
            index += 1;
        } else if ((fence = fenceOf(line))) {
            flush();
            const body = [];
            index += 1;
            while (index < lines.length && !lines[index].trim().startsWith(fence.fence)) {
                body.push(lines[index]);
                index += 1;
            }
            index += 1;
            const code = h("code", { text: body.join("\n") });
            if (fence.language) code.dataset.language = fence.language;
            parent.append(h("pre", {}, code));
        } else if (paragraph.length === 0 && INDENTED_CODE.test(line)) {
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
            renderInline(headingText(match[2]), heading, 0);
            parent.append(heading);
            index += 1;
        } else if (RULE.test(line)) {
            flush();
            parent.append(h("hr"));
            index += 1;
        } else if (depth < MAX_DEPTH && QUOTE.test(line)) {
            // Deeper quotes stay in the innermost one as text, ">" and all.
            flush();
            const body = [];
            while (index < lines.length && (match = QUOTE.exec(lines[index]))) {
                body.push(match[1]);
                index += 1;
            }
            const quote = h("blockquote");
            renderBlocks(body, quote, depth + 1);
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

// Items are at most three spaces in, so a nested list (two more than its parent) cannot hold another one.
function renderList(lines, index, parent) {
    const first = listItem(lines[index]);
    const list = first.ordered ? h("ol") : h("ul");
    if (first.ordered && first.start !== 1) list.setAttribute("start", String(first.start));
    let current = null;
    while (index < lines.length) {
        const line = lines[index];
        const item = listItem(line);
        if (item && item.ordered === first.ordered && Math.abs(item.indent - first.indent) <= 1) {
            current = h("li");
            const task = TASK.exec(item.text);
            if (task) {
                current.classList.add("task-item");
                current.append(h("input", { type: "checkbox", disabled: true, checked: task[1] !== " " }), " ");
                renderInline(task[2], current, 0);
            } else {
                renderInline(item.text, current, 0);
            }
            list.append(current);
            index += 1;
        } else if (item && current && item.indent >= first.indent + 2) {
            index = renderList(lines, index, current);
        } else if (!item && current && line.trim() !== "" && /^\s+/.test(line)) {
            current.append(h("br"));
            renderInline(line.trim(), current, 0);
            index += 1;
        } else {
            // Not an item of this list: another kind of list, text, or an item of the list around this one.
            break;
        }
    }
    parent.append(list);
    return index;
}

const SCHEMES = new Set(["http:", "https:", "mailto:"]);

/**
 * Where a link may point: `{ href, external }`, or null. The target is resolved against the page exactly as the
 * browser resolves an href (tabs and newlines dropped, the scheme in any case, a backslash read as a slash in
 * http(s) URLs, so `/\evil.test` is another site), and only http, https and mailto survive. `href` is the
 * resolved URL: what the page links to is what was checked, not a string the browser may read differently.
 * `external` is true for every link that leaves this origin.
 */
export function linkTarget(raw) {
    let url;
    try {
        url = new URL(String(raw).trim(), document.baseURI);
    } catch {
        return null;
    }
    if (!SCHEMES.has(url.protocol)) return null;
    return { href: url.href, external: url.origin !== location.origin };
}

/** A link to `target` showing `label` (Markdown, links excluded), or the target itself as text. */
function link(target, label, parent, depth) {
    const resolved = linkTarget(target);
    if (!resolved) {
        parent.append(document.createTextNode(label ?? target));
        return;
    }
    const anchor = h("a", { href: resolved.href });
    if (resolved.external) {
        anchor.target = "_blank";
        anchor.rel = "noopener noreferrer nofollow";
    }
    // A link's text never holds another link (nor is a URL shown as one read as Markdown).
    if (label === null) anchor.append(document.createTextNode(target));
    else renderInline(label, anchor, depth + 1, false);
    parent.append(anchor);
}

const span = (tag) => (match, parent, depth, links) => {
    const element = h(tag);
    renderInline(match[1], element, depth + 1, links);
    parent.append(element);
};

// Searched in order; the earliest match in the text wins, the first rule on a tie. The delimited spans cannot
// contain their own delimiter, so a search that fails stops at the next delimiter instead of scanning the rest
// of the text from every opening one.
const INLINE = [
    { pattern: /`([^`]+)`/g, render: (m, parent) => parent.append(h("code", { text: m[1] })) },
    { pattern: /\\([\\`*_{}[\]()#+\-.!~<>])/g, render: (m, parent) => parent.append(document.createTextNode(m[1])) },
    { pattern: /\[([^[\]]+)\]\(([^()\s]+)\)/g, link: true, render: (m, parent, depth) => link(m[2], m[1], parent, depth) },
    { pattern: /<((?:https?:\/\/|mailto:)[^\s<>]+)>/g, link: true, render: (m, parent, depth) => link(m[1], null, parent, depth) },
    { pattern: /\bhttps?:\/\/[^\s<>()]*[^\s<>().,;:!?'"]/g, link: true, render: (m, parent, depth) => link(m[0], null, parent, depth) },
    { pattern: /\*\*(?=\S)((?:[^*]|\*(?!\*))*?\S)\*\*/g, render: span("strong") },
    { pattern: /__(?=\S)((?:[^_]|_(?!_))*?\S)__/g, render: span("strong") },
    { pattern: /~~(?=\S)((?:[^~]|~(?!~))*?\S)~~/g, render: span("del") },
    { pattern: /\*(?=[^\s*])([^*]*?[^\s*])\*/g, render: span("em") },
    { pattern: /(?<!\w)_(?=[^\s_])([^_]*?[^\s_])_(?!\w)/g, render: span("em") },
];
const INLINE_WITHOUT_LINKS = INLINE.filter((rule) => !rule.link);

function renderInline(text, parent, depth, links = true) {
    if (depth > MAX_DEPTH) {
        parent.append(document.createTextNode(text));
        return;
    }
    const rules = links ? INLINE : INLINE_WITHOUT_LINKS;
    // Each rule's next match at or after `at`; null once it has none. A match found from an earlier position
    // stays the next one until `at` passes its start, so each rule searches the text about once.
    const next = rules.map(() => undefined);
    let at = 0;
    while (at < text.length) {
        let best = -1;
        for (let index = 0; index < rules.length; index += 1) {
            let match = next[index];
            if (match === null) continue;
            if (match === undefined || match.index < at) {
                const { pattern } = rules[index];
                pattern.lastIndex = at;
                match = next[index] = pattern.exec(text);
                if (match === null) continue;
            }
            if (best < 0 || match.index < next[best].index) best = index;
        }
        if (best < 0) break;
        const match = next[best];
        if (match.index > at) parent.append(document.createTextNode(text.slice(at, match.index)));
        rules[best].render(match, parent, depth, links);
        at = match.index + match[0].length;
    }
    if (at < text.length) parent.append(document.createTextNode(text.slice(at)));
}
