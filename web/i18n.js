// Every string the interface shows, in English and Korean, and the language choice: the saved choice, else the
// first of the browser's languages that the catalogue has, else English. `catalogueProblems()` checks that both
// languages have the same keys and the same {parameters}; the browser tests call it, and the app logs its
// findings at start.
//
// A string that counts is an object of plural forms, one per category of the language's Intl.PluralRules
// ({ one, other } in English, { other } in Korean), chosen by the `count` parameter. In Korean, "(으)로" right
// after a {parameter} (closing quotes between allowed) becomes 로 or 으로 as the value is read: see particleRo.

const STORAGE_KEY = "pier.language";

export const languages = [
    { code: "en", name: "English", intl: "en" },
    { code: "ko", name: "한국어", intl: "ko-KR" },
];

const catalogue = {
    en: {
        "common.loading": "Loading…",
        "action.cancel": "Cancel",
        "action.close": "Close",
        "action.dismiss": "Dismiss",
        "action.done": "Done",

        "title.page": "{page} · Pier",

        "shell.skip": "Skip to content",
        "shell.home": "Pier, all boards",
        "shell.nav": "Main",
        "shell.language": "Language",
        "shell.account": "Account: {name}",
        "nav.boards": "Boards",
        "nav.users": "Users",

        "role.supervisor": "Supervisor",
        "role.pic": "PIC",

        "connection.lost": "The server cannot be reached. Changes cannot be saved until the connection is back; retrying…",
        "connection.back": "Connected again. The page is up to date.",

        "signin.title": "Sign in",
        "signin.lead": "Sign in to see your boards and tasks.",
        "signin.submit": "Sign in",
        "signin.wait": "Try again in {seconds} s",
        "signin.missing": "Enter your email and password.",
        "signin.signed_out": "You have signed out.",
        "signin.expired": "Your session has ended. Sign in again.",
        "reauth.title": "Sign in again",
        "reauth.lead": "Your session has ended. Sign in again to continue; what you entered on this page is kept.",

        "account.change_password": "Change password",
        "account.sign_out": "Sign out",
        "account.current": "Current password",
        "account.new": "New password",
        "account.new_hint": "At least 10 characters.",
        "account.repeat": "Repeat the new password",
        "account.mismatch": "The new passwords do not match.",
        "account.wrong_current": "The current password is wrong.",
        "account.changed": "Your password has been changed. Sign in with the new password.",
        "welcome.title": "Welcome to Pier",
        "welcome.lead": "{email} was given a generated password. Choose the name others see and a password of your own to continue.",
        "welcome.name_hint": "Shown on cards, in history and in email.",
        "welcome.current": "The password you were given",
        "welcome.submit": "Save and continue",
        "welcome.name_missing": "Enter your name.",
        "welcome.current_missing": "Enter the password you were given.",
        "welcome.same_password": "Choose a password other than the one you were given.",
        "error.password_change_required": "Choose your own password first.",

        "field.email": "Email",
        "field.password": "Password",
        "field.new_password": "New password",
        "field.current_password": "Current password",
        "field.name": "Name",
        "field.role": "Role",
        "field.disabled": "Disabled",
        "field.board_name": "Board name",
        "field.title": "Title",
        "field.content": "Description",
        "field.body": "Comment",
        "field.column": "Status",
        "field.column_id": "Status",
        "field.assignee": "Assignee",
        "field.assignee_id": "Assignee",
        "field.due_at": "Due",
        "field.due_time_zone": "Time zone",
        "field.labels": "Labels",
        "field.user_id": "Account",

        "boards.title": "Boards",
        "boards.new": "New board",
        "boards.create": "Create board",
        "boards.name_required": "Enter a name for the board.",
        "boards.created": "Created {date}",
        "boards.empty_supervisor": "There are no boards yet. Create the first one above.",
        "boards.empty_pic": "You are not a member of any board yet. A supervisor can add you to one.",

        "live.reconnecting": "Offline — reconnecting…",
        "live.someone": "Someone",
        "live.created": "{name} added this",
        "live.moved": "{name} moved this to {column}",
        "live.reordered": "{name} moved this",
        "live.updated": "{name} changed this",
        "live.commented": "{name} commented",
        "live.deleted": "{name} deleted “{title}”",
        "live.task_changed": "{name} changed this task. Your unsaved edits stay until you reload.",
        "live.task_deleted": "{name} deleted this task.",
        "live.reload": "Load their version",
        "webhooks.button": "Webhooks",
        "webhooks.title": "Webhooks of {board}",
        "webhooks.intro": "Pier calls these addresses when tasks change, with a JSON body signed by the Standard Webhooks scheme.",
        "webhooks.list": "Webhooks",
        "webhooks.none": "No webhooks yet.",
        "webhooks.add_title": "Add a webhook",
        "webhooks.url": "Address (URL)",
        "webhooks.events": "Events",
        "webhooks.events_hint": "None checked: every event.",
        "webhooks.all_events": "All events",
        "webhooks.add": "Add webhook",
        "webhooks.added": "Webhook added.",
        "webhooks.secret_title": "Signing secret",
        "webhooks.secret_hint": "Copy it now: it is not shown again. The receiver checks each call's webhook-signature with it.",
        "webhooks.copy": "Copy",
        "webhooks.copied": "Copied.",
        "webhooks.test": "Send test",
        "webhooks.test_sent": "Test call queued; its result appears under Deliveries.",
        "webhooks.deliveries": "Deliveries",
        "webhooks.deliveries_none": "Nothing sent yet.",
        "webhooks.delete": "Delete",
        "webhooks.delete_label": "Delete the webhook {url}",
        "webhooks.delete_title": "Delete this webhook?",
        "webhooks.delete_message": "{url} will no longer be called, and its delivery history is deleted too.",
        "webhooks.deleted": "Webhook deleted.",
        "webhooks.retry": "Send again",
        "webhooks.retried": "Queued to be sent again.",
        "webhooks.state.pending": "Pending",
        "webhooks.state.delivered": "Delivered",
        "webhooks.state.dead": "Failed",
        "webhooks.col.event": "Event",
        "webhooks.col.state": "State",
        "webhooks.col.attempts": "Attempts",
        "webhooks.col.answer": "Last answer",
        "webhooks.col.when": "Created",
        "webhooks.col.action": "Action",
        "webhooks.kind.task.created": "Task created",
        "webhooks.kind.task.assigned": "Assigned",
        "webhooks.kind.task.unassigned": "Unassigned",
        "webhooks.kind.task.status_changed": "Status changed",
        "webhooks.kind.task.due_changed": "Due date changed",
        "webhooks.kind.task.commented": "Commented",
        "webhooks.kind.task.due_soon": "Due soon",
        "webhooks.kind.task.overdue": "Overdue",
        "webhooks.kind.webhook.test": "Test",
        "board.new_task": "New task",
        "board.members": "Members",
        "board.shortcuts": "Keyboard shortcuts",
        "board.count": { one: "{count} task", other: "{count} tasks" },
        "board.empty_column": "No tasks",
        "board.card_hint": "Press Enter to open the task. Alt with the arrow keys, or [ and ], moves it.",
        "board.drag": "Drag to move",
        "board.assigned_to": "Assigned to {name}",
        "board.moved": "Moved “{title}” to {column}, position {position} of {count}.",
        "board.move_refused": "The move was not saved: {reason}",
        "board.move_conflict": "Someone else changed this task meanwhile. The board now shows the latest state.",
        "board.move_cancelled": "Move cancelled.",
        "board.not_yours": "You can move only tasks assigned to you.",
        "board.created": "Task “{title}” created.",
        "board.not_found": "Board not found",
        "board.not_found_detail": "This board does not exist, or you are not a member of it.",
        "board.error": "The board could not be loaded",

        "column.todo": "To do",
        "column.in_progress": "In progress",
        "column.review": "Review",
        "column.done": "Done",

        "time.just_now": "just now",

        "due.overdue": "Overdue",
        "due.soon": "Due soon",

        "filters.label": "Filter tasks",
        "filters.assignee": "Assignee",
        "filters.everyone": "Everyone",
        "filters.mine": "My tasks",
        "filters.label_filter": "Label",
        "filters.search": "Search",
        "filters.overdue": "Overdue only",
        "filters.clear": "Clear filters",
        "filters.toggle": "Filters",
        "filters.toggle_active": "Filters ({count} on)",
        "filters.showing": { one: "Showing {count} matching task.", other: "Showing {count} matching tasks." },

        "help.title": "Keyboard shortcuts",
        "help.lead": "On the board, each card can be reached with Tab.",
        "help.tab": "Go to the next card or control",
        "help.arrows": "Go to the card above, below, or in the next column",
        "help.enter": "Open the task",
        "help.move_column": "Move the task to the previous or next column",
        "help.move_position": "Move the task up or down in its column",
        "help.escape": "Close a dialog, or cancel a drag",
        "help.search": "Search the board",
        "help.help": "Show these shortcuts",
        "help.new_task": "New task",
        "help.pointer": "With a mouse, drag a card to move it. On a touch screen, drag it by its grip (⠿).",

        "task.title": "Task",
        "task.new_title": "New task",
        "task.create": "Create task",
        "task.save": "Save changes",
        "task.saved": "Saved.",
        "task.nothing_to_save": "There are no changes to save.",
        "task.title_required": "Enter a title.",
        "task.unassigned": "Unassigned",
        "task.former_member": "A former member",
        "task.unknown_column": "another column",
        "task.no_description": "No description.",
        "task.no_due": "No due date",
        "task.no_labels": "No labels",
        "task.labels_hint": "Separate labels with commas.",
        "task.markdown_hint": "Markdown: **bold**, *italic*, `code`, lists with - or 1., [links](https://example.com).",
        "task.write": "Write",
        "task.preview": "Preview",
        "task.clear_due": "Clear the due date",
        "date.placeholder": "yyyy-mm-dd hh:mm",
        "date.pick": "Choose a date and time",
        "task.read_only": "You can read this task and comment on it. Only its assignee or a supervisor can change it.",
        "task.pic_scope": "As the assignee, you can change the status and the description.",
        "task.delete": "Delete task",
        "task.delete_title": "Delete this task?",
        "task.delete_message": "“{title}” and its comments will be deleted. This cannot be undone.",
        "task.deleted": "Task “{title}” deleted.",
        "task.gone": "This task no longer exists, or you cannot see it.",
        "task.discard_title": "Discard your changes?",
        "task.discard_message": "You have changes that are not saved.",
        "task.discard": "Discard",
        "task.keep_editing": "Keep editing",

        "conflict.title": "Someone else changed this task while you were editing it.",
        "conflict.by": "Last change by {name}",
        "conflict.field": "Field",
        "conflict.theirs": "Their version",
        "conflict.yours": "Your change",
        "conflict.unchanged": "(unchanged)",
        "conflict.retry": "Save my changes over theirs",
        "conflict.use_theirs": "Discard mine, keep theirs",
        "conflict.used_theirs": "Your changes were discarded; the form shows the current task.",

        "comments.title": "Comments",
        "comments.none": "No comments yet.",
        "comments.new": "Add a comment",
        "comments.hint": "Markdown works here too. Ctrl+Enter sends.",
        "comments.add": "Comment",
        "comments.empty": "Write a comment first.",
        "comments.added": "Comment added.",

        "history.title": "History",
        "history.created": "created the task",
        "history.moved": "moved it from {from} to {to}",
        "history.reordered": "changed its position in the column",
        "history.commented": "commented",
        "history.title_changed": "renamed it from “{from}” to “{to}”",
        "history.content_changed": "edited the description",
        "history.assigned": "assigned it to {name}",
        "history.unassigned": "removed the assignee",
        "history.due_set": "set the due date to {date}",
        "history.due_removed": "removed the due date",
        "history.zone_set": "set the time zone to {zone}",
        "history.zone_removed": "removed the time zone",
        "history.labels_set": "set the labels to {labels}",
        "history.labels_removed": "removed all labels",
        "history.changed_other": "changed a detail",
        "history.other": "made a change",

        "members.title": "Members of {board}",
        "members.list": "Members",
        "members.add_title": "Add a member",
        "members.account": "Account",
        "members.add": "Add",
        "members.added": "{name} is now a member of this board.",
        "members.none_left": "Every active account is already a member",
        "members.remove": "Remove",
        "members.remove_label": "Remove {name} from this board",
        "members.remove_title": "Remove this member?",
        "members.remove_message": "{name} will no longer see this board. What they did stays in its history.",
        "members.removed": "{name} was removed from this board.",
        "members.left": "You left the board “{board}”.",
        "board.columns": "Columns",
        "columns.title": "Columns of {board}",
        "columns.hint": "Rename a column by editing its name. Tasks in a column marked as done are finished and never overdue.",
        "columns.list": "Columns",
        "columns.name_of": "Name of the column {name}",
        "columns.done": "Done column",
        "columns.move_earlier": "Move {name} one place to the left",
        "columns.move_later": "Move {name} one place to the right",
        "columns.delete": "Delete",
        "columns.delete_named": "Delete the column {name}",
        "columns.delete_title": "Delete this column?",
        "columns.delete_message": "The column “{name}” will be deleted. It has no tasks; its history stays.",
        "columns.deleted": "The column “{name}” was deleted.",
        "columns.renamed": "The column is now called “{name}”.",
        "columns.add_title": "Add a column",
        "columns.name": "Name",
        "columns.add": "Add",
        "columns.added": "The column “{name}” was added at the end.",

        "inbox.title": "Notifications",
        "inbox.button_label": "Notifications, {count} unread",
        "inbox.empty": "Nothing yet: assignments, moves and due dates of your tasks show here.",
        "inbox.read_all": "Mark all read",
        "inbox.unread": "Unread",
        "inbox.someone": "Someone",
        "inbox.assigned_you": "{actor} assigned “{title}” to you",
        "inbox.assigned": "{actor} assigned “{title}” to {assignee}",
        "inbox.moved": "{actor} moved “{title}”: {from} → {to}",
        "inbox.due_changed": "{actor} changed the due date of “{title}”",
        "inbox.commented": "{actor} commented on “{title}”",
        "inbox.unassigned": "{actor} took you off “{title}”",
        "inbox.due_soon": "“{title}” is due soon",
        "inbox.overdue": "“{title}” is past its due date",
        "inbox.changed": "“{title}” changed",

        "deliveries.title": "Email that was not delivered",
        "deliveries.intro": "Email the mail server refused for good or that is waiting for another try. A Supervisor can send a refused one again once the cause is fixed.",
        "deliveries.none": "No email is waiting or refused.",
        "deliveries.event": "About",
        "deliveries.recipient": "To",
        "deliveries.state": "State",
        "deliveries.attempts": "Attempts",
        "deliveries.answer": "Last answer",
        "deliveries.retry": "Send again",
        "deliveries.retried": "The email to {name} is queued again.",
        "deliveries.pending": "Waiting to retry",
        "deliveries.dead": "Refused",
        "deliveries.event.task.assigned": "Assignment",
        "deliveries.event.task.status_changed": "Status change",
        "deliveries.event.task.due_changed": "Due date change",
        "deliveries.event.task.due_soon": "Due soon",
        "deliveries.event.task.commented": "Comment",
        "deliveries.event.task.unassigned": "Unassignment",
        "deliveries.event.task.overdue": "Overdue",
        "deliveries.event.other": "Task change",

        "users.title": "Users",
        "users.list": "All accounts",
        "users.new": "New account",
        "users.create": "Create account",
        "users.missing": "Enter an email and a name.",
        "users.password_hint": "A password is generated and shown once after the account is created.",
        "users.status": "Status",
        "users.actions": "Actions",
        "users.active": "Active",
        "users.disabled": "Disabled",
        "users.disable": "Disable",
        "users.enable": "Enable",
        "users.disable_title": "Disable {name}?",
        "users.disable_message": "They are signed out at once and cannot sign in until the account is enabled again.",
        "users.disabled_notice": "{name} is disabled.",
        "users.enabled_notice": "{name} is enabled again.",
        "users.reset": "Reset password",
        "users.reset_title": "Reset the password of {name}?",
        "users.reset_message": "A new password is generated and every session of this account ends.",
        "users.created_title": "Account for {name} created",
        "users.reset_done_title": "New password for {name}",
        "users.password_once": "Give this password to {email} now. It is shown only this once.",
        "users.copy": "Copy",
        "users.copied": "Copied",

        "notfound.title": "Page not found",
        "notfound.detail": "There is nothing at this address.",
        "notfound.back": "Go to your boards",

        "error.network": "The server cannot be reached. Nothing was saved; try again when the connection is back.",
        "error.invalid_credentials": "The email or password is wrong.",
        "error.too_many_attempts": "Too many failed sign-ins. Try again in {seconds} seconds.",
        "error.rate_limited": "Too many requests from here. Try again in {seconds} seconds.",
        "error.token_expired": "Your session has expired. Sign in again.",
        "error.unauthenticated": "You are signed out. Sign in again.",
        "error.invalid_refresh_token": "Your session has ended. Sign in again.",
        "error.refresh_token_reused": "Your session was ended for safety because it was used in two places. Sign in again.",
        "error.forbidden": "You are not allowed to make this change. A PIC can change only the status, position and description of tasks assigned to them.",
        "error.not_found": "It no longer exists, or you cannot see it.",
        "error.version_conflict": "Someone else changed this meanwhile.",
        "error.duplicate": "This already exists.",
        "error.duplicate_email": "An account with this email already exists.",
        "error.invalid_field": "Check the field “{field}”.",
        "error.invalid_field.email": "Enter a valid email address.",
        "error.invalid_field.name": "Enter a name (at most 100 characters).",
        "error.invalid_field.password": "Passwords need at least 10 characters and at most 72 bytes.",
        "error.invalid_field.new_password": "The new password needs at least 10 characters and at most 72 bytes.",
        "error.invalid_field.due_at": "Enter a valid due date.",
        "error.due_format": "Enter the due date as year-month-day hour:minute, for example 2025-12-24 18:00.",
        "error.invalid_field.due_time_zone": "The time zone of this browser is not accepted; the due date was not saved.",
        "error.invalid_field.labels": "Use at most 20 labels of at most 40 characters each.",
        "error.invalid_field.user_id": "That account does not exist.",
        "error.missing_field": "“{field}” is required.",
        "error.unknown_field": "The server did not accept the request. Reload the page and try again.",
        "error.invalid_request": "The server refused this change. Reload the page and try again.",
        "error.cannot_disable_self": "You cannot disable your own account.",
        "error.cannot_reset_own_password": "Change your own password from the account menu, with your current password.",
        "error.member_has_tasks": "Tasks on this board are still assigned to this member. Assign them to someone else first.",
        "error.last_supervisor": "This is the board's last supervisor. Add another supervisor to the board first.",
        "error.column_not_empty": "This column still has tasks. Move or delete them first.",
        "error.last_column": "A board needs at least one column.",
        "error.too_many_columns": "A board can have at most 20 columns.",
        "error.origin_refused": "This page's address is not allowed to make changes. Open the board at its own address.",
        "error.origin_required": "The browser did not say where the request came from, so the change was refused.",
        "error.body_too_large": "That is too long to save.",
        "error.malformed_json": "The server did not understand the request. Reload the page and try again.",
        "error.internal_error": "Something went wrong on the server. Try again in a moment.",
        "error.not_ready": "The server is starting or its database is unavailable. Try again in a moment.",
        "error.version_required": "The page is out of date. Reload it and try again.",
        "error.invalid_if_match": "The page is out of date. Reload it and try again.",
        "error.invalid_parameter": "The filter is not valid.",
        "error.unknown_parameter": "The filter is not valid.",
        "error.unsupported_media_type": "The server did not accept the request. Reload the page and try again.",
        "error.no_route": "The server does not offer this. Reload the page; the app may have been updated.",
        "error.unknown": "Something went wrong (HTTP {status}).",
    },
    ko: {
        "common.loading": "불러오는 중…",
        "action.cancel": "취소",
        "action.close": "닫기",
        "action.dismiss": "닫기",
        "action.done": "완료",

        "title.page": "{page} · Pier",

        "shell.skip": "본문으로 건너뛰기",
        "shell.home": "Pier, 전체 보드",
        "shell.nav": "주 메뉴",
        "shell.language": "언어",
        "shell.account": "계정: {name}",
        "nav.boards": "보드",
        "nav.users": "사용자",

        "role.supervisor": "관리자",
        "role.pic": "담당자",

        "connection.lost": "서버에 연결할 수 없습니다. 연결이 돌아올 때까지 변경 사항을 저장할 수 없습니다. 다시 연결하는 중…",
        "connection.back": "다시 연결되었습니다. 화면이 최신 상태입니다.",

        "signin.title": "로그인",
        "signin.lead": "로그인하면 보드와 작업을 볼 수 있습니다.",
        "signin.submit": "로그인",
        "signin.wait": "{seconds}초 후 다시 시도",
        "signin.missing": "이메일과 비밀번호를 입력하세요.",
        "signin.signed_out": "로그아웃했습니다.",
        "signin.expired": "세션이 끝났습니다. 다시 로그인하세요.",
        "reauth.title": "다시 로그인",
        "reauth.lead": "세션이 끝났습니다. 계속하려면 다시 로그인하세요. 이 화면에 입력한 내용은 그대로 남아 있습니다.",

        "account.change_password": "비밀번호 변경",
        "account.sign_out": "로그아웃",
        "account.current": "현재 비밀번호",
        "account.new": "새 비밀번호",
        "account.new_hint": "10자 이상이어야 합니다.",
        "account.repeat": "새 비밀번호 확인",
        "account.mismatch": "새 비밀번호가 서로 다릅니다.",
        "account.wrong_current": "현재 비밀번호가 틀렸습니다.",
        "account.changed": "비밀번호를 바꿨습니다. 새 비밀번호로 로그인하세요.",
        "welcome.title": "Pier에 오신 것을 환영합니다",
        "welcome.lead": "{email} 계정에는 자동으로 만든 비밀번호가 주어졌습니다. 계속하려면 다른 사람에게 보일 이름과 직접 정한 비밀번호를 입력하세요.",
        "welcome.name_hint": "카드, 기록, 이메일에 표시됩니다.",
        "welcome.current": "받은 비밀번호",
        "welcome.submit": "저장하고 계속",
        "welcome.name_missing": "이름을 입력하세요.",
        "welcome.current_missing": "받은 비밀번호를 입력하세요.",
        "welcome.same_password": "받은 비밀번호와 다른 비밀번호를 정하세요.",
        "error.password_change_required": "먼저 비밀번호를 직접 정하세요.",

        "field.email": "이메일",
        "field.password": "비밀번호",
        "field.new_password": "새 비밀번호",
        "field.current_password": "현재 비밀번호",
        "field.name": "이름",
        "field.role": "역할",
        "field.disabled": "비활성화",
        "field.board_name": "보드 이름",
        "field.title": "제목",
        "field.content": "설명",
        "field.body": "댓글",
        "field.column": "상태",
        "field.column_id": "상태",
        "field.assignee": "담당자",
        "field.assignee_id": "담당자",
        "field.due_at": "마감",
        "field.due_time_zone": "시간대",
        "field.labels": "라벨",
        "field.user_id": "계정",

        "boards.title": "보드",
        "boards.new": "새 보드",
        "boards.create": "보드 만들기",
        "boards.name_required": "보드 이름을 입력하세요.",
        "boards.created": "{date}에 만듦",
        "boards.empty_supervisor": "아직 보드가 없습니다. 위에서 첫 보드를 만드세요.",
        "boards.empty_pic": "아직 참여한 보드가 없습니다. 관리자가 보드에 추가해 줄 수 있습니다.",

        "live.reconnecting": "오프라인 — 다시 연결하는 중…",
        "live.someone": "누군가",
        "live.created": "{name} 님이 추가했습니다",
        "live.moved": "{name} 님이 {column}(으)로 옮겼습니다",
        "live.reordered": "{name} 님이 옮겼습니다",
        "live.updated": "{name} 님이 수정했습니다",
        "live.commented": "{name} 님이 댓글을 남겼습니다",
        "live.deleted": "{name} 님이 “{title}”을(를) 삭제했습니다",
        "live.task_changed": "{name} 님이 이 작업을 수정했습니다. 다시 불러오기 전까지 저장하지 않은 내용은 그대로 있습니다.",
        "live.task_deleted": "{name} 님이 이 작업을 삭제했습니다.",
        "live.reload": "새 내용 불러오기",
        "webhooks.button": "웹훅",
        "webhooks.title": "{board} 웹훅",
        "webhooks.intro": "작업이 바뀌면 Pier가 이 주소를 호출합니다. 본문은 JSON이며 Standard Webhooks 방식으로 서명됩니다.",
        "webhooks.list": "웹훅",
        "webhooks.none": "아직 웹훅이 없습니다.",
        "webhooks.add_title": "웹훅 추가",
        "webhooks.url": "주소(URL)",
        "webhooks.events": "이벤트",
        "webhooks.events_hint": "아무것도 선택하지 않으면 모든 이벤트를 받습니다.",
        "webhooks.all_events": "모든 이벤트",
        "webhooks.add": "웹훅 추가",
        "webhooks.added": "웹훅을 추가했습니다.",
        "webhooks.secret_title": "서명 비밀키",
        "webhooks.secret_hint": "지금 복사하세요. 다시 표시되지 않습니다. 받는 쪽은 이 키로 각 호출의 webhook-signature를 검증합니다.",
        "webhooks.copy": "복사",
        "webhooks.copied": "복사했습니다.",
        "webhooks.test": "테스트 보내기",
        "webhooks.test_sent": "테스트 호출을 대기열에 넣었습니다. 결과는 전송 기록에 표시됩니다.",
        "webhooks.deliveries": "전송 기록",
        "webhooks.deliveries_none": "아직 보낸 것이 없습니다.",
        "webhooks.delete": "삭제",
        "webhooks.delete_label": "웹훅 {url} 삭제",
        "webhooks.delete_title": "이 웹훅을 삭제할까요?",
        "webhooks.delete_message": "{url} 주소는 더 이상 호출하지 않으며 전송 기록도 함께 삭제됩니다.",
        "webhooks.deleted": "웹훅을 삭제했습니다.",
        "webhooks.retry": "다시 보내기",
        "webhooks.retried": "다시 보내도록 대기열에 넣었습니다.",
        "webhooks.state.pending": "대기 중",
        "webhooks.state.delivered": "전달됨",
        "webhooks.state.dead": "실패",
        "webhooks.col.event": "이벤트",
        "webhooks.col.state": "상태",
        "webhooks.col.attempts": "시도",
        "webhooks.col.answer": "마지막 응답",
        "webhooks.col.when": "생성",
        "webhooks.col.action": "작업",
        "webhooks.kind.task.created": "작업 생성",
        "webhooks.kind.task.assigned": "담당 지정",
        "webhooks.kind.task.unassigned": "담당 해제",
        "webhooks.kind.task.status_changed": "상태 변경",
        "webhooks.kind.task.due_changed": "마감 변경",
        "webhooks.kind.task.commented": "댓글",
        "webhooks.kind.task.due_soon": "마감 임박",
        "webhooks.kind.task.overdue": "기한 지남",
        "webhooks.kind.webhook.test": "테스트",
        "board.new_task": "새 작업",
        "board.members": "구성원",
        "board.shortcuts": "단축키",
        "board.count": { other: "작업 {count}개" },
        "board.empty_column": "작업 없음",
        "board.card_hint": "Enter 키로 작업을 엽니다. Alt와 화살표 키, 또는 [ 와 ] 로 옮깁니다.",
        "board.drag": "끌어서 옮기기",
        "board.assigned_to": "담당: {name}",
        "board.moved": "“{title}” 작업을 {column}(으)로 옮겼습니다. {count}개 중 {position}번째입니다.",
        "board.move_refused": "이동을 저장하지 못했습니다: {reason}",
        "board.move_conflict": "그사이 다른 사람이 이 작업을 바꿨습니다. 보드를 최신 상태로 다시 불러왔습니다.",
        "board.move_cancelled": "이동을 취소했습니다.",
        "board.not_yours": "나에게 배정된 작업만 옮길 수 있습니다.",
        "board.created": "“{title}” 작업을 만들었습니다.",
        "board.not_found": "보드를 찾을 수 없습니다",
        "board.not_found_detail": "이 보드가 없거나 이 보드의 구성원이 아닙니다.",
        "board.error": "보드를 불러오지 못했습니다",

        "column.todo": "할 일",
        "column.in_progress": "진행 중",
        "column.review": "검토",
        "column.done": "완료",

        "time.just_now": "방금",

        "due.overdue": "기한 지남",
        "due.soon": "마감 임박",

        "filters.label": "작업 필터",
        "filters.assignee": "담당자",
        "filters.everyone": "전체",
        "filters.mine": "내 작업",
        "filters.label_filter": "라벨",
        "filters.search": "검색",
        "filters.overdue": "기한 지난 작업만",
        "filters.clear": "필터 지우기",
        "filters.toggle": "필터",
        "filters.toggle_active": "필터 ({count}개 적용)",
        "filters.showing": { other: "조건에 맞는 작업 {count}개를 표시합니다." },

        "help.title": "단축키",
        "help.lead": "보드에서는 Tab 키로 각 카드로 이동할 수 있습니다.",
        "help.tab": "다음 카드나 컨트롤로 이동",
        "help.arrows": "위, 아래 또는 옆 열의 카드로 이동",
        "help.enter": "작업 열기",
        "help.move_column": "작업을 이전 열이나 다음 열로 옮기기",
        "help.move_position": "작업을 열 안에서 위나 아래로 옮기기",
        "help.escape": "대화상자 닫기, 끌기 취소",
        "help.search": "보드 검색",
        "help.help": "이 단축키 보기",
        "help.new_task": "새 작업",
        "help.pointer": "마우스로는 카드를 끌어서 옮깁니다. 터치스크린에서는 손잡이(⠿)를 잡고 끕니다.",

        "task.title": "작업",
        "task.new_title": "새 작업",
        "task.create": "작업 만들기",
        "task.save": "변경 사항 저장",
        "task.saved": "저장했습니다.",
        "task.nothing_to_save": "저장할 변경 사항이 없습니다.",
        "task.title_required": "제목을 입력하세요.",
        "task.unassigned": "담당자 없음",
        "task.former_member": "이전 구성원",
        "task.unknown_column": "다른 열",
        "task.no_description": "설명이 없습니다.",
        "task.no_due": "마감일 없음",
        "task.no_labels": "라벨 없음",
        "task.labels_hint": "라벨은 쉼표로 구분합니다.",
        "task.markdown_hint": "마크다운: **굵게**, *기울임*, `코드`, - 또는 1. 로 목록, [링크](https://example.com).",
        "task.write": "작성",
        "task.preview": "미리 보기",
        "task.clear_due": "마감일 지우기",
        "date.placeholder": "연도-월-일 시:분",
        "date.pick": "날짜와 시간 고르기",
        "task.read_only": "이 작업을 읽고 댓글을 달 수 있습니다. 변경은 담당자나 관리자만 할 수 있습니다.",
        "task.pic_scope": "담당자는 상태와 설명을 바꿀 수 있습니다.",
        "task.delete": "작업 삭제",
        "task.delete_title": "이 작업을 삭제할까요?",
        "task.delete_message": "“{title}” 작업과 댓글이 삭제됩니다. 되돌릴 수 없습니다.",
        "task.deleted": "“{title}” 작업을 삭제했습니다.",
        "task.gone": "이 작업이 더 이상 없거나 볼 수 없습니다.",
        "task.discard_title": "변경 사항을 버릴까요?",
        "task.discard_message": "저장하지 않은 변경 사항이 있습니다.",
        "task.discard": "버리기",
        "task.keep_editing": "계속 편집",

        "conflict.title": "편집하는 동안 다른 사람이 이 작업을 바꿨습니다.",
        "conflict.by": "마지막 변경: {name}",
        "conflict.field": "항목",
        "conflict.theirs": "상대방 버전",
        "conflict.yours": "내 변경",
        "conflict.unchanged": "(변경 없음)",
        "conflict.retry": "내 변경으로 덮어쓰기",
        "conflict.use_theirs": "내 변경 버리고 상대방 버전 유지",
        "conflict.used_theirs": "내 변경을 버렸습니다. 현재 작업 내용을 표시합니다.",

        "comments.title": "댓글",
        "comments.none": "아직 댓글이 없습니다.",
        "comments.new": "댓글 달기",
        "comments.hint": "여기서도 마크다운을 쓸 수 있습니다. Ctrl+Enter로 보냅니다.",
        "comments.add": "댓글 남기기",
        "comments.empty": "먼저 댓글을 입력하세요.",
        "comments.added": "댓글을 남겼습니다.",

        "history.title": "변경 기록",
        "history.created": "작업을 만들었습니다",
        "history.moved": "{from}에서 {to}(으)로 옮겼습니다",
        "history.reordered": "열 안에서 순서를 바꿨습니다",
        "history.commented": "댓글을 남겼습니다",
        "history.title_changed": "제목을 “{from}”에서 “{to}”(으)로 바꿨습니다",
        "history.content_changed": "설명을 고쳤습니다",
        "history.assigned": "{name}에게 배정했습니다",
        "history.unassigned": "담당자를 없앴습니다",
        "history.due_set": "마감일을 {date}까지로 정했습니다",
        "history.due_removed": "마감일을 없앴습니다",
        "history.zone_set": "시간대를 {zone}(으)로 정했습니다",
        "history.zone_removed": "시간대를 없앴습니다",
        "history.labels_set": "라벨을 {labels}(으)로 정했습니다",
        "history.labels_removed": "라벨을 모두 없앴습니다",
        "history.changed_other": "세부 항목을 바꿨습니다",
        "history.other": "변경했습니다",

        "members.title": "{board} 구성원",
        "members.list": "구성원",
        "members.add_title": "구성원 추가",
        "members.account": "계정",
        "members.add": "추가",
        "members.added": "{name} 님이 이 보드의 구성원이 되었습니다.",
        "members.none_left": "활성 계정이 모두 이미 구성원입니다",
        "members.remove": "제거",
        "members.remove_label": "{name} 님을 이 보드에서 제거",
        "members.remove_title": "이 구성원을 제거할까요?",
        "members.remove_message": "{name} 님은 더 이상 이 보드를 볼 수 없습니다. 지금까지의 활동은 기록에 남습니다.",
        "members.removed": "{name} 님을 이 보드에서 제거했습니다.",
        "members.left": "“{board}” 보드에서 나왔습니다.",
        "board.columns": "열 관리",
        "columns.title": "{board} 열",
        "columns.hint": "이름을 고쳐 쓰면 열 이름이 바뀝니다. 완료 열에 있는 작업은 끝난 것으로 보며 기한 초과로 표시되지 않습니다.",
        "columns.list": "열",
        "columns.name_of": "{name} 열의 이름",
        "columns.done": "완료 열",
        "columns.move_earlier": "{name} 열을 왼쪽으로 한 칸 옮기기",
        "columns.move_later": "{name} 열을 오른쪽으로 한 칸 옮기기",
        "columns.delete": "삭제",
        "columns.delete_named": "{name} 열 삭제",
        "columns.delete_title": "이 열을 삭제할까요?",
        "columns.delete_message": "“{name}” 열이 삭제됩니다. 열에 작업은 없으며, 기록은 남습니다.",
        "columns.deleted": "“{name}” 열을 삭제했습니다.",
        "columns.renamed": "열 이름을 “{name}”(으)로 바꿨습니다.",
        "columns.add_title": "열 추가",
        "columns.name": "이름",
        "columns.add": "추가",
        "columns.added": "“{name}” 열을 맨 끝에 추가했습니다.",

        "inbox.title": "알림",
        "inbox.button_label": "알림, 읽지 않음 {count}개",
        "inbox.empty": "아직 알림이 없습니다. 내 작업의 배정, 이동, 마감이 여기에 표시됩니다.",
        "inbox.read_all": "모두 읽음으로 표시",
        "inbox.unread": "읽지 않음",
        "inbox.someone": "누군가",
        "inbox.assigned_you": "{actor} 님이 ‘{title}’ 작업을 회원님에게 배정했습니다",
        "inbox.assigned": "{actor} 님이 ‘{title}’ 작업을 {assignee} 님에게 배정했습니다",
        "inbox.moved": "{actor} 님이 ‘{title}’ 작업의 상태를 바꿨습니다: {from} → {to}",
        "inbox.due_changed": "{actor} 님이 ‘{title}’ 작업의 마감을 바꿨습니다",
        "inbox.commented": "{actor} 님이 ‘{title}’ 작업에 댓글을 남겼습니다",
        "inbox.unassigned": "{actor} 님이 ‘{title}’ 작업에서 회원님의 담당을 해제했습니다",
        "inbox.due_soon": "‘{title}’ 작업의 마감이 다가옵니다",
        "inbox.overdue": "‘{title}’ 작업의 마감이 지났습니다",
        "inbox.changed": "‘{title}’ 작업이 바뀌었습니다",

        "deliveries.title": "전달되지 않은 메일",
        "deliveries.intro": "메일 서버가 끝내 거부했거나 다시 보내기를 기다리는 메일입니다. 원인을 고친 뒤 거부된 메일을 다시 보낼 수 있습니다.",
        "deliveries.none": "기다리거나 거부된 메일이 없습니다.",
        "deliveries.event": "내용",
        "deliveries.recipient": "받는 사람",
        "deliveries.state": "상태",
        "deliveries.attempts": "시도",
        "deliveries.answer": "마지막 응답",
        "deliveries.retry": "다시 보내기",
        "deliveries.retried": "{name} 님에게 보낼 메일을 다시 보내기로 했습니다.",
        "deliveries.pending": "재시도 대기",
        "deliveries.dead": "거부됨",
        "deliveries.event.task.assigned": "담당자 배정",
        "deliveries.event.task.status_changed": "상태 변경",
        "deliveries.event.task.due_changed": "마감 변경",
        "deliveries.event.task.due_soon": "마감 임박",
        "deliveries.event.task.commented": "댓글",
        "deliveries.event.task.unassigned": "담당 해제",
        "deliveries.event.task.overdue": "마감 지남",
        "deliveries.event.other": "작업 변경",

        "users.title": "사용자",
        "users.list": "전체 계정",
        "users.new": "새 계정",
        "users.create": "계정 만들기",
        "users.missing": "이메일과 이름을 입력하세요.",
        "users.password_hint": "계정을 만들면 비밀번호가 생성되어 한 번만 표시됩니다.",
        "users.status": "상태",
        "users.actions": "작업",
        "users.active": "활성",
        "users.disabled": "비활성",
        "users.disable": "비활성화",
        "users.enable": "활성화",
        "users.disable_title": "{name} 님을 비활성화할까요?",
        "users.disable_message": "즉시 로그아웃되며, 계정을 다시 활성화할 때까지 로그인할 수 없습니다.",
        "users.disabled_notice": "{name} 님을 비활성화했습니다.",
        "users.enabled_notice": "{name} 님을 다시 활성화했습니다.",
        "users.reset": "비밀번호 재설정",
        "users.reset_title": "{name} 님의 비밀번호를 재설정할까요?",
        "users.reset_message": "새 비밀번호가 생성되고 이 계정의 모든 세션이 끝납니다.",
        "users.created_title": "{name} 님의 계정을 만들었습니다",
        "users.reset_done_title": "{name} 님의 새 비밀번호",
        "users.password_once": "이 비밀번호를 지금 {email} 님에게 전달하세요. 이번 한 번만 표시됩니다.",
        "users.copy": "복사",
        "users.copied": "복사했습니다",

        "notfound.title": "페이지를 찾을 수 없습니다",
        "notfound.detail": "이 주소에는 아무것도 없습니다.",
        "notfound.back": "내 보드로 가기",

        "error.network": "서버에 연결할 수 없습니다. 저장되지 않았습니다. 연결이 돌아오면 다시 시도하세요.",
        "error.invalid_credentials": "이메일 또는 비밀번호가 틀렸습니다.",
        "error.too_many_attempts": "로그인 실패가 너무 많습니다. {seconds}초 후에 다시 시도하세요.",
        "error.rate_limited": "이곳에서 보낸 요청이 너무 많습니다. {seconds}초 후에 다시 시도하세요.",
        "error.token_expired": "세션이 만료되었습니다. 다시 로그인하세요.",
        "error.unauthenticated": "로그아웃된 상태입니다. 다시 로그인하세요.",
        "error.invalid_refresh_token": "세션이 끝났습니다. 다시 로그인하세요.",
        "error.refresh_token_reused": "세션이 두 곳에서 사용되어 안전을 위해 종료되었습니다. 다시 로그인하세요.",
        "error.forbidden": "이 변경을 할 권한이 없습니다. 담당자는 자신에게 배정된 작업의 상태, 순서, 설명만 바꿀 수 있습니다.",
        "error.not_found": "더 이상 없거나 볼 수 없습니다.",
        "error.version_conflict": "그사이 다른 사람이 이것을 바꿨습니다.",
        "error.duplicate": "이미 있습니다.",
        "error.duplicate_email": "이 이메일을 쓰는 계정이 이미 있습니다.",
        "error.invalid_field": "“{field}” 항목을 확인하세요.",
        "error.invalid_field.email": "올바른 이메일 주소를 입력하세요.",
        "error.invalid_field.name": "이름을 입력하세요(100자 이하).",
        "error.invalid_field.password": "비밀번호는 10자 이상, 72바이트 이하여야 합니다.",
        "error.invalid_field.new_password": "새 비밀번호는 10자 이상, 72바이트 이하여야 합니다.",
        "error.invalid_field.due_at": "올바른 마감일을 입력하세요.",
        "error.due_format": "마감일을 연도-월-일 시:분 형식으로 입력하세요(예: 2025-12-24 18:00).",
        "error.invalid_field.due_time_zone": "이 브라우저의 시간대를 받아들일 수 없어 마감일을 저장하지 않았습니다.",
        "error.invalid_field.labels": "라벨은 최대 20개, 각각 40자 이하로 쓰세요.",
        "error.invalid_field.user_id": "그 계정은 없습니다.",
        "error.missing_field": "“{field}” 항목은 꼭 입력해야 합니다.",
        "error.unknown_field": "서버가 요청을 받아들이지 않았습니다. 페이지를 새로 고친 뒤 다시 시도하세요.",
        "error.invalid_request": "서버가 이 변경을 거절했습니다. 페이지를 새로 고친 뒤 다시 시도하세요.",
        "error.cannot_disable_self": "자신의 계정은 비활성화할 수 없습니다.",
        "error.cannot_reset_own_password": "자신의 비밀번호는 계정 메뉴에서 현재 비밀번호로 바꾸세요.",
        "error.member_has_tasks": "이 보드에 아직 이 구성원에게 배정된 작업이 있습니다. 먼저 다른 사람에게 배정하세요.",
        "error.last_supervisor": "이 보드의 마지막 관리자입니다. 먼저 다른 관리자를 보드에 추가하세요.",
        "error.column_not_empty": "이 열에 아직 작업이 있습니다. 먼저 작업을 옮기거나 삭제하세요.",
        "error.last_column": "보드에는 열이 하나 이상 있어야 합니다.",
        "error.too_many_columns": "보드에는 열을 20개까지 둘 수 있습니다.",
        "error.origin_refused": "이 페이지 주소에서는 변경할 수 없습니다. 보드 자체 주소에서 여세요.",
        "error.origin_required": "브라우저가 요청의 출처를 보내지 않아 변경이 거절되었습니다.",
        "error.body_too_large": "너무 길어서 저장할 수 없습니다.",
        "error.malformed_json": "서버가 요청을 이해하지 못했습니다. 페이지를 새로 고친 뒤 다시 시도하세요.",
        "error.internal_error": "서버에서 문제가 생겼습니다. 잠시 후 다시 시도하세요.",
        "error.not_ready": "서버가 시작하는 중이거나 데이터베이스를 쓸 수 없습니다. 잠시 후 다시 시도하세요.",
        "error.version_required": "화면이 오래되었습니다. 새로 고친 뒤 다시 시도하세요.",
        "error.invalid_if_match": "화면이 오래되었습니다. 새로 고친 뒤 다시 시도하세요.",
        "error.invalid_parameter": "필터가 올바르지 않습니다.",
        "error.unknown_parameter": "필터가 올바르지 않습니다.",
        "error.unsupported_media_type": "서버가 요청을 받아들이지 않았습니다. 페이지를 새로 고친 뒤 다시 시도하세요.",
        "error.no_route": "서버가 이 기능을 제공하지 않습니다. 앱이 업데이트되었을 수 있으니 새로 고치세요.",
        "error.unknown": "문제가 생겼습니다(HTTP {status}).",
    },
};

