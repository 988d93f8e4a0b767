// The task dialog: details (what the signed-in user may change is editable, the rest is shown), the description
// in Markdown, comments and history. A save that loses a race (409) shows the other change and offers a retry.

import * as api from "../api.js";
import { clear, confirmDialog, field, h, messageArea, openDialog, uid } from "../dom.js";
import { t } from "../i18n.js";
import { renderMarkdown } from "../markdown.js";
import { mayEditAll, session } from "../session.js";
import {
    announce,
    avatar,
    browserTimeZone,
    columnName as shownColumnName,
    dateTimeInput,
    formatDateTime,
    notify,
    parseLocalInput,
    problemMessage,
    relativeTime,
    toLocalInput,
} from "../ui.js";

/** Text area with a Write / Preview switch; read-only content is only rendered. */
function markdownEditor(value, { editable, label }) {
    const preview = h("div", { class: "markdown" });
    const id = uid("md");
    if (!editable) {
        preview.append(value ? renderMarkdown(value) : h("p", { class: "muted", text: t("task.no_description") }));
        const element = h("div", { class: "md-editor" }, h("h3", { class: "field-label", id, text: label }), preview);
        element.setAttribute("role", "group");
        element.setAttribute("aria-labelledby", id);
        return { element, get value() { return value; }, set value(text) { value = text; clear(preview, text ? renderMarkdown(text) : h("p", { class: "muted", text: t("task.no_description") })); } };
    }
    const area = h("textarea", { id, rows: "8", maxlength: "50000", "aria-describedby": `${id}-hint`, value });
    const hint = h("p", { class: "hint", id: `${id}-hint`, text: t("task.markdown_hint") });
    const write = h("button", { type: "button", class: "tab", text: t("task.write") });
    const show = h("button", { type: "button", class: "tab", text: t("task.preview") });
    const setMode = (mode) => {
        const previewing = mode === "preview";
        write.setAttribute("aria-pressed", String(!previewing));
        show.setAttribute("aria-pressed", String(previewing));
        area.hidden = previewing;
        hint.hidden = previewing;
        preview.hidden = !previewing;
        if (previewing) {
            clear(preview, area.value ? renderMarkdown(area.value) : h("p", { class: "muted", text: t("task.no_description") }));
        }
    };
    write.addEventListener("click", () => {
        setMode("write");
        area.focus();
    });
    show.addEventListener("click", () => setMode("preview"));
    setMode(value ? "preview" : "write");
    const element = h(
        "div",
        { class: "md-editor" },
        h("div", { class: "md-head" }, h("label", { for: id, class: "field-label", text: label }), h("div", { class: "tabs", role: "group", "aria-label": label }, write, show)),
        area,
        hint,
        preview,
    );
    return {
        element,
        area,
        get value() {
            return area.value;
        },
        set value(text) {
            area.value = text;
            setMode(text ? "preview" : "write");
        },
    };
}

function parseLabels(text) {
    const labels = text.split(",").map((label) => label.trim()).filter(Boolean);
    return [...new Set(labels)].sort();
}

function sameLabels(a, b) {
    return a.length === b.length && a.every((label, index) => label === b[index]);
}

function columnSelect(board, selected, attrs = {}) {
    return h(
        "select",
        attrs,
        board.columns.map((column) => h("option", { value: column.id, selected: column.id === selected, text: shownColumnName(column) })),
    );
}

function assigneeSelect(members, selected, attrs = {}) {
    return h(
        "select",
        attrs,
        h("option", { value: "", text: t("task.unassigned") }),
        members.map((member) => h("option", { value: member.id, selected: member.id === selected, text: member.name })),
    );
}

/** The fields a task form shares between "new" and "edit". */
function detailFields(board, members, task, { editAll, editOwn }) {
    const title = h("input", { type: "text", name: "title", maxlength: "200", required: true, value: task.title ?? "", disabled: !editAll });
    const column = columnSelect(board, task.column_id, { name: "column_id", disabled: !(editAll || editOwn) });
    const assignee = assigneeSelect(members, task.assignee_id, { name: "assignee_id", disabled: !editAll });
    const due = dateTimeInput({ name: "due_at", value: task.due_at, disabled: !editAll });
    const labels = h("input", {
        type: "text",
        name: "labels",
        maxlength: "900",
        autocomplete: "off",
        value: (task.labels ?? []).join(", "),
        disabled: !editAll,
    });
    const description = markdownEditor(task.content ?? "", { editable: editAll || editOwn, label: t("field.content") });
    return { title, column, assignee, due, labels, description };
}

