import { screen, within } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { page, renderRoutes, stubFetch } from "@/test/utils";
import { routes } from "./router";

const signedOut = { status: 401, body: { errors: [{ code: "not_authenticated", message: "sign in" }] } };
const notFound = { status: 404, body: { errors: [{ code: "project_not_found", message: "project 'secret' not found" }] } };
const DIGEST = "sha256:" + "cd".repeat(32);
const project = { id: 1, name: "open", public: true, description: "", owner: "dev", member_count: 1, repository_count: 1, size: 4096, current_user_role: null, created_at: "2026-11-27T10:00:00Z", updated_at: "2026-11-27T10:00:00Z" };
const repository = { id: 1, name: "open/app", short_name: "app", project: "open", artifact_count: 1, tag_count: 1, size: 4096, pushed_at: null, pull_count: 0, last_pulled_at: null, created_at: "", updated_at: "" };
const artifact = {
  digest: DIGEST, media_type: "application/vnd.oci.image.manifest.v1+json", artifact_type: "", kind: "image", runnable: true, is_index: false, accessories: [], accessory_count: 0, size: 4096, platforms: [],
  tags: [{ name: "latest", digest: DIGEST, pushed_at: null, last_pulled_at: null, pull_command: "docker pull berth.test/open/app:latest" }], tag_count: 1,
  created: null, pushed_at: null, pushed_by: "dev", pull_count: 0, last_pulled_at: null, pull_command: `docker pull berth.test/open/app@${DIGEST}`,
};

function stubAnonymous() {
  return stubFetch({
    "GET /users/current": signedOut,
    "GET /users/current/permissions": signedOut,
    "GET /systeminfo": { body: { read_only: false } },
    "GET /projects": { body: page([project]) },
    "GET /projects/open": { body: project },
    "GET /projects/secret": notFound,
    "GET /projects/open/repositories/app": { body: repository },
    "GET /projects/open/repositories/app/artifacts": { body: page([artifact]) },
  });
}

describe("an anonymous visitor", () => {
  it("reads the public projects list with a sign-in button and nothing to change", async () => {
    stubAnonymous();
    renderRoutes(routes, "/projects");
    expect(await screen.findByRole("heading", { name: "Public projects" })).toBeInTheDocument();
    expect(await screen.findByRole("link", { name: "open" })).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Sign in" })).toHaveAttribute("href", `/login?next=${encodeURIComponent("/projects")}`);
    expect(screen.queryByRole("button", { name: "New project" })).not.toBeInTheDocument();
    expect(screen.queryByRole("columnheader", { name: "Your role" })).not.toBeInTheDocument();
    expect(screen.queryByRole("link", { name: /Personal tokens/ })).not.toBeInTheDocument();
  });

  it("reads a public repository with its pull command and no delete controls", async () => {
    const calls = stubAnonymous();
    renderRoutes(routes, "/projects/open/repositories/app");
    const row = (await screen.findByText("latest")).closest("tr")!;
    expect(within(row).getByRole("button", { name: /Copy pull command/ })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /^Delete/ })).not.toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Sign in" })).toBeInTheDocument();
    expect(calls.every((call) => call.method === "GET")).toBe(true);
  });

  it("sees a public project's repositories tab only", async () => {
    stubFetch({ "GET /users/current": signedOut, "GET /users/current/permissions": signedOut, "GET /systeminfo": { body: { read_only: false } }, "GET /projects/open": { body: project }, "GET /projects/open/repositories": { body: page([repository]) } });
    renderRoutes(routes, "/projects/open");
    expect(await screen.findByRole("link", { name: "open/app" })).toBeInTheDocument();
    const tabs = screen.getByRole("navigation", { name: "Project sections" });
    expect(within(tabs).getAllByRole("link").map((link) => link.textContent)).toEqual(["Repositories"]);
    expect(screen.getByText("Read-only")).toBeInTheDocument();
  });

  it("is sent to sign in for a project the API does not show them, coming back to it afterwards", async () => {
    stubAnonymous();
    const { router } = renderRoutes(routes, "/projects/secret");
    expect(await screen.findByRole("heading", { name: "Sign in" })).toBeInTheDocument();
    expect(router.state.location.pathname).toBe("/login");
    expect(router.state.location.search).toBe(`?next=${encodeURIComponent("/projects/secret")}`);
  });

  it("is sent to sign in from a public project's members, which only members may list", async () => {
    stubAnonymous();
    const { router } = renderRoutes(routes, "/projects/open/members");
    expect(await screen.findByRole("heading", { name: "Sign in" })).toBeInTheDocument();
    expect(router.state.location.search).toBe(`?next=${encodeURIComponent("/projects/open/members")}`);
  });

  it("is sent to sign in from administration pages", async () => {
    stubAnonymous();
    const { router } = renderRoutes(routes, "/admin/users");
    expect(await screen.findByRole("heading", { name: "Sign in" })).toBeInTheDocument();
    expect(router.state.location.search).toBe(`?next=${encodeURIComponent("/admin/users")}`);
  });
});
