// IndexedDB through Dexie: one database per signed-in user, so a shared phone never shows one
// inspector's unsent records to another, and signing out keeps them for when that user returns.
import Dexie, { type Table } from "dexie";

export type SyncState = "pending" | "syncing" | "synced" | "conflict" | "rejected";

export interface Rec {
  key: string; // `${entity}:${id}`
  entity: string;
  id: string;
  visit_id?: string; // answers: their visit (index)
  version: number | null; // the server's version (null: made here, not acknowledged yet)
  server: any | null; // the server's copy as last seen
  local: any; // what the user sees: the server copy plus local edits
  /** The server version what the user sees rests on: the server copy's while no edit of the device is
   * waiting, else the one the waiting edit was made on (null: unknown, the server then calls a
   * difference a conflict). A pull never moves it past the user's waiting edit. */
  base?: number | null;
  /** The mutation carrying the device's edit that `local` shows (null once the server copy is shown). */
  edit?: string | null;
  state: SyncState;
  reason: string | null;
  deleted: 0 | 1;
  /** `by`: the user who made the conflict, when another user (a colleague on the visit) did: its client values
   * are that user's, not this one's. `moved`: the record changed on the server after the conflict was
   * recorded, and `server` holds its values at `version`, the version a choice is now made against.
   * `superseded`: a later change of this device to every contested field was applied (settled at the next sync).
   * `chosen`: the user's settlement not yet taken by the server (made offline, or its answer lost): the body
   * `SyncCore.resolve` sends, and the server's values it was made on (`shown`), kept here so that a reload
   * keeps it; the next sync sends it (`sendChoices`).
   * `refused`: why the server refused the last settlement sent (the error's text), until the user chooses again. */
  conflict?: { id: string; fields: Record<string, { base: any; server: any; client: any }>; by?: string;
    version?: number; moved?: boolean; superseded?: boolean;
    chosen?: { fields: Record<string, { take: "server" | "client" | "custom"; value?: any }>; version?: number;
      shown?: Record<string, any> };
    refused?: string } | null;
}

export interface OutboxRow {
  seq?: number;
  mutation_id: string;
  entity: string;
  id: string;
  op: "create" | "update" | "delete";
  base_version: number | null;
  fields: Record<string, any>;
  state: "pending" | "syncing" | "done";
  attempts: number; // > 0: it was sent once and is immutable from then on
  barrier?: boolean; // a visit's submission: sent on its own, after everything queued before it
  /** Made on top of an earlier mutation of the same record still unanswered: its base is the version
   * that mutation's answer gives (set when the answer arrives; it is not sent before). */
  base_prior?: boolean;
  result?: any;
}

export interface PhotoRow {
  seq?: number;
  id: string;
  visit_id?: string;
  blob: Blob;
  size: number;
  decl: Record<string, any>;
  state: SyncState;
  reason: string | null;
  progress: number; // 0..1 of the bytes the server has
  server_status?: string; // uploading / received / processed / rejected (from the server)
}

export interface Meta { key: string; value: any }

export class FieldDB extends Dexie {
  records!: Table<Rec, string>;
  outbox!: Table<OutboxRow, number>;
  photos!: Table<PhotoRow, number>;
  meta!: Table<Meta, string>;

  constructor(name: string) {
    super(name);
    this.version(1).stores({
      records: "key, entity, state, visit_id",
      outbox: "++seq, &mutation_id, [entity+id], state",
      photos: "++seq, &id, state, visit_id",
      meta: "key",
    });
  }
}

export const recKey = (entity: string, id: string) => `${entity}:${id}`;

/** The database of one user (created on first use). */
export function openUserDB(userId: string): FieldDB {
  return new FieldDB(`field-${userId}`);
}
