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

    // A patch in A reaches B — also B's live count through the TanStack Query adapter.
    await b.page.getByTestId("pending-summary").filter({ hasText: /^0 pending$/ }).waitFor(WAIT);
    await a.page.getByLabel("Status of Deliver food parcels — Çankaya").selectOption("pending");
    await b.page.getByTestId("pending-summary").filter({ hasText: /^1 pending$/ }).waitFor(WAIT);
    await a.page.getByLabel("Status of Deliver food parcels — Çankaya").selectOption("completed");
    await b.page.getByTestId("pending-summary").filter({ hasText: /^0 pending$/ }).waitFor(WAIT);
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

test("a room out of reach is said in a banner, not an endless loading line", async () => {
  // Nothing listens on port 1: every connection attempt is refused.
  const a = await openPanel({ server: "http://127.0.0.1:1", room: uniqueRoom("panel-unreachable") });
  try {
    const banner = a.page.getByTestId("unreachable");
    await banner.waitFor(WAIT);
    assert.match(await banner.innerText(), /cannot be reached right now; retrying/);
    await a.page.getByTestId("tasks-waiting").waitFor(WAIT);
    assert.equal(await a.page.getByTestId("tasks-loading").count(), 0);
    assert.deepEqual(a.errors, []);
  } finally {
    await a.close();
  }
});

test("roles: a viewer is told it cannot write, and switching to a member on the live socket can", async () => {
  const room = uniqueRoom("panel-roles");
  const a = await openPanel({ server: workerUrl(), room, role: "viewer" });
  try {
    await a.page.getByTestId("tasks-empty").waitFor(WAIT);
    // The form is disabled for a viewer, and says why.
    assert.equal(await a.page.getByRole("button", { name: "Add task" }).isDisabled(), true);
    assert.equal(await a.page.getByLabel("Title").isDisabled(), true);
    assert.match(await a.page.getByTestId("read-only").innerText(), /Viewers can read tasks but not change them/);
    // A write sent anyway (through the client) is refused with the reason.
    const refusal = await a.page.evaluate(() =>
      window.__ROOMSYNC__.client
        .mutation("tasks:create", { title: "Viewer's task", status: "pending", priority: "normal", created_by: null })
        .then(() => "accepted", (e) => e.message),
    );
    assert.match(refusal, /allowed to the roles member, manager, admin only; you are signed in as viewer/);
    // The refused write is not "saved": the header lists it until it is discarded.
    const failed = a.page.getByTestId("failed-writes");
    await failed.filter({ hasText: "1 change could not be saved" }).waitFor(WAIT);
    assert.equal(await a.page.getByTestId("saved-state").filter({ hasText: "All changes saved" }).count(), 0);
    await failed.locator("summary").click();
    assert.match(await failed.innerText(), /tasks:create: .*signed in as viewer/);
    await failed.getByRole("button", { name: "Discard" }).click();
    await a.page.getByTestId("saved-state").filter({ hasText: "All changes saved" }).waitFor(WAIT);
    await a.page.getByLabel("Role").selectOption("member");
    // The same socket re-authenticates; the form becomes usable once the member's user exists.
    await a.page.getByRole("button", { name: "Add task" }).and(a.page.locator(":enabled")).waitFor(WAIT);
    await a.page.getByLabel("Title").fill("Member's task");
    await a.page.getByRole("button", { name: "Add task" }).click();
    // `.first()`: for a few ms the writer's row can show twice, predicted and from the room
    // (a known fault of the panel, open in issue 15); this test is about roles.
    await a.page.getByTestId("task").filter({ hasText: "Member's task" }).first().waitFor(WAIT);
    await a.page.getByTestId("saved-state").filter({ hasText: "All changes saved" }).waitFor(WAIT).catch(async (e) => {
      console.error("SAVED:", await a.page.getByTestId("saved-state").innerText());
      console.error("CLIENT:", JSON.stringify(await a.page.evaluate(() => { const c = window.__ROOMSYNC__?.client; return c && { failed: c.failedMutations, pending: c.pendingMutations, d: c.debug().auth }; })));
      throw e;
    });
    // Back to a viewer: the row's controls are disabled with the reason, not reverted later.
    await a.page.getByLabel("Role").selectOption("viewer");
    const status = a.page.getByLabel("Status of Member's task").first();
    await a.page.waitForFunction(
      () => document.querySelector('select[aria-label="Status of Member\'s task"]')?.disabled === true,
      null,
      WAIT,
    );
    assert.equal(await status.getAttribute("title"), "Viewers can read tasks but not change them");
    assert.equal(await a.page.getByRole("button", { name: "Delete Member's task" }).first().isDisabled(), true);
    assert.deepEqual(a.errors, []);
  } finally {
    await a.close();
  }
});

