import { StrictMode, useMemo, useState } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { room, serverUrl, initialRole } from "./config";
import { demoFetchToken, type Role } from "./demoAuth";
import { schemaHash } from "./generated/schema";
import { SyncProvider } from "./roomsync";
import "./style.css";

function Root() {
  const [role, setRole] = useState<Role>(initialRole);
  // One token source per role: switching roles re-authenticates the live connection.
  const fetchToken = useMemo(() => (serverUrl ? demoFetchToken(serverUrl, room, role) : undefined), [role]);
  return (
    <SyncProvider url={serverUrl} room={room} schemaHash={schemaHash} fetchToken={fetchToken}>
      <App room={room} role={role} onRoleChange={setRole} />
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
