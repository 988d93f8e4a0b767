// The kanban board: columns with counts, cards, filters, moving cards with the pointer (mouse, pen, or touch on
// the grip) or the keyboard, and the task dialog. A move is shown at once and snaps back when the server refuses.
// Changes others make arrive on the board's live stream and are applied as they come, naming who made them.

import * as api from "../api.js";
import { clear, h, isTyping, openDialog, uid } from "../dom.js";
import { t } from "../i18n.js";
import { openLiveStream } from "../live.js";
import { boardPath, setURL } from "../router.js";
import { isSupervisor, mayMove, session } from "../session.js";
import { announce, assignAvatarColors, avatar, columnName, dueState, formatDateTime, formatShortDate, notify, problemMessage } from "../ui.js";
import { openColumnsDialog } from "./columns.js";
import { openMembersDialog } from "./members.js";
import { openNewTaskDialog, openTaskDialog } from "./task.js";
import { openWebhooksDialog } from "./webhooks.js";

const FILTER_KEYS = ["assignee", "label", "overdue", "q"];

export function boardView(route) {
    const state = {
        boardID: route.boardID,
        board: null,
        members: [],
        membersByID: new Map(),
        tasks: [],
        filters: filtersFrom(route.query),
        labels: new Set(),
        openTaskID: null,
        taskDialog: null,
        focusTaskID: null,
        busy: false,
        // Cards others just changed: task id → { text, until }.
        highlights: new Map(),
        live: null,
    };

    const heading = h("h1", { tabindex: "-1", text: t("common.loading") });
    const liveStatus = h("p", { class: "live-status", role: "status", hidden: true });
    const toolbar = h("div", { class: "toolbar" });
    // Hidden until the board is loaded: a board that cannot be shown has nothing to filter.
    const filterBar = h("form", { id: uid("filters"), class: "filters", role: "search", "aria-label": t("filters.label"), hidden: true });
    // On narrow screens the filters fold away behind this button; on wide ones they are always shown.
    const filterToggle = h("button", {
        type: "button",
        class: "filter-toggle",
        hidden: true,
        text: t("filters.toggle"),
        "aria-expanded": "false",
        "aria-controls": filterBar.id,
        onClick: () => {
            const open = filterToggle.getAttribute("aria-expanded") !== "true";
            filterToggle.setAttribute("aria-expanded", String(open));
            filterBar.classList.toggle("filters-open", open);
            if (open) filterBar.querySelector("select, input")?.focus();
        },
    });
    const summary = h("p", { class: "muted small filter-summary", role: "status" });
    const columns = h("div", { class: "columns", "aria-busy": "true" });
    const hintID = uid("card-hint");
    const element = h(
        "div",
        { class: "page board-page" },
        h("div", { class: "page-head" }, heading, liveStatus, toolbar),
        filterToggle,
        filterBar,
        summary,
        h("p", { id: hintID, class: "visually-hidden", text: t("board.card_hint") }),
        columns,
    );

    // MARK: Loading

    const queryFromFilters = () => {
        const query = {};
        for (const key of FILTER_KEYS) if (state.filters[key]) query[key] = state.filters[key];
        return query;
    };

    // Filters can change faster than answers arrive: only the answer to the latest request is shown.
    let loadSequence = 0;
    const loadTasks = async () => {
        loadSequence += 1;
        const sequence = loadSequence;
        const tasks = await api.allTasks(state.boardID, queryFromFilters());
        if (sequence !== loadSequence) return;
        state.tasks = tasks;
        for (const task of state.tasks) for (const label of task.labels) state.labels.add(label);
        renderColumns();
    };

    const load = async () => {
        try {
            const [board, members] = await Promise.all([
                api.get(`/boards/${api.id(state.boardID)}`),
                api.get(`/boards/${api.id(state.boardID)}/members`),
            ]);
            state.board = board;
            state.members = members;
            state.membersByID = new Map(members.map((member) => [member.id, member]));
            assignAvatarColors(members);
            heading.textContent = board.name;
            document.title = t("title.page", { page: board.name });
            renderToolbar();
            renderFilters();
            filterBar.hidden = false;
            filterToggle.hidden = false;
            await loadTasks();
            columns.removeAttribute("aria-busy");
            startLive(board.last_event_id);
            if (route.taskID && !state.taskDialog) openTask(route.taskID, { push: false });
        } catch (problem) {
            columns.removeAttribute("aria-busy");
            heading.textContent = problem.code === "not_found" ? t("board.not_found") : t("board.error");
            clear(columns, h("p", { role: "alert", text: problem.code === "not_found" ? t("board.not_found_detail") : problemMessage(problem) }));
        }
    };

    const refresh = async () => {
        if (!state.board || dragging) return;
        try {
            await loadTasks();
        } catch (problem) {
            notify(problemMessage(problem), "error");
        }
    };

    // MARK: Toolbar and filters

    const renderToolbar = () => {
        clear(
            toolbar,
            isSupervisor()
                ? h("button", { type: "button", class: "primary", text: t("board.new_task"), "aria-keyshortcuts": "n", onClick: () => newTask() })
                : null,
            h("button", {
                type: "button",
                text: t("board.members"),
                onClick: () => openMembersDialog({ board: state.board, onChanged: reloadMembers }),
            }),
            // On a phone these two are icons (their names stay for screen readers and as tooltips), so that the
            // toolbar keeps one row.
            isSupervisor()
                ? h(
                      "button",
                      { type: "button", class: "icon-narrow", title: t("board.columns"), onClick: () => openColumnsDialog({ board: state.board, onChanged: columnsChanged }) },
                      h("span", { class: "button-icon", "aria-hidden": "true", text: "▥" }),
                      h("span", { class: "button-text", text: t("board.columns") }),
                  )
                : null,
            isSupervisor()
                ? h(
                      "button",
                      { type: "button", class: "icon-narrow", title: t("webhooks.button"), onClick: () => openWebhooksDialog({ board: state.board }) },
                      h("span", { class: "button-icon", "aria-hidden": "true", text: "⇄" }),
                      h("span", { class: "button-text", text: t("webhooks.button") }),
                  )
                : null,
            h(
                "button",
                { type: "button", class: "shortcuts-button", "aria-keyshortcuts": "?", onClick: openHelp },
                h("span", { class: "button-icon", "aria-hidden": "true", text: "⌨" }),
                h("span", { class: "button-text", text: t("board.shortcuts") }),
            ),
        );
    };

    // Columns were added, renamed, moved, marked as done or deleted: tasks are fetched again, since which are
    // overdue depends on their column.
    const columnsChanged = async (board) => {
        state.board = board;
        renderFilters();
        await loadTasks();
    };

    const reloadMembers = async () => {
        state.members = await api.get(`/boards/${api.id(state.boardID)}/members`);
        state.membersByID = new Map(state.members.map((member) => [member.id, member]));
        assignAvatarColors(state.members);
        renderFilters();
        renderColumns();
    };

    let searchTimer = null;
    const applyFilters = async () => {
        const search = new URLSearchParams(queryFromFilters()).toString();
        setURL(boardPath(state.boardID, state.openTaskID, search ? `?${search}` : ""), { replace: true });
        try {
            await loadTasks();
        } catch (problem) {
            notify(problemMessage(problem), "error");
        }
    };

    const renderFilters = () => {
        const filters = state.filters;
        const assignee = h(
            "select",
            {
                id: "filter-assignee",
                name: "assignee",
                onChange: () => {
                    filters.assignee = assignee.value;
                    applyFilters();
                },
            },
            h("option", { value: "", text: t("filters.everyone") }),
            h("option", { value: "me", text: t("filters.mine") }),
            state.members.map((member) => h("option", { value: member.id, text: member.name })),
        );
        assignee.value = filters.assignee ?? "";
        const labelList = h("datalist", { id: uid("labels") }, [...state.labels].sort().map((label) => h("option", { value: label })));
        const label = h("input", {
            id: "filter-label",
            type: "text",
            name: "label",
            list: labelList.id,
            autocomplete: "off",
            maxlength: "40",
            value: filters.label ?? "",
            onChange: () => {
                filters.label = label.value.trim();
                applyFilters();
            },
        });
        const overdue = h("input", {
            id: "filter-overdue",
            type: "checkbox",
            name: "overdue",
            checked: filters.overdue === "true",
            onChange: () => {
                filters.overdue = overdue.checked ? "true" : "";
                applyFilters();
            },
        });
        const search = h("input", {
            id: "filter-q",
            type: "search",
            name: "q",
            maxlength: "200",
            autocomplete: "off",
            value: filters.q ?? "",
            onInput: () => {
                clearTimeout(searchTimer);
                searchTimer = setTimeout(() => {
                    filters.q = search.value.trim();
                    applyFilters();
                }, 300);
            },
        });
        const reset = h("button", {
            type: "button",
            class: "small",
            text: t("filters.clear"),
            onClick: () => {
                state.filters = {};
                renderFilters();
                applyFilters();
            },
        });
        clear(
            filterBar,
            h("div", { class: "filter" }, h("label", { for: "filter-assignee", text: t("filters.assignee") }), assignee),
            h("div", { class: "filter" }, h("label", { for: "filter-label", text: t("filters.label_filter") }), label, labelList),
            h("div", { class: "filter" }, h("label", { for: "filter-q", text: t("filters.search") }), search),
            h("div", { class: "filter filter-check" }, overdue, h("label", { for: "filter-overdue", text: t("filters.overdue") })),
            h("div", { class: "filter filter-reset" }, reset),
        );
        // Enter applies the text filters at once (the form has no submit button to submit it).
        const applyNow = (event) => {
            if (event.key !== "Enter") return;
            event.preventDefault();
            clearTimeout(searchTimer);
            filters.q = search.value.trim();
            filters.label = label.value.trim();
            applyFilters();
        };
        label.addEventListener("keydown", applyNow);
        search.addEventListener("keydown", applyNow);
        filterBar.onsubmit = (event) => event.preventDefault();
    };

    // MARK: Columns and cards

    const tasksIn = (columnID) => state.tasks.filter((task) => task.column_id === columnID).sort((a, b) => a.position - b.position || (a.id < b.id ? -1 : 1));

    const renderColumns = () => {
        if (!state.board) return;
        const focusedID = document.activeElement?.closest?.(".card")?.dataset.taskId ?? state.focusTaskID;
        const scroll = columns.scrollLeft;
        clear(columns);
        const filtered = FILTER_KEYS.some((key) => state.filters[key]);
        const active = FILTER_KEYS.filter((key) => state.filters[key]).length;
        filterToggle.textContent = active ? t("filters.toggle_active", { count: active }) : t("filters.toggle");
        summary.textContent = filtered ? t("filters.showing", { count: state.tasks.length }) : "";
        for (const column of state.board.columns) {
            const tasks = tasksIn(column.id);
            const titleID = uid("column-title");
            const list = h("ol", { class: "cards", "aria-labelledby": titleID, dataset: { columnId: column.id } });
            for (const task of tasks) list.append(card(task, column));
            if (tasks.length === 0) list.append(h("li", { class: "empty-column", "aria-hidden": "true", text: t("board.empty_column") }));
            columns.append(
                h(
                    "section",
                    { class: `column${column.is_done ? " column-done" : ""}`, dataset: { columnId: column.id } },
                    h(
                        "h2",
                        { class: "column-head", id: titleID },
                        h("span", { class: "column-name", text: columnName(column) }),
                        h("span", { class: "count", "aria-label": t("board.count", { count: tasks.length }), text: String(tasks.length) }),
                    ),
                    list,
                ),
            );
        }
        columns.scrollLeft = scroll;
        state.focusTaskID = null;
        if (focusedID) columns.querySelector(`.card[data-task-id="${CSS.escape(focusedID)}"]`)?.focus({ preventScroll: false });
    };

    const card = (task, column) => {
        const assignee = task.assignee_id ? state.membersByID.get(task.assignee_id) : null;
        const due = dueState(task, column.is_done);
        const movable = mayMove(task);
        const mine = task.assignee_id === session.user?.id;
        const highlight = state.highlights.get(task.id);
        return h(
            "li",
            {
                class: `card${movable ? " movable" : ""}${mine ? " mine" : ""}${due ? ` due-${due}` : ""}${highlight ? " card-changed" : ""}`,
                tabindex: "0",
                "aria-describedby": hintID,
                dataset: { taskId: task.id },
            },
            h(
                "div",
                { class: "card-top" },
                movable ? h("span", { class: "grip", "aria-hidden": "true", title: t("board.drag"), text: "⠿" }) : null,
                h("h3", { class: "card-title", text: task.title }),
            ),
            task.labels.length ? h("ul", { class: "labels", "aria-label": t("field.labels") }, task.labels.map((label) => h("li", { class: "label", text: label }))) : null,
            h(
                "div",
                { class: "card-meta" },
                task.due_at
                    ? h(
                          "span",
                          { class: `due${due ? ` due-${due}` : ""}`, title: formatDateTime(task.due_at) },
                          due ? h("span", { class: "due-mark", text: due === "overdue" ? t("due.overdue") : t("due.soon") }) : null,
                          h("time", { datetime: task.due_at, text: formatShortDate(task.due_at) }),
                      )
                    : h("span"),
                assignee
                    ? h("span", { class: "assignee" }, avatar(assignee), h("span", { class: "visually-hidden", text: t("board.assigned_to", { name: assignee.name }) }))
                    : h("span", { class: "assignee unassigned muted small", text: t("task.unassigned") }),
            ),
            highlight ? h("p", { class: "card-live", text: highlight.text }) : null,
        );
    };

    // MARK: Moving

    const cardNeighbours = (list, cardElement) => {
        const cards = [...list.querySelectorAll(":scope > .card")];
        const index = cards.indexOf(cardElement);
        return { after: cards[index - 1]?.dataset.taskId ?? null, before: cards[index + 1]?.dataset.taskId ?? null };
    };

    /** Sends a move; the board already shows it. On refusal the board is drawn again from the last known state. */
    const move = async (task, columnID, after, before, { viaKeyboard = false, previous = state.tasks } = {}) => {
        const body = { column_id: columnID, version: task.version };
        if (after) body.after_id = after;
        if (before) body.before_id = before;
        state.focusTaskID = viaKeyboard ? task.id : null;
        state.busy = true;
        try {
            const moved = await api.post(`/tasks/${api.id(task.id)}/move`, body);
            loadSequence += 1; // a list requested before this move would show the card where it was
            state.tasks = state.tasks.map((other) => (other.id === moved.id ? moved : other));
            if (viaKeyboard) state.focusTaskID = moved.id;
            renderColumns();
            const column = state.board.columns.find((candidate) => candidate.id === columnID);
            const position = tasksIn(columnID).findIndex((other) => other.id === moved.id) + 1;
            announce(t("board.moved", { title: moved.title, column: columnName(column), position, count: tasksIn(columnID).length }));
        } catch (problem) {
            state.tasks = previous;
            state.focusTaskID = viaKeyboard ? task.id : null;
            renderColumns();
            const text = problem.code === "version_conflict" ? t("board.move_conflict") : t("board.move_refused", { reason: problemMessage(problem) });
            notify(text, "error");
            if (problem.code === "version_conflict" || problem.code === "invalid_request" || problem.code === "not_found") refresh();
        } finally {
            state.busy = false;
        }
    };

    const taskByID = (id) => state.tasks.find((task) => task.id === id);

    // Pointer dragging. The card itself travels through the lists as the gap; a clone follows the pointer.
    let dragging = null;
    let pressed = null;
    let suppressClick = false;

    const onPointerDown = (event) => {
        const cardElement = event.target.closest(".card");
        if (!cardElement || event.button !== 0 || dragging || state.busy) return;
        const task = taskByID(cardElement.dataset.taskId);
        if (!task || !mayMove(task)) return;
        if (event.pointerType === "touch" && !event.target.closest(".grip")) return;
        pressed = { cardElement, task, x: event.clientX, y: event.clientY, pointerId: event.pointerId };
        document.addEventListener("pointermove", onPointerMove);
        document.addEventListener("pointerup", onPointerUp);
        document.addEventListener("pointercancel", cancelDrag);
    };

    const beginDrag = (event) => {
        const { cardElement, task } = pressed;
        const rect = cardElement.getBoundingClientRect();
        const ghost = cardElement.cloneNode(true);
        ghost.removeAttribute("tabindex");
        ghost.classList.add("drag-ghost");
        ghost.setAttribute("aria-hidden", "true");
        ghost.style.width = `${rect.width}px`;
        document.body.append(ghost);
        dragging = {
            task,
            cardElement,
            ghost,
            offsetX: event.clientX - rect.left,
            offsetY: event.clientY - rect.top,
            origin: { list: cardElement.parentElement, next: cardElement.nextSibling },
        };
        cardElement.classList.add("drag-gap");
        document.body.classList.add("is-dragging");
        moveGhost(event);
    };

    const moveGhost = (event) => {
        dragging.ghost.style.transform = `translate(${event.clientX - dragging.offsetX}px, ${event.clientY - dragging.offsetY}px)`;
    };

    const onPointerMove = (event) => {
        if (!pressed) return;
        if (!dragging) {
            if (Math.hypot(event.clientX - pressed.x, event.clientY - pressed.y) < 6) return;
            beginDrag(event);
        }
        event.preventDefault();
        moveGhost(event);
        const under = document.elementFromPoint(event.clientX, event.clientY);
        const column = under?.closest(".column");
        if (column && columns.contains(column)) {
            const list = column.querySelector(".cards");
            const others = [...list.querySelectorAll(":scope > .card")].filter((other) => other !== dragging.cardElement);
            const next = others.find((other) => {
                const rect = other.getBoundingClientRect();
                return event.clientY < rect.top + rect.height / 2;
            });
            list.querySelector(":scope > .empty-column")?.setAttribute("hidden", "");
            if (next) list.insertBefore(dragging.cardElement, next);
            else list.append(dragging.cardElement);
        }
        autoScroll(event);
    };

    const autoScroll = (event) => {
        const rect = columns.getBoundingClientRect();
        const edge = 48;
        if (event.clientX < rect.left + edge) columns.scrollLeft -= 16;
        else if (event.clientX > rect.right - edge) columns.scrollLeft += 16;
    };

    const stopListening = () => {
        document.removeEventListener("pointermove", onPointerMove);
        document.removeEventListener("pointerup", onPointerUp);
        document.removeEventListener("pointercancel", cancelDrag);
        pressed = null;
    };

    const endDrag = () => {
        dragging.ghost.remove();
        dragging.cardElement.classList.remove("drag-gap");
        document.body.classList.remove("is-dragging");
        const finished = dragging;
        dragging = null;
        return finished;
    };

    const onPointerUp = () => {
        stopListening();
        if (!dragging) return;
        suppressClick = true;
        setTimeout(() => (suppressClick = false), 0);
        const { task, cardElement, origin } = endDrag();
        const list = cardElement.parentElement;
        const columnID = list.dataset.columnId;
        const unchanged = list === origin.list && cardElement.nextSibling === origin.next;
        if (unchanged) {
            renderColumns();
            return;
        }
        const { after, before } = cardNeighbours(list, cardElement);
        move(task, columnID, after, before);
    };

    const cancelDrag = () => {
        stopListening();
        if (!dragging) return;
        endDrag();
        renderColumns();
        announce(t("board.move_cancelled"));
    };

    // MARK: Keyboard

    const keyboardMove = (cardElement, direction) => {
        const task = taskByID(cardElement.dataset.taskId);
        if (!task || state.busy) return;
        if (!mayMove(task)) {
            notify(t("board.not_yours"), "error");
            return;
        }
        const columnIDs = state.board.columns.map((column) => column.id);
        const here = columnIDs.indexOf(task.column_id);
        const cards = tasksIn(task.column_id);
        const index = cards.findIndex((other) => other.id === task.id);
        if (direction === "left" || direction === "right") {
            const target = columnIDs[here + (direction === "left" ? -1 : 1)];
            if (!target) return;
            const targetCards = tasksIn(target);
            const at = Math.min(index, targetCards.length);
            const after = targetCards[at - 1]?.id ?? null;
            const before = targetCards[at]?.id ?? null;
            const previous = optimistic(task, target, after, before);
            move(task, target, after, before, { viaKeyboard: true, previous });
        } else {
            const to = index + (direction === "up" ? -1 : 1);
            if (to < 0 || to >= cards.length) return;
            const rest = cards.filter((other) => other.id !== task.id);
            const after = rest[to - 1]?.id ?? null;
            const before = rest[to]?.id ?? null;
            const previous = optimistic(task, task.column_id, after, before);
            move(task, task.column_id, after, before, { viaKeyboard: true, previous });
        }
    };

    /** Shows a keyboard move at once, with a position between the neighbours, until the server answers. */
    const optimistic = (task, columnID, after, before) => {
        const position = (id) => state.tasks.find((other) => other.id === id)?.position;
        const low = after ? position(after) : null;
        const high = before ? position(before) : null;
        let value;
        if (low != null && high != null) value = (low + high) / 2;
        else if (low != null) value = low + 1;
        else if (high != null) value = high - 1;
        else value = 0;
        const previous = state.tasks;
        state.tasks = state.tasks.map((other) => (other.id === task.id ? { ...other, column_id: columnID, position: value } : other));
        state.focusTaskID = task.id;
        renderColumns();
        return previous;
    };

    const focusCard = (cardElement, direction) => {
        const column = cardElement.closest(".column");
        let target = null;
        if (direction === "up") target = cardElement.previousElementSibling;
        else if (direction === "down") target = cardElement.nextElementSibling;
        else {
            let sibling = direction === "left" ? column.previousElementSibling : column.nextElementSibling;
            while (sibling && !target) {
                const cards = [...sibling.querySelectorAll(".card")];
                const index = [...column.querySelectorAll(".card")].indexOf(cardElement);
                target = cards[Math.min(index, cards.length - 1)] ?? null;
                if (!target) sibling = direction === "left" ? sibling.previousElementSibling : sibling.nextElementSibling;
            }
        }
        if (target?.classList.contains("card")) target.focus();
    };

    const KEYS = { ArrowLeft: "left", ArrowRight: "right", ArrowUp: "up", ArrowDown: "down" };

    const onKeyDown = (event) => {
        if (document.querySelector("dialog[open]")) return;
        if (event.key === "Escape" && dragging) {
            cancelDrag();
            return;
        }
        const cardElement = event.target.closest?.(".card");
        if (cardElement && columns.contains(cardElement)) {
            const direction = KEYS[event.key];
            if (direction && event.altKey) {
                event.preventDefault();
                keyboardMove(cardElement, direction);
                return;
            }
            if (event.key === "[" || event.key === "]") {
                event.preventDefault();
                keyboardMove(cardElement, event.key === "[" ? "left" : "right");
                return;
            }
            if (direction && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
                event.preventDefault();
                focusCard(cardElement, direction);
                return;
            }
            if (event.key === "Enter" || event.key === " ") {
                event.preventDefault();
                openTask(cardElement.dataset.taskId);
                return;
            }
        }
        if (isTyping(event) || event.ctrlKey || event.metaKey || event.altKey) return;
        if (event.key === "?") {
            event.preventDefault();
            openHelp();
        } else if (event.key === "/") {
            event.preventDefault();
            filterToggle.setAttribute("aria-expanded", "true");
            filterBar.classList.add("filters-open");
            filterBar.querySelector("#filter-q")?.focus();
        } else if ((event.key === "n" || event.key === "N") && isSupervisor() && state.board) {
            event.preventDefault();
            newTask();
        }
    };

    const onClick = (event) => {
        const cardElement = event.target.closest(".card");
        if (!cardElement || suppressClick) return;
        openTask(cardElement.dataset.taskId);
    };

    columns.addEventListener("pointerdown", onPointerDown);
    columns.addEventListener("click", onClick);
    document.addEventListener("keydown", onKeyDown);
    const onVisible = () => {
        if (document.visibilityState === "visible" && !state.taskDialog) refresh();
    };
    document.addEventListener("visibilitychange", onVisible);

    // MARK: Live updates

    const filtered = () => FILTER_KEYS.some((key) => state.filters[key]);
    const reducedMotion = () => window.matchMedia("(prefers-reduced-motion: reduce)").matches;

    const startLive = (after) => {
        state.live?.close();
        state.live = openLiveStream(state.boardID, after, {
            onEvent: applyLive,
            onReset: () => load(),
            onGone: () => load(),
            onStatus: (status) => {
                liveStatus.hidden = status === "live";
                liveStatus.textContent = status === "live" ? "" : t("live.reconnecting");
                // Changes made while the stream was down arrive once it is back; nothing else to do.
            },
        });
    };

    // Redrawing waits while a card is being dragged (the drag owns the DOM until it ends, then redraws).
    let renderTimer = null;
    const renderSoon = (animate = []) => {
        if (dragging) return;
        const before = new Map();
        if (!reducedMotion()) {
            for (const id of animate) {
                const element = columns.querySelector(`.card[data-task-id="${CSS.escape(id)}"]`);
                if (element) before.set(id, element.getBoundingClientRect());
            }
        }
        renderColumns();
        for (const [id, rect] of before) {
            const element = columns.querySelector(`.card[data-task-id="${CSS.escape(id)}"]`);
            if (!element) continue;
            const now = element.getBoundingClientRect();
            const dx = rect.left - now.left;
            const dy = rect.top - now.top;
            if (dx || dy) element.animate([{ transform: `translate(${dx}px, ${dy}px)` }, { transform: "none" }], { duration: 350, easing: "ease-out" });
        }
    };

    const highlight = (taskID, text) => {
        state.highlights.set(taskID, { text, until: Date.now() + 6000 });
        clearTimeout(renderTimer);
        renderTimer = setTimeout(() => {
            const now = Date.now();
            for (const [id, mark] of state.highlights) if (mark.until <= now) state.highlights.delete(id);
            renderSoon();
        }, 6100);
    };

    // A filtered view asks the server which tasks match, once changes stop arriving for a moment.
    let reloadTimer = null;
    const reloadSoon = () => {
        clearTimeout(reloadTimer);
        reloadTimer = setTimeout(() => refresh(), 300);
    };

    const columnByID = (id) => state.board?.columns.find((column) => column.id === id);

    const liveText = (kind, data, previous) => {
        const name = data.actor?.name ?? t("live.someone");
        if (kind === "task.created") return t("live.created", { name });
        if (kind === "task.commented") return t("live.commented", { name });
        if (kind === "task.moved" || (previous && data.task && previous.column_id !== data.task.column_id)) {
            const column = columnByID(data.task?.column_id);
            if (!previous || previous.column_id !== data.task?.column_id) return t("live.moved", { name, column: column ? columnName(column) : "" });
            return t("live.reordered", { name });
        }
        return t("live.updated", { name });
    };

    const applyLive = async (kind, data) => {
        if (!state.board) return;
        const byOther = data.actor && data.actor.id !== session.user?.id;
        if (kind.startsWith("column.")) {
            try {
                await columnsChanged(await api.get(`/boards/${api.id(state.boardID)}`));
            } catch (problem) {
                notify(problemMessage(problem), "error");
            }
            return;
        }
        if (kind.startsWith("member.")) {
            if (kind === "member.removed" && data.user_id === session.user?.id) {
                load();
                return;
            }
            try {
                await reloadMembers();
            } catch (problem) {
                notify(problemMessage(problem), "error");
            }
            return;
        }
        const taskID = data.task_id;
        if (byOther && state.openTaskID === taskID) state.taskDialog?.remoteChange?.(kind, data);
        if (kind === "task.deleted") {
            const gone = taskByID(taskID);
            if (gone) {
                state.tasks = state.tasks.filter((task) => task.id !== taskID);
                state.highlights.delete(taskID);
                renderSoon();
                if (byOther) notify(t("live.deleted", { name: data.actor?.name ?? t("live.someone"), title: gone.title }));
            }
            return;
        }
        const task = data.task;
        if (!task) return; // deleted since; its own event follows
        if (filtered()) {
            if (byOther) highlight(task.id, liveText(kind, data, taskByID(task.id)));
            reloadSoon();
            return;
        }
        const previous = taskByID(task.id);
        if (previous && previous.version >= task.version && kind !== "task.commented") return; // already shown
        if (previous && previous.version < task.version) state.tasks = state.tasks.map((other) => (other.id === task.id ? task : other));
        else if (!previous) state.tasks.push(task);
        for (const label of task.labels) state.labels.add(label);
        if (byOther) {
            const text = liveText(kind, data, previous);
            highlight(task.id, text);
            if (kind === "task.moved" || kind === "task.created") announce(`${text}: ${task.title}`);
        }
        renderSoon(previous ? [task.id] : []);
    };

    // MARK: Dialogs

    const currentSearch = () => {
        const search = new URLSearchParams(queryFromFilters()).toString();
        return search ? `?${search}` : "";
    };

    const openTask = (taskID, { push = true } = {}) => {
        if (state.taskDialog) {
            if (state.openTaskID === taskID) return;
            state.taskDialog.close();
        }
        state.openTaskID = taskID;
        if (push) setURL(boardPath(state.boardID, taskID, currentSearch()));
        state.focusTaskID = taskID;
        state.taskDialog = openTaskDialog({
            board: state.board,
            members: state.members,
            taskID,
            onSaved: (updated) => {
                const known = state.tasks.some((task) => task.id === updated.id);
                state.tasks = known ? state.tasks.map((task) => (task.id === updated.id ? updated : task)) : state.tasks;
                for (const label of updated.labels) state.labels.add(label);
                renderColumns();
            },
            onDeleted: (id) => {
                state.tasks = state.tasks.filter((task) => task.id !== id);
                renderColumns();
            },
            onClose: () => {
                state.taskDialog = null;
                const id = state.openTaskID;
                state.openTaskID = null;
                if (!closingFromRoute) setURL(boardPath(state.boardID, null, currentSearch()));
                columns.querySelector(`.card[data-task-id="${CSS.escape(id)}"]`)?.focus();
            },
        });
    };

    let closingFromRoute = false;

    const newTask = () =>
        openNewTaskDialog({
            board: state.board,
            members: state.members,
            onCreated: (task) => {
                state.tasks.push(task);
                for (const label of task.labels) state.labels.add(label);
                state.focusTaskID = task.id;
                renderColumns();
                announce(t("board.created", { title: task.title }));
                refresh();
            },
        });

    const openHelp = () => {
        const rows = [
            ["Tab", t("help.tab")],
            ["↑ ↓ ← →", t("help.arrows")],
            ["Enter", t("help.enter")],
            ["Alt + ← / →, [ / ]", t("help.move_column")],
            ["Alt + ↑ / ↓", t("help.move_position")],
            ["Esc", t("help.escape")],
            ["/", t("help.search")],
            ["?", t("help.help")],
        ];
        if (isSupervisor()) rows.push(["N", t("help.new_task")]);
        const handle = openDialog({
            title: t("help.title"),
            className: "dialog-medium",
            body: [
                h("p", { text: t("help.lead") }),
                h("table", { class: "shortcuts" }, h("tbody", {}, rows.map(([keys, what]) => h("tr", {}, h("th", { scope: "row" }, h("kbd", { text: keys })), h("td", { text: what }))))),
                h("p", { class: "muted", text: t("help.pointer") }),
                h("div", { class: "actions" }, h("button", { type: "button", class: "primary", text: t("action.close"), onClick: () => handle.close() })),
            ],
        });
    };

    load();

    return {
        element,
        title: "",
        refresh,
        /** Another URL of the same board: open or close the task dialog, apply filters from the URL. */
        update(next) {
            if (next.boardID !== state.boardID) return false;
            const filters = filtersFrom(next.query);
            if (FILTER_KEYS.some((key) => (filters[key] ?? "") !== (state.filters[key] ?? ""))) {
                state.filters = filters;
                renderFilters();
                refresh();
            }
            if (next.taskID && next.taskID !== state.openTaskID && state.board) openTask(next.taskID, { push: false });
            if (!next.taskID && state.taskDialog) {
                closingFromRoute = true;
                state.taskDialog.close();
                closingFromRoute = false;
            }
            return true;
        },
        destroy() {
            state.live?.close();
            clearTimeout(renderTimer);
            clearTimeout(reloadTimer);
            document.removeEventListener("keydown", onKeyDown);
            document.removeEventListener("visibilitychange", onVisible);
            stopListening();
            if (dragging) endDrag();
            state.taskDialog?.close();
        },
    };
}

function filtersFrom(query) {
    const filters = {};
    for (const key of FILTER_KEYS) {
        const value = query?.get(key);
        if (value) filters[key] = value;
    }
    return filters;
}
