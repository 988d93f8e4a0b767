// Supervisor screen: accounts. Creating one or resetting a password shows the generated password once.

import * as api from "../api.js";
import { clear, confirmDialog, field, h, messageArea, openDialog } from "../dom.js";
import { has, t } from "../i18n.js";
import { session } from "../session.js";
import { announce, formatDateTime, notify, problemMessage, roleName } from "../ui.js";

export function usersView() {
    const body = h("tbody");
    const status = h("p", { class: "muted", role: "status", text: t("common.loading") });
    const element = h(
        "div",
        { class: "page users-page" },
        h("div", { class: "page-head" }, h("h1", { tabindex: "-1", text: t("users.title") })),
        createForm(() => load()),
        h(
            "section",
            { "aria-labelledby": "users-list-title" },
            h("h2", { id: "users-list-title", class: "small-heading", text: t("users.list") }),
            status,
            h(
                "div",
                { class: "table-wrap" },
                h(
                    "table",
                    { class: "users-table" },
                    h(
                        "thead",
                        {},
                        h(
                            "tr",
                            {},
                            h("th", { scope: "col", text: t("field.name") }),
                            h("th", { scope: "col", text: t("field.email") }),
                            h("th", { scope: "col", text: t("field.role") }),
                            h("th", { scope: "col", text: t("users.status") }),
                            h("th", { scope: "col", text: t("users.actions") }),
                        ),
                    ),
                    body,
                ),
            ),
        ),
    );

    const deliveries = deliveriesSection();
    element.append(deliveries.element);

    const load = async () => {
        try {
            const users = await api.get("/users");
            status.hidden = true;
            clear(body);
            for (const user of users) body.append(row(user, load));
            await deliveries.load(users);
        } catch (problem) {
            status.hidden = false;
            status.textContent = problemMessage(problem);
        }
    };
    load();
    return { element, title: t("users.title"), refresh: load };
}

function row(user, reload) {
    const self = user.id === session.user?.id;
    const toggle = h("button", {
        type: "button",
        class: user.disabled ? "" : "danger-outline",
        text: user.disabled ? t("users.enable") : t("users.disable"),
        hidden: self,
        onClick: async () => {
            if (!user.disabled) {
                const sure = await confirmDialog({
                    title: t("users.disable_title", { name: user.name }),
                    message: t("users.disable_message"),
                    confirmLabel: t("users.disable"),
                    cancelLabel: t("action.cancel"),
                    danger: true,
                });
                if (!sure) return;
            }
            try {
                await api.patch(`/users/${api.id(user.id)}`, { disabled: !user.disabled });
                notify(t(user.disabled ? "users.enabled_notice" : "users.disabled_notice", { name: user.name }));
                reload();
            } catch (problem) {
                notify(problemMessage(problem), "error");
            }
        },
    });
    const reset = h("button", {
        type: "button",
        text: t("users.reset"),
        // One's own password changes only with the current one (account menu); the API refuses it here.
        hidden: self,
        onClick: async () => {
            const sure = await confirmDialog({
                title: t("users.reset_title", { name: user.name }),
                message: t("users.reset_message"),
                confirmLabel: t("users.reset"),
                cancelLabel: t("action.cancel"),
            });
            if (!sure) return;
            try {
                const answer = await api.post(`/users/${api.id(user.id)}/password`);
                showPassword(user, answer.password, t("users.reset_done_title", { name: user.name }));
            } catch (problem) {
                notify(problemMessage(problem), "error");
            }
        },
    });
    return h(
        "tr",
        { dataset: { userId: user.id, email: user.email } },
        h("td", { "data-label": t("field.name"), text: user.name }),
        h("td", { "data-label": t("field.email"), text: user.email }),
        h("td", { "data-label": t("field.role"), text: roleName(user.role) }),
        h(
            "td",
            { "data-label": t("users.status") },
            h("span", {
                class: user.disabled ? "badge badge-muted" : "badge badge-ok",
                text: user.disabled ? t("users.disabled") : t("users.active"),
            }),
        ),
        h("td", { "data-label": t("users.actions") }, h("div", { class: "row-actions" }, toggle, reset)),
    );
}