test("typing the next title while the last one is saved loses nothing", async () => {
  const room = uniqueRoom("panel-typing");
  const a = await openPanel({ server: workerUrl(), room, role: "member" });
  try {
    await a.page.getByTestId("tasks-empty").waitFor(WAIT);
    await a.page.getByRole("button", { name: "Add task" }).and(a.page.locator(":enabled")).waitFor(WAIT);
    const titles = ["Call the donor", "Pack 40 parcels", "Visit Şişli office", "Book the hall"];
    await a.page.getByLabel("Title").click();
    // 15 ms a key, Enter after each: the next title is typed while the last is on its way.
    for (const title of titles) {
      await a.page.keyboard.type(title, { delay: 15 });
      await a.page.keyboard.press("Enter");
    }
    for (const title of titles) {
      await a.page.getByTestId("task").filter({ hasText: title }).first().waitFor(WAIT);
    }
    await a.page.getByTestId("saved-state").filter({ hasText: "All changes saved" }).waitFor(WAIT);
    const shown = await a.page.locator('[data-testid="task"] .task-title').allInnerTexts();
    assert.deepEqual([...new Set(shown)].sort(), [...titles].sort(), "each title exactly as typed, none merged");
    assert.equal(await a.page.getByLabel("Title").inputValue(), "", "only what was submitted was cleared");
    assert.equal(await a.page.evaluate(() => document.activeElement?.getAttribute("aria-label")), "Title");
    assert.deepEqual(a.errors, []);
  } finally {
    await a.close();
  }
});

test("long lists load page by page, live, and devtools show the subscriptions", async () => {
  const room = uniqueRoom("panel-pages");
  // Seed 25 tasks through the HTTP route with a development token.
  const http = workerUrl().replace(/^ws/, "http");
  const tokenReply = await fetch(`${http}/rooms/${room}/dev-token`, {
    method: "POST",
    body: JSON.stringify({ sub: "seeder", role: "admin" }),
  });
  const { token } = await tokenReply.json();
  const call = async (udfPath, args) => {
    const reply = await fetch(`${http}/rooms/${room}/mutation`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ udfPath, args }),
    });
    assert.equal(reply.status, 200, await reply.clone().text());
    return (await reply.json()).result;
  };
  const user = await call("users:ensure", { name: "Seeder", email: "seed@x", role: "admin" });
  for (let i = 1; i <= 25; i++) await call("tasks:create", { title: `Seeded ${String(i).padStart(2, "0")}`, created_by: user });

  const a = await openPanel({ server: workerUrl(), room });
  try {
    await a.page.getByTestId("task").first().waitFor(WAIT);
    assert.equal(await a.page.getByTestId("task").count(), 20, "the first page holds 20");
    await a.page.getByRole("button", { name: "Load more" }).click();
    await a.page.getByTestId("task").filter({ hasText: "Seeded 01" }).waitFor(WAIT);
    assert.equal(await a.page.getByTestId("task").count(), 25);
    // A new task lands on the first page at once; nothing falls between pages.
    await call("tasks:create", { title: "Seeded 26", created_by: user });
    await a.page.getByTestId("task").filter({ hasText: "Seeded 26" }).waitFor(WAIT);
    assert.equal(await a.page.getByTestId("task").count(), 26);
    await a.page.getByRole("button", { name: "Roomsync devtools" }).click();
    const table = a.page.getByTestId("devtools-subscriptions");
    await table.filter({ hasText: "tasks:page" }).waitFor(WAIT);
    const debug = await a.page.evaluate(() => window.__ROOMSYNC__.client.debug());
    assert.ok(debug.subscriptions.filter((s) => s.udfPath === "tasks:page").length === 2, JSON.stringify(debug.subscriptions));
    assert.ok(debug.frames.some((f) => f.direction === "in" && f.preview.includes("transition")));
    assert.equal(debug.outbox.length, 0);
    assert.deepEqual(a.errors, []);
  } finally {
    await a.close();
  }
});