/** The body of a change: only what differs from `base` (a due date that cannot be read counts as a change). */
function changesFrom(fields, base) {
    const changes = {};
    const title = fields.title.value.trim();
    if (title !== base.title) changes.title = title;
    if (fields.column.value !== base.column_id) changes.column_id = fields.column.value;
    const assignee = fields.assignee.value || null;
    if (assignee !== (base.assignee_id ?? null)) changes.assignee_id = assignee;
    const due = parseLocalInput(fields.due.value);
    if (!due.valid || toLocalInput(due.iso) !== toLocalInput(base.due_at)) {
        changes.due_at = due.valid ? due.iso : undefined;
        changes.due_time_zone = due.iso ? browserTimeZone() : null;
    }
    const labels = parseLabels(fields.labels.value);
    if (!sameLabels(labels, [...(base.labels ?? [])].sort())) changes.labels = labels;
    if (fields.description.value !== (base.content ?? "")) changes.content = fields.description.value;
    return changes;
}

/** The message for a form's fields that cannot be sent as they are, with the fields concerned; or null. */
function invalidFields(fields) {
    if (!fields.title.disabled && !fields.title.value.trim()) return { text: t("task.title_required"), fields: [fields.title] };
    if (!parseLocalInput(fields.due.value).valid) return { text: t("error.due_format"), fields: [fields.due] };
    return null;
}

/** The form control a problem the server reported is about, if any. */
function controlFor(fields, problem) {
    const controls = {
        title: fields.title,
        column_id: fields.column,
        assignee_id: fields.assignee,
        due_at: fields.due,
        due_time_zone: fields.due,
        labels: fields.labels,
        content: fields.description.area,
    };
    return controls[problem?.field] ?? null;
}

function fillFields(fields, task) {
    fields.title.value = task.title;
    fields.column.value = task.column_id;
    fields.assignee.value = task.assignee_id ?? "";
    fields.due.value = toLocalInput(task.due_at);
    fields.labels.value = task.labels.join(", ");
    fields.description.value = task.content;
}

/** New task (Supervisors). */
export function openNewTaskDialog({ board, members, columnID, onCreated }) {
    const fields = detailFields(board, members, { column_id: columnID ?? board.columns[0]?.id, labels: [] }, { editAll: true, editOwn: true });
    const message = messageArea();
    const submit = h("button", { type: "submit", class: "primary", text: t("task.create") });
    const form = h(
        "form",
        {
            class: "task-form",
            novalidate: true,
            onSubmit: async (event) => {
                event.preventDefault();
                const invalid = invalidFields(fields);
                if (invalid) {
                    message.show(invalid.text, "error", { fields: invalid.fields });
                    invalid.fields[0].focus();
                    return;
                }
                const title = fields.title.value.trim();
                const body = { title, column_id: fields.column.value, content: fields.description.value, labels: parseLabels(fields.labels.value) };
                if (fields.assignee.value) body.assignee_id = fields.assignee.value;
                const due = parseLocalInput(fields.due.value).iso;
                if (due) {
                    body.due_at = due;
                    const zone = browserTimeZone();
                    if (zone) body.due_time_zone = zone;
                }
                submit.disabled = true;
                try {
                    const task = await api.post(`/boards/${api.id(board.id)}/tasks`, body);
                    handle.close();
                    onCreated(task);
                } catch (problem) {
                    message.show(problemMessage(problem), "error", { fields: [controlFor(fields, problem)] });
                    submit.disabled = false;
                }
            },
        },
        message,
        field(t("field.title"), fields.title),
        h(
            "div",
            { class: "grid-fields" },
            field(t("field.column"), fields.column),
            field(t("field.assignee"), fields.assignee),
            dueField(fields.due),
            field(t("field.labels"), fields.labels, t("task.labels_hint")),
        ),
        fields.description.element,
        h("div", { class: "actions" }, h("button", { type: "button", text: t("action.cancel"), onClick: () => handle.close() }), submit),
    );
    const handle = openDialog({ title: t("task.new_title"), className: "dialog-large", body: form });
    fields.title.focus();
}

