import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { room, serverUrl } from "./config";
import { schemaHash } from "./generated/schema";
import { SyncProvider } from "./roomsync";
import "./style.css";

const root = document.getElementById("root");
if (root) {
  createRoot(root).render(
    <StrictMode>
      <SyncProvider url={serverUrl} room={room} schemaHash={schemaHash}>
        <App room={room} />
      </SyncProvider>
    </StrictMode>,
  );
}
