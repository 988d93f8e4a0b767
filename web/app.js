// Pier board: the application shell. It restores the session from the cookies, draws the header, follows the
// URL, keeps the language, and shows a banner while the server cannot be reached.

import * as api from "./api.js";
import { field, h, messageArea, openDialog } from "./dom.js";
import { catalogueProblems, chosenHere, language, languages, onLanguageChange, setLanguage, t } from "./i18n.js";
import { currentRoute, navigate, startRouter } from "./router.js";
import { isSupervisor, session } from "./session.js";
import { problemMessage, roleName } from "./ui.js";
import { boardView } from "./views/board.js";
import { boardsView } from "./views/boards.js";
import { inboxButton } from "./views/inbox.js";
import { reauthenticate, signInView } from "./views/signin.js";
import { newPasswordFields } from "./views/password.js";
import { welcomeView } from "./views/welcome.js";
import { usersView } from "./views/users.js";

const app = document.getElementById("app");
let view = null;
let signInNotice = null;

// MARK: Shell

const header = h("header", { class: "top" });
const main = h("main", { id: "main", tabindex: "-1" });
const banner = h("div", { id: "connection-banner", class: "banner", role: "status", hidden: true });

function renderShell() {
    document.documentElement.lang = language();
    // Everything drawn here is drawn again in a new language; the banner keeps its state, not its words.
    if (!banner.hidden) banner.textContent = t(banner.dataset.state === "online" ? "connection.back" : "connection.lost");
    const skip = h("a", { class: "skip-link", href: "#main", text: t("shell.skip"), onClick: (event) => {
        event.preventDefault();
        main.focus();
    } });
    // Until a generated password is replaced, the server answers nothing but the account: no navigation yet.
    const fullShell = session.user && !session.user.password_change_required;
    header.replaceChildren(
        h("a", { class: "brand", href: "/", "aria-label": t("shell.home") }, h("span", { class: "brand-mark", "aria-hidden": "true", text: "▦" }), "Pier"),
        fullShell
            ? h(
                  "nav",
                  { "aria-label": t("shell.nav") },
                  h("a", { href: "/", text: t("nav.boards"), "aria-current": currentRoute().name === "boards" ? "page" : undefined }),
                  isSupervisor() ? h("a", { href: "/users", text: t("nav.users"), "aria-current": currentRoute().name === "users" ? "page" : undefined }) : null,
              )
            : h("span", { class: "nav-spacer" }),
        h("div", { class: "header-tools" }, languagePicker(), fullShell ? inboxButton() : null, fullShell ? accountMenu() : null),
    );
    app.replaceChildren(skip, banner, header, main);
}

/** Whether the language change under way came from the picker, which then keeps the focus. */
let pickedLanguage = false;

function languagePicker() {
    const select = h(
        "select",
        {
            id: "language-select",
            onChange: () => {
                pickedLanguage = true;
                setLanguage(select.value);
            },
        },
        languages.map((entry) => h("option", { value: entry.code, lang: entry.code, selected: entry.code === language(), text: entry.name })),
    );
    return h("div", { class: "language" }, h("label", { for: "language-select", class: "visually-hidden", text: t("shell.language") }), select);
}

function accountMenu() {
    const user = session.user;
    const menu = h(
        "details",
        { class: "account-menu" },
        h("summary", { "aria-label": t("shell.account", { name: user.name }) }, h("span", { class: "account-name", text: user.name })),
        h(
            "div",
            { class: "menu-panel" },
            h("p", { class: "muted small" }, user.email, h("br"), roleName(user.role)),
            h("button", { type: "button", text: t("account.change_password"), onClick: () => {
                menu.open = false;
                changePassword();
            } }),
            h("button", { type: "button", id: "sign-out", text: t("account.sign_out"), onClick: signOut }),
        ),
    );
    menu.addEventListener("keydown", (event) => {
        if (event.key === "Escape" && menu.open) {
            menu.open = false;
            menu.querySelector("summary").focus();
        }
    });
    return menu;
}

document.addEventListener("click", (event) => {
    for (const menu of document.querySelectorAll("details.account-menu[open]")) {
        if (!menu.contains(event.target)) menu.open = false;
    }
});

// MARK: Routes

function mount(route) {
    view?.destroy?.();
    view = null;
    if (!session.user) {
        if (route.name !== "sign-in") {
            const back = location.pathname + location.search;
            history.replaceState(null, "", back === "/" ? "/sign-in" : `/sign-in?next=${encodeURIComponent(back)}`);
        }
        view = signInView({ notice: signInNotice, onSuccess: signedIn });
        signInNotice = null;
    } else if (session.user.password_change_required) {
        view = welcomeView({
            user: session.user,
            currentPassword: generatedPassword,
            onSignOut: signOut,
            onDone: async (user) => {
                generatedPassword = null;
                await signedIn(user);
            },
        });
    } else if (route.name === "sign-in") {
        history.replaceState(null, "", "/");
        view = boardsView();
    } else if (route.name === "boards") view = boardsView();
    else if (route.name === "board") view = boardView(route);
    else if (route.name === "users" && isSupervisor()) view = usersView();
    else view = notFoundView();
    renderShell();
    main.replaceChildren(view.element);
    document.title = view.title ? t("title.page", { page: view.title }) : "Pier";
}

