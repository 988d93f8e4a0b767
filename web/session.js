// Who is signed in, and what the interface offers them. The server checks every rule again; these only decide
// which controls are shown.

export const session = { user: null };

export function isSupervisor() {
    return session.user?.role === "supervisor";
}

/** A Supervisor changes anything; a PIC the status, position and description of tasks assigned to them. */
export function mayMove(task) {
    return isSupervisor() || (session.user !== null && task.assignee_id === session.user.id);
}

export function mayEditAll() {
    return isSupervisor();
}
