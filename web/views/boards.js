// The boards the signed-in user is a member of; a Supervisor also creates boards here.

import * as api from "../api.js";
import { clear, field, h, messageArea } from "../dom.js";
import { t } from "../i18n.js";
import { boardPath, navigate } from "../router.js";
import { isSupervisor } from "../session.js";
import { formatDateTime, problemMessage } from "../ui.js";

export function boardsView() {
    const list = h("ul", { class: "board-list", "aria-busy": "true" });
    const status = h("p", { class: "muted", role: "status", text: t("common.loading") });
    const element = h(
        "div",
        { class: "page boards-page" },
        h("div", { class: "page-head" }, h("h1", { tabindex: "-1", text: t("boards.title") })),
        isSupervisor() ? createForm() : null,
        h("section", { "aria-label": t("boards.title") }, status, list),
    );

    const load = async () => {
        try {
            const boards = await api.get("/boards");
            clear(list);
            list.removeAttribute("aria-busy");
            status.textContent = boards.length ? "" : t(isSupervisor() ? "boards.empty_supervisor" : "boards.empty_pic");
            status.hidden = boards.length > 0;
            for (const board of boards) {
                list.append(
                    h(
                        "li",
                        { class: "board-item" },
                        h("a", { href: boardPath(board.id), class: "board-link" }, h("span", { class: "board-name", text: board.name })),
                        h("span", { class: "muted small", text: t("boards.created", { date: formatDateTime(board.created_at) }) }),
                    ),
                );
            }
        } catch (problem) {
            status.hidden = false;
            status.textContent = problemMessage(problem);
        }
    };
    load();
    return { element, title: t("boards.title"), refresh: load };
}

function createForm() {
    const name = h("input", { type: "text", name: "name", maxlength: "100", required: true, autocomplete: "off" });
    const message = messageArea();
    const submit = h("button", { type: "submit", class: "primary", text: t("boards.create") });
    return h(
        "form",
        {
            class: "panel inline-form",
            "aria-label": t("boards.new"),
            onSubmit: async (event) => {
                event.preventDefault();
                if (!name.value.trim()) {
                    message.show(t("boards.name_required"), "error", { fields: [name] });
                    name.focus();
                    return;
                }
                submit.disabled = true;
                try {
                    const board = await api.post("/boards", { name: name.value.trim() });
                    navigate(boardPath(board.id));
                } catch (problem) {
                    message.show(problemMessage(problem), "error", { fields: [problem.field === "name" ? name : null] });
                    submit.disabled = false;
                }
            },
        },
        h("h2", { class: "small-heading", text: t("boards.new") }),
        message,
        h("div", { class: "row" }, field(t("field.board_name"), name), submit),
    );
}
