// What the caller may do, so that pages show only the actions the server would allow
// (GET /api/v1/permissions/effective: the same level and scope checks as the requests).
// The server still checks every request: hiding a button is for the user, not for safety.
//
// One request answers a whole page of objects (object=... repeated), and answers are kept
// for a short while, so a list page asks once for all its rows and moving between pages
// does not ask again.
import { useEffect, useState } from "preact/hooks";
import { call } from "./api";

export type Kind = "experiment" | "registered_model" | "dataset" | "deployment";
export type Can = { read: boolean; use: boolean; edit: boolean; manage: boolean };
type Answer = {
  auth: boolean;
  admin: boolean;
  scopes: string[];
  create: Partial<Record<Kind, boolean>>;
  objects: Record<string, { permission: string; can: Can }>;
};

/** Nothing allowed: what a page assumes until the answer arrives (actions appear, never vanish). */
export const NOTHING: Can = { read: false, use: false, edit: false, manage: false };

const KEEP_MS = 15_000;
const BATCH = 500; // the server's cap per request
type Entry = { at: number; permission: string; can: Can };
const objects = new Map<string, Entry>(); // kind + "\0" + id
let creating: { at: number; create: Answer["create"] } | null = null;

const key = (kind: Kind, id: string) => kind + "\0" + id;
const fresh = (at: number) => Date.now() - at < KEEP_MS;

async function ask(kind: Kind, ids: string[]): Promise<void> {
  const missing = ids.filter((id) => !fresh(objects.get(key(kind, id))?.at ?? 0));
  const needCreate = !creating || !fresh(creating.at);
  if (!missing.length && !needCreate) return;
  const batches: string[][] = [];
  for (let i = 0; i < missing.length; i += BATCH) batches.push(missing.slice(i, i + BATCH));
  if (!batches.length) batches.push([]);
  await Promise.all(batches.map(async (batch) => {
    const q = new URLSearchParams();
    if (batch.length) q.set("kind", kind);
    for (const id of batch) q.append("object", id);
    const a = await call<Answer>("/api/v1/permissions/effective" + (batch.length ? "?" + q : ""));
    const at = Date.now();
    creating = { at, create: a.create };
    for (const [id, o] of Object.entries(a.objects ?? {})) objects.set(key(kind, id), { at, permission: o.permission, can: o.can });
  }));
}

const askers = new Set<() => void>();

/** Asks again, after an action that changes who may do what (a creation, a deletion): the
 * pages in view renew their answers. */
export function forget() {
  for (const e of objects.values()) e.at = 0; // still shown until the new answer: no flicker
  if (creating) creating.at = 0;
  for (const again of askers) again();
}

export type Permissions = {
  /** Whether the answer has arrived. */
  ready: boolean;
  /** Whether the caller may create an object of the kind. */
  create: boolean;
  /** What the caller may do with one of the objects asked about. */
  on: (id: string) => Can;
  /** The object's level (READ, USE, EDIT, MANAGE, NO_PERMISSIONS or DENY). */
  level: (id: string) => string;
};

/** The caller's permissions on the objects ids of kind (one request for all), and whether it may create one. */
export function useCan(kind: Kind, ids: string[] = []): Permissions {
  const [version, setVersion] = useState(0);
  const [generation, setGeneration] = useState(0);
  const [ready, setReady] = useState(false);
  const asked = ids.join("\0");
  useEffect(() => {
    const again = () => setGeneration((g) => g + 1);
    askers.add(again);
    return () => void askers.delete(again);
  }, []);
  useEffect(() => {
    let live = true;
    ask(kind, ids).then(
      () => live && (setReady(true), setVersion((v) => v + 1)),
      () => live && setReady(true), // a refusal or an outage: show nothing more than before
    );
    return () => {
      live = false;
    };
  }, [kind, asked, generation]);
  void version;
  return {
    ready,
    create: ready && !!creating?.create[kind],
    on: (id) => objects.get(key(kind, id))?.can ?? NOTHING,
    level: (id) => objects.get(key(kind, id))?.permission ?? "",
  };
}
