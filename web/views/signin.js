// Sign-in: the page, and the same form in a dialog when a session ends while work is open on the page.

import * as api from "../api.js";
import { field, h, messageArea, openDialog } from "../dom.js";
import { t } from "../i18n.js";
import { problemMessage } from "../ui.js";

/**
 * The sign-in form. `onSuccess(user, password)` runs after a successful sign-in (the password for a first sign-in
 * that must replace it). Throttling (429) disables the button and
 * counts down the seconds the server asked for.
 */
export function signInForm({ email = "", onSuccess, notice = null }) {
    const emailInput = h("input", {
        type: "email",
        name: "email",
        autocomplete: "username",
        required: true,
        value: email,
        autofocus: email ? undefined : true,
    });
    const passwordInput = h("input", {
        type: "password",
        name: "password",
        autocomplete: "current-password",
        required: true,
        autofocus: email ? true : undefined,
    });
    const submit = h("button", { type: "submit", class: "primary", text: t("signin.submit") });
    const message = messageArea();
    if (notice) message.show(notice, "info");
    let countdown = null;

    const throttle = (seconds) => {
        clearInterval(countdown);
        let left = Math.max(1, Math.ceil(seconds));
        submit.disabled = true;
        const tick = () => {
            submit.textContent = t("signin.wait", { seconds: left });
            left -= 1;
            if (left < 0) {
                clearInterval(countdown);
                submit.disabled = false;
                submit.textContent = t("signin.submit");
            }
        };
        tick();
        countdown = setInterval(tick, 1000);
    };

    const form = h(
        "form",
        {
            class: "stack",
            novalidate: true,
            onSubmit: async (event) => {
                event.preventDefault();
                const missing = [emailInput.value.trim() ? null : emailInput, passwordInput.value ? null : passwordInput].filter(Boolean);
                if (missing.length) {
                    message.show(t("signin.missing"), "error", { fields: missing });
                    missing[0].focus();
                    return;
                }
                submit.disabled = true;
                message.show(null);
                try {
                    const answer = await api.signIn(emailInput.value.trim(), passwordInput.value);
                    clearInterval(countdown);
                    await onSuccess(answer.user, passwordInput.value);
                } catch (problem) {
                    message.show(problemMessage(problem));
                    // The board's throttle of failed sign-ins, or the edge's rate limit on sign-in attempts.
                    if (problem.code === "too_many_attempts" || problem.code === "rate_limited") {
                        throttle(problem.retryAfter ?? 30);
                    } else {
                        submit.disabled = false;
                        passwordInput.select();
                        passwordInput.focus();
                    }
                }
            },
        },
        message,
        field(t("field.email"), emailInput),
        field(t("field.password"), passwordInput),
        h("div", { class: "actions" }, submit),
    );
    form.stop = () => clearInterval(countdown);
    return form;
}

export function signInView({ notice, onSuccess }) {
    const form = signInForm({ onSuccess, notice });
    const element = h(
        "div",
        { class: "signin-page" },
        h(
            "section",
            { class: "panel signin-panel", "aria-labelledby": "signin-title" },
            h("h1", { id: "signin-title", tabindex: "-1", text: t("signin.title") }),
            h("p", { class: "muted", text: t("signin.lead") }),
            form,
        ),
    );
    return { element, title: t("signin.title"), destroy: () => form.stop() };
}

let pending = null;

/**
 * Asks the signed-out user to sign in again in a dialog, over the page, so nothing typed is lost. Resolves to the
 * user who signed in, or null when the dialog was dismissed.
 */
export function reauthenticate(email) {
    if (pending) return pending;
    pending = new Promise((resolve) => {
        let result = null;
        const form = signInForm({
            email,
            onSuccess: (user) => {
                result = user;
                handle.close();
            },
        });
        const handle = openDialog({
            title: t("reauth.title"),
            className: "dialog-small",
            body: [h("p", { text: t("reauth.lead") }), form],
            onClose: () => {
                form.stop();
                pending = null;
                resolve(result);
            },
        });
    });
    return pending;
}