let current = detect();
const listeners = new Set();

function detect() {
    let stored = null;
    try {
        stored = localStorage.getItem(STORAGE_KEY);
    } catch {
        stored = null;
    }
    if (stored && stored in catalogue) return stored;
    for (const tag of navigator.languages ?? [navigator.language]) {
        const base = String(tag).toLowerCase().split("-")[0];
        if (base in catalogue) return base;
    }
    return "en";
}

export function language() {
    return current;
}

/** Whether the language was chosen in this browser (rather than taken from the browser's settings). */
export function chosenHere() {
    try {
        return localStorage.getItem(STORAGE_KEY) in catalogue;
    } catch {
        return false;
    }
}

/** The locale for Intl formatting of dates and numbers. */
export function intlLocale() {
    return languages.find((entry) => entry.code === current)?.intl ?? "en";
}

/** Switches the language and remembers the choice in this browser. */
export function setLanguage(code) {
    if (!(code in catalogue) || code === current) return;
    current = code;
    try {
        localStorage.setItem(STORAGE_KEY, code);
    } catch {
        // Private windows may refuse storage; the choice then lasts for this page.
    }
    document.documentElement.lang = code;
    for (const listener of listeners) listener(code);
}

export function onLanguageChange(listener) {
    listeners.add(listener);
    return () => listeners.delete(listener);
}

