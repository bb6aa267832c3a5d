import type { AYB } from "./client.js";

/** Options of `records.list`, in the server's query language. */
export interface ListOptions {
  /** e.g. `done = false && (title ~ 'milk' || priority > 2)` */
  filter?: string;
  /** Comma-separated columns, `-` for descending: `-created_at,id`. */
  sort?: string;
  /** Comma-separated columns to return. */
  fields?: string;
  /** Foreign-key relations to embed: `author,comments`. */
  expand?: string;
  /** Most rows of a one-to-many expand (server default 100). */
  expandLimit?: number;
  /** Full-text search. */
  search?: string;
  page?: number;
  perPage?: number;
  /** Skip the count: `totalItems` and `totalPages` come back as -1. */
  skipTotal?: boolean;
  /** The `after` cursor of the previous page (keyset pagination). */
  after?: string;
  signal?: AbortSignal;
}

/** One page of `records.list`. */
export interface ListResult<T> {
  page: number;
  perPage: number;
  totalItems: number;
  totalPages: number;
  items: T[];
  /** Pass as `after` for the next page; null on the last. */
  after: string | null;
}

export interface GetOptions {
  fields?: string;
  expand?: string;
  expandLimit?: number;
  signal?: AbortSignal;
}

export interface WriteOptions {
  /** Ask for no row back (`Prefer: return=minimal`); the call returns undefined. */
  returnMinimal?: boolean;
  signal?: AbortSignal;
}

export interface CreateOptions extends WriteOptions {
  /** Upsert on these columns (comma-separated), e.g. `email`. */
  onConflict?: string;
  /** With `onConflict`: keep the existing row instead of updating it. */
  ignoreDuplicates?: boolean;
}

/** One operation of `records.batch`. */
export type BatchOperation =
  | { method: "create"; body: Record<string, unknown> }
  | { method: "update"; id: string | number; body: Record<string, unknown> }
  | { method: "delete"; id: string | number };

/** The result of one batch operation, in order. */
export interface BatchResult<T> {
  index: number;
  status: number;
  body: T | null;
}

/** Composite keys are passed as an array, in key order. */
export type RecordID = string | number | Array<string | number>;

/** CRUD over a table or view: `/api/collections/{table}`. */
export class RecordService {
  constructor(private readonly client: AYB) {}

  list<T = Record<string, unknown>>(table: string, opts: ListOptions = {}): Promise<ListResult<T>> {
    const { signal, ...q } = opts;
    return this.client.send<ListResult<T>>("GET", collection(table), { query: { ...q }, signal });
  }

  /** Every row matching opts, following the `after` cursor page by page. */
  async *iterate<T = Record<string, unknown>>(table: string, opts: Omit<ListOptions, "page" | "after"> = {}): AsyncGenerator<T> {
    let after: string | undefined;
    for (;;) {
      const page = await this.list<T>(table, { ...opts, skipTotal: true, after });
      yield* page.items;
      if (!page.after || page.items.length === 0) return;
      after = page.after;
    }
  }

  get<T = Record<string, unknown>>(table: string, id: RecordID, opts: GetOptions = {}): Promise<T> {
    const { signal, ...q } = opts;
    return this.client.send<T>("GET", collection(table) + "/" + key(id), { query: { ...q }, signal });
  }

  create<T = Record<string, unknown>>(table: string, body: Record<string, unknown>, opts: CreateOptions = {}): Promise<T> {
    const headers: Record<string, string> = {};
    const prefer = [];
    if (opts.returnMinimal) prefer.push("return=minimal");
    if (opts.ignoreDuplicates) prefer.push("resolution=ignore-duplicates");
    if (prefer.length) headers.Prefer = prefer.join(", ");
    return this.client.send<T>("POST", collection(table), {
      body, headers, query: { onConflict: opts.onConflict }, signal: opts.signal,
    });
  }

  /** A partial update: only the keys in body change. */
  update<T = Record<string, unknown>>(table: string, id: RecordID, body: Record<string, unknown>, opts: WriteOptions = {}): Promise<T> {
    return this.client.send<T>("PATCH", collection(table) + "/" + key(id), {
      body, headers: opts.returnMinimal ? { Prefer: "return=minimal" } : {}, signal: opts.signal,
    });
  }

  delete(table: string, id: RecordID, opts: { signal?: AbortSignal } = {}): Promise<void> {
    return this.client.send<void>("DELETE", collection(table) + "/" + key(id), { signal: opts.signal });
  }

  /** Up to 1,000 creates, updates and deletes in one transaction: all or none. */
  async batch<T = Record<string, unknown>>(table: string, operations: BatchOperation[], opts: { signal?: AbortSignal } = {}): Promise<BatchResult<T>[]> {
    const ops = operations.map((o) => ("id" in o ? { ...o, id: key(o.id, false) } : o));
    return this.client.send<BatchResult<T>[]>(
      "POST", collection(table) + "/batch", { body: { operations: ops }, signal: opts.signal });
  }
}

function collection(table: string): string {
  return "/api/collections/" + encodeURIComponent(table);
}

/** A key as the server reads it: composite parts comma-separated, in key
 * order; each part URL-escaped for a path, plain for a batch body. */
function key(id: RecordID, forPath = true): string {
  const parts = Array.isArray(id) ? id.map(String) : [String(id)];
  return (forPath ? parts.map(encodeURIComponent) : parts).join(",");
}