/** An existing task. `onClose` runs once the dialog is gone. */
export function openTaskDialog({ board, members, taskID, onSaved, onDeleted, onClose }) {
    const membersByID = new Map(members.map((member) => [member.id, member]));
    const columnsByID = new Map(board.columns.map((column) => [column.id, column]));
    const container = h("div", { class: "task-dialog-body" }, h("p", { class: "muted", role: "status", text: t("common.loading") }));
    let fields = null;
    let base = null;

    const dirty = () => fields !== null && base !== null && Object.keys(changesFrom(fields, base)).length > 0;
    const requestClose = async () => {
        if (dirty()) {
            const discard = await confirmDialog({
                title: t("task.discard_title"),
                message: t("task.discard_message"),
                confirmLabel: t("task.discard"),
                cancelLabel: t("task.keep_editing"),
                danger: true,
            });
            if (!discard) return;
        }
        handle.close();
    };
    const handle = openDialog({
        title: t("task.title"),
        className: "dialog-large task-dialog",
        body: container,
        onCancel: () => {
            requestClose();
            return false;
        },
        onClose,
    });
    handle.requestClose = requestClose;

    // Someone else changed the task while it is open: the dialog says so and offers to load their version; what is
    // being typed here is never replaced unasked. Comments and history, which nobody types into, just refresh.
    let reloadComments = null;
    let reloadHistory = null;
    let liveNotice = null;
    handle.remoteChange = (kind, data) => {
        const name = data.actor?.name ?? t("live.someone");
        reloadHistory?.();
        if (kind === "task.commented") {
            reloadComments?.();
            return;
        }
        if (kind !== "task.deleted" && (!data.task || (base && data.task.version <= base.version))) return;
        liveNotice?.remove();
        const deleted = kind === "task.deleted";
        liveNotice = h(
            "div",
            { class: "live-notice", role: "status" },
            h("span", { text: deleted ? t("live.task_deleted", { name }) : t("live.task_changed", { name }) }),
            deleted
                ? null
                : h("button", {
                      type: "button",
                      class: "small",
                      text: t("live.reload"),
                      onClick: () => {
                          liveNotice?.remove();
                          liveNotice = null;
                          load();
                      },
                  }),
        );
        container.prepend(liveNotice);
    };

    const personName = (id) => (id ? membersByID.get(id)?.name ?? t("task.former_member") : t("task.unassigned"));
    const columnName = (id) => (columnsByID.has(id) ? shownColumnName(columnsByID.get(id)) : t("task.unknown_column"));

    const load = async () => {
        let task;
        try {
            task = await api.get(`/tasks/${api.id(taskID)}`);
        } catch (problem) {
            clear(container, h("p", { role: "alert", text: problem.code === "not_found" ? t("task.gone") : problemMessage(problem) }));
            return;
        }
        base = task;
        render(task);
    };

    const render = (task) => {
        const editAll = mayEditAll();
        const editOwn = !editAll && task.assignee_id === session.user?.id;
        const editable = editAll || editOwn;
        handle.setTitle(task.title);
        fields = detailFields(board, members, task, { editAll, editOwn });
        const message = messageArea();
        const conflictBox = h("div", { class: "conflict", hidden: true });
        const save = h("button", { type: "submit", class: "primary", text: t("task.save"), hidden: !editable });
        const remove = editAll
            ? h("button", {
                  type: "button",
                  class: "danger-outline",
                  text: t("task.delete"),
                  onClick: async () => {
                      const sure = await confirmDialog({
                          title: t("task.delete_title"),
                          message: t("task.delete_message", { title: base.title }),
                          confirmLabel: t("task.delete"),
                          cancelLabel: t("action.cancel"),
                          danger: true,
                      });
                      if (!sure) return;
                      try {
                          await api.del(`/tasks/${api.id(base.id)}`);
                          notify(t("task.deleted", { title: base.title }));
                          base = null;
                          handle.close();
                          onDeleted(task.id);
                      } catch (problem) {
                          message.show(problemMessage(problem));
                      }
                  },
              })
            : null;

        const submitChanges = async (changes, version) => {
            save.disabled = true;
            message.show(null);
            try {
                const updated = await api.patch(`/tasks/${api.id(base.id)}`, { ...changes, version });
                base = updated;
                fillFields(fields, updated);
                handle.setTitle(updated.title);
                conflictBox.hidden = true;
                message.show(t("task.saved"), "success");
                onSaved(updated);
                loadHistory();
            } catch (problem) {
                if (problem.code === "version_conflict" && problem.currentTask) {
                    showConflict(problem.currentTask, changes);
                } else {
                    message.show(problemMessage(problem), "error", { fields: [controlFor(fields, problem)] });
                }
            } finally {
                save.disabled = false;
            }
        };

        const showConflict = async (current, mine) => {
            const rows = [];
            const describe = {
                title: (task) => task.title,
                column_id: (task) => columnName(task.column_id),
                assignee_id: (task) => personName(task.assignee_id),
                due_at: (task) => (task.due_at ? formatDateTime(task.due_at) : t("task.no_due")),
                labels: (task) => (task.labels.length ? task.labels.join(", ") : t("task.no_labels")),
                content: (task) => (task.content ? excerpt(task.content) : t("task.no_description")),
            };
            for (const [key, show] of Object.entries(describe)) {
                const theirs = show(current);
                const before = show(base);
                const yours = key in mine ? show({ ...base, ...mine, labels: mine.labels ?? base.labels }) : null;
                if (theirs === before && yours === null) continue;
                rows.push(
                    h(
                        "tr",
                        {},
                        h("th", { scope: "row", text: t(`field.${key}`) }),
                        h("td", { text: theirs === before ? t("conflict.unchanged") : theirs }),
                        h("td", { text: yours ?? t("conflict.unchanged") }),
                    ),
                );
            }
            const who = h("p", { class: "muted" });
            const retry = h("button", {
                type: "button",
                class: "primary",
                text: t("conflict.retry"),
                onClick: () => {
                    base = current;
                    submitChanges(mine, current.version);
                },
            });
            const theirsButton = h("button", {
                type: "button",
                text: t("conflict.use_theirs"),
                onClick: () => {
                    base = current;
                    fillFields(fields, current);
                    handle.setTitle(current.title);
                    conflictBox.hidden = true;
                    onSaved(current);
                    announce(t("conflict.used_theirs"));
                    fields.title.focus();
                },
            });
            clear(
                conflictBox,
                h("h3", { text: t("conflict.title") }),
                who,
                h(
                    "div",
                    { class: "table-wrap" },
                    h(
                        "table",
                        { class: "conflict-table" },
                        h("thead", {}, h("tr", {}, h("th", { scope: "col", text: t("conflict.field") }), h("th", { scope: "col", text: t("conflict.theirs") }), h("th", { scope: "col", text: t("conflict.yours") }))),
                        h("tbody", {}, rows),
                    ),
                ),
                h("div", { class: "actions" }, theirsButton, retry),
            );
            conflictBox.hidden = false;
            conflictBox.setAttribute("role", "alert");
            retry.focus();
            try {
                const events = await api.get(`/tasks/${api.id(current.id)}/history`);
                const last = events.filter((event) => event.actor_id !== session.user?.id).pop() ?? events[events.length - 1];
                if (last) who.replaceChildren(t("conflict.by", { name: personName(last.actor_id) }), " ", relativeTime(last.at));
            } catch {
                // The table already shows what changed.
            }
        };

        const form = h(
            "form",
            {
                class: "task-form",
                novalidate: true,
                onSubmit: (event) => {
                    event.preventDefault();
                    const invalid = invalidFields(fields);
                    if (invalid) {
                        message.show(invalid.text, "error", { fields: invalid.fields });
                        invalid.fields[0].focus();
                        return;
                    }
                    const changes = changesFrom(fields, base);
                    if (Object.keys(changes).length === 0) {
                        message.show(t("task.nothing_to_save"), "info");
                        return;
                    }
                    submitChanges(changes, base.version);
                },
            },
            editable ? null : h("p", { class: "note", text: t("task.read_only") }),
            !editAll && editOwn ? h("p", { class: "note", text: t("task.pic_scope") }) : null,
            conflictBox,
            message,
            field(t("field.title"), fields.title),
            h(
                "div",
                { class: "grid-fields" },
                field(t("field.column"), fields.column),
                field(t("field.assignee"), fields.assignee),
                dueField(
                    fields.due,
                    editAll
                        ? h("button", {
                              type: "button",
                              class: "icon-button field-button",
                              text: "×",
                              "aria-label": t("task.clear_due"),
                              title: t("task.clear_due"),
                              onClick: () => {
                                  fields.due.value = "";
                                  fields.due.dispatchEvent(new Event("input", { bubbles: true }));
                              },
                          })
                        : null,
                ),
                field(t("field.labels"), fields.labels, editAll ? t("task.labels_hint") : null),
            ),
            fields.description.element,
            h("div", { class: "actions" }, remove, h("span", { class: "spacer" }), h("button", { type: "button", text: t("action.close"), onClick: requestClose }), save),
        );

        const commentList = h("ol", { class: "comments" });
        const commentBox = h("textarea", { rows: "3", maxlength: "10000", name: "comment" });
        const commentMessage = messageArea();
        const commentButton = h("button", { type: "submit", text: t("comments.add") });
        const commentForm = h(
            "form",
            {
                class: "comment-form",
                onSubmit: async (event) => {
                    event.preventDefault();
                    const body = commentBox.value.trim();
                    if (!body) {
                        commentMessage.show(t("comments.empty"), "error", { fields: [commentBox] });
                        commentBox.focus();
                        return;
                    }
                    commentButton.disabled = true;
                    try {
                        await api.post(`/tasks/${api.id(base.id)}/comments`, { body });
                        commentBox.value = "";
                        commentMessage.show(null);
                        announce(t("comments.added"));
                        await loadComments();
                        loadHistory();
                    } catch (problem) {
                        commentMessage.show(problemMessage(problem));
                    } finally {
                        commentButton.disabled = false;
                    }
                },
            },
            commentMessage,
            field(t("comments.new"), commentBox, t("comments.hint")),
            h("div", { class: "actions" }, commentButton),
        );
        commentBox.addEventListener("keydown", (event) => {
            if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) commentForm.requestSubmit();
        });

        const historyList = h("ol", { class: "history" });

        const loadComments = async () => {
            try {
                const comments = await api.get(`/tasks/${api.id(base.id)}/comments`);
                clear(commentList);
                if (comments.length === 0) commentList.append(h("li", { class: "muted", text: t("comments.none") }));
                for (const comment of comments) {
                    const author = membersByID.get(comment.author_id);
                    commentList.append(
                        h(
                            "li",
                            { class: "comment" },
                            h("div", { class: "comment-head" }, avatar(author), h("strong", { text: personName(comment.author_id) }), relativeTime(comment.created_at)),
                            h("div", { class: "markdown" }, renderMarkdown(comment.body)),
                        ),
                    );
                }
            } catch (problem) {
                commentMessage.show(problemMessage(problem));
            }
        };

        const loadHistory = async () => {
            if (!base) return;
            try {
                const events = await api.get(`/tasks/${api.id(base.id)}/history`);
                clear(historyList);
                for (const event of events.slice().reverse()) {
                    historyList.append(
                        h(
                            "li",
                            { class: "history-item" },
                            h("strong", { text: personName(event.actor_id) }),
                            " ",
                            h("span", { text: historyText(event, { personName, columnName }) }),
                            " · ",
                            relativeTime(event.at),
                        ),
                    );
                }
            } catch (problem) {
                clear(historyList, h("li", { class: "muted", text: problemMessage(problem) }));
            }
        };

        clear(
            container,
            form,
            h("section", { class: "task-section", "aria-labelledby": "comments-title" }, h("h3", { id: "comments-title", text: t("comments.title") }), commentList, commentForm),
            h("section", { class: "task-section", "aria-labelledby": "history-title" }, h("h3", { id: "history-title", text: t("history.title") }), historyList),
        );
        (editable ? (editAll ? fields.title : fields.column) : commentBox).focus();
        reloadComments = loadComments;
        reloadHistory = loadHistory;
        loadComments();
        loadHistory();
    };

    load();
    return handle;
}

