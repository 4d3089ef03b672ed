import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { page, permissions, renderRoutes, stubFetch } from "@/test/utils";
import RepositoryPage from "./RepositoryPage";

const DIGEST = "sha256:" + "ab".repeat(32);
const repository = { id: 1, name: "web/team/app", short_name: "team/app", project: "web", artifact_count: 1, tag_count: 2, size: 2048, pushed_at: null, pull_count: 0, last_pulled_at: null, created_at: "", updated_at: "" };
const tag = (name: string) => ({ name, digest: DIGEST, pushed_at: "2026-11-27T10:00:00Z", last_pulled_at: null, pull_command: `docker pull berth.test/web/team/app:${name}` });
const artifact = {
  digest: DIGEST, media_type: "application/vnd.oci.image.manifest.v1+json", artifact_type: "", is_index: false, size: 2048,
  platforms: [{ os: "linux", architecture: "arm64", variant: "v8" }], tags: [tag("latest"), tag("v1")], tag_count: 2,
  created: null, pushed_at: "2026-11-27T10:00:00Z", pushed_by: "dev", pull_count: 0, last_pulled_at: null, pull_command: `docker pull berth.test/web/team/app@${DIGEST}`,
};
// The repository name holds a "/": it travels as one segment, encoded twice (see paths.ts).
const base = "/projects/web/repositories/team%252Fapp";

function stubRepository(granted: string[]) {
  return stubFetch({
    [`GET ${base}`]: { body: repository },
    [`GET ${base}/artifacts`]: { body: page([artifact]) },
    "GET /users/current/permissions": { body: permissions("web", "guest", granted) },
    [`DELETE ${base}/artifacts/${encodeURIComponent(DIGEST)}/tags/v1`]: { status: 204 },
  });
}

const render = () => renderRoutes([{ path: "/projects/:project/repositories/:repository", element: <RepositoryPage /> }], "/projects/web/repositories/team%2Fapp");

describe("the repository page", () => {
  it("lists artifacts with tags, short digest, platforms and size", async () => {
    stubRepository(["repository:pull"]);
    render();
    const row = (await screen.findByText("latest")).closest("tr")!;
    expect(within(row).getByText("v1")).toBeInTheDocument();
    expect(within(row).getByText("abababababab")).toBeInTheDocument();
    expect(within(row).getByText("linux/arm64/v8")).toBeInTheDocument();
    expect(within(row).getByText("2.0 KiB")).toBeInTheDocument();
  });

  it("shows a guest no delete control", async () => {
    stubRepository(["repository:pull", "artifact:read", "tag:list"]);
    render();
    await screen.findByText("latest");
    expect(screen.queryByRole("button", { name: /^Delete/ })).not.toBeInTheDocument();
  });

  it("deletes a tag after confirmation when the role allows it", async () => {
    const calls = stubRepository(["repository:pull", "tag:delete", "artifact:delete"]);
    render();
    await userEvent.click(await screen.findByRole("button", { name: "Delete tag v1" }));
    const dialog = screen.getByRole("dialog", { name: "Delete tag v1?" });
    expect(calls.some((call) => call.method === "DELETE")).toBe(false);
    await userEvent.click(within(dialog).getByRole("button", { name: "Delete tag" }));
    expect(calls.filter((call) => call.method === "DELETE").map((call) => call.path)).toEqual([`${base}/artifacts/${encodeURIComponent(DIGEST)}/tags/v1`]);
  });

  it("copies the podman pull command when podman is chosen", async () => {
    stubRepository(["repository:pull"]);
    const user = userEvent.setup();
    render();
    await screen.findByText("latest");
    await user.click(screen.getByRole("button", { name: "podman" }));
    await user.click(screen.getByRole("button", { name: /Copy pull command/ }));
    expect(await navigator.clipboard.readText()).toBe("podman pull berth.test/web/team/app:latest");
  });
});
