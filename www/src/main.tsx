import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode, useMemo, useState, type ReactNode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { room, serverUrl, initialRole } from "./config";
import { demoFetchToken, type Role } from "./demoAuth";
import { schemaHash } from "./generated/schema";
import { SyncProvider } from "@roomsync/react";
import { predictor } from "@roomsync/react/optimistic";
import { useRoomsyncTanstack } from "@roomsync/react/tanstack";
import "./style.css";

// The demo also shows the TanStack Query adapter (the task summary in the header).
const queryClient = new QueryClient();

function TanstackBridge({ children }: { children: ReactNode }) {
  useRoomsyncTanstack(queryClient);
  return <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>;
}

function Root() {
  const [role, setRole] = useState<Role>(initialRole);
  // One token source per role: switching roles re-authenticates the live connection.
  const fetchToken = useMemo(() => (serverUrl ? demoFetchToken(serverUrl, room, role) : undefined), [role]);
  return (
    <SyncProvider url={serverUrl} room={room} schemaHash={schemaHash} fetchToken={fetchToken} predictor={predictor}>
      <TanstackBridge>
        <App room={room} role={role} onRoleChange={setRole} />
      </TanstackBridge>
    </SyncProvider>
  );
}

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <Root />
    </StrictMode>,
  );
}
