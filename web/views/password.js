// The new-password pair that changing one's password and the first sign-in both ask for.

import { field, h } from "../dom.js";
import { t } from "../i18n.js";

/**
 * Two inputs, the new password and its repetition, as form fields; `check(message)` shows what is wrong with them
 * in the form's message area and returns false, or returns true.
 */
export function newPasswordFields() {
    const next = h("input", { type: "password", name: "new-password", autocomplete: "new-password", required: true, minlength: "10" });
    const repeat = h("input", { type: "password", name: "repeat-password", autocomplete: "new-password", required: true, minlength: "10" });
    return {
        next,
        repeat,
        fields: [field(t("account.new"), next, t("account.new_hint")), field(t("account.repeat"), repeat)],
        check(message) {
            if ([...next.value].length < 10) {
                message.show(t("error.invalid_field.new_password"), "error", { fields: [next] });
                next.focus();
                return false;
            }
            if (next.value !== repeat.value) {
                message.show(t("account.mismatch"), "error", { fields: [next, repeat] });
                repeat.focus();
                return false;
            }
            return true;
        },
    };
}
