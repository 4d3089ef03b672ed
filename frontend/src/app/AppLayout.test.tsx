import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { permissions, renderRoutes, stubFetch } from "@/test/utils";
import { AppLayout } from "./AppLayout";

const routes = [
  { path: "/", element: <AppLayout />, children: [{ path: "projects", element: <h1>projects</h1> }] },
  { path: "/login", element: <h1>sign in</h1> },
];
const user = { id: 1, username: "dana", display_name: "", email: null, is_admin: false, is_active: true };

describe("the app shell", () => {
  it("sends a visitor without a session to sign in, remembering where they were going", async () => {
    stubFetch({ "GET /users/current": { status: 401, body: { errors: [{ code: "unauthorized", message: "sign in" }] } } });
    const { router } = renderRoutes(routes, "/projects?page=2");
    expect(await screen.findByRole("heading", { name: "sign in" })).toBeInTheDocument();
    expect(router.state.location.search).toBe(`?next=${encodeURIComponent("/projects?page=2")}`);
  });

  it("offers administration only to those the API says may use it", async () => {
    stubFetch({ "GET /users/current": { body: user }, "GET /users/current/permissions": { body: permissions("web", "developer", []) } });
    renderRoutes(routes, "/projects");
    expect(await screen.findByRole("heading", { name: "projects" })).toBeInTheDocument();
    expect(await screen.findByRole("button", { name: /dana/ })).toBeInTheDocument();
    expect(screen.queryByText("Administration")).not.toBeInTheDocument();
    expect(screen.queryByRole("link", { name: /Users/ })).not.toBeInTheDocument();
  });

  it("shows an administrator the administration pages", async () => {
    stubFetch({
      "GET /users/current": { body: { ...user, is_admin: true } },
      "GET /users/current/permissions": {
        body: permissions("web", null, [], { is_admin: true, can_manage_users: true, can_manage_robots: true, can_read_audit_log: true, can_manage_configuration: true }),
      },
    });
    renderRoutes(routes, "/projects");
    expect(await screen.findByRole("link", { name: /Users/ })).toHaveAttribute("href", "/admin/users");
    expect(screen.getByRole("link", { name: /System health/ })).toBeInTheDocument();
  });

  it("says what to do when Berth cannot be reached", async () => {
    stubFetch({ "GET /users/current": () => { throw new TypeError("offline"); } });
    renderRoutes(routes, "/projects");
    expect(await screen.findByText("Berth cannot be reached. Check your connection and try again.")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Try again" })).toBeInTheDocument();
  });
});

describe("an ended session", () => {
  it("sends the person to sign in when any request answers 401", async () => {
    const { QueryClientProvider } = await import("@tanstack/react-query");
    const { render } = await import("@testing-library/react");
    const { createMemoryRouter, RouterProvider } = await import("react-router");
    const { createQueryClient } = await import("./queryClient");
    const { useQuery } = await import("@tanstack/react-query");
    const { api } = await import("@/api/client");
    let signedIn = true;
    stubFetch({
      "GET /users/current": () => (signedIn ? { body: user } : { status: 401, body: { errors: [{ code: "unauthorized", message: "sign in" }] } }),
      "GET /users/current/permissions": { body: permissions("web", null, []) },
      "GET /projects": () => {
        signedIn = false;
        return { status: 401, body: { errors: [{ code: "unauthorized", message: "sign in" }] } };
      },
    });
    function Projects() {
      useQuery({ queryKey: ["projects"], queryFn: () => api.get("/projects") });
      return <h1>projects</h1>;
    }
    const router = createMemoryRouter(
      [
        { path: "/", element: <AppLayout />, children: [{ path: "projects", element: <Projects /> }] },
        { path: "/login", element: <h1>sign in</h1> },
      ],
      { initialEntries: ["/projects"] },
    );
    render(
      <QueryClientProvider client={createQueryClient()}>
        <RouterProvider router={router} />
      </QueryClientProvider>,
    );
    expect(await screen.findByRole("heading", { name: "sign in" })).toBeInTheDocument();
    expect(router.state.location.search).toBe(`?next=${encodeURIComponent("/projects")}`);
  });
});
