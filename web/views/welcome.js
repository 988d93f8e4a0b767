// First sign-in with a generated password (the first Supervisor, or an account a Supervisor created or reset
// without choosing a password): the person picks the name others see and a password of their own before anything
// else. The server refuses every other request until then.

import * as api from "../api.js";
import { field, h, messageArea } from "../dom.js";
import { t } from "../i18n.js";
import { problemMessage } from "../ui.js";
import { newPasswordFields } from "./password.js";

/**
 * `currentPassword`: the generated password just typed at sign-in, kept in memory only; without it (the page was
 * reloaded) the form asks for it. `onDone(user)` runs once the new password is set and the session renewed.
 */
export function welcomeView({ user, currentPassword = null, onDone, onSignOut }) {
    const name = h("input", { type: "text", name: "name", autocomplete: "name", required: true, maxlength: "100", value: user.name });
    const current = currentPassword
        ? null
        : h("input", { type: "password", name: "current-password", autocomplete: "current-password", required: true });
    const chosen = newPasswordFields();
    const next = chosen.next;
    const message = messageArea();
    const submit = h("button", { type: "submit", class: "primary", text: t("welcome.submit") });

    const form = h(
        "form",
        {
            class: "stack",
            novalidate: true,
            onSubmit: async (event) => {
                event.preventDefault();
                const chosenName = name.value.trim();
                if (!chosenName) {
                    message.show(t("welcome.name_missing"), "error", { fields: [name] });
                    name.focus();
                    return;
                }
                if (current && !current.value) {
                    message.show(t("welcome.current_missing"), "error", { fields: [current] });
                    current.focus();
                    return;
                }
                if (!chosen.check(message)) return;
                const given = currentPassword ?? current.value;
                if (next.value === given) {
                    message.show(t("welcome.same_password"), "error", { fields: [next] });
                    next.focus();
                    return;
                }
                submit.disabled = true;
                message.show(null);
                try {
                    if (chosenName !== user.name) await api.patch("/me", { name: chosenName });
                    await api.request("POST", "/me/password", { body: { current_password: given, new_password: next.value } });
                } catch (problem) {
                    const control =
                        problem.code === "invalid_credentials" ? current : { name, current_password: current, new_password: next }[problem.field];
                    message.show(problem.code === "invalid_credentials" ? t("account.wrong_current") : problemMessage(problem), "error", {
                        fields: [control],
                    });
                    submit.disabled = false;
                    return;
                }
                // A new password ends every session, this one included: sign in again with it.
                try {
                    const answer = await api.signIn(user.email, next.value);
                    await onDone(answer.user);
                } catch (problem) {
                    message.show(problemMessage(problem));
                    submit.disabled = false;
                }
            },
        },
        message,
        field(t("field.name"), name, t("welcome.name_hint")),
        current ? field(t("welcome.current"), current) : null,
        ...chosen.fields,
        h(
            "div",
            { class: "actions" },
            h("button", { type: "button", text: t("account.sign_out"), onClick: onSignOut }),
            submit,
        ),
    );
    const element = h(
        "div",
        { class: "signin-page" },
        h(
            "section",
            { class: "panel signin-panel", "aria-labelledby": "welcome-title" },
            h("h1", { id: "welcome-title", tabindex: "-1", text: t("welcome.title") }),
            h("p", { class: "muted", text: t("welcome.lead", { email: user.email }) }),
            form,
        ),
    );
    return { element, title: t("welcome.title") };
}
