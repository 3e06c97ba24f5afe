import { useQuery as useTanstackQuery } from "@tanstack/react-query";
import { Component, useEffect, useRef, useState, type FormEvent, type ReactNode } from "react";
import { Beneficiaries } from "./Beneficiaries";
import { ROLES, type Role } from "./demoAuth";
import type { Doc, Id, Tables } from "./generated/schema";
import { Devtools } from "@roomsync/react/devtools";
import { roomsyncQuery } from "@roomsync/react/tanstack";
import {
  type LocalStore,
  type PaginationResult,
  useConnectionState,
  useMutation,
  usePaginatedQuery,
  usePendingMutations,
  useFailedMutations,
  useSyncContext,
} from "@roomsync/react";

type Task = Doc<"tasks">;
type Status = Tables["tasks"]["status"];
type Priority = Tables["tasks"]["priority"];

const STATUS_LABEL: Record<Status, string> = {
  pending: "Pending",
  in_progress: "In progress",
  completed: "Completed",
  cancelled: "Cancelled",
};
const PRIORITY_LABEL: Record<Priority, string> = { low: "Low", normal: "Normal", high: "High", urgent: "Urgent" };

/** The signed-in demo user's `users` document (created on first use; viewers cannot write,
 *  so they get none and the form says why). */
function useDemoUser(role: Role): Id<"users"> | null {
  const { client, authenticated } = useSyncContext();
  const ensureUser = useMutation<{ name: string; email: string; role: string }, Id<"users">>("users:ensure");
  const [user, setUser] = useState<Id<"users"> | null>(null);
  useEffect(() => {
    setUser(null);
    if (!client || !authenticated || role === "viewer") return;
    let cancelled = false;
    ensureUser({ name: `Demo ${role}`, email: `demo-${role}@roomsync.local`, role })
      .then((id) => !cancelled && setUser(id))
      .catch((e: unknown) => console.warn("roomsync demo: could not create the demo user", e));
    return () => {
      cancelled = true;
    };
  }, [client, authenticated, role, ensureUser]);
  return user;
}

/** Shows a query's error (signed out, forbidden, …) instead of unmounting the panel. */
class QueryErrorBoundary extends Component<{ children: ReactNode }, { error: Error | null }> {
  state = { error: null as Error | null };
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  render() {
    if (this.state.error) {
      return (
        <p role="alert" className="error" data-testid="query-error">
          {this.state.error.message}{" "}
          <button type="button" onClick={() => this.setState({ error: null })}>
            Retry
          </button>
        </p>
      );
    }
    return this.props.children;
  }
}

function RolePicker({ role, onChange }: { role: Role; onChange: (role: Role) => void }) {
  return (
    <label className="role">
      signed in as{" "}
      <select aria-label="Role" value={role} onChange={(e) => onChange(e.target.value as Role)}>
        {ROLES.map((r) => (
          <option key={r} value={r}>
            {r}
          </option>
        ))}
      </select>
    </label>
  );
}

/** How long the room may be out of reach before the panel says so. */
const UNREACHABLE_AFTER_MS = 3000;

/** Whether the room has been out of reach for a while (a live client that is not
 *  connected): said in a banner, and in place of an endless "Loading…". */
function useUnreachable(): boolean {
  const state = useConnectionState();
  const { status } = useSyncContext();
  const [late, setLate] = useState(false);
  useEffect(() => {
    setLate(false);
    if (status !== "ready" || state === "Connected") return;
    const timer = setTimeout(() => setLate(true), UNREACHABLE_AFTER_MS);
    return () => clearTimeout(timer);
  }, [state, status]);
  return late;
}

function UnreachableBanner() {
  if (!useUnreachable()) return null;
  return (
    <p role="status" className="banner" data-testid="unreachable">
      The room cannot be reached right now; retrying. Changes you make are kept and sent when it is back.
    </p>
  );
}

function ConnectionBadge() {
  const state = useConnectionState();
  const { status } = useSyncContext();
  const text = status === "off" ? "Realtime off" : status === "failed" ? "Realtime unavailable" : state;
  return (
    <span className={`badge badge-${state.toLowerCase()}`} data-testid="connection-state">
      {text}
    </span>
  );
}

