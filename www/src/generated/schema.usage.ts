// Type-checked by `tsc -p www` in the test suite: the generated schema types must accept
// what the reference app writes and refuse what it must not.
import type { Doc, Id, Insert, Patch, TableName } from "./schema";
import { schemaHash, tableNames } from "./schema";

declare const userId: Id<"users">;
declare const beneficiaryId: Id<"beneficiaries">;

export const newDonation: Insert<"donations"> = {
  donor_name: "Ayşe Yılmaz",
  donor_phone: "+90 555 000 00 00",
  amount: 250,
  currency: "TRY",
  donation_type: "cash",
  payment_method: "bank_transfer",
  donation_purpose: "Ramazan kolisi",
  receipt_number: "R-2026-0001",
  status: "pending",
  location_coordinates: { lat: 39.92, lng: 32.85 },
};

export const newTask: Insert<"tasks"> = {
  title: "Koli dağıtımı",
  created_by: userId,
  assigned_to: userId,
  priority: "high",
  status: "pending",
  is_read: false,
};

export const approve: Patch<"donations"> = { status: "approved" };

export function beneficiaryLabel(b: Doc<"beneficiaries">): string {
  const id: Id<"beneficiaries"> = b._id;
  const created: number = b._creationTime;
  return `${b.name} (${b.tc_no}) ${id} ${created}`;
}

export const names: readonly TableName[] = tableNames;
export const hash: string = schemaHash;

// @ts-expect-error — "GBP" is not one of the donation currencies.
export const wrongCurrency: Patch<"donations"> = { currency: "GBP" };

// @ts-expect-error — an id of another table is not a user id.
export const wrongTable: Insert<"tasks"> = { ...newTask, created_by: beneficiaryId };

// @ts-expect-error — a required field (title) is missing.
export const missingTitle: Insert<"tasks"> = { created_by: userId, priority: "low", status: "pending", is_read: false };

// @ts-expect-error — unknown fields are refused.
export const unknownField: Patch<"tasks"> = { titel: "typo" };

// @ts-expect-error — nested objects are typed too.
export const badCoordinates: Patch<"donations"> = { location_coordinates: { lat: "north", lng: 1 } };

// @ts-expect-error — TC numbers are restricted to managers: a document may come without one.
export const tcAlwaysThere = (b: Doc<"beneficiaries">): string => b.tc_no;
