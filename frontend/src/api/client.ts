// The one API client: JSON over fetch with the session cookie, CSRF header, and Berth's error format.

export interface ApiErrorItem {
  code: string;
  message: string;
  fields?: Record<string, string[] | string>;
}

/** A refusal from the API, carrying its first error's stable code and message. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly errors: ApiErrorItem[];

  constructor(status: number, errors: ApiErrorItem[]) {
    super(errors[0]?.message ?? `request failed with status ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = errors[0]?.code ?? "error";
    this.errors = errors;
  }

  /** Messages per form field, so forms can show them beside their inputs. */
  fieldErrors(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const error of this.errors) {
      for (const [field, value] of Object.entries(error.fields ?? {})) {
        out[field] = Array.isArray(value) ? value.join(" ") : String(value);
      }
    }
    return out;
  }
}

export interface Page<T> {
  count: number;
  page?: number;
  page_size?: number;
  next?: string | null;
  previous?: string | null;
  results: T[];
}

export interface ListParams {
  page?: number;
  page_size?: number;
  sort?: string;
  [filter: string]: string | number | boolean | undefined;
}

export const API_ROOT = "/api/v1";
const CSRF_COOKIE = "berth_csrftoken";
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

function csrfToken(): string | undefined {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === CSRF_COOKIE) return decodeURIComponent(rest.join("="));
  }
  return undefined;
}

/** A path segment for names that may contain "/" (repositories): encoded whole. */
export const segment = (value: string): string => encodeURIComponent(value);

export function query(params: ListParams | undefined): string {
  if (!params) return "";
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === "") continue;
    search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

async function parseError(response: Response): Promise<ApiError> {
  let errors: ApiErrorItem[] = [];
  try {
    const body = (await response.json()) as { errors?: ApiErrorItem[] };
    if (Array.isArray(body.errors)) errors = body.errors;
  } catch {
    // Not JSON: a proxy or server error page. Say what happened in words a person can act on.
  }
  if (errors.length === 0) {
    const message =
      response.status >= 500
        ? `The server failed (HTTP ${response.status}). Try again; if it persists, check the system health page.`
        : `The request failed (HTTP ${response.status}).`;
    errors = [{ code: `http_${response.status}`, message }];
  }
  return new ApiError(response.status, errors);
}

/** `alsoOk`: statuses whose body is the answer too (the health check answers 503 with its report). */
export async function request<T>(method: string, path: string, body?: unknown, alsoOk: number[] = []): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (UNSAFE.has(method)) {
    const token = csrfToken();
    if (token) headers["X-CSRFToken"] = token;
  }
  let response: Response;
  try {
    response = await fetch(`${API_ROOT}${path}`, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, [{ code: "network", message: "Berth cannot be reached. Check your connection and try again." }]);
  }
  if (!response.ok && !alsoOk.includes(response.status)) throw await parseError(response);
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const api = {
  get: <T>(path: string, params?: ListParams) => request<T>("GET", `${path}${query(params)}`),
  post: <T>(path: string, body?: unknown) => request<T>("POST", path, body ?? {}),
  patch: <T>(path: string, body: unknown) => request<T>("PATCH", path, body),
  put: <T>(path: string, body: unknown) => request<T>("PUT", path, body),
  delete: (path: string) => request<void>("DELETE", path),
};