/** The due date's field: its text input, the picker button and `extra` (a Clear button) on one row. */
function dueField(input, extra = null) {
    if (!input.id) input.id = uid("due");
    return h(
        "div",
        { class: "field" },
        h("label", { for: input.id, text: t("field.due_at") }),
        h("div", { class: "row due-row" }, input, input.picker, extra),
    );
}

function excerpt(text) {
    const flat = text.replace(/\s+/g, " ").trim();
    return flat.length > 140 ? `${flat.slice(0, 140)}…` : flat;
}

/** One line of a task's history, in the reader's language. */
export function historyText(event, { personName, columnName }) {
    const from = event.old_value;
    const to = event.new_value;
    switch (event.action) {
        case "task.created":
            return t("history.created");
        case "task.moved":
            return t("history.moved", { from: columnName(from), to: columnName(to) });
        case "task.reordered":
            return t("history.reordered");
        case "comment.added":
            return t("history.commented");
        case "task.updated":
            switch (event.field) {
                case "title":
                    return t("history.title_changed", { from: from ?? "", to: to ?? "" });
                case "content":
                    return t("history.content_changed");
                case "assignee":
                    return to ? t("history.assigned", { name: personName(to) }) : t("history.unassigned");
                case "due_at":
                    return to ? t("history.due_set", { date: formatDateTime(to) }) : t("history.due_removed");
                case "due_tz":
                    return to ? t("history.zone_set", { zone: to }) : t("history.zone_removed");
                case "labels":
                    return to ? t("history.labels_set", { labels: to.split(",").join(", ") }) : t("history.labels_removed");
                case "column":
                    return t("history.moved", { from: columnName(from), to: columnName(to) });
                default:
                    return t("history.changed_other");
            }
        default:
            return t("history.other");
    }
}