function notFoundView() {
    return {
        title: t("notfound.title"),
        element: h(
            "div",
            { class: "page" },
            h("h1", { tabindex: "-1", text: t("notfound.title") }),
            h("p", { text: t("notfound.detail") }),
            h("p", {}, h("a", { href: "/", text: t("notfound.back") })),
        ),
    };
}

let firstRender = true;
function onRoute(route, { same } = {}) {
    if (!same && view?.update && route.name === "board" && session.user && view.update(route)) return;
    mount(route);
    if (!firstRender) view.element.querySelector("h1")?.focus();
    firstRender = false;
}

/** The generated password just used to sign in, while it must be replaced; in memory only. */
let generatedPassword = null;

async function signedIn(user, password = null) {
    generatedPassword = user.password_change_required ? password : null;
    session.user = user;
    adoptLanguage();
    const next = new URLSearchParams(location.search).get("next");
    navigate(next && next.startsWith("/") && !next.startsWith("//") ? next : "/", { replace: true });
}

async function signOut() {
    await api.signOut();
    session.user = null;
    signInNotice = t("signin.signed_out");
    navigate("/sign-in");
}

function changePassword() {
    const current = h("input", { type: "password", autocomplete: "current-password", required: true });
    const chosen = newPasswordFields();
    const next = chosen.next;
    const message = messageArea();
    const submit = h("button", { type: "submit", class: "primary", text: t("account.change_password") });
    const form = h(
        "form",
        {
            class: "stack",
            novalidate: true,
            onSubmit: async (event) => {
                event.preventDefault();
                if (!chosen.check(message)) return;
                submit.disabled = true;
                try {
                    await api.request("POST", "/me/password", { body: { current_password: current.value, new_password: next.value } });
                    handle.close();
                    // Changing the password ends every session, this one included.
                    session.user = null;
                    signInNotice = t("account.changed");
                    navigate("/sign-in");
                } catch (problem) {
                    const control = problem.code === "invalid_credentials" ? current : { current_password: current, new_password: next }[problem.field];
                    message.show(problem.code === "invalid_credentials" ? t("account.wrong_current") : problemMessage(problem), "error", { fields: [control] });
                    submit.disabled = false;
                }
            },
        },
        message,
        field(t("account.current"), current),
        ...chosen.fields,
        h("div", { class: "actions" }, h("button", { type: "button", text: t("action.cancel"), onClick: () => handle.close() }), submit),
    );
    const handle = openDialog({ title: t("account.change_password"), className: "dialog-small", body: form });
}

// MARK: Connection and session hooks

let bannerTimer = null;
api.configure({
    connectionChanged(online) {
        clearTimeout(bannerTimer);
        banner.hidden = false;
        banner.dataset.state = online ? "online" : "offline";
        banner.textContent = online ? t("connection.back") : t("connection.lost");
        if (online) {
            bannerTimer = setTimeout(() => (banner.hidden = true), 4000);
            view?.refresh?.();
        }
    },
    async reauthenticate() {
        if (!session.user) return false;
        const user = await reauthenticate(session.user.email);
        if (!user) {
            session.user = null;
            signInNotice = t("signin.expired");
            navigate("/sign-in");
            return false;
        }
        if (user.id !== session.user.id) {
            // Someone else signed in: nothing on this page is theirs.
            session.user = user;
            navigate("/", { replace: true });
            return false;
        }
        return true;
    },
});

// MARK: Start

/**
 * The account keeps the language it uses the board in, so that its email is written in it: a language chosen in
 * this browser is saved to the account; otherwise the account's language, when it has one, is used here.
 */
function adoptLanguage() {
    const user = session.user;
    if (!user) return;
    if (user.language && !chosenHere() && user.language !== language()) {
        setLanguage(user.language);
        return;
    }
    rememberLanguage();
}

function rememberLanguage() {
    const user = session.user;
    if (!user || user.language === language()) return;
    // No sign-in prompt for this: without a valid session it is tried again at the next change or sign-in.
    api.request("PATCH", "/me", { body: { language: language() }, auth: false }).then(
        (updated) => {
            if (session.user?.id === updated?.id) session.user = updated;
        },
        () => {},
    );
}

onLanguageChange(() => {
    const picked = pickedLanguage;
    pickedLanguage = false;
    rememberLanguage();
    if (document.querySelector("dialog[open]")) return;
    mount(currentRoute());
    if (picked) document.getElementById("language-select")?.focus();
});

async function start() {
    const problems = catalogueProblems();
    if (problems.length) console.error("i18n catalogue:", problems);
    renderShell();
    main.replaceChildren(h("p", { class: "muted page", role: "status", text: t("common.loading") }));
    try {
        session.user = await api.currentUser();
        adoptLanguage();
    } catch (problem) {
        session.user = null;
        signInNotice = problemMessage(problem);
    }
    startRouter(onRoute);
    onRoute(currentRoute());
}

start();
