// Rendering pages with a router and a fresh query cache, against a stubbed fetch (unit tests only).
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { createMemoryRouter, RouterProvider, type RouteObject } from "react-router";
import { vi } from "vitest";

export interface StubCall {
  method: string;
  path: string;
  body: unknown;
  headers: Record<string, string>;
}

type Reply = { status?: number; body?: unknown } | ((call: StubCall) => { status?: number; body?: unknown });

/**
 * Replaces fetch: `routes` maps "METHOD /path?query" (query optional: the path alone matches any query)
 * to a reply. Unknown requests fail the test loudly with a 599 so a missing stub is obvious.
 */
export function stubFetch(routes: Record<string, Reply>) {
  const calls: StubCall[] = [];
  const fetchStub = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), "http://berth.test");
    const method = (init?.method ?? "GET").toUpperCase();
    const path = url.pathname.replace(/^\/api\/v1/, "");
    const call: StubCall = {
      method,
      path: `${path}${url.search}`,
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
      headers: (init?.headers ?? {}) as Record<string, string>,
    };
    calls.push(call);
    const reply = routes[`${method} ${path}${url.search}`] ?? routes[`${method} ${path}`];
    if (!reply) return new Response(JSON.stringify({ errors: [{ code: "unstubbed", message: `no stub for ${method} ${call.path}` }] }), { status: 599 });
    const { status = 200, body } = typeof reply === "function" ? reply(call) : reply;
    return new Response(status === 204 ? null : JSON.stringify(body ?? {}), { status, headers: { "Content-Type": "application/json" } });
  });
  vi.stubGlobal("fetch", fetchStub);
  return calls;
}

export function page<T>(results: T[], count = results.length) {
  return { count, page: 1, page_size: 25, next: null, previous: null, results };
}

export function permissions(project: string, role: string | null, granted: string[], system: Partial<Record<string, boolean>> = {}) {
  return {
    system: {
      is_admin: false,
      can_create_project: true,
      can_manage_users: false,
      can_search_users: false,
      can_manage_robots: false,
      can_read_audit_log: false,
      can_manage_configuration: false,
      ...system,
    },
    projects: { [project]: { role, permissions: granted } },
  };
}

export function renderRoutes(routes: RouteObject[], path: string) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  const router = createMemoryRouter(routes, { initialEntries: [path] });
  const view = render(
    <QueryClientProvider client={client}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
  return { ...view, router, client };
}

export function renderAt(element: ReactElement, { path = "/", route = "/" }: { path?: string; route?: string } = {}) {
  return renderRoutes([{ path: route, element }], path);
}
