import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { page, permissions, renderRoutes, stubFetch } from "@/test/utils";
import RepositoryPage from "./RepositoryPage";

const DIGEST = "sha256:" + "ab".repeat(32);
const repository = { id: 1, name: "web/team/app", short_name: "team/app", project: "web", artifact_count: 1, tag_count: 2, size: 2048, pushed_at: null, pull_count: 0, last_pulled_at: null, created_at: "", updated_at: "" };
const tag = (name: string) => ({ name, digest: DIGEST, pushed_at: "2026-11-27T10:00:00Z", last_pulled_at: null, pull_command: `docker pull berth.test/web/team/app:${name}` });
const artifact = {
  digest: DIGEST, media_type: "application/vnd.oci.image.manifest.v1+json", artifact_type: "", kind: "image", runnable: true, is_index: false, accessories: [], accessory_count: 0, size: 2048,
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

  it("shows each artifact's kind and its accessories counted by kind", async () => {
    const signature = { digest: "sha256:" + "cd".repeat(32), kind: "signature", artifact_type: "application/vnd.dev.cosign.artifact.sig.v1+json", media_type: artifact.media_type, size: 900, pushed_at: "2026-11-27T10:01:00Z" };
    const sbom = { ...signature, digest: "sha256:" + "ef".repeat(32), kind: "sbom", artifact_type: "application/spdx+json" };
    const chart = { ...artifact, digest: "sha256:" + "12".repeat(32), kind: "helm_chart", artifact_type: "application/vnd.cncf.helm.config.v1+json", runnable: false, platforms: [], tags: [tag("0.1.0")], tag_count: 1 };
    stubFetch({
      [`GET ${base}`]: { body: repository },
      [`GET ${base}/artifacts`]: { body: page([{ ...artifact, accessories: [signature, sbom, { ...signature, digest: "sha256:" + "99".repeat(32) }], accessory_count: 5 }, chart]) },
      "GET /users/current/permissions": { body: permissions("web", "guest", ["repository:pull"]) },
    });
    render();
    const image = (await screen.findByText("latest")).closest("tr")!;
    expect(within(image).getByText("image")).toBeInTheDocument();
    expect(within(image).getByLabelText("Accessories")).toHaveTextContent("2 signatures · 1 SBOM · 2 more accessories");
    const charted = screen.getByText("0.1.0").closest("tr")!;
    expect(within(charted).getByText("Helm chart")).toBeInTheDocument();
    expect(within(charted).queryByLabelText("Accessories")).not.toBeInTheDocument();
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
