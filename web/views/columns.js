// A board's columns; a Supervisor adds, renames, reorders, marks as done and deletes them here.

import * as api from "../api.js";
import { clear, confirmDialog, field, h, messageArea, openDialog } from "../dom.js";
import { t } from "../i18n.js";
import { columnName, notify, problemMessage } from "../ui.js";

/** The most columns a board may have (the server's limit). */
const MAX_COLUMNS = 20;

export function openColumnsDialog({ board, onChanged }) {
    let columns = sortedColumns(board);
    const list = h("ol", { class: "column-list", "aria-label": t("columns.list") });
    // The dialog's one message, above the list: the latest change's outcome replaces any earlier one.
    const message = messageArea();
    const nameInput = h("input", { name: "name", maxlength: "50", required: true, autocomplete: "off" });
    const add = h("button", { type: "submit", class: "primary", text: t("columns.add") });

    const reload = async () => {
        try {
            const fresh = await api.get(`/boards/${api.id(board.id)}`);
            columns = sortedColumns(fresh);
            render();
            await onChanged?.(fresh);
        } finally {
            busy(false);
        }
    };

    // One change at a time: positions sent are those of the list on screen, so the list waits for each answer.
    let keptFocus = null;
    const busy = (on) => {
        if (on) keptFocus = focusedControl();
        list.setAttribute("aria-busy", String(on));
        for (const control of list.querySelectorAll("input, button")) control.disabled = on || control.dataset.locked === "true";
    };

    // Sends one change of the list, says how it went, and shows the list as the server has it now.
    const apply = async (request, done) => {
        busy(true);
        try {
            await request();
            message.show(null);
            if (done) notify(done);
        } catch (problem) {
            message.show(problemMessage(problem));
        }
        await reload().catch((problem) => message.show(problemMessage(problem)));
    };

    const change = (column, changes, done) => apply(() => api.patch(`/columns/${api.id(column.id)}`, changes), done);

    const remove = async (column) => {
        const name = columnName(column);
        const sure = await confirmDialog({
            title: t("columns.delete_title"),
            message: t("columns.delete_message", { name }),
            confirmLabel: t("columns.delete"),
            cancelLabel: t("action.cancel"),
            danger: true,
        });
        if (!sure) return;
        await apply(() => api.del(`/columns/${api.id(column.id)}`), t("columns.deleted", { name }));
    };

    // Which control of which column has the focus, to put it back after the list is drawn again.
    const focusedControl = () => {
        const focused = document.activeElement?.closest?.(".column-item [data-action]");
        const item = focused?.closest(".column-item");
        return item ? { columnID: item.dataset.columnId, action: focused.dataset.action, index: [...list.children].indexOf(item) } : null;
    };

    const render = () => {
        const refocus = keptFocus ?? focusedControl();
        keptFocus = null;
        clear(list);
        columns.forEach((column, index) => {
            const name = columnName(column);
            // One place earlier or later; locked at the end it would leave.
            const moveButton = (action, text, label, target) => {
                const locked = target < 0 || target >= columns.length;
                return h("button", {
                    type: "button",
                    class: "icon-button",
                    text,
                    "aria-label": label,
                    title: label,
                    dataset: { action, locked: String(locked) },
                    disabled: locked,
                    onClick: () => change(column, { position: target }),
                });
            };
            const nameField = h("input", {
                name: "column-name",
                value: name,
                maxlength: "50",
                autocomplete: "off",
                "aria-label": t("columns.name_of", { name }),
                dataset: { action: "name" },
                onChange: () => {
                    const value = nameField.value.trim();
                    if (!value || value === name) {
                        nameField.value = name;
                        return;
                    }
                    change(column, { name: value }, t("columns.renamed", { name: value }));
                },
            });
            const done = h("input", {
                type: "checkbox",
                checked: column.is_done,
                dataset: { action: "done" },
                onChange: () => change(column, { is_done: done.checked }),
            });
            list.append(
                h(
                    "li",
                    { class: "column-item", dataset: { columnId: column.id } },
                    nameField,
                    h("label", { class: "column-done-toggle" }, done, h("span", { text: t("columns.done") })),
                    moveButton("earlier", "←", t("columns.move_earlier", { name }), index - 1),
                    moveButton("later", "→", t("columns.move_later", { name }), index + 1),
                    h("button", {
                        type: "button",
                        class: "danger-outline",
                        text: t("columns.delete"),
                        "aria-label": t("columns.delete_named", { name }),
                        dataset: { action: "delete", locked: String(columns.length === 1) },
                        disabled: columns.length === 1,
                        onClick: () => remove(column),
                    }),
                ),
            );
        });
        // Keyboard users keep their place after a move: the same control of the same column, or its neighbour.
        if (refocus) {
            const item =
                list.querySelector(`.column-item[data-column-id="${CSS.escape(refocus.columnID)}"]`) ??
                list.children[Math.min(refocus.index, list.children.length - 1)];
            const target = item?.querySelector(`[data-action="${refocus.action}"]:not(:disabled)`) ?? item?.querySelector("input");
            target?.focus();
        }
        add.disabled = columns.length >= MAX_COLUMNS;
    };

    const form = h(
        "form",
        {
            class: "stack",
            onSubmit: async (event) => {
                event.preventDefault();
                const name = nameInput.value.trim();
                if (!name) return;
                add.disabled = true;
                try {
                    await api.post(`/boards/${api.id(board.id)}/columns`, { name });
                    message.show(null);
                    notify(t("columns.added", { name }));
                    nameInput.value = "";
                    await reload();
                    nameInput.focus();
                } catch (problem) {
                    // A name already taken (or too long) is the name's problem: it goes when the name is edited.
                    const aboutName = problem.code === "duplicate" || problem.field === "name";
                    message.show(problemMessage(problem), "error", { fields: aboutName ? [nameInput] : [] });
                } finally {
                    add.disabled = columns.length >= MAX_COLUMNS;
                }
            },
        },
        h("h3", { class: "small-heading", text: t("columns.add_title") }),
        h("div", { class: "row" }, field(t("columns.name"), nameInput), add),
    );

    const handle = openDialog({
        title: t("columns.title", { board: board.name }),
        className: "dialog-medium",
        body: [
            h("p", { class: "muted small", text: t("columns.hint") }),
            message,
            list,
            form,
            h("div", { class: "actions" }, h("button", { type: "button", text: t("action.close"), onClick: () => handle.close() })),
        ],
    });
    render();
}

function sortedColumns(board) {
    return [...board.columns].sort((a, b) => a.position - b.position);
}