test("beneficiaries: a live offset page with its total, Turkish search, and TC numbers only for managers", async () => {
  const room = uniqueRoom("panel-beneficiaries");
  const a = await openPanel({ server: workerUrl(), room, role: "manager" });
  const b = await openPanel({ server: workerUrl(), room, role: "member" });
  try {
    await a.page.getByTestId("beneficiary-total").filter({ hasText: /^0$/ }).waitFor(WAIT);
    await a.page.getByRole("button", { name: "Add sample beneficiaries" }).click();
    await a.page.getByTestId("beneficiary-total").filter({ hasText: /^3$/ }).waitFor(WAIT);
    await a.page.getByRole("button", { name: "Add sample beneficiaries" }).click();
    // Page B (a member) follows live: 6 in all, 5 per page, numbers hidden.
    await b.page.getByTestId("beneficiary-total").filter({ hasText: /^6$/ }).waitFor(WAIT);
    assert.equal(await b.page.getByTestId("beneficiary-page").innerText(), "Page 1 of 2");
    await b.page.waitForFunction(() => document.querySelectorAll('[data-testid="beneficiary"]').length === 5, null, WAIT);
    assert.equal(await b.page.locator("td.tc").first().innerText(), "hidden");
    await b.page.getByRole("button", { name: "Next ›" }).click();
    await b.page.getByTestId("beneficiary-page").filter({ hasText: "Page 2 of 2" }).waitFor(WAIT);
    // The first page stays on screen until the second arrives (no flash), then one row.
    await b.page.waitForFunction(() => document.querySelectorAll('[data-testid="beneficiary"]').length === 1, null, WAIT);
    // The manager sees the numbers, and searches the Turkish way ("ismail" finds "İsmail").
    assert.match(await a.page.locator("td.tc").first().innerText(), /^\d{11}$/);
    await a.page.getByLabel("Search beneficiaries").fill("ismail");
    await a.page.getByTestId("beneficiary-total").filter({ hasText: /^2$/ }).waitFor(WAIT);
    await a.page.waitForFunction(() => document.querySelectorAll('[data-testid="beneficiary"]').length === 2, null, WAIT);
    const names = await a.page.getByTestId("beneficiary").locator("td:first-child").allInnerTexts();
    assert.deepEqual(names, ["İsmail Şahin", "İsmail Şahin"]);
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  } finally {
    await a.close();
    await b.close();
  }
});

test("automatic optimistic updates: tasks:create's own code shows the task at once in the list and the first page", async () => {
  const room = uniqueRoom("panel-auto");
  const a = await openPanel({ server: workerUrl(), room, role: "manager" });
  const b = await openPanel({ server: workerUrl(), room, role: "manager" });
  try {
    await a.page.getByTestId("connection-state").filter({ hasText: /^Connected$/ }).waitFor(WAIT);
    const seen = await a.page.evaluate(async () => {
      const { client, loadPredictor, automaticUpdate } = window.__ROOMSYNC__;
      const predictor = await loadPredictor();
      const user = await client.mutation("users:ensure", { name: "Ayşe", email: "auto@example.org", role: "admin" });
      for (const title of ["first", "second", "third"]) await client.mutation("tasks:create", { title, created_by: user });
      let list, page;
      const stopList = client.subscribe("tasks:list", {}, (v) => (list = v));
      const stopPage = client.subscribe("tasks:page", { paginationOpts: { numItems: 3, cursor: null } }, (v) => (page = v));
      for (let i = 0; i < 400 && (list?.length !== 3 || page === undefined); i++) await new Promise((r) => setTimeout(r, 25));
      const args = { title: "Predicted", created_by: user };
      const answered = client.mutation("tasks:create", args, { optimisticUpdate: automaticUpdate(predictor, "tasks:create", args) });
      // Same tick as the call: the room cannot have answered yet.
      const atOnce = { list: list.map((t) => t.title), page: page.page.map((t) => t.title) };
      const id = await answered;
      const fromRoom = { list: list.map((t) => t.title), page: page.page.map((t) => t.title), hasRealId: list[0]._id === id };
      // A mutation the predictor refuses (empty title) shows nothing and fails as usual.
      const bad = { title: " ", created_by: user };
      const refused = client.mutation("tasks:create", bad, { optimisticUpdate: automaticUpdate(predictor, "tasks:create", bad) });
      const afterRefused = list.length;
      const error = await refused.then(() => null, (e) => e.code);
      stopList();
      stopPage();
      return { atOnce, fromRoom, afterRefused, error };
    });
    // The live page keeps the end of its first run, so it grows by the new task (as the room's does).
    const shown = ["Predicted", "third", "second", "first"];
    assert.deepEqual(seen.atOnce, { list: shown, page: shown });
    assert.deepEqual(seen.fromRoom, { list: shown, page: shown, hasRealId: true });
    assert.equal(seen.afterRefused, 4);
    assert.equal(seen.error, "VALIDATION");
    // The form uses `optimisticUpdate: "auto"`: a task added in page B shows in page A too.
    await b.page.getByLabel("Title").fill("From the form");
    await b.page.getByRole("button", { name: "Add task" }).click();
    await a.page.getByText("From the form").waitFor(WAIT);
    assert.deepEqual(a.errors, []);
    assert.deepEqual(b.errors, []);
  } finally {
    await a.close();
    await b.close();
  }
});
