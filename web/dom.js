// DOM helpers. Text always goes in as text nodes: no user-supplied string ever reaches innerHTML.

/**
 * Creates an element. `attrs` keys: `class`, `text`, `on<Event>` handlers, `dataset`, boolean properties
 * (`hidden`, `disabled`, `checked`, …) and any other attribute. Children are nodes, strings or arrays of them;
 * `null`, `undefined` and `false` are skipped.
 */
export function h(tag, attrs = {}, ...children) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs ?? {})) {
        if (value === undefined || value === null || value === false) continue;
        if (name === "class") element.className = value;
        else if (name === "text") element.textContent = value;
        else if (name === "dataset") Object.assign(element.dataset, value);
        else if (name.startsWith("on") && typeof value === "function") {
            element.addEventListener(name.slice(2).toLowerCase(), value);
        } else if (name in PROPERTIES) element[PROPERTIES[name]] = value;
        else element.setAttribute(name, value === true ? "" : String(value));
    }
    append(element, children);
    return element;
}

const PROPERTIES = {
    value: "value",
    checked: "checked",
    disabled: "disabled",
    hidden: "hidden",
    selected: "selected",
    readOnly: "readOnly",
    required: "required",
};

/**
 * Appends children as `h` does: `null`, `undefined` and `false` are skipped. (The DOM's own `append` and
 * `replaceChildren` would show them as the text "null": pass conditional children through here.)
 */
export function append(parent, children) {
    for (const child of children.flat(Infinity)) {
        if (child === null || child === undefined || child === false) continue;
        parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return parent;
}

/** Empties `element`, then appends `children` (see `append`). */
export function clear(element, ...children) {
    element.replaceChildren();
    return append(element, children);
}

let nextID = 0;
/** A document-unique id for label/aria wiring. */
export function uid(prefix = "id") {
    nextID += 1;
    return `${prefix}-${nextID}`;
}

/** A labelled form field: returns the wrapper; the control is `wrapper.control`. */
export function field(label, control, hint) {
    if (!control.id) control.id = uid("field");
    const hintNode = hint ? h("p", { class: "hint", id: uid("hint"), text: hint }) : null;
    if (hintNode) control.setAttribute("aria-describedby", hintNode.id);
    const wrapper = h("div", { class: "field" }, h("label", { for: control.id, text: label }), control, hintNode);
    wrapper.control = control;
    return wrapper;
}

/**
 * The one message area of a form or dialog: each message replaces the one before, errors are announced
 * (role=alert), and it stays empty otherwise. A message about fields, `show(text, "error", { fields })`, marks
 * them aria-invalid and goes away as soon as one of them is edited: it never outlives its cause.
 */
export function messageArea() {
    const area = h("div", { class: "form-message", role: "alert", "aria-live": "assertive" });
    let invalid = [];
    const edited = () => area.show(null);
    area.show = (text, kind = "error", { fields = [] } = {}) => {
        for (const control of invalid) {
            control.removeEventListener("input", edited);
            control.removeAttribute("aria-invalid");
        }
        invalid = text ? fields.filter(Boolean) : [];
        for (const control of invalid) {
            control.addEventListener("input", edited);
            control.setAttribute("aria-invalid", "true");
        }
        area.textContent = text ?? "";
        area.dataset.kind = kind;
        area.hidden = !text;
    };
    area.hidden = true;
    return area;
}

/**
 * A modal `<dialog>`: labelled by its heading, focus moves into it when opened and back to the element that had
 * it when closed. Escape closes it (unless `onCancel` returns false).
 */
export function openDialog({ title, body, className = "", onClose, onCancel, describedBy }) {
    const opener = document.activeElement;
    const headingID = uid("dialog-title");
    const heading = h("h2", { id: headingID, text: title });
    const dialog = h(
        "dialog",
        { class: `dialog ${className}`, "aria-labelledby": headingID, "aria-describedby": describedBy },
        h("div", { class: "dialog-head" }, heading),
        h("div", { class: "dialog-body" }, body),
    );
    let closed = false;
    const close = (result) => {
        if (closed) return;
        closed = true;
        if (dialog.open) dialog.close();
        dialog.remove();
        onClose?.(result);
        if (opener && opener.isConnected && typeof opener.focus === "function") opener.focus();
    };
    dialog.addEventListener("cancel", (event) => {
        event.preventDefault();
        if (onCancel && onCancel() === false) return;
        close(undefined);
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = dialog.querySelector("[autofocus]") ?? dialog.querySelector("input, select, textarea, button");
    first?.focus();
    return { dialog, heading, close, setTitle: (text) => (heading.textContent = text) };
}

/** A confirmation dialog; resolves to true when confirmed. */
export function confirmDialog({ title, message, confirmLabel, cancelLabel, danger = false }) {
    return new Promise((resolve) => {
        let result = false;
        const ok = h("button", {
            type: "button",
            class: danger ? "danger" : "primary",
            text: confirmLabel,
            onClick: () => {
                result = true;
                handle.close();
            },
        });
        const cancel = h("button", { type: "button", text: cancelLabel, onClick: () => handle.close() });
        const handle = openDialog({
            title,
            className: "dialog-small",
            body: [h("p", { text: message }), h("div", { class: "actions" }, cancel, ok)],
            onClose: () => resolve(result),
        });
        cancel.focus();
    });
}

/** True when a key press happens while the user is typing into a field, so single-key shortcuts stay out. */
export function isTyping(event) {
    const target = event.target;
    if (!(target instanceof Element)) return false;
    return target.closest("input, textarea, select, [contenteditable='true']") !== null;
}
