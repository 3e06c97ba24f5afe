import { useState } from "react";
import type { Doc } from "./generated/schema";
import type { Role } from "./demoAuth";
import { useMutation, useOffsetQuery, useSyncContext } from "@roomsync/react";

type Beneficiary = Doc<"beneficiaries">;

const PAGE_SIZE = 5;

const SAMPLES = [
  { name: "Ayşe Yılmaz", city: "Ankara", district: "Çankaya" },
  { name: "İsmail Şahin", city: "İstanbul", district: "Şişli" },
  { name: "Fatma Demir", city: "İzmir", district: "Konak" },
];

/** A random 11-digit TC number (the samples must not collide with earlier ones). */
const randomTc = () => String(10_000_000_000 + Math.floor(Math.random() * 89_999_999_999));

/**
 * Beneficiaries: a live offset page with its total and a Turkish-aware search. TC numbers are
 * returned to managers and admins only: for other roles the room sends the documents without
 * them, and the column says so.
 */
export function Beneficiaries({ role }: { role: Role }) {
  // A role writes only fields it reads: registering a person sets the TC number.
  const mayRegister = role === "manager" || role === "admin";
  const { status } = useSyncContext();
  const [search, setSearch] = useState("");
  const { documents, total, page, pageCount, setPage } = useOffsetQuery<Beneficiary>(
    "beneficiaries:list",
    status === "ready" ? (search.trim() ? { search } : {}) : "skip",
    { pageSize: PAGE_SIZE },
  );
  const create = useMutation<Record<string, unknown>>("beneficiaries:create");
  const [error, setError] = useState<string | null>(null);

  async function addSamples() {
    setError(null);
    try {
      for (const sample of SAMPLES) {
        await create({
          ...sample,
          tc_no: randomTc(),
          phone: "0555 000 00 00",
          address: `${sample.district} Mah. 1`,
          neighborhood: "Merkez",
          family_size: 4,
          status: "AKTIF",
        });
      }
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  }

  if (status !== "ready") return null;
  return (
    <section className="beneficiaries" aria-label="Beneficiaries">
      <h2>
        Beneficiaries <span className="count" data-testid="beneficiary-total">{total}</span>
      </h2>
      <div className="toolbar">
        <input aria-label="Search beneficiaries" placeholder="Search names (e.g. ismail, AYSE)…" value={search} onChange={(e) => setSearch(e.target.value)} />
        <button
          type="button"
          onClick={() => void addSamples()}
          disabled={!mayRegister}
          title={mayRegister ? undefined : "Only managers and admins register people: it sets their TC number"}
        >
          Add sample beneficiaries
        </button>
        {!mayRegister && <span className="hint">Only managers and admins register people (TC numbers).</span>}
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <table>
        <thead>
          <tr>
            <th>Name</th>
            <th>City</th>
            <th>TC number</th>
          </tr>
        </thead>
        <tbody>
          {documents.map((b) => (
            <tr key={b._id} data-testid="beneficiary">
              <td>{b.name}</td>
              <td>
                {b.district}, {b.city}
              </td>
              <td className="tc">{b.tc_no ?? <span title="Only managers and admins see TC numbers">hidden</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="pager">
        <button type="button" disabled={page === 0} onClick={() => setPage(page - 1)}>
          ‹ Previous
        </button>
        <span data-testid="beneficiary-page">
          Page {page + 1} of {pageCount}
        </span>
        <button type="button" disabled={page + 1 >= pageCount} onClick={() => setPage(page + 1)}>
          Next ›
        </button>
      </div>
    </section>
  );
}
