// A board's members; a Supervisor adds accounts to the board and removes members here.

import * as api from "../api.js";
import { clear, confirmDialog, field, h, messageArea, openDialog } from "../dom.js";
import { t } from "../i18n.js";
import { navigate } from "../router.js";
import { isSupervisor, session } from "../session.js";
import { assignAvatarColors, avatar, notify, problemMessage, roleName } from "../ui.js";

export function openMembersDialog({ board, onChanged }) {
    const list = h("ul", { class: "member-list", "aria-label": t("members.list") });
    // The dialog's one message (loading the list, adding or removing a member), above the list for every reader:
    // the latest outcome replaces any earlier one.
    const message = messageArea();
    const select = h("select", { name: "user_id" });
    const add = h("button", { type: "submit", class: "primary", text: t("members.add") });
    const form = isSupervisor()
        ? h(
              "form",
              {
                  class: "stack",
                  onSubmit: async (event) => {
                      event.preventDefault();
                      if (!select.value) return;
                      add.disabled = true;
                      try {
                          await api.post(`/boards/${api.id(board.id)}/members`, { user_id: select.value });
                          message.show(null);
                          const name = select.selectedOptions[0]?.dataset.name ?? "";
                          notify(t("members.added", { name }));
                          await load();
                          onChanged?.();
                          select.focus();
                      } catch (problem) {
                          message.show(problemMessage(problem), "error", { fields: [select] });
                      } finally {
                          add.disabled = false;
                      }
                  },
              },
              h("h3", { class: "small-heading", text: t("members.add_title") }),
              h("div", { class: "row" }, field(t("members.account"), select), add),
          )
        : null;

    const removeButton = (member) =>
        h("button", {
            type: "button",
            class: "danger-outline member-remove",
            text: t("members.remove"),
            "aria-label": t("members.remove_label", { name: member.name }),
            onClick: async (event) => {
                const button = event.currentTarget;
                const sure = await confirmDialog({
                    title: t("members.remove_title"),
                    message: t("members.remove_message", { name: member.name }),
                    confirmLabel: t("members.remove"),
                    cancelLabel: t("action.cancel"),
                    danger: true,
                });
                if (!sure) return;
                button.disabled = true;
                try {
                    await api.del(`/boards/${api.id(board.id)}/members/${api.id(member.id)}`);
                } catch (problem) {
                    message.show(problemMessage(problem));
                    button.disabled = false;
                    return;
                }
                if (member.id === session.user?.id) {
                    // You left the board: it is no longer yours to see.
                    notify(t("members.left", { board: board.name }));
                    handle.close();
                    navigate("/");
                    return;
                }
                notify(t("members.removed", { name: member.name }));
                message.show(null);
                await load();
                try {
                    await onChanged?.();
                } catch (problem) {
                    message.show(problemMessage(problem));
                }
            },
        });

    const load = async () => {
        try {
            const members = await api.get(`/boards/${api.id(board.id)}/members`);
            assignAvatarColors(members);
            clear(list);
            for (const member of members) {
                list.append(
                    h(
                        "li",
                        { class: "member" },
                        avatar(member),
                        h("span", { class: "member-name", text: member.name }),
                        h("span", { class: "muted small", text: `${member.email} · ${roleName(member.role)}` }),
                        form ? removeButton(member) : null,
                    ),
                );
            }
            if (form) {
                const users = await api.get("/users");
                const memberIDs = new Set(members.map((member) => member.id));
                const candidates = users.filter((user) => !user.disabled && !memberIDs.has(user.id));
                clear(select);
                for (const user of candidates) {
                    select.append(
                        h("option", {
                            value: user.id,
                            dataset: { name: user.name, email: user.email },
                            text: `${user.name} (${user.email})`,
                        }),
                    );
                }
                if (candidates.length === 0) {
                    select.append(h("option", { value: "", text: t("members.none_left") }));
                }
                select.disabled = candidates.length === 0;
                add.disabled = candidates.length === 0;
            }
        } catch (problem) {
            message.show(problemMessage(problem));
        }
    };

    const handle = openDialog({
        title: t("members.title", { board: board.name }),
        className: "dialog-medium",
        body: [
            message,
            list,
            form,
            h("div", { class: "actions" }, h("button", { type: "button", text: t("action.close"), onClick: () => handle.close() })),
        ],
    });
    load();
}