function NewTaskForm({ user, role }: { user: Id<"users"> | null; role: Role }) {
  // "auto": the new task shows at once in every loaded list and page (predicted by running
  // tasks:create's own Rust code in the browser), before the room answers.
  const createTask = useMutation<{ title: string; status: Status; priority: Priority; created_by: Id<"users"> | null }, Id<"tasks">>(
    "tasks:create",
    { optimisticUpdate: "auto" },
  );
  const [title, setTitle] = useState("");
  const [status, setStatus] = useState<Status>("pending");
  const [priority, setPriority] = useState<Priority>("normal");
  const [error, setError] = useState<string | null>(null);
  // Writes of this form still on their way: each has its own, and a new one may start
  // while earlier ones wait.
  const [saving, setSaving] = useState(0);
  const titleInput = useRef<HTMLInputElement>(null);
  const { client, status: sync } = useSyncContext();
  // While the client loads, and with a live client until the demo user exists (every task
  // has a creator), writing would only fail: wait.
  const readOnly = role === "viewer";
  const waitingForUser = sync === "loading" || (client !== null && user === null && !readOnly);

  async function submit(event: FormEvent) {
    event.preventDefault();
    // What is submitted is cleared now, not when the room answers: typing meanwhile (the
    // next title) is never lost, and focus stays in the field.
    const submitted = title;
    setTitle((current) => (current === submitted ? "" : current));
    titleInput.current?.focus();
    setSaving((n) => n + 1);
    setError(null);
    try {
      await createTask({ title: submitted, status, priority, created_by: user });
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
      // Refused: give the text back unless something new was typed.
      setTitle((current) => (current === "" ? submitted : current));
    } finally {
      setSaving((n) => n - 1);
    }
  }

  return (
    <form onSubmit={submit} className="task-form" aria-label="New task">
      <input
        ref={titleInput}
        aria-label="Title"
        placeholder="New task…"
        value={title}
        disabled={readOnly}
        onChange={(e) => setTitle(e.target.value)}
      />
      <select aria-label="Priority" value={priority} onChange={(e) => setPriority(e.target.value as Priority)}>
        {Object.entries(PRIORITY_LABEL).map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
      <select aria-label="Status" value={status} onChange={(e) => setStatus(e.target.value as Status)}>
        {Object.entries(STATUS_LABEL).map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
      <button type="submit" disabled={readOnly || waitingForUser} title={readOnly ? VIEWER_REASON : undefined}>
        Add task
      </button>
      {readOnly && (
        <span className="hint" data-testid="read-only">
          {VIEWER_REASON}
        </span>
      )}
      {saving > 0 && (
        <span className="hint" data-testid="form-saving">
          {saving === 1 ? "Saving…" : `Saving ${saving}…`}
        </span>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </form>
  );
}

type TaskPage = PaginationResult<Task>;

/** Edits every loaded page of the task list in the local cache (for optimistic updates). */
function editTaskPages(store: LocalStore, edit: (tasks: Task[]) => Task[]) {
  for (const { args, value } of store.getAllQueries<TaskPage>("tasks:page")) {
    if (value) store.setQuery("tasks:page", args, { ...value, page: edit(value.page) });
  }
}

// Status changes and deletions show at once; the room's answer replaces the guess.
const showStatus = {
  optimisticUpdate: (store: LocalStore, { id, status }: { id: Id<"tasks">; status: Status }) =>
    editTaskPages(store, (tasks) => tasks.map((t) => (t._id === id ? { ...t, status } : t))),
};
const showRemoval = {
  optimisticUpdate: (store: LocalStore, { id }: { id: Id<"tasks"> }) =>
    editTaskPages(store, (tasks) => tasks.filter((t) => t._id !== id)),
};

/** Why a viewer's controls are disabled. */
const VIEWER_REASON = "Viewers can read tasks but not change them";

function TaskRow({ task, role }: { task: Task; role: Role }) {
  const updateTask = useMutation<{ id: Id<"tasks">; status: Status }>("tasks:update", showStatus);
  const removeTask = useMutation<{ id: Id<"tasks"> }>("tasks:remove", showRemoval);
  const [error, setError] = useState<string | null>(null);
  const readOnly = role === "viewer";
  // A refused change is said on its row (the guess is already undone), never left unhandled.
  const attempt = (write: Promise<unknown>) => {
    setError(null);
    write.catch((e: unknown) => setError(e instanceof Error ? e.message : String(e)));
  };
  return (
    <li data-testid="task">
      <span className="task-title">{task.title}</span>
      <span className={`priority priority-${task.priority}`}>{PRIORITY_LABEL[task.priority]}</span>
      <select
        aria-label={`Status of ${task.title}`}
        className={`status status-${task.status}`}
        value={task.status}
        disabled={readOnly}
        title={readOnly ? VIEWER_REASON : undefined}
        onChange={(e) => attempt(updateTask({ id: task._id, status: e.target.value as Status }))}
      >
        {Object.entries(STATUS_LABEL).map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
      <button
        type="button"
        aria-label={`Delete ${task.title}`}
        disabled={readOnly}
        title={readOnly ? VIEWER_REASON : undefined}
        onClick={() => attempt(removeTask({ id: task._id }))}
      >
        ✕
      </button>
      {error && (
        <span role="alert" className="error" data-testid="task-error">
          {error}
        </span>
      )}
    </li>
  );
}

const PAGE_SIZE = 20;

function TaskList({ role }: { role: Role }) {
  const { status } = useSyncContext();
  const unreachable = useUnreachable();
  const { results: tasks, status: pages, loadMore } = usePaginatedQuery<Task>(
    "tasks:page",
    status === "ready" ? {} : "skip",
    { initialNumItems: PAGE_SIZE },
  );
  if (status === "off" || status === "failed") {
    return <p data-testid="tasks-offline">Live data is not available: the panel works without it, but shows no tasks.</p>;
  }
  if (pages === "LoadingFirstPage") {
    return unreachable ? (
      <p data-testid="tasks-waiting">Tasks show as soon as the room can be reached.</p>
    ) : (
      <p data-testid="tasks-loading">Loading tasks…</p>
    );
  }
  if (tasks.length === 0) return <p data-testid="tasks-empty">No tasks yet.</p>;
  return (
    <>
      <ul className="task-list" data-testid="task-list">
        {tasks.map((task) => (
          <TaskRow key={task._id} task={task} role={role} />
        ))}
      </ul>
      {pages === "CanLoadMore" && (
        <button type="button" onClick={() => loadMore(PAGE_SIZE)}>
          Load more
        </button>
      )}
    </>
  );
}

/** Through the TanStack Query adapter: a live count of pending tasks. */
function PendingSummary() {
  const { status } = useSyncContext();
  const { data } = useTanstackQuery({ ...roomsyncQuery("tasks:list", { status: "pending" }), enabled: status === "ready" });
  if (!Array.isArray(data)) return null;
  return (
    <span className="summary" data-testid="pending-summary">
      {data.length} pending
    </span>
  );
}

/** "All changes saved" only when nothing waits and nothing was refused; refused writes are
 *  listed with their reason, to retry or discard. */
function SavedIndicator() {
  const pending = usePendingMutations();
  const { failed, discard, retry } = useFailedMutations();
  return (
    <span className="saved" data-testid="saved-state">
      {pending > 0 ? `Saving ${pending}…` : failed.length === 0 ? "All changes saved" : null}
      {failed.length > 0 && (
        <details className="failed" data-testid="failed-writes">
          <summary>
            {failed.length === 1 ? "1 change could not be saved" : `${failed.length} changes could not be saved`}
          </summary>
          <ul>
            {failed.map((f) => (
              <li key={f.requestId}>
                <code>{f.udfPath}</code>: {f.message}{" "}
                <button type="button" onClick={() => retry(f.requestId).catch(() => {})}>
                  Retry
                </button>{" "}
                <button type="button" onClick={() => discard(f.requestId)}>
                  Discard
                </button>
              </li>
            ))}
          </ul>
        </details>
      )}
    </span>
  );
}

export function App({ room, role, onRoleChange }: { room: string; role: Role; onRoleChange: (role: Role) => void }) {
  const user = useDemoUser(role);
  return (
    <main>
      <header>
        <h1>Tasks</h1>
        <span className="room">room: {room}</span>
        <RolePicker role={role} onChange={onRoleChange} />
        <PendingSummary />
        <SavedIndicator />
        <ConnectionBadge />
      </header>
      <UnreachableBanner />
      <NewTaskForm user={user} role={role} />
      <QueryErrorBoundary key={role}>
        <TaskList role={role} />
      </QueryErrorBoundary>
      <QueryErrorBoundary key={`b-${role}`}>
        <Beneficiaries role={role} />
      </QueryErrorBoundary>
      <Devtools />
    </main>
  );
}
