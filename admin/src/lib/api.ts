// The one typed client every screen uses: same-origin requests to core-api's /api/v1, the
// session cookie sent by the browser, the session's CSRF token on every write, ETags for
// If-Match, and RFC 9457 problems turned into ApiError (with the fields they name).

export interface FieldProblem {
  path: string;
  code: string;
  message: string;
  entity?: string;
  environment?: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  errors?: FieldProblem[];
}

export class ApiError extends Error {
  readonly status: number;
  readonly problem: Problem;
  /** The current ETag a 412 answer carries. */
  readonly currentEtag?: string;
  /** Seconds a 429 asks to wait. */
  readonly retryAfter?: number;

  constructor(problem: Problem, currentEtag?: string, retryAfter?: number) {
    super(problem.detail ?? problem.title);
    this.status = problem.status;
    this.problem = problem;
    this.currentEtag = currentEtag;
    this.retryAfter = retryAfter;
  }

  /** The messages of the problems at `path` or below it (`variants` covers `variants[1].weight`). */
  fieldMessages(path: string): string[] {
    return (this.problem.errors ?? [])
      .filter((e) => e.path === path || e.path.startsWith(path + ".") || e.path.startsWith(path + "["))
      .map((e) => e.message);
  }

  /** Problems that no field on the screen claims. */
  unclaimed(claimed: string[]): FieldProblem[] {
    return (this.problem.errors ?? []).filter(
      (e) => !claimed.some((p) => e.path === p || e.path.startsWith(p + ".") || e.path.startsWith(p + "[")),
    );
  }
}

/** A JSON answer and its ETag. */
export interface Tagged<T> {
  body: T;
  etag: string;
}

let csrfToken = "";
let onUnauthenticated: (() => void) | null = null;

export function setCsrfToken(token: string) {
  csrfToken = token;
}

/** Called on every 401 of a request made while signed in (the session expired). */
export function setUnauthenticatedHandler(handler: (() => void) | null) {
  onUnauthenticated = handler;
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "DELETE";
  body?: unknown;
  ifMatch?: string;
  /** Do not report a 401 as an expired session (the login form itself). */
  quiet401?: boolean;
}

export const API = "/api/v1";

export async function request<T>(path: string, options: RequestOptions = {}): Promise<Tagged<T>> {
  const method = options.method ?? "GET";
  const headers: Record<string, string> = { accept: "application/json" };
  if (options.body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["x-csrf-token"] = csrfToken;
  if (options.ifMatch) headers["if-match"] = options.ifMatch;
  let response: Response;
  try {
    response = await fetch(API + path, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      credentials: "same-origin",
    });
  } catch (e) {
    throw new ApiError({
      type: "network",
      title: "Network error",
      status: 0,
      detail: `core-api did not answer: ${String(e)}`,
    });
  }
  const etag = response.headers.get("etag") ?? "";
  const text = await response.text();
  if (!response.ok) {
    let problem: Problem;
    try {
      problem = JSON.parse(text) as Problem;
    } catch {
      problem = { type: "about:blank", title: response.statusText, status: response.status, detail: text };
    }
    if (response.status === 401 && !options.quiet401) onUnauthenticated?.();
    const retry = Number(response.headers.get("retry-after") ?? "");
    throw new ApiError(problem, etag || undefined, Number.isFinite(retry) && retry > 0 ? retry : undefined);
  }
  const body = (text ? JSON.parse(text) : null) as T;
  return { body, etag };
}

export const get = <T>(path: string) => request<T>(path).then((r) => r.body);
export const getTagged = <T>(path: string) => request<T>(path);

/** Every item of a paginated list. */
export async function getAll<T>(path: string, pageLimit = 500): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 100; page++) {
    const sep = path.includes("?") ? "&" : "?";
    const url = `${path}${sep}limit=${pageLimit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const body = await get<{ items: T[]; next_cursor?: string }>(url);
    items.push(...body.items);
    if (!body.next_cursor) break;
    cursor = body.next_cursor;
  }
  return items;
}

/** A text download (CSV) through the same session. */
export async function getText(path: string): Promise<string> {
  const response = await fetch(API + path, { credentials: "same-origin" });
  if (!response.ok) throw new ApiError({ type: "download", title: response.statusText, status: response.status });
  return response.text();
}
