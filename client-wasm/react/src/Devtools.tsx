"use client"; // React Server Components: the hooks and the provider run on the client
// `@roomsync/react/devtools`: a panel of what the client holds and does (queries, frames,
// connection history, outbox), for development builds.
import { useEffect, useState } from "react";
import type { DebugInfo } from "@roomsync/client";
import { useSyncContext } from "./provider.js";

const time = (ms: number) => new Date(ms).toISOString().slice(11, 23);

/**
 * A devtools panel: live queries (state, staleness, rows, round trip), the last frames on the
 * socket, connection history and the outbox — `client.debug()`, refreshed twice a second while
 * open. Drop it anywhere under `<SyncProvider>`; it renders a toggle button when closed.
 */
export function Devtools() {
  const { client } = useSyncContext();
  const [open, setOpen] = useState(false);
  const [info, setInfo] = useState<DebugInfo | null>(null);
  useEffect(() => {
    if (!open || !client) return;
    const refresh = () => setInfo(client.debug());
    refresh();
    const timer = window.setInterval(refresh, 500);
    return () => window.clearInterval(timer);
  }, [open, client]);
  if (!open) {
    return (
      <button type="button" className="devtools-toggle" onClick={() => setOpen(true)}>
        Roomsync devtools
      </button>
    );
  }
  return (
    <aside className="devtools" aria-label="Roomsync devtools">
      <header>
        <strong>Roomsync devtools</strong>
        <button type="button" onClick={() => setOpen(false)}>
          close
        </button>
      </header>
      {!info ? (
        <p>No client (realtime is off).</p>
      ) : (
        <>
          <p>
            {info.state} · session {info.sessionId.slice(0, 8)}… · version q{info.version.querySet}/i
            {info.version.identity}/ts{info.version.ts} · {info.outbox.length} unsaved
          </p>
          <h4>Subscriptions ({info.subscriptions.length})</h4>
          <table data-testid="devtools-subscriptions">
            <thead>
              <tr>
                <th>query</th>
                <th>state</th>
                <th>rows</th>
                <th>first result</th>
                <th>listeners</th>
              </tr>
            </thead>
            <tbody>
              {info.subscriptions.map((s) => (
                <tr key={s.queryId}>
                  <td title={JSON.stringify(s.args)}>{s.udfPath}</td>
                  <td>
                    {s.state}
                    {s.stale ? " (stale)" : ""}
                  </td>
                  <td>{s.rows}</td>
                  <td>{s.firstResultMs === null ? "…" : `${Math.round(s.firstResultMs)} ms`}</td>
                  <td>{s.listeners}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <h4>Frames (last {info.frames.length})</h4>
          <ol className="devtools-frames">
            {info.frames
              .slice(-30)
              .reverse()
              .map((f, i) => (
                <li key={i}>
                  {time(f.at)} {f.direction === "out" ? "→" : "←"} {f.type} {f.bytes} B <code>{f.preview.slice(0, 120)}</code>
                </li>
              ))}
          </ol>
          <h4>Connection</h4>
          <p>
            {info.connectionHistory.map((h) => `${time(h.at)} ${h.state}`).join(" · ")}
            {info.nextRetryAt !== null && ` · next attempt at ${time(info.nextRetryAt)} (attempt ${info.reconnectAttempts + 1})`}
          </p>
        </>
      )}
    </aside>
  );
}
