import { useState, type FormEvent } from "react";
import { useConnectionState, useMutation, useQuery, useSyncContext } from "./roomsync";

interface Task {
  _id: string;
  _creationTime: number;
  title: string;
  status: "todo" | "doing" | "done";
  assigned_to?: string;
}

const STATUS_LABEL: Record<Task["status"], string> = { todo: "To do", doing: "In progress", done: "Done" };

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

function NewTaskForm() {
  const createTask = useMutation<{ title: string; status: Task["status"]; assigned_to?: string }, string>("tasks:create");
  const [title, setTitle] = useState("");
  const [status, setStatus] = useState<Task["status"]>("todo");
  const [assignee, setAssignee] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setSaving(true);
    setError(null);
    try {
      await createTask({ title, status, ...(assignee.trim() ? { assigned_to: assignee.trim() } : {}) });
      setTitle("");
      setAssignee("");
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setSaving(false);
    }
  }

  return (
    <form onSubmit={submit} className="task-form" aria-label="New task">
      <input aria-label="Title" placeholder="New task…" value={title} onChange={(e) => setTitle(e.target.value)} />
      <select aria-label="Status" value={status} onChange={(e) => setStatus(e.target.value as Task["status"])}>
        {Object.entries(STATUS_LABEL).map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
      <input aria-label="Assigned to" placeholder="Assigned to (optional)" value={assignee} onChange={(e) => setAssignee(e.target.value)} />
      <button type="submit" disabled={saving}>
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
        <li key={task._id} data-testid="task">
          <span className="task-title">{task.title}</span>
          <span className={`status status-${task.status}`}>{STATUS_LABEL[task.status]}</span>
          {task.assigned_to && <span className="assignee">{task.assigned_to}</span>}
        </li>
      ))}
    </ul>
  );
}

export function App({ room }: { room: string }) {
  return (
    <main>
      <header>
        <h1>Tasks</h1>
        <span className="room">room: {room}</span>
        <ConnectionBadge />
      </header>
      <NewTaskForm />
      <TaskList />
    </main>
  );
}
