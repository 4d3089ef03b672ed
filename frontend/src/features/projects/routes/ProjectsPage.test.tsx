import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { page, permissions, renderRoutes, stubFetch } from "@/test/utils";
import ProjectsPage from "./ProjectsPage";

const project = (name: string, size: number) => ({
  id: name.length, name, public: true, description: "", owner: "dev", member_count: 2, repository_count: 3, size,
  current_user_role: null, created_at: "2026-11-27T10:00:00Z", updated_at: "2026-11-27T10:00:00Z",
});

describe("the projects page", () => {
  it("shows each project's storage size and sorts by it on the server", async () => {
    const calls = stubFetch({
      "GET /projects": { body: page([project("web", 5 * 1024 * 1024), project("tools", 0)]) },
      "GET /users/current/permissions": { body: permissions("web", null, []) },
    });
    const { router } = renderRoutes([{ path: "/projects", element: <ProjectsPage /> }], "/projects");
    const row = (await screen.findByRole("link", { name: "web" })).closest("tr")!;
    expect(within(row).getByText("5.0 MiB")).toBeInTheDocument();
    expect(within(screen.getByRole("link", { name: "tools" }).closest("tr")!).getByText("0 B")).toBeInTheDocument();

    await userEvent.click(screen.getByRole("button", { name: /^Size/ }));
    expect(router.state.location.search).toContain("sort=size");
    await userEvent.click(screen.getByRole("button", { name: /^Size/ }));
    expect(router.state.location.search).toContain("sort=-size");
    expect(calls.some((call) => call.path.startsWith("/projects?") && call.path.includes("sort=-size"))).toBe(true);
  });
});
