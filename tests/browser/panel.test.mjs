// The demo panel end to end: two pages of the built React app stay in sync through the
// real worker, and the panel still renders when realtime is off.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launchChromium, startPreview, uniqueRoom, workerUrl } from "./harness.mjs";

const WAIT = { timeout: 15_000 };
let browser;
let site;

before(async () => {
  site = await startPreview();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await site?.close();
});

async function openPanel(query) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e));
  // Kept for failure reports: what the client logged (resyncs, refused frames).
  page.on("console", (m) => process.env.ROOMSYNC_TEST_VERBOSE && console.error(`[page ${m.type()}] ${m.text()}`));
  await page.goto(`${site.url}/?${new URLSearchParams(query)}`);
  return { page, errors, close: () => context.close() };
}

test("a task added, changed and deleted in page A shows in page B without reload", async () => {
  const room = uniqueRoom("panel");
  const a = await openPanel({ server: workerUrl(), room });
  const b = await openPanel({ server: workerUrl(), room });
  try {
    for (const { page } of [a, b]) {
      await page.getByTestId("connection-state").filter({ hasText: /^Connected$/ }).waitFor(WAIT);
      await page.getByTestId("tasks-empty").waitFor(WAIT);
    }
    await a.page.getByLabel("Title").fill("Deliver food parcels — Çankaya");
    await a.page.getByLabel("Priority").selectOption("high");
    await a.page.getByLabel("Status", { exact: true }).selectOption("in_progress");
    await a.page.getByRole("button", { name: "Add task" }).click();

    const task = b.page.getByTestId("task").filter({ hasText: "Deliver food parcels — Çankaya" });
    await task.waitFor(WAIT);
    assert.match(await task.innerText(), /High/);
    const statusInB = b.page.getByLabel("Status of Deliver food parcels — Çankaya");
    assert.equal(await statusInB.inputValue(), "in_progress");
    // The writer's own page shows it too, and its form was cleared after the write.
    await a.page.getByTestId("task").filter({ hasText: "Deliver food parcels" }).waitFor(WAIT);
    assert.equal(await a.page.getByLabel("Title").inputValue(), "");

    // A patch in A reaches B.
    await a.page.getByLabel("Status of Deliver food parcels — Çankaya").selectOption("completed");
    await b.page.waitForFunction(
      () => document.querySelector('select[aria-label="Status of Deliver food parcels — Çankaya"]')?.value === "completed",
      null,
      WAIT,
    );
    // A delete in A reaches B.
    await a.page.getByRole("button", { name: "Delete Deliver food parcels — Çankaya" }).click();
    await b.page.getByTestId("tasks-empty").waitFor(WAIT);
    assert.deepEqual([...a.errors, ...b.errors], []);
  } finally {
    await a.close();
    await b.close();
  }
});

test("an invalid task shows the server's validation message", async () => {
  const room = uniqueRoom("panel-invalid");
  const a = await openPanel({ server: workerUrl(), room });
  try {
    await a.page.getByTestId("connection-state").filter({ hasText: /^Connected$/ }).waitFor(WAIT);
    await a.page.getByRole("button", { name: "Add task" }).click();
    const alert = a.page.getByRole("alert");
    await alert.waitFor(WAIT).catch(async (e) => {
      console.error("PAGE TEXT:", await a.page.evaluate(() => document.body.innerText));
      console.error("BUTTON DISABLED:", await a.page.getByRole("button", { name: "Add task" }).isDisabled());
      console.error("CLIENT:", await a.page.evaluate(() => {
        const c = window.__ROOMSYNC__?.client;
        return c && { state: c.connectionState, pending: c.pendingMutations, attempts: c.reconnectAttempts };
      }));
      throw e;
    });
    assert.equal(await alert.innerText(), "tasks.title: expected a non-empty string, found an empty string");
  } finally {
    await a.close();
  }
});

test("with no server configured the panel still renders", async () => {
  const a = await openPanel({ server: "", room: "x" });
  try {
    await a.page.getByTestId("tasks-offline").waitFor(WAIT);
    assert.equal(await a.page.getByTestId("connection-state").innerText(), "Realtime off");
    await a.page.getByLabel("Title").fill("x");
    await a.page.getByRole("button", { name: "Add task" }).click();
    assert.match(await a.page.getByRole("alert").innerText(), /not connected/);
    assert.deepEqual(a.errors, []);
  } finally {
    await a.close();
  }
});