function createForm(reload) {
    const email = h("input", { type: "email", name: "email", autocomplete: "off", required: true, maxlength: "254" });
    const name = h("input", { type: "text", name: "name", autocomplete: "off", required: true, maxlength: "100" });
    const role = h(
        "select",
        { name: "role" },
        h("option", { value: "pic", text: roleName("pic") }),
        h("option", { value: "supervisor", text: roleName("supervisor") }),
    );
    const message = messageArea();
    const submit = h("button", { type: "submit", class: "primary", text: t("users.create") });
    const form = h(
        "form",
        {
            class: "panel",
            novalidate: true,
            "aria-labelledby": "users-new-title",
            onSubmit: async (event) => {
                event.preventDefault();
                const missing = [email, name].filter((control) => !control.value.trim());
                if (missing.length) {
                    message.show(t("users.missing"), "error", { fields: missing });
                    missing[0].focus();
                    return;
                }
                submit.disabled = true;
                message.show(null);
                try {
                    const answer = await api.post("/users", {
                        email: email.value.trim(),
                        name: name.value.trim(),
                        role: role.value,
                    });
                    form.reset();
                    reload();
                    showPassword(answer.user, answer.password, t("users.created_title", { name: answer.user.name }));
                } catch (problem) {
                    const control = problem.code === "duplicate" ? email : { email, name, role }[problem.field];
                    message.show(problem.code === "duplicate" ? t("error.duplicate_email") : problemMessage(problem), "error", { fields: [control] });
                } finally {
                    submit.disabled = false;
                }
            },
        },
        h("h2", { id: "users-new-title", class: "small-heading", text: t("users.new") }),
        message,
        h("div", { class: "grid-fields" }, field(t("field.email"), email), field(t("field.name"), name), field(t("field.role"), role)),
        h("p", { class: "hint", text: t("users.password_hint") }),
        h("div", { class: "actions" }, submit),
    );
    return form;
}

/** The generated password, shown once, with a copy button. */
function showPassword(user, password, title) {
    const output = h("output", { class: "secret", text: password, "data-testid": "generated-password" });
    const copy = h("button", {
        type: "button",
        text: t("users.copy"),
        onClick: async () => {
            try {
                await navigator.clipboard.writeText(password);
                announce(t("users.copied"));
                copy.textContent = t("users.copied");
            } catch {
                const range = document.createRange();
                range.selectNodeContents(output);
                getSelection().removeAllRanges();
                getSelection().addRange(range);
            }
        },
    });
    const done = h("button", { type: "button", class: "primary", text: t("action.done"), onClick: () => handle.close() });
    const handle = openDialog({
        title,
        className: "dialog-small",
        body: [
            h("p", { text: t("users.password_once", { email: user.email }) }),
            h("div", { class: "secret-row" }, output, copy),
            h("div", { class: "actions" }, done),
        ],
    });
    done.focus();
}

/** Email refused for good (dead letters, which can be sent again) and email waiting for a retry. */
function deliveriesSection() {
    const body = h("tbody");
    const empty = h("p", { class: "muted", text: t("deliveries.none") });
    const table = h(
        "div",
        { class: "table-wrap", hidden: true },
        h(
            "table",
            { class: "deliveries-table" },
            h(
                "thead",
                {},
                h(
                    "tr",
                    {},
                    h("th", { scope: "col", text: t("deliveries.event") }),
                    h("th", { scope: "col", text: t("deliveries.recipient") }),
                    h("th", { scope: "col", text: t("deliveries.state") }),
                    h("th", { scope: "col", text: t("deliveries.attempts") }),
                    h("th", { scope: "col", text: t("deliveries.answer") }),
                    h("th", { scope: "col", text: t("users.actions") }),
                ),
            ),
            body,
        ),
    );
    const element = h(
        "section",
        { "aria-labelledby": "deliveries-title", class: "deliveries" },
        h("h2", { id: "deliveries-title", class: "small-heading", text: t("deliveries.title") }),
        h("p", { class: "muted", text: t("deliveries.intro") }),
        empty,
        table,
    );
    let people = [];
    const load = async (users = people) => {
        people = users;
        const [dead, pending] = await Promise.all([api.get("/deliveries?state=dead"), api.get("/deliveries?state=pending")]);
        // A pending delivery that was never tried is simply on its way.
        const shown = [...dead, ...pending.filter((delivery) => delivery.attempts > 0)];
        clear(body);
        for (const delivery of shown) body.append(deliveryRow(delivery, people, load));
        empty.hidden = shown.length > 0;
        table.hidden = shown.length === 0;
    };
    return { element, load };
}

function deliveryRow(delivery, people, reload) {
    const person = people.find((user) => user.id === delivery.recipient_id);
    const name = person ? person.name : delivery.recipient_id;
    const eventKey = `deliveries.event.${delivery.event}`;
    const retry = h("button", {
        type: "button",
        text: t("deliveries.retry"),
        hidden: delivery.state !== "dead",
        onClick: async () => {
            retry.disabled = true;
            try {
                await api.post(`/deliveries/${encodeURIComponent(delivery.id)}/retry`);
                notify(t("deliveries.retried", { name }));
                await reload();
            } catch (problem) {
                retry.disabled = false;
                notify(problemMessage(problem), "error");
            }
        },
    });
    return h(
        "tr",
        {},
        h("td", { class: "nowrap", text: has(eventKey) ? t(eventKey) : t("deliveries.event.other") }),
        h("td", {}, h("span", { text: name }), person ? h("span", { class: "muted delivery-email", text: person.email }) : null),
        h("td", { class: "nowrap", text: t(delivery.state === "dead" ? "deliveries.dead" : "deliveries.pending") }),
        h("td", { class: "nowrap", text: String(delivery.attempts) }),
        h("td", { class: "delivery-answer", text: delivery.last_error ?? "" }),
        h("td", {}, retry),
    );
}
