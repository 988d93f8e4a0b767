// A board's webhooks (Supervisors): addresses Pier calls when tasks change, each call signed by the Standard
// Webhooks scheme. The signing secret is shown once, when the webhook is added; a test call and the recent
// deliveries, with the receiver's answers, show whether the other side takes them.

import * as api from "../api.js";
import { clear, confirmDialog, field, h, messageArea, openDialog, uid } from "../dom.js";
import { t } from "../i18n.js";
import { formatDateTime, notify, problemMessage } from "../ui.js";

export const WEBHOOK_KINDS = [
    "task.created",
    "task.assigned",
    "task.unassigned",
    "task.status_changed",
    "task.due_changed",
    "task.commented",
    "task.due_soon",
    "task.overdue",
];

const kindName = (kind) => t(`webhooks.kind.${kind}`);

export function openWebhooksDialog({ board }) {
    const base = `/boards/${api.id(board.id)}/webhooks`;
    const message = messageArea();
    const list = h("ul", { class: "webhook-list", "aria-label": t("webhooks.list") });
    const secretBox = h("div", { class: "webhook-secret", hidden: true });

    const url = h("input", { type: "url", name: "url", required: true, maxlength: "2000", placeholder: "https://", autocomplete: "off" });
    const boxes = WEBHOOK_KINDS.map((kind) => {
        const id = uid("kind");
        const input = h("input", { type: "checkbox", id, name: "events", value: kind });
        return h("label", { class: "check", for: id }, input, h("span", { text: kindName(kind) }));
    });
    const add = h("button", { type: "submit", class: "primary", text: t("webhooks.add") });
    const form = h(
        "form",
        {
            class: "stack",
            onSubmit: async (event) => {
                event.preventDefault();
                const events = boxes.map((label) => label.querySelector("input")).filter((input) => input.checked).map((input) => input.value);
                add.disabled = true;
                try {
                    const created = await api.post(base, { url: url.value.trim(), events });
                    message.show(null);
                    showSecret(created.secret);
                    url.value = "";
                    for (const label of boxes) label.querySelector("input").checked = false;
                    notify(t("webhooks.added"));
                    await load();
                } catch (problem) {
                    message.show(problemMessage(problem), "error", { fields: problem.field === "url" ? [url] : [] });
                } finally {
                    add.disabled = false;
                }
            },
        },
        h("h3", { class: "small-heading", text: t("webhooks.add_title") }),
        field(t("webhooks.url"), url),
        h("fieldset", { class: "webhook-kinds" }, h("legend", { text: t("webhooks.events") }), h("p", { class: "hint", text: t("webhooks.events_hint") }), boxes),
        h("div", { class: "actions" }, add),
    );

    const showSecret = (secret) => {
        const id = uid("secret");
        const input = h("input", { id, type: "text", readonly: true, value: secret, class: "mono", spellcheck: "false" });
        clear(
            secretBox,
            h("label", { for: id, class: "field-label", text: t("webhooks.secret_title") }),
            h("div", { class: "row" }, input, h("button", {
                type: "button",
                text: t("webhooks.copy"),
                onClick: async () => {
                    input.select();
                    try {
                        await navigator.clipboard.writeText(secret);
                        notify(t("webhooks.copied"));
                    } catch {
                        // Without the clipboard API (plain HTTP), the text stays selected for the reader to copy.
                    }
                },
            })),
            h("p", { class: "hint", role: "status", text: t("webhooks.secret_hint") }),
        );
        secretBox.hidden = false;
        input.focus();
        input.select();
    };

    const deliveriesTable = (hook, container) => async () => {
        try {
            const deliveries = await api.get(`${base}/${api.id(hook.id)}/deliveries`);
            if (deliveries.length === 0) {
                clear(container, h("p", { class: "muted small", text: t("webhooks.deliveries_none") }));
                return;
            }
            const reload = deliveriesTable(hook, container);
            clear(
                container,
                h(
                    "table",
                    { class: "deliveries-table webhook-deliveries" },
                    h("thead", {}, h("tr", {}, ["col.event", "col.state", "col.attempts", "col.answer", "col.when", "col.action"].map((key) => h("th", { scope: "col", text: t(`webhooks.${key}`) })))),
                    h(
                        "tbody",
                        {},
                        deliveries.map((delivery) =>
                            h(
                                "tr",
                                { class: `delivery-${delivery.state}` },
                                h("td", { text: kindName(delivery.event) }),
                                h("td", { text: t(`webhooks.state.${delivery.state}`) }),
                                h("td", { text: String(delivery.attempts) }),
                                h("td", { class: "delivery-answer", text: delivery.last_status ? `HTTP ${delivery.last_status}` : delivery.last_error ?? "—" }),
                                h("td", {}, h("time", { datetime: delivery.created_at, text: formatDateTime(delivery.created_at) })),
                                h(
                                    "td",
                                    {},
                                    delivery.state === "dead"
                                        ? h("button", {
                                              type: "button",
                                              class: "small",
                                              text: t("webhooks.retry"),
                                              onClick: async () => {
                                                  try {
                                                      await api.post(`${base}/${api.id(hook.id)}/deliveries/${api.id(delivery.id)}/retry`);
                                                      notify(t("webhooks.retried"));
                                                      setTimeout(reload, 1500);
                                                  } catch (problem) {
                                                      message.show(problemMessage(problem));
                                                  }
                                              },
                                          })
                                        : null,
                                ),
                            ),
                        ),
                    ),
                ),
            );
        } catch (problem) {
            clear(container, h("p", { role: "alert", text: problemMessage(problem) }));
        }
    };

    const item = (hook) => {
        const deliveries = h("div", { class: "webhook-deliveries-box", hidden: true });
        const showDeliveries = deliveriesTable(hook, deliveries);
        const toggle = h("button", {
            type: "button",
            class: "small",
            text: t("webhooks.deliveries"),
            "aria-expanded": "false",
            onClick: async () => {
                const open = toggle.getAttribute("aria-expanded") !== "true";
                toggle.setAttribute("aria-expanded", String(open));
                deliveries.hidden = !open;
                if (open) await showDeliveries();
            },
        });
        return h(
            "li",
            { class: "webhook" },
            h("div", { class: "webhook-head" }, h("span", { class: "webhook-url mono", text: hook.url }), h("span", { class: "muted small", text: hook.events.length ? hook.events.map(kindName).join(", ") : t("webhooks.all_events") })),
            h(
                "div",
                { class: "row" },
                h("button", {
                    type: "button",
                    class: "small",
                    text: t("webhooks.test"),
                    onClick: async () => {
                        try {
                            await api.post(`${base}/${api.id(hook.id)}/test`);
                            notify(t("webhooks.test_sent"));
                            toggle.setAttribute("aria-expanded", "true");
                            deliveries.hidden = false;
                            // The notifier sends within a moment; show its outcome then.
                            setTimeout(showDeliveries, 1500);
                        } catch (problem) {
                            message.show(problemMessage(problem));
                        }
                    },
                }),
                toggle,
                h("button", {
                    type: "button",
                    class: "small danger-outline",
                    text: t("webhooks.delete"),
                    "aria-label": t("webhooks.delete_label", { url: hook.url }),
                    onClick: async () => {
                        const sure = await confirmDialog({
                            title: t("webhooks.delete_title"),
                            message: t("webhooks.delete_message", { url: hook.url }),
                            confirmLabel: t("webhooks.delete"),
                            cancelLabel: t("action.cancel"),
                            danger: true,
                        });
                        if (!sure) return;
                        try {
                            await api.del(`${base}/${api.id(hook.id)}`);
                            notify(t("webhooks.deleted"));
                            await load();
                        } catch (problem) {
                            message.show(problemMessage(problem));
                        }
                    },
                }),
            ),
            deliveries,
        );
    };

    const load = async () => {
        try {
            const hooks = await api.get(base);
            clear(list, hooks.length ? hooks.map(item) : h("li", { class: "muted", text: t("webhooks.none") }));
        } catch (problem) {
            message.show(problemMessage(problem));
        }
    };

    const handle = openDialog({
        title: t("webhooks.title", { board: board.name }),
        className: "dialog-medium",
        body: [
            h("p", { class: "muted", text: t("webhooks.intro") }),
            message,
            secretBox,
            list,
            form,
            h("div", { class: "actions" }, h("button", { type: "button", text: t("action.close"), onClick: () => handle.close() })),
        ],
    });
    load();
}
