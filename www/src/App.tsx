import { useEffect, useState, type FormEvent } from "react";
import type { Doc, Id, Tables } from "./generated/schema";
import { useConnectionState, useMutation, useQuery, useSyncContext } from "./roomsync";

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

/** The demo signs everyone in as one user (authentication comes with the auth work). */
function useDemoUser(): Id<"users"> | null {
  const { client } = useSyncContext();
  const ensureUser = useMutation<{ name: string; email: string; role: string }, Id<"users">>("users:ensure");
  const [user, setUser] = useState<Id<"users"> | null>(null);
  useEffect(() => {
    if (!client) return;
    let cancelled = false;
    ensureUser({ name: "Demo Kullanıcı", email: "demo@roomsync.local", role: "admin" })
      .then((id) => !cancelled && setUser(id))
      .catch((e: unknown) => console.warn("roomsync demo: could not create the demo user", e));
    return () => {
      cancelled = true;
    };
  }, [client, ensureUser]);
  return user;
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

function NewTaskForm({ user }: { user: Id<"users"> | null }) {
  const createTask = useMutation<{ title: string; status: Status; priority: Priority; created_by: Id<"users"> | null }, Id<"tasks">>(
    "tasks:create",
  );
  const [title, setTitle] = useState("");
  const [status, setStatus] = useState<Status>("pending");
  const [priority, setPriority] = useState<Priority>("normal");
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const { client, status: sync } = useSyncContext();
  // While the client loads, and with a live client until the demo user exists (every task
  // has a creator), writing would only fail: wait.
  const waitingForUser = sync === "loading" || (client !== null && user === null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setSaving(true);
    setError(null);
    try {
      await createTask({ title, status, priority, created_by: user });
      setTitle("");
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setSaving(false);
    }
  }

  return (
    <form onSubmit={submit} className="task-form" aria-label="New task">
      <input aria-label="Title" placeholder="New task…" value={title} onChange={(e) => setTitle(e.target.value)} />
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
      <button type="submit" disabled={saving || waitingForUser}>
        Add task
      </button>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
    </form>
  );
}

function TaskRow({ task }: { task: Task }) {
  const updateTask = useMutation<{ id: Id<"tasks">; status: Status }>("tasks:update");
  const removeTask = useMutation<{ id: Id<"tasks"> }>("tasks:remove");
  return (
    <li data-testid="task">
      <span className="task-title">{task.title}</span>
      <span className={`priority priority-${task.priority}`}>{PRIORITY_LABEL[task.priority]}</span>
      <select
        aria-label={`Status of ${task.title}`}
        className={`status status-${task.status}`}
        value={task.status}
        onChange={(e) => void updateTask({ id: task._id, status: e.target.value as Status })}
      >
        {Object.entries(STATUS_LABEL).map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
      <button type="button" aria-label={`Delete ${task.title}`} onClick={() => void removeTask({ id: task._id })}>
        ✕
      </button>
    </li>
  );
}

function TaskList() {
  const tasks = useQuery<Task[]>("tasks:list");
  const { status } = useSyncContext();
  if (status === "off" || status === "failed") {
    return <p data-testid="tasks-offline">Live data is not available: the panel works without it, but shows no tasks.</p>;
  }
  if (tasks === undefined) return <p data-testid="tasks-loading">Loading tasks…</p>;
  if (tasks.length === 0) return <p data-testid="tasks-empty">No tasks yet.</p>;
  return (
    <ul className="task-list" data-testid="task-list">
      {tasks.map((task) => (
        <TaskRow key={task._id} task={task} />
      ))}
    </ul>
  );
}

export function App({ room }: { room: string }) {
  const user = useDemoUser();
  return (
    <main>
      <header>
        <h1>Tasks</h1>
        <span className="room">room: {room}</span>
        <ConnectionBadge />
      </header>
      <NewTaskForm user={user} />
      <TaskList />
    </main>
  );
}