export function has(key) {
    return key in catalogue[current] || key in catalogue.en;
}

const pluralRules = new Map();

/** The plural category ("one", "other", …) of `count` in the current language. */
function pluralCategory(count) {
    const locale = intlLocale();
    if (!pluralRules.has(locale)) pluralRules.set(locale, new Intl.PluralRules(locale));
    return pluralRules.get(locale).select(Number(count));
}

// A parameter, and the Korean particle "(으)로" after it (past closing quotes and brackets) if there is one.
const PLACEHOLDER = /\{(\w+)\}(?:([”’"')\]」』]*)\(으\)로)?/g;

/** The string for `key` in the current language, with `{name}` parameters filled from `parameters`. */
export function t(key, parameters = {}) {
    let text = catalogue[current][key] ?? catalogue.en[key];
    if (text === undefined) {
        console.error(`i18n: missing key ${key}`);
        return key;
    }
    if (typeof text === "object") text = text[pluralCategory(parameters.count)] ?? text.other;
    return text.replace(PLACEHOLDER, (whole, name, closing) => {
        if (!(name in parameters)) return whole;
        const value = String(parameters[name]);
        return closing === undefined ? value : value + closing + particleRo(value);
    });
}

const HANGUL_SYLLABLES = { first: 0xac00, last: 0xd7a3 };
const FINAL_RIEUL = 8; // ㄹ, the one final consonant that takes 로

/**
 * 로 or 으로 after `word`, as it is read aloud (trailing spaces and punctuation such as closing quotes skipped):
 * - a Hangul syllable with no final consonant, or with ㄹ, takes 로 (완료로, 할 일로); any other final
 *   consonant 으로 (진행 중으로);
 * - a digit is read in Sino-Korean: 1 일, 2 이, 4 사, 5 오, 7 칠, 8 팔, 9 구 take 로; 3 삼, 6 육 and 0 (영, and
 *   the 십, 백, 천, 만 that a final 0 is read as) take 으로;
 * - a Latin word takes 으로 when it ends in the sound of m, n or ng (Done, Team, Doing, PM), which Korean always
 *   writes as a final consonant, and 로 otherwise (Review, QA, Backlog, Seoul): other final consonants are
 *   mostly read with an added ㅡ (테스트), and the names of the letters other than M and N end in a vowel or ㄹ.
 *   This is a reading of the spelling and misses some words (Web is 웹으로);
 * - anything else (emoji, Han characters, symbols, nothing) keeps the neutral "(으)로".
 */
export function particleRo(word) {
    const characters = [...String(word)];
    let end = characters.length;
    while (end > 0 && /[\s\p{P}]/u.test(characters[end - 1])) end -= 1;
    if (end === 0) return "(으)로";
    const last = characters[end - 1];
    const code = last.codePointAt(0);
    if (code >= HANGUL_SYLLABLES.first && code <= HANGUL_SYLLABLES.last) {
        const final = (code - HANGUL_SYLLABLES.first) % 28;
        return final === 0 || final === FINAL_RIEUL ? "로" : "으로";
    }
    if (/[0-9]/.test(last)) return "036".includes(last) ? "으로" : "로";
    if (/\p{Script=Latin}/u.test(last)) {
        let start = end;
        while (start > 0 && /\p{Script=Latin}/u.test(characters[start - 1])) start -= 1;
        return /(?:m|n|ng|me|ne)$/i.test(characters.slice(start, end).join("")) ? "으로" : "로";
    }
    return "(으)로";
}

/** Every key of the catalogue (for the browser tests). */
export function keys(code = "en") {
    return Object.keys(catalogue[code] ?? {});
}

/**
 * Differences between the languages: missing keys, empty strings, parameter mismatches, and plural forms that
 * are not exactly the categories of the language's plural rules (or lack {count}).
 */
export function catalogueProblems() {
    const problems = [];
    const forms = (entry) => (typeof entry === "object" ? Object.values(entry) : [entry]);
    const parameterNames = (entry) => {
        const names = new Set(forms(entry).flatMap((text) => [...text.matchAll(/\{(\w+)\}/g)].map((match) => match[1])));
        return [...names].sort().join(",");
    };
    const codes = Object.keys(catalogue);
    for (const code of codes) {
        for (const other of codes) {
            for (const key of Object.keys(catalogue[code])) {
                if (!(key in catalogue[other])) problems.push(`${other} lacks ${key}`);
                else if (parameterNames(catalogue[code][key]) !== parameterNames(catalogue[other][key])) {
                    if (code < other) problems.push(`${key}: parameters differ between ${code} and ${other}`);
                }
            }
        }
        const locale = languages.find((entry) => entry.code === code)?.intl ?? code;
        const categories = new Intl.PluralRules(locale).resolvedOptions().pluralCategories.slice().sort().join(",");
        for (const [key, entry] of Object.entries(catalogue[code])) {
            if (forms(entry).some((text) => typeof text !== "string" || !text.trim())) problems.push(`${code} ${key} is empty`);
            if (typeof entry !== "object") continue;
            if (Object.keys(entry).sort().join(",") !== categories) problems.push(`${code} ${key}: plural forms are not ${categories}`);
            if (forms(entry).some((text) => !text.includes("{count}"))) problems.push(`${code} ${key}: a plural form lacks {count}`);
        }
    }
    return problems;
}
